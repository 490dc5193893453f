"""The cloud S as a sans-I/O state machine: it owns the model and takes part only offline.

Setup: on C's Paillier key and X25519 public key it answers its own public key (k_CS = HKDF(X25519)) and
sends every edge the weights of the layers it hosts (and only those). Offline, per chunk of inferences
announced by :class:`~.messages.OfflineBegin` (paper arXiv 2407.18353 §IV; ``docs/private-mdi.md``):

1. each ``EncMasks`` (Enc(r_ℓ) for a Paillier batch) is answered at once with
   ``Enc(Ŵ_ℓ r_ℓ − s_ℓ + p ρ_ℓ)`` (:func:`~private_mdi.paillier.owner_respond`, re-randomised);
2. when every batch of the chunk is answered, s_ℓ goes to host(ℓ) (one ``SShare`` per layer and chunk),
   then for every ℓ < L it garbles the ReLU after ℓ for the whole chunk (one garbling of count·d copies,
   a fresh Δ per copy) and sends the tables and decoder to host(ℓ+1), the b-wire zero labels and Δ to
   host(ℓ), and the OT sender message for C's wires to host(ℓ+1) (one message each per chunk).

The cloud stores nothing per inference beyond the chunk in progress (its s_ℓ until the chunk's
``SShare``). It never sends or receives anything online.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from cmpc.errors import ProtocolError
from cmpc.rand import RandomSource
from cmpc.wire import encode_matrix, join_parts

from ..gc.garble import garble
from ..keyagreement import KeyAgreementKey, decode_public_key, encode_public_key, shared_key
from ..nn.operator import SparseOperator
from ..ot import OTSender
from ..paillier import ROLE_THREADS, PublicKey, RandomizerPool, owner_respond
from . import messages as m
from .base import Outgoing, Reply, ServerRole
from .layout import (
    batch_plan,
    chunk_containing,
    correlation_params,
    labels_to_rows,
    relu_circuit,
    transfer_id,
)
from .sparse_wire import encode_sparse
from .spec import CLIENT, SessionSpec, edge_name

__all__ = ["KCS_CONTEXT", "Cloud", "CloudLayer"]

#: HKDF context of the client–cloud key k_CS
KCS_CONTEXT = b"privateMDI/k_CS"


@dataclass(frozen=True)
class CloudLayer:
    """What S needs of linear layer ℓ: the signed quantised Ŵ_ℓ and β̂_ℓ mod p."""

    index: int
    weight: np.ndarray | SparseOperator
    bias_mod: np.ndarray


class _Chunk:
    def __init__(self, spec: SessionSpec, first: int, count: int) -> None:
        self.first, self.count = first, count
        self.pending = {
            (ell, cf) for ell in range(1, spec.layers + 1) for cf, _ in batch_plan(spec, ell, first, count)
        }
        self.s = {ell: np.zeros((count, spec.dims[ell]), np.int64) for ell in range(1, spec.layers + 1)}


class Cloud(ServerRole):
    """S (see the module docstring)."""

    name = "cloud"

    def __init__(
        self, spec: SessionSpec, layers: list[CloudLayer], *, rng: RandomSource | None = None
    ) -> None:
        super().__init__(spec, rng)
        if len(layers) != spec.layers:
            raise ProtocolError(f"cloud: {len(layers)} layers for a spec of {spec.layers}")
        self.layers = layers
        self.public: PublicKey | None = None
        self.pool: RandomizerPool | None = None
        self.ot: OTSender | None = None
        self._chunks: dict[int, _Chunk] = {}

    def serve(self, sender: str, message: m.Message) -> Reply:
        if sender != CLIENT:
            raise ProtocolError(f"cloud: unexpected {type(message).__name__} from {sender}")
        if isinstance(message, m.PaillierKey):
            pub = PublicKey.from_bytes(message.payload)
            if pub.bits < self.spec.key_bits:
                raise ProtocolError(
                    f"cloud: client's Paillier key has {pub.bits} bits, "
                    f"the session needs {self.spec.key_bits}"
                )
            self.public, self.pool = pub, RandomizerPool(pub, self.rng.spawn())
            return []
        if isinstance(message, m.KaPublic):
            return self._agree(message)
        if isinstance(message, m.OfflineBegin):
            if self.ot is None or message.inference in self._chunks:
                raise ProtocolError(f"cloud: OfflineBegin for {message.inference} before setup or twice")
            self._chunks[message.inference] = _Chunk(self.spec, message.inference, message.count)
            return []
        if isinstance(message, m.EncMasks):
            return self._respond(message)
        return super().serve(sender, message)

    def _agree(self, message: m.KaPublic) -> Outgoing:
        sk = KeyAgreementKey.generate(self.rng)
        key = shared_key(sk, decode_public_key(message.payload), KCS_CONTEXT)
        self.ot = OTSender(key)
        out: Outgoing = [(CLIENT, m.KaPublic(payload=encode_public_key(sk.public_bytes)))]
        p = self.spec.p
        for q in self.layers:
            for j, (h, lo, hi, _) in enumerate(self.spec.slices_of(q.index)):
                wq, b = q.weight, q.bias_mod[lo:hi]
                # a sparse layer travels as its CSR rows (sparse_wire), a dense one as a field matrix
                w_bytes = (
                    encode_sparse(wq.rows(lo, hi), p)
                    if isinstance(wq, SparseOperator)
                    else encode_matrix(np.mod(wq[lo:hi], p), p)
                )
                payload = join_parts([w_bytes, encode_matrix(b, p)])
                out.append((edge_name(h), m.Weights(0, self.spec.unit(q.index, j), payload)))
        return out

    def _chunk_of(self, inference: int) -> _Chunk:
        chunk = chunk_containing(self._chunks.values(), inference)
        if chunk is None:
            raise ProtocolError(f"cloud: request for inference {inference} outside every announced chunk")
        return chunk

    def _respond(self, message: m.EncMasks) -> Reply:
        spec, ell, cf = self.spec, message.layer, message.inference
        if self.public is None:
            raise ProtocolError("cloud: masks before the Paillier key")
        chunk = self._chunk_of(cf)
        if (ell, cf) not in chunk.pending:
            raise ProtocolError(f"cloud: unexpected masks for layer {ell}, inference {cf}")
        want = dict(batch_plan(spec, ell, chunk.first, chunk.count))[cf]
        if message.count != want:
            raise ProtocolError(f"cloud: request for {message.count} inferences, expected {want}")
        chunk.pending.discard((ell, cf))
        params = correlation_params(spec, ell, want)
        with self.timed("paillier"):
            if self.pool is not None and ROLE_THREADS > 1:
                # the reply's re-randomisers u^n on every core first (the pool's own randomness, drawn in
                # order: the same units as computing them one by one while answering)
                need = params.layout(self.public.bits).reply_cts - len(self.pool)
                if need > 0:
                    self.pool.fill(need, threads=ROLE_THREADS)
            s, reply = owner_respond(
                self.public, self.layers[ell - 1].weight, params, message.payload, self.rng, pool=self.pool
            )
        chunk.s[ell][cf - chunk.first : cf - chunk.first + want] = s
        out: Outgoing = [(CLIENT, m.EncCorrelation(cf, ell, reply.to_bytes(), want))]
        if not chunk.pending:
            del self._chunks[chunk.first]
            return itertools.chain(out, self._finish(chunk))
        return out

    def _finish(self, chunk: _Chunk) -> Iterator[tuple[str, m.Message]]:
        """s-vectors to the hosts, then the garbled ReLUs, b-wire keys and OT sender messages, one garbling
        per (chunk, layer slice) (a generator: the driver sends each as soon as it is garbled)."""
        spec, p = self.spec, self.spec.p
        assert self.ot is not None
        for ell in range(1, spec.layers + 1):
            for j, (h, lo, hi, _) in enumerate(spec.slices_of(ell)):
                s_j = chunk.s[ell][:, lo:hi]
                yield edge_name(h), m.SShare.vector(chunk.first, spec.unit(ell, j), s_j, p, chunk.count)
        units = [(ell, j) for ell in range(1, spec.layers) for j in range(len(spec.slices_of(ell)))]
        first, count = chunk.first, chunk.count
        for ell, j in units:
            circuit = relu_circuit(spec, ell)
            sl_a, sl_r = circuit.input_slice("a"), circuit.input_slice("r")
            d = spec.slice_copies(ell, j)
            unit, (host, _, _, ev) = spec.unit(ell, j), spec.slices_of(ell)[j]
            # one garbling per (chunk, slice): count·d copies, inference first + q owning copies
            # [q·d, (q+1)·d); every copy has its own fresh Δ and input labels, so every inference's
            # material is fresh and single use, and a gate tweak 2(g·C + c) is used once in the garbling
            # (the evaluator can evaluate any contiguous range of copies: gc.garble.evaluate_copies)
            with self.timed("garbling"):
                g = garble(circuit, copies=count * d, rng=self.rng)
                enc = g.encoder
                tables = join_parts([g.garbled.to_bytes(), g.decoder.to_bytes()])
                bkeys = enc.keys("b").to_bytes()
            yield edge_name(ev), m.Garbled(first, unit, tables, count)
            yield edge_name(host), m.BKeys(first, unit, bkeys, count)
            # OT sender: both labels of every client wire (a, then r): count·d·(window + 1)·k rows of 16 B
            with self.timed("ot"):
                zero = np.concatenate([enc.zero[:, sl_a], enc.zero[:, sl_r]], axis=1)
                one = zero ^ enc.delta[:, None, :]
                ot = self.ot.message(labels_to_rows(zero), labels_to_rows(one), transfer_id(first, unit))
            yield edge_name(ev), m.OtSender(first, unit, ot.to_bytes(), count)
