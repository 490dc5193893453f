"""Models that privateMDI can run: layers, loading, float and fixed-point forward passes, placement.

A :class:`Model` is an input shape, a sequence of layers and an output *head* (how outputs become
labels). Supported layers: :class:`Dense`, :class:`Conv2d` (stride, zero padding), :class:`AvgPool2d`,
:class:`Flatten`, :class:`ReLU` and :class:`MaxPool2d` (non-overlapping windows, right after a ReLU:
privately it is part of that ReLU's garbled circuit,
:func:`~private_mdi.gc.relu.privatemdi_maxpool_relu_circuit`).

Linear layers
-------------
The protocol (``docs/private-mdi.md``, paper arXiv 2407.18353 §III) sees a model as linear layers
ℓ = 1..L, each followed by a ReLU except the last. Here the layers between two ReLUs (any mix of
Dense, Conv2d, AvgPool2d and Flatten) are composed into **one** affine map ``x ↦ W x + b`` on the
flattened (C-order) input, the *dense-equivalent* of that segment: a convolution becomes its
(sparse, weight-shared) matrix and an average pooling is folded into the next linear layer
(``W_next · P``). :meth:`Model.linear_layers` returns them numbered 1..L.

Fixed-point semantics (what the private run reproduces bit for bit)
--------------------------------------------------------------------
With f fractional bits and a prime p, write ``signed(v)`` for the centred representative of
``v ∈ GF(p)`` (values above (p−1)/2 stand for ``v − p``). Then

* input: ``x̂ = round(x · 2^f) mod p`` (round half to even, as :func:`numpy.rint`);
* weights ``Ŵ = round(W · 2^f)``, biases ``β̂ = round(b · 2^{2f})`` (so ``Ŵ x̂ + β̂`` has scale 2^{2f});
* linear layer ℓ: ``v_ℓ = Ŵ_ℓ x̂_ℓ + β̂_ℓ mod p``;
* ReLU step (ℓ < L): ``x̂_{ℓ+1} = max(⌊signed(v_ℓ) / 2^f⌋, 0)`` (floor division of the centred value),
  back to scale 2^f; with max pooling after the ReLU, the maximum of these values over each window
  (equal to the ReLU step of the window's largest ``signed(v)``: both maps are monotone);
* the last layer has no ReLU; its output ``v_L`` (scale 2^{2f}) is what the client reconstructs.

:meth:`Model.reference` computes exactly this over GF(p). Whether (p, f) is safe for a model (no
intermediate value wraps) is the range analysis of :mod:`private_mdi.fixedpoint`; the reference only
refuses inputs whose encoding itself does not fit.

Placement
---------
:meth:`Model.placement` assigns linear layer ℓ to edge ``host(ℓ) ∈ {1..K}``; the garbled ReLU after
layer ℓ is evaluated by ``host(ℓ+1)``, so consecutive linear layers must be on different edges and
K ≥ 2. The default is round-robin, ``host(ℓ) = ((ℓ − 1) mod K) + 1``.

File format
-----------
:meth:`Model.save` writes a ``.npz`` (``allow_pickle=False``) holding ``format`` (``"private-mdi-model"``),
``version`` (1), ``spec`` (a JSON string: input shape, head, layer list with their hyper-parameters)
and one array per parameter, ``layer{i}.weight`` / ``layer{i}.bias`` (float64), plus ``classes``
when the head has labels. See ``docs/private-mdi.md`` for the full description.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cmpc.field import PrimeField

from .errors import OverflowRiskError, ParameterError, PlacementError, UnsupportedModelError

__all__ = [
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
    "encode_input",
    "signed",
]

FORMAT_NAME = "private-mdi-model"
FORMAT_VERSION = 1

#: How outputs become labels: ``argmax`` (multi-class), ``binary`` (one logit, label 1 iff > 0),
#: ``multilabel`` (one logit per label, each > 0), ``identity`` (regression: no labels).
HEADS = ("argmax", "binary", "multilabel", "identity")


def _pair(v: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(v, int | np.integer):
        t = (int(v), int(v))
    else:
        t = tuple(int(x) for x in v)  # type: ignore[assignment]
        if len(t) != 2:
            raise ParameterError(f"{name} must be an int or a pair of ints, got {v!r}")
    return t  # type: ignore[return-value]


# ----------------------------------------------------------------------------------------------
# Layers
# ----------------------------------------------------------------------------------------------
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


_LAYER_TYPES: dict[str, type[Layer]] = {
    "dense": Dense,
    "conv2d": Conv2d,
    "avgpool2d": AvgPool2d,
    "flatten": Flatten,
    "relu": ReLU,
    "maxpool2d": MaxPool2d,
}


# ----------------------------------------------------------------------------------------------
# Linear layers, quantisation, placement
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LinearLayer:
    """Linear layer ℓ (1-based) as its dense-equivalent affine map ``x ↦ W x + b`` (float64).

    ``relu_after`` is False only for the last one. ``source`` names the model layers it was built from.
    ``pool`` (or None) lists, per max-pooling window after the ReLU, the indices of its outputs.
    """

    index: int
    weight: np.ndarray
    bias: np.ndarray
    relu_after: bool
    source: str
    pool: np.ndarray | None = None  # (windows, window size) indices into this layer's outputs

    @property
    def in_dim(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_dim(self) -> int:
        return int(self.weight.shape[0])

    @property
    def relu_out_dim(self) -> int:
        """Values after the ReLU (and max pooling, if any): the next layer's input size."""
        return self.out_dim if self.pool is None else int(self.pool.shape[0])


@dataclass(frozen=True)
class QuantizedLayer:
    """Linear layer ℓ in fixed point: signed integer ``Ŵ = round(W·2^f)``, ``β̂ = round(b·2^{2f})``."""

    index: int
    weight: np.ndarray  # int64, signed
    bias: np.ndarray  # int64, signed
    relu_after: bool
    frac_bits: int
    pool: np.ndarray | None = None  # max-pooling windows after the ReLU (indices into the outputs)

    @property
    def in_dim(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_dim(self) -> int:
        return int(self.weight.shape[0])

    def weight_mod(self, p: int) -> np.ndarray:
        """``Ŵ mod p`` as int64 in [0, p)."""
        return np.mod(self.weight, p)

    def bias_mod(self, p: int) -> np.ndarray:
        """``β̂ mod p`` as int64 in [0, p)."""
        return np.mod(self.bias, p)


@dataclass(frozen=True)
class Placement:
    """Which edge (1..K) holds each linear layer; ``hosts[ℓ − 1] = host(ℓ)``."""

    edges: int
    hosts: tuple[int, ...]

    def host(self, layer: int) -> int:
        """The edge that computes linear layer ``layer`` (1-based)."""
        return self.hosts[layer - 1]

    def evaluator(self, layer: int) -> int:
        """The edge that evaluates the garbled ReLU after linear layer ``layer`` (= host(layer + 1))."""
        if not 1 <= layer < len(self.hosts):
            raise ParameterError(
                f"layer must be in [1, {len(self.hosts) - 1}] (has a ReLU after it), got {layer}"
            )
        return self.hosts[layer]

    def layers_of(self, edge: int) -> list[int]:
        """The linear layers (1-based) that ``edge`` holds."""
        return [i + 1 for i, h in enumerate(self.hosts) if h == edge]


def validate_placement(hosts: Sequence[int], edges: int, layers: int) -> Placement:
    """Check the placement rule and return a :class:`Placement` (raises :class:`PlacementError`)."""
    if isinstance(edges, bool) or not isinstance(edges, int | np.integer) or int(edges) < 2:
        raise PlacementError(f"privateMDI needs K >= 2 edge servers, got edges={edges!r}")
    edges = int(edges)
    hosts_t = tuple(int(h) for h in hosts)
    if len(hosts_t) != layers:
        raise PlacementError(
            f"placement must give one edge per linear layer: {layers} layers, got {len(hosts_t)}"
        )
    for i, h in enumerate(hosts_t, start=1):
        if not 1 <= h <= edges:
            raise PlacementError(f"linear layer {i} placed on edge {h}, edges are numbered 1..{edges}")
    for i in range(1, layers):
        if hosts_t[i - 1] == hosts_t[i]:
            raise PlacementError(
                f"linear layers {i} and {i + 1} are both on edge {hosts_t[i]}: consecutive linear layers "
                "must be on different edges (the edge holding a layer's output share must not evaluate "
                "the garbled ReLU that consumes it)"
            )
    return Placement(edges=edges, hosts=hosts_t)


def signed(v: np.ndarray, p: int) -> np.ndarray:
    """Centred representative of ``v ∈ [0, p)``: values above (p−1)/2 become ``v − p``."""
    v = np.asarray(v, dtype=np.int64)
    return np.where(v > (p - 1) // 2, v - p, v)


def encode_input(x: np.ndarray, frac_bits: int, p: int) -> np.ndarray:
    """``round(x · 2^f) mod p`` as int64 (round half to even); :class:`OverflowRiskError` if it wraps."""
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ParameterError("input must be finite")
    scaled = np.rint(x * float(1 << frac_bits))
    half = (p - 1) // 2
    if scaled.size and float(np.max(np.abs(scaled))) > half:
        raise OverflowRiskError(
            f"input value {float(np.max(np.abs(x))):.6g} times 2^{frac_bits} does not fit the field "
            f"(|x̂| must be <= (p-1)/2 = {half})",
            layer="input",
            bound=int(np.max(np.abs(scaled))),
        )
    return np.mod(scaled.astype(np.int64), p)


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------
@dataclass
class Model:
    """A feed-forward model: ``input_shape``, ``layers`` and a ``head`` (see :data:`HEADS`).

    ``classes`` (for classifier heads) maps output index → label, as scikit-learn's ``classes_``.
    Construction validates the layer sequence: shapes fit, the model neither starts nor ends with a
    ReLU, every MaxPool2d is next to a ReLU (``MaxPool2d, ReLU`` is reordered to ``ReLU, MaxPool2d``), and
    consecutive ReLUs are merged.
    """

    input_shape: tuple[int, ...]
    layers: list[Layer]
    head: str = "argmax"
    classes: np.ndarray | None = None
    name: str = "model"
    _linear: list[LinearLayer] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.input_shape = tuple(int(d) for d in (np.atleast_1d(self.input_shape)))
        if not self.input_shape or min(self.input_shape) < 1:
            raise ParameterError(f"input_shape must be non-empty with positive sizes, got {self.input_shape}")
        if self.head not in HEADS:
            raise ParameterError(f"head must be one of {HEADS}, got {self.head!r}")
        layers: list[Layer] = []
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise UnsupportedModelError(f"layer {i} is a {type(layer).__name__}, not a private_mdi layer")
            if isinstance(layer, ReLU) and layers and isinstance(layers[-1], ReLU):
                continue  # ReLU∘ReLU = ReLU
            if isinstance(layer, ReLU) and layers and isinstance(layers[-1], MaxPool2d):
                # MaxPool2d, ReLU → ReLU, MaxPool2d (max and the monotone ReLU commute)
                if len(layers) >= 2 and isinstance(layers[-2], ReLU):
                    continue
                layers.insert(len(layers) - 1, layer)
                continue
            layers.append(layer)
        for i, layer in enumerate(layers):
            if isinstance(layer, MaxPool2d) and not (i > 0 and isinstance(layers[i - 1], ReLU)):
                raise UnsupportedModelError(
                    f"MaxPool2d at position {i} is not next to a ReLU: privateMDI evaluates max pooling "
                    "inside the garbled ReLU, so it must directly follow (or precede) a ReLU"
                )
            if isinstance(layer, MaxPool2d) and i + 1 < len(layers) and isinstance(layers[i + 1], MaxPool2d):
                raise UnsupportedModelError("two consecutive MaxPool2d layers are not supported: merge them")
        if not layers:
            raise UnsupportedModelError("the model has no layers")
        if isinstance(layers[0], ReLU):
            raise UnsupportedModelError("the model starts with a ReLU: the first layer must be linear")
        if isinstance(layers[-1], ReLU):
            raise UnsupportedModelError(
                "the model ends with a ReLU: privateMDI's last linear layer has no activation "
                "(drop it, or apply it to the decoded output)"
            )
        self.layers = layers
        shape = self.input_shape
        for layer in layers:
            shape = layer.output_shape(shape)
        if len(shape) != 1:
            raise UnsupportedModelError(f"the model output must be flat, got shape {shape}: add a Flatten")
        self.output_dim = shape[0]
        if self.classes is not None:
            self.classes = np.asarray(self.classes)
            if self.classes.dtype == object:
                raise ParameterError("classes must be numbers or strings (not objects)")
        self._check_head()
        self._linear = self._build_linear()

    def _check_head(self) -> None:
        n = self.output_dim
        if self.head == "argmax" and self.classes is not None and len(self.classes) != n:
            raise ParameterError(f"argmax head: {len(self.classes)} classes for {n} outputs")
        if self.head == "binary":
            if n != 1:
                raise ParameterError(f"binary head needs exactly one output, got {n}")
            if self.classes is not None and len(self.classes) != 2:
                raise ParameterError(f"binary head needs 2 classes, got {len(self.classes)}")
        if self.head == "multilabel" and self.classes is not None and len(self.classes) != n:
            raise ParameterError(f"multilabel head: {len(self.classes)} labels for {n} outputs")

    # -- structure ------------------------------------------------------------------------------
    @property
    def input_dim(self) -> int:
        return math.prod(self.input_shape)

    def _segments(self) -> tuple[list[list[Layer]], list[MaxPool2d | None]]:
        """Linear segments between ReLUs, and the max pooling (if any) right after each ReLU."""
        segs: list[list[Layer]] = [[]]
        pools: list[MaxPool2d | None] = []
        for i, layer in enumerate(self.layers):
            if isinstance(layer, ReLU):
                segs.append([])
                nxt = self.layers[i + 1] if i + 1 < len(self.layers) else None
                pools.append(nxt if isinstance(nxt, MaxPool2d) else None)
            elif not isinstance(layer, MaxPool2d):
                segs[-1].append(layer)
        return segs, pools

    def _build_linear(self) -> list[LinearLayer]:
        out: list[LinearLayer] = []
        shape = self.input_shape
        segs, pools = self._segments()
        for i, seg in enumerate(segs, start=1):
            d_in = math.prod(shape)
            # dense-equivalent: the identity basis pushed through the segment without biases gives
            # the columns of W; the zero vector pushed through with biases gives b.
            basis = np.eye(d_in).reshape((d_in, *shape))
            zero = np.zeros((1, *shape))
            for layer in seg:
                basis = layer.forward_unbiased(basis)
                zero = layer.forward(zero)
                shape = layer.output_shape(shape)
            w = basis.reshape(d_in, -1).T
            pool = pools[i - 1] if i <= len(pools) else None
            windows = None
            source = " then ".join(layer.describe() for layer in seg) or "identity"
            if pool is not None:
                windows = pool.windows(shape)
                shape = pool.output_shape(shape)
            out.append(
                LinearLayer(
                    index=i,
                    weight=np.ascontiguousarray(w),
                    bias=zero.reshape(-1).copy(),
                    relu_after=i < len(segs),
                    source=source,
                    pool=windows,
                )
            )
        return out

    def linear_layers(self) -> list[LinearLayer]:
        """The linear layers ℓ = 1..L (dense-equivalent, float64), ReLU after each but the last."""
        return list(self._linear)

    def dense_equivalent(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(W_ℓ, b_ℓ)]`` for ℓ = 1..L, ``W`` of shape (out, in).

        Without max pooling this is exactly what the range analysis of :mod:`private_mdi.fixedpoint`
        takes. With max pooling the layer after a pooled ReLU takes the pooled values as input; use
        :meth:`range_layers` for the analysis.
        """
        return [(lin.weight, lin.bias) for lin in self._linear]

    def range_layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(W, b)`` per linear layer for :func:`~private_mdi.fixedpoint.analyse_ranges` (sound bounds).

        Equal to :meth:`dense_equivalent` unless a ReLU is followed by max pooling. Then the next layer's
        matrix is expanded to act on every element of the windows: column i gets the column of the window
        that holds i (zero if i is in none). Since the pooled value lies in [0, max_i x_i] and
        0 ≤ max_i x_i ≤ Σ_i x_i for the non-negative ReLU outputs, the interval this expanded layer gives
        contains the true one (looser by at most the window size), so the bound stays sound.
        """
        out = []
        prev: LinearLayer | None = None
        for lin in self._linear:
            w = lin.weight
            if prev is not None and prev.pool is not None:
                wide = np.zeros((w.shape[0], prev.out_dim))
                for j, win in enumerate(prev.pool):
                    wide[:, win] = w[:, [j]]
                w = wide
            out.append((w, lin.bias))
            prev = lin
        return out

    @property
    def num_linear(self) -> int:
        return len(self._linear)

    def relu_counts(self) -> list[int]:
        """Garbled ReLU copies after each linear layer ℓ < L (one per neuron, or per pooling window)."""
        return [lin.relu_out_dim for lin in self._linear[:-1]]

    def placement(self, edges: int, hosts: Sequence[int] | None = None) -> Placement:
        """Round-robin placement on ``edges`` edges, or check ``hosts`` (raises :class:`PlacementError`)."""
        if isinstance(edges, bool) or not isinstance(edges, int | np.integer) or int(edges) < 2:
            raise PlacementError(f"privateMDI needs K >= 2 edge servers, got edges={edges!r}")
        if hosts is None:
            hosts = [((i - 1) % int(edges)) + 1 for i in range(1, self.num_linear + 1)]
        return validate_placement(hosts, int(edges), self.num_linear)

    # -- forward passes -------------------------------------------------------------------------
    def _batch(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape == self.input_shape or (x.ndim == 1 and x.size == self.input_dim):
            x = x.reshape(1, -1)
        if x.ndim == 2 and x.shape[1] == self.input_dim:
            return x
        if x.shape[1:] == self.input_shape:
            return x.reshape(x.shape[0], -1)
        raise ParameterError(
            f"X must have shape (n, {self.input_dim}) or (n, *{self.input_shape}), got {x.shape}"
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Plaintext float forward pass, layer by layer; returns (n, outputs) logits."""
        h = self._batch(x).reshape((-1, *self.input_shape))
        for layer in self.layers:
            h = layer.forward(h)
        return h.reshape(h.shape[0], -1)

    def forward_dense(self, x: np.ndarray) -> np.ndarray:
        """Float forward pass through the dense-equivalent linear layers (same result as :meth:`forward`)."""
        h = self._batch(x)
        for lin in self._linear:
            h = h @ lin.weight.T + lin.bias
            if lin.relu_after:
                h = np.maximum(h, 0.0)
                if lin.pool is not None:
                    h = h[:, lin.pool].max(axis=2)
        return h

    def labels(self, outputs: np.ndarray) -> np.ndarray:
        """Labels from (n, outputs) logits (float, or signed integers at any positive scale)."""
        out = np.asarray(outputs)
        if self.head == "identity":
            raise ParameterError("a regression model (head 'identity') has no labels: use the outputs")
        if self.head == "argmax":
            idx = np.argmax(out, axis=1)
            return self.classes[idx] if self.classes is not None else idx
        if self.head == "binary":
            idx = (out[:, 0] > 0).astype(np.int64)
            return self.classes[idx] if self.classes is not None else idx
        pos = (out > 0).astype(np.int64)  # multilabel: indicator matrix, as scikit-learn
        return pos

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Plaintext float labels (or outputs for regression)."""
        out = self.forward(x)
        return out if self.head == "identity" else self.labels(out)

    # -- fixed point ----------------------------------------------------------------------------
    def quantized(self, frac_bits: int) -> list[QuantizedLayer]:
        """Linear layers with ``Ŵ = round(W·2^f)``, ``β̂ = round(b·2^{2f})`` (signed int64)."""
        f = _check_frac_bits(frac_bits)
        out = []
        for lin in self._linear:
            w = np.rint(lin.weight * float(1 << f))
            b = np.rint(lin.bias * float(1 << (2 * f)))
            if max(float(np.max(np.abs(w), initial=0)), float(np.max(np.abs(b), initial=0))) >= 2.0**62:
                raise OverflowRiskError(
                    f"linear layer {lin.index}: weights or biases times 2^f do not fit in 62 bits",
                    layer=str(lin.index),
                )
            out.append(
                QuantizedLayer(
                    index=lin.index,
                    weight=w.astype(np.int64),
                    bias=b.astype(np.int64),
                    relu_after=lin.relu_after,
                    frac_bits=f,
                    pool=lin.pool,
                )
            )
        return out

    def encode(self, x: np.ndarray, frac_bits: int, p: int) -> np.ndarray:
        """The client's fixed-point input ``x̂ = round(x·2^f) mod p``, shape (n, input_dim)."""
        return encode_input(self._batch(x), _check_frac_bits(frac_bits), int(p))

    def reference(
        self, x: np.ndarray, frac_bits: int, p: int, *, trace: bool = False
    ) -> np.ndarray | tuple[np.ndarray, list[np.ndarray]]:
        """Fixed-point forward pass over GF(p): the last layer's ``v_L`` as int64 in [0, p), (n, out).

        With ``trace=True`` also returns every layer's ``v_ℓ`` (before the ReLU step). The private
        run reconstructs exactly ``v_L``.
        """
        f = _check_frac_bits(frac_bits)
        fld = PrimeField(int(p))
        h = self.encode(x, f, fld.p)
        vs = []
        for q in self.quantized(f):
            v = fld.raw_add(
                fld.raw_matmul(h, q.weight_mod(fld.p).T),
                np.broadcast_to(q.bias_mod(fld.p), (h.shape[0], q.out_dim)),
            )
            vs.append(v)
            if q.relu_after:
                h = relu_truncate(v, f, fld.p)
                if q.pool is not None:
                    h = h[:, q.pool].max(axis=2)  # max of non-negative values: no wrap-around issue
        out = vs[-1]
        return (out, vs) if trace else out

    def reference_logits(self, x: np.ndarray, frac_bits: int, p: int) -> np.ndarray:
        """:meth:`reference` decoded to floats: ``signed(v_L) / 2^{2f}``."""
        v = self.reference(x, frac_bits, p)
        assert isinstance(v, np.ndarray)
        return decode_output(v, frac_bits, p)

    def reference_predict(self, x: np.ndarray, frac_bits: int, p: int) -> np.ndarray:
        """Labels (or decoded outputs) of the fixed-point reference."""
        v = self.reference(x, frac_bits, p)
        assert isinstance(v, np.ndarray)
        s = signed(v, int(p))
        return decode_output(v, frac_bits, p) if self.head == "identity" else self.labels(s)

    # -- loading and saving ---------------------------------------------------------------------
    @classmethod
    def from_sklearn(cls, estimator: Any, *, name: str | None = None) -> Model:
        """Convert a fitted scikit-learn ``MLPClassifier`` or ``MLPRegressor``.

        Hidden activation must be ``relu`` (or ``identity``, whose layers simply compose);
        ``tanh`` and ``logistic`` are refused with :class:`UnsupportedModelError`. The output
        activation is dropped: ``softmax`` → argmax head, ``logistic`` with one output → binary head
        (label ``classes_[1]`` iff the logit > 0, as ``predict``), ``logistic`` with several outputs →
        multilabel head, ``identity`` (regressor) → identity head.
        """
        kind = type(estimator).__name__
        if kind not in ("MLPClassifier", "MLPRegressor"):
            raise UnsupportedModelError(f"from_sklearn supports MLPClassifier and MLPRegressor, got {kind}")
        if not hasattr(estimator, "coefs_"):
            raise ParameterError(f"the {kind} is not fitted (no coefs_)")
        act = estimator.activation
        if act not in ("relu", "identity"):
            raise UnsupportedModelError(
                f"{kind} hidden activation {act!r} is not supported: privateMDI evaluates only ReLU "
                "(retrain with activation='relu')"
            )
        coefs = estimator.coefs_
        inter = estimator.intercepts_
        layers: list[Layer] = []
        for i, (w, b) in enumerate(zip(coefs, inter)):
            layers.append(Dense(np.asarray(w).T, np.asarray(b)))
            if i < len(coefs) - 1 and act == "relu":
                layers.append(ReLU())
        if act == "identity" and len(layers) > 1:
            layers = _compose_dense(layers)  # type: ignore[arg-type]
        out_act = estimator.out_activation_
        classes = None
        if kind == "MLPRegressor":
            head = "identity"
        elif out_act == "softmax":
            head, classes = "argmax", np.asarray(estimator.classes_)
        elif out_act == "logistic" and coefs[-1].shape[1] == 1:
            head, classes = "binary", np.asarray(estimator.classes_)
        elif out_act == "logistic":
            head = "multilabel"
        else:
            raise UnsupportedModelError(f"{kind} output activation {out_act!r} is not supported")
        if classes is not None and classes.dtype == object:
            classes = classes.astype(str)
        return cls(
            input_shape=(int(coefs[0].shape[0]),),
            layers=layers,
            head=head,
            classes=classes,
            name=name or kind,
        )

    def save(self, path: str | Path) -> None:
        """Write the model as a compressed ``.npz`` (format described in the module docstring)."""
        spec = {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "head": self.head,
            "layers": [layer.config() for layer in self.layers],
        }
        arrays: dict[str, np.ndarray] = {
            "format": np.array(FORMAT_NAME),
            "version": np.array(FORMAT_VERSION),
            "spec": np.array(json.dumps(spec)),
        }
        for i, layer in enumerate(self.layers):
            for key, val in layer.params().items():
                arrays[f"layer{i}.{key}"] = val
        if self.classes is not None:
            arrays["classes"] = self.classes
        np.savez_compressed(Path(path), **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: str | Path) -> Model:
        """Read a model written by :meth:`save` (never unpickles; bad files → :class:`ParameterError`)."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise ParameterError(f"cannot read model file {path}: {exc}") from exc
        if "format" not in arrays or str(arrays["format"]) != FORMAT_NAME:
            raise ParameterError(f"{path} is not a {FORMAT_NAME} file (missing or wrong 'format')")
        version = int(arrays.get("version", -1))
        if version != FORMAT_VERSION:
            raise ParameterError(
                f"{path}: unsupported model format version {version}, expected {FORMAT_VERSION}"
            )
        try:
            spec = json.loads(str(arrays["spec"]))
            layers: list[Layer] = []
            for i, conf in enumerate(spec["layers"]):
                layers.append(_layer_from_config(i, conf, arrays))
            return cls(
                input_shape=tuple(spec["input_shape"]),
                layers=layers,
                head=spec.get("head", "argmax"),
                classes=arrays.get("classes"),
                name=spec.get("name", "model"),
            )
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ParameterError(f"{path}: malformed model spec ({exc!r})") from exc

    def summary(self) -> str:
        """A human-readable description of the layers and the linear layers ℓ = 1..L."""
        lines = [f"{self.name}: input {self.input_shape}, head {self.head}"]
        for lin in self._linear:
            relu = " + ReLU" if lin.relu_after else ""
            lines.append(f"  L{lin.index}: {lin.in_dim}→{lin.out_dim} = {lin.source}{relu}")
        return "\n".join(lines)


def _compose_dense(layers: list[Dense]) -> list[Layer]:
    w = layers[0].weight
    b = layers[0].bias
    for layer in layers[1:]:
        b = layer.weight @ b + layer.bias
        w = layer.weight @ w
    return [Dense(w, b)]


def _check_frac_bits(frac_bits: int) -> int:
    if isinstance(frac_bits, bool) or not isinstance(frac_bits, int | np.integer):
        raise ParameterError(f"frac_bits must be an integer, got {type(frac_bits).__name__}")
    f = int(frac_bits)
    if not 0 <= f <= 30:
        raise ParameterError(f"frac_bits must be in [0, 30], got {f}")
    return f


def relu_truncate(v: np.ndarray, frac_bits: int, p: int) -> np.ndarray:
    """The ReLU step of the fixed-point semantics: ``max(⌊signed(v) / 2^f⌋, 0)`` as int64 in [0, p)."""
    s = signed(v, p)
    return np.maximum(s >> frac_bits, 0)


def decode_output(v: np.ndarray, frac_bits: int, p: int) -> np.ndarray:
    """``signed(v) / 2^{2f}`` as float64 (the last layer's output scale)."""
    return signed(v, int(p)).astype(np.float64) / float(1 << (2 * int(frac_bits)))


def _layer_from_config(i: int, conf: dict[str, Any], arrays: dict[str, np.ndarray]) -> Layer:
    kind = conf.get("type")
    if kind not in _LAYER_TYPES:
        raise UnsupportedModelError(
            f"layer {i} has unsupported type {kind!r}; supported: {sorted(_LAYER_TYPES)}"
        )
    if kind == "dense":
        return Dense(arrays[f"layer{i}.weight"], arrays[f"layer{i}.bias"])
    if kind == "conv2d":
        return Conv2d(
            arrays[f"layer{i}.weight"],
            arrays[f"layer{i}.bias"],
            stride=tuple(conf.get("stride", (1, 1))),  # type: ignore[arg-type]
            padding=tuple(conf.get("padding", (0, 0))),  # type: ignore[arg-type]
        )
    if kind == "avgpool2d":
        return AvgPool2d(kernel=tuple(conf["kernel"]), stride=tuple(conf["stride"]))  # type: ignore[arg-type]
    if kind == "maxpool2d":
        return MaxPool2d(kernel=tuple(conf["kernel"]))  # type: ignore[arg-type]
    return _LAYER_TYPES[kind]()
