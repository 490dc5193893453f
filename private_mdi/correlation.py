"""Batched linear correlations ``a ≡ W r − s (mod p)`` over Paillier (privateMDI offline step 1).

The protocol of arXiv 2407.18353 (privateMDI), offline phase step 1, on the cryptosystem of
:mod:`private_mdi.paillier` (Paillier 1999, ``g = n + 1``). Contract: ``shared/docs/privatemdi-protocol.md``.

Roles
-----
* **Client** (owns the Paillier key): draws masks ``r``, sends them encrypted
  (:func:`client_encrypt_mask` → :class:`EncryptedMask`), decrypts the reply and reduces mod ``p``
  (:func:`client_decrypt_reply`) to get ``a``.
* **Model owner** (owns ``W``): draws ``s`` and the statistical masks ``ρ``, computes
  ``Enc(W r − s + p·ρ)`` homomorphically, re-randomises it (:func:`owner_respond` → :class:`EncryptedReply`).

:func:`linear_correlation`, :func:`linear_correlation_batch` and :func:`linear_correlation_layers` run both
roles in memory over the byte-encoded messages (codecs in :mod:`private_mdi.correlation_wire`).

Math (``docs/building-blocks.md`` §3)
-------------------------------------
* **Homomorphism** (``g = n + 1``): ``Enc(x)·Enc(y) = Enc(x + y mod n)``, ``Enc(x)^k = Enc(k x mod n)``,
  ``Enc(x)·(1 + y n) = Enc(x + y mod n)`` (a plaintext addition costs one multiplication mod ``n²``).
* **Slots.** With public ``weight_bound`` ``B_W ≥ max|W_ij|`` let ``A = n_in · B_W · (p−1)``. Then
  ``D = W_i r − s_i ∈ [−A−(p−1), A]``; write ``D = a + p·k`` with ``a = D mod p`` and
  ``k ∈ [k_min, k_max]`` (``K = k_max − k_min + 1`` values). The owner adds ``p·ρ`` with ``ρ`` uniform in
  ``[−k_min, −k_min + K·2^σ)``: the slot integer ``z = a + p(k + ρ)`` lies in ``[0, p(K − 1 + K·2^σ))``,
  so a slot of ``w`` bits (``w`` = bit length of that bound) holds it with no carry.
* **Statistical mask ρ.** The client learns ``z``, i.e. ``a`` and ``k + ρ``. For two values ``k, k'`` the
  distributions of ``k + ρ`` are uniform on intervals of length ``K·2^σ`` shifted by ``|k − k'| < K``,
  so their statistical distance is below ``2^{−σ}`` (``σ = stat_bits ≥ 40``): ``z`` reveals ``a`` and
  (up to ``2^{−σ}`` per slot) nothing else. **Without ρ** the client would see
  ``k = ⌊(W_i r − s_i)/p⌋``, a function of ``W_i r``: over many rows it pins ``W_i r`` down and recovers
  ``W`` (``tests/test_correlation.py`` shows it on a tiny case). ρ is therefore not optional.
* **Input packing (batch).** ``batch = β`` inferences share one ciphertext per input: the client encrypts
  ``R_j = Σ_b r_j^{(b)} 2^{b·w}``; ``Π_j Enc(R_j)^{W_ij} = Enc(Σ_b (W_i r^{(b)}) 2^{b·w} mod n)``. Signed
  weights use ``Enc(R_j)^{−1}`` (one modular inverse per input). Every slot's final value is in
  ``[0, 2^w)`` and ``P·w ≤ bits(n) − 1``, so the packed integer is below ``n`` and decrypts exactly.
* **Output packing.** ``G = ⌊P/β⌋`` rows go into one reply ciphertext (Horner: ``C ← C^{2^{β·w}} · T_i``),
  so the reply, the owner's re-randomisers and the client's decryptions shrink by ``G·β = P`` slots per
  ciphertext.
* **Seeded upload.** The client sends a 32-byte seed and, per input, ``δ_j = R_j − Dec(y_j) mod n`` where
  ``y_j ∈ Z*_{n²}`` is expanded from the seed with AES-256-CTR; the owner rebuilds
  ``Enc(R_j) = y_j · (1 + δ_j·n) mod n²``. That halves the upload (``|n|`` instead of ``2|n|`` bits
  per input) and costs the client one CRT decryption per input instead of one encryption. Secure
  under DCR with the seed expansion modelled as a random oracle: the pair ``(y_j, δ_j)`` is distributed
  as ``(Enc(R_j − δ), δ)`` for uniform ``δ``, so distinguishing it for two masks breaks IND-CPA.
* **Multi-exponentiation.** ``T_i = Π_j base_j^{|W_ij|}`` uses the bucket method on ``c``-bit digits
  (``c`` chosen per row): about ``⌈b/c⌉ · (n_in + 2^{c+1})`` modular multiplications instead of
  ``n_in`` full exponentiations.
* **Re-randomisation** multiplies each reply ciphertext by ``u^n`` from a
  :class:`~private_mdi.paillier.RandomizerPool`. It is required: the client knows the ``n``-th-residue
  part of every ``y_j``, so without it the reply's randomness ``Π_j y_j^{W_ij}`` would be a known function
  of ``W``.

What leaks: the client learns ``a`` (uniform, since ``s`` is) and ``k + ρ`` (statistically hiding ``k``);
the public parameters ``(p, n_in, n_out, weight_bound, batch, σ)`` are known to both sides, so the owner
reveals the bit length of its largest weight. The owner sees only Paillier ciphertexts (DCR).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gmpy2
import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from cmpc.checks import as_field, check_int
from cmpc.errors import FieldRangeError, ProtocolError, ShapeError
from cmpc.field import PrimeField
from cmpc.rand import RandomSource, resolve

from .correlation_wire import SEED_BYTES, EncryptedMask, EncryptedReply
from .errors import KeyMismatchError, MaterialReusedError, ParameterError
from .multiexp import row_product, row_product_nz
from .nn.operator import SparseOperator
from .paillier import DEFAULT_KEY_BITS, Mpz, PaillierKeyPair, PublicKey, RandomizerPool

__all__ = [
    "DEFAULT_STAT_BITS",
    "ClientCorrelationState",
    "CorrelationParams",
    "EncryptedMask",
    "EncryptedReply",
    "PackingLayout",
    "UploadPad",
    "client_decrypt_reply",
    "client_encrypt_mask",
    "linear_correlation",
    "linear_correlation_batch",
    "linear_correlation_layers",
    "owner_respond",
    "precompute_upload",
    "weight_bound_for",
]

DEFAULT_STAT_BITS = 40


# =================================================================================================
# parameters and packing layout
# =================================================================================================
@dataclass(frozen=True)
class PackingLayout:
    """Slot layout for one (params, key size) pair (all values public)."""

    slot_bits: int  # w
    slots_per_ct: int  # P
    rows_per_ct: int  # G = P // batch
    reply_cts: int  # ceil(n_out / G)
    rho_low: int  # ρ ∈ [rho_low, rho_low + rho_span)
    rho_span: int


@dataclass(frozen=True)
class CorrelationParams:
    """Public parameters of one linear correlation request.

    ``p``: the field; ``n_in``/``n_out``: the layer's input/output sizes; ``weight_bound``: a public
    bound with ``|W_ij| ≤ weight_bound``; ``batch``: inferences packed per input ciphertext;
    ``stat_bits``: σ, the statistical security of the ρ masks (≥ 40).
    """

    p: int
    n_in: int
    n_out: int
    weight_bound: int
    batch: int = 1
    stat_bits: int = DEFAULT_STAT_BITS

    def __post_init__(self) -> None:
        for name in ("p", "n_in", "n_out", "weight_bound", "batch", "stat_bits"):
            check_int(name, getattr(self, name))
        if not 3 <= self.p < 2**63:
            raise ParameterError(f"p must be in [3, 2^63), got {self.p}")
        if not 1 <= self.n_in < 2**32 or not 1 <= self.n_out < 2**32:
            raise ParameterError(f"n_in and n_out must be in [1, 2^32), got {self.n_in}, {self.n_out}")
        if not 1 <= self.weight_bound <= (self.p - 1) // 2:
            raise ParameterError(f"weight_bound must be in [1, (p-1)/2], got {self.weight_bound}")
        if not 1 <= self.batch < 2**16:
            raise ParameterError(f"batch must be in [1, 2^16), got {self.batch}")
        if not DEFAULT_STAT_BITS <= self.stat_bits <= 256:
            raise ParameterError(f"stat_bits must be in [{DEFAULT_STAT_BITS}, 256], got {self.stat_bits}")

    def layout(self, key_bits: int) -> PackingLayout:
        """The slot layout under a ``key_bits``-bit modulus (ParameterError if nothing fits)."""
        p = self.p
        big_a = self.n_in * self.weight_bound * (p - 1)
        k_min = (-big_a - (p - 1)) // p
        k_max = big_a // p
        span_k = k_max - k_min + 1
        rho_span = span_k << self.stat_bits
        top = p * (span_k - 1 + rho_span)  # z < top
        w = (top - 1).bit_length()
        slots = (key_bits - 1) // w
        if slots < 1:
            raise ParameterError(f"a {w}-bit slot does not fit a {key_bits}-bit Paillier plaintext")
        if self.batch > slots:
            raise ParameterError(
                f"batch must be <= {slots} (slots of {w} bits per {key_bits}-bit ciphertext), "
                f"got {self.batch}"
            )
        rows = slots // self.batch
        return PackingLayout(w, slots, rows, -(-self.n_out // rows), -k_min, rho_span)

    def max_batch(self, key_bits: int) -> int:
        """The largest ``batch`` that fits one ciphertext under ``key_bits``."""
        return (
            CorrelationParams(self.p, self.n_in, self.n_out, self.weight_bound, 1, self.stat_bits)
            .layout(key_bits)
            .slots_per_ct
        )


def weight_bound_for(w: np.ndarray | SparseOperator) -> int:
    """The public weight bound ``2^b − 1`` with ``b`` the bit length of ``max|W|`` (only ``b`` leaks)."""
    if isinstance(w, SparseOperator):
        m = int(w.abs_max())
    else:
        m = int(np.abs(np.asarray(w, dtype=object)).max()) if np.size(w) else 0
    return max(1, (1 << max(1, m.bit_length())) - 1)


# =================================================================================================
# client
# =================================================================================================
def _expand_seed(seed: bytes, pub: PublicKey, count: int) -> list[Mpz]:
    """``y_j ∈ Z_{n²}`` from AES-256-CTR(seed): 2|n|+128 bits each, reduced mod n² (bias < 2^-128)."""
    width = pub.ciphertext_bytes + 16
    enc = Cipher(algorithms.AES(seed), modes.CTR(b"\x00" * 16)).encryptor()
    stream = enc.update(bytes(width * count))
    return [
        gmpy2.mpz(int.from_bytes(stream[i * width : (i + 1) * width], "big")) % pub.nsquare
        for i in range(count)
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
        ys = _expand_seed(seed, pub, n_in)
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


# =================================================================================================
# model owner
# =================================================================================================
def _check_operator(w: SparseOperator, params: CorrelationParams) -> SparseOperator:
    if w.shape != (params.n_out, params.n_in):
        raise ShapeError(f"W must have shape ({params.n_out}, {params.n_in}), got {w.shape}")
    if not np.issubdtype(w.data.dtype, np.integer):
        raise ParameterError(f"W must be an integer operator (encoded weights), got dtype {w.data.dtype}")
    if int(w.abs_max()) > params.weight_bound:
        raise FieldRangeError(
            f"W has |entry| {w.abs_max()} above the public weight_bound {params.weight_bound}"
        )
    return w


def _check_weights(w: Any, params: CorrelationParams) -> np.ndarray:
    arr = np.asarray(w)
    if arr.dtype == object:
        try:
            arr = np.array([int(v) for v in arr.ravel()], dtype=np.int64).reshape(arr.shape)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ParameterError("W must hold integers") from exc
    if not np.issubdtype(arr.dtype, np.integer):
        raise ParameterError(f"W must be an integer matrix (encoded weights), got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape != (params.n_out, params.n_in):
        raise ShapeError(f"W must have shape ({params.n_out}, {params.n_in}), got {arr.shape}")
    arr = arr.astype(np.int64)
    if arr.size and int(np.abs(arr).max()) > params.weight_bound:
        raise FieldRangeError(
            f"W has |entry| {int(np.abs(arr).max())} above the public weight_bound {params.weight_bound}"
        )
    return arr


def owner_respond(
    public_key: PublicKey,
    w: Any,
    params: CorrelationParams,
    request: EncryptedMask | bytes,
    rng: RandomSource | None = None,
    *,
    pool: RandomizerPool | None = None,
) -> tuple[np.ndarray, EncryptedReply]:
    """Model owner: draw ``s`` (shape ``(batch, n_out)``) and return ``(s, Enc(W r − s + p·ρ))``, packed.

    ``w``: integer matrix ``(n_out, n_in)`` with ``|W_ij| ≤ params.weight_bound`` (signed entries), dense or
    a :class:`~private_mdi.nn.operator.SparseOperator` (then only its non-zeros are read; same reply).
    Every slot carries a fresh statistical mask ``ρ`` (module docstring); each reply ciphertext is
    re-randomised with one ``u^n`` from ``pool`` (computed on the spot when no pool is given or it is empty).
    """
    if not isinstance(public_key, PublicKey):
        raise ParameterError(f"public_key must be a PublicKey, got {type(public_key).__name__}")
    src = resolve(rng)
    if isinstance(request, bytes | bytearray):
        request = EncryptedMask.from_bytes(bytes(request), public_key)
    if request.fingerprint != public_key.fingerprint:
        raise KeyMismatchError("encrypted mask was made under another Paillier key (fingerprint differs)")
    layout = params.layout(public_key.bits)
    if (request.p, request.n_in, request.batch, request.slot_bits) != (
        params.p,
        params.n_in,
        params.batch,
        layout.slot_bits,
    ):
        raise ProtocolError(
            f"request (p={request.p}, n_in={request.n_in}, batch={request.batch}, w={request.slot_bits}) "
            f"does not match the parameters (p={params.p}, n_in={params.n_in}, batch={params.batch}, "
            f"w={layout.slot_bits})"
        )
    wm = _check_operator(w, params) if isinstance(w, SparseOperator) else _check_weights(w, params)
    n, n2 = public_key.n, public_key.nsquare
    ys = _expand_seed(request.seed, public_key, params.n_in)
    cts = [y * (1 + d * n) % n2 for y, d in zip(ys, request.deltas)]
    if isinstance(wm, SparseOperator):
        negcols = np.unique(wm.indices[wm.data < 0]).tolist()
    else:
        negcols = np.flatnonzero((wm < 0).any(axis=0)).tolist()
    inv: list[Mpz | None] = [None] * params.n_in
    for j in negcols:
        try:
            inv[j] = gmpy2.invert(cts[j], n2)
        except ZeroDivisionError as exc:
            raise ProtocolError(f"encrypted mask entry {j} is not invertible modulo n²") from exc
    if isinstance(wm, SparseOperator):
        rows_t = [row_product_nz(cts, inv, *wm.row(i), n2) for i in range(params.n_out)]
    else:
        rows_t = [row_product(cts, inv, wm[i], n2) for i in range(params.n_out)]

    beta, w_bits, rows = params.batch, layout.slot_bits, layout.rows_per_ct
    s = src.field_elements(params.p, (beta, params.n_out))
    shift = 1 << (beta * w_bits)
    out = []
    for t in range(layout.reply_cts):
        idx = list(range(t * rows, min((t + 1) * rows, params.n_out)))
        ct: Mpz | None = None
        offset = gmpy2.mpz(0)
        for i in reversed(idx):  # Horner: the first row of the group ends up in the lowest slots
            ct = rows_t[i] if ct is None else gmpy2.powmod(ct, shift, n2) * rows_t[i] % n2
            for b in range(beta - 1, -1, -1):
                rho = layout.rho_low + src.randbelow(layout.rho_span)
                offset = (offset << w_bits) + (params.p * rho - int(s[b, i]))
        assert ct is not None
        rerand = pool.take() if pool is not None else RandomizerPool(public_key, src).take()
        ct = ct * ((1 + (offset % n) * n) % n2) % n2 * rerand % n2
        out.append(ct)
    reply = EncryptedReply(
        public_key.fingerprint,
        request.request_id,
        params.p,
        params.n_out,
        beta,
        w_bits,
        rows,
        tuple(out),
        public_key.ciphertext_bytes,
    )
    return s, reply


# =================================================================================================
# in-memory runs of both roles
# =================================================================================================
def _field_p(field_: PrimeField | int) -> int:
    return as_field(field_, "field").p


def _keypair(keypair: PaillierKeyPair | None, key_bits: int | None, src: RandomSource) -> PaillierKeyPair:
    """The given key pair (checked against ``key_bits`` if both are given) or a fresh one."""
    if keypair is None:
        return PaillierKeyPair.generate(DEFAULT_KEY_BITS if key_bits is None else key_bits, src)
    if key_bits is not None and keypair.public.bits != key_bits:
        raise ParameterError(f"keypair has {keypair.public.bits} bits but key_bits={key_bits} was requested")
    return keypair


def linear_correlation_batch(
    w: Any,
    field: PrimeField | int,
    batch: int,
    rng: RandomSource | None = None,
    key_bits: int | None = None,
    *,
    keypair: PaillierKeyPair | None = None,
    stat_bits: int = DEFAULT_STAT_BITS,
    weight_bound: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``batch`` correlations for one layer, both roles in memory: ``(r, a, s)`` of shapes
    ``(batch, n_in)``, ``(batch, n_out)``, ``(batch, n_out)`` with ``a ≡ W r − s (mod p)`` row by row.

    Batches larger than one ciphertext's slot count are split into several requests.
    """
    p = _field_p(field)
    arr = np.asarray(w)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ShapeError(f"W must be a non-empty 2-D (out, in) matrix, got shape {arr.shape}")
    batch = check_int("batch", batch, lo=1)
    if (
        np.issubdtype(arr.dtype, np.integer)
        and arr.size
        and int(np.abs(arr.astype(object)).max()) > (p - 1) // 2
    ):
        raise FieldRangeError(f"W entries must satisfy |W_ij| < p/2 = {p / 2:g}")
    src = resolve(rng)
    kp = _keypair(keypair, key_bits, src)
    wb = weight_bound if weight_bound is not None else weight_bound_for(arr)
    base = CorrelationParams(p, int(arr.shape[1]), int(arr.shape[0]), wb, 1, stat_bits)
    cap = base.max_batch(kp.public.bits)
    rs, as_, ss = [], [], []
    done = 0
    while done < batch:
        chunk = min(cap, batch - done)
        prm = CorrelationParams(p, base.n_in, base.n_out, wb, chunk, stat_bits)
        state, msg = client_encrypt_mask(kp, prm, src)
        s, reply = owner_respond(kp.public, arr, prm, msg.to_bytes(), src)
        r, a = client_decrypt_reply(kp, state, reply.to_bytes())  # type: ignore[misc]
        rs.append(r)
        as_.append(a)
        ss.append(s)
        done += chunk
    return np.concatenate(rs), np.concatenate(as_), np.concatenate(ss)


def linear_correlation(
    w: Any,
    field: PrimeField | int,
    rng: RandomSource | None = None,
    key_bits: int | None = None,
    *,
    keypair: PaillierKeyPair | None = None,
    stat_bits: int = DEFAULT_STAT_BITS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One correlation for an integer matrix ``W`` (``(out, in)``, signed, ``|W_ij| < p/2``), both roles
    in memory over byte-encoded messages.

    Returns ``(r, a, s)``: the client's mask ``r`` (int64, length ``in``, uniform in GF(p)), the client's
    share ``a`` and the owner's ``s`` (int64, length ``out``) with ``a ≡ W r − s (mod p)``. A fresh
    ``key_bits``-bit key (default :data:`~private_mdi.paillier.DEFAULT_KEY_BITS` = 3072) is generated
    unless ``keypair`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> from cmpc.rand import RandomSource
    >>> from private_mdi.paillier import PaillierKeyPair
    >>> kp = PaillierKeyPair.generate(2048, RandomSource(seed="doc"))  # 2048: quick, only ≈112-bit security
    >>> w = np.array([[1, -2], [3, 4]])
    >>> r, a, s = linear_correlation(w, 101, RandomSource(seed=1), keypair=kp)
    >>> bool(((w @ r - s - a) % 101 == 0).all())
    True
    """
    r, a, s = linear_correlation_batch(w, field, 1, rng, key_bits, keypair=keypair, stat_bits=stat_bits)
    return r[0], a[0], s[0]


def linear_correlation_layers(
    weights: Sequence[Any],
    field: PrimeField | int,
    batch: int = 1,
    rng: RandomSource | None = None,
    key_bits: int | None = None,
    *,
    keypair: PaillierKeyPair | None = None,
    stat_bits: int = DEFAULT_STAT_BITS,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Correlations for several layers (one key pair for all): ``[(r_ℓ, a_ℓ, s_ℓ)]`` as in
    :func:`linear_correlation_batch`, each of leading dimension ``batch``."""
    if isinstance(weights, np.ndarray) or not weights:
        raise ParameterError("weights must be a non-empty sequence of (out, in) integer matrices")
    src = resolve(rng)
    kp = _keypair(keypair, key_bits, src)
    return [
        linear_correlation_batch(w, field, batch, src, kp.public.bits, keypair=kp, stat_bits=stat_bits)
        for w in weights
    ]
