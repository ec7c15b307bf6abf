"""Event data (rpgraph.io.events) and encoders (rpgraph.io.encode): miniature files in each
official format, binned frames checked against an independent computation, the cache, and
every bad file's message."""

from __future__ import annotations

import os
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from eventcraft import nmnist_bytes, random_shd, write_shd

from rpgraph.errors import DataError
from rpgraph.io import events as ev_mod
from rpgraph.io.data import check_dataset, encoded, make_dataset
from rpgraph.io.encode import delta, encode, latency, poisson, rate
from rpgraph.io.events import (
    Events,
    bin_events,
    decode_nmnist,
    events,
    nmnist,
    read_event_npz,
    read_nmnist,
    read_shd,
    shd,
    ssc,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test caches into its own folder (never the user's ~/.cache)."""
    monkeypatch.setenv("RPGRAPH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _reference(samples: list[list[tuple[Fraction, int]]], dt: Fraction, length: int,
               source: int, channels: int, reduce: str = "sum") -> np.ndarray:
    """Frames by exact rational arithmetic, one event at a time."""
    out = np.zeros((len(samples), length, channels), np.float32)
    for i, events_ in enumerate(samples):
        for t, unit in events_:
            step = int(t // dt)  # bins [k dt, (k+1) dt): an edge belongs to the later bin
            if step < length:
                out[i, step, unit * channels // source] += 1
    return (out > 0).astype(np.float32) if reduce == "any" else out


# --- binning ---------------------------------------------------------------------------------


def _random_samples(seed: int, n: int = 6) -> list[list[tuple[int, int]]]:
    """Events as (microseconds, unit): a third exactly on 1 ms edges, one sample empty,
    times deliberately unsorted."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        k = 0 if i == 2 else int(rng.integers(1, 60))
        t = rng.integers(0, 130_000, k)
        t[: k // 3] = (t[: k // 3] // 1000) * 1000  # on a bin edge
        out.append(list(zip(rng.permutation(t).tolist(), rng.integers(0, 700, k).tolist(),
                            strict=True)))
    return out


@pytest.mark.parametrize(("channels", "reduce", "dt_us"), [(700, "sum", 1000),
                                                          (128, "sum", 1000),
                                                          (7, "any", 10_000)])
def test_binning_matches_exact_arithmetic(tmp_path: Path, channels: int, reduce: str,
                                          dt_us: int) -> None:
    samples = _random_samples(1)
    t = [us * 1e-6 for s in samples for us, _ in s]  # float64 seconds: what a file holds
    units = [u for s in samples for _, u in s]
    offsets = np.cumsum([0] + [len(s) for s in samples])
    ev = Events(np.array(t), np.array(units, np.int64), offsets, np.zeros(6, np.int64), 700)
    length = 100_000 // dt_us  # events after 100 ms are dropped
    got = bin_events(ev, dt=dt_us * 1e-6, length=length, channels=channels, reduce=reduce)
    exact = [[(Fraction(us, 10**6), u) for us, u in s] for s in samples]
    want = _reference(exact, Fraction(dt_us, 10**6), length, 700, channels, reduce)
    assert got.dtype == np.float32 and got.shape == (6, length, channels)
    np.testing.assert_array_equal(got, want)
    assert got[2].sum() == 0  # the empty sample


def test_edges_at_7ms_go_to_bin_7_despite_floating_point() -> None:
    t = 7000 * 1e-6  # 7 ms from microseconds: 0.006999999999999999
    assert t / 0.001 < 7  # what a plain floor would get wrong
    ev = Events(np.array([t, 0.0069]), np.array([0, 1]), np.array([0, 2]),
                np.zeros(1, np.int64), 2)
    frames = bin_events(ev, dt=0.001, length=8)
    assert frames[0, 7].tolist() == [1.0, 0.0] and frames[0, 6].tolist() == [0.0, 1.0]


# --- SHD / SSC -------------------------------------------------------------------------------


def test_shd_file_binned_against_reference(tmp_path: Path) -> None:
    samples = _random_samples(2, n=5)
    times = [[np.float32(us * 1e-6) for us, _ in s] for s in samples]
    units = [[u for _, u in s] for s in samples]
    write_shd(tmp_path / "train.h5", times, units, [3, 0, 19, 7, 7])
    write_shd(tmp_path / "test.h5", times[:2], units[:2], [1, 2])
    ds = shd(path="train.h5", test="test.h5", dt=0.005, duration=0.1, channels=64,
             base_dir=tmp_path)
    assert ds.inputs.shape == (5, 20, 64) and ds.num_classes == 20
    assert ds.labels.tolist() == [3, 0, 19, 7, 7] and ds.test.labels.tolist() == [1, 2]
    # the file stores float32: the reference bins those exact values
    exact = [[(Fraction(float(t)), u) for t, u in zip(ts, us, strict=True)]
             for ts, us in zip(times, units, strict=True)]
    np.testing.assert_array_equal(ds.inputs, _reference(exact, Fraction(5, 1000), 20, 700, 64))
    np.testing.assert_array_equal(ds.test.inputs, ds.inputs[:2])


def test_ssc_has_35_classes(tmp_path: Path) -> None:
    write_shd(tmp_path / "ssc.h5", [[0.1], []], [[5], []], [34, 0])
    ds = ssc(path="ssc.h5", length=30, base_dir=tmp_path)
    assert ds.num_classes == 35 and ds.inputs.shape == (2, 30, 700)
    assert ds.inputs[0, 10, 5] == 1 and ds.inputs.sum() == 1
    with pytest.raises(DataError) as err:
        shd(path="ssc.h5", base_dir=tmp_path)  # label 34 is no SHD class
    assert err.value.message == "data file 'ssc.h5': sample 0 has label 34; expected a class 0..19"


def test_cache_second_start_reads_the_cache(tmp_path: Path, _cache: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    random_shd(tmp_path / "a.h5")
    first = shd(path="a.h5", channels=32, base_dir=tmp_path)
    (cached,) = (_cache / "events").iterdir()
    monkeypatch.setattr(ev_mod, "read_shd", lambda *a, **k: pytest.fail("binned again"))
    second = shd(path="a.h5", channels=32, base_dir=tmp_path)
    np.testing.assert_array_equal(first.inputs, second.inputs)
    np.testing.assert_array_equal(first.labels, second.labels)
    monkeypatch.undo()
    monkeypatch.setenv("RPGRAPH_CACHE", str(_cache))
    shd(path="a.h5", channels=16, base_dir=tmp_path)  # other settings: another entry
    assert len(list((_cache / "events").iterdir())) == 2
    random_shd(tmp_path / "a.h5", seed=5)  # new contents (size or mtime): binned afresh
    os.utime(tmp_path / "a.h5", ns=(1, 1))
    third = shd(path="a.h5", channels=32, base_dir=tmp_path)
    assert not np.array_equal(third.inputs, first.inputs)
    cached.write_bytes(b"damaged")  # a damaged entry is rebuilt, not fatal
    random_shd(tmp_path / "b.h5")
    os.utime(tmp_path / "b.h5", ns=(1, 1))
    assert shd(path="b.h5", channels=32, base_dir=tmp_path, cache=False).inputs.shape[2] == 32


def test_shd_through_make_dataset_stays_in_the_spec_folder(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    random_shd(tmp_path / "out.h5")
    with pytest.raises(DataError, match="is outside the spec's folder"):
        make_dataset("shd", {"path": "../out.h5"}, base_dir=tmp_path / "specs")
    ds = make_dataset("shd", {"path": "../out.h5"}, base_dir=tmp_path / "specs",
                      allow_outside=True)
    assert len(ds) == 4
    with pytest.raises(DataError) as err:
        check_dataset("shd", {"base_dir": "/"})  # set by the loader, not by a spec
    assert err.value.message.startswith("dataset 'shd' has no argument 'base_dir'; it "
                                        "accepts: path, test, dt, duration, length")


@pytest.mark.parametrize(("spec", "missing", "get"), [
    ("shd_rsnn", "data/shd_train.h5", "download shd_train.h5.gz and shd_test.h5.gz from "
     "https://zenkelab.org/datasets/ and gunzip them"),
    ("nmnist_conv", "data/NMNIST/Train", "download Train.zip and Test.zip from "
     "https://www.garrickorchard.com/datasets/n-mnist and unzip them"),
])
def test_shipped_spec_names_the_missing_download(capsys: pytest.CaptureFixture[str], spec: str,
                                                 missing: str, get: str) -> None:
    from rpgraph.cli import main

    if (ROOT / "specs" / missing).exists():
        pytest.skip("the data set is installed")
    assert main(["check", str(ROOT / "specs" / f"{spec}.rpg")]) == 1
    err = capsys.readouterr().err
    assert f"error: data file '{missing}' does not exist" in err
    assert err.endswith(f"hint: {get}; rpgraph never downloads\n")


SHD_ERRORS = [
    ("missing", "data file 'nope.h5' does not exist",
     "download shd_train.h5.gz and shd_test.h5.gz from https://zenkelab.org/datasets/ and "
     "gunzip them; rpgraph never downloads"),
    ("gz", "data file 'g.h5' does not exist", "unpack it first: gunzip 'g.h5.gz'"),
    ("no_path", "dataset 'shd' needs a file: write shd(path = \"...\")",
     "download shd_train.h5.gz and shd_test.h5.gz from https://zenkelab.org/datasets/ and "
     "gunzip them"),
    ("layout", "data file 'bad.h5' has no dataset 'spikes/units' (the SHD/SSC layout is "
     "spikes/times, spikes/units and labels)", None),
    ("not_hdf5", "data file 'bad.h5' is not an HDF5 file, or it is damaged or truncated",
     "SHD/SSC files are gunzipped .h5 files"),
    ("nan", "data file 'bad.h5': sample 1 has timestamp nan (event 1); expected finite "
     "times >= 0", "times are seconds from the start of each sample"),
    ("negative", "data file 'bad.h5': sample 0 has timestamp -0.5 (event 0); expected finite "
     "times >= 0", "times are seconds from the start of each sample"),
    ("unit", "data file 'bad.h5': sample 1 has unit 700 (event 0); the data declare 700 "
     "channels (units 0..699)", None),
    ("label", "data file 'bad.h5': sample 1 has label 20; expected a class 0..19", None),
    ("too_wide", "dataset 'shd': channels = 800 is more than the 700 channels of the data",
     "use channels <= 700 (0 keeps them all)"),
    ("dt", "dataset 'shd': expected dt > 0, got 0.0", None),
    ("reduce", "dataset 'shd': unknown reduce 'al'; expected one of any, sum", None),
]


@pytest.mark.parametrize(("case", "message", "hint"), SHD_ERRORS, ids=[c[0] for c in SHD_ERRORS])
def test_shd_bad_input(tmp_path: Path, case: str, message: str, hint: str | None) -> None:
    bad, kwargs = tmp_path / "bad.h5", {"path": "bad.h5"}
    good_t, good_u = [[0.1], [0.2, 0.3]], [[1], [2, 3]]
    if case == "missing":
        kwargs = {"path": "nope.h5"}
    elif case == "gz":
        (tmp_path / "g.h5.gz").write_bytes(b"")
        kwargs = {"path": "g.h5"}
    elif case == "no_path":
        kwargs = {}
    elif case == "layout":
        write_shd(bad, good_t, good_u, [0, 1], skip="spikes/units")
    elif case == "not_hdf5":
        bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 20)  # an HDF5 signature, then nothing
    else:
        times = {"nan": [[0.1], [0.2, np.nan]], "negative": [[-0.5], [0.2, 0.3]]}
        units = {"unit": [[1], [700, 3]]}
        write_shd(bad, times.get(case, good_t), units.get(case, good_u),
                  [0, 20] if case == "label" else [0, 1])
        kwargs |= {"too_wide": {"channels": 800}, "dt": {"dt": 0.0},
                   "reduce": {"reduce": "al"}}.get(case, {})
    with pytest.raises(DataError) as err:
        shd(**kwargs, base_dir=tmp_path)  # type: ignore[arg-type]
    assert (err.value.message, err.value.hint) == (message, hint)


def test_without_h5py_the_error_names_the_extra(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    random_shd(tmp_path / "a.h5")
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now raises ImportError
    with pytest.raises(DataError) as err:
        read_shd(tmp_path / "a.h5")
    assert str(err.value) == ("error: reading HDF5 event files needs the h5py package, which "
                              "is not installed\nhint: pip install 'rpgraph[events]'")


# --- N-MNIST ---------------------------------------------------------------------------------


def test_decode_nmnist_matches_struct_packing() -> None:
    rng = np.random.default_rng(3)
    want = [(int(rng.integers(0, 34)), int(rng.integers(0, 34)), int(rng.integers(0, 2)),
             int(rng.integers(0, 2**23))) for _ in range(50)] + [(33, 33, 1, 2**23 - 1)]
    got = decode_nmnist(nmnist_bytes(want))
    assert list(zip(*(a.tolist() for a in got), strict=True)) == want
    with pytest.raises(DataError) as err:
        decode_nmnist(nmnist_bytes(want)[:-2], source="data file 'x.bin'")
    assert err.value.message == ("data file 'x.bin' is truncated: 253 bytes is not a whole "
                                 "number of 5-byte (40-bit) events")


def _nmnist_folder(root: Path) -> None:
    for label, name, evs in ((0, "00001.bin", [(0, 0, 0, 0), (33, 1, 1, 2500)]),
                             (7, "00002.bin", [(2, 3, 1, 1000), (2, 3, 1, 999)]),
                             (7, "00003.bin", [])):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        (root / str(label) / name).write_bytes(nmnist_bytes(evs))


def test_nmnist_folder_as_flattened_frames(tmp_path: Path) -> None:
    _nmnist_folder(tmp_path / "Train")
    ev = read_nmnist(tmp_path / "Train")
    assert ev.labels.tolist() == [0, 7, 7] and ev.channels == 2 * 34 * 34
    ds = nmnist(path="Train", test="Train", dt=0.001, length=3, base_dir=tmp_path)
    assert ds.inputs.shape == (3, 3, 2312) and ds.num_classes == 10
    x = ds.inputs
    assert x[0, 0, 0] == 1 and x[0, 2, 1156 + 34 + 33] == 1  # (p, y, x) = (1, 1, 33) at 2.5 ms
    assert x[1, 1, 1156 + 3 * 34 + 2] == 1 and x[1, 0, 1156 + 3 * 34 + 2] == 1
    assert x.sum() == 4 and x[2].sum() == 0 and ds.frame is None
    (tmp_path / "Train" / "7" / "00002.bin").write_bytes(nmnist_bytes([(1, 1, 0, 5)])[:4])
    with pytest.raises(DataError, match="00002.bin' is truncated: 4 bytes"):
        nmnist(path="Train", base_dir=tmp_path, cache=False)
    with pytest.raises(DataError) as err:
        nmnist(path="Test", base_dir=tmp_path)
    assert err.value.hint == ("download Train.zip and Test.zip from "
                              "https://www.garrickorchard.com/datasets/n-mnist and unzip them; "
                              "rpgraph never downloads")


def test_nmnist_frames_for_a_shaped_port(tmp_path: Path, _cache: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(4)
    evs = [(int(a), int(b), int(p), int(t)) for a, b, p, t in zip(
        rng.integers(0, 34, 200), rng.integers(0, 34, 200), rng.integers(0, 2, 200),
        rng.integers(0, 40_000, 200), strict=True)] + [(33, 0, 1, 10_000)]  # on an edge
    (tmp_path / "Train" / "4").mkdir(parents=True)
    (tmp_path / "Train" / "4" / "a.bin").write_bytes(nmnist_bytes(evs))
    ds = nmnist(path="Train", test="Train", dt=0.005, length=6, flatten=False,
                base_dir=tmp_path)
    assert ds.frame == ds.test.frame == (2, 34, 34) and ds.inputs.shape == (1, 6, 2312)
    want = np.zeros((6, 2, 34, 34), np.float32)  # (time, polarity, y, x), one event at a time
    for x, y, p, t in evs:
        if t // 5000 < 6:
            want[t // 5000, p, y, x] += 1
    np.testing.assert_array_equal(ds.inputs[0].reshape(6, 2, 34, 34), want)
    # the frame shape comes back from the cache with the frames
    monkeypatch.setattr(ev_mod, "read_nmnist", lambda *a, **k: pytest.fail("binned again"))
    again = nmnist(path="Train", dt=0.005, length=6, flatten=False, base_dir=tmp_path)
    assert again.frame == (2, 34, 34) and again.take(np.array([0])).frame == (2, 34, 34)
    assert nmnist(path="Train", dt=0.005, length=6, base_dir=tmp_path).frame is None
    with pytest.raises(DataError) as err:
        nmnist(path="Train", channels=128, flatten=False, base_dir=tmp_path)
    assert (err.value.message, err.value.hint) == (
        "dataset 'nmnist': channels = 128 groups the pixels into bands, which breaks the "
        "(2, 34, 34) frames that flatten = false keeps", "leave channels out, or use "
        "flatten = true")


def _conv_spec(tmp_path: Path, port: str, data: str) -> Path:
    spec = tmp_path / "c.rpg"
    spec.write_text(f"network c (dt = 5 ms) {{\n    input x : {port}\n    output y : 10\n"
                    "    x -> flatten -> linear(10) -> y\n}\ntrain {\n"
                    f"    data = {data}\n    loss = cross_entropy(y, target)\n}}\n",
                    encoding="utf-8")
    return spec


PORT_CASES = [
    ("(2, 34, 34)", "flatten = false", None, None),
    ("(2, 34, 34)", "flatten = true", None, None),  # plain channels of the same size
    ("(2, 32, 32)", "flatten = false",
     "array 'inputs' has shape (1, 4, 2312) (frames (2, 34, 34) flattened); expected "
     "(N, T, 2048) for input 'x' : (2, 32, 32)", "declare input 'x' : (2, 34, 34)"),
    ("(1, 68, 34)", "flatten = false",
     "array 'inputs' has shape (1, 4, 2312) (frames (2, 34, 34) flattened); expected frames "
     "(1, 68, 34) for input 'x' : (1, 68, 34)", "declare input 'x' : (2, 34, 34)"),
    ("2312", "flatten = false",
     "array 'inputs' has shape (1, 4, 2312) (frames (2, 34, 34) flattened); expected plain "
     "channels for input 'x' : 2312",
     "declare input 'x' : (2, 34, 34), or bin with flatten = true"),
    ("(2, 34, 34)", "channels = 128",
     "array 'inputs' has shape (1, 4, 128); expected (N, T, 2312) for input 'x' : (2, 34, 34)",
     "the input takes (2, 34, 34) frames flattened channel-major (2312 channels); or declare "
     "input 'x' : 128"),
]


@pytest.mark.parametrize(("port", "arg", "message", "hint"), PORT_CASES)
def test_frames_against_the_input_port(tmp_path: Path, port: str, arg: str,
                                       message: str | None, hint: str | None) -> None:
    from rpgraph.graph import load
    from rpgraph.train_config import elaborate_train, open_data

    _nmnist_folder(tmp_path / "N")
    (tmp_path / "N" / "7" / "00003.bin").unlink()
    (tmp_path / "N" / "7" / "00002.bin").unlink()
    data = f'nmnist(path = "N", length = 4, {arg})'
    net = load(_conv_spec(tmp_path, port, data))
    if message is None:
        ds, _ = open_data(net, elaborate_train(net))
        assert ds.inputs.shape == (1, 4, 2312)
        return
    with pytest.raises(DataError) as err:
        open_data(net, elaborate_train(net))
    assert (err.value.message, err.value.hint) == (f"dataset '{data}': {message}", hint)


# --- the generic layout ----------------------------------------------------------------------


def test_generic_npz_with_units_and_with_pixels(tmp_path: Path) -> None:
    np.savez(tmp_path / "u.npz", times=np.array([0.02, 0.0, 0.015]), sample=np.array([1, 0, 1]),
             units=np.array([2, 0, 1]), labels=np.array([0, 1, 0]), channels=np.array(4))
    ds = events(path="u.npz", dt=0.01, length=3, base_dir=tmp_path)
    assert ds.inputs.shape == (3, 3, 4) and ds.labels.tolist() == [0, 1, 0]
    assert ds.inputs[0, 0, 0] == 1 and ds.inputs[1, 2, 2] == 1 and ds.inputs[1, 1, 1] == 1
    assert ds.inputs[2].sum() == 0
    np.savez(tmp_path / "xy.npz", times=np.array([0.0, 0.0]), sample=np.array([0, 0]),
             x=np.array([1, 2]), y=np.array([0, 1]), polarity=np.array([-1, 1]),
             width=np.array(3), height=np.array(2), labels=np.array([0]))
    ev = read_event_npz(tmp_path / "xy.npz")
    assert ev.channels == 12 and ev.units.tolist() == [1, 6 + 3 + 2] and ev.frame == (2, 2, 3)
    framed = events(path="xy.npz", dt=0.01, length=1, flatten=False, base_dir=tmp_path)
    assert framed.frame == (2, 2, 3)
    on = [tuple(i.tolist()) for i in framed.inputs[0, 0].reshape(2, 2, 3).nonzero()]
    assert on == [(0, 1), (0, 1), (1, 2)]  # (polarity, y, x) of both events
    np.savez(tmp_path / "xy1.npz", times=np.array([0.0]), sample=np.array([0]),
             x=np.array([1]), width=np.array(3), height=np.array(2), labels=np.array([0]))
    assert events(path="xy1.npz", length=1, flatten=False, base_dir=tmp_path).frame == (1, 2, 3)
    with pytest.raises(DataError) as err:
        events(path="u.npz", flatten=False, base_dir=tmp_path)
    assert (err.value.message, err.value.hint) == (
        "dataset 'events': flatten = false needs pixel events (x, y with width and height), "
        "but 'u.npz' holds units", "use flatten = true (one channel per unit)")


GENERIC_ERRORS = [
    ({"times": [0.0], "units": [0], "labels": [0]},
     "data file 'g.npz' has no array 'sample' (it holds: labels, times, units)"),
    ({"times": [0.0], "sample": [3], "units": [0], "labels": [0]},
     "data file 'g.npz': event 0 belongs to sample 3, but 'labels' has 1 samples"),
    ({"times": [0.0], "sample": [0], "units": [4], "labels": [0], "channels": 4},
     "data file 'g.npz': sample 0 has unit 4 (event 0); the data declare 4 channels "
     "(units 0..3)"),
    ({"times": [0.0], "sample": [0], "x": [3], "width": 3, "height": 1, "labels": [0]},
     "data file 'g.npz': event 0 is at pixel (3, 0), outside the 3 x 1 sensor"),
    ({"times": [np.nan], "sample": [0], "units": [0], "labels": [0]},
     "data file 'g.npz': sample 0 has timestamp nan (event 0); expected finite times >= 0"),
]


@pytest.mark.parametrize(("arrays", "message"), GENERIC_ERRORS)
def test_generic_npz_bad_input(tmp_path: Path, arrays: dict[str, object], message: str) -> None:
    np.savez(tmp_path / "g.npz", **{k: np.asarray(v) for k, v in arrays.items()})
    with pytest.raises(DataError) as err:
        events(path="g.npz", base_dir=tmp_path)
    assert err.value.message == message


# --- encoders --------------------------------------------------------------------------------


def test_rate_poisson_latency() -> None:
    # (the digits loader calls these; tests/test_data.py pins its outputs)
    x = np.random.default_rng(0).uniform(0, 1, (5, 64))
    lat = latency(x, length=10, gain=1.5)
    p = np.clip(x * 1.5, 0, 1)
    assert (lat.sum(axis=1) == 1).all()
    np.testing.assert_array_equal(lat.argmax(axis=1), np.rint((1 - p) * 9))
    np.testing.assert_array_equal(rate(x[:5], length=3, gain=2.0)[:, 1],
                                  (x[:5] * 2).astype(np.float32))
    spikes = poisson(np.array([[0.0, 0.5, 1.0]]), length=4000, rng=np.random.RandomState(1))
    assert spikes[0, :, 0].sum() == 0 and spikes[0, :, 2].sum() == 4000
    assert abs(spikes[0, :, 1].mean() - 0.5) < 0.03


def test_delta_against_a_per_sample_loop() -> None:
    rng = np.random.default_rng(4)
    x = np.cumsum(rng.normal(0, 0.2, (3, 40, 5)), axis=1)
    got = delta(x, threshold=0.15)
    want = np.zeros((3, 40, 10), np.float32)
    for n in range(3):
        for c in range(5):
            ref = x[n, 0, c]
            for t in range(1, 40):
                while x[n, t, c] - ref >= 0.15:
                    ref += 0.15
                    want[n, t, c] += 1
                while ref - x[n, t, c] >= 0.15:
                    ref -= 0.15
                    want[n, t, 5 + c] += 1
    np.testing.assert_allclose(got, want, atol=1)  # float rounding at exact multiples
    assert np.mean(got == want) > 0.99


@pytest.mark.parametrize(("x", "encoding", "kwargs", "message"), [
    (np.ones((2, 3)), "poison", {}, "encoder: unknown encoding 'poison'; expected one of "
     "delta, latency, poisson, rate"),
    (np.ones((2, 3)), "delta", {}, "encoder: encoding 'delta' expects inputs shaped "
     "(N, T, C), got shape (2, 3)"),
    (np.ones((2, 4, 3)), "rate", {}, "encoder: encoding 'rate' expects inputs shaped (N, C), "
     "got shape (2, 4, 3)"),
    (np.ones((2, 3)), "rate", {"gain": -1.0}, "encoder: expected a finite gain >= 0, got -1.0"),
    (np.ones((2, 3, 1)), "delta", {"threshold": 0.0},
     "encoder: expected a finite threshold > 0, got 0.0"),
])
def test_encode_bad_arguments(x: np.ndarray, encoding: str, kwargs: dict[str, float],
                              message: str) -> None:
    with pytest.raises(DataError) as err:
        encode(x, encoding, **kwargs)  # type: ignore[arg-type]
    assert err.value.message == message


def test_encoded_npz_data_set(tmp_path: Path) -> None:
    np.savez(tmp_path / "px.npz", inputs=np.array([[0.0, 1.0], [1.0, 0.0]]),
             labels=np.array([0, 1]), test_inputs=np.array([[0.5, 0.5]]),
             test_labels=np.array([2]))
    ds = make_dataset("encoded", {"path": "px.npz", "encoding": "latency", "length": 5},
                      base_dir=tmp_path)
    assert ds.inputs.shape == (2, 5, 2) and ds.num_classes == 3 and len(ds.test) == 1
    assert ds.inputs[0, 0].tolist() == [0.0, 1.0] and ds.test.inputs[0, 2].tolist() == [1, 1]
    np.savez(tmp_path / "sig.npz", inputs=np.zeros((2, 6, 3)), labels=np.array([0, 1]))
    assert encoded(path="sig.npz", encoding="delta", base_dir=tmp_path).inputs.shape == (2, 6, 6)
    with pytest.raises(DataError) as err:
        encoded(path="sig.npz", encoding="rate", base_dir=tmp_path)
    assert err.value.message == ("dataset 'encoded' (sig.npz): encoding 'rate' expects inputs "
                                 "shaped (N, C), got shape (2, 6, 3)")
