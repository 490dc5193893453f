"""A code as exponent sets: what the protocol needs of any code object (:class:`CodeSpec`).

F_A(x) = Σ_{i,j} A_{ij} x^{coded_a[i,j]} + Σ_w R_w x^{secret_a[w]} and likewise F_B; the product
F_A(x)ᵀ F_B(x) carries block (j, l) of Y = AᵀB at exponent ``important[j, l]``
(``docs/codes.md``). Any object from :mod:`cmpc.codes` (or a hand-made one with ``s``, ``t``, ``z``
and ``exponents()``) converts with :meth:`CodeSpec.from_code`; the JSON form is :meth:`CodeSpec.to_dict`.
Whether the exponents make a *valid* code (no clash, z distinct secret exponents) is checked by
:class:`cmpc.protocol.session.Session`'s validation. Everything here is public.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ParameterError

__all__ = ["CodeSpec"]


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
