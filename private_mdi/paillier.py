"""The Paillier cryptosystem with ``g = n + 1``: keys, raw encryption and decryption (CRT paths).

This module is the cryptosystem only. The randomiser pool (:class:`RandomizerPool`, :func:`random_unit`)
lives in :mod:`private_mdi.paillier_pool` and is re-exported here; the threaded batch exponentiation is in
:mod:`private_mdi.powmod`. The linear-correlation protocol built on it (offline step 1 of the privateMDI
protocol, arXiv 2407.18353) lives in :mod:`private_mdi.correlation`. Its public names are also reachable
from here (``private_mdi.paillier.linear_correlation`` etc.) for code written before the split.

Math (Paillier, EUROCRYPT 1999; ``g = n + 1`` as in Damgård–Jurik 2001)
-----------------------------------------------------------------------
``n = p q`` with distinct primes of ``bits/2`` bits and ``gcd(n, (p−1)(q−1)) = 1``.

* ``Enc(m; u) = (1 + n)^m · u^n = (1 + m n) · u^n mod n²`` for ``m ∈ Z_n``, ``u ∈ Z*_n``: the binomial
  theorem gives ``(1 + n)^m ≡ 1 + m n (mod n²)``, so no exponentiation is spent on the message.
* The ``n``-th residues ``N = {u^n}`` form a subgroup of ``Z*_{n²}`` isomorphic to ``Z*_n`` (order
  ``φ(n)``); semantic security is the decisional composite residuosity assumption (DCR): a uniform element
  of ``N`` is indistinguishable from a uniform element of ``Z*_{n²}``.
* **CRT decryption** (Paillier 1999, §7): ``m_p = L_p(c^{p−1} mod p²) · h_p mod p`` with
  ``L_p(x) = (x − 1)/p`` and ``h_p = L_p(g^{p−1} mod p²)^{−1} mod p`` (likewise for ``q``); then
  ``m = m_p + p·((m_q − m_p) p^{−1} mod q)``. Two exponentiations with ``|p|``-bit exponents modulo
  ``p²`` and ``q²`` instead of one with a ``|n|``-bit exponent modulo ``n²``.
* **CRT randomisers** (key owner only). ``Z*_{p²}`` is cyclic of order ``p(p−1)`` and ``p | n``, so
  ``u^n mod p²`` depends on ``u mod p`` only and lies in the order-``(p−1)`` subgroup. With
  ``ω(x) = x^p mod p²`` (a homomorphism ``Z*_p → Z*_{p²}`` that lifts ``x``):
  ``u^n = (u^q)^p ≡ ω(u^{q mod (p−1)} mod p) (mod p²)``. So ``u^n mod n²`` is the CRT of two
  ``|p|``-bit exponentiations modulo ``p`` and ``p²`` (and the same for ``q``), **bit-identical** to
  ``pow(u, n, n²)`` and about 2.5× (2048 bits) to 2.7–3.4× (3072 bits) cheaper in CPU time
  (``benchmarks/paillier.py --digits-mlp``); :meth:`PaillierKeyPair.encrypt_raw` uses it.
* **Re-randomisation** by the public-key holder multiplies a ciphertext by a fresh ``u^n``
  (:class:`~private_mdi.paillier_pool.RandomizerPool`, re-exported here; full ``|n|``-bit exponent, no
  extra assumption; why not short exponents or fixed bases: :mod:`private_mdi.paillier_pool`).

Key sizes
---------
``DEFAULT_KEY_BITS = 3072`` (≈128-bit security, NIST SP 800-57 Part 1 Rev. 5, Table 2: a 3072-bit factoring
modulus). ``MIN_KEY_BITS = 2048`` is still accepted: it gives only ≈112-bit security (same table), below
the 128-bit level of the rest of the toolkit; use it for benchmarks and tests, not for new deployments.

Keys are generated from :class:`~cmpc.rand.RandomSource` (two ``bits/2``-bit primes with their top two bits
set, found by ``gmpy2.next_prime``); phe's ``generate_paillier_keypair`` draws from
``random.SystemRandom``, which cannot be seeded for tests and is not the project's randomness source.
phe's key classes stay available through ``to_phe()`` (interoperability tests, the naive benchmark).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gmpy2
from phe import paillier as phe_paillier

from cmpc.checks import check_int
from cmpc.errors import ProtocolError
from cmpc.rand import RandomSource, resolve

from .errors import ParameterError
from .paillier_pool import RandomizerPool, random_unit
from .powmod import Mpz, check_threads, map_powmod

if TYPE_CHECKING:  # the protocol names re-exported below for code written before the split
    from .correlation import (
        DEFAULT_STAT_BITS,
        ClientCorrelationState,
        CorrelationParams,
        EncryptedMask,
        EncryptedReply,
        PackingLayout,
        client_decrypt_reply,
        client_encrypt_mask,
        linear_correlation,
        linear_correlation_batch,
        linear_correlation_layers,
        owner_respond,
        weight_bound_for,
    )

__all__ = [
    "DEFAULT_KEY_BITS",
    "DEFAULT_STAT_BITS",
    "MIN_KEY_BITS",
    "RECOMMENDED_KEY_BITS",
    "ROLE_THREADS",
    "ClientCorrelationState",
    "CorrelationParams",
    "EncryptedMask",
    "EncryptedReply",
    "PackingLayout",
    "PaillierKeyPair",
    "PublicKey",
    "RandomizerPool",
    "client_decrypt_reply",
    "client_encrypt_mask",
    "linear_correlation",
    "linear_correlation_batch",
    "linear_correlation_layers",
    "owner_respond",
    "weight_bound_for",
]

MIN_KEY_BITS = 2048
"""Smallest accepted modulus: ≈112-bit security (NIST SP 800-57 Part 1), kept for tests and benchmarks."""
DEFAULT_KEY_BITS = 3072
"""Default modulus: ≈128-bit security, the level of the rest of the toolkit."""
RECOMMENDED_KEY_BITS = DEFAULT_KEY_BITS
MAX_KEY_BITS = 16384
FINGERPRINT_BYTES = 16
_VERSION = 1
_MAGIC_PK = b"PMPK"


# =================================================================================================
# public key
# =================================================================================================
def _fingerprint(n: int) -> bytes:
    nb = (int(n).bit_length() + 7) // 8
    return hashlib.sha256(b"privateMDI/paillier/pk/v1\x00" + int(n).to_bytes(nb, "big")).digest()[
        :FINGERPRINT_BYTES
    ]


@dataclass(frozen=True, eq=False)
class PublicKey:
    """A Paillier public key ``n`` (``g = n + 1``) with its fingerprint and byte encoding.

    The fingerprint is the first 16 bytes of ``SHA-256("privateMDI/paillier/pk/v1\\0" ‖ n)``.
    Wire format (``to_bytes``): ``b"PMPK" | version u8 | bits u16 | n (⌈bits/8⌉ bytes, big-endian)``.
    """

    n: Mpz
    nsquare: Mpz = field(repr=False)
    bits: int
    fingerprint: bytes = field(repr=False)

    @classmethod
    def from_n(cls, n: int) -> PublicKey:
        n = int(n)
        bits = n.bit_length()
        if bits < MIN_KEY_BITS:
            raise ParameterError(
                f"Paillier modulus has {bits} bits; at least {MIN_KEY_BITS} are required "
                f"({DEFAULT_KEY_BITS} recommended)"
            )
        if bits > MAX_KEY_BITS:
            raise ParameterError(f"Paillier modulus has {bits} bits; at most {MAX_KEY_BITS} are supported")
        if n % 2 == 0:
            raise ParameterError("Paillier modulus n must be odd")
        nz = gmpy2.mpz(n)
        return cls(nz, nz * nz, bits, _fingerprint(n))

    @property
    def nbytes_n(self) -> int:
        """Bytes of an element of Z_n (one seeded-upload entry)."""
        return (self.bits + 7) // 8

    @property
    def ciphertext_bytes(self) -> int:
        """Bytes of one ciphertext (an element of Z_{n²})."""
        return 2 * self.nbytes_n

    def to_phe(self) -> phe_paillier.PaillierPublicKey:
        return phe_paillier.PaillierPublicKey(int(self.n))

    def to_bytes(self) -> bytes:
        return (
            _MAGIC_PK + struct.pack(">BH", _VERSION, self.bits) + int(self.n).to_bytes(self.nbytes_n, "big")
        )

    @property
    def nbytes(self) -> int:
        return 4 + 3 + self.nbytes_n

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicKey:
        if len(data) < 7 or data[:4] != _MAGIC_PK:
            raise ProtocolError("not a Paillier public-key message (bad tag)")
        version, bits = struct.unpack(">BH", data[4:7])
        if version != _VERSION:
            raise ProtocolError(f"unsupported public-key message version {version}")
        nb = (bits + 7) // 8
        if len(data) != 7 + nb:
            raise ProtocolError(f"public-key message must be {7 + nb} bytes for {bits} bits, got {len(data)}")
        n = int.from_bytes(data[7:], "big")
        if n.bit_length() != bits:
            raise ProtocolError(f"public-key message claims {bits} bits, n has {n.bit_length()}")
        return cls.from_n(n)

    def encrypt_raw(self, m: int, rng: RandomSource | None = None) -> Mpz:
        """``Enc(m) = (1 + m n) · u^n mod n²`` with a fresh uniform ``u ∈ Z*_n`` (public-key path)."""
        u = random_unit(self, resolve(rng))
        return (1 + gmpy2.mpz(m % self.n) * self.n) * gmpy2.powmod(u, self.n, self.nsquare) % self.nsquare

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.n == self.n

    def __hash__(self) -> int:
        return hash(self.fingerprint)


#: threads for the Paillier work of the privateMDI roles (the cloud's re-randomisers, the client's reply
#: decryptions): one per core, at most 2 (``gmpy2.powmod_base_list`` releases the GIL; measured 13.5 ->
#: 7.5 ms wall per 2048-bit ``u^n`` on two threads on the 2-core machine). Results do not depend on it.
ROLE_THREADS = max(1, min(2, os.cpu_count() or 1))


# =================================================================================================
# key pair
# =================================================================================================
def _random_prime(bits: int, rng: RandomSource) -> Mpz:
    while True:
        x = gmpy2.mpz(rng.randbits(bits)) | (gmpy2.mpz(3) << (bits - 2)) | 1
        q = gmpy2.next_prime(x)
        if q.bit_length() == bits:
            return q


class PaillierKeyPair:
    """The client's Paillier key pair: CRT decryption and CRT randomisers (it knows ``p`` and ``q``).

    Examples
    --------
    >>> from cmpc.rand import RandomSource
    >>> kp = PaillierKeyPair.generate(2048, RandomSource(seed="doc"))  # default 3072; 2048: ≈112-bit
    >>> pub = kp.public
    >>> c = pub.encrypt_raw(42, RandomSource(seed=1))
    >>> int(kp.decrypt_raw(c))
    42
    >>> int(kp.decrypt_raw(c * pub.encrypt_raw(8, RandomSource(seed=2)) % pub.nsquare))  # Enc(x)·Enc(y)
    50
    """

    def __init__(self, p: int, q: int) -> None:
        p_, q_ = gmpy2.mpz(min(p, q)), gmpy2.mpz(max(p, q))
        if p_ == q_:
            raise ParameterError("the Paillier primes p and q must differ")
        n = p_ * q_
        if gmpy2.gcd(n, (p_ - 1) * (q_ - 1)) != 1:
            raise ParameterError("gcd(n, (p-1)(q-1)) must be 1")
        self.public = PublicKey.from_n(int(n))
        self._p, self._q = p_, q_
        self._psq, self._qsq = p_ * p_, q_ * q_
        g = n + 1
        self._hp = gmpy2.invert((gmpy2.powmod(g, p_ - 1, self._psq) - 1) // p_, p_)
        self._hq = gmpy2.invert((gmpy2.powmod(g, q_ - 1, self._qsq) - 1) // q_, q_)
        self._pinv = gmpy2.invert(p_, q_)
        self._pm1, self._qm1 = p_ - 1, q_ - 1
        # CRT randomisers: u^n ≡ ω(u^{q mod (p−1)} mod p) (mod p²), ω(x) = x^p
        self._eq_p, self._ep_q = q_ % (p_ - 1), p_ % (q_ - 1)
        self._psq_inv = gmpy2.invert(self._psq, self._qsq)

    @classmethod
    def generate(cls, bits: int = DEFAULT_KEY_BITS, rng: RandomSource | None = None) -> PaillierKeyPair:
        """A fresh key pair with an exactly ``bits``-bit modulus (even, ``2048 ≤ bits ≤ 16384``).

        The default 3072 bits give ≈128-bit security; 2048 bits are accepted but give only ≈112 bits
        (NIST SP 800-57 Part 1).
        """
        bits = check_int("bits", bits)
        if not MIN_KEY_BITS <= bits <= MAX_KEY_BITS:
            raise ParameterError(
                f"key_bits must be in [{MIN_KEY_BITS}, {MAX_KEY_BITS}] ({DEFAULT_KEY_BITS} recommended, "
                f"{MIN_KEY_BITS} gives only ≈112-bit security), got {bits}"
            )
        if bits % 2:
            raise ParameterError(f"key_bits must be even, got {bits}")
        src = resolve(rng)
        half = bits // 2
        while True:
            p = _random_prime(half, src)
            q = _random_prime(half, src)
            if p != q and gmpy2.gcd(p * q, (p - 1) * (q - 1)) == 1:
                return cls(int(p), int(q))

    @property
    def fingerprint(self) -> bytes:
        return self.public.fingerprint

    def to_phe(self) -> tuple[phe_paillier.PaillierPublicKey, phe_paillier.PaillierPrivateKey]:
        pub = self.public.to_phe()
        return pub, phe_paillier.PaillierPrivateKey(pub, int(self._p), int(self._q))

    def _combine(self, mp: Mpz, mq: Mpz) -> Mpz:
        return mp + ((mq - mp) * self._pinv % self._q) * self._p

    def decrypt_raw(self, c: Any) -> Mpz:
        """The plaintext in [0, n) of a raw ciphertext ``c ∈ Z*_{n²}`` (CRT)."""
        c = gmpy2.mpz(c)
        mp = (gmpy2.powmod(c, self._pm1, self._psq) - 1) // self._p * self._hp % self._p
        mq = (gmpy2.powmod(c, self._qm1, self._qsq) - 1) // self._q * self._hq % self._q
        return self._combine(mp, mq)

    def decrypt_many(self, cts: Sequence[Any], *, threads: int = 1) -> list[Mpz]:
        """``[decrypt_raw(c) for c in cts]``, the exponentiations batched (and split over ``threads``).

        ``gmpy2.powmod_base_list`` releases the GIL, so ``threads=2`` uses two cores; CPU time spent in
        the helper threads is not counted by ``time.thread_time()`` of the caller.
        """
        threads = check_threads(threads)
        cs = [gmpy2.mpz(c) for c in cts]
        if threads > 1 and len(cs) >= 1:
            with ThreadPoolExecutor(max_workers=2) as ex:
                fp = ex.submit(map_powmod, cs, self._pm1, self._psq, max(1, threads // 2))
                fq = ex.submit(map_powmod, cs, self._qm1, self._qsq, max(1, threads - threads // 2))
                xp, xq = fp.result(), fq.result()
        else:
            xp = map_powmod(cs, self._pm1, self._psq, 1)
            xq = map_powmod(cs, self._qm1, self._qsq, 1)
        p, q, hp, hq = self._p, self._q, self._hp, self._hq
        return [self._combine((a - 1) // p * hp % p, (b - 1) // q * hq % q) for a, b in zip(xp, xq)]

    def nth_power(self, u: Any) -> Mpz:
        """``u^n mod n²`` by CRT (bit-identical to ``pow(u, n, n²)``, 2.5–3.4× cheaper: module docstring)."""
        u = gmpy2.mpz(u)
        rp = gmpy2.powmod(gmpy2.powmod(u % self._p, self._eq_p, self._p), self._p, self._psq)
        rq = gmpy2.powmod(gmpy2.powmod(u % self._q, self._ep_q, self._q), self._q, self._qsq)
        return rp + ((rq - rp) * self._psq_inv % self._qsq) * self._psq

    def encrypt_raw(self, m: int, rng: RandomSource | None = None) -> Mpz:
        """``Enc(m) = (1 + m n) · u^n mod n²``, fresh uniform ``u``, ``u^n`` by CRT (same value as the
        public-key path :meth:`PublicKey.encrypt_raw` for the same ``u``)."""
        pub = self.public
        u = random_unit(pub, resolve(rng))
        return (1 + gmpy2.mpz(m % pub.n) * pub.n) * self.nth_power(u) % pub.nsquare


# =================================================================================================
# the correlation protocol's names, re-exported lazily (private_mdi.correlation imports this module)
# =================================================================================================
_CORRELATION_NAMES = frozenset(__all__) - {
    "DEFAULT_KEY_BITS",
    "MIN_KEY_BITS",
    "RECOMMENDED_KEY_BITS",
    "PaillierKeyPair",
    "PublicKey",
    "RandomizerPool",
}


def __getattr__(name: str) -> Any:
    if name in _CORRELATION_NAMES:
        from . import correlation

        return getattr(correlation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
