"""The typed syntax tree of a .rpg spec.

:mod:`rpgraph.parse` builds it from text; :mod:`rpgraph.graph` turns it into a module graph;
:mod:`rpgraph.fmt` prints it back canonically. Nodes are frozen dataclasses; every node
carries the :class:`~rpgraph.errors.Span` it came from so later stages can point at it.
Expressions are kept unevaluated: their meaning (units, simulation parameters, block
arguments) is resolved by the graph builder.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import Span

NOWHERE = Span(0, 0, 0, 0)


# --- expressions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    """A number with an optional unit: ``20 ms`` is ``Num(20.0, "ms")``.

    ``text`` is the number as written (``1e-3``), which the formatter keeps; it is empty
    for numbers built in code, and, like the span, not part of equality.
    """

    value: float
    unit: str | None = None
    is_int: bool = False
    span: Span = field(default=NOWHERE, compare=False)
    text: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class Bool:
    value: bool
    span: Span = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class Str:
    value: str
    span: Span = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class Name:
    """A bare name (``dt``, ``tanh``, ``params``, ``y``)."""

    id: str
    span: Span = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class Ref:
    """A dotted reference, possibly with ``*`` wildcards: ``hidden.tau``, ``*.tau``."""

    parts: tuple[str, ...]
    span: Span = field(default=NOWHERE, compare=False)

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Call:
    """``func(args..., key = value...)``: a module, initialiser, loss term or optimizer."""

    func: str
    args: tuple[Expr, ...] = ()
    kwargs: tuple[tuple[str, Expr], ...] = ()
    span: Span = field(default=NOWHERE, compare=False)
    func_span: Span = field(default=NOWHERE, compare=False)
    key_spans: tuple[Span, ...] = field(default=(), compare=False)  # of each keyword's name

    def kwarg(self, name: str) -> Expr | None:
        for key, value in self.kwargs:
            if key == name:
                return value
        return None

    def key_span(self, i: int) -> Span:
        """Where the ``i``-th keyword's name is (its value's span if unknown)."""
        if i < len(self.key_spans):
            return self.key_spans[i]
        return getattr(self.kwargs[i][1], "span", self.span)


@dataclass(frozen=True)
class BinOp:
    """``left op right`` with ``op`` one of ``+ - * / **``."""

    op: str
    left: Expr
    right: Expr
    span: Span = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class Neg:
    operand: Expr
    span: Span = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class ListExpr:
    items: tuple[Expr, ...]
    span: Span = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class TupleExpr:
    """``(a, b, ...)`` with at least one comma: a tensor shape ``(2, 34, 34)`` or a pair of
    sizes (``kernel = (3, 3)``)."""

    items: tuple[Expr, ...]
    span: Span = field(default=NOWHERE, compare=False)


Expr = Num | Bool | Str | Name | Ref | Call | BinOp | Neg | ListExpr | TupleExpr


# --- network bodies --------------------------------------------------------------------------


@dataclass(frozen=True)
class Port:
    """``input x : 2000`` / ``output y : 2``; ``size`` may be omitted inside blocks."""

    direction: str  # "input" | "output"
    name: str
    size: Expr | None
    span: Span = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class Element:
    """One element of a chain: a reference to a node, or an inline module call.

    ``hidden: rate(tau = 20 ms)`` is ``Element(label="hidden", target=Call(...))``;
    ``x`` is ``Element(label=None, target=Name("x"))``.
    """

    label: str | None
    target: Name | Call
    span: Span = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class Chain:
    """``a -> b -> c``: data flows along consecutive elements."""

    elements: tuple[Element, ...]
    span: Span = field(default=NOWHERE, compare=False)


Stmt = Port | Chain


@dataclass(frozen=True)
class Param:
    """A block parameter, ``n`` or ``act = tanh``."""

    name: str
    default: Expr | None = None
    span: Span = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class Block:
    """``block NAME(params) { body }``: a reusable sub-network with one input and one output."""

    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class Network:
    """``network NAME (dt = 1 ms, ...) { body }``."""

    name: str
    sim: tuple[tuple[str, Expr], ...]
    body: tuple[Stmt, ...]
    span: Span = field(default=NOWHERE, compare=False)


# --- bounds and training ---------------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """``node.param >= lo``, ``node.param <= hi`` or ``node.param in [lo, hi]``.

    ``enforce`` is ``None`` (use the block's default) or ``"penalty" | "project" | "both"``.
    """

    target: Ref
    lower: Expr | None
    upper: Expr | None
    enforce: str | None = None
    span: Span = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class Setting:
    """``key = expr`` inside ``train { }`` (or ``enforce = project`` inside ``bounds { }``)."""

    key: str
    value: Expr
    span: Span = field(default=NOWHERE, compare=False)


@dataclass(frozen=True)
class Bounds:
    bounds: tuple[Bound, ...]
    settings: tuple[Setting, ...] = ()
    span: Span = field(default=NOWHERE, compare=False)

    @property
    def enforce(self) -> str | None:
        """The block's default mode, from ``enforce = MODE`` (the parser checked MODE is one
        of :data:`rpgraph.vocab.ENFORCE_MODES`), or ``None`` when not given."""
        for s in self.settings:
            if s.key == "enforce" and isinstance(s.value, Name):
                return s.value.id
        return None


@dataclass(frozen=True)
class Train:
    settings: tuple[Setting, ...]
    span: Span = field(default=NOWHERE, compare=False)

    def get(self, key: str) -> Setting | None:
        for s in self.settings:
            if s.key == key:
                return s
        return None


@dataclass(frozen=True)
class Spec:
    """A whole .rpg file: block definitions, one network, optional bounds and train blocks."""

    network: Network
    blocks: tuple[Block, ...] = ()
    bounds: Bounds | None = None
    train: Train | None = None
    source: str = field(default="", compare=False, repr=False)
    filename: str = field(default="<string>", compare=False)
