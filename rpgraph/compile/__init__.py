"""From the module graph to one jitted program.

The graph is ordered once, at compile time, into a static *plan*:

* a stateless node outside any loop is applied to the whole ``(B, T, N)`` series at once
  (one time-batched matmul, hoisted out of the time loop);
* a stateful node outside any loop is evolved by its kind's ``scan`` (a ``lax.scan``, or an
  associative scan for linear recurrences where that is faster);
* a strongly connected part (a recurrent loop) is evolved step by step in one ``lax.scan``,
  its one-step-delayed edges carried in the scan state.

Every scan over time runs ``Options.unroll`` steps per loop iteration (8 on GPU, 1 on CPU).

Only arrays are traced; topology, sizes and configuration are closed over. See
:class:`Program` for the public API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .. import ast
from ..bounds import check_initial
from ..errors import SpecError, SpecValueError, did_you_mean
from ..graph import Network, build, load, loads
from ..memory import check_network
from ..objective import make_objective
from ..train_config import precision_of
from .plan import Options, Stage, configure, plan

if TYPE_CHECKING:
    from .execute import Executor
    from .program import Program


def compile(spec: str | Path | Network | ast.Spec, **options: Any) -> Program:
    """Compile a spec file, spec text, parsed spec or :class:`Network` into a :class:`Program`.

    >>> prog = compile("network n { input x : 2\\n output y : 2\\n x -> tanh -> y }")
    >>> prog.init()
    {}
    """
    from .program import Program

    net, opts = _network(spec, options)
    if opts.precision is None:  # the train block's, if it says
        opts = replace(opts, precision=precision_of(net))
    try:
        prog = Program(net, opts)
    except SpecError as err:
        raise net.error(err) from None
    check_initial(net, prog.init)
    return prog


def check(spec: str | Path | Network | ast.Spec, **options: Any) -> Network:
    """Every check :func:`compile` makes (the graph, each node's arguments, the plan, the
    loss, initial values against bounds) without building the traced program, so without
    importing JAX unless a bounded parameter's initialiser has no static range and must be
    drawn. ``rpgraph check`` uses this.

    >>> check("network n { input x : 2\\n output y : 2\\n x -> tanh -> y }").name
    'n'
    """
    net, opts = _network(spec, options)
    # options fixed here, so that checking never asks JAX which backend it runs on
    opts = replace(opts, assoc_scan=bool(opts.assoc_scan), unroll=opts.unroll or 1)
    try:  # what Program.__init__ checks, in its order
        check_network(net)
        plan(net, opts)
        configure(net, opts)
        make_objective(net)
    except SpecError as err:
        raise net.error(err) from None

    def init(seed: int) -> Any:
        from .program import Program

        return Program(net, opts).init(seed)

    check_initial(net, init)
    return net


def _network(spec: str | Path | Network | ast.Spec, options: dict[str, Any]
             ) -> tuple[Network, Options]:
    unknown = sorted(set(options) - set(Options.__dataclass_fields__))
    if unknown:
        hint = did_you_mean(unknown[0], Options.__dataclass_fields__)
        raise SpecValueError(f"unknown compiler option '{unknown[0]}'",
                             hint=hint or f"options: {', '.join(Options.__dataclass_fields__)}")
    opts = replace(Options(), **options) if options else Options()
    if isinstance(spec, Network):
        net = spec
    elif isinstance(spec, ast.Spec):
        net = build(spec)
    elif isinstance(spec, Path) or (isinstance(spec, str) and "{" not in spec):
        net = load(spec)
    elif isinstance(spec, str):
        net = loads(spec)
    else:
        raise SpecValueError(f"Expected a path, spec text or Network, got {type(spec).__name__}")
    return net, opts


# The traced program needs JAX: loaded on first use, so that checking a spec does not.
def _execute() -> ModuleType:
    from . import execute

    return execute


def _program_module() -> ModuleType:
    from . import program

    return program


_LAZY: dict[str, Callable[[], ModuleType]] = {"Executor": _execute, "Program": _program_module}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(_LAZY[name](), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Executor", "Options", "Program", "Stage", "check", "compile", "configure", "plan"]
