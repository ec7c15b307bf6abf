"""Fuzzing the JSON that rpgraph reads back: bounds files and checkpoint metadata.

A bounds JSON file (``rpgraph bounds --format json``, edited by hand, read by ``--bounds``
and :func:`rpgraph.objective.make_objective`) and the JSON header inside every checkpoint
and parameter file (``__rpgraph__``, see :mod:`rpgraph.io.checkpoint`) come from outside:
whatever they hold -- random nesting, huge numbers, ``NaN``/``Infinity`` literals and
strings, wrong types, per-element lists of the wrong shape, deep nesting, truncation --
reading them either succeeds or raises a :class:`~rpgraph.errors.SpecError` (here always a
:class:`~rpgraph.errors.CheckpointError`) with a short message. Through the Python API for
many documents, through the CLI (exit 1, no ``internal error``, no traceback) for a handful.

Derandomized (fixed seeds) and bounded: a few seconds.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import optax
import pytest
from test_reliability import run_cli

import rpgraph
from rpgraph.bounds import from_json, read_json, template, to_json
from rpgraph.errors import SpecError, clip
from rpgraph.io.checkpoint import (
    checkpoint_info,
    load_checkpoint,
    load_params,
    save_checkpoint,
    save_params,
    spec_hash,
)
from rpgraph.objective import make_objective
from rpgraph.train.run_dir import differences

#: Documents per target (recorded in the module docstring of the report).
BOUNDS_DOCS = 400
META_DOCS = 300
CLI_DOCS = 3  # per target: each is a full 'rpgraph train' start (a second or so)
#: No message rpgraph prints about such a file may be longer than this.
MAX_MESSAGE = 400

SPEC = """network n {
    input  x : 3
    output y : 2
    x -> linear(4) -> h: rate -> linear(2) -> y
}

train {
    data   = sinusoids(classes = 2, length = 5, channels_in = 3, channels_out = 2)
    epochs = 1
}
"""


# --- random JSON text ------------------------------------------------------------------------

#: Raw JSON tokens no ``json.dumps`` writes: Python's ``json`` reads the constants, the rest
#: are numbers beyond float range or over-long.
RAW = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 500, "1e-400", "-0",
       "1" + "0" * 120, "0.1e1", "123456789012345678901234567890"]
STRINGS = ["inf", "-inf", "+inf", "nan", "NaN", "Infinity", "", "x", "1e999", "0.5",
           "\u00e9", "\x00", "a" * 300, "params.000000", "__rpgraph__", "float32",
           "bfloat16", "threefry2x32", "rpgraph-checkpoint", "rpgraph-params", "[0]"]
NUMBERS = [0, 1, -1, 2, 0.5, -0.5, 1e308, -1e308, 5e-324, 2**31, 2**63, 2**64, 10**30,
           -(10**30), 1e-3, 3, 8]


class Raw(str):
    """Text written into the document as it is (not as a JSON string)."""


def junk(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON value, raw tokens included."""
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(NUMBERS)
    if roll < 0.45:
        return Raw(rng.choice(RAW))
    if roll < 0.6:
        return rng.choice(STRINGS)
    if roll < 0.68:
        return rng.choice([True, False, None])
    if roll < 0.75:
        n = rng.choice([2, 50, 1000, 100_000])  # deep nesting: a list in a list in ...
        return Raw("[" * n + "0" + "]" * n)
    if depth > 3:
        return rng.choice(NUMBERS)
    if roll < 0.88:
        return [junk(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["lower", "upper", "h", "tau", "bias", "weight", "linear_0", "format", "step",
            "path", "dtype", "shape", "key", "member", "params", "opt_state", "extra", "x"]
    return {rng.choice(keys): junk(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def shaped(rng: random.Random) -> Any:
    """A nested list of numbers, sometimes ragged, sometimes of the right shape."""
    dims = [rng.choice([0, 1, 2, 3, 4]) for _ in range(rng.randint(1, 3))]

    def build(level: int) -> Any:
        if level == len(dims):
            return rng.choice([0.0, 1.0, -1.0, "inf", "-inf", Raw("NaN"), "x"])
        n = dims[level] + (1 if rng.random() < 0.1 else 0)  # occasionally ragged
        return [build(level + 1) for _ in range(n)]

    return build(0)


def dump(v: Any) -> str:
    """``v`` as JSON text, :class:`Raw` pieces verbatim."""
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {dump(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(dump(x) for x in v) + "]"
    return json.dumps(v)


def _spots(doc: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``doc`` (dict keys and list indices)."""
    out = [at]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _spots(v, (*at, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _spots(v, (*at, i))
    return out


def _set(doc: Any, at: tuple[Any, ...], value: Any) -> Any:
    if not at:
        return value
    parent = doc
    for k in at[:-1]:
        parent = parent[k]
    parent[at[-1]] = value
    return doc


def mutate(rng: random.Random, doc: Any, values: Any = junk, under: tuple[Any, ...] = ()
           ) -> str:
    """``doc`` (parsed JSON) with a few random edits (inside ``doc[under]``), as text;
    sometimes damaged as text."""
    doc = json.loads(json.dumps(doc))
    for _ in range(rng.randint(1, 3)):
        spots = [s for s in _spots(doc) if s[:len(under)] == under] or [()]
        at = rng.choice(spots)
        op = rng.random()
        parent = doc
        for k in at[:-1]:
            parent = parent[k]
        if op < 0.15 and at and isinstance(parent, dict):
            del parent[at[-1]]  # a key removed
        elif op < 0.25 and isinstance(parent, (dict, list)) and at:
            if isinstance(parent, dict):
                parent[rng.choice(["extra_key", "x", "lower"])] = values(rng)
            else:
                parent.append(values(rng))
        else:
            doc = _set(doc, at, values(rng))
    text = dump(doc)
    roll = rng.random()
    if roll < 0.05:
        text = text[: rng.randrange(len(text) + 1)]  # truncated
    elif roll < 0.08:
        i = rng.randrange(len(text) + 1)
        text = text[:i] + rng.choice(["{", "]", ",", '"', "\\", "\ud800"]) + text[i:]
    return text


def _short_error(err: SpecError) -> None:
    message = str(err)
    assert len(message) <= MAX_MESSAGE, message[:1000]
    assert "Traceback" not in message


# --- bounds JSON -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prog() -> rpgraph.Program:
    return rpgraph.compile(SPEC)


def bounds_values(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.25:  # plausible edits, so that accepted files come up too
        return rng.choice([0.0, 1e-3, -1.0, 1, "-inf", "inf", -1e308])
    return shaped(rng) if roll < 0.55 else junk(rng)


def random_bounds(rng: random.Random, good: Any) -> str:
    if rng.random() < 0.05:
        return dump(junk(rng))  # not a bounds file at all
    return mutate(rng, good, bounds_values)


def _bounds_objective(net: Any, text: str) -> object:
    return make_objective(net, from_json(text, "b.json"))


def _tally(outcomes: dict[str, int], attempt: Callable[[], object], shown: str) -> None:
    """Count ``attempt()`` as ok or as a (short) SpecError; anything else fails the test."""
    try:
        attempt()
        outcomes["ok"] += 1
    except SpecError as err:
        _short_error(err)
        outcomes["error"] += 1
    except Exception as err:  # noqa: BLE001 - the point of the test
        pytest.fail(f"{type(err).__name__}: {err}\n--- for ---\n{shown[:2000]}")


def test_random_bounds_files_load_or_raise_spec_errors(prog: rpgraph.Program) -> None:
    net = prog.network
    good = json.loads(to_json(*template(net)))
    rng = random.Random(1818)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(BOUNDS_DOCS):
        text = random_bounds(rng, good)
        _tally(outcomes, partial(_bounds_objective, net, text), text)
    print(f"\nbounds documents: {outcomes}")  # pytest -s
    assert outcomes["ok"] >= 15 and outcomes["error"] >= 200, outcomes


def test_unreadable_bounds_files_are_spec_errors(tmp_path: Path) -> None:
    """Bytes that are no UTF-8, and lone surrogates, through the file reader."""
    for i, data in enumerate([b"\xff\xfe{", b'{"lower": "\xed\xa0\x80"}', b"\x00" * 10]):
        path = tmp_path / f"b{i}.json"
        path.write_bytes(data)
        with pytest.raises(SpecError) as info:
            read_json(path)
        _short_error(info.value)


def test_random_bounds_files_through_the_cli(tmp_path: Path, prog: rpgraph.Program) -> None:
    (tmp_path / "n.rpg").write_text(SPEC, encoding="utf-8")
    good = json.loads(to_json(*template(prog.network)))
    rng = random.Random(70)
    errors = 0
    for i in range(CLI_DOCS * 3):
        text = random_bounds(rng, good)
        try:  # only documents the API refuses: a refused one never starts training
            from_json(text, "b.json")
            continue
        except SpecError:
            pass
        (tmp_path / f"b{i}.json").write_text(text, encoding="utf-8", errors="surrogatepass")
        rc, _, err = run_cli(["train", "n.rpg", "--bounds", f"b{i}.json", "--out", f"o{i}",
                              "--quiet", "--no-plots"], tmp_path)
        assert rc == 1, (rc, err, text[:500])
        assert "internal error" not in err and "Traceback" not in err, err
        assert err.startswith("error: bounds file") or err.startswith("error: cannot read"), err
        errors += 1
        if errors == CLI_DOCS:
            break
    assert errors == CLI_DOCS


# --- checkpoint metadata ---------------------------------------------------------------------


def _arrays(path: Path) -> tuple[dict[str, np.ndarray], Any]:
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return arrays, json.loads(arrays.pop("__rpgraph__").tobytes())


def _with_meta(path: Path, arrays: dict[str, np.ndarray], text: str) -> None:
    raw = np.frombuffer(text.encode("utf-8", errors="surrogatepass"), np.uint8)
    np.savez(path, **arrays, __rpgraph__=raw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def saved(prog: rpgraph.Program, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A checkpoint and a parameter file of the spec (adam state), with their templates."""
    d = tmp_path_factory.mktemp("ck")
    params = prog.init(0)
    opt = optax.adam(1e-3)
    digest = spec_hash(SPEC)
    save_checkpoint(d / "checkpoint.npz", params=params, opt_state=opt.init(params), step=3,
                    spec_hash=digest, extra={"run": {"seed": 0, "epochs": 1}, "epochs": 1})
    save_params(d / "params.npz", params, spec_hash=digest)
    return {"dir": d, "params": params, "opt": opt, "hash": digest}


def _load_all(path: Path, saved: dict[str, Any]) -> None:
    """Everything that reads a checkpoint's metadata, as training and eval call it."""
    params = saved["params"]
    info = checkpoint_info(path)
    differences(info.extra.get("run") if isinstance(info.extra.get("run"), dict) else {},
                {"seed": 0, "epochs": 1, "spec": saved["hash"]})
    load_checkpoint(path, params_like=params, opt_state_like=saved["opt"].init(params),
                    spec_hash=saved["hash"], max_step=10)


def test_random_checkpoint_metadata_loads_or_raises_spec_errors(saved: dict[str, Any]
                                                                 ) -> None:
    rng = random.Random(2026)
    outcomes = {"ok": 0, "error": 0}
    sources = {name: _arrays(saved["dir"] / name)
               for name in ("checkpoint.npz", "params.npz")}
    for i in range(META_DOCS):
        name = rng.choice(sorted(sources))
        arrays, meta = sources[name]
        roll = rng.random()
        # a third of the edits inside 'extra' (the run's identity, compared on resume)
        text = dump(junk(rng)) if roll < 0.05 else mutate(
            rng, meta, under=("extra",) if roll < 0.35 and "extra" in meta else ())
        path = saved["dir"] / f"fuzz{i % 7}.npz"
        _with_meta(path, arrays, text)
        load = (partial(load_params, path, saved["params"], spec_hash=saved["hash"])
                if name == "params.npz" else partial(_load_all, path, saved))
        _tally(outcomes, load, f"{name}: {text}")
    print(f"\ncheckpoint metadata documents: {outcomes}")  # pytest -s
    assert outcomes["ok"] >= 10 and outcomes["error"] >= 150, outcomes


def test_random_checkpoint_metadata_through_the_cli(tmp_path: Path, prog: rpgraph.Program
                                                    ) -> None:
    """``train --resume`` and ``eval --params`` on runs whose checkpoint metadata was edited:
    exit 1 with a message, never an internal error."""
    params = prog.init(0)
    state = optax.adam(1e-3).init(params)  # the train block's default optimizer
    (tmp_path / "n.rpg").write_text(SPEC, encoding="utf-8")
    rc, _, err = run_cli(["train", "n.rpg", "--out", "run", "--quiet", "--no-plots"], tmp_path)
    assert rc == 0, err
    arrays, meta = _arrays(tmp_path / "run" / "checkpoint.npz")
    rng = random.Random(7)
    tried = 0
    for i in range(200):
        text = mutate(rng, meta)
        probe = tmp_path / "probe.npz"
        _with_meta(probe, arrays, text)
        try:  # only documents the API refuses: a refused one never starts training
            checkpoint_info(probe)
            load_checkpoint(probe, params_like=params, opt_state_like=state)
            continue
        except SpecError:
            pass
        run = tmp_path / f"run{i}"
        run.mkdir()
        for f in (tmp_path / "run").iterdir():
            (run / f.name).write_bytes(f.read_bytes())
        probe.replace(run / "checkpoint.npz")
        (run / "params.npz").unlink()
        for argv in (["train", "n.rpg", "--out", run.name, "--resume", "--quiet", "--no-plots"],
                     ["eval", "n.rpg", "--params", run.name]):
            rc, _, err = run_cli(argv, tmp_path)
            assert rc == 1, (argv, rc, err, text[:500])
            assert "internal error" not in err and "Traceback" not in err, err
        tried += 1
        if tried == CLI_DOCS:
            break
    assert tried == CLI_DOCS


# --- what the fuzzing found ------------------------------------------------------------------


def test_a_run_identity_of_other_types_is_a_difference_not_a_crash() -> None:
    """An edited checkpoint's ``extra.run`` compared on resume (it raised TypeError)."""
    assert differences({"epochs": {"a": 1}, "seed": True, "data": "x" * 300},
                       {"epochs": 2, "seed": 1, "data": "d"}) == [
        "epochs {'a': 1} -> 2 (only more epochs extend a run)", "seed True -> 1",
        f"data {clip('x' * 300, 200)} -> d"]
    assert differences({"epochs": 1, "seed": 0}, {"epochs": 2, "seed": 0}) == []


def test_parameter_file_with_extra_of_another_type_is_a_checkpoint_error(
        saved: dict[str, Any]) -> None:
    arrays, meta = _arrays(saved["dir"] / "params.npz")
    path = saved["dir"] / "odd_extra.npz"
    _with_meta(path, arrays, json.dumps({**meta, "extra": 5}))
    with pytest.raises(SpecError, match=r"is corrupted or truncated \(unreadable metadata\)"):
        load_params(path, saved["params"])


def test_a_bound_no_value_satisfies_is_refused(prog: rpgraph.Program) -> None:
    """A lower bound of +inf (found by the fuzzing: accepted, then projection moved the
    parameter to infinity and training blamed the learning rate)."""
    doc = json.loads(to_json(*template(prog.network)))
    doc["lower"]["h"]["tau"] = doc["upper"]["h"]["tau"] = "inf"
    with pytest.raises(SpecError, match=r"the lower bound of 'h.tau' is inf, which no value"):
        make_objective(prog.network, from_json(json.dumps(doc), "b.json"))
    doc = json.loads(to_json(*template(prog.network)))
    doc["upper"]["h"]["bias"] = [-1.0, "-inf", 0.0, 1.0]
    with pytest.raises(SpecError, match=r"the upper bound of 'h.bias' is -inf"):
        make_objective(prog.network, from_json(json.dumps(doc), "b.json"))
