"""Sweep of the coded-MPC protocol (in-memory simulation) over codes and sizes, like for like.

Usage: python benchmarks/protocol.py [--sizes 1024,2048] [--codes age,polydot,entangled,ssmm]
       [--threads 1] [--repeat 3]

For each run: wall time per phase, the sum of every party's compute (per phase), the largest
per-worker compute, bytes per phase, and one exact PrimeField.matmul of AᵀB measured in the same run
with the same BLAS thread count, warm, best of --repeat on both sides (see ``cmpc bench``).
"""

from __future__ import annotations

import argparse

from cmpc.commands.bench import bench


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1024,2048")
    ap.add_argument("--codes", default="age,polydot,entangled,ssmm")
    ap.add_argument("--s", type=int, default=2)
    ap.add_argument("--t", type=int, default=2)
    ap.add_argument("--z", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    args = ap.parse_args()
    print(f"BLAS threads: {args.threads} on both sides; {args.clock} time; warm, best of {args.repeat}")
    print(f"{'code':>10} {'m':>5} {'N':>3} {'ok':>3} {'p1 (s)':>7} {'p2 (s)':>7} {'p3 (s)':>7} "
          f"{'compute (s)':>11} {'matmul (s)':>10} {'ratio':>6} {'MB p1':>7} {'MB p2':>8} {'MB p3':>6}")
    for m in (int(x) for x in args.sizes.split(",")):
        for name in args.codes.split(","):
            r = bench(name, args.s, args.t, args.z, m, 2**31 - 1, threads=args.threads, repeat=args.repeat,
                      clock=args.clock)
            b = r["bytes"]
            c = r["compute_s"]
            print(f"{name:>10} {m:>5} {r['workers']:>3} {'y' if r['correct'] else 'N':>3} "
                  f"{c['phase1']:7.3f} {c['phase2']:7.3f} {c['phase3']:7.3f} "
                  f"{r['compute_total_s']:11.3f} {r['matmul_s']:10.3f} {r['compute_ratio']:5.2f}x "
                  f"{b['phase1'] / 1e6:7.1f} {b['phase2'] / 1e6:8.1f} {b['phase3'] / 1e6:6.1f}", flush=True)


if __name__ == "__main__":
    main()
