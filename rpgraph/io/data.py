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
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass, fields
from typing import Annotated, Any, Protocol, get_type_hints

import numpy as np

from ..errors import DataError, Span, did_you_mean, known_list
from ..memory import Estimate, refuse_above
from ..ranges import AT_LEAST_1, NON_NEGATIVE, SEED, Range, range_error
from .encode import ENCODERS, encode
from .npz import read_npz, resolve_data_path

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetProtocol",
    "Ports",
    "check_against_spec",
    "check_ports",
    "check_dataset",
    "digits",
    "encoded",
    "from_arrays",
    "from_dataset_protocol",
    "from_port_arrays",
    "load_npz",
    "make_dataset",
    "port_arrays",
    "sinusoids",
    "uses_port_names",
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
    # Networks with several inputs or outputs: every array by port name (inputs (N, T, C);
    # outputs (N, T, C) float targets or (N,) int labels). ``inputs`` and ``targets``/
    # ``labels`` then hold the first port's arrays, so counts and lengths read the same.
    x: Mapping[str, np.ndarray] | None = None
    y: Mapping[str, np.ndarray] | None = None
    # The per-step shape the ``C`` channels are laid out in, flattened channel-major
    # (``(2, 34, 34)`` for N-MNIST frames); checked against a shaped input port. ``None``:
    # plain channels, which any port of the same size takes.
    frame: tuple[int, ...] | None = None

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

    def input_arrays(self, names: Sequence[str]) -> dict[str, np.ndarray]:
        """The inputs by input port (``names``: the network's inputs, for single-port data).

        >>> sinusoids(classes=2, length=3, channels_in=4).input_arrays(["x"])["x"].shape
        (2, 3, 4)
        """
        return dict(self.x) if self.x is not None else {names[0]: self.inputs}

    def output_arrays(self, names: Sequence[str]) -> dict[str, np.ndarray]:
        """The targets (float ``(N, T, C)``) or labels (int ``(N,)``) by output port."""
        if self.y is not None:
            return dict(self.y)
        out = self.targets if self.targets is not None else self.labels
        assert out is not None
        return {names[0]: out}

    def take(self, index: np.ndarray, name: str | None = None) -> Dataset:
        """The samples at ``index`` (no test part), e.g. a validation split.

        >>> sinusoids(classes=3, length=4, channels_in=2).take(np.array([2])).inputs.shape
        (1, 4, 2)
        """
        def pick(a: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(a[index])

        return Dataset(
            pick(self.inputs),
            targets=None if self.targets is None else pick(self.targets),
            labels=None if self.labels is None else pick(self.labels),
            name=name or self.name, num_classes=self.num_classes,
            x=None if self.x is None else {k: pick(v) for k, v in self.x.items()},
            y=None if self.y is None else {k: pick(v) for k, v in self.y.items()},
            frame=self.frame,
        )

    def split(self, fraction: float, seed: int = 0) -> tuple[Dataset, Dataset]:
        """``(train, validation)``: a seeded random ``fraction`` of the samples held out
        (at least one sample each side); the test part stays with the training part.

        >>> train, val = sinusoids(classes=10, length=4, channels_in=2).split(0.2)
        >>> len(train), len(val)
        (8, 2)
        """
        train, val = self.split_indices(fraction, seed)
        train_ds = self.take(train)
        train_ds = Dataset(**{**_fields(train_ds), "test": self.test})
        return train_ds, self.take(val, name=f"{self.name} (validation)")

    def split_indices(self, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The sample indices (sorted) of :meth:`split`'s ``(train, validation)`` parts.

        >>> [a.tolist() for a in sinusoids(classes=5, length=4, channels_in=2).split_indices(
        ...     0.4)]
        [[1, 3, 4], [0, 2]]
        """
        n = len(self)
        k = int(round(n * fraction))
        if not 0.0 < fraction < 1.0 or k < 1 or k >= n:
            raise DataError(
                f"dataset '{self.name}': a validation split of {fraction:g} of {n} "
                f"sample{'s' if n != 1 else ''} leaves "
                + ("no validation samples" if k < 1 else "no training samples"),
                hint="use a fraction between 0 and 1 that leaves at least one sample on "
                "each side, or give test_data = \"FILE.npz\"",
            )
        perm = np.random.RandomState(seed % 2**32).permutation(n)
        return np.sort(perm[k:]), np.sort(perm[:k])


def _fields(ds: Dataset) -> dict[str, Any]:
    return {f.name: getattr(ds, f.name) for f in fields(ds)}


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
    classes: Annotated[int, AT_LEAST_1] = 3,
    length: Annotated[int, AT_LEAST_1] = 100,
    channels_in: Annotated[int, AT_LEAST_1] = 2000,
    channels_out: Annotated[int, AT_LEAST_1] = 2,
    seed: Annotated[int, SEED] = 0,
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
    if encoding == "rows":
        # a time series: image row r (8 pixels) is the input for steps r * hold .. (r+1) * hold
        hold = max(1, length // 8)
        rows = (intensity * gain).reshape(len(intensity), 8, 8)
        return np.ascontiguousarray(np.repeat(rows, hold, axis=1), dtype=np.float32)
    # the shared encoders (rpgraph.io.encode) draw and round exactly as this loader did
    return ENCODERS[encoding](intensity, length=length, gain=gain, rng=rng)


def digits(
    encoding: str = "rate",
    length: Annotated[int, AT_LEAST_1] = 50,
    split: Annotated[float, Range(0, 1, hi_open=True)] = 0.25,
    seed: Annotated[int, SEED] = 0,
    gain: Annotated[float, NON_NEGATIVE] = 1.0,
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


def encoded(
    path: str = "",
    encoding: str = "rate",
    length: int = 50,
    gain: float = 1.0,
    threshold: float = 0.1,
    seed: int = 0,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    allow_outside: bool = False,
) -> Dataset:
    """A ``.npz`` of dense ``inputs`` and integer ``labels`` (optionally ``test_inputs`` and
    ``test_labels``) turned into inputs over time by an encoder of :mod:`rpgraph.io.encode`:
    ``rate``/``poisson``/``latency`` take ``inputs (N, C)`` in [0, 1] (times ``gain``),
    ``delta`` takes ``inputs (N, T, C)`` and gives ``2 C`` up/down channels.

    >>> ds = encoded(path="pixels.npz", encoding="poisson", length=30)  # doctest: +SKIP
    """
    source = f"data file '{path}'"
    if not path:
        raise DataError('dataset \'encoded\' needs a file: write encoded(path = "x.npz")')
    full = resolve_data_path(path, base_dir=base_dir, allow_outside=allow_outside)
    arrays = read_npz(full, display=path)
    rng = np.random.RandomState(seed)
    parts: dict[str, Dataset] = {}
    for prefix in ("", "test_") if "test_inputs" in arrays else ("",):
        for key in (f"{prefix}inputs", f"{prefix}labels"):
            if key not in arrays:
                raise DataError(f"{source} has no array '{key}' (it holds: "
                                + ", ".join(sorted(arrays)) + ")",
                                hint=_rename_hint(key, arrays))
        x = _real_array(arrays[f"{prefix}inputs"], array_name=f"{prefix}inputs", source=source)
        spikes = encode(x, encoding, length=length, gain=gain, threshold=threshold, rng=rng,
                        source=f"dataset 'encoded' ({path})")
        parts[prefix] = from_arrays(spikes, labels=arrays[f"{prefix}labels"], name=path,
                                    source=source, names=(f"{prefix}inputs", "",
                                                          f"{prefix}labels"))
    train, test = parts[""], parts.get("test_")
    classes = max(train.n_out, test.n_out if test else 0)
    if test is not None:
        test = Dataset(test.inputs, labels=test.labels, name=path, num_classes=classes)
    return Dataset(train.inputs, labels=train.labels, name=path, test=test, num_classes=classes)


DATASETS: dict[str, Callable[..., Dataset]] = {
    "sinusoids": sinusoids,
    "digits": digits,
    "encoded": encoded,
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


def _sinusoids_bytes(classes: int = 3, length: int = 100, channels_in: int = 2000,
                     channels_out: int = 2, **_: object) -> float:
    # float64 draws, then their float32 copies
    return classes * length * (channels_in + channels_out) * (8 + 4)


DIGITS_SAMPLES, DIGITS_CLASSES, DIGITS_CHANNELS = 1797, 10, 64


def _digits_bytes(length: int = 50, split: float = 0.25, **_: object) -> float:
    # a stratified split needs a sample of every class on each side
    n_test = math.ceil(split * DIGITS_SAMPLES)
    if split > 0 and min(n_test, DIGITS_SAMPLES - n_test) < DIGITS_CLASSES:
        raise DataError(f"dataset 'digits': a split of {split:g} leaves "
                        f"{min(n_test, DIGITS_SAMPLES - n_test)} of {DIGITS_SAMPLES} samples on "
                        f"one side; each side needs at least {DIGITS_CLASSES} (one per class)",
                        hint="use a split between 0.006 and 0.994, or 0 for no test part")
    return DIGITS_SAMPLES * length * DIGITS_CHANNELS * 4


#: Bytes each built-in data set takes to generate, from its arguments alone (also where
#: arguments that are fine one by one but not together are refused).
DATASET_BYTES: dict[str, Callable[..., float]] = {
    "sinusoids": _sinusoids_bytes,
    "digits": _digits_bytes,
}


def _hints(factory: Callable[..., Dataset]) -> Mapping[str, Any]:
    """The factory's annotations with their ``Annotated`` ranges (none if unresolvable)."""
    try:
        return get_type_hints(factory, include_extras=True)
    except (NameError, TypeError):  # pragma: no cover - a data set annotated loosely
        return {}


def _check_kwarg_range(name: str, arg: str, value: object, hints: Mapping[str, Any]) -> None:
    """A number against the :class:`~rpgraph.ranges.Range` its signature annotates."""
    for rng in getattr(hints.get(arg), "__metadata__", ()):
        if isinstance(rng, Range) and isinstance(value, (int, float)) \
                and not isinstance(value, bool):
            message = range_error(arg, value, rng)
            if message is not None:
                raise DataError(f"dataset '{name}': {message}")


def make_dataset(
    name: str,
    kwargs: Mapping[str, object] | None = None,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    allow_outside: bool = False,
) -> Dataset:
    """Build the built-in data set ``name`` with the spec's keyword arguments.

    >>> make_dataset("sinusoids", {"channels_in": 20}).n_in
    20
    >>> make_dataset("sinusoid")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    rpgraph.errors.DataError: unknown data set 'sinusoid'
    """
    kwargs = dict(kwargs or {})
    check_dataset(name, kwargs)
    if "base_dir" in inspect.signature(DATASETS[name]).parameters:
        # data sets that read files (keyword-only: not settable from a spec) resolve
        # their paths against the spec's folder and keep inside it
        kwargs.update(base_dir=base_dir, allow_outside=allow_outside)
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
    params = {k: p for k, p in inspect.signature(factory).parameters.items()
              if p.kind is not p.KEYWORD_ONLY}  # keyword-only: set by the loader, not a spec
    for arg, value in kwargs.items():
        if arg not in params:
            raise DataError(
                f"dataset '{name}' has no argument '{arg}'; it accepts: " + ", ".join(params),
                hint=did_you_mean(arg, params),
            )
        _check_kwarg_type(name, arg, value, params[arg].default)
        _check_kwarg_range(name, arg, value, _hints(factory))
    if name in DATASET_BYTES:
        # sizes are static: refuse what cannot fit before generating it
        refuse_above(Estimate((("data", DATASET_BYTES[name](**kwargs)),)),
                     f"dataset '{name}'", error=DataError)


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
    ports: Ports | None = None,
) -> Dataset:
    """Load a data set from a ``.npz`` file (never with pickle).

    A file for a network with several inputs or outputs names its arrays after the ports
    (see :func:`from_port_arrays`); with ``ports`` they are checked against the network in
    the same pass, every mismatch reported at once.

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
    if uses_port_names(arrays) and "inputs" not in arrays:
        return from_port_arrays(arrays, ports=ports, name=display, source=shown)
    arrays = _single_port_aliases(arrays)
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


#: The short single-port names (``x``, ``target``), read as ``inputs`` and ``targets``.
SINGLE_PORT_ALIASES = {"x": "inputs", "target": "targets", "test_x": "test_inputs",
                       "test_target": "test_targets"}


def _single_port_aliases(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``x``/``target`` as ``inputs``/``targets``, in a file that uses the short scheme
    (``x`` without ``inputs``); a file with ``inputs`` keeps the long names throughout.

    >>> sorted(_single_port_aliases({"x": np.zeros(1), "labels": np.zeros(1)}))
    ['inputs', 'labels']
    """
    out = dict(arrays)
    if "x" not in out or "inputs" in out:
        return out
    for short, long in SINGLE_PORT_ALIASES.items():
        if short in out and long not in out:
            out[long] = out.pop(short)
    return out


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
    in_shape: tuple[int, ...] = (),
    in_span: Span | None = None,
) -> None:
    """Check the data's channel counts fit the network's input and output widths.

    ``source`` names the data in messages, e.g. ``"data file 'x.npz'"`` or
    ``"dataset 'digits'"``; the test split (if any) is checked too. ``in_shape`` is a shaped
    input port's ``(2, 34, 34)``: it takes ``n_in`` plain channels (the frames flattened
    channel-major), or data whose :attr:`Dataset.frame` is that shape; a mismatch of shapes
    is located at ``in_span`` (the port's declaration).

    >>> check_against_spec(sinusoids(channels_in=20), n_in=20, n_out=2, source="dataset 's'")
    """
    for part, prefix in ((ds, ""), (ds.test, "test_")):
        if part is not None:
            _check_frames(part, n_in, in_shape, source, input_name, prefix, in_span)
            _check_widths(part, n_in, n_out, source, input_name, output_name, prefix=prefix)


def _check_frames(ds: Dataset, n_in: int, in_shape: tuple[int, ...], source: str,
                  input_name: str, prefix: str, span: Span | None) -> None:
    """Data with a frame shape, or a shaped port: both shapes named when they disagree."""
    shaped = len(in_shape) > 1
    if ds.frame is None and not shaped:
        return  # plain channels into a vector: _check_widths says it
    port = f"input '{input_name}' : {_shape(in_shape) if shaped else n_in}"
    have = f"{source}: array '{prefix}inputs' has shape {_shape(ds.inputs.shape)}"
    if ds.frame is None:
        if ds.n_in != n_in:
            raise DataError(
                f"{have}; expected (N, T, {n_in}) for {port}", span,
                hint=f"the input takes {_shape(in_shape)} frames flattened channel-major "
                f"({n_in} channels); or declare input '{input_name}' : {ds.n_in}")
        return
    have += f" (frames {_shape(ds.frame)} flattened)"
    if ds.n_in != n_in:
        raise DataError(f"{have}; expected (N, T, {n_in}) for {port}", span,
                        hint=f"declare input '{input_name}' : {_shape(ds.frame)}")
    if ds.frame != (in_shape if shaped else (n_in,)):
        want = f"frames {_shape(in_shape)}" if shaped else "plain channels"
        raise DataError(f"{have}; expected {want} for {port}", span,
                        hint=f"declare input '{input_name}' : {_shape(ds.frame)}"
                        + ("" if shaped else ", or bin with flatten = true"))


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


# --------------------------------------------------------------------------------------------
# Networks with several inputs and outputs: arrays named after the ports.

#: ``x_<input>``, ``target_<output>`` (regression) or ``labels_<output>`` (classification),
#: each with ``test_`` in front for a held-out part.
PORT_ROLES = ("x", "target", "labels")
_PORT_KEY = re.compile(r"^(test_)?(x|target|labels)_(.+)$")
PORT_HINT = ("name the arrays after the ports: x_<input>, target_<output> or labels_<output> "
             "(test_ in front for a test part)")


@dataclass(frozen=True)
class Ports:
    """A network's ports and their widths, which data is checked against. ``needed``: the
    outputs the loss reads a target of (``None``: every output).

    >>> Ports({"a": 2, "b": 1}, {"y": 3}).needed_outputs
    ('y',)
    """

    inputs: Mapping[str, int]
    outputs: Mapping[str, int]
    network: str = "network"
    needed: tuple[str, ...] | None = None

    @property
    def needed_outputs(self) -> tuple[str, ...]:
        return tuple(self.outputs) if self.needed is None else self.needed


def uses_port_names(keys: Iterable[str]) -> bool:
    """Whether a data file's arrays follow the port naming (``x_a``, ``target_y``, ...).

    >>> uses_port_names(["x_a", "labels_y"]), uses_port_names(["inputs", "targets"])
    (True, False)
    """
    return any(_PORT_KEY.match(k) for k in keys)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _port_problems(arrays: Mapping[str, np.ndarray], ports: Ports | None, prefix: str
                   ) -> list[str]:
    """Every mismatch of one part's port-named arrays (``prefix`` ``""`` or ``"test_"``)
    with each other and with ``ports``, in array-name order; nothing stops at the first."""
    problems: list[str] = []
    n_t: tuple[str, int, int] | None = None  # first input's (name, N, T)
    for key in sorted(arrays):
        m = _PORT_KEY.match(key)
        if m is None or (m.group(1) or "") != prefix:
            continue
        role, port, a = m.group(2), m.group(3), arrays[key]
        want_rank = 1 if role == "labels" else 3
        layout = "(N,)" if role == "labels" else "(N, T, C)"
        if ports is not None:
            names = ports.inputs if role == "x" else ports.outputs
            what = "input" if role == "x" else "output"
            if port not in names:
                close = did_you_mean(port, names)
                problems.append(f"array '{key}' names no {what} of network '{ports.network}' "
                                f"({what}s: {', '.join(names)})"
                                + (f"; {close}" if close else ""))
                continue
            if role != "x" and port not in ports.needed_outputs:
                problems.append(f"array '{key}' is not used: the loss reads no target of "
                                f"output '{port}' (write target_{port} or labels_{port} "
                                "in the loss, or drop the array)")
        if role == "labels" and a.dtype.kind not in "iu":
            problems.append(f"array '{key}' has dtype {a.dtype}; expected integer labels")
            continue
        if role != "labels" and a.dtype.kind not in "fiub":
            problems.append(f"array '{key}' has dtype {a.dtype}; expected real numbers")
            continue
        if a.ndim != want_rank or 0 in a.shape:
            problems.append(f"array '{key}' has shape {_shape(a.shape)}; expected "
                            f"{'a non-empty ' if a.ndim == want_rank else ''}{layout}")
            continue
        if role == "labels" and int(a.min()) < 0:
            problems.append(f"array '{key}' holds negative labels (label {int(a.min())}); "
                            "expected class indices 0..K-1")
        if role != "labels":
            bad = int(np.count_nonzero(~np.isfinite(a))) if a.dtype.kind == "f" else 0
            if bad:
                problems.append(f"array '{key}' holds {_plural(bad, 'non-finite value')}")
        if n_t is None:
            n_t = (key, int(a.shape[0]), int(a.shape[1]) if a.ndim == 3 else -1)
        else:
            if a.shape[0] != n_t[1]:
                problems.append(f"array '{key}' has {_plural(a.shape[0], 'sample')}; "
                                f"'{n_t[0]}' has {n_t[1]}")
            if a.ndim == 3:
                if n_t[2] < 0:
                    n_t = (key, n_t[1], int(a.shape[1]))
                elif a.shape[1] != n_t[2]:
                    problems.append(f"array '{key}' has {_plural(a.shape[1], 'time step')}; "
                                    f"'{n_t[0]}' has {n_t[2]}")
        if ports is None:
            continue
        width = (ports.inputs if role == "x" else ports.outputs)[port]
        if role == "labels":
            if int(a.max()) >= width:
                problems.append(f"array '{key}' holds label {int(a.max())} but output "
                                f"'{port}' has {_plural(width, 'channel')}")
        elif a.shape[2] != width:
            what = "input" if role == "x" else "output"
            problems.append(f"array '{key}' has shape {_shape(a.shape)}; expected "
                            f"(N, T, {width}) for {what} '{port}' : {width}")
    return problems if ports is None else problems + _missing_ports(arrays, ports, prefix)


def _missing_ports(arrays: Mapping[str, np.ndarray], ports: Ports, prefix: str) -> list[str]:
    """The ports of one part without their arrays (or, for an output, with both kinds)."""
    problems: list[str] = []
    present = {k[len(prefix):] for k in arrays if k.startswith(prefix)}
    for port, width in ports.inputs.items():
        if f"x_{port}" not in present:
            problems.append(f"no array '{prefix}x_{port}' for input '{port}' : {width}")
    for port in ports.needed_outputs:
        t, lb = f"target_{port}" in present, f"labels_{port}" in present
        if t and lb:
            problems.append(f"both '{prefix}target_{port}' and '{prefix}labels_{port}' "
                            f"given for output '{port}'; expected one")
        elif not (t or lb):
            problems.append(f"no array '{prefix}target_{port}' or '{prefix}labels_{port}' "
                            f"for output '{port}' : {ports.outputs[port]} (the loss reads it)")
    return problems


def _raise_problems(problems: list[str], source: str, ports: Ports | None) -> None:
    if not problems:
        return
    what = f"does not fit network '{ports.network}'" if ports is not None else \
        "has arrays that do not fit together"
    raise DataError(f"{source} {what}: {_plural(len(problems), 'problem')}\n"
                    + "\n".join(f"  - {p}" for p in problems), hint=PORT_HINT)


def from_port_arrays(
    arrays: Mapping[str, np.ndarray],
    *,
    ports: Ports | None = None,
    name: str = "dataset",
    source: str | None = None,
) -> Dataset:
    """A :class:`Dataset` from arrays named after the ports (``x_<input>``,
    ``target_<output>`` or ``labels_<output>``, ``test_`` in front for a test part), every
    mismatch with each other and with ``ports`` reported in one :class:`DataError`.

    >>> ds = from_port_arrays({"x_a": np.zeros((4, 5, 2)), "x_b": np.ones((4, 5, 1)),
    ...                        "target_y": np.zeros((4, 5, 3)), "labels_z": np.arange(4)},
    ...                       ports=Ports({"a": 2, "b": 1}, {"y": 3, "z": 4}))
    >>> sorted(ds.x), sorted(ds.y), ds.y["z"].dtype
    (['a', 'b'], ['y', 'z'], dtype('int32'))
    """
    source = source or f"dataset '{name}'"
    problems = [f"array '{k}' does not follow the port naming" for k in sorted(arrays)
                if not _PORT_KEY.match(k)]
    has_test = any(k.startswith("test_") for k in arrays)
    problems += _port_problems(arrays, ports, "")
    if has_test:
        problems += [f"test part: {p}" for p in _port_problems(arrays, ports, "test_")]
        train_keys = {k for k in arrays if _PORT_KEY.match(k) and not k.startswith("test_")}
        test_keys = {k[5:] for k in arrays if k.startswith("test_") and _PORT_KEY.match(k)}
        for k in sorted(train_keys ^ test_keys):
            problems.append(f"array '{k}' has no test counterpart 'test_{k}'"
                            if k in train_keys else f"array 'test_{k}' has no training "
                            f"counterpart '{k}'")
    if ports is None and not any(_PORT_KEY.match(k) and k.split("_")[0] == "x" for k in arrays):
        problems.append("no input array (x_<input>)")
    _raise_problems(problems, source, ports)
    test = _port_part(arrays, "test_", name, ports) if has_test else None
    return _port_part(arrays, "", name, ports, test)


def _port_part(arrays: Mapping[str, np.ndarray], prefix: str, name: str, ports: Ports | None,
               test: Dataset | None = None) -> Dataset:
    """One part's checked arrays as a Dataset (ports in the network's order)."""
    x: dict[str, np.ndarray] = {}
    y: dict[str, np.ndarray] = {}
    for key in arrays:
        m = _PORT_KEY.match(key)
        if m is None or (m.group(1) or "") != prefix:
            continue
        a = arrays[key]
        if m.group(2) == "x":
            x[m.group(3)] = np.ascontiguousarray(a, np.float32)
        elif m.group(2) == "target":
            y[m.group(3)] = np.ascontiguousarray(a, np.float32)
        else:
            y[m.group(3)] = np.ascontiguousarray(a, np.int32)
    if ports is not None:
        x = {p: x[p] for p in ports.inputs if p in x}
        y = {p: y[p] for p in ports.outputs if p in y}
    first_in, first_out = next(iter(x.values())), next(iter(y.values()))
    labels = first_out if first_out.ndim == 1 else None
    single = len(x) == 1 and len(y) == 1
    return Dataset(first_in, targets=None if labels is not None else first_out, labels=labels,
                   name=name, test=test,
                   num_classes=int(labels.max()) + 1 if labels is not None else None,
                   x=None if single else x, y=None if single else y)


def port_arrays(ds: Dataset, inputs: Sequence[str], outputs: Sequence[str],
                prefix: str = "") -> dict[str, np.ndarray]:
    """A data set's arrays under their port names (the inverse of :func:`from_port_arrays`).

    >>> sorted(port_arrays(sinusoids(classes=2, length=3, channels_in=2), ["a"], ["y"]))
    ['target_y', 'x_a']
    """
    out = {f"{prefix}x_{k}": v for k, v in ds.input_arrays(inputs).items()}
    for k, v in ds.output_arrays(outputs).items():
        out[f"{prefix}{'labels' if v.ndim == 1 else 'target'}_{k}"] = v
    return out


def check_ports(ds: Dataset, ports: Ports, source: str) -> None:
    """Check a data set (and its test part) against a network's ports, reporting every
    mismatch at once.

    >>> check_ports(sinusoids(classes=2, length=3, channels_in=2), Ports({"a": 2}, {"y": 1}),
    ...             "dataset 's'")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    rpgraph.errors.DataError: dataset 's' does not fit network 'network': 1 problem ...
    """
    ins, outs = list(ports.inputs), list(ports.outputs)
    arrays = port_arrays(ds, ins, outs)
    problems = _port_problems(arrays, ports, "")
    if ds.test is not None:
        problems += [f"test part: {p}" for p in
                     _port_problems(port_arrays(ds.test, ins, outs, "test_"), ports, "test_")]
    _raise_problems(problems, source, ports)
