"""Sparse (CSR) operators: conv/avg-pool lowering without dense equivalents, exact GF(p) products, and the
Paillier correlation over a sparse operator (same reply as the dense matrix)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmpc.errors import FieldRangeError, ShapeError
from cmpc.field import PrimeField
from cmpc.rand import RandomSource
from private_mdi.correlation import (
    CorrelationParams,
    client_decrypt_reply,
    client_encrypt_mask,
    owner_respond,
    weight_bound_for,
)
from private_mdi.errors import ParameterError, UnsupportedModelError
from private_mdi.nn.layers import AvgPool2d, Conv2d, Dense, Flatten, MaxPool2d, ReLU
from private_mdi.nn.lowering import build_linear
from private_mdi.nn.operator import SparseOperator, conv2d_operator, segment_operator
from private_mdi.nn.zoo import cifar_cnn, minionn_mnist, relu_count
from private_mdi.paillier import PaillierKeyPair

PRIMES = [97, 2**31 - 1, 137438953447, 2**61 - 1]


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)  # test-data-ok: weights and vectors, not secrets


@settings(max_examples=40, deadline=None)
@given(
    ci=st.integers(1, 3),
    co=st.integers(1, 3),
    h=st.integers(3, 7),
    w=st.integers(3, 7),
    k=st.integers(1, 3),
    s=st.integers(1, 2),
    pad=st.integers(0, 1),
    seed=st.integers(0, 99),
)
def test_conv_operator_equals_dense_equivalent(ci, co, h, w, k, s, pad, seed) -> None:
    g = _rng(seed)
    conv = Conv2d(g.normal(size=(co, ci, k, k)), g.normal(size=co), stride=s, padding=pad)
    op = conv2d_operator(conv, (ci, h, w))
    dense = build_linear((ci, h, w), [conv])[0].weight
    assert np.array_equal(op.to_dense(), dense)  # each entry is one kernel weight: exact
    assert op.nnz == np.count_nonzero(dense)
    x = g.normal(size=(ci, h, w))
    assert np.allclose(op.matmul(x.reshape(-1)), conv.forward_unbiased(x[None]).reshape(-1))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 999), pool=st.sampled_from([1, 2]))
def test_segment_operator_matches_the_dense_lowering(seed: int, pool: int) -> None:
    g = _rng(seed)
    seg = [
        Conv2d(g.normal(size=(2, 1, 3, 3)), g.normal(size=2), padding=1),
        AvgPool2d(pool),
        Flatten(),
        Dense(g.normal(size=(3, 2 * (6 // pool) ** 2)), g.normal(size=3)),
    ]
    op, b, shape = segment_operator((1, 6, 6), seg)
    lin = build_linear((1, 6, 6), seg)[0]
    assert shape == (3,)
    assert np.allclose(op.to_dense(), lin.weight, rtol=1e-12, atol=1e-12)
    assert np.allclose(b, lin.bias)


@settings(max_examples=60, deadline=None)
@given(
    p=st.sampled_from(PRIMES),
    n_out=st.integers(1, 12),
    n_in=st.integers(1, 12),
    bits=st.integers(1, 20),
    density=st.floats(0.0, 1.0),
    cols=st.integers(0, 3),
    seed=st.integers(0, 9999),
)
def test_matmul_mod_is_exact(p, n_out, n_in, bits, density, cols, seed) -> None:
    g = _rng(seed)
    bound = min(1 << bits, (p - 1) // 2)
    w = g.integers(-bound, bound + 1, (n_out, n_in)) * (g.random((n_out, n_in)) < density)
    op = SparseOperator.from_dense(w)
    shape = (n_in,) if cols == 0 else (n_in, cols)
    u = g.integers(0, p, shape, dtype=np.int64)
    fld = PrimeField(p)
    assert np.array_equal(op.matmul_mod(u, p), fld.raw_matmul(np.mod(w, p), u))
    assert np.array_equal(op.to_dense(), w)  # round trip


def test_matmul_mod_on_a_minionn_sized_conv() -> None:
    g = _rng(5)
    conv = Conv2d(g.integers(-4000, 4001, (16, 1, 5, 5)).astype(float), np.zeros(16))
    op = conv2d_operator(conv, (1, 28, 28)).map_data(conv2d_operator(conv, (1, 28, 28)).data.astype(np.int64))
    assert op.shape == (9216, 784) and op.nnz == 9216 * 25  # 25 of 784 per row are non-zero
    assert op.nbytes < 9216 * 784 * 8 // 10
    p = 2**61 - 1
    u = g.integers(0, p, 784, dtype=np.int64)
    dense = np.mod(op.to_dense(), p)
    assert np.array_equal(op.matmul_mod(u, p), PrimeField(p).raw_matmul(dense, u))


def test_rows_slice_and_errors() -> None:
    w = np.array([[0, 2, 0], [0, 0, 0], [-1, 0, 3]])
    op = SparseOperator.from_dense(w)
    assert np.array_equal(op.rows(1, 3).to_dense(), w[1:3])
    cols, vals = op.row(2)
    assert cols.tolist() == [0, 2] and vals.tolist() == [-1, 3]
    assert op.abs_max() == 3 and weight_bound_for(op) == weight_bound_for(w) == 3
    with pytest.raises(ShapeError, match="row slice"):
        op.rows(2, 5)
    with pytest.raises(ShapeError, match="shape"):
        op.matmul_mod(np.zeros(4, dtype=np.int64), 97)
    with pytest.raises(ParameterError, match="integer"):
        SparseOperator.from_dense(w.astype(float)).matmul_mod(np.zeros(3, dtype=np.int64), 97)
    with pytest.raises(ShapeError, match="column indices"):
        SparseOperator((1, 2), np.array([0, 1]), np.array([5]), np.array([1]))
    with pytest.raises(ShapeError, match="indptr"):
        SparseOperator((2, 2), np.array([0, 1]), np.array([0]), np.array([1]))
    with pytest.raises(UnsupportedModelError, match="not a linear layer"):
        segment_operator((2,), [ReLU()])


@pytest.fixture(scope="module")
def kp() -> PaillierKeyPair:
    return PaillierKeyPair.generate(2048, RandomSource(seed="test-operator-paillier"))


def test_sparse_correlation_equals_dense(kp: PaillierKeyPair) -> None:
    """a ≡ W r − s (mod p) for a quantised conv operator, and byte-identical to the dense-matrix reply."""
    g = _rng(3)
    conv = Conv2d(g.integers(-300, 301, (3, 2, 3, 3)).astype(float), np.zeros(3), padding=1)
    op = conv2d_operator(conv, (2, 5, 5))
    op = op.map_data(op.data.astype(np.int64))
    dense = op.to_dense()
    p = 2**31 - 1
    prm = CorrelationParams(p, op.in_dim, op.out_dim, weight_bound_for(op), 2)
    replies = []
    for w in (op, dense):
        rng = RandomSource(seed="op-corr")
        state, msg = client_encrypt_mask(kp, prm, rng)
        s, reply = owner_respond(kp.public, w, prm, msg, rng)
        r, a = client_decrypt_reply(kp, state, reply)  # type: ignore[misc]
        expect = (np.mod(dense, p) @ r.T.astype(object)).T - s
        assert np.array_equal(a, np.mod(expect, p).astype(np.int64))
        replies.append(reply.to_bytes())
    assert replies[0] == replies[1]
    small = CorrelationParams(p, op.in_dim, op.out_dim, 255, 1)
    _, msg = client_encrypt_mask(kp, small, RandomSource(seed=1))
    with pytest.raises(FieldRangeError, match="weight_bound"):
        owner_respond(kp.public, op, small, msg, RandomSource(seed=2))
    wrong = CorrelationParams(p, op.in_dim, op.out_dim + 1, weight_bound_for(op), 1)
    _, msg = client_encrypt_mask(kp, wrong, RandomSource(seed=1))
    with pytest.raises(ShapeError, match="shape"):
        owner_respond(kp.public, op, wrong, msg, RandomSource(seed=2))


def test_zoo_architectures() -> None:
    m = minionn_mnist()
    assert m.input_shape == (1, 28, 28) and m.relu_counts() == [2304, 256, 100]
    assert relu_count(m) == 9216 + 1024 + 100  # before the in-circuit 2×2 max pools
    c = cifar_cnn(4)
    assert c.input_shape == (3, 32, 32) and len(c.relu_counts()) == 7
    assert m.forward(np.zeros((1, 1, 28, 28))).shape == (1, 10)
    with pytest.raises(ParameterError, match="channels"):
        cifar_cnn(0)


def test_large_conv_segments_lower_sparse_and_only_dense_ones_are_refused() -> None:
    """cifar_cnn(8): the conv segments above SPARSE_MIN_ELEMENTS become CSR operators (no dense-size
    refusal); a dense segment over MAX_DENSE_ELEMENTS (a huge Dense layer) is still refused."""
    c = cifar_cnn(8)
    kinds = [isinstance(lin.weight, SparseOperator) for lin in c.linear_layers()]
    assert kinds[0] and not kinds[-1]  # first conv 8192 × 3072 sparse, last FC dense
    first = c.linear_layers()[0].weight
    assert isinstance(first, SparseOperator) and first.nnz <= 8192 * 27
    x = np.random.default_rng(0).uniform(0, 1, (2, 3, 32, 32))
    np.testing.assert_allclose(c.forward_dense(x), c.forward(x), rtol=1e-9, atol=1e-9)
    with pytest.raises(UnsupportedModelError, match="dense equivalent needs"):
        build_linear((12000,), [Dense(np.zeros((12000, 12000)), np.zeros(12000))])


def _small_conv_layers() -> list[Any]:
    g = np.random.default_rng(5)
    return [
        Conv2d(g.normal(0, 0.4, (3, 1, 3, 3)), g.normal(0, 0.1, 3), padding=1),
        ReLU(),
        MaxPool2d(2),
        Conv2d(g.normal(0, 0.3, (4, 3, 3, 3)), g.normal(0, 0.1, 4)),
        ReLU(),
        Flatten(),
        Dense(g.normal(0, 0.3, (5, 16)), g.normal(0, 0.1, 5)),
    ]


def test_sparse_lowering_matches_dense_quantisation_reference_and_parameters() -> None:
    """The same model lowered dense and sparse (sparse_above=0): same Ŵ, same fixed-point reference, and
    the range analysis chooses the same (p, f) with the same per-layer bounds."""
    from private_mdi.fixedpoint import FixedPoint, choose_parameters, reference_forward
    from private_mdi.nn.lowering import quantize, range_layers

    layers = _small_conv_layers()
    dense = build_linear((1, 8, 8), layers)
    sparse = build_linear((1, 8, 8), layers, sparse_above=0)
    assert isinstance(sparse[0].weight, SparseOperator) and isinstance(sparse[1].weight, SparseOperator)
    assert not isinstance(dense[0].weight, SparseOperator)
    fp = FixedPoint(2**61 - 1, 10)
    qd, qs = quantize(dense, fp), quantize(sparse, fp)
    for a, b in zip(qd, qs, strict=True):
        w = b.weight.to_dense() if isinstance(b.weight, SparseOperator) else b.weight
        np.testing.assert_array_equal(a.weight, w)
        np.testing.assert_array_equal(a.bias, b.bias)
        assert a.weight_abs_max() == b.weight_abs_max()
    x = fp.encode(np.random.default_rng(1).uniform(-1, 1, (3, 64)), what="input")
    np.testing.assert_array_equal(reference_forward(fp, qd, x), reference_forward(fp, qs, x))
    pd = choose_parameters(range_layers(dense), input_bound=1.0)
    ps = choose_parameters(range_layers(sparse), input_bound=1.0)
    assert (pd.p, pd.f) == (ps.p, ps.f)
    assert [r.bound for r in pd.report.layers] == [r.bound for r in ps.report.layers]
    assert [r.weight_bound for r in pd.report.layers] == [r.weight_bound for r in ps.report.layers]


@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**40))
@settings(max_examples=30, deadline=None)
def test_sparse_interval_propagation_is_exact_beyond_int64(rows: int, cols: int, seed: int) -> None:
    """Entries and inputs large enough to leave the int64 fast path: the sparse limb product equals the
    dense object-array product."""
    import scipy.sparse as sp

    from private_mdi.fixedpoint.ranges import _interval_matvec

    g = np.random.default_rng(seed)
    w = g.integers(-(2**40), 2**40, (rows, cols)) * (g.random((rows, cols)) < 0.6)
    lo = np.array([-int(v) << 20 for v in g.integers(0, 2**40, cols)], dtype=object)
    hi = np.array([int(v) << 20 for v in g.integers(0, 2**40, cols)], dtype=object)
    dl, du = _interval_matvec(w.astype(object), lo, hi)
    sl, su = _interval_matvec(sp.csr_matrix(w.astype(np.int64)), lo, hi)
    assert list(dl) == list(sl) and list(du) == list(su)
    op = conv2d_operator(Conv2d(np.ones((64, 3, 3, 3)), np.zeros(64), padding=1), (3, 32, 32))
    assert op.shape == (65536, 3072) and op.nbytes < 65536 * 3072 * 8 // 40  # 26.4 MiB vs 1.5 GiB dense


def test_small_conv_model_sparse_forward_is_bit_exact() -> None:
    """The fixed-point forward pass with every layer as a sparse operator (``matmul_mod``) equals
    ``Model.reference`` (dense ``raw_matmul``) bit for bit; the conv's operator quantises to the same Ŵ."""
    from private_mdi.fixedpoint import FixedPoint
    from private_mdi.nn.model import Model

    g = _rng(11)
    conv = Conv2d(g.normal(0, 0.3, (4, 2, 3, 3)), g.normal(0, 0.01, 4), padding=1)
    model = Model(
        (2, 6, 6), [conv, ReLU(), MaxPool2d(2), Flatten(), Dense(g.normal(0, 0.2, (5, 36)), np.zeros(5))]
    )
    p, f = 137438953447, 8
    fp = FixedPoint(p, f)
    x = g.random((3, 2, 6, 6))
    ref = model.reference(x, f, p)
    qs = model.quantized(f)
    first = conv2d_operator(conv, (2, 6, 6))
    assert np.array_equal(
        SparseOperator.from_dense(qs[0].weight).data, fp.quantize(first.data, what="conv weights")
    )
    h = fp.encode(x.reshape(3, -1), what="input")
    for q in qs:
        v = np.mod(SparseOperator.from_dense(q.weight).matmul_mod(h.T, p).T + q.bias_mod(p), p)
        if q.relu_after:
            h = fp.truncate(v)
            if q.pool is not None:
                h = h[:, q.pool].max(axis=2)
    assert np.array_equal(v, ref)
