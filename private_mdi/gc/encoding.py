"""Containers of garbled material and their byte encodings.

All integers are little-endian; every encoding starts with a 3-byte magic and a version byte, and
``from_bytes`` rejects a wrong magic, version, header or length with :class:`GCFormatError` (a
:class:`~private_mdi.errors.CircuitError`). A 128-bit label is 16 bytes: the little-endian encoding of
x = lo + 2^64·hi (see :mod:`private_mdi.gc.hash`). ``C`` is the number of copies, ``fp`` the 16-byte
fingerprint of the circuit (:attr:`Circuit.fingerprint`), which binds tables and decoders to the circuit.

=================  ====================================================================================
object             bytes
=================  ====================================================================================
GarbledCircuit     ``b"GCT" 01 | fp | C:u32 | n_and:u32 | tables`` with tables = n_and × 2 × C × 16 bytes in
                   the order (AND gate in plan order, [T_G, T_E], copy): per gate the C ciphertexts T_G,
                   then the C ciphertexts T_E — 32 bytes per AND gate per copy
Decoder            ``b"GCD" 01 | fp | C:u32 | n_out:u32 | d | tags``: d = C·n_out decoding bits (copy-major,
                   packed 8 per byte, little-endian bit order, zero-padded); tags = C × n_out × 2 × 8 bytes:
                   for each output wire the 64-bit tags of its two valid labels, indexed by permute bit
Labels             ``b"GCL" 01 | C:u32 | n:u32 | C × n × 16 bytes`` (copy-major): active labels
GroupKeys          ``b"GCK" 01 | C:u32 | n:u32 | Δ: C × 16 | zero labels: C × n × 16``
Encoder            ``b"GCE" 01 | fp | C:u32 | n_in:u32 | Δ: C × 16 | zero labels: C × n_in × 16``
=================  ====================================================================================

GroupKeys and Encoder contain Δ: they are the garbler's secrets (an Encoder lets its holder compute every
label), to be given only to the party that owns those input wires (in privateMDI: the zero labels of the
b-wires with Δ go to host(ℓ), never to the evaluator host(ℓ+1)).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import CircuitError, GarbledDecodeError, ParameterError
from . import aesni
from .circuit import Circuit
from .hash import FixedKeyAES, tccr_hash

__all__ = [
    "TAG_BYTES",
    "Decoder",
    "Encoder",
    "GCFormatError",
    "GarbledCircuit",
    "GroupKeys",
    "Labels",
    "assemble_labels",
    "output_tags",
]

VERSION = 1
#: Bytes of each output-label tag kept by the decoder (two tags per output wire per copy).
TAG_BYTES = 8
_U32 = struct.Struct("<I")


class GCFormatError(CircuitError):
    """A byte string is not a valid encoding of garbled material (magic, version, length, circuit)."""


def _header(magic: bytes, *fields: int, fp: bytes | None = None) -> bytes:
    out = magic + bytes([VERSION])
    if fp is not None:
        out += fp
    return out + b"".join(_U32.pack(f) for f in fields)


def _parse_header(
    data: bytes, magic: bytes, n_fields: int, what: str, fp: bool
) -> tuple[bytes, list[int], int]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise GCFormatError(f"{what}: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    head = 4 + (16 if fp else 0) + 4 * n_fields
    if len(data) < head:
        raise GCFormatError(f"{what}: {len(data)} bytes is shorter than the {head}-byte header")
    if data[:3] != magic:
        raise GCFormatError(f"{what}: bad magic {data[:3]!r}, expected {magic!r}")
    if data[3] != VERSION:
        raise GCFormatError(f"{what}: unsupported version {data[3]}, expected {VERSION}")
    pos = 4
    fingerprint = b""
    if fp:
        fingerprint = data[4:20]
        pos = 20
    fields = [_U32.unpack_from(data, pos + 4 * i)[0] for i in range(n_fields)]
    return fingerprint, fields, head


def _check_len(data: bytes, expected: int, what: str) -> None:
    if len(data) != expected:
        raise GCFormatError(f"{what}: expected {expected} bytes, got {len(data)}")


def _labels_from(buf: bytes, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(buf, dtype="<u8").astype(np.uint64).reshape(shape)


def _as_label_array(x: np.ndarray, what: str, ndim: int) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype != np.uint64 or arr.ndim != ndim or arr.shape[-1] != 2:
        raise ParameterError(f"{what} must be a uint64 array with {ndim} axes, the last of size 2; got "
                             f"{arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)


@dataclass(frozen=True, eq=False)
class Labels:
    """Active wire labels of ``copies`` copies: ``array`` has shape (copies, n_wires, 2), dtype uint64."""

    array: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "array", _as_label_array(self.array, "labels", 3))

    @property
    def copies(self) -> int:
        return int(self.array.shape[0])

    @property
    def n_wires(self) -> int:
        return int(self.array.shape[1])

    def permute_bits(self) -> np.ndarray:
        """lsb of every label, shape (copies, n_wires)."""
        return (self.array[..., 0] & np.uint64(1)).astype(np.uint8)

    def to_bytes(self) -> bytes:
        return _header(b"GCL", self.copies, self.n_wires) + self.array.astype("<u8").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, *, copies: int | None = None, n_wires: int | None = None) -> Labels:
        """Decode; optionally require the given numbers of copies and wires."""
        _, (c, n), head = _parse_header(data, b"GCL", 2, "Labels", fp=False)
        _check_len(data, head + 16 * c * n, "Labels")
        if copies is not None and c != copies:
            raise GCFormatError(f"Labels: {c} copies, expected {copies}")
        if n_wires is not None and n != n_wires:
            raise GCFormatError(f"Labels: {n} wires, expected {n_wires}")
        return cls(_labels_from(bytes(data)[head:], (c, n, 2)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Labels) and np.array_equal(self.array, other.array)

    __hash__ = None  # type: ignore[assignment]


def _check_bits(bits: np.ndarray, shape: tuple[int, int], what: str) -> np.ndarray:
    arr = np.asarray(bits)
    if arr.shape != shape:
        raise ParameterError(f"{what} must have shape {shape}, got {arr.shape}")
    if arr.dtype != bool and not np.issubdtype(arr.dtype, np.integer):
        raise ParameterError(f"{what} must be integers 0/1, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ParameterError(f"{what} must contain only 0 and 1")
    return arr.astype(np.uint64)


def _select(zero: np.ndarray, delta: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """zero ⊕ bit·Δ for zero (C, n, 2), delta (C, 2), bits (C, n) uint64 0/1 (one word at a time)."""
    mask = np.negative(bits)
    out = np.array(zero, dtype=np.uint64, order="C", copy=True)
    for w in (0, 1):
        out[..., w] ^= np.bitwise_and(delta[:, None, w], mask)
    return out


@dataclass(frozen=True, eq=False)
class GroupKeys:
    """Zero labels of one input group and the per-copy Δ: what the owner of those wires needs.

    ``zero`` has shape (copies, n, 2), ``delta`` (copies, 2). Secret (contains Δ).
    """

    zero: np.ndarray
    delta: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "zero", _as_label_array(self.zero, "zero labels", 3))
        object.__setattr__(self, "delta", _as_label_array(self.delta, "delta", 2))
        if self.delta.shape[0] != self.zero.shape[0]:
            raise ParameterError(f"delta has {self.delta.shape[0]} copies, zero labels {self.zero.shape[0]}")

    @property
    def copies(self) -> int:
        return int(self.zero.shape[0])

    @property
    def n_wires(self) -> int:
        return int(self.zero.shape[1])

    def encode(self, bits: np.ndarray) -> Labels:
        """Active labels zero ⊕ bit·Δ for bits of shape (copies, n)."""
        b = _check_bits(bits, (self.copies, self.n_wires), "bits")
        return Labels(_select(self.zero, self.delta, b))

    def label_pairs(self) -> np.ndarray:
        """Both labels of every wire: shape (copies, n, 2 [value 0, value 1], 2 words) (e.g. for OT)."""
        one = np.bitwise_xor(self.zero, self.delta[:, None, :])
        return np.stack([self.zero, one], axis=2)

    def to_bytes(self) -> bytes:
        return (_header(b"GCK", self.copies, self.n_wires) + self.delta.astype("<u8").tobytes()
                + self.zero.astype("<u8").tobytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> GroupKeys:
        _, (c, n), head = _parse_header(data, b"GCK", 2, "GroupKeys", fp=False)
        _check_len(data, head + 16 * c + 16 * c * n, "GroupKeys")
        raw = bytes(data)
        delta = _labels_from(raw[head : head + 16 * c], (c, 2))
        if c and not (delta[:, 0] & np.uint64(1)).all():
            raise GCFormatError("GroupKeys: every Δ must have lsb 1")
        return cls(_labels_from(raw[head + 16 * c :], (c, n, 2)), delta)


@dataclass(frozen=True, eq=False)
class Encoder:
    """The garbler's input encoding: zero labels of every input wire and Δ of every copy (secret).

    ``zero`` has shape (copies, n_inputs, 2), ``delta`` (copies, 2) with lsb(Δ) = 1.
    """

    circuit: Circuit
    zero: np.ndarray
    delta: np.ndarray

    @property
    def copies(self) -> int:
        return int(self.zero.shape[0])

    def keys(self, group: str) -> GroupKeys:
        """Zero labels and Δ for input group ``group`` (to hand to the owner of those wires)."""
        sl = self.circuit.input_slice(group)
        return GroupKeys(np.ascontiguousarray(self.zero[:, sl]), self.delta.copy())

    def label_pairs(self, group: str) -> np.ndarray:
        """Both labels of the wires of ``group``: (copies, width, 2, 2) — the sender's OT messages."""
        return self.keys(group).label_pairs()

    def encode(self, party_inputs: np.ndarray | Mapping[str, np.ndarray]) -> Labels:
        """Active labels for all input wires: bits (copies, n_inputs) or a mapping group -> bits."""
        if isinstance(party_inputs, Mapping):
            bits = self.circuit.join_inputs(party_inputs)
        else:
            bits = np.asarray(party_inputs)
        b = _check_bits(bits, (self.copies, self.circuit.n_inputs), "input bits")
        return Labels(_select(self.zero, self.delta, b))

    def to_bytes(self) -> bytes:
        return (_header(b"GCE", self.copies, self.zero.shape[1], fp=self.circuit.fingerprint)
                + self.delta.astype("<u8").tobytes() + self.zero.astype("<u8").tobytes())

    @classmethod
    def from_bytes(cls, data: bytes, circuit: Circuit) -> Encoder:
        fp, (c, n), head = _parse_header(data, b"GCE", 2, "Encoder", fp=True)
        if fp != circuit.fingerprint:
            raise GCFormatError("Encoder: made for another circuit (fingerprint mismatch)")
        if n != circuit.n_inputs:
            raise GCFormatError(f"Encoder: {n} input wires, circuit has {circuit.n_inputs}")
        _check_len(data, head + 16 * c + 16 * c * n, "Encoder")
        raw = bytes(data)
        delta = _labels_from(raw[head : head + 16 * c], (c, 2))
        if c and not (delta[:, 0] & np.uint64(1)).all():
            raise GCFormatError("Encoder: every Δ must have lsb 1")
        return cls(circuit, _labels_from(raw[head + 16 * c :], (c, n, 2)), delta)


@dataclass(frozen=True, eq=False)
class GarbledCircuit:
    """The garbled tables of ``copies`` copies of ``circuit``: (n_and, 2 [T_G, T_E], copies, 2) uint64."""

    circuit: Circuit
    tables: np.ndarray

    @property
    def copies(self) -> int:
        return int(self.tables.shape[2])

    @property
    def n_and(self) -> int:
        return int(self.tables.shape[0])

    @property
    def nbytes(self) -> int:
        """Size of the tables: 32 bytes per AND gate per copy."""
        return 32 * self.n_and * self.copies

    def to_bytes(self) -> bytes:
        return (_header(b"GCT", self.copies, self.n_and, fp=self.circuit.fingerprint)
                + self.tables.astype("<u8").tobytes())

    @classmethod
    def from_bytes(cls, data: bytes, circuit: Circuit) -> GarbledCircuit:
        """Decode tables for ``circuit``; rejects another circuit's tables and bad lengths."""
        fp, (c, n_and), head = _parse_header(data, b"GCT", 2, "GarbledCircuit", fp=True)
        if fp != circuit.fingerprint:
            raise GCFormatError("GarbledCircuit: tables of another circuit (fingerprint mismatch)")
        expected_and = circuit.plan().n_and
        if n_and != expected_and:
            raise GCFormatError(f"GarbledCircuit: {n_and} AND gates, circuit has {expected_and}")
        _check_len(data, head + 32 * n_and * c, "GarbledCircuit")
        return cls(circuit, _labels_from(bytes(data)[head:], (n_and, 2, c, 2)))


def output_tags(
    labels: np.ndarray, aes: FixedKeyAES | None = None, *, total: int | None = None, first: int = 0
) -> np.ndarray:
    """64-bit tags of output labels of shape (copies, n_out, 2): low word of H(L, 2^64 + o·C + c).

    Bit 64 of the tweak keeps these tweaks apart from the gate tweaks (< 2^64), so each tweak is still
    used once per Δ. ``total``/``first``: the labels are copies ``first ..`` of a garbling of ``total``
    copies (C = total, c = first + row); default: the whole garbling. Computed by the compiled AES-NI
    kernel where it is available (:func:`private_mdi.gc.aesni.output_tags`, whatever the garbling backend;
    the same tags, tested against this path), else by two AES-ECB passes of :mod:`cryptography`.
    """
    c, n = labels.shape[0], labels.shape[1]
    big = c if total is None else total
    if aesni.AVAILABLE and labels.dtype == np.uint64 and labels.ndim == 3:
        return aesni.output_tags(labels, big, first)
    tweak = (np.arange(n, dtype=np.uint64)[None, :] * np.uint64(big)
             + np.arange(first, first + c, dtype=np.uint64)[:, None])
    return tccr_hash(labels, tweak, 1, aes)[..., 0].copy()


@dataclass(frozen=True, eq=False)
class Decoder:
    """Output decoding information: ``bits`` (copies, n_out) uint8 and ``tags`` (copies, n_out, 2) uint64.

    The output bit of active label L is ``lsb(L) ⊕ bits``; L is accepted only if the 64-bit tag of L
    (see :func:`output_tags`) equals ``tags[..., lsb(L)]``.
    """

    circuit: Circuit
    bits: np.ndarray
    tags: np.ndarray

    @property
    def copies(self) -> int:
        return int(self.bits.shape[0])

    @property
    def n_outputs(self) -> int:
        return int(self.bits.shape[1])

    def decode(self, output_labels: Labels | np.ndarray) -> np.ndarray:
        """Output bits (copies, n_out) uint8; GarbledDecodeError if a label is not one of the two valid ones.

        bit = lsb(L) ⊕ d, accepted only if tag(L) = tags[lsb(L)] (a wrong label passes with prob. 2^-64).
        """
        return self.decode_copies(output_labels, 0, whole=True)

    def decode_copies(
        self, output_labels: Labels | np.ndarray, first: int, *, whole: bool = False
    ) -> np.ndarray:
        """:meth:`decode` for copies ``first .. first + n − 1`` of this decoder's garbling (n = the labels'
        copies; see :func:`~.garble.evaluate_copies`)."""
        lab = output_labels.array if isinstance(output_labels, Labels) else Labels(output_labels).array
        n = self.copies if whole else lab.shape[0]
        if not 0 <= first <= self.copies - n or lab.shape[:2] != (n, self.n_outputs):
            raise ParameterError(
                f"output labels must have shape {(n, self.n_outputs, 2)} for copies {first}.. of "
                f"{self.copies}, got {lab.shape}"
            )
        bits, tags = self.bits[first : first + n], self.tags[first : first + n]
        s = (lab[..., 0] & np.uint64(1)).astype(np.uint8)
        expected = np.where(s.astype(bool), tags[..., 1], tags[..., 0])
        bad = output_tags(lab, total=self.copies, first=first) != expected
        if bad.any():
            c, o = (int(v) for v in np.argwhere(bad)[0])
            raise GarbledDecodeError(
                f"{int(bad.sum())} output label(s) are neither valid label of their wire "
                f"(first: copy {c}, output bit {o}); an input label was wrong or the tables do not match"
            )
        return s ^ bits

    def to_bytes(self) -> bytes:
        c, n = self.bits.shape
        packed = np.packbits(self.bits.reshape(-1), bitorder="little").tobytes()
        return (_header(b"GCD", c, n, fp=self.circuit.fingerprint) + packed
                + self.tags.astype("<u8").tobytes())

    @classmethod
    def from_bytes(cls, data: bytes, circuit: Circuit) -> Decoder:
        fp, (c, n), head = _parse_header(data, b"GCD", 2, "Decoder", fp=True)
        if fp != circuit.fingerprint:
            raise GCFormatError("Decoder: made for another circuit (fingerprint mismatch)")
        if n != circuit.n_outputs:
            raise GCFormatError(f"Decoder: {n} output wires, circuit has {circuit.n_outputs}")
        nbits = (c * n + 7) // 8
        _check_len(data, head + nbits + 2 * TAG_BYTES * c * n, "Decoder")
        raw = bytes(data)
        packed = np.frombuffer(raw[head : head + nbits], dtype=np.uint8)
        bits = np.unpackbits(packed, count=c * n, bitorder="little").reshape(c, n)
        if nbits and np.unpackbits(packed, bitorder="little")[c * n :].any():
            raise GCFormatError("Decoder: non-zero padding bits")
        tags = _labels_from(raw[head + nbits :], (c, n, 2))
        return cls(circuit, bits, tags)


def assemble_labels(circuit: Circuit, groups: Mapping[str, Labels | np.ndarray]) -> Labels:
    """Concatenate the labels of every input group (in the circuit's group order) into one Labels."""
    circuit.require_groups(groups, "labels")
    parts = []
    copies: int | None = None
    for name, wires in circuit.inputs.items():
        g = groups[name]
        arr = g.array if isinstance(g, Labels) else _as_label_array(g, f"labels of {name!r}", 3)
        if arr.shape[1] != wires.size:
            raise ParameterError(f"labels of {name!r} cover {arr.shape[1]} wires, the group has {wires.size}")
        if copies is None:
            copies = arr.shape[0]
        elif arr.shape[0] != copies:
            raise ParameterError(f"labels of {name!r} have {arr.shape[0]} copies, expected {copies}")
        parts.append(arr)
    return Labels(np.concatenate(parts, axis=1) if parts else np.zeros((0, 0, 2), np.uint64))
