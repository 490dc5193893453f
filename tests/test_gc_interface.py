"""The gc interface the privateMDI protocol code uses, through the exact submodule paths it imports.

private_mdi/offline.py and online.py import these names from these modules; this test pins the paths and
signatures (a privateMDI ReLU layer garbled, shipped as bytes, encoded by two parties, evaluated, decoded).
"""

from __future__ import annotations

import numpy as np

import private_mdi.gc as gc
from cmpc.rand import RandomSource
from private_mdi.gc.circuit import Circuit
from private_mdi.gc.encoding import Decoder, Encoder, GarbledCircuit, GroupKeys, Labels, assemble_labels
from private_mdi.gc.garble import evaluate, garble
from private_mdi.gc.relu import (
    bits_to_field,
    field_to_bits,
    privatemdi_maxpool_relu_circuit,
    privatemdi_relu_circuit,
    privatemdi_relu_reference,
)


def test_privatemdi_flow_through_submodule_paths() -> None:
    p, f, copies = 2**13 - 1, 3, 6
    circuit = privatemdi_relu_circuit(p, f)
    assert isinstance(circuit, Circuit)
    rng = RandomSource(seed=21)
    g = garble(circuit, copies=copies, rng=rng)
    assert isinstance(g.encoder, Encoder)
    assert g.encoder.zero.shape == (copies, circuit.n_inputs, 2) and g.encoder.delta.shape == (copies, 2)
    tables = GarbledCircuit.from_bytes(g.garbled.to_bytes(), circuit)
    decoder = Decoder.from_bytes(g.decoder.to_bytes(), circuit)
    a, r, b = (rng.integers_below(p, copies) for _ in range(3))
    groups = {}
    for name, values in (("a", a), ("r", r), ("b", b)):
        keys = GroupKeys.from_bytes(g.encoder.keys(name).to_bytes())
        lab = keys.encode(field_to_bits(values, p))
        width = circuit.input_slice(name).stop - circuit.input_slice(name).start
        groups[name] = Labels.from_bytes(lab.to_bytes(), copies=copies, n_wires=width)
    out = evaluate(tables, assemble_labels(circuit, groups))
    got = bits_to_field(decoder.decode(out), p)
    assert np.array_equal(got, privatemdi_relu_reference(a, r, b, p, f))
    assert isinstance(privatemdi_maxpool_relu_circuit(p, f, 4), Circuit)


def test_package_surface() -> None:
    assert set(gc.__all__) == {
        "Circuit", "CircuitBuilder", "Decoder", "GarbledCircuit", "Garbling", "Labels", "bits_to_field",
        "decode", "encode", "evaluate", "field_to_bits", "garble", "privatemdi_maxpool_relu_circuit",
        "privatemdi_relu_circuit", "relu_circuit", "run",
    }
    assert callable(gc.Circuit.from_bristol)
    for name in ("garble", "encode", "evaluate", "decode", "run"):
        assert callable(getattr(gc, name))
