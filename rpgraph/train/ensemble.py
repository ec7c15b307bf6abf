"""Ensembles: K models of one spec, one per seed, trained together in one jitted program.

Parameters, optimizer states, minibatch orders (each seed permutes the data its own way)
and noise keys get a leading axis of length K; the data set is shared, and Python dispatches
one chunk for all K. By default the program runs the single model's chunk
(:func:`~.step.chunk_fn`) for each model in turn (``lax.map``), so each model's numbers are
bit for bit those of ``fit(seed=s)``. ``batched`` ``vmap``-s the chunk instead, which fills
a device that one small network leaves idle, but XLA then compiles the K models' matrix
products as one batched ``dot_general``, whose summation order can differ from the single
model's ``dot`` in the last bits: equal within float tolerance (a small rate network: losses
within 1e-7 relative, parameters within 3e-8), and spiking models drift further where a
spike flips.

Each model gets its own run directory (``OUT/seed-<s>``: metrics, checkpoints, parameters,
summary) and its own metrics, as ``fit(seed=s)`` would write them. Epochs are each model's
own too: with ``validation = f`` it holds out its own seeded split (the unsplit data sits on
the device once; each model's minibatch indices point into it), and its validation, early
stopping and ``keep = best`` run as in a single run; a model that stops early keeps the
parameters it stopped with while the others go on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..errors import SpecValueError, TrainingError
from ..objective import make_objective
from .epochs import Epochs
from .feed import Feed
from .loop import FitOptions, FitResult, _padded, _report, chunk_boundaries
from .progress import Progress
from .run_dir import RunDir, canonical_hash, run_identity
from .settings import Settings, resolve
from .step import chunk_fn, freeze, indices, step_plan, step_words

if TYPE_CHECKING:
    from ..compile import Program
    from ..objective import Objective

Array = Any
Tree = dict[str, dict[str, Array]]


def make_ensemble_chunk(prog: Program, opt: optax.GradientTransformation, seeds: Sequence[int],
                        *, objective: Objective | None = None, shared_order: bool = False,
                        batched: bool = False) -> Callable[..., Any]:
    """:func:`~.step.make_chunk` for ``len(seeds)`` models: ``chunk(params, opt_state,
    inputs, targets, idx, step0=0, count=None)`` with parameters and optimizer states
    stacked on a leading model axis and ``idx`` of shape ``(K, steps, B)``, or, with
    ``shared_order``, ``(steps, B)``: every model sees the same batch each step (per-sample
    training in data set order). Returns losses ``(K, steps)``.

    By default the models run one after another inside the one program (``lax.map`` over
    the single-model chunk): each computes exactly what its own run computes, bit for bit.
    ``batched`` ``vmap``-s the chunk instead: XLA then multiplies a shared batch by the K
    models' weights as one wide matrix product, faster where the device has room, but the
    batched products may sum in another order (equal to the single runs within float
    tolerance, and spiking models then drift apart where a spike flips).

    >>> import rpgraph
    >>> prog = rpgraph.compile("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }")
    >>> opt = optax.sgd(0.1)
    >>> p = stack([prog.init(0), prog.init(1)])
    >>> chunk = make_ensemble_chunk(prog, opt, [0, 1])
    >>> idx = jnp.zeros((2, 6, 1), jnp.int32)
    >>> chunk(p, jax.vmap(opt.init)(p), jnp.ones((4, 5, 3)), jnp.zeros((4, 5, 2)), idx)[2].shape
    (2, 6)
    """
    fn = chunk_fn(prog, opt, objective=objective)
    if batched:
        run = jax.vmap(fn, in_axes=(0, 0, None, None, None if shared_order else 0, None, None,
                                    0))
    else:
        def run(params: Tree, opt_state: Any, inputs: Array, targets: Array, idx: Array,
                words: Array, n: Array, bases: Array) -> Any:
            if shared_order:  # one order for all: each model reads the same rows
                idx = jnp.broadcast_to(idx, (len(bases), *idx.shape))
            return jax.lax.map(lambda m: fn(m[0], m[1], inputs, targets, m[2], words, n, m[3]),
                               (params, opt_state, idx, bases))

    jitted = jax.jit(run, donate_argnums=(0, 1))
    bases = jnp.stack([jax.random.PRNGKey(s) for s in seeds])

    def chunk(params: Tree, opt_state: Any, inputs: Array, targets: Array, idx: Array,
              step0: int = 0, count: int | None = None) -> Any:
        n = idx.shape[-2] if count is None else count
        return jitted(params, opt_state, inputs, targets, idx, step_words(step0), jnp.int32(n),
                      bases)

    chunk.jitted = jitted  # type: ignore[attr-defined]
    return chunk


def stack(trees: Sequence[Any]) -> Any:
    """Trees of equal structure stacked leaf by leaf on a new leading axis."""
    return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *trees)


def member(tree: Any, i: int) -> Any:
    """Model ``i`` of a stacked tree."""
    return jax.tree_util.tree_map(lambda a: a[i], tree)


def fit_ensemble(prog: Program, data: Any = None, *, seeds: Sequence[int],
                 options: FitOptions | None = None,
                 optimizers: Sequence[tuple[optax.GradientTransformation, str]] | None = None,
                 names: Sequence[str] | None = None, batched: bool = False,
                 **overrides: Any) -> list[FitResult]:
    """Train one model per seed in ``seeds`` in one jitted program; ``options`` as for
    :func:`~.loop.fit` (its ``seed`` ignored, ``out_dir`` the parent of one
    ``seed-<s>`` run directory per model; ``resume`` continues each model from its own
    checkpoint, which must be at one step unless the model had stopped early; ``params``
    are every model's initial parameters; ``devices`` is not supported). Returns one
    :class:`~.loop.FitResult` per seed, in order.

    ``batched`` trains the models vmapped (see :func:`make_ensemble_chunk`): faster where
    they share each batch, equal to their single runs within float tolerance instead of bit
    for bit.

    A sweep (:mod:`.sweep`) gives each model its own ``(optimizer, description)``: optimizers
    of one structure whose differing hyperparameters live in their states
    (``optax.inject_hyperparams``), and run folder ``names`` instead of ``seed-<s>``; seeds
    may then repeat.

    >>> import rpgraph
    >>> prog = rpgraph.compile("specs/tutorial_mlp.rpg")
    >>> results = fit_ensemble(prog, seeds=[0, 1], epochs=2, progress=False)  # doctest: +SKIP
    >>> [r.losses.shape for r in results]  # doctest: +SKIP
    [(6,), (6,)]
    """
    o = (options or FitOptions()).with_overrides(overrides)
    if not seeds:
        raise SpecValueError("an ensemble needs at least one seed")
    if optimizers is None and len(set(seeds)) != len(seeds):
        raise SpecValueError(f"the seeds of an ensemble must differ, got {list(seeds)}")
    if o.devices and o.devices > 1:
        raise SpecValueError("--devices does not work with --seeds yet",
                             hint="train the seeds one by one for this")
    st = resolve(prog, data, epochs=o.epochs, optimizer=o.optimizer, batch_size=o.batch_size,
                 seed=seeds[0], checkpoint_every=o.checkpoint_every,
                 allow_outside=o.allow_outside)
    obj = prog.objective if o.bounds is None else make_objective(prog.network, o.bounds)
    per_epoch, total = step_plan(len(st.data), st.batch_size, st.epochs)
    # each model's data as its own run splits it: the validation part depends on the seed
    settings = [_member_settings(st, s) for s in seeds]
    if optimizers is not None:
        settings = [replace(s, optimizer=tx, optimizer_desc=desc)
                    for s, (tx, desc) in zip(settings, optimizers, strict=True)]
    folders = list(names) if names is not None else [f"seed-{s}" for s in seeds]
    runs = [RunDir(Path(o.out_dir) / folder, canonical_hash(prog), per_epoch,
                   run_identity(prog, s, obj), o.log_limit)
            for s, folder in zip(settings, folders, strict=True)] \
        if o.out_dir is not None else []
    try:
        for run in runs:
            run.open(resume=o.resume, force=o.force)  # marked and locked like a single run
        return _train_members(prog, o, st, obj, seeds, settings, runs, per_epoch, total,
                              batched)
    finally:
        for run in runs:
            run.close()


def _member_settings(st: Settings, seed: int) -> Settings:
    """Model ``seed``'s settings: its seed, and with a ``validation`` split, its own split
    of the data (as :func:`_train_maps` indexes it in the unsplit data)."""
    if st.unsplit is None or st.validation_fraction is None:
        return replace(st, seed=seed)
    train, val = st.unsplit.split(st.validation_fraction, seed)
    return replace(st, seed=seed, data=train, validation=val)


def _train_maps(st: Settings, seeds: Sequence[int]) -> list[np.ndarray] | None:
    """With a ``validation`` split, each model's training samples as indices into the
    unsplit data (which all models share on the device); else ``None``."""
    if st.unsplit is None or st.validation_fraction is None:
        return None
    return [st.unsplit.split_indices(st.validation_fraction, s)[0] for s in seeds]


def _train_members(prog: Program, o: FitOptions, st: Settings, obj: Objective,
                   seeds: Sequence[int], settings: list[Settings], runs: list[RunDir],
                   per_epoch: int, total: int, batched: bool) -> list[FitResult]:
    """The ensemble's training loop (after the run folders are open): chunks end on the
    same boundaries as a single run's (checkpoints, epochs when they are evaluated); each
    model keeps its own epochs (validation, early stopping, best), and a model that stops
    early keeps the parameters it stopped with while the others go on."""
    members, states, starts = _initial(prog, o, obj, seeds, settings, runs, total)
    params, opt_state = stack(members), stack(states)
    maps = _train_maps(st, seeds)
    # per-sample steps go through the data in order, whatever the seed
    shared = (st.batch_size == 1 and maps is None) or len(set(seeds)) == 1
    run_chunk = make_ensemble_chunk(prog, settings[0].optimizer, seeds, objective=obj,
                                    shared_order=shared, batched=batched)
    # on the device, whole: ensembles do not stream (README)
    feed = Feed(prog, st.unsplit if st.unsplit is not None and maps else st.data, budget=None)
    watches = [Epochs(prog, obj, s.data, s.validation, s.early_stopping, s.keep,
                      runs[i].path if runs else None, False,
                      runs[i].spec_hash if runs else None) for i, s in enumerate(settings)]
    boundary, ck_every, width = chunk_boundaries(o.chunk, st.checkpoint_every, per_epoch,
                                                 total, watches[0].active)
    for w, at in zip(watches, starts, strict=True):
        w.start(at, per_epoch)
    # stopped early (or finished) before a resume: kept as they are
    ended: list[tuple[int, Tree, Any] | None] = [
        (at, member(params, i), member(opt_state, i)) if w.stopped or at == total else None
        for i, (w, at) in enumerate(zip(watches, starts, strict=True))]
    step = _common_start(starts, ended, runs, total)
    # where each model's losses of this call start (a model already ended trains none)
    begins = [step if e is None else at for e, at in zip(ended, starts, strict=True)]
    bar = Progress(total, per_epoch, o.progress, step)
    losses_all: list[np.ndarray] = []
    t0 = time.perf_counter()
    try:
        while step < total and not all(ended):
            end = boundary(step)
            orders = [_padded(indices(step, end - step, len(s.data), st.batch_size, per_epoch,
                                      s.seed), width) for s in settings[:1 if shared else None]]
            if maps is not None:
                orders = [m[i] for m, i in zip(maps[:len(orders)], orders, strict=True)]
            idx = orders[0] if shared else np.stack(orders)
            params, opt_state, losses, terms = run_chunk(params, opt_state, feed.inputs,
                                                         feed.targets, jnp.asarray(idx), step,
                                                         end - step)
            losses = np.asarray(losses)[:, :end - step]
            losses_all.append(losses)
            for i, w in enumerate(watches):
                if ended[i] is None:
                    _member_chunk(i, w, runs, settings, params, opt_state, losses, terms, step,
                                  end, per_epoch, total, ck_every, ended)
            step = end
            bar.update(step, float(np.mean(losses[:, -1])) if losses.shape[1] else math.nan)
    finally:
        bar.close()
        for w in watches:
            w.close()
    seconds = time.perf_counter() - t0
    all_losses = np.concatenate(losses_all, axis=1) if losses_all else \
        np.zeros((len(seeds), 0), np.float32)
    return [_result(prog, o, i, seeds, settings[i], watches[i],
                    ended[i] or (step, member(params, i), member(opt_state, i)),
                    all_losses[i], runs, seconds, obj, begins[i])
            for i in range(len(seeds))]


def _initial(prog: Program, o: FitOptions, obj: Objective, seeds: Sequence[int],
             settings: list[Settings], runs: list[RunDir], total: int
             ) -> tuple[list[Tree], list[Any], list[int]]:
    """Each model's parameters, optimizer state and first step: fresh (its seed's, or
    ``--init-params``), or its checkpoint when resuming; its run files written."""
    if o.params is not None:  # --init-params: every model starts from them
        prog.check_params(o.params)
    members = [jax.tree_util.tree_map(lambda a: jnp.array(a, jnp.float32),
                                      prog.init(s) if o.params is None else o.params)
               for s in seeds]
    # each model's optimizer state from its own optimizer: a sweep's hyperparameters are
    # state (inject_hyperparams), and the one program reads them from there
    states = [freeze(s.optimizer, obj.frozen).init(p)
              for s, p in zip(settings, members, strict=True)]
    starts = [0] * len(seeds)
    if o.resume:
        for i, run in enumerate(runs):
            members[i], states[i], starts[i] = run.resume(members[i], states[i], total,
                                                          force=o.force)
    for run, s_st, at in zip(runs, settings, starts, strict=False):
        run.start(prog, s_st, obj, total, at)
    return members, states, starts


def _common_start(starts: list[int], ended: list[Any], runs: list[RunDir], total: int) -> int:
    """The step the models still training continue from (0 without ``--resume``): their
    checkpoints must agree, since they train in step. ``total`` when none is left."""
    live = sorted({at for at, e in zip(starts, ended, strict=True) if e is None})
    if len(live) > 1:
        where = ", ".join(f"'{r.path.name}' at step {at}" for r, at, e in zip(
            runs, starts, ended, strict=True) if e is None)
        raise TrainingError(f"the models' checkpoints are at different steps ({where}); "
                            "they train in step, so they resume from one",
                            hint="resume each model on its own (--seed S --out DIR/seed-S "
                            "--resume), or start the ensemble again")
    return live[0] if live else total


def _member_chunk(i: int, watch: Epochs, runs: list[RunDir], settings: list[Settings],
                  params: Tree, opt_state: Any, losses: np.ndarray, terms: Any, step: int,
                  end: int, per_epoch: int, total: int, ck_every: int,
                  ended: list[tuple[int, Tree, Any] | None]) -> None:
    """Model ``i``'s bookkeeping after a chunk ``step .. end``: finiteness, metrics, its
    epoch's evaluation, checkpoints; marks it ``ended`` when early stopping ends it."""
    run: RunDir | None = runs[i] if runs else None
    if not np.all(np.isfinite(losses[i])):
        _non_finite(losses[i], member(terms, i), step, per_epoch, run)
    if run is not None:
        run.append(step, losses[i])
    watch.steps(step, losses[i])
    p_i, o_i = member(params, i), member(opt_state, i)
    if watch.active and end % per_epoch == 0:
        watch.end_epoch(end // per_epoch - 1, end, p_i)
    if run is not None and (end % ck_every == 0 or end == total or watch.stopped):
        run.checkpoint(p_i, o_i, end, settings[i], total)
    if watch.stopped:  # a copy: the stacked arrays are donated to the next chunk
        ended[i] = (end, jax.tree_util.tree_map(jnp.array, p_i),
                    jax.tree_util.tree_map(jnp.array, o_i))


def _result(prog: Program, o: FitOptions, i: int, seeds: Sequence[int], st: Settings,
            watch: Epochs, last: tuple[int, Tree, Any], losses: np.ndarray,
            runs: list[RunDir], seconds: float, obj: Objective, start: int) -> FitResult:
    """Model ``i``'s result as its own run reports it (:func:`~.loop._report`): evaluated,
    its run directory finished, ``on_end`` called; ``losses`` from step ``start``."""
    steps, p_i, o_i = last
    if watch.best_params is not None:  # keep = best
        p_i = jax.tree_util.tree_map(jnp.asarray, watch.best_params)
    r = FitResult(p_i, o_i, losses[:steps - start], steps, runs[i].path if runs else None,
                  seconds=seconds, data=st.data, objective=obj, epochs=watch.rows,
                  validation=st.validation, start=start)
    _report(prog, st, r, runs[i] if runs else None, watch, {"ensemble": list(seeds)})
    if o.on_end is not None:
        o.on_end(prog, r)
    return r


def _non_finite(losses: np.ndarray, terms: dict[str, Array], step: int, per_epoch: int,
                run: RunDir | None) -> None:
    """The error for one ensemble member whose loss went non-finite: the step, the terms,
    and whether a checkpoint of that member exists (a claim only when it does)."""
    j = int(np.argmax(~np.isfinite(losses)))
    bad_step = step + j
    names = [name for name, v in terms.items() if not np.isfinite(np.asarray(v)[j])]
    where = ""
    if run is not None:
        kept = (run.path / "checkpoint.npz").is_file()
        where = (f" (the last good checkpoint is kept in '{run.path}')" if kept
                 else f" (no checkpoint was written in '{run.path}')")
    raise TrainingError(
        f"loss became {losses[j]} at step {bad_step} (epoch {bad_step // per_epoch}); "
        f"non-finite term: {', '.join(names) or 'the total'}{where}",
        hint="lower the learning rate, bound the parameters that diverge, or check the data")
