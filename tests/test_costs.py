"""Tests of cmpc.costs: closed forms against the constructed counts, and the per-phase cost report."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmpc import codes, costs
from cmpc.errors import ParameterError

GRID = list(itertools.product(range(1, 5), range(1, 5), range(1, 17)))
NAMES = [n for n in codes.available() if n != "search"]


def counted(name: str, s: int, t: int, z: int) -> int | None:
    if not codes.applicable(name, s, t):
        return None
    return codes.make(name, s=s, t=t, z=z).n_workers


def test_closed_forms_equal_counts_over_the_grid() -> None:
    disagreements = []
    covered = {n: 0 for n in NAMES}
    for name in NAMES:
        for s, t, z in GRID:
            cf = costs.closed_form_workers(name, s, t, z)
            n = counted(name, s, t, z)
            if n is None:
                assert cf is None, (name, s, t, z)
                continue
            if cf is not None:
                covered[name] += 1
                if cf != n:
                    disagreements.append((name, s, t, z, cf, n))
    assert disagreements == []
    # every formula is exercised; the exact ones on the whole grid
    assert covered["entangled"] == covered["ssmm"] == len(GRID)
    assert covered["polynomial-sharing"] == 4 * 16  # s = 1: every t, z
    assert covered["bgw"] == 16 and covered["age"] == 4 * 16
    assert covered["polydot"] > 0 and covered["gasp"] > 0
    assert set(costs.CLOSED_FORM_REGIMES) == set(codes.available())


def test_closed_form_regime_boundaries() -> None:
    # polydot: formula stops at z = t(s-1) (t >= 2)
    assert costs.closed_form_workers("polydot", 2, 3, 3) == 9 * 3 + 3 + 6 - 1
    assert costs.closed_form_workers("polydot", 2, 3, 4) is None
    assert costs.closed_form_workers("polydot", 1, 1, 9) == 2 + 18 - 1
    # gasp: GASP_big's count only where no smaller r beats it
    assert costs.closed_form_workers("gasp", 1, 4, 7) == 2 * 16 + 14 - 1
    assert costs.closed_form_workers("gasp", 1, 4, 4) is None
    assert costs.closed_form_workers("gasp", 2, 2, 2) is None
    assert costs.closed_form_workers("age", 3, 1, 5) == 2 * 3 + 10 - 1
    assert costs.closed_form_workers("age", 2, 2, 2) is None
    assert costs.closed_form_workers("search", 2, 2, 2) is None
    with pytest.raises(ParameterError):
        costs.closed_form_workers("nope", 1, 1, 1)
    with pytest.raises(ParameterError):
        costs.closed_form_workers("age", 0, 1, 1)


def test_documented_disagreements_of_the_stated_formulas() -> None:
    """Where the formulas as usually stated (deg H + 1) differ from |P(H)|; listed in docs/codes.md."""
    for s, t, z in GRID:
        paper = costs.paper_closed_form("entangled", s, t, z)
        n = counted("entangled", s, t, z)
        gaps = t >= 2 and z <= s * (t - 1)
        assert (paper != n) == gaps
        if gaps:
            assert n == paper - (t - 1) * (s * (t - 1) - z + 1)
        assert codes.make("entangled", s=s, t=t, z=z).degree_plus_one == paper
        if s == 1:
            ps = costs.paper_closed_form("polynomial-sharing", s, t, z)
            assert (ps != counted("polynomial-sharing", s, t, z)) == (z < t)
            big = costs.paper_closed_form("gasp", s, t, z)
            assert counted("gasp", s, t, z) <= big
        pd = costs.paper_closed_form("polydot", s, t, z)
        n_pd = counted("polydot", s, t, z)
        if z <= t * (s - 1) or t == 1:
            assert n_pd == pd
        else:
            assert n_pd > pd  # beyond its regime the reconstruction needs more than the formula
    # explicit examples from the docs
    assert (costs.paper_closed_form("entangled", 2, 2, 1), counted("entangled", 2, 2, 1)) == (17, 15)
    assert (costs.paper_closed_form("entangled", 4, 4, 1), counted("entangled", 4, 4, 1)) == (129, 93)
    ps = "polynomial-sharing"
    assert (costs.paper_closed_form(ps, 1, 4, 1), counted(ps, 1, 4, 1)) == (33, 24)
    assert (costs.paper_closed_form("gasp", 1, 4, 4), counted("gasp", 1, 4, 4)) == (39, 36)
    assert (costs.paper_closed_form("polydot", 2, 2, 3), counted("polydot", 2, 2, 3)) == (19, 22)
    assert costs.paper_closed_form("age", 2, 2, 2) is None


def test_report_exact_numbers_s2_t2_z2() -> None:
    code = codes.make("age", s=2, t=2, z=2)
    r = costs.report(code, 1024)
    n, share, block = 17, 512 * 512, 512 * 512
    assert (r.n_workers, r.block_rows, r.block_cols) == (17, 512, 512)
    assert r.communication == {"phase1": 2 * n * share, "phase2": 6 * (n - 1) * block, "phase3": 6 * block}
    assert r.communication_per_source_phase1 == n * 1024 * 1024 // 4
    assert r.total_communication == sum(r.communication.values())
    assert r.per_worker_compute == 1024**3 // 8 + 6 * 3 * block  # (t^2 + z)(1 + z) per block
    assert r.per_worker_compute_breakdown == {"product": 1024**3 // 8, "reshare": 6 * 3 * block}
    assert r.total_compute == n * r.per_worker_compute
    assert r.storage_per_worker == 2 * share + block + n * block
    assert r.total_storage == n * r.storage_per_worker
    assert r.source_compute == n * (4 + 2) * share
    assert r.master_compute == 4 * 6 * block
    assert r.per_worker_additions == (n - 1) * block
    assert r.communication_per_worker_sent == {"phase2": 6 * block, "phase3": block}
    d = r.as_dict()
    assert d["phase2_elements"] == r.communication["phase2"] and d["n_workers"] == 17


def test_report_rounds_up_when_blocks_do_not_divide() -> None:
    code = codes.make("ssmm", s=2, t=3, z=1)
    r = costs.report(code, 5)  # blocks 3 x 2 (zero padded)
    assert (r.block_rows, r.block_cols, r.share_elements, r.result_block_elements) == (3, 2, 6, 4)
    assert r.communication["phase3"] == (9 + 1) * 4
    assert r.per_worker_compute_breakdown["product"] == 2 * 3 * 2


@pytest.mark.parametrize("m", [0, -4, True, 2.5, "8"])
def test_report_rejects_bad_m(m) -> None:
    with pytest.raises(ParameterError):
        costs.report(codes.make("bgw", s=1, t=1, z=1), m)


def test_report_rejects_non_code() -> None:
    with pytest.raises(ParameterError):
        costs.report({"n_workers": 3}, 8)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 12), st.integers(1, 50))
def test_report_identities(s: int, t: int, z: int, k: int) -> None:
    m = s * t * k  # s | m and t | m: the documented closed forms hold exactly
    code = codes.make("age", s=s, t=t, z=z)
    r = costs.report(code, m)
    n = code.n_workers
    assert r.communication["phase1"] == 2 * n * m * m // (s * t)
    assert r.communication["phase2"] == (t * t + z) * (n - 1) * m * m // (t * t)
    assert r.communication["phase3"] == (t * t + z) * m * m // (t * t)
    assert r.per_worker_compute_breakdown["product"] == m**3 // (s * t * t)
    assert r.communication["phase2"] == (n - 1) * r.communication_per_worker_sent["phase2"]
    red = costs.report(code, m, redundant_results=True)
    assert red.communication["phase2"] == n * (n - 1) * m * m // (t * t)
    assert red.communication["phase3"] == n * m * m // (t * t)
    # fewer workers never cost more: compare with entangled on the same inputs
    e = costs.report(codes.make("entangled", s=s, t=t, z=z), m)
    assert r.total_communication <= e.total_communication
    assert r.storage_per_worker <= e.storage_per_worker
