"""Module kinds: one file per kind family, all registered in :data:`KINDS`.

Importing this package registers every kind (``linear``, the instant activations,
``rate``, ``lif``, ``alif``, ``if``, ``li``, ``expsyn``).
"""

from . import alif, delay, expsyn, if_, instant, li, lif, linear, rate  # noqa: F401  (registers)
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
