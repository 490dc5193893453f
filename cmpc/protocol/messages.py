"""Typed protocol messages with explicit byte encodings (never pickling).

Every frame starts with a fixed header (little-endian, like every encoding of the package)::

    magic  b"CM"        2 bytes
    version             1 byte   (VERSION)
    tag                 1 byte   (message type)
    session id         16 bytes
    round               4 bytes  (the protocol phase, 1..3)

Matrix-carrying messages continue with one field matrix in the shared codec of :mod:`cmpc.wire`
(codec version, element width, rows, cols, elements). :func:`decode` checks magic, version, tag, session,
the round expected for the tag, exact lengths, and (given ``p``) that every element is below p; anything
else raises :class:`~cmpc.errors.ProtocolError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..errors import ProtocolError
from ..wire import MAX_ELEMENTS, decode_matrix, element_width, encode_matrix

__all__ = ["MAX_ELEMENTS", "MESSAGE_TYPES", "Message", "decode", "element_width", "encode", "peek_tag"]

MAGIC = b"CM"
VERSION = 2
HEADER = struct.Struct("<2sBB16sI")


@dataclass(frozen=True)
class Message:
    """Base class: every message knows its tag and protocol round."""

    TAG: ClassVar[int] = 0
    ROUND: ClassVar[int] = 0

    def body(self, p: int) -> bytes:
        return b""

    @property
    def n_elements(self) -> int:
        return 0


@dataclass(frozen=True)
class MatrixMessage(Message):
    """A message carrying one matrix of field elements."""

    data: np.ndarray = field(compare=False)

    def body(self, p: int) -> bytes:
        arr = np.asarray(self.data)
        if arr.ndim != 2:
            raise ProtocolError(f"{type(self).__name__} carries a 2-D matrix, got {arr.ndim}-D")
        return encode_matrix(arr, p)

    @property
    def n_elements(self) -> int:
        return int(np.asarray(self.data).size)


@dataclass(frozen=True)
class ShareA(MatrixMessage):
    """Phase 1, source A → worker: F_A(α_n)."""

    TAG: ClassVar[int] = 1
    ROUND: ClassVar[int] = 1


@dataclass(frozen=True)
class ShareB(MatrixMessage):
    """Phase 1, source B → worker: F_B(α_n)."""

    TAG: ClassVar[int] = 2
    ROUND: ClassVar[int] = 1


@dataclass(frozen=True)
class Ready(Message):
    """Phase 1, worker → master: both shares received, H(α_n) computed."""

    TAG: ClassVar[int] = 3
    ROUND: ClassVar[int] = 1


@dataclass(frozen=True)
class StartPhase2(Message):
    """Phase 2, master → worker: the chosen workers (indices, in order) and which of them report."""

    TAG: ClassVar[int] = 4
    ROUND: ClassVar[int] = 2
    chosen: tuple[int, ...] = ()
    reporters: tuple[int, ...] = ()

    def body(self, p: int) -> bytes:
        c, r = self.chosen, self.reporters
        return struct.pack(f"<II{len(c)}I{len(r)}I", len(c), len(r), *c, *r)


@dataclass(frozen=True)
class StandDown(Message):
    """Phase 2, master → a spare worker: not needed, stop."""

    TAG: ClassVar[int] = 5
    ROUND: ClassVar[int] = 2


@dataclass(frozen=True)
class Reshare(MatrixMessage):
    """Phase 2, worker n → worker n′: G_n(α_{n′})."""

    TAG: ClassVar[int] = 6
    ROUND: ClassVar[int] = 2


@dataclass(frozen=True)
class ResultShare(MatrixMessage):
    """Phase 3, worker n′ → master: I(α_{n′})."""

    TAG: ClassVar[int] = 7
    ROUND: ClassVar[int] = 3


MESSAGE_TYPES: dict[int, type[Message]] = {
    cls.TAG: cls for cls in (ShareA, ShareB, Ready, StartPhase2, StandDown, Reshare, ResultShare)
}


def encode(msg: Message, session: bytes, p: int) -> bytes:
    """The frame of ``msg`` for session id ``session`` (16 bytes) over GF(p)."""
    if len(session) != 16:
        raise ProtocolError(f"session id must be 16 bytes, got {len(session)}")
    return HEADER.pack(MAGIC, VERSION, msg.TAG, session, msg.ROUND) + msg.body(p)


def peek_tag(frame: bytes) -> int:
    """The tag of a frame (checked header only)."""
    if len(frame) < HEADER.size:
        raise ProtocolError(f"frame of {len(frame)} bytes is shorter than the {HEADER.size}-byte header")
    return frame[3]


def decode(frame: bytes, *, p: int | None = None, session: bytes | None = None) -> Message:
    """Parse a frame; raise :class:`ProtocolError` for anything malformed or out of range."""
    if not isinstance(frame, bytes | bytearray | memoryview):
        raise ProtocolError(f"frame must be bytes, got {type(frame).__name__}")
    frame = bytes(frame)
    if len(frame) < HEADER.size:
        raise ProtocolError(f"frame of {len(frame)} bytes is shorter than the {HEADER.size}-byte header")
    magic, version, tag, sid, rnd = HEADER.unpack_from(frame)
    if magic != MAGIC:
        raise ProtocolError(f"bad magic {magic!r}")
    if version != VERSION:
        raise ProtocolError(f"unsupported protocol version {version} (this is {VERSION})")
    cls = MESSAGE_TYPES.get(tag)
    if cls is None:
        raise ProtocolError(f"unknown message tag {tag}")
    if session is not None and sid != session:
        raise ProtocolError(f"frame belongs to session {sid.hex()}, expected {session.hex()}")
    if rnd != cls.ROUND:
        raise ProtocolError(f"{cls.__name__} must be sent in round {cls.ROUND}, frame says {rnd}")
    if issubclass(cls, MatrixMessage):  # a view of the frame: the matrix is not copied
        return cls(_decode_matrix(memoryview(frame)[HEADER.size :], p, cls.__name__))
    body = frame[HEADER.size :]
    if cls is StartPhase2:
        if len(body) < 8:
            raise ProtocolError("StartPhase2 body too short")
        nc, nr = struct.unpack_from("<II", body)
        if len(body) != 8 + 4 * (nc + nr):
            raise ProtocolError(f"StartPhase2 body has {len(body)} bytes, expected {8 + 4 * (nc + nr)}")
        vals = struct.unpack_from(f"<{nc + nr}I", body, 8)
        return StartPhase2(chosen=tuple(vals[:nc]), reporters=tuple(vals[nc:]))
    if body:
        raise ProtocolError(f"{cls.__name__} has no body, got {len(body)} bytes")
    return cls()


def _decode_matrix(body: memoryview, p: int | None, name: str) -> np.ndarray:
    """The matrix of a frame: read-only uint32 for p < 2^32 (a view of the frame), else int64."""
    if p is None:  # only the header is trusted: read the width the frame claims
        if len(body) < 2 or body[1] not in (4, 8):
            raise ProtocolError(f"{name}: body too short or element width not 4 or 8")
        p = 2**32 if body[1] == 4 else 2**63
    return decode_matrix(body, p, what=name, compact=True)
