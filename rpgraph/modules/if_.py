"""``if``: integrate-and-fire neurons (NIR ``IF``), e.g. for networks converted from CNNs.

Per time step (NIR's ``dv/dt = R I`` by forward Euler, with the step folded into ``r``:
NIR's ``r`` is this node's ``r / dt``)::

    vmem = vmem + r * input
    spikes = spike(vmem, threshold)              (binary by default: vmem > threshold)
    vmem = vmem - spikes * threshold             (reset = subtract: keeps the residue)
    vmem = vmem - spikes * (vmem - v_reset)      (reset = v_reset, NIR's; detached)

No leak: the membrane holds its value between inputs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real modules; at run time, imported on first use
    import jax
else:
    from ..lazy_jax import jax

from ..ranges import POSITIVE
from . import base
from .base import Array, Evolution, Init, KindConfig, Params, Prepared, State, arg, constant
from .surrogates import PWL, SPIKE_MODES, Surrogate, check_spiking, spike

IF_RESETS = ("subtract", "v_reset")


@dataclass(frozen=True, kw_only=True)
class IFConfig(KindConfig):
    r: Init = arg("init", constant(1.0), "input gain per step (NIR r = r / dt)")
    threshold: Init = arg("init", constant(1.0), "firing thresholds", range=POSITIVE)
    reset: str = arg("str", "subtract", choices=IF_RESETS,
                     doc="subtract the threshold, or set vmem to v_reset (NIR's)")
    v_reset: Init = arg("init", constant(0.0), "membrane after a spike (reset = v_reset)")
    spikes: str = arg("str", "binary", choices=SPIKE_MODES,
                      doc="binary: at most one spike per step; multi: floor(vmem / threshold)")
    max_spikes_per_dt: float = arg("float", 2.0**16, "most spikes per step (spikes = multi)")
    surrogate: Surrogate = arg("surrogate", PWL, "surrogate gradient of the spike function")
    per: str = base.per_arg()


@base.register
class IF(base.Kind[IFConfig]):
    """``if(r = 1, threshold = 1, reset = subtract, v_reset = 0, spikes = binary,
    surrogate = pwl(window = 0.5))``; size in == size out."""

    name = "if"
    stateful = True
    doc = "Integrate-and-fire neurons (NIR IF): vmem += r * in; no leak; binary spikes."

    def check_args(self, cfg: Mapping[str, Any], given: Collection[str]
                   ) -> tuple[str, str] | None:
        return check_spiking(cfg, given)

    def params(self, size_in: int, size_out: int, cfg: IFConfig) -> base.ParamSpecs:
        n = (size_out,)
        specs = {"r": base.ParamSpec(n, "gains", cfg.r),
                 "threshold": base.ParamSpec(n, "thresholds", cfg.threshold)}
        if cfg.reset == "v_reset":
            specs["v_reset"] = base.ParamSpec(n, "biases", cfg.v_reset)
        return specs

    def state_shapes(self, size_in: int, size_out: int, cfg: IFConfig) -> base.Shapes:
        return {"spikes": (size_out,), "vmem": (size_out,)}

    def record_keys(self, cfg: IFConfig) -> tuple[str, ...]:
        return ("vmem", "spikes")

    def step(self, params: Params, prep: Prepared, state: State, x_t: Array,
             noise_t: Array | None, cfg: IFConfig) -> Evolution:
        thr = params["threshold"]
        vmem = state["vmem"] + params["r"] * x_t
        if cfg.reset == "v_reset":
            spikes = spike(vmem, thr, cfg.surrogate, True)
            # detached as lif's v_reset: through it the gradient explodes over many spikes
            vmem = vmem - jax.lax.stop_gradient(spikes) * (vmem - params["v_reset"])
        else:
            spikes = spike(vmem, thr, cfg.surrogate, cfg.spikes == "binary",
                           cfg.max_spikes_per_dt)
            vmem = vmem - spikes * thr
        return {"spikes": spikes, "vmem": vmem}, spikes, {"vmem": vmem, "spikes": spikes}

    def output(self, params: Params, state: State, cfg: IFConfig) -> Array:
        return state["spikes"]
