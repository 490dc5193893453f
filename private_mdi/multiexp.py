"""Bucket multi-exponentiation modulo n² for the owner's step of the correlation protocol.

``row_product`` computes ``Π_j base_j^{|W_j|} mod n²`` where ``base_j`` is ``Enc(R_j)`` for a positive weight
and its inverse for a negative one (:mod:`private_mdi.correlation`, ``docs/building-blocks.md`` §3). The
exponents are cut into ``c``-bit digits, most significant first; per digit position the bases are dropped into
``2^c − 1`` buckets by digit value and combined with the running-sum trick (Pippenger's bucket method), so a
row costs about ``⌈b/c⌉ · (nnz + 2^{c+1})`` multiplications mod ``n²`` instead of ``nnz`` full
exponentiations (``b`` = bit length of the largest weight, ``c`` chosen by :func:`digit_bits`).

Pure arithmetic on public values (the weights are the caller's own; the bases are ciphertexts): nothing leaks
beyond what the caller already holds; the running time depends on the weights' non-zero pattern and sizes,
which the owner computes locally.
"""

from __future__ import annotations

import gmpy2
import numpy as np

from .paillier import Mpz

__all__ = ["digit_bits", "row_product", "row_product_nz"]


def digit_bits(nonzero: int, maxbits: int) -> int:
    """The digit width c minimising ⌈maxbits/c⌉ · (nonzero + 2^{c+1}) modular multiplications."""
    best_c, best = 1, None
    for c in range(1, 13):
        cost = -(-maxbits // c) * (nonzero + (2 << c))
        if best is None or cost < best:
            best_c, best = c, cost
    return best_c


def row_product(pos: list[Mpz], neg: list[Mpz | None], row: np.ndarray, n2: Mpz) -> Mpz:
    """Π_j base_j^{|W_j|} mod n² (base = Enc(R_j) or its inverse by sign), bucket method on digits."""
    nz = np.flatnonzero(row)
    return row_product_nz(pos, neg, nz, np.asarray(row)[nz], n2)


def row_product_nz(pos: list[Mpz], neg: list[Mpz | None], cols: np.ndarray, vals: np.ndarray, n2: Mpz) -> Mpz:
    """:func:`row_product` of a row given by its non-zeros (``cols``, ``vals``): work ∝ non-zeros."""
    if cols.size == 0:
        return gmpy2.mpz(1)
    absw = np.abs(vals.astype(np.int64))
    maxbits = int(absw.max()).bit_length()
    c = digit_bits(int(cols.size), maxbits)
    ndig = -(-maxbits // c)
    bases = [pos[j] if v > 0 else neg[j] for j, v in zip(cols.tolist(), vals.tolist())]
    digit_mask = (1 << c) - 1
    result: Mpz | None = None
    for d in range(ndig - 1, -1, -1):
        if result is not None:
            result = gmpy2.powmod(result, 1 << c, n2)
        digits = ((absw >> (c * d)) & digit_mask).tolist()
        buckets: list[Mpz | None] = [None] * (1 << c)
        for base, dg in zip(bases, digits):
            if dg:
                cur = buckets[dg]
                buckets[dg] = base if cur is None else cur * base % n2
        running: Mpz | None = None
        acc: Mpz | None = None
        for v in range(digit_mask, 0, -1):
            bv = buckets[v]
            if bv is not None:
                running = bv if running is None else running * bv % n2
            if running is not None:
                acc = running if acc is None else acc * running % n2
        if acc is not None:
            result = acc if result is None else result * acc % n2
    return gmpy2.mpz(1) if result is None else result
