"""The run directory of a training run.

``spec.rpg``, ``bounds.json`` and ``config.json`` describe the run; ``metrics.jsonl`` gets
one line per step (past ``log_limit`` steps, one line per chunk: see :func:`log_split`),
appended chunk by chunk through one open file (a resumed run first cuts the lines after its
checkpoint, reading the file from its end); ``checkpoint.npz`` is rewritten atomically;
``params.npz`` and ``summary.json`` are written at the end.

A run folder is marked by a ``.rpgraph-run`` file, which a training process holds an
exclusive lock on (``fcntl.flock``) while it trains: a second ``train`` in the same folder
fails at once instead of interleaving its metrics. rpgraph refuses a non-empty folder that is
not a run folder, never writes through a symbolic link, and deletes only its own temporary
files, by their exact names (``.checkpoint.npz.rpgraph.tmp``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import stat
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import jax
import numpy as np

from ..bounds import to_json
from ..errors import CheckpointError, TrainingError, clip
from ..fmt import format_spec
from ..io.checkpoint import (
    CHECKPOINT_NAME,
    MAX_STEP,
    PARAMS_NAME,
    checkpoint_info,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    save_params,
    spec_hash,
)

try:  # POSIX; elsewhere runs are not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from ..compile import Program
    from ..io.data import Dataset
    from ..objective import Objective
    from .settings import Settings

Tree = dict[str, dict[str, Any]]

MARKER = ".rpgraph-run"
#: Steps logged one line each; later steps get one line per chunk (``FitOptions.log_limit``).
LOG_LIMIT = 100_000
_FILES = ("spec.rpg", "bounds.json", "config.json", "metrics.jsonl", "summary.json",
          CHECKPOINT_NAME, PARAMS_NAME, MARKER)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def default_run_dir(prog: Program) -> Path:
    """``runs/<spec file stem>-<date>-<time>`` under the current directory."""
    stem = Path(prog.network.filename).stem if prog.network.filename != "<string>" else \
        prog.name
    return Path("runs") / f"{stem}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def canonical_hash(prog: Program) -> str:
    """The hash of the spec's canonical text (comments and layout do not count), which
    identifies the network a run belongs to.

    >>> import rpgraph
    >>> a = rpgraph.compile("network n { input x : 2\\n output y : 1\\n x -> linear(1) -> y }")
    >>> b = rpgraph.compile("network n {  # the same\\n input x:2\\n output y:1\\n"
    ...                     " x->linear(1)->y\\n}")
    >>> canonical_hash(a) == canonical_hash(b)
    True
    """
    return spec_hash(format_spec(prog.network.spec, keep_comments=False))


def data_hash(ds: Dataset) -> str:
    """SHA-256 of a data set's arrays (shapes, dtypes and bytes): its identity for resume."""
    h = hashlib.sha256()
    for name in ("inputs", "targets", "labels", "x", "y"):
        value = getattr(ds, name, None)
        arrays = value if isinstance(value, dict) else {"": value}  # x, y: by port name
        for port, a in sorted(arrays.items()):
            if a is not None:
                a = np.ascontiguousarray(a)
                h.update(f"{name}{port}{a.shape}{a.dtype}".encode())
                h.update(a.data.cast("B"))
    return h.hexdigest()


def run_identity(prog: Program, st: Settings, obj: Objective) -> dict[str, Any]:
    """Everything that determines a run's result, as ``--resume`` compares it."""
    return {"spec": canonical_hash(prog), "seed": st.seed, "data": st.data_desc,
            "data_hash": data_hash(st.data), "optimizer": st.optimizer_desc,
            "batch_size": st.batch_size, "epochs": st.epochs,
            "bounds": spec_hash(to_json(obj.lower, obj.upper)),
            # what picks the kept parameters: the validation set, early stopping, keep
            "validation": data_hash(st.validation) if st.validation is not None else "none",
            "early_stopping": str(st.early_stopping), "keep": st.keep}


def _difference(key: str, was: Any, now: Any) -> str:
    # an edited checkpoint may hold anything there: quoted when its type is not ours, and
    # clipped (a data set's name or path is shown whole)
    was = clip(repr(was) if isinstance(was, (str, dict, list)) and not isinstance(now, str)
               else str(was), 200)
    if key == "epochs":
        return f"epochs {was} -> {now} (only more epochs extend a run)"
    if key == "spec":
        return "the spec (its canonical text changed)"
    if key == "bounds":
        return "the bounds (--bounds or the bounds block)"
    if key == "data_hash":
        return "the data's contents"
    return f"{key.replace('_', ' ')} {was} -> {now}"


def differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What differs between the identity a run was started with and this one (unknown
    entries and more epochs, which extend the run, do not count).

    >>> differences({"seed": 0, "epochs": 2}, {"seed": 7, "epochs": 5})
    ['seed 0 -> 7']
    """
    out = []
    for key, value in now.items():
        was = saved.get(key)
        # the same type too: True == 1, and an edited file may hold anything there
        if was is None or (type(was) is type(value) and was == value):
            continue
        if key == "epochs" and type(was) is int and value > was:
            continue
        if key == "data_hash" and saved.get("data") != now.get("data"):
            continue  # the data's name changed: already said
        out.append(_difference(key, was, value))
    return out


def log_split(start: int, losses: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The losses of a chunk starting at step ``start`` that are logged one line per step
    (steps before ``limit``), and the rest, logged as one aggregate line.

    >>> [a.tolist() for a in log_split(8, np.arange(4.0), 10)]
    [[0.0, 1.0], [2.0, 3.0]]
    """
    n = max(0, min(len(losses), limit - start))
    return losses[:n], losses[n:]


def _shown(path: Path) -> str:
    return os.fspath(path)


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an OS error while writing ``path`` into a message that names the file.

    >>> with writing(Path("runs/a/metrics.jsonl")):  # doctest: +SKIP
    ...     f.write(line)
    """
    try:
        yield
    except OSError as err:
        hint = ("free some disk space, then continue the run with --resume"
                if err.errno in (errno.ENOSPC, errno.EDQUOT) else
                "check the path and its permissions")
        raise TrainingError(f"cannot write '{_shown(path)}': {err.strerror or err}",
                            hint=hint) from None


def temp_path(path: Path) -> Path:
    """The one temporary name rpgraph writes ``path`` through (``.NAME.rpgraph.tmp``)."""
    return path.parent / f".{path.name}.rpgraph.tmp"


def write_file(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, never following a link (the temporary file
    is created exclusively and renamed over ``path``, which replaces a link, not its target).
    """
    tmp = temp_path(path)
    with writing(path):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


class RunDir:
    """An open run directory (see the module docstring for its files).

    >>> run = RunDir(Path("runs/a"), spec_hash="...", per_epoch=3)  # doctest: +SKIP
    >>> run.open(resume=False, force=False)  # doctest: +SKIP
    >>> run.append(0, np.array([0.5, 0.4]))  # doctest: +SKIP
    >>> run.close()  # doctest: +SKIP
    """

    def __init__(self, path: Path, spec_hash: str, per_epoch: int,
                 identity: dict[str, Any] | None = None, log_limit: int = LOG_LIMIT) -> None:
        self.path, self.spec_hash, self.per_epoch = Path(path), spec_hash, per_epoch
        self.identity = dict(identity or {})
        self.log_limit = log_limit
        #: the step of the newest checkpoint on disk (``None``: there is none)
        self.last_checkpoint: int | None = None
        self._lock: int | None = None
        self._metrics: IO[str] | None = None

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    # -- opening and locking --

    def _is_run(self) -> bool:
        with contextlib.suppress(OSError):
            if stat.S_ISREG(os.lstat(self.path / MARKER).st_mode):
                return True
            # a run folder written before folders were marked
            ck = os.lstat(self.path / CHECKPOINT_NAME)
            return stat.S_ISREG(ck.st_mode) and (self.path / "config.json").is_file()
        return False

    def open(self, *, resume: bool, force: bool = False) -> None:
        """Check the folder (a new, empty or run folder; no links among the run's files),
        mark it and lock it; a fresh run (``resume=False``) over a run that has a checkpoint
        needs ``force``, and then starts over."""
        exists = self.path.is_dir()
        if exists and not self._is_run() and any(self.path.iterdir()):
            raise TrainingError(
                f"'{_shown(self.path)}' is not empty and is not an rpgraph run folder",
                hint="choose a new or empty folder for --out (rpgraph marks its run folders "
                f"with a {MARKER} file)")
        if resume and (not exists or latest_checkpoint(self.path) is None):
            raise nothing_to_resume(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        for name in _FILES:
            p = self.path / name
            if p.is_symlink():
                raise TrainingError(
                    f"'{_shown(p)}' is a symbolic link",
                    hint="rpgraph never writes through links in a run folder; remove the link "
                    "or choose another --out")
        self._take_lock()
        for name in _FILES:  # leftovers of a killed run, by their exact names only
            tmp = temp_path(self.path / name)
            if tmp.is_file() and not tmp.is_symlink():
                tmp.unlink(missing_ok=True)
        if resume:
            return
        ck = latest_checkpoint(self.path)
        if ck is not None and not ck.is_symlink():
            if not force:
                self.close()
                raise TrainingError(
                    f"'{_shown(self.path)}' holds a run with a checkpoint",
                    hint="continue it with --resume, choose another --out, or pass --force "
                    "to start it over")
            for name in (CHECKPOINT_NAME, PARAMS_NAME, "summary.json"):
                (self.path / name).unlink(missing_ok=True)

    def _take_lock(self) -> None:
        marker = self.path / MARKER
        with writing(marker):
            fd = os.open(marker, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o666)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise TrainingError(
                f"another rpgraph process is training in '{_shown(self.path)}'",
                hint="wait for it to finish, or choose another --out") from None
        self._lock = fd
        if os.fstat(fd).st_size == 0:
            with writing(marker):
                os.write(fd, b'{"rpgraph-run": 1}\n')

    def close(self) -> None:
        """Close the metrics file and release the folder's lock."""
        if self._metrics is not None:
            with contextlib.suppress(OSError):
                self._metrics.close()
            self._metrics = None
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None

    # -- resuming --

    def resume(self, params: Tree, opt_state: Any, total: int, *, force: bool = False
               ) -> tuple[Tree, Any, int]:
        """``(params, opt_state, step)`` of the run's checkpoint, restored against the given
        templates. The run must have been started with this run's identity (spec, seed,
        data, optimizer, batch size, bounds; more epochs extend it) unless ``force``."""
        if latest_checkpoint(self.path) is None:
            raise nothing_to_resume(self.path)
        ck = checkpoint_info(self.path)  # settings first: a list beats a shape error
        saved = ck.extra.get("run")
        if not isinstance(saved, dict):  # written before runs recorded their identity
            saved = {"spec": ck.spec_hash}
            if ck.extra.get("epochs") is not None:
                saved["epochs"] = ck.extra["epochs"]
        diffs = differences(saved, self.identity)
        if diffs and not force:
            raise TrainingError(
                f"the run in '{_shown(self.path)}' was started with other settings: "
                + "; ".join(diffs),
                hint="resume with the settings it was started with, choose another --out, "
                "or pass --force to continue it with these")
        ck = load_checkpoint(self.path, params_like=params, opt_state_like=opt_state)
        if ck.step > total:  # an edited file, or a run resumed with fewer epochs
            raise CheckpointError(
                f"checkpoint '{_shown(self.path / CHECKPOINT_NAME)}' is at step {ck.step}, "
                f"past the {total} steps of this run",
                hint="resume with the --epochs and data the run was started with, or start a "
                "new run")
        self.last_checkpoint = int(ck.step)
        return ck.params, ck.opt_state, int(ck.step)

    # -- writing --

    def start(self, prog: Program, st: Settings, obj: Objective, total: int,
              step: int) -> None:
        """Write the run files; metrics start empty, or (when resuming from ``step``) keep
        the lines of the steps before it."""
        write_file(self.path / "spec.rpg", prog.network.source.encode("utf-8"))
        write_file(self.path / "bounds.json", to_json(obj.lower, obj.upper).encode("utf-8"))
        write_file(self.path / "config.json", json.dumps({
            "spec": prog.network.filename, "data": st.data_desc,
            "optimizer": st.optimizer_desc, "epochs": st.epochs, "batch_size": st.batch_size,
            "seed": st.seed, "total_steps": total, "penalised_bounds": any(
                jax.tree_util.tree_leaves(obj.penalised)), "log_limit": self.log_limit,
            "run": self.identity,
        }, indent=2).encode("utf-8"))
        with writing(self.metrics):
            if step:
                trim_metrics(self.metrics, step)
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | _NOFOLLOW
            fd = os.open(self.metrics, flags | (0 if step else os.O_TRUNC), 0o666)
            self._metrics = os.fdopen(fd, "a", encoding="utf-8")

    def append(self, start: int, losses: np.ndarray) -> None:
        """The ``metrics.jsonl`` lines of a chunk of ``losses`` (the first is step
        ``start``): one per step before ``log_limit``, then one for the rest of the chunk
        (``steps``: how many, ``loss``: their mean, ``loss_min``/``loss_max``)."""
        each, rest = log_split(start, losses, self.log_limit)
        lines = []
        for i, loss in enumerate(each):
            s = start + i
            lines.append(json.dumps({"step": s, "epoch": s // self.per_epoch,
                                     "loss": _num(loss)}))
        if len(rest):
            s = start + len(each)
            lines.append(json.dumps({"step": s, "steps": len(rest),
                                     "epoch": s // self.per_epoch,
                                     "loss": _num(np.mean(rest, dtype=np.float64)),
                                     "loss_min": _num(np.min(rest)),
                                     "loss_max": _num(np.max(rest))}))
        if self._metrics is None:  # not started (API use): append to the file
            with writing(self.metrics), open(self.metrics, "a", encoding="utf-8") as f:
                f.write("".join(line + "\n" for line in lines))
            return
        with writing(self.metrics):
            self._metrics.write("".join(line + "\n" for line in lines))
            self._metrics.flush()

    def checkpoint(self, params: Tree, opt_state: Any, step: int, st: Settings,
                   total: int) -> None:
        """Replace ``checkpoint.npz`` (atomically) with the state after ``step`` steps."""
        path = self.path / CHECKPOINT_NAME
        save_checkpoint(path, params=params, opt_state=opt_state, step=step,
                        spec_hash=self.spec_hash, temp=temp_path(path),
                        extra={"total_steps": total, "epochs": st.epochs,
                               "run": self.identity})
        self.last_checkpoint = step

    def kept(self) -> str:
        """What a failed run leaves to resume from, for its error message."""
        if self.last_checkpoint is None:
            return f"no checkpoint was written in '{_shown(self.path)}'"
        return (f"the last good checkpoint (step {self.last_checkpoint}) is kept in "
                f"'{_shown(self.path)}'")

    def finish(self, params: Tree, summary: dict[str, Any]) -> None:
        """``params.npz`` and ``summary.json``."""
        path = self.path / PARAMS_NAME
        save_params(path, params, spec_hash=self.spec_hash, temp=temp_path(path))
        write_file(self.path / "summary.json", json.dumps(summary, indent=2).encode("utf-8"))


def _num(x: Any) -> float | str:
    x = float(x)
    return x if math.isfinite(x) else str(x)


def nothing_to_resume(path: Path | None) -> TrainingError:
    """The error for resuming a run that has no checkpoint (or no run directory at all)."""
    return TrainingError(f"nothing to resume in '{path}'",
                         hint="start the run without --resume first")


def _covered(line: bytes) -> int | None:
    """The step after the last one a complete metrics line covers (``None``: not a line
    rpgraph wrote, e.g. one cut by a crash)."""
    if not line.endswith(b"\n"):
        return None
    try:
        row = json.loads(line)
        end = row["step"] + row.get("steps", 1)
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
    return end if isinstance(end, int) and 0 <= end <= MAX_STEP + 1 else None


def trim_metrics(path: Path, upto: int, block: int = 1 << 16) -> None:
    """Keep the metric lines of steps before ``upto`` (a resumed run rewrites the rest),
    reading the file backwards from its end: only the lines after the checkpoint (and a
    line cut by a crash) are read, however long the file.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "metrics.jsonl"
    >>> _ = p.write_text('{"step": 0, "loss": 1}\\n{"step": 1, "loss": 2}\\n{"step": 2, "l')
    >>> trim_metrics(p, 1); p.read_text()
    '{"step": 0, "loss": 1}\\n'
    """
    try:
        fd = os.open(path, os.O_RDWR | _NOFOLLOW)
    except FileNotFoundError:
        return
    try:
        pos = limit = os.fstat(fd).st_size
        data = b""  # the file's bytes [pos, limit)
        cut = 0
        while limit > 0:
            nl = data.rfind(b"\n", 0, max(0, limit - pos - 1))
            if nl < 0 and pos > 0:
                n = min(block, pos)
                pos -= n
                data = os.pread(fd, n, pos) + data
                continue
            begin = pos + nl + 1
            end = _covered(data[begin - pos:limit - pos])
            if end is not None and end <= upto:
                cut = limit
                break
            limit = begin
            data = data[:limit - pos]
        os.ftruncate(fd, cut)
    finally:
        os.close(fd)


def iter_metrics(path: str | Path) -> Iterator[dict[str, Any]]:
    """The rows of a ``metrics.jsonl`` file, one at a time (up to a line cut by a crash)."""
    with open(path, "rb") as f:
        for line in f:
            try:
                yield json.loads(line)
            except ValueError:
                return


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``metrics.jsonl`` file (one dict per step, or per chunk past the run's
    ``log_limit``; such rows have ``steps``).

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "metrics.jsonl"
    >>> _ = p.write_text('{"step": 0, "epoch": 0, "loss": 0.5}\\n{"step": 1, "ep')
    >>> read_metrics(p)
    [{'step': 0, 'epoch': 0, 'loss': 0.5}]
    """
    return list(iter_metrics(path))
