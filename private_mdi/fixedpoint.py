"""Fixed-point encoding of reals into GF(p), range analysis and parameter choice.

Encoding (``docs/building-blocks.md`` §1; protocol page "Arithmetic")
-------------------------------------------------------------------
A real ``x`` is carried as ``x̂ = round(x · 2^f) mod p``; representatives in the upper half
``((p−1)/2, p)`` stand for the negatives ``x̂ − p``. Rounding is numpy's ``rint`` (round half to even).
The product of two scale-``2^f`` values has scale ``2^{2f}``: :func:`decode` takes ``scale_power=2``
for those (biases are encoded at ``2^{2f}`` for the same reason, see :func:`encode_bias`).

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

from cmpc.errors import ShapeError
from cmpc.field import PrimeField

from .errors import OverflowRiskError, ParameterError

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
    "decode",
    "encode",
    "encode_bias",
    "from_signed",
    "input_box",
    "to_signed",
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


def _modulus(field_or_p: _FieldLike) -> int:
    if isinstance(field_or_p, PrimeField):
        return field_or_p.p
    if isinstance(field_or_p, bool) or not isinstance(field_or_p, int | np.integer):
        raise ParameterError(f"field_or_p must be a PrimeField or an int, got {type(field_or_p).__name__}")
    p = int(field_or_p)
    if not 3 <= p < 2**63:
        raise ParameterError(f"p must be in [3, 2^63), got {p}")
    return p


def _check_f(f: int) -> int:
    if isinstance(f, bool) or not isinstance(f, int | np.integer) or not 0 <= int(f) <= 40:
        raise ParameterError(f"f (fractional bits) must be an int in [0, 40], got {f!r}")
    return int(f)


# -- signed representatives -----------------------------------------------------------------------
def to_signed(v: Any, field_or_p: _FieldLike) -> np.ndarray:
    """Centred lift: representatives in [0, p) → int64 in [−(p−1)/2, (p−1)/2]."""
    fld = field_or_p if isinstance(field_or_p, PrimeField) else PrimeField(_modulus(field_or_p))
    arr = fld.asarray(v, name="v")
    return np.where(arr > (fld.p - 1) // 2, arr - fld.p, arr)


def from_signed(z: Any, field_or_p: _FieldLike) -> np.ndarray:
    """Signed integers with ``|z| ≤ (p−1)/2`` → representatives in [0, p) (int64).

    Raises :class:`OverflowRiskError` when some ``|z| > (p−1)/2`` (it would not decode back).
    """
    p = _modulus(field_or_p)
    arr = np.asarray(z)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ParameterError(f"z must have an integer dtype, got {arr.dtype}")
    arr = arr.astype(np.int64)
    half = (p - 1) // 2
    if arr.size and int(np.abs(arr).max()) > half:
        raise OverflowRiskError(
            f"|value| {int(np.abs(arr).max())} exceeds (p-1)/2 = {half}",
            layer="value",
            bound=int(np.abs(arr).max()),
        )
    return np.where(arr < 0, arr + p, arr)


# -- encode / decode ------------------------------------------------------------------------------
def _scaled_round(x: Any, scale_bits: int, p: int, what: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{what} must be finite (no NaN or inf)")
    scaled = np.rint(np.ldexp(arr, scale_bits))
    half = (p - 1) // 2
    if scaled.size and float(np.abs(scaled).max()) > half:
        worst = float(np.abs(arr).max())
        raise OverflowRiskError(
            f"{what}: |x| = {worst:g} gives |round(x·2^{scale_bits})| > (p-1)/2 = {half}; "
            f"allowed |x| ≤ {half / 2.0**scale_bits:g}",
            layer="input",
            bound=int(np.abs(scaled).max()),
        )
    ints = scaled.astype(np.int64)
    return np.where(ints < 0, ints + p, ints)


def encode(x: Any, field_or_p: _FieldLike, f: int) -> np.ndarray:
    """``round(x · 2^f) mod p`` elementwise, as an int64 array of representatives in [0, p).

    Raises :class:`OverflowRiskError` when ``|round(x·2^f)| > (p−1)/2`` and :class:`ParameterError`
    for NaN/inf.
    """
    p = _modulus(field_or_p)
    return _scaled_round(x, _check_f(f), p, "x")


def encode_bias(b: Any, field_or_p: _FieldLike, f: int) -> np.ndarray:
    """Biases at scale ``2^{2f}``: ``round(b · 2^{2f}) mod p`` (they are added to products Ŵ x̂)."""
    p = _modulus(field_or_p)
    return _scaled_round(b, 2 * _check_f(f), p, "bias")


def decode(v: Any, field_or_p: _FieldLike, f: int, scale_power: int = 1) -> np.ndarray:
    """Representatives in [0, p) (int64 or FieldArray) → float64 ``signed(v) / 2^{f·scale_power}``.

    ``scale_power=2`` decodes products (and the last layer's output, scale ``2^{2f}``).
    Raises :class:`~cmpc.errors.FieldRangeError` for values outside [0, p).
    """
    if isinstance(scale_power, bool) or not isinstance(scale_power, int) or scale_power < 0:
        raise ParameterError(f"scale_power must be an int >= 0, got {scale_power!r}")
    signed = to_signed(v, field_or_p)
    return np.ldexp(signed.astype(np.float64), -_check_f(f) * scale_power)


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
                np.asarray(item[0]),
                None if item[1] is None else np.asarray(item[1]),
                item[2] if len(item) == 3 else None,
            )
        else:
            raise ParameterError(
                f"layer {idx + 1} must be (W, b), (W, b, name) or a DenseLayer, got {type(item).__name__}"
            )
        w = np.asarray(layer.weight)
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


def _encode_int(a: np.ndarray, scale_bits: int, what: str) -> np.ndarray:
    """Real → round(a·2^s) as an object array of Python ints; integer arrays are taken as encoded."""
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(object)
    if not np.issubdtype(a.dtype, np.floating):
        raise ParameterError(f"{what} must be a float or integer array, got {a.dtype}")
    if not np.all(np.isfinite(a)):
        raise ParameterError(f"{what} must be finite")
    return np.vectorize(int, otypes=[object])(np.rint(np.ldexp(a.astype(np.float64), scale_bits)))


def _absmax(a: np.ndarray) -> int:
    return int(np.abs(a).max()) if a.size else 0


def _interval_matvec(w: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact interval image of a box under x ↦ W x (object arrays of Python ints)."""
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
) -> tuple[np.ndarray, np.ndarray]:
    """The encoded input box ``[lo, hi]`` (per feature, Python ints) from a bound or calibration data.

    ``input_bound``: ``B`` (meaning ``|x| ≤ B``) or ``(low, high)``; ``calibration``: an array of shape
    ``(samples, n_inputs)`` (or ``(n_inputs,)``) whose per-feature min/max define the box. Exactly one
    of the two must be given.
    """
    if (input_bound is None) == (calibration is None):
        raise ParameterError("give exactly one of input_bound and calibration")
    if calibration is not None:
        cal = np.asarray(calibration, dtype=np.float64)
        if cal.ndim == 1:
            cal = cal[None, :]
        if cal.ndim != 2 or cal.shape[1] != n_inputs or cal.shape[0] == 0:
            raise ShapeError(
                f"calibration must have shape (samples, {n_inputs}), got {np.shape(calibration)}"
            )
        lo_r, hi_r = cal.min(axis=0), cal.max(axis=0)
    else:
        if isinstance(input_bound, tuple | list):
            if len(input_bound) != 2 or not input_bound[0] <= input_bound[1]:
                raise ParameterError(
                    f"input_bound must be B or (low, high) with low <= high, got {input_bound}"
                )
            low, high = float(input_bound[0]), float(input_bound[1])
        else:
            bound = float(input_bound)  # type: ignore[arg-type]
            if not bound >= 0:
                raise ParameterError(f"input_bound must be >= 0, got {input_bound}")
            low, high = -bound, bound
        lo_r, hi_r = np.full(n_inputs, low), np.full(n_inputs, high)
    lo = _encode_int(lo_r, f, "input box")
    hi = _encode_int(hi_r, f, "input box")
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
) -> RangeReport:
    """Bound every intermediate integer of the fixed-point circuit; raise if any can wrap.

    See the module docstring for the model description and the propagation rules. Raises
    :class:`OverflowRiskError` (with ``.layer`` = the layer's name and ``.bound`` = the integer bound)
    for the first layer where ``2 · bound · 2^margin_bits ≥ p``, and for weights or biases that do
    not fit the field.
    """
    p_int = _modulus(p)
    f = _check_f(f)
    if not isinstance(margin_bits, int) or margin_bits < 0:
        raise ParameterError(f"margin_bits must be an int >= 0, got {margin_bits!r}")
    specs = _as_layers(layers)
    lo, hi = input_box(specs[0].weight.shape[1], f, p_int, input_bound=input_bound, calibration=calibration)
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
    lo0, hi0 = input_box(specs[0].weight.shape[1], f, p_int, input_bound=input_bound, calibration=calibration)
    return RangeReport(p_int, f, tuple(out), lo0, hi0)


def check_input(x_hat: Any, report: RangeReport) -> None:
    """Reject an encoded input (scale ``2^f``, representatives in [0, p)) outside the analysed box.

    Raises :class:`OverflowRiskError` (``layer="input"``) naming the first offending feature.
    """
    signed = to_signed(x_hat, report.p)
    if signed.shape[-1] != len(report.input_lo):
        raise ShapeError(f"x_hat must have {len(report.input_lo)} features, got shape {signed.shape}")
    lo = np.array([int(v) for v in report.input_lo], dtype=np.int64)
    hi = np.array([int(v) for v in report.input_hi], dtype=np.int64)
    bad = (signed < lo) | (signed > hi)
    if bad.any():
        where = np.argwhere(bad)[0]
        j = int(where[-1])
        raise OverflowRiskError(
            f"input feature {j} = {int(signed[tuple(where)])} is outside the analysed range "
            f"[{lo[j]}, {hi[j]}]",
            layer="input",
            bound=int(abs(signed[tuple(where)])),
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
) -> FixedPointParams:
    """Pick the smallest prime from ``primes`` and, for it, the largest ``f`` in ``f_range`` that is safe.

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
    if not 0 <= f_lo <= f_hi <= 40:
        raise ParameterError(f"f_range must be (low, high) with 0 <= low <= high <= 40, got {f_range}")
    if not primes:
        raise ParameterError("primes must not be empty")
    last: OverflowRiskError | None = None
    for p in sorted(int(q) for q in primes):
        for f in range(f_hi, f_lo - 1, -1):
            try:
                report = analyse_ranges(
                    specs, p, f, input_bound=input_bound, calibration=calibration, margin_bits=margin_bits
                )
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
