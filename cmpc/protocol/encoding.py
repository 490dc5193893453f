"""Pure, I/O-free compute steps of the coded protocol, shared by the roles and the privacy tests.

* public rows, cached per process: Vandermonde powers of the points, the first t² rows of the inverse
  Vandermonde used for interpolation, and the decoding rows V_S⁻¹ of a chosen worker set
  (:func:`cached_decoding_rows`). They depend only on public inputs (p, points, the code's exponents, the
  chosen workers), so caching and sharing them between the parties of one process leaks nothing;
* the encoding steps (AGE-CMPC, arXiv 2305.07142, Sec. III): :func:`split_blocks`,
  :func:`encode_shares` (F(α_n) = Σ blocks α^{a} + Σ secrets α^{α_w}), :func:`reshare_values`
  (G_n at the reporters' points) and :func:`interpolate_results` (I's result coefficients).

Every product is exact over GF(p) (:mod:`cmpc.field`); the stacked operands [blocks; secrets] and
[H; masks] are never built (:meth:`~cmpc.field.PrimeField.raw_matmul_split`). What leaks is stated in
:mod:`cmpc.protocol.roles`: these functions only compute.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from ..errors import ShapeError
from ..field import PrimeField
from .session import Session, decoding_rows

__all__ = [
    "cached_decoding_rows",
    "encode_shares",
    "interpolate_results",
    "interpolation_rows",
    "reshare_values",
    "split_blocks",
]


# -- public rows, cached (same values for every party of a session: no secret goes in or comes out) ---------
@lru_cache(maxsize=256)
def _vandermonde(p: int, points: tuple[int, ...], exponents: tuple[int, ...]) -> np.ndarray:
    """Read-only ``[α^e]`` for the points and the given exponents over GF(p) (public)."""
    v = PrimeField(p).raw_vandermonde(np.array(points, dtype=np.int64), list(exponents))
    v.setflags(write=False)
    return v


def _powers(p: int, points: tuple[int, ...], count: int) -> np.ndarray:
    """Read-only ``[α^e]`` for the points and e < count over GF(p) (public, cached)."""
    return _vandermonde(p, points, tuple(range(count)))


@lru_cache(maxsize=256)
def interpolation_rows(p: int, points: tuple[int, ...], rows: int) -> np.ndarray:
    """Read-only first ``rows`` rows of ``[α^e]⁻¹`` (e < len(points)): coefficients from values (public)."""
    v = _powers(p, points, len(points))
    inv = PrimeField(p).raw_inv(v)[:rows].copy()
    inv.setflags(write=False)
    return inv


_ROWS: OrderedDict[tuple[object, ...], np.ndarray] = OrderedDict()
_ROWS_MAX = 256
_ROWS_LOCK = threading.Lock()


def cached_decoding_rows(field: PrimeField, session: Session, chosen: Iterable[int]) -> np.ndarray:
    """:func:`~cmpc.protocol.session.decoding_rows`, computed once per process for equal public inputs.

    The key holds everything the rows depend on (p, the points, the code's exponents, the chosen
    workers); the rows are public (V_S⁻¹ of public points), so sharing them between parties of one
    process leaks nothing. The result is read-only; the cache keeps the last 256 keys.
    """
    code = session.code
    chosen_t = tuple(int(c) for c in chosen)
    key = (field.p, tuple(int(x) for x in session.points), code.t, tuple(code.product_exponents),
           tuple(sorted(code.important.items())), chosen_t)
    with _ROWS_LOCK:
        rows = _ROWS.get(key)
        if rows is not None:
            _ROWS.move_to_end(key)
            return rows
    rows = decoding_rows(field, session, list(chosen_t))
    rows.setflags(write=False)
    with _ROWS_LOCK:
        _ROWS[key] = rows
        while len(_ROWS) > _ROWS_MAX:
            _ROWS.popitem(last=False)
    return rows


# -- pure encoding steps (used by the roles and by the privacy tests) ------------------------------------
def split_blocks(
    x: np.ndarray, s: int, t: int, padded: tuple[int, int], dtype: type = np.int64
) -> np.ndarray:
    """Zero-pad ``x`` to ``padded`` and cut it into s×t blocks: result shape (s·t, rows/s, cols/t),
    block (i, j) at index i·t + j, of type ``dtype`` (int64, or uint32 when every value is below 2^32)."""
    rows, cols = padded
    br, bc = rows // s, cols // t
    if x.shape != (rows, cols):
        xp = np.zeros((rows, cols), dtype=np.int64)
        xp[: x.shape[0], : x.shape[1]] = x
        x = xp
    out: np.ndarray = np.empty((s * t, br, bc), dtype=dtype)
    out.reshape(s, t, br, bc)[...] = x.reshape(s, br, t, bc).transpose(0, 2, 1, 3)
    return out


def encode_shares(
    field: PrimeField, blocks: np.ndarray, secrets: np.ndarray, exponents: list[int], points: Iterable[int],
    *, compact: bool = False,
) -> np.ndarray:
    """F(α_n) for every point: Σ_b blocks[b] α^{e_b} + Σ_w secrets[w] α^{e_{st+w}} (shape (N′, r, c)).

    ``compact=True``: the shares as :attr:`~cmpc.field.PrimeField.compact_dtype` (uint32 for p < 2^32,
    the wire width: half the bytes to write; the same values)."""
    pts = tuple(int(x) for x in points)
    if len(exponents) != blocks.shape[0] + secrets.shape[0]:
        raise ShapeError(
            f"{blocks.shape[0] + secrets.shape[0]} coefficient blocks for {len(exponents)} exponents"
        )
    v = _vandermonde(field.p, pts, tuple(int(e) for e in exponents))
    flat = field.raw_matmul_split(
        v, blocks.reshape(blocks.shape[0], -1), secrets.reshape(secrets.shape[0], -1), compact=compact
    )
    return flat.reshape((len(pts), *blocks.shape[1:]))


def reshare_values(
    field: PrimeField,
    h: np.ndarray,
    r_row: np.ndarray,
    masks: np.ndarray,
    points: Iterable[int],
    t: int,
    *,
    compact: bool = False,
) -> np.ndarray:
    """G_n(α) at every point for G_n(x) = Σ_q r_row[q] h x^q + Σ_w masks[w] x^{t²+w} (q = j + t·l).

    One product: [c | E] @ [h; masks] with c = E_r @ r_row, E_r = [α^q], E = [α^{t²+w}] (the stacked
    right operand is not built: :meth:`~cmpc.field.PrimeField.raw_matmul_split`). ``masks`` may be
    int64 or uint32; ``compact=True`` returns :attr:`~cmpc.field.PrimeField.compact_dtype` (the same values).
    """
    pts = np.fromiter(points, dtype=np.int64)
    z = masks.shape[0]
    powers = _powers(field.p, tuple(int(x) for x in pts), t * t + z)
    c = field.raw_matmul(powers[:, : t * t], r_row.reshape(-1, 1))
    lhs = np.concatenate([c, powers[:, t * t :]], axis=1)
    values = field.raw_matmul_split(lhs, h.reshape(1, -1), masks.reshape(z, -1), compact=compact)
    return values.reshape((pts.size, *h.shape))


def interpolate_results(
    field: PrimeField, points: list[int], values: np.ndarray, t: int, z: int
) -> np.ndarray:
    """Coefficients of I(x) (degree < t² + z) from t² + z evaluations; returns (t², r, c) result blocks."""
    k = t * t + z
    pts = tuple(int(x) for x in points[:k])
    if len(pts) < k or values.shape[0] < k:
        raise ShapeError(f"interpolation needs t^2 + z = {k} points and values")
    rows = interpolation_rows(field.p, pts, t * t)  # only the result coefficients are needed
    return field.raw_matmul(rows, values[:k].reshape(k, -1)).reshape((t * t, *values.shape[1:]))
