"""Memory estimated from static sizes before anything is allocated, refused above a limit.

Every size in a spec is static, so what a network, a data set and a training program will
need is known before the first array exists: a ``linear(2**24)``, a recurrent
``lif(100000)`` (a 40 GB ``w_rec``) or ``digits(length = 10**7)`` (3 TiB) is refused with a
located :class:`~rpgraph.errors.SpecError` by ``rpgraph check`` as by ``train`` or
``nir export``, instead of an out-of-memory abort. The limit defaults to the machine's
physical memory; ``--memory-limit 64GB``, ``RPGRAPH_MEMORY_LIMIT`` or :func:`set_limit`
raise it.

The estimate is deliberately simple (float32 everywhere):

* parameters, and for training four copies (parameters, gradients, two optimizer moments);
* the data set as generated (its float64 intermediates for built-in sets) and on the device;
* activations: every node's output and state for ``T x batch`` (``remat``: a chunk plus one
  carry per chunk), twice (forward values kept for the backward pass, and their cotangents).

This module depends on nothing but :mod:`rpgraph.errors`: the network is read through its
records (``params()``, ``modules()``), data sets through their sizes.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import Span, SpecError, SpecValueError

if TYPE_CHECKING:
    from .graph import Network

FLOAT = 4  # bytes per float32
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
_limit: int | None = None


def parse_size(text: str) -> int:
    """Bytes from ``"64GB"``, ``"512 MiB"`` or ``"1e9"``; ``ValueError`` otherwise.

    >>> parse_size("64GB"), parse_size("1.5 KiB")
    (64000000000, 1536)
    """
    m = re.fullmatch(r"\s*([0-9.eE+]+)\s*([A-Za-z]*)\s*", text)
    unit = m.group(2).upper() if m else ""
    if m is None or unit not in _UNITS:
        raise ValueError(f"Expected a size such as 64GB or 512MiB, got '{text[:40]}'")
    value = float(m.group(1)) * _UNITS[unit]
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"Expected a positive size, got '{text[:40]}'")
    return int(value)


def format_bytes(n: float) -> str:
    """``n`` bytes for a message: ``'3.14 TiB'``, ``'512 B'``.

    >>> format_bytes(3.45e12), format_bytes(512)
    ('3.14 TiB', '512 B')
    """
    for unit, size in (("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20),
                       ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def size_from_env(name: str) -> int | None:
    """The size in environment variable ``name`` (``"4GB"``), or ``None`` when it is unset
    or empty; a malformed value is a :class:`SpecValueError` naming the variable."""
    env = os.environ.get(name)
    if not env:
        return None
    try:
        return parse_size(env)
    except ValueError as err:
        raise SpecValueError(f"{name}: {err}") from None


def default_limit() -> int:
    """``RPGRAPH_MEMORY_LIMIT`` if set, else the machine's physical memory."""
    env = size_from_env("RPGRAPH_MEMORY_LIMIT")
    if env is not None:
        return env
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - no sysconf
        return 16 * 2**30


def limit() -> int:
    """The limit in force: :func:`set_limit`'s, else :func:`default_limit`."""
    return _limit if _limit is not None else default_limit()


def set_limit(n_bytes: int | None) -> None:
    """Set the limit for this process (``None``: back to the default), as
    ``--memory-limit`` does.

    >>> set_limit(2**40); limit() == 2**40
    True
    >>> set_limit(None)
    """
    global _limit
    if n_bytes is not None and (isinstance(n_bytes, bool) or not isinstance(n_bytes, int)
                                or n_bytes <= 0):
        raise SpecValueError(f"Expected a memory limit in bytes (an integer > 0), got "
                             f"{n_bytes!r}")
    _limit = n_bytes


@dataclass(frozen=True)
class Estimate:
    """Estimated bytes by part (``what`` names each), with their total.

    >>> Estimate((("parameters", 2**30),)).describe()
    'parameters 1 GiB'
    """

    parts: tuple[tuple[str, float], ...]

    @property
    def total(self) -> float:
        return sum(b for _, b in self.parts)

    def describe(self) -> str:
        return ", ".join(f"{what} {format_bytes(b)}" for what, b in self.parts if b)


def refuse_above(est: Estimate, what: str, span: Span | None = None,
                 max_bytes: int | None = None, error: type[SpecError] = SpecValueError
                 ) -> None:
    """Raise ``error`` (a :class:`SpecValueError`) at ``span`` when ``est`` exceeds the
    limit (``max_bytes``, default :func:`limit`).

    >>> refuse_above(Estimate((("data", 10.0),)), "the data set", max_bytes=5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    rpgraph.errors.SpecValueError: error: the data set would need about 10 B of memory...
    """
    cap = limit() if max_bytes is None else max_bytes
    if est.total > cap:
        raise error(
            f"{what} would need about {format_bytes(est.total)} of memory ({est.describe()}), "
            f"more than the limit of {format_bytes(cap)}", span,
            hint="make it smaller, or raise the limit with --memory-limit SIZE (e.g. 64GB) "
            "or RPGRAPH_MEMORY_LIMIT")


def network_estimate(net: Network) -> Estimate:
    """The network's parameters (allocated by ``init``, ``nir export`` and training).

    >>> from rpgraph.graph import loads
    >>> network_estimate(loads("network n { input x : 4\\n output y : 2\\n x -> linear(2) -> y }"))
    Estimate(parts=(('parameters', 32),))
    """
    return Estimate((("parameters", sum(math.prod(p.shape) for p in net.params()) * FLOAT),))


def check_network(net: Network, max_bytes: int | None = None) -> None:
    """Refuse a network whose parameters alone exceed the limit, at its largest module."""
    est = network_estimate(net)
    if est.total <= (limit() if max_bytes is None else max_bytes):
        return
    sizes: dict[str, int] = {}
    for p in net.params():
        sizes[p.module] = sizes.get(p.module, 0) + math.prod(p.shape)
    biggest = max(sizes, key=lambda m: sizes[m])
    refuse_above(est, f"the network's parameters (largest: '{biggest}', "
                 f"{format_bytes(sizes[biggest] * FLOAT)})", net.module(biggest).span,
                 max_bytes)


def training_estimate(net: Network, *, samples: int, length: int, batch: int,
                      data_bytes: float, remat: int | None = None) -> Estimate:
    """A training run: parameters with gradients and optimizer moments, the data set on the
    device, and the activations of ``batch`` sequences of ``length`` steps.

    >>> from rpgraph.graph import loads
    >>> net = loads("network n { input x : 4\\n output y : 2\\n x -> linear(2) -> y }")
    >>> training_estimate(net, samples=3, length=10, batch=1, data_bytes=720).describe()
    'parameters, gradients and optimizer state 128 B, data 720 B, activations 480 B'
    """
    params = network_estimate(net).total
    width = sum(net.size(p) for p in net.inputs) + sum(
        d["node"].size_out * (3 if d["node"].stateful else 1)
        for _, d in net.graph.nodes(data=True) if d["type"] == "module")
    steps = length if remat is None else min(length, remat) + math.ceil(length / remat)
    return Estimate((("parameters, gradients and optimizer state", params * 4),
                     ("data", data_bytes),
                     ("activations", 2.0 * steps * min(batch, max(samples, 1)) * width * FLOAT)))


__all__ = ["Estimate", "check_network", "default_limit", "format_bytes", "limit",
           "network_estimate", "parse_size", "refuse_above", "set_limit", "size_from_env",
           "training_estimate"]
