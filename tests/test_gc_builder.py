"""Circuit builder: word arithmetic against Python integers, AND counts, constant folding."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from private_mdi.errors import CircuitError, ParameterError
from private_mdi.gc import CircuitBuilder, bits_to_field, run
from private_mdi.gc.builder import ONE, ZERO
from private_mdi.gc.circuit import AND


def _bits(values: list[int], width: int) -> np.ndarray:
    return np.array([[(v >> i) & 1 for i in range(width)] for v in values], dtype=np.uint8)


def _ints(bits: np.ndarray) -> list[int]:
    return [int(sum(int(b) << i for i, b in enumerate(row))) for row in bits]


def _two_input(width: int, body) -> tuple:
    cb = CircuitBuilder()
    x = cb.input("x", width)
    y = cb.input("y", width)
    for name, bits in body(cb, x, y).items():
        cb.output(name, bits)
    return cb, cb.build()


def _eval(circuit, xs: list[int], ys: list[int], width: int) -> np.ndarray:
    return circuit.evaluate(np.concatenate([_bits(xs, width), _bits(ys, width)], axis=1))


@settings(max_examples=25, deadline=None)
@given(width=st.integers(1, 12), data=st.data())
def test_add_sub_compare_match_integers(width: int, data) -> None:
    vals = st.integers(0, 2**width - 1)
    xs = data.draw(st.lists(vals, min_size=1, max_size=20))
    ys = data.draw(st.lists(vals, min_size=len(xs), max_size=len(xs)))

    def body(cb, x, y):
        s, c = cb.add(x, y)
        d, borrow = cb.sub(x, y)
        return {
            "sum": [*s, c], "diff": d, "borrow": [borrow], "ge": [cb.ge(x, y)], "lt": [cb.lt(x, y)],
            "gt": [cb.gt(x, y)], "le": [cb.le(x, y)], "eq": [cb.eq(x, y)],
        }

    _, circuit = _two_input(width, body)
    out = _eval(circuit, xs, ys, width)
    sl = circuit.output_slice
    assert _ints(out[:, sl("sum")]) == [x + y for x, y in zip(xs, ys)]
    assert _ints(out[:, sl("diff")]) == [(x - y) % 2**width for x, y in zip(xs, ys)]
    assert out[:, sl("borrow")].ravel().tolist() == [int(x < y) for x, y in zip(xs, ys)]
    assert out[:, sl("ge")].ravel().tolist() == [int(x >= y) for x, y in zip(xs, ys)]
    assert out[:, sl("lt")].ravel().tolist() == [int(x < y) for x, y in zip(xs, ys)]
    assert out[:, sl("gt")].ravel().tolist() == [int(x > y) for x, y in zip(xs, ys)]
    assert out[:, sl("le")].ravel().tolist() == [int(x <= y) for x, y in zip(xs, ys)]
    assert out[:, sl("eq")].ravel().tolist() == [int(x == y) for x, y in zip(xs, ys)]


def test_ripple_adder_costs_one_and_per_bit() -> None:
    def adder(cb, x, y):
        s, carry = cb.add(x, y)
        return {"s": [*s, carry]}

    for width in (1, 8, 31, 41):
        _, c = _two_input(width, adder)
        assert c.and_count == width
        _, c = _two_input(width, lambda cb, x, y: {"ge": [cb.ge(x, y)]})
        assert c.and_count == width
        _, c = _two_input(width, lambda cb, x, y: {"d": cb.sub(x, y)[0]})
        assert c.and_count == width - 1  # the borrow out is dead, so its AND is removed


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_mod_add_and_mod_sub(data) -> None:
    p = data.draw(st.sampled_from([3, 5, 7, 11, 13, 251, 257, 65521, 2**31 - 1]))
    k = p.bit_length()
    xs = data.draw(st.lists(st.integers(0, p - 1), min_size=1, max_size=30))
    ys = data.draw(st.lists(st.integers(0, p - 1), min_size=len(xs), max_size=len(xs)))
    xs[0], ys[0] = p - 1, p - 1  # boundary: largest sum and zero difference

    _, circuit = _two_input(k, lambda cb, x, y: {"add": cb.mod_add(x, y, p), "sub": cb.mod_sub(x, y, p)})
    out = _eval(circuit, xs, ys, k)
    got_add = bits_to_field(out[:, circuit.output_slice("add")], p).tolist()
    got_sub = bits_to_field(out[:, circuit.output_slice("sub")], p).tolist()
    assert got_add == [(x + y) % p for x, y in zip(xs, ys)]
    assert got_sub == [(x - y) % p for x, y in zip(xs, ys)]


def test_mod_arithmetic_and_counts() -> None:
    p = 2**31 - 1
    k = 31
    _, c = _two_input(k, lambda cb, x, y: {"s": cb.mod_add(x, y, p)})
    assert c.plan().n_and <= 3 * k - 1
    _, c = _two_input(k, lambda cb, x, y: {"s": cb.mod_sub(x, y, p)})
    assert c.plan().n_and <= 2 * k - 1


def test_mux_shifts_and_exhaustive_small() -> None:
    width = 3
    cb = CircuitBuilder()
    s = cb.input("s", 1)[0]
    x = cb.input("x", width)
    y = cb.input("y", width)
    cb.output("mux", cb.mux_word(s, x, y))
    cb.output("shl", cb.shl(x, 1))
    cb.output("shr", cb.shr(x, 1))
    cb.output("sar", cb.sar(x, 1))
    cb.output("and", cb.and_word(s, x))
    cb.output("xor", cb.xor_word(x, y))
    cb.output("or", [cb.or_(a, b) for a, b in zip(x, y)])
    c = cb.build()
    rows = [(sv, xv, yv) for sv in (0, 1) for xv in range(8) for yv in range(8)]
    bits = np.array([[sv, *[(xv >> i) & 1 for i in range(3)], *[(yv >> i) & 1 for i in range(3)]]
                     for sv, xv, yv in rows], dtype=np.uint8)
    out = c.evaluate(bits)
    col = c.output_slice
    def value(row: np.ndarray, name: str) -> int:
        return int(sum(int(b) << i for i, b in enumerate(row[col(name)])))

    for (sv, xv, yv), o in zip(rows, out):
        val = functools.partial(value, o)
        signed = xv - 8 if xv >= 4 else xv
        assert val("mux") == (yv if sv else xv)
        assert val("shl") == (xv << 1) % 8
        assert val("shr") == xv >> 1
        assert val("sar") == (signed >> 1) % 8
        assert val("and") == (xv if sv else 0)
        assert val("xor") == xv ^ yv
        assert val("or") == xv | yv
    assert np.array_equal(run(c, bits[:20]), out[:20])


def test_constant_folding_and_structural_hashing() -> None:
    cb = CircuitBuilder()
    a, b = cb.input("x", 2)
    assert cb.xor(a, ZERO) == a
    assert cb.xor(a, a) == ZERO
    assert cb.and_(a, ZERO) == ZERO
    assert cb.and_(a, ONE) == a
    assert cb.and_(a, cb.not_(a)) == ZERO
    assert cb.not_(cb.not_(a)) == a
    assert cb.xor(a, ONE) == cb.not_(a)
    assert cb.xor(cb.not_(a), b) == cb.not_(cb.xor(a, b))
    assert cb.and_(a, b) == cb.and_(b, a)
    assert cb.and_count == 1
    # comparison with a power of two is free: x >= 2 for a 2-bit x is its top bit
    cb.output("ge2", [cb.ge([a, b], cb.const(2, 2))])
    cb.output("const", [ONE, ZERO])
    c = cb.build()
    assert c.and_count == 0
    out = c.evaluate(np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.uint8))
    assert out.tolist() == [[0, 1, 0], [0, 1, 0], [1, 1, 0], [1, 1, 0]]


def test_builder_errors() -> None:
    cb = CircuitBuilder()
    cb.input("x", 2)
    with pytest.raises(CircuitError, match="declared twice"):
        cb.input("x", 1)
    with pytest.raises(CircuitError, match="not a bit"):
        cb.output("y", [99])
    with pytest.raises(CircuitError, match="no outputs"):
        cb.build()
    with pytest.raises(ParameterError, match="does not fit"):
        CircuitBuilder.const(4, 2)
    with pytest.raises(ParameterError, match="k = 3"):
        cb.mod_add([ZERO] * 2, [ZERO] * 2, 7)


def test_dead_gates_are_removed() -> None:
    cb = CircuitBuilder()
    x = cb.input("x", 8)
    y = cb.input("y", 8)
    cb.add(x, y)  # unused
    cb.output("z", [cb.and_(x[0], y[0])])
    c = cb.build()
    assert c.n_gates == 1 and c.count(AND) == 1
