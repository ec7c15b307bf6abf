"""Reading NIR metadata values, which come back from HDF5 as bytes or 0-d arrays."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["meta_float", "meta_str"]


def meta_str(meta: Any, key: str) -> str | None:
    """``meta[key]`` as text, ``None`` when absent (or ``meta`` is not a mapping).

    >>> meta_str({"source": b"rpgraph"}, "source"), meta_str({}, "source")
    ('rpgraph', None)
    """
    if not isinstance(meta, Mapping) or key not in meta:
        return None
    v = meta[key]
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.shape == ():
        v = v.item()
        return v.decode() if isinstance(v, bytes) else str(v)
    return str(v)


def meta_float(meta: Any, key: str, default: float) -> float:
    """``meta[key]`` as a number, ``default`` when absent or not a number.

    >>> meta_float({"dt": np.array(1e-3)}, "dt", 0.0), meta_float({"dt": "x"}, "dt", 0.0)
    (0.001, 0.0)
    """
    text = meta_str(meta, key)
    try:
        return default if text is None else float(text)
    except ValueError:
        return default
