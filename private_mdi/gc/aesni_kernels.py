"""The compiled code of the ``aesni`` backend: the TCCR hash on AES-NI and half-gate steps as LLVM IR
(numba intrinsics), and the whole-plan kernels that call them (:mod:`private_mdi.gc.aesni` wraps them).

The hash is GKWY's H(x, i) = π(π(x) ⊕ i) ⊕ π(x) (Guo–Katz–Wang–Yu, ePrint 2019/074, §7.4) with π = AES-128
under the fixed key: two AES calls per hash, exactly as :func:`~private_mdi.gc.hash.tccr_hash`. What this
module decides is only *how* the AES rounds are issued:

- **Independent chains.** A step hashes several blocks at once (8 per step in the kernels) and emits their
  rounds interleaved, round r of every block before round r + 1 of any: AES-NI has a latency of about 4
  cycles and issues 1–2 rounds per cycle, so a single chain would leave the unit idle most of the time.
- **Wide rounds.** Where the CPU has VAES, two blocks share one 256-bit ``vaesenc`` (the same AES round on
  both 128-bit lanes, FIPS-197 round function per lane), halving the instructions per block.
- **Vector loads and stores.** A half-gate step (:func:`make_garble_step`, :func:`make_evaluate_step`)
  loads the operand labels, the table rows and Δ as 128-bit vectors straight from the arrays, computes the
  point-and-permute masks with vector operations and stores the results, so no label passes through
  general-purpose registers (no per-word moves between register files).

Everything is data-independent: no branch or address depends on a label, Δ or a permute bit (the masks
are arithmetic), and AES-NI runs in constant time. The steps do no bounds checks: the callers in
:mod:`private_mdi.gc.aesni` index only inside the arrays they allocate or check.

The code generators and the kernels share this one file on purpose: numba's on-disk cache of a kernel is
invalidated only when the kernel's own source file changes, so a generator kept in another module could be
edited without the cached machine code noticing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:  # pragma: no cover - exercised implicitly
    import llvmlite.binding as llvm
    import numba
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic
except ImportError:  # pragma: no cover
    llvm = None
    numba = None  # type: ignore[assignment]

__all__ = ["AVAILABLE", "WIDE", "has_vaes", "make_evaluate_step", "make_garble_step", "make_tccr"]


def _has_aesni() -> bool:
    if numba is None:  # pragma: no cover
        return False
    try:
        return bool(llvm.get_host_cpu_features().get("aes", False))
    except Exception:  # pragma: no cover - feature query unsupported
        return False


#: whether the backend can run here (numba importable and the CPU has AES-NI)
AVAILABLE = _has_aesni()


def has_vaes() -> bool:
    """Whether the host CPU has the 256-bit AES instructions (VAES with AVX2)."""
    if llvm is None:  # pragma: no cover
        return False
    try:
        f = llvm.get_host_cpu_features()
        return bool(f.get("vaes", False) and f.get("avx2", False) and f.get("aes", False))
    except Exception:  # pragma: no cover - feature query unsupported
        return False


_I32: Any = None if llvm is None else ir.IntType(32)
_I64: Any = None if llvm is None else ir.IntType(64)
_V2: Any = None if llvm is None else ir.VectorType(ir.IntType(64), 2)
_V4: Any = None if llvm is None else ir.VectorType(ir.IntType(64), 4)
#: 256-bit AES rounds (two blocks per instruction): where the CPU has VAES
WIDE = AVAILABLE and has_vaes()


def _c32(v: int) -> Any:
    return ir.Constant(_I32, v)


def _round_keys(context: Any, builder: Any, rk_ty: Any, rk: Any) -> list[Any]:
    """The 11 round keys (rows of the (11, 2) uint64 array ``rk``) as 128-bit vectors."""
    arr = context.make_array(rk_ty)(context, builder, rk)
    base = builder.bitcast(arr.data, _V2.as_pointer())
    return [builder.load(builder.gep(base, [_c32(r)]), align=8) for r in range(11)]


def _hash_blocks(builder: Any, keys: list[Any], blocks: list[Any], tweaks: list[Any], wide: bool
                 ) -> list[Any]:
    """H(x_q, i_q) = π(π(x_q) ⊕ i_q) ⊕ π(x_q) for 128-bit vectors x_q, i_q, all chains interleaved round
    by round; ``wide``: two blocks per 256-bit register (VAES)."""
    n = len(blocks)
    if wide:
        pair = ir.Constant(ir.VectorType(_I32, 4), [0, 1, 2, 3])
        dup = ir.Constant(ir.VectorType(_I32, 4), [0, 1, 0, 1])
        keys = [builder.shuffle_vector(k, k, dup) for k in keys]
        blocks = blocks + blocks[-1:] * (n % 2)
        tweaks = tweaks + tweaks[-1:] * (n % 2)
        xs = [builder.shuffle_vector(blocks[q], blocks[q + 1], pair) for q in range(0, len(blocks), 2)]
        ts = [builder.shuffle_vector(tweaks[q], tweaks[q + 1], pair) for q in range(0, len(tweaks), 2)]
        vt, suffix = _V4, ".256"
    else:
        xs, ts, vt, suffix = blocks, tweaks, _V2, ""
    fnty = ir.FunctionType(vt, [vt, vt])
    enc = builder.module.declare_intrinsic("llvm.x86.aesni.aesenc" + suffix, fnty=fnty)
    last = builder.module.declare_intrinsic("llvm.x86.aesni.aesenclast" + suffix, fnty=fnty)

    def pi(states: list[Any]) -> list[Any]:
        states = [builder.xor(s, keys[0]) for s in states]
        for r in range(1, 10):
            states = [builder.call(enc, [s, keys[r]]) for s in states]
        return [builder.call(last, [s, keys[10]]) for s in states]

    px = pi(xs)
    hs = [builder.xor(y, p) for y, p in zip(pi([builder.xor(p, t) for p, t in zip(px, ts)]), px)]
    if not wide:
        return hs
    lo = ir.Constant(ir.VectorType(_I32, 2), [0, 1])
    hi = ir.Constant(ir.VectorType(_I32, 2), [2, 3])
    out = []
    for h in hs:
        out.append(builder.shuffle_vector(h, h, lo))
        out.append(builder.shuffle_vector(h, h, hi))
    return out[:n]


def make_tccr(k: int, tweak_hi: int = 0, wide: bool = False) -> Any:
    """A numba intrinsic for k hashes with tweaks i = i_lo + 2^64·tweak_hi:
    (round keys, (lo_0, hi_0, …), (i_lo_0, …)) -> (H lo_0, H hi_0, …), k independent chains."""

    @intrinsic  # type: ignore[misc]
    def tccr_blocks(typingctx: Any, rk: Any, xs: Any, tw: Any) -> Any:
        sig = types.UniTuple(types.uint64, 2 * k)(
            rk, types.UniTuple(types.uint64, 2 * k), types.UniTuple(types.uint64, k)
        )

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            keys = _round_keys(context, builder, signature.args[0], args[0])
            xs_v, tw_v = [], []
            for j in range(k):
                v = ir.Constant(_V2, ir.Undefined)
                v = builder.insert_element(v, builder.extract_value(args[1], 2 * j), _c32(0))
                v = builder.insert_element(v, builder.extract_value(args[1], 2 * j + 1), _c32(1))
                xs_v.append(v)
                t = ir.Constant(_V2, ir.Undefined)
                t = builder.insert_element(t, builder.extract_value(args[2], j), _c32(0))
                t = builder.insert_element(t, ir.Constant(_I64, tweak_hi), _c32(1))
                tw_v.append(t)
            outs = []
            for h in _hash_blocks(builder, keys, xs_v, tw_v, wide):
                outs.append(builder.extract_element(h, _c32(0)))
                outs.append(builder.extract_element(h, _c32(1)))
            return context.make_tuple(builder, signature.return_type, outs)

        return sig, codegen

    return tccr_blocks


class _Arrays:
    """Byte addressing of numba arrays inside codegen: ``ptr(a, i, j, …)`` is a <2 x i64>* to element
    (i, j, …) of array a (index values are cast to int64; byte offset = Σ index·stride)."""

    def __init__(self, context: Any, builder: Any, signature: Any, args: Any) -> None:
        self.context, self.builder, self.sig, self.args = context, builder, signature, args

    def arg(self, i: int, ty: Any = None) -> Any:
        ty = types.int64 if ty is None else ty
        return self.context.cast(self.builder, self.args[i], self.sig.args[i], ty)

    def ptr(self, i: int, *index: Any) -> Any:
        b = self.builder
        arr = self.context.make_array(self.sig.args[i])(self.context, b, self.args[i])
        strides = [b.extract_value(arr.strides, d) for d in range(len(index))]
        off = ir.Constant(_I64, 0)
        for idx, st in zip(index, strides):
            off = b.add(off, b.mul(idx, st))
        raw = b.gep(b.bitcast(arr.data, ir.IntType(8).as_pointer()), [off])
        return b.bitcast(raw, _V2.as_pointer())

    def load(self, i: int, *index: Any) -> Any:
        return self.builder.load(self.ptr(i, *index), align=8)

    def store(self, value: Any, i: int, *index: Any) -> None:
        self.builder.store(value, self.ptr(i, *index), align=8)


def _lsb_mask(builder: Any, x: Any) -> Any:
    """All-ones in both lanes when bit 0 of x is 1, else zero (no branch)."""
    bit = builder.and_(x, ir.Constant(_V2, [1, 0]))
    m = builder.sub(ir.Constant(_V2, [0, 0]), bit)
    return builder.shuffle_vector(m, m, ir.Constant(ir.VectorType(_I32, 2), [0, 0]))


def _splat(builder: Any, x: Any) -> Any:
    v = builder.insert_element(ir.Constant(_V2, ir.Undefined), x, _c32(0))
    return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, 2), [0, 0]))


def _tweak(builder: Any, j: Any) -> Any:
    return builder.insert_element(ir.Constant(_V2, [0, 0]), j, _c32(0))


def make_garble_step(n: int, wide: bool) -> Any:
    """Intrinsic ``step(rk, L, tables, delta, a, b, o, g, t, k, ia, ib, j)``: garble AND gate g for the n
    copies t .. t + n − 1 (chunk words k .. k + 2n − 1 of the label registers a, b, o of ``L``; rows of
    ``delta`` and columns of ``tables``), tweak j = 2(g·copies + t) of the first copy, ``ia``/``ib`` the
    all-ones masks of inverted operands. Per copy: A⁰ = L[a] ⊕ ia·Δ, B⁰ = L[b] ⊕ ib·Δ, the 4 hashes
    H(A⁰, j), H(A⁰ ⊕ Δ, j), H(B⁰, j + 1), H(B⁰ ⊕ Δ, j + 1) (4n chains), then
    T_G = H(A⁰) ⊕ H(A¹) ⊕ p_b·Δ, T_E = H(B⁰) ⊕ H(B¹) ⊕ A⁰,
    C⁰ = H(A⁰) ⊕ p_a·T_G ⊕ H(B⁰) ⊕ p_b·(H(B⁰) ⊕ H(B¹))."""

    @intrinsic  # type: ignore[misc]
    def garble_step(typingctx: Any, rk: Any, L: Any, tables: Any, delta: Any, a: Any, b: Any, o: Any, g: Any,
                    t: Any, k: Any, ia: Any, ib: Any, j: Any) -> Any:
        sig = types.none(rk, L, tables, delta, a, b, o, g, t, k, ia, ib, j)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            m = _Arrays(context, builder, signature, args)
            keys = _round_keys(context, builder, signature.args[0], args[0])
            ra, rb, ro, gg, t0, k0 = (m.arg(i) for i in range(4, 10))
            mia = _splat(builder, m.arg(10, types.uint64))
            mib = _splat(builder, m.arg(11, types.uint64))
            j0 = m.arg(12, types.uint64)
            zero, one = ir.Constant(_I64, 0), ir.Constant(_I64, 1)
            blocks, tweaks, per = [], [], []
            for q in range(n):
                tq = builder.add(t0, ir.Constant(_I64, q))
                kq = builder.add(k0, ir.Constant(_I64, 2 * q))
                d = m.load(3, tq, zero)
                a0 = builder.xor(m.load(1, ra, kq), builder.and_(d, mia))
                b0 = builder.xor(m.load(1, rb, kq), builder.and_(d, mib))
                jq = builder.add(j0, ir.Constant(_I64, 2 * q))
                ta, tb = _tweak(builder, jq), _tweak(builder, builder.or_(jq, one))
                blocks += [a0, builder.xor(a0, d), b0, builder.xor(b0, d)]
                tweaks += [ta, ta, tb, tb]
                per.append((tq, kq, d, a0, b0))
            h = _hash_blocks(builder, keys, blocks, tweaks, wide)
            for q, (tq, kq, d, a0, b0) in enumerate(per):
                ha0, ha1, hb0, hb1 = h[4 * q: 4 * q + 4]
                pa, pb = _lsb_mask(builder, a0), _lsb_mask(builder, b0)
                tg = builder.xor(builder.xor(ha0, ha1), builder.and_(d, pb))
                e = builder.xor(hb0, hb1)
                m.store(tg, 2, gg, zero, tq, zero)
                m.store(builder.xor(e, a0), 2, gg, one, tq, zero)
                c = builder.xor(builder.xor(ha0, builder.and_(tg, pa)), builder.xor(hb0, builder.and_(e, pb)))
                m.store(c, 1, ro, kq)
            return context.get_dummy_value()

        return sig, codegen

    return garble_step


def make_evaluate_step(n: int, wide: bool) -> Any:
    """Intrinsic ``step(rk, L, tables, a, b, o, g, t, k, j)``: evaluate AND gate g for n copies (words
    k .. k + 2n − 1 of the label registers, table columns t .. t + n − 1, tweak j of the first copy):
    C = H(A, j) ⊕ s_a·T_G ⊕ H(B, j + 1) ⊕ s_b·(T_E ⊕ A), s = lsb of the active label (2n chains)."""

    @intrinsic  # type: ignore[misc]
    def evaluate_step(typingctx: Any, rk: Any, L: Any, tables: Any, a: Any, b: Any, o: Any, g: Any, t: Any,
                      k: Any, j: Any) -> Any:
        sig = types.none(rk, L, tables, a, b, o, g, t, k, j)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            m = _Arrays(context, builder, signature, args)
            keys = _round_keys(context, builder, signature.args[0], args[0])
            ra, rb, ro, gg, t0, k0 = (m.arg(i) for i in range(3, 9))
            j0 = m.arg(9, types.uint64)
            zero, one = ir.Constant(_I64, 0), ir.Constant(_I64, 1)
            blocks, tweaks, per = [], [], []
            for q in range(n):
                kq = builder.add(k0, ir.Constant(_I64, 2 * q))
                av, bv = m.load(1, ra, kq), m.load(1, rb, kq)
                jq = builder.add(j0, ir.Constant(_I64, 2 * q))
                blocks += [av, bv]
                tweaks += [_tweak(builder, jq), _tweak(builder, builder.or_(jq, one))]
                per.append((builder.add(t0, ir.Constant(_I64, q)), kq, av, bv))
            h = _hash_blocks(builder, keys, blocks, tweaks, wide)
            for q, (tq, kq, av, bv) in enumerate(per):
                tg = m.load(2, gg, zero, tq, zero)
                te = m.load(2, gg, one, tq, zero)
                ma, mb = _lsb_mask(builder, av), _lsb_mask(builder, bv)
                c = builder.xor(builder.xor(h[2 * q], builder.and_(tg, ma)),
                                builder.xor(h[2 * q + 1], builder.and_(builder.xor(te, av), mb)))
                m.store(c, 1, ro, kq)
            return context.get_dummy_value()

        return sig, codegen

    return evaluate_step


# -- the compiled kernels (in this file so that numba's on-disk cache, keyed on this file, is invalidated
# whenever the code generators above change) --------------------------------------------------------


def _garble_all(zero_in, delta, tables, out, out_regs, zero_reg, L, c_begin, c_end, rk,  # type: ignore[no-untyped-def]
                and_lo, xor_lo, aa, ab, ao, fa, fb, xa, xb, xo):
    """Garble copies ``c_begin .. c_end − 1`` of the whole plan in chunks of ``L.shape[1] // 2`` copies.

    ``L`` (registers, 2·chunk) holds the chunk's labels, copy c of register r in words 2c, 2c + 1 (see
    :class:`~private_mdi.gc.plan.RegisterPlan`). Per chunk: input zero labels into L, then stage by stage
    the AND gates g (operands A⁰ = L[aa[g]] ⊕ fa[g]·Δ, B⁰ likewise; H0..H3 = H(A⁰, j), H(A¹, j), H(B⁰, j + 1),
    H(B¹, j + 1) with j = 2(g·copies + c); T_G = H0 ⊕ H1 ⊕ p_b·Δ, T_E = H2 ⊕ H3 ⊕ A⁰,
    C⁰ = H0 ⊕ p_a·T_G ⊕ H2 ⊕ p_b·(H2 ⊕ H3), p = lsb of the zero labels) and the XOR gates (C⁰ = A⁰ ⊕ B⁰),
    then the output registers into ``out``. Two copies per step: their eight hashes (16 AES blocks in 8
    independent chains of two π) keep the AES unit busy. The chunk stays in cache; only tables
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


def _probe_py(rk, x, t):  # type: ignore[no-untyped-def]
    return _TCCR4(rk, (x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]), (t[0], t[1], t[2], t[3]))


# module-level intrinsics and dispatchers (numba's on-disk cache needs them as module globals; nothing is
# compiled before first use, then the compiled code is loaded from the cache in later processes)
#: copies per compiled step: garbling hashes 4 blocks per copy, evaluation 2, so both issue 8 AES chains
_GARBLE_STEP = 2
_EVALUATE_STEP = 4
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


