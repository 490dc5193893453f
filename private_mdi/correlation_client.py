"""The client's side of a linear correlation: draw the masks ``r``, upload them, decrypt the reply.

The client owns the Paillier key. :func:`client_encrypt_mask` draws ``r`` (uniform in GF(p), shape
``(batch, n_in)``), packs it and sends it as a seeded upload
(:class:`~private_mdi.correlation_wire.EncryptedMask`); :func:`client_decrypt_reply` decrypts the owner's
reply and reduces every slot mod ``p`` to get ``a ≡ W r − s (mod p)``. :func:`precompute_upload` does the
request-independent half of the upload ahead of time (:class:`UploadPad`). Parameters and layout:
:mod:`private_mdi.correlation_params`; overview: :mod:`private_mdi.correlation`.

Math (``docs/building-blocks.md`` §3)
-------------------------------------
* **Input packing (batch).** ``batch = β`` inferences share one ciphertext per input: the client encrypts
  ``R_j = Σ_b r_j^{(b)} 2^{b·w}``; ``Π_j Enc(R_j)^{W_ij} = Enc(Σ_b (W_i r^{(b)}) 2^{b·w} mod n)``. Every
  slot's final value is in ``[0, 2^w)`` and ``P·w ≤ bits(n) − 1``, so the packed integer is below ``n`` and
  decrypts exactly.
* **Seeded upload.** The client sends a 32-byte seed and, per input, ``δ_j = R_j − Dec(y_j) mod n`` where
  ``y_j ∈ Z*_{n²}`` is expanded from the seed with AES-256-CTR
  (:func:`~private_mdi.correlation_params.expand_seed`); the owner rebuilds
  ``Enc(R_j) = y_j · (1 + δ_j·n) mod n²``. That halves the upload (``|n|`` instead of ``2|n|`` bits
  per input) and costs the client one CRT decryption per input instead of one encryption. Secure
  under DCR with the seed expansion modelled as a random oracle: the pair ``(y_j, δ_j)`` is distributed
  as ``(Enc(R_j − δ), δ)`` for uniform ``δ``, so distinguishing it for two masks breaks IND-CPA.
* **Reply.** Each reply ciphertext decrypts to ``G·β`` slots of ``w`` bits, ``z = a + p(k + ρ)``; the client
  keeps ``a = z mod p``.

What leaks: the client learns ``a`` (uniform, since ``s`` is) and ``k + ρ`` (statistically hiding ``k``,
:mod:`private_mdi.correlation_params`). The owner sees only the seed and the ``δ_j`` (IND-CPA under DCR). An
upload pad or a client state used twice would leak ``R − R'``; both are single use
(:class:`~private_mdi.errors.MaterialReusedError`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import gmpy2
import numpy as np

from cmpc.checks import check_int
from cmpc.errors import ProtocolError
from cmpc.rand import RandomSource, resolve

from .correlation_params import CorrelationParams, PackingLayout, expand_seed
from .correlation_wire import SEED_BYTES, EncryptedMask, EncryptedReply
from .errors import KeyMismatchError, MaterialReusedError, ParameterError
from .paillier import Mpz, PaillierKeyPair

__all__ = [
    "ClientCorrelationState",
    "UploadPad",
    "client_decrypt_reply",
    "client_encrypt_mask",
    "precompute_upload",
]


@dataclass(eq=False)
class ClientCorrelationState:
    """What the client keeps between sending the mask and receiving the reply (single use)."""

    params: CorrelationParams
    layout: PackingLayout
    fingerprint: bytes
    request_id: bytes
    r: np.ndarray  # (batch, n_in) int64 in [0, p)
    used: bool = False


def _pack_columns(r: np.ndarray, w: int) -> list[Mpz]:
    """R_j = Σ_b r[b, j] · 2^{b·w} for every column j."""
    batch, n_in = r.shape
    out = []
    for j in range(n_in):
        acc = gmpy2.mpz(0)
        for b in range(batch - 1, -1, -1):
            acc = (acc << w) + int(r[b, j])
        out.append(acc)
    return out


@dataclass(eq=False)
class UploadPad:
    """The request-independent half of a seeded upload, computed ahead of time (single use).

    ``seed`` and ``plain[j] = Dec(y_j)`` for the ``n_in`` values ``y_j`` expanded from it. The pad does not
    depend on the masks, so the client can compute it in idle time (:func:`precompute_upload`); then
    :func:`client_encrypt_mask` only subtracts. A pad must never serve two requests: two uploads
    ``δ = R − Dec(y)`` and ``δ' = R' − Dec(y)`` under one seed reveal ``R − R'``; reuse raises
    :class:`~private_mdi.errors.MaterialReusedError`.
    """

    fingerprint: bytes
    seed: bytes
    plain: tuple[Mpz, ...] = field(repr=False)
    used: bool = False

    @property
    def n_in(self) -> int:
        return len(self.plain)


def precompute_upload(
    keypair: PaillierKeyPair, n_in: int, rng: RandomSource | None = None, *, threads: int = 1
) -> UploadPad:
    """A fresh seed and the ``n_in`` CRT decryptions of its expansion (the client's upload work)."""
    if not isinstance(keypair, PaillierKeyPair):
        raise ParameterError(f"keypair must be a PaillierKeyPair, got {type(keypair).__name__}")
    n_in = check_int("n_in", n_in, 1, 2**32 - 1)
    src = resolve(rng)
    pub = keypair.public
    while True:
        seed = src.bytes(SEED_BYTES)
        ys = expand_seed(seed, pub, n_in)
        if all(gmpy2.gcd(y, pub.n) == 1 for y in ys):
            break
    return UploadPad(pub.fingerprint, seed, tuple(keypair.decrypt_many(ys, threads=threads)))


def client_encrypt_mask(
    keypair: PaillierKeyPair,
    params: CorrelationParams,
    rng: RandomSource | None = None,
    *,
    threads: int = 1,
    pad: UploadPad | None = None,
) -> tuple[ClientCorrelationState, EncryptedMask]:
    """Draw masks ``r`` (shape ``(batch, n_in)``, uniform in GF(p)) and encrypt them, packed and seeded.

    Costs ``n_in`` CRT decryptions (of the seed-expanded ``y_j``), batched; ``threads=2`` runs the
    ``p``- and ``q``-halves on two cores (see :meth:`PaillierKeyPair.decrypt_many`). With a ``pad`` from
    :func:`precompute_upload` (same key, ``n_in`` entries, unused) those decryptions were done ahead and
    this call only draws ``r`` and subtracts.
    """
    if not isinstance(keypair, PaillierKeyPair):
        raise ParameterError(f"keypair must be a PaillierKeyPair, got {type(keypair).__name__}")
    src = resolve(rng)
    pub = keypair.public
    layout = params.layout(pub.bits)
    if pad is not None:
        if pad.used:
            raise MaterialReusedError("this upload pad was already used for a request")
        if pad.fingerprint != pub.fingerprint:
            raise KeyMismatchError("the upload pad was made under another Paillier key")
        if pad.n_in != params.n_in:
            raise ParameterError(f"the upload pad has {pad.n_in} entries, the request needs {params.n_in}")
    r = src.field_elements(params.p, (params.batch, params.n_in))
    packed = _pack_columns(r, layout.slot_bits)
    if pad is None:
        pad = precompute_upload(keypair, params.n_in, src, threads=threads)
    pad.used = True
    seed = pad.seed
    deltas = tuple((rj - d) % pub.n for rj, d in zip(packed, pad.plain))
    rid = hashlib.sha256(b"privateMDI/paillier/request\x00" + seed).digest()[:16]
    msg = EncryptedMask(
        pub.fingerprint,
        rid,
        params.p,
        params.n_in,
        params.batch,
        layout.slot_bits,
        seed,
        deltas,
        pub.nbytes_n,
    )
    return ClientCorrelationState(params, layout, pub.fingerprint, rid, r), msg


def client_decrypt_reply(
    keypair: PaillierKeyPair,
    state: ClientCorrelationState,
    reply: EncryptedReply | bytes,
    *,
    raw: bool = False,
    threads: int = 1,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decrypt the reply: returns ``(r, a)`` with ``a ≡ W r − s (mod p)``, both ``(batch, ·)`` int64.

    With ``raw=True`` also returns the slot integers ``z = W r − s + p·ρ`` (object array of Python ints),
    i.e. exactly what the client sees before reducing mod ``p`` (used to test the ρ argument).
    ``threads`` as in :func:`client_encrypt_mask`.
    Raises MaterialReusedError on a second call with the same state, KeyMismatchError for a reply
    under another key and ProtocolError for a reply that does not match the request.
    """
    if state.used:
        raise MaterialReusedError("this correlation state was already used to decrypt a reply")
    pub = keypair.public
    if state.fingerprint != pub.fingerprint:
        raise KeyMismatchError("the state was made under another Paillier key")
    if isinstance(reply, bytes | bytearray):
        reply = EncryptedReply.from_bytes(bytes(reply), pub)
    if reply.fingerprint != pub.fingerprint:
        raise KeyMismatchError("reply was made under another Paillier key (fingerprint differs)")
    prm, lay = state.params, state.layout
    if reply.request_id != state.request_id:
        raise ProtocolError("reply answers another request (request id differs)")
    if (reply.p, reply.n_out, reply.batch, reply.slot_bits, reply.rows_per_ct, len(reply.ciphertexts)) != (
        prm.p,
        prm.n_out,
        prm.batch,
        lay.slot_bits,
        lay.rows_per_ct,
        lay.reply_cts,
    ):
        raise ProtocolError(
            "reply layout (p, n_out, batch, slot bits, rows per ct, count) differs from the request"
        )
    w, beta, rows = lay.slot_bits, prm.batch, lay.rows_per_ct
    mask = (gmpy2.mpz(1) << w) - 1
    z = np.empty((beta, prm.n_out), dtype=object)
    limit = gmpy2.mpz(1) << (lay.slots_per_ct * w)
    for t, packed in enumerate(keypair.decrypt_many(reply.ciphertexts, threads=threads)):
        if packed >= limit:
            raise ProtocolError(f"reply ciphertext {t} decrypts outside the packing layout")
        for g in range(rows):
            i = t * rows + g
            if i >= prm.n_out:
                break
            for b in range(beta):
                z[b, i] = int((packed >> ((g * beta + b) * w)) & mask)
    state.used = True
    a = np.array([[v % prm.p for v in row] for row in z], dtype=np.int64).reshape(beta, prm.n_out)
    return (state.r, a, z) if raw else (state.r, a)
