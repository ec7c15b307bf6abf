"""The ``train { }`` block, elaborated once into a typed :class:`TrainConfig`.

Every setting is evaluated and checked here: names against the settings, optax's optimizers
and schedules and the built-in data sets (keyword arguments against their signatures),
integers against their ranges. ``rpgraph check`` therefore validates a train block without
the trainer, and the trainer only turns the config into runtime objects
(:meth:`OptimizerSpec.build`, :meth:`DataSpec.load`).

The parameters named by ``freeze`` are matched and marked by the graph (they are part of
the network's parameter records); the config keeps the references.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import ast, optax_table
from .errors import (
    DataError,
    Span,
    SpecError,
    SpecNameError,
    SpecValueError,
    clip,
    did_you_mean,
)
from .expr import Quantity, Symbol, as_int, describe
from .expr import evaluate as value_of
from .fmt import format_expr
from .io.data import (
    Dataset,
    Ports,
    check_against_spec,
    check_dataset,
    check_ports,
    load_npz,
    make_dataset,
)
from .memory import refuse_above, training_estimate
from .modules import KINDS
from .optax_table import Param
from .ranges import (
    AT_LEAST_1,
    FINITE,
    NON_NEGATIVE,
    POSITIVE,
    SEED,
    UNIT_INTERVAL,
    Range,
    range_error,
)

if TYPE_CHECKING:
    import optax

    from .graph import Network

class _Optax(Mapping[str, Callable[..., Any]]):
    """optax functions by name. Names come from :mod:`rpgraph.optax_table` (no import); a
    function itself is looked up in optax on first use: importing optax (and JAX behind it)
    is start-up time that ``import rpgraph`` and ``rpgraph check`` do not need."""

    def __init__(self, group: str) -> None:
        self._group = group

    def __contains__(self, name: object) -> bool:
        return name in optax_table.names(self._group)

    def __getitem__(self, name: str) -> Callable[..., Any]:
        if name not in self:
            raise KeyError(name)
        import optax

        fn: Callable[..., Any] = getattr(optax, name)
        return fn

    def __iter__(self) -> Iterator[str]:
        return iter(optax_table.names(self._group))

    def __len__(self) -> int:
        return len(optax_table.names(self._group))


# Optimizers and schedules are looked up by name in optax (a registry, not an if-chain).
OPTIMIZERS = _Optax("optimizers")
SCHEDULES = _Optax("schedules")
ALIASES = {"lr": "learning_rate"}
#: Any optax transformation by name, for ``chain(clip_by_global_norm(1.0), adamw(...))``;
#: whether a name builds a gradient transformation is checked when the spec's call is built
#: (:func:`optimizer_spec`).
TRANSFORMS = _Optax("transforms")
TRAIN_SETTINGS = ("data", "loss", "optimizer", "epochs", "batch_size", "freeze", "seed",
                  "checkpoint_every", "test_data", "validation", "early_stopping", "keep",
                  "tensorboard", "precision")
#: ``keep = best | last``: which parameters a run ends with (best: lowest validation loss).
KEEP = ("last", "best")
#: ``precision = float32 | bfloat16``: the dtype the network computes in (parameters, the
#: optimizer and the loss stay float32; see :class:`rpgraph.compile.plan.Options`).
PRECISIONS = ("float32", "bfloat16")
#: The integer settings: ``(default, smallest, largest allowed value)``, checked in this
#: order (a seed is 32 bits, as numpy's and jax's generators take; steps are 64-bit).
INTEGERS: dict[str, tuple[int | None, int, int]] = {
    "epochs": (100, 0, 2**62), "batch_size": (1, 1, 2**31 - 1), "seed": (0, 0, 2**32 - 1),
    "checkpoint_every": (None, 1, 2**62)}
#: Ranges of optax arguments by name (types come from optax's signatures; every other
#: number must be finite). Values outside these make optax fail or silently do nothing.
OPTAX_RANGES: dict[str, Range] = {
    "transition_steps": AT_LEAST_1, "decay_steps": AT_LEAST_1, "warmup_steps": NON_NEGATIVE,
    "transition_begin": NON_NEGATIVE, "seed": SEED, "b1": UNIT_INTERVAL, "b2": UNIT_INTERVAL,
    "decay": UNIT_INTERVAL, "rho": UNIT_INTERVAL, "momentum": UNIT_INTERVAL,
    "eps": NON_NEGATIVE, "eps_root": NON_NEGATIVE, "pct_start": UNIT_INTERVAL,
    "min_dim_size_to_factor": AT_LEAST_1, "max_learning_rate": NON_NEGATIVE,
    # a negative learning rate or weight decay climbs the loss; negative accumulators and
    # scales are square-rooted (NaN at the first step); factors divide
    "learning_rate": NON_NEGATIVE, "weight_decay": NON_NEGATIVE,
    "weight_decay_rate": NON_NEGATIVE, "trust_coefficient": NON_NEGATIVE,
    "initial_accumulator_value": NON_NEGATIVE, "initial_scale": NON_NEGATIVE,
    "min_norm": NON_NEGATIVE, "clipping_threshold": NON_NEGATIVE, "decay_rate": NON_NEGATIVE,
    "scaling": NON_NEGATIVE, "eta": NON_NEGATIVE, "gamma": NON_NEGATIVE,
    "eta_minus": UNIT_INTERVAL, "eta_plus": Range(1), "min_step_size": NON_NEGATIVE,
    "max_step_size": NON_NEGATIVE, "div_factor": POSITIVE, "final_div_factor": POSITIVE,
    "decay_offset": NON_NEGATIVE}
#: Tighter ranges for one function's argument, where optax needs them (radam divides by
#: ``1 - b2``); ``tests/test_optax_table.py`` finds these by trying each range's ends.
OPTAX_RANGES_FOR: dict[tuple[str, str], Range] = {
    ("radam", "b2"): Range(0, 1, hi_open=True)}


#: Arguments of one function that optax needs in order, ``(smaller, larger)``: the warmup
#: must end before the decay does (optax then decays over ``decay_steps - warmup_steps``).
OPTAX_ORDER: dict[str, tuple[str, str]] = {
    "warmup_cosine_decay_schedule": ("warmup_steps", "decay_steps")}


def optax_range(fn: str, arg: str) -> Range:
    """The values optax's ``fn`` takes for ``arg`` (every number must at least be finite).

    >>> optax_range("radam", "b2").text("b2"), optax_range("adam", "b2").text("b2")
    ('0 <= b2 < 1', '0 <= b2 <= 1')
    """
    return OPTAX_RANGES_FOR.get((fn, arg)) or OPTAX_RANGES.get(arg, FINITE)


#: The floating-point types an optimizer's state may be kept in (``mu_dtype = bfloat16``).
DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class ArgRule:
    """How a spec writes an optax argument whose annotation says nothing checkable (``Any``,
    a dict, an iterable of dicts): ``fits`` checks the evaluated value, ``want`` says what
    it expects (in messages), ``build`` turns it into what optax takes.

    >>> ARG_RULES["boundaries_and_scales"].build([[100, 0.5]])
    {100: 0.5}
    """

    want: str
    fits: Callable[[Any], bool]
    build: Callable[[Any], Any] = lambda v: v


def _is_int(v: Any) -> bool:
    return type(v) is int


def _is_number(v: Any) -> bool:
    return type(v) in (int, float) and bool(np.isfinite(v))


def _pairs(v: Any) -> bool:
    return isinstance(v, list) and all(
        isinstance(p, list) and len(p) == 2 and _is_int(p[0]) and p[0] >= 0
        and _is_number(p[1]) and p[1] >= 0 for p in v) and len({p[0] for p in v}) == len(v)


def _cosines(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(
        isinstance(c, ScheduleSpec) and c.name == "warmup_cosine_decay_schedule" for c in v)


_DTYPE = ArgRule(f"a type name ({', '.join(DTYPES)})", lambda v: v in DTYPES)
#: a mask as a spec can write it: true (every parameter) or false (none); to leave some
#: parameters out of training altogether, the train block has freeze = [...]
_MASK = ArgRule("true or false", lambda v: isinstance(v, bool))
#: Arguments by name whose annotations say nothing checkable (checked before optax sees them).
ARG_RULES: dict[str, ArgRule] = {
    "mu_dtype": _DTYPE, "accumulator_dtype": _DTYPE, "dtype_momentum": _DTYPE,
    "mask": _MASK, "weight_decay_mask": _MASK, "trust_ratio_mask": _MASK,
    # noisy_sgd's key: optax takes an array or an int, a spec an integer seed
    "key": ArgRule("an integer seed (0 to 4294967295)",
                   lambda v: _is_int(v) and SEED.contains(v)),
    "boundaries_and_scales": ArgRule(
        "a list of [step, scale] pairs with distinct steps >= 0 and scales >= 0, e.g. "
        "[[100, 0.1], [200, 0.1]]",
        _pairs, lambda v: {int(b): float(x) for b, x in v}),
    "cosine_kwargs": ArgRule(
        "a list of warmup_cosine_decay_schedule(...) calls, one per cycle", _cosines,
        lambda v: [dict(c.kwargs) for c in v]),
}

Kwargs = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class ScheduleSpec:
    """An optax schedule by name with its evaluated keyword values.

    >>> ScheduleSpec("exponential_decay", (("init_value", 1.0), ("transition_steps", 1),
    ...                                    ("decay_rate", 0.5))).build()(2)
    Array(0.25, dtype=float32, weak_type=True)
    """

    name: str
    kwargs: Kwargs = ()

    def build(self) -> Callable[..., Any]:
        return SCHEDULES[self.name](**_built(self.kwargs))


@dataclass(frozen=True)
class OptimizerSpec:
    """An optax optimizer by name with its evaluated keyword values (schedules as
    :class:`ScheduleSpec`); ``text`` is its canonical source text, as run files record it.

    >>> spec = optimizer_spec("adam(lr = 1e-3)")
    >>> spec.kwargs, spec.text
    ((('learning_rate', 0.001),), 'adam(lr = 1e-3)')
    """

    name: str
    kwargs: Kwargs = ()
    text: str = ""
    span: Span | None = field(default=None, compare=False)
    args: tuple[Any, ...] = ()  # ``chain(a, b)``: the transformations it chains

    def verify(self) -> None:
        """Build this optimizer and trace one update on a tiny abstract tree: what optax
        refuses (which the signature table and the ranges cannot tell) becomes a located
        error before any training.

        >>> optimizer_spec("adam(lr = 1e-3)").verify()
        """
        what = f"optimizer '{self.name}'"
        _try_build(self, what, self.span)
        _try_step(self, what, self.span)

    def build(self, call: Builder | None = None) -> optax.GradientTransformation:
        """The optax transformation; ``call(fn, args, kwargs)``, where given, makes each one
        (this and every one it chains) from its built arguments instead of ``fn(*args,
        **kwargs)``, e.g. to wrap some in ``optax.inject_hyperparams``."""
        fn = OPTIMIZERS[self.name] if self.name in OPTIMIZERS else TRANSFORMS[self.name]
        args = [_built_one(a, call) for a in self.args]
        kwargs = _built(self.kwargs, call)
        return fn(*args, **kwargs) if call is None else call(fn, args, kwargs)


#: How :meth:`OptimizerSpec.build` makes one transformation: ``(fn, args, kwargs) -> tx``.
Builder = Callable[[Callable[..., Any], list[Any], dict[str, Any]], Any]


@dataclass(frozen=True)
class DataSpec:
    """A data set named by a spec: a ``.npz`` file (``name == "npz"``, ``path`` relative to
    the spec's folder) or a built-in data set with its evaluated keyword values. ``span``,
    where set, is where errors about its arguments point.

    >>> data_spec(ast.Str("data/x.npz"), {})
    DataSpec(name='npz', kwargs=(), path='data/x.npz', text='"data/x.npz"', span=None)
    """

    name: str
    kwargs: Kwargs = ()
    path: str | None = None
    text: str = ""
    span: Span | None = field(default=None, compare=False)

    def load(self, base_dir: Path | None = None, allow_outside: bool = False,
             ports: Ports | None = None) -> Dataset:
        """The data set itself (the file read, or the built-in set generated); a file named
        after ``ports`` is checked against them as it is read."""
        if self.path is not None:
            return load_npz(self.path, base_dir=base_dir, allow_outside=allow_outside,
                            ports=ports)
        try:
            return make_dataset(self.name, dict(self.kwargs), base_dir=base_dir,
                                allow_outside=allow_outside)
        except DataError as err:
            if err.span is None:
                err.span = self.span
            raise


@dataclass(frozen=True)
class EarlyStopping:
    """``early_stopping = plateau(patience = 5, min_delta = 0)`` (or ``(patience = 5)``, or
    ``early_stopping = 5``): stop when the validation loss has not fallen by more than
    ``min_delta`` for ``patience`` epochs.

    >>> EarlyStopping(5).patience
    5
    """

    patience: int
    min_delta: float = 0.0


def _default_optimizer() -> OptimizerSpec:
    return OptimizerSpec("adam", (("learning_rate", 1e-3),), "adam(lr = 1e-3)")


@dataclass(frozen=True)
class TrainConfig:
    """A checked ``train { }`` block; absent settings hold their defaults.

    ``loss`` is the loss expression (``None``: the default ``mse`` of the first output),
    compiled by :mod:`rpgraph.objective`; ``freeze`` the parameter patterns the graph has
    marked untrainable; ``spans`` the place of each given setting's value.

    >>> from rpgraph.graph import load
    >>> config = elaborate_train(load("specs/tutorial_rate.rpg"))
    >>> config.data.name, config.optimizer.text, config.epochs, config.batch_size
    ('sinusoids', 'adam(lr = 1e-4)', 1000, 1)
    """

    data: DataSpec | None = None
    loss: ast.Expr | None = None
    optimizer: OptimizerSpec = field(default_factory=_default_optimizer)
    epochs: int = 100
    batch_size: int = 1
    seed: int = 0
    checkpoint_every: int | None = None
    test_data: DataSpec | None = None
    validation: float | None = None
    early_stopping: EarlyStopping | None = None
    keep: str = "last"
    tensorboard: bool = False
    precision: str = "float32"
    freeze: tuple[ast.Ref, ...] = ()
    spans: Mapping[str, Span] = field(default_factory=dict, compare=False)

    def override(self, **given: int | None) -> TrainConfig:
        """This config with the integer settings given (flags, arguments of ``fit``)
        replacing the spec's; ``None`` keeps the spec's value.

        >>> TrainConfig().override(epochs=3, seed=None).epochs
        3
        """
        changes: dict[str, Any] = {}
        for key, value in given.items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise SpecValueError(f"Expected {key} to be an integer, got "
                                     f"{type(value).__name__} {clip(repr(value))}")
            message = _integer_error(key, int(value))
            if message is not None:
                raise SpecValueError(message)
            changes[key] = int(value)
        return replace(self, **changes)


# --- elaboration -----------------------------------------------------------------------------


def train_env(net: Network) -> dict[str, Any]:
    """The names a train setting may use: the network's simulation parameters."""
    return {k: Quantity(v, "time") if k == "dt" else v for k, v in net.sim.items()}


def data_dir(net: Network) -> Path | None:
    """The folder the spec's data paths are relative to (``None`` for spec text)."""
    return Path(net.filename).parent if net.filename not in ("<string>", "") else None


def elaborate_train(net: Network) -> TrainConfig | None:
    """The network's ``train { }`` block, checked and typed (``None`` without one); every
    mistake is a located :class:`~rpgraph.errors.SpecError`.

    >>> from rpgraph.graph import loads
    >>> net = loads("network n { input x : 2\\n output y : 2\\n x -> y }\\n"
    ...             "train { optimizer = sgd(lr = exponential_decay(init_value = 0.1, "
    ...             "transition_steps = 10, decay_rate = 0.5))\\n epochs = 2 }")
    >>> config = elaborate_train(net)
    >>> config.optimizer.kwargs[0][1].name, config.epochs
    ('exponential_decay', 2)
    """
    train = net.spec.train
    if train is None:
        return None
    try:
        return _elaborate(train, train_env(net))
    except SpecError as err:
        raise err.located(net.source, net.filename) from None


def _elaborate(train: ast.Train, env: Mapping[str, Any]) -> TrainConfig:
    for s in train.settings:
        if s.key not in TRAIN_SETTINGS:
            raise SpecNameError(f"unknown train setting '{s.key}'", s.span,
                                hint=did_you_mean(s.key, TRAIN_SETTINGS)
                                or f"settings: {', '.join(TRAIN_SETTINGS)}")
    ints: dict[str, Any] = {key: _integer(train.get(key), env, key, default)
                            for key, (default, _, _) in INTEGERS.items()}
    data, opt, test = train.get("data"), train.get("optimizer"), train.get("test_data")
    loss, freeze = train.get("loss"), train.get("freeze")
    val_stop = _validation_settings(train, env)
    return TrainConfig(
        data=data_spec(data.value, env) if data is not None else None,
        loss=loss.value if loss is not None else None,
        optimizer=optimizer_spec(opt.value, env) if opt is not None else _default_optimizer(),
        test_data=data_spec(test.value, env) if test is not None else None,
        # the graph has refused anything but parameter references (and marked those)
        freeze=tuple(i for i in _items(freeze.value) if isinstance(i, ast.Ref))
        if freeze is not None else (),
        spans={s.key: s.value.span for s in train.settings}, **val_stop, **ints)


def _validation_settings(train: ast.Train, env: Mapping[str, Any]) -> dict[str, Any]:
    """``validation``, ``early_stopping``, ``keep`` and ``tensorboard``, checked."""
    out: dict[str, Any] = {}
    s = train.get("validation")
    if s is not None:
        v = value_of(s.value, env)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
            raise SpecValueError(f"Expected validation to be a fraction between 0 and 1 "
                                 f"(e.g. 0.1), got {format_expr(s.value)}", s.value.span,
                                 hint="or hold out a file: test_data = \"FILE.npz\"")
        out["validation"] = float(v)
    s = train.get("early_stopping")
    if s is not None:
        out["early_stopping"] = _early_stopping(s.value, env)
    s = train.get("keep")
    if s is not None:
        word = s.value.id if isinstance(s.value, ast.Name) else format_expr(s.value)
        if word not in KEEP:
            raise SpecValueError(f"Expected keep = best or keep = last, got {word}",
                                 s.value.span, hint=did_you_mean(word, KEEP))
        out["keep"] = word
    s = train.get("tensorboard")
    if s is not None:
        if not isinstance(s.value, ast.Bool):
            raise SpecValueError(f"Expected tensorboard = true or false, got "
                                 f"{format_expr(s.value)}", s.value.span)
        out["tensorboard"] = s.value.value
    s = train.get("precision")
    if s is not None:
        out["precision"] = _precision(s)
    return out


def _precision(s: ast.Setting) -> str:
    word = s.value.id if isinstance(s.value, ast.Name) else format_expr(s.value)
    if word not in PRECISIONS:
        raise SpecValueError(f"Expected precision = float32 or precision = bfloat16, got "
                             f"{clip(word)}", s.value.span, hint=did_you_mean(word, PRECISIONS))
    return word


def precision_of(net: Network) -> str:
    """The train block's ``precision`` (``"float32"`` without one), checked on its own: the
    compiler needs it before, and without, the rest of the block.

    >>> from rpgraph.graph import loads
    >>> precision_of(loads("network n { input x : 2\\n output y : 2\\n x -> y }\\n"
    ...                    "train { precision = bfloat16 }"))
    'bfloat16'
    """
    s = net.spec.train.get("precision") if net.spec.train is not None else None
    if s is None:
        return "float32"
    try:
        return _precision(s)
    except SpecError as err:
        raise err.located(net.source, net.filename) from None


def _early_stopping(expr: ast.Expr, env: Mapping[str, Any]) -> EarlyStopping:
    """``5``, ``plateau(patience = 5, min_delta = 1e-4)`` or ``(patience = 5)``."""
    if isinstance(expr, ast.Call) and expr.func in ("plateau", ""):
        names = [k for k, _ in expr.kwargs]
        args = dict(zip(("patience", "min_delta"), expr.args, strict=False))
        for i, (k, v) in enumerate(expr.kwargs):
            if k not in ("patience", "min_delta"):
                raise SpecNameError(f"{expr.func or 'early_stopping'} has no argument '{k}'",
                                    expr.key_span(i),
                                    hint=did_you_mean(k, ("patience", "min_delta"))
                                    or "arguments: patience, min_delta")
            args[k] = v
        if len(expr.args) > 2 or len(set(names)) != len(names) or "patience" not in args:
            raise SpecValueError(f"Expected {expr.func}(patience = N, min_delta = D)",
                                 expr.span)
        patience = as_int(value_of(args["patience"], env), args["patience"], "an integer "
                          "patience")
        delta = value_of(args["min_delta"], env) if "min_delta" in args else 0.0
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or delta < 0:
            raise SpecValueError(f"Expected min_delta >= 0, got "
                                 f"{format_expr(args['min_delta'])}", args["min_delta"].span)
        if patience < 1:
            raise SpecValueError(f"Expected patience >= 1, got {patience}",
                                 args["patience"].span)
        return EarlyStopping(patience, float(delta))
    if isinstance(expr, ast.Call):
        raise SpecNameError(f"unknown early stopping rule '{expr.func}'", expr.func_span,
                            hint="write early_stopping = plateau(patience = 5), "
                            "(patience = 5) or early_stopping = 5")
    v = value_of(expr, env)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or v < 1:
        raise SpecValueError(f"Expected early_stopping = plateau(patience = N) or a patience "
                             f"N >= 1, got {format_expr(expr)}", getattr(expr, "span", None))
    return EarlyStopping(int(v))


def _items(expr: ast.Expr) -> tuple[ast.Expr, ...]:
    return expr.items if isinstance(expr, ast.ListExpr) else (expr,)


def _integer(s: ast.Setting | None, env: Mapping[str, Any], key: str, default: int | None
             ) -> int | None:
    if s is None:
        return default
    n = as_int(value_of(s.value, env), s.value, f"an integer {key}")
    message = _integer_error(key, n)
    if message is not None:
        raise SpecValueError(message, s.value.span)
    return n


def _integer_error(key: str, n: int) -> str | None:
    """The message for an integer setting outside its range (``seed = 2**70``)."""
    _, lo, hi = INTEGERS[key]
    # name the side that is crossed: "seed >= 0" for -1, "seed <= 4294967295" for 2**70
    return range_error(key, n, Range(lo) if n < lo else Range(hi=hi))


def optimizer_spec(expr: ast.Expr | str, env: Mapping[str, Any] | None = None
                   ) -> OptimizerSpec:
    """An optimizer from ``adam(lr = 1e-4)`` (any optax optimizer by name), its keyword
    arguments checked against optax's signature.

    >>> optimizer_spec("sgd(0.1, momentum = 0.9)").kwargs
    (('learning_rate', 0.1), ('momentum', 0.9))
    """
    if isinstance(expr, str):
        from .parse import parse_expr

        expr = parse_expr(expr)
    call = expr if isinstance(expr, ast.Call) else (
        ast.Call(expr.id, (), (), expr.span, expr.span) if isinstance(expr, ast.Name) else None)
    if call is None:
        raise SpecValueError("Expected an optimizer such as adam(lr = 1e-4)",
                             getattr(expr, "span", None))
    if call.func not in OPTIMIZERS:
        return _transform_spec(call, env or {})
    sig = optax_table.params(call.func)
    kwargs = _kwargs(call, env or {}, sig, f"optimizer '{call.func}'")
    _require_all(sig, kwargs, f"optimizer '{call.func}'", call)
    spec = OptimizerSpec(call.func, tuple(kwargs.items()), format_expr(call), call.span)
    if not _vouched(spec):
        spec.verify()
    return spec


def _vouched(spec: OptimizerSpec | ScheduleSpec) -> bool:
    """Whether checking the arguments against the signature table and their ranges (as
    done) vouches that optax builds and runs ``spec``: numbers, booleans and values with an
    :data:`ARG_RULES` rule, schedules of such, no transformation inside. Anything else (a
    string such as ``polyak_sgd(variant = "x")``, a chained transformation) is built and
    traced once at check; vouched ones are too, when training starts
    (:meth:`OptimizerSpec.verify`), so that ``rpgraph check`` on them needs no JAX.
    ``tests/test_ranges.py`` checks the claim on random arguments of every optimizer and
    schedule."""
    if isinstance(spec, OptimizerSpec) and (spec.args or spec.name not in OPTIMIZERS):
        return False

    def plain(key: str, v: Any) -> bool:
        if isinstance(v, ScheduleSpec):
            return _vouched(v)
        if isinstance(v, list) and key not in ARG_RULES:
            return all(plain(key, x) for x in v)
        return key in ARG_RULES or v is None or type(v) in (bool, int, float)

    return all(plain(k, v) for k, v in spec.kwargs)


def _try_step(spec: OptimizerSpec, what: str, span: Span | None) -> None:
    """Trace one update of ``spec`` on a tiny abstract tree (``jax.eval_shape``: nothing is
    computed or allocated, ~30 ms), as the training step runs it (with the loss as
    ``value``): values optax accepts when building but not when updating, such as
    ``polyak_sgd(variant = "x")``, are refused at check rather than at the first step."""
    import jax
    import jax.numpy as jnp
    import optax

    tree = {"w": jax.ShapeDtypeStruct((2,), jnp.float32)}
    try:
        with warnings.catch_warnings():  # optax's warnings are for the real build, at train
            warnings.simplefilter("ignore")
            tx = optax.with_extra_args_support(spec.build())
            state = jax.eval_shape(tx.init, tree)
            jax.eval_shape(lambda g, s, p: tx.update(g, s, p,
                                                     value=jnp.zeros((), jnp.float32)),
                           tree, state, tree)
    except Exception as err:  # noqa: BLE001 - any failure: these values cannot train
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise SpecValueError(f"{what} cannot run with these arguments: {clip(first, 200)}",
                             span) from None


def _try_build(spec: OptimizerSpec | ScheduleSpec, what: str, span: Span | None) -> None:
    """Build ``spec`` once (optax allocates nothing when building): what optax itself
    refuses, such as ``cosine_decay_schedule(decay_steps = 0)``, is refused at check."""
    try:
        with warnings.catch_warnings():  # optax's warnings are for the real build, at train
            warnings.simplefilter("ignore")
            spec.build()
    except (ValueError, TypeError, OverflowError, ArithmeticError, AttributeError, KeyError,
            IndexError, AssertionError) as err:  # what optax raises for values it cannot use
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise SpecValueError(f"{what} refuses its arguments: {clip(first, 200)}",
                             span) from None


def _transform_spec(call: ast.Call, env: Mapping[str, Any]) -> OptimizerSpec:
    """Any optax transformation by name: ``chain(clip_by_global_norm(1.0), adam(1e-3))``,
    ``apply_if_finite(adam(lr = 1e-3), max_consecutive_errors = 3)``; its arguments may be
    transformations themselves. Built once here, so a name that is no transformation (a
    loss, a helper) is refused at ``check``."""
    if call.func not in TRANSFORMS:
        raise SpecNameError(f"unknown optimizer '{call.func}'", call.func_span,
                            hint=did_you_mean(call.func, [*OPTIMIZERS, *TRANSFORMS])
                            or f"known optimizers: {', '.join(sorted(OPTIMIZERS))}; "
                            "or any optax transformation, combined with chain(...)")
    what = f"optimizer '{call.func}'"
    sig = optax_table.params(call.func)
    var = any(p.kind == "var_positional" for p in sig)
    args: tuple[Any, ...] = ()
    if var:  # chain(a, b, ...): every positional argument is a transformation
        args = tuple(optimizer_spec(a, env) for a in call.args)
        call = ast.Call(call.func, (), call.kwargs, call.span, call.func_span, call.key_spans)
    kwargs = _kwargs(call, env, sig, what, strict=False)
    _require_all(sig, kwargs, what, call)
    spec = OptimizerSpec(call.func, tuple(kwargs.items()), format_expr(call), call.span, args)
    if var:
        spec = replace(spec, text=f"{call.func}({', '.join(a.text for a in args)}"
                       + "".join(f", {k} = {format_expr(v)}" for k, v in call.kwargs) + ")")
    import optax

    try:
        built = spec.build()
    except SpecError:
        raise
    except Exception as exc:  # optax's own check of the values
        raise SpecValueError(f"{what} cannot be built: {type(exc).__name__}: {exc}",
                             call.span) from None
    if not isinstance(built, optax.GradientTransformation):
        raise SpecValueError(f"optax.{call.func} is not a gradient transformation (it returns "
                             f"{type(built).__name__})", call.func_span,
                             hint="use an optimizer such as adam(lr = 1e-3), or a transform "
                             "such as clip_by_global_norm(1.0) inside chain(...)")
    return spec


def _kwargs(call: ast.Call, env: Mapping[str, Any], params: tuple[Param, ...], what: str,
            strict: bool = True) -> dict[str, Any]:
    """Evaluate a call's arguments for the optax function with ``params``, by keyword, with
    schedules as nested calls. ``strict`` (optimizers and schedules): an argument whose type
    the spec cannot check is refused (any other optax transformation: optax checks it when
    it is built)."""
    sig = {p.name: p for p in params}
    out: dict[str, Any] = {}
    positional = [p.name for p in params if p.kind == "positional"]
    items = [(k, v, getattr(v, "span", call.span))
             for k, v in zip(positional, call.args, strict=False)] + [
        (ALIASES.get(k, k), v, call.key_span(i)) for i, (k, v) in enumerate(call.kwargs)]
    if len(call.args) > len(positional):
        raise SpecValueError(f"{what} takes at most {len(positional)} positional arguments",
                             call.span)
    for key, expr, where in items:
        if sig and key not in sig:
            raise SpecNameError(f"{what} has no argument '{key}'", where,
                                hint=did_you_mean(key, [*sig, *ALIASES])
                                or f"arguments: {', '.join(sig)}")
        value = value_of(expr, env, calls=True)
        if isinstance(value, Symbol) and key in ARG_RULES:
            value = value.name  # a bare word names a choice: mu_dtype = bfloat16
        out[key] = _argument(value, env)
        if sig:
            _check_optax_arg(what, sig[key], out[key], getattr(expr, "span", where), strict,
                             call.func)
    return out


_KIND_OF = {bool: "bool", int: "int", float: "number", str: "str", ScheduleSpec: "schedule"}
_NAMED = {"bool": "true or false", "int": "an integer", "number": "a number", "str": "a name",
          "schedule": "a schedule"}


def _check_optax_arg(what: str, p: Param, value: Any, span: Span | None,
                     strict: bool = True, fn: str = "") -> None:
    """``value`` has a type optax's signature of ``p`` accepts and lies in its range."""
    ok = set(p.accepts)
    rule = ARG_RULES.get(p.name)
    if rule is not None and not (value is None and "none" in ok):
        if not rule.fits(value):
            raise SpecValueError(f"{what} argument '{p.name}' expects {rule.want}, got "
                                 f"{_described(value)}", span,
                                 hint=did_you_mean(value, DTYPES)
                                 if rule is _DTYPE and isinstance(value, str) else None)
        return
    if "any" in ok and not strict:
        return
    if "any" in ok:
        raise SpecValueError(f"{what} argument '{p.name}' cannot be written in a spec",
                             span, hint=f"leave '{p.name}' out to use optax's default")
    kind = _KIND_OF.get(type(value), "other")
    fits = kind in ok or (kind == "int" and "number" in ok)
    if not fits:
        if "number" in ok:
            ok = ok - {"int"}  # "a number" says it: an integer is one
        want = " or ".join(_NAMED[k] for k in sorted(ok) if k in _NAMED) or "another value"
        raise SpecValueError(f"{what} argument '{p.name}' expects {want}, got "
                             f"{_described(value)}", span)
    if kind in ("int", "number"):
        message = range_error(p.name, value, optax_range(fn, p.name))
        if message is not None:
            raise SpecValueError(f"{what}: {message}", span)
    if kind == "schedule" and p.name in OPTAX_RANGES:
        _check_schedule_values(what, p.name, value, OPTAX_RANGES[p.name], span)


#: The arguments that are values of a schedule (the rest are steps, rates, shapes).
SCHEDULE_VALUES = ("value", "init_value", "peak_value", "end_value")


def _check_schedule_values(what: str, name: str, schedule: ScheduleSpec, rng: Range,
                           span: Span | None) -> None:
    """A schedule passed as ``name`` takes its values in ``name``'s range: ``sgd(lr =
    constant_schedule(-1))`` climbs the loss as ``sgd(lr = -1)`` does."""
    for key, v in schedule.kwargs:
        if isinstance(v, list):  # sgdr_schedule's cycles
            for item in v:
                if isinstance(item, ScheduleSpec):
                    _check_schedule_values(what, name, item, rng, span)
        elif key in SCHEDULE_VALUES and type(v) in (int, float):
            message = range_error(name, v, rng)
            if message is not None:
                raise SpecValueError(f"{what}: {message} ({key} of schedule "
                                     f"'{schedule.name}')", span)


def _plain(v: Any) -> bool:
    """Numbers, strings and booleans, in lists: a value a message can quote."""
    return all(_plain(x) for x in v) if isinstance(v, list) else type(v) in (
        int, float, str, bool)


def _described(value: Any) -> str:
    if isinstance(value, list) and _plain(value):
        return f"the list {clip(json.dumps(value))}"
    if isinstance(value, list):
        return "a list holding " + ", ".join(dict.fromkeys(_described(x) for x in value))
    if isinstance(value, ScheduleSpec):
        return f"the schedule '{value.name}'"
    if isinstance(value, OptimizerSpec):
        return f"the optimizer '{value.name}'"
    return describe(value)


def _argument(v: Any, env: Mapping[str, Any]) -> Any:
    """One evaluated keyword value: a plain number, string or list, a schedule, or a
    transformation (``apply_if_finite(adam(lr = 1e-3), ...)``)."""
    if isinstance(v, ast.Call) and v.func not in SCHEDULES and (
            v.func in OPTIMIZERS or v.func in TRANSFORMS):
        return optimizer_spec(v, env)
    if isinstance(v, ast.Call):
        if v.func not in SCHEDULES:
            raise SpecNameError(f"unknown schedule '{v.func}'", v.func_span,
                                hint=did_you_mean(v.func, SCHEDULES)
                                or f"known schedules: {', '.join(sorted(SCHEDULES))}")
        sig = optax_table.params(v.func)
        kwargs = _kwargs(v, env, sig, f"'{v.func}'")
        _require_all(sig, kwargs, f"schedule '{v.func}'", v)
        _check_order(v, kwargs)
        spec = ScheduleSpec(v.func, tuple(kwargs.items()))
        if not _vouched(spec):
            _try_build(spec, f"schedule '{v.func}'", v.span)
        return spec
    if isinstance(v, Quantity):
        return v.value
    if isinstance(v, Symbol):
        raise SpecNameError(f"undefined name '{v.name}'", v.span)
    if isinstance(v, list):  # items as arguments: [warmup_cosine_decay_schedule(...), ...]
        return [_argument(x, env) for x in v]
    return v


def _check_order(call: ast.Call, kwargs: Mapping[str, Any]) -> None:
    """Arguments optax needs in order (:data:`OPTAX_ORDER`) are."""
    small, large = OPTAX_ORDER.get(call.func, ("", ""))
    a: Any = kwargs.get(small)
    b: Any = kwargs.get(large)
    if type(a) in (int, float) and type(b) in (int, float) and not a < b:
        keys = [ALIASES.get(k, k) for k, _ in call.kwargs]
        where = call.key_span(keys.index(large)) if large in keys else call.span
        raise SpecValueError(f"'{call.func}': Expected {small} < {large}, got {a} and {b}",
                             where, hint=f"{large} counts from step 0, {small} included")


def _require_all(params: tuple[Param, ...], kwargs: Mapping[str, Any], what: str,
                 call: ast.Call) -> None:
    missing = [p.name for p in params if p.required and p.name not in kwargs]
    if missing:
        raise SpecValueError(f"{what} needs argument '{missing[0]}'", call.span,
                             hint=f"write {call.func}({missing[0]} = ...)")


def _built(kwargs: Kwargs, call: Builder | None = None) -> dict[str, Any]:
    return {k: ARG_RULES[k].build(v) if k in ARG_RULES and v is not None
            else _built_one(v, call) for k, v in kwargs}


def _built_one(v: Any, call: Builder | None = None) -> Any:
    if isinstance(v, list):
        return [_built_one(x, call) for x in v]
    if isinstance(v, OptimizerSpec):
        return v.build(call)
    return v.build() if isinstance(v, ScheduleSpec) else v


def data_spec(expr: ast.Expr, env: Mapping[str, Any]) -> DataSpec:
    """A data set from a spec expression: ``sinusoids(classes = 3)``, ``digits``,
    ``"f.npz"`` or ``npz("f.npz")``; a built-in set's arguments are checked against its
    signature, nothing is read or generated.

    >>> data_spec(ast.Call("sinusoids", (), (("classes", ast.Num(3, is_int=True)),)), {}).kwargs
    (('classes', 3),)
    """
    text = format_expr(expr)
    if isinstance(expr, ast.Str):
        return DataSpec("npz", path=expr.value, text=text)
    if isinstance(expr, ast.Name):
        check_dataset(expr.id, {})
        return DataSpec(expr.id, text=text)
    if isinstance(expr, ast.Call):
        if expr.func == "npz" and len(expr.args) == 1 and isinstance(expr.args[0], ast.Str):
            return DataSpec("npz", path=expr.args[0].value, text=text)
        if expr.args:
            raise SpecValueError(f"data set '{expr.func}' takes keyword arguments only",
                                 expr.span, hint=f"write {expr.func}(name = value, ...)")
        kwargs: dict[str, Any] = {}
        for k, v in expr.kwargs:
            val = value_of(v, env)
            if isinstance(val, Quantity):
                val = val.value
            if isinstance(val, Symbol):
                val = val.name  # a bare word names a choice: digits(encoding = rate)
            kwargs[k] = val
        spec = DataSpec(expr.func, tuple(kwargs.items()), text=text, span=expr.span)
        try:
            check_dataset(expr.func, kwargs)
        except DataError as err:
            if err.span is None:
                err.span = expr.span
            raise
        return spec
    raise DataError(f"Expected a data set, got {describe(expr)}", getattr(expr, "span", None))


# --- the data against the network ------------------------------------------------------------


def loss_outputs(net: Network, loss: ast.Expr | None) -> tuple[str, ...]:
    """The outputs whose targets the loss reads (``target_y1``, ``labels_y2``; ``target``
    for a single output), in the network's order; without a loss, the first output.

    >>> from rpgraph.graph import loads
    >>> net = loads("network n { input x : 2\\n output a : 2\\n output b : 3\\n x -> a\\n"
    ...             "x -> linear(3) -> b }")
    >>> from rpgraph.parse import parse_expr
    >>> loss_outputs(net, parse_expr("mse(a, target_a) + cross_entropy(b, labels_b)"))
    ('a', 'b')
    """
    if loss is None:
        return (net.outputs[0],)
    read: set[str] = set()
    for e in _names(loss):
        if e.id == "target":
            read.add(net.outputs[0])
        for prefix in ("target_", "labels_"):
            if e.id.startswith(prefix) and e.id[len(prefix):] in net.outputs:
                read.add(e.id[len(prefix):])
    return tuple(o for o in net.outputs if o in read)


def _children(v: Any) -> list[Any]:
    if isinstance(v, tuple):
        return [x for item in v for x in _children(item)]
    return [v] if hasattr(v, "span") else []


def network_ports(net: Network, config: TrainConfig | None) -> Ports:
    """The network's ports with their widths, and the outputs the loss reads data for."""
    return Ports({i: net.size(i) for i in net.inputs}, {o: net.size(o) for o in net.outputs},
                 net.name, loss_outputs(net, config.loss if config is not None else None))


def _check_ports_data(net: Network, config: TrainConfig | None, ds: Dataset,
                      source: str) -> None:
    """A network with several inputs or outputs: data named after its ports, a loss that
    names each output's target; every mismatch at once."""
    outs = ", ".join(net.outputs)
    check_port_loss(net, config)
    if ds.x is None and ds.y is None and (len(net.inputs) != 1 or len(net.outputs) != 1):
        names = [f"x_{i}" for i in net.inputs] + [f"target_{o}" for o in net.outputs]
        raise DataError(f"{source} holds one input and one target array, but network "
                        f"'{net.name}' has inputs {', '.join(net.inputs)} and outputs {outs}",
                        hint="name the arrays after the ports: " + ", ".join(names)
                        + " (labels_<output> for class labels)")
    check_ports(ds, network_ports(net, config), source)


def check_port_loss(net: Network, config: TrainConfig | None) -> None:
    """A network with several outputs needs a loss that names each output's target
    (``target_y1``, ``labels_y2``); checked before any data is read."""
    if len(net.outputs) == 1:
        return
    outs = ", ".join(net.outputs)
    if config is None or config.loss is None:
        raise DataError(f"network '{net.name}' has several outputs ({outs}) but the spec has "
                        "no loss naming their targets",
                        hint="add e.g. 'loss = " + " + ".join(
                            f"mse({o}, target_{o})" for o in net.outputs) + "'")
    bare = [e for e in _names(config.loss) if e.id == "target"]
    if bare:
        raise SpecNameError(f"the loss reads 'target', but network '{net.name}' has several "
                            f"outputs ({outs})", bare[0].span,
                            hint="name the output's target: "
                            + ", ".join(f"target_{o}" for o in net.outputs)
                            + " (or labels_<output> for class labels)")


def _names(e: Any) -> list[ast.Name]:
    if isinstance(e, ast.Name):
        return [e]
    if isinstance(e, (ast.Call, ast.BinOp, ast.Neg, ast.ListExpr)):
        return [n for f in fields(e) for c in _children(getattr(e, f.name)) for n in _names(c)]
    return []


def check_data(net: Network, config: TrainConfig | None, ds: Dataset, desc: str) -> None:
    """The data fits the network: widths of every port (a network with several inputs or
    outputs reads arrays named after its ports, all checked in one pass); a classification
    set needs the spec to name its loss."""
    # name the data as the loaders do: files as "data file '...'", the rest as "dataset"
    source = f"data file '{ds.name}'" if ds.name.endswith(".npz") else f"dataset '{desc}'"
    if len(net.inputs) != 1 or len(net.outputs) != 1 or ds.x is not None or ds.y is not None:
        _check_ports_data(net, config, ds, source)
        return
    check_against_spec(ds, n_in=net.size(net.inputs[0]), n_out=net.size(net.outputs[0]),
                       source=source, input_name=net.inputs[0], output_name=net.outputs[0],
                       in_shape=net.port(net.inputs[0]).shape,
                       in_span=net.port(net.inputs[0]).span)
    _check_lookback(net, ds, source)
    _check_memory(net, config, ds, source)
    if ds.kind == "classification" and (config is None or config.loss is None):
        raise DataError(f"{source} is a classification data set but the spec has no loss",
                        hint=f"add 'loss = cross_entropy({net.outputs[0]}, target)' to the "
                        "train block")


def _check_lookback(net: Network, ds: Dataset, source: str) -> None:
    """No node reaches further into the past than the data goes (a delay as long as the
    sequence would only ever output zeros)."""
    for n in net.modules():
        m = net.module(n)
        kind = KINDS[m.kind]
        steps = kind.lookback(kind.configure(m.cfg, dt=net.dt))
        if steps >= ds.length:
            raise SpecValueError(
                f"'{n}' delays by up to {steps} steps but {source} has {ds.length} time "
                "steps per sample", m.span,
                hint="shorten the delay or use longer sequences")


def _check_memory(net: Network, config: TrainConfig | None, ds: Dataset, source: str) -> None:
    """Training on ``ds`` fits the memory limit (sizes are static: refused before the
    training program is built), located at the train block's data setting."""
    out = ds.targets if ds.targets is not None else ds.labels
    est = training_estimate(net, samples=len(ds), length=ds.length,
                            batch=config.batch_size if config is not None else 1,
                            data_bytes=ds.inputs.nbytes + (0 if out is None else out.nbytes))
    refuse_above(est, f"training on {source}",
                 config.spans.get("data") if config is not None else None)


def open_data(net: Network, config: TrainConfig | None, *, allow_outside: bool = False
              ) -> tuple[Dataset, str]:
    """The spec's own data set, read and checked against the network, with the text that
    names it; errors are located in the spec.

    >>> from rpgraph.graph import load
    >>> net = load("specs/tutorial_rate.rpg")
    >>> ds, text = open_data(net, elaborate_train(net))
    >>> len(ds), text
    (3, 'sinusoids(classes = 3, length = 100)')
    """
    try:
        if config is None or config.data is None:
            raise DataError("no data: the spec's train block has no 'data' setting",
                            hint="add 'data = sinusoids(...)' or pass --data FILE.npz")
        check_port_loss(net, config)
        ports = network_ports(net, config)
        ds = config.data.load(data_dir(net), allow_outside, ports)
        if config.test_data is not None:
            ds = with_test_data(ds, config.test_data, data_dir(net), allow_outside, ports,
                                config.spans.get("test_data"))
        check_data(net, config, ds, config.data.text)
        check_validation(ds, config)
    except SpecError as err:
        raise err.located(net.source, net.filename) from None
    return ds, config.data.text


def with_test_data(ds: Dataset, spec: DataSpec, base_dir: Path | None, allow_outside: bool,
                   ports: Ports | None = None, span: Span | None = None) -> Dataset:
    """``ds`` with the ``test_data`` set as its test part (replacing any the data brings);
    the file must exist and hold a training part shaped like ``ds``."""
    try:
        test = spec.load(base_dir, allow_outside, ports)
    except DataError as err:
        if err.span is None:
            err.span = span
        raise
    return replace(ds, test=replace(test, test=None, name=f"{test.name}"))


def tensorboard_available() -> bool:
    """Whether the optional ``tensorboardX`` writer is installed (``rpgraph[tensorboard]``)."""
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        return False
    return True


def check_validation(ds: Dataset, config: TrainConfig) -> None:
    """``validation`` leaves samples on both sides; ``early_stopping`` and ``keep = best``
    have a validation set to watch (a split, or a test part)."""
    if config.tensorboard and not tensorboard_available():
        raise SpecError("TensorBoard logging (tensorboard = true, --tensorboard) needs the "
                        "tensorboardX package",
                        config.spans.get("tensorboard"),
                        hint="pip install 'rpgraph[tensorboard]' (or pip install tensorboardX)")
    if config.validation is not None:
        try:
            ds.split(config.validation, config.seed)
        except DataError as err:
            err.span = config.spans.get("validation")
            raise
        return
    for key, on in (("early_stopping", config.early_stopping is not None),
                    ("keep", config.keep == "best")):
        if on and ds.test is None:
            raise SpecValueError(f"{key} watches the validation loss, but there is no "
                                 "validation set", config.spans.get(key),
                                 hint="add 'validation = 0.1' (a held-out fraction of the "
                                 "data) or 'test_data = \"FILE.npz\"'")


__all__ = ["ALIASES", "ARG_RULES", "DTYPES", "INTEGERS", "KEEP", "OPTIMIZERS", "SCHEDULES",
           "TRAIN_SETTINGS", "TRANSFORMS", "ArgRule", "DataSpec", "EarlyStopping", "OptimizerSpec",
           "ScheduleSpec", "TrainConfig", "check_data", "check_port_loss", "check_validation",
           "data_dir", "data_spec", "elaborate_train", "loss_outputs", "network_ports",
           "open_data", "optimizer_spec", "tensorboard_available", "train_env", "with_test_data"]
