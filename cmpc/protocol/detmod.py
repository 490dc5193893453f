"""Batched determinants mod p and an exhaustive scan of every k-subset of evaluation points.

Used by :mod:`cmpc.protocol.certificate` to check that *every* z×z secret-exponent matrix
``[α_n^{σ_w}]`` (n in a z-subset of the workers) is invertible. Pure math, public data only.

Two kernels, same answers (``tests/test_session_certificate.py`` compares both with a plain-Python
determinant under hypothesis):

* :func:`det_mod_p` — determinants of a batch of k×k matrices, vectorised over the batch with numpy.
  Fraction-free elimination: at column c the pivot row (first non-zero entry, swapped up) is kept and every
  row below becomes ``row·piv − pivot_row·a_rc``. That multiplies the determinant by ``piv`` once per
  modified row, so det M = ± Π_c U_cc / Π_c U_cc^{k−1−c} (U the final triangle), one inverse at the end.
  Products go through :meth:`cmpc.field.PrimeField.raw_mul`, exact for every p < 2^63.
* numba kernels that walk all C(n, k) subsets in lexicographic order inside compiled code, stop at the first
  singular one and need no memory per subset. For p < 2^31 every product of two residues is below 2^62,
  exact in int64. For 2^31 ≤ p < 2^63 products go through Montgomery multiplication in uint64
  (mont(a, b) = a·b·2^-64 mod p, the 128-bit product from four 32-bit halves): the elimination step
  becomes (piv·row − f·pivot_row)·2^-64, a non-zero multiple of the plain step, so singularity is decided
  exactly without converting into Montgomery form. Without numba the scan feeds chunks of subsets to
  :func:`det_mod_p`.

Measured speed: see ``docs/certificates.md`` (``python benchmarks/certificates.py``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..field import PrimeField

try:  # numba is a dependency of galois, so it is normally present
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only without numba
    HAVE_NUMBA = False

__all__ = ["HAVE_NUMBA", "NUMBA_P_LIMIT", "det_mod_p", "first_singular_subset"]

#: the numba kernels multiply residues in int64: exact while (p − 1)² < 2^63
NUMBA_P_LIMIT = 2**31

#: subsets per numpy batch in the p ≥ 2^31 scan
_CHUNK = 1 << 15


def det_mod_p(mats: np.ndarray, p: int) -> np.ndarray:
    """det(M) mod p for every k×k matrix of a batch ``mats`` (shape (B, k, k), entries in [0, p))."""
    m = np.array(mats, dtype=np.int64, copy=True) % p
    if m.ndim != 3 or m.shape[1] != m.shape[2]:
        raise ValueError(f"det_mod_p needs a batch of square matrices (B, k, k), got shape {m.shape}")
    fld = PrimeField(p)
    batch, k = m.shape[0], m.shape[1]
    rows = np.arange(batch)
    negative = np.zeros(batch, dtype=bool)
    singular = np.zeros(batch, dtype=bool)
    num = np.ones(batch, dtype=np.int64)
    den = np.ones(batch, dtype=np.int64)
    for c in range(k):
        nz = m[:, c:, c] != 0
        has = nz.any(axis=1)
        singular |= ~has
        piv_row = c + np.argmax(nz, axis=1)
        swap = has & (piv_row != c)
        if swap.any():
            top = m[rows, c].copy()
            m[rows, c] = m[rows, piv_row]
            m[rows, piv_row] = top
            negative ^= swap
        piv = np.where(has, m[:, c, c], 1)
        num = fld.raw_mul(num, piv)
        if k - 1 - c:
            den = fld.raw_mul(den, fld.raw_pow(piv, np.array(k - 1 - c, dtype=np.int64)))
            below = m[:, c + 1 :, c:]
            factors = m[:, c + 1 :, c : c + 1]
            m[:, c + 1 :, c:] = fld.raw_sub(
                fld.raw_mul(below, piv[:, None, None]), fld.raw_mul(m[:, c : c + 1, c:], factors)
            )
    det = fld.raw_mul(num, fld.raw_pow(den, np.array(p - 2, dtype=np.int64)))
    det = np.where(negative, (p - det) % p, det)
    return np.where(singular, 0, det).astype(np.int64)


if HAVE_NUMBA:

    @njit(cache=True, nogil=True, inline="always")
    def _mont(a: np.uint64, b: np.uint64, p: np.uint64, pinv: np.uint64) -> np.uint64:  # pragma: no cover
        mask = np.uint64(0xFFFFFFFF)
        s32 = np.uint64(32)
        a0, a1, b0, b1 = a & mask, a >> s32, b & mask, b >> s32
        p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
        mid = (p00 >> s32) + (p01 & mask) + (p10 & mask)
        hi = p11 + (p01 >> s32) + (p10 >> s32) + (mid >> s32)
        lo = (mid << s32) | (p00 & mask)
        m = lo * pinv  # mod 2^64
        m0, m1, q0, q1 = m & mask, m >> s32, p & mask, p >> s32
        r00, r01, r10, r11 = m0 * q0, m0 * q1, m1 * q0, m1 * q1
        mid2 = (r00 >> s32) + (r01 & mask) + (r10 & mask)
        mhi = r11 + (r01 >> s32) + (r10 >> s32) + (mid2 >> s32)
        # lo + m·p ≡ 0 (mod 2^64): the low words carry exactly when lo != 0
        u = hi + mhi + (np.uint64(1) if lo != np.uint64(0) else np.uint64(0))
        return u - p if u >= p else u

    @njit(cache=True, nogil=True)
    def _singular(a: np.ndarray, k: int, p: np.uint64, pinv: np.uint64, wide: bool) -> bool:
        """Fraction-free elimination of the uint64 matrix ``a`` in place; True when singular. Products are
        plain (p < 2^31: below 2^62) or Montgomery (``wide``); either way each step replaces a row by a
        non-zero multiple of piv·row − f·pivot_row, which keeps (non-)singularity."""
        zero = np.uint64(0)  # pragma: no cover - compiled
        for c in range(k):
            r = c
            while r < k and a[r, c] == zero:
                r += 1
            if r == k:
                return True
            if r != c:
                for j in range(c, k):
                    tmp = a[c, j]
                    a[c, j] = a[r, j]
                    a[r, j] = tmp
            piv = a[c, c]
            for r in range(c + 1, k):
                f = a[r, c]
                if f == zero:
                    continue  # the row is not touched: only singularity matters here
                for j in range(c, k):
                    if wide:
                        x = _mont(a[r, j], piv, p, pinv)
                        y = _mont(a[c, j], f, p, pinv)
                    else:
                        x = (a[r, j] * piv) % p
                        y = (a[c, j] * f) % p
                    a[r, j] = x - y if x >= y else x + (p - y)
        return False

    @njit(cache=True, nogil=True)
    def _scan(
        table: np.ndarray, k: int, p: np.uint64, pinv: np.uint64, wide: bool
    ) -> tuple[np.ndarray, int]:  # pragma: no cover - compiled
        n = table.shape[0]
        idx = np.arange(k)
        a = np.empty((k, k), dtype=np.uint64)
        count = 0
        while True:
            for i in range(k):
                for j in range(k):
                    a[i, j] = table[idx[i], j]
            count += 1
            if _singular(a, k, p, pinv, wide):
                return idx.copy(), count
            i = k - 1
            while i >= 0 and idx[i] == n - k + i:
                i -= 1
            if i < 0:
                return idx[:0].copy(), count
            idx[i] += 1
            for j in range(i + 1, k):
                idx[j] = idx[j - 1] + 1


def power_table(points: np.ndarray, exponents: list[int], p: int) -> np.ndarray:
    """``T[n, w] = points[n] ** exponents[w] mod p`` (int64)."""
    return PrimeField(p).raw_vandermonde(np.asarray(points, dtype=np.int64), list(exponents))


def first_singular_subset(
    points: np.ndarray, exponents: list[int], p: int
) -> tuple[tuple[int, ...] | None, int]:
    """Check every k-subset of ``points`` (k = len(exponents)): the first subset (worker indices) whose
    matrix ``[α_n^{e_w}]`` is singular, or ``None``; and the number of subsets examined.

    Exhaustive: C(len(points), k) subsets when none is singular.
    """
    k = len(exponents)
    n = len(points)
    if k == 0 or k > n:
        return None, 0
    table = power_table(points, exponents, p)
    if HAVE_NUMBA:
        wide = p >= NUMBA_P_LIMIT
        pinv = (-pow(p, -1, 1 << 64)) % (1 << 64) if wide else 0
        idx, count = _scan(table.astype(np.uint64), k, np.uint64(p), np.uint64(pinv), wide)
        return (tuple(int(i) for i in idx) if idx.size else None), int(count)
    count = 0
    combos = itertools.combinations(range(n), k)
    total = math.comb(n, k)
    while count < total:
        chunk = np.array(list(itertools.islice(combos, _CHUNK)), dtype=np.int64).reshape(-1, k)
        dets = det_mod_p(table[chunk], p)
        bad = np.flatnonzero(dets == 0)
        if bad.size:
            return tuple(int(i) for i in chunk[bad[0]]), count + int(bad[0]) + 1
        count += chunk.shape[0]
    return None, count
