"""Circuit representation, validation, plaintext evaluation and the levelled plan."""

from __future__ import annotations

import numpy as np
import pytest

from private_mdi.errors import CircuitError, ParameterError
from private_mdi.gc import Circuit, CircuitBuilder, privatemdi_relu_circuit, run
from private_mdi.gc.circuit import AND, EQ, EQW, INV, XOR


def full_adder() -> Circuit:
    # inputs x, y, c ; outputs sum, carry (one AND)
    gates = [
        (XOR, 0, 2, 3),  # x ^ c
        (XOR, 3, 1, 4),  # sum
        (XOR, 1, 2, 5),  # y ^ c
        (AND, 3, 5, 6),
        (XOR, 2, 6, 7),  # carry
    ]
    return Circuit(8, gates, [("x", 1), ("y", 1), ("c", 1)], {"sum": [4], "carry": [7]})


def test_full_adder_exhaustive_plain_and_garbled() -> None:
    c = full_adder()
    bits = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=np.uint8)
    expect = np.array([[(x + y + z) & 1, (x + y + z) >> 1] for x, y, z in bits.tolist()], dtype=np.uint8)
    assert np.array_equal(c.evaluate(bits), expect)
    assert np.array_equal(run(c, bits), expect)
    groups = c.evaluate_groups({"x": bits[:, :1], "y": bits[:, 1:2], "c": bits[:, 2:]})
    assert groups["carry"].ravel().tolist() == expect[:, 1].tolist()


def test_groups_and_slices() -> None:
    c = full_adder()
    assert {k: v.tolist() for k, v in c.inputs.items()} == {"x": [0], "y": [1], "c": [2]}
    assert c.input_slice("y") == slice(1, 2)
    assert c.output_slice("carry") == slice(1, 2)
    assert c.n_inputs == 3 and c.n_outputs == 2
    with pytest.raises(ParameterError, match="no input group"):
        c.input_slice("z")
    with pytest.raises(ParameterError, match="no output group"):
        c.output_slice("z")


def test_plaintext_evaluator_many_copies_and_zero_copies() -> None:
    c = full_adder()
    rng = np.random.default_rng(0)  # test data only
    bits = rng.integers(0, 2, size=(1000, 3)).astype(np.uint8)
    out = c.evaluate(bits)
    s = bits.sum(axis=1)
    assert np.array_equal(out[:, 0], s & 1) and np.array_equal(out[:, 1], s >> 1)
    assert c.evaluate(np.zeros((0, 3), np.uint8)).shape == (0, 2)
    assert c.evaluate([1, 1, 1]).tolist() == [1, 1] and run(c, [1, 0, 1]).tolist() == [0, 1]
    assert run(c, np.zeros((0, 3), np.uint8)).shape == (0, 2)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((3, [(7, 0, 1, 2)], [("x", 2)], {"o": [2]}), "unknown gate kind"),
        ((3, [(AND, 0, 1, 3)], [("x", 2)], {"o": [2]}), "outside"),
        ((3, [(AND, 0, 5, 2)], [("x", 2)], {"o": [2]}), "input wire 5 outside"),
        ((3, [(AND, 0, 1, 1)], [("x", 2)], {"o": [1]}), "writes input wire"),
        ((4, [(AND, 0, 3, 2), (XOR, 0, 1, 3)], [("x", 2)], {"o": [2]}), "before it is written"),
        ((3, [(EQ, 2, -1, 2)], [("x", 2)], {"o": [2]}), "EQ constant"),
        ((3, [], [("x", 2)], {"o": [2]}), "never written"),
        ((3, [], [("x", 2)], {"o": [3]}), "outside"),
        ((3, [], [("x", 4)], {"o": [0]}), "do not fit"),
        ((3, [], [("x", 1), ("x", 1)], {"o": [0]}), "twice"),
        ((3, [], [("", 1)], {"o": [0]}), "non-empty"),
        ((3, np.zeros((2, 3)), [("x", 1)], {"o": [0]}), "shape"),
    ],
)
def test_malformed_circuits(args, match: str) -> None:
    with pytest.raises(CircuitError, match=match):
        Circuit(*args)


def test_input_bit_errors() -> None:
    c = full_adder()
    with pytest.raises(ParameterError, match="shape"):
        c.evaluate(np.zeros((2, 4), np.uint8))
    with pytest.raises(ParameterError, match="0 or 1"):
        c.evaluate(np.full((2, 3), 3))
    with pytest.raises(ParameterError, match="integers"):
        c.evaluate(np.full((2, 3), 0.5))
    with pytest.raises(ParameterError, match="missing"):
        c.join_inputs({"x": np.zeros((1, 1))})
    with pytest.raises(ParameterError, match="copies"):
        c.join_inputs({"x": np.zeros((1, 1)), "y": np.zeros((2, 1)), "c": np.zeros((1, 1))})


def test_fingerprint_and_equality() -> None:
    a, b = full_adder(), full_adder()
    assert a.fingerprint == b.fingerprint and a == b and len(a.fingerprint) == 16
    other = Circuit(8, a.gates, [("x", 1), ("y", 1), ("c", 1)], {"sum": [4], "carry": [6]})
    assert other.fingerprint != a.fingerprint
    renamed = Circuit(8, a.gates, [("u", 1), ("y", 1), ("c", 1)], {"sum": [4], "carry": [7]})
    assert renamed != a


def test_plan_folds_constants_inverters_and_dead_gates() -> None:
    gates = [
        (INV, 0, -1, 2),  # ¬x
        (AND, 0, 2, 3),  # x ∧ ¬x = 0
        (XOR, 1, 1, 4),  # 0
        (AND, 4, 0, 5),  # 0
        (EQ, 1, -1, 6),  # 1
        (AND, 6, 1, 7),  # y
        (EQW, 7, -1, 8),  # y
        (AND, 0, 1, 9),  # dead (not an output)
        (AND, 2, 8, 10),  # ¬x ∧ y: the only garbled AND
        (INV, 10, -1, 11),
    ]
    c = Circuit(12, gates, [("x", 1), ("y", 1)], {"o": [3, 5, 7, 8, 11, 6]})
    plan = c.plan()
    assert plan.n_and == 1 and c.and_count == 5
    assert plan.stages[-1].ands is not None and plan.stages[-1].ands.inv_a.size == 1
    assert plan.out_inv.tolist() == [0, 0, 0, 0, 1, 1]
    bits = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.uint8)
    expect = [[0, 0, y, y, 1 - ((1 - x) & y), 1] for x, y in bits.tolist()]
    assert c.evaluate(bits).tolist() == expect
    assert run(c, bits).tolist() == expect


def test_plan_levels_relu() -> None:
    c = privatemdi_relu_circuit(2**31 - 1, 12)
    plan = c.plan()
    sizes = [s.ands.size for s in plan.stages if s.ands is not None]
    assert sum(sizes) == plan.n_and == 160
    assert plan.depth == len(sizes) == c.and_depth
    # every AND batch reads only slots written in earlier stages
    written = plan.n_inputs
    for stage in plan.stages:
        if stage.ands is not None:
            assert stage.ands.a.max() < stage.ands.out_start and stage.ands.b.max() < stage.ands.out_start
            assert stage.ands.out_start == written
            written += stage.ands.size
        for xb in stage.xors:
            assert max(xb.a.max(), xb.b.max()) < xb.out_start == written
            written += xb.size
    assert written == plan.zero_slot == plan.n_slots - 1


def test_builder_and_repr() -> None:
    cb = CircuitBuilder()
    x = cb.input("x", 4)
    cb.output("y", cb.add(x, x)[0])
    c = cb.build()
    assert "AND=" in repr(c) and "x:4" in repr(c)
