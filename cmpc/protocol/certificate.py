"""Certificates: why every coalition of z workers learns nothing and every N workers can decode.

Pure math on public data (the code's exponents, the prime and the evaluation points); no I/O.

The matrices
------------
For exponents σ_1 < … < σ_k and points α_1, …, α_k the generalised Vandermonde V = [α_i^{σ_w}] has

    det V = Π_i α_i^{σ_1} · Π_{i<j} (α_j − α_i) · s_λ(α_1, …, α_k),

s_λ the Schur polynomial of the partition λ_m = σ_{k+1−m} − σ_1 − (k − m), of total degree
|λ| = Σ σ − k·σ_1 − k(k−1)/2 (:func:`schur_degree`). Which matrices matter:

* **privacy of A** (likewise B): any z workers see z evaluations of F_A; the z secret terms mask every
  combination of coded blocks iff the z×z matrix [α_n^{σ}] (n in the coalition, σ ∈ S_A) is invertible,
  for *every* z-subset of the N′ workers;
* **phase-2 masks**: worker n's masks R_w^{(n)} sit at x^{t²+w}, w < z; invertible for the same reason;
* **interpolation**: the master solves [α^e], e ∈ 0..t²+z−1, for the reporters' points;
* **decodability**: the chosen N workers invert [α_n^e], e ∈ P(H); with spare workers any N of the N′ may
  be chosen, so every N-subset counts. This is liveness, not privacy (a singular set cannot decode and
  leaks nothing; the master checks the set it picks and skips singular ones): when neither structure, the
  budget nor the bound covers it, its check has kind ``"runtime"`` and does not block the session.

How each property is established (in this order of preference)
---------------------------------------------------------------
(a) **structural**: with distinct non-zero points Π α_i^{σ_1} and Π (α_j − α_i) never vanish. When the
    exponents are consecutive (σ_w = σ_1 + w − 1) the partition λ is empty, s_λ = 1, so det V ≠ 0 for
    every subset: a proof, no check needed. This covers the phase-2 masks and the interpolation always,
    the B-secrets of every code here, and the A-secrets of BGW, Entangled, SSMM and AGE with λ ∈ {0, z}.
(b) **exhaustive**: otherwise every subset is checked (:func:`cmpc.protocol.detmod.first_singular_subset`)
    when the work C(N′, k)·k³ is within :func:`exhaustive_budget`; the certificate records the subset count.
(c) **probabilistic** (Schwartz–Zippel): s_λ is a non-zero homogeneous polynomial of degree |λ| (its
    monomial x^λ has coefficient 1). The points of a fixed k-subset are uniform over ordered k-tuples of
    distinct elements of GF(p)* (drawn without replacement). Induction over the variables as in
    Schwartz–Zippel, where the i-th variable is uniform over at least p − 1 − (k − 1) = p − k values given
    the earlier ones, gives Pr[s_λ(α) = 0] ≤ |λ| / (p − k). A union bound over the C(N′, k) subsets:
    ε ≤ C(N′, k)·|λ| / (p − k). Accepted only when ε ≤ 2^-40 (``min_security_bits``, which a caller may
    lower explicitly). The bound is about points *drawn at random*: it certifies a session that its creator
    drew with the CSPRNG; a party loading a file recomputes the bound but cannot tell drawn points from
    chosen ones (trust in the session's creator, as for every other public parameter).

When none applies :class:`UncertifiedSessionError` names the remedies: a larger prime (2^61 − 1), fewer
workers, or a code with structural privacy (AGE with λ = 0 or λ = z: ``codes.make("age", ...,
structural=True)``). What leaks: nothing; everything here is public.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..checks import check_int
from ..errors import ParameterError
from .detmod import HAVE_NUMBA, first_singular_subset

__all__ = [
    "EXHAUSTIVE_BUDGET",
    "KINDS",
    "SECURITY_BITS",
    "Certificate",
    "Check",
    "InvalidSessionError",
    "SingularSubsetError",
    "UncertifiedSessionError",
    "certifiable_kind",
    "certify",
    "exhaustive_budget",
    "schur_degree",
    "union_bound",
]

#: statistical security parameter: a probabilistic certificate needs failure probability ≤ 2^-40
SECURITY_BITS = 40
#: exhaustive work allowed per property, in units of k³ (one k×k elimination) summed over the subsets, for
#: the compiled kernels; about 2 s on one core of the reference machine (docs/certificates.md)
EXHAUSTIVE_BUDGET = 500_000_000
#: the same without numba (numpy batch kernel, about 20× slower per subset)
EXHAUSTIVE_BUDGET_WIDE = 25_000_000
KINDS = ("structural", "exhaustive", "probabilistic")
#: extra kind for decodability only: too many N-subsets to check or bound; the master checks the set it picks
#: and skips singular ones (a liveness property: a singular set leaks nothing, it cannot decode)
RUNTIME = "runtime"
PROPERTIES = ("privacy-a", "privacy-b", "phase2-masks", "interpolation", "decodability")


class InvalidSessionError(ParameterError):
    """A session's public parameters are invalid (points, z, code, shapes, prime or certificate)."""


class SingularSubsetError(InvalidSessionError):
    """An exhaustive check found a subset of workers whose matrix is singular."""

    def __init__(self, message: str, *, prop: str, subset: tuple[int, ...]) -> None:
        super().__init__(message)
        self.prop = prop
        self.subset = subset


class UncertifiedSessionError(InvalidSessionError):
    """No structural, exhaustive or probabilistic certificate is possible for these parameters."""


def is_consecutive(exponents: list[int] | tuple[int, ...]) -> bool:
    e = sorted(exponents)
    return all(b - a == 1 for a, b in itertools.pairwise(e))


def schur_degree(exponents: list[int] | tuple[int, ...]) -> int:
    """|λ| = Σσ − kσ_1 − k(k−1)/2 for exponents σ_1 < … < σ_k (0 exactly when they are consecutive)."""
    e = sorted(int(x) for x in exponents)
    k = len(e)
    return sum(e) - k * e[0] - k * (k - 1) // 2 if k else 0


def union_bound(n_total: int, k: int, degree: int, p: int) -> Fraction:
    """ε = C(n_total, k)·degree/(p − k): probability that some k-subset of points drawn uniformly without
    replacement from GF(p)* makes the Schur factor of degree ``degree`` vanish (module docstring, (c))."""
    if p <= k:
        return Fraction(1)
    return min(Fraction(1), Fraction(math.comb(n_total, k) * degree, p - k))


def exhaustive_budget(p: int) -> int:
    """Work allowed for one exhaustive check (k³ units summed over subsets) at prime p."""
    return EXHAUSTIVE_BUDGET if HAVE_NUMBA else EXHAUSTIVE_BUDGET_WIDE


def _bits(eps: Fraction) -> float:
    return math.inf if eps == 0 else -math.log2(eps)


def _pow2(eps: float | Fraction) -> str:
    """``2^-41.3`` for a probability (``0`` for zero)."""
    return "0" if eps == 0 else f"2^{math.log2(eps):.1f}"


@dataclass(frozen=True)
class Check:
    """How one property is established. ``subsets``: k-subsets that matter (C(n, k)); ``checked``: how many
    were checked (exhaustive only); ``bound``: the failure probability (probabilistic only, else 0)."""

    prop: str
    kind: str
    exponents: tuple[int, ...]
    n: int
    k: int
    subsets: int
    checked: int
    schur_degree: int
    bound: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "property": self.prop,
            "kind": self.kind,
            "exponents": list(self.exponents),
            "n": self.n,
            "k": self.k,
            "subsets": self.subsets,
            "checked": self.checked,
            "schur_degree": self.schur_degree,
            "bound": self.bound,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Check:
        return cls(
            str(d["property"]), str(d["kind"]), tuple(int(e) for e in d["exponents"]), int(d["n"]),
            int(d["k"]), int(d["subsets"]), int(d["checked"]), int(d["schur_degree"]), float(d["bound"]),
        )


@dataclass(frozen=True)
class Certificate:
    """Which certificate a session holds: one :class:`Check` per property (``PROPERTIES``).

    ``kind`` is the weakest kind among the checks (structural < exhaustive < probabilistic);
    ``failure_bound`` the sum of the probabilistic bounds (0 when none), ``min_security_bits`` the bar the
    creator accepted (40 unless lowered explicitly).
    """

    p: int
    n_total: int
    checks: tuple[Check, ...]
    min_security_bits: int = SECURITY_BITS

    @property
    def kind(self) -> str:
        """The weakest kind among the privacy checks (decodability is liveness, reported in its check)."""
        kinds = [c.kind for c in self.checks if c.kind in KINDS and c.prop != "decodability"]
        return max(kinds, key=KINDS.index, default="structural")

    @property
    def failure_bound(self) -> float:
        """Sum of the probabilistic bounds of the privacy checks (0 when all are structural/exhaustive)."""
        return float(sum(c.bound for c in self.checks if c.prop != "decodability"))

    @property
    def security_bits(self) -> float:
        fb = self.failure_bound
        return math.inf if fb == 0 else -math.log2(fb)

    def check(self, prop: str) -> Check:
        for c in self.checks:
            if c.prop == prop:
                return c
        raise KeyError(prop)

    def describe(self) -> str:
        """One line, e.g. ``certificate: exhaustive (privacy-a: exhaustive 9,880 subsets; ...)``."""
        parts = []
        for c in self.checks:
            if c.kind == "exhaustive":
                parts.append(f"{c.prop}: exhaustive {c.checked:,} subsets")
            elif c.kind == RUNTIME:
                parts.append(f"{c.prop}: checked by the master at run time")
            elif c.kind == "probabilistic":
                parts.append(f"{c.prop}: probabilistic ε ≤ {_pow2(c.bound)}")
            else:
                parts.append(f"{c.prop}: structural")
        bound = "" if self.kind != "probabilistic" else f", failure ≤ {_pow2(self.failure_bound)}"
        return f"certificate: {self.kind}{bound} ({'; '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "p": self.p,
            "n_total": self.n_total,
            "min_security_bits": self.min_security_bits,
            "failure_bound": self.failure_bound,
            "checks": [c.to_dict() for c in self.checks],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Certificate:
        try:
            cert = cls(
                int(d["p"]), int(d["n_total"]), tuple(Check.from_dict(c) for c in d["checks"]),
                int(d["min_security_bits"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidSessionError(f"malformed certificate: {exc!r}") from exc
        if d.get("kind") != cert.kind:
            raise InvalidSessionError(f"certificate kind {d.get('kind')!r} does not match its checks")
        return cert


def _remedy(p: int) -> str:
    bigger = "a larger prime such as p = 2^61 - 1, " if p < 2**61 - 1 else ""
    return (
        f"remedies: {bigger}fewer workers, or a code with structural privacy (consecutive secret exponents, "
        "e.g. codes.make('age', s, t, z, structural=True): AGE with λ = 0 or λ = z, or bgw/entangled/ssmm)"
    )


def _certify_family(
    prop: str, exponents: list[int], points: np.ndarray, p: int, k_subsets: int,
    budget: int, min_bits: int,
) -> Check:
    exps = tuple(sorted(int(e) for e in exponents))
    n = len(points)
    k = len(exps)
    total = math.comb(n, k_subsets)
    degree = schur_degree(exps)
    if degree == 0:
        return Check(prop, "structural", exps, n, k, total, 0, 0, 0.0)
    if total * k**3 <= budget:
        bad, count = first_singular_subset(points, list(exps), p)
        if bad is not None:
            raise SingularSubsetError(
                f"{prop}: the {k}x{k} matrix [α^e] (e in {list(exps)}) of workers {bad} is singular over "
                f"GF({p}); these workers together would see an unmasked combination"
                if prop.startswith("privacy")
                else f"{prop}: workers {bad} cannot decode (singular [α^e], e in P(H)) over GF({p})",
                prop=prop,
                subset=bad,
            )
        return Check(prop, "exhaustive", exps, n, k, total, count, degree, 0.0)
    eps = union_bound(n, k, degree, p)
    if eps > Fraction(1, 2**min_bits) and prop == "decodability":
        return Check(prop, RUNTIME, exps, n, k, total, 0, degree, float(eps))
    if eps > Fraction(1, 2**min_bits):
        raise UncertifiedSessionError(
            f"{prop}: cannot certify {n} workers over GF({p}): C({n}, {k}) = {total:,} subsets exceed the "
            f"exhaustive budget, and the Schwartz–Zippel bound C({n}, {k})·|λ|/(p − {k}) with |λ| = {degree} "
            f"is {_pow2(eps)}, above 2^-{min_bits}; {_remedy(p)}"
        )
    return Check(prop, "probabilistic", exps, n, k, total, 0, degree, float(eps))


def certify(
    spec: Any,
    points: Any,
    p: int,
    *,
    min_security_bits: int = SECURITY_BITS,
    budget: int | None = None,
) -> Certificate:
    """Certificate for code ``spec`` (a :class:`~cmpc.protocol.session.CodeSpec`) at ``points`` over GF(p).

    Points must already be distinct, non-zero and in [1, p) (the session validates them). Raises
    :class:`SingularSubsetError` when an exhaustive check finds a bad subset (draw new points) and
    :class:`UncertifiedSessionError` when no certificate is possible (message names the remedies).
    Deterministic: the same inputs give the same certificate, which is how a loaded one is verified.
    """
    min_security_bits = check_int("min_security_bits", min_security_bits, lo=1, hi=256)
    pts = np.asarray(points, dtype=np.int64)
    lim = exhaustive_budget(p) if budget is None else int(budget)
    t, z = spec.t, spec.z
    ph = list(spec.product_exponents)
    checks = (
        _certify_family("privacy-a", list(spec.secret_a), pts, p, z, lim, min_security_bits),
        _certify_family("privacy-b", list(spec.secret_b), pts, p, z, lim, min_security_bits),
        Check("phase2-masks", "structural", tuple(range(t * t, t * t + z)), len(pts), z,
              math.comb(len(pts), z), 0, 0, 0.0),
        Check("interpolation", "structural", tuple(range(t * t + z)), len(pts), t * t + z,
              math.comb(len(pts), t * t + z), 0, 0, 0.0),
        _certify_family("decodability", ph, pts, p, len(ph), lim, min_security_bits),
    )
    cert = Certificate(p, len(pts), checks, min_security_bits)
    total = sum((Fraction(c.bound) for c in checks if c.prop != "decodability"), Fraction(0))
    if total > Fraction(1, 2**min_security_bits):
        raise UncertifiedSessionError(
            f"the probabilistic checks together fail with probability up to {_pow2(total)}, above "
            f"2^-{min_security_bits}; {_remedy(p)}"
        )
    return cert


def certifiable_kind(
    secret_a: Any,
    secret_b: Any,
    n_total: int,
    p: int,
    *,
    min_security_bits: int = SECURITY_BITS,
    budget: int | None = None,
) -> str | None:
    """The certificate kind privacy would get for ``n_total`` workers over GF(p) — ``"structural"``,
    ``"exhaustive"`` (every z-subset within the budget: checked when the session is created, which redraws
    points on a singular subset), ``"probabilistic"`` (bound ≤ 2^-min_security_bits) — or ``None`` when
    neither applies. No points are drawn: a planning question (``cmpc workers --p``)."""
    lim = exhaustive_budget(p) if budget is None else int(budget)
    kinds = []
    total = Fraction(0)
    for secrets in (secret_a, secret_b):
        exps = sorted(int(e) for e in secrets)
        k = len(exps)
        degree = schur_degree(exps)
        if degree == 0:
            kinds.append("structural")
        elif math.comb(n_total, k) * k**3 <= lim:
            kinds.append("exhaustive")
        else:
            eps = union_bound(n_total, k, degree, p)
            total += eps
            if total > Fraction(1, 2**min_security_bits):
                return None
            kinds.append("probabilistic")
    return max(kinds, key=KINDS.index)
