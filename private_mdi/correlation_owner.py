"""The model owner's side of a linear correlation: answer an encrypted mask with ``Enc(W r − s + p·ρ)``.

The owner holds ``W`` and only the client's public key. :func:`owner_respond` rebuilds the client's
ciphertexts from the seeded upload, computes every row ``Enc(W_i r)`` homomorphically, subtracts its fresh
share ``s``, adds the statistical masks ``p·ρ``, packs several rows per reply ciphertext and re-randomises
each. Parameters, layout and the ρ argument: :mod:`private_mdi.correlation_params`; overview:
:mod:`private_mdi.correlation`.

Math (``docs/building-blocks.md`` §3)
-------------------------------------
* **Homomorphism** (``g = n + 1``): ``Enc(x)·Enc(y) = Enc(x + y mod n)``, ``Enc(x)^k = Enc(k x mod n)``,
  ``Enc(x)·(1 + y n) = Enc(x + y mod n)`` (a plaintext addition costs one multiplication mod ``n²``).
* **Signed weights** use ``Enc(R_j)^{−1}`` (one modular inverse per input column with a negative weight):
  ``T_i = Π_{W_ij > 0} Enc(R_j)^{W_ij} · Π_{W_ij < 0} (Enc(R_j)^{−1})^{|W_ij|}``.
* **Multi-exponentiation.** ``T_i = Π_j base_j^{|W_ij|}`` uses the bucket method on ``c``-bit digits
  (``c`` chosen per row, :mod:`private_mdi.multiexp`): about ``⌈b/c⌉ · (n_in + 2^{c+1})`` modular
  multiplications instead of ``n_in`` full exponentiations.
* **Output packing.** ``G = ⌊P/β⌋`` rows go into one reply ciphertext (Horner: ``C ← C^{2^{β·w}} · T_i``),
  so the reply, the owner's re-randomisers and the client's decryptions shrink by ``G·β = P`` slots per
  ciphertext. The slot offsets ``p·ρ − s`` of the whole ciphertext are added in one plaintext addition.
* **Re-randomisation** multiplies each reply ciphertext by ``u^n`` from a
  :class:`~private_mdi.paillier.RandomizerPool`. It is required: the client knows the ``n``-th-residue
  part of every ``y_j``, so without it the reply's randomness ``Π_j y_j^{W_ij}`` would be a known function
  of ``W``.

What leaks: the owner sees only Paillier ciphertexts (DCR). Its reply reveals to the client ``a`` and
``k + ρ`` per slot (statistically hiding ``k``) and, through the public parameters, the bit length of its
largest weight.
"""

from __future__ import annotations

from typing import Any

import gmpy2
import numpy as np

from cmpc.errors import FieldRangeError, ProtocolError, ShapeError
from cmpc.rand import RandomSource, resolve

from .correlation_params import CorrelationParams, expand_seed
from .correlation_wire import EncryptedMask, EncryptedReply
from .errors import KeyMismatchError, ParameterError
from .multiexp import row_product, row_product_nz
from .nn.operator import SparseOperator
from .paillier import Mpz, PublicKey, RandomizerPool

__all__ = ["owner_respond"]


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
    Every slot carries a fresh statistical mask ``ρ`` (:mod:`private_mdi.correlation_params`); each reply
    ciphertext is re-randomised with one ``u^n`` from ``pool`` (computed on the spot when no pool is given
    or it is empty).
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
    ys = expand_seed(request.seed, public_key, params.n_in)
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

