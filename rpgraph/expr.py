"""Evaluating constant expressions of a spec: numbers with units, arithmetic, names.

Used by the graph builder (module arguments, bounds, simulation parameters) and by later
stages for ``train { }`` settings. Nothing here executes user code: an expression is a tree
of :mod:`rpgraph.ast` nodes walked by a small interpreter over a whitelist.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import ast
from .errors import SpecNameError, SpecValueError, clip
from .vocab import BINARY, NEG, UNITS


@dataclass(frozen=True)
class Symbol:
    """A bare name that is not a constant (``tanh``, ``kaiming``): its meaning depends on
    where it is used."""

    name: str
    span: ast.Span


@dataclass(frozen=True)
class Quantity:
    """A number that carried a unit, in SI (``20 ms`` -> ``Quantity(0.02, "time")``)."""

    value: float
    dimension: str


Value = Any  # float | int | bool | str | Symbol | Quantity | list | ast.Call


def unit_factor(num: ast.Num) -> tuple[float, str | None]:
    """The SI factor and dimension of a number's unit: ``5 ms`` gives ``(1e-3, "time")``;
    no unit gives ``(1.0, None)``.

    The unit is one of :data:`rpgraph.vocab.UNITS`: the parser refuses any other.

    >>> unit_factor(ast.Num(5.0, "ms"))
    (0.001, 'time')
    """
    if num.unit is None:
        return 1.0, None
    return UNITS[num.unit]


def _num(v: Value) -> float:
    return v.value if isinstance(v, Quantity) else v


def _dim(v: Value) -> str | None:
    return v.dimension if isinstance(v, Quantity) else None


def evaluate(expr: ast.Expr, env: Mapping[str, Value], *, calls: bool = False) -> Value:
    """Evaluate a constant expression; names are looked up in ``env``.

    Unknown bare names become :class:`Symbol` (the caller decides if that is allowed);
    calls are returned unevaluated when ``calls`` is true, an error otherwise.

    >>> from rpgraph.parse import parse_expr
    >>> evaluate(parse_expr("10 * dt"), {"dt": Quantity(1e-3, "time")})
    Quantity(value=0.01, dimension='time')
    """
    if isinstance(expr, ast.Num):
        factor, dim = unit_factor(expr)
        if dim is None:
            return int(expr.value) if expr.is_int else float(expr.value)
        return Quantity(float(expr.value) * factor, dim)
    if isinstance(expr, ast.Bool):
        return expr.value
    if isinstance(expr, ast.Str):
        return expr.value
    if isinstance(expr, ast.Name):
        if expr.id in env:
            return env[expr.id]
        return Symbol(expr.id, expr.span)
    if isinstance(expr, ast.Neg):
        v = evaluate(expr.operand, env, calls=calls)
        _require_number(v, expr.operand)
        if isinstance(v, Quantity):
            return Quantity(NEG.apply(v.value), v.dimension)
        return NEG.apply(v)
    if isinstance(expr, ast.BinOp):
        a = evaluate(expr.left, env, calls=calls)
        b = evaluate(expr.right, env, calls=calls)
        _require_number(a, expr.left)
        _require_number(b, expr.right)
        if expr.op == "**" and _huge_power(_num(a), _num(b)):
            raise SpecValueError("number too large", expr.span)
        try:
            out = BINARY[expr.op].apply(_num(a), _num(b))
        except ZeroDivisionError:
            raise SpecValueError("division by zero", expr.span) from None
        except OverflowError:
            raise SpecValueError("number too large", expr.span) from None
        if isinstance(out, int) and out.bit_length() > _MAX_INT_BITS:
            # beyond any float: would only slow later steps down (and fail to print)
            raise SpecValueError("number too large", expr.span)
        if isinstance(out, complex):
            raise SpecValueError("expression has no real value", expr.span)
        da, db = _dim(a), _dim(b)
        if expr.op in "+-" and da != db and da is not None and db is not None:
            raise SpecValueError(f"cannot {'add' if expr.op == '+' else 'subtract'} "
                                 f"a {db} and a {da}", expr.span)
        dim = da or db
        if expr.op in ("*", "/") and da and db:
            dim = None if (expr.op == "/" and da == db) else da
        return Quantity(float(out), dim) if dim else out
    if isinstance(expr, ast.ListExpr):
        return [evaluate(item, env, calls=calls) for item in expr.items]
    if isinstance(expr, ast.TupleExpr):
        return tuple(evaluate(item, env, calls=calls) for item in expr.items)
    if isinstance(expr, ast.Call):
        if calls:
            return expr
        raise SpecValueError(f"'{expr.func}(...)' is not allowed here; expected a value",
                             expr.span)
    if isinstance(expr, ast.Ref):
        raise SpecValueError(f"'{expr.text}' is not allowed here; expected a value", expr.span)
    raise SpecValueError("unsupported expression", getattr(expr, "span", None))


#: Integers are exact, but anything beyond the float range is an error (and an exact
#: ``10 ** 10 ** 10`` would take forever to compute).
_MAX_INT_BITS = 1023


def _huge_power(base: Any, exp: Any) -> bool:
    """Whether an integer power would exceed :data:`_MAX_INT_BITS` (checked before computing)."""
    if not (isinstance(base, int) and isinstance(exp, int)) or exp <= 0 or abs(base) <= 1:
        return False
    return exp * (abs(base).bit_length() - 1) > _MAX_INT_BITS


def _require_number(v: Value, node: ast.Expr) -> None:
    if isinstance(v, Quantity) or (isinstance(v, (int, float)) and not isinstance(v, bool)):
        return
    if isinstance(v, Symbol):
        raise SpecNameError(f"undefined name '{v.name}'", v.span)
    raise SpecValueError(f"Expected a number, got {describe(v)}", getattr(node, "span", None))


def describe(v: Value) -> str:
    """Short words for a value's type, for messages."""
    if isinstance(v, bool):
        return f"the boolean {str(v).lower()}"
    if isinstance(v, Quantity):
        return f"a {v.dimension}"
    if isinstance(v, (int, float)):
        return f"the number {v:g}"
    if isinstance(v, str):
        return f'the string "{clip(v)}"'
    if isinstance(v, Symbol):
        return f"the name '{clip(v.name)}'"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, tuple):
        return f"the tuple {format_tuple(v)}"
    if isinstance(v, ast.Call):
        return f"the call '{v.func}(...)'"
    return type(v).__name__


def format_tuple(v: tuple[Any, ...]) -> str:
    """A tuple of numbers as the spec writes it: ``(2, 34, 34)``, ``(4,)``.

    >>> format_tuple((4,)), format_tuple((2, 3))
    ('(4,)', '(2, 3)')
    """
    if len(v) == 1:
        return f"({v[0]:g},)" if isinstance(v[0], (int, float)) else f"({v[0]},)"
    return "(" + ", ".join(f"{x:g}" if isinstance(x, (int, float)) and not isinstance(x, bool)
                           else str(x) for x in v) + ")"


def as_float(v: Value, node: ast.Expr, *, time: bool = False, what: str = "a number") -> float:
    """A plain float from a value; ``time`` accepts time quantities (and bare seconds)."""
    if isinstance(v, Quantity):
        if time and v.dimension == "time":
            return v.value
        if not time:
            raise SpecValueError(f"Expected {what} without a unit, got {describe(v)}",
                                 getattr(node, "span", None))
        raise SpecValueError(f"Expected a time (s, ms, us), got {describe(v)}",
                             getattr(node, "span", None))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if not math.isfinite(v):
            raise SpecValueError(f"Expected a finite number, got {v}", getattr(node, "span", None))
        return float(v)
    if isinstance(v, Symbol):
        raise SpecNameError(f"undefined name '{v.name}'", v.span)
    raise SpecValueError(f"Expected {what}, got {describe(v)}", getattr(node, "span", None))


def as_int(v: Value, node: ast.Expr, what: str = "an integer") -> int:
    """An integer value, or a :class:`SpecValueError` at ``expr``."""
    if isinstance(v, bool) or isinstance(v, Quantity):
        raise SpecValueError(f"Expected {what}, got {describe(v)}", getattr(node, "span", None))
    if isinstance(v, Symbol):
        raise SpecNameError(f"undefined name '{v.name}'", v.span)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, int):
        return v
    raise SpecValueError(f"Expected {what}, got {describe(v)}", getattr(node, "span", None))
