"""``jax`` and ``jax.numpy`` imported on first use, so that the front end never pays for them.

Importing JAX takes 1-2 s, five times the rest of ``rpgraph check`` (parsing, the graph, the
train block and its data). The modules that the front end imports but that only use JAX once
a network runs (the kinds, losses, bounds, the objective) import these stand-ins instead::

    if TYPE_CHECKING:
        import jax
        import jax.numpy as jnp
    else:
        from ..lazy_jax import jax, jnp

so type checkers still see the real modules. The first attribute read imports the module;
each attribute is then cached on the stand-in. :func:`custom_jvp` defers the one decorator
that is applied at import time.

>>> from rpgraph.lazy_jax import jnp
>>> float(jnp.tanh(0.0))
0.0
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any


class LazyModule:
    """A module imported by ``load()`` when one of its attributes is first read."""

    def __init__(self, load: Callable[[], ModuleType]) -> None:
        self._load = load

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._load(), name)
        setattr(self, name, value)  # the next read is a plain attribute lookup
        return value


def _jax() -> ModuleType:
    import jax

    return jax


def _jnp() -> ModuleType:
    import jax.numpy

    return jax.numpy


jax = LazyModule(_jax)
jnp = LazyModule(_jnp)


class custom_jvp:  # noqa: N801 - stands in for jax.custom_jvp, spelled the same
    """``jax.custom_jvp`` built on the first call (the decorator runs at import time).

    >>> @custom_jvp
    ... def f(x): return 2 * x
    >>> @f.defjvp
    ... def _f_jvp(primals, tangents): return f(*primals), 3 * tangents[0]
    >>> float(jax.grad(f)(1.0))
    3.0
    """

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: tuple[int, ...] = ()) -> None:
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._nondiff = tuple(nondiff_argnums)
        self._rule: Callable[..., Any] | None = None
        self._real: Any = None

    def defjvp(self, rule: Callable[..., Any]) -> Callable[..., Any]:
        self._rule = rule
        return rule

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._real is None:
            real = jax.custom_jvp(self._fun, nondiff_argnums=self._nondiff)
            if self._rule is not None:
                real.defjvp(self._rule)
            self._real = real
        return self._real(*args, **kwargs)
