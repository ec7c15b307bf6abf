"""NIR interchange: export rpgraph networks to NIR graphs and import NIR graphs as specs.

`NIR <https://neuroir.org>`_ describes networks as continuous-time equations; rpgraph runs
a discrete-time program with step ``dt``. This module converts in both directions:

* :func:`to_nir` / :func:`write_nir`: a :class:`~rpgraph.graph.Network` (or compiled
  :class:`~rpgraph.compile.Program`) plus its parameters -> a :class:`nir.NIRGraph` in which
  each block instance is a nested ``NIRGraph`` (its ports ``Input``/``Output`` nodes, its
  block's name in the metadata); ``identity`` nodes are contracted into edges. With
  ``nested=False`` (CLI ``--flat``) blocks are flattened into ``<instance>_<node>`` names.
* :func:`read_nir` / :func:`nir_to_spec` / :func:`from_nir`: a NIR graph -> readable
  ``.rpg`` spec text (structure and sizes only) plus a parameter dict
  ``{node: {param: array}}`` shaped like :meth:`Program.init`.

Node mapping
------------

=============================  =========================================================
NIR                            rpgraph
=============================  =========================================================
``Input`` / ``Output``         ``input`` / ``output`` ports (inside a block: its ports)
``Affine`` / ``Linear``        ``linear(out, bias = true)`` / ``linear(out)``;
                               ``weight_rpgraph = W_nir.T`` (rpgraph is ``x @ W``)
``Scale``                      ``linear(n)`` with a diagonal weight, frozen (``train``);
                               ``identity`` when all scales are 1
``LI``                         ``expsyn`` (``v_leak`` must be 0)
``CubaLI``                     ``expsyn`` (synapse) -> frozen diagonal ``linear`` (gain)
                               -> ``expsyn`` (membrane); ``v_leak`` must be 0
``I``                          ``expsyn`` with ``tau = dt * 2**40`` (decay rounds to 1)
``CubaLIF``                    ``lif(reset = v_reset)`` (Rockpool convention: subtractive)
``LIF``                        ``lif`` with an (almost) instantaneous synapse (see below)
``IF``                         ``lif`` with ``tau_mem = dt * 2**40`` and instant synapse
``Threshold``                  ``lif`` with instant membrane and synapse (approximate)
nested ``NIRGraph``            a ``block`` (one input, one output) or else flattened
                               into ``<sub>__<node>`` names with ``identity`` junctions
cycles                         graph cycles; the edge leaving the stateful node carries
                               the previous step's output (rpgraph's one-step delay)
=============================  =========================================================

Unsupported (one :class:`SpecError` lists them all): ``Conv1d``, ``Conv2d``,
``SumPool2d``, ``AvgPool2d``, ``Delay``, ``Flatten``, multi-dimensional neuron shapes,
``LI`` / ``CubaLI`` with ``v_leak != 0``, thresholds or time constants <= 0,
NaN or infinite parameters, unknown node types.

Discretisation (import)
-----------------------

rpgraph's ``lif`` step is (``a_s = exp(-dt / tau_syn)``, ``a_m = exp(-dt / tau_mem)``)::

    isyn = a_s * (isyn + x);   v = a_m * v + isyn + bias;   s = v >= thr;   v -= s * thr

Every NIR neuron is first written as the discrete update::

    I[t] = A_s I[t-1] + G_s S[t];     v[t] = A_m v[t-1] + K I[t] + B

and then mapped exactly onto rpgraph: ``tau_syn = -dt / ln A_s``,
``tau_mem = -dt / ln A_m``, ``bias = B``, ``isyn_rpgraph = K I``, so the input to the
``lif`` must be ``x = (K G_s / A_s) S``: that per-neuron *input gain* is folded into the
incoming ``linear`` weights (columns scaled) when every path into the neuron comes from
a ``linear`` used only there, otherwise a frozen diagonal ``linear`` named ``<node>_in``
is inserted in front of the neuron. ``A``, ``G``, ``K``, ``B`` depend on the convention:

``"norse"`` (forward Euler, input as a per-step value, Norse's ``LIFBox``/``LIF``)::

    A = 1 - dt / tau;   K = r dt / tau_mem;   B = v_leak dt / tau_mem
    G_s = w_in                       (Norse's synaptic jump  i += input)

``"snntorch"`` (forward Euler of the NIR ODEs; snnTorch exports ``r = tau_mem / dt``,
``w_in = tau_syn / dt`` so that ``K = G_s = 1``, i.e. ``syn = alpha syn + x``,
``mem = beta mem + syn``)::

    A = 1 - dt / tau;   K = r dt / tau_mem;   B = v_leak dt / tau_mem;   G_s = w_in dt / tau_syn

``"rockpool"`` (exact exponential decays; the inverse of Rockpool's exporter, which writes
``r = tau exp(-dt / tau) / dt``, ``w_in = 1``; rpgraph's own exporter uses it too)::

    A = exp(-dt / tau);   K = r dt / (tau_mem A_m);   B = v_leak dt / (tau_mem A_m)
    G_s = A_s w_in                   (Rockpool: isyn = beta (isyn + x))

``LI``: ``v[t] = A v[t-1] + (r dt / tau) S[t] + v_leak dt / tau`` with ``A`` as above
(rockpool: ``r dt / tau = beta`` for its exports), mapped to ``expsyn(tau = -dt / ln A)``
with input gain ``r dt / (tau A)``. ``I`` / ``IF``: ``v[t] = v[t-1] + r dt S[t]``.

``"auto"`` picks ``rockpool`` for graphs written by rpgraph (metadata), ``snntorch`` when
every ``CubaLIF`` has ``r == tau_mem / dt`` and ``w_in == tau_syn / dt`` (1e-3 relative),
``rockpool`` when every neuron has ``r == tau exp(-dt / tau) / dt``, else ``norse``.

Approximations (each warned about with :func:`warnings.warn` on import):

* Reset: NIR fires on ``v > thr`` and sets ``v`` to ``v_reset``; imported neurons are
  ``lif(reset = v_reset)``, which does exactly that (one spike per step, the parameter
  ``v_reset`` from the file). Graphs in the Rockpool convention keep Rockpool's reset
  (subtract the threshold, fire on ``v >= thr``, ``max_spikes_per_dt = 1``), with a
  warning, unless a node's ``rpgraph_reset`` metadata says otherwise. (snnTorch's own
  "subtract" mechanism is not what its NIR files declare: they are read as NIR says.)
* ``LIF`` / ``IF`` / ``Threshold`` have no synapse: the ``lif`` synapse gets
  ``tau_syn = dt / (20 ln 2)`` (``A_s = 2**-20``, a 1e-6 residual of the previous step's
  current) and its ``1 / A_s = 2**20`` gain is folded into the incoming weights (large
  weights: rescale before training with a learning rate tuned for the original model).
* ``Threshold`` also gets ``tau_mem = dt / (20 ln 2)`` (``v ~ input``).
* Norse's ``CubaLIF`` drives ``v`` with the *previous* step's current; rpgraph uses this
  step's current (one step earlier).
* Forward-Euler decays need ``dt < tau``; ``A <= 0`` is clamped to ``2**-20``.

Export (``to_nir``) writes the ``"rockpool"`` convention: ``lif`` -> ``CubaLIF(tau_mem,
tau_syn, r = tau_mem exp(-dt / tau_mem) / dt, w_in = 1, v_leak = bias * r,
v_threshold = threshold, v_reset)`` (``v_reset = 0`` for a subtractive ``lif``, with a
warning: other readers will reset it to 0); ``expsyn`` -> ``LI(tau, r = tau exp(-dt / tau) /
dt, v_leak = 0)``; ``lif(rec = true)`` -> an extra ``Linear`` ``<node>_w_rec`` in a cycle.
Graph metadata holds ``source = "rpgraph"``, ``dt`` and ``convention``; each ``CubaLIF``'s
metadata holds ``rpgraph_max_spikes_per_dt`` and ``rpgraph_reset`` so that a round trip is
exact.
Arrays are written in float64 so the conversions invert to the same float32 values.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import nir
import numpy as np

from .compile import Program
from .errors import SpecError, SpecValueError
from .graph import Network
from .modules import ACTIVATIONS, INITIALISERS, KINDS
from .vocab import KEYWORDS

__all__ = [
    "CONVENTIONS",
    "detect_convention",
    "from_nir",
    "nir_to_spec",
    "read_nir",
    "to_nir",
    "write_nir",
]

Params = dict[str, dict[str, np.ndarray]]

CONVENTIONS = ("auto", "norse", "snntorch", "rockpool")
EXPORTABLE_KINDS = ("linear", "lif", "expsyn", "identity")

_INSTANT = 2.0**-20  # decay factor of an "instantaneous" synapse / membrane
_TAU_INSTANT_STEPS = 1.0 / (20.0 * math.log(2.0))  # tau / dt giving exp(-dt / tau) = 2**-20
_TAU_INFINITE_STEPS = 2.0**40  # tau / dt whose float32 decay rounds to exactly 1
_RESERVED = KEYWORDS | {"dt"}  # keywords, and the time step every expression may name
_SUPPORTED = (nir.Input, nir.Output, nir.NIRGraph, nir.Affine, nir.Linear, nir.Scale, nir.LI,
              nir.I, nir.LIF, nir.CubaLIF, nir.CubaLI, nir.IF, nir.Threshold)


# --- files -----------------------------------------------------------------------------------


def read_nir(path: str | Path) -> nir.NIRGraph:
    """Read a NIR file (HDF5) into a :class:`nir.NIRGraph`.

    Raises :class:`SpecError` for a missing, unreadable or corrupt file. Graphs whose
    types do not check (some older exporters) are read again without the type check.

    >>> g = read_nir("../shared/nir/lif_norse.nir")  # doctest: +SKIP
    >>> sorted(g.nodes)  # doctest: +SKIP
    ['0', '1', 'input', 'output']
    """
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"NIR file '{p}' does not exist", hint="check the path")
    first: Exception | None = None
    try:
        graph = nir.read(p)
    except Exception as err:  # noqa: BLE001 - any failure of the reader is reported
        first = err
    if first is not None:
        try:
            graph = nir.read(p, type_check=False)
        except Exception as err:  # noqa: BLE001
            with p.open("rb") as f:
                signature = f.read(len(_HDF5_SIGNATURE))
            if signature != _HDF5_SIGNATURE:  # say so plainly rather than in h5py's words
                raise SpecError(f"'{p}' is not a NIR file: it does not start with the HDF5 "
                                "signature", hint="NIR files are HDF5 files written by "
                                "nir.write") from None
            raise SpecError(f"cannot read NIR file '{p}': {type(err).__name__}: {err}",
                            hint="is it a NIR (HDF5) file written by nir.write?") from None
        warnings.warn(f"NIR file '{p}' does not type-check ({first}); read without the "
                      "type check", stacklevel=2)
    if not isinstance(graph, nir.NIRGraph):
        raise SpecError(f"NIR file '{p}' holds a {type(graph).__name__}, not a graph")
    return graph


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def write_nir(graph: nir.NIRGraph, path: str | Path) -> None:
    """Write ``graph`` to ``path`` with :func:`nir.write` (SpecError when that fails).

    >>> write_nir(to_nir(net, params), "net.nir")  # doctest: +SKIP
    """
    p = Path(path)
    if p.parent and not p.parent.exists():
        raise SpecError(f"cannot write NIR file '{p}': folder '{p.parent}' does not exist",
                        hint="create it first, or pick another path")
    try:
        nir.write(p, graph)
    except Exception as err:  # noqa: BLE001
        raise SpecError(f"cannot write NIR file '{p}': {type(err).__name__}: {err}") from None


# --- export ----------------------------------------------------------------------------------


def _f64(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def to_nir(prog_or_network: Program | Network, params: Mapping[str, Mapping[str, Any]],
           *, nested: bool = True) -> nir.NIRGraph:
    """Export a network and its parameters as a NIR graph (``"rockpool"`` convention).

    ``prog_or_network`` is a :class:`~rpgraph.compile.Program` or a
    :class:`~rpgraph.graph.Network`; ``params`` is ``{node: {param: array}}``
    (e.g. ``prog.init()`` or trained parameters). Each block instance becomes a nested
    ``NIRGraph`` named like the instance, with its ports as ``Input``/``Output`` nodes and
    the block's name in its metadata (``rpgraph_block``), so an import gives the blocks
    back; ``nested=False`` writes one flat graph instead, node names being rpgraph node ids
    with ``.`` replaced by ``_``. Exportable kinds: ``linear``, ``lif`` (``n_syn = 1``),
    ``expsyn`` and ``identity``; every other node is listed in one :class:`SpecError`.

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
    g = net.graph
    data = [n for n, d in g.nodes(data=True) if d["type"] != "param"]
    bad = []
    for n in data:
        d = g.nodes[n]
        if d["type"] != "module":
            continue
        kind = d["kind"]
        if kind not in EXPORTABLE_KINDS:
            why = "no NIR equivalent" if kind != "rate" else "NIR has no rate neuron"
            bad.append(f"'{n}' ({kind}: {why})")
        elif kind == "lif" and int(d["cfg"].get("n_syn", 1)) != 1:
            bad.append(f"'{n}' (lif with n_syn = {d['cfg']['n_syn']}: NIR CubaLIF has one "
                       "synapse per neuron)")
    if bad:
        raise SpecError(f"cannot export to NIR: {len(bad)} unsupported node"
                        f"{'s' if len(bad) != 1 else ''}: {', '.join(bad)}",
                        hint=f"exportable kinds: {', '.join(EXPORTABLE_KINDS)}")
    meta = {"source": "rpgraph", "network": net.name, "dt": float(net.dt),
            "convention": "rockpool"}
    if nested:
        graph = _export_nested(g, data, params, float(net.dt), meta)
        if graph is not None:
            return graph
    return _export_flat(g, data, params, float(net.dt), meta)


def _export_flat(g: nx.DiGraph, data: list[str], params: Mapping[str, Mapping[str, Any]],
                 dt: float, meta: dict[str, Any]) -> nir.NIRGraph:
    names = _export_names(data)
    contract = {n for n in data if g.nodes[n]["type"] == "junction"
                or g.nodes[n].get("kind") == "identity"}
    edges = _contract_edges(g, data, contract)
    if edges is None:  # two paths between the same pair: keep the identities as Scale(1)
        contract = set()
        edges = [(u, v) for u, v, e in g.edges(data=True) if e["type"] == "data"]
    nodes: dict[str, nir.NIRNode] = {}
    out_edges: list[tuple[str, str]] = []
    for n in data:
        if n in contract:
            continue
        out_edges += _add_export_node(nodes, names[n], n, g.nodes[n], params, dt,
                                      set(names.values()))
    out_edges = [(names[u], names[v]) for u, v in edges] + out_edges
    return nir.NIRGraph(nodes=nodes, edges=out_edges, metadata=meta)


def _add_export_node(nodes: dict[str, nir.NIRNode], name: str, n: str, d: dict[str, Any],
                     params: Mapping[str, Mapping[str, Any]], dt: float, taken: set[str]
                     ) -> list[tuple[str, str]]:
    """Add node ``n`` as ``nodes[name]`` (plus the Linear of a ``lif(rec = true)``); returns
    the extra edges that recurrence needs."""
    p = params.get(n, {})
    nodes[name] = _export_node(n, d, p, dt)
    if d.get("kind") == "lif" and d["cfg"].get("rec", False):
        rec_name = _unique(name + "_w_rec", taken | set(nodes))
        nodes[rec_name] = nir.Linear(weight=_f64(p["w_rec"]).T)
        return [(name, rec_name), (rec_name, name)]
    return []


def _scope_of(n: str) -> str:
    """The block instance a node id lives in (``"r1.sub"`` for ``r1.sub.w``; ``""``: top)."""
    return n.rpartition(".")[0]


def _export_nested(g: nx.DiGraph, data: list[str], params: Mapping[str, Mapping[str, Any]],
                   dt: float, meta: dict[str, Any]) -> nir.NIRGraph | None:
    """One ``NIRGraph`` per block instance, nested as in the spec; ``None`` when the
    graph has no blocks or cannot be written nested (then the flat export is used)."""
    ports = {n for n in data if g.nodes[n]["type"] == "junction"}
    if not ports:
        return None
    contract = {n for n in data if g.nodes[n].get("kind") == "identity"}
    edges = _contract_edges(g, data, contract)
    if edges is None:
        return None

    def where(n: str, role: str) -> tuple[str, str]:
        """(scope, local name) of an edge end: a block port seen from outside the block
        (an input port as a sink, an output port as a source) is the instance itself."""
        d = g.nodes[n]
        if n in ports and d.get("direction") == role:
            inst = _scope_of(n)
            return _scope_of(inst), inst.rpartition(".")[2]
        return _scope_of(n), n.rpartition(".")[2]

    scoped: dict[str, list[tuple[str, str]]] = {}
    for u, v in edges:
        (su, lu), (sv, lv) = where(u, "output"), where(v, "input")
        if su != sv:  # not expected from the graph builder; keep the export correct
            return None
        scoped.setdefault(su, []).append((lu, lv))
    if any(len(set(es)) != len(es) for es in scoped.values()):
        return None  # two edges between the same pair once ports are folded into instances
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
        taken = {n.rpartition(".")[2] for n in members.get(scope, [])} | {
            c.rpartition(".")[2] for c in children.get(scope, [])}
        block = None
        for n in members.get(scope, []):
            d, local = g.nodes[n], n.rpartition(".")[2]
            if n in ports:
                block = d.get("block", block)
                size = np.array([d["size_out"] if d["direction"] == "input" else d["size_in"]])
                nodes[local] = nir.Input(input_type=size) if d["direction"] == "input" \
                    else nir.Output(output_type=size)
            else:
                extra += _add_export_node(nodes, local, n, d, params, dt, taken)
        for child in children.get(scope, []):
            nodes[child.rpartition(".")[2]] = build(child)
        sub_meta = meta if not scope else {"rpgraph_block": block or "block"}
        return nir.NIRGraph(nodes=nodes, edges=scoped.get(scope, []) + extra,
                            metadata=sub_meta)

    return build("")


def _export_names(nodes: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    taken: set[str] = set()
    for n in nodes:
        out[n] = _unique(n.replace(".", "_"), taken)
        taken.add(out[n])
    return out


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    i = 1
    while f"{name}_{i}" in taken:
        i += 1
    return f"{name}_{i}"


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


def _export_node(n: str, d: dict[str, Any], p: Mapping[str, Any], dt: float) -> nir.NIRNode:
    t = d["type"]
    if t == "input":
        return nir.Input(input_type=np.array([d["size"]]))
    if t == "output":
        return nir.Output(output_type=np.array([d["size"]]))
    if t == "junction" or d["kind"] == "identity":
        return nir.Scale(scale=np.ones(d["size_out"]))
    kind, cfg = d["kind"], d["cfg"]
    if float(cfg.get("noise_std", 0.0) or 0.0) > 0:
        warnings.warn(f"'{n}': noise_std = {cfg['noise_std']} is not exported (NIR has no "
                      "noise)", stacklevel=3)
    if kind == "linear":
        w = _f64(p["weight"]).T
        if "bias" in p:
            return nir.Affine(weight=w, bias=_f64(p["bias"]))
        return nir.Linear(weight=w)
    if kind == "expsyn":
        tau = _f64(p["tau"])
        return nir.LI(tau=tau, r=tau * np.exp(-dt / tau) / dt, v_leak=np.zeros_like(tau))
    tau_mem = _f64(p["tau_mem"])
    r = tau_mem * np.exp(-dt / tau_mem) / dt
    reset = cfg.get("reset", "subtract")
    if reset == "subtract":
        warnings.warn(f"NIR export: lif '{n}' subtracts its threshold after a spike; NIR "
                      "readers other than rpgraph and Rockpool set v to v_reset = 0 instead "
                      "(lif(reset = v_reset) exports exactly)", stacklevel=4)
    return nir.CubaLIF(
        tau_syn=_f64(p["tau_syn"]).reshape(tau_mem.shape), tau_mem=tau_mem, r=r,
        v_leak=_f64(p["bias"]) * r, v_threshold=_f64(p["threshold"]),
        v_reset=_f64(p["v_reset"]) if reset == "v_reset" else np.zeros_like(tau_mem),
        w_in=np.ones_like(tau_mem),
        metadata={"rpgraph_max_spikes_per_dt": float(cfg.get("max_spikes_per_dt", 2.0**16)),
                  "rpgraph_reset": reset})


# --- import: conventions ---------------------------------------------------------------------


def _meta_str(meta: Any, key: str) -> str | None:
    if not isinstance(meta, Mapping) or key not in meta:
        return None
    v = meta[key]
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.shape == ():
        v = v.item()
        return v.decode() if isinstance(v, bytes) else str(v)
    return str(v)


def _walk(graph: nir.NIRGraph) -> list[tuple[str, nir.NIRNode]]:
    out: list[tuple[str, nir.NIRNode]] = []
    for name, node in graph.nodes.items():
        out.append((name, node))
        if isinstance(node, nir.NIRGraph):
            out += [(f"{name}.{k}", v) for k, v in _walk(node)]
    return out


def detect_convention(graph: nir.NIRGraph, dt: float) -> str:
    """The convention ``"auto"`` resolves to for ``graph`` at step ``dt``.

    ``rockpool`` for graphs rpgraph wrote, ``snntorch`` when every ``CubaLIF`` has
    ``r = tau_mem / dt`` and ``w_in = tau_syn / dt``, ``rockpool`` when every neuron has
    ``r = tau exp(-dt / tau) / dt``, otherwise ``norse``.

    >>> detect_convention(read_nir("../shared/nir/lif_norse.nir"), 1e-4)  # doctest: +SKIP
    'norse'
    """
    meta = getattr(graph, "metadata", {})
    if _meta_str(meta, "source") == "rpgraph":
        return _meta_str(meta, "convention") or "rockpool"
    cuba = [n for _, n in _walk(graph) if isinstance(n, nir.CubaLIF)]
    rel = lambda a, b: bool(np.allclose(_f64(a), _f64(b), rtol=1e-3, atol=0))  # noqa: E731
    if cuba and all(rel(n.r, _f64(n.tau_mem) / dt) and rel(n.w_in, _f64(n.tau_syn) / dt)
                    for n in cuba):
        return "snntorch"
    neurons = [(n.tau_mem if isinstance(n, nir.CubaLIF) else n.tau, n.r) for _, n in
               _walk(graph) if isinstance(n, (nir.CubaLIF, nir.LIF, nir.LI))]
    if neurons and all(rel(r, _f64(tau) * np.exp(-dt / _f64(tau)) / dt)
                       for tau, r in neurons):
        return "rockpool"
    return "norse"


def _decay(tau: np.ndarray, dt: float, convention: str, what: str, notes: list[str]
           ) -> np.ndarray:
    """Per-step decay factor ``A`` of a time constant under ``convention``."""
    if convention == "rockpool":
        return np.exp(-dt / tau)
    a = 1.0 - dt / tau
    if np.any(a <= 0):
        notes.append(f"{what}: dt >= tau, forward-Euler decay 1 - dt/tau <= 0 clamped to "
                     "2**-20")
    return np.maximum(a, _INSTANT)


def _tau_of(a: np.ndarray, dt: float) -> np.ndarray:
    """The rpgraph time constant whose ``exp(-dt / tau)`` is ``a`` (``inf`` for ``a = 1``)."""
    with np.errstate(divide="ignore"):
        return np.where(a >= 1.0, dt * _TAU_INFINITE_STEPS, -dt / np.log(np.minimum(a, 1.0)))


@dataclass
class _Conv:
    """One converted NIR node."""

    kind: str  # rpgraph kind: linear, lif, expsyn, identity
    size_in: int
    size_out: int
    call: str
    params: dict[str, np.ndarray] = field(default_factory=dict)
    gain: np.ndarray | None = None  # per-neuron input gain still to fold in
    frozen: tuple[str, ...] = ()


def _vec(a: Any) -> np.ndarray:
    return np.atleast_1d(_f64(a))


def _bad_values(node: nir.NIRNode) -> str | None:
    """Why a node's numbers cannot be imported: NaN or infinite entries anywhere, or a time
    constant that is not positive (it would silently become a growing, not leaky, state)."""
    for field_name, value in vars(node).items():
        if field_name in ("metadata", "input_type", "output_type"):
            continue
        try:
            a = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            continue
        if not np.all(np.isfinite(a)):
            return f"non-finite values in {field_name}"
        if field_name.startswith("tau") and np.any(a <= 0):
            return f"{field_name} <= 0 (time constants must be positive)"
    return None


def _convert(name: str, node: nir.NIRNode, dt: float, conv: str, notes: list[str]
             ) -> _Conv | str:
    """A :class:`_Conv` for a supported node, else the reason it is not supported."""
    if isinstance(node, (nir.Affine, nir.Linear)):
        w = _f64(node.weight)
        if w.ndim != 2:
            return f"weight of shape {w.shape} (only 2-D weights)"
        params = {"weight": w.T.copy()}
        call = f"linear({w.shape[0]})"
        if isinstance(node, nir.Affine):
            params["bias"] = _vec(node.bias).reshape(w.shape[0]).copy()
            call = f"linear({w.shape[0]}, bias = true)"
        return _Conv("linear", w.shape[1], w.shape[0], call, params)
    if isinstance(node, nir.Scale):
        s = _f64(node.scale)
        if s.ndim != 1:
            return f"scale of shape {s.shape} (only 1-D)"
        if np.all(s == 1.0):
            return _Conv("identity", s.size, s.size, "identity")
        return _Conv("linear", s.size, s.size, f"linear({s.size})", {"weight": np.diag(s)},
                     frozen=("weight",))
    if isinstance(node, (nir.LI, nir.I)):
        r = _vec(node.r)
        if r.ndim != 1:
            return f"shape {r.shape} (only 1-D neuron layers)"
        if isinstance(node, nir.I):
            return _Conv("expsyn", r.size, r.size, "expsyn",
                         {"tau": np.full(r.size, dt * _TAU_INFINITE_STEPS)}, gain=r * dt)
        if np.any(_f64(node.v_leak) != 0):
            return "LI with v_leak != 0 (expsyn has no bias)"
        tau = _vec(node.tau) * np.ones(r.size)
        a = _decay(tau, dt, conv, f"'{name}'", notes)
        return _Conv("expsyn", r.size, r.size, "expsyn", {"tau": _tau_of(a, dt)},
                     gain=r * dt / (tau * a))
    if isinstance(node, (nir.LIF, nir.CubaLIF, nir.IF, nir.Threshold)):
        return _convert_spiking(name, node, dt, conv, notes)
    return "no rpgraph equivalent"


def _membrane(node: Any, tau_m: np.ndarray, dt: float, conv: str, what: str,
              notes: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(A_m, K, B)`` of ``v[t] = A_m v[t-1] + K I[t] + B`` for a node with ``r`` and
    ``v_leak`` (see the module docstring for each convention)."""
    a_m = _decay(tau_m, dt, conv, what, notes)
    scale = dt / (tau_m * a_m) if conv == "rockpool" else dt / tau_m
    return a_m, _vec(node.r) * scale, _vec(node.v_leak) * scale


def _synapse(node: Any, ones: np.ndarray, dt: float, conv: str, what: str,
             notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(A_s, G_s)`` of ``I[t] = A_s I[t-1] + G_s S[t]`` for a node with ``tau_syn``, ``w_in``."""
    tau_s, w_in = _vec(node.tau_syn) * ones, _vec(node.w_in) * ones
    a_s = _decay(tau_s, dt, conv, what, notes)
    g_s = {"norse": w_in, "snntorch": w_in * dt / tau_s, "rockpool": a_s * w_in}[conv]
    return a_s, g_s


def _convert_cuba_li(name: str, node: nir.CubaLI, dt: float, conv: str, notes: list[str]
                     ) -> tuple[_Conv, _Conv] | str:
    """``CubaLI`` as two ``expsyn`` nodes: the synaptic current ``I`` (``tau_syn``) and the
    membrane ``v`` (``tau_mem``) it drives; the discretisation of ``CubaLIF`` without the
    spike. The membrane's input gain ``K / A_m`` becomes a frozen diagonal ``linear``."""
    tau_m = _vec(node.tau_mem)
    if tau_m.ndim != 1:
        return f"shape {tau_m.shape} (only 1-D neuron layers)"
    n = tau_m.size
    ones = np.ones(n)
    tau_m = tau_m * ones
    if np.any(_vec(node.v_leak) != 0):
        return "CubaLI with v_leak != 0 (expsyn has no bias)"
    a_m, k, _ = _membrane(node, tau_m, dt, conv, f"'{name}'", notes)
    a_s, g_s = _synapse(node, ones, dt, conv, f"'{name}'", notes)
    syn = _Conv("expsyn", n, n, "expsyn", {"tau": _tau_of(a_s, dt)}, gain=g_s / a_s)
    mem = _Conv("expsyn", n, n, "expsyn", {"tau": _tau_of(a_m, dt)}, gain=k / a_m)
    return syn, mem


def _convert_spiking(name: str, node: nir.NIRNode, dt: float, conv: str, notes: list[str]
                     ) -> _Conv | str:
    thr = _vec(node.threshold if isinstance(node, nir.Threshold) else node.v_threshold)
    if thr.ndim != 1:
        return f"shape {thr.shape} (only 1-D neuron layers)"
    n = thr.size
    if np.any(thr <= 0):
        return "threshold <= 0 (rpgraph lif needs positive thresholds)"
    ones = np.ones(n)
    a_s = np.full(n, _INSTANT)  # instantaneous synapse unless CubaLIF
    g_s = ones
    bias = np.zeros(n)
    if isinstance(node, nir.Threshold):
        a_m, k = np.full(n, _INSTANT), ones
        notes.append(f"'{name}' (Threshold): approximated by a lif with instantaneous "
                     "membrane and synapse (2**-20 memory of the last step)")
    elif isinstance(node, nir.IF):
        a_m, k = ones, _vec(node.r) * dt * ones
    else:
        tau_m = _vec(node.tau_mem if isinstance(node, nir.CubaLIF) else node.tau) * ones
        a_m, k, bias = _membrane(node, tau_m, dt, conv, f"'{name}'", notes)
        if isinstance(node, nir.CubaLIF):
            a_s, g_s = _synapse(node, ones, dt, conv, f"'{name}'", notes)
    params = {"tau_mem": _tau_of(a_m, dt), "tau_syn": _tau_of(a_s, dt).reshape(n, 1),
              "bias": bias, "threshold": thr.copy()}
    meta = getattr(node, "metadata", {})
    # NIR sets v to v_reset after a spike; Rockpool (and rpgraph's default) subtracts the
    # threshold instead. Rockpool-convention graphs keep Rockpool's reset unless the node
    # says otherwise (rpgraph writes its reset into each node's metadata).
    reset = _meta_str(meta, "rpgraph_reset") or ("subtract" if conv == "rockpool"
                                                  else "v_reset")
    if reset == "v_reset":
        v_reset = getattr(node, "v_reset", None)
        params["v_reset"] = (np.zeros(n) if v_reset is None else _vec(v_reset) * ones).copy()
        return _Conv("lif", n, n, "lif(reset = v_reset)", params, gain=k * g_s / a_s)
    max_spikes = _meta_float(meta, "rpgraph_max_spikes_per_dt", 1.0)
    ms = "1" if max_spikes == 1.0 else repr(max_spikes)
    return _Conv("lif", n, n, f"lif(max_spikes_per_dt = {ms})", params,
                 gain=k * g_s / a_s)


def _meta_float(meta: Any, key: str, default: float) -> float:
    text = _meta_str(meta, key)
    try:
        return default if text is None else float(text)
    except ValueError:
        return default


# --- import: structure -----------------------------------------------------------------------


@dataclass
class _Node:
    key: str  # unique id: NIR path joined with "/"
    scope: str  # key of the enclosing block node ("" for the network)
    name: str  # rpgraph identifier inside its scope
    role: str  # input, output, port_in, port_out, module, block
    nir_type: str
    nir_path: str
    conv: _Conv | None = None
    size: int = 0


@dataclass
class _Import:
    dt: float
    convention: str
    nodes: dict[str, _Node] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (u, v, scope)
    blocks: dict[str, str] = field(default_factory=dict)  # block node key -> block name
    bad: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    taken: dict[str, set[str]] = field(default_factory=dict)  # scope -> names in use


def _ident(raw: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", raw) or "node"
    if s[0].isdigit():
        s = "n" + s
    if s in _RESERVED or s in KINDS or s in INITIALISERS or s in ACTIVATIONS:
        s += "_"
    return s


def _claim(imp: _Import, scope: str, raw: str) -> str:
    taken = imp.taken.setdefault(scope, set())
    name = _unique(_ident(raw), taken | set(imp.blocks.values()))
    taken.add(name)
    return name


def _add(imp: _Import, key: str, scope: str, raw: str, role: str, node: nir.NIRNode,
         path: str, conv: _Conv | None = None, size: int = 0) -> None:
    imp.nodes[key] = _Node(key, scope, _claim(imp, scope, raw), role, type(node).__name__,
                           path, conv, size)


def _shape_size(t: Any) -> int:
    a = np.asarray(t.get("input", t.get("output")) if isinstance(t, Mapping) else t)
    return int(np.prod(a)) if a.size else 0


def _load(imp: _Import, graph: nir.NIRGraph, prefix: str, scope: str, mode: str,
          flat_prefix: str) -> tuple[dict[str, str], dict[str, str]]:
    """Add ``graph``'s nodes and edges. ``mode``: ``top`` (ports are network ports),
    ``block`` (ports are block ports), ``flat`` (ports become identity junctions).
    Returns the keys of its Input and Output nodes by NIR name."""
    ins: dict[str, str] = {}
    outs: dict[str, str] = {}
    ends: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    for name, node in graph.nodes.items():
        key, path = prefix + name, (prefix + name).replace("/", ".")
        raw = flat_prefix + name
        if isinstance(node, (nir.Input, nir.Output)):
            is_in = isinstance(node, nir.Input)
            size = _shape_size(node.input_type if is_in else node.output_type)
            (ins if is_in else outs)[name] = key
            if mode == "flat":
                conv = _Conv("identity", size, size, "identity")
                _add(imp, key, scope, raw, "module", node, path, conv, size)
            else:
                role = ("input" if is_in else "output") if mode == "top" else (
                    "port_in" if is_in else "port_out")
                _add(imp, key, scope, raw, role, node, path, size=size)
        elif isinstance(node, nir.NIRGraph):
            n_in = sum(isinstance(v, nir.Input) for v in node.nodes.values())
            n_out = sum(isinstance(v, nir.Output) for v in node.nodes.values())
            if n_in == 1 and n_out == 1:
                _add(imp, key, scope, raw, "block", node, path)
                # rpgraph writes each block instance's block name into its metadata
                base = _meta_str(getattr(node, "metadata", {}), "rpgraph_block")
                imp.blocks[key] = _unique(_ident(base or name + "_graph"),
                                          set(imp.blocks.values()) | _all_names(imp))
                ends[name] = _load(imp, node, key + "/", key, "block", "")
            else:
                imp.notes.append(f"subgraph '{path}' has {n_in} inputs and {n_out} outputs: "
                                 "flattened (a block has exactly one of each)")
                ends[name] = _load(imp, node, key + "/", scope, "flat", raw + "__")
        elif (bad := _bad_values(node)) is not None:
            imp.bad.append(f"'{path}' ({type(node).__name__}: {bad})")
        elif isinstance(node, nir.CubaLI):  # two nodes: edges in reach the synapse
            pair = _convert_cuba_li(path, node, imp.dt, imp.convention, imp.notes)
            if isinstance(pair, str):
                imp.bad.append(f"'{path}' (CubaLI: {pair})")
                continue
            syn = key + "#syn"
            imp.nodes[syn] = _Node(syn, scope, _claim(imp, scope, raw + "_syn"), "module",
                                   "CubaLI synapse", path, pair[0])
            imp.nodes[key] = _Node(key, scope, _claim(imp, scope, raw), "module",
                                   "CubaLI membrane", path, pair[1])
            imp.edges.append((syn, key, scope))
            ends[name] = ({"input": syn}, {"output": key})
        else:
            res = _convert(path, node, imp.dt, imp.convention, imp.notes)
            if isinstance(res, str):
                imp.bad.append(f"'{path}' ({type(node).__name__}: {res})")
                continue
            _add(imp, key, scope, raw, "module", node, path, res)
    for u, v in graph.edges:
        ku = _endpoint(prefix, u, ends, 1)
        kv = _endpoint(prefix, v, ends, 0)
        if ku is not None and kv is not None:
            imp.edges.append((ku, kv, scope))
    return ins, outs


def _all_names(imp: _Import) -> set[str]:
    return set().union(*imp.taken.values()) if imp.taken else set()


def _endpoint(prefix: str, name: str, ends: dict[str, tuple[dict[str, str], dict[str, str]]],
              side: int) -> str | None:
    """Key of an edge end: a subgraph name resolves to its single Output (``side = 1``) or
    Input (``side = 0``); ``sub.port`` to that port."""
    head, _, port = name.partition(".")
    if head in ends:
        ports = ends[head][side]
        if port:
            return ports.get(port, prefix + name)
        if len(ports) == 1:
            return next(iter(ports.values()))
        raise SpecError(f"NIR edge names subgraph '{name}' which has {len(ports)} "
                        f"{'outputs' if side else 'inputs'}; name one as '{name}.<port>'")
    return prefix + name


def _fold_gains(imp: _Import) -> None:
    """Fold every neuron's input gain into its incoming linear weights, or insert a frozen
    diagonal ``linear`` in front of it."""
    preds: dict[str, list[str]] = {k: [] for k in imp.nodes}
    succs: dict[str, list[str]] = {k: [] for k in imp.nodes}
    for u, v, _ in imp.edges:
        if u in imp.nodes and v in imp.nodes:
            preds[v].append(u)
            succs[u].append(v)
    for key, node in list(imp.nodes.items()):
        c = node.conv
        if c is None or c.gain is None:
            continue
        gain = c.gain
        c.gain = None
        if np.allclose(gain, 1.0, rtol=1e-12, atol=0):
            continue
        feeders: list[str] = []
        if _feeders(imp, key, preds, succs, feeders, set()) and feeders:
            for f in feeders:
                fc = imp.nodes[f].conv
                assert fc is not None
                fc.params["weight"] = fc.params["weight"] * gain[None, :]
                if "bias" in fc.params:
                    fc.params["bias"] = fc.params["bias"] * gain
            continue
        gkey = key + "#in"
        gname = _claim(imp, node.scope, node.name.rstrip("_") + "_in")
        conv = _Conv("linear", c.size_in, c.size_in, f"linear({c.size_in})",
                     {"weight": np.diag(gain)}, frozen=("weight",))
        imp.nodes[gkey] = _Node(gkey, node.scope, gname, "module", "(input gain)",
                                node.nir_path + " input gain", conv)
        imp.edges = [(u, gkey if v == key else v, s) for u, v, s in imp.edges]
        imp.edges.append((gkey, key, node.scope))
        preds[gkey], succs[gkey] = preds[key], [key]
        preds[key] = [gkey]
        imp.notes.append(f"'{node.nir_path}': input gain kept as a frozen diagonal linear "
                         f"'{gname}' (its inputs are not linear nodes used only there)")


def _feeders(imp: _Import, key: str, preds: dict[str, list[str]],
             succs: dict[str, list[str]], out: list[str], seen: set[str]) -> bool:
    for p in preds[key]:
        if p in seen:
            return False
        seen.add(p)
        node = imp.nodes[p]
        if len(succs[p]) != 1:
            return False
        if node.role in ("port_in", "port_out") or (
                node.conv is not None and node.conv.kind == "identity"):
            if not _feeders(imp, p, preds, succs, out, seen):
                return False
        elif node.conv is not None and node.conv.kind == "linear":  # Scale stays diagonal
            out.append(p)
        else:
            return False
    return True


def _full_name(imp: _Import, key: str) -> str:
    node = imp.nodes[key]
    if not node.scope:
        return node.name
    return _full_name(imp, node.scope) + "." + node.name


def _through_block(imp: _Import, key: str, scope: str) -> str:
    """Where a chain goes on from ``key``: past a child block, from that block's output."""
    node = imp.nodes[key]
    if node.scope != scope and node.role == "port_in":
        return next(n.key for n in imp.nodes.values()
                    if n.scope == node.scope and n.role == "port_out")
    return key


def _emit_body(imp: _Import, scope: str, indent: str) -> list[str]:
    lines: list[str] = []
    members = [n for n in imp.nodes.values() if n.scope == scope]
    for n in members:
        if n.role in ("input", "output"):
            lines.append(f"{indent}{n.role} {n.name} : {n.size}")
        elif n.role in ("port_in", "port_out"):
            lines.append(f"{indent}{'input' if n.role == 'port_in' else 'output'} {n.name}")

    def text(key: str, declared: set[str]) -> str:
        node = imp.nodes[key]
        if node.scope != scope:  # a port of a child block: refer to the block instance
            node = imp.nodes[node.scope]
        if node.role in ("input", "output", "port_in", "port_out") or node.key in declared:
            return node.name
        declared.add(node.key)
        if node.role == "block":
            return f"{node.name}: {imp.blocks[node.key]}"
        assert node.conv is not None
        return f"{node.name}: {node.conv.call}"

    declared: set[str] = set()
    edges = [(u, v) for u, v, s in imp.edges if s == scope]
    used = [False] * len(edges)
    for i, (u, v) in enumerate(edges):
        if used[i]:
            continue
        used[i] = True
        chain = [u, v]
        while imp.nodes[chain[-1]].role not in ("output", "port_out"):
            tail = _through_block(imp, chain[-1], scope)
            nxt = next((j for j, (a, _) in enumerate(edges)
                        if not used[j] and a == tail), None)
            if nxt is None:
                break
            used[nxt] = True
            chain.append(edges[nxt][1])
        lines.append(indent + " -> ".join(text(k, declared) for k in chain))
    for n in members:  # nodes no edge mentions (rpgraph will report them unreachable)
        if n.role in ("module", "block") and n.key not in declared:
            lines.append(indent + text(n.key, declared))
    return lines


def _dedupe_blocks(imp: _Import) -> list[tuple[str, tuple[str, ...]]]:
    """Give block instances whose bodies read the same one block (an rpgraph export writes
    each instance of ``res`` as its own subgraph); returns ``(key, body lines)`` of the
    blocks to define, in order. Innermost first, so a body is compared once its own blocks
    have their final names (which also makes each body final when it is computed)."""

    def depth(key: str) -> int:
        scope = imp.nodes[key].scope
        return 0 if not scope else 1 + depth(scope)

    keys = list(imp.blocks)
    first: dict[tuple[str, ...], str] = {}
    for key in sorted(keys, key=depth, reverse=True):  # stable: insertion order per depth
        body = tuple(_emit_body(imp, key, "    "))
        if body in first:
            imp.blocks[key] = imp.blocks[first[body]]
        else:
            first[body] = key
    bodies = {k: b for b, k in first.items()}
    return [(k, bodies[k]) for k in keys if k in bodies]


def nir_to_spec(graph: nir.NIRGraph, dt: float, convention: str = "auto",
                name: str | None = None, source: str = "<graph>") -> tuple[str, Params]:
    """The ``.rpg`` spec text and parameter dict equivalent to a NIR graph.

    The text holds the structure and sizes only (parameter values are in the returned
    dict, keyed by rpgraph node id like :meth:`Program.init`), with a header comment
    naming the source, the convention and each NIR node's rpgraph name. See the module
    docstring for the conventions and the approximations (each is also warned about).

    >>> g = nir.NIRGraph(nodes={"x": nir.Input(np.array([2])), "w": nir.Linear(np.eye(2)),
    ...                         "y": nir.Output(np.array([2]))}, edges=[("x", "w"), ("w", "y")])
    >>> text, params = nir_to_spec(g, dt=1e-3)
    >>> print(text.splitlines()[-2])
        x -> w: linear(2) -> y
    >>> params["w"]["weight"].tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    if not isinstance(graph, nir.NIRGraph):
        raise SpecValueError(f"Expected a nir.NIRGraph, got {type(graph).__name__}")
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise SpecValueError(f"Expected a positive time step dt in seconds, got {dt!r}",
                             hint="NIR is continuous-time: pass the step to simulate with")
    if convention not in CONVENTIONS:
        raise SpecValueError(f"unknown NIR convention '{convention}'",
                             hint=f"use one of {', '.join(CONVENTIONS)}")
    meta = getattr(graph, "metadata", {})
    meta_dt = _meta_float(meta, "dt", float("nan"))
    if math.isfinite(meta_dt) and not math.isclose(meta_dt, dt, rel_tol=1e-9):
        warnings.warn(f"the NIR graph was exported with dt = {meta_dt:g} s; importing with "
                      f"dt = {dt:g} s", stacklevel=2)
    conv = detect_convention(graph, dt) if convention == "auto" else convention
    imp = _Import(float(dt), conv)
    _load(imp, graph, "", "", "top", "")
    if imp.bad:
        raise SpecError(f"cannot import NIR graph: {len(imp.bad)} unsupported node"
                        f"{'s' if len(imp.bad) != 1 else ''}: {', '.join(imp.bad)}",
                        hint="supported: " + ", ".join(t.__name__ for t in _SUPPORTED))
    for key, node in imp.nodes.items():
        if node.role == "block":
            sub = [n for n in imp.nodes.values() if n.scope == key]
            if not any(n.role == "port_in" for n in sub):
                raise SpecError(f"subgraph '{node.nir_path}' has no input")
    if not any(n.role == "input" for n in imp.nodes.values()):
        raise SpecError("the NIR graph has no Input node")
    _fold_gains(imp)
    subtract = [n.nir_path for n in imp.nodes.values() if n.conv is not None
                and n.conv.kind == "lif" and "reset" not in n.conv.call]
    if subtract and _meta_str(meta, "source") != "rpgraph":
        imp.notes.append(f"{', '.join(repr(p) for p in subtract)}: Rockpool convention, so "
                         "after a spike the threshold is subtracted (Rockpool's reset, firing "
                         "on v >= thr), not v set to v_reset (NIR's)")
    for note in imp.notes:
        warnings.warn(f"NIR import: {note}", stacklevel=2)

    net_name = _ident(name or _meta_str(meta, "network") or "nir_import")
    frozen: list[str] = []
    params: Params = {}
    for key, node in imp.nodes.items():
        if node.conv is not None and node.conv.params:
            full = _full_name(imp, key)
            params[full] = {k: np.asarray(v, np.float32) for k, v in node.conv.params.items()}
            frozen += [f"{full}.{p}" for p in node.conv.frozen]
    head = [f"# Imported from NIR ({source}) with rpgraph.nir_io: convention '{conv}', "
            f"dt = {dt!r} s.",
            "# Structure and sizes only: parameter values come with the params dict.",
            "# NIR node -> rpgraph node:"]
    for key, node in imp.nodes.items():
        if node.role not in ("block",) and node.nir_type != "(input gain)":
            head.append(f"#   {node.nir_path} ({node.nir_type}) -> {_full_name(imp, key)}")
    out = head
    for key, body in _dedupe_blocks(imp):
        out += ["", f"block {imp.blocks[key]} {{", *body, "}"]
    out += ["", f"network {net_name} (dt = {dt!r}) {{", *_emit_body(imp, "", "    "), "}"]
    if frozen:
        out += ["", "train {", f"    freeze = [{', '.join(frozen)}]", "}"]
    return "\n".join(out) + "\n", params


def from_nir(graph_or_path: nir.NIRGraph | str | Path, dt: float, convention: str = "auto",
             name: str | None = None) -> tuple[Network, Params]:
    """Import a NIR graph (or ``.nir`` file) as a checked :class:`Network` and parameters.

    ``dt`` (seconds) is required: NIR is continuous-time. ``convention`` says how NIR's
    ``tau``, ``r``, ``w_in`` and ``v_leak`` become discrete-time parameters: ``"norse"``,
    ``"snntorch"``, ``"rockpool"`` or ``"auto"`` (see the module docstring). The returned
    params fit ``rpgraph.compile(net)`` (checked here); ``net.source`` is the spec text.

    >>> import rpgraph
    >>> path = "../shared/nir/braille_subgraph_snntorch.nir"
    >>> net, params = from_nir(path, dt=1e-4)  # doctest: +SKIP
    >>> prog = rpgraph.compile(net)  # doctest: +SKIP
    >>> y, state, rec = prog.evolve(params, np.zeros((100, 12), np.float32))  # doctest: +SKIP
    """
    from .graph import loads

    source = "<graph>"
    if isinstance(graph_or_path, (str, Path)):
        source = str(graph_or_path)
        graph = read_nir(graph_or_path)
        if name is None:
            name = Path(graph_or_path).stem
    else:
        graph = graph_or_path
    text, params = nir_to_spec(graph, dt, convention, name, source)
    net = loads(text, filename=f"{source} (imported)")
    Program(net).check_params(params)
    return net, params
