"""Every optimizer name the spec language accepts round-trips through a checkpoint.

For each name in :data:`rpgraph.train_config.OPTIMIZERS` (the registry ``optimizer = NAME(...)``
is checked against): the spec's call passes ``check``, and training 2 steps, saving a
checkpoint, restoring it against fresh templates and training 2 more steps is bit-identical
to 4 steps uninterrupted -- parameters and optimizer state (PRNG keys included). The step
is the trainer's own (:func:`rpgraph.train.step.make_step`: evolve, loss, gradient, the
optax update with the loss as ``value``, projection) and compiles once per optimizer: the
restored state has the same types as a fresh one, so a resumed run reuses the program.
``fit``'s own resume path (run folder, metrics, identity, the scanned chunk) is tested with
adam and noisy_sgd in ``test_train.py``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rpgraph
from rpgraph.io.checkpoint import load_checkpoint, save_checkpoint
from rpgraph.train.step import make_step
from rpgraph.train_config import OPTIMIZERS, optimizer_spec

SPEC = """network n {
    input  x : 3
    output y : 2
    x -> linear(2) -> y
}
"""


def call(name: str) -> str:
    """The spec's text for optimizer ``name``: a learning rate where it takes one."""
    takes_lr = "learning_rate" in inspect.signature(OPTIMIZERS[name]).parameters
    return f"{name}(lr = 1e-2)" if takes_lr else name


@pytest.fixture(scope="module")
def prog() -> rpgraph.Program:
    return rpgraph.compile(SPEC)


def _leaves(tree: Any) -> list[np.ndarray]:
    """The leaves as numpy arrays, typed PRNG keys as their key data."""
    out = []
    for leaf in jax.tree_util.tree_leaves(tree):
        if jnp.issubdtype(getattr(leaf, "dtype", np.float32), jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        out.append(np.asarray(leaf))
    return out


def _same(a: Any, b: Any) -> bool:
    la, lb = _leaves(a), _leaves(b)
    return len(la) == len(lb) and all(
        x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True) for x, y in zip(la, lb))


@pytest.mark.filterwarnings("ignore:Specifying a key will be required")  # noisy_sgd, no key
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_state_round_trips_through_a_checkpoint(prog: rpgraph.Program, name: str,
                                                          tmp_path: Path) -> None:
    opt = optimizer_spec(call(name)).build()  # what 'check' accepts, built as 'train' does
    step = jax.jit(make_step(prog, opt))
    r = np.random.RandomState(0)
    batches = [(jnp.asarray(r.rand(1, 5, 3), jnp.float32),
                jnp.asarray(r.rand(1, 5, 2), jnp.float32)) for _ in range(4)]

    def train(params: Any, state: Any, steps: range) -> tuple[Any, Any]:
        for i in steps:
            params, state, _, _ = step(params, state, *batches[i], jax.random.key(i))
        return params, state

    def fresh() -> tuple[Any, Any]:
        params = prog.init(0)
        return params, opt.init(params)

    full_p, full_s = train(*fresh(), range(4))
    p, s = train(*fresh(), range(2))
    save_checkpoint(tmp_path, params=p, opt_state=s, step=2, spec_hash="h")
    like_p, like_s = fresh()
    ck = load_checkpoint(tmp_path, params_like=like_p, opt_state_like=like_s, spec_hash="h")
    assert ck.step == 2
    assert _same(ck.params, p) and _same(ck.opt_state, s), "restored state differs"
    res_p, res_s = train(ck.params, ck.opt_state, range(2, 4))

    assert _same(res_p, full_p), f"{name}: resumed parameters differ"
    assert _same(res_s, full_s), f"{name}: resumed optimizer state differs"
    assert not _same(full_p, prog.init(0)), f"{name}: 4 steps changed nothing"
    # the restored state has a fresh state's types: the resumed steps reused the program
    assert step._cache_size() == 1  # type: ignore[attr-defined]
