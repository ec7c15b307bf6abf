"""Case 3: an Open Neuromorphic style LIF benchmark (linear + LIF layer, forward+backward).

Each implementation computes ``jax.jit(jax.value_and_grad(loss))`` where ``loss`` is the
mean squared spike count of a ``linear(N) -> LIF(N)`` layer over a ``(B, T, N)`` input
(the mse of the spikes against a zero target), differentiated w.r.t. all parameters through
the surrogate gradient. Compile: ``lower(...).compile()``, timed; then warm calls of the
compiled function, blocked, median.

* ``rpgraph``: the spec ``x -> linear(N) -> lif -> y`` compiled, ``prog.loss``;
  ``rpgraph bf16`` the same compiled with ``precision="bfloat16"`` (float32 parameters,
  bfloat16 compute; the protocol's half-precision column).
* ``rockpool``: ``Sequential(LinearJax((N, N)), LIFJax(N))`` and the tutorial's loss form.
* ``spyx``: ``spyx.nn.Sequential(nnx.Linear, spyx.nn.LIF)`` driven by ``spyx.nn.run``
  (Spyx 1.x is built on Flax NNX; the old haiku API is gone). Spyx's LIF is a simpler
  neuron (no synaptic current state, a learnable decay ``beta``, SuperSpike surrogate).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import rpgraph

from .common import Row, Timing, time_calls

Array = Any


@dataclass(frozen=True)
class LIFConfig:
    sizes: tuple[int, ...] = (256, 1024, 4096)
    length: int = 500
    batch: int = 16
    repeats: int = 5
    budget_s: float = 20.0  # stop repeating a configuration after this many warm seconds
    min_repeats: int = 1  # ... but time at least this many warm calls
    bf16: bool = True  # also time rpgraph with precision = bfloat16


#: The Open Neuromorphic benchmark's published 16k-neuron figures (RTX 4090, Spyx 0.1.18),
#: forward+backward ms: float32 and half precision.
PUBLISHED_16K_MS = {"float32": 76.4, "half": 47.0}


def spec_text(n: int) -> str:
    return (f"network lif (dt = 1 ms) {{ input x : {n}\n output y : {n}\n"
            f" x -> linear({n}) -> lif -> y }}")


def make_input(cfg: LIFConfig, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sparse random input spikes (5% per step) and a zero target."""
    rng = np.random.RandomState(0)
    x = (rng.rand(cfg.batch, cfg.length, n) < 0.05).astype(np.float32)
    return x, np.zeros_like(x)


def rpgraph_vg(n: int, precision: str = "float32") -> tuple[Callable[..., Any], Any]:
    prog = rpgraph.compile(spec_text(n), precision=precision)
    vg = jax.jit(jax.value_and_grad(prog.loss))
    return vg, prog.init(0)


def rockpool_vg(n: int) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFJax, LinearJax
    from rockpool.training import jax_loss as l

    net = Sequential(LinearJax((n, n)), LIFJax(n))

    def loss(parameters: Any, net: Any, inputs: Array, target: Array) -> Array:
        net = net.reset_state()
        net = net.set_attributes(parameters)
        output, _, _ = net(inputs)
        return l.mse(output, target)

    return jax.jit(jax.value_and_grad(loss)), (net.parameters(), net)


def spyx_unavailable() -> str | None:
    """Why Spyx can't be benchmarked here, or None when it can."""
    try:
        import spyx.nn  # noqa: F401
        from flax import nnx  # noqa: F401
    except Exception as err:  # any import failure: record it, keep the column as n/a
        return f"{type(err).__name__}: {err}"
    return None


def spyx_vg(n: int) -> tuple[Callable[..., Any], Any]:
    import spyx.nn as snn
    from flax import nnx

    rngs = nnx.Rngs(0)
    model = snn.Sequential(nnx.Linear(n, n, use_bias=False, rngs=rngs),
                           snn.LIF((n,), rngs=rngs))
    graphdef, params = nnx.split(model)

    def loss(params: Any, x: Array, target: Array) -> Array:
        m = nnx.merge(graphdef, params)
        out, _ = snn.run(m, x, batch_major=True)
        return jnp.mean((out - target) ** 2)

    return jax.jit(jax.value_and_grad(loss)), params


def _ms(tm: Timing) -> float | None:
    cpu = tm.cpu_median_s
    return None if cpu is None else cpu * 1e3


def _time_jitted(fn: Any, args: tuple[Any, ...], cfg: LIFConfig, aot: bool = True
                 ) -> tuple[Timing, float]:
    """Compile ``fn`` at ``args`` explicitly (timed), then time warm calls of the result.

    ``aot=False`` times the jitted ``fn`` itself instead (its first call compiles again,
    untimed): Rockpool modules are pytrees whose metadata does not compare equal between
    two flattenings, which an ahead-of-time compiled function refuses."""
    t0 = time.perf_counter()
    compiled = fn.lower(*args).compile()
    compile_s = time.perf_counter() - t0
    call = compiled if aot else fn
    tm = time_calls(lambda: call(*args), cfg.repeats, budget_s=cfg.budget_s,
                    min_repeats=cfg.min_repeats)
    return tm, compile_s


def _bench_size(cfg: LIFConfig, n: int, spyx_reason: str | None,
                log: Callable[[str], None]) -> tuple[list[Row], str | None]:
    x_np, t_np = make_input(cfg, n)
    x, t = jnp.asarray(x_np), jnp.asarray(t_np)
    case = f"lif N={n}"
    extra = {"N": n, "T": cfg.length, "batch": cfg.batch}
    rows = []

    log(f"  [{case}] rpgraph ...")
    vg, p = rpgraph_vg(n)
    tm, comp = _time_jitted(vg, (p, x, t), cfg)
    rows.append(Row(case, "rpgraph", tm.median_s * 1e3, "ms/iter", False, comp,
                    cpu_value=_ms(tm),
                    note="jit(value_and_grad(prog.loss))", extra={**extra, "warm_s": tm.warm_s}))

    if cfg.bf16:
        log(f"  [{case}] rpgraph bf16 ...")
        vg, p = rpgraph_vg(n, "bfloat16")
        tm, comp = _time_jitted(vg, (p, x, t), cfg)
        rows.append(Row(case, "rpgraph bf16", tm.median_s * 1e3, "ms/iter", False, comp,
                        cpu_value=_ms(tm), note="precision = bfloat16 (float32 parameters)",
                        extra={**extra, "warm_s": tm.warm_s}))

    log(f"  [{case}] rockpool ...")
    vgr, args = rockpool_vg(n)
    # numpy inputs, as a Rockpool user would pass them
    tm, comp = _time_jitted(vgr, (*args, x_np, t_np), cfg, aot=False)
    rows.append(Row(case, "rockpool", tm.median_s * 1e3, "ms/iter", False, comp,
                    cpu_value=_ms(tm),
                    note="Sequential(LinearJax, LIFJax)", extra={**extra, "warm_s": tm.warm_s}))

    if spyx_reason is None:
        log(f"  [{case}] spyx ...")
        try:
            vgs, ps = spyx_vg(n)
            tm, comp = _time_jitted(vgs, (ps, x, t), cfg)
            rows.append(Row(case, "spyx", tm.median_s * 1e3, "ms/iter", False, comp,
                            cpu_value=_ms(tm),
                            note="nnx.Linear + spyx.nn.LIF, spyx.nn.run",
                            extra={**extra, "warm_s": tm.warm_s}))
        except Exception as err:  # a Spyx API change must not sink the whole run
            spyx_reason = f"{type(err).__name__}: {err}"
    if spyx_reason is not None:
        rows.append(Row(case, "spyx", None, "ms/iter", False, None,
                        note=f"n/a ({spyx_reason})", extra=extra))
    return rows, spyx_reason


def run_case(cfg: LIFConfig, log: Callable[[str], None] = print) -> list[Row]:
    rows: list[Row] = []
    spyx_reason = spyx_unavailable()
    for n in cfg.sizes:
        got, spyx_reason = _bench_size(cfg, n, spyx_reason, log)
        rows.extend(got)
    return rows
