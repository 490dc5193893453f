"""PrivateInference with a user's own model on standardized data: ranges that just work (issue 14)."""

from __future__ import annotations

import numpy as np
import pytest

from cmpc.rand import RandomSource
from private_mdi.fixedpoint.input_range import InputRangeError, InputRangeWarning
from private_mdi.inference import PrivateInference
from private_mdi.model import Model
from private_mdi.paillier import PaillierKeyPair

sklearn = pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def keys() -> PaillierKeyPair:
    # 2048 bits keeps the test fast; the library default is 3072 (docs/threat-model.md)
    return PaillierKeyPair.generate(2048, RandomSource(seed="ranges-paillier"))


@pytest.fixture(scope="module")
def wine_mlp():
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    x, y = load_wine(return_X_y=True)
    x_tr, x_te, y_tr, _ = train_test_split(x, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(x_tr)
    x_tr, x_te = scaler.transform(x_tr), scaler.transform(x_te)
    mlp = MLPClassifier((8,), max_iter=2000, random_state=0).fit(x_tr, y_tr)
    return Model.from_sklearn(mlp), mlp, x_tr, x_te


def test_calibration_then_held_out_rows_just_work(wine_mlp, keys) -> None:
    model, mlp, x_tr, x_te = wine_mlp
    x = x_te[:6]
    pi = PrivateInference(model, edges=2, calibration=x_tr, paillier_keys=keys, rng=RandomSource(seed=3))
    pi.offline(len(x))
    got = pi.predict(x)  # held-out rows are inside the widened calibrated range
    np.testing.assert_array_equal(got, pi.reference(x))
    np.testing.assert_array_equal(got, mlp.predict(x))


def test_default_range_covers_standardized_data(wine_mlp, keys) -> None:
    model, _, _, x_te = wine_mlp
    pi = PrivateInference(model, edges=2, paillier_keys=keys, rng=RandomSource(seed=4))
    assert pi.ranges.input_range is not None
    assert np.all(np.abs(x_te) <= 8)  # the data of this test lies in the default |x| <= 8
    pi.offline(2)
    np.testing.assert_array_equal(pi.predict(x_te[:2]), pi.reference(x_te[:2]))


def test_out_of_range_is_refused_in_user_units_before_any_message(wine_mlp, keys) -> None:
    model, _, _, x_te = wine_mlp
    pi = PrivateInference(model, edges=2, input_bound=3.0, paillier_keys=keys, rng=RandomSource(seed=5))
    pi.offline(1)
    bad = x_te[:1].copy()
    bad[0, 4] = 7.5
    before = pi.meter.total_bytes()
    with pytest.raises(InputRangeError) as err:
        pi.predict(bad)
    text = str(err.value)
    assert "feature 4" in text and "7.5" in text and ("calibration=" in text or "input_bound=" in text)
    assert pi.meter.total_bytes() == before  # nothing was sent
    assert pi.available == 1  # the material was not consumed


def test_clip_warns_and_matches_the_clipped_reference(wine_mlp, keys) -> None:
    model, _, _, x_te = wine_mlp
    pi = PrivateInference(model, edges=2, input_bound=3.0, paillier_keys=keys, rng=RandomSource(seed=6),
                          on_out_of_range="clip")
    pi.offline(1)
    bad = x_te[:1].copy()
    bad[0, 2] = -9.0
    with pytest.warns(InputRangeWarning):
        got = pi.predict_raw(bad)
    clipped = np.clip(bad, -3.0, 3.0)
    np.testing.assert_array_equal(got, pi.reference_raw(clipped))
