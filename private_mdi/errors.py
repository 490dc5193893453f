"""Exception hierarchy of :mod:`private_mdi`.

Every error raised on purpose by the package derives from :class:`PrivateMDIError`.
Modules may define more specific subclasses next to the code that raises them.
"""

from __future__ import annotations


class PrivateMDIError(Exception):
    """Base class of every error raised on purpose by :mod:`private_mdi`."""


class ParameterError(PrivateMDIError, ValueError):
    """An argument is outside its allowed range (the message names it and the range)."""


class OverflowRiskError(PrivateMDIError, ValueError):
    """A fixed-point computation could wrap around the field modulus."""

    def __init__(self, message: str, *, layer: str | None = None, bound: int | None = None) -> None:
        super().__init__(message)
        self.layer = layer
        self.bound = bound


class PlacementError(PrivateMDIError, ValueError):
    """A placement of layers on edges violates the placement rule."""


class MaterialReusedError(PrivateMDIError):
    """Single-use offline material was used a second time (or is exhausted)."""


class KeyMismatchError(PrivateMDIError, ValueError):
    """A ciphertext or message was made under another key than the one expected."""


class CircuitError(PrivateMDIError, ValueError):
    """A boolean circuit is malformed (bad Bristol file, wrong wire counts, ...)."""


class GarbledDecodeError(PrivateMDIError):
    """Garbled evaluation produced a label that is neither valid label of an output wire."""


class OTError(PrivateMDIError):
    """An oblivious-transfer message failed to unmask (wrong pad, wrong length)."""


class UnsupportedModelError(PrivateMDIError, ValueError):
    """The model has a layer or activation that this implementation cannot run privately."""
