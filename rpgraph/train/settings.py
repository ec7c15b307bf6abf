"""The ``train { }`` block as runtime objects: the data set read and checked, the optax
optimizer built (the block itself is elaborated and validated by :mod:`rpgraph.train_config`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optax

from .. import ast
from ..errors import DataError, SpecError
from ..expr import describe
from ..io.data import Dataset, from_dataset_protocol, load_npz
from ..train_config import (
    TrainConfig,
    check_data,
    data_dir,
    data_spec,
    elaborate_train,
    open_data,
    optimizer_spec,
    train_env,
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


# --- resolving the train block ---------------------------------------------------------------


def _located(prog: Program, err: SpecError) -> SpecError:
    return err.located(prog.network.source, prog.network.filename)


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
    if isinstance(expr, (ast.Str, ast.Name, ast.Call)):
        return data_spec(expr, env or {}).load(base_dir, allow_outside)
    if hasattr(expr, "__len__") and hasattr(expr, "__getitem__"):
        return from_dataset_protocol(expr)
    raise DataError(f"Expected a data set, got {describe(expr)}", getattr(expr, "span", None))


def resolve(prog: Program, data: Any = None, *, epochs: int | None = None,
            optimizer: Any = None, batch_size: int | None = None, seed: int | None = None,
            checkpoint_every: int | None = None, allow_outside: bool = False) -> Settings:
    """The spec's ``train { }`` block (see :mod:`rpgraph.train_config`) with overrides, as
    runtime objects: the data set read and checked, the optax optimizer built.

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
        if data is None:
            ds, desc = open_data(net, config, allow_outside=allow_outside)
        else:
            ds = make_data(data, base_dir=data_dir(net), allow_outside=allow_outside,
                           env=train_env(net))
            desc = ds.name
            check_data(net, config, ds, desc)
        if isinstance(optimizer, optax.GradientTransformation):
            opt, odesc = optimizer, "custom"
        else:
            spec = config.optimizer if optimizer is None else optimizer_spec(optimizer,
                                                                             train_env(net))
            opt, odesc = spec.build(), spec.text
    except SpecError as err:
        raise _located(prog, err) from None
    return Settings(ds, desc, opt, odesc, config.epochs, config.batch_size, config.seed,
                    config.checkpoint_every)
