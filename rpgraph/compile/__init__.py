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

from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import ast
from ..bounds import check_initial
from ..errors import SpecError, SpecValueError, did_you_mean
from ..graph import Network, build, load, loads
from .execute import Executor
from .plan import Options, Stage, plan
from .program import Program


def compile(spec: str | Path | Network | ast.Spec, **options: Any) -> Program:
    """Compile a spec file, spec text, parsed spec or :class:`Network` into a :class:`Program`.

    >>> prog = compile("network n { input x : 2\\n output y : 2\\n x -> tanh -> y }")
    >>> prog.init()
    {}
    """
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
    try:
        prog = Program(net, opts)
    except SpecError as err:
        raise net.error(err) from None
    check_initial(net, prog.init)
    return prog


__all__ = ["Executor", "Options", "Program", "Stage", "compile", "plan"]
