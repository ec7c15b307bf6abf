"""The fused training step and a chunk of steps as one jitted loop (``lax.fori_loop``).

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
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

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


class Constrained(NamedTuple):
    """What :func:`fit` applies around an optax optimizer, for a training loop of your own:
    ``init(params) -> opt_state`` and ``update(grads, opt_state, params) -> (params,
    opt_state)`` (extra keyword arguments, e.g. ``value=loss`` for ``polyak_sgd``, go to
    the optimizer), which runs the optimizer with frozen parameters partitioned off (see
    :func:`freeze`), applies the updates and projects the parameters whose bounds say so
    (:meth:`rpgraph.objective.Objective.constrain`). Pure: jit it or call it in a scan."""

    init: Callable[[Tree], Any]
    update: Callable[..., tuple[Tree, Any]]


def constrained(opt: optax.GradientTransformation, objective: Objective) -> Constrained:
    """``opt`` wrapped as :func:`fit` uses it: the freeze mask and the projection onto the
    bounds of ``objective`` (``prog.objective``, or one with overridden bounds).

    >>> import rpgraph
    >>> prog = rpgraph.compile("network n { input x : 1\\n output y : 1\\n x -> h: rate -> y }"
    ...                        "\\ntrain { freeze = [h.bias] }")
    >>> tx = constrained(optax.sgd(1.0), prog.objective)
    >>> params = prog.init(0)
    >>> grads = {"h": {"tau": jnp.ones(1), "bias": jnp.ones(1), "threshold": jnp.ones(1)}}
    >>> params, state = tx.update(grads, tx.init(params), params)
    >>> round(float(params["h"]["tau"][0]), 6), float(params["h"]["bias"][0])  # floor; frozen
    (0.0005, 0.0)
    """
    # optimizers such as polyak_sgd need the loss as update(..., value=loss); the others
    # take extra arguments and ignore them
    tx = optax.with_extra_args_support(freeze(opt, objective.frozen))
    any_proj = any(jax.tree_util.tree_leaves(objective.project))

    def update(grads: Tree, opt_state: Any, params: Tree, **extra: Any) -> tuple[Tree, Any]:
        updates, opt_state = tx.update(grads, opt_state, params, **extra)
        new = optax.apply_updates(params, updates)
        if any_proj:
            new = objective.constrain(new)
        return new, opt_state

    return Constrained(tx.init, update)


def make_step(prog: Program, opt: optax.GradientTransformation, *,
              objective: Objective | None = None) -> Callable[..., Any]:
    """One training step ``(params, opt_state, x, target, key=None) -> (params, opt_state,
    loss, terms)``: evolve, loss, gradient, optax update (frozen parameters untouched),
    bounded parameters projected. Pure; jit it or scan it. ``opt_state`` is
    ``freeze(opt, objective.frozen).init(params)``, which is ``opt.init(params)`` when
    nothing is frozen. ``x`` is a ``(B, T, N_in)`` array (or a dict by input name); ``key``
    seeds the noise of noisy nodes and the masks of ``dropout`` nodes (fresh each step);
    without it they use their initial keys (dropout: fixed keys).
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
    tx = constrained(opt, obj)
    noisy = [n for n, st in prog.initial_state().items() if "rng_key" in st]

    def loss_fn(params: Tree, x: dict[str, Array], target: Array, key: Array | None
                ) -> tuple[Array, Any]:
        state = None
        if key is not None and noisy:
            state = {n: {"rng_key": jax.random.fold_in(key, i)} for i, n in enumerate(noisy)}
        # dropout is on while training, its masks from the step's key (a fixed one without)
        keys = prog.train_keys(jax.random.PRNGKey(0) if key is None else key) or None
        outs, _, rec = prog.run(params, x, state, obj.records, keys)
        return obj.loss_and_terms(outs, target, params, rec)

    def step(params: Tree, opt_state: Any, x: dict[str, Array] | Array, target: Array,
             key: Array | None = None) -> Any:
        if not isinstance(x, dict):  # one input network: the array is that input
            if len(prog.inputs) != 1:
                raise SpecValueError(f"Expected a dict of inputs {prog.inputs}, got an array")
            x = {prog.inputs[0]: x}
        (loss, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, target,
                                                                         key)
        new, opt_state = tx.update(grads, opt_state, params, value=loss)
        return new, opt_state, loss, terms

    def aux_shapes(params: Tree, x: dict[str, Array] | Array, target: Array,
                   key: Array | None = None) -> Any:
        """The shapes of a step's ``(loss, terms)``, from the forward pass alone (tracing
        it is a fraction of tracing the whole step)."""
        x = x if isinstance(x, dict) else {prog.inputs[0]: x}
        return jax.eval_shape(loss_fn, params, x, target, key)

    step.aux_shapes = aux_shapes  # type: ignore[attr-defined]
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
    """``chunk(params, opt_state, inputs, targets, idx, step0=0, count=None) -> (params,
    opt_state, losses, terms)``: a loop over steps (``lax.fori_loop``), jitted with the
    parameter and optimizer buffers donated. ``idx`` is ``(K, B)`` sample indices, one row
    per step; the data stays on the device and each step gathers its batch there; ``inputs`` and
    ``targets`` may be dicts of arrays by port (networks with several inputs or outputs).
    ``step0`` is the absolute number of the first step: noise keys derive from ``(seed,
    step)``, so a resumed run draws the same. ``count`` (default ``K``) is how many of the
    ``K`` rows are real steps: the rest are padding, never run (their losses are 0), so a
    run's last, shorter chunk reuses the one compiled program of length ``K`` instead of
    compiling another. ``objective`` is as for :func:`make_step`.

    >>> import rpgraph
    >>> prog = rpgraph.compile("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }")
    >>> chunk = make_chunk(prog, optax.sgd(0.1))
    >>> p = prog.init(0)
    >>> out = chunk(p, optax.sgd(0.1).init(p), jnp.ones((4, 5, 3)), jnp.zeros((4, 5, 2)),
    ...             jnp.asarray(indices(0, 6, 4, 1, 4, 0)))
    >>> out[2].shape
    (6,)
    """
    jitted = jax.jit(chunk_fn(prog, opt, objective=objective, devices=devices),
                     donate_argnums=(0, 1))
    base = jax.random.PRNGKey(seed)

    def chunk(params: Tree, opt_state: Any, inputs: Array, targets: Array, idx: Array,
              step0: int = 0, count: int | None = None) -> Any:
        n = len(idx) if count is None else count
        return jitted(params, opt_state, inputs, targets, idx, step_words(step0),
                      jnp.int32(n), base)

    chunk.jitted = jitted  # type: ignore[attr-defined]  # (tests count its compiled programs)
    return chunk


def chunk_fn(prog: Program, opt: optax.GradientTransformation, *,
             objective: Objective | None = None, devices: int | None = None
             ) -> Callable[..., Any]:
    """The pure function behind :func:`make_chunk`: ``run(params, opt_state, inputs, targets,
    idx, step0, count, base) -> (params, opt_state, losses, terms)``, ``base`` the noise key
    of the run (``jax.random.PRNGKey(seed)``). Unjitted, so that an ensemble can ``vmap`` it
    (:func:`rpgraph.train.ensemble.make_ensemble_chunk`)."""
    step = make_step(prog, opt, objective=objective)
    name = prog.inputs[0]
    shard = batch_sharding(devices)

    def batch(inputs: Array, targets: Array, idx: Array, hi: Array, lo: Array, base: Array
              ) -> tuple[Any, Any, Array]:
        """The step's inputs, targets and key."""
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
        # the step number as two 32-bit words (steps are 64-bit counters); below 2**32 the
        # key is fold_in(base, step), as it always was
        key = jnp.where(hi == 0, jax.random.fold_in(base, lo),
                        jax.random.fold_in(jax.random.fold_in(base, hi), lo))
        return x if isinstance(x, dict) else {name: x}, t, key

    def run(params: Tree, opt_state: Any, inputs: Array, targets: Array, idx: Array,
            step0: tuple[Array, Array], count: Array, base: Array) -> Any:
        # a loop over the ``count`` real steps only: the padding rows of a short last chunk
        # are never run, so nothing has to undo them (a select of every parameter and
        # moment after each step, as this once did, cost 6-19% of a step on CPU); their
        # losses stay 0
        rows = idx.shape[0]
        shapes = step.aux_shapes(  # type: ignore[attr-defined]
            params, *batch(inputs, targets, idx[0], *step0, base))
        buffers = jax.tree_util.tree_map(lambda s: jnp.zeros((rows, *s.shape), s.dtype),
                                         shapes)

        def body(i: Array, carry: Any) -> Any:
            params, opt_state, (hi, lo), (losses, terms) = carry
            params, opt_state, loss, term = step(params, opt_state,
                                                 *batch(inputs, targets, idx[i], hi, lo, base))
            losses = losses.at[i].set(loss)
            terms = jax.tree_util.tree_map(lambda b, v: b.at[i].set(v), terms, term)
            lo = lo + jnp.uint32(1)
            hi = hi + (lo == 0).astype(jnp.uint32)
            return params, opt_state, (hi, lo), (losses, terms)

        params, opt_state, _, (losses, terms) = jax.lax.fori_loop(
            0, jnp.minimum(count, rows), body, (params, opt_state, step0, buffers))
        return params, opt_state, losses, terms

    return run


def step_words(step0: int) -> tuple[Array, Array]:
    """A 64-bit step number as the (high, low) 32-bit words the chunk's scan counts with.

    >>> [int(w) for w in step_words(2**32 + 5)]
    [1, 5]
    """
    step0 = int(step0)
    return jnp.uint32(step0 >> 32), jnp.uint32(step0 & 0xFFFFFFFF)


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
            "starting; several hosts: one process each with --coordinator, --num-processes "
            "and --process-id")
    mesh = Mesh(np.asarray(avail[:devices]), ("batch",))
    return NamedSharding(mesh, PartitionSpec("batch"))
