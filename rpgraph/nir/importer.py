"""Import: a NIR graph -> an rpgraph spec (an :class:`~rpgraph.ast.Spec`, printed with
:func:`~rpgraph.fmt.format_spec`) and a parameter dict.

:func:`~rpgraph.nir.model.load_graph` reads the graph into rpgraph nodes; this module
builds the syntax tree from them: one ``block`` per distinct subgraph body (an rpgraph
export writes each instance of a block as its own subgraph; instances whose bodies read
the same share one block), the ``network``, and a ``train { freeze = [...] }`` section for
the parameters that must stay fixed (diagonal gains, ``Scale``). The printed spec starts
with a comment naming the source, the convention and each NIR node's rpgraph name.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import nir
import numpy as np

from ..ast import (
    Block,
    Chain,
    Element,
    Expr,
    ListExpr,
    Name,
    Num,
    Port,
    Ref,
    Setting,
    Spec,
    Stmt,
    Train,
    TupleExpr,
)
from ..ast import Network as NetworkDecl
from ..compile import Program
from ..errors import SpecValueError
from ..fmt import format_spec
from ..graph import Network, loads
from .conventions import CONVENTIONS, detect_convention
from .files import read_nir
from .metadata import meta_float, meta_str
from .model import Import, load_graph
from .names import ident

__all__ = ["Params", "from_nir", "nir_to_spec"]

Params = dict[str, dict[str, np.ndarray]]

_PORTS = ("input", "output", "port_in", "port_out")


def _through_block(imp: Import, key: str, scope: str) -> str:
    """Where a chain goes on from ``key``: past a child block, from that block's output."""
    node = imp.nodes[key]
    if node.scope != scope and node.role == "port_in":
        return next(n.key for n in imp.nodes.values()
                    if n.scope == node.scope and n.role == "port_out")
    return key


def _ports(imp: Import, scope: str) -> list[Stmt]:
    out: list[Stmt] = []
    for n in imp.nodes.values():
        if n.scope != scope:
            continue
        if n.role in ("input", "output"):
            size: Expr = Num(float(n.size), is_int=True) if len(n.shape) < 2 else TupleExpr(
                tuple(Num(float(d), is_int=True) for d in n.shape))
            out.append(Port(n.role, n.name, size))
        elif n.role in ("port_in", "port_out"):
            out.append(Port("input" if n.role == "port_in" else "output", n.name, None))
    return out


def _body(imp: Import, scope: str) -> tuple[Stmt, ...]:
    """The statements of a scope's body: its ports, then its edges as chains (each node
    declared where it first appears), then the nodes no edge mentions."""
    declared: set[str] = set()

    def element(key: str) -> Element:
        node = imp.nodes[key]
        if node.scope != scope:  # a port of a child block: refer to the block instance
            node = imp.nodes[node.scope]
        if node.role in _PORTS or node.key in declared:
            return Element(None, Name(node.name))
        declared.add(node.key)
        if node.role == "block":
            return Element(node.name, Name(imp.blocks[node.key]))
        assert node.conv is not None
        return Element(node.name, node.conv.call)

    stmts = _ports(imp, scope)
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
        stmts.append(Chain(tuple(element(k) for k in chain)))
    for n in imp.nodes.values():  # nodes no edge mentions (rpgraph will report them)
        if n.scope == scope and n.role in ("module", "block") and n.key not in declared:
            stmts.append(Chain((element(n.key),)))
    return tuple(stmts)


def _blocks(imp: Import) -> tuple[Block, ...]:
    """One block per distinct body, giving instances whose bodies read the same one block
    name; in the order the blocks were met. Innermost first, so a body is compared once
    its own blocks have their final names (which also makes each body final when it is
    built)."""

    def depth(key: str) -> int:
        scope = imp.nodes[key].scope
        return 0 if not scope else 1 + depth(scope)

    keys = list(imp.blocks)
    first: dict[tuple[Stmt, ...], str] = {}
    for key in sorted(keys, key=depth, reverse=True):  # stable: insertion order per depth
        body = _body(imp, key)
        if body in first:
            imp.blocks[key] = imp.blocks[first[body]]
        else:
            first[body] = key
    bodies = {k: b for b, k in first.items()}
    return tuple(Block(imp.blocks[k], (), bodies[k]) for k in keys if k in bodies)


def _full_name(imp: Import, key: str) -> str:
    node = imp.nodes[key]
    if not node.scope:
        return node.name
    return _full_name(imp, node.scope) + "." + node.name


def _params(imp: Import) -> tuple[Params, list[str]]:
    """The parameter dict by rpgraph node id, and the ids of the frozen parameters."""
    params: Params = {}
    frozen: list[str] = []
    for key, node in imp.nodes.items():
        if node.conv is not None and node.conv.params:
            full = _full_name(imp, key)
            params[full] = {k: np.asarray(v, np.float32) for k, v in node.conv.params.items()}
            frozen += [f"{full}.{p}" for p in node.conv.frozen]
    return params, frozen


def _header(imp: Import, source: str, dt: float) -> list[str]:
    head = [f"# Imported from NIR ({source}) with rpgraph.nir: convention "
            f"'{imp.convention}', dt = {dt!r} s.",
            "# Structure and sizes only: parameter values come with the params dict.",
            "# NIR node -> rpgraph node:"]
    for key, node in imp.nodes.items():
        if node.role != "block" and node.nir_type != "(input gain)":
            head.append(f"#   {node.nir_path} ({node.nir_type}) -> {_full_name(imp, key)}")
    return head


def _check_args(graph: nir.NIRGraph, dt: float, convention: str) -> None:
    if not isinstance(graph, nir.NIRGraph):
        raise SpecValueError(f"Expected a nir.NIRGraph, got {type(graph).__name__}")
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise SpecValueError(f"Expected a positive time step dt in seconds, got {dt!r}",
                             hint="NIR is continuous-time: pass the step to simulate with")
    if convention not in CONVENTIONS:
        raise SpecValueError(f"unknown NIR convention '{convention}'",
                             hint=f"use one of {', '.join(CONVENTIONS)}")


def nir_to_spec(graph: nir.NIRGraph, dt: float, convention: str = "auto",
                name: str | None = None, source: str = "<graph>") -> tuple[str, Params]:
    """The ``.rpg`` spec text and parameter dict equivalent to a NIR graph.

    The text holds the structure and sizes only (parameter values are in the returned
    dict, keyed by rpgraph node id like :meth:`Program.init`), with a header comment
    naming the source, the convention and each NIR node's rpgraph name. See
    :mod:`rpgraph.nir` for the mapping and the approximations (each is warned about with
    :func:`warnings.warn`).

    >>> g = nir.NIRGraph(nodes={"x": nir.Input(np.array([2])), "w": nir.Linear(np.eye(2)),
    ...                         "y": nir.Output(np.array([2]))}, edges=[("x", "w"), ("w", "y")])
    >>> text, params = nir_to_spec(g, dt=1e-3)
    >>> print(text.splitlines()[-2])
        x -> w: linear(2) -> y
    >>> params["w"]["weight"].tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    _check_args(graph, dt, convention)
    meta = getattr(graph, "metadata", {})
    meta_dt = meta_float(meta, "dt", float("nan"))
    if math.isfinite(meta_dt) and not math.isclose(meta_dt, dt, rel_tol=1e-9):
        warnings.warn(f"the NIR graph was exported with dt = {meta_dt:g} s; importing with "
                      f"dt = {dt:g} s", stacklevel=2)
    conv = detect_convention(graph, dt) if convention == "auto" else convention
    imp = load_graph(graph, float(dt), conv, from_rpgraph=meta_str(meta, "source") == "rpgraph")
    for note in imp.notes:
        warnings.warn(f"NIR import: {note}", stacklevel=2)
    params, frozen = _params(imp)
    blocks = _blocks(imp)
    network = NetworkDecl(ident(name or meta_str(meta, "network") or "nir_import"),
                          (("dt", Num(float(dt))),), _body(imp, ""))
    train = None
    if frozen:
        refs = ListExpr(tuple(Ref(tuple(f.split("."))) for f in frozen))
        train = Train((Setting("freeze", refs),))
    spec = Spec(network, blocks, train=train)
    head = "\n".join(_header(imp, source, dt))
    return head + "\n\n" + format_spec(spec, keep_comments=False), params


def from_nir(graph_or_path: nir.NIRGraph | str | Path, dt: float, convention: str = "auto",
             name: str | None = None) -> tuple[Network, Params]:
    """Import a NIR graph (or ``.nir`` file) as a checked :class:`Network` and parameters.

    ``dt`` (seconds) is required: NIR is continuous-time. ``convention`` says how NIR's
    ``tau``, ``r``, ``w_in`` and ``v_leak`` become discrete-time parameters: ``"nir"``,
    ``"norse"``, ``"snntorch"`` (these three: forward Euler), ``"rockpool"`` or ``"auto"``
    (see :mod:`rpgraph.nir.conventions`). The
    returned params fit ``rpgraph.compile(net)`` (checked here); ``net.source`` is the
    spec text.

    >>> import rpgraph
    >>> g = nir.NIRGraph(nodes={"x": nir.Input(np.array([2])), "w": nir.Linear(np.eye(2)),
    ...                         "y": nir.Output(np.array([2]))}, edges=[("x", "w"), ("w", "y")])
    >>> net, params = from_nir(g, dt=1e-3)
    >>> y, _, _ = rpgraph.compile(net).evolve(params, np.ones((4, 2), np.float32))
    >>> y.shape
    (4, 2)
    """
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
