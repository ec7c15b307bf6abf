"""Case: a convolutional SNN (N-MNIST-sized input), forward + backward, rpgraph against a
hand-written JAX version of the same maths.

The network: ``(2, 34, 34)`` events -> ``conv2d(16, 5x5, stride 2, padding 2)`` -> LIF ->
``sumpool2d(2)`` -> ``conv2d(32, 3x3, padding 1)`` -> LIF -> flatten -> ``linear(10)``; the loss
is the mean squared output against a zero target, differentiated w.r.t. every parameter.

* ``rpgraph``: the spec compiled, ``jit(value_and_grad(prog.loss))``.
* ``hand-written``: ``lax.conv_general_dilated`` over the flattened time-batch, one
  ``lax.scan`` per LIF layer (Rockpool's LIFJax update with its piece-wise linear surrogate),
  ``lax.reduce_window`` for the pooling; the same parameters.
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

from .common import Row, time_calls

Array = Any

SPEC = """network conv_snn (dt = 1 ms) {
    input x : (2, 34, 34)
    output y : 10
    x -> c1: conv2d(16, kernel = 5, stride = 2, padding = 2) -> l1: lif -> sumpool2d(2)
        -> c2: conv2d(32, kernel = 3, padding = 1) -> l2: lif -> flatten -> w: linear(10) -> y
}
"""


@dataclass(frozen=True)
class ConvConfig:
    length: int = 100
    batch: int = 16
    repeats: int = 5
    budget_s: float = 20.0


def make_input(cfg: ConvConfig) -> tuple[np.ndarray, np.ndarray]:
    """Sparse random events (5% per pixel and step), flattened, and a zero target."""
    rng = np.random.RandomState(0)
    x = (rng.rand(cfg.batch, cfg.length, 2 * 34 * 34) < 0.05).astype(np.float32)
    return x, np.zeros((cfg.batch, cfg.length, 10), np.float32)


@jax.custom_jvp
def _spike(v: Array, thr: Array) -> Array:
    return jnp.clip((v >= thr) * jnp.floor(v / thr), 0.0, 2.0**16)


@_spike.defjvp
def _spike_jvp(primals: tuple[Array, Array], tangents: tuple[Array, Array]
               ) -> tuple[Array, Array]:
    v, thr = primals
    dv, dthr = tangents
    return _spike(v, thr), (v >= thr - 0.5) * (dv / thr - dthr * v / thr**2)


def _lif(p: dict[str, Array], x: Array, dt: float) -> Array:
    """Rockpool's LIFJax over (B, T, N): isyn = (isyn + x) beta; v = v alpha + isyn + bias;
    spikes = floor(v / thr); v -= spikes thr."""
    alpha = jnp.exp(-dt / p["tau_mem"])
    beta = jnp.exp(-dt / p["tau_syn"]).reshape(-1)

    def body(c: tuple[Array, Array], x_t: Array) -> tuple[tuple[Array, Array], Array]:
        isyn, v = c
        isyn = (isyn + x_t) * beta
        v = v * alpha + isyn + p["bias"]
        s = _spike(v, p["threshold"])
        return (isyn, v - s * p["threshold"]), s

    z = jnp.zeros((x.shape[0], x.shape[2]), x.dtype)
    _, s = jax.lax.scan(body, (z, z), jnp.swapaxes(x, 0, 1))
    return jnp.swapaxes(s, 0, 1)


def _conv(x: Array, w: Array, shape: tuple[int, ...], stride: int, pad: int) -> Array:
    b, t = x.shape[:2]
    y = jax.lax.conv_general_dilated(x.reshape(b * t, *shape), w, (stride, stride),
                                     ((pad, pad), (pad, pad)),
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return y.reshape(b, t, -1)


def hand_loss(params: dict[str, dict[str, Array]], x: Array, target: Array) -> Array:
    h = _conv(x, params["c1"]["weight"], (2, 34, 34), 2, 2)
    s = _lif(params["l1"], h, 1e-3)
    b, t = s.shape[:2]
    pooled = jax.lax.reduce_window(s.reshape(b * t, 16, 17, 17), 0.0, jax.lax.add,
                                   (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    h = _conv(pooled.reshape(b, t, -1), params["c2"]["weight"], (16, 8, 8), 1, 1)
    s = _lif(params["l2"], h, 1e-3)
    y = s @ params["w"]["weight"]
    return jnp.mean((y - target) ** 2)


def run_case(cfg: ConvConfig, log: Callable[[str], None] = print) -> list[Row]:
    prog = rpgraph.compile(SPEC)
    params = prog.init(0)
    x_np, t_np = make_input(cfg)
    x, t = jnp.asarray(x_np), jnp.asarray(t_np)
    case = f"conv SNN T={cfg.length} B={cfg.batch}"
    extra: dict[str, Any] = {"T": cfg.length, "batch": cfg.batch}
    rows = []
    compiled, comp = {}, {}
    for impl, fn in (("rpgraph", prog.loss), ("hand-written", hand_loss)):
        t0 = time.perf_counter()
        compiled[impl] = jax.jit(jax.value_and_grad(fn)).lower(params, x, t).compile()
        comp[impl] = time.perf_counter() - t0
    # the same maths: both losses agree before anything is timed (from the programs timed,
    # so nothing else is compiled)
    got, ref = (float(compiled[impl](params, x, t)[0]) for impl in ("rpgraph", "hand-written"))
    extra["loss_rel_diff"] = abs(got - ref) / max(abs(ref), 1e-12)
    for impl, note in (("rpgraph", "jit(value_and_grad(prog.loss))"),
                       ("hand-written", "lax.conv + lax.scan LIF")):
        log(f"  [{case}] {impl} ...")
        tm = time_calls(lambda c=compiled[impl]: c(params, x, t), cfg.repeats,
                        budget_s=cfg.budget_s)
        cpu = tm.cpu_median_s
        rows.append(Row(case, impl, tm.median_s * 1e3, "ms/iter", False, comp[impl],
                        cpu_value=None if cpu is None else cpu * 1e3,
                        note=note + (f"; loss {got:.6g} vs {ref:.6g}" if impl == "rpgraph"
                                     else ""), extra={**extra, "warm_s": tm.warm_s}))
    return rows
