"""privateMDI session setup and offline phase (input-independent, single-use material per inference).

Protocol (``docs/private-mdi.md``; paper arXiv 2407.18353 §IV, offline phase):

0. **Setup** (once per session): C sends its Paillier public key to S; C and S agree on ``k_CS``
   (X25519 + HKDF, :mod:`private_mdi.keyagreement`); S sends each edge the weights of its own layers.
1. **Linear correlations** (each layer ℓ, batched over inferences and packed, :mod:`private_mdi.paillier`):
   C draws ``r_ℓ`` and sends it encrypted; S draws ``s_ℓ`` and ``ρ_ℓ`` and returns
   ``Enc(Ŵ_ℓ r_ℓ − s_ℓ + p ρ_ℓ)``; C decrypts ``a_ℓ = Ŵ_ℓ r_ℓ − s_ℓ mod p``. S sends ``s_ℓ`` to host(ℓ).
2. **Garbled ReLUs** (each ℓ < L): S garbles :func:`~private_mdi.gc.relu.privatemdi_relu_circuit` with
   one copy per neuron (or, when max pooling follows the ReLU,
   :func:`~private_mdi.gc.relu.privatemdi_maxpool_relu_circuit` with one copy per window) and a **fresh Δ
   per copy** (so per circuit; no Δ is shared between circuits, inferences or layers). Tables and output
   decoding go to the evaluator host(ℓ+1); the zero labels of the b-wires with their Δ go to host(ℓ)
   (which never sees those tables).
3. **Three-party OT** for C's wires (a_ℓ and r_{ℓ+1}): sender S, chooser C, receiver host(ℓ+1)
   (:mod:`private_mdi.ot`): the receiver ends with one label per client wire and learns nothing else.

Timing is recorded per role in ``role.times`` under ``paillier``, ``garbling`` and ``ot``; storage per
inference in ``edge.storage``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from cmpc.errors import ProtocolError

from .gc.circuit import Circuit
from .gc.encoding import Decoder, GarbledCircuit, GroupKeys, Labels
from .gc.garble import garble
from .gc.relu import field_to_bits, privatemdi_maxpool_relu_circuit, privatemdi_relu_circuit
from .keyagreement import KeyAgreementKey, decode_public_key, encode_public_key, shared_key
from .ot import OTChooser, OTSender, receive
from .paillier import (
    CorrelationParams,
    EncryptedReply,
    PaillierKeyPair,
    PublicKey,
    RandomizerPool,
    client_decrypt_reply,
    client_encrypt_mask,
    owner_respond,
)
from .parties import (
    CLIENT,
    CLOUD,
    Client,
    Cloud,
    Edge,
    Frame,
    Kind,
    Phase,
    SessionSpec,
    decode_field,
    encode_field,
    join_parts,
    split_parts,
)

__all__ = [
    "batch_plan",
    "client_offline",
    "client_setup",
    "client_wire_bits",
    "cloud_offline",
    "cloud_setup",
    "edge_offline",
    "edge_setup",
    "edge_wire_bits",
    "gather_windows",
    "relu_circuit",
]

#: HKDF context of the client–cloud key k_CS
KCS_CONTEXT = b"privateMDI/k_CS"

Progress = Callable[[int], None]


def _noop(_: int) -> None:
    return None


def batch_plan(spec: SessionSpec, layer: int, first: int, n: int) -> Iterator[tuple[int, int]]:
    """Paillier request chunks ``(first id, count)`` for ``layer``: as many inferences per ciphertext as fit
    (``CorrelationParams.max_batch``)."""
    cap = _params(spec, layer, 1).max_batch(spec.key_bits)
    done = 0
    while done < n:
        c = min(cap, n - done)
        yield first + done, c
        done += c


def _params(spec: SessionSpec, layer: int, batch: int) -> CorrelationParams:
    return CorrelationParams(
        spec.p, spec.in_dim(layer), spec.dims[layer], spec.weight_bounds[layer - 1], batch
    )


# -------------------------------------------------------------------------------------------------
# setup
# -------------------------------------------------------------------------------------------------
def client_setup(client: Client) -> None:
    """Send the Paillier public key (making a key pair if none was given) and agree on k_CS with S."""
    spec = client.spec
    t0 = time.thread_time()
    if client.paillier_keys is None:
        client.paillier_keys = PaillierKeyPair.generate(spec.key_bits, client.rng)
    kp = client.paillier_keys
    assert isinstance(kp, PaillierKeyPair)
    client.add_time("keygen", time.thread_time() - t0)
    client.mail.send(CLOUD, Frame(Kind.PAILLIER_KEY, 0, 0, kp.public.to_bytes()), Phase.SETUP)
    sk = KeyAgreementKey.generate(client.rng)
    client.mail.send(CLOUD, Frame(Kind.KA_PUBLIC, 0, 0, encode_public_key(sk.public_bytes)), Phase.SETUP)
    _, fr = client.mail.expect(Kind.KA_PUBLIC, src=CLOUD)
    client.shared_key = shared_key(sk, decode_public_key(fr.payload), KCS_CONTEXT)
    client.ot = OTChooser(client.shared_key)


def cloud_setup(cloud: Cloud) -> None:
    """Receive C's Paillier key, agree on k_CS, send every edge the weights of its layers."""
    spec = cloud.spec
    _, fr = cloud.mail.expect(Kind.PAILLIER_KEY, src=CLIENT)
    pub = PublicKey.from_bytes(fr.payload)
    if pub.bits < spec.key_bits:
        raise ProtocolError(
            f"cloud: client's Paillier key has {pub.bits} bits, the session needs {spec.key_bits}"
        )
    cloud.paillier_public = pub
    cloud.pool = RandomizerPool(pub, cloud.rng.spawn())
    _, fr = cloud.mail.expect(Kind.KA_PUBLIC, src=CLIENT)
    sk = KeyAgreementKey.generate(cloud.rng)
    cloud.mail.send(CLIENT, Frame(Kind.KA_PUBLIC, 0, 0, encode_public_key(sk.public_bytes)), Phase.SETUP)
    cloud.shared_key = shared_key(sk, decode_public_key(fr.payload), KCS_CONTEXT)
    cloud.ot = OTSender(cloud.shared_key)
    p = spec.p
    for q in cloud.layers:
        payload = join_parts([encode_field(q.weight_mod(p), p), encode_field(q.bias_mod(p), p)])
        cloud.mail.send(spec.host(q.index), Frame(Kind.WEIGHTS, 0, q.index, payload), Phase.SETUP)


def edge_setup(edge: Edge) -> None:
    """Receive the weights of the layers this edge hosts (and only those)."""
    spec = edge.spec
    for _ in edge.hosted:
        _, fr = edge.mail.expect(Kind.WEIGHTS, src=CLOUD)
        ell = fr.layer
        if ell not in edge.hosted or ell in edge.weights:
            raise ProtocolError(f"{edge.name}: weights of layer {ell}, which this edge does not host")
        w_b, b_b = split_parts(fr.payload, 2, what="weights")
        w = decode_field(w_b, spec.p, shape=(spec.dims[ell], spec.in_dim(ell)), what="weights")
        b = decode_field(b_b, spec.p, shape=(1, spec.dims[ell]), what="bias")[0]
        edge.weights[ell] = (w, b)


# -------------------------------------------------------------------------------------------------
# offline batch
# -------------------------------------------------------------------------------------------------
def _transfer_id(inference: int, layer: int) -> bytes:
    """16-byte OT transfer id, unique per (inference, layer) within a session (pads never repeat)."""
    return b"PMDI" + inference.to_bytes(8, "little") + layer.to_bytes(4, "little")


def client_offline(client: Client, first: int, n: int, progress: Progress = _noop) -> None:
    """C's side of the offline phase for inferences ``first .. first + n − 1``."""
    spec = client.spec
    kp = client.paillier_keys
    assert isinstance(kp, PaillierKeyPair) and isinstance(client.ot, OTChooser)
    L = spec.layers
    # 1. linear correlations: send every request, then read every reply (times: compute only)
    states = {}
    for ell in range(1, L + 1):
        for cf, cnt in batch_plan(spec, ell, first, n):
            t0 = time.thread_time()
            state, msg = client_encrypt_mask(kp, _params(spec, ell, cnt), client.rng)
            client.add_time("paillier", time.thread_time() - t0)
            states[(ell, cf)] = state
            client.mail.send(CLOUD, Frame(Kind.ENC_MASKS, cf, ell, msg.to_bytes(), cnt), Phase.PAILLIER)
    r = {ell: np.zeros((n, spec.in_dim(ell)), np.int64) for ell in range(1, L + 1)}
    a = {ell: np.zeros((n, spec.dims[ell]), np.int64) for ell in range(1, L + 1)}
    for ell in range(1, L + 1):
        for cf, cnt in batch_plan(spec, ell, first, n):
            _, fr = client.mail.expect(Kind.ENC_CORRELATION, src=CLOUD, inference=cf, layer=ell)
            t0 = time.thread_time()
            reply = EncryptedReply.from_bytes(fr.payload, kp.public)
            rr, aa = client_decrypt_reply(kp, states.pop((ell, cf)), reply)  # type: ignore[misc]
            client.add_time("paillier", time.thread_time() - t0)
            r[ell][cf - first : cf - first + cnt] = rr
            a[ell][cf - first : cf - first + cnt] = aa
            progress(cnt)
    # 3. OT chooser messages: C's wires of the ReLU after ℓ are the bits of a_ℓ and r_{ℓ+1}
    t0 = time.thread_time()
    for ell in range(1, L):
        bits = client_wire_bits(spec, ell, a[ell], r[ell + 1])
        for j in range(n):
            i = first + j
            chosen = client.ot.message(bits[j].reshape(-1), 16, _transfer_id(i, ell)).to_bytes()
            client.mail.send(spec.evaluator(ell), Frame(Kind.OT_CHOOSER, i, ell, chosen), Phase.OT)
        progress(n)
    client.add_time("ot", time.thread_time() - t0)
    for j in range(n):
        client.material[first + j] = {"r1": r[1][j].copy(), "aL": a[L][j].copy()}


def cloud_offline(cloud: Cloud, first: int, n: int, progress: Progress = _noop) -> None:
    """S's side of the offline phase: Paillier replies and s-vectors, garbling, OT sender messages."""
    spec = cloud.spec
    pub = cloud.paillier_public
    assert isinstance(pub, PublicKey) and isinstance(cloud.ot, OTSender)
    L = spec.layers
    p = spec.p
    for ell in range(1, L + 1):
        w = cloud.layers[ell - 1].weight
        s_all = np.zeros((n, spec.dims[ell]), np.int64)
        for cf, cnt in batch_plan(spec, ell, first, n):
            _, fr = cloud.mail.expect(Kind.ENC_MASKS, src=CLIENT, inference=cf, layer=ell)
            if fr.count != cnt:
                raise ProtocolError(f"cloud: request for {fr.count} inferences, expected {cnt}")
            t0 = time.thread_time()
            s, reply = owner_respond(pub, w, _params(spec, ell, cnt), fr.payload, cloud.rng, pool=cloud.pool)
            cloud.add_time("paillier", time.thread_time() - t0)
            cloud.mail.send(
                CLIENT, Frame(Kind.ENC_CORRELATION, cf, ell, reply.to_bytes(), cnt), Phase.PAILLIER
            )
            s_all[cf - first : cf - first + cnt] = s
        cloud.mail.send(
            spec.host(ell), Frame(Kind.S_SHARE, first, ell, encode_field(s_all, p), n), Phase.PAILLIER
        )
    for ell in range(1, L):
        circuit = relu_circuit(spec, ell)
        sl_a, sl_r = circuit.input_slice("a"), circuit.input_slice("r")
        d = spec.relu_copies(ell)
        for j in range(n):
            i = first + j
            # one garbling per (inference, layer): d copies (neurons or pooling windows), each with its
            # own fresh Δ.
            # (Copies cannot be sliced out of a larger garbling: the hash tweaks depend on the copy count.)
            t0 = time.thread_time()
            g = garble(circuit, copies=d, rng=cloud.rng)
            enc = g.encoder
            bkeys = enc.keys("b")
            payload = join_parts([g.garbled.to_bytes(), g.decoder.to_bytes()])
            cloud.add_time("garbling", time.thread_time() - t0)
            cloud.mail.send(spec.evaluator(ell), Frame(Kind.GARBLED, i, ell, payload), Phase.GARBLING)
            cloud.mail.send(spec.host(ell), Frame(Kind.B_KEYS, i, ell, bkeys.to_bytes()), Phase.GARBLING)
            # OT sender: both labels of every client wire (a then r): d·(window + 1)·k messages of 16 bytes
            t0 = time.thread_time()
            zero = np.concatenate([enc.zero[:, sl_a], enc.zero[:, sl_r]], axis=1)  # (d, (window + 1)k, 2)
            one = zero ^ enc.delta[:, None, :]
            tid = _transfer_id(i, ell)
            msg = cloud.ot.message(_labels_to_rows(zero), _labels_to_rows(one), tid).to_bytes()
            cloud.add_time("ot", time.thread_time() - t0)
            cloud.mail.send(spec.evaluator(ell), Frame(Kind.OT_SENDER, i, ell, msg), Phase.OT)
        progress(n)


@functools.lru_cache(maxsize=16)
def _circuit(p: int, f: int, window: int) -> Circuit:
    if window == 1:
        return privatemdi_relu_circuit(p, f)
    return privatemdi_maxpool_relu_circuit(p, f, window)


def relu_circuit(spec: SessionSpec, layer: int) -> Circuit:
    """The garbled circuit after ``layer``: the privateMDI ReLU, or ReLU fused with max pooling over a
    window (inputs ``a``, ``b`` of window·k bits, ``r`` of k bits). Built once per (p, f, window)."""
    return _circuit(spec.p, spec.f, spec.window(layer))


def gather_windows(spec: SessionSpec, layer: int, values: np.ndarray) -> np.ndarray:
    """Field elements of ``layer``'s outputs (…, d_ℓ) arranged per circuit copy: (…, copies, window)."""
    pool = spec.pool(layer)
    return values[..., None] if pool is None else values[..., pool]


def client_wire_bits(spec: SessionSpec, layer: int, a: np.ndarray, r_next: np.ndarray) -> np.ndarray:
    """C's input bits of the circuits after ``layer``: (n, copies, (window + 1)·k), a's bits then r's."""
    k = spec.bits
    a_bits = field_to_bits(gather_windows(spec, layer, a), spec.p)  # (n, copies, window, k)
    a_bits = a_bits.reshape(*a_bits.shape[:-2], -1)
    return np.concatenate([a_bits, field_to_bits(r_next, spec.p).reshape(*r_next.shape, k)], axis=-1)


def edge_wire_bits(spec: SessionSpec, layer: int, b: np.ndarray) -> np.ndarray:
    """host(ℓ)'s input bits of the circuits after ``layer`` for one inference: (copies, window·k)."""
    bits = field_to_bits(gather_windows(spec, layer, b), spec.p)
    return bits.reshape(bits.shape[0], -1)


def _labels_to_rows(labels: np.ndarray) -> np.ndarray:
    """(…, 2) uint64 labels → (count, 16) uint8 rows (little-endian lo ‖ hi, as the GC encodings)."""
    flat = np.ascontiguousarray(labels.reshape(-1, 2).astype("<u8"))
    return flat.view(np.uint8).reshape(-1, 16)


def _rows_to_labels(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.ascontiguousarray(rows).view("<u8").astype(np.uint64).reshape(*shape, 2)


def edge_offline(edge: Edge, first: int, n: int, progress: Progress = _noop) -> None:
    """An edge's side: store s-vectors and b-wire keys (layers it hosts), garbled ReLUs and the client's
    labels via OT (ReLUs it evaluates)."""
    spec = edge.spec
    p, k = spec.p, spec.bits
    for ell in edge.hosted:
        _, fr = edge.mail.expect(Kind.S_SHARE, src=CLOUD, inference=first, layer=ell)
        s_all = decode_field(fr.payload, p, shape=(n, spec.dims[ell]), what="s-vectors")
        for j in range(n):
            _store(edge, edge.s, first + j, ell, s_all[j], s_all[j].size * (4 if p <= 2**32 else 8))
    for ell in edge.hosted:
        if ell == spec.layers:
            continue
        for j in range(n):
            i = first + j
            _, fr = edge.mail.expect(Kind.B_KEYS, src=CLOUD, inference=i, layer=ell)
            keys = GroupKeys.from_bytes(fr.payload)
            if keys.copies != spec.relu_copies(ell) or keys.n_wires != spec.window(ell) * k:
                raise ProtocolError(f"{edge.name}: b-wire keys of shape ({keys.copies}, {keys.n_wires})")
            _store(edge, edge.bkeys, i, ell, keys, len(fr.payload))
    for ell in edge.evaluated:
        circuit = relu_circuit(spec, ell)
        d = spec.relu_copies(ell)
        wk = spec.window(ell) * k  # a-wires per copy
        for j in range(n):
            i = first + j
            _, fr = edge.mail.expect(Kind.GARBLED, src=CLOUD, inference=i, layer=ell)
            t_b, d_b = split_parts(fr.payload, 2, what="garbled ReLU")
            gct = GarbledCircuit.from_bytes(t_b, circuit)
            dco = Decoder.from_bytes(d_b, circuit)
            if gct.copies != d or dco.copies != d:
                raise ProtocolError(f"{edge.name}: garbled ReLU with {gct.copies} copies, expected {d}")
            _store(edge, edge.garbled, i, ell, (gct, dco), len(fr.payload))
            _, snd = edge.mail.expect(Kind.OT_SENDER, src=CLOUD, inference=i, layer=ell)
            _, cho = edge.mail.expect(Kind.OT_CHOOSER, src=CLIENT, inference=i, layer=ell)
            t0 = time.thread_time()
            rows = receive(snd.payload, cho.payload)
            if rows.shape != (d * (wk + k), 16):
                raise ProtocolError(
                    f"{edge.name}: OT gave {rows.shape} labels, expected ({d * (wk + k)}, 16)"
                )
            lab = _rows_to_labels(rows, (d, wk + k))
            labels = (Labels(np.ascontiguousarray(lab[:, :wk])), Labels(np.ascontiguousarray(lab[:, wk:])))
            edge.add_time("ot", time.thread_time() - t0)
            _store(edge, edge.client_labels, i, ell, labels, lab.nbytes)
        progress(n)


def _store(
    edge: Edge, store: dict[tuple[int, int], Any], i: int, ell: int, value: object, nbytes: int
) -> None:
    key = (i, ell)
    if key in store or any(u[1:] == key for u in edge.used if store is _store_of(edge, u[0])):
        raise ProtocolError(f"{edge.name}: material for inference {i}, layer {ell} sent twice")
    store[key] = value
    edge.storage[i] = edge.storage.get(i, 0) + nbytes


def _store_of(edge: Edge, what: str) -> dict[tuple[int, int], Any]:
    stores: dict[str, dict[tuple[int, int], Any]] = {
        "s-vector": edge.s,
        "b-wire keys": edge.bkeys,
        "garbled circuit": edge.garbled,
        "client labels": edge.client_labels,
    }
    return stores[what]
