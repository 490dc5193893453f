"""Codes for coded MPC of Y = AᵀB: exponent sets of F_A, F_B and of the result powers of H = F_Aᵀ F_B.

>>> from cmpc import codes
>>> code = codes.make("age", s=2, t=2, z=2)
>>> code.n_workers, code.params["lambda"]
(17, 2)

Names (``available()``): ``age`` (AGE-CMPC), ``polydot`` (PolyDot-CMPC), ``entangled`` (Entangled-CMPC),
``ssmm`` (entangled with gap z), ``polynomial-sharing`` (s = 1), ``bgw`` (s = t = 1), ``gasp`` (GASP_r, s = 1,
a secure-matmul reference point) and ``search`` (branch and bound over secret placements; not from a paper).
Constructions, citations and the differences from the papers are in ``docs/codes.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ParameterError
from .age import make_age
from .base import Code, ExponentClashError, check_parameters, sumset
from .bgw import make_bgw
from .entangled import make_entangled
from .gasp import make_gasp
from .polydot import make_polydot
from .polynomial_sharing import make_polynomial_sharing
from .search import make_search
from .ssmm import make_ssmm

__all__ = [
    "REGISTRY",
    "Code",
    "CodeInfo",
    "ExponentClashError",
    "applicable",
    "available",
    "check_parameters",
    "make",
    "sumset",
    "why_not",
]


@dataclass(frozen=True)
class CodeInfo:
    """A registry entry: how to build a code and for which (s, t) it exists."""

    name: str
    builder: Callable[..., Code]
    summary: str
    citation: str
    needs_s1: bool = False
    needs_t1: bool = False
    from_paper: bool = True


REGISTRY: dict[str, CodeInfo] = {
    info.name: info
    for info in (
        CodeInfo("age", make_age, "AGE-CMPC: entangled terms, adaptive gap λ (min over λ)",
                 "Vedadi, Keshtkarjahromi, Seferoglu, arXiv 2203.06759 / 2305.07142"),
        CodeInfo("polydot", make_polydot, "PolyDot-CMPC: PolyDot terms, secrets on garbage exponents",
                 "Vedadi, Keshtkarjahromi, Seferoglu, arXiv 2106.08290"),
        CodeInfo("entangled", make_entangled, "Entangled-CMPC: secrets after the coded products",
                 "Yu, Maddah-Ali, Avestimehr, arXiv 1801.07487 (entangled codes); baseline of 2203.06759"),
        CodeInfo("ssmm", make_ssmm, "SSMM form: entangled terms, gap z for the A-secrets",
                 "baseline of 2203.06759; cf. Zhu, Yan, Tang, arXiv 2004.12925"),
        CodeInfo("polynomial-sharing", make_polynomial_sharing, "polynomial sharing (s = 1)",
                 "Nodehi, Maddah-Ali, arXiv 1908.04255", needs_s1=True),
        CodeInfo("bgw", make_bgw, "BGW, no partitioning (s = t = 1), N = 2z + 1",
                 "Ben-Or, Goldwasser, Wigderson, STOC 1988", needs_s1=True, needs_t1=True),
        CodeInfo("gasp", make_gasp, "GASP_r secure-matmul code (s = 1), min over r",
                 "D'Oliveira, El Rouayheb, Karpuk, arXiv 1812.09962; GASP_r: arXiv 2106.09816",
                 needs_s1=True),
        CodeInfo("search", make_search, "branch-and-bound search over secret placements (not from a paper)",
                 "this package", from_paper=False),
    )
}


def available() -> list[str]:
    """Names accepted by :func:`make`, in a fixed order."""
    return list(REGISTRY)


def applicable(name: str, s: int, t: int) -> bool:
    """Whether code ``name`` exists for (s, t) (``why_not`` gives the reason when it does not).

    Changed in this release: it used to return ``None`` when the code applies and the reason otherwise,
    which read the wrong way round (``if applicable(...)`` was true for codes that do *not* apply).
    """
    return why_not(name, s, t) is None


def why_not(name: str, s: int, t: int) -> str | None:
    """``None`` when code ``name`` exists for (s, t), otherwise the reason why not (for CLI notes)."""
    info = _info(name)
    if info.needs_t1 and (s != 1 or t != 1):
        return f"{name} needs s = t = 1"
    if info.needs_s1 and s != 1:
        return f"{name} needs s = 1"
    return None


def make(name: str, *, s: int, t: int, z: int, **params: Any) -> Code:
    """Build code ``name`` for partition (s, t) and z colluding workers; the result is validated.

    Extra keyword parameters go to the builder: ``lam`` / ``lambda`` (AGE gap), ``structural=True`` (AGE:
    the best λ ∈ {0, z}, consecutive secret exponents), ``r`` (GASP_r), ``seconds`` (search time bound).
    Bounded work: z ≤ 512 and st + z ≤ 544 for every code (``search``: z ≤ 64, seconds ≤ 600).
    Raises :class:`ParameterError` for an unknown name, s, t, z < 1, a code that does not exist for (s, t)
    (e.g. ``gasp`` with s ≠ 1) or an unknown parameter.
    """
    info = _info(name)
    s, t, z = check_parameters(s, t, z)
    if "lambda" in params:
        params["lam"] = params.pop("lambda")
    try:
        return info.builder(s, t, z, **params)
    except TypeError as exc:
        raise ParameterError(f"code {name!r} does not take parameters {sorted(params)}: {exc}") from exc


def _info(name: str) -> CodeInfo:
    if name not in REGISTRY:
        raise ParameterError(f"unknown code {name!r}; available: {', '.join(available())}")
    return REGISTRY[name]
