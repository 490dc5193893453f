"""Standard private-inference networks with random weights (timing only, not trained).

* :func:`minionn_mnist` — the MNIST network of MiniONN (Liu et al., CCS 2017, Figure 11 / §6.1):
  input 1×28×28 → conv 5×5, 16 channels (stride 1, no padding; → 16×24×24) → ReLU → max pool 2×2
  (→ 16×12×12) → conv 5×5, 16 channels (→ 16×8×8) → ReLU → max pool 2×2 (→ 16×4×4) → flatten (256)
  → FC 100 → ReLU → FC 10. 9216 + 1024 + 100 = 10,340 ReLUs.
* :func:`cifar_cnn` — the CIFAR-10 network of MiniONN (§6.1) and Delphi (their "7-layer CNN"):
  input 3×32×32 → [conv 3×3 c → ReLU] ×2 → 2×2 pool → [conv 3×3 c → ReLU] ×2 → 2×2 pool →
  [conv 3×3 c → ReLU] → conv 1×1 c → ReLU → conv 1×1 16 → ReLU → FC 10, all 3×3 convs with padding 1,
  ``c = 64`` in the papers. The papers use mean pooling; here pooling is max pooling after the ReLU
  (evaluated inside the garbled ReLU, ``docs/private-mdi.md``), which keeps the same shapes. ``channels``
  selects a smaller-channel variant (the benchmark states which one it ran).

Weights are drawn with numpy from a seeded generator (test data, not secrets) with He-style scale
``N(0, 2/fan_in)`` (realistic magnitudes for fixed-point range analysis); biases are small.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .layers import Conv2d, Dense, Flatten, Layer, MaxPool2d, ReLU
from .model import Model

__all__ = ["NETWORKS", "cifar_cnn", "minionn_mnist", "relu_count"]


def _conv(g: np.random.Generator, c_in: int, c_out: int, k: int, pad: int) -> Conv2d:  # test-data-ok
    fan_in = c_in * k * k
    w = g.normal(0.0, np.sqrt(2.0 / fan_in), size=(c_out, c_in, k, k))
    return Conv2d(w, g.normal(0.0, 0.01, size=c_out), stride=(1, 1), padding=(pad, pad))


def _dense(g: np.random.Generator, d_in: int, d_out: int) -> Dense:  # test-data-ok
    w = g.normal(0.0, np.sqrt(2.0 / d_in), size=(d_out, d_in))
    return Dense(w, g.normal(0.0, 0.01, size=d_out))


def minionn_mnist(seed: int = 0) -> Model:
    """MiniONN's MNIST CNN (module docstring) with random weights; input values in [0, 1]."""
    g = np.random.default_rng(seed)  # test-data-ok: benchmark weights, not secrets
    layers: list[Layer] = [
        _conv(g, 1, 16, 5, 0),
        ReLU(),
        MaxPool2d((2, 2)),
        _conv(g, 16, 16, 5, 0),
        ReLU(),
        MaxPool2d((2, 2)),
        Flatten(),
        _dense(g, 256, 100),
        ReLU(),
        _dense(g, 100, 10),
    ]
    return Model((1, 28, 28), layers, name="minionn-mnist")


def cifar_cnn(channels: int = 64, seed: int = 0) -> Model:
    """The MiniONN / Delphi CIFAR-10 7-conv CNN (module docstring) with ``channels`` per conv layer."""
    if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= 256:
        raise ParameterError(f"channels must be an int in [1, 256], got {channels!r}")
    g = np.random.default_rng(seed)  # test-data-ok: benchmark weights, not secrets
    c = channels
    layers: list[Layer] = [
        _conv(g, 3, c, 3, 1),
        ReLU(),
        _conv(g, c, c, 3, 1),
        ReLU(),
        MaxPool2d((2, 2)),
        _conv(g, c, c, 3, 1),
        ReLU(),
        _conv(g, c, c, 3, 1),
        ReLU(),
        MaxPool2d((2, 2)),
        _conv(g, c, c, 3, 1),
        ReLU(),
        _conv(g, c, c, 1, 0),
        ReLU(),
        _conv(g, c, 16, 1, 0),
        ReLU(),
        Flatten(),
        _dense(g, 16 * 8 * 8, 10),
    ]
    return Model((3, 32, 32), layers, name=f"cifar-cnn-{c}")


def relu_count(model: Model) -> int:
    """ReLUs per inference before max pooling (the garbled comparisons; ``Model.relu_counts`` counts the
    values after pooling)."""
    return int(sum(lin.out_dim for lin in model.linear_layers() if lin.relu_after))


NETWORKS = {"minionn": minionn_mnist, "cifar": cifar_cnn}
