"""The :class:`Code` data type: exponent sets of a coded-MPC code for Y = AᵀB, and their validation.

Setting (``docs/codes.md``): A and B are split into s×t blocks A_{i,j}, B_{i,l} (i < s row blocks,
j, l < t column blocks); the result has t×t blocks Y_{j,l} = Σ_i A_{i,j}ᵀ B_{i,l}. A code fixes

* ``coded_a[(i, j)]`` and ``secret_a[w]`` (w < z): the exponents of F_A(x) = Σ A_{i,j} x^{a(i,j)} + Σ
  Ā_w x^{α_w},
* ``coded_b[(i, l)]`` and ``secret_b[w]``: the exponents of F_B(x) = Σ B_{i,l} x^{b(i,l)} + Σ B̄_w x^{β_w},
* ``important[(j, l)]``: the exponent of H(x) = F_A(x)ᵀ F_B(x) whose coefficient is Y_{j,l}.

The code is *valid* when, for every result block (j, l), the coefficient of x^{important[(j,l)]} in H
is exactly Σ_i A_{i,j}ᵀ B_{i,l}: every wanted pair (A_{i,j}, B_{i,l}) lands there and no other pair of terms
does (in particular no product with a secret term Ā_w or B̄_w, which would add noise to Y). The number of
workers the BGW-style protocol needs is N = |P(H)|, the number of *distinct* exponents of H over all term
pairs; the degree plus one (``degree_plus_one``) is larger for codes with gaps. Privacy against z colluding
workers additionally needs the z secret exponents of each polynomial to be distinct, and suitable evaluation
points (checked by the protocol, not here). Nothing in this module is secret: a code is public data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from typing import Any

from ..checks import check_int
from ..errors import CodeValidationError, ParameterError

__all__ = [
    "MAX_TERMS",
    "MAX_Z",
    "Code",
    "ExponentClashError",
    "check_parameters",
    "count_workers",
    "sumset",
]

#: bounded work: a code has T = st + z terms per polynomial and costs O(T²) to validate (about 1.5 s at
#: T = 544 on the reference machine), so every code refuses z > MAX_Z and st + z > MAX_TERMS
MAX_Z = 512
MAX_TERMS = 544

Pair = tuple[int, int]


class ExponentClashError(CodeValidationError):
    """A product of two terms lands on a result exponent it must not reach (or a wanted one misses it).

    Attributes name the clash: ``term_a`` / ``term_b`` are labels such as ``"A[0,1]"`` or ``"Abar[0]"``,
    ``exponent`` is the exponent of H they land on, ``result`` the (j, l) block it carries (or ``None``).
    """

    def __init__(
        self, message: str, *, term_a: str, term_b: str, exponent: int, result: Pair | None
    ) -> None:
        super().__init__(message)
        self.term_a = term_a
        self.term_b = term_b
        self.exponent = exponent
        self.result = result


def check_parameters(s: object, t: object, z: object) -> tuple[int, int, int]:
    """Check the partition sizes s, t and the collusion bound z: integers ≥ 1 (bool rejected)."""
    s, t, z = (check_int(name, value, lo=1) for name, value in (("s", s), ("t", t), ("z", z)))
    if z > MAX_Z:
        raise ParameterError(
            f"z must be <= {MAX_Z} (bounded work: codes have O((st + z)^2) products), got {z}"
        )
    if s * t + z > MAX_TERMS:
        raise ParameterError(
            f"s*t + z must be <= {MAX_TERMS} (bounded work: codes have O((st + z)^2) products), "
            f"got {s}*{t} + {z} = {s * t + z}"
        )
    return s, t, z


def count_workers(exps_a: Iterable[int], exps_b: Iterable[int]) -> int:
    """|P(H)| = |{a + b}| with Python-int bitmasks (fast; used to compare members of a code family)."""
    mask_b = 0
    for b in exps_b:
        mask_b |= 1 << b
    union = 0
    for a in set(exps_a):
        union |= mask_b << a
    return union.bit_count()


def sumset(xs: Iterable[int], ys: Iterable[int]) -> frozenset[int]:
    """The sumset {x + y : x ∈ xs, y ∈ ys}."""
    ys = tuple(ys)
    return frozenset(x + y for x in xs for y in ys)


def _check_exponent(what: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CodeValidationError(f"{what} must be a non-negative int, got {value!r}")
    if value < 0:
        raise CodeValidationError(f"{what} must be a non-negative int, got {value}")
    return int(value)


def _freeze_map(
    name: str, mapping: Mapping[Pair, int] | Iterable[tuple[Pair, int]], rows: int, cols: int
) -> tuple[tuple[Pair, int], ...]:
    items = dict(mapping.items() if isinstance(mapping, Mapping) else mapping)
    expected = {(i, j) for i in range(rows) for j in range(cols)}
    keys = set()
    for key in items:
        if (
            not isinstance(key, tuple)
            or len(key) != 2
            or not all(isinstance(k, int) and not isinstance(k, bool) for k in key)
        ):
            raise CodeValidationError(f"{name}: keys must be (int, int) pairs, got {key!r}")
        keys.add(key)
    if keys != expected:
        missing = sorted(expected - keys)
        extra = sorted(keys - expected)
        raise CodeValidationError(
            f"{name}: keys must be exactly the pairs (i, j) with i < {rows}, j < {cols}; "
            f"missing {missing[:5]}, unexpected {extra[:5]}"
        )
    return tuple(
        (key, _check_exponent(f"{name}[{key[0]},{key[1]}]", items[key])) for key in sorted(items)
    )


def _freeze_list(name: str, values: Sequence[int], z: int) -> tuple[int, ...]:
    values = tuple(values)
    if len(values) != z:
        raise CodeValidationError(f"{name} must hold exactly z = {z} exponents, got {len(values)}")
    return tuple(_check_exponent(f"{name}[{w}]", v) for w, v in enumerate(values))


@dataclass(frozen=True)
class Code:
    """A coded-MPC code for Y = AᵀB: exponent sets of F_A, F_B and the result exponents of H = F_Aᵀ F_B.

    Build one with :func:`cmpc.codes.make` (``make("age", s=2, t=2, z=2)``) or directly from exponent sets
    (mappings are frozen into sorted tuples, so a ``Code`` is immutable and hashable)::

        Code("mine", s=1, t=1, z=1, coded_a={(0, 0): 0}, secret_a=[1],
             coded_b={(0, 0): 0}, secret_b=[1], important={(0, 0): 0})

    ``validate=False`` skips the clash checks (shape and non-negativity are still checked) so tests can
    build a deliberately broken code, e.g. a negative control for privacy or decoding. ``params`` holds
    construction details (AGE: ``{"lambda": λ, "n_by_lambda": {λ: N(λ)}}``) and is not part of equality or
    the hash. After construction the attributes ``coded_a``, ``coded_b`` and ``important`` hold sorted tuples
    of ``((i, j), e)`` pairs and ``secret_a`` / ``secret_b`` tuples; :meth:`exponents` returns fresh dicts.
    """

    name: str
    s: int
    t: int
    z: int
    coded_a: Any
    secret_a: Any
    coded_b: Any
    secret_b: Any
    important: Any
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    validate: InitVar[bool] = True
    product_exponents: tuple[int, ...] = field(init=False, compare=False, hash=False, repr=False)
    validated: bool = field(init=False, compare=False, hash=False, repr=False)

    def __post_init__(self, validate: bool) -> None:
        s, t, z = check_parameters(self.s, self.t, self.z)
        if not isinstance(self.name, str) or not self.name:
            raise ParameterError(f"name must be a non-empty str, got {self.name!r}")
        setter = object.__setattr__
        setter(self, "coded_a", _freeze_map("coded_a", self.coded_a, s, t))
        setter(self, "coded_b", _freeze_map("coded_b", self.coded_b, s, t))
        setter(self, "important", _freeze_map("important", self.important, t, t))
        setter(self, "secret_a", _freeze_list("secret_a", self.secret_a, z))
        setter(self, "secret_b", _freeze_list("secret_b", self.secret_b, z))
        if not isinstance(self.params, dict):
            setter(self, "params", dict(self.params))
        exps_a = [e for _, e in self.coded_a] + list(self.secret_a)
        exps_b = [e for _, e in self.coded_b] + list(self.secret_b)
        setter(self, "product_exponents", tuple(sorted(sumset(exps_a, exps_b))))
        setter(self, "validated", bool(validate))
        if validate:
            self.check()

    # ----------------------------------------------------------------------------------------------
    # derived quantities
    @property
    def n_workers(self) -> int:
        """N = |P(H)|: the number of distinct exponents of H = F_Aᵀ F_B over all term pairs."""
        return len(self.product_exponents)

    @property
    def degree_plus_one(self) -> int:
        """deg H + 1 (≥ N; larger than N exactly when P(H) has gaps)."""
        return self.product_exponents[-1] + 1

    @property
    def recovery_threshold(self) -> int:
        """Workers the master needs in phase 3: t² + z (the same for every code)."""
        return self.t * self.t + self.z

    def exponents(self) -> dict[str, Any]:
        """Fresh dicts/lists of the exponent sets (keys ``coded_a``, ``secret_a``, ``coded_b``, ``secret_b``,
        ``important``), in the layout of the module docstring."""
        return {
            "coded_a": dict(self.coded_a),
            "secret_a": list(self.secret_a),
            "coded_b": dict(self.coded_b),
            "secret_b": list(self.secret_b),
            "important": dict(self.important),
        }

    def terms_a(self) -> list[tuple[str, int]]:
        """(label, exponent) of every term of F_A: ``A[i,j]`` then ``Abar[w]``."""
        return [(f"A[{i},{j}]", e) for (i, j), e in self.coded_a] + [
            (f"Abar[{w}]", e) for w, e in enumerate(self.secret_a)
        ]

    def terms_b(self) -> list[tuple[str, int]]:
        """(label, exponent) of every term of F_B: ``B[i,l]`` then ``Bbar[w]``."""
        return [(f"B[{i},{l}]", e) for (i, l), e in self.coded_b] + [
            (f"Bbar[{w}]", e) for w, e in enumerate(self.secret_b)
        ]

    def describe(self) -> str:
        """One line: name, parameters, N, deg+1 and params."""
        extra = {k: v for k, v in self.params.items() if not isinstance(v, dict)}
        return (
            f"{self.name}(s={self.s}, t={self.t}, z={self.z}): N={self.n_workers}, "
            f"deg+1={self.degree_plus_one}" + (f", {extra}" if extra else "")
        )

    # ----------------------------------------------------------------------------------------------
    # validation
    def check(self) -> None:
        """Raise :class:`CodeValidationError` (an :class:`ExponentClashError` for clashes) unless valid.

        Checks: coded exponents distinct within F_A and within F_B; secret exponents distinct and
        disjoint from the coded ones of the same polynomial; every wanted pair (A_{i,j}, B_{i,l}) lands on
        important[(j, l)];
        no other pair of terms (unwanted coded pairs, anything with a secret) lands on any result exponent.
        """
        name = self.name
        for poly, coded, secret in (("A", self.coded_a, self.secret_a), ("B", self.coded_b, self.secret_b)):
            seen: dict[int, str] = {}
            for (i, j), e in coded:
                label = f"{poly}[{i},{j}]"
                if e in seen:
                    raise CodeValidationError(
                        f"code {name!r}: coded terms {seen[e]} and {label} of F_{poly} share exponent {e}"
                    )
                seen[e] = label
            for w, e in enumerate(secret):
                label = f"{poly}bar[{w}]"
                if e in seen:
                    raise CodeValidationError(
                        f"code {name!r}: secret term {label} of F_{poly} reuses exponent {e} of {seen[e]}"
                    )
                seen[e] = label
        carrier: dict[int, Pair] = {}
        for jl, e in self.important:
            if e in carrier:
                raise CodeValidationError(
                    f"code {name!r}: results Y[{carrier[e][0]},{carrier[e][1]}] and Y[{jl[0]},{jl[1]}] "
                    f"share exponent {e}"
                )
            carrier[e] = jl
        important = dict(self.important)
        coded_b = dict(self.coded_b)
        for (i, j), ea in self.coded_a:
            for l in range(self.t):
                eb = coded_b[(i, l)]
                if ea + eb != important[(j, l)]:
                    raise ExponentClashError(
                        f"code {name!r}: wanted product A[{i},{j}]^T B[{i},{l}] lands on x^{ea + eb} "
                        f"(= {ea} + {eb}), not on x^{important[(j, l)]} which carries Y[{j},{l}]",
                        term_a=f"A[{i},{j}]",
                        term_b=f"B[{i},{l}]",
                        exponent=ea + eb,
                        result=(j, l),
                    )
        for la, ea in self.terms_a():
            for lb, eb in self.terms_b():
                e = ea + eb
                jl = carrier.get(e)
                if jl is None or _is_wanted(la, lb, jl):
                    continue
                raise ExponentClashError(
                    f"code {name!r}: product {la}^T {lb} (exponents {ea} + {eb}) lands on x^{e}, "
                    f"which carries Y[{jl[0]},{jl[1]}]",
                    term_a=la,
                    term_b=lb,
                    exponent=e,
                    result=jl,
                )

    def is_valid(self) -> bool:
        """True when :meth:`check` passes."""
        try:
            self.check()
        except CodeValidationError:
            return False
        return True

    def renamed(self, name: str, **params: Any) -> Code:
        """The same exponent sets under another name (and params), validated again."""
        return Code(
            name,
            self.s,
            self.t,
            self.z,
            dict(self.coded_a),
            list(self.secret_a),
            dict(self.coded_b),
            list(self.secret_b),
            dict(self.important),
            params=params,
        )


def _is_wanted(label_a: str, label_b: str, jl: Pair) -> bool:
    """Whether A[i,j]^T B[i',l] is a wanted pair for result jl = (j, l): i == i', j, l as given."""
    if not (label_a.startswith("A[") and label_b.startswith("B[")):
        return False
    ia, ja = (int(v) for v in label_a[2:-1].split(","))
    ib, lb = (int(v) for v in label_b[2:-1].split(","))
    return ia == ib and (ja, lb) == jl
