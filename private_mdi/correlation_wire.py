"""Byte codecs of the linear-correlation messages (:mod:`private_mdi.correlation`).

Both messages carry the Paillier key fingerprint and the request id; decoding checks the tag, the version,
the exact length for the declared counts, the key (``KeyMismatchError``) and the range of every entry
(``ProtocolError``). All integers big-endian. No pickle.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gmpy2

from cmpc.errors import ProtocolError

from .errors import KeyMismatchError
from .paillier import Mpz, PublicKey

__all__ = ["SEED_BYTES", "EncryptedMask", "EncryptedReply"]

SEED_BYTES = 32
_VERSION = 1
_MAGIC_MASK = b"PMEM"
_MAGIC_REPLY = b"PMRP"

_MASK_HDR = struct.Struct(">4sB16s16sQIHH")  # magic, ver, fp, request id, p, n_in, batch, slot bits
_REPLY_HDR = struct.Struct(">4sB16s16sQIHHHI")  # ..., p, n_out, batch, slot bits, rows/ct, count


def _int_blob(values: Sequence[Any], width: int) -> bytes:
    return b"".join(int(v).to_bytes(width, "big") for v in values)


def _blob_ints(blob: bytes, width: int, count: int) -> list[Mpz]:
    return [gmpy2.mpz(int.from_bytes(blob[i * width : (i + 1) * width], "big")) for i in range(count)]


@dataclass(frozen=True, eq=False)
class EncryptedMask:
    """Client → owner: the packed masks, seeded upload (see module docstring).

    ``b"PMEM" | ver u8 | key fingerprint 16 | request id 16 | p u64 | n_in u32 | batch u16 | slot bits u16
    | seed 32 | δ_1..δ_{n_in} (⌈bits/8⌉ bytes each, big-endian)``.
    """

    fingerprint: bytes
    request_id: bytes
    p: int
    n_in: int
    batch: int
    slot_bits: int
    seed: bytes
    deltas: tuple[Mpz, ...] = field(repr=False)
    nbytes_n: int = field(repr=False)

    @property
    def nbytes(self) -> int:
        return _MASK_HDR.size + SEED_BYTES + self.n_in * self.nbytes_n

    def to_bytes(self) -> bytes:
        hdr = _MASK_HDR.pack(
            _MAGIC_MASK,
            _VERSION,
            self.fingerprint,
            self.request_id,
            self.p,
            self.n_in,
            self.batch,
            self.slot_bits,
        )
        return hdr + self.seed + _int_blob(self.deltas, self.nbytes_n)

    @classmethod
    def from_bytes(cls, data: bytes, public_key: PublicKey) -> EncryptedMask:
        """Decode and check against the expected key (KeyMismatchError for another key's message)."""
        if len(data) < _MASK_HDR.size + SEED_BYTES or data[:4] != _MAGIC_MASK:
            raise ProtocolError("not an encrypted-mask message (bad tag or too short)")
        _, ver, fp, rid, p, n_in, batch, w = _MASK_HDR.unpack_from(data)
        if ver != _VERSION:
            raise ProtocolError(f"unsupported encrypted-mask version {ver}")
        if fp != public_key.fingerprint:
            raise KeyMismatchError("encrypted mask was made under another Paillier key (fingerprint differs)")
        nb = public_key.nbytes_n
        expect = _MASK_HDR.size + SEED_BYTES + n_in * nb
        if len(data) != expect:
            raise ProtocolError(
                f"encrypted-mask message must be {expect} bytes for n_in={n_in}, got {len(data)}"
            )
        off = _MASK_HDR.size
        seed = data[off : off + SEED_BYTES]
        deltas = _blob_ints(data[off + SEED_BYTES :], nb, n_in)
        if any(d >= public_key.n for d in deltas):
            raise ProtocolError("encrypted-mask entry out of range [0, n)")
        return cls(fp, rid, p, n_in, batch, w, seed, tuple(deltas), nb)


@dataclass(frozen=True, eq=False)
class EncryptedReply:
    """Owner → client: packed ``Enc(W r − s + p·ρ)``.

    ``b"PMRP" | ver u8 | key fingerprint 16 | request id 16 | p u64 | n_out u32 | batch u16 | slot bits u16
    | rows per ct u16 | count u32 | ciphertexts (2⌈bits/8⌉ bytes each, big-endian)``.
    """

    fingerprint: bytes
    request_id: bytes
    p: int
    n_out: int
    batch: int
    slot_bits: int
    rows_per_ct: int
    ciphertexts: tuple[Mpz, ...] = field(repr=False)
    ct_bytes: int = field(repr=False)

    @property
    def nbytes(self) -> int:
        return _REPLY_HDR.size + len(self.ciphertexts) * self.ct_bytes

    def to_bytes(self) -> bytes:
        hdr = _REPLY_HDR.pack(
            _MAGIC_REPLY,
            _VERSION,
            self.fingerprint,
            self.request_id,
            self.p,
            self.n_out,
            self.batch,
            self.slot_bits,
            self.rows_per_ct,
            len(self.ciphertexts),
        )
        return hdr + _int_blob(self.ciphertexts, self.ct_bytes)

    @classmethod
    def from_bytes(cls, data: bytes, public_key: PublicKey) -> EncryptedReply:
        if len(data) < _REPLY_HDR.size or data[:4] != _MAGIC_REPLY:
            raise ProtocolError("not an encrypted-reply message (bad tag or too short)")
        _, ver, fp, rid, p, n_out, batch, w, rows, count = _REPLY_HDR.unpack_from(data)
        if ver != _VERSION:
            raise ProtocolError(f"unsupported encrypted-reply version {ver}")
        if fp != public_key.fingerprint:
            raise KeyMismatchError("reply was made under another Paillier key (fingerprint differs)")
        cb = public_key.ciphertext_bytes
        expect = _REPLY_HDR.size + count * cb
        if len(data) != expect:
            raise ProtocolError(
                f"encrypted-reply message must be {expect} bytes for {count} ciphertexts, got {len(data)}"
            )
        cts = _blob_ints(data[_REPLY_HDR.size :], cb, count)
        if any(c >= public_key.nsquare for c in cts):
            raise ProtocolError("reply ciphertext out of range [0, n²)")
        return cls(fp, rid, p, n_out, batch, w, rows, tuple(cts), cb)
