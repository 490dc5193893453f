"""Privacy of coded BGW multiplication, checked exhaustively over tiny fields.

For each code (1×1 blocks, so every matrix is a scalar) and every set Z of z workers:

* phase 1: for two different inputs X ≠ X′ the multiset of views (F_X(α_n))_{n∈Z}, taken over *every*
  value of the z secret blocks, is the same (each view occurs equally often);
* phase 2: for two different values of a sender's H(α_n), the colluders' received values G_n(α_{n′}),
  taken over every value of that sender's z masks, have the same multiset. Senders draw their masks
  independently of each other and of phase 1, so the joint view is the product of these components;
* master: for a fixed result Y the t² + z shares of I it receives take p^z distinct values (one per
  value of the mask sum) and all decode to Y: the view determines Y and nothing else.

A deliberately broken code (z − 1 secret terms, or two secrets on one exponent) must fail the same check.
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from cmpc import PrimeField, RandomSource, codes
from cmpc.protocol import CodeSpec, Session
from cmpc.protocol.certificate import SingularSubsetError
from cmpc.protocol.roles import encode_shares, interpolate_results, reshare_values

CASES = [
    # (name, s, t, z, p): p is the smallest convenient prime with enough points for N
    ("bgw", 1, 1, 1, 11),
    ("bgw", 1, 1, 2, 11),
    ("age", 2, 1, 2, 13),
    ("age", 1, 2, 1, 13),
    ("entangled", 2, 1, 1, 13),
    ("ssmm", 1, 2, 1, 13),
    ("polydot", 2, 1, 1, 13),
    ("polynomial-sharing", 1, 2, 1, 13),
    ("gasp", 1, 2, 1, 13),
    ("age", 2, 2, 1, 17),
]


def phase1_histogram(field, exps, blocks, points, z):
    hist: Counter = Counter()
    for sec in itertools.product(range(field.p), repeat=z):
        secrets = np.array(sec, dtype=np.int64).reshape(z, 1, 1)
        view = encode_shares(field, blocks, secrets, exps, points)
        hist[tuple(view.ravel().tolist())] += 1
    return hist


def phase1_private(field, spec: CodeSpec, points: list[int], side: str) -> bool:
    exps = spec.a_exponents if side == "A" else spec.b_exponents
    z_true = len(spec.secret_a if side == "A" else spec.secret_b)
    nblocks = spec.s * spec.t
    g = np.random.default_rng(0)  # test data only
    x1 = g.integers(0, field.p, (nblocks, 1, 1))
    x2 = (x1 + 1 + g.integers(0, field.p - 1, (nblocks, 1, 1))) % field.p  # differs in every block
    for subset in itertools.combinations(range(len(points)), spec.z):
        pts = [points[i] for i in subset]
        if phase1_histogram(field, exps, x1, pts, z_true) != phase1_histogram(field, exps, x2, pts, z_true):
            return False
    return True


def make(name, s, t, z):
    return codes.make(name, s=s, t=t, z=z)


@pytest.mark.parametrize("name,s,t,z,p", CASES)
def test_phase1_views_independent_of_inputs(name, s, t, z, p):
    field = PrimeField(p)
    code = make(name, s, t, z)
    session = Session.create(code, field, (s, t), (s, t), rng=RandomSource(seed=p))
    assert session.certificate.kind in ("structural", "exhaustive")
    for side in ("A", "B"):
        assert phase1_private(field, session.code, list(session.points), side), (name, side)


@pytest.mark.parametrize("name,s,t,z,p", CASES)
def test_phase2_views_independent_of_sender_value(name, s, t, z, p):
    field = PrimeField(p)
    code = make(name, s, t, z)
    session = Session.create(code, field, (s, t), (s, t), rng=RandomSource(seed=p + 1))
    points = list(session.points)[: session.n_needed]
    g = np.random.default_rng(1)  # test data only
    r_row = g.integers(0, p, t * t)
    for subset in itertools.combinations(range(len(points)), z):
        pts = [points[i] for i in subset]
        hists = []
        for h in (np.array([[3]]), np.array([[p - 2]])):
            hist: Counter = Counter()
            for sec in itertools.product(range(p), repeat=z):
                masks = np.array(sec, dtype=np.int64).reshape(z, 1, 1)
                hist[tuple(reshare_values(field, h, r_row, masks, pts, t).ravel().tolist())] += 1
            hists.append(hist)
        assert hists[0] == hists[1]
        assert len(hists[0]) == p**z  # uniform: every view exactly once


@pytest.mark.parametrize("t,z,p", [(1, 1, 11), (1, 2, 11), (2, 1, 13)])
def test_master_view_determines_only_y(t, z, p):
    field = PrimeField(p)
    k = t * t + z
    pts = list(range(1, k + 1))
    y = np.arange(1, t * t + 1, dtype=np.int64).reshape(t * t, 1, 1) % p
    views = set()
    for sec in itertools.product(range(p), repeat=z):
        coeffs = np.concatenate([y, np.array(sec, dtype=np.int64).reshape(z, 1, 1)])
        vals = field.raw_evaluate(coeffs, list(range(k)), pts)
        views.add(tuple(vals.ravel().tolist()))
        assert np.array_equal(interpolate_results(field, pts, vals, t, z), y)
    assert len(views) == p**z


def broken(spec: CodeSpec, **changes) -> CodeSpec:
    d = spec.to_dict()
    d.update(changes)
    return CodeSpec.from_dict(d)


@pytest.mark.parametrize("how", ["too-few-secrets", "duplicate-secret"])
def test_negative_control_broken_code_is_caught(how):
    field = PrimeField(13)
    spec = CodeSpec.from_code(codes.make("bgw", s=1, t=1, z=2))
    if how == "too-few-secrets":
        bad = broken(spec, secret_a=list(spec.secret_a[:1]))
    else:
        bad = broken(spec, secret_a=[spec.secret_a[0], spec.secret_a[0]])
    points = [1, 2, 3, 4, 5]
    assert phase1_private(field, spec, points, "A")
    assert not phase1_private(field, bad, points, "A")


def test_certificate_agrees_with_the_exhaustive_privacy_check():
    """GASP_1 with t = z = 2 puts A's secrets at x^4, x^6 (not consecutive): [α^4, α^6] is singular for the
    pair {α, −α}. The certificate must refuse exactly the point sets the exhaustive view check rejects."""
    p = 23  # N = 11 workers, at most one of each pair {α, −α}: p − 1 >= 22
    field = PrimeField(p)
    code = codes.make("gasp", s=1, t=2, z=2, r=1)
    spec = CodeSpec.from_code(code)
    assert list(spec.secret_a) == [4, 6]
    session = Session.create(code, field, (1, 2), (1, 2), rng=RandomSource(seed=7))
    assert session.certificate.check("privacy-a").kind == "exhaustive"
    pts = list(session.points)
    for x, y in itertools.combinations(pts, 2):  # every coalition: plain-integer determinant
        assert (pow(x, 4, p) * pow(y, 6, p) - pow(x, 6, p) * pow(y, 4, p)) % p != 0
    assert phase1_private(field, spec, pts[:3], "A")  # and the full view check on some of them
    others = [x for x in range(1, p) if x not in (3, p - 3)]
    bad = (3, p - 3, *others[: spec.n_workers - 2])
    with pytest.raises(SingularSubsetError):
        Session(session.session_id, spec, p, (1, 2), (1, 2), bad, False)
    assert not phase1_private(field, spec, [3, p - 3], "A")  # the coalition {3, −3} learns a combination
