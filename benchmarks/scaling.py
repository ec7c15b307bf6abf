"""Case 4: how compile time, step time and peak memory scale with sequence length.

* Compile time: ``jax.jit(f).lower(...).compile()`` of ``prog.evolve_and_loss`` for the
  ``tutorial_rate`` spec at each ``T`` (trace + lower, and XLA compile, timed separately);
  step time: warm calls of the compiled function, median.
* Peak memory of a gradient computation at a long ``T``, from XLA's own buffer assignment
  (``compiled.memory_analysis()``): ``temp`` is the scratch memory the program needs on top
  of its arguments and results (it holds what the backward pass keeps from the forward pass);
  ``peak`` = arguments + outputs + temp - aliased. Compared with and without
  ``rpgraph.compile(spec, remat=100)``, for the tutorial_rate spec (a feed-forward stateful
  node, evolved by its kind's own scan) and for a recurrent spec (a loop through ``linear``,
  evolved by the compiler's loop scan, where ``remat`` applies).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import rpgraph

from .common import Row, block

Array = Any
SPECS = Path(__file__).resolve().parent.parent / "specs"


@dataclass(frozen=True)
class ScalingConfig:
    lengths: tuple[int, ...] = (100, 1000, 10000)
    mem_length: int = 10000
    remat: int = 100
    repeats: int = 3
    compile_repeats: int = 3
    rate_spec: str = ""  # spec text; empty: specs/tutorial_rate.rpg
    rec_size: int = 200
    rec_in: int = 64
    memory_specs: tuple[str, ...] = ("tutorial_rate", "recurrent")


def recurrent_spec(n: int, n_in: int) -> str:
    """A rate layer in a loop through a linear layer (``h -> w: linear(N) -> h``)."""
    return (f"network rec (dt = 1 ms) {{\n input x : {n_in}\n output y : 2\n"
            f" x -> linear({n}) -> h: rate(activation = tanh)\n"
            f" h -> w: linear({n}) -> h\n"
            f" h -> linear(2) -> y\n}}")


def _rate_source(cfg: ScalingConfig) -> str | Path:
    return cfg.rate_spec or SPECS / "tutorial_rate.rpg"


def _data(prog: rpgraph.Program, t: int) -> tuple[Array, Array]:
    n_in = prog.network.size(prog.inputs[0])
    n_out = prog.network.size(prog.outputs[0])
    rng = np.random.RandomState(0)
    x = jnp.asarray(rng.randn(1, t, n_in).astype(np.float32) + 1.0)
    y = jnp.asarray(np.sin(np.linspace(0, 6, t))[None, :, None].repeat(n_out, -1)
                    .astype(np.float32))
    return x, y


def compile_timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float, float]:
    """``(compiled, lower_s, compile_s)`` for ``jax.jit(fn)`` at ``args``."""
    t0 = time.perf_counter()
    lowered = jax.jit(fn).lower(*args)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    return compiled, t1 - t0, t2 - t1


def memory(compiled: Any) -> dict[str, int | None]:
    try:
        m = compiled.memory_analysis()
    except Exception:  # not every backend implements it
        m = None
    if m is None:
        return {"temp": None, "argument": None, "output": None, "peak": None}
    arg, out = int(m.argument_size_in_bytes), int(m.output_size_in_bytes)
    temp, alias = int(m.temp_size_in_bytes), int(m.alias_size_in_bytes)
    return {"temp": temp, "argument": arg, "output": out, "peak": arg + out + temp - alias}


def _compile_eal(source: str | Path, t: int) -> tuple[Any, Any, Array, Array, float, float]:
    """A fresh program (so nothing is served from JAX's in-process caches) and its
    ``evolve_and_loss`` compiled at length ``t``."""
    prog = rpgraph.compile(source)
    params = prog.init(0)
    x, y = _data(prog, t)

    def eal(p: Any, x: Array, t: Array) -> Array:
        return prog.evolve_and_loss(p, x, t)[0]

    compiled, lower_s, comp_s = compile_timed(eal, params, x, y)
    return compiled, params, x, y, lower_s, comp_s


def run_compile(cfg: ScalingConfig, log: Callable[[str], None] = print) -> list[Row]:
    source = _rate_source(cfg)
    _compile_eal(source, min(cfg.lengths))  # warm XLA itself up; not counted
    rows = []
    for t in cfg.lengths:
        log(f"  [scaling] compile T={t} ...")
        lowers, comps = [], []
        for _ in range(max(1, cfg.compile_repeats)):
            compiled, params, x, y, lower_s, comp_s = _compile_eal(source, t)
            lowers.append(lower_s)
            comps.append(comp_s)
        lower_s, comp_s = float(np.median(lowers)), float(np.median(comps))
        block(compiled(params, x, y))
        warm = []
        for _ in range(cfg.repeats):
            t0 = time.perf_counter()
            block(compiled(params, x, y))
            warm.append(time.perf_counter() - t0)
        step = float(np.median(warm))
        rows.append(Row("scaling compile", f"rpgraph T={t}", step * 1e3, "ms/call", False,
                        lower_s + comp_s,
                        note=f"evolve_and_loss: lower {lower_s:.2f} s + XLA {comp_s:.2f} s "
                             f"(median of {len(comps)}); {step / t * 1e6:.1f} us/timestep",
                        extra={"T": t, "lower_s": lowers, "xla_compile_s": comps,
                               "warm_s": warm, "us_per_timestep": step / t * 1e6}))
    return rows


def run_memory(cfg: ScalingConfig, log: Callable[[str], None] = print) -> list[Row]:
    rows = []
    t = cfg.mem_length
    sources = {"tutorial_rate": _rate_source(cfg),
               "recurrent": recurrent_spec(cfg.rec_size, cfg.rec_in)}
    for label in cfg.memory_specs:
        source = sources[label]
        for remat in (None, cfg.remat):
            log(f"  [scaling] memory {label} T={t} remat={remat} ...")
            prog = rpgraph.compile(source, remat=remat) if remat else rpgraph.compile(source)
            params = prog.init(0)
            x, y = _data(prog, t)
            grad = jax.grad(lambda p, x, y, prog=prog: prog.loss(p, x, y))
            compiled, lower_s, comp_s = compile_timed(grad, params, x, y)
            g0 = compiled(params, x, y)
            block(g0)
            t0 = time.perf_counter()
            block(compiled(params, x, y))
            step = time.perf_counter() - t0
            mem = memory(compiled)
            impl = f"{label} remat={remat or 'off'}"
            stages = ", ".join(f"{s.op}({'+'.join(s.nodes)})" for s in prog.stages)
            rows.append(Row(f"scaling memory T={t}", impl,
                            None if mem["temp"] is None else mem["temp"] / 2**20, "MiB temp",
                            False, lower_s + comp_s,
                            note=f"grad step {step * 1e3:.0f} ms; plan: {stages}",
                            extra={"T": t, "remat": remat, "memory_bytes": mem,
                                   "grad_s": step, "stages": stages}))
    return rows


def run_case(cfg: ScalingConfig, log: Callable[[str], None] = print) -> list[Row]:
    return [*run_compile(cfg, log), *run_memory(cfg, log)]
