"""Issue 14: a conv model whose segments are lowered to sparse (CSR) operators runs end to end, bit-exact
against its fixed-point reference, and gives the same labels as the dense lowering."""

from __future__ import annotations

import numpy as np
import pytest

from cmpc.rand import RandomSource
from private_mdi.inference import PrivateInference
from private_mdi.nn import lowering
from private_mdi.nn.layers import Conv2d, Dense, Flatten, MaxPool2d, ReLU
from private_mdi.nn.model import Model
from private_mdi.nn.operator import SparseOperator
from private_mdi.paillier import PaillierKeyPair


def _conv_model() -> Model:
    g = np.random.default_rng(21)
    return Model(
        (1, 8, 8),
        [
            Conv2d(g.normal(0, 0.4, (2, 1, 3, 3)), g.normal(0, 0.1, 2), padding=1),
            ReLU(),
            MaxPool2d(2),
            Conv2d(g.normal(0, 0.3, (3, 2, 3, 3)), g.normal(0, 0.1, 3)),
            ReLU(),
            Flatten(),
            Dense(g.normal(0, 0.3, (4, 12)), g.normal(0, 0.1, 4)),
        ],
    )


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
    np.testing.assert_array_equal(got, pi.reference_raw(x))
    np.testing.assert_array_equal(got, dense.reference(x, pi.f, pi.p))  # same as the dense lowering
