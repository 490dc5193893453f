"""Model layers: Dense, Conv2d, AvgPool2d, MaxPool2d, Flatten and ReLU, with their float forward passes.

Every layer works on a batch (leading axis = samples) in float64. Linear layers (Dense, Conv2d,
AvgPool2d, Flatten) are later composed into dense-equivalent affine maps (:mod:`.lowering`); ReLU is
the only non-linearity, evaluated privately as a garbled circuit; MaxPool2d is evaluated inside the
garbled ReLU before it (:func:`~private_mdi.gc.relu.privatemdi_maxpool_relu_circuit`).

``config()`` gives the JSON-able hyper-parameters and ``params()`` the arrays, as saved by
:mod:`.serialization`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ParameterError, UnsupportedModelError

__all__ = [
    "LAYER_TYPES",
    "AvgPool2d",
    "Conv2d",
    "Dense",
    "Flatten",
    "Layer",
    "MaxPool2d",
    "ReLU",
]


def _pair(v: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(v, int | np.integer):
        t = (int(v), int(v))
    else:
        t = tuple(int(x) for x in v)  # type: ignore[assignment]
        if len(t) != 2:
            raise ParameterError(f"{name} must be an int or a pair of ints, got {v!r}")
    return t  # type: ignore[return-value]


class Layer:
    """Base class of model layers. ``forward`` works on a batch (leading axis = samples)."""

    kind: str = "layer"
    linear: bool = True

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        raise NotImplementedError

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward_unbiased(self, x: np.ndarray) -> np.ndarray:
        """The linear part of the layer (``forward`` without the bias)."""
        return self.forward(x)

    def params(self) -> dict[str, np.ndarray]:
        return {}

    def config(self) -> dict[str, Any]:
        return {"type": self.kind}

    def describe(self) -> str:
        return self.kind


@dataclass
class Dense(Layer):
    """``y = W x + b`` with ``W`` of shape (out, in) (note: scikit-learn stores the transpose)."""

    weight: np.ndarray
    bias: np.ndarray
    kind = "dense"

    def __post_init__(self) -> None:
        self.weight = np.asarray(self.weight, dtype=np.float64)
        self.bias = np.asarray(self.bias, dtype=np.float64)
        if self.weight.ndim != 2:
            raise ParameterError(f"Dense weight must be 2-D (out, in), got shape {self.weight.shape}")
        if self.bias.shape != (self.weight.shape[0],):
            raise ParameterError(
                f"Dense bias must have shape ({self.weight.shape[0]},), got {self.bias.shape}"
            )
        if not (np.all(np.isfinite(self.weight)) and np.all(np.isfinite(self.bias))):
            raise ParameterError("Dense weight and bias must be finite")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 1:
            raise UnsupportedModelError(
                f"Dense needs a flat input, got shape {input_shape}: put a Flatten layer before it"
            )
        if input_shape[0] != self.weight.shape[1]:
            raise ParameterError(
                f"Dense expects {self.weight.shape[1]} inputs, the previous layer gives {input_shape[0]}"
            )
        return (self.weight.shape[0],)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weight.T + self.bias

    def forward_unbiased(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weight.T

    def params(self) -> dict[str, np.ndarray]:
        return {"weight": self.weight, "bias": self.bias}

    def describe(self) -> str:
        return f"dense({self.weight.shape[1]}→{self.weight.shape[0]})"


@dataclass
class Conv2d(Layer):
    """2-D cross-correlation (as in PyTorch): weight (C_out, C_in, kh, kw), bias (C_out,).

    ``stride`` and ``padding`` are pairs (an int is accepted for both directions).

    Input (C_in, H, W) is zero padded by ``padding`` on each side; output
    ``(C_out, ⌊(H + 2p_h − kh)/s_h⌋ + 1, ⌊(W + 2p_w − kw)/s_w⌋ + 1)``.
    """

    weight: np.ndarray
    bias: np.ndarray
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    kind = "conv2d"

    def __post_init__(self) -> None:
        self.weight = np.asarray(self.weight, dtype=np.float64)
        self.bias = np.asarray(self.bias, dtype=np.float64)
        self.stride = _pair(self.stride, "stride")
        self.padding = _pair(self.padding, "padding")
        if self.weight.ndim != 4:
            raise ParameterError(
                f"Conv2d weight must be 4-D (C_out, C_in, kh, kw), got shape {self.weight.shape}"
            )
        if self.bias.shape != (self.weight.shape[0],):
            raise ParameterError(
                f"Conv2d bias must have shape ({self.weight.shape[0]},), got {self.bias.shape}"
            )
        if min(self.stride) < 1:
            raise ParameterError(f"Conv2d stride must be >= 1, got {self.stride}")
        if min(self.padding) < 0:
            raise ParameterError(f"Conv2d padding must be >= 0, got {self.padding}")
        if not (np.all(np.isfinite(self.weight)) and np.all(np.isfinite(self.bias))):
            raise ParameterError("Conv2d weight and bias must be finite")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 3:
            raise UnsupportedModelError(f"Conv2d needs a (C, H, W) input, got shape {input_shape}")
        c, h, w = input_shape
        co, ci, kh, kw = self.weight.shape
        if c != ci:
            raise ParameterError(f"Conv2d expects {ci} input channels, got {c}")
        ho = (h + 2 * self.padding[0] - kh) // self.stride[0] + 1
        wo = (w + 2 * self.padding[1] - kw) // self.stride[1] + 1
        if ho < 1 or wo < 1:
            raise ParameterError(f"Conv2d kernel {kh}x{kw} does not fit the padded input {input_shape}")
        return (co, ho, wo)

    def forward_unbiased(self, x: np.ndarray) -> np.ndarray:
        ph, pw = self.padding
        sh, sw = self.stride
        _, _, kh, kw = self.weight.shape
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        return np.einsum("nchwij,ocij->nohw", win, self.weight, optimize=True)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.forward_unbiased(x) + self.bias[None, :, None, None]

    def params(self) -> dict[str, np.ndarray]:
        return {"weight": self.weight, "bias": self.bias}

    def config(self) -> dict[str, Any]:
        return {"type": self.kind, "stride": list(self.stride), "padding": list(self.padding)}

    def describe(self) -> str:
        co, ci, kh, kw = self.weight.shape
        return f"conv2d({ci}→{co}, {kh}x{kw}, stride {self.stride}, padding {self.padding})"


@dataclass
class AvgPool2d(Layer):
    """Average over ``kernel`` windows moved by ``stride`` (default: the kernel), no padding."""

    kernel: tuple[int, int] = (2, 2)
    stride: tuple[int, int] | None = None
    kind = "avgpool2d"

    def __post_init__(self) -> None:
        self.kernel = _pair(self.kernel, "kernel")
        self.stride = self.kernel if self.stride is None else _pair(self.stride, "stride")
        if min(self.kernel) < 1 or min(self.stride) < 1:
            raise ParameterError(
                f"AvgPool2d kernel and stride must be >= 1, got {self.kernel}, {self.stride}"
            )

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 3:
            raise UnsupportedModelError(f"AvgPool2d needs a (C, H, W) input, got shape {input_shape}")
        c, h, w = input_shape
        assert self.stride is not None
        ho = (h - self.kernel[0]) // self.stride[0] + 1
        wo = (w - self.kernel[1]) // self.stride[1] + 1
        if ho < 1 or wo < 1:
            raise ParameterError(f"AvgPool2d kernel {self.kernel} does not fit the input {input_shape}")
        return (c, ho, wo)

    def forward(self, x: np.ndarray) -> np.ndarray:
        assert self.stride is not None
        win = np.lib.stride_tricks.sliding_window_view(x, self.kernel, axis=(2, 3))
        win = win[:, :, :: self.stride[0], :: self.stride[1]]
        return win.mean(axis=(-2, -1))

    def config(self) -> dict[str, Any]:
        assert self.stride is not None
        return {"type": self.kind, "kernel": list(self.kernel), "stride": list(self.stride)}

    def describe(self) -> str:
        return f"avgpool2d({self.kernel[0]}x{self.kernel[1]}, stride {self.stride})"


@dataclass
class MaxPool2d(Layer):
    """Max over non-overlapping ``kernel`` windows (stride = kernel), no padding.

    Privately it is evaluated inside the garbled ReLU of the preceding linear layer
    (:func:`~private_mdi.gc.relu.privatemdi_maxpool_relu_circuit`), so it must sit right after a ReLU
    (``ReLU, MaxPool2d``; ``MaxPool2d, ReLU`` is accepted and reordered, since max and ReLU commute).
    Overlapping windows (stride ≠ kernel) are refused: the range analysis bounds a window's maximum by
    the sum of its elements' bounds, which needs every element in at most one window.
    """

    kernel: tuple[int, int] = (2, 2)
    stride: tuple[int, int] | None = None
    kind = "maxpool2d"
    linear = False

    def __post_init__(self) -> None:
        self.kernel = _pair(self.kernel, "kernel")
        self.stride = self.kernel if self.stride is None else _pair(self.stride, "stride")
        if min(self.kernel) < 1:
            raise ParameterError(f"MaxPool2d kernel must be >= 1, got {self.kernel}")
        if self.stride != self.kernel:
            raise UnsupportedModelError(
                f"MaxPool2d with stride {self.stride} != kernel {self.kernel} (overlapping windows) is not "
                "supported: use stride = kernel"
            )

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 3:
            raise UnsupportedModelError(f"MaxPool2d needs a (C, H, W) input, got shape {input_shape}")
        c, h, w = input_shape
        ho, wo = h // self.kernel[0], w // self.kernel[1]
        if ho < 1 or wo < 1:
            raise ParameterError(f"MaxPool2d kernel {self.kernel} does not fit the input {input_shape}")
        return (c, ho, wo)

    def forward(self, x: np.ndarray) -> np.ndarray:
        kh, kw = self.kernel
        n, c, h, w = x.shape
        ho, wo = h // kh, w // kw
        return x[:, :, : ho * kh, : wo * kw].reshape(n, c, ho, kh, wo, kw).max(axis=(3, 5))

    def windows(self, input_shape: tuple[int, ...]) -> np.ndarray:
        """(outputs, kh·kw) indices into the C-order flattened input: the elements of each window."""
        c, h, w = input_shape
        kh, kw = self.kernel
        ho, wo = h // kh, w // kw
        grid = np.arange(c * h * w).reshape(c, h, w)[:, : ho * kh, : wo * kw]
        return grid.reshape(c, ho, kh, wo, kw).transpose(0, 1, 3, 2, 4).reshape(c * ho * wo, kh * kw)

    def config(self) -> dict[str, Any]:
        return {"type": self.kind, "kernel": list(self.kernel)}

    def describe(self) -> str:
        return f"maxpool2d({self.kernel[0]}x{self.kernel[1]})"


@dataclass
class Flatten(Layer):
    """(C, H, W) → (C·H·W,) in C order."""

    kind = "flatten"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (math.prod(input_shape),)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(x.shape[0], -1)


@dataclass
class ReLU(Layer):
    """``max(x, 0)``: the only non-linearity; evaluated as a garbled circuit in the private run."""

    kind = "relu"
    linear = False

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0.0)


LAYER_TYPES: dict[str, type[Layer]] = {
    "dense": Dense,
    "conv2d": Conv2d,
    "avgpool2d": AvgPool2d,
    "flatten": Flatten,
    "relu": ReLU,
    "maxpool2d": MaxPool2d,
}
