"""Prime fields GF(p) for p < 2^63 with an exact matrix product at BLAS speed.

:class:`PrimeField` wraps a galois ``GF(p)`` class and adds what the codes and protocols need:
checked conversion, uniform random elements from :class:`~cmpc.rand.RandomSource`, an exact
matrix product, (generalised) Vandermonde matrices, evaluation of matrix-coefficient polynomials
at many points, and inversion / solving with a named error when a matrix is singular.

Exact matrix product (``matmul``)
---------------------------------
galois's own ``@`` leaves BLAS as soon as ``k·(p−1)² ≥ 2^53``. Here every product is computed with
float64 BLAS on operands whose partial sums provably stay integers of magnitude ≤ 2^53, which float64
represents exactly (53-bit significand), whatever the summation order or FMA use of the BLAS:

1. Operands are taken in the *centred* representation ``x ∈ [−(p−1)/2, (p−1)/2]``.
2. Each operand is split into ``L`` balanced limbs of ``w`` bits, ``x = Σ_i x_i 2^{w·i}`` with
   ``|x_i| ≤ M`` (``M = 2^{w−1}``, or ``⌊(p−1)/2 / 2^{w(L−1)}⌋ + 1`` for the top limb if larger;
   for ``L = 1`` simply ``M = (p−1)/2``).
3. The inner dimension is cut into chunks of ``K`` columns. For a *schoolbook* plan every limb
   product ``A_i B_j`` is one float64 product and exactness needs ``K · M_A · M_B ≤ 2^53``.
   For a *Karatsuba* plan (``L_A = L_B = L``) the cross terms come from
   ``(A_i + A_j)(B_i + B_j) − A_i B_i − A_j B_j``: ``L(L+1)/2`` products instead of ``L²``, with
   ``K · 4 M_A M_B ≤ 2^53`` because the limb sums are twice as large.
4. Each exact float result is converted to int64 (``|v| ≤ 2^53``), the cross terms are combined in
   int64 (at most ``3L`` terms of magnitude ≤ 2^53: < 2^58), reduced mod p, accumulated over the
   chunks, and recombined as ``Σ_e D_e · (2^e mod p)`` with an exact 64-bit ``mulmod``.

For an inner dimension ``k ≤ 16`` with ``p < 2^32`` (the shape of the protocol's encoding steps: few
coefficients, very long rows) the product is a few uint64 multiply-adds per element with one reduction
per ``⌊(2^64−1)/(p−1)²⌋`` terms. For small p the plan is a single float64 product (one limb each).

The plan (``L_A, L_B``, schoolbook or Karatsuba, ``K``) minimises a simple cost model (number of
BLAS products, chunk overhead); :meth:`PrimeField.matmul_plan` shows it. The engine is
:mod:`cmpc.matmul`: BLAS for the float64 products, compiled (numba, :mod:`cmpc.kernels`) single passes
for everything around them; ratios to float64 BLAS are in ``docs/field.md``.

``mulmod`` (elementwise ``a·b mod p``) is plain uint64 arithmetic for ``p < 2^32``; for larger p it
computes the quotient in x87 extended precision (64-bit significand), whose error is below one unit,
and corrects the wrapped uint64 remainder; this is exact for ``p < 2^62``. For ``2^62 ≤ p < 2^63`` it
falls back to Python integers (exact, slow); no platform without 80-bit ``long double`` takes the fast
path either.

Types: public methods accept numpy integer arrays, Python integer lists or galois FieldArrays and
return FieldArrays of ``self.GF``. For ``p ≥ 2^32`` galois stores elements as Python objects, which
is slow; the ``raw_*`` methods take and return int64 arrays without checks and are what the protocol
uses internally.
"""

from __future__ import annotations

import math
import sys
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from .checks import check_int
from .errors import FieldRangeError, NotPrimeError, ParameterError, ShapeError, SingularMatrixError
from .matmul import (
    EXACT_FLOAT_BOUND,
    MatmulPlan,
    compiled_matmul,
    compiled_small_inner,
    compiled_sum,
    make_plan,
    use_compiled,
)
from .matmul_numpy import reference_matmul, reference_small_inner
from .primality import is_prime
from .rand import RandomSource, ShapeLike, resolve

if TYPE_CHECKING:  # galois costs ~1 s to import: only the FieldArray paths load it (see _galois)
    import galois

__all__ = ["MatmulPlan", "PrimeField"]


def _raw_operand(x: np.ndarray) -> np.ndarray:
    """``x`` as int64, except that uint32 arrays stay uint32 (the kernels read both; no widening copy)."""
    x = np.asarray(x)
    return x if x.dtype == np.uint32 else np.asarray(x, dtype=np.int64)

_FAST_MULMOD = np.finfo(np.longdouble).nmant >= 63


def _galois() -> Any:
    """The galois module, imported on first use (it costs ~1 s; raw int64 paths never need it)."""
    import galois

    return galois


def _is_fieldarray(x: object) -> bool:
    """Whether ``x`` is a galois FieldArray, without importing galois (none exists before it is loaded)."""
    mod = sys.modules.get("galois")
    return mod is not None and isinstance(x, mod.FieldArray)


class PrimeField:
    """The prime field GF(p) for a prime ``2 <= p < 2^63``.

    Parameters
    ----------
    p:
        The modulus; checked to be a prime below 2^63 (:class:`NotPrimeError`, :class:`ParameterError`).

    Examples
    --------
    >>> import numpy as np
    >>> F = PrimeField(2**31 - 1)
    >>> a = np.array([[2**30, 3], [5, 7]])
    >>> F.raw_matmul(a, a).tolist()     # exact: 2^60 + 15 ≡ 2^29 + 15 (mod 2^31 − 1), not a float
    [[536870927, 1073741846], [1073741861, 64]]
    >>> F.asarray([[1.5]])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cmpc.errors.ParameterError: array must have an integer dtype, got float64; convert explicitly ...
    """

    def __init__(self, p: int) -> None:
        p = check_int("p", p)
        if p < 2:
            raise ParameterError(f"p must be a prime >= 2, got {p}")
        if p >= 2**63:
            raise ParameterError(f"p must be below 2^63 (int64 storage), got {p} (~2^{math.log2(p):.1f})")
        if not is_prime(p):
            raise NotPrimeError(f"p = {p} is not prime")
        self.p: int = p
        self.bits: int = p.bit_length()
        self._half = (p - 1) // 2
        self._plans: dict[int, MatmulPlan] = {}

    # -- basics -----------------------------------------------------------------------------------
    @cached_property
    def GF(self) -> type[galois.FieldArray]:
        """The galois field class ``galois.GF(p)`` (imports galois on first use)."""
        return _galois().GF(self.p)

    def __repr__(self) -> str:
        return f"PrimeField({self.p})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrimeField) and other.p == self.p

    def __hash__(self) -> int:
        return hash(("PrimeField", self.p))

    def asarray(self, x: Any, *, name: str = "array") -> np.ndarray:
        """Checked conversion to an int64 array of representatives in [0, p).

        Accepts FieldArrays of this field, numpy integer/bool arrays, nested lists of ints and object
        arrays holding Python or numpy integers (or bools). Raises :class:`FieldRangeError` for values
        outside [0, p) and :class:`ParameterError` for anything that is not an exact integer (floats,
        even integral ones, Fractions, Decimals, strings, …) or a FieldArray of another field.
        """
        if _is_fieldarray(x):
            if type(x).order != self.p:
                raise ParameterError(f"{name} is an element of GF({type(x).order}), not of GF({self.p})")
            return np.asarray(x.view(np.ndarray), dtype=np.int64) if x.dtype != object else np.array(
                x.view(np.ndarray).astype(np.int64)
            )
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"{name} is not a rectangular array of integers: {exc}") from exc
        if arr.dtype == object:
            flat = arr.ravel()
            for bad_v in flat:
                if isinstance(bad_v, int | np.integer | np.bool_):
                    continue
                raise ParameterError(
                    f"{name} must hold exact integers in [0, p), got {bad_v!r} ({type(bad_v).__name__}); "
                    "convert explicitly (e.g. round) before handing values to the field"
                )
            ints = [int(v) for v in flat]
            if ints and (min(ints) < 0 or max(ints) >= self.p):
                bad = min(ints) if min(ints) < 0 else max(ints)
                raise FieldRangeError(f"{name} has value {bad} outside [0, p) for p = {self.p}")
            return np.array(ints, dtype=np.int64).reshape(arr.shape)
        if arr.dtype == np.bool_:
            return arr.astype(np.int64)
        if not np.issubdtype(arr.dtype, np.integer):
            raise ParameterError(
                f"{name} must have an integer dtype, got {arr.dtype}; convert explicitly (e.g. round) "
                "before handing values to the field"
            )
        if arr.size:
            lo, hi = int(arr.min()), int(arr.max())
            if lo < 0 or hi >= self.p:
                bad = lo if lo < 0 else hi
                raise FieldRangeError(f"{name} has value {bad} outside [0, p) for p = {self.p}")
        return arr.astype(np.int64, copy=False)

    def to_field(self, raw: np.ndarray) -> galois.FieldArray:
        """Wrap an int64 array of representatives in [0, p) (unchecked) as a FieldArray."""
        raw = np.asarray(raw, dtype=np.int64)
        if self.p < 2**32:
            return raw.view(self.GF)
        return self.GF(raw.astype(object))

    def random(self, shape: ShapeLike, rng: RandomSource | None = None) -> galois.FieldArray:
        """Uniform elements of the field from the CSPRNG (``rng=None``: fresh OS-entropy source)."""
        return self.to_field(self.raw_random(shape, rng))

    @property
    def compact_dtype(self) -> np.dtype:
        """The narrowest array type of the field's representatives: uint32 for p < 2^32 (the wire width),
        else int64."""
        return np.dtype(np.uint32) if self.p < 2**32 else np.dtype(np.int64)

    def raw_random(self, shape: ShapeLike, rng: RandomSource | None = None, *, compact: bool = False
                   ) -> np.ndarray:
        """Uniform elements as an int64 array, or as :attr:`compact_dtype` with ``compact=True`` (the same
        values from the same stream: only the array type differs)."""
        dtype = self.compact_dtype.type if compact else np.int64
        return resolve(rng).field_elements(self.p, shape, dtype)

    # -- elementwise arithmetic on int64 representatives --------------------------------------------
    def raw_add(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(a + b) mod p for int64 arrays in [0, p)."""
        s = a.astype(np.uint64) + b.astype(np.uint64)
        return np.where(s >= self.p, s - np.uint64(self.p), s).astype(np.int64)

    def raw_sub(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(a − b) mod p for int64 arrays in [0, p)."""
        d = np.asarray(a, dtype=np.int64) - np.asarray(b, dtype=np.int64)
        return np.where(d < 0, d + self.p, d)

    def raw_mul(self, a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
        """(a · b) mod p elementwise for int64 values in [0, p) (exact for every p < 2^63)."""
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        p = self.p
        if p <= 2**32:
            return ((a.astype(np.uint64) * b.astype(np.uint64)) % np.uint64(p)).astype(np.int64)
        if p < 2**62 and _FAST_MULMOD:
            au, bu = a.astype(np.uint64), b.astype(np.uint64)
            # quotient in 64-bit-significand precision (error < 1), truncation = floor for q >= 0
            if b.ndim == 0:
                q = (a.astype(np.longdouble) * (np.longdouble(int(b)) / np.longdouble(p))).astype(np.uint64)
            else:
                q = (a.astype(np.longdouble) * b.astype(np.longdouble) / np.longdouble(p)).astype(np.uint64)
            r = (au * bu - q * np.uint64(p)).view(np.int64)
            r = np.where(r < 0, r + p, r)
            return np.where(r >= p, r - p, r)
        shape = np.broadcast_shapes(a.shape, b.shape)
        ao = np.broadcast_to(a, shape).astype(object)
        bo = np.broadcast_to(b, shape).astype(object)
        return ((ao * bo) % p).astype(np.int64)

    def raw_pow(self, base: np.ndarray, exponents: np.ndarray) -> np.ndarray:
        """base^exponent mod p elementwise (broadcasting), exponents >= 0."""
        base = np.asarray(base, dtype=np.int64)
        exps = np.asarray(exponents, dtype=np.int64)
        if exps.size and int(exps.min()) < 0:
            raise ParameterError("exponents must be >= 0")
        shape = np.broadcast_shapes(base.shape, exps.shape)
        result = np.ones(shape, dtype=np.int64)
        b = np.broadcast_to(base, shape).copy()
        e = np.broadcast_to(exps, shape).copy()
        while e.size and e.max() > 0:
            odd = (e & 1) == 1
            if odd.any():
                result = np.where(odd, self.raw_mul(result, b), result)
            e >>= 1
            if e.max() > 0:
                b = self.raw_mul(b, b)
        return result % self.p if self.p == 1 else result

    def inverse(self, x: int) -> int:
        """The multiplicative inverse of a non-zero element (``SingularMatrixError`` for 0)."""
        x = int(x) % self.p
        if x == 0:
            raise SingularMatrixError("0 has no inverse in GF(p)")
        return pow(x, -1, self.p)

    # -- matrix product -------------------------------------------------------------------------------
    def matmul_plan(self, inner: int) -> MatmulPlan:
        """The limb/chunk plan used for an inner dimension ``inner`` (cached)."""
        plan = self._plans.get(inner)
        if plan is None:
            plan = make_plan(self.p, inner)
            self._plans[inner] = plan
        return plan

    def matmul(self, a: Any, b: Any) -> galois.FieldArray:
        """Exact ``a @ b`` over GF(p) for 2-D (or 1-D, numpy-style) operands.

        Raises :class:`ShapeError` when the inner dimensions differ or are zero and
        :class:`FieldRangeError` for values outside [0, p).
        """
        aa = self.asarray(a, name="a")
        bb = self.asarray(b, name="b")
        return self.to_field(self.raw_matmul(aa, bb))

    def raw_matmul(self, a: np.ndarray, b: np.ndarray, *, compact: bool = False) -> np.ndarray:
        """Exact ``a @ b`` mod p on int64 arrays in [0, p) (shapes checked, values not); uint32 operands
        (the compact type of p < 2^32) are taken as they are. The result is int64, or
        :attr:`compact_dtype` with ``compact=True``."""
        a = _raw_operand(a)
        b = _raw_operand(b)
        if a.ndim not in (1, 2) or b.ndim not in (1, 2):
            raise ShapeError(f"matmul takes 1-D or 2-D operands, got {a.ndim}-D and {b.ndim}-D")
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        if a2.shape[1] != b2.shape[0]:
            raise ShapeError(f"inner dimensions differ: a is {a.shape}, b is {b.shape}")
        if a2.shape[1] == 0:
            raise ShapeError(f"empty inner dimension: a is {a.shape}, b is {b.shape}")
        out = self._matmul2(a2, b2, self.compact_dtype if compact else np.dtype(np.int64))
        if a.ndim == 1 and b.ndim == 1:
            return out.reshape(())
        if a.ndim == 1:
            return out.reshape(-1)
        if b.ndim == 1:
            return out.reshape(-1)
        return out

    def raw_matmul_split(self, a: np.ndarray, top: np.ndarray, bottom: np.ndarray, *, compact: bool = False
                         ) -> np.ndarray:
        """Exact ``a @ [top; bottom]`` mod p for 2-D arrays of representatives in [0, p) (``top`` and
        ``bottom`` of equal width; int64, or uint32 for p < 2^32), without building the stacked operand when
        the compiled small-inner path applies (the protocol's encodings: data rows and mask rows).

        ``compact=True`` returns :attr:`compact_dtype` (uint32 for p < 2^32: half the bytes to write;
        the same values)."""
        a = np.asarray(a, dtype=np.int64)
        k = top.shape[0] + bottom.shape[0]
        if (a.ndim != 2 or top.ndim != 2 or bottom.ndim != 2 or top.shape[1] != bottom.shape[1]
                or a.shape[1] != k):
            raise ShapeError(f"a @ [top; bottom]: a is {a.shape}, top {top.shape}, bottom {bottom.shape}")
        n = top.shape[1]
        out_dtype = self.compact_dtype if compact else np.dtype(np.int64)
        if (k <= 16 and self.p < 2**32 and k * self._half**2 > EXACT_FLOAT_BOUND and a.shape[0] and n
                and use_compiled(a.shape[0], k, n)):
            return compiled_small_inner(self.p, a, top, bottom, out_dtype=out_dtype)
        stacked = np.concatenate([np.asarray(x, dtype=np.int64) for x in (top, bottom)], axis=0)
        return self.raw_matmul(a, stacked).astype(out_dtype, copy=False)

    def _matmul2(self, a: np.ndarray, b: np.ndarray, out_dtype: np.dtype) -> np.ndarray:
        m, k = a.shape
        n = b.shape[1]
        if m == 0 or n == 0:
            return np.zeros((m, n), dtype=out_dtype)
        compiled = use_compiled(m, k, n)
        if k <= 16 and self.p < 2**32 and k * self._half**2 > EXACT_FLOAT_BOUND:
            if compiled:
                return compiled_small_inner(self.p, a, b, out_dtype=out_dtype)
            return reference_small_inner(self.p, a, b).astype(out_dtype, copy=False)
        if compiled:
            return compiled_matmul(self.p, a, b, self.matmul_plan(k), out_dtype)
        return reference_matmul(self, a, b, self.matmul_plan(k)).astype(out_dtype, copy=False)

    def raw_sum(self, arrays: list[np.ndarray] | np.ndarray, *, compact: bool = False) -> np.ndarray:
        """Σ arrays mod p (same shapes, values in [0, p); int64 or uint32), reducing only when int64 could
        overflow. For p < 2^32 in a process that has loaded the compiled kernels: one tiled pass
        (:func:`~cmpc.matmul.compiled_sum`). ``compact=True`` returns :attr:`compact_dtype`."""
        arrs = list(arrays)
        if not arrs:
            raise ShapeError("raw_sum needs at least one array")
        out_dtype = self.compact_dtype if compact else np.dtype(np.int64)
        fast = compiled_sum(self.p, arrs, out_dtype)
        if fast is not None:
            return fast
        return self._numpy_sum(arrs).astype(out_dtype, copy=False)

    def _numpy_sum(self, arrs: list[np.ndarray]) -> np.ndarray:
        per = max(1, (2**63 - 1) // max(1, self.p - 1))
        if per == 1:
            total = arrs[0].copy()
            for x in arrs[1:]:
                total = self.raw_add(total, x)
            return total
        total = np.array(arrs[0], dtype=np.int64, copy=True)
        pending = 1
        for x in arrs[1:]:
            if pending == per:
                np.remainder(total, self.p, out=total)
                pending = 1
            total += x
            pending += 1
        np.remainder(total, self.p, out=total)
        return total

    # -- polynomials, Vandermonde matrices, linear algebra --------------------------------------------
    def raw_vandermonde(self, points: Any, exponents: Any) -> np.ndarray:
        """Generalised Vandermonde ``V[n, e] = points[n] ** exponents[e] mod p`` (int64)."""
        pts = np.asarray(points, dtype=np.int64).reshape(-1, 1)
        exps = np.asarray(exponents, dtype=np.int64).reshape(1, -1)
        return self.raw_pow(pts, exps)

    def vandermonde(self, points: Any, exponents: Any) -> galois.FieldArray:
        """Checked :meth:`raw_vandermonde` returning a FieldArray."""
        pts = self.asarray(points, name="points").ravel()
        exps = np.asarray(exponents)
        if exps.size and (not np.issubdtype(exps.dtype, np.integer) or int(exps.min()) < 0):
            raise ParameterError("exponents must be non-negative integers")
        return self.to_field(self.raw_vandermonde(pts, exps))

    def raw_evaluate(self, coefficients: np.ndarray, exponents: Any, points: Any) -> np.ndarray:
        """Evaluate ``F(x) = Σ_e C_e x^{exponents[e]}`` at every point.

        ``coefficients`` has shape ``(E, *block)``; the result has shape ``(len(points), *block)``.
        This is one matrix product ``V @ C`` with the generalised Vandermonde ``V``.
        """
        coeffs = np.asarray(coefficients, dtype=np.int64)
        exps = np.asarray(exponents, dtype=np.int64).ravel()
        if coeffs.shape[0] != exps.size:
            raise ShapeError(f"{coeffs.shape[0]} coefficient blocks for {exps.size} exponents")
        v = self.raw_vandermonde(points, exps)
        flat = coeffs.reshape(exps.size, -1)
        return self.raw_matmul(v, flat).reshape((v.shape[0], *coeffs.shape[1:]))

    def evaluate(self, coefficients: Any, exponents: Any, points: Any) -> galois.FieldArray:
        """Checked :meth:`raw_evaluate` returning a FieldArray."""
        coeffs = self.asarray(coefficients, name="coefficients")
        pts = self.asarray(points, name="points").ravel()
        return self.to_field(self.raw_evaluate(coeffs, exponents, pts))

    def raw_rank(self, matrix: np.ndarray) -> int:
        """Rank over GF(p) by Gaussian elimination."""
        _, rank, _ = self._eliminate(np.asarray(matrix, dtype=np.int64), None)
        return rank

    def raw_solve(self, matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        """Solve ``matrix @ X = rhs`` for a square invertible matrix (``SingularMatrixError`` otherwise)."""
        mat = np.asarray(matrix, dtype=np.int64)
        if mat.ndim != 2 or mat.shape[0] != mat.shape[1]:
            raise ShapeError(f"solve needs a square matrix, got shape {mat.shape}")
        r = np.asarray(rhs, dtype=np.int64)
        vec = r.ndim == 1
        r2 = r.reshape(-1, 1) if vec else r
        if r2.shape[0] != mat.shape[0]:
            raise ShapeError(f"right-hand side has {r2.shape[0]} rows, matrix has {mat.shape[0]}")
        if r2.shape[1] > 2 * mat.shape[0]:
            # wide right-hand side: invert once (cheap for a small matrix), then one product
            return self.raw_matmul(self.raw_inv(mat), r2).reshape(r.shape)
        _, rank, x = self._eliminate(mat, r2)
        if rank < mat.shape[0]:
            raise SingularMatrixError(
                f"matrix of shape {mat.shape} is singular over GF({self.p}) (rank {rank})"
            )
        assert x is not None
        return x.reshape(-1) if vec else x

    def raw_inv(self, matrix: np.ndarray) -> np.ndarray:
        """Inverse of a square matrix over GF(p) (``SingularMatrixError`` if singular)."""
        mat = np.asarray(matrix, dtype=np.int64)
        if mat.ndim != 2 or mat.shape[0] != mat.shape[1]:
            raise ShapeError(f"inv needs a square matrix, got shape {mat.shape}")
        return self.raw_solve(mat, np.eye(mat.shape[0], dtype=np.int64))

    def inv(self, matrix: Any) -> galois.FieldArray:
        """Checked matrix inverse returning a FieldArray."""
        return self.to_field(self.raw_inv(self.asarray(matrix, name="matrix")))

    def solve(self, matrix: Any, rhs: Any) -> galois.FieldArray:
        """Checked solve returning a FieldArray."""
        return self.to_field(
            self.raw_solve(self.asarray(matrix, name="matrix"), self.asarray(rhs, name="rhs"))
        )

    def _eliminate(
        self, mat: np.ndarray, rhs: np.ndarray | None
    ) -> tuple[np.ndarray, int, np.ndarray | None]:
        """Gauss–Jordan elimination mod p, vectorised over rows. Returns (reduced, rank, solution)."""
        p = self.p
        rows, cols = mat.shape
        extra = 0 if rhs is None else rhs.shape[1]
        aug = np.concatenate([mat % p, rhs % p], axis=1) if rhs is not None else (mat % p).copy()
        rank = 0
        pivots: list[int] = []
        for col in range(cols):
            if rank == rows:
                break
            nz = np.nonzero(aug[rank:, col])[0]
            if nz.size == 0:
                continue
            piv = rank + int(nz[0])
            if piv != rank:
                aug[[rank, piv]] = aug[[piv, rank]]
            inv = pow(int(aug[rank, col]), -1, p)
            aug[rank] = self.raw_mul(aug[rank], inv)
            factors = aug[:, col].copy()
            factors[rank] = 0
            nzr = np.nonzero(factors)[0]
            if nzr.size:
                prod = self.raw_mul(factors[nzr, None], aug[rank][None, :])
                aug[nzr] = self.raw_sub(aug[nzr], prod)
            pivots.append(col)
            rank += 1
        solution = None
        if rhs is not None and rank == cols == rows:
            solution = aug[:, cols : cols + extra]
        return aug[:, :cols], rank, solution
