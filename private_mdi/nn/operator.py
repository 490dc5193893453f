"""Sparse (CSR) linear operators: convolutions without their dense equivalents, exact products in GF(p).

A convolution's dense-equivalent matrix is mostly zeros: MiniONN's first conv (5×5, 16 channels, 28×28
input) is 9216×784 with 25 non-zeros per row. :class:`SparseOperator` keeps only the non-zeros in CSR
form (``indptr``, ``indices``, ``data``), so that memory and work are proportional to the non-zeros:

* :func:`conv2d_operator` builds a Conv2d's operator directly from its kernel by index arithmetic
  (output ``(o, y, x)`` reads input ``(c, y·s_h + i − p_h, x·s_w + j − p_w)`` with weight ``K[o, c, i, j]``;
  padding positions are dropped), never materialising the dense matrix;
* :func:`segment_operator` composes the linear layers between two ReLUs (Conv2d, AvgPool2d, Flatten,
  Dense) as sparse products, and gives the segment's bias by pushing the zero input through it;
* :meth:`SparseOperator.matmul_mod` is the exact product ``W u mod p`` for a signed integer operator
  (|W_ij| < 2^62) and ``u`` in [0, p): ``u`` is cut into k-bit limbs so that every row sum of
  ``W_ij · limb`` stays below 2^63 in int64, the limb sums are reduced mod p and recombined by Horner's
  rule with the exact field multiplication (:meth:`cmpc.field.PrimeField.raw_mul`). The result equals the
  dense ``(W mod p) @ u mod p`` bit for bit (tests compare both).

Nothing secret is involved: an operator holds (quantised) model weights, public to whoever holds them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from cmpc.errors import ShapeError
from cmpc.field import PrimeField

from ..errors import ParameterError, UnsupportedModelError
from .layers import AvgPool2d, Conv2d, Dense, Flatten, Layer

__all__ = ["SparseOperator", "conv2d_operator", "segment_operator"]


@dataclass(frozen=True)
class SparseOperator:
    """An (n_out, n_in) matrix in CSR form: row i's non-zeros are ``data[indptr[i]:indptr[i+1]]`` at columns
    ``indices[indptr[i]:indptr[i+1]]`` (int64 indices; data int64 for quantised weights, else float64)."""

    shape: tuple[int, int]
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    def __post_init__(self) -> None:
        n_out, n_in = self.shape
        if n_out < 1 or n_in < 1:
            raise ShapeError(f"operator shape must be positive, got {self.shape}")
        if self.indptr.shape != (n_out + 1,) or self.indptr[0] != 0 or np.any(np.diff(self.indptr) < 0):
            raise ShapeError(f"indptr must be non-decreasing of length {n_out + 1} starting at 0")
        nnz = int(self.indptr[-1])
        if self.indices.shape != (nnz,) or self.data.shape != (nnz,):
            raise ShapeError(f"indices and data must both hold the {nnz} non-zeros")
        if nnz and (int(self.indices.min()) < 0 or int(self.indices.max()) >= n_in):
            raise ShapeError(f"column indices must lie in [0, {n_in})")

    # -- construction / conversion ---------------------------------------------------------------------
    @classmethod
    def from_scipy(cls, m: sp.spmatrix | sp.sparray) -> SparseOperator:
        c = sp.csr_matrix(m)
        c.eliminate_zeros()
        c.sort_indices()
        return cls(
            (int(c.shape[0]), int(c.shape[1])),
            c.indptr.astype(np.int64),
            c.indices.astype(np.int64),
            np.asarray(c.data),
        )

    @classmethod
    def from_dense(cls, w: np.ndarray) -> SparseOperator:
        w = np.asarray(w)
        if w.ndim != 2:
            raise ShapeError(f"a dense operator must be 2-D (out, in), got shape {w.shape}")
        return cls.from_scipy(sp.csr_matrix(w))

    def to_scipy(self) -> sp.csr_matrix:
        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)

    def to_dense(self) -> np.ndarray:
        return np.asarray(self.to_scipy().toarray())

    # -- properties ------------------------------------------------------------------------------------
    @property
    def out_dim(self) -> int:
        return self.shape[0]

    @property
    def in_dim(self) -> int:
        return self.shape[1]

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    @property
    def nbytes(self) -> int:
        return int(self.indptr.nbytes + self.indices.nbytes + self.data.nbytes)

    def abs_max(self) -> int | float:
        """``max |W_ij|`` over the non-zeros (0 for an all-zero operator)."""
        if not self.nnz:
            return 0
        m = np.abs(self.data).max()
        return int(m) if np.issubdtype(self.data.dtype, np.integer) else float(m)

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Row i's (columns, values) of its non-zeros."""
        lo, hi = int(self.indptr[i]), int(self.indptr[i + 1])
        return self.indices[lo:hi], self.data[lo:hi]

    def rows(self, lo: int, hi: int) -> SparseOperator:
        """Rows lo..hi−1 (an edge's slice of a layer)."""
        if not 0 <= lo < hi <= self.out_dim:
            raise ShapeError(f"row slice [{lo}, {hi}) outside [0, {self.out_dim})")
        a, b = int(self.indptr[lo]), int(self.indptr[hi])
        return SparseOperator(
            (hi - lo, self.in_dim), self.indptr[lo : hi + 1] - a, self.indices[a:b], self.data[a:b]
        )

    def map_data(self, data: np.ndarray) -> SparseOperator:
        """Same sparsity pattern, new values (e.g. quantised)."""
        return SparseOperator(self.shape, self.indptr, self.indices, np.asarray(data))

    # -- products --------------------------------------------------------------------------------------
    def matmul(self, x: np.ndarray) -> np.ndarray:
        """Float ``W x`` (x of shape (in,) or (in, m))."""
        return np.asarray(self.to_scipy() @ np.asarray(x, dtype=np.float64))

    def _row_sums(self, prods: np.ndarray) -> np.ndarray:
        out = np.zeros((self.out_dim, *prods.shape[1:]), dtype=np.int64)
        nonempty = self.indptr[:-1] < self.indptr[1:]
        if prods.shape[0]:
            out[nonempty] = np.add.reduceat(prods, self.indptr[:-1][nonempty], axis=0)
        return out

    def matmul_mod(self, u: np.ndarray, p: int) -> np.ndarray:
        """Exact ``W u mod p`` (int64 in [0, p)) for signed integer W and ``u`` in [0, p), shape (in,) or
        (in, m); equal to ``PrimeField(p).raw_matmul(W mod p, u)``."""
        if not np.issubdtype(self.data.dtype, np.integer):
            raise ParameterError("matmul_mod needs an integer (quantised) operator")
        u = np.asarray(u, dtype=np.int64)
        if u.ndim not in (1, 2) or u.shape[0] != self.in_dim:
            raise ShapeError(f"operator is {self.shape}, the vector has shape {u.shape}")
        fld = PrimeField(int(p))
        wmax = int(self.abs_max())
        if wmax >= 1 << 62:
            raise ParameterError("operator entries must be below 2^62 in absolute value")
        row_nnz = int(np.diff(self.indptr).max(initial=0))
        k = 62 - max(1, wmax).bit_length() - max(1, row_nnz).bit_length()
        if k < 1:
            raise ParameterError(
                f"operator rows too long or entries too large for int64 limbs ({self.shape})"
            )
        limbs = -(-int(p - 1).bit_length() // k) or 1
        data = self.data.astype(np.int64).reshape((-1,) + (1,) * (u.ndim - 1))
        gathered = u[self.indices]
        acc = np.zeros((self.out_dim, *u.shape[1:]), dtype=np.int64)
        radix = pow(2, k, int(p))
        mask = (1 << k) - 1
        for t in range(limbs - 1, -1, -1):
            limb = (gathered >> (k * t)) & mask
            s = np.mod(self._row_sums(data * limb), int(p))
            acc = fld.raw_add(fld.raw_mul(acc, radix), s)
        return acc


def conv2d_operator(conv: Conv2d, input_shape: tuple[int, ...]) -> SparseOperator:
    """The bias-free Conv2d as a CSR operator on the C-order flattened (C, H, W) input (module docstring)."""
    co, ho, wo = conv.output_shape(input_shape)
    c, h, w = input_shape
    _, ci, kh, kw = conv.weight.shape
    (sh, sw), (ph, pw) = conv.stride, conv.padding
    o, cc, i, j, y, x = np.meshgrid(
        np.arange(co),
        np.arange(ci),
        np.arange(kh),
        np.arange(kw),
        np.arange(ho),
        np.arange(wo),
        indexing="ij",
    )
    iy, ix = y * sh + i - ph, x * sw + j - pw
    ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    rows = ((o * ho + y) * wo + x)[ok]
    cols = ((cc * h + iy) * w + ix)[ok]
    vals = conv.weight[o[ok], cc[ok], i[ok], j[ok]]
    m = sp.coo_matrix((vals, (rows, cols)), shape=(co * ho * wo, c * h * w))
    return SparseOperator.from_scipy(m)


def _avgpool_matrix(pool: AvgPool2d, input_shape: tuple[int, ...]) -> sp.csr_matrix:
    c, ho, wo = pool.output_shape(input_shape)
    _, h, w = input_shape
    (kh, kw), stride = pool.kernel, pool.stride
    assert stride is not None
    ch, i, j, y, x = np.meshgrid(
        np.arange(c), np.arange(kh), np.arange(kw), np.arange(ho), np.arange(wo), indexing="ij"
    )
    rows = ((ch * ho + y) * wo + x).ravel()
    cols = ((ch * h + y * stride[0] + i) * w + x * stride[1] + j).ravel()
    vals = np.full(rows.size, 1.0 / (kh * kw))
    return sp.csr_matrix((vals, (rows, cols)), shape=(c * ho * wo, c * h * w))


def segment_operator(
    input_shape: tuple[int, ...], layers: Sequence[Layer]
) -> tuple[SparseOperator, np.ndarray, tuple[int, ...]]:
    """``(W, b, output_shape)`` of the affine map of a run of linear layers, W sparse (float64).

    Raises UnsupportedModelError for a non-linear layer.
    """
    shape = tuple(input_shape)
    d_in = math.prod(shape)
    acc: sp.csr_matrix = sp.identity(d_in, format="csr", dtype=np.float64)
    zero = np.zeros((1, *shape))
    for layer in layers:
        if isinstance(layer, Conv2d):
            m = conv2d_operator(layer, shape).to_scipy()
        elif isinstance(layer, AvgPool2d):
            m = _avgpool_matrix(layer, shape)
        elif isinstance(layer, Dense):
            m = sp.csr_matrix(layer.weight)
        elif isinstance(layer, Flatten):
            m = None
        else:
            raise UnsupportedModelError(f"{layer.describe()} is not a linear layer")
        if m is not None:
            acc = sp.csr_matrix(m @ acc)
        zero = layer.forward(zero)
        shape = layer.output_shape(shape)
    return SparseOperator.from_scipy(acc), zero.reshape(-1).copy(), shape
