"""Public parameters of one protocol run: the code's exponents, the field, shapes and evaluation points.

Everything in a :class:`Session` is public: every party gets the same copy (in a real run, in the
launcher's configuration). It holds the code *as exponent sets*, so any code object from
:mod:`cmpc.codes` (or a hand-made one) runs, and a party process can rebuild it from JSON.

Validation (one path for :meth:`Session.create`, :meth:`Session.from_dict`, :meth:`Session.from_json` and
direct construction, in ``__post_init__``; roles call :meth:`Session.validate` again before sending):
session id of 16 bytes; p prime below 2^63; the code's exponent sets valid (a :class:`cmpc.codes.base.Code` is
built from them: z ≥ 1, exactly z distinct secret exponents per side, no clash); shapes positive, at most
``MAX_DIM`` per side and with equal row counts; between N and ``MAX_WORKERS`` evaluation points, distinct,
in [1, p) (a point 0 would hand a worker the coded blocks unmasked: with BGW, A itself); and a
:class:`~cmpc.protocol.certificate.Certificate` that every z-subset of workers sees invertible secret matrices
and every N-subset can decode — recomputed from the points and compared with the stored one (structural:
recomputed; exhaustive: re-run; probabilistic: the bound recomputed). Every failure is an
:class:`~cmpc.protocol.certificate.InvalidSessionError` (a :class:`ParameterError`) naming the reason.

Evaluation points are drawn uniformly without replacement from GF(p)* with the CSPRNG; a draw on which an
exhaustive check finds a singular subset is discarded and drawn again (``max_attempts``).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..codes.base import Code
from ..errors import CMPCError, ParameterError, SingularMatrixError
from ..field import PrimeField
from ..rand import RandomSource, resolve
from .certificate import (
    SECURITY_BITS,
    Certificate,
    InvalidSessionError,
    SingularSubsetError,
    UncertifiedSessionError,
    certify,
)
from .codespec import CodeSpec

#: largest matrix side a session accepts (rows or columns of A or B)
MAX_DIM = 1 << 24
#: most evaluation points (workers) a session accepts
MAX_WORKERS = 100_000
#: version of the JSON form (2: with the certificate)
JSON_VERSION = 2

SOURCE_A = "source-a"
SOURCE_B = "source-b"
MASTER = "master"


def worker_id(n: int) -> str:
    return f"worker-{n}"


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
    #: why the points are safe (:mod:`cmpc.protocol.certificate`): computed when not given, else verified
    certificate: Certificate | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "certificate", _validated(self))

    def validate(self) -> Certificate:
        """Run the session validation again (cached) and return the certificate; roles call this before
        anything leaves them. Raises :class:`InvalidSessionError` naming the reason."""
        return _validated(self)

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
        max_attempts: int = 20,
        config_digest: str = "",
        min_security_bits: int = SECURITY_BITS,
    ) -> Session:
        """Draw evaluation points for ``workers`` (default ``code.n_workers``) workers and certify them.

        Points are drawn with the CSPRNG (``rng``); a draw on which an exhaustive check finds a singular
        subset is replaced (at most ``max_attempts`` draws). ``min_security_bits`` (default 40) is the bar for
        a probabilistic certificate; lower it only deliberately. Raises :class:`UncertifiedSessionError`
        (a :class:`ParameterError`) when no certificate is possible, with the remedies in its message.
        """
        spec = CodeSpec.from_code(code)
        rng = resolve(rng)
        n_needed = spec.n_workers
        n_total = n_needed if workers is None else int(workers)
        if n_total < n_needed:
            raise ParameterError(f"workers must be >= N = {n_needed} for code {spec.name!r}, got {n_total}")
        if n_total > MAX_WORKERS:
            raise ParameterError(f"workers must be <= {MAX_WORKERS}, got {n_total}")
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
        spec_json = json.dumps(spec.to_dict(), sort_keys=True)
        last: SingularSubsetError | None = None
        for _ in range(max_attempts):
            pts = tuple(int(x) for x in cls._draw_points(field.p, n_total, rng))
            try:
                cert = _certify_cached(spec_json, pts, field.p, min_security_bits)
            except SingularSubsetError as exc:
                last = exc
                continue
            except UncertifiedSessionError as exc:
                raise UncertifiedSessionError(f"{exc}{_age_hint(spec)}") from exc
            break
        else:
            raise UncertifiedSessionError(
                f"no certifiable evaluation points for N' = {n_total} workers of code {spec.name!r} in "
                f"GF({field.p}) after {max_attempts} draws (last: {last}); use a larger prime such as "
                "2^61 - 1, fewer workers, or a code with structural privacy"
            )
        redundant = n_total > n_needed if redundant_results is None else bool(redundant_results)
        return cls(
            rng.bytes(16), spec, field.p, a_shape, b_shape, pts, redundant,
            _check_digest(config_digest), cert,
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
    def to_dict(self) -> dict[str, Any]:
        assert self.certificate is not None  # set by __post_init__
        return {
            "version": JSON_VERSION,
            "session_id": self.session_id.hex(),
            "code": self.code.to_dict(),
            "p": self.p,
            "a_shape": list(self.a_shape),
            "b_shape": list(self.b_shape),
            "points": list(self.points),
            "redundant_results": self.redundant_results,
            "config_digest": self.config_digest,
            "certificate": self.certificate.to_dict(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: Any, *, min_security_bits: int = SECURITY_BITS) -> Session:
        """Rebuild and validate a session (as :meth:`to_dict` wrote it). Refuses
        (:class:`InvalidSessionError`) anything the validation refuses, and a certificate weaker than
        ``min_security_bits``."""
        if not isinstance(d, dict):
            raise InvalidSessionError(f"session description must be a JSON object, got {type(d).__name__}")
        if d.get("version") != JSON_VERSION:
            raise InvalidSessionError(
                f"session description version {d.get('version')!r} is not {JSON_VERSION}: create the session "
                "again with this version of cmpc (cmpc keys / Session.create)"
            )
        try:
            if "certificate" not in d:
                raise KeyError("certificate")
            sid = bytes.fromhex(d["session_id"])
            code = CodeSpec.from_dict(d["code"])
            cert = Certificate.from_dict(d["certificate"])
            args = (
                sid, code, _strict_int("p", d["p"]),
                (_strict_int("a_shape", d["a_shape"][0]), _strict_int("a_shape", d["a_shape"][1])),
                (_strict_int("b_shape", d["b_shape"][0]), _strict_int("b_shape", d["b_shape"][1])),
                tuple(_strict_int("points", x) for x in d["points"]),
            )
            redundant = d["redundant_results"]
            if not isinstance(redundant, bool):
                raise TypeError(f"redundant_results must be true or false, got {redundant!r}")
            digest = d.get("config_digest", "")
        except InvalidSessionError:
            raise
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
            raise InvalidSessionError(f"malformed session description: {exc!r}") from exc
        session = cls(*args, redundant, _check_digest(digest), cert)
        if cert.security_bits < min_security_bits:
            raise InvalidSessionError(
                f"the session's certificate guarantees only 2^-{cert.security_bits:.1f} failure probability, "
                f"this party requires 2^-{min_security_bits}"
            )
        return session

    @classmethod
    def from_json(cls, text: str, *, min_security_bits: int = SECURITY_BITS) -> Session:
        try:
            d = json.loads(text)
        except (ValueError, TypeError) as exc:
            raise InvalidSessionError(f"malformed session description (not JSON): {exc}") from exc
        return cls.from_dict(d, min_security_bits=min_security_bits)


def _age_hint(spec: CodeSpec) -> str:
    """For an AGE code: the structurally private alternative and its worker count."""
    if spec.name != "age":
        return ""
    from ..codes.age import age_code_for_lambda, structural_lambda

    lam = structural_lambda(spec.s, spec.t, spec.z)
    n = age_code_for_lambda(spec.s, spec.t, spec.z, lam).n_workers
    return (
        f". For this AGE code: λ = {lam} is structurally private with N = {n} workers (this code: "
        f"N = {spec.n_workers}): codes.make('age', s={spec.s}, t={spec.t}, z={spec.z}, structural=True)"
    )


def _strict_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must hold integers, got {value!r}")
    return value


@functools.lru_cache(maxsize=64)
def _certify_cached(spec_json: str, points: tuple[int, ...], p: int, min_bits: int) -> Certificate:
    return certify(CodeSpec.from_dict(json.loads(spec_json)), np.array(points, dtype=np.int64), p,
                   min_security_bits=min_bits)


def _validated(s: Session) -> Certificate:
    """The one validation of a session (module docstring); returns the (re)computed certificate."""
    try:
        return _validate(s)
    except InvalidSessionError:
        raise
    except (CMPCError, ValueError, TypeError, KeyError, OverflowError) as exc:
        raise InvalidSessionError(f"invalid session: {exc}") from exc


def _validate(s: Session) -> Certificate:
    if not isinstance(s.session_id, bytes) or len(s.session_id) != 16:
        raise InvalidSessionError("invalid session: session_id must be 16 bytes")
    if isinstance(s.p, bool) or not isinstance(s.p, int):
        raise InvalidSessionError(f"invalid session: p must be an int, got {s.p!r}")
    PrimeField(s.p)  # prime below 2^63, else NotPrimeError / ParameterError
    spec = s.code
    if not isinstance(spec, CodeSpec):
        raise InvalidSessionError(f"invalid session: code must be a CodeSpec, got {type(spec).__name__}")
    Code(spec.name, spec.s, spec.t, spec.z, spec.coded_a, list(spec.secret_a), spec.coded_b,
         list(spec.secret_b), spec.important)  # z >= 1, z secrets per side, no clash
    for name, shape in (("a_shape", s.a_shape), ("b_shape", s.b_shape)):
        if (not isinstance(shape, tuple) or len(shape) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_DIM
                           for v in shape)):
            raise InvalidSessionError(
                f"invalid session: {name} must be two ints in [1, {MAX_DIM}], got {shape!r}"
            )
    if s.a_shape[0] != s.b_shape[0]:
        raise InvalidSessionError(
            f"invalid session: A^T B needs equal row counts, got a_shape {s.a_shape}, b_shape {s.b_shape}"
        )
    pts = s.points
    if not isinstance(pts, tuple) or not all(isinstance(x, int) and not isinstance(x, bool) for x in pts):
        raise InvalidSessionError("invalid session: points must be a tuple of ints")
    n_needed = spec.n_workers
    if not n_needed <= len(pts) <= MAX_WORKERS:
        raise InvalidSessionError(
            f"invalid session: {len(pts)} points, code {spec.name!r} needs between N = {n_needed} and "
            f"{MAX_WORKERS}"
        )
    bad = [x for x in pts if not 1 <= x < s.p]
    if bad:
        raise InvalidSessionError(
            f"invalid session: evaluation points must lie in [1, p) = [1, {s.p}), got {bad[:5]} (a point 0 "
            "or a multiple of p shows a worker the coded blocks unmasked)"
        )
    if len(set(pts)) != len(pts):
        dup = sorted({x for x in pts if pts.count(x) > 1})
        raise InvalidSessionError(f"invalid session: evaluation points must be distinct, {dup[:5]} repeat")
    if not isinstance(s.redundant_results, bool):
        raise InvalidSessionError("invalid session: redundant_results must be a bool")
    _check_digest(s.config_digest)
    stored = s.certificate
    bits = SECURITY_BITS if stored is None else stored.min_security_bits
    if not isinstance(bits, int) or not 1 <= bits <= 256:
        raise InvalidSessionError(f"invalid session: certificate min_security_bits {bits!r} not in [1, 256]")
    fresh = _certify_cached(json.dumps(spec.to_dict(), sort_keys=True), pts, s.p, bits)
    if stored is not None and stored != fresh:
        raise InvalidSessionError(
            f"invalid session: the stored certificate does not match the points and code "
            f"({stored.describe()}; recomputed: {fresh.describe()})"
        )
    return fresh


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
