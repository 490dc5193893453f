"""privateMDI parties — client C, cloud S, edges E_1..E_K — and the bytes they exchange.

Roles hold their own state and talk only through a :class:`~cmpc.net.base.Transport`; the phases
themselves are written in :mod:`private_mdi.offline` and :mod:`private_mdi.online`, and
:mod:`private_mdi.inference` runs the roles (threads over an in-memory network, or processes).

Party names: ``"client"``, ``"cloud"``, ``"edge1"`` … ``"edgeK"``.

Wire format
-----------
Every frame is an envelope (all integers little-endian)::

    b"PMDI" | version:u8 (=1) | kind:u8 | inference:u32 | layer:u16 | count:u32 | payload_len:u32 | payload

``inference`` is the id of the (first) inference the frame is about, ``count`` how many consecutive
inferences it covers (batched offline messages), ``layer`` the linear layer ℓ (0 when not applicable).
:meth:`Frame.from_bytes` rejects a wrong magic, version, unknown kind or a length mismatch with
:class:`~cmpc.errors.ProtocolError`. Payloads are built from the building blocks' own encodings
(Paillier ciphertext batches, garbled tables, labels, OT messages) and from field vectors:

* field array: ``rows:u32 | cols:u32 | width:u8 (4 or 8) | rows·cols values`` (each < p, checked);
* several parts: ``n:u16 | (len:u32 | bytes) × n``.

What each party sees is listed in ``docs/private-mdi.md`` ("What leaks").
"""

from __future__ import annotations

import dataclasses
import json
import struct
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np

from cmpc.errors import ProtocolError, TransportError
from cmpc.field import PrimeField
from cmpc.net.base import Transport
from cmpc.rand import RandomSource, resolve

from .errors import MaterialReusedError, ParameterError
from .model import QuantizedLayer

__all__ = [
    "CLIENT",
    "CLOUD",
    "Client",
    "Cloud",
    "Edge",
    "Frame",
    "Kind",
    "Mailbox",
    "Phase",
    "SessionSpec",
    "decode_field",
    "edge_name",
    "encode_field",
    "join_parts",
    "split_parts",
]

CLIENT = "client"
CLOUD = "cloud"
MAGIC = b"PMDI"
VERSION = 1
_HEAD = struct.Struct("<4sBBIHII")
_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")


def edge_name(j: int) -> str:
    """Party name of edge ``j`` (1-based)."""
    return f"edge{j}"


class Phase:
    """Meter labels (the ``phase=`` of every send)."""

    SETUP = "setup"
    PAILLIER = "offline-paillier"
    GARBLING = "offline-garbling"
    OT = "offline-ot"
    ONLINE = "online"
    OFFLINE = (PAILLIER, GARBLING, OT)


class Kind(IntEnum):
    """Frame kinds."""

    PAILLIER_KEY = 1  # C → S: Paillier public key
    KA_PUBLIC = 2  # C ↔ S: X25519 public key
    WEIGHTS = 3  # S → host(ℓ): Ŵ_ℓ, β̂_ℓ
    OFFLINE_REQUEST = 4  # C → S: prepare material for inferences [id, id + count)
    ENC_MASKS = 10  # C → S: Enc(r_ℓ) for a batch of inferences
    ENC_CORRELATION = 11  # S → C: Enc(W r − s + p ρ)
    S_SHARE = 12  # S → host(ℓ): s_ℓ for a batch
    GARBLED = 20  # S → host(ℓ+1): garbled tables + decoder of the ReLU after ℓ
    B_KEYS = 21  # S → host(ℓ): zero labels of the b-wires and Δ
    OT_SENDER = 30  # S → host(ℓ+1): both labels of C's wires, permuted and padded
    OT_CHOOSER = 31  # C → host(ℓ+1): c ⊕ π and the pad of that position
    INPUT = 40  # C → host(1): u_1 = x̂ − r_1
    LABELS = 41  # host(ℓ) → host(ℓ+1): labels of b_ℓ
    OUTPUT = 42  # host(L) → C: b_L
    DONE = 50  # any → orchestrator-level acknowledgement (offline finished)


@dataclass(frozen=True)
class Frame:
    """One protocol message (see the module docstring for the byte layout)."""

    kind: Kind
    inference: int
    layer: int
    payload: bytes
    count: int = 1

    def to_bytes(self) -> bytes:
        return (
            _HEAD.pack(
                MAGIC, VERSION, int(self.kind), self.inference, self.layer, self.count, len(self.payload)
            )
            + self.payload
        )

    @classmethod
    def from_bytes(cls, data: bytes, *, peer: str | None = None) -> Frame:
        where = f" from {peer}" if peer else ""
        if len(data) < _HEAD.size:
            raise ProtocolError(
                f"frame{where}: {len(data)} bytes is shorter than the {_HEAD.size}-byte header"
            )
        magic, version, kind, inference, layer, count, n = _HEAD.unpack_from(data)
        if magic != MAGIC:
            raise ProtocolError(f"frame{where}: bad magic {magic!r}, expected {MAGIC!r}")
        if version != VERSION:
            raise ProtocolError(f"frame{where}: unsupported version {version}, expected {VERSION}")
        try:
            k = Kind(kind)
        except ValueError:
            raise ProtocolError(f"frame{where}: unknown kind {kind}") from None
        if len(data) != _HEAD.size + n:
            raise ProtocolError(f"frame{where}: payload length {len(data) - _HEAD.size}, header says {n}")
        return cls(k, inference, layer, bytes(data[_HEAD.size :]), count)


def encode_field(values: np.ndarray, p: int) -> bytes:
    """A 1-D or 2-D array of field elements in [0, p) (see the module docstring)."""
    arr = np.asarray(values, dtype=np.int64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ParameterError(f"field arrays must be 1-D or 2-D, got shape {arr.shape}")
    width = 4 if p <= 2**32 else 8
    dtype = "<u4" if width == 4 else "<u8"
    return _U32.pack(arr.shape[0]) + _U32.pack(arr.shape[1]) + bytes([width]) + arr.astype(dtype).tobytes()


def decode_field(
    data: bytes, p: int, *, shape: tuple[int, int] | None = None, what: str = "field array"
) -> np.ndarray:
    """Inverse of :func:`encode_field` (2-D int64); checks the length, the width and that values are < p."""
    if len(data) < 9:
        raise ProtocolError(f"{what}: {len(data)} bytes is too short")
    rows, cols = _U32.unpack_from(data, 0)[0], _U32.unpack_from(data, 4)[0]
    width = data[8]
    if width != (4 if p <= 2**32 else 8):
        raise ProtocolError(f"{what}: element width {width} does not match p = {p}")
    if len(data) != 9 + rows * cols * width:
        raise ProtocolError(f"{what}: {len(data)} bytes for {rows}x{cols} elements of {width} bytes")
    if shape is not None and (rows, cols) != shape:
        raise ProtocolError(f"{what}: shape ({rows}, {cols}), expected {shape}")
    arr = np.frombuffer(data, dtype="<u4" if width == 4 else "<u8", offset=9).astype(np.int64)
    if arr.size and (int(arr.max()) >= p or int(arr.min()) < 0):
        raise ProtocolError(f"{what}: value outside [0, p) for p = {p}")
    return arr.reshape(rows, cols)


def join_parts(parts: Iterable[bytes]) -> bytes:
    """Concatenate byte strings with u32 length prefixes (``n:u16`` first)."""
    items = list(parts)
    return _U16.pack(len(items)) + b"".join(_U32.pack(len(x)) + x for x in items)


def split_parts(data: bytes, n: int, *, what: str = "payload") -> list[bytes]:
    """Inverse of :func:`join_parts`, requiring exactly ``n`` parts and no trailing bytes."""
    if len(data) < 2 or _U16.unpack_from(data)[0] != n:
        raise ProtocolError(f"{what}: expected {n} parts")
    pos, out = 2, []
    for _ in range(n):
        if pos + 4 > len(data):
            raise ProtocolError(f"{what}: truncated")
        ln = _U32.unpack_from(data, pos)[0]
        pos += 4
        if pos + ln > len(data):
            raise ProtocolError(f"{what}: truncated")
        out.append(data[pos : pos + ln])
        pos += ln
    if pos != len(data):
        raise ProtocolError(f"{what}: {len(data) - pos} trailing bytes")
    return out


class Mailbox:
    """A party's inbox over a transport: wait for a frame of a given kind (and peer, inference, layer).

    Frames that arrive while waiting for something else are kept, in order, for later ``expect`` calls;
    so a party can process its messages in the order its protocol needs, whatever order peers send in.
    """

    def __init__(self, transport: Transport, *, timeout: float = 60.0) -> None:
        self.transport = transport
        self.timeout = timeout
        self._pending: deque[tuple[str, Frame]] = deque()

    @property
    def party(self) -> str:
        return self.transport.party

    def send(self, peer: str, frame: Frame, phase: str) -> int:
        """Send a frame; returns its size in bytes."""
        data = frame.to_bytes()
        self.transport.send(peer, data, phase=phase)
        return len(data)

    def expect(
        self,
        kinds: Kind | Iterable[Kind],
        *,
        src: str | None = None,
        inference: int | None = None,
        layer: int | None = None,
        timeout: float | None = None,
    ) -> tuple[str, Frame]:
        """The first (buffered or arriving) frame matching the filters; ``TransportError`` on timeout."""
        want = {kinds} if isinstance(kinds, Kind) else set(kinds)

        def match(peer: str, fr: Frame) -> bool:
            return (
                fr.kind in want
                and (src is None or peer == src)
                and (inference is None or fr.inference == inference)
                and (layer is None or fr.layer == layer)
            )

        for i, (peer, fr) in enumerate(self._pending):
            if match(peer, fr):
                del self._pending[i]
                return peer, fr
        budget = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                names = ", ".join(k.name for k in sorted(want))
                raise TransportError(
                    f"{self.party}: no {names} frame"
                    + (f" from {src}" if src else "")
                    + f" within {budget:.3g} s",
                    peer=src,
                )
            peer, data = self.transport.recv(timeout=left)
            fr = Frame.from_bytes(data, peer=peer)
            if match(peer, fr):
                return peer, fr
            self._pending.append((peer, fr))


@dataclass(frozen=True)
class SessionSpec:
    """Public parameters every party knows: field, fixed point, layer sizes, placement, pooling windows.

    ``dims = (d_0, …, d_L)``: ``d_0`` is the input size and ``d_ℓ`` the output size of linear layer ℓ;
    ``hosts[ℓ−1] = host(ℓ)``. ``pools`` has one entry per ReLU layer ℓ < L (or is empty for none):
    ``None``, or the max-pooling windows after that ReLU as tuples of output indices. Without pooling
    layer ℓ + 1 takes ``d_ℓ`` inputs; with it, one per window (:meth:`in_dim`). ``weight_bounds`` are the
    public Paillier weight bounds (2^b − 1 for the bit length b of each layer's largest |Ŵ|).
    """

    p: int
    f: int
    dims: tuple[int, ...]
    hosts: tuple[int, ...]
    edges: int
    weight_bounds: tuple[int, ...]
    key_bits: int = 2048
    pools: tuple[tuple[tuple[int, ...], ...] | None, ...] = ()

    @property
    def layers(self) -> int:
        return len(self.dims) - 1

    @property
    def bits(self) -> int:
        """k: bits per field element in the garbled circuits."""
        return self.p.bit_length()

    def pool(self, layer: int) -> np.ndarray | None:
        """Max-pooling windows after the ReLU of ``layer`` as an int array (windows, size), or None."""
        if layer - 1 >= len(self.pools) or self.pools[layer - 1] is None:
            return None
        return np.asarray(self.pools[layer - 1], dtype=np.int64)

    def window(self, layer: int) -> int:
        """Field elements per garbled-circuit copy after ``layer``: 1, or the pooling window size."""
        pool = self.pool(layer)
        return 1 if pool is None else int(pool.shape[1])

    def relu_copies(self, layer: int) -> int:
        """Garbled-circuit copies after ``layer`` (< L): one per neuron, or one per pooling window."""
        pool = self.pool(layer)
        return self.dims[layer] if pool is None else int(pool.shape[0])

    def in_dim(self, layer: int) -> int:
        """Input size of linear layer ``layer``."""
        return self.dims[0] if layer == 1 else self.relu_copies(layer - 1)

    def host(self, layer: int) -> str:
        return edge_name(self.hosts[layer - 1])

    def evaluator(self, layer: int) -> str:
        """The edge that evaluates the garbled ReLU after ``layer`` (= host(layer + 1))."""
        return edge_name(self.hosts[layer])

    def edge_names(self) -> list[str]:
        return [edge_name(j) for j in range(1, self.edges + 1)]

    def parties(self) -> list[str]:
        return [CLIENT, CLOUD, *self.edge_names()]

    def to_json(self) -> str:
        """JSON text (public parameters only); :meth:`from_json` reads it back."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SessionSpec:
        d = json.loads(text)
        try:
            return cls(
                p=int(d["p"]),
                f=int(d["f"]),
                dims=tuple(int(v) for v in d["dims"]),
                hosts=tuple(int(v) for v in d["hosts"]),
                edges=int(d["edges"]),
                weight_bounds=tuple(int(v) for v in d["weight_bounds"]),
                key_bits=int(d["key_bits"]),
                pools=tuple(
                    None if pl is None else tuple(tuple(int(i) for i in win) for win in pl)
                    for pl in d["pools"]
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ParameterError(f"malformed session spec: {exc!r}") from exc


class _Role:
    def __init__(
        self, transport: Transport, spec: SessionSpec, rng: RandomSource | None, timeout: float
    ) -> None:
        self.spec = spec
        self.field = PrimeField(spec.p)
        self.rng = resolve(rng)
        self.mail = Mailbox(transport, timeout=timeout)
        #: seconds spent per activity (filled by the phase code)
        self.times: dict[str, float] = {}

    @property
    def name(self) -> str:
        return self.mail.party

    def add_time(self, what: str, seconds: float) -> None:
        self.times[what] = self.times.get(what, 0.0) + seconds


class Client(_Role):
    """C: owns the input; makes the Paillier key, masks, learns a_ℓ; online sends u_1 and gets b_L.

    ``material[i]`` holds, for inference i: ``r1`` (input mask, d_0 values) and ``aL`` (share of the
    output, d_L values); everything else it learns offline (a_ℓ, r_{ℓ+1} for ℓ < L) is consumed by the
    oblivious transfers and dropped.
    """

    def __init__(
        self,
        transport: Transport,
        spec: SessionSpec,
        *,
        rng: RandomSource | None = None,
        timeout: float = 60.0,
        paillier_keys: object | None = None,
    ) -> None:
        super().__init__(transport, spec, rng, timeout)
        self.paillier_keys = paillier_keys
        self.shared_key: bytes | None = None
        self.ot: Any = None  # OTChooser after setup
        self.material: dict[int, dict[str, np.ndarray]] = {}
        self.used: set[int] = set()

    def take(self, inference: int) -> dict[str, np.ndarray]:
        """The material of one inference, removed so that it cannot be used twice."""
        if inference in self.used:
            raise MaterialReusedError(f"client: offline material of inference {inference} was already used")
        if inference not in self.material:
            raise MaterialReusedError(
                f"client: no offline material for inference {inference}: run offline() first"
            )
        self.used.add(inference)
        return self.material.pop(inference)

    def storage_bytes(self) -> int:
        """Bytes of offline material held per inference (r_1 and a_L as field elements)."""
        width = 4 if self.spec.p <= 2**32 else 8
        return width * (self.spec.dims[0] + self.spec.dims[-1])


class Cloud(_Role):
    """S: owns the model; only offline. Holds the quantised layers (Ŵ_ℓ, β̂_ℓ)."""

    def __init__(
        self,
        transport: Transport,
        spec: SessionSpec,
        layers: list[QuantizedLayer],
        *,
        rng: RandomSource | None = None,
        timeout: float = 60.0,
    ) -> None:
        super().__init__(transport, spec, rng, timeout)
        if len(layers) != spec.layers:
            raise ParameterError(f"cloud: {len(layers)} layers for a spec of {spec.layers}")
        self.layers = layers
        self.paillier_public: object | None = None
        self.pool: Any = None  # RandomizerPool after setup
        self.shared_key: bytes | None = None
        self.ot: Any = None  # OTSender after setup


class Edge(_Role):
    """E_j: holds its layers' weights; offline it stores s_ℓ, b-wire keys, garbled ReLUs and OT'd labels.

    ``weights[ℓ] = (Ŵ_ℓ mod p, β̂_ℓ mod p)`` for the layers it hosts. Material per inference ``i``:
    ``s[(i, ℓ)]``, ``bkeys[(i, ℓ)]`` (it hosts ℓ), ``garbled[(i, ℓ)]`` and ``client_labels[(i, ℓ)]`` (it
    evaluates the ReLU after ℓ). Every entry is removed when used.
    """

    def __init__(
        self,
        transport: Transport,
        spec: SessionSpec,
        index: int,
        *,
        rng: RandomSource | None = None,
        timeout: float = 60.0,
    ) -> None:
        super().__init__(transport, spec, rng, timeout)
        self.index = index
        self.weights: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.s: dict[tuple[int, int], Any] = {}
        self.bkeys: dict[tuple[int, int], Any] = {}
        self.garbled: dict[tuple[int, int], Any] = {}
        self.client_labels: dict[tuple[int, int], Any] = {}
        self.used: set[tuple[str, int, int]] = set()
        #: bytes of offline material stored per inference
        self.storage: dict[int, int] = {}
        #: per-inference busy seconds online (linear algebra + garbled evaluation + encoding)
        self.busy: dict[int, float] = {}

    @property
    def hosted(self) -> list[int]:
        return [ell for ell in range(1, self.spec.layers + 1) if self.spec.hosts[ell - 1] == self.index]

    @property
    def evaluated(self) -> list[int]:
        """Layers ℓ < L whose ReLU this edge evaluates (it hosts ℓ + 1)."""
        return [ell for ell in range(1, self.spec.layers) if self.spec.hosts[ell] == self.index]

    def pop(self, store: dict[tuple[int, int], Any], what: str, inference: int, layer: int) -> Any:
        """Remove and return single-use material; :class:`MaterialReusedError` if used or missing."""
        key = (inference, layer)
        if (what, inference, layer) in self.used:
            raise MaterialReusedError(
                f"{self.name}: {what} of inference {inference}, layer {layer} was already used (single use)"
            )
        if key not in store:
            raise MaterialReusedError(
                f"{self.name}: no {what} for inference {inference}, layer {layer}: run offline() first"
            )
        self.used.add((what, inference, layer))
        return store.pop(key)
