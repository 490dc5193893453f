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


# -- non-integer values are refused for every dtype (issue 11) -----------------------------------------
NON_INTEGERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.fractions(),
    st.decimals(allow_nan=False),
    st.text(max_size=3),
    st.complex_numbers(max_magnitude=10),
    st.floats(-1e6, 1e6).map(np.float64),
    st.floats(-1e3, 1e3, width=32).map(np.float32),
    st.none(),
)


@settings(max_examples=200)
@given(
    bad=NON_INTEGERS,
    good=st.lists(st.integers(0, 65520), min_size=0, max_size=5),
    pos=st.integers(0, 5),
    side=st.booleans(),
)
def test_non_integer_object_values_refused(bad, good, pos, side):
    F = FIELDS[65521]
    vals: list = [*good]
    vals.insert(min(pos, len(vals)), bad)
    arr = np.empty((1, len(vals)), dtype=object)
    arr[0, :] = vals
    other = np.ones((len(vals), 1), dtype=np.int64)
    with pytest.raises(ParameterError, match="exact integers"):
        if side:
            F.matmul(arr, other)
        else:
            F.matmul(other.T.copy(), arr.T.copy())


@pytest.mark.parametrize(
    "bad",
    [
        np.array([[1.5]], dtype=object),
        np.array([[1.0]], dtype=object),
        np.array([[1.5]]),
        np.array([[1.0]], dtype=np.float32),
        np.array([["1"]]),
        np.array([[1 + 0j]]),
        [[1.0]],
    ],
)
def test_issue11_float_object_array_not_truncated(bad):
    with pytest.raises(ParameterError):
        FIELDS[65521].matmul(bad, [[1]])


@settings(max_examples=100)
@given(st.lists(st.one_of(st.integers(0, 65520), st.booleans()), min_size=1, max_size=8), st.data())
def test_exact_integer_objects_accepted(vals, data):
    F = FIELDS[65521]
    wrap = data.draw(st.sampled_from([int, np.int64, np.uint32, np.int32, lambda v: v]))
    objs = np.empty(len(vals), dtype=object)
    objs[:] = [v if isinstance(v, bool) else wrap(v) for v in vals]
    got = F.asarray(objs)
    assert got.dtype == np.int64 and got.tolist() == [int(v) for v in vals]
    big = np.array([2**70], dtype=object)
    with pytest.raises(FieldRangeError):
        F.asarray(big)


def test_ragged_input_named_error():
    with pytest.raises(ParameterError):
        FIELDS[65521].matmul([[1, 2], [3]], [[1], [1]])


# -- deterministic Miller–Rabin against sympy ------------------------------------------------------------
# strong pseudoprimes to several of the first prime bases (OEIS A014233: psi_1 ... psi_11) and Carmichael
# numbers; every one is composite and must be rejected
STRONG_PSEUDOPRIMES = [
    2047, 1373653, 25326001, 3215031751, 2152302898747, 3474749660383, 341550071728321,
    3825123056546413051, 561, 1105, 1729, 2465, 41041, 825265, 321197185,
    # strong pseudoprimes to base 2 only (OEIS A001262)
    3277, 4033, 4681, 8321, 15841, 29341, 42799, 49141, 52633, 65281, 74665, 80581,
]


def test_miller_rabin_known_pseudoprimes():
    from cmpc.primality import MR_BASES, is_prime

    for n in STRONG_PSEUDOPRIMES:
        assert not sympy.isprime(n)
        assert not is_prime(n), n
    # psi_11 passes the first eleven bases: the twelfth (37) is what rejects it
    n = 3825123056546413051
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1

    def strong_probable_prime(a: int) -> bool:
        x = pow(a, d, n)
        return x in (1, n - 1) or any(pow(x, 2**r, n) == n - 1 for r in range(1, s))

    assert all(strong_probable_prime(a) for a in MR_BASES[:11])
    assert not strong_probable_prime(37)


def test_miller_rabin_exhaustive_small_and_boundaries():
    from cmpc.primality import is_prime

    assert [n for n in range(20000) if is_prime(n)] == list(sympy.primerange(0, 20000))
    for top in (2**31, 2**32, 2**61, 2**62, 2**63, 2**64):
        for n in range(top - 400, top):
            assert is_prime(n) == sympy.isprime(n), n
    with pytest.raises(ValueError):
        is_prime(2**64)
    with pytest.raises(ValueError):
        is_prime(-1)


@settings(max_examples=300)
@given(st.integers(0, 2**64 - 1), st.integers(2, 2**32 - 1))
def test_miller_rabin_matches_sympy(n, q):
    from cmpc.primality import is_prime

    assert is_prime(n) == sympy.isprime(n)
    # products of two primes (hard composites) and primes themselves
    p1 = int(sympy.nextprime(q))
    p2 = int(sympy.nextprime(n % 2**32))
    if p1 * p2 < 2**64:
        assert not is_prime(p1 * p2)
    assert is_prime(p1) and is_prime(p2)


def test_importing_protocol_loads_neither_galois_nor_sympy_nor_numba():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, cmpc.protocol\n"
        "from cmpc import PrimeField\n"
        "F = PrimeField(2**31 - 1)\n"
        "F.raw_matmul(np.ones((3, 3), dtype=np.int64), np.ones((3, 3), dtype=np.int64))\n"
        "print(sorted(m for m in ('galois', 'sympy', 'numba') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- compiled engine: bit-identical to the pure-numpy reference of the same plan ------------------------
def _plans_for(p: int, k: int):
    import dataclasses

    from cmpc.matmul import make_plan

    plan = make_plan(p, k)
    yield plan
    yield dataclasses.replace(plan, chunk=max(1, plan.chunk // 7))  # several chunks per product
    yield dataclasses.replace(plan, chunk=1)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([3, 65521, 33554393, 2**31 - 1, 2**32 - 5, 2**61 - 1, P62, int(sympy.prevprime(2**63))]),
    st.integers(1, 5),
    st.integers(1, 70),
    st.integers(1, 5),
    st.integers(0, 2**32),
)
def test_compiled_matmul_bit_identical_to_reference(p, m, k, n, seed):
    from cmpc.matmul import compiled_matmul
    from cmpc.matmul_numpy import reference_matmul

    F = PrimeField(p)
    rng = RandomSource(seed=seed)
    a = F.raw_random((m, k), rng)
    b = F.raw_random((k, n), rng)
    a[0, 0] = p - 1
    b[0, 0] = (p - 1) // 2
    want = ref_matmul(a, b, p)
    for plan in _plans_for(p, k):
        got = compiled_matmul(p, a, b, plan)
        assert np.array_equal(got, reference_matmul(F, a, b, plan))
        assert (got.astype(object) == want).all()


@pytest.mark.parametrize("p", [2**31 - 1, 2**61 - 1, int(sympy.prevprime(2**63))])
def test_compiled_matmul_reduces_between_many_chunks(p):
    # chunk = 1 with a long inner dimension: the accumulators pass the in-between reduction point
    # (every (2^62 - p) / term_bound chunks) and, for p >= 2^61, are reduced every chunk
    import dataclasses

    from cmpc.matmul import compiled_matmul

    F = PrimeField(p)
    k = 1500
    for v in (p - 1, (p - 1) // 2, (p + 1) // 2):
        a = np.full((2, k), v, dtype=np.int64)
        b = np.full((k, 2), v, dtype=np.int64)
        plan = dataclasses.replace(F.matmul_plan(k), chunk=1)
        assert (compiled_matmul(p, a, b, plan).astype(object) == ref_matmul(a, b, p)).all()


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([2, 3, 65521, 2**31 - 1, 2**32 - 5]), st.integers(1, 16), st.data())
def test_compiled_small_inner_bit_identical(p, k, data):
    from cmpc.matmul import compiled_small_inner
    from cmpc.matmul_numpy import reference_small_inner

    m = data.draw(st.integers(1, 4))
    n = data.draw(st.integers(1, 50))
    elem = st.one_of(st.just(p - 1), st.integers(0, p - 1))
    a = np.array(data.draw(st.lists(elem, min_size=m * k, max_size=m * k)), dtype=np.int64).reshape(m, k)
    b = np.array(data.draw(st.lists(elem, min_size=k * n, max_size=k * n)), dtype=np.int64).reshape(k, n)
    got = compiled_small_inner(p, a, b)
    assert np.array_equal(got, reference_small_inner(p, a, b))
    assert (got.astype(object) == ref_matmul(a, b, p)).all()


@pytest.mark.parametrize("p", [2**31 - 1, 2**32 - 5, 65537])
def test_compiled_small_inner_across_column_tiles(p):
    # rows longer than two column tiles of the kernel, extreme values at the tile edges
    from cmpc.kernels import SMALL_INNER_TILE
    from cmpc.matmul import compiled_small_inner
    from cmpc.matmul_numpy import reference_small_inner

    n = 2 * SMALL_INNER_TILE + 5
    rng = np.random.default_rng(7)  # test data, not secrets
    a = rng.integers(0, p, size=(3, 9), dtype=np.int64)
    b = rng.integers(0, p, size=(9, n), dtype=np.int64)
    a[0] = p - 1
    b[:, SMALL_INNER_TILE - 2 : SMALL_INNER_TILE + 2] = p - 1
    got = compiled_small_inner(p, a, b)
    assert np.array_equal(got, reference_small_inner(p, a, b))
    cols = [0, SMALL_INNER_TILE - 1, SMALL_INNER_TILE, n - 1]
    assert (got[:, cols].astype(object) == ref_matmul(a, b[:, cols], p)).all()


@pytest.mark.parametrize("p", [65521, 2**31 - 1, 2**61 - 1])
def test_compiled_matmul_transposed_operand(p):
    # F-ordered left operands (the workers' F_A(α)ᵀ) are split without a transposing copy for one-form
    # plans; every plan must give the same result as on the contiguous copy
    from cmpc.matmul import compiled_matmul
    from cmpc.matmul_numpy import reference_matmul

    F = PrimeField(p)
    rng = np.random.default_rng(11)  # test data, not secrets
    k, m, n = 600, 70, 33
    at = rng.integers(0, p, size=(k, m), dtype=np.int64)
    at[:3] = p - 1
    b = rng.integers(0, p, size=(k, n), dtype=np.int64)
    plan = F.matmul_plan(k)
    got = compiled_matmul(p, at.T, b, plan)
    assert np.array_equal(got, reference_matmul(F, np.ascontiguousarray(at.T), b, plan))
    assert (got[:2, :3].astype(object) == ref_matmul(at.T[:2], b[:, :3], p)).all()


@pytest.mark.parametrize("p", [65521, 2**31 - 1, 2**32 - 5, 2**61 - 1])
def test_raw_matmul_split_equals_stacked_product(p):
    from cmpc import kernels

    kernels.get()  # the compiled small-inner path, as in a party that has loaded the kernels
    F = PrimeField(p)
    rng = RandomSource(seed=8)
    a = F.raw_random((5, 6), rng)
    top, bottom = F.raw_random((4, 3000), rng), F.raw_random((2, 3000), rng)
    top[0] = p - 1
    got = F.raw_matmul_split(a, top, bottom)
    assert np.array_equal(got, F.raw_matmul(a, np.concatenate([top, bottom])))
    assert (got[:, :4].astype(object) == ref_matmul(a, np.concatenate([top, bottom])[:, :4], p)).all()
    with pytest.raises(ShapeError):
        F.raw_matmul_split(a, top, bottom[:, :-1])
    with pytest.raises(ShapeError):
        F.raw_matmul_split(a[:, :5], top, bottom)


@pytest.mark.parametrize("p", [65521, 2**31 - 1, 2**32 - 5, 2**61 - 1])
def test_raw_matmul_split_compact_operands_and_result(p):
    # uint32 operands (the protocol's masks) and compact results give the same values as int64 ones, on
    # the compiled and on the stacked path
    from cmpc import kernels

    kernels.get()
    F = PrimeField(p)
    rng = RandomSource(seed=12)
    a = F.raw_random((6, 3), rng)
    top = F.raw_random((1, 5000), rng)
    bottom = F.raw_random((2, 5000), rng, compact=True)
    assert bottom.dtype == F.compact_dtype
    top[0, :3] = p - 1
    want = F.raw_matmul(a, np.concatenate([top, bottom.astype(np.int64)]))
    for compact in (False, True):
        got = F.raw_matmul_split(a, top, bottom, compact=compact)
        assert got.dtype == (F.compact_dtype if compact else np.int64)
        assert np.array_equal(got.astype(np.int64), want)


@pytest.mark.parametrize("p", [2, 65521, 2**31 - 1, 2**32 - 5, 2**61 - 1])
def test_raw_sum_compiled_equals_numpy_and_python(p):
    # the compiled one-pass sum (p < 2^32), across column tiles, with the extreme value p − 1 everywhere in
    # one column, uint32 read-only views (as messages decode) mixed with an int64 first array
    from cmpc import kernels
    from cmpc.kernels import SMALL_INNER_TILE

    kernels.get()
    F = PrimeField(p)
    rng = RandomSource(seed=13)
    n = 2 * SMALL_INNER_TILE + 3
    first = F.raw_random((3, n), rng)
    rest = []
    for _ in range(17):
        x = F.raw_random((3, n), rng, compact=True)
        x[:, 5] = p - 1
        x.setflags(write=False)
        rest.append(x)
    first[:, 5] = p - 1
    want = sum(x.astype(object) for x in [first, *rest]) % p
    for compact in (False, True):
        got = F.raw_sum([first, *rest], compact=compact)
        assert got.dtype == (F.compact_dtype if compact else np.int64) and got.shape == (3, n)
        assert (got.astype(object) == want).all()
    assert np.array_equal(F.raw_sum([first, *rest[:1], rest[1].astype(np.int64)]),
                          F._numpy_sum([first, *rest[:2]]))


@pytest.mark.parametrize("p", [2, 3, 65521, 2**31 - 1, 3037000493, 2**32 - 5])
def test_small_inner_budgets_never_overflow_uint64(p):
    # the accumulator's budgets: per products from zero, per_after on top of a reduced value (≤ p − 1)
    from cmpc.matmul import small_inner_per

    per, after = small_inner_per(p), small_inner_per(p, reduced=True)
    assert 1 <= after <= per
    assert per * (p - 1) ** 2 <= 2**64 - 1
    assert (p - 1) + after * (p - 1) ** 2 <= 2**64 - 1
