"""Names: NIR node names made into rpgraph identifiers, and made unique."""

from __future__ import annotations

import re

from ..modules import ACTIVATIONS, INITIALISERS, KINDS
from ..vocab import KEYWORDS

__all__ = ["ident", "unique"]


def ident(raw: str) -> str:
    """An rpgraph identifier for the NIR name ``raw``: other characters become ``_``, a
    leading digit gets an ``n``, and a keyword or a kind, initialiser or activation name
    gets a trailing ``_`` (so that the spec reads it as a node).

    >>> ident("0"), ident("fc-1"), ident("lif"), ident("input")
    ('n0', 'fc_1', 'lif_', 'input_')
    """
    s = re.sub(r"[^A-Za-z0-9_]", "_", raw) or "node"
    if s[0].isdigit():
        s = "n" + s
    if s in KEYWORDS or s in KINDS or s in INITIALISERS or s in ACTIVATIONS:
        s += "_"
    return s


def unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name_1``, ``name_2``, ... whichever is not in ``taken``.

    >>> unique("w", {"w", "w_1"})
    'w_2'
    """
    if name not in taken:
        return name
    i = 1
    while f"{name}_{i}" in taken:
        i += 1
    return f"{name}_{i}"
