"""Lowering a model to privateMDI's linear layers, and their quantisation.

The protocol (``docs/private-mdi.md``, paper arXiv 2407.18353 §III) sees a model as linear layers
ℓ = 1..L, each followed by a ReLU except the last. The layers between two ReLUs (any mix of Dense,
Conv2d, AvgPool2d and Flatten) are composed into **one** affine map ``x ↦ W x + b`` on the flattened
(C-order) input, the *dense-equivalent* of that segment: a convolution becomes its (sparse,
weight-shared) matrix and an average pooling is folded into the next linear layer (``W_next · P``).
A MaxPool2d after a ReLU is kept as index windows (``pool``) over that layer's outputs.

Dense or sparse: a segment that contains a Conv2d and whose dense-equivalent work array would exceed
:data:`SPARSE_MIN_ELEMENTS` elements is kept as a :class:`~private_mdi.nn.operator.SparseOperator`
(CSR, memory proportional to its non-zeros, built by index arithmetic without the dense matrix); every
other segment keeps the dense path (bit-identical to earlier releases). The dense-size refusal
(:data:`MAX_DENSE_ELEMENTS`) applies only to dense segments.

:func:`quantize` turns them into :class:`QuantizedLayer` (``Ŵ = round(W·2^f)``,
``β̂ = round(b·2^{2f})``, signed int64) with :class:`~private_mdi.fixedpoint.FixedPoint`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import UnsupportedModelError
from ..fixedpoint import FixedPoint
from .layers import Conv2d, Dense, Layer, MaxPool2d, ReLU
from .operator import SparseOperator, segment_operator

__all__ = ["LinearLayer", "QuantizedLayer", "build_linear", "compose_dense", "quantize", "range_layers"]


class _Affine:
    """Shape of an affine map with ``weight`` of shape (out, in)."""

    weight: np.ndarray | SparseOperator

    @property
    def in_dim(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_dim(self) -> int:
        return int(self.weight.shape[0])


@dataclass(frozen=True)
class LinearLayer(_Affine):
    """Linear layer ℓ (1-based) as its dense-equivalent affine map ``x ↦ W x + b`` (float64).

    ``relu_after`` is False only for the last one. ``source`` names the model layers it was built from.
    ``pool`` (or None) lists, per max-pooling window after the ReLU, the indices of its outputs.
    """

    index: int
    weight: np.ndarray | SparseOperator
    bias: np.ndarray
    relu_after: bool
    source: str
    pool: np.ndarray | None = None  # (windows, window size) indices into this layer's outputs

    @property
    def relu_out_dim(self) -> int:
        """Values after the ReLU (and max pooling, if any): the next layer's input size."""
        return self.out_dim if self.pool is None else int(self.pool.shape[0])


@dataclass(frozen=True)
class QuantizedLayer(_Affine):
    """Linear layer ℓ in fixed point: signed integer ``Ŵ = round(W·2^f)``, ``β̂ = round(b·2^{2f})``."""

    index: int
    weight: np.ndarray | SparseOperator  # int64, signed
    bias: np.ndarray  # int64, signed
    relu_after: bool
    frac_bits: int
    pool: np.ndarray | None = None  # max-pooling windows after the ReLU (indices into the outputs)

    def weight_mod(self, p: int) -> np.ndarray | SparseOperator:
        """``Ŵ mod p``: dense, as int64 in [0, p); sparse, as the operator with the centred representatives
        in (−p/2, p/2] (equal mod p, and small, as :meth:`SparseOperator.matmul_mod` needs)."""
        if isinstance(self.weight, SparseOperator):
            r = np.mod(self.weight.data, p)
            return self.weight.map_data(np.where(r > (p - 1) // 2, r - p, r))
        return np.mod(self.weight, p)

    def weight_abs_max(self) -> int:
        """``max |Ŵ_ij|`` (0 for an all-zero layer)."""
        if isinstance(self.weight, SparseOperator):
            return int(self.weight.abs_max())
        return int(np.abs(self.weight).max(initial=0))

    def bias_mod(self, p: int) -> np.ndarray:
        """``β̂ mod p`` as int64 in [0, p)."""
        return np.mod(self.bias, p)


def _segments(layers: Sequence[Layer]) -> tuple[list[list[Layer]], list[MaxPool2d | None]]:
    """Linear segments between ReLUs, and the max pooling (if any) right after each ReLU."""
    segs: list[list[Layer]] = [[]]
    pools: list[MaxPool2d | None] = []
    for i, layer in enumerate(layers):
        if isinstance(layer, ReLU):
            segs.append([])
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            pools.append(nxt if isinstance(nxt, MaxPool2d) else None)
        elif not isinstance(layer, MaxPool2d):
            segs[-1].append(layer)
    return segs, pools


#: largest dense-equivalent work array (d_in × intermediate size, float64 elements): 2^27 = 1 GiB
MAX_DENSE_ELEMENTS = 2**27
#: a segment with a Conv2d whose dense work array exceeds this (2^20 elements, 8 MiB) is kept sparse;
#: a convolution's dense equivalent has density ≤ (kernel area · in channels) / d_in, e.g. 25/784 for
#: MiniONN's first conv, so above this size the CSR form is the smaller and faster one
SPARSE_MIN_ELEMENTS = 2**20


def _dense_work(d_in: int, shape: tuple[int, ...], seg: Sequence[Layer]) -> int:
    worst = d_in * d_in
    for layer in seg:
        shape = layer.output_shape(shape)
        worst = max(worst, d_in * math.prod(shape))
    return worst


def _check_size(index: int, d_in: int, shape: tuple[int, ...], seg: Sequence[Layer]) -> None:
    """Refuse a segment whose dense-equivalent would need more than MAX_DENSE_ELEMENTS elements."""
    worst = _dense_work(d_in, shape, seg)
    if worst > MAX_DENSE_ELEMENTS:
        raise UnsupportedModelError(
            f"linear layer {index}: its dense equivalent needs {worst:,} elements (limit "
            f"{MAX_DENSE_ELEMENTS:,}, about {MAX_DENSE_ELEMENTS * 8 >> 30} GiB): "
            "reduce the input or layer sizes"
        )


def build_linear(
    input_shape: tuple[int, ...], layers: Sequence[Layer], *, sparse_above: int | None = None
) -> list[LinearLayer]:
    """The linear layers ℓ = 1..L of a validated layer list (float64): dense equivalents, or a
    :class:`SparseOperator` for a segment with a Conv2d whose dense work array exceeds ``sparse_above``
    elements (default: the module's :data:`SPARSE_MIN_ELEMENTS` at call time; module docstring)."""
    if sparse_above is None:
        sparse_above = SPARSE_MIN_ELEMENTS
    out: list[LinearLayer] = []
    shape = input_shape
    segs, pools = _segments(layers)
    for i, seg in enumerate(segs, start=1):
        d_in = math.prod(shape)
        w: np.ndarray | SparseOperator
        if any(isinstance(layer, Conv2d) for layer in seg) and _dense_work(d_in, shape, seg) > sparse_above:
            w, bias, shape = segment_operator(shape, seg)
        else:
            _check_size(i, d_in, shape, seg)
            # dense-equivalent: the identity basis pushed through the segment without biases gives
            # the columns of W; the zero vector pushed through with biases gives b.
            basis = np.eye(d_in).reshape((d_in, *shape))
            zero = np.zeros((1, *shape))
            for layer in seg:
                basis = layer.forward_unbiased(basis)
                zero = layer.forward(zero)
                shape = layer.output_shape(shape)
            w = np.ascontiguousarray(basis.reshape(d_in, -1).T)
            bias = zero.reshape(-1).copy()
        pool = pools[i - 1] if i <= len(pools) else None
        windows = None
        source = " then ".join(layer.describe() for layer in seg) or "identity"
        if pool is not None:
            windows = pool.windows(shape)
            shape = pool.output_shape(shape)
        out.append(
            LinearLayer(
                index=i,
                weight=w,
                bias=bias,
                relu_after=i < len(segs),
                source=source,
                pool=windows,
            )
        )
    return out


def range_layers(linear: Sequence[LinearLayer]) -> list[tuple[np.ndarray | sp.csr_matrix, np.ndarray]]:
    """``(W, b)`` per linear layer for :func:`~private_mdi.fixedpoint.analyse_ranges` (sound bounds).

    Equal to the dense equivalents unless a ReLU is followed by max pooling. Then the next layer's
    matrix is expanded to act on every element of the windows: column i gets the column of the window
    that holds i (zero if i is in none). Since the pooled value lies in [0, max_i x_i] and
    0 ≤ max_i x_i ≤ Σ_i x_i for the non-negative ReLU outputs, the interval this expanded layer gives
    contains the true one (looser by at most the window size), so the bound stays sound.
    A sparse layer is given as a ``scipy.sparse.csr_matrix`` (the analysis propagates it sparsely),
    expanded the same way by the 0/1 matrix E (windows × outputs) as ``W E``.
    """
    out: list[tuple[np.ndarray | sp.csr_matrix, np.ndarray]] = []
    prev: LinearLayer | None = None
    for lin in linear:
        if isinstance(lin.weight, SparseOperator):
            ws = lin.weight.to_scipy()
            if prev is not None and prev.pool is not None:
                owner = np.full(prev.out_dim, -1, np.int64)
                for j, win in enumerate(prev.pool):
                    owner[win] = j  # the last window holding i wins, as in the dense expansion
                cols = np.flatnonzero(owner >= 0)
                e = sp.csr_matrix(
                    (np.ones(cols.size), (owner[cols], cols)), shape=(prev.pool.shape[0], prev.out_dim)
                )
                ws = sp.csr_matrix(ws @ e)
                ws.sort_indices()
            out.append((ws, lin.bias))
            prev = lin
            continue
        w = lin.weight
        if prev is not None and prev.pool is not None:
            wide = np.zeros((w.shape[0], prev.out_dim))
            for j, win in enumerate(prev.pool):
                wide[:, win] = w[:, [j]]
            w = wide
        out.append((w, lin.bias))
        prev = lin
    return out


def compose_dense(layers: list[Dense]) -> list[Layer]:
    """Compose consecutive Dense layers (no activation between them) into one."""
    w = layers[0].weight
    b = layers[0].bias
    for layer in layers[1:]:
        b = layer.weight @ b + layer.bias
        w = layer.weight @ w
    return [Dense(w, b)]


def quantize(linear: Sequence[LinearLayer], fp: FixedPoint) -> list[QuantizedLayer]:
    """Linear layers with ``Ŵ = round(W·2^f)``, ``β̂ = round(b·2^{2f})`` (signed int64).

    Raises :class:`~private_mdi.errors.OverflowRiskError` when a parameter times 2^f needs 62 bits or more.
    """
    def weight(lin: LinearLayer) -> np.ndarray | SparseOperator:
        what = f"linear layer {lin.index} weights"
        if isinstance(lin.weight, SparseOperator):
            return lin.weight.map_data(fp.quantize(lin.weight.data, what=what))
        return fp.quantize(lin.weight, what=what)

    return [
        QuantizedLayer(
            index=lin.index,
            weight=weight(lin),
            bias=fp.quantize(lin.bias, scale_power=2, what=f"linear layer {lin.index} biases"),
            relu_after=lin.relu_after,
            frac_bits=fp.frac_bits,
            pool=lin.pool,
        )
        for lin in linear
    ]
