"""Fuzzing train blocks: random optimizers, schedules, data sets and settings, with random
argument names and values, through the train-config elaboration and ``rpgraph check``.

Whatever the block, elaboration either succeeds or raises a :class:`~rpgraph.errors.SpecError`
(nothing else escapes: no ``TypeError`` from optax, ``OverflowError`` from numpy,
``ValueError`` from scikit-learn), and ``rpgraph check`` exits 0 or 1, never 70 (internal
error). Derandomized (a fixed seed), bounded: a few seconds.
"""

from __future__ import annotations

import inspect
import random
from pathlib import Path

import pytest
from test_reliability import run_cli

from rpgraph.errors import SpecError
from rpgraph.graph import loads
from rpgraph.io.data import DATASETS
from rpgraph.train_config import INTEGERS, OPTIMIZERS, SCHEDULES, elaborate_train

# sinusoids' default widths, so that some checks get as far as the data and the run
NET = "network n {\n    input x : 2000\n    output y : 2\n    x -> linear(2) -> y\n}\n"
ELABORATIONS = 200
CHECKS = 12

GOOD = ["0.01", "0.9", "1", "3", "10", "100"]
NUMBERS = ["0", "1", "-1", "2", "0.5", "-0.5", "1e-3", "1e308", "-1e308", "2**31", "2**64",
           "2**70", "10**23", "10**400", "1 / 3", "1 ms", "5 Hz", "0.999999", "1.5"]
OTHERS = ['"abc"', '""', "true", "false", "rate", "[1, 2]", "[]", "[1]", "[[1, 2]]", "nope",
          # values of the arguments optax types as Any (dtypes, masks, boundaries, cycles)
          "bfloat16", '"float32"', '"float64"', "[[10, 0.5], [20, 0.1]]", "[[10, 0.5], [10, 1]]",
          "[[-1, 0.5]]", "[[1.5, 2]]", "[warmup_cosine_decay_schedule(init_value = 0, "
          "peak_value = 1, warmup_steps = 1, decay_steps = 5)]", "[adam(lr = 1)]"]


def _value(rng: random.Random, depth: int) -> str:
    roll = rng.random()
    if roll < 0.5:
        return rng.choice(GOOD)  # plausible values, so that valid blocks come up too
    if roll < 0.7:
        return rng.choice(NUMBERS)
    if roll < 0.8 or depth > 1:
        return rng.choice(OTHERS)
    return _call(rng, rng.choice([*SCHEDULES, "no_schedule"]), SCHEDULES, depth + 1)


def _call(rng: random.Random, name: str, registry: object, depth: int = 0) -> str:
    try:
        params = list(inspect.signature(registry[name]).parameters)  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        params = []
    junk = ["lr", "bogus", "seed"]
    args = [f"{rng.choice(params if params and rng.random() < 0.9 else junk)} = "
            f"{_value(rng, depth)}" for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.1:
        args.insert(0, _value(rng, depth))  # a positional argument
    return f"{name}({', '.join(args)})" if args or rng.random() < 0.5 else name


def train_block(rng: random.Random) -> str:
    """A random ``train { }`` block (always a small data set's name is possible)."""
    lines = []
    if rng.random() < 0.8:
        lines.append("optimizer = " + _call(rng, rng.choice([*OPTIMIZERS, "adamm"]),
                                            OPTIMIZERS))
    if rng.random() < 0.8:
        lines.append("data = " + _call(rng, rng.choice([*DATASETS, "sinusoid"]), DATASETS))
    for key in INTEGERS:
        if rng.random() < 0.3:
            lines.append(f"{key} = {rng.choice(NUMBERS + GOOD)}")
    return "train {\n" + "".join(f"    {line}\n" for line in lines) + "}\n"


def test_random_train_blocks_elaborate_or_raise_spec_errors() -> None:
    rng = random.Random(18)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(ELABORATIONS):
        text = NET + train_block(rng)
        try:
            elaborate_train(loads(text))
            outcomes["ok"] += 1
        except SpecError:
            outcomes["error"] += 1
        except Exception as err:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{type(err).__name__}: {err}\n--- for ---\n{text}")
    assert outcomes["ok"] >= 5 and outcomes["error"] >= 100, outcomes  # both paths exercised


def test_random_train_blocks_never_crash_check(tmp_path: Path) -> None:
    rng = random.Random(70)
    for i in range(CHECKS):
        spec = tmp_path / f"fuzz{i}.rpg"
        spec.write_text(NET + train_block(rng), encoding="utf-8")
        # a small memory limit: a random data set may be large, and must be refused
        rc, _, err = run_cli(["check", spec.name, "--memory-limit", "64MiB"], tmp_path)
        assert rc in (0, 1), f"exit {rc}\n{err}\n--- for ---\n{spec.read_text()}"
        assert "internal error" not in err and "Traceback" not in err, err
