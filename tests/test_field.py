"""PrimeField: exact matmul against Python-integer references, helpers, and bad input."""

from __future__ import annotations

import galois
import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from cmpc import PrimeField, RandomSource
from cmpc.errors import FieldRangeError, NotPrimeError, ParameterError, ShapeError, SingularMatrixError

P62 = int(sympy.prevprime(2**62))
PRIMES = [2, 3, 65521, 2**31 - 1, 2**61 - 1, P62]
FIELDS = {p: PrimeField(p) for p in PRIMES}


def ref_matmul(a: np.ndarray, b: np.ndarray, p: int) -> np.ndarray:
    return (a.astype(object) @ b.astype(object)) % p


@st.composite
def matmul_case(draw):
    p = draw(st.sampled_from(PRIMES))
    m = draw(st.integers(1, 6))
    k = draw(st.integers(1, 40))
    n = draw(st.integers(1, 6))
    edge = st.sampled_from([0, 1, p - 1, (p - 1) // 2, (p + 1) // 2 % p])
    elem = st.one_of(edge, st.integers(0, p - 1))
    a = np.array(draw(st.lists(elem, min_size=m * k, max_size=m * k)), dtype=np.int64).reshape(m, k)
    b = np.array(draw(st.lists(elem, min_size=k * n, max_size=k * n)), dtype=np.int64).reshape(k, n)
    return p, a, b


@settings(max_examples=150)
@given(matmul_case())
def test_matmul_matches_python_integers(case):
    p, a, b = case
    got = FIELDS[p].matmul(a, b)
    assert isinstance(got, galois.FieldArray)
    assert type(got).order == p
    assert (np.asarray(got).astype(object) == ref_matmul(a, b, p)).all()


@pytest.mark.parametrize("p", PRIMES)
def test_matmul_all_max_values_long_inner_dimension(p):
    # worst case for the exactness bound: every entry p-1 (centred: -1) and every entry (p-1)/2,
    # with an inner dimension that forces several chunks
    F = FIELDS[p]
    k = 5000
    for v in (p - 1, (p - 1) // 2, (p + 1) // 2 % p):
        a = np.full((2, k), v, dtype=np.int64)
        b = np.full((k, 3), v, dtype=np.int64)
        assert (F.raw_matmul(a, b).astype(object) == ref_matmul(a, b, p)).all()


@pytest.mark.parametrize("p", [2**31 - 1, 2**61 - 1, P62, int(sympy.prevprime(2**63))])
def test_matmul_random_medium(p):
    F = PrimeField(p)
    rng = RandomSource(seed=p)
    a = F.raw_random((17, 2100), rng)
    b = F.raw_random((2100, 9), rng)
    assert (F.raw_matmul(a, b).astype(object) == ref_matmul(a, b, p)).all()


@pytest.mark.parametrize("p", [2**31 - 1, 2**61 - 1])
def test_every_plan_limb_bound_is_exact(p):
    F = FIELDS[p]
    for inner in (1, 100, 4096, 10**6):
        plan = F.matmul_plan(inner)
        factor = 4 if plan.karatsuba else 1
        assert plan.chunk * factor * plan.bound_a * plan.bound_b <= 2**53
        assert plan.chunk >= 1


def test_matmul_vectors_and_shapes():
    F = FIELDS[65521]
    a = np.array([[1, 2, 3]])
    assert F.matmul(a, np.array([1, 1, 1])).tolist() == [6]
    assert int(F.raw_matmul(np.array([2, 3]), np.array([4, 5]))) == 23
    assert F.matmul(np.zeros((0, 3), dtype=np.int64), np.ones((3, 2), dtype=np.int64)).shape == (0, 2)


def test_matmul_accepts_fieldarrays_and_lists():
    F = FIELDS[2**31 - 1]
    a = F.GF([[1, 2], [3, 4]])
    assert F.matmul(a, [[1, 0], [0, 1]]).tolist() == [[1, 2], [3, 4]]


def test_large_prime_returns_fieldarray():
    F = FIELDS[2**61 - 1]
    out = F.matmul([[F.p - 1]], [[F.p - 1]])
    assert isinstance(out, galois.FieldArray) and int(out[0, 0]) == 1


# -- bad input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0, 1, 4, 65520, 2**31, 2**61 + 1])
def test_non_prime_rejected(p):
    with pytest.raises((NotPrimeError, ParameterError)):
        PrimeField(p)


def test_not_prime_error_is_specific():
    with pytest.raises(NotPrimeError, match="not prime"):
        PrimeField(91)


@pytest.mark.parametrize("p", [2**63 + 29, 2**64 - 59, 2**127 - 1])
def test_too_large_rejected(p):
    with pytest.raises(ParameterError, match="2\\^63"):
        PrimeField(p)


def test_non_integer_modulus_rejected():
    with pytest.raises(ParameterError):
        PrimeField(7.0)  # type: ignore[arg-type]


def test_shape_mismatch_and_empty_inner():
    F = FIELDS[65521]
    with pytest.raises(ShapeError, match="inner dimensions"):
        F.matmul(np.ones((2, 3), dtype=np.int64), np.ones((4, 2), dtype=np.int64))
    with pytest.raises(ShapeError, match="empty inner"):
        F.matmul(np.ones((2, 0), dtype=np.int64), np.ones((0, 2), dtype=np.int64))
    with pytest.raises(ShapeError):
        F.matmul(np.ones((2, 2, 2), dtype=np.int64), np.ones((2, 2), dtype=np.int64))


@pytest.mark.parametrize("bad", [-1, 65521, 10**6])
def test_values_outside_field_rejected(bad):
    F = FIELDS[65521]
    with pytest.raises(FieldRangeError, match="outside \\[0, p\\)"):
        F.matmul(np.array([[bad]]), np.array([[1]]))


def test_float_and_foreign_field_rejected():
    F = FIELDS[65521]
    with pytest.raises(ParameterError, match="integer dtype"):
        F.matmul(np.ones((2, 2)), np.ones((2, 2), dtype=np.int64))
    with pytest.raises(ParameterError, match="GF"):
        F.matmul(galois.GF(3)([[1]]), [[1]])


# -- elementwise, Vandermonde, evaluation, solving -----------------------------------------------------
@settings(max_examples=60)
@given(st.sampled_from(PRIMES), st.data())
def test_raw_mul_pow_match_python(p, data):
    F = FIELDS[p]
    xs = data.draw(st.lists(st.integers(0, p - 1), min_size=1, max_size=20))
    ys = data.draw(st.lists(st.integers(0, p - 1), min_size=len(xs), max_size=len(xs)))
    es = data.draw(st.lists(st.integers(0, 300), min_size=len(xs), max_size=len(xs)))
    x, y, e = (np.array(v, dtype=np.int64) for v in (xs, ys, es))
    assert F.raw_mul(x, y).tolist() == [(a * b) % p for a, b in zip(xs, ys)]
    assert F.raw_pow(x, e).tolist() == [pow(a, b, p) for a, b in zip(xs, es)]
    assert F.raw_add(x, y).tolist() == [(a + b) % p for a, b in zip(xs, ys)]
    assert F.raw_sub(x, y).tolist() == [(a - b) % p for a, b in zip(xs, ys)]


def test_vandermonde_and_evaluate():
    F = FIELDS[2**31 - 1]
    pts = [3, 5, 7]
    exps = [0, 2, 5]
    v = F.vandermonde(pts, exps)
    assert v.tolist() == [[pow(x, e, F.p) for e in exps] for x in pts]
    rng = RandomSource(seed=3)
    coeffs = F.raw_random((3, 2, 2), rng)
    ev = np.asarray(F.evaluate(coeffs, exps, pts))
    for n, x in enumerate(pts):
        want = sum(coeffs[i].astype(object) * pow(x, e, F.p) for i, e in enumerate(exps)) % F.p
        assert (ev[n].astype(object) == want).all()


@pytest.mark.parametrize("p", [65521, 2**61 - 1])
def test_solve_inverse(p):
    F = FIELDS[p]
    rng = RandomSource(seed=11)
    m = F.raw_random((6, 6), rng)
    inv = F.raw_inv(m)
    assert (F.raw_matmul(m, inv) == np.eye(6, dtype=np.int64)).all()
    rhs = F.raw_random((6, 2), rng)
    x = F.raw_solve(m, rhs)
    assert (F.raw_matmul(m, x) == rhs).all()
    assert np.array_equal(np.asarray(F.solve(m, rhs)).astype(np.int64), x)


def test_singular_matrix_named_error():
    F = FIELDS[65521]
    m = np.array([[1, 2], [2, 4]])
    with pytest.raises(SingularMatrixError, match="singular"):
        F.inv(m)
    assert F.raw_rank(m) == 1
    with pytest.raises(SingularMatrixError):
        F.inverse(0)
    # generalised Vandermonde with a repeated point is singular
    with pytest.raises(SingularMatrixError):
        F.raw_inv(F.raw_vandermonde([2, 2, 3], [0, 1, 3]))


def test_random_returns_fieldarray_reproducibly():
    F = PrimeField(2**31 - 1)
    a = F.random((4, 5), rng=RandomSource(seed=1))
    b = F.random((4, 5), rng=RandomSource(seed=1))
    assert isinstance(a, galois.FieldArray) and np.array_equal(a, b)


@pytest.mark.parametrize("p", [*PRIMES, int(sympy.prevprime(2**63))])
def test_raw_sum_matches_python(p):
    F = PrimeField(p)
    rng = RandomSource(seed=5)
    arrs = [F.raw_random(7, rng) for _ in range(9)] + [np.full(7, p - 1, dtype=np.int64)] * 3
    want = [sum(int(a[i]) for a in arrs) % p for i in range(7)]
    assert F.raw_sum(arrs).tolist() == want


def test_solve_wide_rhs_path():
    F = FIELDS[2**31 - 1]
    rng = RandomSource(seed=6)
    m = F.raw_random((3, 3), rng)
    rhs = F.raw_random((3, 50), rng)
    assert (F.raw_matmul(m, F.raw_solve(m, rhs)) == rhs).all()
    with pytest.raises(SingularMatrixError):
        F.raw_solve(np.array([[1, 2, 3], [2, 4, 6], [0, 0, 1]]), rhs)
