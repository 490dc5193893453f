"""Sweep of the coded-MPC protocol (in-memory simulation) over codes and sizes.

Usage: python benchmarks/protocol.py [--sizes 512,1024,2048] [--codes age,polydot,entangled,ssmm]

For each run: wall time per phase, the sum of every party's compute, the largest per-worker compute,
bytes per phase, and one exact PrimeField.matmul of AᵀB measured in the same run (the ratio).
"""

from __future__ import annotations

import argparse

from cmpc.commands.bench import bench


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="512,1024,2048")
    ap.add_argument("--codes", default="age,polydot,entangled,ssmm")
    ap.add_argument("--s", type=int, default=2)
    ap.add_argument("--t", type=int, default=2)
    ap.add_argument("--z", type=int, default=2)
    args = ap.parse_args()
    print(f"{'code':>10} {'m':>5} {'N':>3} {'ok':>3} {'p1 (s)':>7} {'p2 (s)':>7} {'p3 (s)':>7} "
          f"{'compute (s)':>11} {'matmul (s)':>10} {'ratio':>6} {'MB p1':>7} {'MB p2':>8} {'MB p3':>6}")
    for m in (int(x) for x in args.sizes.split(",")):
        for name in args.codes.split(","):
            r = bench(name, args.s, args.t, args.z, m, 2**31 - 1)
            b = r["bytes"]
            print(f"{name:>10} {m:>5} {r['workers']:>3} {'y' if r['correct'] else 'N':>3} "
                  f"{r['seconds']['phase1']:7.3f} {r['seconds']['phase2']:7.3f} "
                  f"{r['seconds']['phase3']:7.3f} "
                  f"{r['compute_total']:11.3f} {r['matmul_seconds']:10.3f} {r['compute_ratio']:5.2f}x "
                  f"{b['phase1'] / 1e6:7.1f} {b['phase2'] / 1e6:8.1f} {b['phase3'] / 1e6:6.1f}", flush=True)


if __name__ == "__main__":
    main()
