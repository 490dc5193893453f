"""ONNX import (issue 14): graphs built with onnx.helper, float forward checked against onnxruntime.

Tolerance: the graphs are float32 (what exporters write) and onnxruntime computes in float32, while
private_mdi computes in float64 from the same float32 parameters; outputs agree to ``rtol = atol = 1e-4``
(float32 has a 2^-24 ≈ 6e-8 unit roundoff; the sums here have at most a few hundred terms). The
fixed-point reference is compared with the float model at the fixed-point tolerance (f = 12).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx  # the test extra installs onnx and onnxruntime
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from private_mdi.errors import ParameterError, UnsupportedModelError
from private_mdi.fixedpoint import choose_parameters
from private_mdi.nn import Model

RTOL = ATOL = 1e-4
G = np.random.default_rng(7)


def init(name: str, arr: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(arr), name)


def rand(*shape: int, scale: float = 0.5) -> np.ndarray:
    return G.normal(0, scale, shape).astype(np.float32)


def build(nodes: list, inits: list, in_shape: list[int], out_dim: int) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *in_shape])],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, ["N", out_dim])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def run_ort(proto: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x.astype(np.float32)})[0]


def cnn() -> onnx.ModelProto:
    """Conv(pads, stride) + BatchNorm + Relu + MaxPool + AveragePool + Reshape + MatMul + Add + Dropout."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node(
            "BatchNormalization", ["c1", "g", "be", "mu", "var"], ["bn"], name="bn", epsilon=1e-5
        ),
        helper.make_node("Relu", ["bn"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["m1"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["m1", "w2"], ["c2"], name="conv2", strides=[2, 2]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("AveragePool", ["r2"], ["a2"], name="avg", kernel_shape=[1, 1]),
        helper.make_node("Reshape", ["a2", "shape"], ["f"], name="reshape"),
        helper.make_node("Dropout", ["f"], ["d"], name="drop"),
        helper.make_node("MatMul", ["d", "w3"], ["mm"], name="fc"),
        helper.make_node("Add", ["mm", "b3"], ["y"], name="fc_bias"),
    ]
    inits = [
        init("w1", rand(3, 1, 3, 3)),
        init("b1", rand(3)),
        init("g", rand(3) + 1.0),
        init("be", rand(3)),
        init("mu", rand(3)),
        init("var", np.abs(rand(3)) + 0.5),
        init("w2", rand(4, 3, 2, 2)),
        init("shape", np.array([-1, 16], dtype=np.int64)),
        init("w3", rand(16, 5)),
        init("b3", rand(5)),
    ]
    return build(nodes, inits, [1, 8, 8], 5)


def mlp() -> onnx.ModelProto:
    """Flatten + Gemm(transB) + Relu + Gemm(alpha, beta) + Identity + Softmax."""
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], name="flat", axis=1),
        helper.make_node("Gemm", ["f", "w1", "b1"], ["h"], name="fc1", transB=1),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        helper.make_node("Gemm", ["r", "w2", "b2"], ["o"], name="fc2", alpha=0.5, beta=2.0),
        helper.make_node("Identity", ["o"], ["i"], name="id"),
        helper.make_node("Softmax", ["i"], ["y"], name="softmax", axis=1),
    ]
    inits = [init("w1", rand(10, 12)), init("b1", rand(10)), init("w2", rand(10, 3)), init("b2", rand(3))]
    return build(nodes, inits, [3, 2, 2], 3)


def test_cnn_float_forward_matches_onnxruntime(tmp_path: Path) -> None:
    proto = cnn()
    path = tmp_path / "cnn.onnx"
    onnx.save(proto, str(path))
    x = G.normal(size=(6, 1, 8, 8)).astype(np.float32)
    want = run_ort(proto, x)
    for source in (proto, path, str(path), proto.SerializeToString()):
        model = Model.from_onnx(source)
        assert model.head == "argmax" and model.input_shape == (1, 8, 8)
        np.testing.assert_allclose(model.forward(x), want, rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(model.predict(x), want.argmax(axis=1))


def test_mlp_with_softmax_head_and_gemm_attributes() -> None:
    proto = mlp()
    x = G.normal(size=(7, 3, 2, 2)).astype(np.float32)
    model = Model.from_onnx(proto)
    probs = run_ort(proto, x)
    assert model.head == "argmax"
    np.testing.assert_array_equal(model.predict(x), probs.argmax(axis=1))
    logits = model.forward(x)
    soft = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(soft / soft.sum(axis=1, keepdims=True), probs, rtol=RTOL, atol=ATOL)


def test_global_average_pool_and_regression_head() -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], name="fc"),
    ]
    proto = build(
        nodes, [init("w", rand(4, 2, 3, 3)), init("w2", rand(4, 1)), init("b2", rand(1))], [2, 6, 6], 1
    )
    x = G.normal(size=(5, 2, 6, 6)).astype(np.float32)
    model = Model.from_onnx(proto)
    assert model.head == "identity"
    np.testing.assert_allclose(model.forward(x), run_ort(proto, x), rtol=RTOL, atol=ATOL)
    assert model.predict(x).shape == (5,)


def test_fixed_point_reference_matches_the_float_model() -> None:
    model = Model.from_onnx(cnn())
    x = G.normal(size=(20, 1, 8, 8))
    chosen = choose_parameters(model.range_layers())
    got = model.reference_logits(x, chosen.f, chosen.p)
    want = model.forward(x)
    # error per layer ≲ (fan-in) · 2^-f · |weights|: a loose, stated bound for this small net
    assert np.max(np.abs(got - want)) < 64 * 2.0**-chosen.f * (1 + np.max(np.abs(want)))


def test_unsupported_operators_are_named() -> None:
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "w", "b"], ["h"], name="fc"),
        helper.make_node("Tanh", ["h"], ["t"], name="squash"),
        helper.make_node("Gemm", ["t", "w2", "b2"], ["y"], name="out"),
    ]
    inits = [init("w", rand(4, 3)), init("b", rand(3)), init("w2", rand(3, 2)), init("b2", rand(2))]
    with pytest.raises(UnsupportedModelError, match=r"node 'squash' \(op Tanh\)"):
        Model.from_onnx(build(nodes, inits, [4], 2))


@pytest.mark.parametrize(
    ("node", "match"),
    [
        (helper.make_node("MaxPool", ["r"], ["y0"], name="mp", kernel_shape=[2, 2]), "stride = kernel"),
        (
            helper.make_node(
                "MaxPool", ["r"], ["y0"], name="mp", kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1]
            ),
            "padded",
        ),
        (
            helper.make_node("AveragePool", ["r"], ["y0"], name="ap", kernel_shape=[2, 2], ceil_mode=1),
            "ceil_mode",
        ),
        (helper.make_node("BatchNormalization", ["r", "g", "g", "g", "g"], ["y0"], name="bn"), "follow"),
    ],
)
def test_refused_configurations(node: onnx.NodeProto, match: str) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        node,
        helper.make_node("Flatten", ["y0"], ["y"], name="flat"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [init("w", rand(2, 1, 1, 1)), init("g", np.ones(2, np.float32))],
    )
    with pytest.raises(UnsupportedModelError, match=match):
        Model.from_onnx(helper.make_model(graph))


def test_bad_sources() -> None:
    with pytest.raises(ParameterError, match="does not exist"):
        Model.from_onnx("/nonexistent/model.onnx")
    with pytest.raises(ParameterError, match="cannot read ONNX"):
        Model.from_onnx(b"\xff\x00garbage" * 10)
    with pytest.raises(ParameterError, match="path, bytes"):
        Model.from_onnx(12)
