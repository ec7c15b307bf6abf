"""The training loop: chunks of fused steps, with checkpoints, metrics and progress between.

Chunk boundaries are absolute multiples of the chunk length, batches and noise keys are
functions of the absolute step, and checkpoints fall on chunk boundaries: a resumed run
replays the same programs on the same data as an uninterrupted one, so it ends bit for bit
where that one ends.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import SpecValueError, TrainingError
from ..io.checkpoint import spec_hash
from ..io.data import Dataset
from ..objective import Objective, make_objective
from .epochs import Epochs, epoch_chunk
from .evaluate import evaluate, evaluate_part, firing_rates
from .progress import Progress
from .run_dir import RunDir, nothing_to_resume
from .settings import Settings, resolve
from .step import freeze, indices, make_chunk, step_plan

if TYPE_CHECKING:
    from ..compile import Program

Array = Any
Tree = dict[str, dict[str, Array]]


@dataclass
class FitResult:
    """What :func:`fit` returns: final parameters and optimizer state, per-step losses (of
    this call: a resumed run's start from its checkpoint), the run directory (when one was
    written), final metrics, and the data and objective trained on."""

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
        out_dir: the run directory (none: nothing is written); ``resume`` continues it.
        chunk: steps per dispatch (default: about 1/50 of the run, at most 1000).
        devices: shard each minibatch over this many devices.
        progress: a progress bar (or plain lines) on stderr.
        callback: ``callback(step, params)`` after every chunk, with the number of steps
            done; the arrays are reused by the next chunk, so copy them to keep them.
        on_end: ``on_end(prog, result)`` once training and evaluation are done (the CLI
            writes its plots this way).
        validation, early_stopping, keep, tensorboard: override the train block's
            (a held-out fraction, a patience in epochs, ``"best"`` or ``"last"``, TensorBoard
            event files in the run directory); see :mod:`rpgraph.train.epochs`.
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
    chunk: int | None = None
    devices: int | None = None
    progress: bool = True
    callback: Callable[[int, Tree], None] | None = None
    on_end: Callable[[Program, FitResult], object] | None = None
    validation: float | None = None
    early_stopping: int | None = None
    keep: str | None = None
    tensorboard: bool | None = None


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
    o = replace(options or FitOptions(), **overrides)
    st = resolve(prog, data, epochs=o.epochs, optimizer=o.optimizer, batch_size=o.batch_size,
                 seed=o.seed, checkpoint_every=o.checkpoint_every,
                 allow_outside=o.allow_outside, validation=o.validation,
                 early_stopping=o.early_stopping, keep=o.keep, tensorboard=o.tensorboard)
    _check_counts(o)
    obj = prog.objective if o.bounds is None else make_objective(prog.network, o.bounds)
    per_epoch, total = step_plan(len(st.data), st.batch_size, st.epochs)
    k = o.chunk or max(1, min(1000, math.ceil(total / 50)))
    ck_every = st.checkpoint_every or k * 5
    ck_every = max(k, (ck_every // k) * k)  # checkpoints fall on chunk boundaries
    run = RunDir(Path(o.out_dir), spec_hash(prog.network.source), per_epoch) \
        if o.out_dir is not None else None
    watch = _epochs(prog, obj, st, run)
    if watch.active:  # per-epoch evaluation needs epochs to end on chunk boundaries
        k = epoch_chunk(k, per_epoch)
        ck_every = max(k, (ck_every // k) * k)
    params, opt_state, start = _initial(prog, o, st, obj, run, total)
    if run is not None:
        run.start(prog, st, obj, total, start)
    watch.start(start, per_epoch)

    run_chunk = make_chunk(prog, st.optimizer, objective=obj, devices=o.devices, seed=st.seed)
    inputs, targets = _device_data(prog, st.data)
    bar = Progress(total, per_epoch, o.progress, start)
    losses_all: list[np.ndarray] = []
    t0 = time.perf_counter()
    step = start
    try:
        while step < total and not watch.stopped:
            # chunk boundaries are absolute multiples of k (see the module docstring)
            end = min((step // k + 1) * k, total)
            idx = indices(step, end - step, len(st.data), st.batch_size, per_epoch, st.seed)
            try:
                params, opt_state, losses, terms = run_chunk(params, opt_state, inputs,
                                                             targets, jnp.asarray(idx), step)
            except jax.errors.JaxRuntimeError as err:
                raise _out_of_memory(err) from None
            losses = np.asarray(losses)
            if not np.all(np.isfinite(losses)):
                _non_finite(losses, terms, step, per_epoch, run)
            losses_all.append(losses)
            if run is not None:
                run.append(step, losses)
            watch.steps(step, losses)
            step = end
            if watch.active and step % per_epoch == 0:
                watch.end_epoch(step // per_epoch - 1, step, params)
            if run is not None and (step % ck_every == 0 or step == total or watch.stopped):
                run.checkpoint(params, opt_state, step, st, total)
            bar.update(step, float(losses[-1]) if len(losses) else float("nan"))
            if o.callback is not None:
                o.callback(step, params)
    finally:
        bar.close()
        watch.close()
    if watch.best_params is not None:  # keep = best
        params = jax.tree_util.tree_map(jnp.asarray, watch.best_params)
    result = FitResult(params, opt_state, np.concatenate(losses_all) if losses_all else
                       np.zeros(0, np.float32), step, run.path if run else None,
                       seconds=time.perf_counter() - t0, data=st.data, objective=obj,
                       epochs=watch.rows, validation=st.validation)
    _report(prog, st, result, run, watch)
    if o.on_end is not None:
        o.on_end(prog, result)
    return result


def _epochs(prog: Program, obj: Objective, st: Settings, run: RunDir | None) -> Epochs:
    """The run's per-epoch bookkeeping (validation, early stopping, best, TensorBoard)."""
    return Epochs(prog, obj, st.data, st.validation, st.early_stopping, st.keep,
                  run.path if run is not None else None, st.tensorboard,
                  run.spec_hash if run is not None else None)


def _check_counts(o: FitOptions) -> None:
    """``chunk`` and ``devices`` are whole numbers >= 1 (or unset)."""
    for name in ("chunk", "devices"):
        value = getattr(o, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise SpecValueError(f"Expected {name} to be an integer >= 1, got "
                                 f"{type(value).__name__} {value!r:.40}")


def _report(prog: Program, st: Settings, result: FitResult, run: RunDir | None,
            watch: Epochs) -> None:
    """Final metrics (training, validation, test parts) into ``result``; with a run
    directory, ``params.npz`` and ``summary.json`` (epochs, firing rates of spiking layers)."""
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
                        **extra})


def _device_data(prog: Program, ds: Dataset) -> tuple[Any, Any]:
    """The data on the device: an array per port (plain arrays for one input or output,
    else dicts by port name) for the chunk to gather batches from."""
    ins = {k: jnp.asarray(v, jnp.float32) for k, v in ds.input_arrays(prog.inputs).items()}
    outs = {k: jnp.asarray(v) for k, v in ds.output_arrays(prog.outputs).items()}
    return (ins[prog.inputs[0]] if len(prog.inputs) == 1 else ins,
            outs[prog.outputs[0]] if len(prog.outputs) == 1 else outs)


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
    return run.resume(params, opt_state, total)


def _out_of_memory(err: Exception) -> Exception:
    """XLA's out-of-memory as a :class:`TrainingError` (the estimate before training,
    :mod:`rpgraph.memory`, is approximate); any other runtime error unchanged."""
    if "RESOURCE_EXHAUSTED" not in str(err):
        return err
    first = str(err).splitlines()[0][:200]
    return TrainingError(f"the training program ran out of device memory ({first})",
                         hint="use a smaller batch_size, shorter data or a smaller network, "
                         "or compile with remat = N to recompute activations")


def _non_finite(losses: np.ndarray, terms: dict[str, Array], step: int, per_epoch: int,
                run: RunDir | None) -> None:
    j = int(np.argmax(~np.isfinite(losses)))
    bad_step = step + j
    names = [name for name, v in terms.items()
             if not np.isfinite(np.asarray(v)[j])]
    where = f" (last good checkpoint kept in '{run.path}')" if run is not None else ""
    raise TrainingError(
        f"loss became {losses[j]} at step {bad_step} (epoch {bad_step // per_epoch}); "
        f"non-finite term: {', '.join(names) or 'the total'}{where}",
        hint="lower the learning rate, bound the parameters that diverge, or check the data")
