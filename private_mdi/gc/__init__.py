"""Garbled circuits for privateMDI: circuits, Bristol Fashion, a builder, the ReLU circuit, half-gates.

Typical use (one garbling of C copies, e.g. one ReLU per neuron of a layer)::

    from private_mdi.gc import privatemdi_relu_circuit, garble, encode, evaluate, decode

    circuit = privatemdi_relu_circuit(p, f)               # inputs "a", "r", "b"; output "out"
    g = garble(circuit, copies=n_neurons, rng=rng)       # tables + encoder (secret) + decoder
    labels = encode(g.encoder, {"a": ..., "r": ..., "b": ...})
    out_bits = decode(g.decoder, evaluate(g.garbled, labels))

See docs/gc.md for the design, the byte formats and the measured throughput.
"""

from .bristol import parse_bristol, read_bristol, write_bristol
from .builder import ONE, ZERO, CircuitBuilder
from .circuit import AND, EQ, EQW, INV, XOR, Circuit
from .encoding import (
    TAG_BYTES,
    Decoder,
    Encoder,
    GarbledCircuit,
    GCFormatError,
    GroupKeys,
    Labels,
    assemble_labels,
)
from .garble import (
    Garbling,
    available_backends,
    decode,
    encode,
    evaluate,
    garble,
    get_backend,
    output_tags,
    run,
    set_backend,
)
from .hash import FIXED_KEY, FixedKeyAES, tccr_hash
from .plan import Plan, build_plan
from .relu import (
    bits_to_field,
    field_bits,
    field_to_bits,
    max_circuit,
    max_reference,
    privatemdi_maxpool_relu_circuit,
    privatemdi_relu_circuit,
    privatemdi_relu_inputs,
    privatemdi_relu_reference,
    relu_and_counts,
    relu_circuit,
    relu_reference,
)

__all__ = [
    "AND",
    "EQ",
    "EQW",
    "FIXED_KEY",
    "INV",
    "ONE",
    "TAG_BYTES",
    "XOR",
    "ZERO",
    "Circuit",
    "CircuitBuilder",
    "Decoder",
    "Encoder",
    "FixedKeyAES",
    "GCFormatError",
    "GarbledCircuit",
    "Garbling",
    "GroupKeys",
    "Labels",
    "Plan",
    "assemble_labels",
    "available_backends",
    "bits_to_field",
    "build_plan",
    "decode",
    "encode",
    "evaluate",
    "field_bits",
    "field_to_bits",
    "garble",
    "get_backend",
    "max_circuit",
    "max_reference",
    "output_tags",
    "parse_bristol",
    "privatemdi_maxpool_relu_circuit",
    "privatemdi_relu_circuit",
    "privatemdi_relu_inputs",
    "privatemdi_relu_reference",
    "read_bristol",
    "relu_and_counts",
    "relu_circuit",
    "relu_reference",
    "run",
    "set_backend",
    "tccr_hash",
    "write_bristol",
]
