"""Gate codes and the read-only view of a circuit that the lower layers need.

The bottom of the one-way import order of :mod:`private_mdi.gc`::

    gates  <-  plan, bristol  <-  circuit  <-  builder  <-  relu
    hash, circuit  <-  encoding  <-  garble (+ levels <- kernels, hash, plan)
    hash, plan  <-  reference (scalar references for the tests)

:mod:`~private_mdi.gc.plan` (the garbling schedule) and :mod:`~private_mdi.gc.bristol` (the file format)
only read a circuit; they take any object of the shape :class:`CircuitView` (a
:class:`~private_mdi.gc.circuit.Circuit` is one), so they never import the circuit module, which imports
them.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["AND", "ARITY", "EQ", "EQW", "INV", "MAX_GATES", "MAX_WIRES", "OP_NAMES", "XOR", "CircuitView"]

#: Largest number of wires of a circuit (and of input or output bits of a Bristol file): 2^26, i.e. 1 GiB
#: of uint64-pair labels per copy (the AES-128 circuit has 36,919 wires).
MAX_WIRES = 1 << 26
#: Largest number of gates of a circuit.
MAX_GATES = 1 << 26

XOR = 0
AND = 1
INV = 2
EQW = 3
EQ = 4
OP_NAMES = ("XOR", "AND", "INV", "EQW", "EQ")
#: Number of wire inputs of each gate code (EQ reads a constant, not a wire).
ARITY = (2, 2, 1, 1, 0)


class CircuitView(Protocol):
    """What the plan compiler and the Bristol writer read from a circuit."""

    @property
    def n_wires(self) -> int: ...

    @property
    def gates(self) -> np.ndarray: ...

    @property
    def n_inputs(self) -> int: ...

    @property
    def inputs(self) -> dict[str, np.ndarray]: ...

    @property
    def outputs(self) -> dict[str, np.ndarray]: ...

    @property
    def output_wires(self) -> np.ndarray: ...
