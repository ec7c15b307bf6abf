"""``lif``: leaky integrate-and-fire spiking neurons (Rockpool ``LIFJax``).

Per time step (``alpha = exp(-dt / tau_mem)``, ``beta = exp(-dt / tau_syn)``)::

    isyn += input.reshape(N, n_syn) + (spikes_prev @ w_rec).reshape(N, n_syn)   (rec only)
    vmem *= alpha;  isyn *= beta
    vmem += isyn.sum(-1) + noise + bias
    spikes = floor(vmem / threshold)           (0 below threshold, at most max_spikes_per_dt)
    vmem -= spikes * threshold                 (subtractive reset)

``spikes = multi`` (the default, Rockpool's) counts spikes as above: one step can carry many
spikes (a trained network may emit hundreds per neuron per step). ``spikes = binary`` fires
at most once per step, on ``vmem > threshold``. The backward pass uses ``surrogate`` (default
``pwl(window = 0.5)``, Rockpool's; see :mod:`rpgraph.modules.surrogates`).

With ``reset = v_reset`` (NIR's, Norse's and snnTorch's "zero" reset) a neuron fires at most
once per step, on ``vmem > threshold``, and its membrane is set to the parameter ``v_reset``::

    spikes = vmem > threshold                  (the node's surrogate gradient)
    vmem = vmem - spikes * (vmem - v_reset)    (no gradient through this spikes factor)

Input channel ``i`` feeds synapse ``i % n_syn`` of neuron ``i // n_syn``. Noise: the
compiler passes standard-normal draws ``(B, N)`` per step; this kind scales them by
``noise_std * sqrt(dt)`` and adds them to the membrane, as Rockpool does.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..lazy_jax import custom_jvp
from ..ranges import NON_NEGATIVE, POSITIVE
from . import base
from .base import Array, Evolution, Init, KindConfig, Params, Prepared, State, arg, constant
from .surrogates import PWL, SPIKE_MODES, Surrogate, check_spiking, spike

if TYPE_CHECKING:  # the real modules; at run time, imported on first use
    import jax
    import jax.numpy as jnp
else:
    from ..lazy_jax import jax, jnp


@custom_jvp
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


@custom_jvp
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


@dataclass(frozen=True, kw_only=True)
class LIFConfig(KindConfig):
    tau_mem: Init = arg("init", constant(20e-3), "membrane time constants (s)",
                         range=POSITIVE, unit=" s")
    tau_syn: Init = arg("init", constant(20e-3), "synaptic time constants (s), (N, n_syn)",
                         range=POSITIVE, unit=" s")
    bias: Init = arg("init", constant(0.0), "bias currents")
    threshold: Init = arg("init", constant(1.0), "firing thresholds", range=POSITIVE)
    n_syn: int = arg("int", 1, "synapses per neuron (input size = N * n_syn)")
    rec: bool = arg("bool", False, "recurrent weights w_rec (N, N * n_syn)")
    w_rec: Init = arg("init", Init("stable_normal"),
                      "initialiser of w_rec (default: a stable recurrent scale, see stable_w_rec)")
    noise_std: float = arg("float", 0.0, "membrane noise std. dev. after 1 s",
                           range=NON_NEGATIVE)
    max_spikes_per_dt: float = arg("float", 2.0**16, "most spikes one neuron emits per step",
                                   range=POSITIVE)
    reset: str = arg("str", "subtract", choices=RESETS,
                     doc="subtract the threshold (Rockpool) or set vmem to v_reset (NIR, "
                     "one spike)")
    v_reset: Init = arg("init", constant(0.0), "membrane after a spike (reset = v_reset)")
    spikes: str = arg("str", "multi", choices=SPIKE_MODES,
                      doc="multi: floor(vmem / threshold) spikes per step (Rockpool); binary: "
                      "at most one")
    surrogate: Surrogate = arg("surrogate", PWL, "surrogate gradient of the spike function")
    per: str = base.per_arg()


#: ``lif(rec = true)`` without ``w_rec = ...``: weights from :func:`stable_w_rec`.
DEFAULT_W_REC = Init("stable_normal")
#: Target gain of the recurrent loop at initialisation (below 1: spikes die out).
REC_GAIN = 0.5


def stable_w_rec(n: int, cfg: LIFConfig) -> Init:
    """The default initialiser of a recurrent ``lif``'s ``w_rec``: zero-mean normal weights
    with ``std = 0.5 * (1 - exp(-dt / tau_syn)) * threshold / sqrt(N)``.

    A spike feeds ``w_rec`` into the synaptic current, which sums it over about
    ``1 / (1 - beta)`` steps (``beta = exp(-dt / tau_syn)``), and the membrane turns every
    ``threshold`` of input into a spike. The loop's gain is then about the spectral radius
    of ``w_rec`` (``std * sqrt(N)`` for random weights) times ``1 / ((1 - beta) threshold)``;
    this scale puts it at 0.5, so recurrent activity decays. Kaiming weights give a gain
    near 30 at ``tau_syn = 20 ms`` and ``dt = 1 ms``: every neuron then fires the
    ``max_spikes_per_dt`` cap (65,536 spikes) each step.

    >>> cfg = LIF().configure({}, dt=1e-3)
    >>> init = stable_w_rec(64, cfg)
    >>> init.name, round(init.args[1], 6)
    ('normal', 0.003048)
    """
    tau = cfg.tau_syn.bounds()
    thr = cfg.threshold.bounds()
    tau_syn = tau[1] if tau is not None and tau[1] > 0 else 20e-3
    threshold = thr[0] if thr is not None and thr[0] > 0 else 1.0
    beta = math.exp(-cfg.dt / tau_syn)
    return Init("normal", (0.0, REC_GAIN * (1.0 - beta) * threshold / math.sqrt(max(n, 1))))


def _fire(vmem: Array, params: Params, cfg: LIFConfig) -> tuple[Array, Array]:
    """Spikes and the membrane after the reset the node's ``reset`` names."""
    thr = params["threshold"]
    if cfg.reset == "v_reset":
        spikes = spike(vmem, thr, cfg.surrogate, True)
        # the reset is detached (as snnTorch does): through it the surrogate would multiply
        # the gradient by 1 - (vmem - v_reset) / threshold each spike, which explodes
        reset = jax.lax.stop_gradient(spikes)
        return spikes, vmem - reset * (vmem - params["v_reset"])
    spikes = spike(vmem, thr, cfg.surrogate, cfg.spikes == "binary", cfg.max_spikes_per_dt)
    return spikes, vmem - spikes * thr


@base.register
class LIF(base.Kind[LIFConfig]):
    """``lif(tau_mem = 20 ms, tau_syn = 20 ms, bias = 0, threshold = 1, n_syn = 1,
    rec = false, w_rec = (stable scale), noise_std = 0, max_spikes_per_dt = 65536,
    reset = subtract, v_reset = 0, spikes = multi, surrogate = pwl(window = 0.5))``;
    size in = N * n_syn, size out = N."""

    name = "lif"
    stateful = True
    rockpool = "LIFJax"
    doc = (
        "LIF neurons with exponential synapses and subtractive reset (or reset = v_reset: "
        "NIR's); outputs spike counts per step. size_in = N * n_syn, size_out = N."
    )

    def check_args(self, cfg: Mapping[str, Any], given: Collection[str]
                   ) -> tuple[str, str] | None:
        return check_spiking(cfg, given)

    def size_out(self, size_in: int, cfg: LIFConfig) -> int:
        return size_in // cfg.n_syn

    def size_in_rule(self, size_in: int, cfg: LIFConfig) -> str | None:
        n_syn = cfg.n_syn
        if n_syn < 1:
            return f"Expected n_syn >= 1, got {n_syn}"
        if size_in % n_syn or size_in == 0:
            return (
                f"Expected an input size that is a positive multiple of n_syn = {n_syn} "
                f"(N neurons x {n_syn} synapses), got {size_in}"
            )
        return None

    def params(self, size_in: int, size_out: int, cfg: LIFConfig) -> base.ParamSpecs:
        n = (size_out,)
        specs = {
            "tau_mem": base.ParamSpec(n, "taus", cfg.tau_mem),
            "tau_syn": base.ParamSpec((size_out, cfg.n_syn), "taus", cfg.tau_syn),
            "bias": base.ParamSpec(n, "biases", cfg.bias),
            "threshold": base.ParamSpec(n, "thresholds", cfg.threshold),
        }
        if cfg.reset == "v_reset":
            specs["v_reset"] = base.ParamSpec(n, "biases", cfg.v_reset)
        if cfg.rec:
            w_rec = stable_w_rec(size_out, cfg) if cfg.w_rec == DEFAULT_W_REC else cfg.w_rec
            specs["w_rec"] = base.ParamSpec((size_out, size_in), "weights", w_rec)
        return specs

    def state_shapes(self, size_in: int, size_out: int, cfg: LIFConfig) -> base.Shapes:
        return {"spikes": (size_out,), "isyn": (size_out, cfg.n_syn), "vmem": (size_out,)}

    def noise_shape(self, size_in: int, size_out: int, cfg: LIFConfig) -> base.Shape | None:
        return (size_out,) if cfg.noise_std > 0 else None

    def record_keys(self, cfg: LIFConfig) -> tuple[str, ...]:
        keys = ("vmem", "isyn", "spikes")
        return (*keys, "irec") if cfg.rec else keys

    def prepare(self, params: Params, cfg: LIFConfig) -> Prepared:
        # the decays once per evolution: inside the scan they would be recomputed (and
        # differentiated) every step
        return {"alpha": jnp.exp(-cfg.dt / params["tau_mem"]),
                "beta": jnp.exp(-cfg.dt / params["tau_syn"])}

    def step(self, params: Params, prep: Prepared, state: State, x_t: Array,
             noise_t: Array | None, cfg: LIFConfig) -> Evolution:
        spikes, isyn, vmem = state["spikes"], state["isyn"], state["vmem"]
        isyn = isyn + x_t.reshape(isyn.shape)
        rec: dict[str, Array] = {}
        if cfg.rec:
            irec = jnp.dot(spikes, params["w_rec"]).reshape(isyn.shape)
            isyn = isyn + irec
            rec["irec"] = irec
        vmem = vmem * prep["alpha"]
        isyn = isyn * prep["beta"]
        # same summation order as Rockpool: vmem + isyn + noise + bias
        vmem = vmem + isyn.sum(-1)
        vmem = base.add_noise(vmem, noise_t, cfg.noise_std, cfg.dt)
        vmem = vmem + params["bias"]
        spikes, vmem = _fire(vmem, params, cfg)
        rec.update(vmem=vmem, isyn=isyn, spikes=spikes)
        return {"spikes": spikes, "isyn": isyn, "vmem": vmem}, spikes, rec

    def output(self, params: Params, state: State, cfg: LIFConfig) -> Array:
        return state["spikes"]

    def scan(self, params: Params, prep: Prepared, state: State, x: Array,
             noise: Array | None, cfg: LIFConfig, record: bool) -> Evolution:
        """Without recurrence or recording, spikes are only an output: the loop carries
        ``vmem`` and ``isyn`` (squeezed when ``n_syn == 1``) and nothing else, which saves a
        carried array and its cotangent in the backward pass. Same arithmetic, same order."""
        if record or cfg.rec or x.shape[1] == 0:
            return super().scan(params, prep, state, x, noise, cfg, record)
        bias, alpha, beta = params["bias"], prep["alpha"], prep["beta"]
        b, t = x.shape[:2]
        n, n_syn = state["isyn"].shape[1:]
        xs = jnp.swapaxes(x.reshape(b, t, n, n_syn), 0, 1)
        isyn0 = state["isyn"]
        if n_syn == 1:
            xs, isyn0, beta = xs[..., 0], isyn0[..., 0], jnp.reshape(beta, (n,))

        def body(c: tuple[Array, Array], inp: tuple[Array, Array | None]
                 ) -> tuple[tuple[Array, Array], Array]:
            isyn, vmem = c
            x_t, noise_t = inp
            isyn = (isyn + x_t) * beta
            vmem = vmem * alpha + (isyn if n_syn == 1 else isyn.sum(-1))
            vmem = base.add_noise(vmem, noise_t, cfg.noise_std, cfg.dt)
            vmem = vmem + bias
            spikes, vmem = _fire(vmem, params, cfg)
            return (isyn, vmem), spikes

        nz = None if noise is None else jnp.swapaxes(noise, 0, 1)
        (isyn, vmem), ys = jax.lax.scan(body, (isyn0, state["vmem"]), (xs, nz),
                                        unroll=cfg.unroll)
        if n_syn == 1:
            isyn = isyn[..., None]
        return {"spikes": ys[-1], "isyn": isyn, "vmem": vmem}, jnp.swapaxes(ys, 0, 1), {}
