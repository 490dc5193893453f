"""Exception hierarchy of :mod:`cmpc`.

Every error raised on purpose by the package derives from :class:`CMPCError`. Errors about
arguments also derive from :class:`ValueError` so that generic callers can catch them.
"""

from __future__ import annotations


class CMPCError(Exception):
    """Base class of every error raised on purpose by :mod:`cmpc`."""


class ParameterError(CMPCError, ValueError):
    """An argument is outside its allowed range (the message names it and the range)."""


class NotPrimeError(ParameterError):
    """The modulus given for a prime field is not prime."""


class FieldRangeError(ParameterError):
    """A value handed to a field is not a representative in [0, p)."""


class ShapeError(ParameterError):
    """Array shapes do not fit together (e.g. inner dimensions of a product)."""


class SingularMatrixError(CMPCError, ArithmeticError):
    """A matrix that must be invertible over GF(p) is singular."""


class CodeValidationError(CMPCError, ValueError):
    """A code's exponent sets make a product land on a result exponent (a clash)."""


class DecodingError(CMPCError):
    """The result could not be decoded from the replies received."""


class InsufficientWorkersError(CMPCError):
    """Fewer workers answered than the protocol phase needs."""

    def __init__(self, message: str, *, answered: int, needed: int) -> None:
        super().__init__(message)
        self.answered = answered
        self.needed = needed


class ProtocolError(CMPCError):
    """A peer sent a message that is malformed, out of order or out of range."""


class TransportError(CMPCError):
    """A peer disconnected, stalled past the timeout, or could not be reached."""

    def __init__(self, message: str, *, peer: str | None = None) -> None:
        super().__init__(message)
        self.peer = peer
