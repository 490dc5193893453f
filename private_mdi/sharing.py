"""Additive secret sharing over GF(p).

A value ``x ∈ GF(p)^shape`` is split into ``n`` shares with ``x = Σ_k x_k (mod p)``: the first ``n − 1``
shares are uniform (from :class:`~cmpc.rand.RandomSource`) and the last is ``x − Σ_{k<n} x_k``. Any
``n − 1`` shares are jointly uniform and independent of ``x`` (perfect secrecy); all ``n`` reconstruct it.

Linear operations are local: adding two sharings share-wise shares the sum, multiplying every share
by a public scalar or applying a public matrix to every share shares the product, and a public
constant is added by one party only (party 0 by convention). In privateMDI the two-party case is the
online state: the client holds ``a = W r − s`` and an edge holds ``b = W u + s + β``, with
``a + b = W x + β`` (protocol page, online step 2).

All functions take and return int64 arrays of representatives in [0, p) (FieldArrays are accepted as
input); shares are checked to lie in the field and to have matching shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cmpc.checks import check_int
from cmpc.errors import ShapeError
from cmpc.field import PrimeField
from cmpc.rand import RandomSource, resolve

from .errors import ParameterError

__all__ = [
    "add_public",
    "add_shares",
    "matmul_public",
    "neg_shares",
    "reconstruct",
    "scale_shares",
    "share",
    "share2",
    "sub_shares",
]


def _field(field: PrimeField) -> PrimeField:
    if not isinstance(field, PrimeField):
        raise ParameterError(f"field must be a cmpc.field.PrimeField, got {type(field).__name__}")
    return field


def share(x: Any, field: PrimeField, n: int = 2, rng: RandomSource | None = None) -> list[np.ndarray]:
    """Split ``x`` (values in [0, p)) into ``n ≥ 2`` additive shares (int64 arrays of x's shape)."""
    fld = _field(field)
    n = check_int("n (number of shares)", n, lo=2)
    xs = fld.asarray(x, name="x")
    src = resolve(rng)
    shares = [fld.raw_random(xs.shape, src) for _ in range(n - 1)]
    last = xs.copy()
    for s in shares:
        last = fld.raw_sub(last, s)
    return [*shares, last]


def share2(x: Any, field: PrimeField, rng: RandomSource | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two-party sharing: ``(x_0, x_1)`` with ``x_0`` uniform and ``x_0 + x_1 = x``."""
    s0, s1 = share(x, field, 2, rng)
    return s0, s1


def _checked(shares: Sequence[Any], fld: PrimeField, what: str = "shares") -> list[np.ndarray]:
    if isinstance(shares, np.ndarray) or len(shares) == 0:
        raise ParameterError(f"{what} must be a non-empty sequence of arrays")
    arrs = [fld.asarray(s, name=f"{what}[{k}]") for k, s in enumerate(shares)]
    shape = arrs[0].shape
    for k, a in enumerate(arrs):
        if a.shape != shape:
            raise ShapeError(f"{what}[{k}] has shape {a.shape}, expected {shape} like {what}[0]")
    return arrs


def reconstruct(shares: Sequence[Any], field: PrimeField) -> np.ndarray:
    """``Σ_k shares[k] mod p`` (int64). Needs every share; shapes must agree."""
    fld = _field(field)
    arrs = _checked(shares, fld)
    total = arrs[0]
    for a in arrs[1:]:
        total = fld.raw_add(total, a)
    return total


def add_shares(a: Sequence[Any], b: Sequence[Any], field: PrimeField) -> list[np.ndarray]:
    """Share-wise sum: shares of ``x + y`` from shares of ``x`` and of ``y`` (same number of parties)."""
    fld = _field(field)
    aa, bb = _checked(a, fld, "a"), _checked(b, fld, "b")
    if len(aa) != len(bb) or aa[0].shape != bb[0].shape:
        raise ShapeError(
            f"a and b must have the same number of shares and shape, got {len(aa)}x{aa[0].shape} "
            f"and {len(bb)}x{bb[0].shape}"
        )
    return [fld.raw_add(x, y) for x, y in zip(aa, bb)]


def neg_shares(a: Sequence[Any], field: PrimeField) -> list[np.ndarray]:
    """Shares of ``−x``."""
    fld = _field(field)
    return [fld.raw_sub(np.zeros_like(x), x) for x in _checked(a, fld, "a")]


def sub_shares(a: Sequence[Any], b: Sequence[Any], field: PrimeField) -> list[np.ndarray]:
    """Shares of ``x − y``."""
    return add_shares(a, neg_shares(b, field), field)


def add_public(a: Sequence[Any], c: Any, field: PrimeField, party: int = 0) -> list[np.ndarray]:
    """Shares of ``x + c`` for a public ``c`` (values in [0, p)): only share ``party`` changes."""
    fld = _field(field)
    aa = _checked(a, fld, "a")
    if not 0 <= party < len(aa):
        raise ParameterError(f"party must be in [0, {len(aa)}), got {party}")
    cc = fld.asarray(c, name="c")
    try:
        np.broadcast_shapes(cc.shape, aa[0].shape)
    except ValueError as exc:
        raise ShapeError(
            f"c of shape {cc.shape} does not broadcast to the shares' shape {aa[0].shape}"
        ) from exc
    out = list(aa)
    out[party] = fld.raw_add(aa[party], np.broadcast_to(cc, aa[0].shape))
    return out


def scale_shares(a: Sequence[Any], c: Any, field: PrimeField) -> list[np.ndarray]:
    """Shares of ``c · x`` (elementwise, broadcasting) for a public ``c`` in [0, p)."""
    fld = _field(field)
    cc = fld.asarray(c, name="c")
    return [fld.raw_mul(x, cc) for x in _checked(a, fld, "a")]


def matmul_public(w: Any, a: Sequence[Any], field: PrimeField) -> list[np.ndarray]:
    """Shares of ``W x`` for a public ``W`` (values in [0, p), shape (out, in)); x is (in,) or (in, k)."""
    fld = _field(field)
    ww = fld.asarray(w, name="W")
    aa = _checked(a, fld, "a")
    if ww.ndim != 2 or aa[0].shape[:1] != (ww.shape[1],):
        raise ShapeError(f"W of shape {ww.shape} cannot multiply shares of shape {aa[0].shape}")
    vec = aa[0].ndim == 1
    res = [fld.raw_matmul(ww, x[:, None] if vec else x) for x in aa]
    return [r[:, 0] if vec else r for r in res]
