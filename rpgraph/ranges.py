"""Ranges of numbers an argument accepts, stated once where the argument is declared.

A module kind's :func:`~rpgraph.modules.base.arg`, a built-in data set's signature
(``Annotated[int, AT_LEAST_1]``) and the optax arguments a train block may set all use one
:class:`Range`; :func:`range_error` turns a value outside it into the message every stage
prints, so ``rate(tau = -5 ms)``, ``digits(split = 1.5)`` and ``adam(b1 = 2)`` read alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    """An interval of numbers: ``lo``/``hi`` (``None``: unbounded), each end closed unless
    ``*_open``; NaN is never inside, nor infinity unless an end is infinite.

    >>> Range(0, lo_open=True).text("tau"), Range(0, 1, hi_open=True).text("split")
    ('tau > 0', '0 <= split < 1')
    >>> Range(0, lo_open=True).contains(0.0), Range(1).contains(3)
    (False, True)
    """

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def contains(self, value: float) -> bool:
        v = float(value)
        if math.isnan(v) or (math.isinf(v) and not (
                (self.hi == math.inf and v > 0) or (self.lo == -math.inf and v < 0))):
            return False
        if self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo)):
            return False
        return not (self.hi is not None and (v > self.hi or (self.hi_open and v == self.hi)))

    def text(self, name: str) -> str:
        """The range as a condition on ``name``: ``tau > 0``, ``0 <= split < 1``."""
        lo = None if self.lo is None else f"{_num(self.lo)} {'<' if self.lo_open else '<='} "
        hi = None if self.hi is None else f" {'<' if self.hi_open else '<='} {_num(self.hi)}"
        if lo is not None and hi is not None:
            return f"{lo}{name}{hi}"
        if lo is not None:
            return f"{name} {'>' if self.lo_open else '>='} {_num(self.lo or 0)}"
        if hi is not None:
            return f"{name}{hi}"
        return f"{name} finite"


def _num(v: float) -> str:
    if float(v).is_integer() and abs(v) < 1e16:
        return str(int(v))
    return f"{v:g}"


def shown(value: float) -> str:
    """A number for a message, short even when huge: ``3``, ``-0.005``, ``1.18e+21``.

    >>> shown(2**70), shown(10**5000), shown(-0.005)
    ('1.18e+21', 'about 10^5000', '-0.005')
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) < 10**12:
            return str(value)
        if value.bit_length() < 1000:
            return f"{float(value):.3g}"
        # str() of a huge int is slow (and refused past 4300 digits): give its magnitude
        return f"{'-' if value < 0 else ''}about 10^{int(value.bit_length() * math.log10(2))}"
    return f"{float(value):g}"


def range_error(name: str, value: float, rng: Range, unit: str = "") -> str | None:
    """The message for ``value`` outside ``rng`` (``None`` when inside).

    >>> range_error("tau", -0.005, POSITIVE, " s")
    'Expected tau > 0, got -0.005 s'
    >>> range_error("seed", 2**70, SEED) is None
    False
    """
    try:
        inside = rng.contains(value)
    except OverflowError:  # an int too large for a float: outside any finite range
        inside = rng.hi is None and value > 0 or rng.lo is None and value < 0
    if inside:
        return None
    return f"Expected {rng.text(name)}, got {shown(value)}{unit}"


#: Common ranges, named so declarations read as what they mean.
POSITIVE = Range(0, lo_open=True)
NON_NEGATIVE = Range(0)
AT_LEAST_1 = Range(1)
FINITE = Range()
UNIT_INTERVAL = Range(0, 1)
#: What every seed accepts: numpy's RandomState and jax's PRNGKey both take 32 bits.
SEED = Range(0, 2**32 - 1)

__all__ = ["AT_LEAST_1", "FINITE", "NON_NEGATIVE", "POSITIVE", "SEED", "UNIT_INTERVAL",
           "Range", "range_error", "shown"]
