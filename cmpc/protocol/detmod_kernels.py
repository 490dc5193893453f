"""Compiled kernels of :mod:`cmpc.protocol.detmod` (imported on first use: numba costs ~0.5 s to import,
and structural sessions never need a scan)."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["scan"]


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


scan = _scan
