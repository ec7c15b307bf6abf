"""Export: an rpgraph network and its parameters -> a :class:`nir.NIRGraph`.

The file is written in a *convention* (:data:`~rpgraph.nir.conventions.EXPORT_CONVENTIONS`):
the reader it names steps rpgraph's neurons when it simulates the file (see
:mod:`rpgraph.nir.conventions` for each reader's discretisation and what it cannot run
exactly; each such approximation is warned about, as ``NIR export (<convention>): ...``).
``"nir"`` (the default) is NIR's own equations by forward Euler at the network's ``dt``.

Each module kind that NIR can express has an entry in :data:`EXPORTERS`:

* ``linear`` -> ``Linear`` (``Affine`` with a bias), ``weight_nir = W_rpgraph.T``;
* ``lif`` -> ``CubaLIF`` (:func:`~rpgraph.nir.conventions.write_lif`); ``lif(rec = true)``
  adds a ``Linear`` ``<node>_w_rec`` in a cycle with it; each ``CubaLIF``'s metadata holds
  ``rpgraph_reset``, ``rpgraph_spikes`` and ``rpgraph_max_spikes_per_dt`` (rpgraph's reset
  and spike rule; the import reads them, so that a round trip is exact);
* ``expsyn`` -> ``LI`` (:func:`~rpgraph.nir.conventions.write_li`; snnTorch has no ``LI``),
  metadata ``rpgraph_kind = "expsyn"`` (the import reads it back as ``expsyn``, not ``li``);
* ``li`` -> ``LI``, ``if(reset = v_reset)`` -> ``IF`` (``R = r / dt``), ``delay`` ->
  ``Delay`` (rounded to whole steps): the ``"nir"`` convention only (NIR's equations by
  forward Euler are these kinds' steps; the other readers step ``LI``/``IF`` otherwise or
  have no ``Delay``);
* ``identity`` (and block ports) -> ``Scale(1)`` (``Linear(I)`` for readers without
  ``Scale``), or contracted into edges where NIR allows.

A gain or constant input that a reader cannot take as a neuron parameter is folded into the
``Linear``/``Affine`` nodes that feed only that neuron, else written as a diagonal ``Linear``
``<node>_in`` in front of it. For Rockpool, a ``CubaLIF`` in a cycle with a ``Linear`` used
only there is written as a subgraph of the two (plus ``input`` and ``output``): the only
recurrence Rockpool's reader takes.

Each block instance becomes a nested ``NIRGraph`` named like the instance, with its ports
as ``Input``/``Output`` nodes and the block's name in its metadata (``rpgraph_block``);
``nested=False`` (CLI ``--flat``, the default for conventions other than ``"nir"``: their
readers take subgraphs for recurrent neurons) writes one flat graph with
``<instance>_<node>`` names. Graph metadata holds ``source = "rpgraph"``, ``network``,
``dt`` (the step the file is written for), ``convention`` and ``discretisation`` (in words),
plus ``rpgraph_dt`` when the file's step is not the network's (snnTorch).
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
from ..errors import SpecError, SpecValueError, did_you_mean
from ..graph import ModuleNode, Network, PortNode
from ..modules import KINDS
from .conventions import (
    DISCRETISATIONS,
    EXPORT_CONVENTIONS,
    LI_WRITERS,
    LifParams,
    Written,
    file_dt,
    write_li,
    write_lif,
)
from .names import unique
from .shaped_export import SHAPED_WRITERS, is_conv, per_channel, scaled_conv, shape_params

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
    shape_in: tuple[int, ...] = ()  # tensor shapes per sample: (2, 34, 34), or (size,)
    shape_out: tuple[int, ...] = ()


def _data_nodes(g: nx.DiGraph) -> dict[str, DataNode]:
    """The network's data nodes (parameters left out), in graph order."""
    out: dict[str, DataNode] = {}
    for n, d in g.nodes(data=True):
        rec = d["node"]
        if isinstance(rec, ModuleNode):
            out[n] = DataNode(n, "module", rec.size_out, rec.kind, rec.cfg,
                              shape_in=rec.shape_in, shape_out=rec.shape_out)
        elif isinstance(rec, PortNode):
            out[n] = DataNode(n, rec.role, rec.size, direction=rec.direction, block=rec.block,
                              shape_in=rec.shape_in, shape_out=rec.shape_out)
    return out


def _f64(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


# --- the per-kind table ----------------------------------------------------------------------


@dataclass
class _Out:
    """What exporting one network collects besides the nodes: the gains and constant inputs
    still to fold in front of neurons (by ``id`` of their NIR node) and the approximations."""

    dt: float  # the network's step
    convention: str
    pending: dict[int, tuple[np.ndarray | None, np.ndarray | None]] = field(
        default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class KindExport:
    """How one module kind is written to NIR.

    ``node`` builds the NIR node from the module, its parameters and the export's
    :class:`_Out`; ``refuse`` says why a configuration cannot be exported (``None``: it
    can); ``loops`` gives extra nodes, by name suffix, that each form a two-node cycle with
    the node; ``conventions`` are those whose reader has the node type ``nir_type``.
    """

    node: Callable[[DataNode, Params, _Out], nir.NIRNode]
    nir_type: str
    refuse: Callable[[DataNode], str | None] = lambda m: None
    loops: Callable[[DataNode, Params], dict[str, nir.NIRNode]] = lambda m, p: {}
    conventions: tuple[str, ...] = EXPORT_CONVENTIONS


def _linear(m: DataNode, p: Params, out: _Out) -> nir.NIRNode:
    w = _f64(p["weight"]).T
    if "bias" in p:
        return nir.Affine(weight=w, bias=_f64(p["bias"]))
    return nir.Linear(weight=w)


def _pending(out: _Out, node: nir.NIRNode, kind: str, m: DataNode, w: Written) -> nir.NIRNode:
    """Note ``w``'s gain, constant input and approximations for ``node``; returns it."""
    if w.gain is not None or w.shift is not None:
        out.pending[id(node)] = (w.gain, w.shift)
    out.notes += [f"{kind} '{m.id}': {phrase}" for phrase in w.approx]
    return node


def _expsyn(m: DataNode, p: Params, out: _Out) -> nir.NIRNode:
    w = write_li(_f64(p["tau"]), out.dt, out.convention)
    # the import reads a forward-Euler LI as li; the metadata brings back an expsyn
    return _pending(out, nir.LI(**w.fields, metadata={"rpgraph_kind": "expsyn"}), "expsyn", m,
                    w)


def _ones(m: DataNode, p: Params, out: _Out) -> nir.NIRNode:
    if out.convention == "nir":
        return nir.Scale(scale=np.ones(m.size))
    return nir.Linear(weight=np.eye(m.size))  # Norse, snnTorch and Rockpool have no Scale


_SPIKES = {"v_reset": "one per step when v > v_threshold, then v = v_reset",
           "subtract": "floor(v / v_threshold) per step (at most rpgraph_max_spikes_per_dt) "
                       "when v >= v_threshold, then v -= spikes * v_threshold"}


def _lif(m: DataNode, p: Params, out: _Out) -> nir.NIRNode:
    tau_mem = _f64(p["tau_mem"])
    reset = str(m.cfg.get("reset", "subtract"))
    max_spikes = float(m.cfg.get("max_spikes_per_dt", 2.0**16))
    v_reset = _f64(p["v_reset"]) if reset == "v_reset" else np.zeros_like(tau_mem)
    lp = LifParams(_f64(p["tau_syn"]).reshape(tau_mem.shape), tau_mem,
                   _f64(p["bias"]) * np.ones_like(tau_mem), _f64(p["threshold"]), v_reset,
                   reset, max_spikes)
    w = write_lif(lp, out.dt, out.convention)
    node = nir.CubaLIF(**w.fields, metadata={
        "rpgraph_max_spikes_per_dt": max_spikes, "rpgraph_reset": reset,
        "rpgraph_spikes": _SPIKES[reset]})
    return _pending(out, node, "lif", m, w)


def _lif_refuse(m: DataNode) -> str | None:
    n_syn = int(m.cfg["n_syn"])
    if n_syn != 1:
        return f"lif with n_syn = {m.cfg['n_syn']}: NIR CubaLIF has one synapse per neuron"
    return None


def _lif_loops(m: DataNode, p: Params) -> dict[str, nir.NIRNode]:
    if m.cfg["rec"]:
        return {"_w_rec": nir.Linear(weight=_f64(p["w_rec"]).T)}
    return {}


def _li(m: DataNode, p: Params, out: _Out) -> nir.NIRNode:
    # li is NIR's LI stepped by forward Euler, the "nir" convention's reading: written as is
    return nir.LI(tau=_f64(p["tau"]), r=_f64(p["r"]), v_leak=_f64(p["v_leak"]))


def _if(m: DataNode, p: Params, out: _Out) -> nir.NIRNode:
    # if's r is the gain per step; NIR's dv/dt = R I has R = r / dt
    return nir.IF(r=_f64(p["r"]) / out.dt, v_threshold=_f64(p["threshold"]),
                  v_reset=_f64(p["v_reset"]))


def _if_refuse(m: DataNode) -> str | None:
    if m.cfg.get("reset") != "v_reset":
        return "if with reset = subtract: NIR's IF sets v to v_reset; write reset = v_reset"
    return None


def _dropout(m: DataNode, p: Params, out: _Out) -> nir.NIRNode:
    # a NIR graph is for inference, where dropout is the identity
    out.notes.append(f"dropout '{m.id}': written as the identity (its inference behaviour; "
                     "NIR has no dropout)")
    return _ones(m, p, out)


def _delay(m: DataNode, p: Params, out: _Out) -> nir.NIRNode:
    # rounded to whole steps, as the node runs them (learn = false)
    steps = _f64(p["d"]) / out.dt
    if m.cfg.get("learn") and not np.allclose(steps, np.round(steps), rtol=0, atol=1e-4):
        out.notes.append(f"delay '{m.id}': learned delays between whole steps (interpolated "
                         "by rpgraph) are rounded to whole steps of dt")
    return nir.Delay(delay=np.round(steps) * out.dt)


#: Module kind -> how it is exported; every other kind is refused.
EXPORTERS: dict[str, KindExport] = {
    "linear": KindExport(_linear, "Linear"),
    "lif": KindExport(_lif, "CubaLIF", refuse=_lif_refuse, loops=_lif_loops),
    "expsyn": KindExport(_expsyn, "LI", conventions=tuple(LI_WRITERS)),
    "identity": KindExport(_ones, "Scale"),
    **{k: KindExport(f, t) for k, (f, t) in SHAPED_WRITERS.items()},
    # the literal NIR reading only: other readers step LI and IF differently or lack Delay
    "li": KindExport(_li, "LI (forward Euler)", conventions=("nir",)),
    "if": KindExport(_if, "IF", refuse=_if_refuse, conventions=("nir",)),
    "delay": KindExport(_delay, "Delay", conventions=("nir",)),
    # a NIR graph is for inference, where dropout is the identity
    "dropout": KindExport(_dropout, "Scale (identity)"),
}
EXPORTABLE_KINDS = tuple(EXPORTERS)

_WHY_NOT = {"rate": "NIR has no rate neuron",  # other kinds: "no NIR equivalent"
            "sumpool1d": "NIR has no 1-D pooling", "avgpool1d": "NIR has no 1-D pooling"}

_PORTS: dict[str, Callable[[DataNode, Params, _Out], nir.NIRNode]] = {
    "input": lambda m, p, out: nir.Input(input_type=np.array(m.shape_out or [m.size])),
    "output": lambda m, p, out: nir.Output(output_type=np.array(m.shape_in or [m.size])),
    "junction": _ones,
}


def _refusal(m: DataNode, convention: str) -> str | None:
    if m.type != "module":
        return None
    if m.kind not in EXPORTERS:
        return f"'{m.id}' ({m.kind}: {_WHY_NOT.get(m.kind, 'no NIR equivalent')})"
    entry = EXPORTERS[m.kind]
    if convention not in entry.conventions:
        reader = DISCRETISATIONS[convention].reader
        return f"'{m.id}' ({m.kind}: {reader} has no {entry.nir_type} node)"
    why = entry.refuse(m)
    return None if why is None else f"'{m.id}' ({why})"


def _per_neuron(m: DataNode, p: Params, dt: float) -> Params:
    """Shared parameters (``per = channel | layer``) repeated to one value per neuron: NIR's
    neuron nodes hold one per element (of the layer's shape, see ``shape_params``)."""
    if m.type != "module" or m.cfg.get("per", "element") == "element":
        return p
    kind = KINDS[m.kind]
    cfg = kind.configure(m.cfg, dt=dt, shape_in=m.shape_in)
    size_in = int(np.prod(m.shape_in)) if m.shape_in else m.size
    return kind.expand({k: np.asarray(v) for k, v in p.items()}, size_in, m.size, cfg)


def _export_node(m: DataNode, p: Params, out: _Out) -> nir.NIRNode:
    if m.type in _PORTS:
        return _PORTS[m.type](m, p, out)
    if float(m.cfg.get("noise_std", 0.0) or 0.0) > 0:
        out.notes.append(f"'{m.id}': noise_std = {m.cfg['noise_std']} is not exported (NIR "
                         "has no noise)")
    node = EXPORTERS[m.kind].node(m, p, out)
    if len(m.shape_out) > 1 and m.kind not in SHAPED_WRITERS:
        shape_params(node, m.shape_out)  # a neuron layer on (C, H, W): parameters too
    return node


def _add_node(nodes: dict[str, nir.NIRNode], name: str, m: DataNode,
              params: Mapping[str, Params], out: _Out, taken: set[str]
              ) -> list[tuple[str, str]]:
    """Add ``m`` as ``nodes[name]`` (plus the nodes of its loops); returns the loops' edges."""
    p = _per_neuron(m, params.get(m.id, {}), out.dt)
    nodes[name] = _export_node(m, p, out)
    edges: list[tuple[str, str]] = []
    if m.type == "module":
        for suffix, node in EXPORTERS[m.kind].loops(m, p).items():
            other = unique(name + suffix, taken | set(nodes))
            nodes[other] = node
            edges += [(name, other), (other, name)]
    return edges


def _scaled(node: nir.NIRNode, gain: np.ndarray | None, shift: np.ndarray | None
            ) -> nir.NIRNode:
    """``node`` (Linear or Affine) with its outputs times ``gain`` plus ``shift``."""
    w = _f64(node.weight)
    g = np.ones(w.shape[0]) if gain is None else gain
    bias = _f64(node.bias) * g if isinstance(node, nir.Affine) else None
    if shift is not None:
        bias = shift if bias is None else bias + shift
    w = w * g[:, None]
    return nir.Linear(weight=w) if bias is None else nir.Affine(weight=w, bias=bias)


def _fold(nodes: dict[str, nir.NIRNode], edges: list[tuple[str, str]], out: _Out
          ) -> list[tuple[str, str]]:
    """Fold each pending gain and constant input of a neuron in ``nodes`` into the
    ``Linear``/``Affine`` nodes that feed only it, or else into a diagonal ``Linear``
    ``<neuron>_in`` put in front of it; returns the edges (changed by such a node)."""
    for name, node in list(nodes.items()):
        if id(node) not in out.pending:
            continue
        gain, shift = out.pending.pop(id(node))
        preds = [u for u, v in edges if v == name]
        dedicated = all((isinstance(nodes[u], (nir.Linear, nir.Affine))
                         or per_channel(nodes[u], gain, shift))
                        and [v for a, v in edges if a == u] == [name] for u in preds)
        if preds and dedicated:
            for i, u in enumerate(preds):  # the constant input once, on the first
                scale = scaled_conv if is_conv(nodes[u]) else _scaled
                nodes[u] = scale(nodes[u], gain, shift if i == 0 else None)
            continue
        size = next(int(np.size(a)) for a in (gain, shift) if a is not None)
        front = unique(name + "_in", set(nodes))
        nodes[front] = _scaled(nir.Linear(weight=np.eye(size)), gain, shift)
        edges = [(u, front if v == name else v) for u, v in edges] + [(front, name)]
    return edges


def _wrap_recurrent(nodes: dict[str, nir.NIRNode], edges: list[tuple[str, str]]
                    ) -> list[tuple[str, str]]:
    """Put each ``CubaLIF`` in a two-node cycle with a ``Linear``/``Affine`` used only there
    into a subgraph of four nodes (``input``, the neuron, the weights, ``output``): the
    only form of recurrence Rockpool 3.1's ``from_nir`` reads (as ``LIFTorch(has_rec)``)."""
    for name, node in list(nodes.items()):
        if not isinstance(node, nir.CubaLIF):
            continue
        loops = [u for u, v in edges if v == name and (name, u) in edges
                 and isinstance(nodes[u], (nir.Linear, nir.Affine))
                 and [b for a, b in edges if a == u] == [name]
                 and [a for a, b in edges if b == u] == [name]]
        if len(loops) != 1:
            continue
        w = loops[0]
        size = np.array([np.size(node.v_threshold)])
        nodes[name] = nir.NIRGraph(
            nodes={"input": nir.Input(input_type=size), name: node, w: nodes.pop(w),
                   "output": nir.Output(output_type=size)},
            edges=[("input", name), (name, w), (w, name), (name, "output")])
        edges = [e for e in edges if e not in ((name, w), (w, name))]
    return edges


def _finish(nodes: dict[str, nir.NIRNode], edges: list[tuple[str, str]], out: _Out
            ) -> list[tuple[str, str]]:
    """The last touches of one graph level before it becomes a ``NIRGraph``: pending gains
    folded in, and (Rockpool) recurrent neurons as the subgraphs their reader takes."""
    edges = _fold(nodes, edges, out)
    return _wrap_recurrent(nodes, edges) if out.convention == "rockpool" else edges


# --- whole graphs ----------------------------------------------------------------------------


#: Each convention's discretisation in words, for the file's metadata.
DISCRETISATION_TEXT = {
    "nir": "forward Euler at dt: I += dt / tau_syn * (w_in * S - I); "
           "v += dt / tau_mem * (v_leak - v + r * I); spikes and reset as each CubaLIF's "
           "rpgraph_spikes says",
    "norse": "Norse 1.1 from_nir (forward Euler at dt)",
    "snntorch": "snnTorch import_from_nir (forward Euler at dt = 0.1 ms: "
                "syn = alpha * syn + x, mem = beta * mem + syn, reset to zero)",
    "rockpool": "Rockpool 3.1 LIFTorch (exponential decays at tau_mem / (1 + r) = dt: "
                "isyn = (isyn + x) * exp(-dt / tau_syn), v = v * exp(-dt / tau_mem) + isyn "
                "+ v_leak, subtractive reset)",
}


def to_nir(prog_or_network: Program | Network, params: Mapping[str, Params], *,
           convention: str = "nir", nested: bool | None = None) -> nir.NIRGraph:
    """Export a network and its parameters as a NIR graph for ``convention``'s reader.

    ``prog_or_network`` is a :class:`~rpgraph.compile.Program` or a
    :class:`~rpgraph.graph.Network`; ``params`` is ``{node: {param: array}}``
    (e.g. ``prog.init()`` or trained parameters). ``convention`` (``"nir"``, ``"norse"``,
    ``"snntorch"`` or ``"rockpool"``) names the reader the file is written for: it steps
    rpgraph's neurons, and what it can only approximate is warned about (see
    :mod:`rpgraph.nir.conventions`). Each block instance becomes a nested ``NIRGraph``
    (``nested=True``, the default for ``"nir"``); ``nested=False`` writes one flat graph,
    node names being rpgraph node ids with ``.`` replaced by ``_``. Exportable kinds:
    :data:`EXPORTABLE_KINDS` (``expsyn`` not for snnTorch); every other node is listed in
    one :class:`SpecError`.

    >>> import rpgraph
    >>> prog = rpgraph.compile("network n { input x : 3\\n output y : 2\\n"
    ...                        " x -> linear(2) -> lif(reset = v_reset) -> y }")
    >>> g = to_nir(prog, prog.init(0))
    >>> sorted(type(n).__name__ for n in g.nodes.values())
    ['CubaLIF', 'Input', 'Linear', 'Output']
    >>> g.metadata["convention"], g.nodes["lif_0"].metadata["rpgraph_reset"]
    ('nir', 'v_reset')
    """
    net = prog_or_network.network if isinstance(prog_or_network, Program) \
        else prog_or_network
    if not isinstance(net, Network):
        raise SpecValueError(f"Expected a Program or Network, got {type(net).__name__}")
    if convention not in EXPORT_CONVENTIONS:
        raise SpecValueError(f"unknown NIR export convention '{convention}'",
                             hint=did_you_mean(convention, EXPORT_CONVENTIONS))
    data = _data_nodes(net.graph)
    bad = [why for m in data.values() if (why := _refusal(m, convention)) is not None]
    if bad:
        kinds = [k for k, e in EXPORTERS.items() if convention in e.conventions]
        raise SpecError(f"cannot export to NIR: {len(bad)} unsupported node"
                        f"{'s' if len(bad) != 1 else ''}: {', '.join(bad)}",
                        hint=f"exportable kinds ({convention}): {', '.join(kinds)}")
    dt = float(net.dt)
    meta: dict[str, Any] = {"source": "rpgraph", "network": net.name,
                            "dt": file_dt(dt, convention), "convention": convention,
                            "discretisation": DISCRETISATION_TEXT[convention]}
    if meta["dt"] != dt:
        meta["rpgraph_dt"] = dt
    out = _Out(dt, convention)
    graph = None
    if (convention == "nir") if nested is None else nested:
        graph = _export_nested(net.graph, data, params, out, meta)
    if graph is None:
        graph = _export_flat(net.graph, data, params, out, meta)
    for note in out.notes:
        warnings.warn(f"NIR export ({convention}): {note}", stacklevel=2)
    return graph


def _export_flat(g: nx.DiGraph, data: dict[str, DataNode], params: Mapping[str, Params],
                 out: _Out, meta: dict[str, Any]) -> nir.NIRGraph:
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
            out_edges += _add_node(nodes, names[n], m, params, out, set(names.values()))
    out_edges = _finish(nodes, [(names[u], names[v]) for u, v in edges] + out_edges, out)
    return nir.NIRGraph(nodes=nodes, edges=out_edges, metadata=meta)


def _scope_of(n: str) -> str:
    """The block instance a node id lives in (``"r1.sub"`` for ``r1.sub.w``; ``""``: top)."""
    return n.rpartition(".")[0]


def _local(n: str) -> str:
    return n.rpartition(".")[2]


def _export_nested(g: nx.DiGraph, data: dict[str, DataNode], params: Mapping[str, Params],
                   out: _Out, meta: dict[str, Any]) -> nir.NIRGraph | None:
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
                extra += _add_node(nodes, _local(n), m, params, out, taken)
        for child in children.get(scope, []):
            nodes[_local(child)] = build(child)
        sub_meta = meta if not scope else {"rpgraph_block": block or "block"}
        edges = _finish(nodes, scoped.get(scope, []) + extra, out)
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=sub_meta)

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
