"""Paillier and linear-correlation known answers from tests/vectors/paillier_kat.json.

Provenance (independent generator, SHA-256): tests/vectors/PAILLIER_KAT.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cmpc.rand import RandomSource
from private_mdi.correlation import (
    CorrelationParams,
    client_decrypt_reply,
    client_encrypt_mask,
    owner_respond,
)
from private_mdi.paillier import PaillierKeyPair, PublicKey

VECTORS = Path(__file__).parent / "vectors"
KAT_FILE = VECTORS / "paillier_kat.json"


class _Scripted(RandomSource):
    """A RandomSource that serves fixed values: field elements and bytes in call order, and ``randbelow``
    values from a queue per bound (so the KAT does not depend on a generator's stream)."""

    def __init__(self, fields: list[Any], blobs: list[bytes], below: dict[int, list[int]]) -> None:
        self._fields, self._blobs = deque(fields), deque(blobs)
        self._below = {k: deque(v) for k, v in below.items()}

    def field_elements(self, p: int, shape: Any) -> np.ndarray:
        arr = np.asarray(self._fields.popleft(), dtype=np.int64)
        assert arr.shape == tuple(shape) and ((arr >= 0) & (arr < p)).all()
        return arr

    def bytes(self, n: int) -> bytes:
        b = self._blobs.popleft()
        assert len(b) == n
        return b

    def randbelow(self, bound: int) -> int:
        v = self._below[int(bound)].popleft()
        assert 0 <= v < bound
        return v

    def exhausted(self) -> bool:
        return not self._fields and not self._blobs and not any(self._below.values())


@pytest.fixture(scope="module")
def kat() -> dict[str, Any]:
    return json.loads(KAT_FILE.read_text())


@pytest.fixture(scope="module")
def keypair(kat: dict[str, Any]) -> PaillierKeyPair:
    return PaillierKeyPair(int(kat["key"]["p"], 16), int(kat["key"]["q"], 16))


def test_vector_file_matches_its_provenance_note() -> None:
    note = (VECTORS / "PAILLIER_KAT.md").read_text()
    recorded = re.search(r"SHA-256\*\* of `paillier_kat.json`: `([0-9a-f]{64})`", note)
    assert recorded is not None
    assert hashlib.sha256(KAT_FILE.read_bytes()).hexdigest() == recorded.group(1)


def test_key_and_raw_paillier(kat: dict[str, Any], keypair: PaillierKeyPair) -> None:
    key = kat["key"]
    n = int(key["n"], 16)
    pub = keypair.public
    assert int(pub.n) == n and pub.bits == 2048
    assert pub.fingerprint.hex() == key["fingerprint"]
    assert hashlib.sha256(pub.to_bytes()).hexdigest() == key["public_key_bytes_sha256"]
    assert PublicKey.from_bytes(pub.to_bytes()) == pub
    cts = []
    for case in kat["encryptions"]:
        m, u, c = (int(case[k], 16) for k in ("m", "u", "c"))
        # both encryption paths, with the fixed unit u served as randbelow(n − 1) = u − 1
        assert keypair.encrypt_raw(m, _Scripted([], [], {n - 1: [u - 1]})) == c
        assert pub.encrypt_raw(m, _Scripted([], [], {n - 1: [u - 1]})) == c
        assert keypair.nth_power(u) == pow(u, n, n * n)
        assert keypair.decrypt_raw(c) == m
        cts.append((c, m))
    assert keypair.decrypt_many([c for c, _ in cts], threads=2) == [m for _, m in cts]


def test_correlation_round_trip_with_fixed_randomness(kat: dict[str, Any], keypair: PaillierKeyPair) -> None:
    v = kat["correlation"]
    n = int(keypair.public.n)
    w = np.array(v["w"], dtype=np.int64)
    prm = CorrelationParams(v["p"], w.shape[1], w.shape[0], v["weight_bound"], 1, v["stat_bits"])
    lay = prm.layout(keypair.public.bits)
    assert (lay.slot_bits, lay.slots_per_ct, lay.rho_low, lay.rho_span) == (
        v["slot_bits"],
        v["slots_per_ct"],
        v["rho_low"],
        int(v["rho_span"], 16),
    )
    client_rng = _Scripted([[v["r"]]], [bytes.fromhex(v["seed"])], {})
    state, msg = client_encrypt_mask(keypair, prm, client_rng)
    assert client_rng.exhausted()
    assert [hex(int(d)) for d in msg.deltas] == v["deltas"]
    assert msg.to_bytes().hex() == v["upload_hex"]
    # the owner draws ρ for the rows of a reply ciphertext from the last row to the first (Horner order)
    rho = [int(x, 16) for x in v["rho_draws"]]
    owner_rng = _Scripted(
        [[v["s"]]], [], {lay.rho_span: rho[::-1], n - 1: [int(v["rerandomizer_u"], 16) - 1]}
    )
    s, reply = owner_respond(keypair.public, w, prm, msg.to_bytes(), owner_rng)
    assert owner_rng.exhausted()
    assert s.tolist() == [v["s"]]
    assert [hex(int(c)) for c in reply.ciphertexts] == [v["reply_ciphertext"]]
    assert reply.to_bytes().hex() == v["reply_hex"]
    r, a, z = client_decrypt_reply(keypair, state, reply.to_bytes(), raw=True)  # type: ignore[misc]
    assert r.tolist() == [v["r"]] and a.tolist() == [v["a"]]
    assert [hex(int(x)) for x in z[0]] == v["z"]
