"""Grid sweeps: ``rpgraph train SPEC --set optimizer.lr=0.001,0.003 --set seed=0,1`` trains
every point of the grid in one jitted program.

Only values that are arrays in the training program can differ between the points of one
program: the seed (initial parameters, minibatch order, noise keys) and the optimizer's
numeric hyperparameters. The optimizer is built with ``optax.inject_hyperparams``, which keeps
its hyperparameters in the optimizer state instead of baking them into the program as
constants; the ensemble's chunk (:mod:`.ensemble`) ``vmap`` s over optimizer states, so each
point trains with its own learning rate. Anything that changes the program's structure (layer
sizes, the batch size, the number of epochs) is refused with the place in the ``--set``
text and a hint.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import Span, SpecValueError, did_you_mean
from ..ranges import range_error
from ..train_config import ALIASES, TRAIN_SETTINGS, OptimizerSpec, optax_range

if TYPE_CHECKING:
    import optax

    from ..compile import Program
    from ..graph import Network
    from .loop import FitOptions, FitResult

#: what a ``--set`` key may name, for hints
SWEEPABLE = "seed or optimizer.<argument> (e.g. optimizer.lr)"


@dataclass(frozen=True)
class Axis:
    """One ``--set KEY=V1,V2,...``: the key, its values (``texts`` as the user wrote them,
    for run folder names), the flag's text and each value's ``(start, end)`` in it (where
    errors point)."""

    key: str
    values: tuple[float, ...]
    texts: tuple[str, ...]
    source: str
    spans: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Point:
    """One point of the grid: its seed, its optimizer hyperparameters (canonical optax
    names) and its run folder name, such as ``optimizer.lr=0.003_seed=1``."""

    seed: int
    hyper: tuple[tuple[str, float], ...]
    name: str


def _error(axis_text: str, message: str, start: int, end: int, hint: str | None
           ) -> SpecValueError:
    return SpecValueError(message, Span(1, start + 1, 1, max(end, start + 1) + 1), axis_text,
                          "--set", hint=hint)


def parse_axis(text: str, net: Network | None = None) -> Axis:
    """``KEY=V1,V2,...`` as an :class:`Axis`; keys that would change the program's structure
    (a layer's size, ``batch_size``, ``epochs``), unknown keys and values that are no numbers
    are refused, located in ``text``.

    >>> parse_axis("optimizer.lr=0.001,0.003").values
    (0.001, 0.003)
    """
    key, eq, rest = text.partition("=")
    key = key.strip()
    if not eq or not key:
        raise _error(text, "Expected --set KEY=V1,V2,...", 0, len(text),
                     f"e.g. --set optimizer.lr=0.001,0.003; KEY is {SWEEPABLE}")
    start = len(text) - len(text.lstrip())
    _check_key(text, key, start, net)
    texts = tuple(v.strip() for v in rest.split(","))
    values, spans = [], []
    at = len(text) - len(rest)
    for raw, v in zip(rest.split(","), texts, strict=True):
        try:
            number = float(v)
            if key == "seed" and (not number.is_integer() or not 0 <= number < 2**32):
                raise ValueError
        except ValueError:
            what = "a whole number 0 <= seed < 2**32" if key == "seed" else "a number"
            raise _error(text, f"Expected {what} in --set {key}, got '{v:.40}'", at,
                         at + len(raw), None) from None
        values.append(number)
        spans.append((at, at + len(raw)))
        at += len(raw) + 1
    if len(set(values)) != len(values):
        raise _error(text, f"--set {key} repeats a value", len(text) - len(rest), len(text),
                     None)
    return Axis(key, tuple(values), texts, text, tuple(spans))


def _check_key(text: str, key: str, start: int, net: Network | None) -> None:
    end = start + len(key)
    if key == "seed" or key.startswith("optimizer."):
        return
    head = key.split(".")[0]
    nodes = set(net.graph.nodes) if net is not None else set()
    if head in nodes or head in TRAIN_SETTINGS:
        what = ("changes the network's structure (sizes are compiled into the program)"
                if head in nodes else "changes the training program's structure")
        raise _error(text, f"'{key}' {what}; a sweep in one program varies values only",
                     start, end, f"sweep {SWEEPABLE}, or train each '{key}' in its own run")
    if key in ALIASES or key in ALIASES.values():
        hint: str | None = f"did you mean 'optimizer.{key}'?"
    else:
        hint = did_you_mean(key, ["seed", "optimizer.lr"]) or did_you_mean(head, nodes)
    raise _error(text, f"unknown --set key '{key}'", start, end,
                 hint or f"a key is {SWEEPABLE}")


def grid(axes: Sequence[Axis], seed: int) -> list[Point]:
    """The grid's points, the first axis varying slowest; ``seed`` for points that set none.

    >>> [p.name for p in grid([parse_axis("seed=0,1"), parse_axis("optimizer.lr=1,2")], 0)]
    ['seed=0_optimizer.lr=1', 'seed=0_optimizer.lr=2', 'seed=1_optimizer.lr=1', \
'seed=1_optimizer.lr=2']
    """
    keys = [a.key for a in axes]
    for i, a in enumerate(axes):
        if a.key in keys[:i]:
            raise _error(a.source, f"--set {a.key} is given twice", 0, len(a.key),
                         "give its values once, separated by commas")
    points = []
    for combo in itertools.product(*(range(len(a.values)) for a in axes)):
        s, hyper = seed, []
        for a, j in zip(axes, combo, strict=True):
            if a.key == "seed":
                s = int(a.values[j])
            else:
                name = a.key.split(".", 1)[1]
                hyper.append((ALIASES.get(name, name), a.values[j]))
        label = "_".join(f"{a.key}={a.texts[j]}" for a, j in zip(axes, combo, strict=True))
        points.append(Point(s, tuple(hyper), label or f"seed={s}"))
    return points


def injected(spec: OptimizerSpec, hyper: Sequence[tuple[str, float]], axes: Sequence[Axis] = ()
             ) -> optax.GradientTransformation:
    """``spec`` built with each hyperparameter of ``hyper`` set, the transformation that
    takes it wrapped in ``optax.inject_hyperparams`` (its numeric arguments live in the
    optimizer state, so a ``vmap`` over states gives each point its own values). Each name is
    looked up depth-first through ``chain(...)`` and wrappers; one no transformation takes is
    refused, located in its ``--set`` text (from ``axes``).

    >>> import jax.numpy as jnp
    >>> from rpgraph.train_config import optimizer_spec
    >>> tx = injected(optimizer_spec("adam(lr = 1e-3)"), [("learning_rate", 0.25)])
    >>> float(tx.init({"w": jnp.zeros(2)}).hyperparams["learning_rate"])
    0.25
    """
    import optax

    wanted = dict(hyper)
    placed: set[str] = set()
    known: set[str] = set()  # every argument of the transformations, for the hint

    def build(fn: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
        takes = set(inspect.signature(fn).parameters)
        known.update(takes)
        mine = {k: v for k, v in wanted.items() if k in takes and k not in placed}
        if not mine:
            return fn(*args, **kwargs)
        placed.update(mine)
        kwargs = {**kwargs, **mine}
        _check_values(fn.__name__, mine, axes)
        # only float arguments become state: flags and counts stay Python values
        static = [k for k, v in kwargs.items() if not isinstance(v, float) or
                  isinstance(v, bool)]
        return optax.inject_hyperparams(fn, static_args=static)(*args, **kwargs)

    tx = spec.build(build)
    for name in wanted:
        if name not in placed:
            axis = _axis_of(axes, name)
            message = f"the optimizer '{spec.text}' takes no argument '{name}'"
            if axis is None:
                raise SpecValueError(message)
            key_end = len(axis.key) + len(axis.source) - len(axis.source.lstrip())
            raise _error(axis.source, message, key_end - len(axis.key), key_end,
                         did_you_mean(axis.key, [f"optimizer.{k}" for k in (*known, *ALIASES)])
                         or
                         "name an argument of the optimizer, e.g. optimizer.lr")
    return tx


def _axis_of(axes: Sequence[Axis], name: str) -> Axis | None:
    """The ``--set`` axis that sets the optax argument ``name`` (``lr`` for
    ``learning_rate``)."""
    names = (name, *[k for k, v in ALIASES.items() if v == name])
    return next((a for a in axes if a.key.split(".", 1)[-1] in names), None)


def _check_values(fn: str, mine: dict[str, float], axes: Sequence[Axis]) -> None:
    """The swept values given to optax's ``fn`` are in the ranges a spec's own are checked
    against (:func:`~rpgraph.train_config.optax_range`): a sweep would otherwise train with
    ``lr = -1`` (the loss climbing) or divide by zero. Located at the value in its ``--set``
    text. (A sweep reaches transformations' arguments only, never a schedule's, so the
    order of a schedule's arguments cannot change here.)"""
    for name, value in mine.items():
        problem = range_error(name, value, optax_range(fn, name))
        if problem is None:
            continue
        message = f"optimizer '{fn}': {problem}"
        axis = _axis_of(axes, name)
        if axis is None or value not in axis.values or not axis.spans:
            raise SpecValueError(message)
        start, end = axis.spans[axis.values.index(value)]
        raise _error(axis.source, message, start, end, None)


def fit_sweep(prog: Program, data: Any = None, *, axes: Sequence[Axis],
              options: FitOptions | None = None, batched: bool = False,
              **overrides: Any) -> list[FitResult]:
    """Train every point of the grid ``axes`` (from :func:`parse_axis`) in one jitted
    program (:func:`~.ensemble.fit_ensemble`), one run folder per point under
    ``options.out_dir`` named after it (``optimizer.lr=0.003_seed=1``). Returns one
    :class:`~.loop.FitResult` per point, in :func:`grid` order.

    >>> import rpgraph
    >>> prog = rpgraph.compile("specs/tutorial_mlp.rpg")
    >>> rs = fit_sweep(prog, axes=[parse_axis("optimizer.lr=0.001,0.01")], epochs=1,
    ...                progress=False)  # doctest: +SKIP
    >>> len(rs)  # doctest: +SKIP
    2
    """

    from ..train_config import TrainConfig, elaborate_train, optimizer_spec, train_env
    from .ensemble import fit_ensemble
    from .loop import FitOptions

    o = (options or FitOptions()).with_overrides(overrides)
    config = elaborate_train(prog.network) or TrainConfig()
    if o.optimizer is None:
        spec = config.optimizer
    elif isinstance(o.optimizer, str):
        spec = optimizer_spec(o.optimizer, train_env(prog.network))
    else:
        raise SpecValueError("a sweep needs the optimizer as text (such as 'adam(lr = 1e-3)'), "
                             "not an optax object", hint="pass optimizer='adam(lr = 1e-3)'")
    points = grid(axes, config.seed if o.seed is None else o.seed)
    optimizers = [(injected(spec, p.hyper, axes), spec.text + "".join(
        f" [{k} = {v!r}]" for k, v in p.hyper)) for p in points]
    return fit_ensemble(prog, data, seeds=[p.seed for p in points], options=o,
                        optimizers=optimizers, names=[p.name for p in points],
                        batched=batched)
