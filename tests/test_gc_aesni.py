"""The ``aesni`` garbling backend: AES key schedule (FIPS-197 known answer), the in-kernel hash against the
scalar reference, and garbling/evaluation bit-identical to the other backends across chunks and threads."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmpc.rand import RandomSource
from private_mdi.gc import aesni, privatemdi_relu_circuit
from private_mdi.gc.aeskey import expand_key
from private_mdi.gc.encoding import output_tags
from private_mdi.gc.garble import available_backends, evaluate, garble, set_backend, set_threads
from private_mdi.gc.hash import FIXED_KEY, FixedKeyAES, tccr_hash, tccr_hash_int

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
