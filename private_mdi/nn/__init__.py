"""Neural-network models that privateMDI can run.

* :mod:`.layers`: Dense, Conv2d, AvgPool2d, MaxPool2d, Flatten, ReLU (float forward passes);
* :mod:`.model`: :class:`Model` (validation, float forward, heads and labels);
* :mod:`.lowering`: dense equivalents (:class:`LinearLayer`), range layers, :class:`QuantizedLayer`;
* :mod:`.serialization`: the ``.npz`` file format, read without trusting the file;
* importers: :mod:`.sklearn` (``MLPClassifier`` / ``MLPRegressor``), :mod:`.onnx` (ONNX graphs).

Fixed-point semantics live in :mod:`private_mdi.fixedpoint`, placement in :mod:`private_mdi.placement`.
"""

from __future__ import annotations

from .layers import LAYER_TYPES, AvgPool2d, Conv2d, Dense, Flatten, Layer, MaxPool2d, ReLU
from .lowering import LinearLayer, QuantizedLayer, build_linear, quantize, range_layers
from .model import HEADS, Model

__all__ = [
    "HEADS",
    "LAYER_TYPES",
    "AvgPool2d",
    "Conv2d",
    "Dense",
    "Flatten",
    "Layer",
    "LinearLayer",
    "MaxPool2d",
    "Model",
    "QuantizedLayer",
    "ReLU",
    "build_linear",
    "quantize",
    "range_layers",
]
