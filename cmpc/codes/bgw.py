"""BGW without partitioning (s = t = 1): Shamir shares of degree z, N = 2z + 1.

Paper: M. Ben-Or, S. Goldwasser, A. Wigderson, "Completeness theorems for non-cryptographic fault-tolerant
distributed computation", STOC 1988. F_A(x) = A + Σ_{w<z} Ā_w x^{w+1}, F_B likewise; H = F_Aᵀ F_B has
degree 2z and carries Y = AᵀB at x⁰, so N = 2z + 1 workers. Each worker stores and multiplies whole m×m
matrices.
"""

from __future__ import annotations

from ..errors import ParameterError
from .base import Code, check_parameters

__all__ = ["make_bgw"]


def make_bgw(s: int, t: int, z: int) -> Code:
    """The BGW code; s and t must both be 1 (no partitioning)."""
    s, t, z = check_parameters(s, t, z)
    if s != 1 or t != 1:
        raise ParameterError(f"bgw does not partition: s and t must both be 1, got s={s}, t={t}")
    secrets = [w + 1 for w in range(z)]
    return Code("bgw", 1, 1, z, {(0, 0): 0}, secrets, {(0, 0): 0}, list(secrets), {(0, 0): 0})
