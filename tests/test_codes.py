"""Tests of cmpc.codes: reference values, validation (with broken codes), independent recounts, search."""

from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmpc import codes
from cmpc.codes import Code, ExponentClashError
from cmpc.codes.age import age_code_for_lambda
from cmpc.codes.gasp import gasp_code_for_r
from cmpc.errors import CodeValidationError, ParameterError

ALL = codes.available()
FIXED = [n for n in ALL if n != "search"]


# -------------------------------------------------------------------------------------------------
# independent helpers (written without cmpc.codes.base)
def independent_pairs(code: Code) -> dict[int, set[tuple[str, str]]]:
    """exponent of H -> set of (A-term, B-term) labels landing there, from exponents() only."""
    ex = code.exponents()
    a_terms = [(("A", k), e) for k, e in ex["coded_a"].items()] + [
        (("Abar", w), e) for w, e in enumerate(ex["secret_a"])
    ]
    b_terms = [(("B", k), e) for k, e in ex["coded_b"].items()] + [
        (("Bbar", w), e) for w, e in enumerate(ex["secret_b"])
    ]
    out: dict[int, set] = {}
    for (la, ea), (lb, eb) in itertools.product(a_terms, b_terms):
        out.setdefault(ea + eb, set()).add((la, lb))
    return out


def independent_valid(code: Code) -> bool:
    """Validity re-derived from the definition: coefficient of x^imp[(j,l)] is exactly Σ_i A_ijᵀ B_il."""
    ex = code.exponents()
    for key in ("coded_a", "coded_b"):
        if len(set(ex[key].values())) != len(ex[key]):
            return False
    for coded, secret in (("coded_a", "secret_a"), ("coded_b", "secret_b")):
        if len(set(ex[secret])) != len(ex[secret]) or set(ex[secret]) & set(ex[coded].values()):
            return False
    pairs = independent_pairs(code)
    for (j, l), e in ex["important"].items():
        wanted = {(("A", (i, j)), ("B", (i, l))) for i in range(code.s)}
        if pairs.get(e, set()) != wanted:
            return False
    return True


def numeric_check(code: Code, seed: int = 1, p: int = 97) -> None:
    """Multiply real (small) matrices through F_A, F_B and read Y_{j,l} from the coefficients of H."""
    rng = np.random.default_rng(seed)  # test data only
    s, t = code.s, code.t
    rows, cols = 2, 3
    A = rng.integers(0, p, size=(s * rows, t * cols))
    B = rng.integers(0, p, size=(s * rows, t * cols))
    ex = code.exponents()
    fa: dict[int, np.ndarray] = {}
    fb: dict[int, np.ndarray] = {}
    for (i, j), e in ex["coded_a"].items():
        fa[e] = A[i * rows : (i + 1) * rows, j * cols : (j + 1) * cols]
    for (i, l), e in ex["coded_b"].items():
        fb[e] = B[i * rows : (i + 1) * rows, l * cols : (l + 1) * cols]
    for e in ex["secret_a"]:
        fa[e] = rng.integers(0, p, size=(rows, cols))
    for e in ex["secret_b"]:
        fb[e] = rng.integers(0, p, size=(rows, cols))
    h: dict[int, np.ndarray] = {}
    for ea, ma in fa.items():
        for eb, mb in fb.items():
            h[ea + eb] = (h.get(ea + eb, 0) + ma.T @ mb) % p
    assert len(h) == code.n_workers
    Y = (A.T @ B) % p
    for (j, l), e in ex["important"].items():
        np.testing.assert_array_equal(h[e], Y[j * cols : (j + 1) * cols, l * cols : (l + 1) * cols])


def build(name: str, s: int, t: int, z: int) -> Code | None:
    if not codes.applicable(name, s, t):
        return None
    return codes.make(name, s=s, t=t, z=z)


# -------------------------------------------------------------------------------------------------
# reference values and the public interface
def test_age_reference_values_from_the_project() -> None:
    c = codes.make("age", s=2, t=2, z=2)
    assert (c.n_workers, c.params["lambda"]) == (17, 2)
    ex = c.exponents()
    # the worked example of the shared design doc
    assert sorted(ex["coded_a"].values()) == [0, 1, 2, 3]
    assert ex["secret_a"] == [4, 5]
    assert sorted(ex["coded_b"].values()) == [0, 1, 6, 7]
    assert ex["secret_b"] == [10, 11]
    assert sorted(ex["important"].values()) == [1, 3, 7, 9]
    assert c.product_exponents == tuple(range(17))
    c = codes.make("age", s=2, t=3, z=4)
    assert (c.n_workers, c.params["lambda"]) == (38, 2)
    assert c.params["n_by_lambda"] == {0: 41, 1: 39, 2: 38, 3: 40, 4: 39}


def test_interface_fields() -> None:
    assert codes.available() == [
        "age", "polydot", "entangled", "ssmm", "polynomial-sharing", "bgw", "gasp", "search"
    ]
    c = codes.make("age", s=2, t=2, z=2)
    assert (c.name, c.s, c.t, c.z) == ("age", 2, 2, 2)
    assert isinstance(c.n_workers, int) and isinstance(c.degree_plus_one, int)
    assert c.product_exponents == tuple(sorted(set(c.product_exponents)))
    assert c.degree_plus_one == c.product_exponents[-1] + 1
    ex = c.exponents()
    assert set(ex) == {"coded_a", "secret_a", "coded_b", "secret_b", "important"}
    assert set(ex["coded_a"]) == {(i, j) for i in range(2) for j in range(2)}
    assert set(ex["important"]) == {(j, l) for j in range(2) for l in range(2)}
    assert len(ex["secret_a"]) == len(ex["secret_b"]) == 2
    for name in ("entangled", "ssmm", "polydot", "polynomial-sharing"):
        assert codes.make(name, s=1, t=2, z=1).params == {}
    assert codes.make("bgw", s=1, t=1, z=1).params == {}
    assert c.recovery_threshold == 2 * 2 + 2


def test_code_is_frozen_and_hashable() -> None:
    a = codes.make("age", s=2, t=2, z=2)
    b = codes.make("ssmm", s=2, t=2, z=2)
    assert a.exponents() == b.exponents()  # AGE picks λ = z here: the SSMM placement
    assert a != b  # the name is part of the identity
    assert a == codes.make("age", s=2, t=2, z=2) and hash(a) == hash(codes.make("age", s=2, t=2, z=2))
    assert len({a, codes.make("age", s=2, t=2, z=2)}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.z = 3  # type: ignore[misc]
    ex = a.exponents()
    ex["secret_a"][0] = 99  # a copy: the code is unchanged
    assert a.exponents()["secret_a"][0] == 4


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("age", {"s": 0, "t": 2, "z": 1}),
        ("age", {"s": 2, "t": 0, "z": 1}),
        ("age", {"s": 2, "t": 2, "z": 0}),
        ("age", {"s": True, "t": 2, "z": 1}),
        ("age", {"s": 2.0, "t": 2, "z": 1}),
        ("nope", {"s": 1, "t": 1, "z": 1}),
        ("gasp", {"s": 2, "t": 2, "z": 1}),
        ("polynomial-sharing", {"s": 2, "t": 2, "z": 1}),
        ("bgw", {"s": 1, "t": 2, "z": 1}),
        ("age", {"s": 2, "t": 2, "z": 2, "lam": 3}),
        ("gasp", {"s": 1, "t": 2, "z": 2, "r": 3}),
        ("entangled", {"s": 2, "t": 2, "z": 2, "bogus": 1}),
        ("search", {"s": 1, "t": 1, "z": 1, "seconds": 0}),
    ],
)
def test_bad_parameters_raise_parameter_error(name: str, kwargs: dict) -> None:
    with pytest.raises(ParameterError):
        codes.make(name, **kwargs)


def test_applicable_reasons() -> None:
    assert codes.applicable("age", 3, 4) is True and codes.why_not("age", 3, 4) is None
    assert codes.applicable("gasp", 2, 2) is False
    assert "s = 1" in (codes.why_not("gasp", 2, 2) or "")
    assert "s = t = 1" in (codes.why_not("bgw", 1, 2) or "")
    assert codes.applicable("bgw", 1, 1) is True and codes.why_not("bgw", 1, 1) is None


def test_forced_lambda_and_r() -> None:
    c = codes.make("age", s=2, t=3, z=4, **{"lambda": 0})
    assert c.params["lambda"] == 0 and c.n_workers == 41
    assert c.exponents() == codes.make("entangled", s=2, t=3, z=4).exponents()
    g = codes.make("gasp", s=1, t=3, z=3, r=3)
    assert g.n_workers == 23 and g.params["r"] == 3


def test_bgw_and_small_baselines() -> None:
    for z in range(1, 6):
        assert codes.make("bgw", s=1, t=1, z=z).n_workers == 2 * z + 1
    assert codes.make("polynomial-sharing", s=1, t=3, z=3).n_workers == 2 * 9 + 2 * 3 - 1


# -------------------------------------------------------------------------------------------------
# validation: deliberately broken codes are caught
def _age222() -> dict:
    return codes.make("age", s=2, t=2, z=2).exponents()


def _code(ex: dict, validate: bool = True) -> Code:
    return Code("broken", 2, 2, 2, ex["coded_a"], ex["secret_a"], ex["coded_b"], ex["secret_b"],
                ex["important"], validate=validate)


def test_secret_product_on_result_exponent_is_caught_and_named() -> None:
    ex = _age222()
    ex["secret_a"] = [6, 5]  # Abar[0] (6) + B[0,0] (1) = 7 carries Y[0,1]
    with pytest.raises(ExponentClashError) as info:
        _code(ex)
    err = info.value
    assert err.term_a == "Abar[0]" and err.exponent == 7 and err.result == (0, 1)
    assert "Abar[0]" in str(err) and "Y[0,1]" in str(err)
    broken = _code(ex, validate=False)  # a negative control can still be built
    assert not broken.is_valid() and not independent_valid(broken)
    assert not broken.validated


def test_secret_times_secret_clash_is_caught() -> None:
    # s = t = 1, Y at x^10; every coded×secret product avoids 10 but Abar[1] + Bbar[0] = 2 + 8 = 10
    kwargs = {"coded_a": {(0, 0): 5}, "coded_b": {(0, 0): 5}, "important": {(0, 0): 10}}
    with pytest.raises(ExponentClashError, match=r"Abar\[1\]\^T Bbar\[0\]"):
        Code("x", 1, 1, 2, secret_a=[1, 2], secret_b=[8, 3], **kwargs)
    assert Code("x", 1, 1, 2, secret_a=[1, 2], secret_b=[7, 3], **kwargs).n_workers == len(
        {a + b for a in (5, 1, 2) for b in (5, 7, 3)})


def test_unwanted_coded_product_clash_is_caught() -> None:
    # entangled with θ = ts − 1 = 3: unwanted coded products of block 0 reach the wanted ones of block 1
    ex = codes.make("entangled", s=2, t=2, z=1).exponents()
    ex["coded_b"] = {(i, l): 1 - i + 3 * l for i in range(2) for l in range(2)}
    ex["important"] = {(j, l): 1 + 2 * j + 3 * l for j in range(2) for l in range(2)}
    ex["secret_a"] = [20]
    ex["secret_b"] = [20]
    with pytest.raises(ExponentClashError) as info:
        Code("x", 2, 2, 1, ex["coded_a"], ex["secret_a"], ex["coded_b"], ex["secret_b"], ex["important"])
    assert info.value.term_a.startswith("A[") and info.value.term_b.startswith("B[")


def test_wanted_pair_off_target_is_caught() -> None:
    ex = _age222()
    ex["important"][(0, 0)] = 2
    with pytest.raises(ExponentClashError, match=r"wanted product A\[0,0\]\^T B\[0,0\]"):
        _code(ex)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda ex: ex["coded_a"].__setitem__((0, 1), 0),  # two coded exponents equal
        lambda ex: ex["secret_a"].__setitem__(0, 3),  # secret on a coded exponent
        lambda ex: ex["secret_b"].__setitem__(1, 10),  # secrets not distinct
        lambda ex: ex["secret_a"].__setitem__(0, -1),  # negative
        lambda ex: ex["secret_a"].__setitem__(0, 4.0),  # not an int
        lambda ex: ex["secret_a"].append(30),  # z + 1 secrets
        lambda ex: ex["coded_b"].pop((1, 1)),  # missing block
        lambda ex: ex["important"].__setitem__((0, 0), ex["important"][(0, 1)]),  # shared result exponent
    ],
)
def test_malformed_codes_raise(mutate) -> None:
    ex = _age222()
    mutate(ex)
    with pytest.raises(CodeValidationError):
        _code(ex)


def test_shape_errors_even_without_validation() -> None:
    ex = _age222()
    ex["secret_a"] = [4]
    with pytest.raises(CodeValidationError, match="exactly z = 2"):
        _code(ex, validate=False)


# -------------------------------------------------------------------------------------------------
# every code against the independent checks
GRID = st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 16))


@settings(max_examples=60, deadline=None)
@given(GRID)
def test_every_code_valid_and_counted(stz: tuple[int, int, int]) -> None:
    s, t, z = stz
    for name in FIXED:
        code = build(name, s, t, z)
        if code is None:
            continue
        assert independent_valid(code), (name, s, t, z)
        pairs = independent_pairs(code)
        assert code.n_workers == len(pairs)
        assert code.product_exponents == tuple(sorted(pairs))
        assert code.degree_plus_one == max(pairs) + 1 >= code.n_workers


@settings(max_examples=80, deadline=None)
@given(GRID)
def test_age_never_needs_more_workers(stz: tuple[int, int, int]) -> None:
    s, t, z = stz
    age = codes.make("age", s=s, t=t, z=z)
    for other in ("entangled", "ssmm", "polydot"):
        assert age.n_workers <= codes.make(other, s=s, t=t, z=z).n_workers, other
    family = age.params["n_by_lambda"]
    assert set(family) == set(range(z + 1))
    assert age.n_workers == min(family.values()) == family[age.params["lambda"]]
    for lam in (0, z):
        assert age_code_for_lambda(s, t, z, lam).n_workers == family[lam]


def test_age_grid_exhaustive_against_baselines() -> None:
    """The same claim over the whole grid s, t ∈ 1..4, z ∈ 1..16 (no sampling)."""
    worse = []
    for s, t, z in itertools.product(range(1, 5), range(1, 5), range(1, 17)):
        n = codes.make("age", s=s, t=t, z=z).n_workers
        for other in ("entangled", "ssmm", "polydot"):
            if n > codes.make(other, s=s, t=t, z=z).n_workers:
                worse.append((s, t, z, other))
    assert worse == []


def test_age_extremes_are_entangled_and_ssmm_placements() -> None:
    for s, t, z in [(2, 2, 3), (3, 2, 1), (1, 4, 5)]:
        assert age_code_for_lambda(s, t, z, 0).exponents() == codes.make(
            "entangled", s=s, t=t, z=z).exponents()
        assert age_code_for_lambda(s, t, z, z).exponents() == codes.make("ssmm", s=s, t=t, z=z).exponents()


@pytest.mark.parametrize("name", FIXED)
def test_numeric_coefficients_carry_the_result(name: str) -> None:
    for s, t, z in [(1, 1, 2), (1, 3, 2), (2, 2, 2), (2, 3, 4), (3, 2, 5)]:
        code = build(name, s, t, z)
        if code is not None:
            numeric_check(code)


def test_numeric_check_detects_a_broken_code() -> None:
    ex = _age222()
    ex["secret_a"] = [6, 5]
    with pytest.raises(AssertionError):
        numeric_check(_code(ex, validate=False))


def test_gasp_big_and_small() -> None:
    # GASP_big (r = t) matches its published count (t+z)(t+1)-1 for z < t, 2t^2+2z-1 otherwise
    for t in range(1, 5):
        for z in range(1, 9):
            big = gasp_code_for_r(1, t, z, min(t, z)).n_workers
            assert big == ((t + z) * (t + 1) - 1 if z < t else 2 * t * t + 2 * z - 1)
    g = codes.make("gasp", s=1, t=3, z=3)
    assert g.n_workers == 22 and g.params["r"] == 2 and g.params["n_by_r"] == {1: 24, 2: 22, 3: 23}
    # a documented finding: for s = 1 GASP_r can beat AGE's λ-family
    assert codes.make("age", s=1, t=3, z=3).n_workers == 23


# -------------------------------------------------------------------------------------------------
# search (not from a paper)
def test_search_small_cases_complete_and_no_worse_than_age() -> None:
    for s, t, z in [(2, 2, 1), (2, 2, 2), (2, 2, 3), (2, 3, 2), (3, 3, 3), (1, 2, 2)]:
        c = codes.make("search", s=s, t=t, z=z, seconds=5)
        age = codes.make("age", s=s, t=t, z=z)
        assert c.params["complete"] is True, (s, t, z)
        assert c.n_workers <= age.n_workers
        assert independent_valid(c)
        assert c.name == "search" and c.params["seed_workers"] == age.n_workers


def test_search_improves_on_age_for_s1() -> None:
    c = codes.make("search", s=1, t=3, z=3, seconds=5)
    assert c.params["complete"] and c.params["improved"]
    assert c.n_workers == 22 < codes.make("age", s=1, t=3, z=3).n_workers
    numeric_check(c)


def test_search_time_bound() -> None:
    start = time.monotonic()
    c = codes.make("search", s=4, t=4, z=16, seconds=0.3)
    assert time.monotonic() - start < 3.0
    assert c.params["complete"] is False
    assert c.n_workers <= codes.make("age", s=4, t=4, z=16).n_workers
    assert independent_valid(c)


def test_search_beats_age_for_s3_t4_z3() -> None:
    """A finding beyond the papers: B-secrets one step later than AGE's λ = 1 placement save a worker."""
    c = codes.make("search", s=3, t=4, z=3, seconds=10)
    assert c.params["complete"] and c.params["improved"]
    assert (c.n_workers, codes.make("age", s=3, t=4, z=3).n_workers) == (73, 74)
    assert c.params["theta"] == 13
    assert independent_valid(c)


# -- structural AGE and bounded work (issues 11 and 13) ------------------------------------------------
@pytest.mark.parametrize("s,t,z", [(2, 2, 3), (3, 3, 6), (2, 4, 7), (1, 3, 2), (4, 4, 9)])
def test_age_structural_lambda_has_consecutive_secrets(s: int, t: int, z: int) -> None:
    from cmpc.codes.age import age_code_for_lambda, structural_lambda

    code = codes.make("age", s=s, t=t, z=z, structural=True)
    lam = code.params["lambda"]
    assert lam in (0, z) and lam == structural_lambda(s, t, z)
    assert code.params["structural"] is True
    for secrets in (code.secret_a, code.secret_b):
        e = sorted(secrets)
        assert e == list(range(e[0], e[0] + z))
    best = codes.make("age", s=s, t=t, z=z)
    assert code.n_workers == min(age_code_for_lambda(s, t, z, 0).n_workers,
                                 age_code_for_lambda(s, t, z, z).n_workers) >= best.n_workers
    assert best.params["structural"] == (best.params["lambda"] in (0, z))


def test_age_structural_and_lam_conflict() -> None:
    with pytest.raises(ParameterError):
        codes.make("age", s=2, t=2, z=2, structural=True, lam=1)
    with pytest.raises(ParameterError):
        codes.make("age", s=2, t=2, z=2, structural="yes")


@pytest.mark.parametrize("name,s,t,z", [("age", 2, 2, 1000), ("polydot", 2, 2, 513), ("age", 30, 30, 1),
                                        ("search", 2, 2, 65), ("gasp", 1, 40, 510)])
def test_bounded_work_refuses_large_parameters(name: str, s: int, t: int, z: int) -> None:
    t0 = time.perf_counter()
    with pytest.raises(ParameterError, match="bounded"):
        codes.make(name, s=s, t=t, z=z)
    assert time.perf_counter() - t0 < 5


def test_search_seconds_bounded() -> None:
    for bad in (float("nan"), float("inf"), 601, 0):
        with pytest.raises(ParameterError):
            codes.make("search", s=1, t=1, z=1, seconds=bad)
