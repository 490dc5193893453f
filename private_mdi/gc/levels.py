"""The per-level loops of garbling and evaluation, for both backends (see :mod:`private_mdi.gc.garble`).

For every stage of the :class:`~private_mdi.gc.plan.Plan`: gather the hash inputs of the AND batch, the
first AES-ECB pass π(x), the tweaks π(x) ⊕ i, the second pass π(π(x) ⊕ i), then the half gates from
H = π(π(x) ⊕ i) ⊕ π(x), then the XOR sub-levels. ``*_numpy`` does it with numpy passes; ``*_fused`` with
the compiled kernels of :mod:`private_mdi.gc.kernels`. Both write bit-identical tables and labels; both
are tested against the scalar reference :mod:`private_mdi.gc.reference`.
"""

from __future__ import annotations

import numpy as np

from . import kernels
from .hash import FixedKeyAES
from .plan import Plan, Stage

__all__ = [
    "Scratch",
    "evaluate_chunk_fused",
    "evaluate_chunk_numpy",
    "garble_chunk_fused",
    "garble_chunk_numpy",
]

_ONE = np.uint64(1)


def _lsb_mask(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """All-ones (both words) where lsb(x) = 1, else zero: shape of x (…, 2)."""
    m = np.bitwise_and(x[..., 0], _ONE)
    np.negative(m, out=m)
    out[..., 0] = m
    out[..., 1] = m
    return out


def _tweaks(first: int, g: int, total: int, offset: int, n: int) -> np.ndarray:
    """j = 2((first + i)·total + offset + c) for i < g, c < n, as a (g, n) uint64 array."""
    gates = np.arange(first, first + g, dtype=np.uint64)
    rows = (gates * np.uint64(total) + np.uint64(offset)) * np.uint64(2)
    return rows[:, None] + np.arange(0, 2 * n, 2, dtype=np.uint64)[None, :]


class Scratch:
    """Reusable buffers of one garbling or evaluation (sized for the largest AND level of a chunk)."""

    def __init__(self, plan: Plan, chunk: int, blocks: int) -> None:
        self.x = np.empty(2 * blocks * plan.max_and_batch * chunk, dtype=np.uint64)
        self.m = np.empty(4 * plan.max_and_batch * chunk, dtype=np.uint64)
        self.t = np.empty(4 * plan.max_and_batch * chunk, dtype=np.uint64)
        self.aes = FixedKeyAES()


def _add_tweaks_numpy(P: np.ndarray, tw: np.ndarray, X: np.ndarray) -> None:
    """X = P ⊕ i with i = tw for the first half of P's blocks axis and tw | 1 for the second half."""
    np.copyto(X, P)
    half = P.shape[0] // 2
    X[:half, ..., 0] ^= tw
    tw |= _ONE
    X[half:, ..., 0] ^= tw


def _hash_numpy(sc: Scratch, X: np.ndarray, first: int, total: int, offset: int) -> np.ndarray:
    """H(X[k], i) = π(π(X) ⊕ i) ⊕ π(X) for all blocks of X (K, g, n, 2); overwrites X with π(X) ⊕ i."""
    P = sc.aes.permute(X, buffer=1)
    _add_tweaks_numpy(P, _tweaks(first, X.shape[1], total, offset, X.shape[2]), X)
    Y = sc.aes.permute(X, buffer=0)
    np.bitwise_xor(Y, P, out=Y)
    return Y


def _hash_passes_fused(sc: Scratch, X: np.ndarray, first: int, total: int, offset: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(π(X), π(π(X) ⊕ i)) with the tweaks added by the compiled kernel; the post kernels XOR them."""
    P = sc.aes.permute(X, buffer=1)
    kernels.add_tweaks(P, first, total, offset, X)
    return P, sc.aes.permute(X, buffer=0)


def _xors_numpy(stage: Stage, L: np.ndarray) -> None:
    for xb in stage.xors:
        np.bitwise_xor(np.take(L, xb.a, axis=0), np.take(L, xb.b, axis=0),
                       out=L[xb.out_start : xb.out_start + xb.size])


def _xors_fused(stage: Stage, L: np.ndarray) -> None:
    if stage.all_xors is not None:
        xb = stage.all_xors
        kernels.xor_level(L, xb.a, xb.b, xb.out_start)


def garble_chunk_numpy(plan: Plan, L: np.ndarray, delta: np.ndarray,
                        tables: np.ndarray, total: int, offset: int, sc: Scratch) -> None:
    """Garble copies ``offset ..`` held in L (n_slots, n, 2) with numpy passes.

    ``tables`` is the (n_and, 2, n, 2) view of this chunk's columns of the tables.
    """
    n = L.shape[1]
    for stage in plan.stages:
        batch = stage.ands
        if batch is not None:
            g = batch.size
            gn = g * n
            A0 = np.take(L, batch.a, axis=0)
            B0 = np.take(L, batch.b, axis=0)
            if batch.inv_a.size:
                A0[batch.inv_a] ^= delta
            if batch.inv_b.size:
                B0[batch.inv_b] ^= delta
            X = sc.x[: 8 * gn].reshape(4, g, n, 2)
            # hash inputs A⁰, A¹, B⁰, B¹; then H = π(π(x) ⊕ i) ⊕ π(x) with i = j, j, j', j'
            X[0] = A0
            np.bitwise_xor(A0, delta, out=X[1])
            X[2] = B0
            np.bitwise_xor(B0, delta, out=X[3])
            Y = _hash_numpy(sc, X, batch.first, total, offset)  # Y[k] = H(·) of the four inputs
            H0, H1, H2, H3 = Y[0], Y[1], Y[2], Y[3]
            ma = _lsb_mask(A0, sc.m[: 2 * gn].reshape(g, n, 2))
            mb = _lsb_mask(B0, sc.m[2 * gn : 4 * gn].reshape(g, n, 2))
            T = tables[batch.first : batch.first + g]
            TG = T[:, 0]
            TE = T[:, 1]
            t1 = sc.t[: 2 * gn].reshape(g, n, 2)
            t2 = sc.t[2 * gn : 4 * gn].reshape(g, n, 2)
            # T_G = H0 ⊕ H1 ⊕ p_b·Δ
            np.bitwise_xor(H0, H1, out=t1)
            np.bitwise_and(mb, delta, out=t2)
            np.bitwise_xor(t1, t2, out=TG)
            # W_G = H0 ⊕ p_a·T_G  (into the output slots)
            out = L[batch.out_start : batch.out_start + g]
            np.bitwise_and(ma, TG, out=t2)
            np.bitwise_xor(H0, t2, out=out)
            # T_E = H2 ⊕ H3 ⊕ A⁰ ; W_E = H2 ⊕ p_b·(H2 ⊕ H3) ; C⁰ = W_G ⊕ W_E
            np.bitwise_xor(H2, H3, out=t1)
            np.bitwise_xor(t1, A0, out=TE)
            np.bitwise_and(mb, t1, out=t1)
            np.bitwise_xor(t1, H2, out=t1)
            np.bitwise_xor(out, t1, out=out)
        _xors_numpy(stage, L)


def evaluate_chunk_numpy(plan: Plan, L: np.ndarray, tables: np.ndarray, total: int, offset: int,
                          sc: Scratch) -> None:
    """Evaluate copies ``offset ..`` held in L with numpy passes; tables: (n_and, 2, n, 2) view."""
    n = L.shape[1]
    for stage in plan.stages:
        batch = stage.ands
        if batch is not None:
            g = batch.size
            gn = g * n
            X = sc.x[: 4 * gn].reshape(2, g, n, 2)
            np.take(L, batch.a, axis=0, out=X[0])
            np.take(L, batch.b, axis=0, out=X[1])
            A = X[0].copy()
            B = X[1].copy()
            Y = _hash_numpy(sc, X, batch.first, total, offset)
            T = tables[batch.first : batch.first + g]
            out = L[batch.out_start : batch.out_start + g]
            m = sc.m[: 2 * gn].reshape(g, n, 2)
            t = sc.t[: 2 * gn].reshape(g, n, 2)
            # W_G = H(A, j) ⊕ s_a·T_G
            _lsb_mask(A, m)
            np.bitwise_and(m, T[:, 0], out=t)
            np.bitwise_xor(Y[0], t, out=out)
            # W_E = H(B, j') ⊕ s_b·(T_E ⊕ A)
            _lsb_mask(B, m)
            np.bitwise_xor(T[:, 1], A, out=t)
            np.bitwise_and(t, m, out=t)
            np.bitwise_xor(t, Y[1], out=t)
            np.bitwise_xor(out, t, out=out)
        _xors_numpy(stage, L)


def garble_chunk_fused(plan: Plan, L: np.ndarray, delta: np.ndarray,
                        tables: np.ndarray, total: int, offset: int, sc: Scratch) -> None:
    """Same as :func:`garble_chunk_numpy` with the fused kernels of :mod:`private_mdi.gc.kernels`."""
    n = L.shape[1]
    for stage in plan.stages:
        batch = stage.ands
        if batch is not None:
            g = batch.size
            X = sc.x[: 8 * g * n].reshape(4, g, n, 2)
            kernels.garble_pre(L, batch.a, batch.b, batch.flags_a, batch.flags_b, delta, X)
            P, Y = _hash_passes_fused(sc, X, batch.first, total, offset)
            kernels.garble_post(L, batch.a, batch.b, batch.flags_a, batch.flags_b, delta, P, Y,
                                tables[batch.first : batch.first + g], batch.out_start)
        _xors_fused(stage, L)


def evaluate_chunk_fused(plan: Plan, L: np.ndarray, tables: np.ndarray, total: int, offset: int,
                          sc: Scratch) -> None:
    """Same as :func:`evaluate_chunk_numpy` with the fused kernels."""
    n = L.shape[1]
    for stage in plan.stages:
        batch = stage.ands
        if batch is not None:
            g = batch.size
            X = sc.x[: 4 * g * n].reshape(2, g, n, 2)
            kernels.eval_pre(L, batch.a, batch.b, X)
            P, Y = _hash_passes_fused(sc, X, batch.first, total, offset)
            kernels.eval_post(L, batch.a, batch.b, P, Y, tables[batch.first : batch.first + g],
                              batch.out_start)
        _xors_fused(stage, L)
