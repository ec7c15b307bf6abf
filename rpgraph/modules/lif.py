"""``lif``: leaky integrate-and-fire spiking neurons (Rockpool ``LIFJax``).

Per time step (``alpha = exp(-dt / tau_mem)``, ``beta = exp(-dt / tau_syn)``)::

    isyn += input.reshape(N, n_syn) + (spikes_prev @ w_rec).reshape(N, n_syn)   (rec only)
    vmem *= alpha;  isyn *= beta
    vmem += isyn.sum(-1) + noise + bias
    spikes = step_pwl(vmem, threshold)         (surrogate gradient: piece-wise linear)
    vmem -= spikes * threshold                 (subtractive reset)

With ``reset = v_reset`` (NIR's, Norse's and snnTorch's "zero" reset) a neuron fires at most
once per step, on ``vmem > threshold``, and its membrane is set to the parameter ``v_reset``::

    spikes = vmem > threshold                  (same surrogate gradient)
    vmem = vmem - spikes * (vmem - v_reset)    (no gradient through this spikes factor)

Input channel ``i`` feeds synapse ``i % n_syn`` of neuron ``i // n_syn``. Noise: the
compiler passes standard-normal draws ``(B, N)`` per step; this kind scales them by
``noise_std * sqrt(dt)`` and adds them to the membrane, as Rockpool does.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from .base import (
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
    register,
)


@jax.custom_jvp
def step_pwl(
    x: Array, threshold: Array, window: float = 0.5, max_spikes_per_dt: float = 2.0**16
) -> Array:
    """Number of spikes for membrane ``x``: ``floor(x / threshold)`` when ``x >= threshold``,
    clipped to ``[0, max_spikes_per_dt]``. Its derivative is the Rockpool surrogate
    ``d/dx = 1/threshold`` for ``x >= threshold - window``, else 0.

    >>> step_pwl(jnp.array([0.5, 1.0, 2.5]), jnp.ones(3)).tolist()
    [0.0, 1.0, 2.0]
    """
    spikes = (x >= threshold) * jnp.floor(x / threshold)
    return jnp.clip(spikes, 0.0, max_spikes_per_dt)


@step_pwl.defjvp
def _step_pwl_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Array, Array]:
    x, threshold, window, max_spikes_per_dt = primals
    out = step_pwl(x, threshold, window, max_spikes_per_dt)
    return out, _surrogate(x, threshold, window, tangents[0], tangents[1])


def _surrogate(x: Array, threshold: Array, window: float, x_dot: Array, threshold_dot: Array
               ) -> Array:
    """Rockpool's piece-wise linear surrogate: d(x / threshold) inside the window below the
    threshold and everywhere above it."""
    return (x >= (threshold - window)) * (x_dot / threshold - threshold_dot * x / threshold**2)


@jax.custom_jvp
def step_once(x: Array, threshold: Array, window: float = 0.5) -> Array:
    """One spike where ``x > threshold`` (strictly, as NIR fires), else none; the derivative
    is :func:`step_pwl`'s surrogate.

    >>> step_once(jnp.array([0.5, 1.0, 2.5]), jnp.ones(3)).tolist()
    [0.0, 0.0, 1.0]
    """
    return (x > threshold).astype(jnp.result_type(x, threshold))


@step_once.defjvp
def _step_once_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Array, Array]:
    x, threshold, window = primals
    return step_once(x, threshold, window), _surrogate(x, threshold, window, tangents[0],
                                                       tangents[1])


RESETS = ("subtract", "v_reset")


def _fire(vmem: Array, params: Params, cfg: Config) -> tuple[Array, Array]:
    """Spikes and the membrane after the reset the node's ``reset`` names."""
    thr = params["threshold"]
    if cfg.get("reset", "subtract") == "v_reset":
        spikes = step_once(vmem, thr)
        # the reset is detached (as snnTorch does): through it the surrogate would multiply
        # the gradient by 1 - (vmem - v_reset) / threshold each spike, which explodes
        reset = jax.lax.stop_gradient(spikes)
        return spikes, vmem - reset * (vmem - params["v_reset"])
    spikes = step_pwl(vmem, thr, 0.5, float(cfg.get("max_spikes_per_dt", 2.0**16)))
    return spikes, vmem - spikes * thr


def _n_syn(cfg: Config) -> int:
    return int(cfg.get("n_syn", 1))


@register
class LIF(Kind):
    """``lif(tau_mem = 20 ms, tau_syn = 20 ms, bias = 0, threshold = 1, n_syn = 1,
    rec = false, w_rec = kaiming, noise_std = 0, max_spikes_per_dt = 65536,
    reset = subtract, v_reset = 0)``; size in = N * n_syn, size out = N."""

    name = "lif"
    stateful = True
    rockpool = "LIFJax"
    doc = (
        "LIF neurons with exponential synapses and subtractive reset (or reset = v_reset: "
        "NIR's); outputs spike counts per step. size_in = N * n_syn, size_out = N."
    )
    args = (
        Arg("tau_mem", "init", constant(20e-3), doc="membrane time constants (s)"),
        Arg("tau_syn", "init", constant(20e-3), doc="synaptic time constants (s), (N, n_syn)"),
        Arg("bias", "init", constant(0.0), doc="bias currents"),
        Arg("threshold", "init", constant(1.0), doc="firing thresholds"),
        Arg("n_syn", "int", 1, doc="synapses per neuron (input size = N * n_syn)"),
        Arg("rec", "bool", False, doc="recurrent weights w_rec (N, N * n_syn)"),
        Arg("w_rec", "init", Init("kaiming"), doc="initialiser of w_rec"),
        Arg("noise_std", "float", 0.0, doc="membrane noise std. dev. after 1 s"),
        Arg("max_spikes_per_dt", "float", 2.0**16, doc="most spikes one neuron emits per step"),
        Arg("reset", "str", "subtract", choices=RESETS,
            doc="subtract the threshold (Rockpool) or set vmem to v_reset (NIR, one spike)"),
        Arg("v_reset", "init", constant(0.0), doc="membrane after a spike (reset = v_reset)"),
    )

    def size_out(self, size_in: int, cfg: Config) -> int:
        return size_in // _n_syn(cfg)

    def size_in_rule(self, size_in: int, cfg: Config) -> str | None:
        n_syn = _n_syn(cfg)
        if n_syn < 1:
            return f"Expected n_syn >= 1, got {n_syn}"
        if size_in % n_syn or size_in == 0:
            return (
                f"Expected an input size that is a positive multiple of n_syn = {n_syn} "
                f"(N neurons x {n_syn} synapses), got {size_in}"
            )
        return None

    def params(self, size_in: int, size_out: int, cfg: Config) -> dict[str, ParamSpec]:
        n = (size_out,)
        specs = {
            "tau_mem": ParamSpec(n, "taus", init_of(cfg, "tau_mem", constant(20e-3))),
            "tau_syn": ParamSpec(
                (size_out, _n_syn(cfg)), "taus", init_of(cfg, "tau_syn", constant(20e-3))
            ),
            "bias": ParamSpec(n, "biases", init_of(cfg, "bias", constant(0.0))),
            "threshold": ParamSpec(n, "thresholds", init_of(cfg, "threshold", constant(1.0))),
        }
        if cfg.get("reset", "subtract") == "v_reset":
            specs["v_reset"] = ParamSpec(n, "biases", init_of(cfg, "v_reset", constant(0.0)))
        if cfg.get("rec", False):
            specs["w_rec"] = ParamSpec(
                (size_out, size_in), "weights", init_of(cfg, "w_rec", Init("kaiming"))
            )
        return specs

    def state_shapes(self, size_in: int, size_out: int, cfg: Config) -> dict[str, tuple[int, ...]]:
        return {"spikes": (size_out,), "isyn": (size_out, _n_syn(cfg)), "vmem": (size_out,)}

    def noise_shape(self, size_in: int, size_out: int, cfg: Config) -> tuple[int, ...] | None:
        return (size_out,) if float(cfg.get("noise_std", 0.0)) > 0 else None

    def record_keys(self, cfg: Config) -> tuple[str, ...]:
        keys = ("vmem", "isyn", "spikes")
        return (*keys, "irec") if cfg.get("rec", False) else keys

    def step(
        self, params: Params, state: State, x_t: Array, noise_t: Array | None, cfg: Config
    ) -> tuple[State, Array, dict[str, Array]]:
        dt = cfg["dt"]
        spikes, isyn, vmem = state["spikes"], state["isyn"], state["vmem"]
        isyn = isyn + x_t.reshape(isyn.shape)
        rec: dict[str, Array] = {}
        if cfg.get("rec", False):
            irec = jnp.dot(spikes, params["w_rec"]).reshape(isyn.shape)
            isyn = isyn + irec
            rec["irec"] = irec
        alpha, beta = _decays(params, dt)
        vmem = vmem * alpha
        isyn = isyn * beta
        # same summation order as Rockpool: vmem + isyn + noise + bias
        vmem = vmem + isyn.sum(-1)
        if noise_t is not None:
            vmem = vmem + float(cfg.get("noise_std", 0.0)) * math.sqrt(float(dt)) * noise_t
        vmem = vmem + params["bias"]
        spikes, vmem = _fire(vmem, params, cfg)
        rec.update(vmem=vmem, isyn=isyn, spikes=spikes)
        return {"spikes": spikes, "isyn": isyn, "vmem": vmem}, spikes, rec

    def output(self, params: Params, state: State, cfg: Config) -> Array:
        return state["spikes"]

    def scan(
        self,
        params: Params,
        state: State,
        x: Array,
        noise: Array | None,
        cfg: Config,
        record: bool,
    ) -> tuple[State, Array, dict[str, Array]]:
        """Without recurrence or recording, spikes are only an output: the loop carries
        ``vmem`` and ``isyn`` (squeezed when ``n_syn == 1``) and nothing else, which saves a
        carried array and its cotangent in the backward pass. Same arithmetic, same order."""
        if record or cfg.get("rec", False) or x.shape[1] == 0:
            return super().scan(params, state, x, noise, cfg, record)
        dt = cfg["dt"]
        bias = params["bias"]
        alpha, beta = _decays(params, dt)
        b, t = x.shape[:2]
        n, n_syn = state["isyn"].shape[1:]
        xs = jnp.swapaxes(x.reshape(b, t, n, n_syn), 0, 1)
        isyn0 = state["isyn"]
        if n_syn == 1:
            xs, isyn0, beta = xs[..., 0], isyn0[..., 0], jnp.reshape(beta, (n,))
        scale = float(cfg.get("noise_std", 0.0)) * math.sqrt(float(dt))

        def body(c: tuple[Array, Array], inp: tuple[Array, Array | None]
                 ) -> tuple[tuple[Array, Array], Array]:
            isyn, vmem = c
            x_t, noise_t = inp
            isyn = (isyn + x_t) * beta
            vmem = vmem * alpha + (isyn if n_syn == 1 else isyn.sum(-1))
            if noise_t is not None:
                vmem = vmem + scale * noise_t
            vmem = vmem + bias
            spikes, vmem = _fire(vmem, params, cfg)
            return (isyn, vmem), spikes

        nz = None if noise is None else jnp.swapaxes(noise, 0, 1)
        (isyn, vmem), ys = jax.lax.scan(body, (isyn0, state["vmem"]), (xs, nz),
                                        unroll=int(cfg.get("unroll", 1)))
        if n_syn == 1:
            isyn = isyn[..., None]
        return {"spikes": ys[-1], "isyn": isyn, "vmem": vmem}, jnp.swapaxes(ys, 0, 1), {}

    def prepare(self, params: Params, cfg: Config) -> Params:
        # the decays once per evolution: inside the scan they would be recomputed (and
        # differentiated) every step
        alpha, beta = _decays(params, cfg["dt"])
        return {**params, "_alpha": alpha, "_beta": beta}


def _decays(params: Params, dt: float) -> tuple[Array, Array]:
    if "_alpha" in params:
        return params["_alpha"], params["_beta"]
    return jnp.exp(-dt / params["tau_mem"]), jnp.exp(-dt / params["tau_syn"])
