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

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..ranges import NON_NEGATIVE, POSITIVE
from . import base
from .base import ACTIVATIONS, Array, Evolution, Init, KindConfig, Params, Prepared, State, arg

if TYPE_CHECKING:  # the real modules; at run time, imported on first use
    import jax.numpy as jnp
else:
    from ..lazy_jax import jnp


@dataclass(frozen=True, kw_only=True)
class RateConfig(KindConfig):
    tau: Init = arg("init", base.constant(20e-3), "time constants (s)", range=POSITIVE,
                     unit=" s")
    bias: Init = arg("init", base.constant(0.0), "bias inputs")
    threshold: Init = arg("init", base.constant(0.0), "activation thresholds")
    activation: str = arg("activation", "relu", "one of " + ", ".join(ACTIVATIONS))
    rec: bool = arg("bool", False, "internal recurrent weights w_rec (N, N)")
    w_rec: Init = arg("init", Init("unit_eigs"), "initialiser of w_rec (normal / sqrt(N))")
    noise_std: float = arg("float", 0.0, "input noise std. dev. after 1 s",
                           range=NON_NEGATIVE)
    per: str = base.per_arg()


@base.register
class Rate(base.Kind[RateConfig]):
    """``rate(tau = 20 ms, bias = 0, threshold = 0, activation = relu, rec = false,
    w_rec = unit_eigs, noise_std = 0)``; size in == size out."""

    name = "rate"
    stateful = True
    # forward Euler (x += dt / tau * ...) oscillates without bound once dt / tau > 2
    tau_floor = 0.5
    rockpool = "RateJax"
    doc = "Rate neurons: x += dt/tau (-x + in + bias + H(x) @ w_rec); y = H(x - threshold)."

    def params(self, size_in: int, size_out: int, cfg: RateConfig) -> base.ParamSpecs:
        n = (size_out,)
        specs = {
            "tau": base.ParamSpec(n, "taus", cfg.tau),
            "bias": base.ParamSpec(n, "biases", cfg.bias),
            "threshold": base.ParamSpec(n, "thresholds", cfg.threshold),
        }
        if cfg.rec:
            specs["w_rec"] = base.ParamSpec((size_out, size_in), "weights", cfg.w_rec)
        return specs

    def state_shapes(self, size_in: int, size_out: int, cfg: RateConfig) -> base.Shapes:
        return {"x": (size_out,)}

    def noise_shape(self, size_in: int, size_out: int, cfg: RateConfig) -> base.Shape | None:
        return (size_in,) if cfg.noise_std > 0 else None

    def record_keys(self, cfg: RateConfig) -> tuple[str, ...]:
        return ("x", "rec_input") if cfg.rec else ("x",)

    def prepare(self, params: Params, cfg: RateConfig) -> Prepared:
        # the Euler step dt / tau once per evolution rather than inside every step (and its
        # gradient)
        return {"alpha": cfg.dt / params["tau"]}

    def step(self, params: Params, prep: Prepared, state: State, x_t: Array,
             noise_t: Array | None, cfg: RateConfig) -> Evolution:
        act = ACTIVATIONS[cfg.activation]
        thr = params["threshold"]
        x = state["x"]
        alpha = prep["alpha"]
        # Rockpool adds the scaled noise to the input before anything else
        inp = base.add_noise(x_t, noise_t, cfg.noise_std, cfg.dt)
        rec: dict[str, Array] = {}
        # same summation order as Rockpool, so results agree to the last bit
        if cfg.rec:
            rec_input = jnp.dot(act(x, thr), params["w_rec"])
            x = x + alpha * (-x + inp + params["bias"] + rec_input)
            rec["rec_input"] = rec_input
        else:
            x = x + alpha * (-x + inp + params["bias"])
        rec["x"] = x
        return {"x": x}, act(x, thr), rec

    def output(self, params: Params, state: State, cfg: RateConfig) -> Array:
        return ACTIVATIONS[cfg.activation](state["x"], params["threshold"])

    def scan(self, params: Params, prep: Prepared, state: State, x: Array,
             noise: Array | None, cfg: RateConfig, record: bool) -> Evolution:
        """With ``cfg.assoc_scan`` and no recurrence, the state is the linear recurrence
        ``x_t = (1 - a) x_{t-1} + a (in_t + bias)``, ``a = dt / tau``, evaluated by a
        parallel associative scan; otherwise the step-by-step ``lax.scan``."""
        if not cfg.assoc_scan or cfg.rec:
            return super().scan(params, prep, state, x, noise, cfg, record)
        alpha = prep["alpha"]
        drive = alpha * (base.add_noise(x, noise, cfg.noise_std, cfg.dt) + params["bias"])
        final, xs, rec = base.recurrence_evolution("x", 1.0 - alpha, drive, state, record)
        return final, self.output(params, {"x": xs}, cfg), rec
