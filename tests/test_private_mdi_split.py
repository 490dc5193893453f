"""A linear layer split across edges (intra-layer parallelism): bit-exact runs, placement rules, who holds
what, and the metered gather traffic."""

from __future__ import annotations

import numpy as np
import pytest
from test_private_mdi_e2e import dense_model as e2e_dense_model

from cmpc.rand import RandomSource
from private_mdi.errors import PlacementError
from private_mdi.inference import PrivateInference
from private_mdi.model import Conv2d, Dense, Flatten, MaxPool2d, Model, ReLU
from private_mdi.paillier import PaillierKeyPair
from private_mdi.placement import plan_slices, round_robin, validate_placement
from private_mdi.protocol.spec import Phase


@pytest.fixture(scope="module")
def keys() -> PaillierKeyPair:
    return PaillierKeyPair.generate(2048, RandomSource(seed="split-paillier"))


def dense_model(seed: int, sizes: tuple[int, ...] = (4, 7, 5, 3)) -> Model:
    return e2e_dense_model(seed, sizes)


def conv_model(seed: int, pool: bool) -> Model:
    """Conv (4 channels, 4×4) → ReLU → [MaxPool 2] → Flatten → Dense → ReLU → Dense."""
    g = np.random.default_rng(seed)
    mid = 16 if pool else 64
    return Model(
        (1, 4, 4),
        [
            Conv2d(g.normal(size=(4, 1, 3, 3)), g.normal(size=4) * 0.3, stride=1, padding=1),
            ReLU(),
            *([MaxPool2d(2)] if pool else []),
            Flatten(),
            Dense(g.normal(size=(3, mid)) * 0.5, g.normal(size=3) * 0.3),
            ReLU(),
            Dense(g.normal(size=(2, 3)), g.normal(size=2) * 0.3),
        ],
    )


def x_of(seed: int, n: int, d: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, d))


@pytest.mark.parametrize("edges", [3, 4])
@pytest.mark.parametrize("mode", ["sequential", "threads"])
def test_split_dense_bit_exact(edges: int, mode: str, keys: PaillierKeyPair) -> None:
    model = dense_model(edges)
    split = {1: edges, 2: 2, 3: 2}  # first, middle and last layer split
    with PrivateInference(
        model, edges=edges, split=split, paillier_keys=keys, rng=RandomSource(seed=edges), mode=mode
    ) as pi:
        assert pi.placement.split and len(pi.placement.slice_hosts(1)) == edges
        x = x_of(edges, 3, 4)
        pi.offline(3)
        np.testing.assert_array_equal(pi.predict_raw(x), pi.reference_raw(x))


@pytest.mark.parametrize("edges", [3, 4])
@pytest.mark.parametrize("mode", ["sequential", "threads"])
@pytest.mark.parametrize("pool", [False, True])
def test_split_conv_bit_exact(edges: int, mode: str, pool: bool, keys: PaillierKeyPair) -> None:
    model = conv_model(edges, pool)
    with PrivateInference(
        model, edges=edges, split={1: edges}, paillier_keys=keys, rng=RandomSource(seed=3), mode=mode
    ) as pi:
        # whole output channels (16 rows each) when the 4 channels divide among the slices or under max
        # pooling (windows never straddle); otherwise rows balanced to within one
        rows = [(lo, hi) for _, lo, hi, _ in pi.spec.slices_of(1)]
        if pool or edges == 4:
            assert all(lo % 16 == 0 and hi % 16 == 0 for lo, hi in rows)
        else:
            sizes = [hi - lo for lo, hi in rows]
            assert max(sizes) - min(sizes) <= 1 and sum(sizes) == 64
        x = x_of(edges, 2, 16)
        pi.offline(2)
        np.testing.assert_array_equal(pi.predict_raw(x), pi.reference_raw(x))


def test_invalid_split_placements_refused(keys: PaillierKeyPair) -> None:
    with pytest.raises(PlacementError, match="distinct edges"):
        validate_placement([(1, 1), 2, 3], 3, 3)
    with pytest.raises(PlacementError, match="never evaluates"):
        validate_placement([(1, 2), 3, 1], 3, 3, evaluators=[(2, 2), (1,), ()])
    with pytest.raises(PlacementError, match=r"numbered 1\.\.3"):
        validate_placement([(1, 4), 2, 3], 3, 3)
    with pytest.raises(PlacementError, match=r"1\.\.K"):
        round_robin(3, 3, {1: 4})
    with pytest.raises(PlacementError, match=r"layers 1\.\.3"):
        round_robin(3, 3, {5: 2})
    with pytest.raises(PlacementError, match="cannot cut"):
        PrivateInference(dense_model(1, (4, 2, 5, 3)), edges=3, split={1: 3}, paillier_keys=keys)
    with pytest.raises(PlacementError, match="not both"):
        PrivateInference(dense_model(1), edges=3, split={1: 2}, hosts=[1, 2, 3], paillier_keys=keys)
    # a pooling that is not a sequence of contiguous row blocks straddles any cut
    pl = validate_placement([(1, 2), 3], 3, 2)
    with pytest.raises(PlacementError, match="straddle"):
        plan_slices(pl, (4, 4, 2), [np.array([[0, 2], [1, 3]])])


def test_each_edge_holds_only_its_slices(keys: PaillierKeyPair) -> None:
    model = dense_model(7, (4, 8, 5, 3))
    pi = PrivateInference(model, edges=4, split={1: 4}, paillier_keys=keys, rng=RandomSource(seed=7))
    pi.offline(1)
    q1 = pi.quantized[0].weight % pi.p
    seen = []
    for e in pi.edges:
        for ell, j in e.hosted_units:
            _, lo, hi, _ev = pi.spec.slices_of(ell)[j]
            w, _ = e.weights[ell]
            if ell == 1:
                np.testing.assert_array_equal(w, q1[lo:hi])
                seen.append((lo, hi))
                assert w.shape == (2, 4)
        units_keys = {u for _, u in e.bkeys.keys()}
        units_tables = {u for _, u in e.garbled.keys()}
        assert not units_keys & units_tables  # never the Δ-holder and the evaluator of one circuit
    assert sorted(seen) == [(0, 2), (2, 4), (4, 6), (6, 8)]
    pi.close()


def test_gather_traffic_is_metered(keys: PaillierKeyPair) -> None:
    model = dense_model(8)
    pi = PrivateInference(
        model, edges=3, split={1: 3}, paillier_keys=keys, rng=RandomSource(seed=8), mode="sequential"
    )
    pi.offline(2)
    pi.predict_raw(x_of(8, 2, 4))
    online = {k: t for k, t in pi.meter.by_pair().items() if k[0] == Phase.GATHER}
    host2 = pi.placement.host(2)
    # the evaluators of layer 1's slices other than host(2) itself send their slice of u_2 to host(2)
    evals = [e for e in pi.placement.evaluators[0] if e != host2]
    assert evals
    for e in evals:
        t = online[(Phase.GATHER, f"edge{e}", f"edge{host2}")]
        assert t.messages >= 1 and t.bytes > 0  # one batch of 2 inferences
    rep = pi.report
    assert rep.gather_bytes_per_inference > 0
    assert rep.to_dict()["gather_bytes_per_inference"] == rep.gather_bytes_per_inference


@pytest.mark.slow
def test_split_with_edges_as_processes(keys: PaillierKeyPair) -> None:
    """The slices travel in the spec JSON to party processes; first and last layers split."""
    with PrivateInference(
        dense_model(3, (4, 6, 5, 3)),
        edges=3,
        split={1: 3, 3: 2},
        paillier_keys=keys,
        processes=True,
        insecure=True,
        timeout=60,
    ) as pi:
        x = x_of(3, 2, 4)
        pi.offline(2)
        np.testing.assert_array_equal(pi.predict_raw(x), pi.reference_raw(x))
        assert pi.report.gather_bytes_per_inference > 0


def test_placement_built_directly_gets_default_evaluators() -> None:
    from private_mdi.placement import Placement

    pl = Placement(4, ((1, 2, 3, 4), 2, 3))
    assert pl.evaluators == ((2, 3, 4, 1), (3,), ())
    assert pl == validate_placement([(1, 2, 3, 4), 2, 3], 4, 3)
    assert pl.layers_of(2) == [1, 2] and pl.split and not pl.is_split(2)
    assert Placement(2, (1, 2, 1)).evaluator(1) == 2
