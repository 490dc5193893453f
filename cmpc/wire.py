"""Byte encodings shared by every protocol: field matrices and length-prefixed parts.

One byte order everywhere: **little-endian** (headers and elements alike).

Field matrix (codec version :data:`MATRIX_VERSION`)::

    version:u8 | width:u8 (4 if p ≤ 2^32, else 8) | rows:u32 | cols:u32 | rows·cols elements (u32 or u64)

:func:`decode_matrix` checks the codec version, the width against ``p``, the element count against a
limit *before* allocating, the exact length, an expected shape when one is given, and that every element
is below ``p``. Any failure raises :class:`~cmpc.errors.ProtocolError` naming what was decoded.

Parts (a list of byte strings)::

    count:u16 | (length:u32 | bytes) × count

:func:`split_parts` requires exactly the expected number of parts and no trailing bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import numpy as np

from .errors import ProtocolError

__all__ = [
    "MATRIX_HEADER",
    "MATRIX_VERSION",
    "MAX_ELEMENTS",
    "decode_matrix",
    "element_width",
    "encode_matrix",
    "join_parts",
    "split_parts",
]

MATRIX_VERSION = 1
MATRIX_HEADER = struct.Struct("<BBII")
#: the most elements one encoded matrix may claim (2^31: 8 GiB at 4 bytes each)
MAX_ELEMENTS = 1 << 31
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")


def element_width(p: int) -> int:
    """Bytes per field element on the wire: 4 for p ≤ 2^32, else 8."""
    return 4 if p <= 2**32 else 8


def encode_matrix(values: np.ndarray, p: int) -> bytes:
    """Encode a 1-D (as one row) or 2-D array of representatives in [0, p) (int64, or uint32 for p ≤ 2^32;
    not re-checked: the sender's values come from its own field arithmetic)."""
    width = element_width(p)
    arr = np.asarray(values)
    if arr.dtype != np.uint32 or width != 4:  # uint32 (the compact type) is written as it is
        arr = np.asarray(arr, dtype=np.int64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ProtocolError(f"a field matrix must be 1-D or 2-D, got shape {arr.shape}")
    body = np.ascontiguousarray(arr).astype("<u4" if width == 4 else "<u8").tobytes()
    return MATRIX_HEADER.pack(MATRIX_VERSION, width, arr.shape[0], arr.shape[1]) + body


def decode_matrix(
    data: bytes | bytearray | memoryview,
    p: int,
    *,
    shape: tuple[int, int] | None = None,
    what: str = "field matrix",
    max_elements: int = MAX_ELEMENTS,
    compact: bool = False,
) -> np.ndarray:
    """Inverse of :func:`encode_matrix`: a 2-D int64 array of representatives in [0, p).

    ``compact=True`` and 4-byte elements (p ≤ 2^32): a read-only uint32 view of ``data`` instead (no
    copy; the same values, checked the same way)."""
    buf = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    if len(buf) < MATRIX_HEADER.size:
        raise ProtocolError(f"{what}: {len(buf)} bytes is shorter than the {MATRIX_HEADER.size}-byte header")
    version, width, rows, cols = MATRIX_HEADER.unpack_from(buf)
    if version != MATRIX_VERSION:
        raise ProtocolError(f"{what}: matrix codec version {version}, expected {MATRIX_VERSION}")
    if width != element_width(p):
        raise ProtocolError(f"{what}: element width {width} does not match p = {p}")
    count = rows * cols
    if count > max_elements:
        raise ProtocolError(f"{what}: {rows}x{cols} exceeds the limit of {max_elements} elements")
    if shape is not None and (rows, cols) != tuple(shape):
        raise ProtocolError(f"{what}: shape ({rows}, {cols}), expected {tuple(shape)}")
    need = MATRIX_HEADER.size + width * count
    if len(buf) != need:
        raise ProtocolError(f"{what}: {len(buf)} bytes, a {rows}x{cols} matrix needs {need}")
    raw = np.frombuffer(buf, dtype="<u4" if width == 4 else "<u8", offset=MATRIX_HEADER.size, count=count)
    if count and int(raw.max()) >= p:
        raise ProtocolError(f"{what}: element {int(raw.max())} is not below p = {p}")
    if compact and width == 4:
        return raw.reshape(rows, cols)
    return raw.astype(np.int64).reshape(rows, cols)


def join_parts(parts: Iterable[bytes]) -> bytes:
    """Concatenate byte strings with u32 length prefixes after a u16 count."""
    items = [bytes(x) for x in parts]
    if len(items) > 0xFFFF:
        raise ProtocolError(f"at most 65535 parts, got {len(items)}")
    return _U16.pack(len(items)) + b"".join(_U32.pack(len(x)) + x for x in items)


def split_parts(data: bytes, n: int, *, what: str = "payload") -> list[bytes]:
    """Inverse of :func:`join_parts`, requiring exactly ``n`` parts and no trailing bytes."""
    if len(data) < 2:
        raise ProtocolError(f"{what}: {len(data)} bytes is too short for a part count")
    got = _U16.unpack_from(data)[0]
    if got != n:
        raise ProtocolError(f"{what}: {got} parts, expected {n}")
    pos, out = 2, []
    for i in range(n):
        if pos + 4 > len(data):
            raise ProtocolError(f"{what}: truncated before the length of part {i}")
        ln = _U32.unpack_from(data, pos)[0]
        pos += 4
        if pos + ln > len(data):
            raise ProtocolError(f"{what}: part {i} claims {ln} bytes, {len(data) - pos} remain")
        out.append(data[pos : pos + ln])
        pos += ln
    if pos != len(data):
        raise ProtocolError(f"{what}: {len(data) - pos} trailing bytes")
    return out
