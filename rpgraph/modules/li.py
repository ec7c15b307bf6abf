"""``li``: a leaky-integrator readout (NIR ``LI``: ``tau dv/dt = v_leak - v + r I``).

Per time step, forward Euler as NIR states it::

    v = v + dt / tau * (v_leak - v + r * input);    output = v

It differs from ``expsyn`` (``isyn = (isyn + input) * exp(-dt / tau)``, Rockpool's
exact-exponential synapse) in three ways: the input is scaled by ``dt / tau * r`` rather
than passed whole, the state relaxes to ``v_leak`` rather than 0, and the decay is
``1 - dt / tau`` rather than ``exp(-dt / tau)`` (so ``tau`` must exceed ``dt``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ranges import POSITIVE
from . import base
from .base import Array, Evolution, Init, KindConfig, Params, Prepared, State, arg, constant


@dataclass(frozen=True, kw_only=True)
class LIConfig(KindConfig):
    tau: Init = arg("init", constant(20e-3), "time constants (s)", range=POSITIVE,
                    unit=" s")
    r: Init = arg("init", constant(1.0), "input resistances")
    v_leak: Init = arg("init", constant(0.0), "resting potentials")
    per: str = base.per_arg()


@base.register
class LI(base.Kind[LIConfig]):
    """``li(tau = 20 ms, r = 1, v_leak = 0)``; size in == size out."""

    name = "li"
    stateful = True
    doc = "Leaky integrator (NIR LI): v += dt / tau * (v_leak - v + r * in); y = v."

    def params(self, size_in: int, size_out: int, cfg: LIConfig) -> base.ParamSpecs:
        n = (size_out,)
        return {"tau": base.ParamSpec(n, "taus", cfg.tau),
                "r": base.ParamSpec(n, "gains", cfg.r),
                "v_leak": base.ParamSpec(n, "biases", cfg.v_leak)}

    def state_shapes(self, size_in: int, size_out: int, cfg: LIConfig) -> base.Shapes:
        return {"v": (size_out,)}

    def record_keys(self, cfg: LIConfig) -> tuple[str, ...]:
        return ("v",)

    def prepare(self, params: Params, cfg: LIConfig) -> Prepared:
        return {"k": cfg.dt / params["tau"]}

    def step(self, params: Params, prep: Prepared, state: State, x_t: Array,
             noise_t: Array | None, cfg: LIConfig) -> Evolution:
        v = state["v"]
        v = v + prep["k"] * (params["v_leak"] - v + params["r"] * x_t)
        return {"v": v}, v, {"v": v}

    def output(self, params: Params, state: State, cfg: LIConfig) -> Array:
        return state["v"]
