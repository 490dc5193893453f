"""Garbled circuits for privateMDI: circuits, Bristol Fashion, a builder, the ReLU circuit, half-gates.

Typical use (one garbling of C copies, e.g. one ReLU per neuron of a layer)::

    from private_mdi.gc import privatemdi_relu_circuit, garble, encode, evaluate, decode

    circuit = privatemdi_relu_circuit(p, f)               # inputs "a", "r", "b"; output "out"
    g = garble(circuit, copies=n_neurons, rng=rng)       # tables + encoder (secret) + decoder
    labels = encode(g.encoder, {"a": ..., "r": ..., "b": ...})
    out_bits = decode(g.decoder, evaluate(g.garbled, labels))

The package exports the names a user needs; everything else (gate codes, the plan, the hash, byte-level
helpers, backends, reference functions) is imported from its submodule, e.g.
``from private_mdi.gc.encoding import GroupKeys`` or ``from private_mdi.gc.hash import tccr_hash``.
See docs/gc.md for the design, the byte formats and the measured throughput.
"""

from .builder import CircuitBuilder
from .circuit import Circuit
from .encoding import Decoder, GarbledCircuit, Labels
from .garble import Garbling, decode, encode, evaluate, garble, run
from .relu import (
    bits_to_field,
    field_to_bits,
    privatemdi_maxpool_relu_circuit,
    privatemdi_relu_circuit,
    relu_circuit,
)

__all__ = [
    "Circuit",
    "CircuitBuilder",
    "Decoder",
    "GarbledCircuit",
    "Garbling",
    "Labels",
    "bits_to_field",
    "decode",
    "encode",
    "evaluate",
    "field_to_bits",
    "garble",
    "privatemdi_maxpool_relu_circuit",
    "privatemdi_relu_circuit",
    "relu_circuit",
    "run",
]
