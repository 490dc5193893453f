"""Byte codec of a sparse (CSR) weight operator, cloud → edge (issue 14).

Layout (little-endian): ``"CSR1" + join_parts([header, indptr, indices, data])`` with

* header ``"CSR1"`` (4-byte tag), rows, cols, nnz (three uint64);
* ``indptr``: rows + 1 uint64, non-decreasing from 0 to nnz; ``indices``: nnz uint32 column indices < cols;
* ``data``: the non-zeros mod p as a 1 × nnz field matrix (:func:`cmpc.wire.encode_matrix`).

The tag's first byte (``C``) differs from the dense matrix codec's version byte (1), so a weights message
says which form it holds. Decoding checks the tag, every length against the header and the expected
shape, and every index; it returns the operator with the centred representatives of the residues (in
(−p/2, p/2]), which :meth:`~private_mdi.nn.operator.SparseOperator.matmul_mod` multiplies exactly.

What travels: the edge's slice of the quantised weights, exactly what the dense message carries (minus
the zeros, whose positions a convolution's structure makes public anyway).
"""

from __future__ import annotations

import struct

import numpy as np

from cmpc.errors import ProtocolError
from cmpc.wire import decode_matrix, encode_matrix, join_parts, split_parts

from ..nn.operator import SparseOperator

__all__ = ["CSR_TAG", "decode_sparse", "encode_sparse", "is_sparse_payload"]

CSR_TAG = b"CSR1"
_HEADER = struct.Struct("<4sQQQ")


def is_sparse_payload(part: bytes) -> bool:
    """Whether an encoded weight matrix is the CSR form (else the dense field-matrix codec)."""
    return part[:4] == CSR_TAG


def encode_sparse(op: SparseOperator, p: int) -> bytes:
    """The CSR bytes of an integer operator (its entries are sent mod p)."""
    if op.in_dim >= 1 << 32:
        raise ProtocolError(f"a CSR operator needs fewer than 2^32 columns, got {op.in_dim}")
    data = np.mod(op.data.astype(np.int64), p).reshape(1, -1)
    return CSR_TAG + join_parts(
        [
            _HEADER.pack(CSR_TAG, op.out_dim, op.in_dim, op.nnz),
            op.indptr.astype("<u8").tobytes(),
            op.indices.astype("<u4").tobytes(),
            encode_matrix(data, p) if op.nnz else b"",
        ]
    )


def decode_sparse(buf: bytes, p: int, shape: tuple[int, int], *, what: str = "weights") -> SparseOperator:
    """Inverse of :func:`encode_sparse` for an operator of the expected ``shape``; raises ProtocolError
    naming what was wrong (tag, shape, lengths, indices, residues)."""
    if not is_sparse_payload(buf):
        raise ProtocolError(f"{what}: a CSR operator starts with {CSR_TAG!r}, got {bytes(buf[:4])!r}")
    head, ip_b, ix_b, data_b = split_parts(buf[4:], 4, what=what)
    if len(head) != _HEADER.size:
        raise ProtocolError(f"{what}: CSR header of {len(head)} bytes, expected {_HEADER.size}")
    tag, rows, cols, nnz = _HEADER.unpack(head)
    if tag != CSR_TAG:
        raise ProtocolError(f"{what}: tag {tag!r}, expected {CSR_TAG!r}")
    if (rows, cols) != tuple(shape):
        raise ProtocolError(f"{what}: CSR shape ({rows}, {cols}), expected {tuple(shape)}")
    if nnz > rows * cols:
        raise ProtocolError(f"{what}: {nnz} non-zeros in a {rows}x{cols} matrix")
    if len(ip_b) != 8 * (rows + 1) or len(ix_b) != 4 * nnz:
        raise ProtocolError(
            f"{what}: CSR index arrays of {len(ip_b)} / {len(ix_b)} bytes do not match the header"
        )
    indptr = np.frombuffer(ip_b, "<u8").astype(np.int64)
    indices = np.frombuffer(ix_b, "<u4").astype(np.int64)
    if nnz:
        data = decode_matrix(data_b, p, shape=(1, nnz), what=f"{what} values")[0].astype(np.int64)
    elif data_b:
        raise ProtocolError(f"{what}: values given for an operator without non-zeros")
    else:
        data = np.zeros(0, np.int64)
    if indptr[0] != 0 or indptr[-1] != nnz or np.any(np.diff(indptr) < 0):
        raise ProtocolError(f"{what}: CSR row pointers must rise from 0 to {nnz}")
    if nnz and int(indices.max()) >= cols:
        raise ProtocolError(f"{what}: a column index is not below {cols}")
    data = np.where(data > (p - 1) // 2, data - p, data)
    return SparseOperator((rows, cols), indptr, indices, data)
