"""The exact GF(p) matrix product engine behind :meth:`cmpc.field.PrimeField.matmul`.

The math (centred operands, balanced limbs, schoolbook or Karatsuba limb products, chunks of the inner
dimension so that every float64 partial sum is an integer of magnitude ≤ 2^53) is described in
:mod:`cmpc.field`. This module holds

* :class:`MatmulPlan` and :func:`make_plan` (the cost model that picks limbs and chunk size);
* :func:`compiled_matmul`: the product. BLAS does the float64 products; the pre- and post-processing
  (centring, limb split, int64 conversion, combination of limb products, reduction, recombination
  ``Σ_e D_e 2^e mod p``) are single passes of the numba kernels of :mod:`cmpc.kernels`;
* :func:`compiled_small_inner`: the product for an inner dimension ≤ 16 and p < 2^32 (no BLAS);
* :func:`compiled_sum`: the sum of many arrays mod p < 2^32 in one pass.

The pure-numpy implementation of the same plans (``reference_matmul``, ``reference_small_inner``) is in
:mod:`cmpc.matmul_numpy` (importable from here too, for callers of the earlier layout).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from . import kernels
from .errors import ParameterError, ShapeError

__all__ = [
    "EXACT_FLOAT_BOUND",
    "MatmulPlan",
    "compiled_matmul",
    "compiled_small_inner",
    "compiled_sum",
    "make_plan",
    "use_compiled",
]

#: float64 represents every integer of magnitude <= 2^53 exactly
EXACT_FLOAT_BOUND = 2**53

#: products with fewer multiply-adds run the numpy implementation unless the kernels are already loaded:
#: loading numba and the cached kernels costs a process ~0.5–0.8 s of CPU once (numba registers its
#: typing registries and imports scipy.linalg), more than the compiled path saves on a few small products
#: (see docs/field.md, "Start-up")
COMPILED_MIN_MULADDS = 2**27


def use_compiled(m: int, k: int, n: int) -> bool:
    """Whether a product of this shape takes the compiled path (see :data:`COMPILED_MIN_MULADDS`)."""
    return kernels.loaded() or m * k * n >= COMPILED_MIN_MULADDS


@dataclass(frozen=True)
class MatmulPlan:
    """How :meth:`PrimeField.matmul` splits a product (see the :mod:`cmpc.field` docstring)."""

    limbs_a: int
    width_a: int
    bound_a: int
    limbs_b: int
    width_b: int
    bound_b: int
    karatsuba: bool
    chunk: int
    products: int

    def describe(self) -> str:
        kind = "karatsuba" if self.karatsuba else "schoolbook"
        return (
            f"{self.limbs_a}x{self.width_a}-bit limbs (A) × {self.limbs_b}x{self.width_b}-bit limbs (B), "
            f"{kind}, {self.products} float64 products per chunk of {self.chunk}"
        )


def _limb_bound(half: int, limbs: int, width: int) -> int:
    """Largest |limb| of the balanced decomposition of values with |x| <= half."""
    if limbs == 1:
        return half
    top = half // (1 << (width * (limbs - 1))) + 1
    return max(1 << (width - 1), top)


@lru_cache(maxsize=1024)
def make_plan(p: int, inner: int) -> MatmulPlan:
    """The cheapest exact plan for GF(p) and inner dimension ``inner`` under a simple cost model.

    Cached: the search costs ~0.7 ms, as much as a small product (every worker of a run asks for the
    same plan).
    """
    half = (p - 1) // 2
    hbits = max(1, half.bit_length())
    best: tuple[float, MatmulPlan] | None = None
    for la in range(1, 7):
        wa = -(-(hbits + 1) // la) if la > 1 else hbits
        ma = _limb_bound(half, la, wa)
        for lb in range(1, 7):
            wb = -(-(hbits + 1) // lb) if lb > 1 else hbits
            mb = _limb_bound(half, lb, wb)
            options = [(False, la * lb, ma * mb)]
            if la == lb and la > 1:
                options.append((True, la * (la + 1) // 2, 4 * ma * mb))
            for kara, products, prod_bound in options:
                chunk = min(inner, EXACT_FLOAT_BOUND // max(prod_bound, 1))
                if chunk < 1:
                    continue
                n_chunks = -(-inner // chunk)
                chunk = -(-inner // n_chunks)  # even chunks (1023 + 1 would waste a thin BLAS call)
                weights = {wa * i + wb * j for i in range(la) for j in range(lb)}
                # cost model in ns per output element, calibrated on the 2-core development machine:
                # BLAS at ~75 GFLOP/s (slower for thin chunks), ~3 ns per product and chunk for the
                # int64 conversion, ~15 ns per weight for the recombination
                eff = min(1.0, chunk / 128.0) if inner > chunk else 1.0
                cost = (
                    products * 2.0 * inner * 0.0133 / eff
                    + products * n_chunks * (3.0 + (4.0 if kara else 0.0))
                    + 15.0 * (len(weights) - 1)
                )
                plan = MatmulPlan(la, wa, ma, lb, wb, mb, kara, chunk, products)
                if best is None or cost < best[0]:
                    best = (cost, plan)
    if best is None:  # pragma: no cover - p < 2^63 always has a plan with 6 limbs
        raise ParameterError(f"no exact float64 plan for p = {p}")
    return best[1]


# -- compiled engine --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Layout:
    """A plan as arrays for the kernels: limb forms, product blocks and the weight matrix."""

    forms_a: np.ndarray  # (forms, limbs_a): each float operand is Σ_i forms[f, i] · limb_i
    forms_b: np.ndarray
    stacked: bool  # schoolbook: one BLAS call on vertically / horizontally stacked forms
    brow: np.ndarray  # product j is block (brow[j], bcol[j]) of the 2-D product array
    bcol: np.ndarray
    weights: np.ndarray  # (exponents, products): D_e = Σ_j weights[e, j] · P_j
    exps: tuple[int, ...]
    term_bound: int  # max_e |D_e| of one chunk


@lru_cache(maxsize=256)
def _layout(plan: MatmulPlan) -> _Layout:
    la, lb = plan.limbs_a, plan.limbs_b
    terms: list[tuple[int, int, int]] = []  # (exponent, product index, sign)
    if not plan.karatsuba:
        forms_a = np.eye(la, dtype=np.int64)
        forms_b = np.eye(lb, dtype=np.int64)
        brow = np.array([i for i in range(la) for _ in range(lb)], dtype=np.int64)
        bcol = np.array([j for _ in range(la) for j in range(lb)], dtype=np.int64)
        for i in range(la):
            for j in range(lb):
                terms.append((plan.width_a * i + plan.width_b * j, i * lb + j, 1))
    else:
        w = plan.width_a
        pairs = [(i, j) for i in range(la) for j in range(i + 1, la)]
        forms = np.zeros((la + len(pairs), la), dtype=np.int64)
        for i in range(la):
            forms[i, i] = 1
            terms.append((2 * w * i, i, 1))
        for q, (i, j) in enumerate(pairs, start=la):
            forms[q, i] = forms[q, j] = 1
            terms += [(w * (i + j), q, 1), (w * (i + j), i, -1), (w * (i + j), j, -1)]
        forms_a = forms_b = forms
        brow = np.arange(len(forms), dtype=np.int64)
        bcol = np.zeros(len(forms), dtype=np.int64)
    exps = tuple(sorted({e for e, _, _ in terms}))
    weights = np.zeros((len(exps), len(brow)), dtype=np.int64)
    for e, j, sign in terms:
        weights[exps.index(e), j] += sign
    term_bound = int(np.abs(weights).sum(axis=1).max()) * EXACT_FLOAT_BOUND
    return _Layout(forms_a, forms_b, not plan.karatsuba, brow, bcol, weights, exps, term_bound)


@lru_cache(maxsize=256)
def _constants(p: int, exps: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Shoup constants: c_e = 2^e mod p and ⌊c_e · 2^64 / p⌋."""
    cs = [pow(2, e, p) for e in exps]
    return np.array(cs, dtype=np.uint64), np.array([(c << 64) // p for c in cs], dtype=np.uint64)


#: Mersenne primes p = 2^b − 1 whose recombination folds and rotates (2^e ≡ 2^{e mod b}) instead of
#: multiplying by 2^e mod p: the default field and the 61-bit one
MERSENNE_BITS = {2**31 - 1: 31, 2**61 - 1: 61}


@lru_cache(maxsize=256)
def _rotations(p: int, exps: tuple[int, ...]) -> np.ndarray:
    """``e mod b`` per exponent for a Mersenne p = 2^b − 1 of :data:`MERSENNE_BITS`, else −1."""
    b = MERSENNE_BITS.get(p)
    return np.array([e % b if b else -1 for e in exps], dtype=np.int64)


#: scratch buffers up to this size are kept per thread between products (first-touch page faults of
#: fresh buffers cost ~10% of a 1024×1024 product); larger ones are allocated per call
WORKSPACE_BYTES = 256 * 2**20

_workspace = threading.local()


def _scratch(slot: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """An uninitialised array of ``shape`` from the thread's reusable scratch ``slot``."""
    size = int(np.prod(shape))
    nbytes = size * np.dtype(dtype).itemsize
    if nbytes > WORKSPACE_BYTES // 4:
        return np.empty(shape, dtype=dtype)
    bufs: dict[str, np.ndarray] = _workspace.__dict__.setdefault("bufs", {})
    buf = bufs.get(slot)
    if buf is None or buf.dtype != dtype or buf.size < size:
        buf = np.empty(size, dtype=dtype)
        bufs[slot] = buf
    return buf[:size].reshape(shape)


#: row tiles of the output are sized so that one tile's float64 products take about this many bytes:
#: this bounds the scratch memory of large products; smaller tiles (in cache) measured slower because
#: BLAS is less efficient on short row blocks (2^31 − 1, n = 1024: 3.4× at 256 KiB, 2.5× at 8 MiB)
TILE_BYTES = 16 * 2**20


def compiled_matmul(p: int, a: np.ndarray, b: np.ndarray, plan: MatmulPlan, out_dtype: Any = np.int64
                    ) -> np.ndarray:
    """Exact ``a @ b mod p`` for 2-D int64 (or uint32) arrays in [0, p), non-empty dimensions (unchecked).

    Both operands are split once into float64 limb forms; then, per tile of output rows and per chunk
    of the inner dimension, BLAS computes the limb products and one compiled pass combines them. The
    result is ``out_dtype``: int64, or uint32 for p < 2^32 (the same values in half the bytes).
    """
    k_ = kernels.get()
    lay = _layout(plan)
    nfa, nfb = lay.forms_a.shape[0], lay.forms_b.shape[0]
    # a transposed operand (the workers' F_A(α)ᵀ) with one limb form: split aᵀ as it lies and hand BLAS
    # the transposed view of the forms (no transposing copy of a)
    a_t = a.T if (nfa == 1 and lay.stacked and a.dtype in _KERNEL_INTS and a.flags.f_contiguous
                  and not a.flags.c_contiguous) else None
    if a_t is None:
        a = _int_operand(a)
    b = _int_operand(b)
    m, k = a.shape
    n = b.shape[1]
    half = (p - 1) // 2
    if a_t is not None:
        fa_t = _scratch("fa", (1, k, m), np.float64)
        k_.split(a_t, p, half, plan.limbs_a, plan.width_a, lay.forms_a, fa_t)
        fa = fa_t[0].T.reshape(m, 1, k)  # a view: (m, 1, k) with unit stride along m
    elif lay.stacked:
        # A's forms as (m, forms, k): a tile of rows is one contiguous (tile * forms, k) block
        fa = _scratch("fa", (m, nfa, k), np.float64)
        k_.split(a, p, half, plan.limbs_a, plan.width_a, lay.forms_a, fa.transpose(1, 0, 2))
    else:
        # one BLAS call per form (Karatsuba): each form's rows contiguous, fa[:, q] a (m, k) block with
        # row stride k (the (m, forms, k) layout would give BLAS a row stride of forms · k)
        fa_f = _scratch("fa", (nfa, m, k), np.float64)
        k_.split(a, p, half, plan.limbs_a, plan.width_a, lay.forms_a, fa_f)
        fa = fa_f.transpose(1, 0, 2)
    if lay.stacked:
        fb_buf = _scratch("fb", (k, nfb, n), np.float64)
        k_.split(b, p, half, plan.limbs_b, plan.width_b, lay.forms_b, fb_buf.transpose(1, 0, 2))
        rhs = fb_buf.reshape(k, nfb * n)
        prod_cols = nfb * n
    else:
        fb = _scratch("fb", (nfb, k, n), np.float64)
        k_.split(b, p, half, plan.limbs_b, plan.width_b, lay.forms_b, fb)
        prod_cols = n
    tile = max(256, TILE_BYTES // (8 * nfa * prod_cols))
    tile = min(m, tile)
    n_exp = len(lay.exps)
    chunks = list(range(0, k, plan.chunk))
    prod_full = _scratch("prod", (nfa * tile, prod_cols), np.float64)
    acc_full = _scratch("acc", (n_exp, tile, n) if len(chunks) > 1 else (n_exp, 1, 1), np.int64)
    if np.dtype(out_dtype) == np.uint32 and p >= 2**32:
        raise ParameterError(f"a uint32 result needs p < 2^32, got p = {p}")
    out = np.empty((m, n), dtype=out_dtype)
    cs, csh = _constants(p, lay.exps)
    big = p >= 2**61
    mbits = MERSENNE_BITS.get(p, 0)
    rot = _rotations(p, lay.exps)
    small_terms = lay.term_bound < p  # then a chunk's terms need no division to be reduced (big mode)
    # normal mode: |D_e| <= p + safe * term_bound <= 2^62 between reductions, so D_e + off is in [0, 2^64)
    safe = max(1, (2**62 - p) // lay.term_bound)
    off = 0 if big else p * -(-(2**62) // p)
    for r0 in range(0, m, tile):
        tm = min(tile, m - r0)
        prod = prod_full[: nfa * tm]
        acc = acc_full[:, :tm] if len(chunks) > 1 else acc_full
        out_t = out[r0 : r0 + tm]
        if lay.stacked:
            lhs = fa[r0 : r0 + tm].reshape(tm * nfa, k)  # row r * nfa + f
            fstride, rstride = 1, nfa
        else:
            prod3 = prod.reshape(nfa, tm, n)  # row f * tm + r
            fstride, rstride = tm, 1
        pending = 0
        for idx, c0 in enumerate(chunks):
            sl = slice(c0, c0 + plan.chunk)
            if lay.stacked:
                np.matmul(lhs[:, sl], rhs[sl], out=prod)
            else:
                for q in range(nfa):
                    np.matmul(fa[r0 : r0 + tm, q, sl], fb[q, sl], out=prod3[q])
            last = idx == len(chunks) - 1
            pending += 1
            reduce_mod = not last and pending >= safe
            if reduce_mod:
                pending = 0
            k_.combine(prod, tm, n, fstride, rstride, lay.brow, lay.bcol, lay.weights, acc, idx == 0, last,
                       reduce_mod, big, small_terms, p, off, cs, csh, mbits, rot, out_t)
    return out


def _fold_shift(p: int) -> int:
    """31 for p = 2^31 − 1, the one Mersenne prime 2^e − 1 with 22 ≤ e ≤ 32 (the range where two folds
    reduce any x < 2^64 below 2p: the small-inner and sum kernels fold instead of Barrett's
    multiplications), else 0."""
    return 31 if MERSENNE_BITS.get(p) == 31 else 0


def small_inner_per(p: int, reduced: bool = False) -> int:
    """How many products (each ≤ (p−1)² < 2^64) a uint64 accumulator takes before a reduction: from zero,
    or (``reduced``) on top of a reduced value ≤ p − 1 (at least 1 for p < 2^32: p − 1 + (p−1)² < 2^64)."""
    room = 2**64 - 1 - (p - 1 if reduced else 0)
    return min(2**32, max(1, room // max(1, (p - 1) ** 2)))


def compiled_small_inner(p: int, a: np.ndarray, b: np.ndarray, b2: np.ndarray | None = None,
                         out_dtype: Any = np.int64) -> np.ndarray:
    """``a @ b mod p`` for p < 2^32 and a small inner dimension (compiled uint64 multiply-adds).

    With ``b2``, the right operand is ``[b; b2]`` (rows of ``b``, then of ``b2``: same width), without
    building it. ``b`` and ``b2`` may be int64 or uint32 (values in [0, p) either way); the result is
    ``out_dtype`` (int64, or uint32: the same values in half the bytes).
    """
    b64 = _int_operand(b)
    b2_64 = np.empty((0, b64.shape[1]), dtype=np.int64) if b2 is None else _int_operand(b2)
    if b2_64.shape[1] != b64.shape[1] or a.shape[1] != b64.shape[0] + b2_64.shape[0]:
        raise ShapeError(f"small-inner product: a is {a.shape}, b parts are {b64.shape} and {b2_64.shape}")
    dt = np.dtype(out_dtype)
    if dt not in (np.dtype(np.int64), np.dtype(np.uint32)):
        raise ParameterError(f"out_dtype must be int64 or uint32, got {dt}")
    out = np.empty((a.shape[0], b64.shape[1]), dtype=dt)
    a64 = np.ascontiguousarray(a, dtype=np.int64)
    shift = _fold_shift(p)
    per, per_after = small_inner_per(p), small_inner_per(p, reduced=True)
    kernels.get().small_inner(a64, b64, b2_64, p, per, per_after, np.uint64((2**64) // p), shift, out)
    return out


def compiled_sum(p: int, arrays: list[np.ndarray], out_dtype: Any = np.int64) -> np.ndarray | None:
    """``Σ arrays mod p`` in one compiled pass for p < 2^32 (same shapes, values in [0, p)), or ``None``
    when the kernel does not apply (larger p, numba not loaded, mixed array types after the first: the
    caller then sums with numpy). The result has ``arrays[0]``'s shape and type ``out_dtype``."""
    if p >= 2**32 or not kernels.loaded() or not arrays or len(arrays) >= 2**32:
        return None
    shape = arrays[0].shape
    flat = []
    for x in arrays:
        x = np.asarray(x)
        if x.shape != shape or x.dtype not in _KERNEL_INTS:
            return None
        flat.append(np.ascontiguousarray(x).reshape(-1))
    rest = tuple(flat[1:])
    kinds = {(x.dtype, x.flags.aligned, x.flags.writeable) for x in rest}
    if len(kinds) > 1:
        return None
    out = np.empty(flat[0].shape, dtype=out_dtype)
    shift = _fold_shift(p)
    kernels.get().sum_mod(flat[0], rest, p, np.uint64((2**64) // p), shift, out)
    return out.reshape(shape)


#: the element types the compiled kernels take as they are (int64 and the compact uint32 of p < 2^32)
_KERNEL_INTS = (np.dtype(np.int64), np.dtype(np.uint32))


def _int_operand(x: np.ndarray) -> np.ndarray:
    """A C-contiguous int64 or uint32 array (the types the compiled kernels take; others become int64)."""
    x = np.asarray(x)
    if x.dtype not in _KERNEL_INTS:
        x = x.astype(np.int64)
    return np.ascontiguousarray(x)


def __getattr__(name: str) -> Any:
    # the numpy path lives in cmpc.matmul_numpy (which imports this module): re-exported lazily, no cycle
    if name in ("reference_matmul", "reference_small_inner"):
        from . import matmul_numpy

        return getattr(matmul_numpy, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
