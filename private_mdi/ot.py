"""Three-party oblivious transfer (protocol page, offline step 3).

Parties: the **sender** S knows both messages ``(m0_i, m1_i)`` of every wire ``i``, the **chooser** C knows
the choice bits ``c_i``, the **receiver** R learns ``m_{c_i, i}``. S and C share a key ``k``
(:func:`~private_mdi.keyagreement.shared_key`, X25519 + HKDF); for one transfer both expand
``KeyStream(k, "ot3" ‖ transfer id ‖ count ‖ length)`` (AES-256-CTR) into

* a permutation bit ``π_i`` per wire, and
* two pads ``P_{i,0}, P_{i,1}`` of ``ℓ + τ`` bytes per wire (``ℓ`` = message length, ``τ`` = check bytes).

Then

* S → R: ``E_{i,t} = (m_{t⊕π_i, i} ‖ 0^τ) ⊕ P_{i,t}`` for ``t = 0, 1`` (the pair in permuted order);
* C → R: ``t_i = c_i ⊕ π_i`` and the pad ``P_{i,t_i}``;
* R: ``E_{i,t_i} ⊕ P_{i,t_i} = m_{c_i, i} ‖ 0^τ``; the ``τ`` trailing bytes must be zero.

Integrity check: the pads are ``τ`` bytes (default 8) longer than the messages and the sender puts
zeros under the extra bytes, so a wrong pad (another position's, another transfer's, corrupted) leaves
a non-zero tail except with probability ``2^{−8τ}`` per wire and :class:`OTError` is raised. It does not
authenticate the message part against a sender that tampers on purpose (semi-honest model).

Views. R sees ``E_{i,0}, E_{i,1}, t_i, P_{i,t_i}``: ``t_i`` is uniform (``π_i`` is), and the other
message is masked by the other pad, which R never sees, so the view is independent of ``m_{1−c_i}``
(perfectly for uniform pads; computationally for AES-CTR pads). S receives nothing from C except its
X25519 public key, and C receives nothing from S except its public key; C never sees a message or
label. **Non-collusion assumption:** R must not collude with S (S knows ``π``, so ``t_i`` would reveal
``c_i``) nor with C (C's key ``k`` unmasks both messages); S and C together learn nothing they did not
already know. In privateMDI R is an edge server, S the cloud and C the client (no two collude).

Each transfer id may be used once per key (:class:`MaterialReusedError` otherwise): reusing pads would
reveal ``m ⊕ m'``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cmpc.rand import RandomSource, resolve

from .errors import MaterialReusedError, OTError, ParameterError
from .keyagreement import KEY_BYTES, KeyAgreementKey, KeyStream, shared_key

__all__ = [
    "CHECK_BYTES",
    "TRANSFER_ID_BYTES",
    "ChooserMessage",
    "OTChooser",
    "OTSender",
    "SenderMessage",
    "ThreePartyRun",
    "receive",
    "run_three_party",
    "transfer",
    "transfer_arrays",
]

CHECK_BYTES = 8
TRANSFER_ID_BYTES = 16
_VERSION = 1
_MAGIC_S = b"POTS"
_MAGIC_C = b"POTC"
_HDR = struct.Struct(">4sB16sIHB")  # magic, version, transfer id, count, message length, check length
_CONTEXT = b"privateMDI/ot3/k_SC"


def _material(
    key: bytes, transfer_id: bytes, count: int, length: int, check: int
) -> tuple[np.ndarray, np.ndarray]:
    """π (count,) uint8 bits and pads (count, 2, length + check) uint8, identical for S and C."""
    label = b"ot3\x00" + transfer_id + struct.pack(">IHB", count, length, check)
    ks = KeyStream(key, label)
    pi = ks.bits(count)
    pads = ks.array((count, 2, length + check))
    return pi, pads


def _check_key(key: bytes) -> bytes:
    if not isinstance(key, bytes) or len(key) < 16:
        raise ParameterError("shared_key must be at least 16 bytes")
    return key


def _check_tid(transfer_id: bytes) -> bytes:
    if not isinstance(transfer_id, bytes) or len(transfer_id) != TRANSFER_ID_BYTES:
        raise ParameterError(f"transfer_id must be {TRANSFER_ID_BYTES} bytes")
    return transfer_id


def _as_messages(m: Any, name: str) -> np.ndarray:
    if isinstance(m, np.ndarray):
        arr = m
        if arr.dtype != np.uint8 or arr.ndim != 2:
            raise ParameterError(f"{name} must be a (count, length) uint8 array or a sequence of bytes")
        return arr
    if isinstance(m, bytes | bytearray) or not isinstance(m, Sequence):
        raise ParameterError(f"{name} must be a sequence of bytes objects (one per wire)")
    items = list(m)
    if not items:
        return np.zeros((0, 0), dtype=np.uint8)
    if not all(isinstance(x, bytes | bytearray) for x in items):
        raise ParameterError(f"{name} must hold bytes objects")
    lengths = {len(x) for x in items}
    if len(lengths) != 1:
        raise ParameterError(
            f"all messages in {name} must have the same length, got lengths {sorted(lengths)}"
        )
    return np.frombuffer(b"".join(bytes(x) for x in items), dtype=np.uint8).reshape(len(items), -1).copy()


def _as_choices(c: Any, count: int) -> np.ndarray:
    arr = np.asarray(c)
    if arr.dtype == np.bool_ or (arr.ndim == 1 and arr.size == 0):
        arr = arr.astype(np.uint8)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ParameterError("choices must be a 1-D sequence of bits (0/1)")
    if arr.shape[0] != count:
        raise ParameterError(f"choices must have one bit per wire ({count}), got {arr.shape[0]}")
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 1):
        raise ParameterError("choices must be bits (0 or 1)")
    return arr.astype(np.uint8)


# -- messages ----------------------------------------------------------------------------------------
def _parse(data: bytes, magic: bytes, what: str) -> tuple[bytes, int, int, int, bytes]:
    if not isinstance(data, bytes | bytearray) or len(data) < _HDR.size or bytes(data[:4]) != magic:
        raise OTError(f"not an OT {what} message (bad tag or too short)")
    _, ver, tid, count, length, check = _HDR.unpack_from(data)
    if ver != _VERSION:
        raise OTError(f"unsupported OT {what} message version {ver}")
    return tid, count, length, check, bytes(data[_HDR.size :])


@dataclass(frozen=True, eq=False)
class SenderMessage:
    """S → R: ``b"POTS" | ver u8 | transfer id 16 | count u32 | length u16 | check u8 | E`` with
    ``E`` = count × 2 × (length + check) bytes (wire-major, permuted pair)."""

    transfer_id: bytes
    masked: np.ndarray = field(repr=False)  # (count, 2, length + check) uint8
    length: int
    check: int

    @property
    def count(self) -> int:
        return int(self.masked.shape[0])

    @property
    def nbytes(self) -> int:
        return _HDR.size + self.masked.size

    def to_bytes(self) -> bytes:
        hdr = _HDR.pack(_MAGIC_S, _VERSION, self.transfer_id, self.count, self.length, self.check)
        return hdr + self.masked.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> SenderMessage:
        tid, count, length, check, body = _parse(data, _MAGIC_S, "sender")
        if len(body) != count * 2 * (length + check):
            raise OTError(
                f"OT sender message body must be {count * 2 * (length + check)} bytes, got {len(body)}"
            )
        arr = np.frombuffer(body, dtype=np.uint8).reshape(count, 2, length + check).copy()
        return cls(tid, arr, length, check)


@dataclass(frozen=True, eq=False)
class ChooserMessage:
    """C → R: ``b"POTC" | ver u8 | transfer id 16 | count u32 | length u16 | check u8 | t bits | pads``:
    ``t_i = c_i ⊕ π_i`` packed 8 per byte (little-endian bit order, unused bits zero), then
    count × (length + check) pad bytes."""

    transfer_id: bytes
    index: np.ndarray = field(repr=False)  # (count,) uint8 bits
    pads: np.ndarray = field(repr=False)  # (count, length + check) uint8
    length: int
    check: int

    @property
    def count(self) -> int:
        return int(self.index.shape[0])

    @property
    def nbytes(self) -> int:
        return _HDR.size + (self.count + 7) // 8 + self.pads.size

    def to_bytes(self) -> bytes:
        hdr = _HDR.pack(_MAGIC_C, _VERSION, self.transfer_id, self.count, self.length, self.check)
        return hdr + np.packbits(self.index, bitorder="little").tobytes() + self.pads.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> ChooserMessage:
        tid, count, length, check, body = _parse(data, _MAGIC_C, "chooser")
        nbits = (count + 7) // 8
        if len(body) != nbits + count * (length + check):
            raise OTError(
                f"OT chooser message body must be {nbits + count * (length + check)} bytes, got {len(body)}"
            )
        bits = np.unpackbits(np.frombuffer(body[:nbits], dtype=np.uint8), bitorder="little")
        if bits[count:].any():
            raise OTError("OT chooser message has non-zero padding bits")
        pads = np.frombuffer(body[nbits:], dtype=np.uint8).reshape(count, length + check).copy()
        return cls(tid, bits[:count].copy(), pads, length, check)


# -- roles -------------------------------------------------------------------------------------------
class _PadHolder:
    """State shared by S and C: the key k_CS, the check length, and the transfer ids already used."""

    def __init__(self, shared_key: bytes, check_bytes: int = CHECK_BYTES) -> None:
        self._key = _check_key(shared_key)
        if not 4 <= check_bytes <= 32:
            raise ParameterError(f"check_bytes must be in [4, 32], got {check_bytes}")
        self._check = check_bytes
        self._used: set[bytes] = set()

    def _material_once(self, tid: bytes, count: int, length: int) -> tuple[np.ndarray, np.ndarray]:
        """(π, pads) for a transfer id never used before with this key (pads must not repeat)."""
        if tid in self._used:
            raise MaterialReusedError("this transfer id was already used with this key (pads would repeat)")
        self._used.add(tid)
        return _material(self._key, tid, count, length, self._check)


class OTSender(_PadHolder):
    """S: holds the shared key; masks both messages of every wire, in permuted order."""

    def message(self, m0: Any, m1: Any, transfer_id: bytes) -> SenderMessage:
        tid = _check_tid(transfer_id)
        a0, a1 = _as_messages(m0, "m0"), _as_messages(m1, "m1")
        if a0.shape != a1.shape:
            raise ParameterError(
                f"m0 and m1 must have the same count and length, got {a0.shape} and {a1.shape}"
            )
        count, length = a0.shape
        if length > 0xFFFF or count >= 2**32:
            raise ParameterError("messages must be at most 65535 bytes and fewer than 2^32")
        pi, pads = self._material_once(tid, count, length)
        plain = np.zeros((count, 2, length + self._check), dtype=np.uint8)
        swap = pi.astype(bool)
        plain[:, 0, :length] = np.where(swap[:, None], a1, a0)  # position t holds m_{t ⊕ π}
        plain[:, 1, :length] = np.where(swap[:, None], a0, a1)
        return SenderMessage(tid, plain ^ pads, length, self._check)


class OTChooser(_PadHolder):
    """C: holds the shared key and the choice bits; sends the permuted index and that position's pad."""

    def message(self, choices: Any, length: int, transfer_id: bytes) -> ChooserMessage:
        tid = _check_tid(transfer_id)
        count = int(np.asarray(choices).shape[0]) if np.ndim(choices) == 1 else -1
        c = _as_choices(choices, count)
        if not 0 <= length <= 0xFFFF:
            raise ParameterError(f"length must be in [0, 65535], got {length}")
        pi, pads = self._material_once(tid, count, length)
        t = c ^ pi
        return ChooserMessage(tid, t, pads[np.arange(count), t], length, self._check)


def receive(sender: SenderMessage | bytes, chooser: ChooserMessage | bytes) -> np.ndarray:
    """R: unmask one message per wire; returns a (count, length) uint8 array.

    Raises :class:`OTError` when the two messages belong to different transfers or shapes, or when a
    check tail is non-zero (wrong pad), naming how many and which wires failed.
    """
    s = SenderMessage.from_bytes(sender) if isinstance(sender, bytes | bytearray) else sender
    c = ChooserMessage.from_bytes(chooser) if isinstance(chooser, bytes | bytearray) else chooser
    if (s.transfer_id, s.count, s.length, s.check) != (c.transfer_id, c.count, c.length, c.check):
        raise OTError(
            "sender and chooser messages do not belong to the same transfer "
            f"(ids {s.transfer_id.hex()[:8]}/{c.transfer_id.hex()[:8]}, counts {s.count}/{c.count}, "
            f"lengths {s.length}/{c.length})"
        )
    out = s.masked[np.arange(s.count), c.index] ^ c.pads
    bad = np.flatnonzero(out[:, s.length :].any(axis=1))
    if bad.size:
        raise OTError(f"{bad.size} of {s.count} wires failed the pad check (first: {bad[:5].tolist()})")
    return out[:, : s.length].copy()


# -- in-memory run --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThreePartyRun:
    """Everything each party saw in one in-memory run of :func:`run_three_party` (for tests and docs)."""

    received: np.ndarray  # what R learned, (count, length) uint8
    sender_public: bytes  # S → C (key agreement)
    chooser_public: bytes  # C → S (key agreement)
    sender_to_receiver: bytes
    chooser_to_receiver: bytes
    transfer_id: bytes


def run_three_party(
    m0: Any, m1: Any, choices: Any, rng: RandomSource | None = None, *, check_bytes: int = CHECK_BYTES
) -> ThreePartyRun:
    """Run S, C and R in memory: key agreement (X25519 + HKDF), then one transfer over byte messages."""
    src = resolve(rng)
    a0, a1 = _as_messages(m0, "m0"), _as_messages(m1, "m1")
    if a0.shape != a1.shape:
        raise ParameterError(f"m0 and m1 must have the same count and length, got {a0.shape} and {a1.shape}")
    c = _as_choices(choices, a0.shape[0])
    s_key = KeyAgreementKey.generate(src.spawn())
    c_key = KeyAgreementKey.generate(src.spawn())
    transfer_id = src.bytes(TRANSFER_ID_BYTES)
    k_s = shared_key(s_key, c_key.public_bytes, _CONTEXT, KEY_BYTES)
    k_c = shared_key(c_key, s_key.public_bytes, _CONTEXT, KEY_BYTES)
    s_msg = OTSender(k_s, check_bytes).message(a0, a1, transfer_id).to_bytes()
    c_msg = OTChooser(k_c, check_bytes).message(c, a0.shape[1], transfer_id).to_bytes()
    got = receive(s_msg, c_msg)
    return ThreePartyRun(got, s_key.public_bytes, c_key.public_bytes, s_msg, c_msg, transfer_id)


def transfer_arrays(
    m0: np.ndarray, m1: np.ndarray, choices: Any, rng: RandomSource | None = None
) -> np.ndarray:
    """Vectorised :func:`transfer` on (count, length) uint8 arrays; returns the receiver's (count, length)."""
    return run_three_party(m0, m1, choices, rng).received


def transfer(
    m0: Sequence[bytes], m1: Sequence[bytes], choices: Sequence[int], rng: RandomSource | None = None
) -> list[bytes]:
    """Three-party OT in memory: returns what the receiver learns, ``[m1[i] if choices[i] else m0[i]]``.

    ``m0``, ``m1``: sequences of equal-length byte strings (one per wire); ``choices``: bits.
    """
    got = run_three_party(m0, m1, choices, rng).received
    return [bytes(row) for row in got]
