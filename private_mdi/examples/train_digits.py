"""Train the two shipped example models on scikit-learn's bundled digits (8x8 images, no download).

Run ``python -m private_mdi.examples.train_digits`` to (re)create

* ``private_mdi/data/digits_mlp.npz`` — scikit-learn ``MLPClassifier`` 64→32→32→32→10 with ReLU (four
  linear layers of similar cost, so that up to four edges each get one);
* ``private_mdi/data/digits_cnn.npz`` — a small CNN trained here in plain numpy:
  Conv2d(1→6, 3x3, stride 1, no padding) → ReLU → AvgPool2d(2) → Flatten → Dense(54→32) → ReLU →
  Dense(32→10), i.e. three linear layers (the pooling is folded into the second) and 216 + 32 ReLUs.

Both use the same split (:func:`digits_split`: pixels scaled to [0, 1] by /16, 25 % stratified
held-out test set, ``random_state=0``) and fixed seeds, so the files are reproducible. The CNN is
trained by minibatch Adam on the softmax cross-entropy with hand-written gradients (the conv is an
``im2col`` product). Training randomness (initialisation, shuffling) is not secret and uses numpy's
seeded generator; nothing here touches the private protocol.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from private_mdi.model import AvgPool2d, Conv2d, Dense, Flatten, Model, ReLU

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SEED = 0


def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``X_train, X_test, y_train, y_test`` of the digits data, pixels in [0, 1] (X shape (n, 64))."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = d.data.astype(np.float64) / 16.0
    return train_test_split(x, d.target, test_size=0.25, random_state=SEED, stratify=d.target)


def train_mlp(x: np.ndarray, y: np.ndarray) -> Model:
    """scikit-learn MLPClassifier (32, 32, 32) with ReLU, converted with :meth:`Model.from_sklearn`."""
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(32, 32, 32), activation="relu", max_iter=600, random_state=SEED)
    clf.fit(x, y)
    return Model.from_sklearn(clf, name="digits-mlp")


def _im2col(img: np.ndarray, k: int) -> np.ndarray:
    """(n, H, W) → (n, H−k+1, W−k+1, k·k) windows (stride 1, no padding)."""
    win = np.lib.stride_tricks.sliding_window_view(img, (k, k), axis=(1, 2))
    return win.reshape(*win.shape[:3], k * k)


def train_cnn(
    x: np.ndarray, y: np.ndarray, *, epochs: int = 40, channels: int = 6, hidden: int = 32
) -> Model:
    """The small CNN, trained in numpy (see the module docstring)."""
    gen = np.random.default_rng(SEED)  # test-data-ok: training data only, not secret
    n = x.shape[0]
    k = 3
    side = 8 - k + 1  # 6
    pooled = side // 2  # 3
    flat = channels * pooled * pooled
    classes = 10
    params = {
        "wc": gen.normal(0, np.sqrt(2 / (k * k)), size=(channels, k * k)),
        "bc": np.zeros(channels),
        "w1": gen.normal(0, np.sqrt(2 / flat), size=(hidden, flat)),
        "b1": np.zeros(hidden),
        "w2": gen.normal(0, np.sqrt(2 / hidden), size=(classes, hidden)),
        "b2": np.zeros(classes),
    }
    m = {key: np.zeros_like(v) for key, v in params.items()}
    v2 = {key: np.zeros_like(v) for key, v in params.items()}
    lr, b1, b2, eps, wd = 3e-3, 0.9, 0.999, 1e-8, 1e-4
    step = 0
    cols_all = _im2col(x.reshape(n, 8, 8), k)  # (n, 6, 6, 9)
    onehot = np.eye(classes)[y]
    for _ in range(epochs):
        order = gen.permutation(n)
        for start in range(0, n, 32):
            idx = order[start : start + 32]
            cols, t = cols_all[idx], onehot[idx]
            bs = len(idx)
            # forward (layout n, C, H, W to match the Model's Flatten)
            z0 = np.einsum("nhwk,ck->nchw", cols, params["wc"]) + params["bc"][None, :, None, None]
            a0 = np.maximum(z0, 0)
            pool = a0.reshape(bs, channels, pooled, 2, pooled, 2).mean(axis=(3, 5))
            f0 = pool.reshape(bs, flat)
            z1 = f0 @ params["w1"].T + params["b1"]
            a1 = np.maximum(z1, 0)
            z2 = a1 @ params["w2"].T + params["b2"]
            z2 = z2 - z2.max(axis=1, keepdims=True)
            prob = np.exp(z2)
            prob /= prob.sum(axis=1, keepdims=True)
            # backward
            g2 = (prob - t) / bs
            grads = {"w2": g2.T @ a1, "b2": g2.sum(0)}
            g1 = (g2 @ params["w2"]) * (z1 > 0)
            grads["w1"] = g1.T @ f0
            grads["b1"] = g1.sum(0)
            gpool = (g1 @ params["w1"]).reshape(bs, channels, pooled, 1, pooled, 1) / 4.0
            ga0 = np.broadcast_to(gpool, (bs, channels, pooled, 2, pooled, 2)).reshape(
                bs, channels, side, side
            )
            gz0 = ga0 * (z0 > 0)
            grads["wc"] = np.einsum("nchw,nhwk->ck", gz0, cols)
            grads["bc"] = gz0.sum(axis=(0, 2, 3))
            step += 1
            for key in params:
                g = grads[key] + (wd * params[key] if key.startswith("w") else 0.0)
                m[key] = b1 * m[key] + (1 - b1) * g
                v2[key] = b2 * v2[key] + (1 - b2) * g * g
                mh = m[key] / (1 - b1**step)
                vh = v2[key] / (1 - b2**step)
                params[key] -= lr * mh / (np.sqrt(vh) + eps)
    layers = [
        Conv2d(params["wc"].reshape(channels, 1, k, k), params["bc"], stride=(1, 1), padding=(0, 0)),
        ReLU(),
        AvgPool2d((2, 2)),
        Flatten(),
        Dense(params["w1"], params["b1"]),
        ReLU(),
        Dense(params["w2"], params["b2"]),
    ]
    return Model((1, 8, 8), layers, head="argmax", classes=np.arange(10), name="digits-cnn")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DATA_DIR, help="output directory (default: %(default)s)")
    args = ap.parse_args(argv)
    from private_mdi.fixedpoint import choose_parameters

    x_tr, x_te, y_tr, y_te = digits_split()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, model in (("mlp", train_mlp(x_tr, y_tr)), ("cnn", train_cnn(x_tr, y_tr))):
        path = args.out / f"digits_{name}.npz"
        model.save(path)
        acc = float(np.mean(model.predict(x_te) == y_te))
        fp = choose_parameters(model.dense_equivalent(), input_bound=(0.0, 1.0))  # pixels / 16 ∈ [0, 1]
        fx = float(np.mean(model.reference_predict(x_te, fp.f, fp.p) == y_te))
        print(
            f"{name}: {model.summary().splitlines()[0]}; held-out accuracy {acc:.4f} "
            f"(fixed point with the chosen p = {fp.p}, f = {fp.f}: {fx:.4f}); {len(y_te)} test images; "
            f"saved {path} ({path.stat().st_size} bytes)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
