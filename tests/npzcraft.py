"""Hand-made ``.npz`` files for tests: zip bombs and members whose zip entry lies.

:func:`write_npz` writes a zip archive byte by byte (zip64 entries), so a member can be a
:class:`Zeros` array -- a real deflate stream of zero bytes, built from one compressed MiB
repeated, so an 8 GiB array takes 8 MB and no time -- and a member's declared size can be
anything. The CRC-32 of the unpacked data is computed without unpacking it (zlib's
``crc32_combine``, which Python's zlib does not expose), so the archives are valid.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MIB = 2**20
_POLY = 0xEDB88320  # CRC-32, reflected


def _multmodp(a: int, b: int) -> int:
    """a * b modulo the CRC polynomial (zlib's multmodp)."""
    m, p = 1 << 31, 0
    while True:
        if a & m:
            p ^= b
            if a & (m - 1) == 0:
                return p
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


_X2N = [1 << 30]  # x^(2^k) modulo the polynomial, k = 0..31
for _ in range(31):
    _X2N.append(_multmodp(_X2N[-1], _X2N[-1]))


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of ``A + B`` from ``crc32(A)``, ``crc32(B)`` and ``len(B)``."""
    p, k, n = 1 << 31, 3, len2  # x^(8 * len2)
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return _multmodp(p, crc1) ^ crc2


def crc32_zeros(n: int, crc: int = 0) -> int:
    """``zlib.crc32(bytes(n), crc)`` without the bytes."""
    block, size = zlib.crc32(b"\0"), 1
    while n:
        if n & 1:
            crc = crc32_combine(crc, block, size)
        block, size, n = crc32_combine(block, block, size), size * 2, n >> 1
    return crc


def _deflated(data: bytes) -> bytes:
    """A raw deflate piece that ends byte-aligned with no final block (so pieces concatenate)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)


def npy_header(shape: tuple[int, ...], dtype: str | np.dtype) -> bytes:
    """The ``.npy`` header numpy writes for an array of this shape and dtype."""
    buf = io.BytesIO()
    descr = np.lib.format.dtype_to_descr(np.dtype(dtype))
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


@dataclass(frozen=True)
class Zeros:
    """A ``.npy`` member of the given shape and dtype holding zeros, stored deflated."""

    shape: tuple[int, ...]
    dtype: str = "<f8"

    def member(self) -> tuple[int, bytes, int, int]:
        """``(method, compressed bytes, crc32, uncompressed size)``."""
        head = npy_header(self.shape, self.dtype)
        nbytes = math.prod(self.shape) * np.dtype(self.dtype).itemsize
        whole, rest = divmod(nbytes, MIB)
        final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty last block
        stream = (_deflated(head) + _deflated(bytes(MIB)) * whole
                  + (_deflated(bytes(rest)) if rest else b"") + final)
        return zipfile_deflated, stream, crc32_zeros(nbytes, zlib.crc32(head)), len(head) + nbytes


zipfile_stored, zipfile_deflated = 0, 8


def _plain(value: np.ndarray | bytes) -> tuple[int, bytes, int, int]:
    if isinstance(value, np.ndarray):
        buf = io.BytesIO()
        np.lib.format.write_array(buf, value, allow_pickle=False)
        value = buf.getvalue()
    return zipfile_stored, value, zlib.crc32(value), len(value)


def write_npz(path: Path, members: dict[str, np.ndarray | bytes | Zeros], *,
              declared: dict[str, int] | None = None) -> None:
    """Write ``members`` (``name`` -> array, raw bytes or :class:`Zeros`) as ``name.npy``
    entries; ``declared`` overrides the uncompressed size an entry declares."""
    out = io.BytesIO()
    central = []
    for name, value in members.items():
        method, data, crc, size = value.member() if isinstance(value, Zeros) else _plain(value)
        size = (declared or {}).get(name, size)
        raw = f"{name}.npy".encode()
        offset = out.tell()
        extra = struct.pack("<HHQQ", 1, 16, size, len(data))  # zip64: sizes
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, method, 0, 0x21, crc,
                              0xFFFFFFFF, 0xFFFFFFFF, len(raw), len(extra)) + raw + extra)
        out.write(data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, method, 0,
                                   0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(raw), len(extra),
                                   0, 0, 0, 0, offset) + raw + extra)
    start = out.tell()
    for entry in central:
        out.write(entry)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central),
                          out.tell() - start, start, 0))
    path.write_bytes(out.getvalue())
