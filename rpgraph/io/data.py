"""Data sets for training: built-in generators, ``.npz`` files and Rockpool-style objects.

Every data set becomes a :class:`Dataset` of ``float32`` arrays shaped ``(N, T, C)``:

* regression: ``inputs (N, T, C_in)`` and ``targets (N, T, C_out)``;
* classification: ``inputs (N, T, C_in)`` and integer ``labels (N,)``.

Sources:

* :data:`DATASETS` -- built-in generators looked up by the spec's ``data = NAME(kwargs)``
  (see :func:`make_dataset`): ``sinusoids`` (Rockpool's ``MultiClassRandomSinMapping``) and
  ``digits`` (scikit-learn's bundled 8x8 digits, spike- or rate-encoded).
* :func:`load_npz` -- a ``.npz`` file with ``inputs`` and ``targets`` or ``labels`` (and
  optionally ``test_inputs`` with ``test_targets`` or ``test_labels`` for a held-out split).
  Files are read by :mod:`rpgraph.io.npz`: never with pickle, and checked before unpacking.
* :func:`from_dataset_protocol` -- any object with ``__len__``/``__getitem__`` returning
  ``(input (T, C_in), target (T, C_out) or int label)``, like the Rockpool tutorial's data set.

Every problem is a :class:`~rpgraph.errors.DataError` whose message names the file or data
set, the array and the shapes involved, e.g.
``data file 'x.npz': array 'inputs' has shape (3, 100); expected 3 dimensions (N, T, C_in)``.
"""

from __future__ import annotations

import difflib
import inspect
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..errors import DataError, did_you_mean, known_list
from .npz import read_npz, resolve_data_path

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetProtocol",
    "check_against_spec",
    "check_dataset",
    "digits",
    "from_arrays",
    "from_dataset_protocol",
    "load_npz",
    "make_dataset",
    "sinusoids",
    "validate_labels",
]


class DatasetProtocol(Protocol):
    """What Rockpool-style data sets offer: a length and indexed ``(input, target)`` pairs."""

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> Any: ...


# eq=False: numpy arrays have no single truth value, so a generated __eq__ would raise.
@dataclass(frozen=True, eq=False)
class Dataset:
    """A whole data set in memory, as float32 ``(N, T, C)`` arrays.

    Exactly one of ``targets`` (regression) and ``labels`` (classification) is set.

    >>> ds = sinusoids(classes=2, length=10, channels_in=4, channels_out=1)
    >>> len(ds), ds.kind, ds[0][0].shape
    (2, 'regression', (10, 4))
    """

    inputs: np.ndarray
    targets: np.ndarray | None = None
    labels: np.ndarray | None = None
    name: str = "dataset"
    test: Dataset | None = None
    num_classes: int | None = None

    def __post_init__(self) -> None:
        if (self.targets is None) == (self.labels is None):
            raise DataError(
                f"dataset '{self.name}': expected exactly one of targets and labels, got "
                + ("both" if self.targets is not None else "neither")
            )

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | int]]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        # Shapes, not contents: a default dataclass repr would print megabytes of numbers.
        out = self.targets if self.targets is not None else self.labels
        assert out is not None
        test = f", test={len(self.test)} samples" if self.test is not None else ""
        return (
            f"Dataset(name={self.name!r}, kind={self.kind!r}, inputs{_shape(self.inputs.shape)}, "
            f"{'targets' if self.targets is not None else 'labels'}{_shape(out.shape)}{test})"
        )

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray | int]:
        """Sample ``i`` as ``(input (T, C_in), target (T, C_out) or int label)``."""
        if self.targets is not None:
            return self.inputs[i], self.targets[i]
        assert self.labels is not None
        return self.inputs[i], int(self.labels[i])

    @property
    def kind(self) -> str:
        """``"regression"`` (targets) or ``"classification"`` (labels)."""
        return "regression" if self.targets is not None else "classification"

    @property
    def length(self) -> int:
        """Time steps per sample (``T``)."""
        return int(self.inputs.shape[1])

    @property
    def n_in(self) -> int:
        """Input channels (``C_in``)."""
        return int(self.inputs.shape[2])

    @property
    def n_out(self) -> int:
        """Target channels, or the number of classes for classification."""
        if self.targets is not None:
            return int(self.targets.shape[2])
        return int(self.num_classes or 0)


# --------------------------------------------------------------------------------------------
# Array validation shared by files and protocol objects.


def _shape(shape: tuple[int, ...]) -> str:
    # Python prints 1-tuples as "(3,)"; keep that so shapes read exactly like numpy's.
    return str(tuple(int(d) for d in shape))


def _real_array(array: np.ndarray, *, array_name: str, source: str) -> np.ndarray:
    """Cast a real numeric array (float, int or bool) to float32; reject anything else."""
    if array.dtype.kind not in "fiub":
        raise DataError(
            f"{source}: array '{array_name}' has dtype {array.dtype}; "
            "expected real numbers (float, int or bool)",
            hint="store inputs and targets as float32",
        )
    with np.errstate(over="ignore"):  # float64 overflow becomes inf, reported just below
        out = np.ascontiguousarray(array, dtype=np.float32)
    _check_finite(out, array_name=array_name, source=source)
    return out


def _check_finite(array: np.ndarray, *, array_name: str, source: str) -> None:
    bad = ~np.isfinite(array)
    count = int(np.count_nonzero(bad))
    if count:
        first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), array.shape))
        raise DataError(
            f"{source}: array '{array_name}' holds {count} non-finite value"
            f"{'s' if count != 1 else ''} (NaN or inf); the first is at index {first}",
            hint="replace or drop those samples, e.g. with np.nan_to_num",
        )


def _check_rank(array: np.ndarray, *, array_name: str, source: str, axes: tuple[str, ...]) -> None:
    rank = len(axes)
    if array.ndim != rank:
        layout = "(" + ", ".join(axes) + ("," if rank == 1 else "") + ")"
        raise DataError(
            f"{source}: array '{array_name}' has shape {_shape(array.shape)}; "
            f"expected {rank} dimension{'s' if rank != 1 else ''} {layout}"
        )
    if 0 in array.shape:
        raise DataError(
            f"{source}: array '{array_name}' has shape {_shape(array.shape)}; "
            "expected a non-empty data set (every dimension at least 1)"
        )


def validate_labels(labels: np.ndarray, *, source: str, array_name: str = "labels") -> np.ndarray:
    """Check class labels are a non-empty 1-D array of non-negative integers; return int32.

    >>> validate_labels(np.array([0, 2, 1]), source="dataset 'd'").dtype
    dtype('int32')
    """
    if labels.dtype.kind not in "iu":
        hint = "labels are class indices 0, 1, ..., K-1"
        if labels.dtype.kind == "f" and np.all(np.isfinite(labels)):
            if np.all(labels == np.round(labels)):
                hint = "the values are whole numbers: save labels.astype(np.int32)"
        raise DataError(
            f"{source}: array '{array_name}' has dtype {labels.dtype}; expected integers",
            hint=hint,
        )
    _check_rank(labels, array_name=array_name, source=source, axes=("N",))
    low = int(labels.min())
    if low < 0:
        first = int(np.argmax(labels < 0))
        raise DataError(
            f"{source}: array '{array_name}' holds negative labels "
            f"(label {low}; the first negative is at index {first}); "
            "expected class indices 0..K-1"
        )
    high = int(labels.max())
    if high > np.iinfo(np.int32).max:
        raise DataError(
            f"{source}: array '{array_name}' holds label {high}; "
            "expected class indices that fit int32"
        )
    return np.ascontiguousarray(labels, dtype=np.int32)


def from_arrays(
    inputs: np.ndarray,
    targets: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    *,
    name: str = "dataset",
    source: str | None = None,
    names: tuple[str, str, str] = ("inputs", "targets", "labels"),
    test: Dataset | None = None,
) -> Dataset:
    """Validate raw arrays and build a :class:`Dataset` (float32 inputs/targets, int32 labels).

    ``source`` names the data in messages (default ``dataset '<name>'``); ``names`` are the
    array names shown in messages (a file's ``test_inputs`` etc.).

    >>> ds = from_arrays(np.zeros((4, 10, 3)), labels=np.array([0, 1, 1, 0]), name="toy")
    >>> ds.kind, ds.num_classes
    ('classification', 2)
    """
    source = source or f"dataset '{name}'"
    in_name, target_name, label_name = names
    if (targets is None) == (labels is None):
        raise DataError(
            f"{source}: expected exactly one of '{target_name}' (regression) and "
            f"'{label_name}' (classification), got "
            + ("both" if targets is not None else "neither")
        )
    inputs = np.asarray(inputs)
    _check_rank(inputs, array_name=in_name, source=source, axes=("N", "T", "C_in"))
    inputs = _real_array(inputs, array_name=in_name, source=source)
    if targets is not None:
        targets = np.asarray(targets)
        _check_rank(targets, array_name=target_name, source=source, axes=("N", "T", "C_out"))
        if targets.shape[:2] != inputs.shape[:2]:
            raise DataError(
                f"{source}: arrays '{in_name}' and '{target_name}' disagree on samples or "
                f"time steps: expected '{target_name}' of shape "
                f"({inputs.shape[0]}, {inputs.shape[1]}, C_out) to match '{in_name}' "
                f"{_shape(inputs.shape)}, got {_shape(targets.shape)}"
            )
        targets = _real_array(targets, array_name=target_name, source=source)
        return Dataset(inputs, targets=targets, name=name, test=test)
    assert labels is not None
    labels = validate_labels(np.asarray(labels), source=source, array_name=label_name)
    if labels.shape[0] != inputs.shape[0]:
        raise DataError(
            f"{source}: arrays '{in_name}' and '{label_name}' disagree on the number of "
            f"samples: expected '{label_name}' of shape ({inputs.shape[0]},) to match "
            f"'{in_name}' {_shape(inputs.shape)}, got {_shape(labels.shape)}"
        )
    return Dataset(inputs, labels=labels, name=name, test=test, num_classes=int(labels.max()) + 1)


# --------------------------------------------------------------------------------------------
# Built-in data sets.


def sinusoids(
    classes: int = 3,
    length: int = 100,
    channels_in: int = 2000,
    channels_out: int = 2,
    seed: int = 0,
) -> Dataset:
    """Rockpool's ``MultiClassRandomSinMapping``: one random input pattern per class, mapped
    to a random sinusoid per output channel (regression, one sample per class).

    Draws from ``np.random.RandomState(seed)`` in the tutorial's order, so
    ``np.random.seed(s)`` then the tutorial's class gives the same arrays (cast to float32).

    >>> ds = sinusoids(classes=3, length=100, channels_in=20, channels_out=2)
    >>> ds.inputs.shape, ds.targets.shape
    ((3, 100, 20), (3, 100, 2))
    """
    for arg, value in (
        ("classes", classes),
        ("length", length),
        ("channels_in", channels_in),
        ("channels_out", channels_out),
    ):
        if value < 1:
            raise DataError(f"dataset 'sinusoids': expected {arg} >= 1, got {value}")
    rng = np.random.RandomState(seed)
    # Same calls, same order as the tutorial: inputs, then phases, then frequencies.
    inputs = rng.randn(classes, length, channels_in) + 1.0
    phase = rng.rand(classes, 1, channels_out) * 2 * np.pi
    omega = rng.rand(classes, 1, channels_out) * length / 50
    time_base = np.atleast_2d(np.arange(length) / length).T
    targets = np.sin(2 * np.pi * omega * time_base + phase)
    return Dataset(inputs.astype(np.float32), targets=targets.astype(np.float32), name="sinusoids")


DIGIT_ENCODINGS = ("rate", "poisson", "latency", "rows")


def _encode_digits(
    intensity: np.ndarray, *, encoding: str, length: int, gain: float, rng: np.random.RandomState
) -> np.ndarray:
    """Turn ``(N, 64)`` intensities in [0, 1] into ``(N, length, 64)`` float32 inputs."""
    n, channels = intensity.shape
    if encoding == "rows":
        # a time series: image row r (8 pixels) is the input for steps r * hold .. (r+1) * hold
        hold = max(1, length // 8)
        rows = (intensity * gain).reshape(n, 8, 8)
        return np.ascontiguousarray(np.repeat(rows, hold, axis=1), dtype=np.float32)
    if encoding == "rate":
        return np.ascontiguousarray(
            np.broadcast_to((intensity * gain)[:, None, :], (n, length, channels)),
            dtype=np.float32,
        )
    prob = np.clip(intensity * gain, 0.0, 1.0)
    if encoding == "poisson":
        return (rng.rand(n, length, channels) < prob[:, None, :]).astype(np.float32)
    # latency: one spike per lit pixel, brighter pixels earlier; dark pixels stay silent.
    out = np.zeros((n, length, channels), dtype=np.float32)
    sample, channel = np.nonzero(prob > 0)
    step = np.rint((1.0 - prob[sample, channel]) * (length - 1)).astype(np.int64)
    out[sample, step, channel] = 1.0
    return out


def digits(
    encoding: str = "rate",
    length: int = 50,
    split: float = 0.25,
    seed: int = 0,
    gain: float = 1.0,
) -> Dataset:
    """scikit-learn's bundled 8x8 handwritten digits (1797 samples, no download), as a
    10-class classification set with 64 input channels.

    Encodings: ``"rate"`` (intensity/16 * gain held over time, an analog current),
    ``"poisson"`` (Bernoulli spikes with probability intensity/16 * gain per step) and
    ``"latency"`` (one spike per lit pixel, at step ``(1 - p) * (length - 1)``) and ``"rows"``
    (a time series of 8 channels: the image's rows top to bottom, each held for
    ``length // 8`` steps, intensity * gain; ``T = 8 * max(1, length // 8)``). The split is
    stratified and seeded; the returned data set is the training part, ``.test`` the rest.

    >>> ds = digits(length=20)
    >>> ds.inputs.shape, len(ds.test), ds.num_classes
    ((1347, 20, 64), 450, 10)
    """
    from sklearn.datasets import load_digits  # imported lazily: sklearn is slow to import
    from sklearn.model_selection import train_test_split

    if encoding not in DIGIT_ENCODINGS:
        raise DataError(
            f"dataset 'digits': unknown encoding '{encoding}'; expected one of "
            + ", ".join(f"'{e}'" for e in DIGIT_ENCODINGS),
            hint=did_you_mean(encoding, DIGIT_ENCODINGS),
        )
    if length < 1:
        raise DataError(f"dataset 'digits': expected length >= 1, got {length}")
    if not 0.0 <= split < 1.0:
        raise DataError(f"dataset 'digits': expected 0 <= split < 1, got {split}")
    if not (math.isfinite(gain) and gain >= 0):
        raise DataError(f"dataset 'digits': expected a finite gain >= 0, got {gain}")

    bunch = load_digits()
    intensity = np.asarray(bunch.data, dtype=np.float64) / 16.0
    labels = np.asarray(bunch.target, dtype=np.int32)
    index = np.arange(len(labels))
    if split > 0:
        train_idx, test_idx = train_test_split(
            index, test_size=split, random_state=seed, stratify=labels
        )
    else:
        train_idx, test_idx = np.random.RandomState(seed).permutation(index), index[:0]
    rng = np.random.RandomState(seed)

    def encode(idx: np.ndarray) -> np.ndarray:
        return _encode_digits(intensity[idx], encoding=encoding, length=length, gain=gain, rng=rng)

    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    train_inputs = encode(train_idx)  # train first, so spikes depend only on the arguments
    test = None
    if len(test_idx):
        test = Dataset(encode(test_idx), labels=labels[test_idx], name="digits", num_classes=10)
    return Dataset(train_inputs, labels=labels[train_idx], name="digits", test=test, num_classes=10)


DATASETS: dict[str, Callable[..., Dataset]] = {
    "sinusoids": sinusoids,
    "digits": digits,
}


def _check_kwarg_type(name: str, arg: str, value: object, default: object) -> None:
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(value, bool) and isinstance(default, bool)  # `classes=true` is wrong
    elif isinstance(default, int):
        ok = isinstance(value, (int, np.integer))
    elif isinstance(default, float):
        ok = isinstance(value, (int, float, np.integer, np.floating))
    elif isinstance(default, str):
        ok = isinstance(value, str)
    else:
        ok = True
    if not ok:
        raise DataError(
            f"dataset '{name}': argument '{arg}' expects {type(default).__name__}, "
            f"got {type(value).__name__} {value!r}"
        )


def make_dataset(name: str, kwargs: Mapping[str, object] | None = None) -> Dataset:
    """Build the built-in data set ``name`` with the spec's keyword arguments.

    >>> make_dataset("sinusoids", {"channels_in": 20}).n_in
    20
    >>> make_dataset("sinusoid")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    rpgraph.errors.DataError: unknown data set 'sinusoid'
    """
    kwargs = dict(kwargs or {})
    check_dataset(name, kwargs)
    return DATASETS[name](**kwargs)


def check_dataset(name: str, kwargs: Mapping[str, object]) -> None:
    """Check a built-in data set's name and keyword arguments without generating it (what
    ``rpgraph check`` needs: the digits set, for one, reads scikit-learn's files).

    >>> check_dataset("sinusoids", {"classes": 2.5})  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    rpgraph.errors.DataError: dataset 'sinusoids': argument 'classes' expects int, got float 2.5
    """
    if name not in DATASETS:
        raise DataError(
            f"unknown data set '{name}'; known data sets: {known_list(DATASETS)}",
            hint=did_you_mean(name, DATASETS)
            or "or load a file: a .npz with 'inputs' and 'targets' or 'labels'",
        )
    factory = DATASETS[name]
    params = inspect.signature(factory).parameters
    for arg, value in kwargs.items():
        if arg not in params:
            raise DataError(
                f"dataset '{name}' has no argument '{arg}'; it accepts: " + ", ".join(params),
                hint=did_you_mean(arg, params),
            )
        _check_kwarg_type(name, arg, value, params[arg].default)


# --------------------------------------------------------------------------------------------
# .npz data files (read by rpgraph.io.npz: bounded, without pickle, paths confined).


def _rename_hint(wanted: str, present: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(wanted, sorted(present), n=1, cutoff=0.6)
    return f"rename array '{close[0]}' to '{wanted}'" if close else None


def _pick_labels_or_targets(
    arrays: Mapping[str, np.ndarray], prefix: str, shown: str
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    names = {k: f"{prefix}{k}" for k in ("inputs", "targets", "labels")}
    present = ", ".join(f"'{k}'" for k in sorted(arrays)) or "no arrays"
    if names["inputs"] not in arrays:
        raise DataError(
            f"{shown} has no array '{names['inputs']}' (it holds: {present})",
            hint=_rename_hint(names["inputs"], arrays)
            or "save with np.savez(path, inputs=..., targets=...) or labels=...",
        )
    has_t, has_l = names["targets"] in arrays, names["labels"] in arrays
    if has_t and has_l:
        raise DataError(
            f"{shown} holds both '{names['targets']}' and '{names['labels']}'; "
            "expected exactly one (targets for regression, labels for classification)"
        )
    if not (has_t or has_l):
        raise DataError(
            f"{shown} has no array '{names['targets']}' or '{names['labels']}' "
            f"(it holds: {present})",
            hint=_rename_hint(names["targets"], arrays)
            or _rename_hint(names["labels"], arrays)
            or "save with np.savez(path, inputs=..., targets=...) or labels=...",
        )
    return (
        arrays[names["inputs"]],
        arrays.get(names["targets"]),
        arrays.get(names["labels"]),
    )


def load_npz(
    path: str | os.PathLike[str],
    *,
    allow_outside: bool = False,
    base_dir: str | os.PathLike[str] | None = None,
) -> Dataset:
    """Load a data set from a ``.npz`` file (never with pickle).

    The file holds ``inputs (N, T, C_in)`` and either ``targets (N, T, C_out)`` or integer
    ``labels (N,)``; optionally ``test_inputs`` with ``test_targets``/``test_labels`` for a
    held-out split. With ``base_dir`` (the spec's folder), relative paths are resolved
    against it and must stay inside it unless ``allow_outside``.

    >>> ds = load_npz("data/sin.npz", base_dir="specs")  # doctest: +SKIP
    >>> ds.inputs.shape  # doctest: +SKIP
    (3, 100, 2000)
    """
    full = resolve_data_path(path, base_dir=base_dir, allow_outside=allow_outside)
    display = os.fspath(path)
    shown = f"data file '{display}'"
    arrays = read_npz(full, what="data file", error=DataError, display=display)
    test = None
    if any(k.startswith("test_") for k in arrays):
        t_in, t_tg, t_lb = _pick_labels_or_targets(arrays, "test_", shown)
        test = from_arrays(
            t_in,
            t_tg,
            t_lb,
            name=display,
            source=shown,
            names=("test_inputs", "test_targets", "test_labels"),
        )
    inputs, targets, labels = _pick_labels_or_targets(arrays, "", shown)
    ds = from_arrays(inputs, targets, labels, name=display, source=shown, test=test)
    if test is not None:
        _check_test_matches(ds, test, shown)
    return ds


def _check_test_matches(ds: Dataset, test: Dataset, shown: str) -> None:
    if test.kind != ds.kind:
        raise DataError(f"{shown}: the training part is {ds.kind} but the test part is {test.kind}")
    if test.n_in != ds.n_in or (ds.targets is not None and test.n_out != ds.n_out):
        want = ds.targets.shape[2:] if ds.targets is not None else ()
        got = test.targets.shape[2:] if test.targets is not None else ()
        raise DataError(
            f"{shown}: test arrays have {test.n_in} input channels"
            + (f" and {got[0]} target channels" if got else "")
            + f"; expected {ds.n_in}"
            + (f" and {want[0]}" if want else "")
            + " like the training arrays"
        )


# --------------------------------------------------------------------------------------------
# Rockpool-style data set objects.


def from_dataset_protocol(obj: DatasetProtocol, *, name: str = "dataset") -> Dataset:
    """Stack an object with ``__len__``/``__getitem__`` (returning ``(input (T, C_in),
    target (T, C_out) or int label)``) into a :class:`Dataset`.

    >>> class Pairs:
    ...     def __len__(self): return 2
    ...     def __getitem__(self, i): return np.ones((5, 3)) * i, i
    >>> from_dataset_protocol(Pairs()).labels.tolist()
    [0, 1]
    """
    source = f"dataset '{name}'"
    if not (isinstance(obj, Sized) and hasattr(obj, "__getitem__")):
        raise DataError(
            f"{source}: expected an object with __len__ and __getitem__ (like Rockpool's "
            f"data sets), got {type(obj).__name__}"
        )
    count = len(obj)
    if count < 1:
        raise DataError(f"{source}: expected at least one sample, got len() == {count}")
    inputs: list[np.ndarray] = []
    outputs: list[np.ndarray] = []
    is_label = False
    for i in range(count):
        x, y = _sample(obj, i, source)
        y_is_label = y.ndim == 0
        if i == 0:
            is_label = y_is_label
        elif y_is_label != is_label:
            raise DataError(
                f"{source}: sample {i} has a "
                + ("label" if y_is_label else f"target of shape {_shape(y.shape)}")
                + "; expected "
                + ("a label" if is_label else "a target array")
                + " like sample 0"
            )
        for what, new, seen in (("input", x, inputs), ("target", y, outputs)):
            if seen and new.shape != seen[0].shape:
                raise DataError(
                    f"{source}: sample {i} {what} has shape {_shape(new.shape)}; "
                    f"expected {_shape(seen[0].shape)} like sample 0"
                )
        inputs.append(x)
        outputs.append(y)
    stacked_in, stacked_out = np.stack(inputs), np.stack(outputs)
    if is_label:
        return from_arrays(stacked_in, labels=stacked_out, name=name, source=source)
    return from_arrays(stacked_in, stacked_out, name=name, source=source)


def _sample(obj: DatasetProtocol, i: int, source: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        item = obj[i]
    except Exception as exc:  # the user's own code: report which sample broke, and why
        raise DataError(
            f"{source}: reading sample {i} failed: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise DataError(
            f"{source}: sample {i} is a {type(item).__name__}; expected a pair "
            "(input, target_or_label)"
        )
    x, y = np.asarray(item[0]), np.asarray(item[1])
    if x.ndim != 2:
        raise DataError(
            f"{source}: sample {i} input has shape {_shape(x.shape)}; expected (T, C_in)"
        )
    if y.ndim not in (0, 2):
        raise DataError(
            f"{source}: sample {i} target has shape {_shape(y.shape)}; "
            "expected (T, C_out) or an integer label"
        )
    return x, y


# --------------------------------------------------------------------------------------------
# Checking a data set against a compiled spec.


def check_against_spec(
    ds: Dataset,
    *,
    n_in: int,
    n_out: int,
    source: str,
    input_name: str = "input",
    output_name: str = "output",
) -> None:
    """Check the data's channel counts fit the network's input and output widths.

    ``source`` names the data in messages, e.g. ``"data file 'x.npz'"`` or
    ``"dataset 'digits'"``; the test split (if any) is checked too.

    >>> check_against_spec(sinusoids(channels_in=20), n_in=20, n_out=2, source="dataset 's'")
    """
    _check_widths(ds, n_in, n_out, source, input_name, output_name, prefix="")
    if ds.test is not None:
        _check_widths(ds.test, n_in, n_out, source, input_name, output_name, prefix="test_")


def _check_widths(
    ds: Dataset,
    n_in: int,
    n_out: int,
    source: str,
    input_name: str,
    output_name: str,
    *,
    prefix: str,
) -> None:
    if ds.n_in != n_in:
        raise DataError(
            f"{source}: array '{prefix}inputs' has shape {_shape(ds.inputs.shape)}; "
            f"expected (N, T, {n_in}) for input '{input_name}' : {n_in}",
            hint=f"make input '{input_name}' {ds.n_in} wide, or use data with {n_in} channels",
        )
    if ds.targets is not None:
        if ds.targets.shape[2] != n_out:
            raise DataError(
                f"{source}: array '{prefix}targets' has shape {_shape(ds.targets.shape)}; "
                f"expected (N, T, {n_out}) for output '{output_name}' : {n_out}",
                hint=f"make output '{output_name}' {ds.targets.shape[2]} wide",
            )
        return
    assert ds.labels is not None
    top = int(ds.labels.max())
    if top >= n_out:
        classes = max(top + 1, ds.num_classes or 0)
        raise DataError(
            f"{source}: labels out of range: max label {top} but output '{output_name}' "
            f"has {n_out} channel{'s' if n_out != 1 else ''}",
            hint=f"a classifier needs one output channel per class: make output "
            f"'{output_name}' {classes} wide",
        )
