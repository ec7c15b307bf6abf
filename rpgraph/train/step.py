"""The fused training step and a chunk of steps as one jitted ``lax.scan``.

A step evolves the network, computes the loss and its gradient, and applies one optax
update: the optimizer with frozen parameters partitioned off (``optax.partition`` with
``optax.set_to_zero``: they get no update and no optimizer state), then projection of
bounded parameters into their box. Projection acts on the updated parameters, as optax's
own ``optax.projections`` do, rather than as one more transform of the updates: a float32
update ``d`` with ``p + d`` equal to the bound does not always exist (from ``p = 1.0`` no
float32 ``d`` reaches a bound of ``1e-8``), and the clipping must land on the bound exactly.

Python sees a chunk of steps once (see :func:`make_chunk`), so hundreds of steps are one
dispatch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..bounds import project
from ..errors import SpecValueError
from ..objective import Objective

if TYPE_CHECKING:
    from ..compile import Program

Array = Any
Tree = dict[str, dict[str, Array]]


def freeze(opt: optax.GradientTransformation, frozen: Tree) -> optax.GradientTransformation:
    """``opt`` for the trainable leaves; the ``frozen`` ones (a tree of bools) get a zero
    update and no optimizer state. With nothing frozen this is ``opt`` itself.

    >>> tx = freeze(optax.adamw(0.5, weight_decay=1.0), {"a": {"w": True}, "b": {"w": False}})
    >>> p = {"a": {"w": jnp.ones(2)}, "b": {"w": jnp.ones(2)}}
    >>> state = tx.init(p)
    >>> updates, _ = tx.update(p, state, p)
    >>> updates["a"]["w"].tolist(), [round(u, 3) for u in updates["b"]["w"].tolist()]
    ([0.0, 0.0], [-1.0, -1.0])
    >>> state.inner_states["train"].inner_state[0].mu["a"]["w"]  # no state for "a"
    MaskedNode()
    """
    if not any(jax.tree_util.tree_leaves(frozen)):
        return opt  # the optimizer state stays exactly opt's
    labels = jax.tree_util.tree_map(lambda f: "frozen" if f else "train", frozen)
    return optax.partition({"train": opt, "frozen": optax.set_to_zero()}, labels)


def make_step(prog: Program, opt: optax.GradientTransformation, *,
              objective: Objective | None = None) -> Callable[..., Any]:
    """One training step ``(params, opt_state, x, target, key=None) -> (params, opt_state,
    loss, terms)``: evolve, loss, gradient, optax update (frozen parameters untouched),
    bounded parameters projected. Pure; jit it or scan it. ``opt_state`` is
    ``freeze(opt, objective.frozen).init(params)``, which is ``opt.init(params)`` when
    nothing is frozen. ``x`` is a ``(B, T, N_in)`` array (or a dict by input name); ``key``
    seeds the noise of noisy nodes (fresh each step); without it they use their initial keys.
    ``objective`` (default: the spec's) gives the loss terms, bounds and frozen parameters.

    >>> import rpgraph
    >>> prog = rpgraph.compile("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }")
    >>> params, opt = prog.init(0), optax.sgd(0.1)
    >>> step = jax.jit(make_step(prog, opt))
    >>> params, opt_state, loss, terms = step(params, opt.init(params), jnp.ones((1, 5, 3)),
    ...                                       jnp.zeros((1, 5, 2)))
    >>> sorted(terms)
    ['mse(y, target)']
    """
    obj = objective if objective is not None else prog.objective
    # optimizers such as polyak_sgd need the loss as update(..., value=loss); the others
    # take extra arguments and ignore them
    tx = optax.with_extra_args_support(freeze(opt, obj.frozen))
    any_proj = any(jax.tree_util.tree_leaves(obj.project))
    noisy = [n for n, st in prog.initial_state().items() if "rng_key" in st]

    def loss_fn(params: Tree, x: dict[str, Array], target: Array, key: Array | None
                ) -> tuple[Array, Any]:
        state = None
        if key is not None and noisy:
            state = {n: {"rng_key": jax.random.fold_in(key, i)} for i, n in enumerate(noisy)}
        outs, _, _ = prog.run(params, x, state, False)
        return obj.loss_and_terms(outs, target, params)

    def step(params: Tree, opt_state: Any, x: dict[str, Array] | Array, target: Array,
             key: Array | None = None) -> Any:
        if not isinstance(x, dict):  # one input network: the array is that input
            if len(prog.inputs) != 1:
                raise SpecValueError(f"Expected a dict of inputs {prog.inputs}, got an array")
            x = {prog.inputs[0]: x}
        (loss, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, target,
                                                                         key)
        updates, opt_state = tx.update(grads, opt_state, params, value=loss)
        new = optax.apply_updates(params, updates)
        if any_proj:
            new = project(new, obj.lower, obj.upper, obj.project)
        return new, opt_state, loss, terms

    return step


def step_plan(n: int, batch_size: int, epochs: int) -> tuple[int, int]:
    """``(steps per epoch, total steps)`` for ``n`` samples.

    >>> step_plan(10, 1, 3), step_plan(10, 4, 3)
    ((10, 30), (2, 6))
    """
    per_epoch = n if batch_size == 1 else max(1, n // batch_size)
    return per_epoch, per_epoch * epochs


def indices(start: int, count: int, n: int, batch_size: int, per_epoch: int, seed: int
            ) -> np.ndarray:
    """Sample indices for steps ``start .. start+count``: dataset order for per-sample
    training; a seeded permutation per epoch for minibatches (drop-last). Deterministic in
    the absolute step, so a resumed run sees exactly the same batches.

    >>> indices(2, 3, 3, 1, 3, 0).ravel().tolist()
    [2, 0, 1]
    """
    if batch_size == 1:
        return (np.arange(start, start + count) % n).astype(np.int32)[:, None]
    b = min(batch_size, n)
    rows = []
    for s in range(start, start + count):
        epoch, k = divmod(s, per_epoch)
        perm = np.random.RandomState((seed * 1_000_003 + epoch) % 2**32).permutation(n)
        rows.append(perm[k * b:(k + 1) * b])
    return np.asarray(rows, np.int32)


def make_chunk(prog: Program, opt: optax.GradientTransformation, *,
               objective: Objective | None = None, devices: int | None = None,
               seed: int = 0) -> Callable[..., Any]:
    """``chunk(params, opt_state, inputs, targets, idx, step0=0) -> (params, opt_state,
    losses, terms)``: a ``lax.scan`` over steps, jitted with parameter and optimizer buffers
    donated. ``idx`` is ``(K, B)`` sample indices, one row per step; the data stays on the
    device and each step gathers its batch there; ``inputs`` and ``targets`` may be dicts
    of arrays by port (networks with several inputs or outputs). ``step0`` is the absolute
    number of the first step: noise keys derive from ``(seed, step)``, so a resumed run
    draws the same.
    ``objective`` is as for :func:`make_step`.

    >>> import rpgraph
    >>> prog = rpgraph.compile("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }")
    >>> chunk = make_chunk(prog, optax.sgd(0.1))
    >>> p = prog.init(0)
    >>> out = chunk(p, optax.sgd(0.1).init(p), jnp.ones((4, 5, 3)), jnp.zeros((4, 5, 2)),
    ...             jnp.asarray(indices(0, 6, 4, 1, 4, 0)))
    >>> out[2].shape
    (6,)
    """
    step = make_step(prog, opt, objective=objective)
    name = prog.inputs[0]
    shard = batch_sharding(devices)
    base = jax.random.PRNGKey(seed)

    def body(carry: Any, idx: Array) -> Any:
        params, opt_state, inputs, targets, n = carry
        if idx.shape[0] == 1:  # one sample: a dynamic slice, cheaper than a gather
            pick = lambda a: jax.lax.dynamic_slice_in_dim(a, idx[0], 1, axis=0)  # noqa: E731
        else:
            pick = lambda a: a[idx]  # noqa: E731
        # inputs and targets are arrays, or dicts by port for several inputs/outputs
        x = jax.tree_util.tree_map(pick, inputs)
        t = jax.tree_util.tree_map(pick, targets)
        if shard is not None:
            x = jax.tree_util.tree_map(lambda a: jax.lax.with_sharding_constraint(a, shard), x)
            t = jax.tree_util.tree_map(lambda a: jax.lax.with_sharding_constraint(a, shard), t)
        key = jax.random.fold_in(base, n)
        params, opt_state, loss, terms = step(params, opt_state,
                                              x if isinstance(x, dict) else {name: x}, t, key)
        return (params, opt_state, inputs, targets, n + 1), (loss, terms)

    def run(params: Tree, opt_state: Any, inputs: Array, targets: Array, idx: Array,
            step0: Array) -> Any:
        (params, opt_state, _, _, _), (losses, terms) = jax.lax.scan(
            body, (params, opt_state, inputs, targets, step0), idx)
        return params, opt_state, losses, terms

    jitted = jax.jit(run, donate_argnums=(0, 1))

    def chunk(params: Tree, opt_state: Any, inputs: Array, targets: Array, idx: Array,
              step0: int = 0) -> Any:
        return jitted(params, opt_state, inputs, targets, idx, jnp.int32(step0))

    return chunk


def batch_sharding(devices: int | None) -> Any:
    """A sharding of the batch axis over ``devices`` devices (``None`` for one device)."""
    if not devices or devices <= 1:
        return None
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    avail = jax.devices()
    if len(avail) < devices:
        raise SpecValueError(
            f"--devices {devices} asks for more devices than the {len(avail)} available",
            hint="on CPU, set XLA_FLAGS=--xla_force_host_platform_device_count=N before "
            "starting; on several hosts call jax.distributed.initialize() first")
    mesh = Mesh(np.asarray(avail[:devices]), ("batch",))
    return NamedSharding(mesh, PartitionSpec("batch"))
