"""An edge E_j as a sans-I/O state machine: offline it stores material, online it serves inferences.

Setup: it keeps the weights (Ŵ_ℓ mod p, β̂_ℓ mod p) of the layers it hosts and acknowledges
:class:`~.messages.SetupBegin` with ``SetupDone`` once it has all of them. Offline it stores, per
inference, s_ℓ and the b-wire keys (layers it hosts) and the garbled ReLU with the client's labels
obtained by three-party OT (ReLUs it evaluates: it pairs S's ``OtSender`` with C's ``OtChooser``); when
every piece of an announced chunk is stored it answers ``ChunkDone`` (with the bytes stored).

Online (paper arXiv 2407.18353 §IV; ``docs/private-mdi.md``), per inference, in arrival order (so many
inferences are in flight at once): on ``Input`` (host(1)) or ``LabelsMsg`` (after evaluating the garbled
ReLU of the previous layer and decoding ``u_ℓ = x̂_ℓ − r_ℓ``) it computes ``b_ℓ = Ŵ_ℓ u_ℓ + s_ℓ + β̂_ℓ``;
for ℓ < L it sends the labels of b_ℓ's bits to host(ℓ+1), for ℓ = L it sends b_L to C.

What an edge sees: only its layers' weights; masked vectors u_ℓ (one-time padded by the client's r_ℓ),
its shares b_ℓ (masked by s_ℓ), one label per wire and decoded circuit outputs (masked by r_{ℓ+1}).
Every piece of material is single use (:class:`~.material.MaterialStore`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from cmpc.errors import ProtocolError
from cmpc.rand import RandomSource
from cmpc.wire import element_width, split_parts

from ..gc.encoding import Decoder, GarbledCircuit, GroupKeys, Labels, assemble_labels
from ..gc.garble import evaluate
from ..gc.relu import bits_to_field
from ..ot import receive
from . import messages as m
from .base import Outgoing, Reply, ServerRole
from .layout import edge_wire_bits, relu_circuit, rows_to_labels
from .material import MaterialStore
from .spec import CLIENT, CLOUD, SessionSpec, edge_name

__all__ = ["Edge"]

Key = tuple[int, int]  # (inference, layer)


class Edge(ServerRole):
    """E_j (see the module docstring)."""

    def __init__(self, spec: SessionSpec, index: int, *, rng: RandomSource | None = None) -> None:
        super().__init__(spec, rng)
        self.index = index
        self.name = edge_name(index)
        self.hosted = spec.hosted(index)
        self.evaluated = spec.evaluated(index)
        self.weights: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.s: MaterialStore[Key] = MaterialStore(self.name, "s-vector")
        self.bkeys: MaterialStore[Key] = MaterialStore(self.name, "b-wire keys")
        self.garbled: MaterialStore[Key] = MaterialStore(self.name, "garbled circuit")
        self.client_labels: MaterialStore[Key] = MaterialStore(self.name, "client labels")
        self._ot: dict[Key, dict[type, bytes]] = {}
        #: bytes of offline material stored per inference
        self.storage: dict[int, int] = {}
        #: pieces stored per inference, and what one inference needs
        self._pieces: dict[int, int] = {}
        self._need = (
            len(self.hosted) + sum(1 for ell in self.hosted if ell < spec.layers) + 2 * len(self.evaluated)
        )
        self._chunks: dict[int, int] = {}  # first → count, announced and not yet acknowledged
        self._completed: list[int] = []
        self._setup_begun = self._setup_acked = False
        #: per-inference busy seconds online (linear algebra + garbled evaluation + encoding)
        self.busy: dict[int, float] = {}

    # -- dispatch --------------------------------------------------------------------------------------
    def serve(self, sender: str, message: m.Message) -> Reply:
        if isinstance(message, m.SetupBegin) and sender == CLIENT:
            self._setup_begun = True
            return self._setup_ack()
        if isinstance(message, m.Weights) and sender == CLOUD:
            return self._weights(message)
        if isinstance(message, m.OfflineBegin) and sender == CLIENT:
            if message.inference in self._chunks:
                raise ProtocolError(f"{self.name}: chunk {message.inference} announced twice")
            self._chunks[message.inference] = message.count
            return self._chunks_done()
        if (isinstance(message, m.SShare | m.BKeys | m.Garbled | m.OtSender) and sender == CLOUD) or (
            isinstance(message, m.OtChooser) and sender == CLIENT
        ):
            completed = self._offline(message)
            progress: Outgoing = [(CLIENT, m.Progress(i)) for i in completed]
            return progress + self._chunks_done()
        if isinstance(message, m.Input | m.LabelsMsg):
            return self._online(sender, message)
        return super().serve(sender, message)

    def stats(self) -> dict[str, Any]:
        busy, sizes = list(self.busy.values()), list(self.storage.values())
        return {
            "times": dict(self.times),
            "busy_median_s": float(np.median(busy)) if busy else 0.0,
            "storage_mean_bytes": int(np.mean(sizes)) if sizes else 0,
        }

    # -- setup -----------------------------------------------------------------------------------------
    def _weights(self, message: m.Message) -> Outgoing:
        spec, ell = self.spec, message.layer
        if ell not in self.hosted or ell in self.weights:
            raise ProtocolError(f"{self.name}: weights of layer {ell}, which this edge does not host")
        w_b, b_b = split_parts(message.payload, 2, what="weights")
        w = m.Weights(payload=w_b).matrix(spec.p, (spec.dims[ell], spec.in_dim(ell)))
        b = m.Weights(payload=b_b).matrix(spec.p, (1, spec.dims[ell]))[0]
        self.weights[ell] = (w, b)
        return self._setup_ack()

    def _setup_ack(self) -> Outgoing:
        if self._setup_begun and not self._setup_acked and len(self.weights) == len(self.hosted):
            self._setup_acked = True
            return [(CLIENT, m.SetupDone())]
        return []

    # -- offline ---------------------------------------------------------------------------------------
    def _store(self, store: MaterialStore[Key], i: int, ell: int, value: object, nbytes: int) -> None:
        store.put((i, ell), value)
        self.storage[i] = self.storage.get(i, 0) + nbytes
        self._pieces[i] = self._pieces.get(i, 0) + 1
        if self._pieces[i] == self._need:
            self._completed.append(i)

    def _offline(self, message: m.Message) -> list[int]:
        """Store one piece of offline material; returns the inferences it completed."""
        self._completed = []
        spec, p, k = self.spec, self.spec.p, self.spec.bits
        i, ell = message.inference, message.layer
        if isinstance(message, m.SShare):
            if ell not in self.hosted:
                raise ProtocolError(f"{self.name}: s-vectors of layer {ell}, which it does not host")
            s_all = message.matrix(p, (message.count, spec.dims[ell]))
            for j in range(message.count):
                self._store(self.s, i + j, ell, s_all[j], s_all[j].size * element_width(p))
        elif isinstance(message, m.BKeys):
            if ell not in self.hosted or ell == spec.layers:
                raise ProtocolError(f"{self.name}: b-wire keys of layer {ell}")
            keys = GroupKeys.from_bytes(message.payload)
            if keys.copies != spec.relu_copies(ell) or keys.n_wires != spec.window(ell) * k:
                raise ProtocolError(f"{self.name}: b-wire keys of shape ({keys.copies}, {keys.n_wires})")
            self._store(self.bkeys, i, ell, keys, len(message.payload))
        elif isinstance(message, m.Garbled):
            if ell not in self.evaluated:
                raise ProtocolError(f"{self.name}: garbled ReLU of layer {ell}, which it does not evaluate")
            circuit = relu_circuit(spec, ell)
            t_b, d_b = split_parts(message.payload, 2, what="garbled ReLU")
            gct, dco = GarbledCircuit.from_bytes(t_b, circuit), Decoder.from_bytes(d_b, circuit)
            d = spec.relu_copies(ell)
            if gct.copies != d or dco.copies != d:
                raise ProtocolError(f"{self.name}: garbled ReLU with {gct.copies} copies, expected {d}")
            self._store(self.garbled, i, ell, (gct, dco), len(message.payload))
        else:  # the two halves of the OT for C's wires
            if ell not in self.evaluated:
                raise ProtocolError(f"{self.name}: OT message for layer {ell}, which it does not evaluate")
            half = self._ot.setdefault((i, ell), {})
            if type(message) in half:
                raise ProtocolError(f"{self.name}: {type(message).__name__} for {(i, ell)} sent twice")
            half[type(message)] = message.payload
            if len(half) == 2:
                del self._ot[(i, ell)]
                self._receive_labels(i, ell, half[m.OtSender], half[m.OtChooser])
        return self._completed

    def _receive_labels(self, i: int, ell: int, sender: bytes, chooser: bytes) -> None:
        spec, k = self.spec, self.spec.bits
        d, wk = spec.relu_copies(ell), spec.window(ell) * k
        with self.timed("ot"):
            rows = receive(sender, chooser)
            if rows.shape != (d * (wk + k), 16):
                raise ProtocolError(
                    f"{self.name}: OT gave {rows.shape} labels, expected ({d * (wk + k)}, 16)"
                )
            lab = rows_to_labels(rows, (d, wk + k))
            labels = (Labels(np.ascontiguousarray(lab[:, :wk])), Labels(np.ascontiguousarray(lab[:, wk:])))
        self._store(self.client_labels, i, ell, labels, lab.nbytes)

    def _chunks_done(self) -> Outgoing:
        out: Outgoing = []
        for first, count in list(self._chunks.items()):
            if all(self._pieces.get(i, 0) == self._need for i in range(first, first + count)):
                del self._chunks[first]
                stored = sum(self.storage.get(i, 0) for i in range(first, first + count))
                out.append((CLIENT, m.ChunkDone.with_json({"storage_bytes": stored}, first, count)))
        return out

    # -- online ----------------------------------------------------------------------------------------
    def _online(self, peer: str, message: m.Message) -> Outgoing:
        spec, i = self.spec, message.inference
        t0 = time.thread_time()
        if isinstance(message, m.Input):
            if peer != CLIENT or message.layer != 1 or spec.hosts[0] != self.index:
                raise ProtocolError(f"{self.name}: unexpected Input from {peer} for layer {message.layer}")
            u = message.matrix(spec.p, (1, spec.dims[0]))[0]
            layer = 1
        else:
            prev = message.layer
            if not 1 <= prev < spec.layers or spec.hosts[prev] != self.index or peer != spec.host(prev):
                raise ProtocolError(f"{self.name}: unexpected labels from {peer} for layer {prev}")
            with self.timed("online-garbled-eval"):
                u = self._evaluate_relu(i, prev, message.payload)
            layer = prev + 1
        with self.timed("online-linear"):
            b = self.linear_step(i, layer, u)
        out: m.Message
        if layer < spec.layers:
            with self.timed("online-encode"):
                keys = self.bkeys.take((i, layer))
                out = m.LabelsMsg(i, layer, keys.encode(edge_wire_bits(spec, layer, b)).to_bytes())
            dst = spec.evaluator(layer)
        else:
            out, dst = m.Output.vector(i, layer, b, spec.p), CLIENT
        self.busy[i] = self.busy.get(i, 0.0) + time.thread_time() - t0
        return [(dst, out)]

    def linear_step(self, inference: int, layer: int, u: np.ndarray) -> np.ndarray:
        """``b_ℓ = Ŵ_ℓ u_ℓ + s_ℓ + β̂_ℓ mod p`` on host(ℓ) (consumes s_ℓ of this inference)."""
        fld = self.field
        w, beta = self.weights[layer]
        s = self.s.take((inference, layer))
        return fld.raw_add(fld.raw_add(fld.raw_matmul(w, u), s), beta)

    def _evaluate_relu(self, inference: int, layer: int, b_labels: bytes) -> np.ndarray:
        """Evaluate the garbled ReLU after ``layer`` (this edge is host(layer+1)); returns ``u_{layer+1}``."""
        spec = self.spec
        gc, decoder = self.garbled.take((inference, layer))
        a_lab, r_lab = self.client_labels.take((inference, layer))
        lb = Labels.from_bytes(
            b_labels, copies=spec.relu_copies(layer), n_wires=spec.window(layer) * spec.bits
        )
        out = evaluate(gc, assemble_labels(gc.circuit, {"a": a_lab, "r": r_lab, "b": lb}))
        return bits_to_field(decoder.decode(out), spec.p)
