"""Case 7: ensembles. K models of a seed network (one per seed) trained in one program
(:func:`rpgraph.train.ensemble.make_ensemble_chunk`: the models one after another inside it,
bit-identical to their single runs, and ``batched``, vmapped) against the same K trained one
after another with the single-model chunk (:func:`rpgraph.train.make_chunk`). Both are timed warm
(compile excluded), per-sample Adam(1e-4) steps on the tutorial data, and reported as
model-steps per second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import rpgraph
from rpgraph.io.data import sinusoids
from rpgraph.train import make_chunk
from rpgraph.train.ensemble import make_ensemble_chunk, stack
from rpgraph.train.sweep import injected
from rpgraph.train_config import optimizer_spec

from .common import Row, time_calls

SPECS = Path(__file__).resolve().parent.parent / "specs"


@dataclass(frozen=True)
class EnsembleConfig:
    """``cases``: ``(kind, K)`` pairs, kind ``"mlp"`` or ``"rate"`` (the tutorial specs), or
    ``"mlp-sweep"`` / ``"rate-sweep"``: the K models also differ in learning rate, as a
    ``--set optimizer.lr=...`` sweep trains them (``optax.inject_hyperparams``: the rate is
    optimizer state)."""

    cases: tuple[tuple[str, int], ...] = (("mlp", 8), ("rate", 32), ("rate-sweep", 32))
    steps: int = 300  # steps per timed call (whole epochs of the 3 samples)
    repeats: int = 3
    channels_in: int = 2000
    length: int = 100


def case_name(kind: str, k: int) -> str:
    return f"ensemble {kind} K={k}"


def _program(kind: str, cfg: EnsembleConfig) -> rpgraph.Program:
    text = (SPECS / f"tutorial_{kind}.rpg").read_text(encoding="utf-8")
    if cfg.channels_in != 2000 or cfg.length != 100:  # a shrunken copy (the smoke test)
        text = (text.replace(": 2000", f": {cfg.channels_in}")
                .replace("length = 100", f"length = {cfg.length}, channels_in = "
                                         f"{cfg.channels_in}"))
    return rpgraph.compile(text)


def run_one(kind: str, k: int, cfg: EnsembleConfig, log: Callable[[str], None]) -> list[Row]:
    prog = _program(kind.removesuffix("-sweep"), cfg)
    ds = sinusoids(classes=3, length=cfg.length, channels_in=cfg.channels_in, channels_out=2)
    xs, ts = jnp.asarray(ds.inputs, jnp.float32), jnp.asarray(ds.targets)
    opt = optax.adam(1e-4)
    order = (np.arange(cfg.steps) % 3)[:, None].astype(np.int32)

    log(f"  [{case_name(kind, k)}] one model at a time ...")
    single = make_chunk(prog, opt)
    one: dict[str, Any] = {"p": prog.init(0)}
    one["o"] = opt.init(one["p"])
    idx1 = jnp.asarray(order)

    def call_one() -> Any:
        one["p"], one["o"], loss, _ = single(one["p"], one["o"], xs, ts, idx1)
        return loss

    t1 = time_calls(call_one, cfg.repeats)

    rows = [Row(case_name(kind, k), f"rpgraph {k} sequential", cfg.steps / t1.median_s,
                "model-steps/s", True, t1.compile_s, note="make_chunk, one model after another",
                cpu_value=cfg.steps / t1.cpu_median_s if t1.cpu_median_s else None,
                extra={"steps_per_call": cfg.steps, "warm_s": t1.warm_s})]
    for batched in (False, True):
        rows.append(_ensemble_row(prog, kind, k, cfg, batched, xs, ts, order, log))
    return rows


def _ensemble_row(prog: rpgraph.Program, kind: str, k: int, cfg: EnsembleConfig,
                  batched: bool, xs: Any, ts: Any, order: np.ndarray,
                  log: Callable[[str], None]) -> Row:
    """The K models in one program: one after another inside it (bit-identical to the
    single runs, the default) or ``batched`` (vmapped)."""
    sweep = kind.endswith("-sweep")
    impl = "rpgraph ensemble" + (" batched" if batched else "")
    log(f"  [{case_name(kind, k)}] {impl} ...")
    opt = optax.adam(1e-4)
    seeds = list(range(k))
    members = [prog.init(s) for s in seeds]
    many: dict[str, Any] = {"p": stack(members)}
    if sweep:  # K learning rates from 1e-4 up, each model's in its optimizer state
        txs = [injected(optimizer_spec("adam(lr = 1e-4)"), [("learning_rate", 1e-4 * (1 + i))])
               for i in range(k)]
        many["o"] = stack([tx.init(p) for tx, p in zip(txs, members, strict=True)])
        ens = make_ensemble_chunk(prog, txs[0], seeds, shared_order=True, batched=batched)
    else:  # per-sample: one order
        many["o"] = jax.vmap(opt.init)(many["p"])
        ens = make_ensemble_chunk(prog, opt, seeds, shared_order=True, batched=batched)
    idx = jnp.asarray(order)

    def call_many() -> Any:
        many["p"], many["o"], loss, _ = ens(many["p"], many["o"], xs, ts, idx)
        return loss

    tk = time_calls(call_many, cfg.repeats)
    work = k * cfg.steps
    how = "vmapped (within float tolerance)" if batched else \
        "one after another inside it (bit-identical)"
    return Row(case_name(kind, k), impl, work / tk.median_s, "model-steps/s", True,
               tk.compile_s, note=f"{k} models in one program, {how}"
               + (", each its own learning rate" if sweep else ""),
               cpu_value=work / tk.cpu_median_s if tk.cpu_median_s else None,
               extra={"steps_per_call": cfg.steps, "warm_s": tk.warm_s})


def run_case(cfg: EnsembleConfig, log: Callable[[str], None] = print) -> list[Row]:
    rows: list[Row] = []
    for kind, k in cfg.cases:
        rows += run_one(kind, k, cfg, log)
    return rows
