"""Pinned transcripts: a seeded simulated run sends exactly the same bytes after performance work.

Provenance: the digests were computed on main at a6eb6fd (2026-11-28, before the fourth-round protocol
changes) with both the compiled and the pure-numpy field paths, which agree. Each digest is SHA-256 over
every frame the sequential driver encodes, in send order, followed by the int64 bytes of Y. A change of
the sampling order, of a share or mask value, of the wire codec or of the message order changes it.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import cmpc.field as field_module
from cmpc import codes
from cmpc.field import PrimeField
from cmpc.protocol import driver, simulate
from cmpc.rand import RandomSource

PINNED = {
    (2**31 - 1, 64): "7e1031d3ce4350b8e7c215648ba871eee2dbfa71b85a6b60eac5289c6e582e2c",
    (65521, 40): "444a2b702637ba71cb0d34dab425823c81fa24502655c5107051fc89a28c9314",
    (2**61 - 1, 24): "0becde69167c764879692f3002e436cfafc0444aad08e090ff46f5097203f460",
}


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
@pytest.mark.parametrize(("p", "m"), list(PINNED))
def test_seeded_transcript_is_pinned(monkeypatch, compiled, p, m):
    frames: list[bytes] = []
    encode = driver._Codec.encode

    def recording(self, message):  # type: ignore[no-untyped-def]
        frame = encode(self, message)
        frames.append(frame)
        return frame

    monkeypatch.setattr(driver._Codec, "encode", recording)
    monkeypatch.setattr(field_module, "use_compiled", lambda m_, k_, n_: compiled)
    field = PrimeField(p)
    rng = RandomSource(seed=5)
    a = field.raw_random((m, m), rng)
    b = field.raw_random((m, m), rng)
    y, _ = simulate(codes.make("age", s=2, t=2, z=2), a, b, field=field, rng=RandomSource(seed=6))
    assert len(frames) == 136
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(frame)
    digest.update(np.asarray(y).astype(np.int64).tobytes())
    assert digest.hexdigest() == PINNED[(p, m)]
