"""Polynomial sharing (Nodehi–Maddah-Ali), s = 1: polynomial-code coded terms, secret terms after the
products.

Paper: H. A. Nodehi, M. A. Maddah-Ali, "Secure Coded Multi-Party Computation for Massive Matrix Operations",
arXiv 1908.04255 (also the "PS" baseline of GCSA-NA, arXiv 2002.07750). For Y = AᵀB with A, B split into t
column blocks each (s = 1, no row split): a(0, j) = j, b(0, l) = t·l (polynomial codes, Yu et al.,
arXiv 1705.10464), Y_{j,l} at j + t·l, and secret terms α_w = β_w = t² + w.
deg H + 1 = 2t² + 2z − 1; N = 2t² + 2z − 1 − (t−1)·max(0, t − z) (gaps in P(H) when z < t).

Expressed in this package's exponent language it runs in the same BGW-style protocol as the other codes; the
paper's own degree-reduction step differs and is not reproduced. ``s`` must be 1 (ParameterError otherwise).
"""

from __future__ import annotations

from ..errors import ParameterError
from .base import Code, check_parameters

__all__ = ["make_polynomial_sharing"]


def make_polynomial_sharing(s: int, t: int, z: int) -> Code:
    """Polynomial-sharing code for s = 1."""
    s, t, z = check_parameters(s, t, z)
    if s != 1:
        raise ParameterError(f"polynomial-sharing needs s = 1 (A and B split into columns only), got s={s}")
    coded_a = {(0, j): j for j in range(t)}
    coded_b = {(0, l): t * l for l in range(t)}
    important = {(j, l): j + t * l for j in range(t) for l in range(t)}
    secrets = [t * t + w for w in range(z)]
    return Code("polynomial-sharing", 1, t, z, coded_a, secrets, coded_b, list(secrets), important)
