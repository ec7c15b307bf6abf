"""PNG plots of a training run, like the seed tutorial's figures.

* ``loss.png``: training loss per step on a log scale;
* ``outputs.png`` (``outputs_<output>.png`` for several outputs): network output against
  target for each sample/class, one colour per channel with a legend (regression);
* ``accuracy.png``: per-epoch training and validation accuracy and the final test accuracy
  (classification);
* ``validation.png``: training and validation loss per epoch, the best epoch marked (runs
  with a validation set);
* ``spikes.png``: for spiking networks, a raster of each spiking layer and the membrane
  potential of its most active neurons on one test sample;
* ``param_<node>.<param>.png``: histograms of bounded parameters with their bounds drawn
  (e.g. the trained time constants of the seed's rate network and its 10 ms bound).

Training does not plot: the CLI passes :func:`write_plots` to ``fit`` as its ``on_end``
callback.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .epochs import EPOCHS_FILE
from .evaluate import evaluate_part, predict_all
from .run_dir import read_metrics, write_file

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


def _save(fig: Any, path: Path) -> None:
    """The figure laid out and written as a PNG like every run file (atomically, never
    through a link, a full disk named with the file), then closed to free its memory."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    _plt().close(fig)
    write_file(Path(path), buf.getvalue())


def _epoch_axes(ax: Any, ylabel: str, title: str) -> None:
    """Labels of a per-epoch plot: whole epochs on x, a small legend."""
    ax.set_xlabel("Epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=7)


def plot_loss(losses: np.ndarray, path: Path, steps: np.ndarray | None = None) -> None:
    """Training loss per step on a log scale (``loss.png``); ``steps`` places each value
    (past a run's log limit, one per chunk)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.plot(np.arange(len(losses)) if steps is None else steps, losses, lw=0.8)
    if np.all(losses[np.isfinite(losses)] > 0):
        ax.set_yscale("log")
    ax.set_xlabel("Iteration")
    ax.set_ylabel("Loss")
    ax.set_title("Training loss")
    _save(fig, path)


def plot_outputs(y: np.ndarray, targets: np.ndarray, path: Path, max_samples: int = 6,
                 name: str = "y") -> None:
    """Output against target, one panel per sample (class), one colour per channel: the
    output solid, its target dashed, in a legend (``outputs.png``)."""
    plt = _plt()
    n = min(len(y), max_samples)
    colours = plt.get_cmap("tab10" if y.shape[-1] <= 10 else "tab20")
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 3.2), squeeze=False)
    for i in range(n):
        ax = axes[0, i]
        for j in range(y.shape[-1]):
            c = colours(j % colours.N)
            ax.plot(y[i, :, j], "-", color=c, lw=1.2, label=f"{name}[{j}]")
            ax.plot(targets[i, :, j], "--", color=c, lw=1, label=f"target {name}[{j}]")
        ax.set_title(f"Sample {i}")
        ax.set_xlabel("Time (steps)")
        if i == 0:
            ax.set_ylabel("Value")
            ax.legend(fontsize=7, ncol=2 if y.shape[-1] > 4 else 1)
    _save(fig, path)


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
    _save(fig, path)


def plot_accuracy(epochs: Sequence[dict[str, Any]], test_acc: Mapping[str, float],
                  path: Path) -> None:
    """Accuracy per epoch (training and validation, one colour per output), with the final
    test accuracy as a dashed line (classification; ``accuracy.png``)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    keys = sorted({k for r in epochs for k in r if k.startswith(("accuracy", "val_accuracy"))})
    for i, key in enumerate(sorted({k.removeprefix("val_") for k in keys})):
        c = f"C{i}"
        for k, style, who in ((key, "o-", "train"), ("val_" + key, "s--", "validation")):
            pts = [(r["epoch"] + 1, r[k]) for r in epochs if k in r]
            if pts:
                ax.plot(*zip(*pts), style, color=c, ms=3, label=f"{who} {key}")
        if key in test_acc:
            ax.axhline(test_acc[key], color=c, ls=":", label=f"test {key} {test_acc[key]:.1%}")
    ax.set_ylim(0, 1.02)
    _epoch_axes(ax, "Accuracy", "Classification accuracy")
    _save(fig, path)


def plot_epochs(epochs: Sequence[dict[str, Any]], path: Path) -> None:
    """Training loss (mean over each epoch) and validation loss per epoch, the best epoch
    marked (``validation.png``)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for k, style, label in (("loss", "o-", "training (epoch mean)"),
                            ("val_loss", "s-", "validation")):
        pts = [(r["epoch"] + 1, r[k]) for r in epochs if isinstance(r.get(k), float)]
        if pts:
            ax.plot(*zip(*pts), style, ms=3, label=label)
    best = [r for r in epochs if r.get("best")]
    if best:
        ax.axvline(best[-1]["epoch"] + 1, color="g", ls=":", label="best")
    values = [r[k] for r in epochs for k in ("loss", "val_loss") if isinstance(r.get(k), float)]
    if values and all(v > 0 for v in values):
        ax.set_yscale("log")
    _epoch_axes(ax, "Loss", "Loss per epoch")
    _save(fig, path)


def plot_spikes(rec: Mapping[str, Mapping[str, np.ndarray]], path: Path, traces: int = 4
                ) -> None:
    """For each spiking layer: a raster of its spikes and the membrane potential of a few
    neurons (the most active first), on one sample (``spikes.png``)."""
    plt = _plt()
    layers = [n for n, st in rec.items() if "spikes" in st]
    fig, axes = plt.subplots(len(layers), 2, figsize=(11, 2.8 * len(layers)), squeeze=False)
    for row, node in enumerate(layers):
        spikes = np.asarray(rec[node]["spikes"])  # (T, N)
        t, n = np.nonzero(spikes)
        ax = axes[row, 0]
        ax.scatter(t, n, s=12, marker="|", color="k")
        ax.set_xlim(0, spikes.shape[0])
        ax.set_ylim(-0.5, spikes.shape[1] - 0.5)
        ax.set_title(f"{node}: spikes ({int(spikes.sum())} in {spikes.shape[0]} steps)")
        ax.set_xlabel("Time (steps)")
        ax.set_ylabel("Neuron")
        ax = axes[row, 1]
        if "vmem" in rec[node]:
            vmem = np.asarray(rec[node]["vmem"])
            pick = np.argsort(-spikes.sum(axis=0), kind="stable")[:traces]
            for i, j in enumerate(pick):
                ax.plot(vmem[:, j], color=f"C{i}", lw=1, label=f"neuron {j}")
            ax.legend(fontsize=7, loc="upper right")
        ax.set_title(f"{node}: membrane potential")
        ax.set_xlabel("Time (steps)")
    _save(fig, path)


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
    losses = np.array([float(m["loss"]) for m in metrics if "loss" in m], dtype=np.float64)
    if len(losses):
        plot_loss(losses, run_dir / "loss.png",
                  np.array([m["step"] for m in metrics if "loss" in m]))
        written.append(run_dir / "loss.png")
    epochs = read_metrics(run_dir / EPOCHS_FILE) if (run_dir / EPOCHS_FILE).exists() else []
    outs, ins = prog.outputs, prog.inputs
    targets = ds.output_arrays(outs)
    few = ds.take(np.arange(min(len(ds), 6)))
    y = predict_all(prog, params, few)
    for o, t in targets.items():
        if t.ndim == 3:  # regression: output against target
            path = run_dir / ("outputs.png" if len(outs) == 1 else f"outputs_{o}.png")
            plot_outputs(y[o], t[:6], path, name=o)
            written.append(path)
    if any(t.ndim == 1 for t in targets.values()):
        test_acc: dict[str, float] = {}
        if ds.test is not None:
            test_acc = {k: v for k, v in evaluate_part(prog, params, ds.test).items()
                        if k.startswith("accuracy")}
        if not epochs:  # no per-epoch rows: the final training accuracy as one point
            final = {k: v for k, v in evaluate_part(prog, params, ds).items()
                     if k.startswith("accuracy")}
            epochs_acc: list[dict[str, Any]] = [{"epoch": 0, **final}]
        else:
            epochs_acc = epochs
        plot_accuracy(epochs_acc, test_acc, run_dir / "accuracy.png")
        written.append(run_dir / "accuracy.png")
    if any("val_loss" in r for r in epochs):
        plot_epochs(epochs, run_dir / "validation.png")
        written.append(run_dir / "validation.png")
    sample = ds.test if ds.test is not None else ds
    x1 = {k: v[:1] for k, v in sample.input_arrays(ins).items()}
    _, _, rec = prog.evolve(params, x1, record=True)
    if any("spikes" in st for st in rec.values()):
        one = {n: {k: np.asarray(v)[0] for k, v in st.items()} for n, st in rec.items()}
        plot_spikes(one, run_dir / "spikes.png")
        written.append(run_dir / "spikes.png")
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
