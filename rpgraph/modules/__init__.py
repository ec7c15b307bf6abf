"""Module kinds: one file per kind family, all registered in :data:`KINDS`.

Importing this package registers every kind (``linear``, the instant activations,
``rate``, ``lif``, ``expsyn``).
"""

from . import conv, expsyn, instant, lif, linear, pool, rate, reshape  # noqa: F401  (imported to register kinds)  # noqa: F401  (shape-aware kinds)
from .base import (
    ACTIVATIONS,
    INITIALISERS,
    KINDS,
    Arg,
    Init,
    Kind,
    KindConfig,
    ParamSpec,
    Prepared,
    arg,
    register,
)

__all__ = ["ACTIVATIONS", "INITIALISERS", "KINDS", "Arg", "Init", "Kind", "KindConfig",
           "ParamSpec", "Prepared", "arg", "register"]
