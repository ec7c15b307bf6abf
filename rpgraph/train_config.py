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

import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import ast
from .errors import DataError, Span, SpecError, SpecNameError, SpecValueError, did_you_mean
from .expr import Quantity, Symbol, as_int, describe
from .expr import evaluate as value_of
from .fmt import format_expr
from .io.data import Dataset, check_against_spec, check_dataset, load_npz, make_dataset
from .modules import KINDS

if TYPE_CHECKING:
    import optax

    from .graph import Network

class _Optax(Mapping[str, Callable[..., Any]]):
    """optax functions by name, looked up on first use: importing optax (and jax behind it)
    is start-up time that ``import rpgraph`` and specs without an optimizer do not need."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self._names = names
        self._fns: dict[str, Callable[..., Any]] | None = None

    def _load(self) -> dict[str, Callable[..., Any]]:
        if self._fns is None:
            import optax

            self._fns = {n: getattr(optax, n) for n in self._names if hasattr(optax, n)}
        return self._fns

    def __getitem__(self, name: str) -> Callable[..., Any]:
        return self._load()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


# Optimizers and schedules are looked up by name in optax (a registry, not an if-chain).
OPTIMIZERS = _Optax(("adam", "adamw", "sgd", "rmsprop", "adagrad", "adabelief", "adamax",
                     "adamaxw", "amsgrad", "lion", "nadam", "nadamw", "radam", "lamb", "lars",
                     "yogi", "novograd", "fromage", "noisy_sgd", "adafactor", "adadelta", "sm3",
                     "sign_sgd", "polyak_sgd", "rprop", "optimistic_gradient_descent"))
SCHEDULES = _Optax(("constant_schedule", "exponential_decay", "cosine_decay_schedule",
                    "warmup_cosine_decay_schedule", "linear_schedule", "polynomial_schedule",
                    "piecewise_constant_schedule", "cosine_onecycle_schedule",
                    "warmup_exponential_decay_schedule", "sgdr_schedule"))
ALIASES = {"lr": "learning_rate"}
TRAIN_SETTINGS = ("data", "loss", "optimizer", "epochs", "batch_size", "freeze", "seed",
                  "checkpoint_every", "test_data")
#: The integer settings: ``(default, smallest allowed value)``, checked in this order.
INTEGERS: dict[str, tuple[int | None, int]] = {
    "epochs": (100, 0), "batch_size": (1, 1), "seed": (0, 0), "checkpoint_every": (None, 1)}

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

    def build(self) -> optax.GradientTransformation:
        return OPTIMIZERS[self.name](**_built(self.kwargs))


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

    def load(self, base_dir: Path | None = None, allow_outside: bool = False) -> Dataset:
        """The data set itself (the file read, or the built-in set generated)."""
        if self.path is not None:
            return load_npz(self.path, base_dir=base_dir, allow_outside=allow_outside)
        try:
            return make_dataset(self.name, dict(self.kwargs))
        except DataError as err:
            if err.span is None:
                err.span = self.span
            raise


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
            lo = INTEGERS[key][1]
            if value < lo:
                raise SpecValueError(f"Expected {key} >= {lo}, got {value}")
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
    ints: dict[str, Any] = {key: _integer(train.get(key), env, key, default, lo)
                            for key, (default, lo) in INTEGERS.items()}
    data, opt, test = train.get("data"), train.get("optimizer"), train.get("test_data")
    loss, freeze = train.get("loss"), train.get("freeze")
    return TrainConfig(
        data=data_spec(data.value, env) if data is not None else None,
        loss=loss.value if loss is not None else None,
        optimizer=optimizer_spec(opt.value, env) if opt is not None else _default_optimizer(),
        test_data=data_spec(test.value, env) if test is not None else None,
        # the graph has refused anything but parameter references (and marked those)
        freeze=tuple(i for i in _items(freeze.value) if isinstance(i, ast.Ref))
        if freeze is not None else (),
        spans={s.key: s.value.span for s in train.settings}, **ints)


def _items(expr: ast.Expr) -> tuple[ast.Expr, ...]:
    return expr.items if isinstance(expr, ast.ListExpr) else (expr,)


def _integer(s: ast.Setting | None, env: Mapping[str, Any], key: str, default: int | None,
             lo: int) -> int | None:
    if s is None:
        return default
    n = as_int(value_of(s.value, env), s.value, f"an integer {key}")
    if n < lo:
        raise SpecValueError(f"Expected {key} >= {lo}, got {n}", s.value.span)
    return n


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
        raise SpecNameError(f"unknown optimizer '{call.func}'", call.func_span,
                            hint=did_you_mean(call.func, OPTIMIZERS)
                            or f"known optimizers: {', '.join(sorted(OPTIMIZERS))}")
    fn = OPTIMIZERS[call.func]
    kwargs = _kwargs(call, env or {}, fn, f"optimizer '{call.func}'")
    _require_all(fn, kwargs, f"optimizer '{call.func}'", call)
    return OptimizerSpec(call.func, tuple(kwargs.items()), format_expr(call), call.span)


def _kwargs(call: ast.Call, env: Mapping[str, Any], fn: Callable[..., Any], what: str
            ) -> dict[str, Any]:
    """Evaluate a call's arguments for ``fn`` by keyword, with schedules as nested calls."""
    sig: Mapping[str, inspect.Parameter]
    try:
        sig = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without signatures
        sig = {}
    out: dict[str, Any] = {}
    positional = [p for p in sig if sig[p].kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,)]
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
        out[key] = _argument(value_of(expr, env, calls=True), env)
    return out


def _argument(v: Any, env: Mapping[str, Any]) -> Any:
    """One evaluated keyword value: a plain number, string or list, or a schedule."""
    if isinstance(v, ast.Call):
        if v.func not in SCHEDULES:
            raise SpecNameError(f"unknown schedule '{v.func}'", v.func_span,
                                hint=did_you_mean(v.func, SCHEDULES)
                                or f"known schedules: {', '.join(sorted(SCHEDULES))}")
        fn = SCHEDULES[v.func]
        kwargs = _kwargs(v, env, fn, f"'{v.func}'")
        _require_all(fn, kwargs, f"schedule '{v.func}'", v)
        return ScheduleSpec(v.func, tuple(kwargs.items()))
    if isinstance(v, Quantity):
        return v.value
    if isinstance(v, Symbol):
        raise SpecNameError(f"undefined name '{v.name}'", v.span)
    if isinstance(v, list):
        return [x.value if isinstance(x, Quantity) else x for x in v]
    return v


def _require_all(fn: Callable[..., Any], kwargs: Mapping[str, Any], what: str,
                 call: ast.Call) -> None:
    missing = [p.name for p in inspect.signature(fn).parameters.values()
               if p.default is inspect.Parameter.empty and p.kind not in (
                   inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
               and p.name not in kwargs]
    if missing:
        raise SpecValueError(f"{what} needs argument '{missing[0]}'", call.span,
                             hint=f"write {call.func}({missing[0]} = ...)")


def _built(kwargs: Kwargs) -> dict[str, Any]:
    return {k: v.build() if isinstance(v, ScheduleSpec) else v for k, v in kwargs}


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


def check_data(net: Network, config: TrainConfig | None, ds: Dataset, desc: str) -> None:
    """The data fits the network: one input, one output, matching widths; a classification
    set needs the spec to name its loss."""
    if len(net.inputs) != 1 or len(net.outputs) != 1:
        raise DataError("training from a data set needs exactly one input and one output; "
                        f"this network has inputs {net.inputs} and outputs {net.outputs}")
    # name the data as the loaders do: files as "data file '...'", the rest as "dataset"
    source = f"data file '{ds.name}'" if ds.name.endswith(".npz") else f"dataset '{desc}'"
    check_against_spec(ds, n_in=net.size(net.inputs[0]), n_out=net.size(net.outputs[0]),
                       source=source, input_name=net.inputs[0], output_name=net.outputs[0])
    _check_lookback(net, ds, source)
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
        ds = config.data.load(data_dir(net), allow_outside)
        check_data(net, config, ds, config.data.text)
    except SpecError as err:
        raise err.located(net.source, net.filename) from None
    return ds, config.data.text


__all__ = ["ALIASES", "INTEGERS", "OPTIMIZERS", "SCHEDULES", "TRAIN_SETTINGS", "DataSpec",
           "OptimizerSpec", "ScheduleSpec", "TrainConfig", "check_data", "data_dir",
           "data_spec", "elaborate_train", "open_data", "optimizer_spec", "train_env"]
