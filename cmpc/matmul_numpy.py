"""The pure-numpy path of the exact GF(p) product: the same plans as :mod:`cmpc.matmul`, without numba.

It serves twice: as the reference of the bit-identity tests of the compiled kernels, and as the path of
small products in a process that has not loaded numba yet (:func:`cmpc.matmul.use_compiled`), so that a
short-lived party process does not pay numba's one-off start-up for a few small products. The math is that
of :mod:`cmpc.field` and :mod:`cmpc.matmul` (centred operands, balanced limbs, schoolbook or Karatsuba limb
products, chunks keeping every float64 partial sum ≤ 2^53; uint64 multiply-adds with a reduction every
``small_inner_per(p)`` terms for the small-inner product). Pure arithmetic, no I/O.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .matmul import EXACT_FLOAT_BOUND, MatmulPlan, small_inner_per

__all__ = ["reference_matmul", "reference_small_inner"]


def _centred(x: np.ndarray, p: int) -> np.ndarray:
    out = x.astype(np.int64, copy=True)
    np.subtract(out, p, out=out, where=out > (p - 1) // 2)
    return out


def _limbs(x: np.ndarray, limbs: int, width: int) -> list[np.ndarray]:
    if limbs == 1:
        return [x]
    out = []
    half = np.int64(1 << (width - 1))
    mask = np.int64((1 << width) - 1)
    rest = x
    for _ in range(limbs - 1):
        d = ((rest + half) & mask) - half
        out.append(d)
        rest = (rest - d) >> width
    out.append(rest)
    return out


def _limb_products(plan: MatmulPlan, af: list[np.ndarray], bf: list[np.ndarray]) -> dict[int, np.ndarray]:
    """Exact int64 sums of limb products grouped by weight exponent (one chunk)."""
    terms: dict[int, np.ndarray] = {}

    def add(e: int, v: np.ndarray) -> None:
        if e in terms:
            terms[e] += v
        else:
            terms[e] = v.copy()

    la, lb = plan.limbs_a, plan.limbs_b
    if la == 1 and lb == 1:
        return {0: (af[0] @ bf[0]).astype(np.int64)}
    if not plan.karatsuba:
        m = af[0].shape[0]
        n = bf[0].shape[1]
        lhs = af[0] if la == 1 else np.vstack(af)
        rhs = bf[0] if lb == 1 else np.hstack(bf)
        big_i = (lhs @ rhs).astype(np.int64)
        for i in range(la):
            for j in range(lb):
                add(plan.width_a * i + plan.width_b * j, big_i[i * m : (i + 1) * m, j * n : (j + 1) * n])
        return terms
    w = plan.width_a
    pairs = [(i, i) for i in range(la)] + [(i, j) for i in range(la) for j in range(i + 1, la)]
    diag = [(af[i] @ bf[i]).astype(np.int64) for i in range(la)]
    for i, j in pairs:
        if i == j:
            add(2 * w * i, diag[i])
        else:
            cross = ((af[i] + af[j]) @ (bf[i] + bf[j])).astype(np.int64)
            cross -= diag[i]
            cross -= diag[j]
            add(w * (i + j), cross)
    return terms


def reference_matmul(field: Any, a: np.ndarray, b: np.ndarray, plan: MatmulPlan) -> np.ndarray:
    """The pure-numpy implementation of ``plan`` (reference of the bit-identity tests)."""
    k = a.shape[1]
    p = field.p
    a_limbs = [x.astype(np.float64) for x in _limbs(_centred(a, p), plan.limbs_a, plan.width_a)]
    b_limbs = [x.astype(np.float64) for x in _limbs(_centred(b, p), plan.limbs_b, plan.width_b)]
    term_bound = 3 * max(plan.limbs_a, plan.limbs_b) * EXACT_FLOAT_BOUND
    safe = (2**63 - 1 - p) // term_bound
    acc: dict[int, np.ndarray] = {}
    pending = 0
    for c0 in range(0, k, plan.chunk):
        sl = slice(c0, c0 + plan.chunk)
        terms = _limb_products(plan, [x[:, sl] for x in a_limbs], [x[sl] for x in b_limbs])
        if safe and pending == safe:
            for val in acc.values():
                np.remainder(val, p, out=val)
            pending = 0
        for e, val in terms.items():
            if e not in acc:
                acc[e] = val
            elif safe:
                acc[e] += val
            else:
                np.remainder(val, p, out=val)
                np.remainder(acc[e], p, out=acc[e])
                acc[e] = field.raw_add(acc[e], val)
        pending += 1
    result: np.ndarray | None = None
    for e, val in sorted(acc.items()):
        np.remainder(val, p, out=val)
        term = val if e == 0 else field.raw_mul(val, pow(2, e, p))
        result = term if result is None else field.raw_add(result, term)
    assert result is not None
    return result


def reference_small_inner(p: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The pure-numpy small-inner product (reference of the bit-identity tests)."""
    pu = np.uint64(p)
    per, per_after = small_inner_per(p), small_inner_per(p, reduced=True)
    au = a.astype(np.uint64)
    bu = b.astype(np.uint64)
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.int64)
    tmp = np.empty(b.shape[1], dtype=np.uint64)
    for r in range(a.shape[0]):
        acc = np.zeros(b.shape[1], dtype=np.uint64)
        pending = 0
        for c in range(a.shape[1]):
            coef = au[r, c]
            if coef == 0:
                continue
            if pending == per:
                np.remainder(acc, pu, out=acc)
                pending = per - per_after
            np.multiply(bu[c], coef, out=tmp)
            acc += tmp
            pending += 1
        np.remainder(acc, pu, out=acc)
        out[r] = acc.view(np.int64)
    return out
