"""Import of fitted scikit-learn multi-layer perceptrons (``MLPClassifier``, ``MLPRegressor``).

scikit-learn stores ``coefs_[i]`` as (in, out); :class:`~private_mdi.nn.layers.Dense` takes (out, in).
The hidden activation must be ReLU (or identity, whose layers compose into one); the output activation
is dropped and becomes the head: ``softmax`` → argmax, ``logistic`` with one output → binary (label
``classes_[1]`` iff the logit > 0, as ``predict``), ``logistic`` with several outputs → multilabel,
regressor → identity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ParameterError, UnsupportedModelError
from .layers import Dense, Layer, ReLU
from .lowering import compose_dense
from .model import Model

__all__ = ["from_sklearn"]


def from_sklearn(estimator: Any, *, name: str | None = None) -> Model:
    """Convert a fitted scikit-learn ``MLPClassifier`` or ``MLPRegressor`` (see the module docstring).

    ``tanh`` and ``logistic`` hidden activations are refused with :class:`UnsupportedModelError`.
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
        layers = compose_dense(layers)  # type: ignore[arg-type]
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
    return Model(
        input_shape=(int(coefs[0].shape[0]),),
        layers=layers,
        head=head,
        classes=classes,
        name=name or kind,
    )
