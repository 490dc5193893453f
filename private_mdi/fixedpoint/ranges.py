"""Range analysis of the fixed-point circuit and the choice of (p, f).

The arithmetic itself (encoding, the ReLU step, the reference pass) is :mod:`private_mdi.fixedpoint.core`.

Range analysis
--------------
The private circuit computes, for linear layers ``ℓ = 1..L`` with a ReLU after every layer but the last,

* ``z_ℓ = Ŵ_ℓ x̂_ℓ + β̂_ℓ`` over GF(p), where ``Ŵ = round(W · 2^f)`` (scale ``2^f``), ``x̂_ℓ`` has scale
  ``2^f`` and ``β̂ = round(b · 2^{2f})``, so ``z_ℓ`` has scale ``2^{2f}``;
* ``x̂_{ℓ+1} = ReLU(⌊signed(z_ℓ) / 2^f⌋)`` (the garbled circuit truncates back to scale ``2^f``).

Everything is exact as long as no ``z_ℓ`` wraps, i.e. ``|z_ℓ| ≤ (p−1)/2`` over the integers. The
analysis propagates per-component integer intervals ``[lo, hi]`` of ``x̂_ℓ`` exactly (Python-integer
precision where int64 could overflow):

* ``z_i ∈ [Σ_j min(Ŵ_ij lo_j, Ŵ_ij hi_j) + β̂_i, Σ_j max(Ŵ_ij lo_j, Ŵ_ij hi_j) + β̂_i]``, which is never
  looser than ``|z_i| ≤ Σ_j |Ŵ_ij| |x̂_j| + |β̂_i|``;
* after the ReLU and truncation: ``x̂_{ℓ+1,i} ∈ [0, max(0, ⌊hi_i / 2^f⌋)]``.

The bound of layer ``ℓ`` is ``B_ℓ = max_i max(|lo_i|, |hi_i|)``; :class:`OverflowRiskError` (naming the
layer and the bound) is raised when ``2 · B_ℓ ≥ p``, because then two different integers in the range
share a residue. The analysis is sound for every input inside the input box: with calibration data
the box is the per-feature [min, max] of the (encoded) calibration set, and inputs outside it must be
rejected before anything is sent (:func:`check_input`).

Model description accepted here
-------------------------------
``layers`` is a sequence of dense-equivalent linear layers, each one of

* a pair ``(W, b)`` or a triple ``(W, b, name)`` with ``W`` of shape ``(out, in)`` and ``b`` of shape
  ``(out,)`` or ``None``;
* a :class:`DenseLayer`.

``W`` may also be a ``scipy.sparse`` matrix (a convolution kept sparse by the model code): then only its
non-zeros are encoded, and ``z``'s interval is computed with sparse products, ``W⁺ hi + W⁻ lo`` and
``W⁺ lo + W⁻ hi`` (``W⁺``/``W⁻`` the positive/negative parts), exactly equal to the dense computation.

Floating-point ``W``/``b`` are real-valued and encoded at ``2^f`` / ``2^{2f}``; integer ``W``/``b`` are taken
as already encoded (``Ŵ``, ``β̂``) for the ``f`` given. A ReLU (with truncation by ``2^f``) sits between
consecutive layers, none after the last. Convolutions and average pooling are lowered to such matrices
by the model code (``private_mdi/model.py``); this module never sees layer types.

What leaks: nothing, this is public parameter selection; the chosen ``(p, f)`` and the input box are
public to all parties.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from cmpc.errors import ShapeError
from cmpc.field import PrimeField

from ..errors import OverflowRiskError, ParameterError
from .core import MAX_FRAC_BITS, _modulus, check_frac_bits, scaled_rint, to_signed
from .input_range import InputRange, InputRangeError

__all__ = [
    "DEFAULT_F_RANGE",
    "DEFAULT_MARGIN_BITS",
    "DEFAULT_PRIMES",
    "DenseLayer",
    "FixedPointParams",
    "LayerRange",
    "RangeReport",
    "analyse_ranges",
    "check_input",
    "choose_parameters",
    "input_box",
]

#: the largest prime below 2^k for k = 31, 37, 41, 47, 53, 61 (checked with sympy in the tests)
DEFAULT_PRIMES: tuple[int, ...] = (
    2**31 - 1,
    2**37 - 25,
    2**41 - 21,
    2**47 - 115,
    2**53 - 111,
    2**61 - 1,
)
#: fractional bits tried by :func:`choose_parameters`, largest first
DEFAULT_F_RANGE: tuple[int, int] = (8, 12)
#: safety margin: a (p, f) is accepted only when 2 · bound · 2^margin < p
DEFAULT_MARGIN_BITS = 4

_FieldLike = PrimeField | int


# -- model description --------------------------------------------------------------------------------
@dataclass(frozen=True)
class DenseLayer:
    """A dense-equivalent linear layer ``z = W x + b`` (``W``: (out, in); ``b``: (out,) or None).

    Floating-point arrays are real-valued; integer arrays are already encoded (``Ŵ`` at ``2^f``,
    ``β̂`` at ``2^{2f}``).
    """

    weight: np.ndarray
    bias: np.ndarray | None = None
    name: str | None = None


def _as_layers(layers: Sequence[Any]) -> list[DenseLayer]:
    if isinstance(layers, DenseLayer) or (
        isinstance(layers, tuple) and layers and isinstance(layers[0], np.ndarray)
    ):
        raise ParameterError("layers must be a sequence of layers, e.g. [(W1, b1), (W2, b2)]")
    out: list[DenseLayer] = []
    for idx, item in enumerate(layers):
        if isinstance(item, DenseLayer):
            layer = item
        elif isinstance(item, tuple | list) and len(item) in (2, 3):
            layer = DenseLayer(
                item[0] if sp.issparse(item[0]) else np.asarray(item[0]),
                None if item[1] is None else np.asarray(item[1]),
                item[2] if len(item) == 3 else None,
            )
        else:
            raise ParameterError(
                f"layer {idx + 1} must be (W, b), (W, b, name) or a DenseLayer, got {type(item).__name__}"
            )
        w = sp.csr_matrix(layer.weight) if sp.issparse(layer.weight) else np.asarray(layer.weight)
        if w.ndim != 2:
            raise ShapeError(f"layer {idx + 1}: weight must be a 2-D (out, in) matrix, got shape {w.shape}")
        if layer.bias is not None and np.asarray(layer.bias).shape != (w.shape[0],):
            raise ShapeError(
                f"layer {idx + 1}: bias must have shape ({w.shape[0]},), got {np.asarray(layer.bias).shape}"
            )
        if out and out[-1].weight.shape[0] != w.shape[1]:
            raise ShapeError(
                f"layer {idx + 1} takes {w.shape[1]} inputs but layer {idx} has "
                f"{out[-1].weight.shape[0]} outputs"
            )
        out.append(
            DenseLayer(
                w, None if layer.bias is None else np.asarray(layer.bias), layer.name or f"layer {idx + 1}"
            )
        )
    if not out:
        raise ParameterError("layers must contain at least one layer")
    return out


def _encode_int(a: Any, scale_bits: int, what: str) -> Any:
    """Real → round(a·2^s) as an object array of Python ints; integer arrays are taken as encoded.
    A sparse matrix gives an int64 sparse matrix (encoded non-zeros; they must fit 62 bits)."""
    if sp.issparse(a):
        c = sp.csr_matrix(a, copy=True)  # a copy: scipy sorts indices in place, never touch the caller's
        c.sum_duplicates()
        if np.issubdtype(c.data.dtype, np.integer):
            return c.astype(np.int64)
        q = scaled_rint(c.data, scale_bits, what)
        if q.size and float(np.abs(q).max()) >= 2.0**62:
            raise OverflowRiskError(f"{what}: encoded entries need 62 bits or more", layer=what)
        return sp.csr_matrix((q.astype(np.int64), c.indices, c.indptr), shape=c.shape)
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(object)
    if not np.issubdtype(a.dtype, np.floating):
        raise ParameterError(f"{what} must be a float or integer array, got {a.dtype}")
    return np.vectorize(int, otypes=[object])(scaled_rint(a, scale_bits, what))


def _absmax(a: Any) -> int:
    if sp.issparse(a):
        return int(np.abs(a.data).max()) if a.nnz else 0
    return int(np.abs(a).max()) if a.size else 0


def _sparse_exact(w: sp.csr_matrix, x: np.ndarray) -> np.ndarray:
    """Exact ``W x`` for an int64 sparse W and Python-int x (object array): x = x⁺ − x⁻ is cut into
    k-bit limbs so that every int64 row sum ``Σ_j |W_ij| · limb_j < 2^62``, then recombined exactly."""
    row_nnz = int(np.diff(w.indptr).max(initial=0))
    k = 62 - max(1, _absmax(w)).bit_length() - max(1, row_nnz).bit_length()
    if k < 1:
        raise ParameterError(f"sparse operator {w.shape}: entries too large for exact int64 limbs")
    out = np.array([0] * w.shape[0], dtype=object)
    mask = (1 << k) - 1
    for sign, part in ((1, [max(0, int(v)) for v in x]), (-1, [max(0, -int(v)) for v in x])):
        t, rest = 0, part
        while any(rest):
            limb = np.array([v & mask for v in rest], dtype=np.int64)
            out = out + sign * (w @ limb).astype(object) * (1 << (k * t))
            rest = [v >> k for v in rest]
            t += 1
    return out


def _interval_matvec(w: Any, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact interval image of a box under x ↦ W x (object arrays of Python ints)."""
    if sp.issparse(w):
        sp_pos, sp_neg = w.maximum(0).tocsr(), w.minimum(0).tocsr()
        row_nnz = int(np.diff(w.indptr).max(initial=0))
        if _absmax(w) * max(_absmax(lo), _absmax(hi)) * max(1, row_nnz) < 2**62:
            l64, h64 = lo.astype(np.int64), hi.astype(np.int64)
            return (
                (sp_pos @ l64 + sp_neg @ h64).astype(object),
                (sp_pos @ h64 + sp_neg @ l64).astype(object),
            )
        return (
            _sparse_exact(sp_pos, lo) + _sparse_exact(sp_neg, hi),
            _sparse_exact(sp_pos, hi) + _sparse_exact(sp_neg, lo),
        )
    wpos = np.where(w > 0, w, 0)
    wneg = np.where(w < 0, w, 0)
    # int64 fast path when every partial sum provably fits
    absmax_w = _absmax(w)
    absmax_x = max(_absmax(lo), _absmax(hi))
    if absmax_w * absmax_x * max(1, w.shape[1]) < 2**62:
        wp, wn = wpos.astype(np.int64), wneg.astype(np.int64)
        l64, h64 = lo.astype(np.int64), hi.astype(np.int64)
        upper = wp @ h64 + wn @ l64
        lower = wp @ l64 + wn @ h64
        return lower.astype(object), upper.astype(object)
    upper = wpos.dot(hi) + wneg.dot(lo)
    lower = wpos.dot(lo) + wneg.dot(hi)
    return lower, upper


# -- analysis ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerRange:
    """Integer range of one layer's pre-activation ``z = Ŵ x̂ + β̂`` (scale ``2^{2f}``)."""

    name: str
    index: int
    bound: int  # max_i max(|lo_i|, |hi_i|)
    bits: int  # bit length of bound
    weight_bound: int  # max |Ŵ_ij| (public: used for the Paillier slot width)
    input_bound: int  # max |x̂_j| entering the layer


@dataclass(frozen=True)
class RangeReport:
    """Result of :func:`analyse_ranges`: per-layer bounds and the input box (encoded, scale ``2^f``)."""

    p: int
    f: int
    layers: tuple[LayerRange, ...]
    input_lo: np.ndarray = field(repr=False)
    input_hi: np.ndarray = field(repr=False)
    input_range: InputRange | None = field(default=None, repr=False)  # the box in user units

    @property
    def max_bound(self) -> int:
        return max(layer.bound for layer in self.layers)

    @property
    def headroom_bits(self) -> float:
        """log2(p / (2 · max_bound)): how many bits of slack remain before a wrap is possible."""
        return float(np.log2(self.p) - np.log2(2 * max(1, self.max_bound)))


def input_box(
    n_inputs: int,
    f: int,
    p: int,
    *,
    input_bound: float | tuple[float, float] | None = None,
    calibration: np.ndarray | None = None,
    input_range: InputRange | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The encoded input box ``[lo, hi]`` (per feature, Python ints, scale ``2^f``).

    From ``input_range``, else :meth:`InputRange.resolve` of ``input_bound`` (``B`` meaning ``|x| ≤ B``
    or ``(low, high)``) or ``calibration`` (samples, n_inputs), whose per-feature range is widened by
    the documented margin (:mod:`private_mdi.fixedpoint.input_range`); neither: ``|x| ≤ 8``.
    """
    box = input_range or InputRange.resolve(n_inputs, input_bound=input_bound, calibration=calibration)
    if box.n_features != n_inputs:
        raise ShapeError(f"the input range has {box.n_features} features, the model takes {n_inputs}")
    lo = _encode_int(box.low, f, "input box")
    hi = _encode_int(box.high, f, "input box")
    half = (p - 1) // 2
    worst = max(_absmax(lo), _absmax(hi))
    if worst > half:
        raise OverflowRiskError(
            f"input: encoded |x̂| can reach {worst} > (p-1)/2 = {half} (p = {p}, f = {f})",
            layer="input",
            bound=worst,
        )
    return lo, hi


def analyse_ranges(
    layers: Sequence[Any],
    p: int | PrimeField,
    f: int,
    *,
    input_bound: float | tuple[float, float] | None = None,
    calibration: np.ndarray | None = None,
    margin_bits: int = 0,
    input_range: InputRange | None = None,
) -> RangeReport:
    """Bound every intermediate integer of the fixed-point circuit; raise if any can wrap.

    See the module docstring for the model description and the propagation rules. Raises
    :class:`OverflowRiskError` (with ``.layer`` = the layer's name and ``.bound`` = the integer bound)
    for the first layer where ``2 · bound · 2^margin_bits ≥ p``, and for weights or biases that do
    not fit the field. The input box is ``input_range``, else :meth:`InputRange.resolve` of
    ``input_bound`` / ``calibration`` (calibration ranges are widened; neither: ``|x| ≤ 8``).
    """
    p_int = _modulus(p)
    f = check_frac_bits(f)
    if not isinstance(margin_bits, int) or margin_bits < 0:
        raise ParameterError(f"margin_bits must be an int >= 0, got {margin_bits!r}")
    specs = _as_layers(layers)
    n_in = specs[0].weight.shape[1]
    box = input_range or InputRange.resolve(n_in, input_bound=input_bound, calibration=calibration)
    lo0, hi0 = input_box(n_in, f, p_int, input_range=box)
    lo, hi = lo0, hi0
    limit = p_int >> (margin_bits + 1)  # require bound <= limit  <=>  2·bound·2^m <= p (roughly)
    out: list[LayerRange] = []
    for idx, spec in enumerate(specs):
        w = _encode_int(spec.weight, f, f"{spec.name} weight")
        wb = _absmax(w)
        if 2 * wb >= p_int:
            raise OverflowRiskError(
                f"{spec.name}: encoded weight |Ŵ| = {wb} does not fit GF(p) (p = {p_int}, f = {f})",
                layer=spec.name,
                bound=wb,
            )
        in_bound = max(_absmax(lo), _absmax(hi))
        lower, upper = _interval_matvec(w, lo, hi)
        if spec.bias is not None:
            beta = _encode_int(spec.bias, 2 * f, f"{spec.name} bias")
            lower = lower + beta
            upper = upper + beta
        bound = max(_absmax(lower), _absmax(upper))
        if bound > limit or 2 * bound >= p_int:
            extra = f" with a margin of {margin_bits} bits" if margin_bits else ""
            raise OverflowRiskError(
                f"{spec.name}: |Ŵx̂ + β̂| can reach {bound} (~2^{bound.bit_length()}), "
                f"which can wrap modulo p = {p_int} (~2^{p_int.bit_length()}){extra}; "
                "use a larger p or a smaller f",
                layer=spec.name,
                bound=bound,
            )
        out.append(
            LayerRange(spec.name or f"layer {idx + 1}", idx + 1, bound, bound.bit_length(), wb, in_bound)
        )
        # ReLU after every layer but the last, with truncation by 2^f (floor)
        lo = np.array([0] * len(upper), dtype=object)
        hi = np.array([max(0, int(u) >> f) for u in upper], dtype=object)
    return RangeReport(p_int, f, tuple(out), lo0, hi0, box)


def check_input(x_hat: Any, report: RangeReport) -> None:
    """Reject an encoded input (scale ``2^f``, representatives in [0, p)) outside the analysed box.

    Raises :class:`InputRangeError` (an :class:`OverflowRiskError`, ``layer="input"``) naming the first
    offending row and feature, in the user's units, and the fix. Callers holding the float inputs
    should prefer ``report.input_range.apply(x, on_out_of_range)`` before encoding (same box).
    """
    signed = to_signed(x_hat, report.p)
    if signed.shape[-1] != len(report.input_lo):
        raise ShapeError(f"x_hat must have {len(report.input_lo)} features, got shape {signed.shape}")
    lo = np.array([int(v) for v in report.input_lo], dtype=np.int64)
    hi = np.array([int(v) for v in report.input_hi], dtype=np.int64)
    rows = signed.reshape(-1, lo.size)
    bad = (rows < lo) | (rows > hi)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        scale = 2.0**report.f
        origin = report.input_range.origin if report.input_range is not None else "the analysis"
        raise InputRangeError(
            f"input row {i}, feature {j} = {rows[i, j] / scale:.6g} is outside the range "
            f"[{lo[j] / scale:.6g}, {hi[j] / scale:.6g}] the fixed-point parameters were chosen for "
            f"(from {origin}; {int(bad.any(axis=1).sum())} of {rows.shape[0]} rows are outside); "
            "pass calibration=X_train or a wider input_bound= when the session is created",
            layer="input",
            bound=int(abs(rows[i, j])),
        )


@dataclass(frozen=True)
class FixedPointParams:
    """The outcome of :func:`choose_parameters`."""

    p: int
    f: int
    margin_bits: int
    report: RangeReport


def choose_parameters(
    model_layers: Sequence[Any],
    calibration: np.ndarray | None = None,
    *,
    input_bound: float | tuple[float, float] | None = None,
    primes: Sequence[int] = DEFAULT_PRIMES,
    f_range: tuple[int, int] = DEFAULT_F_RANGE,
    margin_bits: int = DEFAULT_MARGIN_BITS,
    input_range: InputRange | None = None,
) -> FixedPointParams:
    """Pick the smallest prime from ``primes`` and, for it, the largest ``f`` in ``f_range`` that is safe.

    The input box is ``input_range``, else :meth:`InputRange.resolve`: ``calibration`` rows widened by
    the documented margin, else ``|x| ≤ input_bound``, else ``|x| ≤ 8`` (standardized data). When a
    model needs the room, a larger prime (up to 2^61 − 1) is chosen. ``.report.input_range`` is the box.

    Safe means :func:`analyse_ranges` passes with ``margin_bits`` of headroom: ``2 · bound · 2^margin ≤ p``
    for every layer (default 4 bits: inputs up to ~16× the calibrated box, which is still rejected by
    :func:`check_input`, or slightly different weights stay clear of wrapping). Primes are tried in
    increasing order, and for each prime ``f`` from the top of ``f_range`` down: a small prime keeps the
    garbled circuits and the field arithmetic cheap, and within it the largest ``f`` is the most accurate.
    The weights must be real-valued (float arrays), since they are re-encoded for every candidate ``f``.

    Raises :class:`OverflowRiskError` for the last layer that failed when nothing is safe.
    """
    specs = _as_layers(model_layers)
    for spec in specs:
        if not np.issubdtype(spec.weight.dtype, np.floating):
            raise ParameterError(f"{spec.name}: choose_parameters needs real-valued (float) weights")
    f_lo, f_hi = (int(v) for v in f_range)
    if not 0 <= f_lo <= f_hi <= MAX_FRAC_BITS:
        raise ParameterError(
            f"f_range must be (low, high) with 0 <= low <= high <= {MAX_FRAC_BITS}, got {f_range}"
        )
    if not primes:
        raise ParameterError("primes must not be empty")
    box = input_range or InputRange.resolve(
        specs[0].weight.shape[1], input_bound=input_bound, calibration=calibration
    )
    last: OverflowRiskError | None = None
    for p in sorted(int(q) for q in primes):
        for f in range(f_hi, f_lo - 1, -1):
            try:
                report = analyse_ranges(specs, p, f, margin_bits=margin_bits, input_range=box)
            except OverflowRiskError as exc:
                last = exc
                continue
            return FixedPointParams(p, f, margin_bits, report)
    assert last is not None
    raise OverflowRiskError(
        f"no (p, f) with p in {list(primes)} and f in [{f_lo}, {f_hi}] is safe with a "
        f"{margin_bits}-bit margin; "
        f"last failure: {last}",
        layer=last.layer,
        bound=last.bound,
    )
