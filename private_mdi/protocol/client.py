"""The client C as a sans-I/O state machine — and the orchestrator of a session.

C owns the input and the Paillier key. Each operation begins with a ``begin_*`` call that returns the
messages to send; :meth:`Client.handle` processes replies; ``expecting`` stays true until the operation is
complete. The cloud and the edges are reactive servers, driven by these messages only (so in-process and
process parties are one interface):

* :meth:`begin_setup` — Paillier public key and X25519 key to S; ``SetupBegin`` to every edge; done when
  S's X25519 key (→ k_CS, the OT chooser) and every edge's ``SetupDone`` have arrived.
* :meth:`begin_offline` — prepares ``n`` inferences in **chunks** of ``chunk`` inferences with at most
  ``window`` chunks in flight: per chunk ``OfflineBegin`` to S and the edges, then Enc(r_ℓ) per Paillier
  batch (:func:`~private_mdi.paillier.client_encrypt_mask`). On S's replies it decrypts
  ``a_ℓ = Ŵ_ℓ r_ℓ − s_ℓ mod p`` and sends its OT chooser messages (the bits of a_ℓ and r_{ℓ+1}) to the
  evaluators. A chunk is complete when every edge said ``ChunkDone``: only then does its material
  (r_1 and a_L per inference) become usable, and ``on_chunk(count)`` is called (progress). Material of
  completed chunks stays usable whatever happens later.
* :meth:`begin_online` — ``u_1 = x̂ − r_1`` to host(1), in batches of up to ``batch`` consecutive
  inferences per message (all batches at once, or one after the other's output with ``pipelined=False``);
  on ``Output`` (one per batch) ``v_L = a_L + b_L``.
* :meth:`begin_stats` / :meth:`shutdown` — ``StatsRequest`` / ``Shutdown`` to every server.

An :class:`~.messages.Abort` from a server is raised here as the error it names.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cmpc import errors as cmpc_errors
from cmpc.checks import check_int
from cmpc.errors import ProtocolError
from cmpc.rand import RandomSource

from .. import errors as mdi_errors
from ..errors import MaterialReusedError, PrivateMDIError
from ..keyagreement import KeyAgreementKey, decode_public_key, encode_public_key, shared_key
from ..ot import OTChooser
from ..paillier import (
    ROLE_THREADS,
    EncryptedReply,
    PaillierKeyPair,
    client_decrypt_reply,
    client_encrypt_mask,
)
from . import messages as m
from .base import Outgoing, RoleBase
from .cloud import KCS_CONTEXT
from .layout import (
    MAX_BATCH,
    batch_plan,
    chunk_containing,
    client_wire_bits,
    correlation_params,
    online_batches,
    transfer_id,
)
from .spec import CLIENT, CLOUD, SessionSpec, edge_name

__all__ = ["Client", "PartyError"]


class PartyError(PrivateMDIError):
    """A server party reported a failure of a kind this process does not know (type and text inside)."""


def _abort_error(sender: str, body: dict[str, Any]) -> Exception:
    name, text = str(body.get("type", "")), f"{sender}: {body.get('message', '')}"
    for module in (mdi_errors, cmpc_errors):
        cls = getattr(module, name, None)
        if isinstance(cls, type) and issubclass(cls, cmpc_errors.CMPCError):
            try:
                return cls(text)
            except TypeError:
                break
    return PartyError(f"{sender}: {name}: {body.get('message', '')}")


class _Chunk:
    def __init__(self, spec: SessionSpec, first: int, count: int) -> None:
        self.first, self.count = first, count
        self.states: dict[tuple[int, int], Any] = {}
        self.r = {ell: np.zeros((count, spec.in_dim(ell)), np.int64) for ell in range(1, spec.layers + 1)}
        self.a = {ell: np.zeros((count, spec.dims[ell]), np.int64) for ell in range(1, spec.layers + 1)}
        self.edges_done: set[str] = set()
        self.material: dict[int, tuple[np.ndarray, np.ndarray]] | None = None


class Client(RoleBase):
    """C (see the module docstring)."""

    name = CLIENT

    def __init__(
        self,
        spec: SessionSpec,
        *,
        rng: RandomSource | None = None,
        paillier_keys: PaillierKeyPair | None = None,
    ) -> None:
        super().__init__(spec, rng)
        self.paillier_keys = paillier_keys
        self.ot: OTChooser | None = None
        self._ka: KeyAgreementKey | None = None
        self._waiting: set[Any] = set()
        #: usable offline material: inference → (r_1, a_L)
        self.material: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.used: set[int] = set()
        self._todo: deque[tuple[int, int]] = deque()
        self._chunks: dict[int, _Chunk] = {}
        self._window = 1
        self.on_chunk: Callable[[int], None] = lambda _n: None
        #: online: inference → a_L of inferences in flight, results v_L, inputs not yet sent
        self._shares: dict[int, tuple[list[int], np.ndarray]] = {}
        self.results: dict[int, np.ndarray] = {}
        self._queued: deque[list[tuple[str, m.Message]]] = deque()
        #: output slices b_L^(j) received so far per inference in flight
        self._parts: dict[int, dict[int, np.ndarray]] = {}
        #: Stats replies by party
        self.stats: dict[str, dict[str, Any]] = {}
        #: bytes of offline material stored per inference, as each edge reported them
        self.edge_storage: dict[str, list[tuple[int, int]]] = {}

    @property
    def expecting(self) -> bool:
        return bool(self._waiting or self._chunks or self._todo or self._shares)

    @property
    def servers(self) -> list[str]:
        return [CLOUD, *self.spec.edge_names()]

    def storage_bytes(self) -> int:
        """Bytes of offline material held per inference (r_1 and a_L as field elements)."""
        width = 4 if self.spec.p <= 2**32 else 8
        return width * (self.spec.dims[0] + self.spec.dims[-1])

    # -- setup -----------------------------------------------------------------------------------------
    def begin_setup(self) -> Outgoing:
        if self.paillier_keys is None:
            with self.timed("keygen"):
                self.paillier_keys = PaillierKeyPair.generate(self.spec.key_bits, self.rng)
        self._ka = KeyAgreementKey.generate(self.rng)
        self._waiting |= {("ka", CLOUD), *(("setup", e) for e in self.spec.edge_names())}
        out: Outgoing = [
            (CLOUD, m.PaillierKey(payload=self.paillier_keys.public.to_bytes())),
            (CLOUD, m.KaPublic(payload=encode_public_key(self._ka.public_bytes))),
        ]
        return out + [(e, m.SetupBegin()) for e in self.spec.edge_names()]

    # -- offline ---------------------------------------------------------------------------------------
    def begin_offline(self, first: int, n: int, *, chunk: int = 32, window: int = 2) -> Outgoing:
        """Start preparing inferences ``first .. first + n − 1`` (see the module docstring)."""
        if self.ot is None:
            raise ProtocolError("client: offline before setup")
        self._todo.extend((f, min(chunk, first + n - f)) for f in range(first, first + n, chunk))
        self._window = window
        return self._next_chunks()

    def abandon_offline(self) -> int:
        """Forget chunks not completed (after a failure); returns how many inferences were dropped."""
        lost = sum(c.count for c in self._chunks.values()) + sum(c for _, c in self._todo)
        self._chunks.clear()
        self._todo.clear()
        return lost

    def _next_chunks(self) -> Outgoing:
        out: Outgoing = []
        kp = self.paillier_keys
        assert kp is not None
        while self._todo and len(self._chunks) < self._window:
            first, count = self._todo.popleft()
            chunk = _Chunk(self.spec, first, count)
            self._chunks[first] = chunk
            out += [(party, m.OfflineBegin(first, 0, b"", count)) for party in self.servers]
            for ell in range(1, self.spec.layers + 1):
                for cf, cnt in batch_plan(self.spec, ell, first, count):
                    with self.timed("paillier"):
                        # upload pad: n_in CRT decryptions on ROLE_THREADS cores (same bytes for any count)
                        state, msg = client_encrypt_mask(
                            kp, correlation_params(self.spec, ell, cnt), self.rng, threads=ROLE_THREADS
                        )
                    chunk.states[(ell, cf)] = state
                    out.append((CLOUD, m.EncMasks(cf, ell, msg.to_bytes(), cnt)))
        return out

    def _chunk_of(self, inference: int, what: str) -> _Chunk:
        chunk = chunk_containing(self._chunks.values(), inference)
        if chunk is None:
            raise ProtocolError(f"client: {what} for inference {inference}, which is not being prepared")
        return chunk

    def _correlation(self, message: m.Message) -> Outgoing:
        spec, ell, cf = self.spec, message.layer, message.inference
        kp = self.paillier_keys
        assert kp is not None and self.ot is not None
        chunk = self._chunk_of(cf, "a correlation")
        state = chunk.states.pop((ell, cf), None)
        if state is None:
            raise ProtocolError(f"client: unexpected correlation for layer {ell}, inference {cf}")
        with self.timed("paillier"):
            reply = EncryptedReply.from_bytes(message.payload, kp.public)
            rr, aa = client_decrypt_reply(kp, state, reply, threads=ROLE_THREADS)  # type: ignore[misc]
        lo = cf - chunk.first
        chunk.r[ell][lo : lo + message.count] = rr
        chunk.a[ell][lo : lo + message.count] = aa
        if chunk.states:
            return []
        # every correlation of the chunk is in: OT chooser messages for C's wires (a_ℓ, r_{ℓ+1})
        out: Outgoing = []
        with self.timed("ot"):
            for ell2 in range(1, spec.layers):
                for sj, (_, lo, hi, ev) in enumerate(spec.slices_of(ell2)):
                    ca, cb = spec.copy_range(ell2, sj)
                    a_j, r_j = chunk.a[ell2][:, lo:hi], chunk.r[ell2 + 1][:, ca:cb]
                    bits = client_wire_bits(spec, ell2, a_j, r_j, sj)
                    unit, first = spec.unit(ell2, sj), chunk.first
                    # one transfer per (chunk, slice): copies in inference order, as the cloud garbled them
                    chosen = self.ot.message(bits.reshape(-1), 16, transfer_id(first, unit)).to_bytes()
                    out.append((edge_name(ev), m.OtChooser(first, unit, chosen, chunk.count)))
        last = spec.layers
        chunk.material = {
            chunk.first + j: (chunk.r[1][j].copy(), chunk.a[last][j].copy()) for j in range(chunk.count)
        }
        chunk.r, chunk.a = {}, {}
        return out + self._complete(chunk)

    def _complete(self, chunk: _Chunk) -> Outgoing:
        if chunk.material is None or len(chunk.edges_done) < self.spec.edges:
            return []
        del self._chunks[chunk.first]
        self.material.update(chunk.material)
        self.on_chunk(chunk.count)
        return self._next_chunks()

    @property
    def preparing(self) -> int:
        """Inferences announced but not completed yet."""
        return sum(c.count for c in self._chunks.values()) + sum(c for _, c in self._todo)

    # -- online ----------------------------------------------------------------------------------------
    def take(self, inference: int) -> tuple[np.ndarray, np.ndarray]:
        """The material (r_1, a_L) of one inference, removed so that it cannot be used twice."""
        if inference in self.used:
            raise MaterialReusedError(f"client: offline material of inference {inference} was already used")
        if inference not in self.material:
            raise MaterialReusedError(
                f"client: no offline material for inference {inference}: run offline() first"
            )
        self.used.add(inference)
        return self.material.pop(inference)

    def begin_online(
        self, ids: Sequence[int], x_hat: np.ndarray, *, pipelined: bool = True, batch: int = 32
    ) -> Outgoing:
        """Send ``u_1 = x̂ − r_1`` per inference (consumes its material; errors before any message).

        Inferences travel in **batches**: up to ``batch`` consecutive ids per ``Input`` message (count =
        batch size), evaluated by every edge in one linear step and one garbled evaluation per layer.
        ``pipelined=False`` sends one batch at a time, each after the previous batch's output.
        """
        spec = self.spec
        if x_hat.shape != (len(ids), spec.dims[0]):
            raise ProtocolError(
                f"client: inputs have shape {x_hat.shape}, expected ({len(ids)}, {spec.dims[0]})"
            )
        batch = check_int("batch", batch, 1, MAX_BATCH)
        missing = [i for i in ids if i not in self.material]
        if missing:
            self.take(missing[0])  # raises the right MaterialReusedError
        if len(set(ids)) != len(ids):
            raise ProtocolError("client: an inference id appears twice in one online call")
        first = spec.slices_of(1)
        msgs: list[list[tuple[str, m.Message]]] = []
        for lo, hi in online_batches(ids, batch):
            group = [int(i) for i in ids[lo:hi]]
            taken = [self.take(i) for i in group]
            r1 = np.stack([t[0] for t in taken])
            self._shares[group[0]] = (group, np.stack([t[1] for t in taken]))
            self._parts[group[0]] = {}
            u1 = self.field.raw_sub(x_hat[lo:hi], r1)
            # a split first layer: every host of a slice needs the whole u_1
            msgs.append(
                [
                    (edge_name(h), m.Input.vector(group[0], spec.unit(1, j), u1, spec.p, len(group)))
                    for j, (h, *_r) in enumerate(first)
                ]
            )
        if pipelined:
            return [x for group in msgs for x in group]
        self._queued.extend(msgs[1:])
        return msgs[0] if msgs else []

    def _output(self, sender: str, message: m.Message) -> Outgoing:
        spec, i = self.spec, message.inference
        ell, j = spec.parse_unit(message.layer)
        last = spec.slices_of(spec.layers)
        parts = self._parts.get(i)
        share = self._shares.get(i)
        if (
            ell != spec.layers
            or j >= len(last)
            or sender != edge_name(last[j][0])
            or parts is None
            or share is None
            or j in parts
            or message.count != len(share[0])
        ):
            raise ProtocolError(
                f"client: unexpected output from {sender} for inference {i}, layer {message.layer}, "
                f"count {message.count}"
            )
        parts[j] = message.matrix(spec.p, (message.count, last[j][2] - last[j][1]))
        if len(parts) < len(last):
            return []
        b = np.concatenate([parts[q] for q in range(len(last))], axis=1)
        del self._parts[i]
        group, a_l = self._shares.pop(i)
        v = self.field.raw_add(a_l, b)
        for q, inf in enumerate(group):
            self.results[inf] = v[q]
        return self._queued.popleft() if self._queued else []

    # -- control ---------------------------------------------------------------------------------------
    def begin_stats(self) -> Outgoing:
        self.stats.clear()
        self._waiting |= {("stats", s) for s in self.servers}
        return [(s, m.StatsRequest()) for s in self.servers]

    def shutdown(self) -> Outgoing:
        self.done = True
        return [(s, m.Shutdown()) for s in self.servers]

    def cancel(self) -> None:
        """Drop every outstanding wait (after a failure)."""
        self._waiting.clear()
        self._shares.clear()
        self._parts.clear()
        self._queued.clear()
        self.abandon_offline()

    # -- messages --------------------------------------------------------------------------------------
    def handle(self, sender: str, message: m.Message) -> Outgoing:
        if isinstance(message, m.Abort):
            raise _abort_error(sender, message.json())
        if isinstance(message, m.KaPublic) and ("ka", sender) in self._waiting:
            assert self._ka is not None
            key = shared_key(self._ka, decode_public_key(message.payload), KCS_CONTEXT)
            self.ot = OTChooser(key)
            self._waiting.discard(("ka", sender))
            return []
        if isinstance(message, m.SetupDone) and ("setup", sender) in self._waiting:
            self._waiting.discard(("setup", sender))
            return []
        if isinstance(message, m.EncCorrelation) and sender == CLOUD:
            return self._correlation(message)
        if isinstance(message, m.ChunkDone) and sender in self.spec.edge_names():
            chunk = self._chunks.get(message.inference)
            if chunk is None or chunk.count != message.count or sender in chunk.edges_done:
                raise ProtocolError(f"client: unexpected ChunkDone from {sender} for {message.inference}")
            chunk.edges_done.add(sender)
            self.edge_storage.setdefault(sender, []).append(
                (message.count, int(message.json()["storage_bytes"]))
            )
            return self._complete(chunk)
        if isinstance(message, m.Progress) and sender in self.spec.edge_names():
            return []  # liveness only: the silence timeout restarts
        if isinstance(message, m.Output):
            return self._output(sender, message)
        if isinstance(message, m.Stats) and ("stats", sender) in self._waiting:
            self.stats[sender] = message.json()
            self._waiting.discard(("stats", sender))
            return []
        raise ProtocolError(f"client: unexpected {type(message).__name__} from {sender}")
