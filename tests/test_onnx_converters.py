"""ONNX graphs as converters write them (issue 14): skl2onnx classifiers and regressors end to end.

skl2onnx appends a label tail to every classifier (``ArgMax → ArrayFeatureExtractor(classes) → Reshape →
Cast``, a second graph output, ``Sub``/``Concat`` for binary, optionally ``ZipMap``). The imported model must
predict what scikit-learn and onnxruntime's ``label`` output predict, with scikit-learn's labels; tails
that would change the classes are refused. skl2onnx and onnxruntime come with the test extra.
"""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import skl2onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from cmpc.rand import RandomSource
from private_mdi.errors import UnsupportedModelError
from private_mdi.inference import PrivateInference
from private_mdi.nn import Model
from private_mdi.paillier import PaillierKeyPair


def _data(load) -> tuple[np.ndarray, np.ndarray]:
    x, y = load(return_X_y=True)
    return StandardScaler().fit_transform(x).astype(np.float32), y


def _fit(est, x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of the small test fits
        return est.fit(x, y)


def _ort_label(proto: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: x})
    return np.asarray(out[0]).reshape(-1)


@pytest.mark.parametrize("load", [load_breast_cancer, load_iris], ids=["binary", "multiclass"])
@pytest.mark.parametrize("labels", ["ints", "strings"])
@pytest.mark.parametrize("zipmap", [False, True])
def test_skl2onnx_classifier_predicts_like_sklearn_and_onnxruntime(load, labels, zipmap) -> None:
    x, y = _data(load)
    if labels == "strings":
        y = np.array([f"class-{v}" for v in y])
    mlp = _fit(MLPClassifier((12,), max_iter=300, random_state=0), x, y)
    proto = skl2onnx.to_onnx(mlp, x[:1], options={id(mlp): {"zipmap": zipmap}})
    model = Model.from_onnx(proto)
    assert model.head == ("binary" if load is load_breast_cancer else "argmax")
    assert list(model.classes) == list(mlp.classes_)
    ours = model.predict(x.astype(np.float64))
    np.testing.assert_array_equal(ours, mlp.predict(x))
    np.testing.assert_array_equal(ours, _ort_label(proto, x).astype(ours.dtype))


def test_skl2onnx_regressor_output_shape_follows_sklearn() -> None:
    x, _ = _data(load_iris)
    reg = _fit(MLPRegressor(hidden_layer_sizes=(8,), max_iter=300, random_state=0), x, x[:, 0])
    model = Model.from_onnx(skl2onnx.to_onnx(reg, x[:1]))
    out = model.predict(x.astype(np.float64))
    assert model.head == "identity" and out.shape == (len(x),)
    np.testing.assert_allclose(out, reg.predict(x), rtol=1e-4, atol=1e-4)


def test_skl2onnx_model_runs_privately_bit_exact() -> None:
    x, y = _data(load_iris)
    y = np.array(["setosa", "versicolor", "virginica"])[y]
    mlp = _fit(MLPClassifier((8,), max_iter=300, random_state=0), x, y)
    model = Model.from_onnx(skl2onnx.to_onnx(mlp, x[:1], options={id(mlp): {"zipmap": False}}))
    keys = PaillierKeyPair.generate(2048, RandomSource(seed="onnx-converters"))
    with PrivateInference(
        model, edges=2, calibration=x, paillier_keys=keys, rng=RandomSource(seed=3), timeout=60
    ) as pi:
        pi.offline(4)
        got = pi.predict(x[:4])
        assert got.dtype.kind == "U"
        np.testing.assert_array_equal(got, pi.reference(x[:4]))
        assert (got == mlp.predict(x[:4])).mean() >= 0.75  # fixed point may flip a near tie


# -- hand-built tails that must be refused ------------------------------------------------------------
def _graph(tail: list, outputs: list[str], *, head: str = "Softmax", n_out: int = 3) -> onnx.ModelProto:
    g = np.random.default_rng(0)  # test-data-ok: weights of a test graph
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["s"], name="mm"),
        helper.make_node(head, ["s"], ["p"], name="act"),
        *tail,
    ]
    inits = [
        numpy_helper.from_array(g.normal(size=(4, n_out)).astype(np.float32), "w"),
        numpy_helper.from_array(np.ones(1, np.float32), "one"),
        numpy_helper.from_array(np.arange(n_out, dtype=np.int64), "classes"),
    ]
    graph = helper.make_graph(
        nodes,
        "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) for o in outputs],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_a_hand_built_label_tail_is_accepted() -> None:
    tail = [
        helper.make_node("ArgMax", ["p"], ["i"], name="am", axis=1),
        helper.make_node(
            "ArrayFeatureExtractor", ["classes", "i"], ["label"], name="afe", domain="ai.onnx.ml"
        ),
    ]
    model = Model.from_onnx(_graph(tail, ["label", "p"]))
    assert model.head == "argmax" and list(model.classes) == [0, 1, 2]


@pytest.mark.parametrize(
    ("tail", "outputs", "head", "n_out", "match"),
    [
        # ONNX's default ArgMax axis is 0: over the batch, not the classes
        (
            [helper.make_node("ArgMax", ["p"], ["i"], name="am")],
            ["i"],
            "Softmax",
            3,
            "not a recognised label",
        ),
        # [p, 1 − p] would swap the two classes
        (
            [
                helper.make_node("Sub", ["one", "p"], ["q"], name="sub"),
                helper.make_node("Concat", ["p", "q"], ["pr"], name="cat", axis=1),
            ],
            ["pr"],
            "Sigmoid",
            1,
            "not a recognised label",
        ),
        # argmax over independent sigmoids is not the multilabel head
        (
            [helper.make_node("ArgMax", ["p"], ["i"], name="am", axis=1)],
            ["i"],
            "Sigmoid",
            3,
            "not a recognised",
        ),
        # arithmetic after the activation
        ([helper.make_node("Mul", ["p", "one"], ["m"], name="mul")], ["m"], "Softmax", 3, "label steps"),
        # an output that does not come from the scores
        ([], ["p", "x"], "Softmax", 3, "do not come from the model's scores|not the end of the chain"),
    ],
    ids=["argmax-axis-0", "binary-swapped", "argmax-of-sigmoids", "mul-after-softmax", "foreign-output"],
)
def test_label_tails_that_change_the_classes_are_refused(tail, outputs, head, n_out, match) -> None:
    with pytest.raises(UnsupportedModelError, match=match):
        Model.from_onnx(_graph(tail, outputs, head=head, n_out=n_out))


def test_cast_to_an_integer_type_inside_the_chain_is_refused() -> None:
    nodes = [
        helper.make_node("Cast", ["x"], ["c"], name="to_int", to=TensorProto.INT64),
        helper.make_node("MatMul", ["c", "w"], ["y"], name="mm"),
    ]
    graph = helper.make_graph(
        nodes,
        "c",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        [numpy_helper.from_array(np.ones((4, 2), np.float32), "w")],
    )
    with pytest.raises(UnsupportedModelError, match=r"node 'to_int' .*floating-point"):
        Model.from_onnx(helper.make_model(graph))
