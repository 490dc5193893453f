"""Exact GF(p) matmul versus float64 BLAS (and the numpy reference path), measured in the same run.

Usage: python benchmarks/field_matmul.py [--sizes 1024,2048] [--repeat 5] [--threads 1] [--clock cpu|wall]

For each p and n it prints the compiled product's time (best of --repeat rounds, alternating with the
baseline, after a warm-up), numpy float64 ``@`` on the same shape with the same BLAS thread count
(threadpoolctl), their ratio, the ratio of the pure-numpy reference implementation of the same plan,
and galois ``@`` where n <= --galois-max.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from cmpc import PrimeField, RandomSource
from cmpc.matmul import compiled_matmul
from cmpc.matmul_numpy import reference_matmul

CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def interleaved(fns: list[Callable[[], object]], repeat: int, clock: Callable[[], float]) -> list[float]:
    """Best time of each function, the functions alternating in every round (fair under varying load)."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t = clock()
            fn()
            times[i].append(clock() - t)
    return [min(t) for t in times]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1024,2048")
    ap.add_argument("--primes", default="65521,33554393,2147483647,2305843009213693951")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                    help="cpu: process CPU time (like for like with one thread; robust to other load)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads for both sides (threadpoolctl)")
    ap.add_argument("--galois-max", type=int, default=0)
    ap.add_argument("--no-reference", action="store_true", help="skip the numpy reference path")
    args = ap.parse_args()
    rng = RandomSource(seed=0)
    clock = CLOCKS[args.clock]
    print(f"BLAS threads: {args.threads} (both sides); {args.clock} time, best of {args.repeat} interleaved "
          "rounds after a warm-up")
    print(f"{'p':>20} {'n':>5} {'ours (s)':>9} {'float64 (s)':>11} {'ours/f64':>8} {'numpy-ref/f64':>13} "
          f"{'galois (s)':>10}  plan")
    with threadpool_limits(limits=args.threads):
        for p in (int(x) for x in args.primes.split(",")):
            F = PrimeField(p)
            for n in (int(x) for x in args.sizes.split(",")):
                a = F.raw_random((n, n), rng)
                b = F.raw_random((n, n), rng)
                af, bf = a.astype(np.float64), b.astype(np.float64)
                plan = F.matmul_plan(n)
                compiled_matmul(p, a, b, plan)  # warm-up (loads the kernels)
                t_o, t_f = interleaved([lambda: compiled_matmul(p, a, b, plan), lambda: af @ bf],
                                       args.repeat, clock)
                ref = "-"
                if not args.no_reference:
                    (t_r,) = interleaved([lambda: reference_matmul(F, a, b, plan)], 2, clock)
                    ref = f"{t_r / t_f:12.2f}x"
                g = "-"
                if n <= args.galois_max:
                    GF = F.GF
                    ga, gb = F.to_field(a), F.to_field(b)
                    g = f"{interleaved([lambda: ga @ gb], 1, clock)[0]:10.3f}"
                    del GF
                print(f"{p:>20} {n:>5} {t_o:9.4f} {t_f:11.4f} {t_o / t_f:7.2f}x {ref:>13} {g:>10}  "
                      f"{plan.describe()}", flush=True)


if __name__ == "__main__":
    main()
