"""RandomSource: reproducibility, independence, uniformity and range."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cmpc.errors import ParameterError
from cmpc.rand import RandomSource, resolve


def test_seeded_streams_reproduce():
    a, b = RandomSource(seed=7), RandomSource(seed=7)
    assert a.bytes(64) == b.bytes(64)
    assert np.array_equal(a.field_elements(65521, 100), b.field_elements(65521, 100))
    assert np.array_equal(a.labels(5), b.labels(5))
    assert a.seeded


def test_different_seeds_and_unseeded_differ():
    assert RandomSource(seed=1).bytes(32) != RandomSource(seed=2).bytes(32)
    assert RandomSource(seed="x").bytes(32) != RandomSource(seed=b"x").bytes(32)
    u, v = RandomSource(), RandomSource()
    assert not u.seeded
    assert u.bytes(32) != v.bytes(32)


def test_spawn_is_independent_and_deterministic():
    a, b = RandomSource(seed=3), RandomSource(seed=3)
    ca, cb = a.spawn(), b.spawn()
    assert ca.bytes(16) == cb.bytes(16)
    assert ca.bytes(16) != a.bytes(16)


@given(st.integers(2, 2**63 - 1), st.integers(0, 2000), st.integers(0, 2**32))
def test_rejection_sampling_never_reaches_p(p, n, seed):
    x = RandomSource(seed=seed).field_elements(p, n)
    assert x.shape == (n,) and x.dtype == np.int64
    if n:
        assert int(x.min()) >= 0 and int(x.max()) < p


def test_chi_square_uniformity_small_p():
    # p = 11 has 2^4 = 16 > 11, so a modulo-biased sampler would over-weight 0..4 by 2x.
    p, n = 11, 110_000
    counts = np.bincount(RandomSource(seed=42).field_elements(p, n), minlength=p)
    expected = n / p
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    # 10 degrees of freedom: P(chi2 > 29.59) = 0.001
    assert chi2 < 29.59, counts


def test_bits_and_labels_shapes_and_balance():
    r = RandomSource(seed=5)
    bits = r.bits((1000, 8))
    assert bits.shape == (1000, 8) and set(np.unique(bits)) <= {0, 1}
    assert 3700 < int(bits.sum()) < 4300
    lab = r.labels(1000)
    assert lab.shape == (1000, 2) and lab.dtype == np.uint64
    assert len({tuple(x) for x in lab.tolist()}) == 1000


def test_randbelow_range_and_big_bounds():
    r = RandomSource(seed=9)
    big = 2**2048 + 12345
    vals = [r.randbelow(big) for _ in range(50)]
    assert all(0 <= v < big for v in vals)
    assert max(vals).bit_length() > 2040
    assert {r.randbelow(3) for _ in range(200)} == {0, 1, 2}
    assert r.randbits(0) == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.field_elements(1, 3),
        lambda r: r.field_elements(2**63, 3),
        lambda r: r.bytes(-1),
        lambda r: r.labels(-1),
        lambda r: r.integers_below(0, 2),
        lambda r: r.randbelow(0),
        lambda r: r.field_elements(7, (-1, 2)),
    ],
)
def test_bad_arguments(call):
    with pytest.raises(ParameterError):
        call(RandomSource(seed=0))


def test_bad_seed_and_resolve():
    with pytest.raises(ParameterError):
        RandomSource(seed=-1)
    with pytest.raises(ParameterError):
        RandomSource(seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="numpy"):
        resolve(np.random.default_rng(0))  # type: ignore[arg-type]
    assert isinstance(resolve(None), RandomSource)


def _reference_below(rng: RandomSource, bound: int, n: int) -> list[int]:
    """The sampling rule spelled out with Python integers: masked words of k bits from the keystream in
    draws of ⌊need / accept · 1.05⌋ + 16 words, keeping the first n below the bound (little-endian words)."""
    k = (bound - 1).bit_length()
    size = 4 if k <= 32 else 8
    accept = bound / float(1 << k)
    out: list[int] = []
    while len(out) < n:
        need = n - len(out)
        draw = int(need / accept * 1.05) + 16
        raw = rng.bytes(draw * size)
        mask = (1 << k) - 1
        words = [int.from_bytes(raw[i : i + size], "little") & mask for i in range(0, len(raw), size)]
        out += [w for w in words if w < bound][:need]
    return out


@pytest.mark.parametrize("bound", [2, 11, 65521, 2**31 - 1, 2**32, 2**32 + 15, 2**61 - 1, 2**63])
def test_integers_below_follows_the_sampling_rule_and_keeps_the_stream(bound):
    # the fast path (no rejection among the first n words) and the compress path give the rule's values
    # and leave the stream at the same position (the second draw equals the reference's second draw too)
    ours, ref = RandomSource(seed=bound), RandomSource(seed=bound)
    for n in (1, 300, 5000):
        got = ours.integers_below(bound, n)
        assert got.dtype == np.int64
        assert got.tolist() == _reference_below(ref, bound, n)


@pytest.mark.parametrize("bound", [11, 65521, 2**31 - 1, 2**32])
def test_uint32_draws_equal_int64_draws(bound):
    a, b = RandomSource(seed=9), RandomSource(seed=9)
    for shape in ((3, 4), (2, 1000), 7):
        x = a.integers_below(bound, shape)
        y = b.integers_below(bound, shape, dtype=np.uint32)
        assert y.dtype == np.uint32 and y.shape == x.shape
        assert np.array_equal(x, y)
    assert np.array_equal(a.field_elements(bound if bound > 2 else 3, 50),
                          b.field_elements(bound if bound > 2 else 3, 50, dtype=np.uint32))


def test_uint32_draws_refuse_large_bounds_and_other_dtypes():
    r = RandomSource(seed=1)
    with pytest.raises(ParameterError, match="uint32 needs bound"):
        r.integers_below(2**32 + 1, 3, dtype=np.uint32)
    with pytest.raises(ParameterError, match="dtype must be"):
        r.integers_below(5, 3, dtype=np.int32)
