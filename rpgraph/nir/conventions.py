"""How NIR's continuous-time neurons become rpgraph's discrete-time ones (pure numpy).

rpgraph's ``lif`` step is (``a_s = exp(-dt / tau_syn)``, ``a_m = exp(-dt / tau_mem)``)::

    isyn = a_s * (isyn + x);   v = a_m * v + isyn + bias;   s = v >= thr;   v -= s * thr

Every NIR neuron is first written as the discrete update::

    I[t] = A_s I[t-1] + G_s S[t];     v[t] = A_m v[t-1] + K I[t] + B

and then mapped exactly onto rpgraph: ``tau_syn = -dt / ln A_s``,
``tau_mem = -dt / ln A_m`` (:func:`tau_of`), ``bias = B``, ``isyn_rpgraph = K I``, so the
input to the ``lif`` must be ``x = (K G_s / A_s) S``: a per-neuron *input gain* the import
folds into the incoming weights. ``A``, ``G``, ``K``, ``B`` depend on the convention
(:func:`decay`, :func:`membrane`, :func:`synapse`):

``"norse"`` (forward Euler, input as a per-step value, Norse's ``LIFBox``/``LIF``)::

    A = 1 - dt / tau;   K = r dt / tau_mem;   B = v_leak dt / tau_mem
    G_s = w_in                       (Norse's synaptic jump  i += input)

``"snntorch"`` (forward Euler of the NIR ODEs; snnTorch exports ``r = tau_mem / dt``,
``w_in = tau_syn / dt`` so that ``K = G_s = 1``, i.e. ``syn = alpha syn + x``,
``mem = beta mem + syn``)::

    A = 1 - dt / tau;   K = r dt / tau_mem;   B = v_leak dt / tau_mem;   G_s = w_in dt / tau_syn

``"rockpool"`` (exact exponential decays; the inverse of Rockpool's exporter, which writes
``r = tau exp(-dt / tau) / dt`` (:func:`rockpool_r`), ``w_in = 1``; rpgraph's own exporter
uses it too)::

    A = exp(-dt / tau);   K = r dt / (tau_mem A_m);   B = v_leak dt / (tau_mem A_m)
    G_s = A_s w_in                   (Rockpool: isyn = beta (isyn + x))

``LI`` (:func:`leaky`): ``v[t] = A v[t-1] + (r dt / tau) S[t] + v_leak dt / tau`` with ``A``
as above (rockpool: ``r dt / tau = beta`` for its exports), mapped to
``expsyn(tau = -dt / ln A)`` with input gain ``r dt / (tau A)``. ``I`` / ``IF``:
``v[t] = v[t-1] + r dt S[t]``.

Forward-Euler decays need ``dt < tau``; ``A <= 0`` is clamped to :data:`INSTANT`
(``2**-20``) and the functions say so, so that the import can warn.

``"auto"`` (:func:`detect_convention`) picks ``rockpool`` for graphs written by rpgraph
(metadata), ``snntorch`` when every ``CubaLIF`` has ``r == tau_mem / dt`` and
``w_in == tau_syn / dt`` (1e-3 relative), ``rockpool`` when every neuron has
``r == tau exp(-dt / tau) / dt``, else ``norse``.
"""

from __future__ import annotations

from typing import Any

import nir
import numpy as np

from .metadata import meta_str

__all__ = ["CONVENTIONS", "INSTANT", "TAU_INFINITE_STEPS", "decay", "detect_convention",
           "leaky", "membrane", "rockpool_r", "synapse", "tau_of"]

CONVENTIONS = ("auto", "norse", "snntorch", "rockpool")

#: Decay factor of an "instantaneous" synapse or membrane: a 1e-6 residual of the last step.
INSTANT = 2.0**-20
#: ``tau / dt`` whose float32 decay rounds to exactly 1 (a non-leaking integrator).
TAU_INFINITE_STEPS = 2.0**40


def _f64(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def decay(tau: np.ndarray, dt: float, convention: str) -> tuple[np.ndarray, bool]:
    """Per-step decay factor ``A`` of time constants ``tau``, and whether a forward-Euler
    ``1 - dt / tau <= 0`` had to be clamped to :data:`INSTANT`.

    >>> decay(np.array([4.0]), 1.0, "norse")
    (array([0.75]), False)
    >>> decay(np.array([0.5]), 1.0, "snntorch")[1], decay(np.array([1.0]), 1.0, "rockpool")
    (True, (array([0.36787944]), False))
    """
    if convention == "rockpool":
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
    """
    a_m, clamped = decay(tau_mem, dt, convention)
    scale = dt / (tau_mem * a_m) if convention == "rockpool" else dt / tau_mem
    return a_m, r * scale, v_leak * scale, clamped


def synapse(tau_syn: np.ndarray, w_in: np.ndarray, dt: float, convention: str
            ) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(A_s, G_s, clamped)`` of ``I[t] = A_s I[t-1] + G_s S[t]``.

    >>> synapse(np.array([0.005]), np.array([5.0]), 1e-3, "snntorch")
    (array([0.8]), array([1.]), False)
    """
    a_s, clamped = decay(tau_syn, dt, convention)
    g_s = {"norse": w_in, "snntorch": w_in * dt / tau_syn, "rockpool": a_s * w_in}[convention]
    return a_s, g_s, clamped


def leaky(tau: np.ndarray, r: np.ndarray, dt: float, convention: str
          ) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(A, gain, clamped)`` of an ``LI`` node imported as ``expsyn``: ``A`` its decay and
    ``gain = r dt / (tau A)`` the input gain in front of it (``expsyn`` scales its input by
    ``A``).

    >>> leaky(np.array([0.01]), np.array([2.0]), 1e-3, "norse")
    (array([0.9]), array([0.22222222]), False)
    """
    a, clamped = decay(tau, dt, convention)
    return a, r * dt / (tau * a), clamped


def rockpool_r(tau: np.ndarray, dt: float) -> np.ndarray:
    """Rockpool's (and rpgraph's) exported ``r = tau exp(-dt / tau) / dt``: with it the
    ``"rockpool"`` membrane gain ``K`` is 1.

    >>> tau = np.array([0.02])
    >>> membrane(tau, rockpool_r(tau, 1e-3), np.zeros(1), 1e-3, "rockpool")[1]
    array([1.])
    """
    return tau * np.exp(-dt / tau) / dt


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

    ``rockpool`` for graphs rpgraph wrote, ``snntorch`` when every ``CubaLIF`` has
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
        return meta_str(meta, "convention") or "rockpool"
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
