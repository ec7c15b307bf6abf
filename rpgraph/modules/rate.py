"""``rate``: a population of non-spiking rate neurons (Rockpool ``RateJax``).

Forward Euler, per neuron ``i``::

    rec_input = H(x_prev, threshold) @ w_rec                  (only when rec = true)
    x += dt / tau * (-x + input + noise + bias + rec_input)
    y  = H(x, threshold)

``H`` is one of :data:`~rpgraph.modules.base.ACTIVATIONS` (Rockpool's ``H_*`` functions).
Noise: the compiler passes standard-normal draws of the *input's* shape; this kind scales
them by ``noise_std * sqrt(dt)`` and adds them to the input, as Rockpool does.
"""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp

from .base import (
    ACTIVATIONS,
    Arg,
    Array,
    Config,
    Init,
    Kind,
    Params,
    ParamSpec,
    State,
    constant,
    init_of,
    linear_recurrence,
    register,
)


def _noise_scale(cfg: Config) -> float:
    return float(cfg.get("noise_std", 0.0)) * math.sqrt(float(cfg["dt"]))


@register
class Rate(Kind):
    """``rate(tau = 20 ms, bias = 0, threshold = 0, activation = relu, rec = false,
    w_rec = unit_eigs, noise_std = 0)``; size in == size out."""

    name = "rate"
    stateful = True
    rockpool = "RateJax"
    doc = "Rate neurons: x += dt/tau (-x + in + bias + H(x) @ w_rec); y = H(x - threshold)."
    args = (
        Arg("tau", "init", constant(20e-3), doc="time constants (s)"),
        Arg("bias", "init", constant(0.0), doc="bias inputs"),
        Arg("threshold", "init", constant(0.0), doc="activation thresholds"),
        Arg("activation", "activation", "relu", doc="one of " + ", ".join(ACTIVATIONS)),
        Arg("rec", "bool", False, doc="internal recurrent weights w_rec (N, N)"),
        Arg("w_rec", "init", Init("unit_eigs"), doc="initialiser of w_rec (normal / sqrt(N))"),
        Arg("noise_std", "float", 0.0, doc="input noise std. dev. after 1 s"),
    )

    def params(self, size_in: int, size_out: int, cfg: Config) -> dict[str, ParamSpec]:
        n = (size_out,)
        specs = {
            "tau": ParamSpec(n, "taus", init_of(cfg, "tau", constant(20e-3))),
            "bias": ParamSpec(n, "biases", init_of(cfg, "bias", constant(0.0))),
            "threshold": ParamSpec(n, "thresholds", init_of(cfg, "threshold", constant(0.0))),
        }
        if cfg.get("rec", False):
            specs["w_rec"] = ParamSpec(
                (size_out, size_in), "weights", init_of(cfg, "w_rec", Init("unit_eigs"))
            )
        return specs

    def state_shapes(self, size_in: int, size_out: int, cfg: Config) -> dict[str, tuple[int, ...]]:
        return {"x": (size_out,)}

    def noise_shape(self, size_in: int, size_out: int, cfg: Config) -> tuple[int, ...] | None:
        return (size_in,) if float(cfg.get("noise_std", 0.0)) > 0 else None

    def record_keys(self, cfg: Config) -> tuple[str, ...]:
        return ("x", "rec_input") if cfg.get("rec", False) else ("x",)

    def _input(self, x: Array, noise: Array | None, cfg: Config) -> Array:
        # Rockpool adds the scaled noise to the input before anything else
        return x if noise is None else x + _noise_scale(cfg) * noise

    def step(
        self, params: Params, state: State, x_t: Array, noise_t: Array | None, cfg: Config
    ) -> tuple[State, Array, dict[str, Array]]:
        act = ACTIVATIONS[cfg.get("activation", "relu")]
        thr = params["threshold"]
        x = state["x"]
        alpha = _alpha(params, cfg)
        inp = self._input(x_t, noise_t, cfg)
        rec: dict[str, Array] = {}
        # same summation order as Rockpool, so results agree to the last bit
        if cfg.get("rec", False):
            rec_input = jnp.dot(act(x, thr), params["w_rec"])
            x = x + alpha * (-x + inp + params["bias"] + rec_input)
            rec["rec_input"] = rec_input
        else:
            x = x + alpha * (-x + inp + params["bias"])
        rec["x"] = x
        return {"x": x}, act(x, thr), rec

    def output(self, params: Params, state: State, cfg: Config) -> Array:
        return ACTIVATIONS[cfg.get("activation", "relu")](state["x"], params["threshold"])

    def prepare(self, params: Params, cfg: Config) -> Params:
        # dt / tau once per evolution rather than inside every step (and its gradient)
        return {**params, "_alpha": _alpha(params, cfg)}

    def scan(
        self,
        params: Params,
        state: State,
        x: Array,
        noise: Array | None,
        cfg: Config,
        record: bool,
    ) -> tuple[State, Array, dict[str, Array]]:
        """With ``cfg["assoc_scan"]`` and no recurrence, the state is the linear recurrence
        ``x_t = (1 - a) x_{t-1} + a (in_t + bias)``, ``a = dt / tau``, evaluated by a
        parallel associative scan; otherwise the step-by-step ``lax.scan``."""
        if not cfg.get("assoc_scan", False) or cfg.get("rec", False):
            return super().scan(params, state, x, noise, cfg, record)
        alpha = _alpha(params, cfg)
        drive = alpha * (self._input(x, noise, cfg) + params["bias"])
        xs = linear_recurrence(1.0 - alpha, drive, state["x"])
        y: Any = ACTIVATIONS[cfg.get("activation", "relu")](xs, params["threshold"])
        return {"x": xs[:, -1]}, y, ({"x": xs} if record else {})


def _alpha(params: Params, cfg: Config) -> Array:
    """The Euler step ``dt / tau``, prepared once per evolution when ``prepare`` ran."""
    return params["_alpha"] if "_alpha" in params else cfg["dt"] / params["tau"]
