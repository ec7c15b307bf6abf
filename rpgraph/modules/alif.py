"""``alif``: LIF neurons with an adaptive threshold (Bellec et al. 2018; Spyx's ALIF).

Per time step (``alpha = exp(-dt / tau_mem)``, ``kappa = exp(-dt / tau_syn)``,
``rho = exp(-dt / tau_adapt)``)::

    isyn = kappa * (isyn + input + spikes_prev @ w_rec)          (w_rec only with rec)
    vmem = alpha * vmem + isyn + bias
    theta = threshold + beta * b                                 (the effective threshold)
    spikes = spike(vmem, theta)                                  (binary by default)
    vmem = vmem - spikes * theta                                 (subtractive reset)
    b = rho * b + (1 - rho) * spikes                             (adaptation trace)

Each spike raises the neuron's threshold by ``beta * (1 - rho)``, which decays back with
``tau_adapt``: a neuron that fires a lot becomes harder to excite (spike-frequency
adaptation). ``beta = 0`` is ``lif`` with binary spikes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real modules; at run time, imported on first use
    import jax.numpy as jnp
else:
    from ..lazy_jax import jnp

from ..ranges import POSITIVE
from . import base
from .base import Array, Evolution, Init, KindConfig, Params, Prepared, State, arg, constant
from .surrogates import PWL, SPIKE_MODES, Surrogate, check_spiking, spike


@dataclass(frozen=True, kw_only=True)
class ALIFConfig(KindConfig):
    tau_mem: Init = arg("init", constant(20e-3), "membrane time constants (s)", range=POSITIVE,
                    unit=" s")
    tau_syn: Init = arg("init", constant(5e-3), "synaptic time constants (s)", range=POSITIVE,
                    unit=" s")
    tau_adapt: Init = arg("init", constant(200e-3), "adaptation time constants (s)", range=POSITIVE,
                    unit=" s")
    beta: Init = arg("init", constant(1.0), "adaptation strength (threshold per unit of b)")
    threshold: Init = arg("init", constant(1.0), "base firing thresholds", range=POSITIVE)
    bias: Init = arg("init", constant(0.0), "bias currents")
    rec: bool = arg("bool", False, "recurrent weights w_rec (N, N)")
    w_rec: Init = arg("init", Init("kaiming"), "initialiser of w_rec")
    spikes: str = arg("str", "binary", choices=SPIKE_MODES,
                      doc="binary: at most one spike per step; multi: floor(vmem / theta)")
    max_spikes_per_dt: float = arg("float", 2.0**16, "most spikes per step (spikes = multi)")
    surrogate: Surrogate = arg("surrogate", PWL, "surrogate gradient of the spike function")
    per: str = base.per_arg()


@base.register
class ALIF(base.Kind[ALIFConfig]):
    """``alif(tau_mem = 20 ms, tau_syn = 5 ms, tau_adapt = 200 ms, beta = 1,
    threshold = 1, bias = 0, rec = false, w_rec = kaiming, spikes = binary,
    surrogate = pwl(window = 0.5))``; size in == size out."""

    name = "alif"
    stateful = True
    doc = ("Adaptive LIF neurons (Bellec 2018): the threshold rises by beta * b with an "
           "adaptation trace b of the neuron's spikes; binary spikes by default.")

    def check_args(self, cfg: Mapping[str, Any], given: Collection[str]
                   ) -> tuple[str, str] | None:
        return check_spiking(cfg, given)

    def params(self, size_in: int, size_out: int, cfg: ALIFConfig) -> base.ParamSpecs:
        n = (size_out,)
        specs = {
            "tau_mem": base.ParamSpec(n, "taus", cfg.tau_mem),
            "tau_syn": base.ParamSpec(n, "taus", cfg.tau_syn),
            "tau_adapt": base.ParamSpec(n, "taus", cfg.tau_adapt),
            "beta": base.ParamSpec(n, "adaptation", cfg.beta),
            "threshold": base.ParamSpec(n, "thresholds", cfg.threshold),
            "bias": base.ParamSpec(n, "biases", cfg.bias),
        }
        if cfg.rec:
            specs["w_rec"] = base.ParamSpec((size_out, size_out), "weights", cfg.w_rec)
        return specs

    def state_shapes(self, size_in: int, size_out: int, cfg: ALIFConfig) -> base.Shapes:
        n = (size_out,)
        return {"spikes": n, "isyn": n, "vmem": n, "b": n}

    def record_keys(self, cfg: ALIFConfig) -> tuple[str, ...]:
        return ("vmem", "isyn", "b", "spikes")

    def prepare(self, params: Params, cfg: ALIFConfig) -> Prepared:
        return {"alpha": jnp.exp(-cfg.dt / params["tau_mem"]),
                "kappa": jnp.exp(-cfg.dt / params["tau_syn"]),
                "rho": jnp.exp(-cfg.dt / params["tau_adapt"])}

    def step(self, params: Params, prep: Prepared, state: State, x_t: Array,
             noise_t: Array | None, cfg: ALIFConfig) -> Evolution:
        isyn = state["isyn"] + x_t
        if cfg.rec:
            isyn = isyn + jnp.dot(state["spikes"], params["w_rec"])
        isyn = prep["kappa"] * isyn
        vmem = prep["alpha"] * state["vmem"] + isyn + params["bias"]
        theta = params["threshold"] + params["beta"] * state["b"]
        spikes = spike(vmem, theta, cfg.surrogate, cfg.spikes == "binary",
                       cfg.max_spikes_per_dt)
        vmem = vmem - spikes * theta
        b = prep["rho"] * state["b"] + (1 - prep["rho"]) * spikes
        new = {"spikes": spikes, "isyn": isyn, "vmem": vmem, "b": b}
        return new, spikes, dict(new)

    def output(self, params: Params, state: State, cfg: ALIFConfig) -> Array:
        return state["spikes"]
