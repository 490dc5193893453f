"""``search``: a time-bounded branch-and-bound search over secret placements. NOT from a paper.

For given (s, t, z) the coded structure is entangled with a free spacing θ (``entangled_structure``:
a(i,j) = i + s·j, b(i,l) = s−1−i + θ·l, Y_{j,l} at s−1 + s·j + θ·l) and the search chooses the z secret
exponents of F_A and of F_B to minimise N = |P(H)|, subject to validity (secrets distinct, off the coded
exponents, and no product with a secret on a result exponent).

Search domain (what ``params["complete"] = True`` promises): every θ ∈ [ts, ts + z] and every placement whose
secret exponents lie in [0, U], where U is the largest exponent of H of the seed code (AGE-CMPC, the
best code of this package for the structure). The search starts from the seed (so it never returns a code
worse than AGE) and looks for strictly fewer workers: depth-first, S_A then S_B in increasing order, with
sets kept as Python-int bitmasks (a + C_B is ``mask_CB << a``) and pruning whenever the partial |P(H)|
already reaches the best N. The partial count never decreases as terms are added, so the pruning is exact
and a finished search is exhaustive over the domain. The time bound (``seconds``, default 2) stops it early
with ``complete = False``. Bounded work: ``seconds`` ≤ 600 and z ≤ 64 (:class:`ParameterError` beyond).

``params``: ``complete``, ``seconds`` (elapsed), ``nodes`` (placements visited), ``theta`` (of the result),
``improved`` (whether it beat the seed), ``seed`` ("age") and ``seed_workers``. Deterministic: no randomness.
"""

from __future__ import annotations

import time

from ..checks import check_float
from ..errors import ParameterError
from .age import make_age
from .base import Code, check_parameters
from .entangled import entangled_structure

__all__ = ["DEFAULT_SECONDS", "MAX_SECONDS", "MAX_Z", "make_search"]

#: default time bound of :func:`make_search`, seconds
DEFAULT_SECONDS = 2.0
#: largest time bound accepted, seconds
MAX_SECONDS = 600.0
#: largest z the search accepts (its depth-first recursion is 2z deep)
MAX_Z = 64


def _mask(values: object) -> int:
    m = 0
    for v in values:  # type: ignore[attr-defined]
        m |= 1 << v
    return m


def _bits(mask: int) -> list[int]:
    out = []
    i = 0
    while mask:
        if mask & 1:
            out.append(i)
        mask >>= 1
        i += 1
    return out


class _Timeout(Exception):
    pass


class _Searcher:
    """Branch and bound for one θ; shares the incumbent with the caller."""

    def __init__(
        self, s: int, t: int, z: int, theta: int, bound: int, best_n: int, deadline: float
    ) -> None:
        coded_a, coded_b, important = entangled_structure(s, t, theta)
        self.z = z
        self.mask_ca = _mask(coded_a.values())
        self.mask_cb = _mask(coded_b.values())
        self.mask_i = _mask(important.values())
        base = 0
        for a in coded_a.values():
            base |= self.mask_cb << a
        self.base = base
        self.cand_a = [
            a
            for a in range(bound + 1)
            if not (self.mask_ca >> a) & 1 and not (self.mask_cb << a) & self.mask_i
        ]
        self.cand_b = [
            b
            for b in range(bound + 1)
            if not (self.mask_cb >> b) & 1 and not (self.mask_ca << b) & self.mask_i
        ]
        self.best_n = best_n
        self.best: tuple[list[int], list[int]] | None = None
        self.deadline = deadline
        self.nodes = 0

    def run(self) -> None:
        if len(self.cand_a) >= self.z and len(self.cand_b) >= self.z:
            self._choose_a(0, [], 0, self.base)

    def _tick(self) -> None:
        self.nodes += 1
        if self.nodes & 0x3FF == 0 and time.monotonic() > self.deadline:
            raise _Timeout

    def _choose_a(self, start: int, chosen: list[int], mask_sa: int, union: int) -> None:
        if len(chosen) == self.z:
            self._choose_b(0, chosen, mask_sa, [], 0, union)
            return
        need = self.z - len(chosen)
        cand = self.cand_a
        for k in range(start, len(cand) - need + 1):
            self._tick()
            a = cand[k]
            new = union | (self.mask_cb << a)
            if new.bit_count() >= self.best_n:
                continue
            chosen.append(a)
            self._choose_a(k + 1, chosen, mask_sa | (1 << a), new)
            chosen.pop()

    def _choose_b(
        self, start: int, sa: list[int], mask_sa: int, chosen: list[int], mask_sb: int, union: int
    ) -> None:
        if len(chosen) == self.z:
            n = union.bit_count()
            if n < self.best_n:
                self.best_n = n
                self.best = (list(sa), list(chosen))
            return
        need = self.z - len(chosen)
        cand = self.cand_b
        for k in range(start, len(cand) - need + 1):
            self._tick()
            b = cand[k]
            if (mask_sa << b) & self.mask_i:
                continue
            new = union | (self.mask_ca << b) | (mask_sa << b)
            if new.bit_count() >= self.best_n:
                continue
            chosen.append(b)
            self._choose_b(k + 1, sa, mask_sa, chosen, mask_sb | (1 << b), new)
            chosen.pop()


def make_search(s: int, t: int, z: int, seconds: float = DEFAULT_SECONDS) -> Code:
    """Best code found by branch and bound within ``seconds`` (see the module docstring). Not from a paper."""
    s, t, z = check_parameters(s, t, z)
    seconds = check_float("seconds", seconds, lo=0, hi=MAX_SECONDS, lo_open=True)
    if z > MAX_Z:
        raise ParameterError(f"search: z must be <= {MAX_Z} (bounded depth of the search), got {z}")
    start = time.monotonic()
    deadline = start + float(seconds)
    seed = make_age(s, t, z)
    lam = seed.params["lambda"]
    bound = seed.degree_plus_one - 1
    best_n = seed.n_workers
    best_theta = t * s + lam
    best_sets: tuple[list[int], list[int]] | None = None
    complete = True
    nodes = 0
    thetas = [t * s + lam] + [th for th in range(t * s, t * s + z + 1) if th != t * s + lam]
    for theta in thetas:
        searcher = _Searcher(s, t, z, theta, bound, best_n, deadline)
        try:
            searcher.run()
        except _Timeout:
            complete = False
        nodes += searcher.nodes
        if searcher.best is not None:
            best_n, best_sets, best_theta = searcher.best_n, searcher.best, theta
        if not complete:
            break
    elapsed = time.monotonic() - start
    params = {
        "complete": complete,
        "seconds": round(elapsed, 4),
        "nodes": nodes,
        "theta": best_theta,
        "improved": best_sets is not None,
        "seed": "age",
        "seed_workers": seed.n_workers,
    }
    if best_sets is None:
        return seed.renamed("search", **params)
    coded_a, coded_b, important = entangled_structure(s, t, best_theta)
    code = Code("search", s, t, z, coded_a, best_sets[0], coded_b, best_sets[1], important, params=params)
    if code.n_workers != best_n:  # the bitmask count and the Code's own count must agree
        raise AssertionError(f"search: counted {best_n} workers but the code has {code.n_workers}")
    return code
