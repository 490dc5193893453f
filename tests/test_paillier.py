"""The Paillier cryptosystem (private_mdi.paillier): keys, raw Enc/Dec, CRT paths, the randomiser pool.

One 2048-bit key pair per test module (seeded, so runs are reproducible); the protocol built on it is tested
in tests/test_correlation.py and the known-answer vectors in tests/test_paillier_kat.py.
"""

from __future__ import annotations

import os

import gmpy2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import private_mdi.correlation as correlation
import private_mdi.paillier as paillier
from cmpc.errors import ProtocolError
from cmpc.field import PrimeField
from cmpc.rand import RandomSource
from private_mdi.errors import ParameterError
from private_mdi.paillier import (
    DEFAULT_KEY_BITS,
    MIN_KEY_BITS,
    PaillierKeyPair,
    PublicKey,
    RandomizerPool,
    linear_correlation,
)

P31 = PrimeField(2**31 - 1)


@pytest.fixture(scope="module")
def kp() -> PaillierKeyPair:
    return PaillierKeyPair.generate(2048, RandomSource(seed="test-paillier"))


# -- keys ----------------------------------------------------------------------------------------------
def test_key_generation_and_phe_interop(kp: PaillierKeyPair) -> None:
    assert kp.public.bits == 2048 and int(kp.public.n).bit_length() == 2048
    assert len(kp.fingerprint) == 16
    pub, priv = kp.to_phe()
    rng = RandomSource(seed=1)
    for m in (0, 1, 12345, int(kp.public.n) - 1):
        c = kp.encrypt_raw(m, rng)
        assert kp.decrypt_raw(c) == m == priv.raw_decrypt(int(c))
    # phe's own encryption decrypts with our CRT decryption
    assert kp.decrypt_raw(pub.raw_encrypt(987654321)) == 987654321
    # seeded key generation is reproducible
    again = PaillierKeyPair.generate(2048, RandomSource(seed="test-paillier"))
    assert again.public == kp.public


def test_default_key_size_is_128_bit_level() -> None:
    assert DEFAULT_KEY_BITS == 3072 and MIN_KEY_BITS == 2048
    kp3 = PaillierKeyPair.generate(rng=RandomSource(seed="default-size"))
    assert kp3.public.bits == 3072
    assert kp3.decrypt_raw(kp3.encrypt_raw(42, RandomSource(seed=0))) == 42


def test_public_key_wire_format(kp: PaillierKeyPair) -> None:
    data = kp.public.to_bytes()
    assert len(data) == kp.public.nbytes == 7 + 256
    back = PublicKey.from_bytes(data)
    assert back == kp.public and back.fingerprint == kp.fingerprint
    with pytest.raises(ProtocolError):
        PublicKey.from_bytes(b"XXXX" + data[4:])
    with pytest.raises(ProtocolError):
        PublicKey.from_bytes(data[:-1])


def test_short_keys_are_rejected() -> None:
    with pytest.raises(ParameterError, match="2048"):
        PaillierKeyPair.generate(1024)
    with pytest.raises(ParameterError):
        PaillierKeyPair.generate(2050 + 1)  # odd
    with pytest.raises(ParameterError):
        PublicKey.from_n((1 << 1023) + 1)
    with pytest.raises(ParameterError):
        linear_correlation(np.ones((2, 2), dtype=np.int64), P31, key_bits=1536)


# -- CRT paths against the textbook formulas -------------------------------------------------------------
@settings(max_examples=8, deadline=None)
@given(m=st.integers(0, 2**2048), seed=st.integers(0, 2**32))
def test_crt_encryption_equals_textbook(kp: PaillierKeyPair, m: int, seed: int) -> None:
    """Key-owner CRT encryption and the public-key path give the same ciphertext for the same u."""
    pub = kp.public
    a = kp.encrypt_raw(m, RandomSource(seed=seed))
    b = pub.encrypt_raw(m, RandomSource(seed=seed))
    u = paillier.random_unit(pub, RandomSource(seed=seed))
    n, n2 = int(pub.n), int(pub.nsquare)
    assert a == b == (1 + (m % n) * n) * pow(int(u), n, n2) % n2
    assert kp.nth_power(u) == pow(int(u), n, n2)
    assert kp.decrypt_raw(a) == m % n


def test_decrypt_many_matches_decrypt_raw(kp: PaillierKeyPair) -> None:
    rng = RandomSource(seed="many")
    cts = [kp.public.encrypt_raw(rng.randbelow(int(kp.public.n)), rng) for _ in range(5)]
    one = [kp.decrypt_raw(c) for c in cts]
    assert kp.decrypt_many(cts) == one == kp.decrypt_many(cts, threads=2) == kp.decrypt_many(cts, threads=3)
    assert kp.decrypt_many([]) == []
    with pytest.raises(ParameterError):
        kp.decrypt_many(cts, threads=0)


# -- randomiser pool -------------------------------------------------------------------------------------
def test_randomizer_pool(kp: PaillierKeyPair) -> None:
    pool = RandomizerPool(kp.public, RandomSource(seed=6))
    pool.fill(3)
    assert len(pool) == 3
    vals = [pool.take() for _ in range(4)]  # the fourth is computed on demand
    assert len(pool) == 0 and len(set(vals)) == 4
    assert all(kp.decrypt_raw(v) == 0 for v in vals)  # u^n encrypts 0


def test_pool_fill_is_thread_count_independent(kp: PaillierKeyPair) -> None:
    """The same rng gives the same randomisers on one or two threads, each u^n for a uniform unit u."""
    a, b = RandomizerPool(kp.public, RandomSource(seed=5)), RandomizerPool(kp.public, RandomSource(seed=5))
    a.fill(4)
    b.fill(4, threads=2)
    va, vb = [a.take() for _ in range(4)], [b.take() for _ in range(4)]
    assert va == vb
    src = RandomSource(seed=5)
    units = [paillier.random_unit(kp.public, src) for _ in range(4)]
    assert sorted(va) == sorted(gmpy2.powmod(u, kp.public.n, kp.public.nsquare) for u in units)
    with pytest.raises(ParameterError):
        a.fill(-1)


def test_protocol_names_still_reachable_from_paillier() -> None:
    for name in (
        "CorrelationParams",
        "EncryptedReply",
        "client_encrypt_mask",
        "owner_respond",
        "client_decrypt_reply",
        "linear_correlation",
        "weight_bound_for",
    ):
        assert getattr(paillier, name) is getattr(correlation, name)
    with pytest.raises(AttributeError):
        paillier.no_such_name  # noqa: B018


def test_pool_fill_async_is_deterministic(kp: PaillierKeyPair) -> None:
    """Background batches join the pool in submission order once it is empty: the values taken are those of
    synchronous fills made at the same points, whatever the thread timing."""
    sync, bg = (
        RandomizerPool(kp.public, RandomSource(seed=9)),
        RandomizerPool(kp.public, RandomSource(seed=9)),
    )
    fut = bg.fill_async(3, threads=2)
    bg.fill_async(2)
    assert len(bg) == 5
    got = [bg.take()]  # waits for the first batch if it is not done yet
    assert fut.done() and len(fut.result()) == 3
    got += [bg.take() for _ in range(4)]
    sync.fill(3)
    want = [sync.take() for _ in range(3)]
    sync.fill(2)
    want += [sync.take() for _ in range(2)]
    assert got == want and len(bg) == 0 and len(set(got)) == 5
    assert all(kp.decrypt_raw(v) == 0 for v in got)  # each u^n encrypts 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_pool_fill_async_after_fork(kp: PaillierKeyPair) -> None:
    """A child forked after a background fill can still fill asynchronously (fresh executor, no hang)."""
    RandomizerPool(kp.public, RandomSource(seed=1)).fill_async(1).result()
    pid = os.fork()
    if pid == 0:  # child
        ok = False
        try:
            pool = RandomizerPool(kp.public, RandomSource(seed=2))
            pool.fill_async(1).result(timeout=30)
            ok = kp.decrypt_raw(pool.take()) == 0
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
