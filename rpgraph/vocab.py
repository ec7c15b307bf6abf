"""The words of the .rpg language, defined once: units, keywords, enforce modes, operators.

The grammar (``grammar/rpgraph.lark``) says how these words are written; this module says what
they mean. The parser, the constant evaluator (:mod:`rpgraph.expr`), the formatter, the loss
compiler, the NIR importer and the CLI all read these tables, and the tests check that the
grammar agrees with them (its keyword terminals and operator rules).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ATOM",
    "BINARY",
    "BOUND_TERMS",
    "DEFAULT_ENFORCE",
    "ENFORCE_MODES",
    "KEYWORDS",
    "KEYWORD_GROUP_SETTINGS",
    "NEG",
    "PENALISED",
    "POWER",
    "PRODUCT",
    "PROJECTED",
    "SUM",
    "UNARY",
    "UNITS",
    "BinaryOp",
    "UnaryOp",
]

#: Unit name -> (factor to SI, dimension). Values are kept unscaled in the syntax tree and
#: scaled when evaluated. The Greek small mu is accepted as well as the micro sign because
#: both look identical in most fonts.
UNITS: dict[str, tuple[float, str]] = {
    "s": (1.0, "time"),
    "ms": (1e-3, "time"),
    "us": (1e-6, "time"),
    "\u00b5s": (1e-6, "time"),  # micro sign
    "\u03bcs": (1e-6, "time"),  # Greek small letter mu
    "ns": (1e-9, "time"),
    "Hz": (1.0, "frequency"),
    "kHz": (1e3, "frequency"),
}

#: Reserved words: the lexer never reads them as names.
KEYWORDS = frozenset(
    {"network", "block", "input", "output", "bounds", "train", "in", "enforce", "true", "false"}
)

#: Train settings whose value may be a nameless group of keyword values, ``(patience = 5)``
#: (read as a call whose name is ``""``).
KEYWORD_GROUP_SETTINGS = ("early_stopping",)

#: How a bound is enforced during training: as a loss penalty, by projecting the parameters
#: back into their box after each step, or both.
ENFORCE_MODES = ("penalty", "project", "both")
DEFAULT_ENFORCE = "penalty"
PENALISED = frozenset({"penalty", "both"})
PROJECTED = frozenset({"project", "both"})

#: The loss's bounds terms: Rockpool's ``bounds_cost`` and the continuous ``bounds_penalty``.
#: A bound enforced as a penalty acts only through one of them.
BOUND_TERMS = ("bounds_cost", "bounds_penalty")

# Binding strength, weakest first: sum < product < unary minus < power < atom. An operand
# printed inside an operator needs at least the level the grammar allows there, or brackets.
SUM, PRODUCT, UNARY, POWER, ATOM = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class BinaryOp:
    """A binary operator: what it computes and how it binds.

    ``left`` and ``right`` are the weakest levels its operands may have without brackets,
    as the grammar's rule for it states (``sum: sum "+" product`` gives ``SUM, PRODUCT``).
    """

    symbol: str
    rule: str  # the grammar alias that builds it
    apply: Callable[[Any, Any], Any]
    level: int
    left: int
    right: int


@dataclass(frozen=True)
class UnaryOp:
    """A prefix operator (only unary minus)."""

    symbol: str
    rule: str
    apply: Callable[[Any], Any]
    level: int
    operand: int


#: Symbol -> operator. ``apply`` works on Python numbers and JAX arrays alike.
BINARY: dict[str, BinaryOp] = {
    op.symbol: op
    for op in (
        BinaryOp("+", "add", operator.add, SUM, SUM, PRODUCT),
        BinaryOp("-", "sub", operator.sub, SUM, SUM, PRODUCT),
        BinaryOp("*", "mul", operator.mul, PRODUCT, PRODUCT, UNARY),
        BinaryOp("/", "div", operator.truediv, PRODUCT, PRODUCT, UNARY),
        # right associative with an atom as base: 2 ** 3 ** 2, (-2) ** 2, 2 ** -1
        BinaryOp("**", "pow", operator.pow, POWER, ATOM, UNARY),
    )
}

NEG = UnaryOp("-", "neg", operator.neg, UNARY, UNARY)
