"""Batched linear correlations ``a ≡ W r − s (mod p)`` over Paillier (privateMDI offline step 1).

The protocol of arXiv 2407.18353 (privateMDI), offline phase step 1, on the cryptosystem of
:mod:`private_mdi.paillier` (Paillier 1999, ``g = n + 1``). Contract: ``shared/docs/privatemdi-protocol.md``.
This module runs both roles in memory and re-exports the protocol's public names; the parts live in

* :mod:`private_mdi.correlation_params`: the public parameters (:class:`CorrelationParams`), the slot layout
  (:class:`PackingLayout`), :func:`weight_bound_for`, and the slot/ρ math;
* :mod:`private_mdi.correlation_client`: the **client** (owns the Paillier key): draws masks ``r``, sends
  them encrypted (:func:`client_encrypt_mask` → :class:`EncryptedMask`, optionally with an
  :class:`UploadPad` from :func:`precompute_upload`), decrypts the reply and reduces mod ``p``
  (:func:`client_decrypt_reply`) to get ``a``; input packing and the seeded upload;
* :mod:`private_mdi.correlation_owner`: the **model owner** (owns ``W``): draws ``s`` and the statistical
  masks ``ρ``, computes ``Enc(W r − s + p·ρ)`` homomorphically, re-randomises it
  (:func:`owner_respond` → :class:`EncryptedReply`); multi-exponentiation and output packing;
* :mod:`private_mdi.correlation_wire`: the byte codecs of the two messages.

:func:`linear_correlation`, :func:`linear_correlation_batch` and :func:`linear_correlation_layers` (here) run
both roles in memory over the byte-encoded messages. Math: ``docs/building-blocks.md`` §3 and the
docstrings of the modules above.

What leaks: the client learns ``a`` (uniform, since ``s`` is) and ``k + ρ`` (statistically hiding ``k``);
the public parameters ``(p, n_in, n_out, weight_bound, batch, σ)`` are known to both sides, so the owner
reveals the bit length of its largest weight. The owner sees only Paillier ciphertexts (DCR).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cmpc.checks import as_field, check_int
from cmpc.errors import FieldRangeError, ShapeError
from cmpc.field import PrimeField
from cmpc.rand import RandomSource, resolve

from .correlation_client import (
    ClientCorrelationState,
    UploadPad,
    client_decrypt_reply,
    client_encrypt_mask,
    precompute_upload,
)
from .correlation_owner import owner_respond
from .correlation_params import DEFAULT_STAT_BITS, CorrelationParams, PackingLayout, weight_bound_for
from .correlation_wire import EncryptedMask, EncryptedReply
from .errors import ParameterError
from .paillier import DEFAULT_KEY_BITS, PaillierKeyPair

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
