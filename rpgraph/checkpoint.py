"""Safe, atomic checkpoints of parameter and optimiser pytrees, stored as ``.npz`` without pickle.

File layout of a run directory::

    run_dir/
        checkpoint.npz   # rolling training checkpoint, replaced atomically at every save
        params.npz       # final parameters (save_params / load_params)

Inside each ``.npz`` (plain numeric arrays only, so it loads with ``allow_pickle=False``):

* ``__rpgraph__`` -- ``uint8`` bytes of a UTF-8 JSON object: ``format``
  (``"rpgraph-checkpoint"`` or ``"rpgraph-params"``), ``version``, ``step``, ``spec_hash``,
  ``extra`` and, per tree, the list of leaves (key path, dtype, shape);
* ``params.000000``, ``params.000001``, ... -- the leaves of ``params`` in
  ``jax.tree_util`` flattening order (likewise ``opt_state.*``), and ``rng_key``.

Pytrees are flattened with ``jax.tree_util.tree_flatten_with_path``, so nested dicts, lists,
tuples and optax states (NamedTuples) all work. Loading with a template (``params_like``,
``opt_state_like``) restores the exact tree type and checks every leaf's path and shape;
without one, dict/list nesting is rebuilt from the stored key paths (NamedTuples come back
as dicts of their fields).

Saving writes a temporary ``.<name>.*.tmp`` file in the same folder, fsyncs it, then
``os.replace``-s it over the target and fsyncs the folder: a crash leaves either the old or
the new checkpoint, never a partial one (a stray ``.tmp`` is never read as a checkpoint).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import DictKey, FlattenedIndexKey, GetAttrKey, SequenceKey, keystr

from .data import read_npz
from .errors import CheckpointError, did_you_mean

__all__ = [
    "CHECKPOINT_NAME",
    "PARAMS_NAME",
    "Checkpoint",
    "checkpoint_path",
    "latest_checkpoint",
    "load_checkpoint",
    "load_params",
    "save_checkpoint",
    "save_params",
    "spec_hash",
]

CHECKPOINT_NAME = "checkpoint.npz"
PARAMS_NAME = "params.npz"
FORMAT_VERSION = 1
_META = "__rpgraph__"
_CHECKPOINT = "rpgraph-checkpoint"
_PARAMS = "rpgraph-params"

PyTree = Any
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows would otherwise translate newlines


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns."""

    params: PyTree
    opt_state: PyTree | None
    step: int
    rng_key: jax.Array | None
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


# --------------------------------------------------------------------------------------------
# Flattening pytrees into named arrays.


def _key_entry(key: Any, where: str) -> list[Any]:
    """A JSON-able description of one path step (to rebuild trees without a template)."""
    if isinstance(key, DictKey):
        if isinstance(key.key, (str, int)) and not isinstance(key.key, bool):
            return ["dict", key.key]
        raise CheckpointError(
            f"cannot save {where}: dict key {key.key!r} is a {type(key.key).__name__}; "
            "expected str or int keys"
        )
    if isinstance(key, SequenceKey):
        return ["seq", key.idx]
    if isinstance(key, GetAttrKey):
        return ["attr", key.name]
    if isinstance(key, FlattenedIndexKey):
        return ["seq", key.key]
    raise CheckpointError(f"cannot save {where}: unsupported tree node key {key!r}")


def _to_numpy(leaf: Any, where: str) -> np.ndarray:
    if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        raise CheckpointError(
            f"cannot save {where}: typed PRNG keys are only supported as rng_key",
            hint="store jax.random.key_data(key) instead",
        )
    array = np.asarray(leaf)
    if array.dtype.kind not in "biufc" and not _is_ml_dtype(array.dtype):
        raise CheckpointError(
            f"cannot save {where}: it is a {type(leaf).__name__} of dtype {array.dtype}; "
            "checkpoints hold numeric arrays only (no pickle)"
        )
    return array


def _is_ml_dtype(dtype: np.dtype) -> bool:
    # bfloat16 & co. come from ml_dtypes; np.save would write them as opaque void bytes.
    return dtype.kind == "V" and dtype.names is None and dtype.itemsize in (1, 2, 4, 8)


def _flatten(tree: PyTree, prefix: str) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """``{"prefix.000000": array}`` plus the per-leaf metadata (path, dtype, shape)."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    arrays: dict[str, np.ndarray] = {}
    meta: list[dict[str, Any]] = []
    for i, (path, leaf) in enumerate(leaves):
        where = f"{prefix}{keystr(path)}"
        array = _to_numpy(leaf, where)
        dtype = str(array.dtype)
        if _is_ml_dtype(array.dtype):
            array = array.view(f"uint{8 * array.dtype.itemsize}")
        arrays[f"{prefix}.{i:06d}"] = array
        meta.append(
            {
                "path": keystr(path),
                "keys": [_key_entry(k, where) for k in path],
                "dtype": dtype,
                "shape": list(array.shape),
            }
        )
    return arrays, meta


# --------------------------------------------------------------------------------------------
# Atomic writing.


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; directories cannot be opened this way on Windows.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_npz(f: BinaryIO, arrays: Mapping[str, np.ndarray]) -> None:
    # What np.savez does, but never pickling and independent of its keyword arguments.
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, array in arrays.items():
            with zf.open(f"{key}.npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def _atomic_savez(path: Path, arrays: Mapping[str, np.ndarray], what: str) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` at ``path``, atomically."""
    # Same folder as the target, so os.replace is a rename within one file system; the
    # ".tmp" suffix keeps a leftover from a crash from ever being read as a checkpoint.
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    created = False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # os.open applies the umask, so the file gets the same mode a plain open() would.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
        created = True
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        created = False
        _fsync_dir(path.parent)
    except OSError as exc:
        raise CheckpointError(
            f"cannot write {what} '{os.fspath(path)}': {exc.strerror or exc}"
        ) from None
    finally:
        if created:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


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


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    params: PyTree,
    opt_state: PyTree | None = None,
    step: int,
    rng_key: jax.Array | None = None,
    spec_hash: str,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Atomically write a training checkpoint (see the module docstring for the format).

    ``path`` is a ``.npz`` file, or a run directory (then ``run_dir/checkpoint.npz``).

    >>> save_checkpoint("runs/a", params={"w": np.ones(3)}, step=10,
    ...                 spec_hash=spec_hash("..."))  # doctest: +SKIP
    """
    target = _file_in(path, CHECKPOINT_NAME)
    arrays, params_meta = _flatten(params, "params")
    meta: dict[str, Any] = {
        "format": _CHECKPOINT,
        "version": FORMAT_VERSION,
        "step": int(step),
        "spec_hash": str(spec_hash),
        "extra": _check_extra(extra),
        "params": params_meta,
        "opt_state": None,
        "rng_key": None,
    }
    if opt_state is not None:
        opt_arrays, meta["opt_state"] = _flatten(opt_state, "opt_state")
        arrays.update(opt_arrays)
    if rng_key is not None:
        arrays["rng_key"], meta["rng_key"] = _key_to_numpy(rng_key)
    arrays[_META] = _meta_array(meta)
    _atomic_savez(target, arrays, "checkpoint")


def save_params(
    path: str | os.PathLike[str], params: PyTree, *, spec_hash: str | None = None
) -> None:
    """Atomically write final parameters (``run_dir/params.npz`` when given a directory).

    >>> save_params("runs/a", {"w": np.ones((2, 3))})  # doctest: +SKIP
    """
    target = _file_in(path, PARAMS_NAME)
    arrays, params_meta = _flatten(params, "params")
    meta = {
        "format": _PARAMS,
        "version": FORMAT_VERSION,
        "spec_hash": spec_hash,
        "params": params_meta,
    }
    arrays[_META] = _meta_array(meta)
    _atomic_savez(target, arrays, "parameter file")


def _file_in(path: str | os.PathLike[str], default_name: str) -> Path:
    # A folder (existing, or any path not ending in .npz) means a run directory.
    p = Path(path)
    return p / default_name if p.is_dir() or p.suffix != ".npz" else p


def _key_to_numpy(key: jax.Array) -> tuple[np.ndarray, dict[str, Any]]:
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        impl = str(jax.random.key_impl(key))
        return np.asarray(jax.random.key_data(key)), {"typed": True, "impl": impl}
    return np.asarray(key), {"typed": False}


# --------------------------------------------------------------------------------------------
# Loading.


def _read(path: Path, what: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """All arrays of an rpgraph ``.npz`` and its decoded metadata."""
    shown = f"{what} '{os.fspath(path)}'"
    arrays = read_npz(path, what=what, error=CheckpointError)
    if _META not in arrays:
        present = ", ".join(f"'{k}'" for k in sorted(arrays)) or "no arrays"
        raise CheckpointError(
            f"{shown} is not an rpgraph {what} (no '{_META}' metadata; it holds: {present})",
            hint="rpgraph reads only files written by its own save_checkpoint/save_params",
        )
    raw = arrays.pop(_META)
    try:
        meta = json.loads(raw.astype(np.uint8).tobytes().decode("utf-8"))
        if not isinstance(meta, dict) or meta.get("format") not in (_CHECKPOINT, _PARAMS):
            raise ValueError("unknown format")
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{shown} is corrupted or truncated (unreadable metadata)") from None
    version = meta.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{shown} was written by a newer rpgraph (format version {version}; "
            f"this rpgraph reads version {FORMAT_VERSION})",
            hint="upgrade rpgraph",
        )
    if not _valid_meta(meta):
        raise CheckpointError(f"{shown} is corrupted or truncated (unreadable metadata)")
    return arrays, meta


def _valid_leaf(leaf: object) -> bool:
    if not isinstance(leaf, dict):
        return False
    keys, shape = leaf.get("keys"), leaf.get("shape")
    return (
        isinstance(leaf.get("path"), str)
        and isinstance(leaf.get("dtype"), str)
        and isinstance(shape, list)
        and all(isinstance(d, int) and d >= 0 for d in shape)
        and isinstance(keys, list)
        and all(
            isinstance(k, list)
            and len(k) == 2
            and k[0] in ("dict", "seq", "attr")
            and isinstance(k[1], (str, int))
            for k in keys
        )
    )


def _valid_meta(meta: dict[str, Any]) -> bool:
    """Whether the metadata has the shape this module writes (so loading never hits a
    KeyError or TypeError on a hand-edited or damaged file)."""
    trees = ["params"] + (["opt_state"] if meta["format"] == _CHECKPOINT else [])
    for name in trees:
        tree = meta.get(name)
        if tree is None and name == "opt_state":
            continue
        if not isinstance(tree, list) or not all(_valid_leaf(leaf) for leaf in tree):
            return False
    if meta.get("spec_hash") is not None and not isinstance(meta["spec_hash"], str):
        return False
    if meta["format"] == _PARAMS:
        return True
    rng = meta.get("rng_key")
    return (
        isinstance(meta.get("step"), int)
        and isinstance(meta.get("spec_hash"), str)
        and isinstance(meta.get("extra"), (dict, type(None)))
        and (rng is None or isinstance(rng, dict))
    )


def _check_hash(shown: str, saved: str | None, wanted: str | None) -> None:
    if wanted is None or saved is None or saved == wanted:
        return
    raise CheckpointError(
        f"{shown} was written for a different spec (hash {saved[:12]}…, this spec {wanted[:12]}…)",
        hint="start a new run, or pass the spec the run was started with",
    )


def _stored_leaves(
    arrays: Mapping[str, np.ndarray], meta: list[dict[str, Any]], prefix: str, shown: str
) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    for i, leaf in enumerate(meta):
        name = f"{prefix}.{i:06d}"
        if name not in arrays:
            raise CheckpointError(
                f"{shown} is corrupted or truncated (array '{name}' for {prefix}"
                f"{leaf.get('path', '')} is missing)"
            )
        array = arrays[name]
        if list(array.shape) != list(leaf["shape"]):
            raise CheckpointError(
                f"{shown} is corrupted or truncated (array '{name}' has shape "
                f"{tuple(array.shape)}; its metadata says {tuple(leaf['shape'])})"
            )
        if str(array.dtype) != leaf["dtype"]:
            array = _view_as(array, leaf["dtype"], name, shown)
        yield leaf, array


def _view_as(array: np.ndarray, dtype_name: str, name: str, shown: str) -> np.ndarray:
    """Undo the uint storage of bfloat16 & co. (see :func:`_flatten`)."""
    try:
        dtype = jnp.dtype(dtype_name)
        if array.dtype.kind != "u" or dtype.itemsize != array.dtype.itemsize:
            raise TypeError(dtype_name)
        return array.view(dtype)
    except (TypeError, ValueError):
        raise CheckpointError(
            f"{shown} is corrupted or truncated (array '{name}' has dtype {array.dtype}; "
            f"its metadata says {dtype_name})"
        ) from None


def _restore(
    arrays: Mapping[str, np.ndarray],
    meta: list[dict[str, Any]],
    like: PyTree | None,
    prefix: str,
    shown: str,
) -> PyTree:
    stored = list(_stored_leaves(arrays, meta, prefix, shown))
    if like is None:
        return _rebuild([(leaf["keys"], jnp.asarray(a)) for leaf, a in stored], shown)
    template, treedef = jax.tree_util.tree_flatten_with_path(like)
    saved = {leaf["path"]: array for leaf, array in stored}
    wanted = [keystr(path) for path, _ in template]
    missing = [p for p in wanted if p not in saved]
    if missing:
        raise CheckpointError(
            f"{shown} has no {prefix} leaf {prefix}{missing[0]}"
            + (f" (and {len(missing) - 1} more missing)" if len(missing) > 1 else ""),
            hint=_mismatch_hint(missing[0], saved),
        )
    extra = [p for p in saved if p not in set(wanted)]
    if extra:
        raise CheckpointError(
            f"{shown} holds {prefix} leaf {prefix}{extra[0]} that the current model does not have"
            + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""),
            hint="the network changed since this checkpoint was written; start a new run",
        )
    leaves = []
    for (_, ref), name in zip(template, wanted, strict=True):
        array = saved[name]
        want_shape = tuple(np.shape(ref))
        if array.shape != want_shape:
            raise CheckpointError(
                f"{shown}: {prefix} leaf {prefix}{name} has shape {tuple(array.shape)}; "
                f"expected {want_shape}",
                hint="the network's sizes changed since this checkpoint was written",
            )
        dtype = getattr(ref, "dtype", None)
        leaves.append(jnp.asarray(array, dtype=dtype))
    return jax.tree_util.tree_unflatten(treedef, leaves)


def _mismatch_hint(missing: str, saved: Mapping[str, np.ndarray]) -> str:
    close = did_you_mean(missing, saved)
    if close:
        return f"the checkpoint has a similar leaf: {close}"
    return "the network changed since this checkpoint was written; start a new run"


def _rebuild(leaves: list[tuple[list[Any], jax.Array]], shown: str) -> PyTree:
    """Nested dicts/lists from stored key paths (used when no template is given)."""
    if len(leaves) == 1 and not leaves[0][0]:
        return leaves[0][1]
    root: dict[Any, Any] = {}
    kinds: dict[int, str] = {}
    for keys, value in leaves:
        if not keys:
            raise CheckpointError(f"{shown} is corrupted or truncated (inconsistent tree paths)")
        node = root
        for depth, (kind, key) in enumerate(keys):
            if kinds.setdefault(id(node), kind) != kind:
                raise CheckpointError(
                    f"{shown} is corrupted or truncated (inconsistent tree paths)"
                )
            if depth == len(keys) - 1:
                node[key] = value
            else:
                node = node.setdefault(key, {})
    return _finish(root, kinds)


def _finish(node: Any, kinds: Mapping[int, str]) -> PyTree:
    if not isinstance(node, dict):
        return node
    items = {k: _finish(v, kinds) for k, v in node.items()}
    if kinds.get(id(node)) == "seq":
        return [items[k] for k in sorted(items)]
    return items


def _resolve_existing(path: str | os.PathLike[str], *names: str) -> Path:
    """A file path as given, or the first of ``names`` inside a run directory."""
    p = Path(path)
    if not p.is_dir():
        return p
    for name in names:
        if (p / name).is_file():
            return p / name
    raise CheckpointError(
        f"run directory '{os.fspath(p)}' has no {' or '.join(names)}",
        hint="start a new run, or point at the run directory that has it",
    )


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    params_like: PyTree | None = None,
    opt_state_like: PyTree | None = None,
    spec_hash: str | None = None,
) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (a file or a run directory).

    With ``params_like``/``opt_state_like`` the trees come back with the templates' structure
    and dtypes, after checking every leaf path and shape; with ``spec_hash`` the checkpoint
    must belong to that spec.

    >>> ck = load_checkpoint("runs/a", params_like=params,
    ...                      spec_hash=spec_hash(text))  # doctest: +SKIP
    >>> ck.step  # doctest: +SKIP
    10
    """
    target = _resolve_existing(path, CHECKPOINT_NAME)
    shown = f"checkpoint '{os.fspath(target)}'"
    arrays, meta = _read(target, "checkpoint")
    if meta["format"] != _CHECKPOINT:
        raise CheckpointError(
            f"{shown} is a parameter file, not a training checkpoint",
            hint="load it with load_params, or resume from the run's checkpoint.npz",
        )
    _check_hash(shown, meta.get("spec_hash"), spec_hash)
    params = _restore(arrays, meta["params"], params_like, "params", shown)
    opt_state = None
    if meta.get("opt_state") is not None:
        opt_state = _restore(arrays, meta["opt_state"], opt_state_like, "opt_state", shown)
    elif opt_state_like is not None:
        raise CheckpointError(
            f"{shown} has no optimiser state",
            hint="it was saved without opt_state; restart the optimiser or start a new run",
        )
    return Checkpoint(
        params=params,
        opt_state=opt_state,
        step=int(meta["step"]),
        rng_key=_restore_key(arrays, meta.get("rng_key"), shown),
        spec_hash=str(meta["spec_hash"]),
        extra=dict(meta.get("extra") or {}),
    )


def _restore_key(
    arrays: Mapping[str, np.ndarray], info: Mapping[str, Any] | None, shown: str
) -> jax.Array | None:
    if info is None:
        return None
    if "rng_key" not in arrays:
        raise CheckpointError(f"{shown} is corrupted or truncated (array 'rng_key' is missing)")
    data = jnp.asarray(arrays["rng_key"])
    if not info.get("typed"):
        return data
    try:
        return jax.random.wrap_key_data(data, impl=info.get("impl"))
    except (TypeError, ValueError):
        raise CheckpointError(
            f"{shown} is corrupted or truncated (array 'rng_key' is not a {info.get('impl')} key)"
        ) from None


def load_params(
    path_or_dir: str | os.PathLike[str],
    like: PyTree | None = None,
    *,
    spec_hash: str | None = None,
) -> PyTree:
    """Read parameters from ``params.npz``, a training checkpoint, or a run directory
    (its ``params.npz``, else its ``checkpoint.npz``).

    >>> params = load_params("runs/a", like=init_params)  # doctest: +SKIP
    """
    # A run directory without final parameters still has its latest checkpoint's.
    target = _resolve_existing(path_or_dir, PARAMS_NAME, CHECKPOINT_NAME)
    what = "checkpoint" if target.name == CHECKPOINT_NAME else "parameter file"
    arrays, meta = _read(target, what)
    shown = f"{what} '{os.fspath(target)}'"
    _check_hash(shown, meta.get("spec_hash"), spec_hash)
    return _restore(arrays, meta["params"], like, "params", shown)
