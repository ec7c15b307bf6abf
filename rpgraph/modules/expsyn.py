"""``expsyn``: a layer of exponential synapses (Rockpool ``ExpSynJax``)::

    isyn = (isyn + input + noise) * exp(-dt / tau);   output = isyn

Noise: the compiler passes standard-normal draws ``(B, N)`` per step; this kind scales them
by ``noise_std * sqrt(dt)`` and adds them to the input, as Rockpool does.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from .base import (
    Arg,
    Array,
    Config,
    Kind,
    Params,
    ParamSpec,
    State,
    constant,
    init_of,
    linear_recurrence,
    register,
)


@register
class ExpSyn(Kind):
    """``expsyn(tau = 10 ms, noise_std = 0)``; size in == size out."""

    name = "expsyn"
    stateful = True
    rockpool = "ExpSynJax"
    doc = "Exponential synapses: isyn = (isyn + in) * exp(-dt / tau); y = isyn."
    args = (
        Arg("tau", "init", constant(10e-3), doc="synaptic time constants (s)"),
        Arg("noise_std", "float", 0.0, doc="input noise std. dev. after 1 s"),
    )

    def params(self, size_in: int, size_out: int, cfg: Config) -> dict[str, ParamSpec]:
        return {"tau": ParamSpec((size_out,), "taus", init_of(cfg, "tau", constant(10e-3)))}

    def state_shapes(self, size_in: int, size_out: int, cfg: Config) -> dict[str, tuple[int, ...]]:
        return {"isyn": (size_out,)}

    def noise_shape(self, size_in: int, size_out: int, cfg: Config) -> tuple[int, ...] | None:
        return (size_out,) if float(cfg.get("noise_std", 0.0)) > 0 else None

    def record_keys(self, cfg: Config) -> tuple[str, ...]:
        return ("isyn",)

    def _input(self, x: Array, noise: Array | None, cfg: Config) -> Array:
        if noise is None:
            return x
        return x + float(cfg.get("noise_std", 0.0)) * math.sqrt(float(cfg["dt"])) * noise

    def step(
        self, params: Params, state: State, x_t: Array, noise_t: Array | None, cfg: Config
    ) -> tuple[State, Array, dict[str, Array]]:
        beta = _beta(params, cfg)
        isyn = (state["isyn"] + self._input(x_t, noise_t, cfg)) * beta
        return {"isyn": isyn}, isyn, {"isyn": isyn}

    def output(self, params: Params, state: State, cfg: Config) -> Array:
        return state["isyn"]

    def prepare(self, params: Params, cfg: Config) -> Params:
        # the decay once per evolution, not once per step inside the scan
        return {**params, "_beta": _beta(params, cfg)}

    def scan(
        self,
        params: Params,
        state: State,
        x: Array,
        noise: Array | None,
        cfg: Config,
        record: bool,
    ) -> tuple[State, Array, dict[str, Array]]:
        """With ``cfg["assoc_scan"]``: ``isyn_t = beta isyn_{t-1} + beta in_t`` by a parallel
        associative scan; otherwise the step-by-step ``lax.scan``."""
        if not cfg.get("assoc_scan", False):
            return super().scan(params, state, x, noise, cfg, record)
        beta = _beta(params, cfg)
        ys = linear_recurrence(beta, beta * self._input(x, noise, cfg), state["isyn"])
        return {"isyn": ys[:, -1]}, ys, ({"isyn": ys} if record else {})


def _beta(params: Params, cfg: Config) -> Array:
    """The per-step decay, prepared once per evolution when :meth:`ExpSyn.prepare` ran."""
    return params["_beta"] if "_beta" in params else jnp.exp(-cfg["dt"] / params["tau"])
