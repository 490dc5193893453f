"""Public parameters of one protocol run: the code's exponents, the field, shapes and evaluation points.

Everything in a :class:`Session` is public: every party gets the same copy (in a real run, in the
launcher's configuration). It holds the code *as exponent sets*, so any code object from
:mod:`cmpc.codes` (or a hand-made one) runs, and a party process can rebuild it from JSON.

Evaluation points
-----------------
Points α_n are drawn uniformly from GF(p) \\ {0} with the CSPRNG, distinct, and then **verified**:

* *Decodability*: the generalised Vandermonde ``V = [α_n^e]`` (n in the chosen N workers, e ∈ P(H)) must be
  invertible. With spare workers any N of them may be chosen, so every N-subset is checked when there are
  at most ``exhaustive_limit`` of them; otherwise ``sample_checks`` random subsets are checked, and the master
  checks the subset it actually picks again at phase 2 (and picks another if it is singular).
* *Privacy*: for the A-secret exponents S_A (and likewise S_B) every z×z matrix ``[α_n^{σ}]`` (n in any z
  workers, σ ∈ S_A) must be invertible; otherwise some z workers see a combination of coded blocks that no
  secret term masks. Checked for every z-subset when there are at most ``exhaustive_limit`` of them,
  otherwise on ``sample_checks`` random subsets.

Schwartz–Zippel bound for what the sampled checks leave: the determinant of a k×k generalised Vandermonde
matrix with exponents e_1 < … < e_k is a non-zero polynomial in the k points of total degree Σ e_i
(it contains the monomial Π α_i^{e_i} with coefficient 1), so for independent uniform non-zero points it
vanishes with probability at most Σ e_i / (p − 1). A union bound over all subsets gives the failure
probability of an unchecked subset; at p = 2^31 − 1 and the codes' sizes it is below 2^-20 per subset.

A field with fewer than N′ non-zero elements cannot host N′ workers: :class:`ParameterError`.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ParameterError, SingularMatrixError
from ..field import PrimeField
from ..rand import RandomSource, resolve

SOURCE_A = "source-a"
SOURCE_B = "source-b"
MASTER = "master"


def worker_id(n: int) -> str:
    return f"worker-{n}"


@dataclass(frozen=True)
class CodeSpec:
    """A code as exponent sets (what the protocol needs of any code object)."""

    name: str
    s: int
    t: int
    z: int
    coded_a: dict[tuple[int, int], int]
    secret_a: tuple[int, ...]
    coded_b: dict[tuple[int, int], int]
    secret_b: tuple[int, ...]
    important: dict[tuple[int, int], int]

    @classmethod
    def from_code(cls, code: Any) -> CodeSpec:
        if isinstance(code, CodeSpec):
            return code
        try:
            ex = code.exponents()
            s, t, z = int(code.s), int(code.t), int(code.z)
        except AttributeError as exc:
            raise ParameterError(
                "code must provide s, t, z and exponents() (use cmpc.codes.make)"
            ) from exc
        if s < 1 or t < 1 or z < 1:
            raise ParameterError(f"s, t, z must be >= 1, got s={s}, t={t}, z={z}")
        spec = cls(
            name=str(getattr(code, "name", "custom")),
            s=s,
            t=t,
            z=z,
            coded_a={(int(i), int(j)): int(e) for (i, j), e in ex["coded_a"].items()},
            secret_a=tuple(int(e) for e in ex["secret_a"]),
            coded_b={(int(i), int(l)): int(e) for (i, l), e in ex["coded_b"].items()},
            secret_b=tuple(int(e) for e in ex["secret_b"]),
            important={(int(j), int(l)): int(e) for (j, l), e in ex["important"].items()},
        )
        spec.check_shape()
        return spec

    def check_shape(self) -> None:
        want_a = {(i, j) for i in range(self.s) for j in range(self.t)}
        if set(self.coded_a) != want_a or set(self.coded_b) != want_a:
            raise ParameterError(f"code must have one coded exponent per block of the {self.s}x{self.t} grid")
        if set(self.important) != {(j, l) for j in range(self.t) for l in range(self.t)}:
            raise ParameterError(f"code must name a result exponent for each of the {self.t}x{self.t} blocks")

    @property
    def a_exponents(self) -> list[int]:
        """Exponents of F_A in coefficient order: coded blocks (i, j) row-major, then the secrets."""
        return [self.coded_a[(i, j)] for i in range(self.s) for j in range(self.t)] + list(self.secret_a)

    @property
    def b_exponents(self) -> list[int]:
        return [self.coded_b[(i, l)] for i in range(self.s) for l in range(self.t)] + list(self.secret_b)

    @property
    def product_exponents(self) -> tuple[int, ...]:
        """P(H): every exponent of F_A^T F_B (the sumset of the two exponent sets)."""
        return tuple(sorted({a + b for a in self.a_exponents for b in self.b_exponents}))

    @property
    def n_workers(self) -> int:
        return len(self.product_exponents)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "s": self.s,
            "t": self.t,
            "z": self.z,
            "coded_a": [[i, j, e] for (i, j), e in sorted(self.coded_a.items())],
            "secret_a": list(self.secret_a),
            "coded_b": [[i, l, e] for (i, l), e in sorted(self.coded_b.items())],
            "secret_b": list(self.secret_b),
            "important": [[j, l, e] for (j, l), e in sorted(self.important.items())],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CodeSpec:
        return cls(
            name=d["name"],
            s=int(d["s"]),
            t=int(d["t"]),
            z=int(d["z"]),
            coded_a={(int(i), int(j)): int(e) for i, j, e in d["coded_a"]},
            secret_a=tuple(int(e) for e in d["secret_a"]),
            coded_b={(int(i), int(l)): int(e) for i, l, e in d["coded_b"]},
            secret_b=tuple(int(e) for e in d["secret_b"]),
            important={(int(j), int(l)): int(e) for j, l, e in d["important"]},
        )


def _subsets(n: int, k: int, limit: int, samples: int, rng: RandomSource) -> list[tuple[int, ...]]:
    if k > n:
        return []
    if math.comb(n, k) <= limit:
        return list(itertools.combinations(range(n), k))
    out = [tuple(range(k))]
    for _ in range(samples):
        perm = np.argsort(rng.integers_below(2**62, n))
        out.append(tuple(sorted(int(x) for x in perm[:k])))
    return out


def check_points(
    field: PrimeField,
    code: CodeSpec,
    points: np.ndarray,
    *,
    rng: RandomSource | None = None,
    exhaustive_limit: int = 2000,
    sample_checks: int = 64,
) -> str | None:
    """``None`` if the points pass the decodability and privacy checks, else why not."""
    rng = resolve(rng)
    pts = np.asarray(points, dtype=np.int64)
    n_total = pts.size
    if len(set(pts.tolist())) != n_total or (pts == 0).any():
        return "points are not distinct and non-zero"
    ph = list(code.product_exponents)
    n_need = len(ph)
    for subset in _subsets(n_total, n_need, exhaustive_limit // 10 + 1, sample_checks // 4, rng):
        v = field.raw_vandermonde(pts[list(subset)], ph)
        if field.raw_rank(v) < n_need:
            return f"generalised Vandermonde over P(H) is singular for workers {subset}"
    for name, secrets in (("A", code.secret_a), ("B", code.secret_b)):
        z = len(secrets)
        if z == 0:
            continue
        for subset in _subsets(n_total, z, exhaustive_limit, sample_checks, rng):
            m = field.raw_vandermonde(pts[list(subset)], secrets)
            if field.raw_rank(m) < z:
                return f"secret exponents of {name} give a singular {z}x{z} matrix at workers {subset}"
    return None


@dataclass(frozen=True)
class Session:
    """Public parameters shared by every party of one run."""

    session_id: bytes
    code: CodeSpec
    p: int
    a_shape: tuple[int, int]
    b_shape: tuple[int, int]
    points: tuple[int, ...]
    redundant_results: bool
    #: SHA-256 (hex) of the deployment configuration this session was made from ("" when none): a party
    #: started with another configuration refuses to run it
    config_digest: str = ""

    # -- construction -----------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        code: Any,
        field: PrimeField,
        a_shape: tuple[int, int],
        b_shape: tuple[int, int],
        workers: int | None = None,
        rng: RandomSource | None = None,
        *,
        redundant_results: bool | None = None,
        max_attempts: int = 50,
        config_digest: str = "",
    ) -> Session:
        """Draw and verify evaluation points for ``workers`` (default ``code.n_workers``) workers."""
        spec = CodeSpec.from_code(code)
        rng = resolve(rng)
        n_needed = spec.n_workers
        n_total = n_needed if workers is None else int(workers)
        if n_total < n_needed:
            raise ParameterError(f"workers must be >= N = {n_needed} for code {spec.name!r}, got {n_total}")
        if field.p - 1 < n_total:
            raise ParameterError(
                f"field too small: GF({field.p}) has {field.p - 1} non-zero points, {n_total} workers need "
                "distinct non-zero points"
            )
        a_shape = (int(a_shape[0]), int(a_shape[1]))
        b_shape = (int(b_shape[0]), int(b_shape[1]))
        if min(a_shape + b_shape) < 1:
            raise ParameterError(f"A and B must be non-empty, got shapes {a_shape} and {b_shape}")
        if a_shape[0] != b_shape[0]:
            raise ParameterError(
                f"A^T B needs A and B with the same number of rows, got {a_shape} and {b_shape}"
            )
        for _ in range(max_attempts):
            pts = cls._draw_points(field.p, n_total, rng)
            if check_points(field, spec, pts, rng=rng) is None:
                break
        else:
            raise ParameterError(
                f"field too small: no valid evaluation points for N' = {n_total} workers of code "
                f"{spec.name!r} found in GF({field.p}) after {max_attempts} attempts"
            )
        redundant = n_total > n_needed if redundant_results is None else bool(redundant_results)
        return cls(
            rng.bytes(16), spec, field.p, a_shape, b_shape, tuple(int(x) for x in pts), redundant,
            _check_digest(config_digest),
        )

    @staticmethod
    def _draw_points(p: int, n: int, rng: RandomSource) -> np.ndarray:
        if p - 1 <= 4 * n:  # small field: a random ordering of all non-zero elements
            order = np.argsort(rng.integers_below(2**62, p - 1))
            return (order[:n] + 1).astype(np.int64)
        chosen: list[int] = []
        seen: set[int] = set()
        while len(chosen) < n:
            for v in (rng.integers_below(p - 1, n) + 1).tolist():
                if v not in seen:
                    seen.add(v)
                    chosen.append(v)
                    if len(chosen) == n:
                        break
        return np.array(chosen, dtype=np.int64)

    # -- derived ------------------------------------------------------------------------------------------
    @property
    def n_total(self) -> int:
        return len(self.points)

    @property
    def n_needed(self) -> int:
        return self.code.n_workers

    @property
    def n_results(self) -> int:
        """Replies the master needs: t² + z."""
        return self.code.t**2 + self.code.z

    @property
    def fixed_assignment(self) -> bool:
        """True without spare workers: every worker takes part in phase 2, no choice is needed."""
        return self.n_total == self.n_needed

    def fixed_roles(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(chosen, reporters) when :attr:`fixed_assignment`: all workers; the first t² + z report
        (all of them with ``redundant_results``)."""
        chosen = tuple(range(self.n_total))
        return chosen, chosen if self.redundant_results else chosen[: self.n_results]

    @property
    def workers(self) -> list[str]:
        return [worker_id(n) for n in range(self.n_total)]

    @property
    def parties(self) -> list[str]:
        return [SOURCE_A, SOURCE_B, *self.workers, MASTER]

    @property
    def padded(self) -> tuple[int, int, int]:
        """(k', m', n'): k padded to a multiple of s, m and n to multiples of t."""
        s, t = self.code.s, self.code.t
        k, m = self.a_shape
        n = self.b_shape[1]
        return (-(-k // s) * s, -(-m // t) * t, -(-n // t) * t)

    @property
    def block_shapes(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Block shapes of A (k'/s × m'/t) and B (k'/s × n'/t)."""
        k, m, n = self.padded
        s, t = self.code.s, self.code.t
        return (k // s, m // t), (k // s, n // t)

    def field(self) -> PrimeField:
        return PrimeField(self.p)

    # -- serialisation ------------------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "session_id": self.session_id.hex(),
                "code": self.code.to_dict(),
                "p": self.p,
                "a_shape": list(self.a_shape),
                "b_shape": list(self.b_shape),
                "points": list(self.points),
                "redundant_results": self.redundant_results,
                "config_digest": self.config_digest,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Session:
        try:
            d = json.loads(text)
            sid = bytes.fromhex(d["session_id"])
            session = cls(
                sid,
                CodeSpec.from_dict(d["code"]),
                int(d["p"]),
                (int(d["a_shape"][0]), int(d["a_shape"][1])),
                (int(d["b_shape"][0]), int(d["b_shape"][1])),
                tuple(int(x) for x in d["points"]),
                bool(d["redundant_results"]),
                _check_digest(d.get("config_digest", "")),
            )
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise ParameterError(f"malformed session description: {exc}") from exc
        if len(sid) != 16:
            raise ParameterError("session_id must be 16 bytes")
        session.code.check_shape()
        return session


def _check_digest(digest: object) -> str:
    if not isinstance(digest, str) or (digest and (len(digest) != 64 or digest.strip("0123456789abcdef"))):
        raise ParameterError(f"config_digest must be '' or 64 lowercase hex digits (SHA-256), got {digest!r}")
    return digest


def decoding_rows(field: PrimeField, session: Session, chosen: list[int]) -> np.ndarray:
    """Rows of V⁻¹ for the result exponents: ``R[q, j + t·l] = r^{(j,l)}`` of the q-th chosen worker.

    V = [α_n^e] over the chosen workers and e ∈ P(H); Y_{j,l} = Σ_q R[q, j + t l] · H(α_{chosen[q]}).
    """
    code = session.code
    ph = list(code.product_exponents)
    pts = np.array([session.points[n] for n in chosen], dtype=np.int64)
    v = field.raw_vandermonde(pts, ph)
    t = code.t
    units = np.zeros((len(ph), t * t), dtype=np.int64)
    for (j, l), e in code.important.items():
        units[ph.index(e), j + t * l] = 1
    # (V^{-1})[e, :] = solution x of V^T x = unit_e
    try:
        return field.raw_solve(v.T.copy(), units)
    except SingularMatrixError as exc:
        raise SingularMatrixError(f"chosen workers {chosen} cannot decode: {exc}") from exc
