"""PNG plots of a training run, like the seed tutorial's figures.

* ``loss.png``: training loss per step on a log scale;
* ``outputs.png``: network output against target for each sample/class (regression);
* ``accuracy.png``: per-epoch training accuracy and final test accuracy (classification);
* ``param_<node>.<param>.png``: histograms of bounded parameters with their bounds drawn
  (e.g. the trained time constants of the seed's rate network and its 10 ms bound).

Training does not plot: the CLI passes :func:`write_plots` to ``fit`` as its ``on_end``
callback.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .evaluate import predict
from .run_dir import read_metrics

if TYPE_CHECKING:
    from ..compile import Program
    from ..io.data import Dataset
    from .loop import FitResult

Tree = dict[str, dict[str, Any]]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: never needs a screen
    import matplotlib.pyplot as plt

    return plt


def plot_loss(losses: np.ndarray, path: Path) -> None:
    """Training loss per step on a log scale (``loss.png``)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.plot(np.arange(len(losses)), losses, lw=0.8)
    if np.all(losses[np.isfinite(losses)] > 0):
        ax.set_yscale("log")
    ax.set_xlabel("Iteration")
    ax.set_ylabel("Loss")
    ax.set_title("Training loss")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_outputs(y: np.ndarray, targets: np.ndarray, path: Path, max_samples: int = 6) -> None:
    """Output against target, one panel per class (``outputs.png``)."""
    plt = _plt()
    n = min(len(y), max_samples)
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 3.2), squeeze=False)
    for i in range(n):
        ax = axes[0, i]
        ax.plot(y[i], "k-", lw=1)
        ax.plot(targets[i], "--", lw=1)
        ax.set_title(f"Class {i}")
        ax.set_xlabel("Time (steps)")
        if i == 0:
            ax.set_ylabel("Value")
            ax.legend([f"Output $y_{j}$" for j in range(y.shape[-1])]
                      + [rf"Target $\hat{{y}}_{j}$" for j in range(y.shape[-1])], fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_param(values: np.ndarray, lower: float, upper: float, name: str, family: str,
               path: Path) -> None:
    """A trained parameter's values with its bounds drawn."""
    plt = _plt()
    scale, unit = (1e3, " (ms)") if family == "taus" else (1.0, "")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(np.ravel(values) * scale, 20)
    for b, label in ((lower, "lower bound"), (upper, "upper bound")):
        if math.isfinite(b):
            ax.axvline(b * scale, color="r", ls="--", label=label)
    ax.set_xlabel(f"{name}{unit}")
    ax.set_ylabel("Count")
    ax.set_title(f"Trained {name}")
    if math.isfinite(lower) or math.isfinite(upper):
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_accuracy(epochs: np.ndarray, acc: np.ndarray, test_acc: float | None,
                  path: Path) -> None:
    """Training and test accuracy over epochs (classification)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(epochs, acc, "o-", label="train")
    if test_acc is not None:
        ax.axhline(test_acc, color="g", ls="--", label=f"test {test_acc:.1%}")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Accuracy")
    ax.set_title("Classification accuracy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plots(prog: Program, result: FitResult) -> list[Path]:
    """The plots of a finished run, into its run directory (none without one); a callback
    for ``fit(..., on_end=write_plots)``.

    >>> rpgraph.fit(prog, out_dir="runs/a", on_end=write_plots)  # doctest: +SKIP
    """
    if result.run_dir is None or result.data is None or result.objective is None:
        return []
    obj = result.objective
    return plot_run(prog, result.params, result.data, result.run_dir, (obj.lower, obj.upper))


def plot_run(prog: Program, params: Tree, ds: Dataset, run_dir: Path,
             bounds: tuple[Tree, Tree] | None = None) -> list[Path]:
    """Write every plot that applies to this run; returns the files written.

    >>> plot_run(prog, result.params, ds, Path("runs/a"))  # doctest: +SKIP
    [PosixPath('runs/a/loss.png'), PosixPath('runs/a/outputs.png'), ...]
    """
    written: list[Path] = []
    metrics = read_metrics(run_dir / "metrics.jsonl")
    losses = np.array([float(m["loss"]) for m in metrics], dtype=np.float64)
    if len(losses):
        plot_loss(losses, run_dir / "loss.png")
        written.append(run_dir / "loss.png")
    if ds.kind == "regression":
        assert ds.targets is not None
        y = predict(prog, params, ds.inputs[:6])
        plot_outputs(y, ds.targets[:6], run_dir / "outputs.png")
        written.append(run_dir / "outputs.png")
    else:
        assert ds.labels is not None
        y = predict(prog, params, ds.inputs)
        acc = float(np.mean(y.sum(axis=1).argmax(-1) == ds.labels))
        test_acc = None
        if ds.test is not None and ds.test.labels is not None:
            yt = predict(prog, params, ds.test.inputs)
            test_acc = float(np.mean(yt.sum(axis=1).argmax(-1) == ds.test.labels))
        epochs = sorted({int(m["epoch"]) for m in metrics}) or [0]
        plot_accuracy(np.array([epochs[-1] + 1]), np.array([acc]), test_acc,
                      run_dir / "accuracy.png")
        written.append(run_dir / "accuracy.png")
    for d in prog.network.params():
        pid, lo, hi = d.id, d.lower, d.upper
        if bounds is not None:
            lo, hi = bounds[0][d.module][d.name], bounds[1][d.module][d.name]
        # per-element bounds are drawn by their extremes
        lo, hi = float(np.min(lo)), float(np.max(hi))
        if d.floor and lo == d.lower and not d.bound_spans and not math.isfinite(hi):
            continue  # only the default floor of a time constant: nothing the user chose
        if math.isfinite(lo) or math.isfinite(hi):
            path = run_dir / f"param_{pid}.png"
            plot_param(np.asarray(params[d.module][d.name]), lo, hi, pid, d.family,
                       path)
            written.append(path)
    return written
