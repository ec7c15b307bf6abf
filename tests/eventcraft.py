"""Miniature event files in the official formats, written independently of rpgraph's readers:
SHD/SSC HDF5 (h5py, variable-length ``spikes/times`` and ``spikes/units``, ``labels``) and
N-MNIST binaries (5 bytes per event, struct-packed bit by bit)."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def write_shd(path: Path, times: Sequence[Sequence[float]], units: Sequence[Sequence[int]],
              labels: Sequence[int], *, skip: str = "") -> None:
    """An SHD-layout file; ``skip`` leaves one dataset (e.g. ``"spikes/units"``) out."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        data = {"spikes/times": (times, h5py.vlen_dtype(np.float32)),
                "spikes/units": (units, h5py.vlen_dtype(np.uint16))}
        for key, (rows, dtype) in data.items():
            if key != skip:
                ds = f.create_dataset(key, (len(rows),), dtype=dtype)
                for i, row in enumerate(rows):
                    ds[i] = np.asarray(row, dtype=dtype.metadata["vlen"])
        if skip != "labels":
            f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))


def random_shd(path: Path, samples: int = 4, classes: int = 20, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 40, samples)
    write_shd(path, [rng.uniform(0, 1.1, k) for k in counts],
              [rng.integers(0, 700, k) for k in counts], rng.integers(0, classes, samples))


def nmnist_bytes(events: Sequence[tuple[int, int, int, int]]) -> bytes:
    """``(x, y, polarity, t_us)`` events as N-MNIST's 40-bit records."""
    out = b""
    for x, y, p, t in events:
        out += struct.pack(">BBBBB", x, y, (p << 7) | (t >> 16), (t >> 8) & 0xFF, t & 0xFF)
    return out


def random_nmnist(root: Path, samples: int = 4, seed: int = 0, events: int = 600) -> None:
    """An N-MNIST-layout folder (``<digit>/<id>.bin``): ``samples`` files of ``events``
    random events over 300 ms, digits in turn."""
    rng = np.random.default_rng(seed)
    for i in range(samples):
        folder = root / str(i % 10)
        folder.mkdir(parents=True, exist_ok=True)
        xy = rng.integers(0, 34, (events, 2))
        rows = zip(xy[:, 0].tolist(), xy[:, 1].tolist(), rng.integers(0, 2, events).tolist(),
                   rng.integers(0, 300_000, events).tolist(), strict=True)
        (folder / f"{i:05d}.bin").write_bytes(nmnist_bytes(list(rows)))
