"""Outputs and metrics of trained parameters: :func:`predict`, :func:`evaluate` (and
:func:`evaluate_part` for one split), :func:`firing_rates` of spiking layers."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from ..io.data import Dataset
from ..objective import Objective

if TYPE_CHECKING:
    from ..compile import Program

Array = Any
Tree = dict[str, dict[str, Array]]


def _batches(inputs: Mapping[str, np.ndarray], batch: int
             ) -> list[tuple[dict[str, np.ndarray], int]]:
    """``inputs`` cut into batches of ``batch`` samples; a short last batch is padded to the
    full size (when there is more than one), so a data set costs one compilation, not two."""
    n = len(next(iter(inputs.values())))
    out = []
    for i in range(0, n, batch):
        part = {k: np.asarray(v[i:i + batch], np.float32) for k, v in inputs.items()}
        short = len(next(iter(part.values())))
        if n > batch and short < batch:
            part = {k: np.concatenate([v, np.zeros((batch - short, *v.shape[1:]), np.float32)])
                    for k, v in part.items()}
        out.append((part, short))
    return out


def predict(prog: Program, params: Tree, inputs: Array, batch: int = 256) -> Any:
    """Outputs for a whole ``(N, T, C)`` array (or a dict of them by input name), in
    batches: an array for a network with one output, else a dict by output name.

    >>> import rpgraph
    >>> prog = rpgraph.compile("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }")
    >>> predict(prog, prog.init(0), np.ones((10, 5, 3), np.float32), batch=4).shape
    (10, 5, 2)
    """
    xs = inputs if isinstance(inputs, Mapping) else {prog.inputs[0]: inputs}
    outs: dict[str, list[np.ndarray]] = {o: [] for o in prog.outputs}
    for x, short in _batches(xs, batch):
        y, _, _ = prog.evolve(params, {k: jnp.asarray(v) for k, v in x.items()})
        ys = y if isinstance(y, Mapping) else {prog.outputs[0]: y}
        for o in prog.outputs:
            outs[o].append(np.asarray(ys[o])[:short])
    joined = {o: np.concatenate(v) if v else np.zeros((0,)) for o, v in outs.items()}
    return joined[prog.outputs[0]] if len(prog.outputs) == 1 else joined


def predict_all(prog: Program, params: Tree, ds: Dataset) -> dict[str, np.ndarray]:
    """Outputs by output name for a data set (any number of ports)."""
    y = predict(prog, params, ds.input_arrays(prog.inputs))
    return dict(y) if isinstance(y, Mapping) else {prog.outputs[0]: y}


def class_predictions(y: np.ndarray) -> np.ndarray:
    """Predicted classes of ``(N, T, C)`` outputs: the channel with the largest sum over
    time (the logits the cross-entropy loss reads are their mean).

    >>> class_predictions(np.array([[[0.0, 1.0], [0.0, 1.0]]])).tolist()
    [1]
    """
    return y.sum(axis=1).argmax(-1)


def evaluate_part(prog: Program, params: Tree, part: Dataset, *,
                  objective: Objective | None = None) -> dict[str, float]:
    """Loss, and per output accuracy (labels) or mean squared error (targets), of one split.
    A network with several outputs names them ``accuracy_<output>``/``mse_<output>``.

    >>> import rpgraph
    >>> from rpgraph.io.data import sinusoids
    >>> prog = rpgraph.compile("specs/tutorial_mlp.rpg")
    >>> sorted(evaluate_part(prog, prog.init(0), sinusoids(classes=3)))
    ['loss', 'mse']
    """
    loss_fn = (objective if objective is not None else prog.objective).loss
    ys = predict_all(prog, params, part)
    ts = part.output_arrays(prog.outputs)
    out: dict[str, float] = {}
    single = len(prog.outputs) == 1
    for o, t in ts.items():
        suffix = "" if single else f"_{o}"
        if t.ndim == 1:
            out["accuracy" + suffix] = float(np.mean(class_predictions(ys[o]) == t))
        else:
            out["mse" + suffix] = float(np.mean((ys[o] - t) ** 2))
    target: Any = (jnp.asarray(ts[prog.outputs[0]]) if single
                   else {o: jnp.asarray(t) for o, t in ts.items()})
    outs = {o: jnp.asarray(v) for o, v in ys.items()}
    out["loss"] = float(_jit_loss(loss_fn)(params, outs, target))
    return out


@functools.lru_cache(maxsize=16)
def _jit_loss(loss_fn: Callable[..., Any]) -> Callable[..., Any]:
    # one jitted loss per objective: evaluating every epoch must not recompile it each time
    return jax.jit(lambda p, y, t: loss_fn(y, t, p))


def evaluate(prog: Program, params: Tree, ds: Dataset, *,
             objective: Objective | None = None) -> dict[str, float]:
    """Loss (of ``objective``, default the spec's), and accuracy for classification or mean
    squared error for regression; on the test split too (``test_`` in front).

    The network runs once per split (in batches); the loss is computed from those outputs,
    so evaluation compiles the network once rather than once per array shape.

    >>> import rpgraph
    >>> from rpgraph.io.data import sinusoids
    >>> prog = rpgraph.compile("specs/tutorial_mlp.rpg")
    >>> sorted(evaluate(prog, prog.init(0), sinusoids(classes=3)))
    ['loss', 'mse']
    """
    out: dict[str, float] = {}
    for prefix, part in (("", ds), ("test_", ds.test)):
        if part is None:
            continue
        metrics = evaluate_part(prog, params, part, objective=objective)
        # the historical order: the metric first, then the loss
        for k in sorted(metrics, key=lambda k: k == "loss"):
            out[prefix + k] = metrics[k]
    return out


def firing_rates(prog: Program, params: Tree, ds: Dataset, samples: int = 32
                 ) -> dict[str, dict[str, float]]:
    """Spiking statistics of every layer that records ``spikes``, over the first ``samples``
    samples: mean spikes per neuron per step (``mean``), the most active neuron's rate
    (``max``), and the fraction of neurons that never fire (``silent``).

    >>> import rpgraph
    >>> from rpgraph.io.data import sinusoids
    >>> prog = rpgraph.compile("network n { input x : 3\\n output y : 2\\n "
    ...                        "x -> linear(4) -> h: lif(4) -> linear(2) -> y }")
    >>> sorted(firing_rates(prog, prog.init(0), sinusoids(classes=2, channels_in=3))["h"])
    ['max', 'mean', 'silent']
    """
    x = {k: jnp.asarray(v[:samples], jnp.float32) for k, v in
         ds.input_arrays(prog.inputs).items()}
    _, _, rec = prog.evolve(params, x, record=True)
    out: dict[str, dict[str, float]] = {}
    for node, states in rec.items():
        if "spikes" not in states:
            continue
        s = np.asarray(states["spikes"], np.float64)  # (B, T, N)
        per_neuron = s.reshape(-1, s.shape[-1]).mean(axis=0)
        out[node] = {"mean": float(per_neuron.mean()), "max": float(per_neuron.max()),
                     "silent": float(np.mean(per_neuron == 0))}
    return out
