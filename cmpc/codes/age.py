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

Structural privacy: the A-secrets are consecutive exactly when λ = 0 (all at t·θ + u) or λ = z (the first
gap, ts + r for r < z); the B-secrets are always consecutive. Consecutive secret exponents make every z×z
secret matrix a diagonal times a Vandermonde matrix, invertible for any distinct non-zero points, so such a
session needs no subset check (:mod:`cmpc.protocol.certificate`). :func:`structural_lambda` gives the better
of the two; ``make_age(..., structural=True)`` builds it (``params["structural"] = True``).
Bounded work: N(λ) is counted with bitmasks for every λ, and only the chosen code is built and validated.
"""

from __future__ import annotations

from ..checks import check_int
from ..errors import ParameterError
from .base import Code, check_parameters, count_workers
from .entangled import entangled_structure

__all__ = ["age_code_for_lambda", "age_workers", "make_age", "structural_lambda"]


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
    lam = check_int("lambda (0 <= lambda <= z)", lam, lo=0, hi=z)
    coded_a, coded_b, important = entangled_structure(s, t, t * s + lam)
    secret_a, secret_b = _age_secrets(s, t, z, lam)
    return Code(
        "age", s, t, z, coded_a, secret_a, coded_b, secret_b, important,
        params={"lambda": lam, "theta": t * s + lam},
    )


def age_workers(s: int, t: int, z: int, lam: int) -> int:
    """N(λ) = |P(H)| of the AGE code with gap λ, counted with bitmasks (no validation: cheap)."""
    coded_a, coded_b, _ = entangled_structure(s, t, t * s + lam)
    secret_a, secret_b = _age_secrets(s, t, z, lam)
    return count_workers(list(coded_a.values()) + secret_a, list(coded_b.values()) + secret_b)


def structural_lambda(s: int, t: int, z: int) -> int:
    """The gap λ ∈ {0, z} with the fewer workers (ties → 0): AGE's best structurally private code."""
    s, t, z = check_parameters(s, t, z)
    return 0 if age_workers(s, t, z, 0) <= age_workers(s, t, z, z) else z


def make_age(s: int, t: int, z: int, lam: int | None = None, structural: bool = False) -> Code:
    """AGE-CMPC with the best gap λ* = argmin_λ N(λ) (or the given ``lam``; or, with ``structural=True``,
    the best λ ∈ {0, z}, whose secret exponents are consecutive).

    ``params["n_by_lambda"]`` always lists N(λ) for every λ ∈ [0, z].
    """
    s, t, z = check_parameters(s, t, z)
    if not isinstance(structural, bool):
        raise ParameterError(f"structural must be True or False, got {structural!r}")
    if structural and lam is not None:
        raise ParameterError("give either lam or structural=True, not both")
    n_by_lambda = {lam_: age_workers(s, t, z, lam_) for lam_ in range(z + 1)}
    if structural:
        lam = 0 if n_by_lambda[0] <= n_by_lambda[z] else z
    elif lam is None:
        lam = min(n_by_lambda, key=lambda k: (n_by_lambda[k], k))
    else:
        lam = check_int("lambda (0 <= lambda <= z)", lam, lo=0, hi=z)
    best = age_code_for_lambda(s, t, z, lam)
    if best.n_workers != n_by_lambda[lam]:  # the bitmask count and the Code's own count must agree
        raise AssertionError(f"age: counted {n_by_lambda[lam]} workers but the code has {best.n_workers}")
    return best.renamed(
        "age",
        **{"lambda": lam, "theta": t * s + lam, "n_by_lambda": n_by_lambda, "structural": lam in (0, z)},
    )
