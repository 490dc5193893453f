"""PolyDot-CMPC: PolyDot coded terms with the secret terms placed on "garbage" exponents.

Paper: E. Vedadi, Y. Keshtkarjahromi, H. Seferoglu, "PolyDot Coded Privacy Preserving Multi-Party
Computation at the Edge", arXiv 2106.08290 (PolyDot codes: Dutta et al., arXiv 1801.10292). The paper body
was not available to this project; the rule below is the reconstruction of
the design note ``cmpc-codes.md``:

* coded terms, for Y = AᵀB with θ′ = t(2s−1): a(i,j) = j + t·i, b(i,l) = t(s−1−i) + θ′·l, Y_{j,l} at
  j + t(s−1) + θ′·l. The products of block l fill θ′·l + [0, θ′ − 1] without gaps, so the coded products fill
  [0, t²(2s−1) − 1];
* A-secrets: α_w = ts + w for w < min(z, t(s−1)) — these land (with the coded B terms) on garbage exponents;
  the remaining z − t(s−1) (if z > t(s−1)) go to θ′(t−1) + ts + u, u = 0, 1, …, skipping exponents F_A already
  uses (for t = 1 the two ranges overlap);
* B-secrets: β_w = θ′(t−1) + ts + w.

For z ≤ t(s−1): N = t²(2s−1) + t + 2z − 1 (:func:`cmpc.costs.closed_form_workers`).
"""

from __future__ import annotations

from .base import Code, Pair, check_parameters

__all__ = ["make_polydot", "polydot_structure"]


def polydot_structure(s: int, t: int) -> tuple[dict[Pair, int], dict[Pair, int], dict[Pair, int]]:
    """(coded_a, coded_b, important) of the PolyDot structure for AᵀB (θ′ = t(2s−1))."""
    theta = t * (2 * s - 1)
    coded_a = {(i, j): j + t * i for i in range(s) for j in range(t)}
    coded_b = {(i, l): t * (s - 1 - i) + theta * l for i in range(s) for l in range(t)}
    important = {(j, l): j + t * (s - 1) + theta * l for j in range(t) for l in range(t)}
    return coded_a, coded_b, important


def make_polydot(s: int, t: int, z: int) -> Code:
    """PolyDot-CMPC code (reconstruction, see the module docstring)."""
    s, t, z = check_parameters(s, t, z)
    theta = t * (2 * s - 1)
    coded_a, coded_b, important = polydot_structure(s, t)
    in_gap = min(z, t * (s - 1))
    secret_a = [t * s + w for w in range(in_gap)]
    used = set(coded_a.values()) | set(secret_a)
    u = 0
    while len(secret_a) < z:
        e = theta * (t - 1) + t * s + u
        if e not in used:
            secret_a.append(e)
            used.add(e)
        u += 1
    secret_b = [theta * (t - 1) + t * s + w for w in range(z)]
    return Code("polydot", s, t, z, coded_a, secret_a, coded_b, secret_b, important)
