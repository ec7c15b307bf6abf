"""Data sets: built-ins, .npz files (and every way they can be wrong), Rockpool-style objects."""

from __future__ import annotations

import os
import threading
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import npzcraft
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from npzcraft import Zeros, write_npz

from rpgraph.errors import DataError, SpecError
from rpgraph.io import npz
from rpgraph.io.data import (
    DATASETS,
    Dataset,
    Ports,
    check_against_spec,
    check_ports,
    digits,
    from_arrays,
    from_dataset_protocol,
    from_port_arrays,
    load_npz,
    make_dataset,
    sinusoids,
)


class MultiClassRandomSinMapping:
    """The Rockpool JAX training tutorial's data set, verbatim: the reference for sinusoids."""

    def __init__(
        self,
        num_classes: int = 2,
        sample_length: int = 100,
        input_channels: int = 50,
        target_channels: int = 2,
    ):
        self._num_classes = num_classes
        self._sample_length = sample_length

        # - Draw random input signals
        self._inputs = np.random.randn(num_classes, sample_length, input_channels) + 1.0

        # - Draw random sinusoidal target parameters
        self._target_phase = np.random.rand(num_classes, 1, target_channels) * 2 * np.pi
        self._target_omega = np.random.rand(num_classes, 1, target_channels) * sample_length / 50

        # - Generate target output signals
        time_base = np.atleast_2d(np.arange(sample_length) / sample_length).T
        self._targets = np.sin(2 * np.pi * self._target_omega * time_base + self._target_phase)

    def __len__(self):
        return self._num_classes

    def __getitem__(self, i):
        return self._inputs[i], self._targets[i]


# --------------------------------------------------------------------------------------------
# sinusoids


@pytest.mark.parametrize(
    "seed, classes, length, c_in, c_out",
    [(0, 3, 100, 2000, 2), (7, 2, 30, 5, 3), (123, 1, 1, 1, 1)],
)
def test_sinusoids_bit_identical_to_the_tutorial_class(seed, classes, length, c_in, c_out):
    np.random.seed(seed)
    ref = MultiClassRandomSinMapping(classes, length, c_in, c_out)
    ds = sinusoids(classes=classes, length=length, channels_in=c_in, channels_out=c_out, seed=seed)
    # rpgraph stores float32; the tutorial's float64 arrays cast to float32 must match exactly.
    assert ds.inputs.tobytes() == ref._inputs.astype(np.float32).tobytes()
    assert ds.targets is not None
    assert ds.targets.tobytes() == ref._targets.astype(np.float32).tobytes()


def test_sinusoids_shapes_dtypes_and_protocol():
    ds = sinusoids()
    assert ds.inputs.shape == (3, 100, 2000) and ds.inputs.dtype == np.float32
    assert ds.targets is not None
    assert ds.targets.shape == (3, 100, 2) and ds.targets.dtype == np.float32
    assert ds.labels is None and ds.kind == "regression" and ds.name == "sinusoids"
    assert (len(ds), ds.length, ds.n_in, ds.n_out) == (3, 100, 2000, 2)
    x, y = ds[1]
    assert isinstance(y, np.ndarray) and x.shape == (100, 2000) and y.shape == (100, 2)
    assert [s[0].shape for s in ds] == [(100, 2000)] * 3  # iterable like the tutorial's


def test_sinusoids_does_not_touch_the_global_random_state():
    np.random.seed(5)
    before = np.random.rand()
    np.random.seed(5)
    sinusoids(classes=2, length=10, channels_in=3)
    assert np.random.rand() == before


def test_sinusoids_rejects_empty_sizes():
    with pytest.raises(DataError) as err:
        sinusoids(classes=0)
    assert err.value.message == "dataset 'sinusoids': expected classes >= 1, got 0"


# --------------------------------------------------------------------------------------------
# digits


@pytest.fixture(scope="module")
def rate_digits() -> Dataset:
    return digits()


def test_digits_shapes_split_and_classes(rate_digits):
    ds = rate_digits
    assert ds.kind == "classification" and ds.num_classes == 10 and ds.n_out == 10
    assert ds.inputs.shape == (1347, 50, 64) and ds.inputs.dtype == np.float32
    assert ds.labels is not None and ds.labels.dtype == np.int32 and ds.labels.shape == (1347,)
    assert ds.test is not None and ds.test.inputs.shape == (450, 50, 64)
    assert ds.test.labels is not None
    assert set(ds.labels.tolist()) == set(ds.test.labels.tolist()) == set(range(10))
    # Stratified: every class keeps about a quarter of its samples for testing.
    train_counts, test_counts = np.bincount(ds.labels), np.bincount(ds.test.labels)
    assert np.all(np.abs(test_counts / (train_counts + test_counts) - 0.25) < 0.02)
    x, label = ds[0]
    assert x.shape == (50, 64) and isinstance(label, int)


def test_digits_rate_is_intensity_over_16_held_in_time(rate_digits):
    from sklearn.datasets import load_digits

    pixels = {row.tobytes() for row in (load_digits().data / 16.0).astype(np.float32)}
    x = rate_digits.inputs
    assert np.all(x == x[:, :1, :])  # constant over time
    assert x[0, 0].tobytes() in pixels and 0.0 <= x.min() and x.max() <= 1.0


def test_digits_deterministic_and_seeded():
    a, b = digits(encoding="poisson", length=10), digits(encoding="poisson", length=10)
    assert a.labels is not None and b.labels is not None
    assert np.array_equal(a.inputs, b.inputs) and np.array_equal(a.labels, b.labels)
    c = digits(encoding="poisson", length=10, seed=1)
    assert c.labels is not None and not np.array_equal(a.labels, c.labels)


def test_digits_poisson_and_latency_spikes(rate_digits):
    spikes = digits(encoding="poisson", length=50)
    assert set(np.unique(spikes.inputs).tolist()) <= {0.0, 1.0}
    assert spikes.labels is not None
    assert np.array_equal(spikes.labels, rate_digits.labels)  # same split for same seed
    assert abs(spikes.inputs.mean() - rate_digits.inputs.mean()) < 0.01  # rate = probability
    halved = digits(encoding="poisson", length=50, gain=0.5)
    assert abs(halved.inputs.mean() - spikes.inputs.mean() / 2) < 0.01
    latency = digits(encoding="latency", length=20)
    assert set(latency.inputs.sum(axis=1).ravel().tolist()) <= {0.0, 1.0}  # at most one spike


def test_digits_without_test_split():
    ds = digits(length=2, split=0.0)
    assert len(ds) == 1797 and ds.test is None


@pytest.mark.parametrize(
    "kwargs, message, hint",
    [
        (
            {"encoding": "poison"},
            "dataset 'digits': unknown encoding 'poison'; expected one of 'rate', 'poisson', "
            "'latency', 'rows'",
            "did you mean 'poisson'?",
        ),
        ({"split": 1.0}, "dataset 'digits': expected 0 <= split < 1, got 1.0", None),
        ({"gain": -1.0}, "dataset 'digits': expected a finite gain >= 0, got -1.0", None),
    ],
)
def test_digits_bad_arguments(kwargs, message, hint):
    with pytest.raises(DataError) as err:
        digits(**kwargs)
    assert (err.value.message, err.value.hint) == (message, hint)


# --------------------------------------------------------------------------------------------
# The registry used by `data = NAME(kwargs)`


def test_registry_builds_by_name():
    assert set(DATASETS) == {"sinusoids", "digits", "encoded", "shd", "ssc", "nmnist",
                             "events"}
    ds = make_dataset("sinusoids", {"classes": 2, "channels_in": 4, "length": 10})
    assert ds.inputs.shape == (2, 10, 4)


@pytest.mark.parametrize(
    "name, kwargs, message, hint",
    [
        (
            "sinusoid",
            {},
            "unknown data set 'sinusoid'; known data sets: digits, encoded, events, nmnist, shd, "
            "sinusoids, ssc",
            "did you mean 'sinusoids'?",
        ),
        (
            "cifar",
            {},
            "unknown data set 'cifar'; known data sets: digits, encoded, events, nmnist, shd, "
            "sinusoids, ssc",
            "or load a file: a .npz with 'inputs' and 'targets' or 'labels'",
        ),
        (
            "sinusoids",
            {"chanels_in": 3},
            "dataset 'sinusoids' has no argument 'chanels_in'; it accepts: classes, length, "
            "channels_in, channels_out, seed",
            "did you mean 'channels_in'?",
        ),
        (
            "sinusoids",
            {"classes": "3"},
            "dataset 'sinusoids': argument 'classes' expects int, got str '3'",
            None,
        ),
        (
            "sinusoids",
            {"classes": True},
            "dataset 'sinusoids': argument 'classes' expects int, got bool True",
            None,
        ),
        (
            "digits",
            {"split": "0.5"},
            "dataset 'digits': argument 'split' expects float, got str '0.5'",
            None,
        ),
    ],
)
def test_registry_errors(name, kwargs, message, hint):
    with pytest.raises(DataError) as err:
        make_dataset(name, kwargs)
    assert (err.value.message, err.value.hint) == (message, hint)
    assert isinstance(err.value, SpecError)


# --------------------------------------------------------------------------------------------
# .npz files


def _good() -> dict[str, Any]:
    rng = np.random.RandomState(0)
    return {"inputs": rng.rand(3, 4, 2), "targets": rng.rand(3, 4, 1)}


def test_load_npz_regression_and_classification(tmp_path):
    np.savez(tmp_path / "reg.npz", inputs=np.ones((3, 4, 2), np.int64), targets=np.zeros((3, 4, 1)))
    ds = load_npz("reg.npz", base_dir=tmp_path)
    assert ds.inputs.dtype == np.float32 and ds.targets is not None
    assert ds.kind == "regression" and ds.name == "reg.npz" and ds.test is None
    np.savez(tmp_path / "cls.npz", inputs=np.ones((3, 4, 2), bool), labels=np.array([0, 4, 1]))
    ds = load_npz(tmp_path / "cls.npz")
    assert ds.labels is not None and ds.labels.dtype == np.int32 and ds.num_classes == 5
    assert ds.inputs.dtype == np.float32 and ds.inputs.max() == 1.0


def test_load_npz_with_test_split(tmp_path):
    np.savez(
        tmp_path / "split.npz",
        inputs=np.ones((3, 4, 2)),
        labels=np.array([0, 1, 2]),
        test_inputs=np.ones((2, 4, 2)),
        test_labels=np.array([1, 0]),
    )
    ds = load_npz("split.npz", base_dir=tmp_path)
    assert ds.test is not None and len(ds.test) == 2 and ds.test.kind == "classification"


def test_load_npz_allow_outside(tmp_path):
    spec_dir = tmp_path / "specs"
    spec_dir.mkdir()
    np.savez(tmp_path / "shared.npz", **_good())
    ds = load_npz("../shared.npz", base_dir=spec_dir, allow_outside=True)
    assert ds.inputs.shape == (3, 4, 2)


def _write(arrays: dict[str, Any]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        np.savez(path, **arrays)  # np.savez pickles object arrays, which is what we need here

    return write


def _raw(data: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(data)

    return write


def _truncated(path: Path) -> None:
    np.savez(path, **_good())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _corrupted(path: Path) -> None:
    np.savez(path, **_good())
    data = bytearray(path.read_bytes())
    # Inside the first member's data: the archive stays readable, the CRC check fails.
    data[200:210] = b"\xff" * 10
    path.write_bytes(bytes(data))


def _npy(path: Path) -> None:
    with path.open("wb") as f:
        np.save(f, np.ones((3, 4, 2)))


def _with(**changes: Any) -> dict[str, Any]:
    arrays: dict[str, Any] = {**_good(), **changes}
    return {k: v for k, v in arrays.items() if v is not None}


_NAN_INPUTS = np.zeros((3, 4, 2))
_NAN_INPUTS[1, 2, 0] = np.nan
_NAN_INPUTS[2, 0, 1] = np.inf
_INF_TARGETS = np.zeros((3, 4, 1))
_INF_TARGETS[0, 3, 0] = -np.inf
_OBJECT = np.empty(3, dtype=object)
_OBJECT[:] = [np.zeros(2), "x", None]

F = "data file 'bad.npz'"
BAD_FILES: list[tuple[str, Callable[[Path], None], str, str | None]] = [
    (
        "inputs-rank",
        _write(_with(inputs=np.zeros((3, 4)))),
        f"{F}: array 'inputs' has shape (3, 4); expected 3 dimensions (N, T, C_in)",
        None,
    ),
    (
        "targets-rank",
        _write(_with(targets=np.zeros((3, 4, 1, 1)))),
        f"{F}: array 'targets' has shape (3, 4, 1, 1); expected 3 dimensions (N, T, C_out)",
        None,
    ),
    (
        "labels-rank",
        _write(_with(targets=None, labels=np.zeros((3, 1), int))),
        f"{F}: array 'labels' has shape (3, 1); expected 1 dimension (N,)",
        None,
    ),
    (
        "nan-inputs",
        _write(_with(inputs=_NAN_INPUTS)),
        f"{F}: array 'inputs' holds 2 non-finite values (NaN or inf); the first is at "
        "index (1, 2, 0)",
        "replace or drop those samples, e.g. with np.nan_to_num",
    ),
    (
        "inf-targets",
        _write(_with(targets=_INF_TARGETS)),
        f"{F}: array 'targets' holds 1 non-finite value (NaN or inf); the first is at "
        "index (0, 3, 0)",
        "replace or drop those samples, e.g. with np.nan_to_num",
    ),
    (
        "float32-overflow",
        _write(_with(inputs=np.full((3, 4, 2), 1e300))),
        f"{F}: array 'inputs' holds 24 non-finite values (NaN or inf); the first is at "
        "index (0, 0, 0)",
        "replace or drop those samples, e.g. with np.nan_to_num",
    ),
    (
        "empty",
        _write(_with(inputs=np.zeros((0, 4, 2)), targets=np.zeros((0, 4, 1)))),
        f"{F}: array 'inputs' has shape (0, 4, 2); expected a non-empty data set "
        "(every dimension at least 1)",
        None,
    ),
    (
        "no-channels",
        _write(_with(targets=np.zeros((3, 4, 0)))),
        f"{F}: array 'targets' has shape (3, 4, 0); expected a non-empty data set "
        "(every dimension at least 1)",
        None,
    ),
    (
        "labels-negative",
        _write(_with(targets=None, labels=np.array([0, -1, -2]))),
        f"{F}: array 'labels' holds negative labels (label -2; the first negative is at "
        "index 1); expected class indices 0..K-1",
        None,
    ),
    (
        "labels-float",
        _write(_with(targets=None, labels=np.array([0.0, 1.0, 2.0]))),
        f"{F}: array 'labels' has dtype float64; expected integers",
        "the values are whole numbers: save labels.astype(np.int32)",
    ),
    (
        "labels-fractional",
        _write(_with(targets=None, labels=np.array([0.5, 1.0, 2.0]))),
        f"{F}: array 'labels' has dtype float64; expected integers",
        "labels are class indices 0, 1, ..., K-1",
    ),
    (
        "labels-bool",
        _write(_with(targets=None, labels=np.array([True, False, True]))),
        f"{F}: array 'labels' has dtype bool; expected integers",
        "labels are class indices 0, 1, ..., K-1",
    ),
    (
        "inputs-complex",
        _write(_with(inputs=np.zeros((3, 4, 2), complex))),
        f"{F}: array 'inputs' has dtype complex128; expected real numbers (float, int or bool)",
        "store inputs and targets as float32",
    ),
    (
        "targets-str",
        _write(_with(targets=np.full((3, 4, 1), "a"))),
        f"{F}: array 'targets' has dtype <U1; expected real numbers (float, int or bool)",
        "store inputs and targets as float32",
    ),
    (
        "object-array",
        _write(_with(inputs=_OBJECT)),
        f"{F} holds an object array ('inputs'); rpgraph loads .npz files without pickle",
        "save plain numeric arrays, e.g. np.asarray(x, dtype=np.float32)",
    ),
    (
        "missing-targets",
        _write({"inputs": np.zeros((3, 4, 2)), "target": np.zeros((3, 4, 1))}),
        f"{F} has no array 'targets' or 'labels' (it holds: 'inputs', 'target')",
        "rename array 'target' to 'targets'",
    ),
    (
        "missing-inputs",
        _write({"targets": np.zeros((3, 4, 1))}),
        f"{F} has no array 'inputs' (it holds: 'targets')",
        "save with np.savez(path, inputs=..., targets=...) or labels=...",
    ),
    (
        "targets-and-labels",
        _write(_with(labels=np.array([0, 1, 2]))),
        f"{F} holds both 'targets' and 'labels'; expected exactly one (targets for "
        "regression, labels for classification)",
        None,
    ),
    (
        "labels-count",
        _write(_with(targets=None, labels=np.array([0, 1, 2, 1]))),
        f"{F}: arrays 'inputs' and 'labels' disagree on the number of samples: expected "
        "'labels' of shape (3,) to match 'inputs' (3, 4, 2), got (4,)",
        None,
    ),
    (
        "targets-time",
        _write(_with(targets=np.zeros((3, 5, 1)))),
        f"{F}: arrays 'inputs' and 'targets' disagree on samples or time steps: expected "
        "'targets' of shape (3, 4, C_out) to match 'inputs' (3, 4, 2), got (3, 5, 1)",
        None,
    ),
    (
        "test-split-width",
        _write(_with(test_inputs=np.zeros((2, 4, 3)), test_targets=np.zeros((2, 4, 1)))),
        f"{F}: test arrays have 3 input channels and 1 target channels; expected 2 and 1 "
        "like the training arrays",
        None,
    ),
    ("truncated", _truncated, f"{F} is corrupted or truncated", None),
    ("corrupted", _corrupted, f"{F} is corrupted or truncated", None),
    (
        "not-a-zip",
        _raw(b"inputs,targets\n1,2\n"),
        f"{F} is not a .npz archive (it does not start with a zip header)",
        None,
    ),
    ("zero-bytes", _raw(b""), f"{F} is empty (0 bytes); expected a .npz archive", None),
    (
        "npy-file",
        _npy,
        f"{F} is a .npy file holding a single array; expected a .npz archive",
        "save named arrays with np.savez(path, inputs=..., targets=...)",
    ),
    (
        "directory",
        lambda path: path.mkdir(),
        f"{F} is a directory; expected a .npz file",
        None,
    ),
]


@pytest.mark.parametrize(
    "write, message, hint", [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES]
)
def test_bad_npz_files(tmp_path, write, message, hint):
    write(tmp_path / "bad.npz")
    with pytest.raises(DataError) as err:
        load_npz("bad.npz", base_dir=tmp_path)
    assert err.value.message == message
    assert err.value.hint == hint


def test_corrupted_file_explains_in_a_note(tmp_path):
    _truncated(tmp_path / "bad.npz")
    with pytest.raises(DataError) as err:
        load_npz("bad.npz", base_dir=tmp_path)
    assert str(err.value).startswith(
        "error: data file 'bad.npz' is corrupted or truncated\nnote: while reading: "
    )


def test_missing_file(tmp_path):
    np.savez(tmp_path / "train.npz", **_good())
    with pytest.raises(DataError) as err:
        load_npz("trian.npz", base_dir=tmp_path)
    assert str(err.value) == (
        "error: data file 'trian.npz' does not exist\nhint: did you mean 'train.npz'?"
    )
    with pytest.raises(DataError) as err:
        load_npz(tmp_path / "nothing" / "x.npz")
    assert err.value.message == f"data file '{tmp_path / 'nothing' / 'x.npz'}' does not exist"


@pytest.mark.parametrize("spelled", ["../outside.npz", "sub/../../outside.npz", "ABSOLUTE"])
def test_paths_may_not_escape_the_spec_folder(tmp_path, spelled):
    spec_dir = tmp_path / "specs"
    (spec_dir / "sub").mkdir(parents=True)
    np.savez(tmp_path / "outside.npz", **_good())
    if spelled == "ABSOLUTE":
        spelled = str(tmp_path / "outside.npz")
    with pytest.raises(DataError) as err:
        load_npz(spelled, base_dir=spec_dir)
    assert str(err.value) == (
        f"error: data file '{spelled}' is outside the spec's folder '{spec_dir}'\n"
        "hint: pass --allow-outside to read files outside the spec's folder"
    )


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_symlink_out_of_the_spec_folder_is_refused(tmp_path):
    spec_dir = tmp_path / "specs"
    spec_dir.mkdir()
    np.savez(tmp_path / "outside.npz", **_good())
    (spec_dir / "link.npz").symlink_to(tmp_path / "outside.npz")
    with pytest.raises(DataError) as err:
        load_npz("link.npz", base_dir=spec_dir)
    assert err.value.message == f"data file 'link.npz' is outside the spec's folder '{spec_dir}'"
    assert load_npz("link.npz", base_dir=spec_dir, allow_outside=True) is not None


def test_every_truncation_is_a_data_error(tmp_path):
    path = tmp_path / "t.npz"
    np.savez(path, inputs=np.ones((1, 2, 1)), labels=np.array([0]))
    data = path.read_bytes()
    for cut in range(len(data)):
        path.write_bytes(data[:cut])
        with pytest.raises(DataError):
            load_npz(path)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_random_byte_damage_never_escapes_as_a_raw_exception(tmp_path, data):
    path = tmp_path / "fuzz.npz"
    np.savez(path, inputs=np.ones((2, 3, 2)), targets=np.zeros((2, 3, 1)))
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path.write_bytes(bytes(raw))
    try:
        load_npz(path)
    except DataError:
        pass  # anything else (numpy, zipfile, OSError, KeyError...) fails the test


def test_zip_with_foreign_members_is_fine(tmp_path):
    path = tmp_path / "extra.npz"
    np.savez(path, **_good())
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("README.txt", "not an array")
    assert load_npz(path).inputs.shape == (3, 4, 2)


# --------------------------------------------------------------------------------------------
# Files that would unpack to more than they look like, or never end


def _refused(fn: Callable[[], object]) -> tuple[DataError, int]:
    """The DataError ``fn`` raises, and the peak memory traced while it ran (numpy reports
    its array buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as err:
            fn()
        return err.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_zip_bomb_is_refused_before_unpacking(tmp_path):
    """A 6 MB file whose 'inputs' unpacks to 6 GiB of zeros: refused from its header."""
    path = tmp_path / "bomb.npz"
    write_npz(path, {"inputs": Zeros((6, 2**20, 128)), "targets": np.zeros((6, 2, 1))})
    assert path.stat().st_size < 8 * 2**20
    err, peak = _refused(lambda: load_npz(path))
    assert str(err) == (
        f"error: data file '{path}': array 'inputs' of shape (6, 1048576, 128) and dtype "
        "float64 would unpack to 6.0 GiB, over the 4.0 GiB limit per file\n"
        "hint: to read more, raise rpgraph.io.npz.MAX_NPZ_BYTES"
    )
    assert peak < 32 * 2**20


def test_the_size_limit_counts_every_array_and_can_be_raised(tmp_path, monkeypatch):
    path = tmp_path / "d.npz"
    np.savez(path, inputs=np.zeros((4, 10, 2)), targets=np.zeros((4, 10, 1)))  # 640 + 320 B
    monkeypatch.setattr(npz, "MAX_NPZ_BYTES", 900)
    with pytest.raises(DataError) as err:
        load_npz(path)
    assert err.value.message == (
        f"data file '{path}': array 'targets' of shape (4, 10, 1) and dtype float64 would "
        "unpack to 320 bytes, over the 900 bytes limit per file (640 bytes already read)"
    )
    monkeypatch.setattr(npz, "MAX_NPZ_BYTES", 960)
    assert len(load_npz(path)) == 4


def test_a_member_declaring_another_size_than_its_header_is_corrupt(tmp_path):
    """The zip entry is checked against the .npy header before any data is unpacked."""
    path = tmp_path / "liar.npz"
    inputs = np.zeros((2, 3, 2))
    header = len(npzcraft.npy_header(inputs.shape, inputs.dtype))
    for size in (8 * 2**30, header + inputs.nbytes + 8):
        write_npz(path, {"inputs": inputs, "labels": np.array([0, 1])},
                  declared={"inputs": size})
        with pytest.raises(DataError) as err:
            load_npz(path)
        assert str(err.value) == (
            f"error: data file '{path}' is corrupted or truncated\n"
            f"note: member 'inputs.npy' declares {size} bytes; its header describes "
            f"{header + inputs.nbytes}"
        )


def test_unbounded_compression_methods_are_refused(tmp_path):
    """bzip2 and lzma members decompress without an output bound: never opened."""
    path = tmp_path / "bz.npz"
    np.savez(path, **_good())
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp_path / "b.npz", "w",
                                                       zipfile.ZIP_BZIP2) as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
    with pytest.raises(DataError) as err:
        load_npz(tmp_path / "b.npz")
    assert err.value.message == (
        f"data file '{tmp_path / 'b.npz'}': array 'inputs' is compressed with method 12; "
        "rpgraph reads arrays stored by np.savez or np.savez_compressed"
    )
    np.savez_compressed(path, **_good())  # deflate is read with a bound: fine
    assert load_npz(path).inputs.shape == (3, 4, 2)


def test_encrypted_members_are_refused(tmp_path):
    path = tmp_path / "enc.npz"
    np.savez(path, **_good())
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")  # the first member's central directory entry
    data[central + 8] |= 0x1  # its "encrypted" flag, which zipfile would meet with a password
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as err:
        load_npz(path)
    assert err.value.message == (
        f"data file '{path}': array 'inputs' is encrypted; rpgraph reads arrays stored by "
        "np.savez or np.savez_compressed"
    )


def _within(fn: Callable[[], object], seconds: float = 60) -> object:
    """``fn()``'s result, or a test failure if it blocks (as opening a FIFO used to)."""
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(_outcome(fn)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "blocked"
    return result[0]


def _outcome(fn: Callable[[], object]) -> object:
    try:
        return fn()
    except Exception as exc:  # handed to the test thread to assert on
        return exc


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_fifo_and_devices_are_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")
    err = _within(lambda: load_npz("pipe.npz", base_dir=tmp_path))
    assert isinstance(err, DataError)
    assert str(err) == (
        "error: data file 'pipe.npz' is a named pipe (FIFO), not a .npz file\n"
        "hint: rpgraph reads .npz archives from regular files only"
    )
    if Path("/dev/zero").exists():
        err = _within(lambda: load_npz("/dev/zero"))
        assert isinstance(err, DataError)
        assert err.message == "data file '/dev/zero' is a character device, not a .npz file"


# --------------------------------------------------------------------------------------------
# Checking widths against the spec


def test_check_against_spec_accepts_matching_widths():
    check_against_spec(sinusoids(channels_in=20), n_in=20, n_out=2, source="dataset 'sinusoids'")
    check_against_spec(digits(length=2), n_in=64, n_out=10, source="dataset 'digits'")


@pytest.mark.parametrize(
    "arrays, n_in, n_out, message, hint",
    [
        (
            {"inputs": np.zeros((3, 100, 20)), "targets": np.zeros((3, 100, 2))},
            2000,
            2,
            "data file 'bad.npz': array 'inputs' has shape (3, 100, 20); expected "
            "(N, T, 2000) for input 'x' : 2000",
            "make input 'x' 20 wide, or use data with 2000 channels",
        ),
        (
            {"inputs": np.zeros((3, 100, 20)), "targets": np.zeros((3, 100, 3))},
            20,
            2,
            "data file 'bad.npz': array 'targets' has shape (3, 100, 3); expected "
            "(N, T, 2) for output 'y' : 2",
            "make output 'y' 3 wide",
        ),
        (
            {"inputs": np.zeros((3, 5, 20)), "labels": np.array([0, 9, 2])},
            20,
            4,
            "data file 'bad.npz': labels out of range: max label 9 but output 'y' has 4 channels",
            "a classifier needs one output channel per class: make output 'y' 10 wide",
        ),
        (
            {
                "inputs": np.zeros((3, 5, 20)),
                "labels": np.array([0, 1, 0]),
                "test_inputs": np.zeros((1, 5, 20)),
                "test_labels": np.array([3]),
            },
            20,
            2,
            "data file 'bad.npz': labels out of range: max label 3 but output 'y' has 2 channels",
            "a classifier needs one output channel per class: make output 'y' 4 wide",
        ),
    ],
)
def test_check_against_spec_errors(tmp_path, arrays, n_in, n_out, message, hint):
    np.savez(tmp_path / "bad.npz", **arrays)
    ds = load_npz("bad.npz", base_dir=tmp_path)
    with pytest.raises(DataError) as err:
        check_against_spec(
            ds,
            n_in=n_in,
            n_out=n_out,
            source="data file 'bad.npz'",
            input_name="x",
            output_name="y",
        )
    assert (err.value.message, err.value.hint) == (message, hint)


# --------------------------------------------------------------------------------------------
# Rockpool-style objects


def test_protocol_object_converts_like_sinusoids():
    np.random.seed(3)
    ref = MultiClassRandomSinMapping(3, 40, 7, 2)
    ds = from_dataset_protocol(ref, name="sin")
    assert np.array_equal(ds.inputs, sinusoids(classes=3, length=40, channels_in=7, seed=3).inputs)
    assert ds.kind == "regression" and ds.name == "sin" and len(ds) == 3


class _Samples:
    def __init__(self, items: list[Any]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Any:
        return self.items[i]


def test_protocol_object_with_labels():
    ds = from_dataset_protocol(_Samples([(np.zeros((4, 2)), 1), (np.ones((4, 2)), np.int64(3))]))
    assert ds.kind == "classification" and ds.labels is not None
    assert ds.labels.tolist() == [1, 3] and ds.num_classes == 4


class _Broken:
    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> Any:
        raise KeyError(i)


@pytest.mark.parametrize(
    "obj, message",
    [
        (
            _Samples([(np.zeros((4, 2)), np.zeros((4, 1))), (np.zeros((4, 3)), np.zeros((4, 1)))]),
            "dataset 'dataset': sample 1 input has shape (4, 3); expected (4, 2) like sample 0",
        ),
        (
            _Samples([(np.zeros((4, 2)), np.zeros((4, 1))), (np.zeros((4, 2)), np.zeros((5, 1)))]),
            "dataset 'dataset': sample 1 target has shape (5, 1); expected (4, 1) like sample 0",
        ),
        (
            _Samples([(np.zeros((4, 2)), np.zeros((4, 1))), (np.zeros((4, 2)), 1)]),
            "dataset 'dataset': sample 1 has a label; expected a target array like sample 0",
        ),
        (
            _Samples([(np.zeros((4, 2)), 0), (np.zeros((4, 2)), -1)]),
            "dataset 'dataset': array 'labels' holds negative labels (label -1; the first "
            "negative is at index 1); expected class indices 0..K-1",
        ),
        (
            _Samples([np.zeros((4, 2))]),
            "dataset 'dataset': sample 0 is a ndarray; expected a pair (input, target_or_label)",
        ),
        (
            _Samples([(np.zeros(4), 0)]),
            "dataset 'dataset': sample 0 input has shape (4,); expected (T, C_in)",
        ),
        (_Samples([]), "dataset 'dataset': expected at least one sample, got len() == 0"),
        (_Broken(), "dataset 'dataset': reading sample 0 failed: KeyError: 0"),
        (
            42,
            "dataset 'dataset': expected an object with __len__ and __getitem__ (like "
            "Rockpool's data sets), got int",
        ),
    ],
)
def test_protocol_object_errors(obj, message):
    with pytest.raises(DataError) as err:
        from_dataset_protocol(obj)
    assert err.value.message == message


def test_dataset_needs_exactly_one_of_targets_and_labels():
    with pytest.raises(DataError) as err:
        Dataset(np.zeros((1, 1, 1), np.float32), name="d")
    assert (
        err.value.message == "dataset 'd': expected exactly one of targets and labels, got neither"
    )
    with pytest.raises(DataError) as err:
        from_arrays(np.zeros((1, 1, 1)), np.zeros((1, 1, 1)), np.zeros(1, int), name="d")
    assert err.value.message == (
        "dataset 'd': expected exactly one of 'targets' (regression) and 'labels' "
        "(classification), got both"
    )


# --- arrays named after the ports (networks with several inputs and outputs) ----------------

PORTS = Ports({"a": 3, "b": 2}, {"y1": 2, "y2": 4}, "two")


def _ports_ok(n: int = 5, t: int = 4, prefix: str = "") -> dict[str, np.ndarray]:
    r = np.random.RandomState(n)
    return {f"{prefix}x_a": r.rand(n, t, 3), f"{prefix}x_b": r.rand(n, t, 2),
            f"{prefix}target_y1": r.rand(n, t, 2), f"{prefix}labels_y2": np.arange(n) % 4}


def test_port_arrays_become_a_dataset_by_port(tmp_path: Path) -> None:
    arrays = {**_ports_ok(), **_ports_ok(3, prefix="test_")}
    np.savez(tmp_path / "two.npz", **arrays)
    ds = load_npz(tmp_path / "two.npz", ports=PORTS)
    assert ds.x is not None and ds.y is not None and ds.test is not None
    assert list(ds.x) == ["a", "b"] and list(ds.y) == ["y1", "y2"]
    assert ds.x["a"].dtype == np.float32 and ds.y["y2"].dtype == np.int32
    assert np.array_equal(ds.y["y2"], arrays["labels_y2"])
    assert len(ds) == 5 and len(ds.test) == 3 and ds.test.x is not None
    # a validation split keeps every port's arrays aligned
    train, val = ds.split(0.4, seed=1)
    assert (len(train), len(val)) == (3, 2) and train.test is ds.test
    for k in ("a", "b"):
        assert train.x is not None and val.x is not None
        both = np.concatenate([train.x[k], val.x[k]])
        assert sorted(map(bytes, both)) == sorted(map(bytes, ds.x[k]))
    check_ports(ds, PORTS, "data file 'two.npz'")


def test_one_input_one_output_named_after_the_ports_is_a_plain_dataset() -> None:
    ds = from_port_arrays({"x_in": np.zeros((2, 3, 4)), "labels_out": np.array([0, 1])},
                          ports=Ports({"in": 4}, {"out": 2}))
    assert ds.x is None and ds.y is None and ds.kind == "classification"
    assert ds.inputs.shape == (2, 3, 4) and ds.num_classes == 2


def test_every_port_mismatch_is_reported_at_once() -> None:
    r = np.random.RandomState(0)
    bad = {"x_a": r.rand(5, 4, 4), "x_bb": r.rand(5, 4, 2), "target_y1": r.rand(5, 3, 2),
           "labels_y2": np.array([0, 1, 2, 9, -1]), "extra": np.zeros(3),
           "test_x_a": r.rand(2, 4, 3)}
    with pytest.raises(DataError) as err:
        from_port_arrays(bad, ports=PORTS, name="f.npz", source="data file 'f.npz'")
    assert err.value.message == "\n".join([
        "data file 'f.npz' does not fit network 'two': 13 problems",
        "  - array 'extra' does not follow the port naming",
        "  - array 'labels_y2' holds negative labels (label -1); expected class indices 0..K-1",
        "  - array 'labels_y2' holds label 9 but output 'y2' has 4 channels",
        "  - array 'x_a' has 4 time steps; 'target_y1' has 3",
        "  - array 'x_a' has shape (5, 4, 4); expected (N, T, 3) for input 'a' : 3",
        "  - array 'x_bb' names no input of network 'two' (inputs: a, b); did you mean 'b'?",
        "  - no array 'x_b' for input 'b' : 2",
        "  - test part: no array 'test_x_b' for input 'b' : 2",
        "  - test part: no array 'test_target_y1' or 'test_labels_y1' for output 'y1' : 2 "
        "(the loss reads it)",
        "  - test part: no array 'test_target_y2' or 'test_labels_y2' for output 'y2' : 4 "
        "(the loss reads it)",
        "  - array 'labels_y2' has no test counterpart 'test_labels_y2'",
        "  - array 'target_y1' has no test counterpart 'test_target_y1'",
        "  - array 'x_bb' has no test counterpart 'test_x_bb'",
    ])
    assert err.value.hint == ("name the arrays after the ports: x_<input>, target_<output> or "
                              "labels_<output> (test_ in front for a test part)")


def test_port_data_for_an_output_the_loss_does_not_read_is_reported() -> None:
    ports = Ports(PORTS.inputs, PORTS.outputs, "two", needed=("y1",))
    with pytest.raises(DataError, match="array 'labels_y2' is not used: the loss reads no "
                       "target of output 'y2'"):
        from_port_arrays(_ports_ok(), ports=ports)
    arrays = _ports_ok()
    del arrays["labels_y2"]
    ds = from_port_arrays(arrays, ports=ports)
    assert ds.y is not None and list(ds.y) == ["y1"]


def test_single_port_short_names_still_load(tmp_path: Path) -> None:
    x, t = np.zeros((3, 4, 2)), np.ones((3, 4, 1))
    np.savez(tmp_path / "short.npz", x=x, target=t, test_x=x[:1], test_target=t[:1])
    np.savez(tmp_path / "long.npz", inputs=x, labels=np.array([0, 1, 1]))
    ds = load_npz(tmp_path / "short.npz")
    assert ds.kind == "regression" and ds.test is not None and len(ds.test) == 1
    assert np.array_equal(ds.targets, t.astype(np.float32))
    assert load_npz(tmp_path / "long.npz").num_classes == 2
