"""Per-epoch bookkeeping of a training run: validation metrics, early stopping, the best
parameters (``keep = best``), ``epochs.jsonl`` and TensorBoard scalars.

The loop calls :meth:`Epochs.steps` after every chunk and :meth:`Epochs.end_epoch` on every
epoch boundary (chunks are cut so epochs end on chunk boundaries, see :func:`epoch_chunk`).
One ``epochs.jsonl`` line per epoch::

    {"epoch": 3, "step": 120, "loss": 0.41, "val_loss": 0.52, "val_accuracy": 0.81,
     "best": true}

``loss`` is the mean training loss of the epoch's steps; ``accuracy`` (classification) is
measured on the whole training set after the epoch; ``val_*`` on the validation set.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from ..errors import SpecError
from ..io.checkpoint import save_params
from ..io.data import Dataset
from ..objective import Objective
from ..train_config import tensorboard_available
from .evaluate import evaluate_part

if TYPE_CHECKING:
    from ..compile import Program
    from ..train_config import EarlyStopping

Tree = dict[str, dict[str, Any]]
EPOCHS_FILE = "epochs.jsonl"
BEST_FILE = "best.npz"
TENSORBOARD_DIR = "tensorboard"


def epoch_chunk(k: int, per_epoch: int) -> int:
    """A chunk length near ``k`` whose multiples include every epoch end, so per-epoch
    evaluation falls on chunk boundaries: one epoch per chunk when an epoch has at most
    1000 steps, else the largest divisor of the epoch of at least 50 (or the whole epoch).

    >>> epoch_chunk(300, 3), epoch_chunk(1000, 5000), epoch_chunk(1000, 1009)
    (3, 1000, 1009)
    """
    if per_epoch <= 1000:
        return per_epoch
    best = max((d for d in range(50, min(k, per_epoch) + 1) if per_epoch % d == 0),
               default=per_epoch)
    return best


def tensorboard_missing() -> SpecError:
    """The error for ``--tensorboard`` without the writer installed."""
    return SpecError("TensorBoard logging (tensorboard = true, --tensorboard) needs the "
                     "tensorboardX package",
                     hint="pip install 'rpgraph[tensorboard]' (or pip install tensorboardX)")


@dataclass
class Epochs:
    """The per-epoch state of one run; see the module docstring.

    >>> import rpgraph
    >>> from rpgraph.io.data import sinusoids
    >>> prog = rpgraph.compile("specs/tutorial_mlp.rpg")
    >>> ep = Epochs(prog, prog.objective, sinusoids(classes=3), sinusoids(classes=3, seed=1))
    >>> ep.end_epoch(0, 3, prog.init(0), np.array([1.0, 2.0, 3.0]))
    False
    >>> sorted(ep.rows[0])
    ['best', 'epoch', 'loss', 'step', 'val_loss', 'val_mse']
    """

    prog: Program
    objective: Objective
    train: Dataset
    validation: Dataset | None
    early_stopping: EarlyStopping | None = None
    keep: str = "last"
    path: Path | None = None
    tensorboard: bool = False
    spec_hash: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    best_loss: float = math.inf
    best_epoch: int | None = None
    best_params: Tree | None = None
    bad_epochs: int = 0
    stopped: bool = False
    _writer: Any = None
    _losses: list[np.ndarray] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """Whether epochs are evaluated at all (a validation set, or classification data
        whose accuracy is plotted per epoch)."""
        return self.validation is not None or self.train.kind == "classification" \
            or self.train.y is not None and any(v.ndim == 1 for v in self.train.y.values())

    def start(self, step: int, per_epoch: int) -> None:
        """Open ``epochs.jsonl`` (keeping, when resuming at ``step``, the epochs before it,
        the best so far and the early-stopping count) and the TensorBoard writer."""
        if self.path is None:
            if self.tensorboard:
                raise SpecError("TensorBoard logging writes into the run directory; "
                                "there is none", hint="pass out_dir (--out DIR)")
            return
        log = self.path / EPOCHS_FILE
        kept: list[dict[str, Any]] = []
        if step and log.exists():
            for line in log.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    if int(row["step"]) <= step:
                        kept.append(row)
                except (ValueError, KeyError, TypeError):
                    break
        for row in kept:
            self._track(row)
        if kept and self.keep == "best" and (self.path / BEST_FILE).exists():
            self.best_params = self.prog.load_params(self.path / BEST_FILE)
        self.rows = kept
        if self.active or log.exists():  # no empty file for a run without epochs
            log.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        if self.tensorboard:
            if not tensorboard_available():
                raise tensorboard_missing()
            from tensorboardX import SummaryWriter

            self._writer = SummaryWriter(logdir=str(self.path / TENSORBOARD_DIR),
                                         purge_step=step or None)

    def steps(self, start: int, losses: np.ndarray) -> None:
        """The losses of a chunk's steps (starting at ``start``): kept for the epoch's mean,
        and TensorBoard scalars ``train/loss``."""
        if self.active:  # cleared at each epoch's end; kept only when epochs end (flat memory)
            self._losses.append(np.asarray(losses))
        if self._writer is not None:
            for i, loss in enumerate(losses):
                self._writer.add_scalar("train/loss", float(loss), start + i)

    def end_epoch(self, epoch: int, step: int, params: Tree,
                  losses: np.ndarray | None = None) -> bool:
        """Evaluate after ``epoch`` (ending at ``step``; ``losses``: its steps' losses,
        default those given to :meth:`steps` since the last epoch); returns whether early
        stopping ends the run here."""
        if losses is None:
            losses = np.concatenate(self._losses) if self._losses else np.zeros(0)
        self._losses = []
        row: dict[str, Any] = {"epoch": epoch, "step": step}
        if len(losses):
            row["loss"] = float(np.mean(losses))
        if self.train.kind == "classification" or self.train.y is not None:
            part = evaluate_part(self.prog, params, self.train, objective=self.objective)
            row.update({k: v for k, v in part.items() if k.startswith("accuracy")})
        if self.validation is not None:
            val = evaluate_part(self.prog, params, self.validation, objective=self.objective)
            row.update({f"val_{k}": v for k, v in val.items()})
        if not all(np.all(np.isfinite(np.asarray(v)))
                   for v in jax.tree_util.tree_leaves(params)):
            row["params_finite"] = False  # never the best, whatever its loss says
        improved = self._track(row)
        if improved and self.keep == "best":
            self.best_params = jax.tree_util.tree_map(np.array, params)
            if self.path is not None:
                save_params(self.path / BEST_FILE, self.best_params, spec_hash=self.spec_hash)
        self.rows.append(row)
        if self.path is not None:
            with open(self.path / EPOCHS_FILE, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
        if self._writer is not None:
            for k, v in row.items():
                if k not in ("epoch", "step", "best", "stop") and isinstance(v, float):
                    self._writer.add_scalar(f"epoch/{k}", v, epoch + 1)
            self._writer.flush()
        return self.stopped

    def _track(self, row: dict[str, Any]) -> bool:
        """Update the best epoch and the early-stopping count from one row (also when
        replaying a resumed run's rows); marks the row ``best`` and ``stop``."""
        val = row.get("val_loss")
        if not isinstance(val, (int, float)) or not math.isfinite(val) \
                or row.get("params_finite") is False:
            return False
        delta = self.early_stopping.min_delta if self.early_stopping is not None else 0.0
        improved = val < self.best_loss - delta or self.best_epoch is None
        if improved:
            self.best_loss, self.best_epoch, self.bad_epochs = float(val), int(row["epoch"]), 0
        else:
            self.bad_epochs += 1
        row["best"] = improved
        if self.early_stopping is not None and self.bad_epochs >= self.early_stopping.patience:
            self.stopped = True
            row["stop"] = True
        return improved

    def summary(self) -> dict[str, Any]:
        """What ``summary.json`` records of the epochs."""
        out: dict[str, Any] = {"epochs_run": len(self.rows)}
        if self.best_epoch is not None:
            out["best_epoch"] = self.best_epoch
            out["best_val_loss"] = self.best_loss
        if self.stopped:
            out["stopped_early"] = True
        out["kept"] = "best" if self.keep == "best" and self.best_params is not None \
            else "last"
        return out

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
