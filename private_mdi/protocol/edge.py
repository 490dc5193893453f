"""An edge E_j as a sans-I/O state machine: offline it stores material, online it serves inferences.

Setup: it keeps the weights (Ŵ_ℓ mod p, β̂_ℓ mod p) of the layers it hosts and acknowledges
:class:`~.messages.SetupBegin` with ``SetupDone`` once it has all of them. Offline it stores, per
inference, s_ℓ and the b-wire keys (layers it hosts) and the garbled ReLU with the client's labels
obtained by three-party OT (ReLUs it evaluates: it pairs S's ``OtSender`` with C's ``OtChooser``); the
garbled material of a chunk arrives as one garbling of count·d copies, inference first + q owning copies
[q·d, (q+1)·d) (each copy has its own Δ and labels: the material of every inference is fresh). When
every piece of an announced chunk is stored it answers ``ChunkDone`` (with the bytes stored).

Online (paper arXiv 2407.18353 §IV; ``docs/private-mdi.md``), per **batch** of consecutive inferences
(one message carries the batch: first id and count), in arrival order (so many batches are in flight at
once): on ``Input`` (host(1)) or ``LabelsMsg`` (after evaluating the garbled ReLUs of the previous layer —
one :func:`~private_mdi.gc.garble.evaluate_copies` call per offline chunk the batch touches — and decoding
``u_ℓ = x̂_ℓ − r_ℓ``) it computes ``B_ℓ = U_ℓ Ŵ_ℓᵀ + S_ℓ + β̂_ℓ`` as one matmul; for ℓ < L it sends the
labels of B_ℓ's bits to host(ℓ+1), for ℓ = L it sends B_L to C. Batching amortises the per-call costs of
the evaluation, encoding and messages; it changes no value: row q is inference first + q's b_ℓ.

What an edge sees: only its layers' weights; masked vectors u_ℓ (one-time padded by the client's r_ℓ),
its shares b_ℓ (masked by s_ℓ), one label per wire and decoded circuit outputs (masked by r_{ℓ+1}), and
how the client groups inferences into batches (sizes and ids, which it saw before as message timing).
Every piece of material is single use (:class:`~.material.MaterialStore`): a batch consumes each of its
inferences' entries.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from cmpc.errors import ProtocolError
from cmpc.rand import RandomSource
from cmpc.wire import element_width, split_parts

from ..gc.encoding import Decoder, GarbledCircuit, GroupKeys, Labels, assemble_labels
from ..gc.garble import evaluate_copies
from ..gc.relu import bits_to_field
from ..nn.operator import SparseOperator
from ..ot import receive
from . import messages as m
from .base import Outgoing, Reply, ServerRole
from .layout import MAX_BATCH, edge_wire_bits, relu_circuit, rows_to_labels
from .material import MaterialStore
from .sparse_wire import decode_sparse, is_sparse_payload
from .spec import CLIENT, CLOUD, SessionSpec, edge_name

__all__ = ["Edge"]

Key = tuple[int, int]  # (inference, layer)


class Edge(ServerRole):
    """E_j (see the module docstring)."""

    def __init__(self, spec: SessionSpec, index: int, *, rng: RandomSource | None = None) -> None:
        super().__init__(spec, rng)
        self.index = index
        self.name = edge_name(index)
        #: slices (ℓ, j) this edge computes / whose garbled ReLU it evaluates; message units ℓ + 1024·j
        self.hosted_units = spec.hosted_units(index)
        self.evaluated_units = spec.evaluated_units(index)
        self.slice_of = {ell: j for ell, j in self.hosted_units}
        self.hosted = [ell for ell, _ in self.hosted_units]
        self.evaluated = sorted({ell for ell, _ in self.evaluated_units})
        self._hosted_u = {spec.unit(ell, j) for ell, j in self.hosted_units}
        self._evaluated_u = {spec.unit(ell, j) for ell, j in self.evaluated_units}
        #: gathered slices of u_ℓ per (inference, ℓ) while not all have arrived
        self._gather: dict[Key, dict[int, np.ndarray]] = {}
        #: (Ŵ mod p, β̂ mod p) per hosted layer; Ŵ a CSR operator (centred residues) for a sparse layer
        self.weights: dict[int, tuple[np.ndarray | SparseOperator, np.ndarray]] = {}
        self.s: MaterialStore[Key] = MaterialStore(self.name, "s-vector")
        self.bkeys: MaterialStore[Key] = MaterialStore(self.name, "b-wire keys")
        self.garbled: MaterialStore[Key] = MaterialStore(self.name, "garbled circuit")
        self.client_labels: MaterialStore[Key] = MaterialStore(self.name, "client labels")
        self._ot: dict[Key, dict[type, tuple[int, bytes]]] = {}
        #: bytes of offline material stored per inference
        self.storage: dict[int, int] = {}
        #: pieces stored per inference, and what one inference needs
        self._pieces: dict[int, int] = {}
        self._need = (
            len(self.hosted)
            + sum(1 for ell in self.hosted if ell < spec.layers)
            + 2 * len(self.evaluated_units)
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
        if isinstance(message, m.Input | m.LabelsMsg | m.Gather):
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
        spec = self.spec
        ell, _ = spec.parse_unit(message.layer)
        if message.layer not in self._hosted_u or ell in self.weights:
            raise ProtocolError(f"{self.name}: weights of layer {ell}, which this edge does not host")
        rows = self._rows(ell)
        w_b, b_b = split_parts(message.payload, 2, what="weights")
        w: np.ndarray | SparseOperator
        if is_sparse_payload(w_b):
            w = decode_sparse(w_b, spec.p, (rows, spec.in_dim(ell)))
        else:
            w = m.Weights(payload=w_b).matrix(spec.p, (rows, spec.in_dim(ell)))
        b = m.Weights(payload=b_b).matrix(spec.p, (1, rows))[0]
        self.weights[ell] = (w, b)
        return self._setup_ack()

    def _rows(self, ell: int) -> int:
        """Rows of this edge's slice of layer ``ell``."""
        _, lo, hi, _ = self.spec.slices_of(ell)[self.slice_of[ell]]
        return hi - lo

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

    def _store_block(
        self, store: MaterialStore[Key], first: int, count: int, unit: int, value: object, nbytes: int
    ) -> None:
        """One chunk-wide piece: inference first + q gets the entry (block, q) (its copies of the block)."""
        block = _Block(first, value)
        for q in range(count):
            self._store(store, first + q, unit, (block, q), nbytes // count)

    def _offline(self, message: m.Message) -> list[int]:
        """Store one piece of offline material; returns the inferences it completed."""
        self._completed = []
        spec, p, k = self.spec, self.spec.p, self.spec.bits
        i, unit, count = message.inference, message.layer, message.count
        ell, sj = spec.parse_unit(unit)
        if isinstance(message, m.SShare):
            if unit not in self._hosted_u:
                raise ProtocolError(f"{self.name}: s-vectors of layer {ell}, which it does not host")
            s_all = message.matrix(p, (count, self._rows(ell)))
            for j in range(count):
                self._store(self.s, i + j, unit, s_all[j], s_all[j].size * element_width(p))
        elif isinstance(message, m.BKeys):
            if unit not in self._hosted_u or ell == spec.layers:
                raise ProtocolError(f"{self.name}: b-wire keys of layer {ell}")
            keys = GroupKeys.from_bytes(message.payload)
            if keys.copies != count * spec.slice_copies(ell, sj) or keys.n_wires != spec.window(ell) * k:
                raise ProtocolError(f"{self.name}: b-wire keys of shape ({keys.copies}, {keys.n_wires})")
            self._store_block(self.bkeys, i, count, unit, keys, len(message.payload))
        elif isinstance(message, m.Garbled):
            if unit not in self._evaluated_u:
                raise ProtocolError(f"{self.name}: garbled ReLU of layer {ell}, which it does not evaluate")
            circuit = relu_circuit(spec, ell)
            t_b, d_b = split_parts(message.payload, 2, what="garbled ReLU")
            gct, dco = GarbledCircuit.from_bytes(t_b, circuit), Decoder.from_bytes(d_b, circuit)
            d = count * spec.slice_copies(ell, sj)
            if gct.copies != d or dco.copies != d:
                raise ProtocolError(f"{self.name}: garbled ReLU with {gct.copies} copies, expected {d}")
            self._store_block(self.garbled, i, count, unit, (gct, dco), len(message.payload))
        else:  # the two halves of the OT for C's wires
            if unit not in self._evaluated_u:
                raise ProtocolError(f"{self.name}: OT message for layer {ell}, which it does not evaluate")
            half = self._ot.setdefault((i, unit), {})
            if type(message) in half:
                raise ProtocolError(f"{self.name}: {type(message).__name__} for {(i, unit)} sent twice")
            half[type(message)] = (count, message.payload)
            if len(half) == 2:
                del self._ot[(i, unit)]
                (c1, snd), (c2, cho) = half[m.OtSender], half[m.OtChooser]
                if c1 != c2:
                    raise ProtocolError(
                        f"{self.name}: OT halves for {(i, unit)} cover {c1} and {c2} inferences"
                    )
                self._receive_labels(i, c1, unit, snd, cho)
        return self._completed

    def _receive_labels(self, first: int, count: int, unit: int, sender: bytes, chooser: bytes) -> None:
        spec, k = self.spec, self.spec.bits
        ell, sj = spec.parse_unit(unit)
        d, wk = count * spec.slice_copies(ell, sj), spec.window(ell) * k
        with self.timed("ot"):
            rows = receive(sender, chooser)
            if rows.shape != (d * (wk + k), 16):
                raise ProtocolError(
                    f"{self.name}: OT gave {rows.shape} labels, expected ({d * (wk + k)}, 16)"
                )
            lab = rows_to_labels(rows, (d, wk + k))
            labels = (np.ascontiguousarray(lab[:, :wk]), np.ascontiguousarray(lab[:, wk:]))
        self._store_block(self.client_labels, first, count, unit, labels, lab.nbytes)

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
        spec, i, n = self.spec, message.inference, message.count
        t0 = time.thread_time()
        ell, sj = spec.parse_unit(message.layer)
        out: Outgoing = []
        if n > MAX_BATCH:
            raise ProtocolError(f"{self.name}: online message for {n} inferences (at most {MAX_BATCH})")
        if isinstance(message, m.Input):
            if peer != CLIENT or ell != 1 or message.layer not in self._hosted_u:
                raise ProtocolError(f"{self.name}: unexpected Input from {peer} for layer {message.layer}")
            u = message.matrix(spec.p, (n, spec.dims[0]))
            out = self._layer(i, 1, u)
        elif isinstance(message, m.LabelsMsg):
            sl = spec.slices_of(ell)
            if message.layer not in self._evaluated_u or peer != edge_name(sl[sj][0]):
                raise ProtocolError(f"{self.name}: unexpected labels from {peer} for layer {message.layer}")
            with self.timed("online-garbled-eval"):
                u_j = self._evaluate_relu(i, n, message.layer, message.payload)
            # the gather: the decoded slice of u_{ℓ+1} to every host of layer ℓ + 1 (itself: kept)
            for h, *_rest in spec.slices_of(ell + 1):
                if h == self.index:
                    out += self._deposit(i, ell, sj, u_j)
                else:
                    out.append((edge_name(h), m.Gather.vector(i, message.layer, u_j, spec.p, n)))
        else:
            sl = spec.slices_of(ell) if 1 <= ell < spec.layers else ()
            if sj >= len(sl) or peer != edge_name(sl[sj][3]) or (ell + 1) not in self.slice_of:
                raise ProtocolError(f"{self.name}: unexpected gather from {peer} for layer {message.layer}")
            with self.timed("online-gather"):
                u_j = message.matrix(spec.p, (n, spec.slice_copies(ell, sj)))
            out = self._deposit(i, ell, sj, u_j)
        dt = (time.thread_time() - t0) / n  # a batch's time, shared by its inferences
        for q in range(i, i + n):
            self.busy[q] = self.busy.get(q, 0.0) + dt
        return out

    def _deposit(self, i: int, ell: int, j: int, u_j: np.ndarray) -> Outgoing:
        """Slice j of u_{ℓ+1} for the batch from ``i``; when every slice is in, compute this edge's slice
        of layer ℓ + 1."""
        spec = self.spec
        n = len(spec.slices_of(ell))
        if n == 1:
            return self._layer(i, ell + 1, u_j)
        parts = self._gather.setdefault((i, ell + 1), {})
        if j in parts or (parts and next(iter(parts.values())).shape[0] != u_j.shape[0]):
            raise ProtocolError(
                f"{self.name}: slice {j} of u_{ell + 1} for inference {i}: "
                "sent twice or of another batch size"
            )
        parts[j] = u_j
        if len(parts) < n:
            return []
        del self._gather[(i, ell + 1)]
        with self.timed("online-gather"):
            u = np.concatenate([parts[q] for q in range(n)], axis=1)
        return self._layer(i, ell + 1, u)

    def _take(self, store: MaterialStore[Key], first: int, n: int, unit: int) -> list[Any]:
        """The entries of inferences first .. first + n − 1 (all present, or nothing is consumed)."""
        for q in range(first, first + n):
            if (q, unit) not in store:
                store.take((q, unit))  # raises the right MaterialReusedError
        return [store.take((q, unit)) for q in range(first, first + n)]

    def _layer(self, i: int, layer: int, u: np.ndarray) -> Outgoing:
        """This edge's slice of linear layer ``layer`` on the batch U_ℓ (rows: inferences from ``i``);
        labels to its evaluator, or b_L to C."""
        spec = self.spec
        j = self.slice_of[layer]
        unit, n = spec.unit(layer, j), u.shape[0]
        with self.timed("online-linear"):
            b = self.linear_step(i, layer, u)
        if layer < spec.layers:
            with self.timed("online-encode"):
                bits = edge_wire_bits(spec, layer, b, j)  # (n, copies, window·k)
                labels = []
                d = bits.shape[1]
                for lo, hi, block, q0 in _runs(self._take(self.bkeys, i, n, unit)):
                    keys = block.value
                    c0, c1 = q0 * d, (q0 + hi - lo) * d
                    part = GroupKeys(keys.zero[c0:c1], keys.delta[c0:c1])
                    labels.append(part.encode(bits[lo:hi].reshape((hi - lo) * d, -1)).array)
                out = m.LabelsMsg(i, unit, Labels(np.concatenate(labels)).to_bytes(), n)
            return [(edge_name(spec.slices_of(layer)[j][3]), out)]
        return [(CLIENT, m.Output.vector(i, unit, b, spec.p, n))]

    def linear_step(self, inference: int, layer: int, u: np.ndarray) -> np.ndarray:
        """``B_ℓ^(j) = U_ℓ Ŵ_ℓ^(j)ᵀ + S_ℓ^(j) + β̂_ℓ^(j) mod p`` on host(ℓ, j): one matmul for the batch of
        inferences ``inference ..`` (rows of ``u``; a 1-D ``u`` is one inference). Consumes their s."""
        if u.ndim == 1:
            return self.linear_step(inference, layer, u[None, :])[0]
        fld = self.field
        w, beta = self.weights[layer]
        unit = self.spec.unit(layer, self.slice_of[layer])
        s = np.stack(self._take(self.s, inference, u.shape[0], unit))
        if isinstance(w, SparseOperator):  # exact CSR product, only the non-zeros: (W Uᵀ)ᵀ
            wu = w.matmul_mod(np.ascontiguousarray(u.T), fld.p).T
        else:
            wu = fld.raw_matmul(np.ascontiguousarray(u), np.ascontiguousarray(w.T))
        return fld.raw_add(fld.raw_add(wu, s), beta[None, :])

    def _evaluate_relu(self, first: int, n: int, unit: int, b_labels: bytes) -> np.ndarray:
        """Evaluate slice j's garbled ReLU after layer ℓ (unit ℓ + 1024·j) for the batch of ``n``
        inferences from ``first``; returns their slices of u_{ℓ+1}, shape (n, copies).

        Consecutive inferences of one offline chunk own consecutive copies of the chunk's garbling, so
        the batch is one :func:`~private_mdi.gc.garble.evaluate_copies` call per chunk it touches."""
        spec = self.spec
        layer, j = spec.parse_unit(unit)
        d = spec.slice_copies(layer, j)
        garbled = self._take(self.garbled, first, n, unit)
        client = self._take(self.client_labels, first, n, unit)
        lb = Labels.from_bytes(b_labels, copies=n * d, n_wires=spec.window(layer) * spec.bits).array
        out = np.empty((n, d), np.int64)
        for lo, hi, block, q0 in _runs(garbled):
            gc, decoder = block.value
            c0, c1 = q0 * d, (q0 + hi - lo) * d
            a_lab, r_lab = client[lo][0].value
            a0 = client[lo][1] * d  # the same chunk, so the same copies (checked by the shapes below)
            a_lab, r_lab = a_lab[a0 : a0 + c1 - c0], r_lab[a0 : a0 + c1 - c0]
            labels = assemble_labels(gc.circuit, {"a": a_lab, "r": r_lab, "b": lb[lo * d : hi * d]})
            bits = decoder.decode_copies(evaluate_copies(gc, labels, c0), c0)
            out[lo:hi] = bits_to_field(bits, spec.p).reshape(hi - lo, d)
        return out


class _Block:
    """One chunk-wide piece of material (garbling, b-wire keys or client labels of count·d copies) shared
    by the chunk's inferences; inference first + q owns copies [q·d, (q+1)·d)."""

    def __init__(self, first: int, value: Any) -> None:
        self.first, self.value = first, value


def _runs(entries: list[tuple[_Block, int]]) -> list[tuple[int, int, _Block, int]]:
    """Split a batch's entries (block, q) into runs ``(lo, hi, block, q_lo)`` of consecutive copies of one
    block (a batch that spans two offline chunks gives two runs)."""
    runs: list[tuple[int, int, _Block, int]] = []
    lo = 0
    for pos in range(1, len(entries) + 1):
        block, q0 = entries[lo]
        if pos == len(entries) or entries[pos][0] is not block or entries[pos][1] != q0 + pos - lo:
            runs.append((lo, pos, entries[lo][0], entries[lo][1]))
            lo = pos
    return runs
