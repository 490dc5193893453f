"""Exception hierarchy of :mod:`private_mdi`, part of the toolkit's one hierarchy.

Every error raised on purpose by the package derives from :class:`PrivateMDIError`, itself a
:class:`cmpc.errors.CMPCError`, so ``except CMPCError`` catches everything either package raises on purpose.
:class:`ParameterError` *is* :class:`cmpc.errors.ParameterError` (one class, re-exported); errors about
bad arguments or models (overflow risk, placement, unsupported model, circuit, key mismatch) derive from it
as well, so ``except ParameterError`` catches every refusal of an argument. Modules may define more
specific subclasses next to the code that raises them.
"""

from __future__ import annotations

from cmpc.errors import CMPCError, ParameterError, ProtocolError, TransportError

__all__ = [
    "CircuitError",
    "GarbledDecodeError",
    "KeyMismatchError",
    "MaterialReusedError",
    "OTError",
    "OverflowRiskError",
    "ParameterError",
    "PlacementError",
    "PrivateMDIError",
    "ProtocolError",
    "TransportError",
    "UnsupportedModelError",
]


class PrivateMDIError(CMPCError):
    """Base class of every error raised on purpose by :mod:`private_mdi`."""


class OverflowRiskError(PrivateMDIError, ParameterError):
    """A fixed-point computation could wrap around the field modulus."""

    def __init__(self, message: str, *, layer: str | None = None, bound: int | None = None) -> None:
        super().__init__(message)
        self.layer = layer
        self.bound = bound


class PlacementError(PrivateMDIError, ParameterError):
    """A placement of layers on edges violates the placement rule."""


class MaterialReusedError(PrivateMDIError):
    """Single-use offline material was used a second time (or is exhausted)."""


class KeyMismatchError(PrivateMDIError, ParameterError):
    """A ciphertext or message was made under another key than the one expected."""


class CircuitError(PrivateMDIError, ParameterError):
    """A boolean circuit is malformed (bad Bristol file, wrong wire counts, ...)."""


class GarbledDecodeError(PrivateMDIError):
    """Garbled evaluation produced a label that is neither valid label of an output wire."""


class OTError(PrivateMDIError):
    """An oblivious-transfer message failed to unmask (wrong pad, wrong length)."""


class UnsupportedModelError(PrivateMDIError, ParameterError):
    """The model has a layer or activation that this implementation cannot run privately."""
