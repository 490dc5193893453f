"""Per-phase and per-kernel profile of one simulated coded-MPC run, next to one exact matmul.

Usage: python benchmarks/protocol_profile.py [--m 1024] [--code age] [--s 2 --t 2 --z 2] [--repeat 3]
       [--allocator retain|default]

Clock: **CPU time** (``time.process_time``) of every call of the protocol's compute steps, summed over all
parties of an in-memory sequential run (one message at a time, one thread), one BLAS thread on both sides
(threadpoolctl). The baseline is one exact ``PrimeField.matmul`` of AᵀB in the same process (warm, best
of ``--repeat``). Each row prints its time and its share of that baseline; the steps are the roles'
own calls (:mod:`cmpc.protocol.roles`), wrapped here only for timing.
"""

from __future__ import annotations

import argparse
import collections
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from cmpc import codes
from cmpc.allocator import retain_freed_memory
from cmpc.commands.bench import blas_threads
from cmpc.field import PrimeField
from cmpc.protocol import exact_product, roles, simulate
from cmpc.rand import RandomSource

STEPS = {
    "encode_shares": "sources: F(α_n) for every worker",
    "split_blocks": "sources: cut A, B into blocks",
    "reshare_values": "workers: G_n at the reporters' points",
    "cached_decoding_rows": "workers: decoding rows (public, cached)",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--m", type=int, default=1024)
    ap.add_argument("--code", default="age")
    ap.add_argument("--s", type=int, default=2)
    ap.add_argument("--t", type=int, default=2)
    ap.add_argument("--z", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--allocator", choices=("retain", "default"), default="retain",
                    help="as in `cmpc bench`: keep freed memory for the next run (cmpc.allocator)")
    args = ap.parse_args()
    if args.allocator == "retain":
        retain_freed_memory()
    acc: dict[str, float] = collections.defaultdict(float)
    cnt: collections.Counter[str] = collections.Counter()

    def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def inner(*a: Any, **k: Any) -> Any:
            c0 = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                acc[label] += time.process_time() - c0
                cnt[label] += 1
        return inner

    for name in STEPS:
        setattr(roles, name, timed(name, getattr(roles, name)))
    orig_matmul, orig_sum, orig_random = PrimeField.raw_matmul, PrimeField.raw_sum, PrimeField.raw_random

    def matmul(self: PrimeField, a: np.ndarray, b: np.ndarray, **kw: Any) -> np.ndarray:
        big = np.asarray(a).shape[-1] > 16
        label = "raw_matmul (workers' H = F_Aᵀ F_B)" if big else "raw_matmul (small inner: rows, decoding)"
        return timed(label, orig_matmul)(self, a, b, **kw)

    PrimeField.raw_matmul = matmul  # type: ignore[method-assign]
    PrimeField.raw_sum = timed("raw_sum (reporters' Σ G_n)", orig_sum)  # type: ignore[method-assign]
    PrimeField.raw_random = timed("raw_random (secrets, masks)", orig_random)  # type: ignore[method-assign]

    field = PrimeField(2**31 - 1)
    code = codes.make(args.code, s=args.s, t=args.t, z=args.z)
    rng = RandomSource(seed=0)
    a = field.raw_random((args.m, args.m), rng)
    b = field.raw_random((args.m, args.m), rng)
    with blas_threads(1):
        exact_product(field, a, b)
        base = float("inf")
        for _ in range(args.repeat):
            c0 = time.process_time()
            exact_product(field, a, b)
            base = min(base, time.process_time() - c0)
        for _ in range(2):  # warm-up (with a retained heap, the second run is the last to fault pages)
            simulate(code, a, b, field=field, rng=rng)
        print(f"{args.code} s={args.s} t={args.t} z={args.z} m={args.m}; CPU time, 1 BLAS thread; "
              f"allocator {args.allocator}; one exact matmul {base:.4f} s (best of {args.repeat})")
        for rep in range(args.repeat):
            acc.clear()
            cnt.clear()
            _, r = simulate(code, a, b, field=field, rng=rng)
            total = sum(sum(v.values()) for v in r.cpu.values())
            phases = {p: sum(v.get(p, 0.0) for v in r.cpu.values()) for p in ("phase1", "phase2", "phase3")}
            master = sum(r.cpu["master"].values())
            print(f"run {rep}: all parties {total:.4f} s = {total / base:.2f}x  phases "
                  + " / ".join(f"{v:.4f}" for v in phases.values()) + f" s; master {master:.4f} s")
            for k in sorted(acc, key=lambda k: -acc[k]):
                print(f"   {k:44s} {acc[k]:8.4f} s  calls {cnt[k]:3d}  {acc[k] / base:6.3f}x")


if __name__ == "__main__":
    main()
