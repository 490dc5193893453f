"""Exact GF(p) matmul versus float64 BLAS and galois, measured in the same run.

Usage: python benchmarks/field_matmul.py [--sizes 256,512,1024,2048] [--repeat 3] [--galois-max 512]

For each p and n it prints our time (best of --repeat), numpy float64 ``@`` on the same shape, the
ratio, and galois ``@`` where n <= --galois-max (galois leaves BLAS for large p and is very slow).
"""

from __future__ import annotations

import argparse
import time

import galois
import numpy as np

from cmpc import PrimeField, RandomSource


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="256,512,1024,2048")
    ap.add_argument("--primes", default="65521,2147483647,2305843009213693951")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--galois-max", type=int, default=512)
    args = ap.parse_args()
    rng = RandomSource(seed=0)
    print(f"{'p':>22} {'n':>5} {'ours (s)':>9} {'float64 (s)':>11} {'ours/f64':>8} {'galois (s)':>10} "
          f"{'galois/ours':>11}  plan")
    for p in (int(x) for x in args.primes.split(",")):
        F = PrimeField(p)
        for n in (int(x) for x in args.sizes.split(",")):
            a = F.raw_random((n, n), rng)
            b = F.raw_random((n, n), rng)
            af, bf = a.astype(np.float64), b.astype(np.float64)
            t_f = best(lambda: af @ bf, args.repeat)
            t_o = best(lambda: F.raw_matmul(a, b), args.repeat)
            g = "-"
            gr = "-"
            if n <= args.galois_max and p < 2**32:
                GF = F.GF
                ga, gb = GF(a), GF(b)
                t_g = best(lambda: ga @ gb, 1)
                g, gr = f"{t_g:10.3f}", f"{t_g / t_o:10.0f}x"
            elif n <= args.galois_max:
                GF = galois.GF(p)
                ga, gb = GF(a.astype(object)), GF(b.astype(object))
                if n <= 256:
                    t_g = best(lambda: ga @ gb, 1)
                    g, gr = f"{t_g:10.3f}", f"{t_g / t_o:10.0f}x"
            print(f"{p:>22} {n:>5} {t_o:9.4f} {t_f:11.4f} {t_o / t_f:7.1f}x {g:>10} {gr:>11}  "
                  f"{F.matmul_plan(n).describe()}", flush=True)


if __name__ == "__main__":
    main()
