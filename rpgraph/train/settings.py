"""The ``train { }`` block as runtime objects: the data set read and checked, the optax
optimizer built (the block itself is elaborated and validated by :mod:`rpgraph.train_config`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optax

from .. import ast
from ..errors import DataError, SpecError, SpecValueError
from ..expr import describe
from ..io.data import Dataset, Ports, from_dataset_protocol, from_port_arrays, load_npz
from ..train_config import (
    KEEP,
    EarlyStopping,
    TrainConfig,
    check_data,
    check_port_loss,
    check_validation,
    data_dir,
    data_spec,
    elaborate_train,
    network_ports,
    open_data,
    optimizer_spec,
    train_env,
    with_test_data,
)

if TYPE_CHECKING:
    from ..compile import Program


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
    #: per-epoch validation set: the ``validation`` split, else the test part (or ``None``)
    validation: Dataset | None = None
    early_stopping: EarlyStopping | None = None
    keep: str = "last"
    tensorboard: bool = False
    #: the data before the ``validation`` split (``None`` without one): an ensemble splits
    #: it again for each model's seed, as that model's own run would
    unsplit: Dataset | None = None
    validation_fraction: float | None = None


# --- resolving the train block ---------------------------------------------------------------


def _located(prog: Program, err: SpecError) -> SpecError:
    return err.located(prog.network.source, prog.network.filename)


#: The name errors in a data expression given as text (``--data "sinusoids(classes = 3)"``,
#: ``fit(prog, "...")``) are reported under, with the caret in that text.
DATA_ORIGIN = "data"


def make_data(expr: ast.Expr | str | Dataset | Any, *, base_dir: Path | None = None,
              allow_outside: bool = False, env: Mapping[str, Any] | None = None,
              ports: Ports | None = None) -> Dataset:
    """A :class:`Dataset` from a spec expression (``sinusoids(classes = 3)``, ``"f.npz"``),
    a path, a Dataset, a dict of arrays named after the ports, or any object with
    ``__len__``/``__getitem__``. Data named after the ports is checked against ``ports``
    (the network's) as it is read.

    >>> ds = make_data("sinusoids(classes = 2, length = 5, channels_in = 3)")
    >>> len(ds), ds.inputs.shape
    (2, (2, 5, 3))
    """
    if isinstance(expr, Dataset):
        return expr
    if isinstance(expr, Mapping):  # arrays named after the ports: {"x_a": ..., "target_y": ...}
        return from_port_arrays(expr, ports=ports)
    if isinstance(expr, (str, os.PathLike)) and not isinstance(expr, ast.Str):
        text = os.fspath(expr)
        if text.endswith(".npz") or os.sep in text or "/" in text:
            return load_npz(text, base_dir=None, allow_outside=True, ports=ports)
        from ..parse import parse_expr

        # the expression's own text is where its mistakes are shown (not the spec's)
        expr = parse_expr(text, DATA_ORIGIN)
        try:
            return make_data(expr, base_dir=base_dir, allow_outside=allow_outside, env=env,
                             ports=ports)
        except SpecError as err:
            raise err.located(text, DATA_ORIGIN) from None
    if isinstance(expr, (ast.Str, ast.Name, ast.Call)):
        return data_spec(expr, env or {}).load(base_dir, allow_outside, ports)
    if hasattr(expr, "__len__") and hasattr(expr, "__getitem__"):
        return from_dataset_protocol(expr)
    # an expression that is no data set: a number, a sum, a list, a dotted name
    what = describe(expr) if not hasattr(expr, "span") else (
        f"the number {expr.value:g}" if isinstance(expr, ast.Num) else "an expression")
    raise DataError(f"Expected a data set, got {what}", getattr(expr, "span", None),
                    hint="name one (e.g. sinusoids(classes = 3)) or a .npz file")


def resolve(prog: Program, data: Any = None, *, epochs: int | None = None,
            optimizer: Any = None, batch_size: int | None = None, seed: int | None = None,
            checkpoint_every: int | None = None, allow_outside: bool = False,
            validation: float | None = None, early_stopping: int | None = None,
            keep: str | None = None, tensorboard: bool | None = None) -> Settings:
    """The spec's ``train { }`` block (see :mod:`rpgraph.train_config`) with overrides, as
    runtime objects: the data set read and checked, the optax optimizer built, the
    validation set split off (``validation``) or taken from the test part.

    >>> import rpgraph
    >>> prog = rpgraph.compile("specs/tutorial_rate.rpg")
    >>> st = resolve(prog, epochs=2)
    >>> st.epochs, st.batch_size, len(st.data)
    (2, 1, 3)
    """
    net = prog.network
    config = elaborate_train(net) or TrainConfig()
    try:
        config = config.override(epochs=epochs, batch_size=batch_size, seed=seed,
                                 checkpoint_every=checkpoint_every)
        config = _override_validation(config, validation, early_stopping, keep, tensorboard)
        if data is None:
            ds, desc = open_data(net, config, allow_outside=allow_outside)
        else:
            check_port_loss(net, config)
            ds = make_data(data, base_dir=data_dir(net), allow_outside=allow_outside,
                           env=train_env(net), ports=network_ports(net, config))
            desc = ds.name
            if config.test_data is not None:
                ds = with_test_data(ds, config.test_data, data_dir(net), allow_outside)
            check_data(net, config, ds, desc)
            check_validation(ds, config)
        val, unsplit = ds.test, None
        if config.validation is not None:
            unsplit = ds
            ds, val = ds.split(config.validation, config.seed)
        if isinstance(optimizer, optax.GradientTransformation):
            opt, odesc = optimizer, "custom"
        else:
            spec = config.optimizer if optimizer is None else optimizer_spec(optimizer,
                                                                             train_env(net))
            spec.verify()  # what rpgraph check vouched for from optax's signatures alone
            opt, odesc = spec.build(), spec.text
    except SpecError as err:
        raise _located(prog, err) from None
    return Settings(ds, desc, opt, odesc, config.epochs, config.batch_size, config.seed,
                    config.checkpoint_every, val, config.early_stopping, config.keep,
                    config.tensorboard, unsplit, config.validation)


def _override_validation(config: TrainConfig, validation: float | None,
                         early_stopping: int | None, keep: str | None,
                         tensorboard: bool | None) -> TrainConfig:
    """The train block's validation settings with those given as arguments replacing them."""
    if validation is not None and not 0 < validation < 1:
        raise SpecValueError(f"Expected 0 < validation < 1, got {validation}")
    if early_stopping is not None and early_stopping < 1:
        raise SpecValueError(f"Expected early_stopping (a patience) >= 1, got "
                             f"{early_stopping}")
    if keep is not None and keep not in KEEP:
        raise SpecValueError(f"Expected keep to be 'best' or 'last', got {keep!r}")
    return replace(
        config,
        validation=config.validation if validation is None else float(validation),
        early_stopping=config.early_stopping if early_stopping is None
        else EarlyStopping(int(early_stopping)),
        keep=config.keep if keep is None else keep,
        tensorboard=config.tensorboard if tensorboard is None else bool(tensorboard))
