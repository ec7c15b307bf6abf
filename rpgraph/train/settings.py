"""The ``train { }`` block resolved against arguments: data, optimizer and step counts.

``resolve`` merges the spec's settings with overrides and checks them (``rpgraph check``
calls it too); optimizers and schedules are looked up by name in optax (a registry, not an
if-chain).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optax

from .. import ast
from ..data import Dataset, check_against_spec, from_dataset_protocol, load_npz, make_dataset
from ..errors import DataError, SpecError, SpecNameError, SpecValueError, did_you_mean
from ..expr import Quantity, Symbol, as_int, describe
from ..expr import evaluate as value_of

if TYPE_CHECKING:
    from ..compile import Program

# Optimizers and schedules are looked up by name in optax (a registry, not an if-chain).
OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {
    name: getattr(optax, name)
    for name in ("adam", "adamw", "sgd", "rmsprop", "adagrad", "adabelief", "adamax", "adamaxw",
                 "amsgrad", "lion", "nadam", "nadamw", "radam", "lamb", "lars", "yogi",
                 "novograd", "fromage", "noisy_sgd", "adafactor", "adadelta", "sm3", "sign_sgd",
                 "polyak_sgd", "rprop", "optimistic_gradient_descent")
    if hasattr(optax, name)
}
SCHEDULES: dict[str, Callable[..., Any]] = {
    name: getattr(optax, name)
    for name in ("constant_schedule", "exponential_decay", "cosine_decay_schedule",
                 "warmup_cosine_decay_schedule", "linear_schedule", "polynomial_schedule",
                 "piecewise_constant_schedule", "cosine_onecycle_schedule",
                 "warmup_exponential_decay_schedule", "sgdr_schedule")
    if hasattr(optax, name)
}
ALIASES = {"lr": "learning_rate"}
TRAIN_SETTINGS = ("data", "loss", "optimizer", "epochs", "batch_size", "freeze", "seed",
                  "checkpoint_every", "test_data")



@dataclass
class Settings:
    """The resolved training setup (spec defaults overridden by arguments)."""

    data: Dataset
    data_desc: str
    optimizer: optax.GradientTransformation
    optimizer_desc: str
    epochs: int
    batch_size: int
    seed: int
    checkpoint_every: int | None


# --- resolving the train block ---------------------------------------------------------------


def _setting(prog: Program, key: str) -> ast.Setting | None:
    train = prog.network.spec.train
    return train.get(key) if train is not None else None


def _located(prog: Program, err: SpecError) -> SpecError:
    return err.located(prog.network.source, prog.network.filename)


def _kwargs(call: ast.Call, env: Mapping[str, Any], fn: Callable[..., Any], what: str
            ) -> dict[str, Any]:
    """Evaluate a call's keyword arguments for ``fn``, with schedules as nested calls."""
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
        v = value_of(expr, env, calls=True)
        if isinstance(v, ast.Call):
            if v.func not in SCHEDULES:
                raise SpecNameError(f"unknown schedule '{v.func}'", v.func_span,
                                    hint=did_you_mean(v.func, SCHEDULES)
                                    or f"known schedules: {', '.join(sorted(SCHEDULES))}")
            v = SCHEDULES[v.func](**_kwargs(v, env, SCHEDULES[v.func], f"'{v.func}'"))
        elif isinstance(v, Quantity):
            v = v.value
        elif isinstance(v, Symbol):
            raise SpecNameError(f"undefined name '{v.name}'", v.span)
        elif isinstance(v, list):
            v = [x.value if isinstance(x, Quantity) else x for x in v]
        out[key] = v
    return out


def make_optimizer(expr: ast.Expr | str, env: Mapping[str, Any] | None = None
                   ) -> tuple[optax.GradientTransformation, str]:
    """An optax optimizer from ``adam(lr = 1e-4)`` (any optax optimizer by name).

    >>> make_optimizer("adam(lr = 1e-3)")[1]
    'adam(lr = 1e-3)'
    """
    if isinstance(expr, str):
        from ..parse import parse_expr

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
    missing = [p.name for p in inspect.signature(fn).parameters.values()
               if p.default is inspect.Parameter.empty and p.kind not in (
                   inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
               and p.name not in kwargs]
    if missing:
        raise SpecValueError(f"optimizer '{call.func}' needs argument '{missing[0]}'",
                             call.span, hint=f"write {call.func}({missing[0]} = ...)")
    from ..fmt import format_expr

    return fn(**kwargs), format_expr(call)


def make_data(expr: ast.Expr | str | Dataset | Any, *, base_dir: Path | None = None,
              allow_outside: bool = False, env: Mapping[str, Any] | None = None) -> Dataset:
    """A :class:`Dataset` from a spec expression (``sinusoids(classes = 3)``, ``"f.npz"``),
    a path, a Dataset, or any object with ``__len__``/``__getitem__``.

    >>> ds = make_data("sinusoids(classes = 2, length = 5, channels_in = 3)")
    >>> len(ds), ds.inputs.shape
    (2, (2, 5, 3))
    """
    if isinstance(expr, Dataset):
        return expr
    if isinstance(expr, (str, os.PathLike)) and not isinstance(expr, ast.Str):
        text = os.fspath(expr)
        if text.endswith(".npz") or os.sep in text or "/" in text:
            return load_npz(text, base_dir=None, allow_outside=True)
        from ..parse import parse_expr

        expr = parse_expr(text)
    if isinstance(expr, ast.Str):
        return load_npz(expr.value, base_dir=base_dir, allow_outside=allow_outside)
    if isinstance(expr, ast.Name):
        return make_dataset(expr.id, {})
    if isinstance(expr, ast.Call):
        if expr.func == "npz" and len(expr.args) == 1 and isinstance(expr.args[0], ast.Str):
            return load_npz(expr.args[0].value, base_dir=base_dir, allow_outside=allow_outside)
        if expr.args:
            raise SpecValueError(f"data set '{expr.func}' takes keyword arguments only",
                                 expr.span, hint=f"write {expr.func}(name = value, ...)")
        kwargs: dict[str, Any] = {}
        for k, v in expr.kwargs:
            val = value_of(v, env or {})
            if isinstance(val, Quantity):
                val = val.value
            if isinstance(val, Symbol):
                val = val.name
            kwargs[k] = val
        try:
            return make_dataset(expr.func, kwargs)
        except DataError as err:
            if err.span is None:
                err.span = expr.span
            raise
    if hasattr(expr, "__len__") and hasattr(expr, "__getitem__"):
        return from_dataset_protocol(expr)
    raise DataError(f"Expected a data set, got {describe(expr)}", getattr(expr, "span", None))


def resolve(prog: Program, data: Any = None, *, epochs: int | None = None,
            optimizer: Any = None, batch_size: int | None = None, seed: int | None = None,
            checkpoint_every: int | None = None, allow_outside: bool = False) -> Settings:
    """Merge the spec's ``train { }`` block with overrides and check everything.

    >>> import rpgraph
    >>> prog = rpgraph.compile("specs/tutorial_rate.rpg")
    >>> st = resolve(prog, epochs=2)
    >>> st.epochs, st.batch_size, len(st.data)
    (2, 1, 3)
    """
    net = prog.network
    env: dict[str, Any] = {k: Quantity(v, "time") if k == "dt" else v for k, v in net.sim.items()}
    base = Path(net.filename).parent if net.filename not in ("<string>", "") else None
    try:
        if net.spec.train is not None:
            for s in net.spec.train.settings:
                if s.key not in TRAIN_SETTINGS:
                    raise SpecNameError(f"unknown train setting '{s.key}'", s.span,
                                        hint=did_you_mean(s.key, TRAIN_SETTINGS)
                                        or f"settings: {', '.join(TRAIN_SETTINGS)}")

        def num(key: str, given: int | None, default: int | None, lo: int) -> int | None:
            if given is not None:
                if given < lo:
                    raise SpecValueError(f"Expected {key} >= {lo}, got {given}")
                return int(given)
            s = _setting(prog, key)
            if s is None:
                return default
            n = as_int(value_of(s.value, env), s.value, f"an integer {key}")
            if n < lo:
                raise SpecValueError(f"Expected {key} >= {lo}, got {n}", s.value.span)
            return n

        n_epochs = num("epochs", epochs, 100, 0)
        bs = num("batch_size", batch_size, 1, 1)
        sd = num("seed", seed, 0, 0)
        ck = num("checkpoint_every", checkpoint_every, None, 1)
        if data is None:
            sd_data = _setting(prog, "data")
            if sd_data is None:
                raise DataError("no data: the spec's train block has no 'data' setting",
                                hint="add 'data = sinusoids(...)' or pass --data FILE.npz")
            ds = make_data(sd_data.value, base_dir=base, allow_outside=allow_outside, env=env)
            from ..fmt import format_expr

            desc = format_expr(sd_data.value)
        else:
            ds = make_data(data, base_dir=base, allow_outside=allow_outside, env=env)
            desc = ds.name
        if optimizer is None:
            s_opt = _setting(prog, "optimizer")
            opt, odesc = make_optimizer(s_opt.value if s_opt else "adam(lr = 1e-3)", env)
        elif isinstance(optimizer, optax.GradientTransformation):
            opt, odesc = optimizer, "custom"
        else:
            opt, odesc = make_optimizer(optimizer, env)
        check_data(prog, ds, desc)
    except SpecError as err:
        raise _located(prog, err) from None
    assert n_epochs is not None and bs is not None and sd is not None
    return Settings(ds, desc, opt, odesc, n_epochs, bs, sd, ck)


def check_data(prog: Program, ds: Dataset, desc: str) -> None:
    """The data fits the network: one input, one output, matching widths."""
    if len(prog.inputs) != 1 or len(prog.outputs) != 1:
        raise DataError("training from a data set needs exactly one input and one output; "
                        f"this network has inputs {prog.inputs} and outputs {prog.outputs}")
    net = prog.network
    # name the data as the loaders do: files as "data file '...'", the rest as "dataset"
    source = f"data file '{ds.name}'" if ds.name.endswith(".npz") else f"dataset '{desc}'"
    check_against_spec(ds, n_in=net.size(prog.inputs[0]), n_out=net.size(prog.outputs[0]),
                       source=source, input_name=prog.inputs[0], output_name=prog.outputs[0])
    if ds.kind == "classification" and _setting(prog, "loss") is None:
        raise DataError(f"{source} is a classification data set but the spec has no loss",
                        hint=f"add 'loss = cross_entropy({prog.outputs[0]}, target)' to the "
                        "train block")


