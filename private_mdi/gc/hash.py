"""The tweakable circular-correlation-robust hash from fixed-key AES (Guo, Katz, Wang, Yu, S&P 2020).

    H(x, i) = π(σ(x) ⊕ i) ⊕ σ(x) ⊕ i,

with π = AES-128 under the fixed public key :data:`FIXED_KEY`, i a 128-bit tweak and σ the linear
orthomorphism σ(x_L ‖ x_R) = (x_L ⊕ x_R) ‖ x_L on 64-bit halves (x_L the most significant half). GKWY
prove this H tweakable circular-correlation robust (TCCR) when π is modelled as a random permutation and
each tweak is used at most once per offset Δ, which is exactly what half-gates garbling needs. The untweaked
π(x) ⊕ x (JustGarble) is *not* used: it is insecure for half-gates.

Representation: a 128-bit value x is a pair of uint64 words ``(lo, hi)`` in the last axis of a numpy array,
x = lo + 2^64·hi; its 16-byte string (the AES block) is the little-endian encoding of x, which is exactly the
memory of the uint64 pair on a little-endian machine, so arrays go to AES without copying. Hence
σ(lo, hi) = (hi, hi ⊕ lo), the point-and-permute bit lsb(x) is ``lo & 1``, and a tweak i < 2^64 is XORed
into ``lo``; the tweaks of the decoder tags set bit 64 (``hi ^= 1``) so they never meet a gate tweak.

One AES-ECB call (:meth:`FixedKeyAES.permute`) handles a whole batch: the garbler and evaluator call it
once per AND level for all gates and copies of that level.
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["FIXED_KEY", "FixedKeyAES", "sigma", "tccr_hash"]

if sys.byteorder != "little":  # pragma: no cover - every supported platform is little-endian
    raise ImportError("private_mdi.gc needs a little-endian machine (labels are uint64 pairs)")

#: The public fixed AES-128 key: the first 16 bytes of SHA-256 of a domain string (nothing up the sleeve).
FIXED_KEY: bytes = hashlib.sha256(b"cmpc-toolkit/private_mdi/gc/fixed-key-AES-128/v1").digest()[:16]


class FixedKeyAES:
    """π = AES-128-ECB under :data:`FIXED_KEY`, applied to uint64-pair arrays with a reused output buffer.

    Not thread-safe: one instance per garbling or evaluation.
    """

    __slots__ = ("_enc", "_ws")

    def __init__(self) -> None:
        self._enc = Cipher(algorithms.AES(FIXED_KEY), modes.ECB()).encryptor()
        self._ws = np.empty(0, dtype=np.uint8)

    def permute(self, x: np.ndarray) -> np.ndarray:
        """π applied blockwise to the C-contiguous uint64 array ``x`` (last axis 2): one AES-ECB call.

        The result is a view into an internal buffer that the next call overwrites.
        """
        nbytes = x.nbytes
        if self._ws.size < nbytes + 16:
            self._ws = np.empty(max(nbytes + 16, 2 * self._ws.size), dtype=np.uint8)
        self._enc.update_into(memoryview(x).cast("B"), memoryview(self._ws))  # type: ignore[arg-type]
        return self._ws[:nbytes].view(np.uint64).reshape(x.shape)


def sigma(x: np.ndarray) -> np.ndarray:
    """σ(x_L ‖ x_R) = (x_L ⊕ x_R) ‖ x_L, i.e. (lo, hi) ↦ (hi, hi ⊕ lo), on the last axis."""
    out = np.empty(x.shape, dtype=np.uint64)
    out[..., 0] = x[..., 1]
    np.bitwise_xor(x[..., 1], x[..., 0], out=out[..., 1])
    return out


def tccr_hash(
    x: np.ndarray, tweak_lo: np.ndarray | int, tweak_hi: np.ndarray | int = 0,
    aes: FixedKeyAES | None = None,
) -> np.ndarray:
    """H(x, i) for i = tweak_lo + 2^64·tweak_hi (broadcast over x's leading axes); one AES call.

    This is the readable reference form; the garbling loops inline the same steps.
    """
    x = np.asarray(x, dtype=np.uint64)
    s = sigma(x)
    s[..., 0] ^= np.asarray(tweak_lo, dtype=np.uint64)
    s[..., 1] ^= np.asarray(tweak_hi, dtype=np.uint64)
    y = (aes or FixedKeyAES()).permute(s)
    return np.bitwise_xor(y, s)
