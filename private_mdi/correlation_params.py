"""Public parameters and slot layout of a linear correlation (privateMDI offline step 1).

Holds :class:`CorrelationParams` (what both sides agree on before a request), :class:`PackingLayout` (the
slot layout they imply under a given Paillier modulus), :func:`weight_bound_for` (the public weight bound of
a matrix) and :func:`expand_seed` (the seeded-upload expansion both roles compute). The roles are in
:mod:`private_mdi.correlation_client` and :mod:`private_mdi.correlation_owner`; the overview is
:mod:`private_mdi.correlation`.

Math (``docs/building-blocks.md`` §3)
-------------------------------------
* **Slots.** With public ``weight_bound`` ``B_W ≥ max|W_ij|`` let ``A = n_in · B_W · (p−1)``. Then
  ``D = W_i r − s_i ∈ [−A−(p−1), A]``; write ``D = a + p·k`` with ``a = D mod p`` and
  ``k ∈ [k_min, k_max]`` (``K = k_max − k_min + 1`` values). The owner adds ``p·ρ`` with ``ρ`` uniform in
  ``[−k_min, −k_min + K·2^σ)``: the slot integer ``z = a + p(k + ρ)`` lies in ``[0, p(K − 1 + K·2^σ))``,
  so a slot of ``w`` bits (``w`` = bit length of that bound) holds it with no carry.
* **Statistical mask ρ.** The client learns ``z``, i.e. ``a`` and ``k + ρ``. For two values ``k, k'`` the
  distributions of ``k + ρ`` are uniform on intervals of length ``K·2^σ`` shifted by ``|k − k'| < K``,
  so their statistical distance is below ``2^{−σ}`` (``σ = stat_bits ≥ 40``): ``z`` reveals ``a`` and
  (up to ``2^{−σ}`` per slot) nothing else. **Without ρ** the client would see
  ``k = ⌊(W_i r − s_i)/p⌋``, a function of ``W_i r``: over many rows it pins ``W_i r`` down and recovers
  ``W`` (``tests/test_correlation.py`` shows it on a tiny case). ρ is therefore not optional.
* **Packing.** ``P = ⌊(bits(n) − 1)/w⌋`` slots per ciphertext, so the packed integer is below ``n``;
  ``batch = β ≤ P`` inferences share one input ciphertext and ``G = ⌊P/β⌋`` rows share one reply
  ciphertext (``reply_cts = ⌈n_out/G⌉``).
* **Seed expansion.** ``y_j ∈ Z_{n²}`` is read from AES-256-CTR(seed) as ``2|n| + 128`` bits reduced mod
  ``n²`` (bias below ``2^{−128}``).

What leaks: all values here are public. The parameters ``(p, n_in, n_out, weight_bound, batch, σ)`` are
known to both sides, so the owner reveals the bit length of its largest weight (:func:`weight_bound_for`
rounds the bound up to ``2^b − 1`` so that only ``b`` leaks).
"""

from __future__ import annotations

from dataclasses import dataclass

import gmpy2
import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from cmpc.checks import check_int

from .errors import ParameterError
from .nn.operator import SparseOperator
from .paillier import Mpz, PublicKey

__all__ = ["DEFAULT_STAT_BITS", "CorrelationParams", "PackingLayout", "expand_seed", "weight_bound_for"]

DEFAULT_STAT_BITS = 40

@dataclass(frozen=True)
class PackingLayout:
    """Slot layout for one (params, key size) pair (all values public)."""

    slot_bits: int  # w
    slots_per_ct: int  # P
    rows_per_ct: int  # G = P // batch
    reply_cts: int  # ceil(n_out / G)
    rho_low: int  # ρ ∈ [rho_low, rho_low + rho_span)
    rho_span: int


@dataclass(frozen=True)
class CorrelationParams:
    """Public parameters of one linear correlation request.

    ``p``: the field; ``n_in``/``n_out``: the layer's input/output sizes; ``weight_bound``: a public
    bound with ``|W_ij| ≤ weight_bound``; ``batch``: inferences packed per input ciphertext;
    ``stat_bits``: σ, the statistical security of the ρ masks (≥ 40).
    """

    p: int
    n_in: int
    n_out: int
    weight_bound: int
    batch: int = 1
    stat_bits: int = DEFAULT_STAT_BITS

    def __post_init__(self) -> None:
        for name in ("p", "n_in", "n_out", "weight_bound", "batch", "stat_bits"):
            check_int(name, getattr(self, name))
        if not 3 <= self.p < 2**63:
            raise ParameterError(f"p must be in [3, 2^63), got {self.p}")
        if not 1 <= self.n_in < 2**32 or not 1 <= self.n_out < 2**32:
            raise ParameterError(f"n_in and n_out must be in [1, 2^32), got {self.n_in}, {self.n_out}")
        if not 1 <= self.weight_bound <= (self.p - 1) // 2:
            raise ParameterError(f"weight_bound must be in [1, (p-1)/2], got {self.weight_bound}")
        if not 1 <= self.batch < 2**16:
            raise ParameterError(f"batch must be in [1, 2^16), got {self.batch}")
        if not DEFAULT_STAT_BITS <= self.stat_bits <= 256:
            raise ParameterError(f"stat_bits must be in [{DEFAULT_STAT_BITS}, 256], got {self.stat_bits}")

    def layout(self, key_bits: int) -> PackingLayout:
        """The slot layout under a ``key_bits``-bit modulus (ParameterError if nothing fits)."""
        p = self.p
        big_a = self.n_in * self.weight_bound * (p - 1)
        k_min = (-big_a - (p - 1)) // p
        k_max = big_a // p
        span_k = k_max - k_min + 1
        rho_span = span_k << self.stat_bits
        top = p * (span_k - 1 + rho_span)  # z < top
        w = (top - 1).bit_length()
        slots = (key_bits - 1) // w
        if slots < 1:
            raise ParameterError(f"a {w}-bit slot does not fit a {key_bits}-bit Paillier plaintext")
        if self.batch > slots:
            raise ParameterError(
                f"batch must be <= {slots} (slots of {w} bits per {key_bits}-bit ciphertext), "
                f"got {self.batch}"
            )
        rows = slots // self.batch
        return PackingLayout(w, slots, rows, -(-self.n_out // rows), -k_min, rho_span)

    def max_batch(self, key_bits: int) -> int:
        """The largest ``batch`` that fits one ciphertext under ``key_bits``."""
        return (
            CorrelationParams(self.p, self.n_in, self.n_out, self.weight_bound, 1, self.stat_bits)
            .layout(key_bits)
            .slots_per_ct
        )


def weight_bound_for(w: np.ndarray | SparseOperator) -> int:
    """The public weight bound ``2^b − 1`` with ``b`` the bit length of ``max|W|`` (only ``b`` leaks)."""
    if isinstance(w, SparseOperator):
        m = int(w.abs_max())
    else:
        m = int(np.abs(np.asarray(w, dtype=object)).max()) if np.size(w) else 0
    return max(1, (1 << max(1, m.bit_length())) - 1)


def expand_seed(seed: bytes, pub: PublicKey, count: int) -> list[Mpz]:
    """``y_j ∈ Z_{n²}`` from AES-256-CTR(seed): 2|n|+128 bits each, reduced mod n² (bias < 2^-128)."""
    width = pub.ciphertext_bytes + 16
    enc = Cipher(algorithms.AES(seed), modes.CTR(b"\x00" * 16)).encryptor()
    stream = enc.update(bytes(width * count))
    return [
        gmpy2.mpz(int.from_bytes(stream[i * width : (i + 1) * width], "big")) % pub.nsquare
        for i in range(count)
    ]
