"""Pairwise keys: X25519 key agreement, HKDF-SHA256 derivation and AES-256-CTR key streams.

Used by the three-party OT (:mod:`private_mdi.ot`, the client–cloud key ``k_CS`` of the protocol page,
offline step 0) and by the parties for any other pairwise material.

* :class:`KeyAgreementKey` is an X25519 key pair whose private scalar is drawn from
  :class:`~cmpc.rand.RandomSource` (32 bytes; X25519 clamps it, RFC 7748 §5).
* :func:`shared_key` = ``HKDF-SHA256(ikm = X25519(a, B), salt = min(A, B) ‖ max(A, B), info =
  "privateMDI/kdf/v1" ‖ context)`` where ``A, B`` are the two 32-byte public keys, so both sides get the
  same key, and the key is bound to both public keys and to the context string. An all-zero X25519
  output (a small-order peer key) is rejected with :class:`KeyAgreementError`.
* :func:`derive_subkey` (HKDF-Expand with a label) and :class:`KeyStream` (AES-256-CTR over zeros keyed by a
  subkey) turn one shared key into independent streams of pads, bits and keys per purpose and transfer.

What leaks: the public keys; the shared key is indistinguishable from random to anyone else under the
CDH assumption on Curve25519 (HKDF as a randomness extractor).
"""

from __future__ import annotations

import struct

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cmpc.rand import RandomSource, resolve

from .errors import ParameterError, PrivateMDIError

__all__ = [
    "KEY_BYTES",
    "PUBLIC_KEY_BYTES",
    "KeyAgreementError",
    "KeyAgreementKey",
    "KeyStream",
    "decode_public_key",
    "derive_subkey",
    "encode_public_key",
    "shared_key",
]

KEY_BYTES = 32
PUBLIC_KEY_BYTES = 32
_KDF_INFO = b"privateMDI/kdf/v1\x00"
_SUBKEY_INFO = b"privateMDI/subkey/v1\x00"
_MAGIC = b"PMXK"
_VERSION = 1


class KeyAgreementError(PrivateMDIError, ParameterError):
    """Key agreement failed (invalid or small-order peer public key)."""


class KeyAgreementKey:
    """An X25519 key pair; the private scalar comes from :class:`~cmpc.rand.RandomSource`."""

    __slots__ = ("_private", "public_bytes")

    def __init__(self, private_bytes: bytes) -> None:
        if not isinstance(private_bytes, bytes) or len(private_bytes) != KEY_BYTES:
            raise ParameterError(f"private_bytes must be {KEY_BYTES} bytes")
        self._private = X25519PrivateKey.from_private_bytes(private_bytes)
        self.public_bytes: bytes = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def generate(cls, rng: RandomSource | None = None) -> KeyAgreementKey:
        return cls(resolve(rng).bytes(KEY_BYTES))

    def __repr__(self) -> str:
        return f"KeyAgreementKey(public={self.public_bytes.hex()[:16]}…)"

    def exchange(self, peer_public: bytes) -> bytes:
        """The raw X25519 output with ``peer_public`` (use :func:`shared_key` instead)."""
        if not isinstance(peer_public, bytes | bytearray) or len(peer_public) != PUBLIC_KEY_BYTES:
            raise ParameterError(f"peer public key must be {PUBLIC_KEY_BYTES} bytes")
        try:
            return self._private.exchange(X25519PublicKey.from_public_bytes(bytes(peer_public)))
        except ValueError as exc:  # all-zero output: small-order point
            raise KeyAgreementError(
                "X25519 with this peer public key gives a degenerate (all-zero) secret"
            ) from exc


def shared_key(own: KeyAgreementKey, peer_public: bytes, context: bytes, length: int = KEY_BYTES) -> bytes:
    """The common key: HKDF-SHA256 of the X25519 secret, bound to both public keys and ``context``."""
    if not isinstance(own, KeyAgreementKey):
        raise ParameterError(f"own must be a KeyAgreementKey, got {type(own).__name__}")
    if not isinstance(context, bytes):
        raise ParameterError("context must be bytes")
    if not 16 <= length <= 255 * 32:
        raise ParameterError(f"length must be in [16, 8160], got {length}")
    secret = own.exchange(peer_public)
    pair = sorted([own.public_bytes, bytes(peer_public)])
    return HKDF(hashes.SHA256(), length, salt=pair[0] + pair[1], info=_KDF_INFO + context).derive(secret)


def derive_subkey(key: bytes, label: bytes, length: int = KEY_BYTES) -> bytes:
    """HKDF-Expand(key, "privateMDI/subkey/v1" ‖ label): independent keys for different purposes."""
    if not isinstance(key, bytes) or len(key) < 16:
        raise ParameterError("key must be at least 16 bytes")
    if not isinstance(label, bytes):
        raise ParameterError("label must be bytes")
    return HKDFExpand(hashes.SHA256(), length, info=_SUBKEY_INFO + label).derive(key)


class KeyStream:
    """AES-256-CTR key stream keyed by ``derive_subkey(key, label)``; both holders of ``key`` read the
    same bytes in the same order."""

    __slots__ = ("_enc",)

    def __init__(self, key: bytes, label: bytes) -> None:
        sub = derive_subkey(key, label, 32)
        self._enc = Cipher(algorithms.AES(sub), modes.CTR(b"\x00" * 16)).encryptor()

    def bytes(self, n: int) -> bytes:
        if n < 0:
            raise ParameterError(f"n must be >= 0, got {n}")
        return self._enc.update(bytes(n))

    def array(self, shape: tuple[int, ...]) -> np.ndarray:
        """Uniform bytes as a uint8 array of ``shape``."""
        n = int(np.prod(shape)) if shape else 1
        return np.frombuffer(self.bytes(n), dtype=np.uint8).reshape(shape).copy()

    def bits(self, n: int) -> np.ndarray:
        """``n`` uniform bits (uint8 0/1), little-endian within each stream byte."""
        raw = np.frombuffer(self.bytes((n + 7) // 8), dtype=np.uint8)
        return np.unpackbits(raw, bitorder="little")[:n].copy()


def encode_public_key(public: bytes) -> bytes:
    """Wire format of an X25519 public key: ``b"PMXK" | version u8 | 32 bytes``."""
    if not isinstance(public, bytes) or len(public) != PUBLIC_KEY_BYTES:
        raise ParameterError(f"public key must be {PUBLIC_KEY_BYTES} bytes")
    return _MAGIC + struct.pack(">B", _VERSION) + public


def decode_public_key(data: bytes) -> bytes:
    """Inverse of :func:`encode_public_key` (KeyAgreementError for a bad tag, version or length)."""
    if not isinstance(data, bytes | bytearray) or len(data) != 5 + PUBLIC_KEY_BYTES or data[:4] != _MAGIC:
        raise KeyAgreementError("not an X25519 public-key message (bad tag or length)")
    if data[4] != _VERSION:
        raise KeyAgreementError(f"unsupported X25519 public-key message version {data[4]}")
    return bytes(data[5:])
