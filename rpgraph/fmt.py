"""Canonical formatting of .rpg specs (the ``rpgraph fmt`` command).

The output re-parses to an equal :class:`~rpgraph.ast.Spec` and formatting is idempotent.
Layout is fixed: 4-space indentation, one statement per line, ``a -> b -> c`` chains (broken
before ``->`` only where the source breaks them), spaces around operators and ``=``, the
fewest parentheses that keep the tree, numbers as written (``1e-3`` stays ``1e-3``; those
built in code get the shortest spelling that reads back to the same value: ``20 ms``,
``1e-5``, ``1000``), and the sections in the order blocks, network, bounds, train,
separated by blank lines. Settings inside ``bounds { }`` are printed before the bounds
themselves.

Comments are kept. The syntax tree has none, so :func:`format_spec` finds them in the text
the spec was parsed from (``Spec.source``, see :func:`comments`) and places them by the
spans of the nodes:

* a comment on a line of its own stays on its own line, before the statement, section or
  closing ``}`` that follows it, indented like that line (comments at the end of a body
  stay before its ``}``, at the body's indentation; those after the last section stay at
  the end of the file, after a blank line);
* a comment after code stays after that line's formatted statement (or section header, or
  ``}``), two spaces before the ``#``;
* a statement or section header that spans several lines is joined into one line (except
  that a chain keeps its line breaks before ``->``, the continuation lines indented one
  level deeper), and the comments inside it move to their own lines just above it, except
  the last comment after code, which stays at its end;
* one blank line that separates a comment from what precedes or follows it is kept (but
  never right after ``{``, before ``}`` or at the top of the file); other blank lines inside
  bodies are dropped, and sections are always separated by exactly one.

Comment text is kept as written, less trailing whitespace.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from . import ast
from .errors import Span
from .parse import parse
from .vocab import ATOM, BINARY, NEG

__all__ = ["Comment", "comments", "fmt", "format_spec", "format_expr"]

_INDENT = "    "


def _level(e: ast.Expr) -> int:
    if isinstance(e, ast.BinOp):
        return BINARY[e.op].level
    if isinstance(e, ast.Neg):
        return NEG.level
    return ATOM


def _wrap(e: ast.Expr, need: int) -> str:
    """``e`` as an operand that must bind at least as strongly as ``need``."""
    text = format_expr(e)
    return f"({text})" if _level(e) < need else text


def _number(n: ast.Num) -> str:
    """As written, if it was (and still reads back to its value), else canonical."""
    value = float(n.value)
    if n.text and n.text.isdigit() == n.is_int and float(n.text) == value:
        text = n.text
    elif n.is_int and value.is_integer():
        text = str(int(value))
    else:
        text = _float(value)
    return f"{text} {n.unit}" if n.unit else text


def _float(value: float) -> str:
    """Shortest round-tripping text, as ``1e-4`` rather than ``0.0001`` where that is shorter.

    ``repr`` gives the fewest digits that read back exactly; only its layout is changed.
    A float always keeps a '.' or an exponent, so it never reads back as an integer.
    """
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    if exponent:  # 1e-05 -> 1e-5, 1.5e+300 -> 1.5e300
        return f"{mantissa}e{int(exponent)}"
    short = _scientific(value)
    return short if len(short) + 2 <= len(text) else text


def _scientific(value: float) -> str:
    for places in range(17):
        text = f"{value:.{places}e}"
        if float(text) == value:
            mantissa, _, exponent = text.partition("e")
            return f"{mantissa}e{int(exponent)}"
    return repr(value)


def _string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _args(args: tuple[ast.Expr, ...], kwargs: tuple[tuple[str, ast.Expr], ...]) -> str:
    parts = [format_expr(a) for a in args]
    parts += [f"{key} = {format_expr(value)}" for key, value in kwargs]
    return ", ".join(parts)


def format_expr(e: ast.Expr) -> str:
    """One expression in canonical form.

    >>> format_expr(ast.BinOp("*", ast.Num(10, is_int=True), ast.Name("dt")))
    '10 * dt'
    """
    if isinstance(e, ast.Num):
        return _number(e)
    if isinstance(e, ast.Bool):
        return "true" if e.value else "false"
    if isinstance(e, ast.Str):
        return _string(e.value)
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Ref):
        return e.text
    if isinstance(e, ast.Call):
        return f"{e.func}({_args(e.args, e.kwargs)})"
    if isinstance(e, ast.ListExpr):
        return "[" + ", ".join(format_expr(i) for i in e.items) + "]"
    if isinstance(e, ast.TupleExpr):
        inner = ", ".join(format_expr(i) for i in e.items)
        return f"({inner},)" if len(e.items) == 1 else f"({inner})"
    if isinstance(e, ast.Neg):
        return NEG.symbol + _wrap(e.operand, NEG.operand)
    if isinstance(e, ast.BinOp):
        # the fewest brackets: a - b - c but a - (b - c); 2 ** 3 ** 2 but (-2) ** 2
        op = BINARY[e.op]
        return f"{_wrap(e.left, op.left)} {e.op} {_wrap(e.right, op.right)}"
    raise TypeError(f"not an rpgraph expression: {e!r}")


def _element(el: ast.Element) -> str:
    target = format_expr(el.target)
    return f"{el.label}: {target}" if el.label else target


def _stmt(s: ast.Stmt) -> _Lines:
    """The lines of a statement, each with the source line it starts on.

    A chain keeps the line breaks its author put before '->' (continuation lines start with
    '->'); everything else is one line.
    """
    if isinstance(s, ast.Port):
        size = "" if s.size is None else f" : {format_expr(s.size)}"
        return [(f"{s.direction} {s.name}{size}", s.span.line)]
    lines = [(_element(s.elements[0]), s.span.line)]
    for prev, el in zip(s.elements, s.elements[1:]):
        text = "-> " + _element(el)
        if 0 < prev.span.end_line < el.span.line:
            lines.append((text, el.span.line))
        else:
            lines[-1] = (f"{lines[-1][0]} {text}", lines[-1][1])
    return lines


def _param(p: ast.Param) -> str:
    return p.name if p.default is None else f"{p.name} = {format_expr(p.default)}"


def _bound(b: ast.Bound) -> str:
    target = b.target.text
    if b.lower is not None and b.upper is not None:
        text = f"{target} in [{format_expr(b.lower)}, {format_expr(b.upper)}]"
    elif b.lower is not None:
        text = f"{target} >= {format_expr(b.lower)}"
    elif b.upper is not None:
        text = f"{target} <= {format_expr(b.upper)}"
    else:
        raise ValueError(f"bound on '{target}' has neither a lower nor an upper limit")
    return text + (f" enforce {b.enforce}" if b.enforce else "")


def _setting(s: ast.Setting) -> str:
    return f"{s.key} = {format_expr(s.value)}"


# --- comments ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Comment:
    """A ``# ...`` comment of a spec's source text, where it is and what it says."""

    line: int  # 1-based, like spans
    column: int  # 1-based, where the '#' is
    text: str  # from '#' to the end of its line, less trailing whitespace
    own_line: bool  # nothing but whitespace before it on its line


# Everything that can hold '#', '"' or '{': strings (skipped), comments and braces. For a
# text that parses this tokenizes exactly as the lexer does: no other token has these.
_SCAN = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|\{')

_Pos = tuple[int, int]  # (line, column), 1-based
_Lines = list[tuple[str, int]]  # printed lines, each with the source line it starts on


def _scan(text: str) -> tuple[list[Comment], list[_Pos]]:
    """The comments of ``text`` and the positions of its ``{``, in source order."""
    found: list[Comment] = []
    braces: list[_Pos] = []
    line, line_start = 1, 0
    for m in _SCAN.finditer(text):
        start = m.start()
        first = m.group()[0]
        if first == '"':
            continue
        line += text.count("\n", line_start, start)
        line_start = text.rfind("\n", 0, start) + 1
        column = start - line_start + 1
        if first == "{":
            braces.append((line, column))
        else:
            own = not text[line_start:start].strip()
            found.append(Comment(line, column, m.group().rstrip(), own))
    return found, braces


def comments(text: str) -> list[Comment]:
    """The comments of a spec's text, in source order (``text`` must parse).

    >>> [c.text for c in comments('# top\\nnetwork n { x -> y  # "#" is a comment\\n}')]
    ['# top', '# "#" is a comment']
    """
    return _scan(text)[0]


@dataclass
class _Slot:
    """One formatted construct (a line, or a chain's lines) and the comments that go with it.

    ``start`` and ``end`` are the source positions of its construct (for a section header,
    ``end`` is its '{'; for a closing brace both are the '}').
    """

    kind: str  # "open" | "item" | "close"
    lines: _Lines
    depth: int  # indentation of the (first) line
    inner: int  # indentation of the comments printed above it
    start: _Pos
    end: _Pos
    above: list[Comment] = field(default_factory=list)
    # per line: comments after it, and (from the 2nd line on) comment lines before it
    trailing: list[list[Comment]] = field(default_factory=list)
    before: list[list[Comment]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.trailing = [[] for _ in self.lines]
        self.before = [[] for _ in self.lines]


def _section(
    head: str, span: Span, items: list[tuple[_Lines, Span]], braces: list[_Pos]
) -> list[_Slot]:
    start = (span.line, span.column)
    k = bisect.bisect_left(braces, start)
    brace = braces[k] if k < len(braces) else start
    slots = [_Slot("open", [(head + " {", span.line)], 0, 0, start, brace)]
    for lines, s in items:
        slots.append(_Slot("item", lines, 1, 1, (s.line, s.column), (s.end_line, s.end_column)))
    close = (span.end_line, span.end_column - 1)
    slots.append(_Slot("close", [("}", close[0])], 0, 1, close, close))
    return slots


def _attach(notes: list[Comment], slots: list[_Slot]) -> list[Comment]:
    """Hand each comment to the line it goes with; return those left for the file's end."""
    order = sorted(slots, key=lambda s: s.start)
    starts = [s.start for s in order]
    at_end: list[Comment] = []
    for c in notes:
        pos = (c.line, c.column)
        k = bisect.bisect_right(starts, pos)  # order[:k] start at or before the comment
        slot = order[max(k - 1, 0)]
        # the slot's line the comment is on, or the first one after it
        part = bisect.bisect_right([line for _, line in slot.lines], c.line)
        if not c.own_line:
            slot.trailing[max(part - 1, 0)].append(c)
        elif k and slot.end > pos:  # inside a construct that spans several lines
            if 0 < part < len(slot.lines):
                slot.before[part].append(c)  # between two lines of a chain
            else:
                slot.above.append(c)
        elif k < len(order):
            order[k].above.append(c)
        else:
            at_end.append(c)
    for slot in slots:
        for after in slot.trailing:
            if len(after) > 1:  # several lines joined into one: all but the last go above
                slot.above += after[:-1]
                slot.above.sort(key=lambda c: (c.line, c.column))
                del after[:-1]
    return at_end


def _render(sections: list[list[_Slot]], at_end: list[Comment], source: str) -> str:
    lines = source.split("\n")

    def blank_before(line: int, after: int) -> bool:
        """Whether the source line before ``line`` is blank and comes after line ``after``."""
        return after < line - 1 <= len(lines) and not lines[line - 2].strip()

    out: list[str] = []
    for k, section in enumerate(sections):
        if k:
            out.append("")
        fresh = True  # at the top of the file, after a section break or after '{'
        prev = 0  # the source line the previous printed line ends on
        after_comment = False
        for slot in section:
            for c in slot.above:
                if not fresh and blank_before(c.line, prev):
                    out.append("")
                out.append(_INDENT * slot.inner + c.text)
                fresh, prev, after_comment = False, c.line, True
            if after_comment and slot.kind != "close" and blank_before(slot.start[0], prev):
                out.append("")
            for i, (text, _) in enumerate(slot.lines):
                depth = slot.depth + (i > 0)  # a chain's continuation lines are indented
                out += [_INDENT * depth + c.text for c in slot.before[i]]
                after = slot.trailing[i]
                text = _INDENT * depth + text
                out.append(f"{text}  {after[0].text}" if after else text)
            fresh, prev, after_comment = slot.kind == "open", slot.end[0], False
    if at_end:
        out.append("")
        for i, c in enumerate(at_end):
            if i and blank_before(c.line, prev):
                out.append("")
            out.append(c.text)
            prev = c.line
    return "\n".join(out) + "\n"


def format_spec(spec: ast.Spec, keep_comments: bool = True) -> str:
    """The canonical text of a spec, ending in one newline.

    Comments are taken from ``spec.source`` (the text :func:`~rpgraph.parse.parse` read)
    and placed by the spans of the nodes, so pass ``keep_comments=False`` for a spec that
    was built or changed in code.

    >>> print(format_spec(parse("network n{input x:2;output y:1;x->linear(1)->y}")), end="")
    network n {
        input x : 2
        output y : 1
        x -> linear(1) -> y
    }
    """
    source = spec.source if keep_comments else ""
    notes, braces = _scan(source) if source else ([], [])
    sections: list[list[_Slot]] = []
    for block in spec.blocks:
        head = f"block {block.name}"
        if block.params:  # like a network without settings: no empty parentheses
            head += "(" + ", ".join(_param(p) for p in block.params) + ")"
        items: list[tuple[_Lines, Span]] = [(_stmt(s), s.span) for s in block.body]
        sections.append(_section(head, block.span, items, braces))
    net = spec.network
    head = f"network {net.name}"
    if net.sim:
        head += " (" + ", ".join(f"{k} = {format_expr(v)}" for k, v in net.sim) + ")"
    sections.append(_section(head, net.span, [(_stmt(s), s.span) for s in net.body], braces))
    if spec.bounds is not None:
        items = [([(_setting(s), s.span.line)], s.span) for s in spec.bounds.settings]
        items += [([(_bound(b), b.span.line)], b.span) for b in spec.bounds.bounds]
        sections.append(_section("bounds", spec.bounds.span, items, braces))
    if spec.train is not None:
        items = [([(_setting(s), s.span.line)], s.span) for s in spec.train.settings]
        sections.append(_section("train", spec.train.span, items, braces))
    at_end = _attach(notes, [s for section in sections for s in section]) if notes else []
    return _render(sections, at_end, source)


def fmt(text: str, filename: str = "<string>") -> str:
    """Parse ``text`` and return its canonical formatting, comments kept.

    >>> fmt("network n { x->y }  # tiny")
    'network n {\\n    x -> y\\n}  # tiny\\n'
    """
    return format_spec(parse(text, filename))
