"""Event data: neuromorphic data sets read from the files a user already has, binned into
frames, cached. Nothing here downloads: a missing file is a :class:`~rpgraph.errors.DataError`
naming it and where to fetch it by hand.

Readers (each returns :class:`Events`, all samples flat):

* :func:`read_shd` -- the Spiking Heidelberg Digits / Spiking Speech Commands HDF5 layout
  (``spikes/times`` in seconds and ``spikes/units``, variable-length per sample, ``labels``);
  needs ``h5py`` (``pip install 'rpgraph[events]'``);
* :func:`read_nmnist` -- N-MNIST's original binary files, ``Train/<digit>/<id>.bin``, each
  event 40 bits (:func:`decode_nmnist`);
* :func:`read_event_npz` -- a generic layout for a user's own recordings (see :func:`events`).

:func:`bin_events` turns events into ``(N, T, C)`` frames: bins ``[k dt, (k + 1) dt)`` (an
event on an edge belongs to the later bin; times up to ``1e-9`` (relative) below an edge count
as on it, so 7 ms written as ``7000 * 1e-6 == 0.006999999999999999`` is bin 7 at
``dt = 1 ms``), events at or after
``T dt`` dropped, source units grouped into ``channels`` contiguous bands
(``unit * channels // source_channels``), each frame a count (``reduce = "sum"``) or 0/1
(``"any"``).

The data sets :func:`shd`, :func:`ssc`, :func:`nmnist` and :func:`events` (registered in
:data:`rpgraph.io.data.DATASETS`) bin once and cache the frames in an ``.npz`` under
:func:`cache_dir`, keyed by the source files' identity (path, size, modification time) and
the binning settings, so the second run starts at once. Pixel events (N-MNIST's, or ``x``/``y``
in the generic layout) flatten channel-major, the layout of a shaped input port such as
``input x : (2, 34, 34)``; with ``flatten = false`` the data set keeps that frame shape
(:attr:`~rpgraph.io.data.Dataset.frame`) and the port must match it.

>>> ev = Events(np.array([0.0, 0.0015, 0.002]), np.array([0, 3, 1]), np.array([0, 3]),
...             np.array([1]), channels=4)
>>> bin_events(ev, dt=0.001, length=3, channels=2)[0].tolist()
[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, did_you_mean, known_list
from .data import DATASETS, Dataset
from .npz import atomic_savez, read_npz, resolve_data_path

__all__ = [
    "CACHE_VERSION",
    "NMNIST_FRAME",
    "NMNIST_SIZE",
    "REDUCE",
    "Events",
    "bin_events",
    "cache_dir",
    "decode_nmnist",
    "events",
    "nmnist",
    "read_event_npz",
    "read_nmnist",
    "read_shd",
    "shd",
    "ssc",
]

SHD_URL = "https://zenkelab.org/datasets/"
NMNIST_URL = "https://www.garrickorchard.com/datasets/n-mnist"
#: N-MNIST's sensor: 34 x 34 pixels, two polarities.
NMNIST_SIZE = 34
#: N-MNIST's frames: (polarity, y, x), flattened channel-major into 2312 channels.
NMNIST_FRAME = (2, NMNIST_SIZE, NMNIST_SIZE)
#: Bumped when the cached frames would change for the same files and settings.
CACHE_VERSION = 2
_EDGE = 1e-9  # relative distance to a bin edge that counts as on it


@dataclass(frozen=True, eq=False)
class Events:
    """Events of ``N`` samples, flat: sample ``i`` holds ``times[offsets[i]:offsets[i+1]]``
    (seconds from its start) and the same slice of ``units`` (source channels,
    ``0 <= unit < channels``); ``labels`` are its classes.
    """

    times: np.ndarray
    units: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    channels: int
    # pixel events: the frame shape their units flatten (channel-major), e.g. (2, 34, 34)
    frame: tuple[int, ...] | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])


# --------------------------------------------------------------------------------------------
# Checking and binning.


def check_events(ev: Events, source: str, classes: int | None = None) -> None:
    """Refuse NaN or negative times, units outside ``[0, channels)`` and labels outside
    ``[0, classes)``, naming the sample and event."""
    sample_of = np.repeat(np.arange(len(ev)), np.diff(ev.offsets))
    bad = ~np.isfinite(ev.times) | (ev.times < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{source}: sample {sample_of[i]} has timestamp {ev.times[i]:.6g} "
                        f"(event {i - ev.offsets[sample_of[i]]}); expected finite times >= 0",
                        hint="times are seconds from the start of each sample")
    bad = (ev.units < 0) | (ev.units >= ev.channels)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{source}: sample {sample_of[i]} has unit {ev.units[i]} "
                        f"(event {i - ev.offsets[sample_of[i]]}); the data declare "
                        f"{ev.channels} channels (units 0..{ev.channels - 1})")
    if classes is not None and len(ev) and (ev.labels.min() < 0 or ev.labels.max() >= classes):
        i = int(np.argmax((ev.labels < 0) | (ev.labels >= classes)))
        raise DataError(f"{source}: sample {i} has label {ev.labels[i]}; expected a class "
                        f"0..{classes - 1}")


def _steps(times: np.ndarray, dt: float) -> np.ndarray:
    """``floor(times / dt)``, with times up to :data:`_EDGE` (relative) below an edge put on
    it (one pass: the tolerance is added before the floor)."""
    q = np.asarray(times, dtype=np.float64) / dt
    return np.floor(q + _EDGE * np.maximum(q, 1.0)).astype(np.int64)


def steps_for(duration: float, dt: float) -> int:
    """Bins covering ``duration`` seconds: ``ceil(duration / dt)`` up to floating point.

    >>> steps_for(0.3, 0.1), steps_for(0.31, 0.1)
    (3, 4)
    """
    q = duration / dt
    r = round(q)
    return int(r) if abs(q - r) <= _EDGE * max(1.0, abs(r)) else math.ceil(q)


#: How events in one frame combine: their count, or whether there was any.
REDUCE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sum": lambda counts: counts,
    "any": lambda counts: counts > 0,
}
_CHUNK = 2**21  # frame entries binned at once


def bin_events(ev: Events, *, dt: float, length: int, channels: int = 0,
               reduce: str = "sum") -> np.ndarray:
    """Frames ``(N, length, channels)`` float32 of ``ev`` (see the module notes);
    ``channels = 0`` keeps the source's.

    >>> ev = Events(np.array([0.5, 0.2]), np.array([1, 1]), np.array([0, 2]), np.array([0]), 2)
    >>> bin_events(ev, dt=0.25, length=2, reduce="any")[0].tolist()
    [[0.0, 1.0], [0.0, 0.0]]
    """
    channels = channels or ev.channels
    n = len(ev)
    out = np.empty((n, length, channels), np.float32)
    frame = length * channels
    # chunks of samples: the int64 counts of one chunk stay small and are reused, rather
    # than one int64 array as large as all frames (twice the float32 result)
    per = max(1, _CHUNK // max(frame, 1))
    for lo in range(0, n, per):
        hi = min(n, lo + per)
        a, b = ev.offsets[lo], ev.offsets[hi]
        sample = np.repeat(np.arange(hi - lo, dtype=np.int64), np.diff(ev.offsets[lo:hi + 1]))
        step = _steps(ev.times[a:b], dt)
        flat = (sample * length + step) * channels
        flat += ev.units[a:b].astype(np.int64) * channels // ev.channels
        # events outside [0, length) count into one extra bin, cut off below (cheaper than
        # selecting the others out of three arrays)
        flat[(step < 0) | (step >= length)] = (hi - lo) * frame
        counts = np.bincount(flat, minlength=(hi - lo) * frame + 1)[:-1]
        out[lo:hi] = REDUCE[reduce](counts.reshape(hi - lo, length, channels))
    return out


# --------------------------------------------------------------------------------------------
# Finding files (never downloading them).


def _locate(path: str, base_dir: Path | None, allow_outside: bool, *, name: str,
            get: str, folder: bool = False) -> Path:
    if not path:
        raise DataError(f"dataset '{name}' needs a file: write {name}(path = \"...\")",
                        hint=get)
    full = resolve_data_path(path, base_dir=base_dir, allow_outside=allow_outside)
    if not full.exists():
        gz = full.with_name(full.name + ".gz")
        raise DataError(f"data file '{path}' does not exist",
                        hint=f"unpack it first: gunzip '{gz.name}'" if gz.exists() else
                        f"{get}; rpgraph never downloads")
    if not folder and not full.is_file():  # a FIFO would block the HDF5 reader forever
        raise DataError(f"data file '{path}' is not a regular file",
                        hint="folders, pipes and devices cannot be read as event files")
    return full


def _identity(paths: Iterable[Path]) -> list[list[object]]:
    out: list[list[object]] = []
    for p in paths:
        st = p.stat()
        out.append([os.fspath(p.resolve()), st.st_size, st.st_mtime_ns])
    return out


def cache_dir() -> Path:
    """Where binned data sets are cached: ``$RPGRAPH_CACHE``, else
    ``$XDG_CACHE_HOME/rpgraph`` or ``~/.cache/rpgraph``."""
    if os.environ.get("RPGRAPH_CACHE"):
        return Path(os.environ["RPGRAPH_CACHE"])
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "rpgraph"


Binned = tuple[np.ndarray, np.ndarray, tuple[int, ...] | None]  # frames, labels, frame shape


def _cached(name: str, files: list[Path], settings: dict[str, object], use: bool,
            build: Callable[[], Binned]) -> Binned:
    """``build()``'s frames, labels and frame shape, from the cache when the same files and
    settings were binned before. A damaged or unwritable cache is rebuilt or skipped, never
    fatal."""
    if not use:
        return build()
    key = json.dumps({"v": CACHE_VERSION, "files": _identity(files), **settings},
                     sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    path = cache_dir() / "events" / f"{name}-{digest}.npz"
    if path.is_file():
        try:
            arrays = read_npz(path, what="event cache")
            if {"inputs", "labels", "frame"} <= set(arrays):
                shape = tuple(int(d) for d in arrays["frame"])
                return arrays["inputs"], arrays["labels"], shape or None
        except DataError:
            pass  # damaged: binned afresh below and written over
    inputs, labels, frame = build()
    try:
        atomic_savez(path, {"inputs": inputs, "labels": labels,
                            "frame": np.asarray(frame or (), np.int64)},
                     what="event cache", error=DataError)
    except DataError:
        pass  # a read-only home: the data set still works, only without the cache
    return inputs, labels, frame


def _check_binning(name: str, dt: float, duration: float, length: int, channels: int,
                   reduce: str) -> int:
    """The number of steps, after checking the binning arguments."""
    if not (math.isfinite(dt) and dt > 0):
        raise DataError(f"dataset '{name}': expected dt > 0, got {dt}")
    if reduce not in REDUCE:
        raise DataError(f"dataset '{name}': unknown reduce '{reduce}'; expected one of "
                        f"{known_list(REDUCE)}", hint=did_you_mean(reduce, REDUCE))
    if channels < 0:
        raise DataError(f"dataset '{name}': expected channels >= 0, got {channels}")
    if length:
        if length < 0:
            raise DataError(f"dataset '{name}': expected length >= 1, got {length}")
        return length
    if not (math.isfinite(duration) and duration > 0):
        raise DataError(f"dataset '{name}': expected duration > 0, got {duration}",
                        hint="or give length = STEPS")
    return steps_for(duration, dt)


def _binned_dataset(name: str, files: tuple[list[Path], list[Path]],
                    read: Callable[[list[Path]], Events], *, dt: float, length: int,
                    channels: int, reduce: str, cache: bool,
                    classes: int | None, flatten: bool = True) -> Dataset:
    """The train files' data set (and the test files' as ``.test``), binned or cached;
    ``flatten = False`` keeps pixel events' frame shape (:attr:`Dataset.frame`)."""

    def part(paths: list[Path]) -> Binned:
        def build() -> Binned:
            ev = read(paths)
            if channels > ev.channels:
                raise DataError(f"dataset '{name}': channels = {channels} is more than the "
                                f"{ev.channels} channels of the data",
                                hint=f"use channels <= {ev.channels} (0 keeps them all)")
            return (bin_events(ev, dt=dt, length=length, channels=channels, reduce=reduce),
                    ev.labels.astype(np.int32), ev.frame)

        settings = {"dt": dt, "length": length, "channels": channels, "reduce": reduce}
        return _cached(name, paths, settings, cache, build)

    train_in, train_lb, frame = part(files[0])
    frame = None if flatten else _frame(name, frame, channels, files[0][0])
    count = classes or int(train_lb.max(initial=-1)) + 1
    test = None
    if files[1]:
        test_in, test_lb, test_frame = part(files[1])
        if frame is not None and test_frame != frame:
            raise DataError(f"dataset '{name}': the test data's frames are "
                            f"{_frame_text(test_frame)} but the training data's {frame}",
                            hint="give both parts pixel events (x, y) of one sensor size")
        if test_in.shape[2] != train_in.shape[2]:
            raise DataError(f"dataset '{name}': the test data have {test_in.shape[2]} "
                            f"channels but the training data {train_in.shape[2]}",
                            hint="declare the channel count in both files (a scalar "
                            "'channels'), or bin to a fixed width with channels = N")
        count = classes or max(count, int(test_lb.max(initial=-1)) + 1)
        test = Dataset(test_in, labels=test_lb, name=name, num_classes=count, frame=frame)
    return Dataset(train_in, labels=train_lb, name=name, test=test, num_classes=count,
                   frame=frame)


def _frame_text(frame: tuple[int, ...] | None) -> str:
    return "plain channels" if frame is None else str(frame)


def _frame(name: str, frame: tuple[int, ...] | None, channels: int, source: Path
           ) -> tuple[int, ...]:
    """The frame shape ``flatten = false`` keeps: the data must be pixel events, binned
    without grouping channels (bands would cut across rows and polarities)."""
    if frame is None:
        raise DataError(f"dataset '{name}': flatten = false needs pixel events (x, y with "
                        f"width and height), but '{source.name}' holds units",
                        hint="use flatten = true (one channel per unit)")
    if channels and channels != math.prod(frame):
        raise DataError(f"dataset '{name}': channels = {channels} groups the pixels into "
                        f"bands, which breaks the {frame} frames that flatten = false keeps",
                        hint="leave channels out, or use flatten = true")
    return frame


# --------------------------------------------------------------------------------------------
# SHD / SSC (HDF5).


def _h5py() -> Any:  # the module; h5py ships no type hints
    try:
        import h5py
    except ImportError:
        raise DataError("reading HDF5 event files needs the h5py package, which is not "
                        "installed", hint="pip install 'rpgraph[events]'") from None
    return h5py


def _flat(times: np.ndarray, units: np.ndarray, shown: str) -> tuple[np.ndarray, ...]:
    if times.shape[0] != units.shape[0]:
        raise DataError(f"{shown}: 'spikes/times' has {times.shape[0]} samples but "
                        f"'spikes/units' has {units.shape[0]}")
    lengths = np.array([np.size(t) for t in times], dtype=np.int64)
    ulengths = np.array([np.size(u) for u in units], dtype=np.int64)
    if (lengths != ulengths).any():
        i = int(np.argmax(lengths != ulengths))
        raise DataError(f"{shown}: sample {i} has {lengths[i]} times but {ulengths[i]} units")
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return _concat(times, np.float64), _concat(units, np.int64), offsets


def _concat(parts: np.ndarray, dtype: type) -> np.ndarray:
    if not len(parts):
        return np.zeros(0, dtype)
    return np.concatenate([np.ravel(p).astype(dtype) for p in parts])


def read_shd(path: str | os.PathLike[str], *, channels: int = 700, classes: int | None = 20,
             display: str | None = None) -> Events:
    """Events of an SHD/SSC HDF5 file (``spikes/times``, ``spikes/units``, ``labels``),
    checked: times finite and >= 0, units below ``channels``, labels below ``classes``.

    >>> ev = read_shd("data/shd_test.h5")  # doctest: +SKIP
    >>> len(ev), ev.channels  # doctest: +SKIP
    (2264, 700)
    """
    h5py = _h5py()
    shown = f"data file '{display or os.fspath(path)}'"
    try:
        with h5py.File(path, "r") as f:
            arrays = {}
            for key in ("spikes/times", "spikes/units", "labels"):
                item = f.get(key)
                if not isinstance(item, h5py.Dataset):
                    raise DataError(f"{shown} has no dataset '{key}' (the SHD/SSC layout is "
                                    "spikes/times, spikes/units and labels)")
                arrays[key] = item[()]
    except OSError:  # h5py's own text varies between versions; the file is named
        raise DataError(f"{shown} is not an HDF5 file, or it is damaged or truncated",
                        hint="SHD/SSC files are gunzipped .h5 files") from None
    times, units, offsets = _flat(arrays["spikes/times"], arrays["spikes/units"], shown)
    labels = np.asarray(arrays["labels"])
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or labels.shape[0] != len(offsets) - 1:
        raise DataError(f"{shown}: 'labels' has shape {labels.shape} and dtype {labels.dtype}; "
                        f"expected {len(offsets) - 1} integer labels")
    ev = Events(times, units, offsets, labels.astype(np.int64), channels)
    check_events(ev, shown, classes)
    return ev


def _hdf5_dataset(name: str, get: str, source_channels: int, classes: int, path: str,
                  test: str, dt: float, duration: float, length: int, channels: int,
                  reduce: str, cache: bool, base_dir: Path | None,
                  allow_outside: bool) -> Dataset:
    steps = _check_binning(name, dt, duration, length, channels, reduce)
    shown = {}
    files: tuple[list[Path], list[Path]] = ([], [])
    for part, given in ((0, path), (1, test)):
        if part == 0 or given:
            full = _locate(given, base_dir, allow_outside, name=name, get=get)
            shown[full] = given
            files[part].append(full)

    def read(paths: list[Path]) -> Events:
        return read_shd(paths[0], channels=source_channels, classes=classes,
                        display=shown[paths[0]])

    return _binned_dataset(name, files, read, dt=dt, length=steps, channels=channels,
                           reduce=reduce, cache=cache, classes=classes)


def shd(path: str = "", test: str = "", dt: float = 0.01, duration: float = 1.0,
        length: int = 0, channels: int = 0, reduce: str = "sum", cache: bool = True, *,
        base_dir: Path | None = None, allow_outside: bool = False) -> Dataset:
    """The Spiking Heidelberg Digits (700 cochlea channels, 20 classes) from the official
    ``shd_train.h5`` / ``shd_test.h5`` (https://zenkelab.org/datasets/, gunzipped).

    ``dt`` is the bin width in seconds; ``length`` steps, or ``duration`` seconds (events
    later are dropped); ``channels`` the width after grouping units (0: all 700);
    ``reduce`` ``"sum"`` (counts) or ``"any"`` (0/1); ``test`` the held-out file.

    >>> ds = shd(path="shd_train.h5", test="shd_test.h5", dt=0.01, channels=128)  # doctest: +SKIP
    >>> ds.inputs.shape, ds.num_classes  # doctest: +SKIP
    ((8156, 100, 128), 20)
    """
    get = f"download shd_train.h5.gz and shd_test.h5.gz from {SHD_URL} and gunzip them"
    return _hdf5_dataset("shd", get, 700, 20, path, test, dt, duration, length, channels,
                         reduce, cache, base_dir, allow_outside)


def ssc(path: str = "", test: str = "", dt: float = 0.01, duration: float = 1.0,
        length: int = 0, channels: int = 0, reduce: str = "sum", cache: bool = True, *,
        base_dir: Path | None = None, allow_outside: bool = False) -> Dataset:
    """The Spiking Speech Commands (700 channels, 35 classes) from the official
    ``ssc_train.h5`` / ``ssc_valid.h5`` / ``ssc_test.h5``; arguments as :func:`shd`.

    >>> ds = ssc(path="ssc_train.h5", test="ssc_test.h5", channels=128)  # doctest: +SKIP
    """
    get = f"download ssc_train.h5.gz and ssc_test.h5.gz from {SHD_URL} and gunzip them"
    return _hdf5_dataset("ssc", get, 700, 35, path, test, dt, duration, length, channels,
                         reduce, cache, base_dir, allow_outside)


# --------------------------------------------------------------------------------------------
# N-MNIST (binary files, 40-bit events).


def decode_nmnist(raw: bytes, *, source: str = "N-MNIST file") -> tuple[np.ndarray, ...]:
    """``(x, y, polarity, t_us)`` int64 arrays of N-MNIST's 40-bit events: byte 0 is x,
    byte 1 y, the top bit of byte 2 the polarity, the other 23 bits the timestamp in µs
    (big-endian).

    >>> [a.tolist() for a in decode_nmnist(bytes([3, 4, 0x80, 0x01, 0x02]))]
    [[3], [4], [1], [258]]
    """
    if len(raw) % 5:
        raise DataError(f"{source} is truncated: {len(raw)} bytes is not a whole number of "
                        "5-byte (40-bit) events")
    a = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 5).astype(np.int64)
    t = ((a[:, 2] & 0x7F) << 16) | (a[:, 3] << 8) | a[:, 4]
    return a[:, 0], a[:, 1], a[:, 2] >> 7, t


def _nmnist_files(root: Path, shown: str) -> list[tuple[Path, int]]:
    if not root.is_dir():
        raise DataError(f"{shown} is not a folder; expected N-MNIST's Train or Test folder "
                        "(subfolders 0..9 of .bin files)")
    out = [(f, int(d.name)) for d in sorted(root.iterdir()) if d.is_dir() and d.name.isdigit()
           for f in sorted(d.glob("*.bin"))]
    if not out:
        raise DataError(f"{shown} holds no N-MNIST files (expected subfolders 0..9 of .bin "
                        "files)", hint=f"unzip Train.zip and Test.zip from {NMNIST_URL}")
    return out


def read_nmnist(root: str | os.PathLike[str], *, display: str | None = None) -> Events:
    """Events of an N-MNIST folder (``<digit>/<id>.bin``; labels are the folder names), each
    event's unit ``polarity * 34 * 34 + y * 34 + x`` (flattened frames), times in seconds.

    >>> ev = read_nmnist("NMNIST/Test")  # doctest: +SKIP
    >>> len(ev), ev.channels  # doctest: +SKIP
    (10000, 2312)
    """
    shown = f"data folder '{display or os.fspath(root)}'"
    files = _nmnist_files(Path(root), shown)
    side = NMNIST_SIZE
    times, units, counts = [], [], []
    for f, _ in files:
        x, y, p, t = decode_nmnist(f.read_bytes(), source=f"data file '{f}'")
        if len(x) and (x.max() >= side or y.max() >= side):
            raise DataError(f"data file '{f}': pixel ({x.max()}, {y.max()}) is outside "
                            f"N-MNIST's {side} x {side} sensor")
        times.append(t * 1e-6)
        units.append(p * side * side + y * side + x)
        counts.append(len(t))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    labels = np.array([label for _, label in files], dtype=np.int64)
    return Events(np.concatenate(times), np.concatenate(units), offsets, labels,
                  2 * side * side, frame=NMNIST_FRAME)


def nmnist(path: str = "", test: str = "", dt: float = 0.001, duration: float = 0.3,
           length: int = 0, channels: int = 0, reduce: str = "sum", cache: bool = True,
           flatten: bool = True, *, base_dir: Path | None = None,
           allow_outside: bool = False) -> Dataset:
    """N-MNIST from its original ``Train``/``Test`` folders of binary files: 2312 channels,
    channel ``polarity * 1156 + y * 34 + x`` (the ``(2, 34, 34)`` frames flattened
    channel-major, the layout of a shaped input port). ``flatten = false`` keeps the frame
    shape with the data (:attr:`~rpgraph.io.data.Dataset.frame`), so the input port must be
    ``(2, 34, 34)``; ``flatten = true`` gives plain channels, which ``channels = N`` may group
    into bands. Other arguments as :func:`shd`.

    >>> ds = nmnist(path="NMNIST/Train", test="NMNIST/Test", flatten=False)  # doctest: +SKIP
    >>> ds.inputs.shape, ds.frame  # doctest: +SKIP
    ((60000, 300, 2312), (2, 34, 34))
    """
    if not flatten:  # refused before reading 60,000 files
        _frame("nmnist", NMNIST_FRAME, channels, Path(path))
    steps = _check_binning("nmnist", dt, duration, length, channels, reduce)
    get = f"download Train.zip and Test.zip from {NMNIST_URL} and unzip them"
    roots = {"train": _locate(path, base_dir, allow_outside, name="nmnist", get=get,
                              folder=True)}
    if test:
        roots["test"] = _locate(test, base_dir, allow_outside, name="nmnist", get=get,
                                folder=True)
    shown = {roots["train"]: path, roots.get("test"): test}

    def files(root: Path) -> list[Path]:
        return [f for f, _ in _nmnist_files(root, f"data folder '{shown[root]}'")]

    parts = ([roots["train"], *files(roots["train"])],
             [roots["test"], *files(roots["test"])] if test else [])
    return _binned_dataset(
        "nmnist", parts, lambda paths: read_nmnist(paths[0], display=shown[paths[0]]),
        dt=dt, length=steps, channels=channels, reduce=reduce, cache=cache, classes=10,
        flatten=flatten)


# --------------------------------------------------------------------------------------------
# A generic layout for a user's own recordings.


def _int_array(arrays: dict[str, np.ndarray], key: str, shown: str, ndim: int = 1
               ) -> np.ndarray:
    a = arrays[key]
    if a.dtype.kind not in "iu" or a.ndim != ndim:
        want = "an integer scalar" if ndim == 0 else "a 1-D integer array"
        raise DataError(f"{shown}: array '{key}' has shape {a.shape} and dtype {a.dtype}; "
                        f"expected {want}")
    return a.astype(np.int64)


def _event_units(arrays: dict[str, np.ndarray], shown: str
                 ) -> tuple[np.ndarray, int, tuple[int, ...] | None]:
    """Units, the declared channel count and (pixel events) the frame shape, from ``units``
    or ``x``/``y``/``polarity``."""
    if "units" in arrays:
        units = _int_array(arrays, "units", shown)
        declared = (int(_int_array(arrays, "channels", shown, 0)) if "channels" in arrays
                    else int(units.max(initial=-1)) + 1)
        return units, max(declared, 1), None
    if "x" not in arrays:
        raise DataError(f"{shown} has no array 'units' or 'x' (it holds: "
                        f"{', '.join(sorted(arrays))})",
                        hint="save units (one channel per event), or x, y, polarity with "
                        "width and height")
    for key in ("width", "height"):
        if key not in arrays:
            raise DataError(f"{shown} has 'x' but no scalar '{key}' (the sensor size)")
    width = int(_int_array(arrays, "width", shown, 0))
    height = int(_int_array(arrays, "height", shown, 0))
    x = _int_array(arrays, "x", shown)
    y = _int_array(arrays, "y", shown) if "y" in arrays else np.zeros_like(x)
    out_of = (x < 0) | (x >= width) | (y < 0) | (y >= height)
    if out_of.any():
        i = int(np.argmax(out_of))
        raise DataError(f"{shown}: event {i} is at pixel ({x[i]}, {y[i]}), outside the "
                        f"{width} x {height} sensor")
    unit = y * width + x
    if "polarity" not in arrays:
        return unit, width * height, (1, height, width)
    on = (np.asarray(arrays["polarity"]) > 0).astype(np.int64)  # ON (> 0) or OFF
    return on * width * height + unit, 2 * width * height, (2, height, width)


def read_event_npz(path: str | os.PathLike[str], *, display: str | None = None) -> Events:
    """Events of a generic ``.npz`` (the layout is described under :func:`events`).

    >>> ev = read_event_npz("my_events.npz")  # doctest: +SKIP
    """
    shown = f"data file '{display or os.fspath(path)}'"
    arrays = read_npz(path, display=display)
    for key in ("times", "sample", "labels"):
        if key not in arrays:
            raise DataError(f"{shown} has no array '{key}' (it holds: "
                            f"{', '.join(sorted(arrays)) or 'no arrays'})",
                            hint="an event file holds times, sample, labels and units "
                            "(or x, y, polarity)")
    times = np.asarray(arrays["times"])
    if times.dtype.kind not in "fiu" or times.ndim != 1:
        raise DataError(f"{shown}: array 'times' has shape {times.shape} and dtype "
                        f"{times.dtype}; expected 1-D times in seconds")
    sample = _int_array(arrays, "sample", shown)
    labels = _int_array(arrays, "labels", shown)
    units, declared, frame = _event_units(arrays, shown)
    if not len(times) == len(sample) == len(units):
        raise DataError(f"{shown}: 'times', 'sample' and the units have {len(times)}, "
                        f"{len(sample)} and {len(units)} entries; expected one per event")
    bad = (sample < 0) | (sample >= len(labels))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{shown}: event {i} belongs to sample {sample[i]}, but 'labels' "
                        f"has {len(labels)} samples")
    order = np.argsort(sample, kind="stable")  # events grouped by sample, order kept
    offsets = np.concatenate([[0], np.cumsum(np.bincount(sample, minlength=len(labels)))])
    ev = Events(times.astype(np.float64)[order], units[order], offsets, labels, declared,
                frame)
    check_events(ev, shown)
    if len(labels) == 0 or labels.min() < 0:
        raise DataError(f"{shown}: 'labels' must hold class indices 0..K-1 for at least one "
                        "sample")
    return ev


def events(path: str = "", test: str = "", dt: float = 0.001, duration: float = 1.0,
           length: int = 0, channels: int = 0, reduce: str = "sum", cache: bool = True,
           flatten: bool = True, *, base_dir: Path | None = None,
           allow_outside: bool = False) -> Dataset:
    """A user's own events from an ``.npz`` (and ``test`` another), binned like :func:`shd`.

    The file holds one entry per event in ``times`` (seconds from the start of its sample)
    and ``sample`` (which sample, ``0..N-1``), ``labels (N,)`` (classes), and the place as
    either ``units`` (a channel index; optional scalar ``channels`` declares how many, else
    ``max(units) + 1``) or pixels ``x``, ``y`` with scalars ``width``, ``height`` and
    optional ``polarity`` (> 0 is ON), flattened to channel
    ``on * width * height + y * width + x``. Events need not be sorted. ``flatten = false``
    keeps pixel events' frame shape, ``(2, height, width)`` with polarity, else
    ``(1, height, width)``, for a shaped input port (as :func:`nmnist`).

    >>> np.savez("my.npz", times=[0.0, 0.01], sample=[0, 1], units=[2, 0],
    ...          labels=[0, 1])  # doctest: +SKIP
    >>> events(path="my.npz", dt=0.01, length=2).inputs.shape  # doctest: +SKIP
    (2, 2, 3)
    """
    steps = _check_binning("events", dt, duration, length, channels, reduce)
    get = "write it with np.savez(path, times=..., sample=..., units=..., labels=...)"
    files: tuple[list[Path], list[Path]] = ([], [])
    shown = {}
    for part, given in ((0, path), (1, test)):
        if part == 0 or given:
            full = _locate(given, base_dir, allow_outside, name="events", get=get)
            shown[full] = given
            files[part].append(full)
    return _binned_dataset(
        "events", files, lambda paths: read_event_npz(paths[0], display=shown[paths[0]]),
        dt=dt, length=steps, channels=channels, reduce=reduce, cache=cache, classes=None,
        flatten=flatten)


DATASETS.update({"shd": shd, "ssc": ssc, "nmnist": nmnist, "events": events})
