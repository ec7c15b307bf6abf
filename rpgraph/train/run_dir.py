"""The run directory of a training run.

``spec.rpg``, ``bounds.json`` and ``config.json`` describe the run; ``metrics.jsonl`` gets
one line per step, appended chunk by chunk (a resumed run first drops the lines after its
checkpoint); ``checkpoint.npz`` is rewritten atomically on chunk boundaries; ``params.npz``
and ``summary.json`` are written at the end.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from ..bounds import to_json
from ..checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint, save_params
from ..errors import TrainingError

if TYPE_CHECKING:
    from ..compile import Program
    from ._objective import Objective
    from .settings import Settings

Tree = dict[str, dict[str, Any]]


def default_run_dir(prog: Program) -> Path:
    """``runs/<spec file stem>-<date>-<time>`` under the current directory."""
    stem = Path(prog.network.filename).stem if prog.network.filename != "<string>" else \
        prog.name
    return Path("runs") / f"{stem}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


@dataclass(frozen=True)
class RunDir:
    """An open run directory (see the module docstring for its files).

    >>> run = RunDir(Path("runs/a"), spec_hash="...", per_epoch=3)  # doctest: +SKIP
    >>> run.append(0, np.array([0.5, 0.4]))  # doctest: +SKIP
    """

    path: Path
    spec_hash: str
    per_epoch: int

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    def resume(self, params: Tree, opt_state: Any, total: int) -> tuple[Tree, Any, int]:
        """``(params, opt_state, step)`` of the run's checkpoint, restored against the given
        templates; the run must be of this spec and of ``total`` steps."""
        if latest_checkpoint(self.path) is None:
            raise nothing_to_resume(self.path)
        ck = load_checkpoint(self.path, params_like=params, opt_state_like=opt_state,
                             spec_hash=self.spec_hash)
        if ck.extra.get("total_steps") not in (None, total):
            raise TrainingError(
                f"the run in '{self.path}' was started with {ck.extra['total_steps']} "
                f"steps; this one has {total}", hint="resume with the same --epochs and data")
        return ck.params, ck.opt_state, int(ck.step)

    def start(self, prog: Program, st: Settings, obj: Objective, total: int,
              step: int) -> None:
        """Create the directory and write the run files; metrics start empty, or (when
        resuming from ``step``) keep the lines of the steps before it."""
        self.path.mkdir(parents=True, exist_ok=True)
        for stale in self.path.glob(".*.npz.*.tmp"):  # half-written files of a killed run
            stale.unlink(missing_ok=True)
        (self.path / "spec.rpg").write_text(prog.network.source, encoding="utf-8")
        (self.path / "bounds.json").write_text(to_json(obj.lower, obj.upper), encoding="utf-8")
        (self.path / "config.json").write_text(json.dumps({
            "spec": prog.network.filename, "data": st.data_desc,
            "optimizer": st.optimizer_desc, "epochs": st.epochs, "batch_size": st.batch_size,
            "seed": st.seed, "total_steps": total, "penalised_bounds": any(
                jax.tree_util.tree_leaves(obj.penalised)),
        }, indent=2), encoding="utf-8")
        if step:
            trim_metrics(self.metrics, step)
        else:
            self.metrics.write_text("", encoding="utf-8")

    def append(self, start: int, losses: np.ndarray) -> None:
        """One ``metrics.jsonl`` line per step of ``losses`` (the first is step ``start``)."""
        with open(self.metrics, "a", encoding="utf-8") as f:
            for i, loss in enumerate(losses):
                s = start + i
                f.write(json.dumps({"step": s, "epoch": s // self.per_epoch,
                                    "loss": float(loss) if math.isfinite(loss) else str(loss)})
                        + "\n")
            f.flush()

    def checkpoint(self, params: Tree, opt_state: Any, step: int, st: Settings,
                   total: int) -> None:
        """Replace ``checkpoint.npz`` (atomically) with the state after ``step`` steps."""
        save_checkpoint(self.path, params=params, opt_state=opt_state, step=step,
                        rng_key=jax.random.PRNGKey(st.seed), spec_hash=self.spec_hash,
                        extra={"total_steps": total, "epochs": st.epochs})

    def finish(self, params: Tree, summary: dict[str, Any]) -> None:
        """``params.npz`` and ``summary.json``."""
        save_params(self.path, params, spec_hash=self.spec_hash)
        (self.path / "summary.json").write_text(json.dumps(summary, indent=2),
                                                encoding="utf-8")


def nothing_to_resume(path: Path | None) -> TrainingError:
    """The error for resuming a run that has no checkpoint (or no run directory at all)."""
    return TrainingError(f"nothing to resume in '{path}'",
                         hint="start the run without --resume first")


def trim_metrics(path: Path, upto: int) -> None:
    """Keep metric lines for steps before ``upto`` (a resumed run rewrites the rest)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line)["step"] < upto:
                keep.append(line)
        except (ValueError, KeyError, TypeError):
            break  # a line cut by a crash: everything after it is rewritten
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(k + "\n" for k in keep), encoding="utf-8")
    os.replace(tmp, path)


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``metrics.jsonl`` file (one dict per step).

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "metrics.jsonl"
    >>> _ = p.write_text('{"step": 0, "epoch": 0, "loss": 0.5}\\n{"step": 1, "ep')
    >>> read_metrics(p)
    [{'step': 0, 'epoch': 0, 'loss': 0.5}]
    """
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            break
    return out
