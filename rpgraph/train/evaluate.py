"""Outputs and metrics of trained parameters: :func:`predict` and :func:`evaluate`."""

from __future__ import annotations

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


def predict(prog: Program, params: Tree, inputs: Array, batch: int = 256) -> np.ndarray:
    """Outputs for a whole ``(N, T, C)`` array, in batches. A short last batch is padded
    to the full batch size, so a data set costs one compilation, not two.

    >>> import rpgraph
    >>> prog = rpgraph.compile("network n { input x : 3\\n output y : 2\\n x -> linear(2) -> y }")
    >>> predict(prog, prog.init(0), np.ones((10, 5, 3), np.float32), batch=4).shape
    (10, 5, 2)
    """
    outs = []
    n = len(inputs)
    for i in range(0, n, batch):
        x = np.asarray(inputs[i:i + batch], np.float32)
        short = len(x)
        if n > batch and short < batch:
            x = np.concatenate([x, np.zeros((batch - short, *x.shape[1:]), np.float32)])
        y, _, _ = prog.evolve(params, jnp.asarray(x))
        outs.append(np.asarray(y)[:short])
    return np.concatenate(outs) if outs else np.zeros((0,))


def evaluate(prog: Program, params: Tree, ds: Dataset, *,
             objective: Objective | None = None) -> dict[str, float]:
    """Loss (of ``objective``, default the spec's), and accuracy for classification or mean
    squared error for regression; on the test split too.

    The network runs once per split (in batches); the loss is computed from those outputs,
    so evaluation compiles the network once rather than once per array shape.

    >>> import rpgraph
    >>> from rpgraph.io.data import sinusoids
    >>> prog = rpgraph.compile("specs/tutorial_mlp.rpg")
    >>> sorted(evaluate(prog, prog.init(0), sinusoids(classes=3)))
    ['loss', 'mse']
    """
    out: dict[str, float] = {}
    obj = objective if objective is not None else prog.objective
    name = prog.outputs[0]
    loss = jax.jit(lambda p, y, t: obj.loss({name: y}, t, p))
    if obj.records:  # the loss reads traces: run the network again with recording on
        def traced(p: Tree, x: Any, t: Any) -> Any:
            outs, _, rec = prog.run(p, {prog.inputs[0]: x}, None, True)
            return obj.loss(outs, t, p, rec)

        traced_loss = jax.jit(traced)
    for prefix, part in (("", ds), ("test_", ds.test)):
        if part is None:
            continue
        y = predict(prog, params, part.inputs)
        if part.kind == "classification":
            assert part.labels is not None
            pred = y.sum(axis=1).argmax(-1)
            out[prefix + "accuracy"] = float(np.mean(pred == part.labels))
            t = jnp.asarray(part.labels)
        else:
            assert part.targets is not None
            out[prefix + "mse"] = float(np.mean((y - part.targets) ** 2))
            t = jnp.asarray(part.targets)
        if obj.records:
            out[prefix + "loss"] = float(traced_loss(params, jnp.asarray(part.inputs,
                                                                     jnp.float32), t))
        else:
            out[prefix + "loss"] = float(loss(params, jnp.asarray(y), t))
    return out
