"""Garbling and evaluation with the hash computed inside the compiled loop (AES-NI through numba).

The ``numba`` backend (:mod:`private_mdi.gc.kernels`) gathers the hash inputs of a whole AND level into a
buffer, hands it to :mod:`cryptography` for the two AES-ECB passes of H(x, i) = π(π(x) ⊕ i) ⊕ π(x), and
reads the results back: for a garbled AND that is 4 hash inputs, 4 + 4 AES blocks and 4 · 16 bytes written
and read back 3 times — memory traffic several times the AES work. Here one compiled loop does everything
per (AND gate, copy) in registers: the operand labels are read once, π is computed with the AES-NI
instructions (``aesenc``/``aesenclast`` as LLVM intrinsics, :mod:`private_mdi.gc.aesni_kernels`), and
only the two table rows and the output label are written. Labels live in the *registers* of
:class:`~private_mdi.gc.plan.RegisterPlan` (reused once dead), so a chunk of copies stays in cache.
The arithmetic is the same as the other backends' (half gates, Zahur–Rosulek–Evans 2015; tweaks
j = 2((first + g)·total + offset + c) and j + 1; GKWY's TCCR hash): the tests compare every backend with
the scalar reference :mod:`private_mdi.gc.reference`, bit for bit.

π is AES-128 under :data:`~private_mdi.gc.hash.FIXED_KEY`; its round keys come from the FIPS-197 §5.2 key
expansion (:func:`~private_mdi.gc.aeskey.expand_key`, known-answer test: FIPS-197 Appendix A.1) and are
checked once against :mod:`cryptography` before first use (:func:`round_keys`). Available where numba
imports and the CPU has AES-NI (:data:`AVAILABLE`); nothing is secret-dependent in the control flow
(AES-NI is constant-time).
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from . import aesni_kernels as _k
from .aeskey import expand_key
from .aesni_kernels import AVAILABLE, WIDE
from .hash import FIXED_KEY, tccr_hash_int
from .plan import Plan

__all__ = [
    "AVAILABLE", "CHUNK_BYTES", "WIDE", "evaluate_plan", "garble_plan", "output_tags", "round_keys",
]


def output_tags(labels: np.ndarray, total: int, first: int) -> np.ndarray:
    """The decoder's tags of output labels (copies, n_out, 2) as
    :func:`private_mdi.gc.encoding.output_tags` computes them, with the hash inside one compiled loop."""
    out = np.empty(labels.shape[:2], dtype=np.uint64)
    if out.size:
        _k._tags_jit(labels, total, first, round_keys(), out)
    return out


@functools.cache
def _kernels() -> tuple[Any, Any]:
    """The two whole-plan kernels (compiled on first use, then loaded from numba's on-disk cache)."""
    if not AVAILABLE:  # pragma: no cover - callers check AVAILABLE
        raise RuntimeError("the aesni backend needs numba and a CPU with AES-NI")
    return _k._garble_all_jit, _k._evaluate_all_jit


@functools.cache
def round_keys() -> np.ndarray:
    """π's round keys, checked once: the compiled hash of a few blocks must equal the scalar reference
    :func:`~private_mdi.gc.hash.tccr_hash_int` (which uses :mod:`cryptography`)."""
    rk = expand_key(FIXED_KEY)
    if AVAILABLE:
        x = np.array([0, 0, 1, 0, 0x0123456789ABCDEF, 0xFEDCBA9876543210, 2**64 - 1, 2**64 - 1],
                     dtype=np.uint64)
        t = np.array([0, 1, 2**40 + 7, 2**64 - 1], dtype=np.uint64)
        got = [int(v) for v in _k._probe_jit(rk, x, t)]
        for q in range(4):
            want = tccr_hash_int(int(x[2 * q]) | int(x[2 * q + 1]) << 64, int(t[q]))
            if got[2 * q] | got[2 * q + 1] << 64 != want:  # pragma: no cover - a broken key schedule
                raise RuntimeError("the AES-NI hash disagrees with the scalar reference (cryptography)")
    return rk


#: bytes of label registers per chunk of copies (a chunk's labels should stay in cache), within 256..1024
#: copies per chunk (the per-gate loop overhead grows as the copy loop shortens, which costs more than
#: missing L2 does); copies are then split into equal chunks. Swept at 1M AND gates (CPU ms garble /
#: evaluate, best of 5, two runs at load ≈ 4, so ±15 %): ReLU (96 registers, 6,250 copies) chunks of 64
#: 17.1–19.7 / 11.6–14.0, 250 17.7–18.4 / 11.4–11.6, 893 17.8–18.8 / 12.8–12.9; AES-128 (914 registers,
#: 157 copies) 2 × 79 21.9–22.9 / 17.2–17.4, 1 × 157 20.0–22.0 / 13.8–15.7.
CHUNK_BYTES = 512 << 10


def _chunk_copies(plan: Plan) -> int:
    return min(1024, max(256, CHUNK_BYTES // (16 * plan.registers.n_regs)))


def _split(copies: int, threads: int) -> list[tuple[int, int]]:
    parts = max(1, min(threads, copies // 64))  # a thread gets at least 64 copies
    cuts = [copies * t // parts for t in range(parts + 1)]
    return [(cuts[t], cuts[t + 1]) for t in range(parts)]


def garble_plan(plan: Plan, zero_in: np.ndarray, delta: np.ndarray, threads: int = 1
                ) -> tuple[np.ndarray, np.ndarray]:
    """Garble all copies: zero_in (n_in, C, 2), delta (C, 2) -> tables (n_and, 2, C, 2), stored output
    labels (n_out, C, 2), exactly as :func:`private_mdi.gc.garble` does with the other backends."""
    garble_all, _ = _kernels()
    rp = plan.registers
    copies = delta.shape[0]
    tables = np.empty((plan.n_and, 2, copies, 2), dtype=np.uint64)
    out = np.empty((plan.out_slots.size, copies, 2), dtype=np.uint64)
    zero_in = np.ascontiguousarray(zero_in, dtype=np.uint64)
    delta = np.ascontiguousarray(delta, dtype=np.uint64)

    def fn(L: np.ndarray, lo: int, hi: int) -> None:
        garble_all(zero_in, delta, tables, out, rp.out_regs, rp.zero_reg, L, lo, hi, round_keys(), rp.and_lo,
                   rp.xor_lo, rp.aa, rp.ab, rp.ao, rp.fa, rp.fb, rp.xa, rp.xb, rp.xo)

    _run_ranges(fn, _split(copies, threads), plan)
    return tables, out


def evaluate_plan(plan: Plan, tables: np.ndarray, labels_in: np.ndarray, total: int, first: int,
                  threads: int = 1) -> np.ndarray:
    """Evaluate copies ``first ..`` of a garbling of ``total``: labels_in (n_in, C, 2) -> (n_out, C, 2)."""
    _, evaluate_all = _kernels()
    rp = plan.registers
    copies = labels_in.shape[1]
    # the caller returns (copies, n_out, 2): write that layout (seen transposed) and read labels_in as
    # given (the transposed (copies, n_in, 2) labels), so that neither needs a transposing copy
    out = np.empty((copies, plan.out_slots.size, 2), dtype=np.uint64).transpose(1, 0, 2)
    if labels_in.dtype != np.uint64:
        labels_in = labels_in.astype(np.uint64)

    def fn(L: np.ndarray, lo: int, hi: int) -> None:
        evaluate_all(labels_in, tables, out, rp.out_regs, rp.zero_reg, L, lo, hi, total, first, round_keys(),
                     rp.and_lo, rp.xor_lo, rp.aa, rp.ab, rp.ao, rp.xa, rp.xb, rp.xo)

    _run_ranges(fn, _split(copies, threads), plan)
    return out


def _run_ranges(fn: Any, ranges: list[tuple[int, int]], plan: Plan) -> None:
    """fn(L, lo, hi) over the copy ranges, one thread each (the kernels release the GIL), each thread
    with its own chunk buffer L (registers, 2 · copies per chunk)."""
    def one(lo: int, hi: int) -> None:
        n = hi - lo
        if n <= 0:
            return
        chunk = -(-n // -(-n // min(_chunk_copies(plan), n)))  # equal chunks of at most _chunk_copies
        fn(np.empty((plan.registers.n_regs, 2 * chunk), dtype=np.uint64), lo, hi)

    if len(ranges) == 1:
        one(*ranges[0])
        return
    with ThreadPoolExecutor(len(ranges)) as pool:
        for f in [pool.submit(one, lo, hi) for lo, hi in ranges]:
            f.result()
