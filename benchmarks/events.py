"""Binning event data: rpgraph's :func:`~rpgraph.io.events.bin_events` against Tonic's
``ToFrame`` (``tonic.functional.to_frame_numpy``) on the same SHD-shaped events, and the
cached second start of ``shd(...)`` on a synthetic file in the official layout.

    python -m benchmarks.events [--samples 8156] [--events 10000] [--tonic-src DIR]

Tonic is optional: without it only rpgraph's rows are printed. ``--tonic-src`` points at an
unpacked Tonic wheel whose own imports (dataset readers with extra dependencies) would fail;
only its ``slicers`` and ``functional/to_frame`` modules are loaded from there. Not a timed
test: it prints seconds and a ratio, nothing asserts them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rpgraph.io.events import Events, bin_events, shd  # noqa: E402

DT_US, LENGTH, UNITS = 10_000, 100, 700  # 10 ms bins over 1 s, SHD's 700 channels


def synthetic(samples: int, events: int, seed: int = 0) -> Events:
    """SHD-shaped events: ``events`` per sample (+-20%), times in [0, 1.2) s."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(int(events * 0.8), int(events * 1.2) + 1, samples)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    times = rng.uniform(0, 1.2, offsets[-1]).astype(np.float32).astype(np.float64)
    sample = np.repeat(np.arange(samples), counts)
    times = times[np.lexsort((times, sample))]  # sorted within each sample, as in SHD files
    units = rng.integers(0, UNITS, offsets[-1])
    return Events(times, units, offsets, rng.integers(0, 20, samples), UNITS)


def load_tonic(src: str | None) -> Any:
    """Tonic's ``to_frame_numpy``, or ``None`` when Tonic is not available."""
    if src:
        pkg = types.ModuleType("tonic")
        pkg.__path__ = [str(Path(src) / "tonic")]  # submodules load without tonic/__init__
        sys.modules["tonic"] = pkg
        sub = types.ModuleType("tonic.functional")
        sub.__path__ = [str(Path(src) / "tonic" / "functional")]
        sys.modules["tonic.functional"] = sub
    try:
        from tonic.functional.to_frame import to_frame_numpy
    except ImportError:
        return None
    return to_frame_numpy


def tonic_frames(ev: Events, to_frame: Any) -> np.ndarray:
    """Tonic's way for SHD: per sample, structured (x, t, p) events, ``sensor_size =
    (700, 1, 1)``, ``time_window`` in µs over [0, 1 s)."""
    dtype = np.dtype([("x", np.int64), ("t", np.int64), ("p", np.int64)])
    out = np.zeros((len(ev), LENGTH, UNITS), np.float32)
    for i in range(len(ev)):
        lo, hi = ev.offsets[i], ev.offsets[i + 1]
        e = np.zeros(hi - lo, dtype)
        e["x"], e["t"] = ev.units[lo:hi], np.floor(ev.times[lo:hi] * 1e6 + 1e-3)
        frames = to_frame(e, sensor_size=(UNITS, 1, 1), time_window=DT_US, start_time=0,
                          end_time=LENGTH * DT_US)
        out[i, : len(frames)] = frames[:LENGTH, 0]
    return out


def timed(fn: Any, repeats: int) -> tuple[Any, float]:
    """``fn()``'s result and its median wall time over ``repeats`` calls (the first call
    also pays for touching fresh memory, so one call alone overstates the steady cost)."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, float(np.median(times))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=1000, help="8156 is SHD's training set")
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--tonic-src", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    ev = synthetic(a.samples, a.events)
    ours, t_ours = timed(lambda: bin_events(ev, dt=DT_US * 1e-6, length=LENGTH), a.repeats)
    print(f"{a.samples} samples x ~{a.events} events: rpgraph bin_events {t_ours:.3f} s "
          f"(median of {a.repeats})")
    to_frame = load_tonic(a.tonic_src)
    if to_frame is None:
        print("tonic: not installed (pass --tonic-src DIR with an unpacked wheel)")
    else:
        theirs, t_tonic = timed(lambda: tonic_frames(ev, to_frame), a.repeats)
        same = np.array_equal(ours, theirs)
        print(f"tonic to_frame_numpy {t_tonic:.3f} s; rpgraph is {t_tonic / t_ours:.1f}x "
              f"(frames identical: {same})")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RPGRAPH_CACHE"] = str(Path(tmp) / "cache")
        write_h5(Path(tmp) / "shd_train.h5", ev)
        for run in ("first (read + bin + write cache)", "second (cache)"):
            t0 = time.perf_counter()
            shd(path="shd_train.h5", dt=DT_US * 1e-6, length=LENGTH, base_dir=Path(tmp))
            print(f"shd(...) {run}: {time.perf_counter() - t0:.3f} s")


def write_h5(path: Path, ev: Events) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (len(ev),), dtype=h5py.vlen_dtype(np.float32))
        units = f.create_dataset("spikes/units", (len(ev),), dtype=h5py.vlen_dtype(np.uint16))
        for i in range(len(ev)):
            lo, hi = ev.offsets[i], ev.offsets[i + 1]
            times[i] = ev.times[lo:hi].astype(np.float32)
            units[i] = ev.units[lo:hi].astype(np.uint16)
        f.create_dataset("labels", data=ev.labels.astype(np.uint16))


if __name__ == "__main__":
    main()
