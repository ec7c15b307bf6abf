"""Export: an rpgraph network and its parameters -> a :class:`nir.NIRGraph`.

Each module kind that NIR can express has an entry in :data:`EXPORTERS`; the file is
written in the ``"rockpool"`` convention (see :mod:`rpgraph.nir.conventions`):

* ``linear`` -> ``Linear`` (``Affine`` with a bias), ``weight_nir = W_rpgraph.T``;
* ``lif`` -> ``CubaLIF(tau_mem, tau_syn, r = tau_mem exp(-dt / tau_mem) / dt, w_in = 1,
  v_leak = bias * r, v_threshold = threshold, v_reset)`` (``v_reset = 0`` for a subtractive
  ``lif``, with a warning: other readers will reset it to 0); ``lif(rec = true)`` adds a
  ``Linear`` ``<node>_w_rec`` in a cycle with it; each ``CubaLIF``'s metadata holds
  ``rpgraph_max_spikes_per_dt`` and ``rpgraph_reset`` so that a round trip is exact;
* ``expsyn`` -> ``LI(tau, r = tau exp(-dt / tau) / dt, v_leak = 0)``;
* ``identity`` (and block ports) -> ``Scale(1)``, or contracted into edges where NIR allows.

Each block instance becomes a nested ``NIRGraph`` named like the instance, with its ports
as ``Input``/``Output`` nodes and the block's name in its metadata (``rpgraph_block``);
``nested=False`` (CLI ``--flat``) writes one flat graph with ``<instance>_<node>`` names.
Graph metadata holds ``source = "rpgraph"``, ``network``, ``dt`` and ``convention``.
Arrays are written in float64 so the conversions invert to the same float32 values.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import nir
import numpy as np

from ..compile import Program
from ..errors import SpecError, SpecValueError
from ..graph import Network
from .conventions import rockpool_r
from .names import unique

__all__ = ["EXPORTABLE_KINDS", "EXPORTERS", "KindExport", "to_nir"]

Params = Mapping[str, Any]  # one node's parameters: {name: array}


@dataclass(frozen=True)
class DataNode:
    """One data node of the network, as the export reads it."""

    id: str
    type: str  # "input" | "output" | "junction" | "module"
    size: int  # output size
    kind: str = ""  # module kind
    cfg: Mapping[str, Any] = field(default_factory=dict)  # module configuration
    direction: str | None = None  # a block port: "input" | "output"
    block: str | None = None  # a block port: the name of its block


def _data_nodes(g: nx.DiGraph) -> dict[str, DataNode]:
    """The network's data nodes (parameters left out), in graph order."""
    out: dict[str, DataNode] = {}
    for n, d in g.nodes(data=True):
        if d["type"] == "param":
            continue
        size = d["size"] if d["type"] in ("input", "output") else d["size_out"]
        out[n] = DataNode(n, d["type"], int(size), d.get("kind", ""), d.get("cfg", {}),
                          d.get("direction"), d.get("block"))
    return out


def _f64(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


# --- the per-kind table ----------------------------------------------------------------------


@dataclass(frozen=True)
class KindExport:
    """How one module kind is written to NIR.

    ``node`` builds the NIR node from the module, its parameters and ``dt``; ``refuse``
    says why a configuration cannot be exported (``None``: it can); ``loops`` gives extra
    nodes, by name suffix, that each form a two-node cycle with the node.
    """

    node: Callable[[DataNode, Params, float], nir.NIRNode]
    refuse: Callable[[DataNode], str | None] = lambda m: None
    loops: Callable[[DataNode, Params], dict[str, nir.NIRNode]] = lambda m, p: {}


def _linear(m: DataNode, p: Params, dt: float) -> nir.NIRNode:
    w = _f64(p["weight"]).T
    if "bias" in p:
        return nir.Affine(weight=w, bias=_f64(p["bias"]))
    return nir.Linear(weight=w)


def _expsyn(m: DataNode, p: Params, dt: float) -> nir.NIRNode:
    tau = _f64(p["tau"])
    return nir.LI(tau=tau, r=rockpool_r(tau, dt), v_leak=np.zeros_like(tau))


def _ones(m: DataNode, p: Params, dt: float) -> nir.NIRNode:
    return nir.Scale(scale=np.ones(m.size))


def _lif(m: DataNode, p: Params, dt: float) -> nir.NIRNode:
    tau_mem = _f64(p["tau_mem"])
    r = rockpool_r(tau_mem, dt)
    reset = m.cfg["reset"]
    if reset == "subtract":
        warnings.warn(f"NIR export: lif '{m.id}' subtracts its threshold after a spike; NIR "
                      "readers other than rpgraph and Rockpool set v to v_reset = 0 instead "
                      "(lif(reset = v_reset) exports exactly)", stacklevel=5)
    return nir.CubaLIF(
        tau_syn=_f64(p["tau_syn"]).reshape(tau_mem.shape), tau_mem=tau_mem, r=r,
        v_leak=_f64(p["bias"]) * r, v_threshold=_f64(p["threshold"]),
        v_reset=_f64(p["v_reset"]) if reset == "v_reset" else np.zeros_like(tau_mem),
        w_in=np.ones_like(tau_mem),
        metadata={"rpgraph_max_spikes_per_dt": float(m.cfg["max_spikes_per_dt"]),
                  "rpgraph_reset": reset})


def _lif_refuse(m: DataNode) -> str | None:
    n_syn = int(m.cfg["n_syn"])
    if n_syn != 1:
        return f"lif with n_syn = {m.cfg['n_syn']}: NIR CubaLIF has one synapse per neuron"
    return None


def _lif_loops(m: DataNode, p: Params) -> dict[str, nir.NIRNode]:
    if m.cfg["rec"]:
        return {"_w_rec": nir.Linear(weight=_f64(p["w_rec"]).T)}
    return {}


#: Module kind -> how it is exported; every other kind is refused.
EXPORTERS: dict[str, KindExport] = {
    "linear": KindExport(_linear),
    "lif": KindExport(_lif, refuse=_lif_refuse, loops=_lif_loops),
    "expsyn": KindExport(_expsyn),
    "identity": KindExport(_ones),
}
EXPORTABLE_KINDS = tuple(EXPORTERS)

_WHY_NOT = {"rate": "NIR has no rate neuron"}  # other kinds: "no NIR equivalent"

_PORTS: dict[str, Callable[[DataNode, Params, float], nir.NIRNode]] = {
    "input": lambda m, p, dt: nir.Input(input_type=np.array([m.size])),
    "output": lambda m, p, dt: nir.Output(output_type=np.array([m.size])),
    "junction": _ones,
}


def _refusal(m: DataNode) -> str | None:
    if m.type != "module":
        return None
    if m.kind not in EXPORTERS:
        return f"'{m.id}' ({m.kind}: {_WHY_NOT.get(m.kind, 'no NIR equivalent')})"
    why = EXPORTERS[m.kind].refuse(m)
    return None if why is None else f"'{m.id}' ({why})"


def _export_node(m: DataNode, p: Params, dt: float) -> nir.NIRNode:
    if m.type in _PORTS:
        return _PORTS[m.type](m, p, dt)
    if float(m.cfg.get("noise_std", 0.0) or 0.0) > 0:
        warnings.warn(f"'{m.id}': noise_std = {m.cfg['noise_std']} is not exported (NIR has "
                      "no noise)", stacklevel=4)
    return EXPORTERS[m.kind].node(m, p, dt)


def _add_node(nodes: dict[str, nir.NIRNode], name: str, m: DataNode,
              params: Mapping[str, Params], dt: float, taken: set[str]) -> list[tuple[str, str]]:
    """Add ``m`` as ``nodes[name]`` (plus the nodes of its loops); returns the loops' edges."""
    p = params.get(m.id, {})
    nodes[name] = _export_node(m, p, dt)
    edges: list[tuple[str, str]] = []
    if m.type == "module":
        for suffix, node in EXPORTERS[m.kind].loops(m, p).items():
            other = unique(name + suffix, taken | set(nodes))
            nodes[other] = node
            edges += [(name, other), (other, name)]
    return edges


# --- whole graphs ----------------------------------------------------------------------------


def to_nir(prog_or_network: Program | Network, params: Mapping[str, Params], *,
           nested: bool = True) -> nir.NIRGraph:
    """Export a network and its parameters as a NIR graph (``"rockpool"`` convention).

    ``prog_or_network`` is a :class:`~rpgraph.compile.Program` or a
    :class:`~rpgraph.graph.Network`; ``params`` is ``{node: {param: array}}``
    (e.g. ``prog.init()`` or trained parameters). Each block instance becomes a nested
    ``NIRGraph`` (see the module docstring); ``nested=False`` writes one flat graph
    instead, node names being rpgraph node ids with ``.`` replaced by ``_``. Exportable
    kinds: :data:`EXPORTABLE_KINDS`; every other node is listed in one :class:`SpecError`.

    >>> import rpgraph
    >>> prog = rpgraph.compile("network n { input x : 3\\n output y : 2\\n"
    ...                        " x -> linear(2) -> lif -> y }")
    >>> g = to_nir(prog, prog.init(0))
    >>> sorted(type(n).__name__ for n in g.nodes.values())
    ['CubaLIF', 'Input', 'Linear', 'Output']
    """
    net = prog_or_network.network if isinstance(prog_or_network, Program) \
        else prog_or_network
    if not isinstance(net, Network):
        raise SpecValueError(f"Expected a Program or Network, got {type(net).__name__}")
    data = _data_nodes(net.graph)
    bad = [why for m in data.values() if (why := _refusal(m)) is not None]
    if bad:
        raise SpecError(f"cannot export to NIR: {len(bad)} unsupported node"
                        f"{'s' if len(bad) != 1 else ''}: {', '.join(bad)}",
                        hint=f"exportable kinds: {', '.join(EXPORTABLE_KINDS)}")
    meta = {"source": "rpgraph", "network": net.name, "dt": float(net.dt),
            "convention": "rockpool"}
    if nested:
        graph = _export_nested(net.graph, data, params, float(net.dt), meta)
        if graph is not None:
            return graph
    return _export_flat(net.graph, data, params, float(net.dt), meta)


def _export_flat(g: nx.DiGraph, data: dict[str, DataNode], params: Mapping[str, Params],
                 dt: float, meta: dict[str, Any]) -> nir.NIRGraph:
    names = _export_names(list(data))
    contract = {n for n, m in data.items() if m.type == "junction" or m.kind == "identity"}
    edges = _contract_edges(g, list(data), contract)
    if edges is None:  # two paths between the same pair: keep the identities as Scale(1)
        contract = set()
        edges = [(u, v) for u, v, e in g.edges(data=True) if e["type"] == "data"]
    nodes: dict[str, nir.NIRNode] = {}
    out_edges: list[tuple[str, str]] = []
    for n, m in data.items():
        if n not in contract:
            out_edges += _add_node(nodes, names[n], m, params, dt, set(names.values()))
    out_edges = [(names[u], names[v]) for u, v in edges] + out_edges
    return nir.NIRGraph(nodes=nodes, edges=out_edges, metadata=meta)


def _scope_of(n: str) -> str:
    """The block instance a node id lives in (``"r1.sub"`` for ``r1.sub.w``; ``""``: top)."""
    return n.rpartition(".")[0]


def _local(n: str) -> str:
    return n.rpartition(".")[2]


def _export_nested(g: nx.DiGraph, data: dict[str, DataNode], params: Mapping[str, Params],
                   dt: float, meta: dict[str, Any]) -> nir.NIRGraph | None:
    """One ``NIRGraph`` per block instance, nested as in the spec; ``None`` when the
    graph has no blocks or cannot be written nested (then the flat export is used)."""
    ports = {n for n, m in data.items() if m.type == "junction"}
    if not ports:
        return None
    contract = {n for n, m in data.items() if m.kind == "identity"}
    scoped = _scoped_edges(g, data, ports, contract)
    if scoped is None:
        return None
    members: dict[str, list[str]] = {}
    for n in data:
        if n not in contract:
            members.setdefault(_scope_of(n), []).append(n)
    children: dict[str, list[str]] = {}
    for inst in sorted({_scope_of(p) for p in ports}):
        children.setdefault(_scope_of(inst), []).append(inst)

    def build(scope: str) -> nir.NIRGraph:
        nodes: dict[str, nir.NIRNode] = {}
        extra: list[tuple[str, str]] = []
        taken = {_local(n) for n in members.get(scope, [])} | {
            _local(c) for c in children.get(scope, [])}
        block = None
        for n in members.get(scope, []):
            m = data[n]
            if n in ports:
                block = m.block or block
                nodes[_local(n)] = nir.Input(input_type=np.array([m.size])) \
                    if m.direction == "input" else nir.Output(output_type=np.array([m.size]))
            else:
                extra += _add_node(nodes, _local(n), m, params, dt, taken)
        for child in children.get(scope, []):
            nodes[_local(child)] = build(child)
        sub_meta = meta if not scope else {"rpgraph_block": block or "block"}
        return nir.NIRGraph(nodes=nodes, edges=scoped.get(scope, []) + extra,
                            metadata=sub_meta)

    return build("")


def _scoped_edges(g: nx.DiGraph, data: dict[str, DataNode], ports: set[str],
                  contract: set[str]) -> dict[str, list[tuple[str, str]]] | None:
    """The edges of each scope's subgraph, by local name; ``None`` when they cannot be
    written nested."""
    edges = _contract_edges(g, list(data), contract)
    if edges is None:
        return None

    def where(n: str, role: str) -> tuple[str, str]:
        """(scope, local name) of an edge end: a block port seen from outside the block
        (an input port as a sink, an output port as a source) is the instance itself."""
        if n in ports and data[n].direction == role:
            inst = _scope_of(n)
            return _scope_of(inst), _local(inst)
        return _scope_of(n), _local(n)

    scoped: dict[str, list[tuple[str, str]]] = {}
    for u, v in edges:
        (su, lu), (sv, lv) = where(u, "output"), where(v, "input")
        if su != sv:  # not expected from the graph builder; keep the export correct
            return None
        scoped.setdefault(su, []).append((lu, lv))
    if any(len(set(es)) != len(es) for es in scoped.values()):
        return None  # two edges between the same pair once ports are folded into instances
    return scoped


def _export_names(nodes: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    taken: set[str] = set()
    for n in nodes:
        out[n] = unique(n.replace(".", "_"), taken)
        taken.add(out[n])
    return out


def _contract_edges(g: nx.DiGraph, data: list[str], contract: set[str]
                    ) -> list[tuple[str, str]] | None:
    """Edges between kept nodes after removing the pass-through nodes in ``contract``;
    ``None`` when two paths join the same pair (NIR cannot carry an edge twice)."""
    succ = {n: [v for v in g.successors(n) if g.edges[n, v]["type"] == "data"] for n in data}
    edges: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for u in data:
        if u in contract:
            continue
        stack = list(succ[u])
        while stack:
            v = stack.pop(0)
            if v in contract:
                stack.extend(succ[v])
                continue
            if (u, v) in seen:
                return None
            seen.add((u, v))
            edges.append((u, v))
    return edges
