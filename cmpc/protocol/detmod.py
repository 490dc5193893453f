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

import importlib.util
import itertools
import math

import numpy as np

from ..field import PrimeField

#: numba is a dependency (and of galois); its kernels are imported only when a scan runs
HAVE_NUMBA = importlib.util.find_spec("numba") is not None

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
        from .detmod_kernels import scan

        idx, count = scan(table.astype(np.uint64), k, np.uint64(p), np.uint64(pinv), wide)
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
