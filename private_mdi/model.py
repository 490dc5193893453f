"""Compatibility module: the model names as they were importable before the split into
:mod:`private_mdi.nn` (layers, model, lowering, files, importers), :mod:`private_mdi.fixedpoint`
(fixed-point semantics) and :mod:`private_mdi.placement`. New code should import from those.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .fixedpoint import FixedPoint, signed
from .nn.layers import AvgPool2d, Conv2d, Dense, Flatten, Layer, MaxPool2d, ReLU
from .nn.lowering import LinearLayer, QuantizedLayer
from .nn.model import HEADS, Model
from .nn.serialization import FORMAT_NAME, FORMAT_VERSION
from .placement import Placement, validate_placement

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "HEADS",
    "AvgPool2d",
    "Conv2d",
    "Dense",
    "Flatten",
    "Layer",
    "LinearLayer",
    "MaxPool2d",
    "Model",
    "Placement",
    "QuantizedLayer",
    "ReLU",
    "decode_output",
    "encode_input",
    "relu_truncate",
    "signed",
    "validate_placement",
]


def decode_output(v: Any, frac_bits: int, p: int) -> np.ndarray:
    """``signed(v) / 2^{2f}`` as float64: ``FixedPoint(p, frac_bits).decode_output(v)``."""
    return FixedPoint(int(p), frac_bits).decode_output(v)


def relu_truncate(v: Any, frac_bits: int, p: int) -> np.ndarray:
    """The ReLU step ``max(⌊signed(v) / 2^f⌋, 0)``: ``FixedPoint(p, frac_bits).truncate(v)``."""
    return FixedPoint(int(p), frac_bits).truncate(v)


def encode_input(x: Any, frac_bits: int, p: int) -> np.ndarray:
    """``round(x · 2^f) mod p`` (int64): ``FixedPoint(p, frac_bits).encode(x)``."""
    return FixedPoint(int(p), frac_bits).encode(x, what="input")
