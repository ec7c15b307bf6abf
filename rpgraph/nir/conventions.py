"""How NIR's continuous-time neurons become rpgraph's discrete-time ones, both ways (numpy).

rpgraph's ``lif`` step is (``a_s = exp(-dt / tau_syn)``, ``a_m = exp(-dt / tau_mem)``)::

    isyn = a_s * (isyn + x);   v = a_m * v + isyn + bias;   spike;   reset

NIR only gives ODEs (``tau_syn I' = -I + w_in S``, ``tau_mem v' = v_leak - v + r I``, spike on
``v > v_threshold``, then ``v = v_reset``); each reader discretises them its own way. A
*convention* names one reader's discretisation (:data:`DISCRETISATIONS`)::

    I[t] = A_s I[t-1] + G_s S[t];     v[t] = A_m v[t-1] + K I[t] + B

``"nir"``, ``"norse"``, ``"snntorch"``: forward Euler of NIR's ODEs, the input held over the
step (what Norse 1.1's ``from_nir`` and snnTorch's ``import_from_nir`` run)::

    A = 1 - dt / tau;   G_s = w_in dt / tau_syn;   K = r dt / tau_mem;   B = v_leak dt / tau_mem

``"rockpool"``: Rockpool 3.1's ``LIFTorch`` as its ``from_nir`` builds it: exact exponential
decays, the input added before the synaptic decay, ``v_leak`` the per-step bias and ``r`` no
gain (Rockpool writes ``r = tau exp(-dt / tau) / dt``, :func:`rockpool_r`, and reads its step
back as ``min(tau_mem / (1 + r))``)::

    A = exp(-dt / tau);   G_s = A_s w_in;   K = 1;   B = v_leak

``LI``: ``v[t] = A v[t-1] + K S[t] + B`` with ``K = r dt / tau`` (Euler) or ``A`` (Rockpool's
``ExpSyn``: ``v = A (v + S)``). The Euler form is rpgraph's ``li`` with the file's own
parameters (the importer takes them as they are); :func:`leaky` maps an ``LI`` onto
``expsyn`` (Rockpool's, or one rpgraph wrote for an ``expsyn``). ``I`` / ``IF``:
``v[t] = v[t-1] + r dt S[t]`` (``IF`` is rpgraph's ``if`` with its ``r = R dt``).

**Import** (:func:`decay`, :func:`membrane`, :func:`synapse`, :func:`leaky`) maps these
exactly onto rpgraph: ``tau_syn = -dt / ln A_s``, ``tau_mem = -dt / ln A_m``
(:func:`tau_of`), ``bias = B`` and an *input gain* ``K G_s / A_s`` folded into the incoming
weights. Forward-Euler decays need ``dt < tau``; ``A <= 0`` is clamped to :data:`INSTANT`
(``2**-20``) and the functions say so, so that the import can warn.

**Export** (:func:`write_lif`, :func:`write_li`) inverts the reader's discretisation so that
it steps rpgraph's neuron: a :class:`Written` layer holds the NIR fields, a per-neuron *gain*
the incoming weights must carry and a *shift* (a constant input) when the reader cannot take
them as parameters, and each approximation in words. What each reader cannot run exactly:

* ``"nir"`` (a literal forward-Euler reader; rpgraph's discretisation is in the metadata):
  exact for ``lif(reset = v_reset)``; a subtractive ``lif`` (several spikes per step,
  ``v -= n threshold``) is read as one spike and ``v = v_reset = 0``.
* ``"norse"`` (Norse 1.1): as ``"nir"``, but Norse also feeds ``v_leak`` to the synapse (so
  a bias becomes a constant input, which the synapse delays) and resets to 0 whatever
  ``v_reset`` says (so a nonzero ``v_reset`` is written by measuring ``v`` from it: threshold
  ``threshold - v_reset``, the resting shift as a bias; the neuron then starts at
  ``v_reset``); ``LI`` (Norse's main branch; 1.1.0 has none) ignores ``r`` (its gain goes
  to the weights).
* ``"snntorch"`` (snnTorch ``import_from_nir``): reads every file at ``dt = 0.1 ms``
  (:data:`SNNTORCH_DT`; time constants are written for that step), needs
  ``r = tau_mem / dt``, ``v_leak = 0`` and one threshold per layer (so gains and thresholds
  go to the weights, the bias becomes a constant input), resets to 0 (``v_reset`` as for
  Norse), has no ``LI``.
* ``"rockpool"`` (Rockpool 3.1): exact for subtractive ``lif``; it ignores ``w_in`` and
  ``v_reset`` (a ``lif(reset = v_reset)`` is read with Rockpool's reset) and casts ``LI``
  time constants to integers.

``"auto"`` (:func:`detect_convention`) takes the convention rpgraph wrote into a file's
metadata, else ``snntorch`` when every ``CubaLIF`` has ``r == tau_mem / dt`` and
``w_in == tau_syn / dt`` (1e-3 relative), ``rockpool`` when every neuron has
``r == tau exp(-dt / tau) / dt``, else ``norse``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import nir
import numpy as np

from .metadata import meta_str

__all__ = ["CONVENTIONS", "DISCRETISATIONS", "EXPORT_CONVENTIONS", "INSTANT", "SNNTORCH_DT",
           "TAU_INFINITE_STEPS", "Discretisation", "LifParams", "Written", "decay",
           "detect_convention", "file_dt", "leaky", "membrane", "rockpool_r", "synapse",
           "tau_of", "write_li", "write_lif"]

#: Decay factor of an "instantaneous" synapse or membrane: a 1e-6 residual of the last step.
INSTANT = 2.0**-20
#: ``tau / dt`` whose float32 decay rounds to exactly 1 (a non-leaking integrator).
TAU_INFINITE_STEPS = 2.0**40
#: The step snnTorch's ``import_from_nir`` reads every NIR file at (seconds).
SNNTORCH_DT = 1e-4
#: Rockpool's ``LIFTorch`` emits at most this many spikes per neuron and step by default.
ROCKPOOL_MAX_SPIKES = 2.0**16


@dataclass(frozen=True)
class Discretisation:
    """One reader's discretisation of NIR's neurons (see the module docstring)."""

    name: str
    reader: str  # who reads NIR files this way (for messages)
    exponential: bool  # decays exp(-dt / tau) (else forward Euler 1 - dt / tau)
    reset: str  # how its spiking neurons reset: "v_reset" (NIR's) or "subtract" (Rockpool's)


#: Convention name -> its discretisation; ``"auto"`` (import only) picks one of these.
DISCRETISATIONS: dict[str, Discretisation] = {
    "nir": Discretisation("nir", "a forward-Euler NIR reader", False, "v_reset"),
    "norse": Discretisation("norse", "Norse 1.1", False, "v_reset"),
    "snntorch": Discretisation("snntorch", "snnTorch", False, "v_reset"),
    "rockpool": Discretisation("rockpool", "Rockpool 3.1", True, "subtract"),
}
EXPORT_CONVENTIONS = tuple(DISCRETISATIONS)
CONVENTIONS = ("auto", *EXPORT_CONVENTIONS)


def _f64(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


# --- import: NIR parameters -> per-step coefficients ------------------------------------------


def decay(tau: np.ndarray, dt: float, convention: str) -> tuple[np.ndarray, bool]:
    """Per-step decay factor ``A`` of time constants ``tau``, and whether a forward-Euler
    ``1 - dt / tau <= 0`` had to be clamped to :data:`INSTANT`.

    >>> decay(np.array([4.0]), 1.0, "norse")
    (array([0.75]), False)
    >>> decay(np.array([0.5]), 1.0, "snntorch")[1], decay(np.array([1.0]), 1.0, "rockpool")
    (True, (array([0.36787944]), False))
    """
    if DISCRETISATIONS[convention].exponential:
        return np.exp(-dt / tau), False
    a = 1.0 - dt / tau
    return np.maximum(a, INSTANT), bool(np.any(a <= 0))


def tau_of(a: np.ndarray, dt: float) -> np.ndarray:
    """The rpgraph time constant whose ``exp(-dt / tau)`` is ``a`` (``a >= 1``: a decay that
    rounds to 1 in float32, ``dt *`` :data:`TAU_INFINITE_STEPS`).

    >>> tau_of(np.exp(-1e-3 / np.array([0.02])), 1e-3)
    array([0.02])
    """
    with np.errstate(divide="ignore"):
        return np.where(a >= 1.0, dt * TAU_INFINITE_STEPS, -dt / np.log(np.minimum(a, 1.0)))


def membrane(tau_mem: np.ndarray, r: np.ndarray, v_leak: np.ndarray, dt: float,
             convention: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """``(A_m, K, B, clamped)`` of ``v[t] = A_m v[t-1] + K I[t] + B``.

    >>> a_m, k, b, _ = membrane(np.array([0.02]), np.array([20.0]), np.array([1.0]), 1e-3,
    ...                         "snntorch")
    >>> a_m, k, b
    (array([0.95]), array([1.]), array([0.05]))
    >>> membrane(np.array([0.02]), np.array([3.0]), np.array([0.1]), 1e-3, "rockpool")[1:3]
    (array([1.]), array([0.1]))
    """
    a_m, clamped = decay(tau_mem, dt, convention)
    if DISCRETISATIONS[convention].exponential:  # Rockpool: r is no gain, v_leak the bias
        return a_m, np.ones_like(r), v_leak * np.ones_like(a_m), clamped
    scale = dt / tau_mem
    return a_m, r * scale, v_leak * scale, clamped


def synapse(tau_syn: np.ndarray, w_in: np.ndarray, dt: float, convention: str
            ) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(A_s, G_s, clamped)`` of ``I[t] = A_s I[t-1] + G_s S[t]``.

    >>> synapse(np.array([0.005]), np.array([5.0]), 1e-3, "snntorch")
    (array([0.8]), array([1.]), False)
    """
    a_s, clamped = decay(tau_syn, dt, convention)
    if DISCRETISATIONS[convention].exponential:
        return a_s, a_s * w_in, clamped
    return a_s, w_in * dt / tau_syn, clamped


def leaky(tau: np.ndarray, r: np.ndarray, dt: float, convention: str
          ) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(A, gain, clamped)`` of an ``LI`` node imported as ``expsyn``: ``A`` its decay and
    ``gain = K / A`` the input gain in front of it (``expsyn`` scales its input by ``A``).

    >>> leaky(np.array([0.01]), np.array([2.0]), 1e-3, "norse")
    (array([0.9]), array([0.22222222]), False)
    >>> leaky(np.array([0.01]), np.array([2.0]), 1e-3, "rockpool")[1]
    array([1.])
    """
    a, clamped = decay(tau, dt, convention)
    if DISCRETISATIONS[convention].exponential:
        return a, np.ones_like(r * a), clamped
    return a, r * dt / (tau * a), clamped


def rockpool_r(tau: np.ndarray, dt: float) -> np.ndarray:
    """Rockpool's exported ``r = tau exp(-dt / tau) / dt`` (how :func:`detect_convention`
    recognises its files).

    >>> rockpool_r(np.array([0.02]), 1e-3)
    array([19.02458849])
    """
    return tau * np.exp(-dt / tau) / dt


# --- export: rpgraph parameters -> what a reader needs ----------------------------------------


@dataclass(frozen=True)
class LifParams:
    """One ``lif`` layer in rpgraph's terms (per-neuron float64 arrays)."""

    tau_syn: np.ndarray
    tau_mem: np.ndarray
    bias: np.ndarray
    threshold: np.ndarray
    v_reset: np.ndarray  # zeros for a subtractive lif
    reset: str = "subtract"  # "subtract" | "v_reset"
    max_spikes: float = 2.0**16  # a subtractive lif's most spikes per step


@dataclass(frozen=True)
class Written:
    """A neuron layer as a convention writes it: the NIR node's ``fields``, a per-neuron
    ``gain`` its incoming weights must carry and a ``shift`` (a constant input, in the units
    of the weighted input) when the reader cannot take them as parameters, and what the
    reader can only approximate (``approx``: phrases; empty when it steps rpgraph's neuron
    exactly)."""

    fields: dict[str, np.ndarray]
    gain: np.ndarray | None = None
    shift: np.ndarray | None = None
    approx: tuple[str, ...] = field(default=())


def file_dt(dt: float, convention: str) -> float:
    """The step a convention's file is written for: snnTorch reads every file at
    :data:`SNNTORCH_DT`, the others at the network's ``dt``.

    >>> file_dt(1e-3, "nir"), file_dt(1e-3, "snntorch")
    (0.001, 0.0001)
    """
    return SNNTORCH_DT if convention == "snntorch" else dt


def _one_minus(tau: np.ndarray, dt: float) -> np.ndarray:
    """``1 - exp(-dt / tau)``, without cancellation for ``tau >> dt``."""
    return -np.expm1(-dt / tau)


def _euler_taus(p: LifParams, dt: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    """NIR time constants whose forward-Euler decays at ``step`` are rpgraph's decays."""
    return step / _one_minus(p.tau_syn, dt), step / _one_minus(p.tau_mem, dt)


_SUBTRACT = ("subtracts its threshold after a spike and may emit several spikes per step; "
             "{reader} emits one and sets v to {to}")


_BIAS = ("has a bias: {reader}, so it enters as a constant input through the synapse and "
         "reaches the bias once the synapse has settled (a few tau_syn); the first steps get "
         "less")


def _reset_approx(p: LifParams, reader: str, honours_v_reset: bool) -> tuple[str, ...]:
    if p.reset == "subtract":
        return (_SUBTRACT.format(reader=reader, to="v_reset = 0" if honours_v_reset else "0"),)
    if not honours_v_reset and np.any(p.v_reset != 0):
        return (f"has v_reset != 0: {reader} resets v to 0",)
    return ()


def _from_reset(p: LifParams, dt: float, reader: str) -> tuple[LifParams, tuple[str, ...]]:
    """For a reader that resets to 0: ``p`` with its voltages measured from ``v_reset``
    (``v' = v - v_reset`` obeys ``v' = alpha v' + isyn + bias - (1 - alpha) v_reset`` and
    fires at ``threshold - v_reset``), so the reader's reset to 0 is rpgraph's reset to
    ``v_reset``; the neuron then starts at ``v_reset`` instead of 0. Unchanged when
    ``v_reset`` is 0, or not below the threshold."""
    if p.reset != "v_reset" or not np.any(p.v_reset != 0) or np.any(p.threshold <= p.v_reset):
        return p, ()
    shifted = replace(p, threshold=p.threshold - p.v_reset, v_reset=np.zeros_like(p.v_reset),
                      bias=p.bias - _one_minus(p.tau_mem, dt) * p.v_reset)
    return shifted, (f"has v_reset != 0: {reader} resets v to 0, so v is written relative to "
                     "v_reset (threshold - v_reset, the resting shift as a bias) and starts "
                     "at v_reset rather than 0",)


def _lif_nir(p: LifParams, dt: float) -> Written:
    """Forward Euler with ``K = 1`` (``r = tau_mem / dt``) and ``G_s = a_s``; ``v_leak`` is
    where the neuron rests: ``bias / (1 - a_m)``."""
    tau_syn, tau_mem = _euler_taus(p, dt, dt)
    a_s = np.exp(-dt / p.tau_syn)
    fields = {"tau_syn": tau_syn, "tau_mem": tau_mem, "r": tau_mem / dt,
              "w_in": a_s * tau_syn / dt, "v_leak": p.bias / _one_minus(p.tau_mem, dt),
              "v_threshold": p.threshold, "v_reset": p.v_reset}
    return Written(fields, approx=_reset_approx(p, "a NIR reader", True))


def _lif_norse(p: LifParams, dt: float) -> Written:
    """As ``"nir"``, but Norse's synapse also relaxes to the neuron's ``v_leak`` (its
    ``LIBoxCell`` gets it too), so ``v_leak = 0`` and the bias enters as a constant input
    ``bias (1 - a_s) / a_s`` (the synapse scales its input by ``a_s``)."""
    p, approx = _from_reset(p, dt, "Norse 1.1")
    w = _lif_nir(p, dt)
    fields = {**w.fields, "v_leak": np.zeros_like(p.bias)}
    approx += _reset_approx(p, "Norse 1.1", False)
    shift = None
    if np.any(p.bias != 0):
        a_s = np.exp(-dt / p.tau_syn)
        shift = p.bias * _one_minus(p.tau_syn, dt) / a_s
        approx += (_BIAS.format(reader="Norse 1.1 would also feed v_leak to the synapse"),)
    return Written(fields, shift=shift, approx=approx)


def _lif_snntorch(p: LifParams, dt: float) -> Written:
    """snnTorch's ``Synaptic``: ``syn = alpha syn + x``, ``mem = beta mem + syn``, at
    :data:`SNNTORCH_DT`; the input gain ``a_s / threshold`` and threshold 1 normalise the
    membrane (snnTorch needs one threshold per layer), the bias enters as a constant input
    ``bias (1 - a_s) / threshold``."""
    p, approx = _from_reset(p, dt, "snnTorch")
    step = SNNTORCH_DT
    tau_syn, tau_mem = _euler_taus(p, dt, step)
    ones = np.ones_like(p.threshold)
    fields = {"tau_syn": tau_syn, "tau_mem": tau_mem, "r": tau_mem / step,
              "w_in": tau_syn / step, "v_leak": 0 * ones, "v_threshold": ones,
              "v_reset": 0 * ones}
    a_s = np.exp(-dt / p.tau_syn)
    shift = None
    approx += _reset_approx(p, "snnTorch", False)
    if np.any(p.bias != 0):
        shift = p.bias * _one_minus(p.tau_syn, dt) / p.threshold
        approx += (_BIAS.format(reader="snnTorch has no v_leak"),)
    return Written(fields, gain=a_s / p.threshold, shift=shift, approx=approx)


def _lif_rockpool(p: LifParams, dt: float) -> Written:
    """Rockpool's ``LIFTorch`` with rpgraph's own time constants; ``r = tau_mem / dt - 1``
    makes Rockpool's step ``tau_mem / (1 + r)`` exactly ``dt``."""
    fields = {"tau_syn": p.tau_syn, "tau_mem": p.tau_mem, "r": p.tau_mem / dt - 1.0,
              "w_in": np.ones_like(p.tau_mem), "v_leak": p.bias, "v_threshold": p.threshold,
              "v_reset": p.v_reset}
    approx: tuple[str, ...] = ()
    if p.reset == "v_reset":
        approx = ("resets v to v_reset with one spike per step; Rockpool 3.1 subtracts the "
                  "threshold and may emit several",)
    elif p.max_spikes != ROCKPOOL_MAX_SPIKES:
        approx = (f"emits at most {p.max_spikes:g} spikes per step; Rockpool 3.1 up to "
                  "2**16",)
    return Written(fields, approx=approx)


def _li_nir(tau: np.ndarray, dt: float) -> Written:
    a = np.exp(-dt / tau)
    one_minus = _one_minus(tau, dt)
    return Written({"tau": dt / one_minus, "r": a / one_minus, "v_leak": 0 * tau})


def _li_norse(tau: np.ndarray, dt: float) -> Written:
    """Norse's ``LIBoxCell`` ignores ``r``: its gain goes to the incoming weights."""
    w = _li_nir(tau, dt)
    return Written({**w.fields, "r": np.ones_like(tau)}, gain=w.fields["r"])


def _li_rockpool(tau: np.ndarray, dt: float) -> Written:
    return Written({"tau": tau, "r": tau / dt - 1.0, "v_leak": 0 * tau},
                   approx=("Rockpool 3.1's from_nir casts LI time constants to integers "
                           "(seconds), so it does not run this node as written",))


#: Convention -> how it writes a ``lif`` layer (``LifParams``, network ``dt``).
LIF_WRITERS: dict[str, Callable[[LifParams, float], Written]] = {
    "nir": _lif_nir, "norse": _lif_norse, "snntorch": _lif_snntorch, "rockpool": _lif_rockpool,
}
#: Convention -> how it writes an ``expsyn`` layer as ``LI``; absent: the reader has no LI.
LI_WRITERS: dict[str, Callable[[np.ndarray, float], Written]] = {
    "nir": _li_nir, "norse": _li_norse, "rockpool": _li_rockpool,
}


def write_lif(p: LifParams, dt: float, convention: str) -> Written:
    """A ``lif`` layer as ``convention``'s reader needs it written (``CubaLIF`` fields).

    >>> ones = np.ones(1)
    >>> p = LifParams(0.005 * ones, 0.02 * ones, 0.02 * ones, ones, 0 * ones, "v_reset")
    >>> w = write_lif(p, 1e-3, "nir")
    >>> round(float(w.fields["v_leak"][0]), 5), w.approx  # where rpgraph's neuron rests
    (0.41008, ())
    """
    return LIF_WRITERS[convention](p, dt)


def write_li(tau: np.ndarray, dt: float, convention: str) -> Written:
    """An ``expsyn`` layer (time constants ``tau``) as an ``LI`` node for ``convention``.

    >>> w = write_li(np.array([0.01]), 1e-3, "nir")
    >>> a = np.exp(-0.1)  # expsyn: y = a (y + x); forward Euler: y = a y + (1 - a) r x
    >>> bool(np.isclose((1 - a) * w.fields["r"][0], a)), w.gain
    (True, None)
    """
    return LI_WRITERS[convention](tau, dt)


# --- which convention a file is in ------------------------------------------------------------


def _walk(graph: nir.NIRGraph) -> list[nir.NIRNode]:
    """Every node of ``graph`` and of its subgraphs (iteratively: no recursion limit)."""
    out: list[nir.NIRNode] = []
    stack = [graph]
    while stack:
        for node in stack.pop().nodes.values():
            out.append(node)
            if isinstance(node, nir.NIRGraph):
                stack.append(node)
    return out


def _close(a: Any, b: Any) -> bool:
    return bool(np.allclose(_f64(a), _f64(b), rtol=1e-3, atol=0))


def detect_convention(graph: nir.NIRGraph, dt: float) -> str:
    """The convention ``"auto"`` resolves to for ``graph`` at step ``dt``.

    The one rpgraph wrote into the metadata, else ``snntorch`` when every ``CubaLIF`` has
    ``r = tau_mem / dt`` and ``w_in = tau_syn / dt``, ``rockpool`` when every neuron has
    ``r = tau exp(-dt / tau) / dt``, otherwise ``norse``.

    >>> ones = np.ones(2)
    >>> g = nir.NIRGraph(nodes={"x": nir.Input(np.array([2])), "y": nir.Output(np.array([2])),
    ...     "h": nir.CubaLIF(tau_syn=ones * 5e-3, tau_mem=ones * 2e-2, r=ones * 20,
    ...                      v_leak=0 * ones, v_threshold=ones, w_in=ones * 5)},
    ...     edges=[("x", "h"), ("h", "y")])
    >>> detect_convention(g, 1e-3)
    'snntorch'
    """
    meta = getattr(graph, "metadata", {})
    if meta_str(meta, "source") == "rpgraph":
        written = meta_str(meta, "convention") or "rockpool"
        return written if written in DISCRETISATIONS else "rockpool"
    nodes = _walk(graph)
    cuba = [n for n in nodes if isinstance(n, nir.CubaLIF)]
    if cuba and all(_close(n.r, _f64(n.tau_mem) / dt) and _close(n.w_in, _f64(n.tau_syn) / dt)
                    for n in cuba):
        return "snntorch"
    neurons = [(n.tau_mem if isinstance(n, nir.CubaLIF) else n.tau, n.r) for n in nodes
               if isinstance(n, (nir.CubaLIF, nir.LIF, nir.LI))]
    if neurons and all(_close(r, rockpool_r(_f64(tau), dt)) for tau, r in neurons):
        return "rockpool"
    return "norse"
