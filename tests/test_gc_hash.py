"""The GKWY TCCR hash H(x, i) = π(π(x) ⊕ i) ⊕ π(x) and the garbling kernels, against scalar references.

Every vectorised (numpy) and compiled (numba) path is compared bit for bit with the scalar Python-integer
references of :mod:`private_mdi.gc.hash` and :mod:`private_mdi.gc.reference`.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from cmpc.rand import RandomSource
from private_mdi.gc import Circuit, encode, evaluate, garble, privatemdi_relu_circuit
from private_mdi.gc.circuit import AND, XOR
from private_mdi.gc.garble import available_backends, set_backend
from private_mdi.gc.hash import FIXED_KEY, FixedKeyAES, tccr_hash, tccr_hash_int
from private_mdi.gc.reference import evaluate_and_int, garble_and_int, garble_plan_int, label_int

M64 = (1 << 64) - 1


def aes_int(x: int) -> int:
    enc = Cipher(algorithms.AES(FIXED_KEY), modes.ECB()).encryptor()
    return int.from_bytes(enc.update(x.to_bytes(16, "little")), "little")


def old_hash_int(x: int, tweak: int) -> int:
    """The former, non-TCCR hash π(σ(x) ⊕ i) ⊕ σ(x) ⊕ i, σ(x_L ‖ x_R) = (x_L ⊕ x_R) ‖ x_L (test only)."""
    u = sigma_int(x) ^ tweak
    return aes_int(u) ^ u


def sigma_int(x: int) -> int:
    xl, xr = x >> 64, x & M64
    return ((xl ^ xr) << 64) | xl


def as_ints(a: np.ndarray) -> list[int]:
    return [label_int(w) for w in a.reshape(-1, 2)]


def test_fixed_key_and_scalar_definition() -> None:
    assert FIXED_KEY == hashlib.sha256(b"cmpc-toolkit/private_mdi/gc/fixed-key-AES-128/v1").digest()[:16]
    rng = RandomSource(seed=3)
    for x, i in zip(as_ints(rng.labels(8)), as_ints(rng.labels(8)), strict=True):
        assert tccr_hash_int(x, i) == aes_int(aes_int(x) ^ i) ^ aes_int(x)
    with pytest.raises(ValueError):
        tccr_hash_int(1 << 128, 0)


def test_batched_hash_matches_scalar_reference() -> None:
    rng = RandomSource(seed=11)
    x = rng.labels(3 * 7).reshape(3, 7, 2)
    lo = np.arange(7, dtype=np.uint64) * np.uint64(977) + np.uint64(2**63 + 5)
    for hi in (0, 1, np.arange(7, dtype=np.uint64)):
        got = tccr_hash(x, lo, hi)
        his = np.broadcast_to(np.asarray(hi, dtype=np.uint64), (7,))
        for r in range(3):
            for k in range(7):
                want = tccr_hash_int(label_int(x[r, k]), int(lo[k]) | (int(his[k]) << 64))
                assert label_int(got[r, k]) == want
    # the two workspaces of FixedKeyAES do not alias: a second hash leaves the first result intact
    aes = FixedKeyAES()
    h1 = tccr_hash(x, lo, 0, aes)
    h2 = tccr_hash(x[::-1].copy(), lo, 0, aes)
    assert np.array_equal(h1, tccr_hash(x, lo, 0)) and np.array_equal(h2[::-1], h1)
    p = aes.permute(x, buffer=1)
    with pytest.raises(ValueError, match="other buffer"):
        aes.permute(p, buffer=1)
    assert np.array_equal(aes.permute(p, buffer=0), aes.permute(aes.permute(x, buffer=1).copy(), buffer=0))


def test_old_collision_is_gone() -> None:
    """(x, i), (x′, i′) with σ(x ⊕ x′) = i ⊕ i′ collided under the old hash for every Δ; not any more."""
    rng = RandomSource(seed=12)
    n = 1000
    xs, x2s, ts = (as_ints(rng.labels(n)) for _ in range(3))
    deltas = as_ints(rng.labels(n))
    old_collisions = new_collisions = 0
    for x, x2, i, d in zip(xs, x2s, ts, deltas, strict=True):
        i2 = i ^ sigma_int(x ^ x2)
        # the TCCR oracle evaluates H(x ⊕ Δ, i): σ is linear, so Δ cancels in the old hash
        old_collisions += old_hash_int(x ^ d, i) == old_hash_int(x2 ^ d, i2)
        new_collisions += tccr_hash_int(x ^ d, i) == tccr_hash_int(x2 ^ d, i2)
    assert old_collisions == n
    assert new_collisions == 0
    # the same check through the batched form, all draws in two AES passes
    X = np.array([[x & M64, x >> 64] for x in xs], dtype=np.uint64)
    X2 = np.array([[x & M64, x >> 64] for x in x2s], dtype=np.uint64)
    T = np.array([[i & M64, i >> 64] for i in ts], dtype=np.uint64)
    S = np.array([[s & M64, s >> 64] for s in (sigma_int(a ^ b) for a, b in zip(xs, x2s, strict=True))],
                 dtype=np.uint64)
    T2 = T ^ S
    h = tccr_hash(X, T[:, 0], T[:, 1])
    h2 = tccr_hash(X2, T2[:, 0], T2[:, 1])
    assert not (h == h2).all(axis=1).any()


def test_tccr_game_distinguishers_fail() -> None:
    """TCCR game: the oracle O(x, i, b) = H(x ⊕ Δ, i) ⊕ b·Δ for a secret Δ (GKWY, Def. 7.1 style).

    Fixed queries are asked under 300 fresh Δ. For a random function every relation between answers
    changes with Δ. The old hash's answer relation on a σ-correlated pair is constant (always 0); for the
    new hash the XOR of the two answers takes a fresh value for every Δ, and so does the relation
    O(x, i, 0) ⊕ O(x, i′, 1) (which would be Δ-free if the tweak entered linearly).
    """
    rng = RandomSource(seed=13)
    x, x2, i = as_ints(rng.labels(3))
    i2 = i ^ sigma_int(x ^ x2)
    old_rel, new_rel, tweak_rel = set(), set(), set()
    for d in as_ints(rng.labels(300)):
        old_rel.add(old_hash_int(x ^ d, i) ^ old_hash_int(x2 ^ d, i2))
        new_rel.add(tccr_hash_int(x ^ d, i) ^ tccr_hash_int(x2 ^ d, i2))
        tweak_rel.add(tccr_hash_int(x ^ d, i) ^ tccr_hash_int(x ^ d, i ^ 1) ^ d)
    assert old_rel == {0}
    assert len(new_rel) == 300 and len(tweak_rel) == 300


def test_and_gate_reference_round_trip() -> None:
    """The scalar half-gates pair is correct on all four inputs (the reference the kernels are held to)."""
    rng = RandomSource(seed=14)
    for a0, b0, d in zip(*(as_ints(rng.labels(16)) for _ in range(3)), strict=True):
        d |= 1
        tg, te, c0 = garble_and_int(a0, b0, d, 6)
        for va in (0, 1):
            for vb in (0, 1):
                c = evaluate_and_int(a0 ^ (d if va else 0), b0 ^ (d if vb else 0), tg, te, 6)
                assert c == c0 ^ (d if va & vb else 0)


@pytest.mark.parametrize("backend", available_backends())
def test_kernels_match_scalar_reference(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables and evaluated output labels of each backend (in chunks) equal the scalar garbler's."""
    import sys

    gmod = sys.modules["private_mdi.gc.garble"]
    circuit = privatemdi_relu_circuit(2**5 - 1, 2)
    plan = circuit.plan()
    copies = 5
    monkeypatch.setattr(gmod, "CHUNK_BYTES", 16 * plan.n_slots * 8)
    previous = set_backend(backend)
    try:
        g = garble(circuit, copies=copies, rng=RandomSource(seed=15))
        bits = RandomSource(seed=16).bits((copies, circuit.n_inputs))
        out = evaluate(g, encode(g.encoder, bits)).array
    finally:
        set_backend(previous)
    values = circuit.evaluate(bits)
    for c in range(copies):
        delta = label_int(g.encoder.delta[c])
        zero_in = [label_int(w) for w in g.encoder.zero[c]]
        tables, stored = garble_plan_int(plan, zero_in, delta, c, copies)
        assert len(tables) == plan.n_and
        for k, (tg, te) in enumerate(tables):
            assert label_int(g.tables[k, 0, c]) == tg and label_int(g.tables[k, 1, c]) == te
        for o, s in enumerate(stored):
            flip = int(plan.out_inv[o]) ^ int(values[c, o])
            assert label_int(out[c, o]) == s ^ (delta if flip else 0)


def test_chunked_copies_use_global_tweaks(monkeypatch: pytest.MonkeyPatch) -> None:
    """With several chunks, tweaks follow the global copy index: the scalar garbler agrees on every copy."""
    import sys

    gmod = sys.modules["private_mdi.gc.garble"]
    circuit = Circuit(4, [(XOR, 0, 1, 2), (AND, 2, 0, 3)], [("x", 2)], {"z": [3]})
    plan = circuit.plan()
    monkeypatch.setattr(gmod, "CHUNK_BYTES", 16 * plan.n_slots * 8)
    for backend in available_backends():
        previous = set_backend(backend)
        try:
            g = garble(circuit, copies=19, rng=RandomSource(seed=17))
        finally:
            set_backend(previous)
        for c in range(19):
            tables, _ = garble_plan_int(plan, [label_int(w) for w in g.encoder.zero[c]],
                                        label_int(g.encoder.delta[c]), c, 19)
            assert [(label_int(g.tables[k, 0, c]), label_int(g.tables[k, 1, c])) for k in range(plan.n_and)] \
                == tables
