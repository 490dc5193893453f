"""Fixed-point encoding, range analysis and parameter choice (private_mdi.fixedpoint)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from cmpc.errors import FieldRangeError, ShapeError
from cmpc.field import PrimeField
from private_mdi.errors import OverflowRiskError, ParameterError
from private_mdi.fixedpoint import (
    CALIBRATION_MARGIN,
    DEFAULT_PRIMES,
    DenseLayer,
    InputRange,
    InputRangeError,
    InputRangeWarning,
    analyse_ranges,
    check_input,
    choose_parameters,
    decode,
    encode,
    encode_bias,
    from_signed,
    to_signed,
)

P31 = 2**31 - 1
P61 = 2**61 - 1


def test_default_primes_are_the_largest_below_powers_of_two() -> None:
    for p, k in zip(DEFAULT_PRIMES, (31, 37, 41, 47, 53, 61)):
        assert sympy.isprime(p)
        assert sympy.prevprime(2**k) == p


def test_encode_known_answers() -> None:
    assert encode(0.5, P31, 8).tolist() == 128
    assert encode([-0.25, 0.0, 1e-3, 3.0], P31, 8).tolist() == [P31 - 64, 0, 0, 768]
    # round half to even (numpy rint): 2.5 -> 2, 3.5 -> 4 at f = 0
    assert encode([2.5, 3.5, -2.5], 101, 0).tolist() == [2, 4, 99]
    assert encode_bias(1.0, P31, 8).tolist() == 2**16
    f = PrimeField(P31)
    assert encode(-1.0, f, 12).tolist() == P31 - 4096


@settings(max_examples=60, deadline=None)
@given(
    x=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=8),
    f=st.integers(0, 16),
    p=st.sampled_from([P31, 2**37 - 25, P61]),
)
def test_encode_decode_round_trip(x: list[float], f: int, p: int) -> None:
    v = encode(x, p, f)
    assert v.dtype == np.int64 and (v >= 0).all() and (v < p).all()
    back = decode(v, p, f)
    assert np.all(np.abs(back - np.asarray(x)) <= 2.0 ** (-f - 1) + 1e-12)


@settings(max_examples=40, deadline=None)
@given(x=st.floats(-30, 30, allow_nan=False), y=st.floats(-30, 30, allow_nan=False))  # |x̂ŷ| < 2^30
def test_product_decodes_at_double_scale(x: float, y: float) -> None:
    f, fld = 10, PrimeField(P31)
    prod = fld.raw_mul(encode(x, fld, f), encode(y, fld, f))
    got = float(decode(prod, fld, f, scale_power=2))
    exact = float(np.rint(x * 2**f) * np.rint(y * 2**f)) / 2 ** (2 * f)
    assert got == pytest.approx(exact, abs=1e-9)
    assert abs(got - x * y) <= (abs(x) + abs(y) + 1) * 2.0**-f


def test_signed_lift() -> None:
    assert to_signed([0, 1, 50, 51, 100], 101).tolist() == [0, 1, 50, -50, -1]
    assert from_signed(np.array([-50, 50, -1]), 101).tolist() == [51, 50, 100]
    with pytest.raises(OverflowRiskError):
        from_signed(np.array([51]), 101)


def test_encode_decode_bad_input() -> None:
    with pytest.raises(OverflowRiskError) as exc:
        encode(2.0**30, P31, 8)
    assert exc.value.layer == "input"
    with pytest.raises(ParameterError):
        encode(float("nan"), P31, 8)
    with pytest.raises(ParameterError):
        encode(1.0, P31, 41)
    with pytest.raises(FieldRangeError):
        decode([P31], P31, 8)
    with pytest.raises(FieldRangeError):
        decode([-1], P31, 8)


# -- range analysis ---------------------------------------------------------------------------------
def _fixed_point_forward(
    layers: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray, f: int
) -> list[np.ndarray]:
    """Exact integer pre-activations of the circuit (Python ints), for soundness checks."""
    xi = np.array([int(v) for v in np.rint(x * 2**f)], dtype=object)
    zs = []
    for k, (w, b) in enumerate(layers):
        wi = np.vectorize(int, otypes=[object])(np.rint(w * 2**f))
        bi = np.vectorize(int, otypes=[object])(np.rint(b * 2 ** (2 * f)))
        z = wi.dot(xi) + bi
        zs.append(z)
        if k < len(layers) - 1:
            xi = np.array([max(0, int(v) >> f) for v in z], dtype=object)
    return zs


def test_analysis_bounds_every_intermediate_value() -> None:
    npr = np.random.default_rng(7)
    for trial in range(5):
        dims = [int(d) for d in npr.integers(2, 9, size=4)]
        layers = [
            (npr.normal(0, 0.7, (dims[k + 1], dims[k])), npr.normal(0, 0.3, dims[k + 1])) for k in range(3)
        ]
        f = 8 + trial % 4
        rep = analyse_ranges(layers, P61, f, input_bound=(-1.0, 2.0))
        for _ in range(200):
            x = npr.uniform(-1.0, 2.0, dims[0])
            for z, lr in zip(_fixed_point_forward(layers, x, f), rep.layers):
                assert max(abs(int(v)) for v in z) <= lr.bound
        # the first layer's bound is attained at a corner of the box (interval arithmetic is exact there)
        w0 = np.vectorize(int, otypes=[object])(np.rint(layers[0][0] * 2**f))
        b0 = np.vectorize(int, otypes=[object])(np.rint(layers[0][1] * 2 ** (2 * f)))
        lo, hi = -(2**f), 2 * 2**f
        up = [sum(max(int(w) * lo, int(w) * hi) for w in row) + int(b) for row, b in zip(w0, b0)]
        dn = [sum(min(int(w) * lo, int(w) * hi) for w in row) + int(b) for row, b in zip(w0, b0)]
        assert rep.layers[0].bound == max(max(abs(v) for v in up), max(abs(v) for v in dn))


def test_analysis_names_layer_and_bound_on_overflow() -> None:
    w1 = np.full((4, 3), 0.5)
    w2 = np.full((2, 4), 1000.0)
    layers = [(w1, np.zeros(4), "dense-1"), (w2, np.zeros(2), "dense-2")]
    rep = analyse_ranges(layers, P61, 12, input_bound=1.0)  # fits the 61-bit prime
    with pytest.raises(OverflowRiskError) as exc:
        analyse_ranges(layers, P31, 12, input_bound=1.0)
    assert exc.value.layer == "dense-2"
    assert exc.value.bound == rep.layers[1].bound
    assert 2 * exc.value.bound >= P31
    assert "dense-2" in str(exc.value)


def test_analysis_accepts_integer_layers_and_dense_layer_objects() -> None:
    w = np.array([[3, -2], [1, 1]], dtype=np.int64)  # already encoded at 2^f
    rep = analyse_ranges([DenseLayer(w, np.array([5, -7]), "q")], P31, 4, input_bound=1.0)
    # |x̂| <= 16: row 0 bound 3*16 + 2*16 + 5 = 85, row 1: 16 + 16 + 7 = 39
    assert rep.layers[0].bound == 85 and rep.layers[0].weight_bound == 3 and rep.layers[0].name == "q"


def test_analysis_shape_and_argument_errors() -> None:
    with pytest.raises(ShapeError):
        analyse_ranges([(np.zeros((3, 2)), None), (np.zeros((2, 4)), None)], P31, 8, input_bound=1.0)
    with pytest.raises(ShapeError):
        analyse_ranges([(np.zeros((3, 2)), np.zeros(2))], P31, 8, input_bound=1.0)
    with pytest.raises(ParameterError):  # both a bound and calibration
        analyse_ranges([(np.zeros((3, 2)), None)], P31, 8, input_bound=1.0, calibration=np.zeros((5, 2)))
    default = analyse_ranges([(np.zeros((3, 2)), None)], P31, 8)  # neither: |x| <= 8
    assert [int(v) for v in default.input_hi] == [8 * 2**8] * 2
    with pytest.raises(ShapeError):
        analyse_ranges([(np.zeros((3, 2)), None)], P31, 8, calibration=np.zeros((5, 3)))
    with pytest.raises(ParameterError):
        analyse_ranges([], P31, 8, input_bound=1.0)


def test_calibration_box_and_check_input() -> None:
    npr = np.random.default_rng(1)
    cal = npr.uniform(0, 1, (50, 6))
    layers = [(npr.normal(0, 0.5, (4, 6)), np.zeros(4)), (npr.normal(0, 0.5, (3, 4)), np.zeros(3))]
    rep = analyse_ranges(layers, P31, 8, calibration=cal)
    lo, hi = cal.min(axis=0), cal.max(axis=0)
    widened = lo - CALIBRATION_MARGIN * np.maximum(hi - lo, np.median(hi - lo))
    assert [int(v) for v in rep.input_lo] == to_signed(encode(widened, P31, 8), P31).tolist()
    assert rep.input_range is not None and "calibration" in rep.input_range.origin
    check_input(encode(cal[3], P31, 8), rep)  # inside the box: no error
    x = cal[0].copy()
    x[2] = 5.0
    with pytest.raises(OverflowRiskError) as exc:
        check_input(encode(x, P31, 8), rep)
    assert exc.value.layer == "input" and "feature 2 = 5 " in str(exc.value)
    assert "calibration=" in str(exc.value) and "input_bound=" in str(exc.value)


def test_choose_parameters_prefers_small_prime_then_large_f() -> None:
    npr = np.random.default_rng(3)
    small = [(npr.normal(0, 0.1, (16, 8)), np.zeros(16)), (npr.normal(0, 0.1, (4, 16)), np.zeros(4))]
    got = choose_parameters(small, npr.uniform(0, 1, (20, 8)))
    assert (got.p, got.f) == (P31, 12)
    assert got.report.max_bound * 2 * 2**got.margin_bits <= got.p
    # a model with large weights needs a bigger prime; the choice is the smallest safe one
    big = [(npr.normal(0, 30.0, (64, 256)), np.zeros(64)), (npr.normal(0, 30.0, (10, 64)), np.zeros(10))]
    got = choose_parameters(big, input_bound=1.0)
    assert got.p > P31
    smaller = [q for q in DEFAULT_PRIMES if q < got.p]
    for q in smaller:
        with pytest.raises(OverflowRiskError):
            analyse_ranges(big, q, 8, input_bound=1.0, margin_bits=got.margin_bits)
    if got.f < 12:
        with pytest.raises(OverflowRiskError):
            analyse_ranges(big, got.p, got.f + 1, input_bound=1.0, margin_bits=got.margin_bits)


def test_choose_parameters_failure_and_bad_arguments() -> None:
    huge = [(np.full((8, 8), 1e6), np.zeros(8)), (np.full((8, 8), 1e6), np.zeros(8))]
    with pytest.raises(OverflowRiskError) as exc:
        choose_parameters(huge, input_bound=1e3)
    assert exc.value.layer is not None and exc.value.bound is not None
    with pytest.raises(ParameterError):
        choose_parameters([(np.ones((2, 2), dtype=np.int64), None)], input_bound=1.0)
    with pytest.raises(ParameterError):
        choose_parameters([(np.ones((2, 2)), None)], input_bound=1.0, f_range=(12, 8))


# -- input ranges (issue 14) ---------------------------------------------------------------------
def _splits(loader: str, seeds: int, scale: bool):  # type: ignore[no-untyped-def]
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, _ = getattr(datasets, loader)(return_X_y=True)
    for seed in range(seeds):
        tr, te = train_test_split(x, test_size=0.25, random_state=seed)
        if scale:
            sc = StandardScaler().fit(tr)
            tr, te = sc.transform(tr), sc.transform(te)
        yield tr, te


@pytest.mark.parametrize("loader", ["load_breast_cancer", "load_iris", "load_wine", "load_digits"])
@pytest.mark.parametrize("scale", [False, True])
def test_calibration_margin_on_held_out_data(loader: str, scale: bool) -> None:
    refused = total = refused_bare = 0
    for tr, te in _splits(loader, 50, scale):
        box = InputRange.from_calibration(tr)
        bare = InputRange.from_calibration(tr, margin=0.0)
        refused += int(((te < box.low) | (te > box.high)).any(axis=1).sum())
        refused_bare += int(((te < bare.low) | (te > bare.high)).any(axis=1).sum())
        total += len(te)
    if loader == "load_digits" and scale:
        assert refused <= 10  # near-constant pixels standardized by a tiny deviation (module docstring)
    else:
        assert refused == 0
    if loader in ("load_breast_cancer", "load_wine"):
        assert refused_bare > 0  # negative control: the bare training range does refuse test rows


def test_default_range_covers_standardized_data_and_picks_a_larger_prime_when_needed() -> None:
    npr = np.random.default_rng(5)
    layers = [(npr.normal(0, 0.3, (16, 8)), np.zeros(16)), (npr.normal(0, 0.3, (3, 16)), np.zeros(3))]
    got = choose_parameters(layers)
    assert got.report.input_range is not None
    assert got.report.input_range.low.max() <= -8 and got.report.input_range.high.min() >= 8
    x = npr.normal(size=(500, 8))
    x = (x - x.mean(0)) / x.std(0)
    got.report.input_range.check(x)  # standardized rows pass
    wide = [(npr.normal(0, 40.0, (64, 256)), np.zeros(64)), (npr.normal(0, 40.0, (10, 64)), np.zeros(10))]
    assert choose_parameters(wide).p > P31


def test_input_range_errors_speak_user_units_and_clip_warns() -> None:
    box = InputRange.from_bound(3, 1.0)
    with pytest.raises(InputRangeError) as exc:
        box.check(np.array([[0.0, -1.245, 0.0]]))
    msg = str(exc.value)
    assert "feature 1 = -1.245" in msg and "[-1, 1]" in msg
    assert "calibration=" in msg and "input_bound=" in msg and "clip" in msg
    assert isinstance(exc.value, OverflowRiskError) and exc.value.layer == "input"
    x = np.array([[0.5, -3.0, 2.0], [0.1, 0.2, 0.3]])
    with pytest.warns(InputRangeWarning, match="1 of 2 input rows were clipped"):
        clipped = box.apply(x, "clip")
    np.testing.assert_array_equal(clipped, [[0.5, -1.0, 1.0], [0.1, 0.2, 0.3]])
    np.testing.assert_array_equal(box.apply(x[1:], "raise"), x[1:])
    with pytest.raises(ParameterError, match="on_out_of_range"):
        box.apply(x, "ignore")
    with pytest.raises(ParameterError):
        InputRange.from_bound(3, float("nan"))
    with pytest.raises(ParameterError):
        InputRange.from_calibration(np.array([[np.inf, 0.0, 0.0]]))
    with pytest.raises(ShapeError):
        box.check(np.zeros((2, 4)))
    with pytest.raises(InputRangeError):
        box.check(np.array([np.nan, 0.0, 0.0]))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("loader", ["load_breast_cancer", "load_wine"])
def test_issue_14_scenario_calibrated_mlp_accepts_held_out_rows(loader: str) -> None:
    """MLPClassifier on standardized data, calibration=X_train: every test row passes and the
    fixed-point labels equal the float labels (the failure reported in issue 14)."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    from private_mdi.nn import Model

    tr, te = next(_splits(loader, 1, True))
    _, y = getattr(datasets, loader)(return_X_y=True)
    y_tr, _ = train_test_split(y, test_size=0.25, random_state=0)  # same split as _splits(seed 0)
    model = Model.from_sklearn(MLPClassifier((16,), max_iter=300, random_state=0).fit(tr, y_tr))
    chosen = choose_parameters(model.range_layers(), tr)
    assert chosen.report.input_range is not None
    chosen.report.input_range.check(te)  # no InputRangeError
    x_hat = model.encode(te, chosen.f, chosen.p)
    check_input(x_hat, chosen.report)
    np.testing.assert_array_equal(model.reference_predict(te, chosen.f, chosen.p), model.predict(te))
