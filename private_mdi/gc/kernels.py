"""Fused per-level kernels for garbling and evaluation (numba), used when numba is importable.

They compute exactly what the numpy code of :mod:`private_mdi.gc.garble` computes, level by level, but in
one pass over (gates of the level × copies) instead of ~20 numpy passes. The two AES-ECB passes of the
hash H(x, i) = π(π(x) ⊕ i) ⊕ π(x) per level stay in :mod:`cryptography`; around them a ``*_pre`` kernel
gathers the hash inputs x, :func:`add_tweaks` forms π(x) ⊕ i, and a ``*_post`` kernel finishes the half
gates from H = π(π(x) ⊕ i) ⊕ π(x). numba is a dependency of galois, so it is present wherever the project
is installed; without it the numpy path runs (same results, bit for bit). All kernels are compiled with
``nogil=True``: they release the GIL (as do the AES calls of :mod:`cryptography`).

Labels are uint64 pairs (lo, hi) as everywhere in :mod:`private_mdi.gc`; all arithmetic stays in uint64.
"""

from __future__ import annotations

import numpy as np

try:  # pragma: no cover - exercised implicitly
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    numba = None  # type: ignore[assignment]
    HAVE_NUMBA = False

__all__ = [
    "HAVE_NUMBA",
    "add_tweaks",
    "eval_post",
    "eval_pre",
    "garble_post",
    "garble_pre",
    "xor_level",
]


def _jit(fn):  # type: ignore[no-untyped-def]
    if not HAVE_NUMBA:
        return fn
    return numba.njit(cache=True, nogil=True, boundscheck=False)(fn)


@_jit
def garble_pre(L, a, b, inv_a, inv_b, delta, X):  # type: ignore[no-untyped-def]
    """X[0..3, g, c] = A⁰, A¹ = A⁰ ⊕ Δ, B⁰, B¹ (hash inputs of AND g of this level, copy c)."""
    G = a.shape[0]
    C = L.shape[1]
    for g in range(G):
        sa = a[g]
        sb = b[g]
        ma = np.uint64(0) - np.uint64(inv_a[g])
        mb = np.uint64(0) - np.uint64(inv_b[g])
        for c in range(C):
            d0 = delta[c, 0]
            d1 = delta[c, 1]
            a0l = L[sa, c, 0] ^ (d0 & ma)
            a0h = L[sa, c, 1] ^ (d1 & ma)
            b0l = L[sb, c, 0] ^ (d0 & mb)
            b0h = L[sb, c, 1] ^ (d1 & mb)
            X[0, g, c, 0] = a0l
            X[0, g, c, 1] = a0h
            X[1, g, c, 0] = a0l ^ d0
            X[1, g, c, 1] = a0h ^ d1
            X[2, g, c, 0] = b0l
            X[2, g, c, 1] = b0h
            X[3, g, c, 0] = b0l ^ d0
            X[3, g, c, 1] = b0h ^ d1


@_jit
def add_tweaks(P, first, total, offset, X):  # type: ignore[no-untyped-def]
    """X[k, g, c] = P[k, g, c] ⊕ i: i = j for the first half of k, j' = j + 1 for the second half.

    j = 2((first + g)·total + offset + c): the copies c of this chunk are copies offset + c of total.
    """
    K = P.shape[0]
    G = P.shape[1]
    C = P.shape[2]
    half = K // 2
    one = np.uint64(1)
    for k in range(K):
        bit = one if k >= half else np.uint64(0)
        for g in range(G):
            base = np.uint64(2) * (np.uint64(first + g) * np.uint64(total) + np.uint64(offset))
            for c in range(C):
                X[k, g, c, 0] = P[k, g, c, 0] ^ ((base + np.uint64(2) * np.uint64(c)) | bit)
                X[k, g, c, 1] = P[k, g, c, 1]


@_jit
def garble_post(L, a, b, inv_a, inv_b, delta, P, Y, T, out_start):  # type: ignore[no-untyped-def]
    """Half gates from H_k = Y_k ⊕ P_k (P = π(x), Y = π(π(x) ⊕ i)): tables T[g] = (T_G, T_E) and zero
    labels L[out_start + g]. A⁰ is recomputed from the operands (cheaper than reading X back)."""
    G = a.shape[0]
    C = L.shape[1]
    one = np.uint64(1)
    zero = np.uint64(0)
    for g in range(G):
        sa = a[g]
        sb = b[g]
        ia = zero - np.uint64(inv_a[g])
        ib = zero - np.uint64(inv_b[g])
        for c in range(C):
            d0 = delta[c, 0]
            d1 = delta[c, 1]
            a0l = L[sa, c, 0] ^ (d0 & ia)
            a0h = L[sa, c, 1] ^ (d1 & ia)
            b0l = L[sb, c, 0] ^ (d0 & ib)
            pa = zero - (a0l & one)
            pb = zero - (b0l & one)
            h0l = Y[0, g, c, 0] ^ P[0, g, c, 0]
            h0h = Y[0, g, c, 1] ^ P[0, g, c, 1]
            h2l = Y[2, g, c, 0] ^ P[2, g, c, 0]
            h2h = Y[2, g, c, 1] ^ P[2, g, c, 1]
            # T_G = H0 ⊕ H1 ⊕ p_b·Δ
            tgl = h0l ^ Y[1, g, c, 0] ^ P[1, g, c, 0] ^ (d0 & pb)
            tgh = h0h ^ Y[1, g, c, 1] ^ P[1, g, c, 1] ^ (d1 & pb)
            # H2 ⊕ H3
            el = h2l ^ Y[3, g, c, 0] ^ P[3, g, c, 0]
            eh = h2h ^ Y[3, g, c, 1] ^ P[3, g, c, 1]
            T[g, 0, c, 0] = tgl
            T[g, 0, c, 1] = tgh
            T[g, 1, c, 0] = el ^ a0l
            T[g, 1, c, 1] = eh ^ a0h
            # C⁰ = [H0 ⊕ p_a·T_G] ⊕ [H2 ⊕ p_b·(H2 ⊕ H3)]
            L[out_start + g, c, 0] = h0l ^ (tgl & pa) ^ h2l ^ (el & pb)
            L[out_start + g, c, 1] = h0h ^ (tgh & pa) ^ h2h ^ (eh & pb)


@_jit
def eval_pre(L, a, b, X):  # type: ignore[no-untyped-def]
    """X[0, g, c] = A, X[1, g, c] = B (the active operand labels)."""
    G = a.shape[0]
    C = L.shape[1]
    for g in range(G):
        sa = a[g]
        sb = b[g]
        for c in range(C):
            X[0, g, c, 0] = L[sa, c, 0]
            X[0, g, c, 1] = L[sa, c, 1]
            X[1, g, c, 0] = L[sb, c, 0]
            X[1, g, c, 1] = L[sb, c, 1]


@_jit
def eval_post(L, a, b, P, Y, T, out_start):  # type: ignore[no-untyped-def]
    """C = [H(A, j) ⊕ s_a·T_G] ⊕ [H(B, j') ⊕ s_b·(T_E ⊕ A)] into L[out_start + g], H = Y ⊕ P."""
    G = a.shape[0]
    C = L.shape[1]
    one = np.uint64(1)
    zero = np.uint64(0)
    for g in range(G):
        sa = a[g]
        sb = b[g]
        for c in range(C):
            al = L[sa, c, 0]
            ah = L[sa, c, 1]
            bl = L[sb, c, 0]
            ma = zero - (al & one)
            mb = zero - (bl & one)
            wl = Y[0, g, c, 0] ^ P[0, g, c, 0] ^ (T[g, 0, c, 0] & ma)
            wh = Y[0, g, c, 1] ^ P[0, g, c, 1] ^ (T[g, 0, c, 1] & ma)
            wl ^= Y[1, g, c, 0] ^ P[1, g, c, 0] ^ ((T[g, 1, c, 0] ^ al) & mb)
            wh ^= Y[1, g, c, 1] ^ P[1, g, c, 1] ^ ((T[g, 1, c, 1] ^ ah) & mb)
            L[out_start + g, c, 0] = wl
            L[out_start + g, c, 1] = wh


@_jit
def xor_level(L, a, b, out_start):  # type: ignore[no-untyped-def]
    """L[out_start + i] = L[a[i]] ⊕ L[b[i]] for every copy."""
    C = L.shape[1]
    for i in range(a.shape[0]):
        sa = a[i]
        sb = b[i]
        o = out_start + i
        for c in range(C):
            L[o, c, 0] = L[sa, c, 0] ^ L[sb, c, 0]
            L[o, c, 1] = L[sa, c, 1] ^ L[sb, c, 1]
