"""cmpc-toolkit: coded multi-party computation of Y = AᵀB over GF(p).

Public entry points::

    from cmpc import PrimeField, RandomSource, codes, simulate

``PrimeField``, ``RandomSource``, ``codes`` and ``simulate`` are imported lazily (on first use) so that
``import cmpc`` and the command line's start-up stay cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    CMPCError,
    CodeValidationError,
    DecodingError,
    FieldRangeError,
    InsufficientWorkersError,
    NotPrimeError,
    ParameterError,
    ProtocolError,
    ShapeError,
    SingularMatrixError,
    TransportError,
)

if TYPE_CHECKING:  # pragma: no cover
    from .field import PrimeField
    from .rand import RandomSource

__version__ = "0.1.0"

__all__ = [
    "CMPCError",
    "CodeValidationError",
    "DecodingError",
    "FieldRangeError",
    "InsufficientWorkersError",
    "NotPrimeError",
    "ParameterError",
    "PrimeField",
    "ProtocolError",
    "RandomSource",
    "ShapeError",
    "SingularMatrixError",
    "TransportError",
    "codes",
    "costs",
    "simulate",
]


def __getattr__(name: str) -> Any:
    if name == "PrimeField":
        return importlib.import_module("cmpc.field").PrimeField
    if name == "RandomSource":
        return importlib.import_module("cmpc.rand").RandomSource
    if name in ("codes", "costs"):
        return importlib.import_module(f"cmpc.{name}")
    if name == "simulate":
        return importlib.import_module("cmpc.protocol").simulate
    raise AttributeError(f"module 'cmpc' has no attribute {name!r}")
