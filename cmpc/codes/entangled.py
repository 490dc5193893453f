"""Entangled coded structure and Entangled-CMPC.

Coded terms (entangled polynomial codes, Yu–Maddah-Ali–Avestimehr, arXiv 1801.07487, adapted to Y = AᵀB with
p = s, m = n = t): a(i, j) = i + s·j, b(i, l) = s−1−i + θ·l, so A_{i,j}ᵀ B_{i',l} lands on
(i − i') + s−1 + s·j + θ·l and the wanted products (i = i') sum into Y_{j,l} at s−1 + s·j + θ·l. Any spacing
θ ≥ t·s keeps the coded products of different l apart (the unwanted ones of block l reach θ·l + st + s − 2 and
the wanted ones of block l+1 start at θ(l+1) + s − 1); θ = t·s is the classical choice, larger θ leaves a gap
that secret terms can use (that is what AGE adapts, :mod:`cmpc.codes.age`).

Entangled-CMPC (the baseline of Vedadi et al., arXiv 2203.06759 / 2305.07142; secret placement as
reconstructed in the design note ``cmpc-codes.md``): θ = t·s and α_w = β_w = s·t² + w, after every coded
product. deg H + 1 = 2st² + 2z − 1; N = |P(H)| is smaller when P(H) has gaps
(t ≥ 2 and z ≤ s(t−1): N = 2st² + 2z − 1 − (t−1)(s(t−1) − z + 1), see ``docs/codes.md``).
"""

from __future__ import annotations

from .base import Code, Pair, check_parameters

__all__ = ["entangled_structure", "make_entangled"]


def entangled_structure(
    s: int, t: int, theta: int
) -> tuple[dict[Pair, int], dict[Pair, int], dict[Pair, int]]:
    """(coded_a, coded_b, important) of the entangled structure with B-block spacing θ (θ ≥ t·s)."""
    coded_a = {(i, j): i + s * j for i in range(s) for j in range(t)}
    coded_b = {(i, l): s - 1 - i + theta * l for i in range(s) for l in range(t)}
    important = {(j, l): s - 1 + s * j + theta * l for j in range(t) for l in range(t)}
    return coded_a, coded_b, important


def make_entangled(s: int, t: int, z: int) -> Code:
    """Entangled-CMPC: θ = ts, secret terms of both polynomials at s·t² + w (w < z)."""
    s, t, z = check_parameters(s, t, z)
    coded_a, coded_b, important = entangled_structure(s, t, t * s)
    secrets = [s * t * t + w for w in range(z)]
    return Code("entangled", s, t, z, coded_a, secrets, coded_b, list(secrets), important)
