"""Issue 14: a conv model whose segments are lowered to sparse (CSR) operators runs end to end, bit-exact
against its fixed-point reference, and gives the same labels as the dense lowering."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_nn_operator import _small_conv_layers

from cmpc.errors import ProtocolError
from cmpc.field import PrimeField
from cmpc.rand import RandomSource
from cmpc.wire import join_parts, split_parts
from private_mdi.inference import PrivateInference
from private_mdi.nn import lowering
from private_mdi.nn.model import Model
from private_mdi.nn.operator import SparseOperator
from private_mdi.paillier import PaillierKeyPair
from private_mdi.protocol.sparse_wire import decode_sparse, encode_sparse


def _conv_model() -> Model:
    return Model((1, 8, 8), _small_conv_layers())  # the conv model of the lowering tests


def test_sparse_conv_model_end_to_end_is_bit_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    dense = _conv_model()
    monkeypatch.setattr(lowering, "SPARSE_MIN_ELEMENTS", 0)  # every conv segment sparse
    model = _conv_model()
    kinds = [isinstance(lin.weight, SparseOperator) for lin in model.linear_layers()]
    assert kinds == [True, True, False]
    keys = PaillierKeyPair.generate(2048, RandomSource(seed="sparse-e2e"))
    pi = PrivateInference(model, edges=2, paillier_keys=keys, rng=RandomSource(seed=3), timeout=30)
    x = np.random.default_rng(4).uniform(-1, 1, (2, 1, 8, 8))
    pi.offline(2)
    got = pi.predict_raw(x)
    held = [w for e in pi.edges for w, _ in e.weights.values()]
    assert sum(isinstance(w, SparseOperator) for w in held) == 2  # the conv layers travelled as CSR
    np.testing.assert_array_equal(got, pi.reference_raw(x))
    np.testing.assert_array_equal(got, dense.reference(x, pi.f, pi.p))  # same as the dense lowering


_P61 = 2**61 - 1


@st.composite
def _operators(draw: st.DrawFn) -> SparseOperator:
    rows, cols = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    g = np.random.default_rng(seed)
    w = g.integers(-(2**28), 2**28, (rows, cols)) * (g.random((rows, cols)) < draw(st.floats(0, 1)))
    return SparseOperator.from_dense(w.astype(np.int64))


@given(_operators(), st.sampled_from([_P61, 2**31 - 1, 2**41 - 21]))
@settings(max_examples=60, deadline=None)
def test_csr_weight_codec_round_trips(op: SparseOperator, p: int) -> None:
    back = decode_sparse(encode_sparse(op, p), p, op.shape)
    np.testing.assert_array_equal(back.to_dense(), op.to_dense())  # |W| < p/2: centred residues = W


@given(_operators(), st.integers(1, 3), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_matmul_mod_on_a_batch_equals_the_dense_product(op: SparseOperator, n: int, seed: int) -> None:
    u = np.random.default_rng(seed).integers(0, _P61, (op.in_dim, n))
    fld = PrimeField(_P61)
    np.testing.assert_array_equal(op.matmul_mod(u, _P61), fld.raw_matmul(np.mod(op.to_dense(), _P61), u))


def test_csr_weight_codec_rejects_bad_input() -> None:
    op = SparseOperator.from_dense(np.array([[1, 0, -2], [0, 3, 0]], np.int64))
    good = encode_sparse(op, _P61)
    with pytest.raises(ProtocolError, match="starts with"):
        decode_sparse(b"XSR1" + good[4:], _P61, op.shape)
    with pytest.raises(ProtocolError, match="shape"):
        decode_sparse(good, _P61, (3, 3))
    with pytest.raises(ProtocolError):
        decode_sparse(good[:-3], _P61, op.shape)
    head, ip, _ix, data = split_parts(good[4:], 4)
    bad_ix = np.array([0, 7, 1], "<u4").tobytes()  # column 7 of a 3-column operator
    with pytest.raises(ProtocolError, match="column index"):
        decode_sparse(b"CSR1" + join_parts([head, ip, bad_ix, data]), _P61, op.shape)


def test_cloud_model_file_keeps_sparse_layers_sparse(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from private_mdi.errors import ParameterError
    from private_mdi.protocol.cloud import CloudLayer
    from private_mdi.protocol.execution import read_cloud_layers, write_cloud_layers

    monkeypatch.setattr(lowering, "SPARSE_MIN_ELEMENTS", 0)
    keys = PaillierKeyPair.generate(2048, RandomSource(seed="sparse-file"))
    pi = PrivateInference(_conv_model(), edges=2, paillier_keys=keys, mode="sequential")
    layers = [CloudLayer(q.index, q.weight, q.bias_mod(pi.p)) for q in pi.quantized]
    path = tmp_path / "cloud.npz"
    write_cloud_layers(path, layers)
    with np.load(path) as data:
        assert "w1_indptr" in data.files and "w1" not in data.files and "w3" in data.files
    back = read_cloud_layers(path, pi.spec)
    for a, b in zip(layers, back):
        if isinstance(a.weight, SparseOperator):
            assert isinstance(b.weight, SparseOperator)
            np.testing.assert_array_equal(a.weight.to_dense(), b.weight.to_dense())
        else:
            np.testing.assert_array_equal(a.weight, b.weight)
        np.testing.assert_array_equal(a.bias_mod, b.bias_mod)
    # a corrupted CSR structure or a missing member is a named error, not a wrong model
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    bad = dict(arrays, w1_indices=arrays["w1_indices"] + 10_000)
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(ParameterError, match="layer 1"):
        read_cloud_layers(tmp_path / "bad.npz", pi.spec)
    missing = {k: v for k, v in arrays.items() if k != "b2"}
    np.savez(tmp_path / "missing.npz", **missing)
    with pytest.raises(ParameterError, match="'b2' is missing"):
        read_cloud_layers(tmp_path / "missing.npz", pi.spec)
