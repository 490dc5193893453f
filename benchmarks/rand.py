"""RandomSource (AES-256-CTR) versus numpy's PCG64, same run.

Usage: python benchmarks/rand.py [--n 10000000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cmpc import RandomSource


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000_000)
    args = ap.parse_args()
    n = args.n
    ours = RandomSource()
    pcg = np.random.Generator(np.random.PCG64(0))  # test-data baseline only
    rows = [
        ("bytes", lambda: ours.bytes(8 * n), lambda: pcg.bytes(8 * n)),
        ("GF(2^31-1) elements", lambda: ours.field_elements(2**31 - 1, n),
         lambda: pcg.integers(0, 2**31 - 1, n)),
        ("GF(2^61-1) elements", lambda: ours.field_elements(2**61 - 1, n),
         lambda: pcg.integers(0, 2**61 - 1, n)),
        ("bits", lambda: ours.bits(n), lambda: pcg.integers(0, 2, n, dtype=np.uint8)),
    ]
    print(f"n = {n:,}")
    print(f"{'what':>22} {'AES-CTR (s)':>12} {'PCG64 (s)':>10} {'ratio':>7}")
    for name, f_ours, f_pcg in rows:
        t_o, t_p = min(timed(f_ours) for _ in range(3)), min(timed(f_pcg) for _ in range(3))
        print(f"{name:>22} {t_o:12.4f} {t_p:10.4f} {t_o / t_p:6.2f}x")


if __name__ == "__main__":
    main()
