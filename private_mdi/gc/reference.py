"""Scalar reference of the half-gates primitives, one gate and one copy at a time on Python integers.

Slow and obviously correct: it restates the formulas of :mod:`private_mdi.gc.garble` with the scalar hash
:func:`~private_mdi.gc.hash.tccr_hash_int`, so that the vectorised numpy passes and the compiled numba
kernels can be tested bit for bit against it (tests/test_gc_hash.py). Not used by the garbler itself.

A 128-bit label is an ``int``; AND gate number g of copy c of ``total`` copies has tweaks
j = 2(g·total + c) and j' = j + 1.
"""

from __future__ import annotations

import numpy as np

from .hash import tccr_hash_int
from .plan import Plan

__all__ = ["evaluate_and_int", "garble_and_int", "garble_plan_int", "label_int"]


def label_int(w: np.ndarray) -> int:
    """The 128-bit integer lo + 2^64·hi of a uint64 pair."""
    return int(w[0]) | (int(w[1]) << 64)


def garble_and_int(a0: int, b0: int, delta: int, j: int) -> tuple[int, int, int]:
    """Half-gates AND (Zahur–Rosulek–Evans 2015, §3): returns (T_G, T_E, C⁰) for zero labels a0, b0."""
    pa, pb = a0 & 1, b0 & 1
    h0, h1 = tccr_hash_int(a0, j), tccr_hash_int(a0 ^ delta, j)
    h2, h3 = tccr_hash_int(b0, j + 1), tccr_hash_int(b0 ^ delta, j + 1)
    tg = h0 ^ h1 ^ (delta if pb else 0)
    te = h2 ^ h3 ^ a0
    c0 = (h0 ^ (tg if pa else 0)) ^ (h2 ^ ((h2 ^ h3) if pb else 0))
    return tg, te, c0


def evaluate_and_int(a: int, b: int, tg: int, te: int, j: int) -> int:
    """The evaluator's half-gates AND: C = [H(A, j) ⊕ s_a·T_G] ⊕ [H(B, j') ⊕ s_b·(T_E ⊕ A)]."""
    wg = tccr_hash_int(a, j) ^ (tg if a & 1 else 0)
    we = tccr_hash_int(b, j + 1) ^ ((te ^ a) if b & 1 else 0)
    return wg ^ we


def garble_plan_int(plan: Plan, zero_in: list[int], delta: int, copy: int, total: int
                    ) -> tuple[list[tuple[int, int]], list[int]]:
    """Garble copy ``copy`` of ``total`` of a plan gate by gate: (tables [(T_G, T_E)] in AND order,
    stored output labels S (the true zero label is S ⊕ out_inv·Δ))."""
    slots: dict[int, int] = dict(enumerate(zero_in))
    slots[plan.zero_slot] = 0
    tables: list[tuple[int, int]] = []
    for stage in plan.stages:
        batch = stage.ands
        if batch is not None:
            for g in range(batch.size):
                a0 = slots[int(batch.a[g])] ^ (delta if batch.flags_a[g] else 0)
                b0 = slots[int(batch.b[g])] ^ (delta if batch.flags_b[g] else 0)
                tg, te, c0 = garble_and_int(a0, b0, delta, 2 * ((batch.first + g) * total + copy))
                tables.append((tg, te))
                slots[batch.out_start + g] = c0
        for xb in stage.xors:
            for i in range(xb.size):
                slots[xb.out_start + i] = slots[int(xb.a[i])] ^ slots[int(xb.b[i])]
    return tables, [slots[int(s)] for s in plan.out_slots]
