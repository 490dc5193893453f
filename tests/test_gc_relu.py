"""The privateMDI ReLU circuit, plain ReLU, max and max-pool against numpy references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmpc.rand import RandomSource
from private_mdi.errors import ParameterError
from private_mdi.gc import (
    bits_to_field,
    decode,
    evaluate,
    field_to_bits,
    garble,
    privatemdi_maxpool_relu_circuit,
    privatemdi_relu_circuit,
    relu_circuit,
    run,
)
from private_mdi.gc.encoding import assemble_labels
from private_mdi.gc.relu import (
    max_circuit,
    max_reference,
    privatemdi_relu_inputs,
    privatemdi_relu_reference,
    relu_and_counts,
    relu_reference,
)

P31 = 2**31 - 1
P41 = 2**41 - 21  # the largest 41-bit prime
P41_FRIENDLY = 17 * 2**36 - 1  # a 41-bit prime with (p+1)/2 = 17·2^35: cheaper sign test
PRIMES = [3, 5, 7, 13, 8191, 65521, P31, P41, P41_FRIENDLY]


def python_reference(a: int, r: int, b: int, p: int, f: int) -> int:
    """Straight from the spec, on Python integers: (ReLU(⌊signed((a+b) mod p) / 2^f⌋) − r) mod p."""
    v = (a + b) % p
    signed = v if v <= (p - 1) // 2 else v - p
    return (max(signed // 2**f, 0) - r) % p


def boundary_values(p: int, f: int) -> list[int]:
    h = (p - 1) // 2
    vals = [0, 1, 2, p - 1, p - 2, h, h + 1, (p + 1) // 2, h - 1]
    # values whose truncation crosses zero: ±(2^f − 1), ±2^f, ±(2^f + 1) around 0
    for d in (2**f - 1, 2**f, 2**f + 1, 1):
        vals += [d % p, (-d) % p]
    return sorted({v % p for v in vals})


def _check(p: int, f: int, a: np.ndarray, r: np.ndarray, b: np.ndarray, garbled_copies: int = 0) -> None:
    c = privatemdi_relu_circuit(p, f)
    bits = c.join_inputs(privatemdi_relu_inputs(a, r, b, p))
    out = bits_to_field(c.evaluate(bits), p)
    ref = privatemdi_relu_reference(a, r, b, p, f)
    assert np.array_equal(out, ref)
    for how in ("v", "s"):  # both sign constructions, whichever "auto" picked
        other = privatemdi_relu_circuit(p, f, sign_test=how)
        assert np.array_equal(bits_to_field(other.evaluate(bits), p), ref)
    for i in range(min(len(a), 50)):
        assert int(ref[i]) == python_reference(int(a[i]), int(r[i]), int(b[i]), p, f)
    if garbled_copies:
        n = garbled_copies
        assert np.array_equal(bits_to_field(run(c, bits[:n], rng=RandomSource(seed=p + f)), p), ref[:n])


@pytest.mark.parametrize("p", PRIMES)
def test_boundaries_every_f(p: int) -> None:
    k = p.bit_length()
    for f in sorted({0, 1, min(8, k - 1), min(12, k - 1), k - 2, k - 1} - {-1}):
        vals = boundary_values(p, f)
        # v = a + b hits every boundary value both without wrap (b = 0) and with wrap (a + b ≥ p)
        a = np.array(vals + [(v + 5) % p for v in vals], dtype=np.int64)
        b = np.array([0] * len(vals) + [(p - 5) % p] * len(vals), dtype=np.int64)
        r = np.array([(3 * i + 7) % p for i in range(len(a))], dtype=np.int64)
        r[:2] = [0, p - 1]
        _check(p, f, a, r, b, garbled_copies=4 if p > 100 else 0)


@settings(max_examples=15, deadline=None)
@given(p=st.sampled_from(PRIMES), data=st.data())
def test_random_shares_match_numpy(p: int, data) -> None:
    f = data.draw(st.integers(0, p.bit_length() - 1))
    seed = data.draw(st.integers(0, 2**32))
    rng = RandomSource(seed=seed)
    a, r, b = (rng.field_elements(p, 200) for _ in range(3))
    _check(p, f, a, r, b)


def test_exhaustive_tiny_field() -> None:
    for p in (3, 5, 7, 11, 13):
        k = p.bit_length()
        for f in range(k):
            grid = np.array([(a, r, b) for a in range(p) for r in range(p) for b in range(p)], dtype=np.int64)
            _check(p, f, grid[:, 0], grid[:, 1], grid[:, 2])


def test_garbled_layer_end_to_end() -> None:
    """The flow the privateMDI code will use: groups from different owners, bytes, decode to field."""
    p, f, n = P31, 12, 64
    rng = RandomSource(seed=21)
    c = privatemdi_relu_circuit(p, f)
    g = garble(c, copies=n, rng=rng)
    a, r, b = (rng.field_elements(p, n) for _ in range(3))
    groups = privatemdi_relu_inputs(a, r, b, p)
    labels = assemble_labels(c, {name: g.encoder.keys(name).encode(bits) for name, bits in groups.items()})
    out = bits_to_field(decode(g.decoder, evaluate(g.garbled, labels)), p)
    assert np.array_equal(out, privatemdi_relu_reference(a, r, b, p, f))


def test_and_counts_per_neuron() -> None:
    """Pinned AND counts (documented in docs/gc.md); a regression here changes the traffic."""
    assert relu_and_counts(P31, (8, 12, 16)) == {8: 168, 12: 160, 16: 152}
    assert relu_and_counts(P41, (8, 12, 16)) == {8: 274, 12: 270, 16: 266}
    assert relu_and_counts(P41_FRIENDLY, (12,)) == {12: 225}
    k = 31
    c = privatemdi_relu_circuit(P31, 12)
    assert c.plan().n_and <= 6 * k  # 3k (mod add) + (k−1−f) (mask) + (k−f) (mux) + 2k−1 (mod sub)
    assert [w.size for w in c.inputs.values()] == [k, k, k] and list(c.inputs) == ["a", "r", "b"]


@pytest.mark.parametrize("p", [13, 8191, P31, P41])
def test_plain_relu(p: int) -> None:
    k = p.bit_length()
    for f in (0, min(5, k - 1)):
        c = relu_circuit(p, f)
        x = np.array(boundary_values(p, f), dtype=np.int64)
        out = bits_to_field(c.evaluate(field_to_bits(x, p)), p)
        assert np.array_equal(out, relu_reference(x, p, f))
        assert np.array_equal(bits_to_field(run(c, field_to_bits(x, p)), p), out)
    assert relu_circuit(P31, 0).and_count == 30  # sign = top bit: only the masking ANDs


@pytest.mark.parametrize("p", [13, 8191, P41])
def test_max(p: int) -> None:
    vals = boundary_values(p, 1)
    for n in (1, 2, 3, 4):
        c = max_circuit(p, n)
        rows = np.array([[vals[(i * 7 + j * 3) % len(vals)] for j in range(n)] for i in range(40)],
                        dtype=np.int64)
        bits = np.concatenate([field_to_bits(rows[:, j], p) for j in range(n)], axis=1)
        assert np.array_equal(bits_to_field(c.evaluate(bits), p), max_reference(rows, p))
        if n == 3:
            assert np.array_equal(bits_to_field(run(c, bits[:8]), p), max_reference(rows[:8], p))


def test_maxpool_relu() -> None:
    p, f, w = 8191, 3, 4
    rng = RandomSource(seed=31)
    a, b = rng.field_elements(p, (100, w)), rng.field_elements(p, (100, w))
    r = rng.field_elements(p, 100)
    c = privatemdi_maxpool_relu_circuit(p, f, w)
    bits = c.join_inputs({"a": field_to_bits(a, p).reshape(100, -1), "r": field_to_bits(r, p),
                          "b": field_to_bits(b, p).reshape(100, -1)})
    v = (a + b) % p
    ref = (np.max(relu_reference(v, p, f), axis=1) - r) % p
    assert np.array_equal(bits_to_field(c.evaluate(bits), p), ref)


def test_parameter_errors() -> None:
    with pytest.raises(ParameterError, match="odd modulus"):
        privatemdi_relu_circuit(2**31, 8)
    with pytest.raises(ParameterError, match="odd modulus"):
        privatemdi_relu_circuit(1, 0)
    with pytest.raises(ParameterError, match=r"f must be an int in \[0, 30\]"):
        privatemdi_relu_circuit(P31, 31)
    with pytest.raises(ParameterError, match="f must be"):
        relu_circuit(P31, -1)
    with pytest.raises(ParameterError, match="field elements"):
        field_to_bits(np.array([P31]), P31)
    with pytest.raises(ParameterError, match="not below"):
        bits_to_field(np.ones((1, 31), np.uint8), P31)
    with pytest.raises(ParameterError, match="n must be"):
        max_circuit(P31, 0)
    with pytest.raises(ParameterError, match="sign_test"):
        privatemdi_relu_circuit(P31, 8, sign_test="x")
    with pytest.raises(ParameterError, match="window"):
        privatemdi_maxpool_relu_circuit(P31, 8, 0)
