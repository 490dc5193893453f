"""privateMDI offline phase per digits-MLP inference with the roles' Paillier work on 1 and on 2 threads.

``paillier.ROLE_THREADS`` (one per core, at most 2) sets how many threads the cloud uses to compute each
reply's re-randomisers ``u^n`` and the client to decrypt replies; the transcript is the same for every
value (tested). This runs ``PrivateInference(...).offline(n)`` (K = 2, in-memory threads, a fresh session
per run; the session setup and the key generation happen inside ``offline`` and are included) alternately
with 1 and 2 threads and prints wall and CPU ms per inference (CPU = all threads of the process).
Usage: python benchmarks/offline_threads.py [--key-bits 2048] [--n 128] [--rounds 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import private_mdi.protocol.client as client_mod  # noqa: E402
import private_mdi.protocol.cloud as cloud_mod  # noqa: E402
from private_mdi import Model, PrivateInference  # noqa: E402
from private_mdi.examples.train_digits import DATA_DIR  # noqa: E402


def run(threads: int, key_bits: int, n: int) -> tuple[float, float]:
    cloud_mod.ROLE_THREADS = client_mod.ROLE_THREADS = threads
    model = Model.load(DATA_DIR / "digits_mlp.npz")
    with PrivateInference(model, edges=2, key_bits=key_bits, input_bound=(0.0, 1.0), progress=False) as pi:
        w0, c0 = time.perf_counter(), time.process_time()
        pi.offline(n)
        return (time.perf_counter() - w0) / n * 1e3, (time.process_time() - c0) / n * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--key-bits", type=int, default=2048)
    ap.add_argument("--n", type=int, default=128, help="inferences prepared per run")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds of (1 thread, 2 threads)")
    args = ap.parse_args()
    print(f"digits MLP, K = 2, {args.key_bits}-bit key, offline({args.n}) per run "
          "(incl. session setup and key generation)")
    for r in range(args.rounds):
        walls = {}
        for threads in (1, 2):
            wall, cpu = run(threads, args.key_bits, args.n)
            walls[threads] = wall
            print(f"round {r + 1}, {threads} thread(s): wall {wall:.1f} ms/inf, CPU {cpu:.1f} ms/inf")
        print(f"round {r + 1}: wall 1 thread / 2 threads = {walls[1] / walls[2]:.2f}x")


if __name__ == "__main__":
    main()
