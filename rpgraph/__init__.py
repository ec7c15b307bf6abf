"""rpgraph: declarative .rpg network specs compiled to fused, jitted JAX programs.

>>> import rpgraph
>>> prog = rpgraph.compile("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }")
>>> sorted(prog.init(seed=0))
['linear_0']

Training (:mod:`rpgraph.train`, loaded on first use): ``rpgraph.fit(prog, data, epochs=...)``
runs the spec's ``train { }`` block with overrides (fields of :class:`FitOptions`) and returns
a :class:`FitResult`.

NIR interchange (:mod:`rpgraph.nir`, loaded on first use): :func:`to_nir` exports a
program and its parameters, :func:`from_nir` imports a NIR graph or ``.nir`` file.

>>> graph = rpgraph.to_nir(prog, prog.init(seed=0))
>>> sorted(type(n).__name__ for n in graph.nodes.values())
['Input', 'Linear', 'Output']
>>> net, params = rpgraph.from_nir(graph, dt=1e-3)
>>> sorted(params), params["linear_0"]["weight"].shape
(['linear_0'], (3, 2))
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .compile import Options, compile
from .errors import SpecError, SpecWarning
from .graph import Network, load, loads

if TYPE_CHECKING:
    from .compile import Program
    from .nir import from_nir, to_nir
    from .train import FitOptions, FitResult, constrained, fit

__all__ = ["FitOptions", "FitResult", "Network", "Options", "Program", "SpecError",
           "SpecWarning", "compile", "constrained", "fit", "from_nir", "load", "loads",
           "to_nir"]
__version__ = "0.1.0"

# NIR (and h5py behind it) costs ~0.4 s to import, the trainer (optax) ~0.2 s, JAX behind the
# traced program 1-2 s: only programs that use them pay for them ('rpgraph check' never
# imports JAX). Plain relative imports, not importlib: no module is ever named
# by a string here.


def _nir() -> ModuleType:
    from . import nir

    return nir


def _program() -> ModuleType:
    from .compile import program

    return program


def _train() -> ModuleType:
    from . import train

    return train


_LAZY: dict[str, Callable[[], ModuleType]] = {
    "Program": _program, "from_nir": _nir, "to_nir": _nir, "fit": _train, "FitOptions": _train,
    "FitResult": _train, "constrained": _train}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(_LAZY[name](), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
