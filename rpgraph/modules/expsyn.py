"""``expsyn``: a layer of exponential synapses (Rockpool ``ExpSynJax``)::

    isyn = (isyn + input + noise) * exp(-dt / tau);   output = isyn

Noise: the compiler passes standard-normal draws ``(B, N)`` per step; this kind scales them
by ``noise_std * sqrt(dt)`` and adds them to the input, as Rockpool does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..ranges import NON_NEGATIVE, POSITIVE
from . import base
from .base import Array, Evolution, Init, KindConfig, Params, Prepared, State, arg, constant

if TYPE_CHECKING:  # the real modules; at run time, imported on first use
    import jax.numpy as jnp
else:
    from ..lazy_jax import jnp


@dataclass(frozen=True, kw_only=True)
class ExpSynConfig(KindConfig):
    tau: Init = arg("init", constant(10e-3), "synaptic time constants (s)", range=POSITIVE,
                     unit=" s")
    noise_std: float = arg("float", 0.0, "input noise std. dev. after 1 s",
                           range=NON_NEGATIVE)
    per: str = base.per_arg()


@base.register
class ExpSyn(base.Kind[ExpSynConfig]):
    """``expsyn(tau = 10 ms, noise_std = 0)``; size in == size out."""

    name = "expsyn"
    stateful = True
    rockpool = "ExpSynJax"
    doc = "Exponential synapses: isyn = (isyn + in) * exp(-dt / tau); y = isyn."

    def params(self, size_in: int, size_out: int, cfg: ExpSynConfig) -> base.ParamSpecs:
        return {"tau": base.ParamSpec((size_out,), "taus", cfg.tau)}

    def state_shapes(self, size_in: int, size_out: int, cfg: ExpSynConfig) -> base.Shapes:
        return {"isyn": (size_out,)}

    def noise_shape(self, size_in: int, size_out: int, cfg: ExpSynConfig) -> base.Shape | None:
        return (size_out,) if cfg.noise_std > 0 else None

    def record_keys(self, cfg: ExpSynConfig) -> tuple[str, ...]:
        return ("isyn",)

    def prepare(self, params: Params, cfg: ExpSynConfig) -> Prepared:
        # the decay once per evolution, not once per step inside the scan
        return {"beta": jnp.exp(-cfg.dt / params["tau"])}

    def step(self, params: Params, prep: Prepared, state: State, x_t: Array,
             noise_t: Array | None, cfg: ExpSynConfig) -> Evolution:
        x_t = base.add_noise(x_t, noise_t, cfg.noise_std, cfg.dt)
        isyn = (state["isyn"] + x_t) * prep["beta"]
        return {"isyn": isyn}, isyn, {"isyn": isyn}

    def output(self, params: Params, state: State, cfg: ExpSynConfig) -> Array:
        return state["isyn"]

    def scan(self, params: Params, prep: Prepared, state: State, x: Array,
             noise: Array | None, cfg: ExpSynConfig, record: bool) -> Evolution:
        """With ``cfg.assoc_scan``: ``isyn_t = beta isyn_{t-1} + beta in_t`` by a parallel
        associative scan; otherwise the step-by-step ``lax.scan``."""
        if not cfg.assoc_scan:
            return super().scan(params, prep, state, x, noise, cfg, record)
        beta = prep["beta"]
        drive = beta * base.add_noise(x, noise, cfg.noise_std, cfg.dt)
        return base.recurrence_evolution("isyn", beta, drive, state, record)
