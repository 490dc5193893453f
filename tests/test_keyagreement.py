"""X25519 + HKDF key agreement and key streams (private_mdi.keyagreement)."""

from __future__ import annotations

import numpy as np
import pytest

from cmpc.rand import RandomSource
from private_mdi.errors import ParameterError
from private_mdi.keyagreement import (
    KeyAgreementError,
    KeyAgreementKey,
    KeyStream,
    decode_public_key,
    derive_subkey,
    encode_public_key,
    shared_key,
)

# RFC 7748, section 6.1 (X25519 Diffie-Hellman test vector)
ALICE_PRIV = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
ALICE_PUB = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
BOB_PRIV = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
BOB_PUB = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
SHARED = bytes.fromhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")


def test_rfc7748_vector() -> None:
    alice, bob = KeyAgreementKey(ALICE_PRIV), KeyAgreementKey(BOB_PRIV)
    assert alice.public_bytes == ALICE_PUB and bob.public_bytes == BOB_PUB
    assert alice.exchange(BOB_PUB) == SHARED == bob.exchange(ALICE_PUB)


def test_both_sides_derive_the_same_bound_key() -> None:
    rng = RandomSource(seed="ka")
    a, b, e = (KeyAgreementKey.generate(rng) for _ in range(3))
    k_ab = shared_key(a, b.public_bytes, b"ctx")
    assert k_ab == shared_key(b, a.public_bytes, b"ctx") and len(k_ab) == 32
    assert shared_key(a, b.public_bytes, b"other") != k_ab  # bound to the context
    assert shared_key(a, e.public_bytes, b"ctx") != k_ab  # and to the peer
    assert shared_key(e, b.public_bytes, b"ctx") != k_ab
    assert len(shared_key(a, b.public_bytes, b"ctx", 64)) == 64
    # seeded generation is reproducible; OS-entropy generation is not
    assert (
        KeyAgreementKey.generate(RandomSource(seed=1)).public_bytes
        == KeyAgreementKey.generate(RandomSource(seed=1)).public_bytes
    )
    assert KeyAgreementKey.generate().public_bytes != KeyAgreementKey.generate().public_bytes


def test_subkeys_and_streams() -> None:
    key = bytes(range(32))
    assert derive_subkey(key, b"a") != derive_subkey(key, b"b")
    s1, s2 = KeyStream(key, b"x"), KeyStream(key, b"x")
    assert s1.bytes(40) == s2.bytes(40)
    bits = s1.bits(1000)
    assert bits.dtype == np.uint8 and set(np.unique(bits).tolist()) <= {0, 1} and 400 < bits.sum() < 600
    arr = KeyStream(key, b"y").array((3, 5))
    assert arr.shape == (3, 5) and arr.dtype == np.uint8
    assert KeyStream(key, b"x").bytes(16) != KeyStream(key, b"y").bytes(16)


def test_public_key_wire_format() -> None:
    pub = KeyAgreementKey.generate(RandomSource(seed=3)).public_bytes
    data = encode_public_key(pub)
    assert len(data) == 37 and decode_public_key(data) == pub
    with pytest.raises(KeyAgreementError):
        decode_public_key(b"XXXX" + data[4:])
    with pytest.raises(KeyAgreementError):
        decode_public_key(data[:-1])
    with pytest.raises(KeyAgreementError):
        decode_public_key(data[:4] + b"\x09" + data[5:])


def test_bad_keys_are_rejected() -> None:
    a = KeyAgreementKey.generate(RandomSource(seed=4))
    with pytest.raises(KeyAgreementError):
        shared_key(a, bytes(32), b"ctx")  # small-order point: all-zero secret
    with pytest.raises(ParameterError):
        shared_key(a, bytes(31), b"ctx")
    with pytest.raises(ParameterError):
        KeyAgreementKey(b"short")
    with pytest.raises(ParameterError):
        derive_subkey(b"short", b"x")
