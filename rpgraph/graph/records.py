"""The typed records stored on the nodes of a module graph.

Each node ``n`` of :attr:`Network.graph <rpgraph.graph.Network.graph>` carries its record as
``g.nodes[n]["node"]`` and its kind of node as ``g.nodes[n]["type"]`` (one of
:data:`NODE_TYPES`). Records are frozen: a pass that changes one replaces it with
:func:`dataclasses.replace` (see :func:`put`). Data edges carry ``type="data"``,
``recurrent`` (one-step delay) and ``span``; parameter edges ``type="param"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import networkx as nx

from ..errors import Span
from ..modules import Init

#: The ``type`` strings of graph nodes, as stored in ``g.nodes[n]["type"]``.
NODE_TYPES = ("input", "output", "junction", "module", "param")


@dataclass(frozen=True)
class PortNode:
    """A network ``input``/``output``, or a block's own input or output (``junction``: an
    identity that sums what flows in).

    ``size`` is 0 until size inference for a junction declared without one; ``declared`` is
    the size written in the spec (``None`` when a junction omits it). ``direction`` and
    ``block`` say which side of which block a junction is.

    >>> p = PortNode("x", "input", 4, Span(1, 1, 1, 2), declared=4)
    >>> p.size_in, p.size_out
    (4, 4)
    """

    name: str
    role: str  # "input" | "output" | "junction"
    size: int
    span: Span
    declared: int | None = None
    direction: str | None = None  # a junction's side of its block: "input" | "output"
    block: str | None = None  # the block a junction belongs to
    # the tensor shape per sample and time step, ``(2, 34, 34)``; ``()`` means the plain
    # vector ``(size,)``; ``size`` is always its product (activity is kept flattened)
    shape: tuple[int, ...] = ()

    @property
    def size_in(self) -> int:
        """A port passes its (summed) input through: both sides have its size."""
        return self.size

    @property
    def size_out(self) -> int:
        return self.size

    @property
    def shape_in(self) -> tuple[int, ...]:
        """The shape of what flows in (and out): ``(2, 34, 34)``, or ``(size,)``."""
        return self.shape or ((self.size,) if self.size else ())

    @property
    def shape_out(self) -> tuple[int, ...]:
        return self.shape_in


@dataclass(frozen=True)
class ModuleNode:
    """One instance of a module kind: ``cfg`` holds its resolved arguments (SI units) plus
    ``dt``; ``size_in``/``size_out`` are 0 until size inference.

    >>> from rpgraph.modules import KINDS
    >>> m = ModuleNode("w", "linear", {"out": 2}, 3, 2, False, Span(1, 1, 1, 2))
    >>> m.size_out, KINDS[m.kind].stateful
    (2, False)
    """

    name: str
    kind: str
    cfg: dict[str, Any]
    size_in: int
    size_out: int
    stateful: bool
    span: Span
    call_span: Span | None = None  # the call (``linear(2)``) inside the element
    arg_spans: dict[str, Span] = field(default_factory=dict)  # where each argument is given
    # tensor shapes per sample (``(16, 17, 17)``); sizes are their products. Empty until
    # size inference; records built with sizes only take the vectors ``(size,)``.
    shape_in: tuple[int, ...] = ()
    shape_out: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        # frozen: set the vector shapes of a record built from sizes alone
        if not self.shape_in and self.size_in:
            object.__setattr__(self, "shape_in", (self.size_in,))
        if not self.shape_out and self.size_out:
            object.__setattr__(self, "shape_out", (self.size_out,))


@dataclass(frozen=True)
class ParamNode:
    """One parameter of a module (id ``"<module>.<name>"``): shape, family and initialiser
    from the kind; bounds, enforcement mode and ``trainable`` from the spec.

    ``enforce`` is ``None`` when the spec has no bounds block; ``bound_spans`` lists the
    bounds that apply to it, in order; ``floor`` says the lower bound is the default floor
    of time constants (no bound in the spec names it).

    >>> p = ParamNode("h.tau", "h", "tau", (4,), "taus", Init("constant", (0.02,)))
    >>> p.trainable, p.lower, p.bounded
    (True, -inf, False)
    """

    id: str
    module: str
    name: str
    shape: tuple[int, ...]
    family: str
    init: Init
    trainable: bool = True
    lower: float = -math.inf
    upper: float = math.inf
    enforce: str | None = None
    span: Span | None = None
    bound_spans: tuple[Span, ...] = ()
    floor: bool = False  # the lower bound is the default floor of time constants

    @property
    def bounded(self) -> bool:
        """Whether a finite lower or upper bound applies."""
        return self.lower > -math.inf or self.upper < math.inf


Node: TypeAlias = PortNode | ModuleNode | ParamNode


def type_of(rec: Node) -> str:
    """The ``type`` string stored next to a record.

    >>> type_of(PortNode("y", "output", 2, Span(1, 1, 1, 2)))
    'output'
    """
    if isinstance(rec, PortNode):
        return rec.role
    return "module" if isinstance(rec, ModuleNode) else "param"


def put(g: nx.DiGraph, n: str, rec: Node) -> None:
    """Store (or replace) the record of node ``n``, keeping its place in node order.

    >>> g = nx.DiGraph()
    >>> put(g, "y", PortNode("y", "output", 2, Span(1, 1, 1, 2)))
    >>> g.nodes["y"]["type"], g.nodes["y"]["node"].size
    ('output', 2)
    """
    if n in g:
        g.nodes[n]["node"] = rec
    else:
        g.add_node(n, type=type_of(rec), node=rec)


def record(g: nx.DiGraph, n: str) -> Node:
    """The record of node ``n``.

    >>> g = nx.DiGraph()
    >>> put(g, "x", PortNode("x", "input", 4, Span(1, 1, 1, 2)))
    >>> record(g, "x").size
    4
    """
    rec: Node = g.nodes[n]["node"]
    return rec
