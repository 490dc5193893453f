"""Fused per-level kernels for garbling and evaluation (numba), used when numba is importable.

They compute exactly what the numpy code of :mod:`private_mdi.gc.garble` computes, level by level, but in
one pass over (gates of the level × copies) instead of ~20 numpy passes: the AES-ECB call per level stays
in :mod:`cryptography` (between a ``*_pre`` kernel that builds the hash inputs σ(x) ⊕ tweak and a
``*_post`` kernel that finishes the half gates). numba is a dependency of galois, so it is present
wherever the project is installed; without it the numpy path runs (same results, bit for bit).

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
def garble_pre(L, a, b, inv_a, inv_b, delta, sdelta, first, total, offset, X):  # type: ignore[no-untyped-def]
    """X[0..3, g, c] = σ(A⁰) ⊕ j, σ(A¹) ⊕ j, σ(B⁰) ⊕ j', σ(B¹) ⊕ j'.

    j = 2((first + g)·total + offset + c), j' = j + 1: the copies c of L are copies offset + c of total.
    """
    G = a.shape[0]
    C = L.shape[1]
    one = np.uint64(1)
    for g in range(G):
        sa = a[g]
        sb = b[g]
        ma = np.uint64(0) - np.uint64(inv_a[g])
        mb = np.uint64(0) - np.uint64(inv_b[g])
        base = np.uint64(2) * (np.uint64(first + g) * np.uint64(total) + np.uint64(offset))
        for c in range(C):
            tw = base + np.uint64(2) * np.uint64(c)
            a0l = L[sa, c, 0] ^ (delta[c, 0] & ma)
            a0h = L[sa, c, 1] ^ (delta[c, 1] & ma)
            b0l = L[sb, c, 0] ^ (delta[c, 0] & mb)
            b0h = L[sb, c, 1] ^ (delta[c, 1] & mb)
            x0 = a0h ^ tw
            x1 = a0h ^ a0l
            X[0, g, c, 0] = x0
            X[0, g, c, 1] = x1
            X[1, g, c, 0] = x0 ^ sdelta[c, 0]
            X[1, g, c, 1] = x1 ^ sdelta[c, 1]
            y0 = b0h ^ (tw | one)
            y1 = b0h ^ b0l
            X[2, g, c, 0] = y0
            X[2, g, c, 1] = y1
            X[3, g, c, 0] = y0 ^ sdelta[c, 0]
            X[3, g, c, 1] = y1 ^ sdelta[c, 1]


@_jit
def garble_post(L, a, b, inv_a, inv_b, delta, sdelta, first, total, offset, Y, T, out_start):  # type: ignore[no-untyped-def]
    """Half gates from Y = π(X): tables T[g] = (T_G, T_E) and zero labels L[out_start + g].

    H_k = Y_k ⊕ X_k; the hash inputs X are recomputed from the operands (cheaper than reading them back),
    and H0 ⊕ H1 = Y0 ⊕ Y1 ⊕ σ(Δ), H2 ⊕ H3 = Y2 ⊕ Y3 ⊕ σ(Δ) because σ is linear.
    """
    G = a.shape[0]
    C = L.shape[1]
    one = np.uint64(1)
    zero = np.uint64(0)
    for g in range(G):
        sa = a[g]
        sb = b[g]
        ia = zero - np.uint64(inv_a[g])
        ib = zero - np.uint64(inv_b[g])
        base = np.uint64(2) * (np.uint64(first + g) * np.uint64(total) + np.uint64(offset))
        for c in range(C):
            tw = base + np.uint64(2) * np.uint64(c)
            d0 = delta[c, 0]
            d1 = delta[c, 1]
            a0l = L[sa, c, 0] ^ (d0 & ia)
            a0h = L[sa, c, 1] ^ (d1 & ia)
            b0l = L[sb, c, 0] ^ (d0 & ib)
            b0h = L[sb, c, 1] ^ (d1 & ib)
            pa = zero - (a0l & one)
            pb = zero - (b0l & one)
            h0l = Y[0, g, c, 0] ^ a0h ^ tw
            h0h = Y[0, g, c, 1] ^ a0h ^ a0l
            h2l = Y[2, g, c, 0] ^ b0h ^ (tw | one)
            h2h = Y[2, g, c, 1] ^ b0h ^ b0l
            # T_G = H0 ⊕ H1 ⊕ p_b·Δ
            tgl = Y[0, g, c, 0] ^ Y[1, g, c, 0] ^ sdelta[c, 0] ^ (d0 & pb)
            tgh = Y[0, g, c, 1] ^ Y[1, g, c, 1] ^ sdelta[c, 1] ^ (d1 & pb)
            # H2 ⊕ H3
            el = Y[2, g, c, 0] ^ Y[3, g, c, 0] ^ sdelta[c, 0]
            eh = Y[2, g, c, 1] ^ Y[3, g, c, 1] ^ sdelta[c, 1]
            T[g, 0, c, 0] = tgl
            T[g, 0, c, 1] = tgh
            T[g, 1, c, 0] = el ^ a0l
            T[g, 1, c, 1] = eh ^ a0h
            # C⁰ = [H0 ⊕ p_a·T_G] ⊕ [H2 ⊕ p_b·(H2 ⊕ H3)]
            L[out_start + g, c, 0] = h0l ^ (tgl & pa) ^ h2l ^ (el & pb)
            L[out_start + g, c, 1] = h0h ^ (tgh & pa) ^ h2h ^ (eh & pb)


@_jit
def eval_pre(L, a, b, first, total, offset, X):  # type: ignore[no-untyped-def]
    """X[0, g, c] = σ(A) ⊕ j, X[1, g, c] = σ(B) ⊕ j'."""
    G = a.shape[0]
    C = L.shape[1]
    one = np.uint64(1)
    for g in range(G):
        sa = a[g]
        sb = b[g]
        base = np.uint64(2) * (np.uint64(first + g) * np.uint64(total) + np.uint64(offset))
        for c in range(C):
            tw = base + np.uint64(2) * np.uint64(c)
            al = L[sa, c, 0]
            ah = L[sa, c, 1]
            bl = L[sb, c, 0]
            bh = L[sb, c, 1]
            X[0, g, c, 0] = ah ^ tw
            X[0, g, c, 1] = ah ^ al
            X[1, g, c, 0] = bh ^ (tw | one)
            X[1, g, c, 1] = bh ^ bl


@_jit
def eval_post(L, a, b, first, total, offset, Y, T, out_start):  # type: ignore[no-untyped-def]
    """C = [H(A, j) ⊕ s_a·T_G] ⊕ [H(B, j') ⊕ s_b·(T_E ⊕ A)] into L[out_start + g] (X recomputed)."""
    G = a.shape[0]
    C = L.shape[1]
    one = np.uint64(1)
    zero = np.uint64(0)
    for g in range(G):
        sa = a[g]
        sb = b[g]
        base = np.uint64(2) * (np.uint64(first + g) * np.uint64(total) + np.uint64(offset))
        for c in range(C):
            tw = base + np.uint64(2) * np.uint64(c)
            al = L[sa, c, 0]
            ah = L[sa, c, 1]
            bl = L[sb, c, 0]
            bh = L[sb, c, 1]
            ma = zero - (al & one)
            mb = zero - (bl & one)
            wl = Y[0, g, c, 0] ^ ah ^ tw ^ (T[g, 0, c, 0] & ma)
            wh = Y[0, g, c, 1] ^ ah ^ al ^ (T[g, 0, c, 1] & ma)
            wl ^= Y[1, g, c, 0] ^ bh ^ (tw | one) ^ ((T[g, 1, c, 0] ^ al) & mb)
            wh ^= Y[1, g, c, 1] ^ bh ^ bl ^ ((T[g, 1, c, 1] ^ ah) & mb)
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
