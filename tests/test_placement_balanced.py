"""placement.balanced: valid placements (rules 1–3) and a largest load near the optimum of its cost model."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from private_mdi.errors import ParameterError, PlacementError
from private_mdi.placement import Placement, balanced, edge_loads, validate_placement


@st.composite
def cases(draw: st.DrawFn, max_k: int = 5, max_layers: int = 4) -> tuple:
    k = draw(st.integers(2, max_k))
    layers = draw(st.integers(1, max_layers))
    rows = draw(st.lists(st.integers(1, 300), min_size=layers, max_size=layers))
    inner = draw(st.lists(st.integers(1, 300), min_size=layers, max_size=layers))
    relus = rows[:-1]
    split = {
        ell: draw(st.integers(1, min(k, rows[ell - 1])))
        for ell in draw(st.sets(st.integers(1, layers), max_size=layers))
    }
    return k, rows, inner, relus, split


@settings(max_examples=150, deadline=None)
@given(cases())
def test_every_balanced_placement_is_valid(case: tuple) -> None:
    k, rows, inner, relus, split = case
    pl = balanced(k, rows, inner, relus, split=split)
    again = validate_placement(list(pl.hosts), k, len(rows), evaluators=list(pl.evaluators))
    assert again == pl
    for ell in range(1, len(rows) + 1):
        assert len(pl.slice_hosts(ell)) == split.get(ell, 1)
        if ell < len(rows):  # rule 3: the holder never evaluates
            assert all(h != e for h, e in zip(pl.slice_hosts(ell), pl.evaluators[ell - 1]))


def _all_placements(k: int, m: list[int]) -> list[Placement]:
    layers = len(m)
    per_layer = []
    for ell in range(layers):
        opts = []
        for hs in itertools.permutations(range(1, k + 1), m[ell]):
            if ell == layers - 1:
                opts.append((hs, ()))
                continue
            for ev in itertools.product(range(1, k + 1), repeat=m[ell]):
                if all(h != e for h, e in zip(hs, ev)):
                    opts.append((hs, ev))
        per_layer.append(opts)
    out = []
    for combo in itertools.product(*per_layer):
        hosts = [h[0] if len(h) == 1 else h for h, _ in combo]
        out.append(validate_placement(hosts, k, layers, evaluators=[e for _, e in combo]))
    return out


@settings(max_examples=40, deadline=None)
@given(cases(max_k=3, max_layers=3))
def test_largest_load_within_one_unit_of_the_optimum(case: tuple) -> None:
    """Exhaustive over every valid placement with the same slice counts: the largest edge load of
    ``balanced`` is at most the optimum plus the largest single unit (a slice's linear or ReLU work)."""
    k, rows, inner, relus, split = case
    m = [split.get(ell, 1) for ell in range(1, len(rows) + 1)]
    cost = dict(mac_per_relu=50.0, encode=0.1)  # linear work comparable to ReLU work: a harder mix
    got = max(edge_loads(balanced(k, rows, inner, relus, split=split, **cost), rows, inner, relus, **cost))
    opt = min(max(edge_loads(p, rows, inner, relus, **cost)) for p in _all_placements(k, m))
    unit = max(
        max(r * d / 50.0 + 0.1 * r, r if ell < len(rows) - 1 else 0)
        for ell, (r, d) in enumerate(zip(rows, inner))
    )
    assert opt <= got + 1e-9
    assert got <= opt + unit + 1e-9


def test_digits_cnn_split_spreads_the_relus() -> None:
    """The digits CNN (216-, 32-, 10-row layers), conv layer in 4 slices: each slice's ReLU on its own
    edge; the largest load is one slice's ReLUs + layer 2's ReLUs + small linear work (the optimum)."""
    rows, inner, relus = [216, 32, 10], [64, 216, 32], [216, 32]
    pl = balanced(4, rows, inner, relus, split={1: 4})
    assert sorted(pl.evaluators[0]) == [1, 2, 3, 4]
    loads = edge_loads(pl, rows, inner, relus)
    assert max(loads) < 54 + 32 + 2 * (54 * 64 / 1000 + 0.07 * 54) + 32 * 216 / 1000
    # round-robin's default for the same split puts a slice host, its ReLU and layer 2's ReLU together
    assert max(loads) <= max(edge_loads(validate_placement([(1, 2, 3, 4), 2, 3], 4, 3), rows, inner, relus))


def test_bad_arguments_are_named() -> None:
    with pytest.raises(PlacementError, match="K >= 2"):
        balanced(1, [3, 2], [2, 3], [3])
    with pytest.raises(ParameterError, match="same linear layers"):
        balanced(2, [3, 2], [2], [3])
    with pytest.raises(PlacementError, match=r"1\.\.K"):
        balanced(2, [3, 2], [2, 3], [3], split={1: 3})
    with pytest.raises(PlacementError, match=r"layers 1\.\.2"):
        balanced(2, [3, 2], [2, 3], [3], split={3: 2})
    with pytest.raises(ParameterError, match="mac_per_relu"):
        balanced(2, [3, 2], [2, 3], [3], mac_per_relu=0)


def test_private_inference_keeps_a_given_placement_and_stays_bit_exact() -> None:
    """``hosts=`` a Placement from ``balanced`` (evaluators not the ring defaults) runs bit-exact; the
    ``split=`` default is ``balanced``'s placement; a placement on another K is refused by name."""
    import numpy as np
    from test_private_mdi_split import conv_model, x_of

    from cmpc.rand import RandomSource
    from private_mdi.inference import PrivateInference
    from private_mdi.paillier import PaillierKeyPair

    keys = PaillierKeyPair.generate(2048, RandomSource(seed="balanced-paillier"))
    model = conv_model(5, False)  # conv 64 rows (4 channels × 16) → dense 3 → dense 2
    pl = balanced(4, [64, 3, 2], [16, 64, 3], [64, 3], split={1: 3})
    with PrivateInference(model, edges=4, hosts=pl, paillier_keys=keys, rng=RandomSource(seed=9)) as pi:
        assert pi.placement == pl
        x = x_of(9, 3, 16)
        pi.offline(3)
        np.testing.assert_array_equal(pi.predict_raw(x, batch=2), pi.reference_raw(x))
    with PrivateInference(model, edges=4, split={1: 4}, paillier_keys=keys) as pi:
        assert pi.placement == balanced(4, [64, 3, 2], [16, 64, 3], [64, 3], split={1: 4})
    with pytest.raises(PlacementError, match="placement on 4 edges"):
        PrivateInference(model, edges=3, hosts=pl, paillier_keys=keys)
