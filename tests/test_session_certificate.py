"""Certified sessions (issue 11): every z-subset private, checked or proved, and validated session files."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmpc import PrimeField, RandomSource, codes
from cmpc.errors import CMPCError, ParameterError
from cmpc.protocol import Session, simulate
from cmpc.protocol.certificate import (
    Certificate,
    InvalidSessionError,
    SingularSubsetError,
    UncertifiedSessionError,
    certify,
    schur_degree,
    union_bound,
)
from cmpc.protocol.detmod import det_mod_p, first_singular_subset
from cmpc.protocol.roles import make_role
from cmpc.protocol.session import SOURCE_A, CodeSpec


def det_int(rows: list[list[int]]) -> int:
    """Plain Python integer determinant (Laplace expansion along the first row), exact."""
    if len(rows) == 1:
        return rows[0][0]
    return sum((-1) ** j * rows[0][j] * det_int([r[:j] + r[j + 1 :] for r in rows[1:]])
               for j in range(len(rows)))


def det_ref(rows: list[list[int]], p: int) -> int:
    return det_int(rows) % p


def first_singular_ref(pts: list[int], exps: list[int], p: int) -> tuple[tuple[int, ...] | None, int]:
    """Lexicographic scan with plain Python determinants: (first singular subset or None, subsets seen)."""
    count = 0
    for subset in itertools.combinations(range(len(pts)), len(exps)):
        count += 1
        if det_ref([[pow(pts[i], e, p) for e in exps] for i in subset], p) == 0:
            return subset, count
    return None, count


def polydot_z3() -> CodeSpec:
    return CodeSpec.from_code(codes.make("polydot", s=2, t=2, z=3))


# -- the adversary's case of the issue: PolyDot s = t = 2, z = 3 over p = 8191 with 40 workers ----------
def test_polydot_small_prime_many_workers_is_exhaustively_certified() -> None:
    spec = polydot_z3()
    assert sorted(spec.secret_a) == [4, 5, 10]
    p = 8191
    try:
        session = Session.create(spec, PrimeField(p), (4, 4), (4, 4), 40, RandomSource(seed=11))
    except UncertifiedSessionError:  # refusing is also an acceptable answer
        return
    check = session.certificate.check("privacy-a")
    assert check.kind == "exhaustive" and check.checked == math.comb(40, 3)
    for subset in itertools.combinations(range(40), 3):  # independent re-verification
        rows = [[pow(session.points[n], e, p) for e in (4, 5, 10)] for n in subset]
        assert det_ref(rows, p) != 0, subset


def singular_triple(p: int, exps: tuple[int, ...]) -> list[int]:
    g = np.random.default_rng(5)  # test data only
    while True:
        pts = [int(x) for x in g.choice(np.arange(1, p), size=len(exps), replace=False)]
        if det_ref([[pow(a, e, p) for e in exps] for a in pts], p) == 0:
            return pts


def test_points_with_a_singular_coalition_are_refused() -> None:
    p = 8191
    spec = polydot_z3()
    good = Session.create(spec, PrimeField(p), (4, 4), (4, 4), rng=RandomSource(seed=3))
    bad3 = singular_triple(p, (4, 5, 10))
    rest = [x for x in good.points if x not in bad3][: good.n_total - 3]
    pts = tuple(bad3 + rest)
    with pytest.raises(SingularSubsetError) as info:
        Session(good.session_id, spec, p, (4, 4), (4, 4), pts, False)
    assert info.value.subset == (0, 1, 2)
    d = json.loads(good.to_json())
    d["points"] = list(pts)
    with pytest.raises(InvalidSessionError, match="singular"):
        Session.from_json(json.dumps(d))


# -- tampered session files ----------------------------------------------------------------------------
def _good() -> Session:
    return Session.create(codes.make("bgw", s=1, t=1, z=2), PrimeField(65521), (3, 3), (3, 3),
                          rng=RandomSource(seed=1))


def _tamper(how: str) -> str:
    d = json.loads(_good().to_json())
    if how == "point-0":
        d["points"][1] = 0
    elif how == "point-p":
        d["points"][1] = d["p"]
    elif how == "duplicate":
        d["points"][1] = d["points"][0]
    elif how == "z-0":
        d["code"]["z"] = 0
        d["code"]["secret_a"] = []
        d["code"]["secret_b"] = []
    elif how == "missing-secrets":
        d["code"]["secret_a"] = d["code"]["secret_a"][:1]
    elif how == "wrong-certificate":
        d["certificate"]["checks"][0]["kind"] = "exhaustive"
    elif how == "no-certificate":
        del d["certificate"]
    elif how == "not-prime":
        d["p"] = 65520
    elif how == "shape":
        d["b_shape"] = [4, 3]
    elif how == "bool-point":
        d["points"][0] = True
    return json.dumps(d)


TAMPER = ["point-0", "point-p", "duplicate", "z-0", "missing-secrets", "wrong-certificate", "no-certificate",
          "not-prime", "shape", "bool-point"]


@pytest.mark.parametrize("how", TAMPER)
def test_tampered_json_is_refused(how: str) -> None:
    with pytest.raises(InvalidSessionError):
        Session.from_json(_tamper(how))


@pytest.mark.parametrize("how", ["point-0", "point-p", "duplicate", "zero-secrets"])
def test_source_role_refuses_before_sharing(how: str) -> None:
    session = _good()
    points = list(session.points)
    if how == "point-0":
        points[0] = 0
    elif how == "point-p":
        points[0] = session.p
    elif how == "duplicate":
        points[1] = points[0]
    if how == "zero-secrets":
        object.__setattr__(session.code, "secret_a", ())  # bypass the frozen dataclass, as a bug would
    else:
        object.__setattr__(session, "points", tuple(points))
    a = np.ones((3, 3), dtype=np.int64)
    sent: list[object] = []
    with pytest.raises(InvalidSessionError) as info:
        role = make_role(session, SOURCE_A, a, RandomSource(seed=2))
        sent.extend(role.start())
    assert sent == []
    assert isinstance(info.value, CMPCError)


def test_json_round_trip_keeps_certificate_and_digest() -> None:
    spec = polydot_z3()
    s = Session.create(spec, PrimeField(65521), (4, 4), (4, 4), rng=RandomSource(seed=4),
                       config_digest="ab" * 32)
    back = Session.from_json(s.to_json())
    assert back == s and back.certificate == s.certificate and back.config_digest == "ab" * 32
    assert Certificate.from_dict(s.certificate.to_dict()) == s.certificate


# -- structural, probabilistic, refusal ----------------------------------------------------------------
@pytest.mark.parametrize("name,s,t,z", [("bgw", 1, 1, 4), ("entangled", 2, 2, 3), ("ssmm", 2, 2, 3),
                                        ("age", 2, 2, 3)])
def test_structural_codes_need_no_subset_checks(name: str, s: int, t: int, z: int) -> None:
    spec = CodeSpec.from_code(codes.make(name, s=s, t=t, z=z))
    pts = np.arange(1, spec.n_workers + 1)
    cert = certify(spec, pts, 65521, budget=0)  # no budget: any exhaustive check would be impossible
    for prop in ("privacy-a", "privacy-b", "phase2-masks", "interpolation"):
        assert cert.check(prop).kind == "structural" and cert.check(prop).checked == 0
    assert cert.kind == "structural" and cert.failure_bound == 0


def test_probabilistic_bound_is_below_2_to_minus_40() -> None:
    spec = polydot_z3()
    p = 2**61 - 1
    pts = Session._draw_points(p, spec.n_workers + 10, RandomSource(seed=9))
    cert = certify(spec, pts, p, budget=0)
    chk = cert.check("privacy-a")
    assert cert.kind == "probabilistic" and chk.kind == "probabilistic"
    assert chk.bound == float(union_bound(len(pts), 3, schur_degree((4, 5, 10)), p))
    assert 0 < cert.failure_bound <= 2.0**-40 and cert.security_bits >= 40
    assert "probabilistic" in cert.describe()


def test_uncertifiable_session_names_the_remedy() -> None:
    code = codes.make("polydot", s=2, t=2, z=6)
    with pytest.raises(UncertifiedSessionError) as info:
        Session.create(code, PrimeField(2**31 - 1), (4, 4), (4, 4), 60, RandomSource(seed=1))
    text = str(info.value)
    assert "2^61 - 1" in text and "fewer workers" in text and "structural" in text
    assert isinstance(info.value, ParameterError)


def test_lowered_bar_is_explicit_and_checked_on_load() -> None:
    code = codes.make("polydot", s=2, t=2, z=6)  # C(60, 6)·6³ is over the budget, ε ≈ 2^-1.4
    field = PrimeField(2**31 - 1)
    s = Session.create(code, field, (4, 4), (4, 4), 60, RandomSource(seed=1), min_security_bits=1)
    assert s.certificate.kind == "probabilistic" and s.certificate.security_bits < 40
    with pytest.raises(InvalidSessionError, match="requires"):
        Session.from_json(s.to_json())
    assert Session.from_json(s.to_json(), min_security_bits=1) == s


def test_schur_degree_and_bound() -> None:
    assert schur_degree([3, 4, 5]) == 0
    assert schur_degree([4, 5, 10]) == 4 + 5 + 10 - 12 - 3
    assert union_bound(10, 3, 2, 101) == 1  # 240/98 > 1 is capped
    assert union_bound(10, 3, 2, 10**9 + 7) * (10**9 + 7 - 3) == math.comb(10, 3) * 2


# -- the kernels against plain Python -----------------------------------------------------------------
PRIMES = [2, 3, 5, 7, 13, 31, 8191, 2**31 - 1, 2**61 - 1]


@settings(max_examples=60, deadline=None)
@given(p=st.sampled_from(PRIMES), k=st.integers(1, 5), batch=st.integers(1, 6), data=st.data())
def test_det_kernel_matches_python(p: int, k: int, batch: int, data: st.DataObject) -> None:
    mats = data.draw(st.lists(st.lists(st.lists(st.integers(0, p - 1), min_size=k, max_size=k),
                                       min_size=k, max_size=k), min_size=batch, max_size=batch))
    got = det_mod_p(np.array(mats, dtype=np.int64).reshape(batch, k, k), p)
    assert got.tolist() == [det_ref(m, p) for m in mats]


@settings(max_examples=40, deadline=None)
@given(p=st.sampled_from([7, 13, 31, 101]), k=st.integers(1, 4), extra=st.integers(0, 4), data=st.data())
def test_subset_scan_matches_python(p: int, k: int, extra: int, data: st.DataObject) -> None:
    n = min(p - 1, k + extra)
    pts = data.draw(st.lists(st.integers(1, p - 1), min_size=n, max_size=n, unique=True))
    exps = sorted(data.draw(st.lists(st.integers(0, 12), min_size=k, max_size=k, unique=True)))
    assert first_singular_subset(np.array(pts), exps, p) == first_singular_ref(pts, exps, p)


@settings(max_examples=30, deadline=None)
@given(p=st.sampled_from([2147483659, 2**61 - 1, 9223372036854775783]), n=st.integers(3, 9),
       extra=st.lists(st.integers(1, 9), max_size=2, unique=True), seed=st.integers(0, 10**6))
def test_wide_prime_scan_matches_python(p: int, n: int, extra: list[int], seed: int) -> None:
    """Exponents 0 and (p−1)/2 make rows (1, χ(α), …): two points with the same quadratic character give
    a singular matrix, so singular subsets are common even for p near 2^63 (Montgomery kernel)."""
    exps = sorted({0, (p - 1) // 2, *extra})
    pts = [int(x) for x in Session._draw_points(p, n, RandomSource(seed=seed))]
    assert first_singular_subset(np.array(pts), exps, p) == first_singular_ref(pts, exps, p)


# -- reports ------------------------------------------------------------------------------------------
def test_simulation_report_shows_the_certificate() -> None:
    code = codes.make("age", s=2, t=2, z=2)
    a = np.arange(16).reshape(4, 4)
    _, report = simulate(code, a, a, rng=RandomSource(seed=1))
    assert report.certificate is not None and report.certificate.kind == "structural"
    assert report.certificate.describe().startswith("certificate: structural")


def test_unknown_fault_worker_lists_valid_ids() -> None:
    code = codes.make("bgw", s=1, t=1, z=1)
    a = np.eye(2, dtype=np.int64)
    with pytest.raises(ParameterError, match=r"worker-0 \.\. worker-2"):
        simulate(code, a, a, faults={"worker-9": "crash"}, rng=RandomSource(seed=1))
    with pytest.raises(ParameterError, match="crash-phase2"):
        simulate(code, a, a, faults={"worker-1": "explode"}, rng=RandomSource(seed=1))
