"""Independent numpy models of how other simulators read and run a NIR file (no torch).

Each model follows its framework's NIR import as published, step by step, including what it
does not take from the file; none of it uses rpgraph's own conversions:

* ``"nir"``: a literal reader of NIR's equations by forward Euler at the file's ``dt``:
  ``I += dt/tau_syn (w_in S - I)``; ``v += dt/tau_mem (v_leak - v + r I)`` (with the new
  ``I``, as Norse and snnTorch chain synapse and membrane); one spike on ``v > v_threshold``,
  then ``v = v_reset``. ``LI``: ``v += dt/tau (v_leak - v + r S)``. ``IF``: ``v += dt r S``,
  spike and reset as ``CubaLIF``. ``Delay``: ``y[t] = x[t - round(delay / dt)]``.
* ``"norse"``: Norse 1.1 ``norse.torch.from_nir(graph, dt=...)``: ``CubaLIF`` is
  ``w_in * x`` -> ``LIBoxCell(tau_syn, v_leak)`` -> ``r *`` -> ``LIFBoxCell(tau_mem,
  v_leak, v_th)`` with ``reset_value`` to the default ``v_reset = 0``; ``LI`` (Norse's main
  branch; 1.1.0 has none) is ``LIBoxCell(tau, v_leak)``, ``r`` ignored. No ``Scale``.
* ``"snntorch"``: snnTorch 1.0 ``import_from_nir``: ``dt = 1e-4`` whatever the file says;
  ``CubaLIF`` must have ``v_leak = 0`` and ``r = tau_mem / dt``; ``alpha = 1 - dt/tau_syn``,
  ``beta = 1 - dt/tau_mem``, the threshold divided by ``w_in dt / tau_syn`` unless that is 1,
  one threshold per layer; ``Synaptic(reset_mechanism = "zero", reset_delay = False)``:
  ``syn = alpha syn + x``; ``mem = beta mem + syn``; spike on ``mem > thr``, then
  ``mem = 0``. ``Affine`` needs a bias. No ``LI``, no ``Scale``.
* ``"rockpool"``: Rockpool 3.1 ``from_nir``: ``CubaLIF`` is ``LIFTorch(tau_mem, tau_syn,
  threshold, bias = v_leak, dt = min(tau_mem / (1 + r)))`` (``w_in``, ``v_reset`` and ``r``
  otherwise unused): ``isyn = (isyn + x) exp(-dt/tau_syn)``;
  ``v = v exp(-dt/tau_mem) + isyn + bias``; ``floor(v / thr)`` spikes when ``v >= thr`` (at
  most 2**16); ``v -= spikes thr``. ``LI`` is ``ExpSynTorch(tau = int(tau), dt = min(tau /
  (1 + r)))``: ``y = (y + x) exp(-dt / int(tau))``. No ``Scale``.

Graph semantics are NIR's: nodes sum their inputs; an edge that closes a cycle and leaves a
neuron carries that neuron's output of the previous step. :func:`simulate` returns every
node's output by its path (``"sub.node"`` inside subgraphs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import networkx as nx
import nir
import numpy as np

READERS = ("nir", "norse", "snntorch", "rockpool")
SNNTORCH_DT = 1e-4
NEURONS = (nir.CubaLIF, nir.LI, nir.LIF, nir.IF, nir.CubaLI, nir.I, nir.Threshold, nir.Delay)


class Refused(Exception):
    """The reader would not load the graph (its import raises, or it has no such node)."""


def _f(a: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(a, np.float64))


State = dict[str, np.ndarray]
Step = Callable[[Any, State, np.ndarray, float], np.ndarray]


# --- per-reader neuron steps -----------------------------------------------------------------


def _fire_to(st: State, thr: np.ndarray, to: np.ndarray | float) -> np.ndarray:
    z = st["v"] > thr
    st["v"] = np.where(z, to, st["v"])
    return z.astype(np.float64)


def _nir_cuba(node: Any, st: State, s: np.ndarray, dt: float) -> np.ndarray:
    st["i"] = st["i"] + dt / _f(node.tau_syn) * (_f(node.w_in) * s - st["i"])
    st["v"] = st["v"] + dt / _f(node.tau_mem) * (_f(node.v_leak) - st["v"]
                                                 + _f(node.r) * st["i"])
    return _fire_to(st, _f(node.v_threshold), _f(node.v_reset))


def _nir_li(node: Any, st: State, s: np.ndarray, dt: float) -> np.ndarray:
    st["v"] = st["v"] + dt / _f(node.tau) * (_f(node.v_leak) - st["v"] + _f(node.r) * s)
    return st["v"].copy()


def _nir_if(node: Any, st: State, s: np.ndarray, dt: float) -> np.ndarray:
    """``dv/dt = r I`` by forward Euler; one spike on ``v > v_threshold``, then ``v_reset``."""
    st["v"] = st["v"] + dt * _f(node.r) * s
    return _fire_to(st, _f(node.v_threshold), _f(node.v_reset))


def _delay(node: Any, st: State, s: np.ndarray, dt: float) -> np.ndarray:
    """``y[t, i] = x[t - round(delay_i / dt), i]``; silent before the first input."""
    k = np.round(_f(node.delay) / dt).astype(np.int64) * np.ones(s.size, np.int64)
    past = st.get("buf", np.zeros((int(k.max(initial=0)) + 1, s.size)))
    st["buf"] = np.concatenate([past[1:], s[None, :]])
    return st["buf"][-1 - k, np.arange(s.size)]


def _norse_cuba(node: Any, st: State, s: np.ndarray, dt: float) -> np.ndarray:
    leak = _f(node.v_leak)
    x = _f(node.w_in) * s
    st["i"] = st["i"] + dt / _f(node.tau_syn) * ((leak - st["i"]) + x)  # LIBoxCell
    x = _f(node.r) * st["i"]
    st["v"] = st["v"] + dt / _f(node.tau_mem) * ((leak - st["v"]) + x)  # LIFBoxCell
    return _fire_to(st, _f(node.v_threshold), 0.0)


def _norse_li(node: Any, st: State, s: np.ndarray, dt: float) -> np.ndarray:
    st["v"] = st["v"] + dt / _f(node.tau) * ((_f(node.v_leak) - st["v"]) + s)
    return st["v"].copy()


def _snntorch_cuba(node: Any, st: State, s: np.ndarray, dt: float) -> np.ndarray:
    dt = SNNTORCH_DT
    if not np.allclose(_f(node.v_leak), 0):
        raise Refused("snnTorch: v_leak not supported")
    if not np.allclose(_f(node.r), _f(node.tau_mem) / dt):
        raise Refused("snnTorch: r not supported in CubaLIF")
    alpha = 1 - dt / _f(node.tau_syn)
    beta = 1 - dt / _f(node.tau_mem)
    vthr = _f(node.v_threshold)
    w_scale = _f(node.w_in) * (dt / _f(node.tau_syn))
    if not np.allclose(w_scale, 1.0):
        vthr = vthr / w_scale
    if np.unique(vthr).size != 1:
        raise Refused("snnTorch: CubaLIF v_thr must be same for all neurons")
    st["i"] = np.clip(alpha, 0, 1) * st["i"] + s
    st["v"] = np.clip(beta, 0, 1) * st["v"] + st["i"]
    return _fire_to(st, np.unique(vthr)[0], 0.0)


def _rockpool_dt(tau: Any, r: Any) -> float:
    return float(np.min(_f(tau) / (1 + _f(r))))


def _rockpool_cuba(node: Any, st: State, s: np.ndarray, dt: float) -> np.ndarray:
    dt = _rockpool_dt(node.tau_mem, node.r)
    thr = _f(node.v_threshold)
    st["i"] = (st["i"] + s) * np.exp(-dt / _f(node.tau_syn))
    st["v"] = st["v"] * np.exp(-dt / _f(node.tau_mem)) + st["i"] + _f(node.v_leak)
    spikes = np.clip((st["v"] >= thr) * np.floor(st["v"] / thr), 0, 2.0**16)
    st["v"] = st["v"] - spikes * thr
    return spikes


def _rockpool_li(node: Any, st: State, s: np.ndarray, dt: float) -> np.ndarray:
    dt = _rockpool_dt(node.tau, node.r)
    tau = np.trunc(_f(node.tau))  # ExpSynTorch(tau=_to_tensor(node.tau).int())
    with np.errstate(divide="ignore"):
        st["v"] = (st["v"] + s) * np.exp(-dt / tau)
    return st["v"].copy()


def _refuse(why: str) -> Step:
    def step(node: Any, st: State, s: np.ndarray, dt: float) -> np.ndarray:
        raise Refused(why)
    return step


#: Reader -> NIR neuron type -> its step ``(node, state, input, dt) -> output``.
STEPS: dict[str, dict[type, Step]] = {
    "nir": {nir.CubaLIF: _nir_cuba, nir.LI: _nir_li, nir.IF: _nir_if, nir.Delay: _delay},
    "norse": {nir.CubaLIF: _norse_cuba, nir.LI: _norse_li},
    "snntorch": {nir.CubaLIF: _snntorch_cuba, nir.LI: _refuse("snnTorch: no LI node")},
    "rockpool": {nir.CubaLIF: _rockpool_cuba, nir.LI: _rockpool_li},
}
#: Readers without a ``Scale`` node.
NO_SCALE = {"norse", "snntorch", "rockpool"}
#: What a reader reads but does not run as the file says, by NIR node type.
MISREAD = {("rockpool", nir.LI): "Rockpool 3.1 casts LI time constants to integers"}
#: Which release of a reader a model follows, where that is not the latest release.
RELEASE = {("norse", nir.LI): "Norse's main branch; Norse 1.1.0 has no LI import"}


# --- the graph -------------------------------------------------------------------------------


def flatten(graph: nir.NIRGraph, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Flat ``{path: node}`` and edges; a subgraph's Input/Output become pass-throughs."""
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    subs: dict[str, nir.NIRGraph] = {}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            subs[name] = node
            n2, e2 = flatten(node, prefix + name + ".")
            nodes.update(n2)
            edges += e2
        else:
            nodes[prefix + name] = node

    def port(name: str, cls: type) -> str:
        if name in subs:
            return prefix + name + "." + next(
                k for k, v in subs[name].nodes.items() if isinstance(v, cls))
        return prefix + name

    edges += [(port(u, nir.Output), port(v, nir.Input)) for u, v in graph.edges]
    return nodes, edges


def _size(node: Any) -> int:
    return int(np.prod(next(iter(node.output_type.values()))))


def _stateless(node: Any, s: np.ndarray, reader: str) -> np.ndarray:
    if isinstance(node, (nir.Input, nir.Output)):
        return s
    if isinstance(node, nir.Affine):
        return _f(node.weight) @ s + _f(node.bias)
    if isinstance(node, nir.Linear):
        return _f(node.weight) @ s
    if isinstance(node, nir.Scale):
        if reader in NO_SCALE:
            raise Refused(f"{reader}: no Scale node")
        return _f(node.scale) * s
    raise Refused(f"{reader}: no {type(node).__name__} node in this model")


def _order(nodes: dict[str, Any], edges: list[tuple[str, str]]
           ) -> tuple[list[str], set[tuple[str, str]], nx.DiGraph]:
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    delayed = set()
    for comp in nx.strongly_connected_components(g):
        if len(comp) > 1:
            delayed |= {(u, v) for u, v in g.subgraph(comp).edges
                        if isinstance(nodes[u], NEURONS)}
    flow = nx.DiGraph()
    flow.add_nodes_from(nodes)
    flow.add_edges_from(e for e in edges if e not in delayed)
    return list(nx.topological_sort(flow)), delayed, g


def simulate(graph: nir.NIRGraph, x: np.ndarray, reader: str) -> dict[str, np.ndarray]:
    """Run ``graph`` on ``x`` (T, n_in) as ``reader`` would; every node's output (T, n).
    Raises :class:`Refused` when the reader would not load the graph."""
    if reader not in READERS:
        raise ValueError(reader)
    if reader == "snntorch" and any(isinstance(v, nir.Affine) and v.bias is None
                                    for v in flatten(graph)[0].values()):
        raise Refused("snnTorch: bias must be specified for Affine layer")
    dt = float(np.asarray(graph.metadata.get("dt", 1e-3)))
    nodes, edges = flatten(graph)
    order, delayed, g = _order(nodes, edges)
    top_inputs = [n for n, v in nodes.items() if isinstance(v, nir.Input) and "." not in n]
    steps = STEPS[reader]
    prev = {n: np.zeros(_size(v)) for n, v in nodes.items() if isinstance(v, NEURONS)}
    state = {n: {"v": np.zeros(_size(v)), "i": np.zeros(_size(v))}
             for n, v in nodes.items() if isinstance(v, NEURONS)}
    outs: dict[str, list[np.ndarray]] = {n: [] for n in nodes}
    for xt in np.asarray(x, np.float64):
        cur: dict[str, np.ndarray] = {}
        for n in order:
            node = nodes[n]
            if n in top_inputs:
                cur[n] = xt
            else:
                s = np.sum([prev[u] if (u, n) in delayed else cur[u]
                            for u in g.predecessors(n)], axis=0)
                step = steps.get(type(node))
                if isinstance(node, NEURONS) and step is None:
                    raise Refused(f"{reader}: no {type(node).__name__} node in this model")
                cur[n] = (step(node, state[n], s, dt) if step is not None
                          else _stateless(node, s, reader))
            outs[n].append(cur[n])
        prev = cur
    return {n: np.array(v) for n, v in outs.items()}


def caveats(graph: nir.NIRGraph, reader: str, table: dict[tuple[str, type], str]
            ) -> dict[str, str]:
    """Nodes of ``graph`` that ``table`` (:data:`MISREAD` or :data:`RELEASE`) says something
    about for ``reader``: ``{path: what}``."""
    nodes, _ = flatten(graph)
    return {n: table[(reader, type(v))] for n, v in nodes.items()
            if (reader, type(v)) in table}


# --- what rpgraph's import claims: NIR's equations in each convention ------------------------


def _import_fire(st: State, node: Any, convention: str) -> np.ndarray:
    """Euler conventions: NIR's reset (spike on ``v > v_threshold``, then ``v = v_reset``).
    Rockpool: its reset, one spike on ``v >= thr`` and subtract the threshold."""
    thr = _f(node.v_threshold)
    if convention == "rockpool":
        z = (st["v"] >= thr).astype(np.float64)
        st["v"] = st["v"] - z * thr
        return z
    return _fire_to(st, thr, _f(node.v_reset))


def _import_leaky(node: Any, st: State, s: np.ndarray, dt: float, convention: str
                  ) -> np.ndarray:
    """``LIF``, ``CubaLIF``, ``LI``, ``CubaLI`` as the import reads them."""
    cuba = isinstance(node, (nir.CubaLIF, nir.CubaLI))
    tau_m = _f(node.tau_mem if cuba else node.tau)
    rockpool = convention == "rockpool"
    drive = s
    if cuba:
        tau_s = _f(node.tau_syn)
        if rockpool:  # Rockpool: input before the decay
            st["i"] = np.exp(-dt / tau_s) * (st["i"] + _f(node.w_in) * s)
        else:  # forward Euler of tau_syn I' = -I + w_in S
            st["i"] = st["i"] + dt / tau_s * (-st["i"] + _f(node.w_in) * s)
        drive = st["i"]
    if rockpool:  # r is no gain; v_leak is the per-step bias; LI is v = e (v + S)
        e_m = np.exp(-dt / tau_m)
        if isinstance(node, nir.LI):
            st["v"] = e_m * (st["v"] + drive)
        else:
            st["v"] = e_m * st["v"] + drive + _f(node.v_leak)
    else:
        st["v"] = st["v"] + dt / tau_m * (_f(node.v_leak) - st["v"] + _f(node.r) * drive)
    if isinstance(node, (nir.LI, nir.CubaLI)):  # no spikes: v is the output
        return st["v"].copy()
    return _import_fire(st, node, convention)


def _import_node(node: Any, st: State, s: np.ndarray, dt: float, convention: str
                 ) -> np.ndarray:
    if isinstance(node, (nir.LIF, nir.CubaLIF, nir.LI, nir.CubaLI)):
        return _import_leaky(node, st, s, dt, convention)
    if isinstance(node, (nir.IF, nir.I)):
        st["v"] = st["v"] + dt * _f(node.r) * s
        return st["v"].copy() if isinstance(node, nir.I) else _import_fire(st, node, convention)
    if isinstance(node, nir.Delay):
        return _delay(node, st, s, dt)
    if isinstance(node, nir.Threshold):
        fires = np.greater_equal if convention == "rockpool" else np.greater
        return fires(s, _f(node.threshold)).astype(np.float64)
    return _stateless(node, s, "nir")


def equations(graph: nir.NIRGraph, x: np.ndarray, dt: float, convention: str
              ) -> dict[str, np.ndarray]:
    """Simulate ``graph`` on ``x`` (T, N) as rpgraph's import reads it; every node's output.

    Forward Euler for ``nir``/``norse``/``snntorch``: ``I += dt/tau_syn (-I + w_in S)``;
    ``v += dt/tau (v_leak - v + r I)``; spike ``v > thr``, then ``v = v_reset``. Rockpool:
    exponential decays, ``I = e_s (I + w_in S)``, ``v = e_m v + I + v_leak`` (``r`` unused),
    one spike on ``v >= thr`` and the threshold subtracted; ``LI``: ``v = e (v + S)``.
    ``IF``: ``v += dt r S``, then the convention's spike and reset; ``Delay``:
    ``y[t] = x[t - round(delay / dt)]``. A cycle's edge leaving a neuron (or delay) carries
    the previous step's output.
    """
    nodes, edges = flatten(graph)
    order, delayed, g = _order(nodes, edges)
    inputs = [n for n, v in nodes.items() if isinstance(v, nir.Input) and "." not in n]
    state: dict[str, State] = {n: {"v": np.zeros(1), "i": np.zeros(1)} for n in nodes}
    prev = {n: np.zeros(_size(v)) for n, v in nodes.items() if isinstance(v, NEURONS)}
    outs: dict[str, list[np.ndarray]] = {n: [] for n in nodes}
    for xt in np.asarray(x, np.float64):
        cur: dict[str, np.ndarray] = {}
        for n in order:
            if n in inputs:
                cur[n] = xt
            else:
                s = np.sum([prev[u] if (u, n) in delayed else cur[u]
                            for u in g.predecessors(n)], axis=0)
                y = _import_node(nodes[n], state[n], s, dt, convention)
                cur[n] = np.broadcast_to(y, np.shape(y)).copy()
            outs[n].append(cur[n])
        prev = cur
    return {n: np.array(v) for n, v in outs.items()}
