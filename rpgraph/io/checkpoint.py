"""Atomic checkpoints of parameter and optimiser pytrees, as ``.npz`` without pickle, restored
against a template.

File layout of a run directory::

    run_dir/
        checkpoint.npz   # rolling training checkpoint, replaced atomically at every save
        params.npz       # final parameters (save_params / load_params)

Inside each ``.npz`` (plain numeric arrays only, so it loads with ``allow_pickle=False``):

* ``__rpgraph__`` -- ``uint8`` bytes of a UTF-8 JSON object: ``format``
  (``"rpgraph-checkpoint"`` or ``"rpgraph-params"``), ``version``, ``step`` (an integer in
  ``0 .. 2**63 - 1``), ``spec_hash``, ``extra`` and, per tree, the list of leaves (key path,
  dtype, shape, and for a typed PRNG key its implementation, ``key``);
* ``params.000000``, ``params.000001``, ... -- the leaves of ``params`` in
  ``jax.tree_util`` flattening order (likewise ``opt_state.*``). Typed PRNG keys (such as
  ``noisy_sgd``'s) are stored as their key data, bfloat16 & co. as unsigned integers.
  A parameter file names its arrays after the parameters instead (``hidden.tau``,
  ``linear_0.weight``: ``np.load("params.npz")["hidden.tau"]`` reads one); each leaf's
  metadata entry records its array's name (``member``), and files without it (older
  parameter files) use the numbered names.

Loading always has a template -- the caller's ``prog.init(...)`` parameters and
``opt.init(...)`` state -- which gives the tree structure, dtypes and key implementations.
Each leaf's key path, shape and dtype are checked against the metadata and the template from
the ``.npy`` headers before its data is unpacked (:mod:`rpgraph.io.npz`), and what is loaded
must make sense: finite floats, non-negative optimiser counters, a step in range.

Writing goes through :func:`rpgraph.io.npz.atomic_savez`: a crash leaves either the old or the
new file, never a partial one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import keystr

from ..errors import CheckpointError, did_you_mean
from .npz import NpzReader, atomic_savez, open_npz, remove_stale_temps

__all__ = [
    "CHECKPOINT_NAME",
    "PARAMS_NAME",
    "Checkpoint",
    "checkpoint_info",
    "checkpoint_path",
    "latest_checkpoint",
    "load_checkpoint",
    "load_params",
    "remove_stale_run_temps",
    "save_checkpoint",
    "save_params",
    "spec_hash",
]

CHECKPOINT_NAME = "checkpoint.npz"
PARAMS_NAME = "params.npz"
FORMAT_VERSION = 1
MAX_STEP = 2**63 - 1  # steps are 64-bit counters
MAX_META_BYTES = 64 * 2**20  # the JSON metadata: about 100 bytes per leaf
_META = "__rpgraph__"
_CHECKPOINT = "rpgraph-checkpoint"
_PARAMS = "rpgraph-params"

PyTree = Any


@dataclass(frozen=True)
class Checkpoint:
    """What :func:`load_checkpoint` returns."""

    params: PyTree
    opt_state: PyTree | None
    step: int
    spec_hash: str
    extra: dict[str, Any] = field(default_factory=dict)


def spec_hash(text: str) -> str:
    """SHA-256 hex digest of a spec's canonical text (identifies the network a run belongs to).

    >>> spec_hash("x: 2 -> linear(1) -> y")[:12]
    'ef759bd81f2b'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def checkpoint_path(run_dir: str | os.PathLike[str]) -> Path:
    """Where a run directory keeps its rolling checkpoint.

    >>> checkpoint_path("runs/a").as_posix()
    'runs/a/checkpoint.npz'
    """
    return Path(run_dir) / CHECKPOINT_NAME


def latest_checkpoint(run_dir: str | os.PathLike[str]) -> Path | None:
    """The run's checkpoint file if one has been written, else ``None``.

    Only the atomically-replaced ``checkpoint.npz`` counts; temporary files are ignored.

    >>> latest_checkpoint("no/such/run") is None
    True
    """
    path = checkpoint_path(run_dir)
    return path if path.is_file() else None


def remove_stale_run_temps(run_dir: str | os.PathLike[str]) -> None:
    """Delete the half-written checkpoint and parameter files a killed run left behind.

    >>> remove_stale_run_temps("no/such/run")
    """
    for name in (CHECKPOINT_NAME, PARAMS_NAME):
        remove_stale_temps(Path(run_dir) / name)


# --------------------------------------------------------------------------------------------
# Saving.


def _is_ml_dtype(dtype: np.dtype) -> bool:
    # bfloat16 & co. come from ml_dtypes; np.save would write them as opaque void bytes.
    return dtype.kind == "V" and dtype.names is None and dtype.itemsize in (1, 2, 4, 8)


def _non_finite(array: np.ndarray) -> int:
    """How many NaN or infinite entries a float array holds (0 for other dtypes)."""
    if _is_ml_dtype(array.dtype):
        array = array.astype(np.float32)
    if array.dtype.kind not in "fc":
        return 0
    return int(array.size - np.count_nonzero(np.isfinite(array)))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _stored(leaf: Any, where: str) -> tuple[np.ndarray, dict[str, Any]]:
    """The array to store for one leaf, and its metadata entry."""
    if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        data = np.asarray(jax.random.key_data(leaf))
        key = str(jax.random.key_impl(leaf))
        return data, {"dtype": str(data.dtype), "shape": list(data.shape), "key": key}
    array = np.asarray(leaf)
    if array.dtype.kind not in "biufc" and not _is_ml_dtype(array.dtype):
        raise CheckpointError(
            f"cannot save {where}: it is a {type(leaf).__name__} of dtype {array.dtype}; "
            "checkpoints hold numeric arrays only (no pickle)"
        )
    bad = _non_finite(array)
    if bad:  # a file that could never be loaded (see _check_values) is not written either
        raise CheckpointError(
            f"cannot save {where}: it holds {_plural(bad, 'non-finite value')} (NaN or inf)")
    entry = {"dtype": str(array.dtype), "shape": list(array.shape)}
    if _is_ml_dtype(array.dtype):
        array = array.view(f"uint{8 * array.dtype.itemsize}")
    return array, entry


def _names(paths: list[Any]) -> list[str] | None:
    """``"hidden.tau"`` for each key path of dict keys (a parameter tree), when the names are
    distinct and cannot be taken for the numbered or metadata members; else ``None``."""
    names = []
    for path in paths:
        keys = [str(getattr(k, "key", "")) if isinstance(getattr(k, "key", None), str) else ""
                for k in path]
        if not keys or not all(k and "/" not in k for k in keys):
            return None
        names.append(".".join(keys))
    reserved = re.compile(r"(params|opt_state)\.\d{6}|__.*")
    if len(set(names)) != len(names) or any(reserved.fullmatch(n) for n in names):
        return None
    return names


def _flatten(tree: PyTree, prefix: str, named: bool = False
             ) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """``{"prefix.000000": array}`` (or ``{"hidden.tau": array}`` when ``named``) plus the
    per-leaf metadata (path, member, dtype, shape, key)."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    names = _names([path for path, _ in leaves]) if named else None
    arrays: dict[str, np.ndarray] = {}
    meta: list[dict[str, Any]] = []
    for i, (path, leaf) in enumerate(leaves):
        member = names[i] if names is not None else f"{prefix}.{i:06d}"
        arrays[member], entry = _stored(leaf, f"{prefix}{keystr(path)}")
        meta.append({"path": keystr(path), "member": member, **entry})
    return arrays, meta


def _meta_array(meta: Mapping[str, Any]) -> np.ndarray:
    return np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8)


def _check_extra(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    out = dict(extra or {})
    try:
        json.dumps(out, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(
            f"cannot save checkpoint: extra is not JSON-serialisable ({exc})"
        ) from None
    return out


def _file_in(path: str | os.PathLike[str], default_name: str) -> Path:
    # A folder (existing, or any path not ending in .npz) means a run directory.
    p = Path(path)
    return p / default_name if p.is_dir() or p.suffix != ".npz" else p


def _write(target: Path, what: str, meta: dict[str, Any], trees: dict[str, PyTree],
           temp: Path | None = None, named: bool = False) -> None:
    arrays: dict[str, np.ndarray] = {}
    for name, tree in trees.items():
        if tree is not None:
            part, meta[name] = _flatten(tree, name, named)
            arrays.update(part)
    arrays[_META] = _meta_array({"version": FORMAT_VERSION, **meta})
    atomic_savez(target, arrays, what=what, temp=temp)


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    params: PyTree,
    opt_state: PyTree | None = None,
    step: int,
    spec_hash: str,
    extra: Mapping[str, Any] | None = None,
    temp: Path | None = None,
) -> None:
    """Atomically write a training checkpoint (see the module docstring for the format).

    ``path`` is a ``.npz`` file, or a run directory (then ``run_dir/checkpoint.npz``);
    ``temp`` names the temporary file (see :func:`~rpgraph.io.npz.atomic_savez`).

    >>> save_checkpoint("runs/a", params={"w": np.ones(3)}, step=10,
    ...                 spec_hash=spec_hash("..."))  # doctest: +SKIP
    """
    if not 0 <= int(step) <= MAX_STEP:
        raise CheckpointError(f"cannot save checkpoint: step {step} is outside 0..{MAX_STEP}")
    meta = {"format": _CHECKPOINT, "step": int(step), "spec_hash": str(spec_hash),
            "extra": _check_extra(extra), "opt_state": None}
    _write(_file_in(path, CHECKPOINT_NAME), "checkpoint", meta,
           {"params": params, "opt_state": opt_state}, temp)


def save_params(
    path: str | os.PathLike[str], params: PyTree, *, spec_hash: str | None = None,
    temp: Path | None = None,
) -> None:
    """Atomically write final parameters (``run_dir/params.npz`` when given a directory),
    each array named after its parameter (``hidden.tau``).

    >>> save_params("runs/a", {"hidden": {"tau": np.ones(3)}})  # doctest: +SKIP
    >>> np.load("runs/a/params.npz")["hidden.tau"]  # doctest: +SKIP
    array([1., 1., 1.])
    """
    meta = {"format": _PARAMS, "spec_hash": spec_hash}
    _write(_file_in(path, PARAMS_NAME), "parameter file", meta, {"params": params}, temp,
           named=True)


# --------------------------------------------------------------------------------------------
# Reading the metadata.


@dataclass(frozen=True)
class _Leaf:
    """One stored leaf, as the metadata describes it."""

    member: str  # "params.000003"
    dtype: str
    shape: tuple[int, ...]
    key: str | None  # PRNG implementation of a typed key, else None


@dataclass(frozen=True)
class _Meta:
    format: str
    step: int
    spec_hash: str | None
    extra: dict[str, Any]
    trees: dict[str, dict[str, _Leaf] | None]  # "params"/"opt_state" -> {key path: leaf}


class _Unreadable(Exception):
    """The metadata does not have the shape this module writes."""


def _need(ok: bool) -> None:
    if not ok:
        raise _Unreadable


def _leaves(raw: object, prefix: str) -> dict[str, _Leaf]:
    if not isinstance(raw, list):
        raise _Unreadable
    out: dict[str, _Leaf] = {}
    for i, leaf in enumerate(raw):
        _need(isinstance(leaf, dict))
        path, dtype, shape, key = (leaf.get(k) for k in ("path", "dtype", "shape", "key"))
        member = leaf.get("member", f"{prefix}.{i:06d}")  # older files: numbered arrays
        _need(isinstance(path, str) and isinstance(dtype, str) and isinstance(shape, list)
              and all(type(d) is int and d >= 0 for d in shape)
              and (key is None or isinstance(key, str)) and isinstance(member, str)
              and member != _META)
        out[path] = _Leaf(member, dtype, tuple(shape), key)
    return out


def _parse_meta(meta: dict[str, Any]) -> _Meta:
    """The metadata's fields, type-checked (so loading never hits a KeyError or TypeError on
    a hand-edited or damaged file)."""
    checkpoint = meta["format"] == _CHECKPOINT
    step, spec, extra = meta.get("step", 0), meta.get("spec_hash"), meta.get("extra")
    _need(spec is None or isinstance(spec, str))
    _need(isinstance(extra, (dict, type(None))))
    if checkpoint:
        _need(type(step) is int and isinstance(spec, str))
    trees: dict[str, dict[str, _Leaf] | None] = {"params": _leaves(meta.get("params"), "params")}
    if checkpoint and meta.get("opt_state") is not None:
        trees["opt_state"] = _leaves(meta["opt_state"], "opt_state")
    return _Meta(meta["format"], step, spec, dict(extra or {}), trees)


def _read_meta(npz: NpzReader, what: str) -> _Meta:
    """The decoded metadata of an rpgraph ``.npz``."""
    shown = npz.shown
    if _META not in npz:
        for key in npz.keys():
            npz.header(key)  # an object array is the more important news
        present = ", ".join(f"'{k}'" for k in sorted(npz.keys())) or "no arrays"
        raise CheckpointError(
            f"{shown} is not an rpgraph {what} (no '{_META}' metadata; it holds: {present})",
            hint="rpgraph reads only files written by its own save_checkpoint/save_params",
        )
    raw = npz.read(_META, limit=MAX_META_BYTES)
    unreadable = CheckpointError(f"{shown} is corrupted or truncated (unreadable metadata)")
    try:
        meta = json.loads(raw.astype(np.uint8).tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: deep nesting
        raise unreadable from None
    if not isinstance(meta, dict) or meta.get("format") not in (_CHECKPOINT, _PARAMS):
        raise unreadable
    version = meta.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{shown} was written by a newer rpgraph (format version {version}; "
            f"this rpgraph reads version {FORMAT_VERSION})",
            hint="upgrade rpgraph",
        )
    try:
        return _parse_meta(meta)
    except _Unreadable:
        raise unreadable from None


@contextlib.contextmanager
def _open(path: Path, what: str) -> Iterator[tuple[NpzReader, _Meta]]:
    # No file-wide size limit: every array is checked against its template leaf (shape and a
    # numeric dtype) before it is unpacked, so the program's own parameters bound the memory.
    with open_npz(path, what=what, error=CheckpointError, limit=sys.maxsize) as npz:
        yield npz, _read_meta(npz, what)


def _check_hash(shown: str, saved: str | None, wanted: str | None) -> None:
    if wanted is None or saved is None or saved == wanted:
        return
    raise CheckpointError(
        f"{shown} was written for a different spec (hash {saved[:12]}…, this spec {wanted[:12]}…)",
        hint="start a new run, or pass the spec the run was started with",
    )


def _resolve_existing(path: str | os.PathLike[str], *names: str) -> Path:
    """A file path as given, or the first of ``names`` inside a run directory."""
    if not isinstance(path, (str, os.PathLike)):
        raise CheckpointError(f"expected the path of a {' or '.join(names)} or of a run "
                              f"directory, got {type(path).__name__} {path!r:.40}")
    p = Path(path)
    if not p.is_dir():
        return p
    for name in names:
        if (p / name).is_file():
            return p / name
    hint = "start a new run, or point at the run directory that has it"
    # an ensemble's or a sweep's folder holds one run folder per model
    with contextlib.suppress(OSError):
        runs = sorted(d.name for d in p.iterdir()
                      if d.is_dir() and any((d / name).is_file() for name in names))
        if runs:
            shown = ", ".join(runs[:3]) + (", ..." if len(runs) > 3 else "")
            hint = (f"it holds the runs of {len(runs)} models ({shown}): point at one of "
                    f"them, e.g. '{os.fspath(p / runs[0])}'")
    raise CheckpointError(f"run directory '{os.fspath(p)}' has no {' or '.join(names)}",
                          hint=hint)


# --------------------------------------------------------------------------------------------
# Restoring trees against their templates.


def _key_impl(ref: Any) -> str | None:
    """The PRNG implementation of a typed-key template leaf, else ``None``."""
    dtype = getattr(ref, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
        return str(jax.random.key_impl(ref))
    return None


def _what_is(key: str | None) -> str:
    return f"a {key} PRNG key" if key else "an array"


def _check_paths(saved: Mapping[str, _Leaf], wanted: list[str], prefix: str, shown: str) -> None:
    missing = [p for p in wanted if p not in saved]
    if missing:
        close = did_you_mean(missing[0], saved)
        raise CheckpointError(
            f"{shown} has no {prefix} leaf {prefix}{missing[0]}"
            + (f" (and {len(missing) - 1} more missing)" if len(missing) > 1 else ""),
            hint=f"the checkpoint has a similar leaf: {close}" if close else
            "the network changed since this checkpoint was written; start a new run",
        )
    extra = [p for p in saved if p not in set(wanted)]
    if extra:
        raise CheckpointError(
            f"{shown} holds {prefix} leaf {prefix}{extra[0]} that the current model does not have"
            + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""),
            hint="the network changed since this checkpoint was written; start a new run",
        )


def _stored_dtype(npz: NpzReader, leaf: _Leaf, header_dtype: np.dtype) -> np.dtype | None:
    """The dtype to view the stored array as (bfloat16 & co. are stored as uint), or None."""
    if str(header_dtype) == leaf.dtype:
        return None
    try:
        dtype = jnp.dtype(leaf.dtype)
        if header_dtype.kind != "u" or dtype.itemsize != header_dtype.itemsize:
            raise TypeError(leaf.dtype)
        return dtype
    except (TypeError, ValueError):
        raise CheckpointError(
            f"{npz.shown} is corrupted or truncated (array '{leaf.member}' has dtype "
            f"{header_dtype}; its metadata says {leaf.dtype})"
        ) from None


def _check_values(array: np.ndarray, where: str, shown: str) -> None:
    """Loaded floats are finite, and integer optimiser state (step counters) non-negative."""
    bad = _non_finite(array)
    if bad:
        raise CheckpointError(
            f"{shown}: {where} holds {_plural(bad, 'non-finite value')} (NaN or inf)",
            hint="rpgraph never saves non-finite values: the file was damaged or edited; "
            "start a new run",
        )
    if where.startswith("opt_state") and array.dtype.kind == "i" and array.size:
        low = int(array.min())
        if low < 0:
            raise CheckpointError(
                f"{shown}: {where} holds {low}; optimiser counters are never negative",
                hint="the file was damaged or edited; start a new run",
            )


def _load_leaf(npz: NpzReader, leaf: _Leaf, ref: Any, prefix: str, path: str) -> jax.Array:
    """One leaf, checked from its header against the metadata and the template, then read."""
    shown, where = npz.shown, f"{prefix} leaf {prefix}{path}"
    if leaf.member not in npz:
        raise CheckpointError(f"{shown} is corrupted or truncated (array '{leaf.member}' for "
                              f"{prefix}{path} is missing)")
    head = npz.header(leaf.member)
    if head.shape != leaf.shape:
        raise CheckpointError(
            f"{shown} is corrupted or truncated (array '{leaf.member}' has shape "
            f"{head.shape}; its metadata says {leaf.shape})"
        )
    if head.dtype.kind not in "biufc":  # e.g. a 1 GiB-wide string dtype
        raise CheckpointError(
            f"{shown} is corrupted or truncated (array '{leaf.member}' has dtype {head.dtype}; "
            "checkpoints hold numeric arrays only)"
        )
    view = _stored_dtype(npz, leaf, head.dtype)
    impl = _key_impl(ref)
    if leaf.key != impl:
        raise CheckpointError(
            f"{shown}: {where} is {_what_is(leaf.key)}; expected {_what_is(impl)}",
            hint="the optimiser changed since this checkpoint was written; start a new run",
        )
    want = tuple(jax.random.key_data(ref).shape) if impl else tuple(np.shape(ref))
    if leaf.shape != want:
        raise CheckpointError(
            f"{shown}: {where} has shape {leaf.shape}; expected {want}",
            hint="the network's sizes changed since this checkpoint was written",
        )
    array = npz.read(leaf.member)
    if view is not None:
        array = array.view(view)
    _check_values(array, where, shown)
    if impl:
        return jax.random.wrap_key_data(jnp.asarray(array), impl=jax.random.key_impl(ref))
    return jnp.asarray(array, dtype=getattr(ref, "dtype", None))


def _restore(npz: NpzReader, saved: Mapping[str, _Leaf], like: PyTree, prefix: str) -> PyTree:
    """The tree ``like`` with every leaf read from the file."""
    template, treedef = jax.tree_util.tree_flatten_with_path(like)
    wanted = [keystr(path) for path, _ in template]
    _check_paths(saved, wanted, prefix, npz.shown)
    leaves = [_load_leaf(npz, saved[name], ref, prefix, name)
              for (_, ref), name in zip(template, wanted, strict=True)]
    return jax.tree_util.tree_unflatten(treedef, leaves)


def _check_step(step: int, max_step: int, shown: str) -> None:
    if not 0 <= step <= MAX_STEP:
        text = str(step)
        text = text if len(text) <= 32 else f"{text[:29]}..."  # a short message
        raise CheckpointError(
            f"{shown} is corrupted or truncated (step {text} is outside 0..{MAX_STEP})")
    if step > max_step:  # an edited file, or a run resumed with fewer epochs
        raise CheckpointError(
            f"{shown} is at step {step}, past the {max_step} steps of this run",
            hint="resume with the --epochs and data the run was started with, or start a new run",
        )


def checkpoint_info(path: str | os.PathLike[str]) -> Checkpoint:
    """A checkpoint's step, spec hash and ``extra``, from its metadata alone (no arrays are
    read: ``params`` and ``opt_state`` are ``None``), e.g. to compare a run's settings
    before restoring it.

    >>> checkpoint_info("runs/a").step  # doctest: +SKIP
    10
    """
    target = _resolve_existing(path, CHECKPOINT_NAME)
    with _open(target, "checkpoint") as (npz, meta):
        if meta.format != _CHECKPOINT:
            raise CheckpointError(
                f"{npz.shown} is a parameter file, not a training checkpoint",
                hint="load it with load_params, or resume from the run's checkpoint.npz",
            )
        _check_step(meta.step, MAX_STEP, npz.shown)
    return Checkpoint(None, None, meta.step, meta.spec_hash or "", meta.extra)


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    params_like: PyTree,
    opt_state_like: PyTree | None = None,
    spec_hash: str | None = None,
    max_step: int = MAX_STEP,
) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (a file or a run directory).

    The trees come back with the templates' structure and dtypes (``params_like`` from
    ``prog.init``, ``opt_state_like`` from ``opt.init``; without the latter no optimiser
    state is read), after every leaf path, shape and value is checked; with ``spec_hash``
    the checkpoint must belong to that spec, and its step is at most ``max_step`` (the run's
    length).

    >>> ck = load_checkpoint("runs/a", params_like=params, opt_state_like=opt.init(params),
    ...                      spec_hash=spec_hash(text))  # doctest: +SKIP
    >>> ck.step  # doctest: +SKIP
    10
    """
    target = _resolve_existing(path, CHECKPOINT_NAME)
    with _open(target, "checkpoint") as (npz, meta):
        shown = npz.shown
        if meta.format != _CHECKPOINT:
            raise CheckpointError(
                f"{shown} is a parameter file, not a training checkpoint",
                hint="load it with load_params, or resume from the run's checkpoint.npz",
            )
        _check_hash(shown, meta.spec_hash, spec_hash)
        _check_step(meta.step, max_step, shown)
        params = _restore(npz, meta.trees["params"] or {}, params_like, "params")
        opt_state = None
        if opt_state_like is not None:
            saved = meta.trees.get("opt_state")
            if saved is None:
                raise CheckpointError(
                    f"{shown} has no optimiser state",
                    hint="it was saved without opt_state; restart the optimiser or start a "
                    "new run",
                )
            opt_state = _restore(npz, saved, opt_state_like, "opt_state")
    return Checkpoint(params, opt_state, meta.step, meta.spec_hash or "", meta.extra)


def load_params(
    path_or_dir: str | os.PathLike[str], like: PyTree, *, spec_hash: str | None = None
) -> PyTree:
    """Read parameters shaped like ``like`` from ``params.npz``, a training checkpoint, or a
    run directory (its ``params.npz``, else its ``checkpoint.npz``).

    >>> params = load_params("runs/a", like=prog.init(0))  # doctest: +SKIP
    """
    # A run directory without final parameters still has its latest checkpoint's.
    target = _resolve_existing(path_or_dir, PARAMS_NAME, CHECKPOINT_NAME)
    what = "checkpoint" if target.name == CHECKPOINT_NAME else "parameter file"
    with _open(target, what) as (npz, meta):
        _check_hash(npz.shown, meta.spec_hash, spec_hash)
        return _restore(npz, meta.trees["params"] or {}, like, "params")
