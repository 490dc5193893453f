"""AES-128 key expansion (FIPS-197 §5.2) for the compiled AES-NI hash of :mod:`private_mdi.gc.aesni`.

AES-NI provides the rounds; the round keys are computed here once, in Python, from the S-box (FIPS-197
§5.1.1: the inverse in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1 followed by the affine map). Known-answer
test: FIPS-197 Appendix A.1 (``tests/test_gc_aesni.py``). The key is public (the fixed key of the hash).
"""

from __future__ import annotations

import numpy as np

__all__ = ["expand_key"]


def _sbox() -> list[int]:
    """The AES S-box (FIPS-197 §5.1.1) from the multiplicative inverse in GF(2^8) and the affine map."""
    box = [0] * 256
    for x in range(256):
        inv = 0
        if x:
            # x^254 = x^-1 in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1
            inv, base, e = 1, x, 254
            while e:
                if e & 1:
                    inv = _gmul(inv, base)
                base = _gmul(base, base)
                e >>= 1
        y = inv
        for k in range(1, 5):
            y ^= ((inv << k) | (inv >> (8 - k))) & 0xFF
        box[x] = y ^ 0x63
    return box


def _gmul(a: int, b: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        a = ((a << 1) ^ (0x11B if a & 0x80 else 0)) & 0xFF
        b >>= 1
    return r


def expand_key(key: bytes) -> np.ndarray:
    """AES-128 key expansion (FIPS-197 §5.2): the 11 round keys as (lo, hi) uint64 pairs, little-endian
    like the labels (round key r is bytes 16r .. 16r + 15 of the expanded key)."""
    if len(key) != 16:
        raise ValueError("AES-128 needs a 16-byte key")
    sbox = _sbox()
    w = [list(key[i : i + 4]) for i in range(0, 16, 4)]
    rcon = 1
    for i in range(4, 44):
        t = list(w[i - 1])
        if i % 4 == 0:
            t = [sbox[b] for b in t[1:] + t[:1]]
            t[0] ^= rcon
            rcon = _gmul(rcon, 2)
        w.append([x ^ y for x, y in zip(w[i - 4], t)])
    flat = bytes(b for word in w for b in word)
    return np.frombuffer(flat, dtype="<u8").reshape(11, 2).astype(np.uint64)
