"""Module kinds: one file per kind family, all registered in :data:`KINDS`.

Importing this package registers every kind (``linear``, the instant activations,
``rate``, ``lif``, ``alif``, ``if``, ``li``, ``expsyn``, ``delay``, the convolutions,
pooling, reshapes and ``dropout``).
"""

from . import (  # noqa: F401  (imported to register their kinds)
    alif,
    conv,
    delay,
    dropout,
    expsyn,
    if_,
    instant,
    li,
    lif,
    linear,
    pool,
    rate,
    reshape,
)
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
