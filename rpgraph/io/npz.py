"""Safe ``.npz`` files: bounded reading without pickle, atomic writing, confined data paths.

Data sets and checkpoints share this module, so a file is checked the same way whatever it
holds:

* :func:`open_npz` opens regular files only (a FIFO would block, ``/dev/zero`` never ends),
  checks the zip signature, and gives an :class:`NpzReader` that reads each ``.npy`` member's
  header -- shape and dtype -- *before* unpacking its data. Callers compare the header with
  what they expect; :meth:`NpzReader.read` then refuses object arrays (they need pickle),
  members whose zip entry declares another size than their header describes, and arrays
  beyond :data:`MAX_NPZ_BYTES` in all, so a small compressed file cannot unpack to gigabytes.
* :func:`read_npz` reads every array of a file that way (data files).
* :func:`atomic_savez` writes a temporary file, fsyncs it and renames it over the target.
* :func:`resolve_data_path` keeps a spec's data paths inside the spec's folder.

Every problem is raised as the caller's error class (:class:`~rpgraph.errors.DataError` for
data, :class:`~rpgraph.errors.CheckpointError` for checkpoints) and names the file.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
import stat
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import CheckpointError, DataError, SpecError, did_you_mean

__all__ = [
    "MAX_NPZ_BYTES",
    "Header",
    "NpzReader",
    "atomic_savez",
    "open_npz",
    "read_npz",
    "remove_stale_temps",
    "resolve_data_path",
]

#: The most bytes of array data one ``.npz`` file may unpack to (all members together).
#: Raise it (``rpgraph.io.npz.MAX_NPZ_BYTES = ...``) to read larger files.
MAX_NPZ_BYTES = 4 * 2**30

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or an empty archive
_NPY_MAGIC = b"\x93NUMPY"
# What a damaged archive or .npy member can raise while being read.
_CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, NotImplementedError)
# bzip2 and lzma members decompress without an output bound (one 4 KiB read can become
# gigabytes); np.savez stores and np.savez_compressed deflates, and deflate is read bounded.
_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
# Format 3.0 differs from 2.0 only in allowing utf-8 field names, which plain arrays lack.
_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
    (3, 0): np.lib.format.read_array_header_2_0,
}
_FILE_KINDS = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows would otherwise translate newlines
# O_NONBLOCK: opening a FIFO must not wait for a writer (the file is refused right after).
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | _O_BINARY


@dataclass(frozen=True)
class Header:
    """What a ``.npy`` member's header declares, read without touching its data."""

    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int  # header bytes before the data

    @property
    def nbytes(self) -> int:
        """Bytes of array data the header announces."""
        return math.prod(self.shape) * self.dtype.itemsize


def _size(n: int) -> str:
    """A byte count for messages: ``_size(6 * 2**30) == '6.0 GiB'``."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _shape(shape: tuple[int, ...]) -> str:
    return str(tuple(int(d) for d in shape))


class NpzReader:
    """An open ``.npz`` archive whose members are checked before they are unpacked.

    Made by :func:`open_npz`; ``keys()`` are the ``.npy`` member names without the suffix
    (other members are ignored, as ``np.load`` does).
    """

    def __init__(self, file: BinaryIO, shown: str, error: type[SpecError], limit: int) -> None:
        self.shown = shown
        self.error = error
        self._limit, self._used = limit, 0
        self._zip = zipfile.ZipFile(file)
        self._members = {
            name[: -len(".npy")]: self._zip.getinfo(name)
            for name in self._zip.namelist()
            if name.endswith(".npy")
        }
        self._headers: dict[str, Header] = {}

    def keys(self) -> list[str]:
        """Array names in archive order."""
        return list(self._members)

    def __contains__(self, key: object) -> bool:
        return key in self._members

    @contextlib.contextmanager
    def _corruption(self) -> Iterator[None]:
        """Report what a damaged archive raises as this file being corrupted."""
        try:
            yield
        except SpecError:
            raise
        except _CORRUPT as exc:
            raise self._corrupted(f"while reading: {_brief(exc)}") from None

    def _corrupted(self, note: str | None = None) -> SpecError:
        """The "corrupted or truncated" error, with the low-level reason as a note."""
        # The reason varies with Python/numpy versions: a note, not the message.
        return self.error(f"{self.shown} is corrupted or truncated",
                          notes=[(None, note)] if note else [])

    def header(self, key: str) -> Header:
        """Shape and dtype of array ``key``, from its ``.npy`` header only."""
        if key in self._headers:
            return self._headers[key]
        info = self._members[key]
        if info.flag_bits & 0x1 or info.compress_type not in _METHODS:
            how = ("encrypted" if info.flag_bits & 0x1
                   else f"compressed with method {info.compress_type}")
            raise self.error(
                f"{self.shown}: array '{key}' is {how}; rpgraph reads arrays stored by "
                "np.savez or np.savez_compressed")
        with self._corruption(), self._zip.open(info) as f:
            read = _HEADER_READERS.get(np.lib.format.read_magic(f))
            if read is None:
                raise ValueError("unknown .npy format version")
            shape, _, dtype = read(f)
            offset = f.tell()
        if dtype.hasobject:
            raise self.error(
                f"{self.shown} holds an object array ('{key}'); "
                "rpgraph loads .npz files without pickle",
                hint="save plain numeric arrays, e.g. np.asarray(x, dtype=np.float32)",
            )
        self._headers[key] = head = Header(tuple(shape), dtype, offset)
        return head

    def read(self, key: str, *, limit: int | None = None) -> np.ndarray:
        """Array ``key``, unpacked only after its header and declared size pass the limits
        (the file's, and ``limit`` for this one array if given)."""
        head = self.header(key)
        if limit is not None and head.nbytes > limit:
            raise self._too_large(key, head, f"the {_size(limit)} limit for '{key}'")
        if head.nbytes > self._limit - self._used:
            already = f" ({_size(self._used)} already read)" if self._used else ""
            raise self._too_large(key, head, f"the {_size(self._limit)} limit per file{already}",
                                  hint="to read more, raise rpgraph.io.npz.MAX_NPZ_BYTES")
        declared = self._members[key].file_size
        if declared != head.offset + head.nbytes:
            raise self._corrupted(f"member '{key}.npy' declares {declared} bytes; its header "
                                 f"describes {head.offset + head.nbytes}")
        with self._corruption(), self._zip.open(self._members[key]) as f:
            array = np.lib.format.read_array(f, allow_pickle=False)
        if array.shape != head.shape or array.dtype != head.dtype:  # the file changed meanwhile
            raise self._corrupted(f"array '{key}' changed while it was read")
        self._used += head.nbytes
        return array

    def _too_large(self, key: str, head: Header, limit: str, hint: str | None = None
                   ) -> SpecError:
        return self.error(
            f"{self.shown}: array '{key}' of shape {_shape(head.shape)} and dtype {head.dtype} "
            f"would unpack to {_size(head.nbytes)}, over {limit}", hint=hint)


def _brief(exc: BaseException) -> str:
    text = str(exc).strip().rstrip(".")
    return text[:120] if text else type(exc).__name__


def _missing_hint(path: Path) -> str | None:
    try:
        siblings = [p.name for p in path.parent.iterdir() if p.suffix == ".npz"]
    except OSError:
        return None
    return did_you_mean(path.name, siblings)


def _open_regular(path: Path, shown: str, error: type[SpecError]) -> BinaryIO:
    """The file opened for reading, if it is a regular file."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise error(f"{shown} does not exist", hint=_missing_hint(path)) from None
    except IsADirectoryError:
        raise error(f"{shown} is a directory; expected a .npz file") from None
    except OSError as exc:
        raise error(f"{shown} cannot be read: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode  # of what was opened: no window to swap the file
    if stat.S_ISREG(mode):
        return os.fdopen(fd, "rb")
    os.close(fd)
    if stat.S_ISDIR(mode):
        raise error(f"{shown} is a directory; expected a .npz file")
    kind = _FILE_KINDS.get(stat.S_IFMT(mode), "not a regular file")
    raise error(f"{shown} is {kind}, not a .npz file",
                hint="rpgraph reads .npz archives from regular files only")


def _check_magic(f: BinaryIO, shown: str, error: type[SpecError]) -> None:
    try:
        head = f.read(8)
        f.seek(0)
    except OSError as exc:
        raise error(f"{shown} cannot be read: {exc.strerror or exc}") from None
    if not head:
        raise error(f"{shown} is empty (0 bytes); expected a .npz archive")
    if head.startswith(_NPY_MAGIC):
        raise error(
            f"{shown} is a .npy file holding a single array; expected a .npz archive",
            hint="save named arrays with np.savez(path, inputs=..., targets=...)",
        )
    if not head.startswith(_ZIP_MAGIC):
        raise error(f"{shown} is not a .npz archive (it does not start with a zip header)")


@contextlib.contextmanager
def open_npz(
    path: str | os.PathLike[str],
    *,
    what: str = "data file",
    error: type[SpecError] = DataError,
    display: str | None = None,
    limit: int | None = None,
) -> Iterator[NpzReader]:
    """Open a ``.npz`` file for checked reading (see :class:`NpzReader`).

    ``what`` and ``display`` name the file in messages (``data file 'x.npz' ...``);
    ``limit`` caps the bytes all arrays read may unpack to (default :data:`MAX_NPZ_BYTES`).

    >>> with open_npz("missing.npz") as npz:  # doctest: +IGNORE_EXCEPTION_DETAIL
    ...     pass
    Traceback (most recent call last):
    rpgraph.errors.DataError: data file 'missing.npz' does not exist
    """
    shown = f"{what} '{display if display is not None else os.fspath(path)}'"
    if "\x00" in os.fspath(path):
        raise error(f"{shown} is not a valid path (it contains a NUL character)")
    f = _open_regular(Path(path), shown, error)
    try:
        _check_magic(f, shown, error)
        try:
            reader = NpzReader(f, shown, error, MAX_NPZ_BYTES if limit is None else limit)
        except _CORRUPT as exc:
            raise error(f"{shown} is corrupted or truncated",
                        notes=[(None, f"while reading: {_brief(exc)}")]) from None
        yield reader
    finally:
        f.close()


def read_npz(
    path: str | os.PathLike[str],
    *,
    what: str = "data file",
    error: type[SpecError] = DataError,
    display: str | None = None,
    limit: int | None = None,
) -> dict[str, np.ndarray]:
    """Read every array of a ``.npz`` file, checked and without pickle (see :func:`open_npz`).

    >>> read_npz("missing.npz")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    rpgraph.errors.DataError: data file 'missing.npz' does not exist
    """
    with open_npz(path, what=what, error=error, display=display, limit=limit) as npz:
        return {key: npz.read(key) for key in npz.keys()}


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


def atomic_savez(
    path: Path,
    arrays: Mapping[str, np.ndarray],
    *,
    what: str,
    error: type[SpecError] = CheckpointError,
    temp: Path | None = None,
) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` at ``path``, atomically: a crash leaves
    the old file or the new one, never a partial one. ``temp`` names the temporary file (a
    run folder, locked by its one writer, uses a fixed name so that a leftover is known by
    its exact name); by default it gets a unique name.

    >>> atomic_savez(Path("runs/a/params.npz"), {"w": np.ones(3)},
    ...              what="parameter file")  # doctest: +SKIP
    """
    # Same folder as the target, so os.replace is a rename within one file system; the
    # ".tmp" suffix keeps a leftover from a crash from ever being read as the file itself.
    tmp = temp or path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    created = False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if temp is not None:  # a leftover of a killed writer (unlink never follows a link)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        # os.open applies the umask, so the file gets the same mode a plain open() would;
        # O_EXCL with O_NOFOLLOW: never write through a link planted at the temporary name.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY
                     | getattr(os, "O_NOFOLLOW", 0), 0o666)
        created = True
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        created = False
        _fsync_dir(path.parent)
    except OSError as exc:
        raise error(f"cannot write {what} '{os.fspath(path)}': {exc.strerror or exc}") from None
    finally:
        if created:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def remove_stale_temps(path: Path) -> None:
    """Delete the temporary files :func:`atomic_savez` left beside ``path`` when its process
    was killed mid-write (matched by their exact name pattern; links are never followed).

    >>> remove_stale_temps(Path("runs/a/checkpoint.npz"))  # doctest: +SKIP
    """
    pattern = re.compile(rf"\.{re.escape(path.name)}\.\d+\.[0-9a-f]+\.tmp")
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return  # no folder, no leftovers
    for entry in entries:
        if pattern.fullmatch(entry.name) and stat.S_ISREG(entry.lstat().st_mode):
            entry.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# Data paths.


def resolve_data_path(
    path: str | os.PathLike[str],
    *,
    base_dir: str | os.PathLike[str] | None = None,
    allow_outside: bool = False,
) -> Path:
    """Where a data path from a spec points: relative to ``base_dir`` (the spec's folder),
    and, unless ``allow_outside``, never outside it (no absolute paths, ``..`` or symlinks out).

    >>> resolve_data_path("data/x.npz", base_dir="/specs").as_posix()
    '/specs/data/x.npz'
    """
    if "\x00" in os.fspath(path):
        raise DataError(f"data file {os.fspath(path)!r} is not a valid path "
                        "(it contains a NUL character)")
    raw = Path(path)
    if base_dir is None:
        return raw
    base = Path(base_dir)
    full = raw if raw.is_absolute() else base / raw
    if allow_outside:
        return full
    # resolve() follows symlinks, so a link pointing out of the folder is caught too.
    inside = full.resolve().is_relative_to(base.resolve())
    if raw.is_absolute() or not inside:
        raise DataError(
            f"data file '{os.fspath(path)}' is outside the spec's folder '{os.fspath(base)}'",
            hint="pass --allow-outside to read files outside the spec's folder",
        )
    return full
