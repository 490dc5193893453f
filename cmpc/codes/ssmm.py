"""SSMM-form baseline: entangled coded terms with a gap of z (θ = ts + z) that holds the secret terms of F_A.

Secret placement (as reconstructed in the design note ``cmpc-codes.md``; the "SSMM" baseline of the AGE-CMPC
paper, Vedadi et al., arXiv 2203.06759 / 2305.07142, which builds on secure matrix multiplication codes
such as Zhu–Yan–Tang's SSMM, arXiv 2004.12925): θ = ts + z, α_w = ts + w (in the gap after the coded terms
of A), β_w = θ(t−1) + ts + w. N = (ts + z)(t + 1) − 1. It is AGE with λ = z (:mod:`cmpc.codes.age`).
"""

from __future__ import annotations

from .base import Code, check_parameters
from .entangled import entangled_structure

__all__ = ["make_ssmm"]


def make_ssmm(s: int, t: int, z: int) -> Code:
    """SSMM-form code: θ = ts + z, α_w = ts + w, β_w = θ(t−1) + ts + w."""
    s, t, z = check_parameters(s, t, z)
    theta = t * s + z
    coded_a, coded_b, important = entangled_structure(s, t, theta)
    secret_a = [t * s + w for w in range(z)]
    secret_b = [theta * (t - 1) + t * s + w for w in range(z)]
    return Code("ssmm", s, t, z, coded_a, secret_a, coded_b, secret_b, important)
