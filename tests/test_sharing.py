"""Additive secret sharing over GF(p) (private_mdi.sharing)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from cmpc.errors import FieldRangeError, ShapeError
from cmpc.field import PrimeField
from cmpc.rand import RandomSource
from private_mdi.errors import ParameterError
from private_mdi.sharing import (
    add_public,
    add_shares,
    matmul_public,
    neg_shares,
    reconstruct,
    scale_shares,
    share,
    share2,
    sub_shares,
)

FIELDS = [PrimeField(101), PrimeField(2**31 - 1), PrimeField(2**61 - 1)]


def _vec(fld: PrimeField, seed: int, n: int = 6) -> np.ndarray:
    return RandomSource(seed=seed).field_elements(fld.p, n)


@settings(max_examples=40, deadline=None)
@given(k=st.integers(0, 2), n=st.integers(2, 5), seed=st.integers(0, 2**32))
def test_share_reconstruct_round_trip(k: int, n: int, seed: int) -> None:
    fld = FIELDS[k]
    x = _vec(fld, seed)
    parts = share(x, fld, n, RandomSource(seed=seed + 1))
    assert len(parts) == n
    assert all(p.dtype == np.int64 and ((p >= 0) & (p < fld.p)).all() for p in parts)
    assert np.array_equal(reconstruct(parts, fld), x)
    # fewer than n shares do not reconstruct (with overwhelming probability for these sizes)
    if fld.p > 101:
        assert not np.array_equal(reconstruct(parts[:-1], fld), x)


@settings(max_examples=40, deadline=None)
@given(k=st.integers(0, 2), seed=st.integers(0, 2**32), c=st.integers(0, 100))
def test_linear_operations_on_shares(k: int, seed: int, c: int) -> None:
    fld = FIELDS[k]
    rng = RandomSource(seed=seed)
    x, y = _vec(fld, seed), _vec(fld, seed + 7)
    sx, sy = share(x, fld, 3, rng), share(y, fld, 3, rng)
    assert np.array_equal(reconstruct(add_shares(sx, sy, fld), fld), fld.raw_add(x, y))
    assert np.array_equal(reconstruct(sub_shares(sx, sy, fld), fld), fld.raw_sub(x, y))
    assert np.array_equal(reconstruct(neg_shares(sx, fld), fld), fld.raw_sub(np.zeros_like(x), x))
    assert np.array_equal(reconstruct(scale_shares(sx, c, fld), fld), fld.raw_mul(x, c))
    cvec = _vec(fld, seed + 9)
    for party in range(3):
        out = add_public(sx, cvec, fld, party)
        assert np.array_equal(reconstruct(out, fld), fld.raw_add(x, cvec))
        assert all(np.array_equal(out[q], sx[q]) for q in range(3) if q != party)
    w = rng.field_elements(fld.p, (4, x.size))
    expect = np.array([sum(int(a) * int(b) for a, b in zip(row, x)) % fld.p for row in w], dtype=np.int64)
    assert np.array_equal(reconstruct(matmul_public(w, sx, fld), fld), expect)


def test_two_party_share_is_uniform_whatever_the_secret() -> None:
    """Each single share is uniform and independent of the secret: chi-square over p = 11 (seeded)."""
    fld = PrimeField(11)
    counts = []
    for secret in (0, 7):
        s0, s1 = share2(np.full(11 * 400, secret), fld, RandomSource(seed=secret))
        counts.append(np.bincount(s1, minlength=11))
        assert np.array_equal(fld.raw_add(s0, s1), np.full(11 * 400, secret))
    # homogeneity test: the distribution of share 1 does not depend on the secret
    _chi2, pval, _, _ = stats.chi2_contingency(np.array(counts))
    assert pval > 1e-3
    # and each is uniform
    for c in counts:
        assert stats.chisquare(c).pvalue > 1e-3


def test_sharing_errors() -> None:
    fld = FIELDS[1]
    with pytest.raises(FieldRangeError):
        share([fld.p], fld)
    with pytest.raises(FieldRangeError):
        share([-1], fld)
    with pytest.raises(ParameterError):
        share([1], fld, n=1)
    with pytest.raises(ParameterError):
        share([1], 2**31 - 1)  # type: ignore[arg-type]
    a = share(np.arange(4), fld)
    b = share(np.arange(5), fld)
    with pytest.raises(ShapeError):
        add_shares(a, b, fld)
    with pytest.raises(ShapeError):
        reconstruct([np.arange(4), np.arange(5)], fld)
    with pytest.raises(ShapeError):
        matmul_public(np.ones((2, 3), dtype=np.int64), a, fld)
    with pytest.raises(ParameterError):
        add_public(a, 1, fld, party=2)
    with pytest.raises(ParameterError):
        reconstruct([], fld)
