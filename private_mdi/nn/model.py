"""The :class:`Model`: input shape, validated layer sequence, head (how outputs become labels).

Float forward passes, labels, and the entry points of lowering (:mod:`.lowering`), fixed point
(:mod:`private_mdi.fixedpoint`), placement (:mod:`private_mdi.placement`), files
(:mod:`.serialization`) and importers (:mod:`.sklearn`, :mod:`.onnx`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ParameterError, UnsupportedModelError
from ..fixedpoint import FixedPoint, reference_forward
from ..placement import Placement, round_robin, validate_placement
from .layers import Layer, MaxPool2d, ReLU
from .lowering import LinearLayer, QuantizedLayer, build_linear, quantize, range_layers
from .operator import SparseOperator

__all__ = ["HEADS", "Model"]

#: How outputs become labels: ``argmax`` (multi-class), ``binary`` (one logit, label 1 iff > 0),
#: ``multilabel`` (one logit per label, each > 0), ``identity`` (regression: no labels).
HEADS = ("argmax", "binary", "multilabel", "identity")

#: quantisation does not depend on p; any prime serves to build the FixedPoint value
_P_ANY = 2**61 - 1


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
        self._linear = build_linear(self.input_shape, self.layers)

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

    def linear_layers(self) -> list[LinearLayer]:
        """The linear layers ℓ = 1..L (dense-equivalent, float64), ReLU after each but the last."""
        return list(self._linear)

    def dense_equivalent(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(W_ℓ, b_ℓ)]`` for ℓ = 1..L, ``W`` of shape (out, in).

        Without max pooling this is exactly what the range analysis of :mod:`private_mdi.fixedpoint`
        takes. With max pooling the layer after a pooled ReLU takes the pooled values as input; use
        :meth:`range_layers` for the analysis.
        """
        return [
            (lin.weight.to_dense() if isinstance(lin.weight, SparseOperator) else lin.weight, lin.bias)
            for lin in self._linear
        ]

    def range_layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(W, b)`` per linear layer for :func:`~private_mdi.fixedpoint.analyse_ranges` (sound bounds).

        Equal to :meth:`dense_equivalent` unless a ReLU is followed by max pooling; see
        :func:`~private_mdi.nn.lowering.range_layers`.
        """
        return range_layers(self._linear)

    @property
    def num_linear(self) -> int:
        return len(self._linear)

    def relu_counts(self) -> list[int]:
        """Garbled ReLU copies after each linear layer ℓ < L (one per neuron, or per pooling window)."""
        return [lin.relu_out_dim for lin in self._linear[:-1]]

    def placement(self, edges: int, hosts: Sequence[int] | None = None) -> Placement:
        """Round-robin placement on ``edges`` edges, or check ``hosts`` (raises :class:`PlacementError`)."""
        if hosts is None:
            return round_robin(edges, self.num_linear)
        return validate_placement(hosts, edges, self.num_linear)

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
            w = lin.weight
            h = (w.matmul(h.T).T if isinstance(w, SparseOperator) else h @ w.T) + lin.bias
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

    def outputs(self, out: np.ndarray) -> np.ndarray:
        """Regression outputs in scikit-learn's shape: (n,) for one output, else (n, outputs)."""
        out = np.asarray(out)
        return out.reshape(-1) if self.output_dim == 1 else out

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Plaintext float labels, or for regression (head ``identity``) the outputs, shaped as in
        scikit-learn (a single-output regressor gives shape (n,))."""
        out = self.forward(x)
        return self.outputs(out) if self.head == "identity" else self.labels(out)

    # -- fixed point ----------------------------------------------------------------------------
    def quantized(self, frac_bits: int) -> list[QuantizedLayer]:
        """Linear layers with ``Ŵ = round(W·2^f)``, ``β̂ = round(b·2^{2f})`` (signed int64)."""
        return quantize(self._linear, FixedPoint(_P_ANY, frac_bits))

    def encode(self, x: np.ndarray, frac_bits: int, p: int) -> np.ndarray:
        """The client's fixed-point input ``x̂ = round(x·2^f) mod p``, shape (n, input_dim)."""
        return FixedPoint(int(p), frac_bits).encode(self._batch(x), what="input")

    def reference(
        self, x: np.ndarray, frac_bits: int, p: int, *, trace: bool = False
    ) -> np.ndarray | tuple[np.ndarray, list[np.ndarray]]:
        """Fixed-point forward pass over GF(p): the last layer's ``v_L`` as int64 in [0, p), (n, out).

        The semantics are :mod:`private_mdi.fixedpoint.core`; with ``trace=True`` also returns every
        layer's ``v_ℓ`` (before the ReLU step). The private run reconstructs exactly ``v_L``.
        """
        fp = FixedPoint(int(p), frac_bits)
        x_hat = fp.encode(self._batch(x), what="input")
        return reference_forward(fp, quantize(self._linear, fp), x_hat, trace=trace)

    def reference_logits(self, x: np.ndarray, frac_bits: int, p: int) -> np.ndarray:
        """:meth:`reference` decoded to floats: ``signed(v_L) / 2^{2f}``, (n, outputs)."""
        v = self.reference(x, frac_bits, p)
        assert isinstance(v, np.ndarray)
        return FixedPoint(int(p), frac_bits).decode_output(v)

    def reference_predict(self, x: np.ndarray, frac_bits: int, p: int) -> np.ndarray:
        """What :meth:`predict` returns, from the fixed-point reference (labels, or decoded outputs)."""
        v = self.reference(x, frac_bits, p)
        assert isinstance(v, np.ndarray)
        fp = FixedPoint(int(p), frac_bits)
        if self.head == "identity":
            return self.outputs(fp.decode_output(v))
        return self.labels(fp.signed(v))

    # -- importers and files (implemented in their own modules) ----------------------------------------
    @classmethod
    def from_sklearn(cls, estimator: Any, *, name: str | None = None) -> Model:
        """A fitted scikit-learn ``MLPClassifier`` / ``MLPRegressor``, see :mod:`private_mdi.nn.sklearn`."""
        from .sklearn import from_sklearn

        return from_sklearn(estimator, name=name)

    @classmethod
    def from_onnx(cls, source: Any, *, name: str | None = None) -> Model:
        """An ONNX model (path, bytes or ``onnx.ModelProto``), see :mod:`private_mdi.nn.onnx`."""
        from .onnx import from_onnx

        return from_onnx(source, name=name)

    def save(self, path: str | Path) -> Path:
        """Write the model as ``.npz`` (suffix added if missing); returns the path written.

        Format: :mod:`private_mdi.nn.serialization`.
        """
        from .serialization import save_model

        return save_model(self, path)

    @classmethod
    def load(cls, path: str | Path) -> Model:
        """Read a model written by :meth:`save`; every bad file raises :class:`ParameterError`."""
        from .serialization import load_model

        return load_model(path)

    def summary(self) -> str:
        """A human-readable description of the layers and the linear layers ℓ = 1..L."""
        lines = [f"{self.name}: input {self.input_shape}, head {self.head}"]
        for lin in self._linear:
            relu = " + ReLU" if lin.relu_after else ""
            lines.append(f"  L{lin.index}: {lin.in_dim}→{lin.out_dim} = {lin.source}{relu}")
        return "\n".join(lines)
