"""``delay(d)``: a per-channel transmission delay, ``y[t, i] = x[t - d_i / dt, i]``.

``d`` is a time (``delay(3 ms)``) or a bounded initialiser of one delay per channel
(``delay(uniform(0 ms, 5 ms))``), rounded to whole solver steps; the delays are parameters
(``<node>.d``, family ``delays``, in seconds) that training does not change. Before the
first ``d_i / dt`` steps the output is 0 (the past is silent).

``delay(d, learn = true)`` makes the delays trainable (DCLS-style, Khalfaoui-Hassani et al.
2023, Hammouamri et al. 2023, with the triangular kernel, i.e. linear interpolation): with
``s_i = d_i / dt`` clipped to ``[0, D]``, ``k = floor(s_i)`` and ``f = s_i - k``::

    y[t, i] = (1 - f) * x[t - k, i] + f * x[t - k - 1, i]

so ``dy / dd_i = (x[t - k - 1, i] - x[t - k, i]) / dt``; at whole steps it is the rounded
delay exactly. A learned delay stays within the initialiser's range ``[0, D]`` (its
gradient is 0 outside).

The state is the last ``D + 1`` inputs (``D``: the longest delay the initialiser can give,
in steps), so a delay inside a recurrent loop works step by step; outside loops the whole
series is shifted at once (one gather, no time loop).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real modules; at run time, imported on first use
    import jax
    import jax.numpy as jnp
else:
    from ..lazy_jax import jax, jnp

from . import base
from .base import REQUIRED, Array, Evolution, Init, KindConfig, Params, Prepared, State, arg


@dataclass(frozen=True, kw_only=True)
class DelayConfig(KindConfig):
    d: Init = arg("init", REQUIRED, "delays (s): a time or a bounded initialiser")
    learn: bool = arg("bool", False, "train the delays (linear interpolation between steps)")


def _longest(cfg: DelayConfig) -> int:
    """The longest delay in steps the initialiser can produce (checked bounded)."""
    bounds = cfg.d.bounds()
    assert bounds is not None
    return max(0, int(round(bounds[1] / cfg.dt)))


@base.register
class Delay(base.Kind[DelayConfig]):
    """``delay(d, learn = false)``: ``d`` a time or a bounded initialiser; size in ==
    size out."""

    name = "delay"
    stateful = True
    doc = ("Per-channel transmission delay: y[t] = x[t - round(d / dt)]; d trained (and "
           "interpolated between steps) only with learn = true.")

    def check_args(self, cfg: Mapping[str, Any], given: Collection[str]
                   ) -> tuple[str, str] | None:
        d = cfg["d"]
        bounds = d.bounds() if isinstance(d, Init) else None
        if bounds is None:
            shown = d.describe() if isinstance(d, Init) else str(d).lower()
            return ("d", f"delays need a bounded initialiser, got {shown}; "
                    "write a time (3 ms), uniform(lo, hi) or constant(t)")
        if bounds[0] < 0:
            return ("d", f"delays cannot be negative, got {bounds[0]:g} s")
        return None

    def lookback(self, cfg: DelayConfig) -> int:
        return _longest(cfg)

    def params(self, size_in: int, size_out: int, cfg: DelayConfig) -> base.ParamSpecs:
        return {"d": base.ParamSpec((size_out,), "delays", cfg.d, trainable=cfg.learn)}

    def state_shapes(self, size_in: int, size_out: int, cfg: DelayConfig) -> base.Shapes:
        return {"buffer": (_longest(cfg) + 1, size_out)}

    def prepare(self, params: Params, cfg: DelayConfig) -> Prepared:
        return _taps(params["d"], cfg)

    def step(self, params: Params, prep: Prepared, state: State, x_t: Array,
             noise_t: Array | None, cfg: DelayConfig) -> Evolution:
        buf = jnp.concatenate([state["buffer"][:, 1:], x_t[:, None]], axis=1)
        return {"buffer": buf}, _read(buf, prep), {}

    def output(self, params: Params, state: State, cfg: DelayConfig) -> Array:
        return _read(state["buffer"], _taps(params["d"], cfg))

    def scan(self, params: Params, prep: Prepared, state: State, x: Array,
             noise: Array | None, cfg: DelayConfig, record: bool) -> Evolution:
        """The whole series shifted at once: output ``t`` of channel ``i`` is element
        ``D + t - d_i`` of the past ``D`` inputs followed by ``x``."""
        longest, t = _longest(cfg), x.shape[1]
        full = jnp.concatenate([state["buffer"][:, 1:], x], axis=1)  # (B, D + T, N)

        def shifted(index: Array) -> Array:
            where = index[None, :] + jnp.arange(t)[:, None]  # (T, N)
            return jnp.take_along_axis(full, jnp.broadcast_to(where[None], x.shape), axis=1)

        y = shifted(prep["index"])
        if "frac" in prep:  # learn = true: the step before, weighted by the fraction
            y = y + prep["frac"] * (shifted(prep["before"]) - y)
        keep = full[:, -(longest + 1):] if t >= 1 else state["buffer"]
        return {"buffer": keep}, y, {}


def _taps(d: Array, cfg: DelayConfig) -> Prepared:
    """Where channel ``i``'s output sits in the buffer of the last ``D + 1`` inputs
    (``index``); with ``learn``, also the entry one step older (``before``) and its weight
    ``frac`` (the fraction of a step beyond ``index``'s delay)."""
    longest = _longest(cfg)
    if not cfg.learn:
        steps = jnp.clip(jnp.round(d / cfg.dt), 0, longest).astype(jnp.int32)
        return {"index": longest - steps}
    s = jnp.clip(d / cfg.dt, 0.0, float(longest))
    whole = jax.lax.stop_gradient(jnp.floor(s))
    index = longest - whole.astype(jnp.int32)
    return {"index": index, "before": jnp.maximum(index - 1, 0), "frac": s - whole}


def _read(buf: Array, prep: Prepared) -> Array:
    """Each channel's delayed value from ``buf`` (B, D + 1, N): ``(B, N)``."""
    y = _at(buf, prep["index"])
    if "frac" in prep:
        y = y + prep["frac"] * (_at(buf, prep["before"]) - y)
    return y


def _at(buf: Array, index: Array) -> Array:
    """``buf[:, index[i], i]`` for each channel ``i``: ``(B, N)``."""
    return jnp.take_along_axis(buf, index[None, None, :], axis=1)[:, 0]


__all__ = ["Delay", "DelayConfig"]
