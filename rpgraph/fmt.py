"""Canonical formatting of .rpg specs (the ``rpgraph fmt`` command).

The output re-parses to an equal :class:`~rpgraph.ast.Spec` and formatting is idempotent.
Layout is fixed: 4-space indentation, one statement per line, ``a -> b -> c`` chains,
spaces around operators and ``=``, the fewest parentheses that keep the tree, numbers
printed so they read back to the same value (``20 ms``, ``1e-05``, ``1000``), and the
sections in the order blocks, network, bounds, train, separated by blank lines.

Comments are NOT preserved: the syntax tree does not keep them, so formatting a file drops
its comments. Settings inside ``bounds { }`` are printed before the bounds themselves.
"""

from __future__ import annotations

from . import ast
from .parse import parse

__all__ = ["fmt", "format_spec", "format_expr"]

_INDENT = "    "

# Binding strength: a child printed inside a parent needs at least the given level, or
# parentheses. sum < product < unary minus < power < atom.
_SUM, _PRODUCT, _UNARY, _POWER, _ATOM = 1, 2, 3, 4, 5
_BINARY = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "**": _POWER}


def _level(e: ast.Expr) -> int:
    if isinstance(e, ast.BinOp):
        return _BINARY[e.op]
    if isinstance(e, ast.Neg):
        return _UNARY
    return _ATOM


def _wrap(e: ast.Expr, need: int) -> str:
    text = format_expr(e)
    return f"({text})" if _level(e) < need else text


def _number(n: ast.Num) -> str:
    value = float(n.value)
    if n.is_int and value.is_integer():
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
    if isinstance(e, ast.Neg):
        return "-" + _wrap(e.operand, _UNARY)
    if isinstance(e, ast.BinOp):
        level = _BINARY[e.op]
        if e.op == "**":
            # right associative, and the base is an atom: (-2) ** 2, 2 ** -1, 2 ** 3 ** 2
            left, right = _wrap(e.left, _ATOM), _wrap(e.right, _UNARY)
        else:
            # left associative: a - b - c, but a - (b - c)
            left, right = _wrap(e.left, level), _wrap(e.right, level + 1)
        return f"{left} {e.op} {right}"
    raise TypeError(f"not an rpgraph expression: {e!r}")


def _element(el: ast.Element) -> str:
    target = format_expr(el.target)
    return f"{el.label}: {target}" if el.label else target


def _stmt(s: ast.Stmt) -> str:
    if isinstance(s, ast.Port):
        size = "" if s.size is None else f" : {format_expr(s.size)}"
        return f"{s.direction} {s.name}{size}"
    return " -> ".join(_element(el) for el in s.elements)


def _body(head: str, lines: list[str]) -> str:
    if not lines:
        return head + " {\n}"
    return head + " {\n" + "".join(f"{_INDENT}{line}\n" for line in lines) + "}"


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


def format_spec(spec: ast.Spec) -> str:
    """The canonical text of a spec (comments are not kept), ending in one newline.

    >>> print(format_spec(parse("network n{input x:2;output y:1;x->linear(1)->y}")), end="")
    network n {
        input x : 2
        output y : 1
        x -> linear(1) -> y
    }
    """
    sections: list[str] = []
    for block in spec.blocks:
        head = f"block {block.name}(" + ", ".join(_param(p) for p in block.params) + ")"
        sections.append(_body(head, [_stmt(s) for s in block.body]))
    net = spec.network
    head = f"network {net.name}"
    if net.sim:
        head += " (" + ", ".join(f"{k} = {format_expr(v)}" for k, v in net.sim) + ")"
    sections.append(_body(head, [_stmt(s) for s in net.body]))
    if spec.bounds is not None:
        lines = [_setting(s) for s in spec.bounds.settings]
        lines += [_bound(b) for b in spec.bounds.bounds]
        sections.append(_body("bounds", lines))
    if spec.train is not None:
        sections.append(_body("train", [_setting(s) for s in spec.train.settings]))
    return "\n\n".join(sections) + "\n"


def fmt(text: str, filename: str = "<string>") -> str:
    """Parse ``text`` and return its canonical formatting.

    >>> fmt("network n { x->y }")
    'network n {\\n    x -> y\\n}\\n'
    """
    return format_spec(parse(text, filename))
