"""privateMDI online phase: no message to or from the cloud.

Protocol (``docs/private-mdi.md``; paper arXiv 2407.18353 §IV, online phase), per inference i:

1. C → host(1): ``u_1 = x̂ − r_1`` (one field vector; r_1 is a one-time pad, so host(1) learns nothing).
2. host(ℓ): ``b_ℓ = Ŵ_ℓ u_ℓ + s_ℓ + β̂_ℓ`` so that ``a_ℓ + b_ℓ = Ŵ_ℓ x̂_ℓ + β̂_ℓ`` (a_ℓ = Ŵ_ℓ r_ℓ − s_ℓ is the
   client's share from the offline phase). For ℓ < L it encodes the bits of ``b_ℓ`` with the b-wire zero
   labels and Δ it got offline and sends the active labels to host(ℓ+1); for ℓ = L it sends ``b_L`` to C.
3. host(ℓ+1) evaluates the garbled ReLU (fused with max pooling where the model has it) on the client's
   labels (a_ℓ, r_{ℓ+1}; from the offline OT) and the received b-labels, decodes
   ``u_{ℓ+1} = x̂_{ℓ+1} − r_{ℓ+1}`` and continues at step 2.
4. C: ``v_L = a_L + b_L`` (scale 2^{2f}).

Client traffic: one masked input up, one output share down. Edges serve whatever inference is ready
(frames are handled in arrival order), so many inferences are in flight at once (pipelining).

What each edge sees online: masked vectors ``u_ℓ`` (uniform: masked by the client's r_ℓ), the shares
``b_ℓ`` it computes (uniform: masked by s_ℓ), active labels (one per wire, uniform) and decoded circuit
outputs ``u_{ℓ+1}`` (masked by r_{ℓ+1}). The client sees ``b_L``, which with ``a_L`` gives the output and
nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import cast

import numpy as np

from cmpc.errors import ProtocolError

from .gc.encoding import Decoder, GarbledCircuit, GroupKeys, Labels, assemble_labels
from .gc.garble import evaluate
from .gc.relu import bits_to_field
from .offline import edge_wire_bits
from .parties import CLIENT, Client, Edge, Frame, Kind, Phase, decode_field, encode_field

__all__ = ["client_collect", "client_submit", "edge_serve", "linear_step"]


def client_submit(client: Client, x_hat: np.ndarray, ids: Sequence[int]) -> dict[int, np.ndarray]:
    """Send ``u_1 = x̂ − r_1`` for each inference; returns the client's output shares a_L by id.

    ``x_hat``: (len(ids), d_0) encoded inputs in [0, p). Consumes the client's material (single use).
    """
    spec = client.spec
    fld = client.field
    if x_hat.shape != (len(ids), spec.dims[0]):
        raise ProtocolError(f"client: inputs have shape {x_hat.shape}, expected ({len(ids)}, {spec.dims[0]})")
    # take all material first: an error here must happen before any message is sent
    mats = [client.take(i) for i in ids]
    shares: dict[int, np.ndarray] = {}
    host1 = spec.host(1)
    for i, row, mat in zip(ids, x_hat, mats):
        u = fld.raw_sub(row, mat["r1"])
        shares[i] = mat["aL"]
        client.mail.send(host1, Frame(Kind.INPUT, i, 1, encode_field(u, spec.p)), Phase.ONLINE)
    return shares


def client_collect(client: Client, shares: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Wait for ``b_L`` of every inference in ``shares`` and return ``v_L = a_L + b_L`` by id.

    Raises (``TransportError`` on timeout, ``ProtocolError`` on a bad frame) without returning any
    partial result.
    """
    spec = client.spec
    fld = client.field
    out: dict[int, np.ndarray] = {}
    host_l = spec.host(spec.layers)
    while len(out) < len(shares):
        _, fr = client.mail.expect(Kind.OUTPUT, src=host_l)
        i = fr.inference
        if i not in shares or i in out or fr.layer != spec.layers:
            raise ProtocolError(f"client: unexpected output frame for inference {i}, layer {fr.layer}")
        b = decode_field(fr.payload, spec.p, shape=(1, spec.dims[-1]), what="output share")[0]
        out[i] = fld.raw_add(shares[i], b)
    return out


def linear_step(edge: Edge, inference: int, layer: int, u: np.ndarray) -> np.ndarray:
    """``b_ℓ = Ŵ_ℓ u_ℓ + s_ℓ + β̂_ℓ mod p`` on host(ℓ) (consumes s_ℓ of this inference)."""
    fld = edge.field
    w, beta = edge.weights[layer]
    s = edge.pop(edge.s, "s-vector", inference, layer)
    assert isinstance(s, np.ndarray)
    return fld.raw_add(fld.raw_add(fld.raw_matmul(w, u), s), beta)


def _evaluate_relu(edge: Edge, inference: int, layer: int, b_labels: bytes) -> np.ndarray:
    """Evaluate the garbled ReLU after ``layer`` on host(layer+1); returns ``u_{layer+1}``."""
    spec = edge.spec
    gc, decoder = cast(
        "tuple[GarbledCircuit, Decoder]", edge.pop(edge.garbled, "garbled circuit", inference, layer)
    )
    a_lab, r_lab = cast(
        "tuple[Labels, Labels]", edge.pop(edge.client_labels, "client labels", inference, layer)
    )
    lb = Labels.from_bytes(b_labels, copies=spec.relu_copies(layer), n_wires=spec.window(layer) * spec.bits)
    labels = assemble_labels(gc.circuit, {"a": a_lab, "r": r_lab, "b": lb})
    out = evaluate(gc, labels)
    bits = decoder.decode(out)
    return bits_to_field(bits, spec.p)


def edge_serve(edge: Edge, ids: Sequence[int]) -> None:
    """Serve the online phase of inferences ``ids``: handle INPUT and LABELS frames as they arrive.

    Returns when every layer this edge hosts has been computed for every id. Raises
    ``TransportError`` if a peer stays silent past the timeout (e.g. a crashed edge).
    """
    spec = edge.spec
    wanted = set(ids)
    todo = len(ids) * len(edge.hosted)
    while todo > 0:
        peer, fr = edge.mail.expect((Kind.INPUT, Kind.LABELS))
        t0 = time.thread_time()
        i = fr.inference
        if i not in wanted:
            raise ProtocolError(f"{edge.name}: frame for inference {i}, which is not being served")
        if fr.kind == Kind.INPUT:
            if peer != CLIENT or fr.layer != 1 or spec.hosts[0] != edge.index:
                raise ProtocolError(f"{edge.name}: unexpected INPUT frame from {peer} for layer {fr.layer}")
            u = decode_field(fr.payload, spec.p, shape=(1, spec.dims[0]), what="masked input")[0]
            layer = 1
        else:
            prev = fr.layer
            if not 1 <= prev < spec.layers or spec.hosts[prev] != edge.index or peer != spec.host(prev):
                raise ProtocolError(f"{edge.name}: unexpected LABELS frame from {peer} for layer {prev}")
            t1 = time.thread_time()
            u = _evaluate_relu(edge, i, prev, fr.payload)
            edge.add_time("online-garbled-eval", time.thread_time() - t1)
            layer = prev + 1
        t1 = time.thread_time()
        b = linear_step(edge, i, layer, u)
        edge.add_time("online-linear", time.thread_time() - t1)
        if layer < spec.layers:
            t1 = time.thread_time()
            keys = cast(GroupKeys, edge.pop(edge.bkeys, "b-wire keys", i, layer))
            labels = keys.encode(edge_wire_bits(spec, layer, b))
            frame = Frame(Kind.LABELS, i, layer, labels.to_bytes())
            edge.add_time("online-encode", time.thread_time() - t1)
            edge.busy[i] = edge.busy.get(i, 0.0) + time.thread_time() - t0
            edge.mail.send(spec.evaluator(layer), frame, Phase.ONLINE)
        else:
            edge.busy[i] = edge.busy.get(i, 0.0) + time.thread_time() - t0
            edge.mail.send(CLIENT, Frame(Kind.OUTPUT, i, layer, encode_field(b, spec.p)), Phase.ONLINE)
        todo -= 1
