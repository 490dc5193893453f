"""The tweakable circular-correlation-robust hash from fixed-key AES (Guo, Katz, Wang, Yu, S&P 2020).

    H(x, i) = π(π(x) ⊕ i) ⊕ π(x),

with π = AES-128 under the fixed public key :data:`FIXED_KEY` and i a 128-bit tweak. Guo–Katz–Wang–Yu
(ePrint 2019/074, "Efficient and Secure Multiparty Computation from Fixed-Key Block Ciphers", §7.4: the
tweakable MMO construction "TMMO" and its TCCR theorem) prove this H tweakable circular-correlation
robust (TCCR) when π is modelled as a random permutation: no adversary making q queries distinguishes the
oracle (x, i, b) ↦ H(x ⊕ Δ, i) ⊕ b·Δ from a random function with advantage better than O(q²/2^128),
provided it never repeats a tweak i. That is what half-gates garbling needs (every tweak used once per Δ).

**What changed and why.** Versions before this one computed π(σ(x) ⊕ i) ⊕ σ(x) ⊕ i with the linear
orthomorphism σ(x_L ‖ x_R) = (x_L ⊕ x_R) ‖ x_L; that is GKWY's circular-correlation-robust (CCR,
*untweaked*, §7.3) construction with the tweak XORed into its input, and that tweaked form is not TCCR:
it depends on σ(x) ⊕ i alone, so (x, i) and (x′, i′) with σ(x ⊕ x′) = i ⊕ i′ collide for every Δ. The
tweak now enters *after* one application of π, so a tweak difference can no longer be cancelled by a
chosen input difference. σ is gone from the package: nothing uses it any more. Cost: two AES calls per
hash instead of one (the batched form makes two AES-ECB passes per batch).

Representation: a 128-bit value x is a pair of uint64 words ``(lo, hi)`` in the last axis of a numpy array,
x = lo + 2^64·hi; its 16-byte string (the AES block) is the little-endian encoding of x, which is exactly the
memory of the uint64 pair on a little-endian machine, so arrays go to AES without copying. The
point-and-permute bit lsb(x) is ``lo & 1``; a tweak i < 2^64 is XORed into ``lo``, and the tweaks of the
decoder tags set bit 64 (``hi ^= 1``) so they never meet a gate tweak.

:func:`tccr_hash_int` is the scalar reference (Python integers, one AES block at a time); the batched
:func:`tccr_hash` and the garbling kernels are tested bit for bit against it.
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["FIXED_KEY", "FixedKeyAES", "tccr_hash", "tccr_hash_int"]

if sys.byteorder != "little":  # pragma: no cover - every supported platform is little-endian
    raise ImportError("private_mdi.gc needs a little-endian machine (labels are uint64 pairs)")

#: The public fixed AES-128 key: the first 16 bytes of SHA-256 of a domain string (nothing up the sleeve).
FIXED_KEY: bytes = hashlib.sha256(b"cmpc-toolkit/private_mdi/gc/fixed-key-AES-128/v1").digest()[:16]

_MASK128 = (1 << 128) - 1


class FixedKeyAES:
    """π = AES-128-ECB under :data:`FIXED_KEY`, applied to uint64-pair arrays with reused output buffers.

    Two output buffers (``buffer=0`` or ``1``) let the two AES passes of :func:`tccr_hash` keep π(x) while
    computing π(π(x) ⊕ i) without a copy. Not thread-safe: one instance per garbling or evaluation.
    """

    __slots__ = ("_enc", "_ws")

    def __init__(self) -> None:
        self._enc = Cipher(algorithms.AES(FIXED_KEY), modes.ECB()).encryptor()
        self._ws = [np.empty(0, dtype=np.uint8), np.empty(0, dtype=np.uint8)]

    def permute(self, x: np.ndarray, buffer: int = 0) -> np.ndarray:
        """π applied blockwise to the C-contiguous uint64 array ``x`` (last axis 2): one AES-ECB call.

        The result is a view into internal buffer ``buffer`` (0 or 1) that the next call with the same
        ``buffer`` overwrites; ``x`` may be a view of the *other* buffer.
        """
        nbytes = x.nbytes
        ws = self._ws[buffer]
        if ws.size < nbytes + 16:
            ws = self._ws[buffer] = np.empty(max(nbytes + 16, 2 * ws.size), dtype=np.uint8)
        elif np.may_share_memory(x, ws):
            raise ValueError(f"x is a view of output buffer {buffer}: use the other buffer")
        self._enc.update_into(memoryview(x).cast("B"), memoryview(ws))  # type: ignore[arg-type]
        return ws[:nbytes].view(np.uint64).reshape(x.shape)


def tccr_hash_int(x: int, tweak: int) -> int:
    """Scalar reference H(x, i) = π(π(x) ⊕ i) ⊕ π(x) on 128-bit Python integers (little-endian blocks)."""
    if not (0 <= x <= _MASK128 and 0 <= tweak <= _MASK128):
        raise ValueError("x and tweak must be 128-bit non-negative integers")
    enc = Cipher(algorithms.AES(FIXED_KEY), modes.ECB()).encryptor()
    px = int.from_bytes(enc.update(x.to_bytes(16, "little")), "little")
    return int.from_bytes(enc.update((px ^ tweak).to_bytes(16, "little")), "little") ^ px


def tccr_hash(
    x: np.ndarray, tweak_lo: np.ndarray | int, tweak_hi: np.ndarray | int = 0,
    aes: FixedKeyAES | None = None,
) -> np.ndarray:
    """H(x, i) for i = tweak_lo + 2^64·tweak_hi (broadcast over x's leading axes): two AES-ECB passes.

    ``x``: uint64 array (…, 2). Returns a fresh array of the shape of ``x``.
    """
    x = np.ascontiguousarray(x, dtype=np.uint64)
    aes = aes or FixedKeyAES()
    p = aes.permute(x, buffer=1)  # π(x)
    u = p.copy()
    u[..., 0] ^= np.asarray(tweak_lo, dtype=np.uint64)
    u[..., 1] ^= np.asarray(tweak_hi, dtype=np.uint64)
    y = aes.permute(u, buffer=0)  # π(π(x) ⊕ i)
    return np.bitwise_xor(y, p)
