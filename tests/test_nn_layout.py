"""The split model side (issue 12): one FixedPoint, one signed, the compatibility names, placement module."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import private_mdi.model as compat
from private_mdi import fixedpoint
from private_mdi.errors import OverflowRiskError, ParameterError, PlacementError
from private_mdi.fixedpoint import MAX_FRAC_BITS, FixedPoint, reference_forward, signed
from private_mdi.nn import Dense, Model, ReLU, quantize
from private_mdi.placement import Placement, round_robin, validate_placement

P31 = 2**31 - 1


def test_compat_module_reexports_the_same_objects() -> None:
    assert compat.signed is fixedpoint.signed
    assert compat.Model is Model
    assert compat.Placement is Placement and compat.validate_placement is validate_placement
    for name in (
        "QuantizedLayer",
        "LinearLayer",
        "Dense",
        "Conv2d",
        "AvgPool2d",
        "MaxPool2d",
        "Flatten",
        "ReLU",
    ):
        assert hasattr(compat, name)
    v = np.array([0, 5, P31 - 1, P31 - 4096 * 4096])
    np.testing.assert_array_equal(compat.decode_output(v, 12, P31), FixedPoint(P31, 12).decode_output(v))
    np.testing.assert_array_equal(compat.relu_truncate(v, 12, P31), FixedPoint(P31, 12).truncate(v))
    np.testing.assert_array_equal(
        compat.encode_input([0.5, -1.0], 12, P31), FixedPoint(P31, 12).encode([0.5, -1])
    )


@settings(max_examples=60, deadline=None)
@given(
    x=st.lists(st.floats(-1000, 1000, allow_nan=False), min_size=1, max_size=8),
    f=st.integers(0, 16),
    p=st.sampled_from([P31, 2**61 - 1]),
)
def test_encode_decode_round_trip(x: list[float], f: int, p: int) -> None:
    fp = FixedPoint(p, f)
    enc = fp.encode(x)
    assert enc.min() >= 0 and enc.max() < p
    np.testing.assert_allclose(fp.decode(enc), x, atol=2.0 ** (-f - 1) + 1e-12)
    np.testing.assert_array_equal(fp.signed(enc), np.rint(np.ldexp(np.array(x), f)))


@settings(max_examples=60, deadline=None)
@given(v=st.lists(st.integers(0, 100), min_size=1, max_size=10), f=st.integers(0, 4))
def test_truncate_is_relu_of_floor_of_centred_value(v: list[int], f: int) -> None:
    p = 101
    want = [max((x - p if x > 50 else x) // 2**f, 0) for x in v]  # Python floor division: the oracle
    assert FixedPoint(p, f).truncate(v).tolist() == want
    assert signed(v, p).tolist() == [x - p if x > 50 else x for x in v]


def test_reference_forward_is_what_model_reference_computes() -> None:
    g = np.random.default_rng(2)
    model = Model(
        (5,),
        [
            Dense(g.normal(size=(7, 5)), g.normal(size=7)),
            ReLU(),
            Dense(g.normal(size=(3, 7)), g.normal(size=3)),
        ],
    )
    x = g.normal(size=(4, 5))
    fp = FixedPoint(P31, 10)
    got = reference_forward(fp, quantize(model.linear_layers(), fp), fp.encode(x))
    np.testing.assert_array_equal(got, model.reference(x, 10, P31))
    np.testing.assert_allclose(model.reference_logits(x, 10, P31), model.forward(x), atol=0.05)


def test_frac_bits_have_one_limit_everywhere() -> None:
    for bad in (-1, MAX_FRAC_BITS + 1, 2.5, True):
        with pytest.raises(ParameterError, match="frac_bits"):
            FixedPoint(P31, bad)  # type: ignore[arg-type]
        with pytest.raises(ParameterError, match="frac_bits"):
            fixedpoint.encode(1.0, P31, bad)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="frac_bits"):
        Model((1,), [Dense(np.ones((1, 1)), np.zeros(1))]).quantized(MAX_FRAC_BITS + 1)
    with pytest.raises(OverflowRiskError, match="62 bits"):
        FixedPoint(P31, 30).quantize(np.array([2.0**40]))


def test_placement_module() -> None:
    pl = round_robin(3, 5)
    assert pl.hosts == (1, 2, 3, 1, 2) and pl.layers_of(1) == [1, 4] and pl.evaluator(1) == 2
    with pytest.raises(PlacementError, match="edge numbers"):
        validate_placement(["a", "b"], 2, 2)  # type: ignore[list-item]
    with pytest.raises(PlacementError, match="K >= 2"):
        round_robin(1, 3)
