"""cmpc-toolkit: coded multi-party computation of Y = AᵀB over GF(p).

Public entry points::

    from cmpc import PrimeField, RandomSource, codes, simulate

``codes`` and ``simulate`` are imported lazily so that ``import cmpc`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

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
    if name in ("codes", "costs"):
        return importlib.import_module(f"cmpc.{name}")
    if name == "simulate":
        return importlib.import_module("cmpc.protocol").simulate
    raise AttributeError(f"module 'cmpc' has no attribute {name!r}")
