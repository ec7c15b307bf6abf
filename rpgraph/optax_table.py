"""optax's optimizers, schedules and transformations by name, with the signatures a spec's
``optimizer = ...`` is checked against.

``rpgraph check`` checks a train block without running anything, and importing optax (and
JAX behind it) was most of its time (~0.8 of 1.2 s). So the names and signatures come from a
table shipped with rpgraph, ``optax_table.json``, made from optax by
``python -m rpgraph.optax_table`` (a test fails when it no longer matches the installed
optax). The table records the optax version it was made from; with any other version
installed, everything is read from optax itself, so a stale table is never trusted.

>>> [p.name for p in params("adam")][:3]
['learning_rate', 'b1', 'b2']
>>> sorted(params("adam")[0].accepts)
['number', 'schedule']
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

#: The optimizers a spec names directly: ``optimizer = adam(lr = 1e-3)``.
OPTIMIZER_NAMES = (
    "adam", "adamw", "sgd", "rmsprop", "adagrad", "adabelief", "adamax", "adamaxw", "amsgrad",
    "lion", "nadam", "nadamw", "radam", "lamb", "lars", "yogi", "novograd", "fromage",
    "noisy_sgd", "adafactor", "adadelta", "sm3", "sign_sgd", "polyak_sgd", "rprop",
    "optimistic_gradient_descent")
#: The schedules a spec may pass where optax takes one: ``lr = cosine_decay_schedule(...)``.
SCHEDULE_NAMES = (
    "constant_schedule", "exponential_decay", "cosine_decay_schedule",
    "warmup_cosine_decay_schedule", "linear_schedule", "polynomial_schedule",
    "piecewise_constant_schedule", "cosine_onecycle_schedule",
    "warmup_exponential_decay_schedule", "sgdr_schedule")
TABLE = Path(__file__).with_name("optax_table.json")
#: Parameter kinds as the table spells them (positional-only counts as positional: a spec
#: passes such an argument by position too).
_KINDS = {inspect.Parameter.POSITIONAL_ONLY: "positional",
          inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
          inspect.Parameter.KEYWORD_ONLY: "keyword",
          inspect.Parameter.VAR_POSITIONAL: "var_positional",
          inspect.Parameter.VAR_KEYWORD: "var_keyword"}


@dataclass(frozen=True)
class Param:
    """One parameter of an optax function: ``kind`` is ``positional``, ``keyword``,
    ``var_positional`` or ``var_keyword``; ``accepts`` what a spec may pass (see
    :func:`accepts`)."""

    name: str
    kind: str
    required: bool
    accepts: frozenset[str]


def accepts(annotation: Any) -> frozenset[str]:
    """What an optax annotation accepts from a spec: ``int``, ``number``, ``bool``, ``str``,
    ``none``, ``schedule`` (a callable of the step) or ``any`` (masks, dtypes: checked by
    rules of their own). A number is never a boolean: jax's ``ArrayLike`` lists ``bool``,
    but ``b1 = true`` is a mistake, not 1.0.

    >>> sorted(accepts(typing.Optional[float]))
    ['none', 'number']
    """
    if annotation is inspect.Parameter.empty or annotation is Any:
        return frozenset({"any"})
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        out = frozenset().union(*(accepts(a) for a in typing.get_args(annotation)))
        return out - {"bool"} if "number" in out else out
    if origin is not None and origin.__name__ == "Callable" or annotation is Callable:
        return frozenset({"schedule"})
    atoms = {bool: "bool", int: "int", float: "number", complex: "number", str: "str",
             type(None): "none"}
    if annotation in atoms:
        return frozenset({atoms[annotation]})
    name = getattr(annotation, "__name__", "").rsplit(".", 1)[-1]
    if name in ("Array", "ndarray", "number", "floating", "integer"):
        return frozenset({"number"})
    if name == "bool" or annotation is np.bool_:
        return frozenset({"bool"})
    return frozenset({"any"})


def params_of(fn: Callable[..., Any]) -> tuple[Param, ...]:
    """The parameters of a live optax function (annotations resolved)."""
    try:
        sig = inspect.signature(fn, eval_str=True)
    except (TypeError, ValueError, NameError):  # pragma: no cover - unresolvable annotations
        sig = inspect.signature(fn)
    return tuple(Param(p.name, _KINDS[p.kind],
                       p.default is inspect.Parameter.empty and p.kind not in (
                           inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD),
                       accepts(p.annotation)) for p in sig.parameters.values())


def _live_transforms() -> tuple[str, ...]:
    """Every public optax function that is not a schedule (whether one builds a gradient
    transformation is found out when a spec's call is built)."""
    import optax

    return tuple(sorted(
        n for n in dir(optax) if not n.startswith("_") and n not in SCHEDULE_NAMES
        and n[0].islower() and callable(getattr(optax, n))
        and not isinstance(getattr(optax, n), type)))


def make_table() -> dict[str, Any]:
    """The table as ``optax_table.json`` holds it, made from the installed optax."""
    import optax

    def row(name: str) -> list[list[Any]]:
        return [[p.name, p.kind, p.required, sorted(p.accepts)]
                for p in params_of(getattr(optax, name))]

    return {"optax": metadata.version("optax"),
            "signatures": {n: row(n) for n in (*OPTIMIZER_NAMES, *SCHEDULE_NAMES)
                           if hasattr(optax, n)},
            "transforms": list(_live_transforms())}


@functools.cache
def _table() -> dict[str, Any] | None:
    """The shipped table, or ``None`` when it was made from another optax version."""
    try:
        table: dict[str, Any] = json.loads(TABLE.read_text(encoding="utf-8"))
        installed = metadata.version("optax")
    except (OSError, ValueError, metadata.PackageNotFoundError):  # pragma: no cover
        return None
    return table if table.get("optax") == installed else None


def names(group: str) -> tuple[str, ...]:
    """The names in ``group`` (``optimizers``, ``schedules`` or ``transforms``) that the
    installed optax has.

    >>> "cosine_decay_schedule" in names("schedules")
    True
    """
    table = _table()
    if group == "transforms":
        return tuple(table["transforms"]) if table is not None else _live_transforms()
    wanted = OPTIMIZER_NAMES if group == "optimizers" else SCHEDULE_NAMES
    if table is not None:
        return tuple(n for n in wanted if n in table["signatures"])
    import optax

    return tuple(n for n in wanted if hasattr(optax, n))


def params(name: str) -> tuple[Param, ...]:
    """The parameters of optax's ``name``: from the table for optimizers and schedules,
    from optax itself for anything else (or with another optax version installed)."""
    table = _table()
    if table is not None and name in table["signatures"]:
        return tuple(Param(n, k, r, frozenset(a)) for n, k, r, a in table["signatures"][name])
    import optax

    return params_of(getattr(optax, name))


def _dumps(table: dict[str, Any]) -> str:
    """The table as JSON with one parameter per line (readable diffs when optax changes)."""
    rows = ",\n".join(
        f'  "{name}": [' + ",".join(f"\n   {json.dumps(p)}" for p in ps) + "]"
        for name, ps in sorted(table["signatures"].items()))
    return (f'{{\n "optax": {json.dumps(table["optax"])},\n "signatures": {{\n{rows}\n }},\n'
            f' "transforms": {json.dumps(table["transforms"])}\n}}\n')


def main() -> int:
    """``python -m rpgraph.optax_table``: rewrite ``optax_table.json`` from optax."""
    TABLE.write_text(_dumps(make_table()), encoding="utf-8")
    _table.cache_clear()
    print(f"wrote {TABLE}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    raise SystemExit(main())
