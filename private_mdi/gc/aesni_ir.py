"""LLVM IR for the ``aesni`` backend: the TCCR hash on AES-NI and whole half-gate steps as numba intrinsics.

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
"""

from __future__ import annotations

from typing import Any

try:  # pragma: no cover - exercised implicitly
    import llvmlite.binding as llvm
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic
except ImportError:  # pragma: no cover
    llvm = None

__all__ = ["has_vaes", "make_evaluate_step", "make_garble_step", "make_tccr"]


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
