"""privateMDI messages: one class per kind, each with ``to_bytes()`` / ``from_bytes()``.

Envelope (all integers little-endian, wire version :data:`VERSION`)::

    b"PMDI" | version:u8 | kind:u8 | inference:u32 | layer:u16 | count:u32 | payload_len:u32 | payload

``inference`` is the id of the (first) inference the message is about, ``count`` how many consecutive
inferences it covers (offline: a chunk; online: a batch, whose field matrices have one row per inference
and whose labels cover count·copies circuit copies), ``layer`` the linear layer ℓ (0 when not applicable).
Version 3: offline garbled material, b-wire keys and OT messages per chunk; online messages per batch.
:func:`decode` rejects a wrong magic, version, unknown kind, a length mismatch, and a payload that the
kind does not allow (control messages without payload, JSON bodies that are not objects) with
:class:`~cmpc.errors.ProtocolError`. Field vectors in payloads use :func:`cmpc.wire.encode_matrix`, lists of
parts :func:`cmpc.wire.join_parts`; the building blocks' payloads (Paillier ciphertext batches, garbled
tables, labels, OT messages) use their own encodings, checked by the role that reads them.

Protocol messages (meter phase in brackets): PaillierKey, KaPublic, Weights [setup]; EncMasks,
EncCorrelation, SShare [offline-paillier]; Garbled, BKeys [offline-garbling]; OtSender, OtChooser
[offline-ot]; Input, LabelsMsg, Gather, Output [online]. The ``layer`` field of a message about slice j
of a split layer ℓ is ℓ + 1024·j (ℓ itself for unsplit layers, so unsplit runs are unchanged).
Control (the orchestrating client drives the servers with these; the same in-process and across
processes): SetupBegin, SetupDone, OfflineBegin, Progress, ChunkDone,
StatsRequest, Stats, Shutdown, Abort [control].
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from cmpc.errors import ProtocolError
from cmpc.wire import decode_matrix, encode_matrix

from .spec import Phase

__all__ = ["VERSION", "Codec", "Message", "decode"]

MAGIC = b"PMDI"
VERSION = 3
_HEAD = struct.Struct("<4sBBIHII")
#: the largest payload one message may claim (1 GiB)
MAX_PAYLOAD = 1 << 30


@dataclass(frozen=True)
class Message:
    """Base of every message (see the module docstring for the byte layout)."""

    KIND: ClassVar[int] = 0
    PHASE: ClassVar[str] = ""
    #: payload rule: "bytes" (building block), "empty" (control), "json" (a JSON object)
    BODY: ClassVar[str] = "bytes"

    inference: int = 0
    layer: int = 0
    payload: bytes = b""
    count: int = 1

    def to_bytes(self) -> bytes:
        return (
            _HEAD.pack(MAGIC, VERSION, self.KIND, self.inference, self.layer, self.count, len(self.payload))
            + self.payload
        )

    @classmethod
    def from_bytes(cls, data: bytes, *, peer: str | None = None) -> Message:
        """Decode and check that the frame is of this class's kind."""
        msg = decode(data, peer=peer)
        if not isinstance(msg, cls):
            raise ProtocolError(f"expected a {cls.__name__} frame, got {type(msg).__name__}")
        return msg

    # -- typed views ---------------------------------------------------------------------------------
    @classmethod
    def vector(cls, inference: int, layer: int, values: np.ndarray, p: int, count: int = 1) -> Message:
        """A message carrying one field matrix (rows = inferences)."""
        return cls(inference, layer, encode_matrix(values, p), count)

    def matrix(self, p: int, shape: tuple[int, int]) -> np.ndarray:
        """The field matrix of a vector message, checked against ``shape`` and p."""
        return decode_matrix(self.payload, p, shape=shape, what=type(self).__name__)

    @classmethod
    def with_json(cls, body: dict[str, Any], inference: int = 0, count: int = 1) -> Message:
        return cls(inference, 0, json.dumps(body, sort_keys=True).encode(), count)

    def json(self) -> dict[str, Any]:
        value = json.loads(self.payload.decode("utf-8"))
        assert isinstance(value, dict)
        return value


def _kind(kind: int, phase: str, body: str = "bytes") -> Any:
    def deco(cls: type[Message]) -> type[Message]:
        cls.KIND, cls.PHASE, cls.BODY = kind, phase, body
        _REGISTRY[kind] = cls
        return cls

    return deco


_REGISTRY: dict[int, type[Message]] = {}


@_kind(1, Phase.SETUP)
class PaillierKey(Message):
    """C → S: the Paillier public key."""


@_kind(2, Phase.SETUP)
class KaPublic(Message):
    """C ↔ S: an X25519 public key (k_CS agreement)."""


@_kind(3, Phase.SETUP)
class Weights(Message):
    """S → host(ℓ): parts (Ŵ_ℓ mod p, β̂_ℓ mod p)."""


@_kind(10, Phase.PAILLIER)
class EncMasks(Message):
    """C → S: Enc(r_ℓ) for ``count`` inferences from ``inference``."""


@_kind(11, Phase.PAILLIER)
class EncCorrelation(Message):
    """S → C: Enc(Ŵ_ℓ r_ℓ − s_ℓ + p ρ_ℓ) for the same inferences."""


@_kind(12, Phase.PAILLIER)
class SShare(Message):
    """S → host(ℓ): s_ℓ of ``count`` inferences (a count × d_ℓ field matrix)."""


@_kind(20, Phase.GARBLING)
class Garbled(Message):
    """S → host(ℓ+1): parts (garbled tables, output decoder) of the ReLU after ℓ, one garbling of
    count·copies copies for the chunk."""


@_kind(21, Phase.GARBLING)
class BKeys(Message):
    """S → host(ℓ): zero labels of the b-wires and Δ of each copy (count·copies copies)."""


@_kind(30, Phase.OT)
class OtSender(Message):
    """S → host(ℓ+1): both labels of C's wires, permuted and padded."""


@_kind(31, Phase.OT)
class OtChooser(Message):
    """C → host(ℓ+1): c ⊕ π and the pad of that position, per wire."""


@_kind(40, Phase.ONLINE)
class Input(Message):
    """C → host(1): u_1 = x̂ − r_1 of ``count`` inferences (count × d_0)."""


@_kind(41, Phase.ONLINE)
class LabelsMsg(Message):
    """host(ℓ) → host(ℓ+1): the active labels of b_ℓ of ``count`` inferences (count·copies copies)."""


@_kind(42, Phase.ONLINE)
class Output(Message):
    """host(L) → C: b_L of ``count`` inferences (count × its slice's rows)."""


@_kind(43, Phase.GATHER)
class Gather(Message):
    """evaluator(ℓ, j) → every other host of layer ℓ+1: its decoded slice of u_{ℓ+1} (layer field: the
    unit ℓ + 1024·j of the slice whose ReLU it evaluated). Only sent when a layer is split."""


@_kind(50, Phase.CONTROL, "empty")
class SetupBegin(Message):
    """C → edge: setup started (the edge acknowledges when it holds its layers' weights)."""


@_kind(51, Phase.CONTROL, "empty")
class SetupDone(Message):
    """edge → C: weights of every hosted layer received."""


@_kind(52, Phase.CONTROL, "empty")
class OfflineBegin(Message):
    """C → S and edges: a chunk of inferences [inference, inference + count) is being prepared."""


@_kind(53, Phase.CONTROL, "json")
class ChunkDone(Message):
    """edge → C: every piece of material of the chunk is stored (JSON: ``storage_bytes``)."""


@_kind(58, Phase.CONTROL, "empty")
class Progress(Message):
    """edge → C: every piece of inference ``inference``'s material is stored (liveness while a chunk is
    being prepared: the client's timeout measures silence, and this is progress)."""


@_kind(54, Phase.CONTROL, "empty")
class StatsRequest(Message):
    """C → S and edges: report your statistics."""


@_kind(55, Phase.CONTROL, "json")
class Stats(Message):
    """S or edge → C: times, busy times, storage (and, from a process, its transport meter)."""


@_kind(56, Phase.CONTROL, "empty")
class Shutdown(Message):
    """C → S and edges: the session is over."""


@_kind(57, Phase.CONTROL, "json")
class Abort(Message):
    """S or edge → C: this party failed (JSON: ``type``, ``message``); the session is over."""


def decode(data: bytes, *, peer: str | None = None) -> Message:
    """Parse one frame into its message class (see the module docstring for what is checked)."""
    where = f" from {peer}" if peer else ""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ProtocolError(f"frame{where}: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < _HEAD.size:
        raise ProtocolError(f"frame{where}: {len(data)} bytes is shorter than the {_HEAD.size}-byte header")
    magic, version, kind, inference, layer, count, n = _HEAD.unpack_from(data)
    if magic != MAGIC:
        raise ProtocolError(f"frame{where}: bad magic {magic!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise ProtocolError(f"frame{where}: unsupported version {version}, expected {VERSION}")
    cls = _REGISTRY.get(kind)
    if cls is None:
        raise ProtocolError(f"frame{where}: unknown kind {kind}")
    if n > MAX_PAYLOAD or len(data) != _HEAD.size + n:
        raise ProtocolError(f"frame{where}: payload length {len(data) - _HEAD.size}, header says {n}")
    if count < 1:
        raise ProtocolError(f"frame{where}: {cls.__name__} covers {count} inferences")
    payload = data[_HEAD.size :]
    if cls.BODY == "empty" and payload:
        raise ProtocolError(f"frame{where}: {cls.__name__} carries no payload, got {len(payload)} bytes")
    if cls.BODY == "json":
        try:
            ok = isinstance(json.loads(payload.decode("utf-8")), dict)
        except (UnicodeDecodeError, ValueError):
            ok = False
        if not ok:
            raise ProtocolError(f"frame{where}: {cls.__name__} payload is not a JSON object")
    return cls(inference, layer, payload, count)


class Codec:
    """The :class:`cmpc.runtime.Codec` of privateMDI: frames ↔ messages, phase = the message's class."""

    def encode(self, message: Message) -> bytes:
        return message.to_bytes()

    def decode(self, sender: str, frame: bytes) -> Message:
        return decode(frame, peer=sender)

    def phase(self, message: Message) -> str:
        return message.PHASE
