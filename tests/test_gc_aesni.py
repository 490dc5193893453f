"""The ``aesni`` garbling backend: AES key schedule (FIPS-197 known answer), the in-kernel hash against the
scalar reference, and garbling/evaluation bit-identical to the other backends across chunks and threads."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_gc_garble import circuits  # random circuits over every gate kind (the plan's folding paths)

from cmpc.rand import RandomSource
from private_mdi.gc import Circuit, aesni, aesni_kernels, privatemdi_relu_circuit
from private_mdi.gc.aeskey import expand_key
from private_mdi.gc.encoding import Labels, output_tags
from private_mdi.gc.garble import (
    available_backends,
    decode,
    encode,
    evaluate,
    evaluate_copies,
    garble,
    set_backend,
    set_threads,
)
from private_mdi.gc.hash import FIXED_KEY, FixedKeyAES, tccr_hash, tccr_hash_int
from private_mdi.gc.plan import Plan
from private_mdi.gc.reference import label_int

numba = pytest.importorskip("numba")

pytestmark = pytest.mark.skipif(not aesni.AVAILABLE, reason="needs numba and AES-NI")


def test_key_expansion_fips197_a1() -> None:
    # FIPS-197 Appendix A.1: key 2b7e1516 28aed2a6 abf71588 09cf4f3c; w[40..43] = d014f9a8 c9ee2589 e13f0cc8
    # b6630ca6 (the last round key), w[4..7] = a0fafe17 88542cb1 23a33939 2a6c7605
    rk = expand_key(bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c"))
    assert rk.shape == (11, 2)
    assert rk[0].tobytes().hex() == "2b7e151628aed2a6abf7158809cf4f3c"
    assert rk[1].tobytes().hex() == "a0fafe1788542cb123a339392a6c7605"
    assert rk[10].tobytes().hex() == "d014f9a8c9ee2589e13f0cc8b6630ca6"
    with pytest.raises(ValueError):
        expand_key(b"short")


def test_round_keys_are_the_fixed_key_schedule() -> None:
    rk = aesni.round_keys()
    assert rk[0].tobytes() == FIXED_KEY
    assert np.array_equal(rk, expand_key(FIXED_KEY))


@settings(max_examples=20, deadline=None)
@given(copies=st.integers(1, 9), outputs=st.integers(1, 5), first=st.integers(0, 2**20),
       extra=st.integers(0, 3), seed=st.integers(0, 2**32 - 1))
def test_output_tags_match_the_cryptography_path(copies: int, outputs: int, first: int, extra: int,
                                                 seed: int) -> None:
    gen = np.random.default_rng(seed)  # test-data-ok: labels to hash, not secrets
    labels = gen.integers(0, 2**64, (copies, outputs, 2), dtype=np.uint64)
    total = first + copies + extra
    got = aesni.output_tags(labels, total, first)
    tweak = (np.arange(outputs, dtype=np.uint64)[None, :] * np.uint64(total)
             + np.arange(first, first + copies, dtype=np.uint64)[:, None])
    want = tccr_hash(labels, tweak, 1, FixedKeyAES())[..., 0]
    assert np.array_equal(got, want)
    assert np.array_equal(output_tags(labels, total=total, first=first), want)
    c, o = copies - 1, outputs - 1  # one entry against the scalar reference
    x = int(labels[c, o, 0]) | int(labels[c, o, 1]) << 64
    assert int(got[c, o]) == tccr_hash_int(x, (1 << 64) + o * total + first + c) & (2**64 - 1)


@pytest.mark.parametrize("copies", [1, 3, 64, 65, 200])
def test_garbling_bit_identical_to_numba_backend_with_threads(copies: int) -> None:
    if "numba" not in available_backends():
        pytest.skip("needs the numba backend to compare with")
    circuit = privatemdi_relu_circuit(65521, 4)
    results = []
    for backend, threads in (("numba", 1), ("aesni", 1), ("aesni", 2), ("aesni", 3)):
        prev_b, prev_t = set_backend(backend), set_threads(threads)
        try:
            g = garble(circuit, copies=copies, rng=RandomSource(seed=b"aesni-test"))
            labels = g.encoder.zero  # the all-zero input: evaluation must reproduce the zero output labels
            out = evaluate(g.garbled, labels).array
        finally:
            set_backend(prev_b)
            set_threads(prev_t)
        results.append((g.tables.copy(), g.decoder.tags.copy(), out))
    for tables, tags, out in results[1:]:
        assert np.array_equal(tables, results[0][0])
        assert np.array_equal(tags, results[0][1])
        assert np.array_equal(out, results[0][2])


def test_small_chunks_give_the_same_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    circuit = privatemdi_relu_circuit(65521, 4)
    g1 = garble(circuit, copies=150, rng=RandomSource(seed=b"chunks"))
    monkeypatch.setattr(aesni, "_chunk_copies", lambda plan: 7)  # several chunks, an odd last one
    prev = set_backend("aesni")
    try:
        g2 = garble(circuit, copies=150, rng=RandomSource(seed=b"chunks"))
        out = evaluate(g2.garbled, g2.encoder.zero).array
    finally:
        set_backend(prev)
    assert np.array_equal(g1.tables, g2.tables)
    assert np.array_equal(out, evaluate(g1.garbled, g1.encoder.zero).array)


def test_set_threads_checks_its_argument() -> None:
    from private_mdi.errors import ParameterError

    with pytest.raises(ParameterError):
        set_threads(0)
    assert set_threads(set_threads(2)) == 2


def test_backend_listed_first_when_available() -> None:
    assert available_backends()[0] == "aesni"
    assert "private_mdi.gc.aesni" in sys.modules


# -- label registers (plan.RegisterPlan) ------------------------------------------------------------------

AES_PATH = Path(__file__).resolve().parent / "vectors" / "bristol_aes_128.txt"


def _dataflow(plan: Plan, seed: int, registers: bool) -> np.ndarray:
    """Run the plan's schedule on 64-bit words (AND gate g: a·3 + b·5 + g, XOR: a ⊕ b) through slots or
    through the allocated registers: equal outputs mean no register was overwritten while live."""
    words = np.random.default_rng(seed).integers(0, 2**64, plan.n_inputs, dtype=np.uint64)  # test-data-ok
    fl, rp = plan.flat, plan.registers
    with np.errstate(over="ignore"):
        if registers:
            v = np.zeros(rp.n_regs, dtype=np.uint64)
            v[: plan.n_inputs] = words
            v[rp.zero_reg] = 0
            for s in range(rp.and_lo.size - 1):
                for g in range(rp.and_lo[s], rp.and_lo[s + 1]):
                    v[rp.ao[g]] = v[rp.aa[g]] * np.uint64(3) + v[rp.ab[g]] * np.uint64(5) + np.uint64(g)
                for i in range(rp.xor_lo[s], rp.xor_lo[s + 1]):
                    v[rp.xo[i]] = v[rp.xa[i]] ^ v[rp.xb[i]]
            return v[rp.out_regs]
        v = np.zeros(plan.n_slots, dtype=np.uint64)
        v[: plan.n_inputs] = words
        for s in range(fl.and_lo.size - 1):
            for g in range(fl.and_lo[s], fl.and_lo[s + 1]):
                o = fl.and_out[s] + g - fl.and_lo[s]
                v[o] = v[fl.aa[g]] * np.uint64(3) + v[fl.ab[g]] * np.uint64(5) + np.uint64(g)
            for i in range(fl.xor_lo[s], fl.xor_lo[s + 1]):
                v[fl.xor_out[s] + i - fl.xor_lo[s]] = v[fl.xa[i]] ^ v[fl.xb[i]]
        return v[plan.out_slots]


def _check_registers(plan: Plan) -> None:
    rp = plan.registers
    assert rp.n_regs <= plan.n_slots
    assert not np.any((rp.ao == rp.aa) | (rp.ao == rp.ab))  # a gate never writes what it reads
    assert not np.any((rp.xo == rp.xa) | (rp.xo == rp.xb))
    assert np.all(rp.ao != rp.zero_reg) and np.all(rp.xo != rp.zero_reg)
    for seed in range(3):
        assert np.array_equal(_dataflow(plan, seed, True), _dataflow(plan, seed, False))


@settings(max_examples=80, deadline=None)
@given(c=circuits())
def test_register_allocation_keeps_every_live_value(c: Circuit) -> None:
    _check_registers(c.plan())


def test_register_allocation_of_the_aes_circuit() -> None:
    plan = Circuit.from_bristol(AES_PATH, input_names=["key", "plaintext"]).plan()
    _check_registers(plan)
    assert plan.registers.n_regs < plan.n_slots // 10  # 914 registers for 34,833 slots


def test_aes_circuit_over_several_chunks_matches_the_numba_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    if "numba" not in available_backends():
        pytest.skip("needs the numba backend to compare with")
    monkeypatch.setattr(aesni, "_chunk_copies", lambda plan: 50)  # 131 copies: chunks of 44, 44, 43
    aes = Circuit.from_bristol(AES_PATH, input_names=["key", "plaintext"])
    bits = RandomSource(seed=b"aes-bits").bits((131, aes.n_inputs))
    results = []
    for backend in ("numba", "aesni"):
        prev = set_backend(backend)
        try:
            g = garble(aes, copies=131, rng=RandomSource(seed=b"aes-chunks"))
            out = evaluate(g.garbled, encode(g.encoder, bits))
        finally:
            set_backend(prev)
        assert np.array_equal(decode(g.decoder, out), aes.evaluate(bits))
        results.append(g.garbled.to_bytes() + g.decoder.to_bytes() + out.to_bytes())
    assert results[0] == results[1]


# -- the compiled half-gate steps, 128-bit and 256-bit AES rounds, against the scalar reference ----------


def _h(x: np.ndarray, tweak: int) -> int:
    return tccr_hash_int(int(x[0]) | int(x[1]) << 64, tweak)


def _words(v: int) -> tuple[int, int]:
    return v & (2**64 - 1), v >> 64


@functools.cache
def _step_kernels(n: int, wide: bool) -> tuple[object, object]:
    g_step = aesni_kernels.make_garble_step(n, wide)
    e_step = aesni_kernels.make_evaluate_step(n, wide)

    @numba.njit
    def garble_one(rk, L, tables, delta, a, b, o, g, t, k, ia, ib, j):  # type: ignore[no-untyped-def]
        g_step(rk, L, tables, delta, a, b, o, g, t, k, ia, ib, j)

    @numba.njit
    def evaluate_one(rk, L, tables, a, b, o, g, t, k, j):  # type: ignore[no-untyped-def]
        e_step(rk, L, tables, a, b, o, g, t, k, j)

    return garble_one, evaluate_one


@pytest.mark.parametrize("n", [1, 2, 4])
@pytest.mark.parametrize("wide", [False, True])
def test_half_gate_steps_match_the_scalar_reference(n: int, wide: bool) -> None:
    if wide and not aesni_kernels.has_vaes():
        pytest.skip("no VAES on this CPU")
    garble_one, evaluate_one = _step_kernels(n, wide)
    gen = np.random.default_rng(n + 10 * wide)  # test-data-ok: labels to hash, not secrets
    rk = aesni.round_keys()
    L = gen.integers(0, 2**64, (5, 2 * (n + 3)), dtype=np.uint64)
    delta = gen.integers(0, 2**64, (n + 6, 2), dtype=np.uint64) | np.array([1, 0], dtype=np.uint64)
    big = np.zeros((4, 2, n + 9, 2), dtype=np.uint64)
    tables = big[:, :, 2:]  # a strided view, as evaluate_copies passes
    a, b, o, g, t, k, j = 1, 3, 4, 2, 3, 2, 2**63 + 10
    for ia, ib in ((0, 0), (2**64 - 1, 0), (0, 2**64 - 1)):
        before = L.copy()
        garble_one(rk, L, tables, delta, a, b, o, g, t, k, np.uint64(ia), np.uint64(ib), np.uint64(j))
        for q in range(n):
            d = delta[t + q]
            mask = np.array([ia, ia], dtype=np.uint64), np.array([ib, ib], dtype=np.uint64)
            a0 = before[a, k + 2 * q: k + 2 * q + 2] ^ (d & mask[0])
            b0 = before[b, k + 2 * q: k + 2 * q + 2] ^ (d & mask[1])
            jq = j + 2 * q
            ha0, ha1, hb0, hb1 = _h(a0, jq), _h(a0 ^ d, jq), _h(b0, jq + 1), _h(b0 ^ d, jq + 1)
            di, a0i = label_int(d), label_int(a0)
            pa, pb = int(a0[0]) & 1, int(b0[0]) & 1
            tg = ha0 ^ ha1 ^ (di if pb else 0)
            te = hb0 ^ hb1 ^ a0i
            c = ha0 ^ (tg if pa else 0) ^ hb0 ^ ((hb0 ^ hb1) if pb else 0)
            assert tuple(int(x) for x in tables[g, 0, t + q]) == _words(tg)
            assert tuple(int(x) for x in tables[g, 1, t + q]) == _words(te)
            assert tuple(int(x) for x in L[o, k + 2 * q: k + 2 * q + 2]) == _words(c)
        untouched = np.ones(L.shape, dtype=bool)
        untouched[o, k: k + 2 * n] = False
        assert np.array_equal(L[untouched], before[untouched])
    # evaluation of the same tables on random active labels
    before = L.copy()
    evaluate_one(rk, L, tables, a, b, o, g, t, k, np.uint64(j))
    for q in range(n):
        av = before[a, k + 2 * q: k + 2 * q + 2]
        bv = before[b, k + 2 * q: k + 2 * q + 2]
        tg, te = label_int(tables[g, 0, t + q]), label_int(tables[g, 1, t + q])
        c = _h(av, j + 2 * q) ^ (tg if int(av[0]) & 1 else 0)
        c ^= _h(bv, j + 2 * q + 1) ^ ((te ^ label_int(av)) if int(bv[0]) & 1 else 0)
        assert tuple(int(x) for x in L[o, k + 2 * q: k + 2 * q + 2]) == _words(c)
    assert np.count_nonzero(big[:, :, :2]) == 0  # nothing written outside the view


def test_zero_copies_evaluate_to_nothing() -> None:
    circuit = privatemdi_relu_circuit(65521, 4)
    g = garble(circuit, copies=3, rng=RandomSource(seed=b"none"))
    empty = Labels(np.zeros((0, circuit.n_inputs, 2), dtype=np.uint64))
    out = evaluate_copies(g.garbled, empty, 1)
    assert out.array.shape == (0, circuit.n_outputs, 2)


@functools.cache
def _tccr_kernel(k: int, tweak_hi: int, wide: bool) -> object:
    tccr = aesni_kernels.make_tccr(k, tweak_hi=tweak_hi, wide=wide)

    @numba.njit
    def run(rk, x, t):  # type: ignore[no-untyped-def]
        return tccr(rk, (x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], x[9]),
                    (t[0], t[1], t[2], t[3], t[4]))

    return run


@pytest.mark.parametrize("wide", [False, True])
@pytest.mark.parametrize("tweak_hi", [0, 1])
def test_hash_blocks_on_both_paths_match_the_scalar_reference(wide: bool, tweak_hi: int) -> None:
    if wide and not aesni_kernels.has_vaes():
        pytest.skip("no VAES on this CPU")
    run = _tccr_kernel(5, tweak_hi, wide)  # an odd number of blocks: the 256-bit path pads one
    x = np.array([0, 0, 1, 0, 2**64 - 1, 2**63, 0x0123456789ABCDEF, 7, 5, 2**64 - 2], dtype=np.uint64)
    t = np.array([0, 1, 2**64 - 1, 2**40 + 3, 12345], dtype=np.uint64)
    got = [int(v) for v in run(aesni.round_keys(), x, t)]  # type: ignore[operator]
    for q in range(5):
        want = tccr_hash_int(int(x[2 * q]) | int(x[2 * q + 1]) << 64, int(t[q]) + (tweak_hi << 64))
        assert got[2 * q] | got[2 * q + 1] << 64 == want
