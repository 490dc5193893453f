"""Worker counts in closed form and the per-phase costs of one run of the coded-MPC protocol.

Two parts, both pure arithmetic (no I/O):

* :func:`closed_form_workers` — N from a formula, with the regime where the formula equals the count of the
  construction in :mod:`cmpc.codes` (``None`` outside it or where no formula is known). The constructed count
  ``codes.make(...).n_workers`` is authoritative; ``tests/test_costs.py`` checks every formula against it over
  s, t ∈ 1..4, z ∈ 1..16. :func:`paper_closed_form` gives the formulas as usually stated (they count deg H + 1
  and ignore gaps of P(H)); where they disagree with the count is listed in ``docs/codes.md``.
* :func:`report` — field elements moved and stored and multiply-adds computed, per phase, for m×m inputs.

Cost model (the protocol of ``docs/codes.md``; b_r = ⌈m/s⌉ rows and b_c = ⌈m/t⌉ columns per block, so a
share of F_A or F_B has b_r·b_c elements and H(α_n), Y_{j,l} and every phase-2/3 message have b_c² elements;
when s | m and t | m these are m²/(st) and m²/t²; otherwise blocks are zero-padded to the rounded-up size):

* phase 1 (sharing): each of the 2 sources sends one share to each of the N workers: N·b_r·b_c per source,
  ``communication["phase1"] = 2·N·b_r·b_c`` in total;
* phase 2 (compute + re-share): every worker sends G_n(α_{n'}) to every *reporter* n′ other than itself.
  The reporters are the R = t² + z workers whose shares of I the master uses (R = N with
  ``redundant_results=True``, the protocol's mode with spare workers, where every worker reports so that
  phase 3 tolerates late ones): ``communication["phase2"] = R(N−1)·b_c²``. (The shared design note sends
  to every worker, N(N−1)·b_c²; only reporters need I, so ``cmpc.protocol`` sends to them alone.)
* phase 3 (reconstruction): the R reporters send I(α_n) to the master: ``communication["phase3"] =
  R·b_c²``.
* worker compute: H(α_n) = F_A(α_n)ᵀ F_B(α_n) costs b_c·b_r·b_c multiply-adds (m³/(st²)); forming the
  evaluations G_n(α_{n'}) at the R reporters (its own included) costs R(1 + z)·b_c²:
  G_n(α_{n'}) = c_{n,n'}·H(α_n) + Σ_w R_w α_{n'}^{t²+w} with the scalar
  c_{n,n'} = Σ_{j,l} r_n^{(j,l)} α_{n'}^{j+tl}, as :mod:`cmpc.protocol` computes it (term by term it
  would be R(t² + z)·b_c²); a reporter adding the N received shares costs (N−1)·b_c² additions
  (reported separately, not as multiply-adds).
* worker storage: its two shares 2·b_r·b_c, H(α_n) b_c², and the N phase-2 shares it holds (N−1 received plus
  its own) N·b_c².
* source compute: N evaluations of a polynomial with st + z matrix terms: N(st + z)·b_r·b_c per source.
* master compute: t² result blocks, each a combination of t² + z shares: t²(t² + z)·b_c².
What leaks: nothing here is secret; these are public functions of public parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .checks import check_int
from .codes.base import Code, check_parameters
from .errors import ParameterError

__all__ = [
    "CLOSED_FORM_REGIMES",
    "CostReport",
    "closed_form_workers",
    "paper_closed_form",
    "report",
]

#: regime (as text) in which :func:`closed_form_workers` returns a value, per code name
CLOSED_FORM_REGIMES: dict[str, str] = {
    "bgw": "s = t = 1: N = 2z + 1",
    "entangled": "all s, t, z: N = 2st² + 2z − 1 − (t−1)·max(0, s(t−1) − z + 1)",
    "ssmm": "all s, t, z: N = (ts + z)(t + 1) − 1",
    "polydot": "z ≤ t(s−1) or t = 1: N = t²(2s−1) + t + 2z − 1 (None otherwise)",
    "polynomial-sharing": "s = 1: N = 2t² + 2z − 1 − (t−1)·max(0, t − z)",
    "gasp": "s = 1 and (z = 1 or t ≤ 2 or z ≥ 2t − 1): GASP_big's (t+z)(t+1) − 1 for z < t, 2t² + 2z − 1 "
    "for z ≥ t (None otherwise: a smaller r then beats GASP_big)",
    "age": "t = 1: N = 2s + 2z − 1 (None otherwise: no closed form for min over λ is known here)",
    "search": "never (None)",
}


def _gasp_big(t: int, z: int) -> int:
    return (t + z) * (t + 1) - 1 if z < t else 2 * t * t + 2 * z - 1


def closed_form_workers(name: str, s: int, t: int, z: int) -> int | None:
    """N from a closed form where one is known to equal the construction's count; ``None`` otherwise.

    Regimes (:data:`CLOSED_FORM_REGIMES`):

    * ``bgw`` (s = t = 1): 2z + 1.
    * ``entangled``: 2st² + 2z − 1 − (t−1)·max(0, s(t−1) − z + 1). Derived here: the coded products fill
      [0, st² + s − 2]; relative to st², the secret×coded products fill [0, st + z − 2] and st·l + [0,
      s + z − 2] (1 ≤ l < t), the secret×secret ones st² + [0, 2z − 2]; between consecutive pieces from l =
      1 on there are t − 1 gaps of s(t−1) − z + 1 exponents when that is positive. Equals the paper's 2st² +
      2z − 1 exactly when z > s(t−1) or t = 1.
    * ``ssmm``: (ts + z)(t + 1) − 1 (all s, t, z).
    * ``polydot``: t²(2s−1) + t + 2z − 1 when z ≤ t(s−1) or t = 1; ``None`` for larger z (t ≥ 2).
    * ``polynomial-sharing`` (s = 1): the entangled formula with s = 1, 2t² + 2z − 1 − (t−1)·max(0, t − z).
    * ``gasp`` (s = 1): GASP_big's count ((t+z)(t+1) − 1 if z < t else 2t² + 2z − 1, arXiv 1812.09962) when
      z = 1, t ≤ 2 or z ≥ 2t − 1, where no smaller r beats it; ``None`` otherwise.
    * ``age``: 2s + 2z − 1 when t = 1; ``None`` otherwise (N_AGE = min over λ of counted N(λ)).
    * ``search``: ``None``.

    Codes that do not exist for (s, t) (e.g. ``gasp`` with s ≠ 1) give ``None``.
    """
    s, t, z = check_parameters(s, t, z)
    if name == "bgw":
        return 2 * z + 1 if s == 1 and t == 1 else None
    if name == "entangled":
        return 2 * s * t * t + 2 * z - 1 - (t - 1) * max(0, s * (t - 1) - z + 1)
    if name == "ssmm":
        return (t * s + z) * (t + 1) - 1
    if name == "polydot":
        if z <= t * (s - 1) or t == 1:
            return t * t * (2 * s - 1) + t + 2 * z - 1
        return None
    if name == "polynomial-sharing":
        return 2 * t * t + 2 * z - 1 - (t - 1) * max(0, t - z) if s == 1 else None
    if name == "gasp":
        if s == 1 and (z == 1 or t <= 2 or z >= 2 * t - 1):
            return _gasp_big(t, z)
        return None
    if name == "age":
        return 2 * s + 2 * z - 1 if t == 1 else None
    if name == "search":
        return None
    raise ParameterError(f"unknown code {name!r}; known: {', '.join(CLOSED_FORM_REGIMES)}")


def paper_closed_form(name: str, s: int, t: int, z: int) -> int | None:
    """The formula as usually stated (the issue text / the design note ``cmpc-codes.md`` / the papers).

    * ``entangled``: 2st² + 2z − 1 (= deg H + 1; the count is smaller when z ≤ s(t−1) and t ≥ 2);
    * ``polynomial-sharing`` (s = 1): 2t² + 2z − 1 (count smaller when z < t);
    * ``ssmm``: (ts + z)(t + 1) − 1; ``bgw``: 2z + 1;
    * ``polydot``: t²(2s−1) + t + 2z − 1, stated for z ≤ t(s−1) (the count is larger beyond);
    * ``gasp`` (s = 1): GASP_big's count, an upper bound for min over r;
    * ``age``, ``search``: ``None`` (the AGE paper's closed form was not available to this project).
    """
    s, t, z = check_parameters(s, t, z)
    table: dict[str, int | None] = {
        "entangled": 2 * s * t * t + 2 * z - 1,
        "polynomial-sharing": 2 * t * t + 2 * z - 1 if s == 1 else None,
        "ssmm": (t * s + z) * (t + 1) - 1,
        "bgw": 2 * z + 1 if s == 1 and t == 1 else None,
        "polydot": t * t * (2 * s - 1) + t + 2 * z - 1,
        "gasp": _gasp_big(t, z) if s == 1 else None,
        "age": None,
        "search": None,
    }
    if name not in table:
        raise ParameterError(f"unknown code {name!r}; known: {', '.join(table)}")
    return table[name]


@dataclass(frozen=True)
class CostReport:
    """Costs of one protocol run for m×m inputs (elements of GF(p) and multiply-adds); see the module doc.

    ``communication`` maps ``"phase1"``, ``"phase2"``, ``"phase3"`` to the total number of field elements sent
    over all links in that phase.
    """

    code: str
    s: int
    t: int
    z: int
    m: int
    n_workers: int
    block_rows: int
    block_cols: int
    share_elements: int
    result_block_elements: int
    communication: dict[str, int] = field(hash=False)
    communication_per_source_phase1: int
    communication_per_worker_sent: dict[str, int] = field(hash=False)
    per_worker_compute: int
    per_worker_compute_breakdown: dict[str, int] = field(hash=False)
    per_worker_additions: int
    total_compute: int
    source_compute: int
    master_compute: int
    storage_per_worker: int
    storage_breakdown: dict[str, int] = field(hash=False)
    total_storage: int

    @property
    def total_communication(self) -> int:
        """Field elements sent over all links in all three phases."""
        return sum(self.communication.values())

    def as_dict(self) -> dict[str, object]:
        """Flat dict of the main figures (for CSV/JSON output)."""
        return {
            "n_workers": self.n_workers,
            "m": self.m,
            "phase1_elements": self.communication["phase1"],
            "phase2_elements": self.communication["phase2"],
            "phase3_elements": self.communication["phase3"],
            "total_elements": self.total_communication,
            "per_worker_compute": self.per_worker_compute,
            "total_compute": self.total_compute,
            "storage_per_worker": self.storage_per_worker,
            "total_storage": self.total_storage,
        }


def report(code: Code, m: int, *, redundant_results: bool = False) -> CostReport:
    """Per-phase costs of running ``code`` on m×m inputs (formulas in the module docstring).

    ``m`` must be an int ≥ 1; when s ∤ m or t ∤ m the blocks are zero-padded to ⌈m/s⌉ × ⌈m/t⌉.
    ``redundant_results`` gives the costs when every chosen worker reports (the protocol's default with
    spare workers); otherwise exactly t² + z workers report.
    """
    if not isinstance(code, Code):
        raise ParameterError(f"code must be a cmpc.codes.Code, got {type(code).__name__}")
    m = check_int("m", m, lo=1)
    s, t, z, n = code.s, code.t, code.z, code.n_workers
    br = -(-m // s)
    bc = -(-m // t)
    share = br * bc
    block = bc * bc
    k = n if redundant_results else t * t + z  # reporters
    product = bc * br * bc
    reshare = k * (1 + z) * block
    per_worker = product + reshare
    storage = {"shares": 2 * share, "product": block, "phase2_received": n * block}
    storage_per_worker = sum(storage.values())
    return CostReport(
        code=code.name,
        s=s,
        t=t,
        z=z,
        m=m,
        n_workers=n,
        block_rows=br,
        block_cols=bc,
        share_elements=share,
        result_block_elements=block,
        communication={"phase1": 2 * n * share, "phase2": k * (n - 1) * block, "phase3": k * block},
        communication_per_source_phase1=n * share,
        communication_per_worker_sent={"phase2": k * block, "phase3": block},
        per_worker_compute=per_worker,
        per_worker_compute_breakdown={"product": product, "reshare": reshare},
        per_worker_additions=(n - 1) * block,
        total_compute=n * per_worker,
        source_compute=n * (s * t + z) * share,
        master_compute=t * t * (t * t + z) * block,
        storage_per_worker=storage_per_worker,
        storage_breakdown=storage,
        total_storage=n * storage_per_worker,
    )
