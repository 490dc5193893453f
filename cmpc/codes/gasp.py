"""GASP_r codes (secure distributed matrix multiplication), as a reference point in the CMPC exponent
language.

Papers: R. G. L. D'Oliveira, S. El Rouayheb, D. Karpuk, "GASP Codes for Secure Distributed Matrix
Multiplication", arXiv 1812.09962 (GASP_big / GASP_small); D'Oliveira, El Rouayheb, Heinlein, Karpuk, "Degree
Tables for Secure Distributed Matrix Multiplication" (GASP_r), arXiv 2106.09816.

GASP multiplies row-split A by column-split B (outer-product partition, K × L blocks). Here Y = AᵀB
with s = 1: A and B are split into t column blocks, so Y_{j,l} = A_{0,j}ᵀ B_{0,l} is an outer product with K
= L = t. Exponents (GASP_r, 1 ≤ r ≤ min(t, z)):

* a(0, j) = j, b(0, l) = t·l, Y_{j,l} at j + t·l;
* A-secrets α_w = t² + ⌊w/r⌋·t + (w mod r), B-secrets β_w = t² + w (w < z).

r = t (or r ≥ z) is GASP_big, r = 1 GASP_small. ``make("gasp", ...)`` counts N for every r and keeps the best
(ties → the smallest r); ``params = {"r": r*, "n_by_r": {r: N(r)}}``; ``make("gasp", ..., r=r)`` forces one r.

In SDMM the user downloads H(α_n) from N servers and decodes; here the same exponent sets run in the BGW-style
CMPC protocol (phase 2 degree reduction, master needs t² + z workers), which is why GASP is only a reference
point. ``s`` must be 1 (ParameterError otherwise).
"""

from __future__ import annotations

from ..checks import check_int
from ..errors import ParameterError
from .base import Code, check_parameters, count_workers

__all__ = ["gasp_code_for_r", "make_gasp"]


def gasp_code_for_r(s: int, t: int, z: int, r: int) -> Code:
    """The GASP_r code for s = 1 (1 ≤ r ≤ min(t, z)), validated."""
    s, t, z = check_parameters(s, t, z)
    if s != 1:
        raise ParameterError(f"gasp needs s = 1 (outer-product partition), got s={s}")
    r = check_int("r (1 <= r <= min(t, z))", r, lo=1, hi=min(t, z))
    coded_a = {(0, j): j for j in range(t)}
    coded_b = {(0, l): t * l for l in range(t)}
    important = {(j, l): j + t * l for j in range(t) for l in range(t)}
    secret_a = [t * t + (w // r) * t + (w % r) for w in range(z)]
    secret_b = [t * t + w for w in range(z)]
    return Code("gasp", 1, t, z, coded_a, secret_a, coded_b, secret_b, important, params={"r": r})


def _gasp_workers(t: int, z: int, r: int) -> int:
    exps_a = [j for j in range(t)] + [t * t + (w // r) * t + (w % r) for w in range(z)]
    exps_b = [t * l for l in range(t)] + [t * t + w for w in range(z)]
    return count_workers(exps_a, exps_b)


def make_gasp(s: int, t: int, z: int, r: int | None = None) -> Code:
    """GASP_r with the best r (or the given one). N(r) is counted with bitmasks for every r; only the chosen
    code is built and validated (bounded work)."""
    s, t, z = check_parameters(s, t, z)
    if s != 1:
        raise ParameterError(f"gasp needs s = 1 (outer-product partition), got s={s}")
    n_by_r = {r_: _gasp_workers(t, z, r_) for r_ in range(1, min(t, z) + 1)}
    if r is None:
        r = min(n_by_r, key=lambda k: (n_by_r[k], k))
    else:
        r = check_int("r (1 <= r <= min(t, z))", r, lo=1, hi=min(t, z))
    code = gasp_code_for_r(s, t, z, r)
    if code.n_workers != n_by_r[r]:  # the bitmask count and the Code's own count must agree
        raise AssertionError(f"gasp: counted {n_by_r[r]} workers but the code has {code.n_workers}")
    return code.renamed("gasp", r=r, n_by_r=n_by_r)
