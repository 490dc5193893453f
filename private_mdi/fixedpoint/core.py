"""Fixed-point semantics of privateMDI: the one definition the private run reproduces bit for bit.

Protocol page "Arithmetic" (``docs/private-mdi.md``; paper arXiv 2407.18353 §III), building blocks §1.
With ``f`` fractional bits and a prime ``p``, write ``signed(v)`` for the centred representative of
``v ∈ GF(p)`` (values above (p−1)/2 stand for ``v − p``). Then

* input: ``x̂ = round(x · 2^f) mod p`` (round half to even, as :func:`numpy.rint`);
* weights ``Ŵ = round(W · 2^f)``, biases ``β̂ = round(b · 2^{2f})`` (so ``Ŵ x̂ + β̂`` has scale 2^{2f});
* linear layer ℓ: ``v_ℓ = Ŵ_ℓ x̂_ℓ + β̂_ℓ mod p``;
* ReLU step (ℓ < L, :meth:`FixedPoint.truncate`): ``x̂_{ℓ+1} = max(⌊signed(v_ℓ) / 2^f⌋, 0)`` (floor
  division of the centred value), back to scale 2^f; with max pooling after the ReLU, the maximum of
  these values over each window (equal to the ReLU step of the window's largest ``signed(v)``: both
  maps are monotone);
* the last layer has no ReLU; its output ``v_L`` (scale 2^{2f}) is what the client reconstructs and
  decodes as ``signed(v_L) / 2^{2f}``.

:func:`reference_forward` computes exactly this over GF(p). Whether (p, f) is *safe* for a model (no
intermediate value wraps) is the range analysis (:mod:`private_mdi.fixedpoint.ranges`); the encoders
here only refuse values whose own encoding does not fit.

What leaks: nothing; this is local arithmetic. ``p`` and ``f`` are public.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from cmpc.checks import check_int
from cmpc.field import PrimeField

from ..errors import OverflowRiskError, ParameterError

__all__ = [
    "MAX_FRAC_BITS",
    "FixedPoint",
    "QuantizedLike",
    "check_frac_bits",
    "reference_forward",
    "signed",
]

#: Largest accepted number of fractional bits. Biases carry scale 2^{2f} and quantised parameters are
#: int64, so 2f plus the integer part must stay below 63 bits.
MAX_FRAC_BITS = 30


def check_frac_bits(f: Any) -> int:
    """``f`` as an int in ``[0, MAX_FRAC_BITS]`` (else :class:`ParameterError`)."""
    return check_int("frac_bits (f)", f, lo=0, hi=MAX_FRAC_BITS)


def _modulus(field_or_p: PrimeField | int) -> int:
    if isinstance(field_or_p, PrimeField):
        return field_or_p.p
    p = check_int("field_or_p (a PrimeField or an int)", field_or_p)
    if not 3 <= p < 2**63:
        raise ParameterError(f"p must be in [3, 2^63), got {p}")
    return p


def signed(v: Any, p: int) -> np.ndarray:
    """Centred representative of ``v ∈ [0, p)``: values above (p−1)/2 become ``v − p`` (int64).

    The one implementation in the package (no range check: callers hold residues already).
    """
    arr = np.asarray(v, dtype=np.int64)
    return np.where(arr > (int(p) - 1) // 2, arr - int(p), arr)


def scaled_rint(x: Any, scale_bits: int, what: str) -> np.ndarray:
    """``round(x · 2^s)`` as float64 (round half to even); :class:`ParameterError` for NaN / inf."""
    arr = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{what} must be finite (no NaN or inf)")
    return np.rint(np.ldexp(arr, scale_bits))


class QuantizedLike(Protocol):
    """What :func:`reference_forward` needs of a quantised linear layer (see ``nn.QuantizedLayer``)."""

    @property
    def relu_after(self) -> bool: ...

    @property
    def pool(self) -> np.ndarray | None: ...

    @property
    def out_dim(self) -> int: ...

    def weight_mod(self, p: int) -> Any: ...  # an int64 array, or a sparse operator with matmul_mod

    def bias_mod(self, p: int) -> np.ndarray: ...


@dataclass(frozen=True, init=False)
class FixedPoint:
    """Fixed-point numbers with ``frac_bits`` fractional bits carried in ``field`` = GF(p).

    ``FixedPoint(2**31 - 1, 12)`` or ``FixedPoint(PrimeField(p), 12)``. All arrays of residues are
    int64 in ``[0, p)``.
    """

    field: PrimeField
    frac_bits: int

    def __init__(self, field: PrimeField | int, frac_bits: int) -> None:
        fld = field if isinstance(field, PrimeField) else PrimeField(_modulus(field))
        object.__setattr__(self, "field", fld)
        object.__setattr__(self, "frac_bits", check_frac_bits(frac_bits))

    @property
    def p(self) -> int:
        return int(self.field.p)

    @property
    def f(self) -> int:
        return self.frac_bits

    def signed(self, v: Any) -> np.ndarray:
        """Centred lift, see :func:`signed`."""
        return signed(v, self.p)

    def encode(self, x: Any, *, scale_power: int = 1, what: str = "x") -> np.ndarray:
        """``round(x · 2^{f·scale_power}) mod p`` elementwise (int64 in [0, p)).

        ``scale_power=2`` is the bias scale. Raises :class:`OverflowRiskError` (``layer="input"``) when
        ``|round(x·2^s)| > (p−1)/2`` and :class:`ParameterError` for NaN / inf.
        """
        bits = self.frac_bits * _scale_power(scale_power)
        scaled = scaled_rint(x, bits, what)
        half = (self.p - 1) // 2
        if scaled.size and float(np.abs(scaled).max()) > half:
            worst = float(np.abs(np.asarray(x, dtype=np.float64)).max())
            raise OverflowRiskError(
                f"{what}: |x| = {worst:g} gives |round(x·2^{bits})| > (p-1)/2 = {half}; "
                f"allowed |x| ≤ {half / 2.0**bits:g}",
                layer="input",
                bound=int(np.abs(scaled).max()),
            )
        ints = scaled.astype(np.int64)
        return np.where(ints < 0, ints + self.p, ints)

    def decode(self, v: Any, *, scale_power: int = 1) -> np.ndarray:
        """``signed(v) / 2^{f·scale_power}`` as float64 (``scale_power=2``: products, layer outputs)."""
        return np.ldexp(signed(v, self.p).astype(np.float64), -self.frac_bits * _scale_power(scale_power))

    def decode_output(self, v: Any) -> np.ndarray:
        """The last layer's output ``signed(v_L) / 2^{2f}``."""
        return self.decode(v, scale_power=2)

    def truncate(self, v: Any) -> np.ndarray:
        """The ReLU step ``max(⌊signed(v) / 2^f⌋, 0)`` (int64, already in [0, p))."""
        return np.maximum(signed(v, self.p) >> self.frac_bits, 0)

    def quantize(self, a: Any, *, scale_power: int = 1, what: str = "weights") -> np.ndarray:
        """Signed int64 ``round(a · 2^{f·scale_power})`` (weights: 1, biases: 2); refuses ≥ 2^62."""
        q = scaled_rint(a, self.frac_bits * _scale_power(scale_power), what)
        if q.size and float(np.abs(q).max()) >= 2.0**62:
            raise OverflowRiskError(f"{what} times 2^f do not fit in 62 bits", layer=what)
        return q.astype(np.int64)


def _scale_power(scale_power: Any) -> int:
    return check_int("scale_power", scale_power, lo=0)


def reference_forward(
    fp: FixedPoint, layers: Sequence[QuantizedLike], x_hat: np.ndarray, *, trace: bool = False
) -> np.ndarray | tuple[np.ndarray, list[np.ndarray]]:
    """The quantised forward pass over GF(p) from an encoded batch ``x_hat`` (n, in).

    Returns ``v_L`` (n, out) as int64 in [0, p), and with ``trace=True`` also every ``v_ℓ`` (before the
    ReLU step). The private run reconstructs exactly ``v_L``.
    """
    fld = fp.field
    h = np.asarray(x_hat, dtype=np.int64)
    vs: list[np.ndarray] = []
    for q in layers:
        w = q.weight_mod(fld.p)
        # a sparse operator (private_mdi.nn.operator.SparseOperator) gives the exact product itself
        wh = w.matmul_mod(h.T, fld.p).T if hasattr(w, "matmul_mod") else fld.raw_matmul(h, w.T)
        v = fld.raw_add(
            wh,
            np.broadcast_to(q.bias_mod(fld.p), (h.shape[0], q.out_dim)),
        )
        vs.append(v)
        if q.relu_after:
            h = fp.truncate(v)
            if q.pool is not None:
                h = h[:, q.pool].max(axis=2)  # max of non-negative values: no wrap-around issue
    out = vs[-1]
    return (out, vs) if trace else out


# -- function forms (argument order: value, field or p, f), kept for existing callers ------------------
def to_signed(v: Any, field_or_p: PrimeField | int) -> np.ndarray:
    """:func:`signed` after checking that every ``v`` is in [0, p) (:class:`~cmpc.errors.FieldRangeError`)."""
    fld = field_or_p if isinstance(field_or_p, PrimeField) else PrimeField(_modulus(field_or_p))
    return signed(fld.asarray(v, name="v"), fld.p)


def from_signed(z: Any, field_or_p: PrimeField | int) -> np.ndarray:
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
        worst = int(np.abs(arr).max())
        raise OverflowRiskError(f"|value| {worst} exceeds (p-1)/2 = {half}", layer="value", bound=worst)
    return np.where(arr < 0, arr + p, arr)


def encode(x: Any, field_or_p: PrimeField | int, f: int) -> np.ndarray:
    """``FixedPoint(field_or_p, f).encode(x)``."""
    return FixedPoint(field_or_p, f).encode(x)


def encode_bias(b: Any, field_or_p: PrimeField | int, f: int) -> np.ndarray:
    """Biases at scale ``2^{2f}``: ``FixedPoint(field_or_p, f).encode(b, scale_power=2)``."""
    return FixedPoint(field_or_p, f).encode(b, scale_power=2, what="bias")


def decode(v: Any, field_or_p: PrimeField | int, f: int, scale_power: int = 1) -> np.ndarray:
    """Checked ``FixedPoint(field_or_p, f).decode(v, scale_power=...)``: values outside [0, p) raise
    :class:`~cmpc.errors.FieldRangeError`."""
    fp = FixedPoint(field_or_p, f)
    return fp.decode(fp.field.asarray(v, name="v"), scale_power=scale_power)
