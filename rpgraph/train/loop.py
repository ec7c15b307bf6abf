"""The training loop: chunks of fused steps, with checkpoints, metrics and progress between.

Chunk boundaries are absolute multiples of the chunk length, batches and noise keys are
functions of the absolute step, and checkpoints fall on chunk boundaries: a resumed run
replays the same programs on the same data as an uninterrupted one, so it ends bit for bit
where that one ends.
"""

from __future__ import annotations

import math
import time
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import SpecValueError, TrainingError, did_you_mean
from ..io.data import Dataset
from ..objective import LossFn, Objective, make_objective
from .epochs import Epochs, epoch_chunk
from .evaluate import evaluate, evaluate_part, firing_rates
from .feed import Feed, device_budget
from .progress import Progress
from .run_dir import (
    LOG_LIMIT,
    RunDir,
    canonical_hash,
    log_split,
    nothing_to_resume,
    run_identity,
)
from .settings import Settings, resolve
from .step import freeze, indices, make_chunk, step_plan

if TYPE_CHECKING:
    from ..compile import Program

Array = Any
Tree = dict[str, dict[str, Array]]


@dataclass
class FitResult:
    """What :func:`fit` returns: final parameters and optimizer state, per-step losses (of
    this call: a resumed run's start from its checkpoint, step ``start``; past the
    ``log_limit``-th step one mean loss per chunk, and ``loss_steps`` gives the first step
    of each entry), the run directory (when one was written), final metrics, and the data
    and objective trained on. ``steps`` is the run's length, ``steps - start`` the steps
    this call trained."""

    params: Tree
    opt_state: Any
    losses: np.ndarray
    steps: int
    run_dir: Path | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    data: Dataset | None = None
    objective: Objective | None = None
    epochs: list[dict[str, Any]] = field(default_factory=list)  # the epochs.jsonl rows
    validation: Dataset | None = None
    start: int = 0
    loss_steps: np.ndarray | None = None


@dataclass(frozen=True)
class FitOptions:
    """How :func:`fit` trains. ``None`` settings come from the spec's ``train { }`` block.

    Attributes:
        epochs, optimizer, batch_size, seed, checkpoint_every: override the train block
            (``optimizer``: text such as ``"adam(lr = 1e-3)"`` or an optax transformation).
        allow_outside: let data files named by the spec lie outside its folder.
        params: initial parameters (default: ``prog.init(seed)``).
        bounds: a ``(lower, upper)`` template (e.g. an edited ``rpgraph bounds --format
            json``) replacing the spec's bounds for projection and the loss's bounds terms.
        out_dir: the run directory (none: nothing is written); ``resume`` continues it,
            if it was started with the same spec, seed, data, optimizer, batch size and
            bounds (more epochs extend it). ``force`` resumes despite differences, or
            starts a run over in a folder that holds one.
        log_limit: steps logged one ``metrics.jsonl`` line (and one ``losses`` entry)
            each; later steps get one per chunk, so a long run's log stays small.
        chunk: steps per dispatch (default: about 1/50 of the run, at most 1000).
        devices: shard each minibatch over this many devices. In a multi-process run
            (:mod:`.distributed`) the default is every process's devices, and only
            process 0 writes (``out_dir``, ``progress``, ``on_end``).
        progress: a progress bar (or plain lines) on stderr.
        callback: ``callback(step, params)`` after every chunk, with the number of steps
            done; the arrays are reused by the next chunk, so copy them to keep them.
        on_end: ``on_end(prog, result)`` once training and evaluation are done (the CLI
            writes its plots this way).
        validation, early_stopping, keep, tensorboard: override the train block's
            (a held-out fraction, a patience in epochs, ``"best"`` or ``"last"``, TensorBoard
            event files in the run directory); see :mod:`rpgraph.train.epochs`.
        loss: a Python loss ``fn(outputs, target, params, records) -> scalar`` replacing
            the spec's loss expression (``outputs`` by output name, ``records`` by node:
            ``records["h"]["vmem"]``, ``records["h"]["output"]``); every bounded parameter
            is then projected (a Python loss holds no bounds term).
        device_data: bytes of training data kept on the device; a larger data set stays in
            host memory and each chunk's batches are sent as it runs (same results, see
            :mod:`rpgraph.train.feed`). Default: ``RPGRAPH_DEVICE_DATA``, else half the
            accelerator's memory (no limit on CPU).
    """

    epochs: int | None = None
    optimizer: Any = None
    batch_size: int | None = None
    seed: int | None = None
    checkpoint_every: int | None = None
    allow_outside: bool = False
    params: Tree | None = None
    bounds: tuple[Tree, Tree] | None = None
    out_dir: str | Path | None = None
    resume: bool = False
    force: bool = False
    log_limit: int = LOG_LIMIT
    chunk: int | None = None
    devices: int | None = None
    progress: bool = True
    callback: Callable[[int, Tree], None] | None = None
    on_end: Callable[[Program, FitResult], object] | None = None
    validation: float | None = None
    early_stopping: int | None = None
    keep: str | None = None
    tensorboard: bool | None = None
    loss: LossFn | None = None
    device_data: int | None = None

    def with_overrides(self, overrides: Mapping[str, Any]) -> FitOptions:
        """These options with some fields replaced by name (``fit``'s keyword arguments);
        an unknown name is a ``TypeError`` that names the closest field.

        >>> FitOptions().with_overrides({"epochs": 3}).epochs
        3
        """
        names = [f.name for f in fields(self)]
        for key in overrides:
            if key not in names:
                hint = did_you_mean(key, names)
                raise TypeError(f"unknown training option {key!r}" +
                                (f"; {hint}" if hint else f"; options: {', '.join(names)}"))
        return replace(self, **overrides)


def fit(prog: Program, data: Any = None, *, options: FitOptions | None = None,
        **overrides: Any) -> FitResult:
    """Train ``prog`` on ``data`` (a spec expression such as ``"sinusoids(classes = 3)"``, a
    ``.npz`` path, a :class:`~rpgraph.io.data.Dataset` or any sequence of ``(input, target)``
    samples; default: the train block's). ``options`` (a :class:`FitOptions`) with
    ``overrides`` (its fields by name) replacing some; the train block supplies the rest.

    >>> import rpgraph
    >>> prog = rpgraph.compile("specs/tutorial_mlp.rpg")
    >>> result = rpgraph.fit(prog, epochs=10, progress=False)  # doctest: +SKIP
    >>> result.losses.shape  # doctest: +SKIP
    (30,)
    """
    o = _processes((options or FitOptions()).with_overrides(overrides))
    st = resolve(prog, data, epochs=o.epochs, optimizer=o.optimizer, batch_size=o.batch_size,
                 seed=o.seed, checkpoint_every=o.checkpoint_every,
                 allow_outside=o.allow_outside, validation=o.validation,
                 early_stopping=o.early_stopping, keep=o.keep, tensorboard=o.tensorboard)
    _check_counts(o)
    obj = prog.objective if o.bounds is None and o.loss is None else \
        make_objective(prog.network, o.bounds, loss=o.loss)
    if o.log_limit < 0:
        raise SpecValueError(f"Expected log_limit >= 0, got {o.log_limit}")
    per_epoch, total = step_plan(len(st.data), st.batch_size, st.epochs)
    run = RunDir(Path(o.out_dir), canonical_hash(prog), per_epoch,
                 run_identity(prog, st, obj), o.log_limit) if o.out_dir is not None else None
    if run is not None:
        run.open(resume=o.resume, force=o.force)
    try:
        watch = _epochs(prog, obj, st, run)
        boundary, ck_every, k = chunk_boundaries(o.chunk, st.checkpoint_every, per_epoch,
                                                 total, watch.active)
        return _train(prog, o, st, obj, run, watch, per_epoch, total, boundary, ck_every, k)
    finally:
        if run is not None:
            run.close()


def chunk_boundaries(chunk: int | None, checkpoint_every: int | None, per_epoch: int,
                     total: int, epochs: bool) -> tuple[Callable[[int], int], int, int]:
    """``(boundary, ck_every, k)``: ``boundary(step)`` is where the chunk from ``step``
    ends. Chunks end on absolute multiples of the chunk length ``k`` (every chunk is padded
    to ``k`` rows: one compiled program), of ``ck_every`` and, when ``epochs`` are evaluated,
    of the epoch (see the module docstring), so checkpoints fall exactly every ``ck_every``
    steps and every epoch ends on a chunk boundary.

    >>> boundary, ck_every, k = chunk_boundaries(None, 4, 3, 10, True)
    >>> [boundary(s) for s in (0, 3, 4, 6, 9)], ck_every, k
    ([3, 4, 6, 8, 10], 4, 3)
    """
    k = chunk or max(1, min(1000, math.ceil(total / 50)))
    if epochs:  # per-epoch evaluation needs epochs to end on chunk boundaries
        k = epoch_chunk(k, per_epoch)
    ck_every = checkpoint_every or k * 5
    epoch = per_epoch if epochs else total

    def boundary(step: int) -> int:
        return min((step // k + 1) * k, (step // ck_every + 1) * ck_every,
                   (step // epoch + 1) * epoch, total)

    return boundary, ck_every, k


def _train(prog: Program, o: FitOptions, st: Settings, obj: Objective, run: RunDir | None,
           watch: Epochs, per_epoch: int, total: int, boundary: Callable[[int], int],
           ck_every: int, width: int) -> FitResult:
    params, opt_state, start = _initial(prog, o, st, obj, run, total)
    if run is not None:
        run.start(prog, st, obj, total, start)
    watch.start(start, per_epoch)

    run_chunk = make_chunk(prog, st.optimizer, objective=obj, devices=o.devices, seed=st.seed)
    feed = Feed(prog, st.data, budget=device_budget(o.device_data))

    def chunk(params: Tree, opt_state: Any, step: int, end: int) -> Any:
        # every chunk is padded to `width` rows, so the run compiles one program
        idx = _chunk_indices(st, step, end, width, per_epoch)
        params, opt_state, losses, terms = feed.run(run_chunk, params, opt_state, idx, step,
                                                    end - step)
        cut = lambda a: a[:end - step]  # noqa: E731  (the padding rows' values are not steps)
        return params, opt_state, cut(losses), jax.tree_util.tree_map(cut, terms)

    bar = Progress(total, per_epoch, o.progress, start)
    # compact growable buffers: a long run's memory stays flat (see log_limit)
    losses_all, loss_steps = array("f"), array("q")
    anchor = (start, _copy(params), _copy(opt_state))  # where a failure is replayed from
    t0 = time.perf_counter()
    step = start
    try:
        while step < total and not watch.stopped:
            end = boundary(step)
            try:
                params, opt_state, losses, terms = chunk(params, opt_state, step, end)
            except jax.errors.JaxRuntimeError as err:
                raise _out_of_memory(err) from None
            losses = np.asarray(losses)
            if not np.all(np.isfinite(losses)) or not bool(_all_finite((params, opt_state))):
                raise _failure(prog, obj, chunk, boundary, anchor, step, end, per_epoch,
                               losses, terms, run)
            each, rest = log_split(step, losses, o.log_limit)
            losses_all.extend(each.astype(np.float32).tolist())
            loss_steps.extend(range(step, step + len(each)))
            if len(rest):
                losses_all.append(float(np.mean(rest, dtype=np.float64)))
                loss_steps.append(step + len(each))
            if run is not None:
                run.append(step, losses)
            watch.steps(step, losses)
            step = end
            if watch.active and step % per_epoch == 0:
                watch.end_epoch(step // per_epoch - 1, step, params)
            if step % ck_every == 0 or step == total or watch.stopped:
                if run is not None:
                    run.checkpoint(params, opt_state, step, st, total)
                anchor = (step, _copy(params), _copy(opt_state))
            bar.update(step, float(losses[-1]) if len(losses) else float("nan"))
            if o.callback is not None:
                o.callback(step, params)
    finally:
        bar.close()
        watch.close()
    if jax.process_count() > 1:
        # the replicated global arrays as this process's own: evaluation, plots and the
        # caller's computations then run locally, without the other processes
        params, opt_state = _local(params), _local(opt_state)
    if watch.best_params is not None:  # keep = best
        params = jax.tree_util.tree_map(jnp.asarray, watch.best_params)
    result = FitResult(params, opt_state, np.asarray(losses_all, np.float32), step,
                       run.path if run else None, seconds=time.perf_counter() - t0,
                       data=st.data, objective=obj, epochs=watch.rows,
                       validation=st.validation, start=start,
                       loss_steps=np.asarray(loss_steps, np.int64))
    _report(prog, st, result, run, watch)
    if o.on_end is not None:
        o.on_end(prog, result)
    return result


def _epochs(prog: Program, obj: Objective, st: Settings, run: RunDir | None) -> Epochs:
    """The run's per-epoch bookkeeping (validation, early stopping, best, TensorBoard)."""
    return Epochs(prog, obj, st.data, st.validation, st.early_stopping, st.keep,
                  run.path if run is not None else None, st.tensorboard,
                  run.spec_hash if run is not None else None)


def _processes(o: FitOptions) -> FitOptions:
    """``o`` for this process of a multi-process run (see :mod:`.distributed`): the
    minibatch sharded over every process's devices, and only process 0 writing (run folder,
    progress, ``on_end``). A single process gets ``o`` unchanged."""
    if jax.process_count() == 1:
        return o
    if o.resume:
        raise SpecValueError("--resume does not work with several processes yet",
                             hint="continue the run in one process")
    o = replace(o, devices=o.devices or jax.device_count())
    if jax.process_index() != 0:
        o = replace(o, out_dir=None, progress=False, on_end=None)
    return o


def _local(tree: Any) -> Any:
    """Replicated global arrays as arrays of this process (a host copy: no collective)."""
    return jax.tree_util.tree_map(lambda a: jnp.asarray(np.asarray(a)), tree)


def _check_counts(o: FitOptions) -> None:
    """``chunk`` and ``devices`` are whole numbers >= 1 (or unset)."""
    for name in ("chunk", "devices"):
        value = getattr(o, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise SpecValueError(f"Expected {name} to be an integer >= 1, got "
                                 f"{type(value).__name__} {value!r:.40}")


def _report(prog: Program, st: Settings, result: FitResult, run: RunDir | None,
            watch: Epochs, summary: Mapping[str, Any] | None = None) -> None:
    """Final metrics (training, validation, test parts) into ``result``; with a run
    directory, ``params.npz`` and ``summary.json`` (epochs, firing rates of spiking layers,
    and ``summary``'s entries)."""
    obj, params = result.objective, result.params
    result.metrics = evaluate(prog, params, st.data, objective=obj)
    if st.validation is not None and st.validation is not st.data.test:
        result.metrics.update({f"val_{k}": v for k, v in
                               evaluate_part(prog, params, st.validation, objective=obj).items()})
    if run is None:
        return
    extra: dict[str, Any] = dict(watch.summary()) if watch.active else {}
    rates = firing_rates(prog, params, st.data)
    if rates:
        extra["firing_rates"] = rates
    run.finish(params, {"steps": result.steps, "seconds": result.seconds, **result.metrics,
                        **extra, **(summary or {})})


def _initial(prog: Program, o: FitOptions, st: Settings, obj: Objective, run: RunDir | None,
             total: int) -> tuple[Tree, Any, int]:
    """``(params, opt_state, first step)``: fresh (or given) parameters and a fresh optimizer
    state, or, when resuming, the run's checkpoint restored against them."""
    params0 = o.params if o.params is not None else prog.init(st.seed)
    prog.check_params(params0)
    params = jax.tree_util.tree_map(lambda a: jnp.array(a, jnp.float32), params0)
    opt_state = freeze(st.optimizer, obj.frozen).init(params)
    if not o.resume:
        return params, opt_state, 0
    if run is None:
        raise nothing_to_resume(None)
    return run.resume(params, opt_state, total, force=o.force)


def _chunk_indices(st: Settings, step: int, end: int, k: int, per_epoch: int) -> np.ndarray:
    """The sample indices of steps ``step .. end``, padded to ``k`` rows."""
    return _padded(indices(step, end - step, len(st.data), st.batch_size, per_epoch, st.seed),
                   k)


def _padded(idx: np.ndarray, k: int) -> np.ndarray:
    """``idx`` with rows of sample 0 appended up to ``k`` rows: every chunk, the last and
    a resumed run's first included, then has one shape, so the run compiles one program
    (the padding rows are never run, see :func:`~.step.make_chunk`)."""
    if len(idx) == k:
        return idx
    return np.concatenate([idx, np.zeros((k - len(idx), *idx.shape[1:]), idx.dtype)])


def _out_of_memory(err: Exception) -> Exception:
    """XLA's out-of-memory as a :class:`TrainingError` (the estimate before training,
    :mod:`rpgraph.memory`, is approximate); any other runtime error unchanged."""
    if "RESOURCE_EXHAUSTED" not in str(err):
        return err
    first = str(err).splitlines()[0][:200]
    return TrainingError(f"the training program ran out of device memory ({first})",
                         hint="use a smaller batch_size, shorter data or a smaller network, "
                         "or compile with remat = N to recompute activations")


# --- non-finite values -------------------------------------------------------------------------


def _copy(tree: Any) -> Any:
    # the chunk donates its inputs: a replay needs its own buffers
    return jax.tree_util.tree_map(lambda x: x.copy(), tree)


@jax.jit
def _all_finite(tree: Any) -> Array:
    """Whether every float leaf of ``tree`` (parameters and optimizer state) is finite."""
    oks = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)
           if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.stack(oks)) if oks else jnp.bool_(True)


def _bad_leaves(tree: Any, prefix: str) -> list[str]:
    """``"hidden.tau (3 of 20 values)"`` for each leaf holding NaN or inf."""
    out = []
    for path, x in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if not jnp.issubdtype(x.dtype, jnp.inexact):
            continue
        a = np.asarray(x)
        bad = int(a.size - np.count_nonzero(np.isfinite(a)))
        if bad:
            keys = [getattr(p, "key", None) for p in path]
            name = ".".join(str(q) for q in keys) if prefix == "params" and all(
                isinstance(q, str) for q in keys) else f"{prefix}{jax.tree_util.keystr(path)}"
            out.append(f"{name} ({bad} of {a.size} values)")
    return out


def _suspects(prog: Program, obj: Objective, params: Tree) -> str:
    """What is wrong with the parameters a non-finite step started from: non-finite
    values, time constants at or below zero (with their bound), else the largest value."""
    bad = _bad_leaves(params, "params")
    if bad:
        return "non-finite parameters: " + ", ".join(bad)
    taus, largest = [], ("", 0.0)
    for d in prog.network.params():
        a = np.asarray(params[d.module][d.name], np.float64)
        if not a.size:
            continue
        if d.family == "taus" and a.min() <= 0:
            lo = float(np.min(np.asarray(obj.lower[d.module][d.name])))
            taus.append(f"{d.id} = {a.min():.5g} "
                        + ("(no lower bound)" if lo == -math.inf else f"(lower bound {lo:g})"))
        peak = float(np.max(np.abs(a)))
        if peak >= largest[1]:
            largest = (d.id, float(a.flat[int(np.argmax(np.abs(a)))]))
    if taus:
        return "time constants at or below zero: " + ", ".join(taus)
    return f"largest parameter: {largest[0]} = {largest[1]:.5g}" if largest[0] else ""


def _failure(prog: Program, obj: Objective, chunk: Callable[..., Any],
             boundary: Callable[[int], int], anchor: tuple[int, Tree, Any], step: int,
             end: int, per_epoch: int, losses: np.ndarray, terms: dict[str, Array],
             run: RunDir | None) -> TrainingError:
    """The error for a chunk (``step .. end``) that produced a non-finite loss or state:
    replayed from the last checkpoint (``anchor``) step by step through the failing chunk,
    it names the first step that went wrong, the loss term, and the parameters it started
    from; and what is left to resume from."""
    at, params, opt_state = anchor[0], _copy(anchor[1]), _copy(anchor[2])
    while at < step:  # to the failing chunk, with the same boundaries as the run
        nxt = boundary(at)
        params, opt_state, _, _ = chunk(params, opt_state, at, nxt)
        at = nxt
    found = None
    while at < end:
        before = jax.tree_util.tree_map(np.array, params)  # a copy: params are donated
        params, opt_state, one, one_terms = chunk(params, opt_state, at, at + 1)
        if not np.isfinite(np.asarray(one)[0]) or not bool(_all_finite((params, opt_state))):
            found = (at, float(np.asarray(one)[0]), before, one_terms)
            break
        at += 1
    kept = run.kept() if run is not None else ""
    hint = "lower the learning rate, bound the parameters that diverge, or check the data"
    if found is None:  # not reproduced (should not happen): report what the chunk saw
        j = int(np.argmax(~np.isfinite(losses)))
        names = [n for n, v in terms.items() if not np.isfinite(np.asarray(v)[j])]
        return TrainingError(
            f"loss became {losses[j]} at step {step + j} (epoch {(step + j) // per_epoch}); "
            f"non-finite term: {', '.join(names) or 'the total'}" + (f"; {kept}" if kept
                                                                       else ""), hint=hint)
    bad_step, loss, before, one_terms = found
    where = f"at step {bad_step} (epoch {bad_step // per_epoch})"
    if not math.isfinite(loss):
        names = [n for n, v in one_terms.items() if not np.isfinite(np.asarray(v)[0])]
        what = f"loss became {loss} {where}; non-finite term: {', '.join(names) or 'the total'}"
    else:
        made = _bad_leaves(params, "params") + _bad_leaves(opt_state, "opt_state")
        what = (f"the update {where} made {', '.join(made[:3])}"
                + (f" and {len(made) - 3} more" if len(made) > 3 else "")
                + f" non-finite (loss {loss:.4g})")
    parts = [what, _suspects(prog, obj, before), kept]
    return TrainingError("; ".join(p for p in parts if p), hint=hint)
