"""Online time per inference against the online batch size (digits MLP, in-memory threads).

Usage: python benchmarks/online_batch.py [--n 256] [--batches 32,64,128,256] [--key-bits 2048]

Prepares material for every pass once (offline is not timed), then runs ``predict_raw(X, pipelined=True,
batch=b)`` over the same ``--n`` test images for each batch size in turn, checks every output is bit-exact
with the fixed-point reference, and prints wall ms per inference. The batch sizes are run twice in order, so
the spread between the two passes shows the machine's noise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# benchmarks/ holds a script named like the package: keep it off the import path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np  # noqa: E402

from private_mdi import PrivateInference  # noqa: E402
from private_mdi.cli import _load  # noqa: E402
from private_mdi.examples.train_digits import digits_split  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256, help="test images per pass")
    ap.add_argument("--batches", default="32,64,128,256", help="comma-separated online batch sizes")
    ap.add_argument("--edges", type=int, default=2)
    ap.add_argument("--key-bits", type=int, default=2048)
    args = ap.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    model = _load("mlp")
    _, x_te, _, _ = digits_split()
    x = x_te[: args.n]
    n = len(x)
    with PrivateInference(
        model, edges=args.edges, input_bound=(0.0, 1.0), key_bits=args.key_bits, progress=False
    ) as pi:
        pi.offline(2 * len(batches) * n)
        ref = pi.reference_raw(x)
        for rnd in (1, 2):
            for b in batches:
                t = time.perf_counter()
                raw = pi.predict_raw(x, pipelined=True, batch=b)
                dt = time.perf_counter() - t
                exact = bool(np.array_equal(raw, ref))
                ms = dt / n * 1e3
                print(f"pass {rnd} batch {b:4d}: {ms:6.2f} ms/inference  bit-exact={exact}", flush=True)
                if not exact:
                    return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
