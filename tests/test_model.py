"""Tests of private_mdi.model: layers, dense equivalents, fixed-point reference, loading, placement."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from private_mdi.errors import OverflowRiskError, ParameterError, PlacementError, UnsupportedModelError
from private_mdi.model import (
    AvgPool2d,
    Conv2d,
    Dense,
    Flatten,
    MaxPool2d,
    Model,
    ReLU,
    relu_truncate,
    signed,
)

P31 = 2**31 - 1

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# -- independent (slow, obvious) implementations used as oracles --------------------------------
def naive_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    c_out, c_in, kh, kw = w.shape
    _, h, wd = x.shape
    xp = np.zeros((c_in, h + 2 * pad, wd + 2 * pad))
    xp[:, pad : pad + h, pad : pad + wd] = x
    ho = (h + 2 * pad - kh) // stride + 1
    wo = (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((c_out, ho, wo))
    for o in range(c_out):
        for i in range(ho):
            for j in range(wo):
                patch = xp[:, i * stride : i * stride + kh, j * stride : j * stride + kw]
                out[o, i, j] = float(np.sum(patch * w[o])) + b[o]
    return out


def naive_reference(model: Model, x: np.ndarray, f: int, p: int) -> list[list[int]]:
    """The fixed-point semantics written out with Python integers, one sample at a time."""
    half = (p - 1) // 2
    out = []
    for row in np.asarray(x, dtype=np.float64).reshape(len(x), -1):
        h = [round(float(v) * 2**f) % p for v in row]  # Python round = half to even, like np.rint
        for lin in model.linear_layers():
            wq = [[round(float(w) * 2**f) for w in wr] for wr in lin.weight]
            bq = [round(float(b) * 2 ** (2 * f)) for b in lin.bias]
            v = [(sum(wi * hi for wi, hi in zip(wr, h)) + bi) % p for wr, bi in zip(wq, bq)]
            if lin.relu_after:
                h = [max((vi - p if vi > half else vi) // 2**f, 0) for vi in v]
                if lin.pool is not None:
                    h = [max(h[int(i)] for i in win) for win in lin.pool]
        out.append(v)
    return out


def random_cnn(seed: int, *, stride: int = 1, pad: int = 1) -> Model:
    g = np.random.default_rng(seed)
    conv = Conv2d(g.normal(size=(3, 2, 3, 3)), g.normal(size=3), stride=stride, padding=pad)
    shape = conv.output_shape((2, 6, 6))
    pooled = (shape[0], shape[1] // 2, shape[2] // 2)
    flat = int(np.prod(pooled))
    return Model(
        (2, 6, 6),
        [
            conv,
            ReLU(),
            AvgPool2d(2),
            Flatten(),
            Dense(g.normal(size=(7, flat)), g.normal(size=7)),
            ReLU(),
            Dense(g.normal(size=(3, 7)), g.normal(size=3)),
        ],
    )


# -- layers ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("stride", "pad"), [(1, 0), (1, 1), (2, 1), (2, 0), (3, 2)])
def test_conv_matches_naive_loops(stride: int, pad: int) -> None:
    g = np.random.default_rng(stride * 10 + pad)
    w, b = g.normal(size=(4, 2, 3, 3)), g.normal(size=4)
    x = g.normal(size=(3, 2, 7, 6))
    layer = Conv2d(w, b, stride=stride, padding=pad)
    got = layer.forward(x)
    assert got.shape == (3, *layer.output_shape((2, 7, 6)))
    for n in range(3):
        np.testing.assert_allclose(got[n], naive_conv(x[n], w, b, stride, pad), rtol=1e-12, atol=1e-12)


def test_avgpool_matches_block_means() -> None:
    x = np.arange(2 * 3 * 4 * 6, dtype=float).reshape(2, 3, 4, 6)
    got = AvgPool2d(2).forward(x)
    want = x.reshape(2, 3, 2, 2, 3, 2).mean(axis=(3, 5))
    np.testing.assert_array_equal(got, want)
    assert AvgPool2d((2, 3), stride=(1, 3)).output_shape((3, 4, 6)) == (3, 3, 2)


@pytest.mark.parametrize(("stride", "pad"), [(1, 1), (2, 1), (1, 0)])
def test_dense_equivalent_equals_layerwise_forward(stride: int, pad: int) -> None:
    model = random_cnn(stride + 7 * pad, stride=stride, pad=pad)
    x = np.random.default_rng(1).normal(size=(5, 2, 6, 6))
    np.testing.assert_allclose(model.forward_dense(x), model.forward(x), rtol=1e-10, atol=1e-10)
    lins = model.linear_layers()
    assert [lin.index for lin in lins] == [1, 2, 3]
    assert [lin.relu_after for lin in lins] == [True, True, False]
    assert lins[0].in_dim == 72 and lins[-1].out_dim == 3
    # the pooling is folded into the second linear layer: its input is the conv output
    assert lins[1].in_dim == lins[0].out_dim
    assert "avgpool2d" in lins[1].source
    assert [w.shape for w, _ in model.dense_equivalent()] == [lin.weight.shape for lin in lins]
    assert model.relu_counts() == [lins[0].out_dim, lins[1].out_dim]


# -- fixed-point reference ---------------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    f=st.integers(0, 9),
    p=st.sampled_from([101, 65537, 2**31 - 1, 2**61 - 1]),
    scale=st.sampled_from([0.5, 4.0, 300.0]),
)
def test_reference_equals_integer_semantics(seed: int, f: int, p: int, scale: float) -> None:
    """Bit-exact against a Python-int implementation, including fields small enough to wrap."""
    g = np.random.default_rng(seed)
    model = Model(
        (5,),
        [
            Dense(g.normal(size=(4, 5)), g.normal(size=4)),
            ReLU(),
            Dense(g.normal(size=(3, 4)), g.normal(size=3)),
            ReLU(),
            Dense(g.normal(size=(2, 3)), g.normal(size=2)),
        ],
    )
    half = (p - 1) // 2
    x = np.clip(g.normal(size=(3, 5)) * scale, -half / 2**f, half / 2**f)
    got = model.reference(x, f, p)
    assert isinstance(got, np.ndarray)
    assert got.dtype == np.int64 and got.min() >= 0 and got.max() < p
    assert got.tolist() == naive_reference(model, x, f, p)


def test_reference_on_cnn_equals_integer_semantics_and_tracks_float() -> None:
    model = random_cnn(3)
    x = np.random.default_rng(4).normal(size=(4, 72))
    f = 12
    got = model.reference(x, f, P31)
    assert isinstance(got, np.ndarray)
    assert got.tolist() == naive_reference(model, x, f, P31)
    np.testing.assert_allclose(model.reference_logits(x, f, P31), model.forward(x), atol=0.05)


def test_relu_step_is_floor_of_centred_value() -> None:
    p, f = 101, 2
    v = np.array([0, 1, 4, 7, 50, 51, 100, 97, 96])  # 51 and above are negatives
    got = relu_truncate(v, f, p)
    # signed: 0 1 4 7 50 -50 -1 -4 -5 → floor(/4): 0 0 1 1 12 -13 -1 -1 -2 → ReLU
    assert got.tolist() == [0, 0, 1, 1, 12, 0, 0, 0, 0]
    assert signed(np.array([50, 51]), p).tolist() == [50, -50]


def test_input_that_does_not_fit_is_refused() -> None:
    model = Model((2,), [Dense(np.eye(2), np.zeros(2))])
    with pytest.raises(OverflowRiskError) as err:
        model.reference(np.array([[1000.0, 0.0]]), 8, 65537)
    assert err.value.layer == "input"
    with pytest.raises(ParameterError, match="frac_bits"):
        model.reference(np.zeros((1, 2)), 31, P31)
    with pytest.raises(ParameterError, match="X must have shape"):
        model.forward(np.zeros((1, 3)))


# -- scikit-learn ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification

    return make_classification(n_samples=200, n_features=6, n_informative=4, n_classes=3, random_state=0)


def test_from_sklearn_multiclass(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    from sklearn.neural_network import MLPClassifier

    x, y = blobs
    clf = MLPClassifier(hidden_layer_sizes=(8, 5), max_iter=400, random_state=0).fit(x, y)
    model = Model.from_sklearn(clf)
    assert model.head == "argmax" and model.num_linear == 3
    np.testing.assert_array_equal(model.predict(x), clf.predict(x))
    agree = np.mean(model.reference_predict(x, 12, P31) == clf.predict(x))
    assert agree >= 0.99


def test_from_sklearn_binary_single_output_unit(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    from sklearn.neural_network import MLPClassifier

    x, y = blobs
    labels = np.where(y == 1, "yes", "no")
    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=400, random_state=1).fit(x, labels)
    assert clf.coefs_[-1].shape[1] == 1
    model = Model.from_sklearn(clf)
    assert model.head == "binary" and model.output_dim == 1
    np.testing.assert_array_equal(model.predict(x), clf.predict(x))
    np.testing.assert_array_equal(model.reference_predict(x, 12, P31), clf.predict(x))


def test_from_sklearn_regressor() -> None:
    from sklearn.neural_network import MLPRegressor

    g = np.random.default_rng(0)
    x = g.normal(size=(80, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.1
    reg = MLPRegressor(hidden_layer_sizes=(5,), max_iter=300, random_state=0).fit(x, y)
    model = Model.from_sklearn(reg)
    assert model.head == "identity"
    assert model.predict(x).shape == reg.predict(x).shape == (80,)  # scikit-learn's shape
    np.testing.assert_allclose(model.predict(x), reg.predict(x), rtol=1e-10, atol=1e-10)
    assert model.reference_predict(x, 12, P31).shape == (80,)
    np.testing.assert_allclose(model.reference_predict(x, 12, P31), reg.predict(x), atol=0.02)
    y2 = np.stack([y, -y], axis=1)  # two outputs keep (n, 2), as scikit-learn
    reg2 = MLPRegressor(hidden_layer_sizes=(5,), max_iter=50, random_state=0).fit(x, y2)
    assert Model.from_sklearn(reg2).predict(x).shape == reg2.predict(x).shape == (80, 2)


@pytest.mark.parametrize("activation", ["tanh", "logistic"])
def test_from_sklearn_refuses_other_activations(
    activation: str, blobs: tuple[np.ndarray, np.ndarray]
) -> None:
    from sklearn.neural_network import MLPClassifier

    x, y = blobs
    clf = MLPClassifier(hidden_layer_sizes=(4,), activation=activation, max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(x, y)
    with pytest.raises(UnsupportedModelError, match=activation):
        Model.from_sklearn(clf)


def test_from_sklearn_refuses_other_estimators(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = blobs
    with pytest.raises(UnsupportedModelError, match="LogisticRegression"):
        Model.from_sklearn(LogisticRegression(max_iter=200).fit(x, y))


# -- structure errors ----------------------------------------------------------------------------
def test_unsupported_structures_are_named() -> None:
    d = Dense(np.eye(4), np.zeros(4))
    with pytest.raises(UnsupportedModelError, match="MaxPool2d at position 0 is not next to a ReLU"):
        Model((1, 4, 4), [MaxPool2d(2), Flatten(), d])
    with pytest.raises(UnsupportedModelError, match="overlapping"):
        MaxPool2d(2, stride=1)
    with pytest.raises(UnsupportedModelError, match="ends with a ReLU"):
        Model((4,), [d, ReLU()])
    with pytest.raises(UnsupportedModelError, match="starts with a ReLU"):
        Model((4,), [ReLU(), d])
    with pytest.raises(UnsupportedModelError, match="Flatten"):
        Model((1, 2, 2), [d])
    with pytest.raises(ParameterError, match="expects 4 inputs"):
        Model((5,), [d])
    # ReLU∘ReLU is merged
    assert Model((4,), [d, ReLU(), ReLU(), d]).num_linear == 2


# -- file format -----------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = random_cnn(5, stride=2, pad=1)
    model.classes = np.array(["a", "b", "c"])
    path = tmp_path / "m.npz"
    model.save(path)
    back = Model.load(path)
    assert back.input_shape == model.input_shape and back.head == model.head
    assert [type(layer) for layer in back.layers] == [type(layer) for layer in model.layers]
    assert back.layers[0].stride == (2, 2) and back.layers[0].padding == (1, 1)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(back.classes, model.classes)  # type: ignore[arg-type]
    x = np.random.default_rng(0).normal(size=(3, 72))
    np.testing.assert_array_equal(back.forward(x), model.forward(x))
    np.testing.assert_array_equal(back.reference(x, 10, P31), model.reference(x, 10, P31))


def test_load_rejects_bad_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.npz"
    np.savez(bad, spam=np.zeros(3))
    with pytest.raises(ParameterError, match="format"):
        Model.load(bad)
    pool = tmp_path / "pool.npz"
    spec = {"input_shape": [1, 4, 4], "head": "argmax", "layers": [{"type": "maxpool2d", "kernel": [2, 2]}]}
    np.savez(pool, format=np.array("private-mdi-model"), version=np.array(1), spec=np.array(json.dumps(spec)))
    with pytest.raises(UnsupportedModelError, match="MaxPool2d"):
        Model.load(pool)
    weird = tmp_path / "weird.npz"
    spec["layers"] = [{"type": "softmax"}]
    np.savez(
        weird, format=np.array("private-mdi-model"), version=np.array(1), spec=np.array(json.dumps(spec))
    )
    with pytest.raises(UnsupportedModelError, match="softmax"):
        Model.load(weird)
    with pytest.raises(ParameterError, match="cannot read"):
        Model.load(tmp_path / "missing.npz")


# -- placement -------------------------------------------------------------------------------------
def test_placement_round_robin_and_rule() -> None:
    g = np.random.default_rng(0)
    layers = []
    for i in range(5):
        layers += [Dense(g.normal(size=(3, 3)), np.zeros(3))] + ([ReLU()] if i < 4 else [])
    model = Model((3,), layers)
    assert model.placement(2).hosts == (1, 2, 1, 2, 1)
    pl = model.placement(3)
    assert pl.hosts == (1, 2, 3, 1, 2)
    assert pl.host(4) == 1 and pl.evaluator(1) == 2 and pl.layers_of(1) == [1, 4]
    assert model.placement(2, hosts=[2, 1, 2, 1, 2]).hosts == (2, 1, 2, 1, 2)
    with pytest.raises(PlacementError, match="consecutive linear layers must be on different edges"):
        model.placement(3, hosts=[1, 2, 2, 3, 1])
    with pytest.raises(PlacementError, match="K >= 2"):
        model.placement(1)
    with pytest.raises(PlacementError, match=r"numbered 1\.\.3"):
        model.placement(3, hosts=[1, 2, 4, 1, 2])
    with pytest.raises(PlacementError, match="one edge per linear layer"):
        model.placement(2, hosts=[1, 2])


# -- shipped example models ------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "layers"), [("mlp", 4), ("cnn", 3)])
def test_shipped_digits_models(name: str, layers: int) -> None:
    from private_mdi.examples.train_digits import DATA_DIR, digits_split

    model = Model.load(DATA_DIR / f"digits_{name}.npz")
    assert model.num_linear == layers
    _, x_te, _, y_te = digits_split()
    acc = np.mean(model.predict(x_te) == y_te)
    assert acc >= 0.95
    fixed = model.reference_predict(x_te, 10, P31)
    assert np.mean(fixed == model.predict(x_te)) >= 0.99


# -- max pooling -----------------------------------------------------------------------------------
def maxpool_cnn(seed: int, *, pool_first: bool = False) -> Model:
    g = np.random.default_rng(seed)
    act = [MaxPool2d(2), ReLU()] if pool_first else [ReLU(), MaxPool2d(2)]
    return Model(
        (1, 5, 5),
        [
            Conv2d(g.normal(size=(3, 1, 3, 3)), g.normal(size=3) * 0.3, stride=1, padding=1),
            *act,
            Flatten(),
            Dense(g.normal(size=(4, 12)), g.normal(size=4) * 0.3),
            ReLU(),
            Dense(g.normal(size=(2, 4)), g.normal(size=2) * 0.3),
        ],
    )


def test_maxpool_forward_and_windows() -> None:
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 4))
    layer = MaxPool2d(2)
    got = layer.forward(x)
    assert got.shape == (2, 3, 2, 2) == (2, *layer.output_shape((3, 5, 4)))
    for n, c, i, j in np.ndindex(got.shape):
        assert got[n, c, i, j] == x[n, c, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].max()
    win = layer.windows((3, 5, 4))
    flat = x.reshape(2, -1)
    np.testing.assert_array_equal(flat[:, win].max(axis=2), got.reshape(2, -1))


@pytest.mark.parametrize("pool_first", [False, True])
def test_maxpool_model_dense_equivalent_and_reference(pool_first: bool) -> None:
    model = maxpool_cnn(3, pool_first=pool_first)
    assert [type(layer).__name__ for layer in model.layers[:3]] == ["Conv2d", "ReLU", "MaxPool2d"]
    lins = model.linear_layers()
    assert lins[0].out_dim == 75 and lins[0].pool is not None and lins[0].pool.shape == (12, 4)
    assert model.relu_counts() == [12, 4]
    x = np.random.default_rng(4).normal(size=(4, 25))
    np.testing.assert_allclose(model.forward_dense(x), model.forward(x), rtol=1e-10, atol=1e-10)
    got = model.reference(x, 10, P31)
    assert isinstance(got, np.ndarray)
    assert got.tolist() == naive_reference(model, x, 10, P31)
    np.testing.assert_allclose(model.reference_logits(x, 10, P31), model.forward(x), atol=0.05)


def test_maxpool_range_layers_bound_the_real_values() -> None:
    from private_mdi.fixedpoint import analyse_ranges

    model = maxpool_cnn(8)
    layers = model.range_layers()
    assert [w.shape for w, _ in layers] == [(75, 25), (4, 75), (2, 4)]
    rep = analyse_ranges(layers, P31, 10, input_bound=1.0)
    x = np.random.default_rng(5).uniform(-1, 1, size=(200, 25))
    _, vs = model.reference(x, 10, P31, trace=True)  # type: ignore[misc]
    for v, layer in zip(vs, rep.layers):
        assert np.abs(signed(v, P31)).max() <= layer.bound


def test_maxpool_save_load_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = maxpool_cnn(2)
    model.save(tmp_path / "m.npz")
    back = Model.load(tmp_path / "m.npz")
    x = np.random.default_rng(1).normal(size=(3, 25))
    np.testing.assert_array_equal(back.reference(x, 9, P31), model.reference(x, 9, P31))
