"""AGE-CMPC: Adaptive Gap Entangled polynomial codes for coded MPC.

Paper: E. Vedadi, Y. Keshtkarjahromi, H. Seferoglu, "Efficient Coded Multi-Party Computation at Edge
Networks", arXiv 2203.06759 (journal version arXiv 2305.07142). The paper bodies were not available to this
project; the rule below is the reconstruction of the design note ``cmpc-codes.md`` (see ``docs/codes.md``
for what is and is not from the paper):

* coded terms: entangled structure with B-block spacing θ = ts + λ for a gap λ ∈ [0, z]
  (a(i,j) = i + s·j, b(i,l) = s−1−i + θ·l, Y_{j,l} at s−1 + s·j + θ·l);
* A-secrets: the first z exponents of {q·θ + ts + r : q < t, r < λ} in increasing order (q outer, r inner),
  i.e. the λ-wide gaps after each block of coded A·B products, then t·θ, t·θ + 1, … for the rest;
* B-secrets: β_w = θ(t−1) + ts + w.

N(λ) = |P(H)| is counted for every λ and N_AGE = min_λ N(λ) (ties → the smallest λ). λ = 0 is Entangled-CMPC's
placement, λ = z the SSMM form, so N_AGE ≤ min(N_entangled, N_ssmm) by construction.
``params = {"lambda": λ*, "n_by_lambda": {λ: N(λ)}, "theta": ts + λ*}``.
"""

from __future__ import annotations

from ..errors import ParameterError
from .base import Code, check_parameters
from .entangled import entangled_structure

__all__ = ["age_code_for_lambda", "make_age"]


def _age_secrets(s: int, t: int, z: int, lam: int) -> tuple[list[int], list[int]]:
    theta = t * s + lam
    gaps = [q * theta + t * s + r for q in range(t) for r in range(lam)]
    secret_a = gaps[:z]
    extra = z - len(secret_a)
    secret_a += [t * theta + u for u in range(extra)]
    secret_b = [theta * (t - 1) + t * s + w for w in range(z)]
    return secret_a, secret_b


def age_code_for_lambda(s: int, t: int, z: int, lam: int) -> Code:
    """The AGE code with gap λ (0 ≤ λ ≤ z), validated."""
    s, t, z = check_parameters(s, t, z)
    if isinstance(lam, bool) or not isinstance(lam, int) or not 0 <= lam <= z:
        raise ParameterError(f"lambda must be an int in [0, z] = [0, {z}], got {lam!r}")
    coded_a, coded_b, important = entangled_structure(s, t, t * s + lam)
    secret_a, secret_b = _age_secrets(s, t, z, lam)
    return Code(
        "age", s, t, z, coded_a, secret_a, coded_b, secret_b, important,
        params={"lambda": lam, "theta": t * s + lam},
    )


def make_age(s: int, t: int, z: int, lam: int | None = None) -> Code:
    """AGE-CMPC with the best gap λ* = argmin_λ N(λ) (or the given ``lam``).

    ``params["n_by_lambda"]`` always lists N(λ) for every λ ∈ [0, z].
    """
    s, t, z = check_parameters(s, t, z)
    family = {lam_: age_code_for_lambda(s, t, z, lam_) for lam_ in range(z + 1)}
    n_by_lambda = {lam_: code.n_workers for lam_, code in family.items()}
    if lam is None:
        lam = min(n_by_lambda, key=lambda k: (n_by_lambda[k], k))
    elif isinstance(lam, bool) or not isinstance(lam, int) or lam not in family:
        raise ParameterError(f"lambda must be an int in [0, z] = [0, {z}], got {lam!r}")
    best = family[lam]
    return best.renamed("age", **{"lambda": lam, "theta": t * s + lam, "n_by_lambda": n_by_lambda})
