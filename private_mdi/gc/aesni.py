"""Garbling and evaluation levels with the hash computed inside the compiled loop (AES-NI through numba).

The ``numba`` backend (:mod:`private_mdi.gc.kernels`) gathers the hash inputs of a whole AND level into a
buffer, hands it to :mod:`cryptography` for the two AES-ECB passes of H(x, i) = π(π(x) ⊕ i) ⊕ π(x), and
reads the results back: for a garbled AND that is 4 hash inputs, 4 + 4 AES blocks and 4 · 16 bytes written
and read back 3 times — memory traffic several times the AES work. Here one compiled loop does everything
per (AND gate, copy) in registers: the operand labels are read once, π is computed with the AES-NI
instructions (``aesenc``/``aesenclast`` as LLVM intrinsics, :func:`_aes_blocks`), and only the two table
rows and the output label are written. The arithmetic is the same as the other backends' (half gates,
Zahur–Rosulek–Evans 2015; tweaks j = 2((first + g)·total + offset + c) and j + 1; GKWY's TCCR hash): the
tests compare every backend with the scalar reference :mod:`private_mdi.gc.reference`, bit for bit.

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

from .aeskey import expand_key
from .aesni_ir import has_vaes, make_evaluate_step, make_garble_step, make_tccr
from .hash import FIXED_KEY, tccr_hash_int
from .plan import Plan

try:  # pragma: no cover - exercised implicitly
    import llvmlite.binding as llvm
    import numba
except ImportError:  # pragma: no cover
    numba = None  # type: ignore[assignment]

__all__ = [
    "AVAILABLE", "CHUNK_BYTES", "evaluate_plan", "garble_plan", "output_tags", "round_keys",
]


def _has_aesni() -> bool:
    if numba is None:  # pragma: no cover
        return False
    try:
        return bool(llvm.get_host_cpu_features().get("aes", False))
    except Exception:  # pragma: no cover - feature query unsupported
        return False


#: whether this backend can run here (numba importable and the CPU has AES-NI)
AVAILABLE = _has_aesni()


def _garble_all(zero_in, delta, tables, out, out_regs, zero_reg, L, c_begin, c_end, rk,  # type: ignore[no-untyped-def]
                and_lo, xor_lo, aa, ab, ao, fa, fb, xa, xb, xo):
    """Garble copies ``c_begin .. c_end − 1`` of the whole plan in chunks of ``L.shape[1] // 2`` copies.

    ``L`` (registers, 2·chunk) holds the chunk's labels, copy c of register r in words 2c, 2c + 1 (see
    :class:`~private_mdi.gc.plan.RegisterPlan`). Per chunk: input zero labels into L, then stage by stage
    the AND gates g (operands A⁰ = L[aa[g]] ⊕ fa[g]·Δ, B⁰ likewise; H0..H3 = H(A⁰, j), H(A¹, j), H(B⁰, j + 1),
    H(B¹, j + 1) with j = 2(g·copies + c); T_G = H0 ⊕ H1 ⊕ p_b·Δ, T_E = H2 ⊕ H3 ⊕ A⁰,
    C⁰ = H0 ⊕ p_a·T_G ⊕ H2 ⊕ p_b·(H2 ⊕ H3), p = lsb of the zero labels) and the XOR gates (C⁰ = A⁰ ⊕ B⁰),
    then the output registers into ``out``. Two copies per step: their eight hashes (sixteen AES chains
    over the two π) are independent, which keeps the AES units busy. The chunk stays in cache; only tables
    and outputs go to memory.
    """
    total = np.uint64(delta.shape[0])
    chunk = L.shape[1] // 2
    zero = np.uint64(0)
    two = np.uint64(2)
    for c0 in range(c_begin, c_end, chunk):
        w = min(chunk, c_end - c0)
        _load_chunk(L, zero_in, zero_reg, c0, w, False)
        for st in range(and_lo.shape[0] - 1):
            for g in range(and_lo[st], and_lo[st + 1]):
                sa = aa[g]
                sb = ab[g]
                o = ao[g]
                ia = zero - np.uint64(fa[g])
                ib = zero - np.uint64(fb[g])
                base = two * (np.uint64(g) * total + np.uint64(c0))
                c = 0
                while c + _GARBLE_STEP <= w:
                    _garble_n(rk, L, tables, delta, sa, sb, o, g, c0 + c, 2 * c, ia, ib,
                              base + two * np.uint64(c))
                    c += _GARBLE_STEP
                while c < w:
                    _garble_1(rk, L, tables, delta, sa, sb, o, g, c0 + c, 2 * c, ia, ib,
                              base + two * np.uint64(c))
                    c += 1
            _xor_stage(L, w, xor_lo[st], xor_lo[st + 1], xa, xb, xo)
        _store_chunk(out, L, out_regs, c0, w, False)


def _evaluate_all(labels_in, tables, out, out_regs, zero_reg, L, c_begin, c_end, total, first, rk,  # type: ignore[no-untyped-def]
                  and_lo, xor_lo, aa, ab, ao, xa, xb, xo):
    """Evaluate copies ``c_begin .. c_end − 1`` (copies ``first + c`` of a garbling of ``total``) in
    chunks: C = H(A, j) ⊕ s_a·T_G ⊕ H(B, j + 1) ⊕ s_b·(T_E ⊕ A) per AND gate (s = lsb of the active
    label), A ⊕ B per XOR gate; four copies per step so that eight hashes run side by side."""
    tot = np.uint64(total)
    chunk = L.shape[1] // 2
    two = np.uint64(2)
    for c0 in range(c_begin, c_end, chunk):
        w = min(chunk, c_end - c0)
        _load_chunk(L, labels_in, zero_reg, c0, w, True)
        for st in range(and_lo.shape[0] - 1):
            for g in range(and_lo[st], and_lo[st + 1]):
                sa = aa[g]
                sb = ab[g]
                o = ao[g]
                base = two * (np.uint64(g) * tot + np.uint64(first + c0))
                c = 0
                while c + _EVALUATE_STEP <= w:
                    _evaluate_n(rk, L, tables, sa, sb, o, g, c0 + c, 2 * c, base + two * np.uint64(c))
                    c += _EVALUATE_STEP
                while c < w:
                    _evaluate_1(rk, L, tables, sa, sb, o, g, c0 + c, 2 * c, base + two * np.uint64(c))
                    c += 1
            _xor_stage(L, w, xor_lo[st], xor_lo[st + 1], xa, xb, xo)
        _store_chunk(out, L, out_regs, c0, w, True)


def _load_chunk_py(L, src, zero_reg, c0, w, copy_major):  # type: ignore[no-untyped-def]
    """L[i, 2c + h] = src[i, c0 + c, h] for the input wires i (and the zero register cleared), copies c < w.

    ``copy_major``: loop copies outside (``src`` is then the (copies, n_in, 2) labels seen transposed)."""
    n_in = src.shape[0]
    zero = np.uint64(0)
    if copy_major:
        for c in range(w):
            for i in range(n_in):
                L[i, 2 * c] = src[i, c0 + c, 0]
                L[i, 2 * c + 1] = src[i, c0 + c, 1]
    else:
        for i in range(n_in):
            for c in range(w):
                L[i, 2 * c] = src[i, c0 + c, 0]
                L[i, 2 * c + 1] = src[i, c0 + c, 1]
    for k in range(2 * w):
        L[zero_reg, k] = zero


def _store_chunk_py(out, L, out_regs, c0, w, copy_major):  # type: ignore[no-untyped-def]
    """out[q, c0 + c, h] = L[out_regs[q], 2c + h] (copies outside when ``out`` is a transposed view)."""
    if copy_major:
        for c in range(w):
            for q in range(out_regs.shape[0]):
                out[q, c0 + c, 0] = L[out_regs[q], 2 * c]
                out[q, c0 + c, 1] = L[out_regs[q], 2 * c + 1]
    else:
        for q in range(out_regs.shape[0]):
            r = out_regs[q]
            for c in range(w):
                out[q, c0 + c, 0] = L[r, 2 * c]
                out[q, c0 + c, 1] = L[r, 2 * c + 1]


def _xor_stage_py(L, w, lo, hi, xa, xb, xo):  # type: ignore[no-untyped-def]
    """L[xo[i]] = L[xa[i]] ⊕ L[xb[i]] for i in [lo, hi) in order (the first 2w words of each register)."""
    for i in range(lo, hi):
        ra = xa[i]
        rb = xb[i]
        ro = xo[i]
        for k in range(2 * w):
            L[ro, k] = L[ra, k] ^ L[rb, k]


def _tags_py(labels, total, first, rk, out):  # type: ignore[no-untyped-def]
    """out[c, o] = low word of H(labels[c, o], 2^64 + o·total + first + c) (the decoder's output tags,
    :func:`private_mdi.gc.encoding.output_tags`), eight hashes per step in (c, o) order (a short last step
    hashes the last label again: same result)."""
    C = labels.shape[0]
    n = labels.shape[1]
    tot = np.uint64(total)
    f = np.uint64(first)
    cs = np.zeros(8, dtype=np.int64)
    os = np.zeros(8, dtype=np.int64)
    x = np.zeros(16, dtype=np.uint64)
    t = np.zeros(8, dtype=np.uint64)
    c = 0
    o = 0
    while c < C:
        for i in range(8):
            cs[i] = c
            os[i] = o
            x[2 * i] = labels[c, o, 0]
            x[2 * i + 1] = labels[c, o, 1]
            t[i] = np.uint64(o) * tot + f + np.uint64(c)
            if c < C - 1 or o < n - 1:
                o += 1
                if o == n:
                    o = 0
                    c += 1
        if cs[7] == C - 1 and os[7] == n - 1:
            c = C  # the last label is in this step
        h = _TCCR8HI(rk, (x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], x[9], x[10], x[11], x[12],
                          x[13], x[14], x[15]), (t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]))
        for i in range(8):
            out[cs[i], os[i]] = h[2 * i]


def output_tags(labels: np.ndarray, total: int, first: int) -> np.ndarray:
    """The decoder's tags of output labels (copies, n_out, 2) as
    :func:`private_mdi.gc.encoding.output_tags` computes them, with the hash inside one compiled loop."""
    out = np.empty(labels.shape[:2], dtype=np.uint64)
    if out.size:
        _tags_jit(labels, total, first, round_keys(), out)
    return out


def _probe_py(rk, x, t):  # type: ignore[no-untyped-def]
    return _TCCR4(rk, (x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]), (t[0], t[1], t[2], t[3]))


# module-level intrinsics and dispatchers (numba's on-disk cache needs them as module globals; nothing is
# compiled before first use, then the compiled code is loaded from the cache in later processes)
#: copies per compiled step: garbling hashes 4 blocks per copy, evaluation 2, so both issue 8 AES chains
_GARBLE_STEP = 2
_EVALUATE_STEP = 4
#: 256-bit AES rounds (two blocks per instruction) where the CPU has VAES
WIDE = AVAILABLE and has_vaes()
_TCCR4: Any = None
_TCCR8HI: Any = None
_garble_n: Any = None
_garble_1: Any = None
_evaluate_n: Any = None
_evaluate_1: Any = None
_xor_stage: Any = None
_load_chunk: Any = None
_store_chunk: Any = None
_garble_all_jit: Any = None
_evaluate_all_jit: Any = None
_tags_jit: Any = None
_probe_jit: Any = None
if AVAILABLE:
    _TCCR4 = make_tccr(4, wide=WIDE)
    _TCCR8HI = make_tccr(8, tweak_hi=1, wide=WIDE)
    _garble_n = make_garble_step(_GARBLE_STEP, WIDE)
    _garble_1 = make_garble_step(1, WIDE)
    _evaluate_n = make_evaluate_step(_EVALUATE_STEP, WIDE)
    _evaluate_1 = make_evaluate_step(1, WIDE)
    _jit = numba.njit(cache=True, nogil=True, boundscheck=False)
    _xor_stage = _jit(_xor_stage_py)
    _load_chunk = _jit(_load_chunk_py)
    _store_chunk = _jit(_store_chunk_py)
    _garble_all_jit = _jit(_garble_all)
    _evaluate_all_jit = _jit(_evaluate_all)
    _tags_jit = _jit(_tags_py)
    _probe_jit = numba.njit(cache=True)(_probe_py)


@functools.cache
def _kernels() -> tuple[Any, Any]:
    """The two whole-plan kernels (compiled on first use, then loaded from numba's on-disk cache)."""
    if not AVAILABLE:  # pragma: no cover - callers check AVAILABLE
        raise RuntimeError("the aesni backend needs numba and a CPU with AES-NI")
    return _garble_all_jit, _evaluate_all_jit


@functools.cache
def round_keys() -> np.ndarray:
    """π's round keys, checked once: the compiled hash of a few blocks must equal the scalar reference
    :func:`~private_mdi.gc.hash.tccr_hash_int` (which uses :mod:`cryptography`)."""
    rk = expand_key(FIXED_KEY)
    if AVAILABLE:
        x = np.array([0, 0, 1, 0, 0x0123456789ABCDEF, 0xFEDCBA9876543210, 2**64 - 1, 2**64 - 1],
                     dtype=np.uint64)
        t = np.array([0, 1, 2**40 + 7, 2**64 - 1], dtype=np.uint64)
        got = [int(v) for v in _probe_jit(rk, x, t)]
        for q in range(4):
            want = tccr_hash_int(int(x[2 * q]) | int(x[2 * q + 1]) << 64, int(t[q]))
            if got[2 * q] | got[2 * q + 1] << 64 != want:  # pragma: no cover - a broken key schedule
                raise RuntimeError("the AES-NI hash disagrees with the scalar reference (cryptography)")
    return rk


#: bytes of label registers per chunk of copies (a chunk's labels should stay in cache), within 128..1024
#: copies per chunk (per-gate loop overhead grows as the copy loop shortens). Swept at 1M AND gates (CPU ms
#: garble/evaluate, best of 5, load ≈ 4, so ±15 %): ReLU (96 registers) 32 copies 17.6/10.9, 128
#: 17.4/11.7, 1024 17.6/13.8; AES-128 (914 registers) 32 copies 22.1/22.3, 64 20.5/16.5, 128 20.0/14.7,
#: 256 (all 157) 19.0/13.0.
CHUNK_BYTES = 512 << 10


def _chunk_copies(plan: Plan) -> int:
    return min(1024, max(128, CHUNK_BYTES // (16 * plan.registers.n_regs)))


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
        chunk = -(-n // -(-n // min(_chunk_copies(plan), n)))  # equal chunks of at most _chunk_copies
        fn(np.empty((plan.registers.n_regs, 2 * chunk), dtype=np.uint64), lo, hi)

    if len(ranges) == 1:
        one(*ranges[0])
        return
    with ThreadPoolExecutor(len(ranges)) as pool:
        for f in [pool.submit(one, lo, hi) for lo, hi in ranges]:
            f.result()
