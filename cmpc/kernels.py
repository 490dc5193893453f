"""Compiled (numba) loops of the exact GF(p) matrix product; numba is imported on first use.

:func:`get` returns the jitted kernels (``cache=True``: compiled once per machine, then loaded from
``__pycache__``). Importing this module costs nothing; a process that never multiplies never loads
numba. The arithmetic is exactly that of the numpy reference in :mod:`cmpc.matmul` (bit for bit, checked
by the tests):

* ``split``: centred representative ``x − p·[x > (p−1)/2]``, balanced limbs of ``w`` bits
  (``d = ((r + 2^{w−1}) & (2^w − 1)) − 2^{w−1}``, ``r ← (r − d) >> w``), and the limb *forms*
  ``Σ_i S[f, i] d_i`` (a limb, or a Karatsuba sum of two limbs) as float64, in one pass.
* ``combine``: after the float64 products of one chunk, ``D_e = Σ_j W[e, j] · int64(P_j)`` per weight
  exponent ``e``, accumulated over chunks in int64; after the last chunk
  ``Σ_e D_e · (2^e mod p) mod p`` with Shoup's multiplication by a constant (V. Shoup, NTL;
  see also D. Harvey, "Faster arithmetic for number-theoretic transforms", J. Symb. Comp. 60 (2014),
  §2): ``q = ⌊x·c'/2^64⌋`` with ``c' = ⌊c·2^64/p⌋`` gives ``x·c − q·p ∈ [0, 2p)`` for every
  ``x < 2^64``, ``c < p < 2^63``, in wrapping uint64 arithmetic.
* ``sum_mod``: the sum of many arrays mod p < 2^32 in one tiled pass (the protocol's reporters).
* ``small_inner``: ``a @ b`` for an inner dimension of a few columns and ``p < 2^32`` with uint64
  multiply-adds and one reduction per ``⌊(2^64−1)/(p−1)²⌋`` terms (Barrett's, or two Mersenne folds
  for p = 2^31 − 1).

Everything is public data or shares of it; nothing here branches on values except the centring and the
final conditional subtractions, which are not meant to be constant-time (no secret-dependent timing
claim is made for the field core).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

__all__ = ["get", "loaded"]

_KERNELS: SimpleNamespace | None = None

#: columns per tile of ``small_inner`` (accumulator 16 KiB: stays in L1 with the tile of ``b``; 512 to
#: 8192 measured within noise of each other, untiled 1.9× slower)
SMALL_INNER_TILE = 2048


def _split(x, p, half, limbs, width, forms, out):  # type: ignore[no-untyped-def]
    """out[f, r, c] = float(Σ_i forms[f, i] · limb_i(centred(x[r, c]))) (see the module doc).

    Row by row with the element loop innermost (vectorisable); ``d`` holds one row's limbs.
    """
    rows, cols = x.shape
    nf = forms.shape[0]
    hw = np.int64(1) << np.int64(width - 1)
    mask = (np.int64(1) << np.int64(width)) - np.int64(1)
    w = np.int64(width)
    d = np.empty((limbs, cols), dtype=np.int64)
    rest = np.empty(cols, dtype=np.int64)
    for r in range(rows):
        for c in range(cols):
            v = x[r, c]
            rest[c] = v - p if v > half else v
        for i in range(limbs - 1):
            for c in range(cols):
                di = ((rest[c] + hw) & mask) - hw
                d[i, c] = di
                rest[c] = (rest[c] - di) >> w
        for c in range(cols):
            d[limbs - 1, c] = rest[c]
        for f in range(nf):
            for c in range(cols):
                rest[c] = 0
            for i in range(limbs):
                if forms[f, i] != 0:
                    for c in range(cols):
                        rest[c] += d[i, c]
            for c in range(cols):
                out[f, r, c] = np.float64(rest[c])


def _combine(  # type: ignore[no-untyped-def]
    prod, m, n, fstride, rstride, brow, bcol, weights, acc, first, last, reduce_mod, big, small_terms, p, off,
    cs, csh, mbits, rot, out
):
    """One chunk: D_e = Σ_j W[e, j] int64(P_j) (+ acc); store in acc, or finish into out (module doc).

    ``prod`` is the 2-D float64 result; entry (r, c) of product j is
    ``prod[brow[j]·fstride + r·rstride, bcol[j]·n + c]`` (the forms of A stacked by form or by row).
    ``reduce_mod``: reduce the accumulators mod p (keeps them below the int64 range for the next
    chunk); ``big`` (p ≥ 2^61): reduce every chunk's terms before adding them; with ``small_terms``
    (every term of one chunk has |D_e| < p, the plan's bound: p = 2^61 − 1 has |D_e| ≤ 4·2^53) that
    reduction is one conditional addition of p instead of an integer division. On the last chunk
    ``out[r, c] = Σ_e (D_e mod p)(2^{e} mod p) mod p`` via Shoup with the constants ``cs[e]`` (< p)
    and ``csh[e] = ⌊cs[e]·2^64/p⌋``; ``off`` is a multiple of p with ``|D_e| + off < 2^64``, so
    ``D_e + off`` is a non-negative uint64 with the same residue. For the Mersenne primes p = 2^b − 1,
    b = ``mbits`` ∈ {31, 61} (0 otherwise), D_e + off is folded into [0, p) and ``rot[e] = e mod b``
    replaces Shoup's product by a b-bit rotation. Row by row, element loop innermost.
    """
    ne, nj = weights.shape
    pu = np.uint64(p)
    offu = np.uint64(off)
    lo32 = np.uint64(0xFFFFFFFF)
    s32 = np.uint64(32)
    s = np.empty(n, dtype=np.int64)
    total = np.empty(n, dtype=np.uint64)
    # when the weights use products more than once (Karatsuba: 12 terms from 6 products for 3 limbs),
    # convert each product's row to int64 once per row (float64 -> int64 is scalar on AVX2)
    nnz = 0
    for e in range(ne):
        for j in range(nj):
            if weights[e, j] != 0:
                nnz += 1
    preconv = nnz > nj
    pint = np.empty((nj if preconv else 0, n), dtype=np.int64)
    for r in range(m):
        if last:
            for c in range(n):
                total[c] = 0
        if preconv:
            for j in range(nj):
                row = brow[j] * fstride + r * rstride
                c0 = bcol[j] * n
                for c in range(n):
                    pint[j, c] = np.int64(prod[row, c0 + c])
        for e in range(ne):
            if not (last or big or reduce_mod):
                # a first or middle chunk whose exponent takes one product with weight 1 (the plans
                # without Karatsuba): add it straight into the accumulator in one pass, without the row
                # buffer (the same values as the general path below; measured 3.8 -> 1.9 ms per such
                # chunk at n = 1024, p = 2^31 - 1)
                jj = -1
                cnt = 0
                for j in range(nj):
                    if weights[e, j] != 0:
                        cnt += 1
                        jj = j
                if cnt == 1 and weights[e, jj] == 1:
                    row = brow[jj] * fstride + r * rstride
                    c0 = bcol[jj] * n
                    if first:
                        for c in range(n):
                            acc[e, r, c] = np.int64(prod[row, c0 + c])
                    else:
                        for c in range(n):
                            acc[e, r, c] += np.int64(prod[row, c0 + c])
                    continue
            if first:
                for c in range(n):
                    s[c] = 0
            else:
                for c in range(n):
                    s[c] = acc[e, r, c]
            if big and not first:
                # p >= 2^61: the accumulator holds values in [0, p); this chunk's terms are added mod p
                for c in range(n):
                    s[c] = 0
            for j in range(nj):
                wgt = weights[e, j]
                if wgt != 0 and preconv:
                    for c in range(n):
                        s[c] += wgt * pint[j, c]
                elif wgt != 0:
                    row = brow[j] * fstride + r * rstride
                    c0 = bcol[j] * n
                    for c in range(n):
                        s[c] += wgt * np.int64(prod[row, c0 + c])
            if big:
                for c in range(n):
                    v = s[c]
                    if small_terms:  # |v| < p: v mod p without a division
                        if v < 0:
                            v += p
                    else:
                        v = v % p
                    if not first:
                        vu = np.uint64(v) + np.uint64(acc[e, r, c])
                        if vu >= pu:
                            vu -= pu
                        v = np.int64(vu)
                    s[c] = v
            elif reduce_mod:
                for c in range(n):
                    s[c] = s[c] % p
            if last and mbits:
                # Mersenne p = 2^b − 1 (b = mbits: 31 or 61): x = D_e + off < 2^64 is folded into [0, p)
                # (2^b ≡ 1: x ≡ (x mod 2^b) + ⌊x / 2^b⌋; two folds leave less than p + 8 < 2p, then one
                # conditional subtraction); then multiplying by 2^e ≡ 2^r (r = e mod b) is a rotation of the
                # b-bit value: (v·2^r mod 2^b) + ⌊v·2^r / 2^b⌋, two bit fields that do not overlap (and never
                # p itself: that would need v ≡ 0)
                r_ = np.uint64(rot[e])
                fb_ = np.uint64(mbits)
                l_ = fb_ - r_
                for c in range(n):
                    xr = np.uint64(s[c]) + offu  # (own names: numba unifies a reused name's types)
                    vr = (xr & pu) + (xr >> fb_)
                    vr = (vr & pu) + (vr >> fb_)
                    if vr >= pu:
                        vr -= pu
                    t = ((vr << r_) & pu) | (vr >> l_)
                    t += total[c]
                    if t >= pu:
                        t -= pu
                    total[c] = t
            elif last:
                ce = cs[e]
                c0h = csh[e] & lo32
                c1h = csh[e] >> s32
                for c in range(n):
                    x = np.uint64(s[c]) + offu
                    # q = high 64 bits of x * csh[e] (schoolbook on 32-bit halves)
                    x0 = x & lo32
                    x1 = x >> s32
                    p00 = x0 * c0h
                    p10 = x1 * c0h
                    mid = (p00 >> s32) + (p10 & lo32) + x0 * c1h
                    q = x1 * c1h + (p10 >> s32) + (mid >> s32)
                    t = x * ce - q * pu
                    if t >= pu:
                        t -= pu
                    t += total[c]
                    if t >= pu:
                        t -= pu
                    total[c] = t
            else:
                for c in range(n):
                    acc[e, r, c] = s[c]
        if last:
            for c in range(n):
                out[r, c] = total[c]  # < p: exact in an int64 (or, for p < 2^32, a uint32) output


def _small_inner_rows(a, b1, b2, p, per, per_after, mu, shift, out):  # type: ignore[no-untyped-def]
    """out = a @ b mod p for p < 2^32, b = [b1; b2] (the rows of b1, then those of b2; int64 in [0, p)):
    uint64 multiply-adds, a reduction every ``per`` terms (``per_after`` after a reduction, which leaves up
    to p − 1 in the accumulator: ``per = ⌊(2^64−1)/(p−1)²⌋``, ``per_after = ⌊(2^64−1−(p−1))/(p−1)²⌋``).

    Taking b in two parts spares the callers a concatenating copy (the protocol's data and mask rows).
    ``b1``, ``b2`` may be int64 or uint32 and ``out`` int64 or uint32 (one compiled version per type
    combination): a uint32 output halves the bytes written, which dominate the protocol's encodings.

    Column tiles of :data:`SMALL_INNER_TILE` (the shape of the protocol's encodings: a few coefficients,
    very long rows): per tile and output row the accumulator stays in L1 and every row of ``b``'s tile
    is read from cache, instead of streaming the whole row for every coefficient. The first term sets the
    accumulator and the last reduction writes the output (no zeroing or copying pass: 1.3× faster for
    the protocol's shapes). Values are truncated
    to uint32 before multiplying (exact for values < 2^32), so that the products are 32×32→64-bit
    multiplies (vectorisable). Reductions are Barrett's with ``mu = ⌊2^64 / p⌋``:
    ``q = ⌊x·mu / 2^64⌋`` is at most 1 below ⌊x/p⌋ for x < 2^64, so ``x − q·p < 2p`` needs one
    conditional subtraction (P. Barrett, CRYPTO '86). For the Mersenne prime p = 2^31 − 1 (``shift`` = 31;
    0 otherwise) the reduction is two folds instead: 2^31 ≡ 1 gives x ≡ (x mod 2^31) + ⌊x / 2^31⌋, and two
    folds take any x < 2^64 below 2^31 + 5 < 2p, so one conditional subtraction again ends in [0, p). The
    folds are shifts and masks (no multiplies); measured about 1 ns per output less than Barrett here.
    """
    m, k = a.shape
    k1 = b1.shape[0]
    n = b1.shape[1]
    pu = np.uint64(p)
    m0 = np.uint64(mu) & np.uint64(0xFFFFFFFF)
    m1 = np.uint64(mu) >> np.uint64(32)
    tile = SMALL_INNER_TILE
    acc_buf = np.empty(tile, dtype=np.uint64)
    for c0 in range(0, n, tile):
        c1 = min(n, c0 + tile)
        w = c1 - c0
        acc = acc_buf[:w]
        for r in range(m):
            pending = 0
            fresh = True
            for t in range(k):
                coef = np.uint64(np.uint32(a[r, t]))
                if coef == 0:
                    continue
                if pending == per:
                    if shift:
                        for c in range(w):
                            acc[c] = _fold31(acc[c], pu)
                    else:
                        for c in range(w):
                            acc[c] = _barrett(acc[c], pu, m0, m1)
                    pending = per - per_after  # a reduced accumulator (≤ p − 1) has room for per_after terms
                if t < k1:
                    bt = b1[t, c0:c1]
                    if fresh:
                        for c in range(w):
                            acc[c] = coef * np.uint64(np.uint32(bt[c]))
                    else:
                        for c in range(w):
                            acc[c] += coef * np.uint64(np.uint32(bt[c]))
                else:
                    bt2 = b2[t - k1, c0:c1]
                    if fresh:
                        for c in range(w):
                            acc[c] = coef * np.uint64(np.uint32(bt2[c]))
                    else:
                        for c in range(w):
                            acc[c] += coef * np.uint64(np.uint32(bt2[c]))
                fresh = False
                pending += 1
            o = out[r, c0:c1]
            if fresh:
                for c in range(w):
                    o[c] = 0
            else:
                _store_mod(acc, o, w, pu, shift, m0, m1)


def _sum_mod(first, rest, p, mu, shift, out):  # type: ignore[no-untyped-def]
    """out = (first + Σ rest) mod p for 1-D arrays of values in [0, p), p < 2^32, fewer than 2^32 terms.

    One pass in column tiles of :data:`SMALL_INNER_TILE`: a uint64 accumulator per tile (it stays in L1)
    takes every input's tile, then one reduction: the sum of fewer than 2^32 values below 2^32 is below
    2^64, so a single Barrett (or, for p = 2^31 − 1, two-fold) reduction as in ``small_inner`` ends in
    [0, p). Every input is read once and the output written once (a numpy ``total += x`` loop reads and
    writes the running total once per input).
    """
    n = first.shape[0]
    pu = np.uint64(p)
    m0 = np.uint64(mu) & np.uint64(0xFFFFFFFF)
    m1 = np.uint64(mu) >> np.uint64(32)
    tile = SMALL_INNER_TILE
    acc_buf = np.empty(tile, dtype=np.uint64)
    for c0 in range(0, n, tile):
        c1 = min(n, c0 + tile)
        w = c1 - c0
        acc = acc_buf[:w]
        x0v = first[c0:c1]
        for c in range(w):
            acc[c] = np.uint64(x0v[c])
        for x in rest:
            xv = x[c0:c1]
            for c in range(w):
                acc[c] += np.uint64(xv[c])
        _store_mod(acc, out[c0:c1], w, pu, shift, m0, m1)


def _fold31_py(x, pu):  # type: ignore[no-untyped-def]
    """x mod p for any uint64 x and p = ``pu`` = 2^31 − 1: two Mersenne folds and one conditional
    subtraction (see ``small_inner``). Scalar: the calling loops inline it and stay vectorised."""
    s31 = np.uint64(31)
    y = (x & pu) + (x >> s31)
    y = (y & pu) + (y >> s31)
    return y - pu if y >= pu else y


def _barrett_py(x, pu, m0, m1):  # type: ignore[no-untyped-def]
    """x mod p for any uint64 x and p = ``pu`` < 2^32 by Barrett's method, ``mu = ⌊2^64/p⌋`` given as its
    32-bit halves ``m0``, ``m1`` (see ``small_inner``). Scalar, like ``_fold31_py``."""
    lo32 = np.uint64(0xFFFFFFFF)
    s32 = np.uint64(32)
    x0 = x & lo32
    x1 = x >> s32
    p00 = x0 * m0
    p10 = x1 * m0
    mid = (p00 >> s32) + (p10 & lo32) + x0 * m1
    q = x1 * m1 + (p10 >> s32) + (mid >> s32)
    y = x - q * pu
    return y - pu if y >= pu else y


def _store_mod_py(acc, o, w, pu, shift, m0, m1):  # type: ignore[no-untyped-def]
    """o[c] = acc[c] mod p for c < w (``o`` another array than ``acc``): the last pass of ``small_inner``
    and ``sum_mod``, folds for p = 2^31 − 1 (``shift`` = 31), else Barrett's."""
    if shift:
        for c in range(w):
            o[c] = _fold31(acc[c], pu)
    else:
        for c in range(w):
            o[c] = _barrett(acc[c], pu, m0, m1)


#: the reductions the kernels call: :func:`get` replaces them by the jitted ``_fold31_py``,
#: ``_barrett_py`` and ``_store_mod_py`` before compiling the kernels (numba resolves these globals when
#: it compiles a kernel)
_fold31: Any = _fold31_py
_barrett: Any = _barrett_py
_store_mod: Any = _store_mod_py


def loaded() -> bool:
    """Whether the kernels are already loaded in this process (then using them costs nothing extra)."""
    return _KERNELS is not None


def get() -> Any:
    """The compiled kernels (imports numba and compiles or loads them on the first call)."""
    global _KERNELS
    if _KERNELS is None:
        import numba

        def jit(fn: Any) -> Any:
            return numba.njit(cache=True, nogil=True, boundscheck=False)(fn)

        global _fold31, _barrett, _store_mod
        _fold31, _barrett = jit(_fold31_py), jit(_barrett_py)
        _store_mod = jit(_store_mod_py)  # after the two it calls
        _KERNELS = SimpleNamespace(
            split=jit(_split),
            combine=jit(_combine),
            small_inner=jit(_small_inner_rows),
            sum_mod=jit(_sum_mod),
        )
    return _KERNELS

