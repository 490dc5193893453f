"""Exhaustive privacy checks of session certificates: speed of the subset scan, and which sessions get which
certificate.

Usage:
    python benchmarks/certificates.py speed [--repeat 3]
    python benchmarks/certificates.py table

``speed``: for z×z secret matrices (z = 3 and 6) over every z-subset of N′ workers, the compiled scan
(:func:`cmpc.protocol.detmod.first_singular_subset`, p < 2^31), the numpy batch kernel (p = 2^61 − 1) and,
as the baseline measured in the same run, one :meth:`PrimeField.raw_rank` per subset (the check before the
certificates) on the first 2,000 subsets. Prints subsets per second and the ratios.

``table``: the certificate :meth:`Session.create` gives each code at p ∈ {65521, 2^31 − 1, 2^61 − 1}, with N
workers and with 3N workers (spares), or ``refused`` with the reason.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

import numpy as np

from cmpc import PrimeField, RandomSource, codes
from cmpc.protocol import Session
from cmpc.protocol.certificate import InvalidSessionError
from cmpc.protocol.detmod import det_mod_p, first_singular_subset

PRIMES = {"65521": 65521, "2^31-1": 2**31 - 1, "2^61-1": 2**61 - 1}


def _points(p: int, n: int) -> np.ndarray:
    return Session._draw_points(p, n, RandomSource(seed=n))


def speed(repeat: int) -> None:
    first_singular_subset(_points(2**31 - 1, 8), [0, 1, 3], 2**31 - 1)  # compile (cached afterwards)
    for n, exps in ((120, [4, 5, 10]), (40, [1, 2, 3, 5, 8, 13])):
        k = len(exps)
        total = math.comb(n, k)
        for label, p in (("2^31-1", 2**31 - 1), ("2^61-1", 2**61 - 1)):
            pts = _points(p, n)
            field = PrimeField(p)
            table = field.raw_vandermonde(pts, exps)
            base = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                for sub in itertools.islice(itertools.combinations(range(n), k), 2000):
                    field.raw_rank(table[list(sub)])
                base.append(2000 / (time.perf_counter() - t0))
            runs = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                _, count = first_singular_subset(pts, exps, p)
                runs.append(count / (time.perf_counter() - t0))
            combos = np.array(list(itertools.islice(itertools.combinations(range(n), k), 100_000)))
            batch = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                det_mod_p(table[combos], p)
                batch.append(len(combos) / (time.perf_counter() - t0))
            print(
                f"{k}x{k}, N'={n} ({total:,} subsets), p={label}: compiled scan {min(runs) / 1e6:.2f}-"
                f"{max(runs) / 1e6:.2f} M subsets/s; numpy batch {min(batch) / 1e6:.2f}-"
                f"{max(batch) / 1e6:.2f} M/s; raw_rank per subset (baseline) {min(base) / 1e3:.1f}-"
                f"{max(base) / 1e3:.1f} k/s; scan/baseline {min(runs) / max(base):.0f}-"
                f"{max(runs) / min(base):.0f}x"
            )


CASES = [
    ("bgw", 1, 1, 3),
    ("age", 2, 2, 3),
    ("age", 3, 3, 6),
    ("age-structural", 3, 3, 6),
    ("entangled", 2, 2, 3),
    ("polydot", 2, 2, 3),
    ("polydot", 3, 3, 8),
    ("gasp", 1, 3, 3),
    ("gasp", 1, 4, 6),
]


def table() -> None:
    print("| code | s | t | z | N | workers | " + " | ".join(f"p = {k}" for k in PRIMES) + " |")
    print("|---|---:|---:|---:|---:|---:|" + "---|" * len(PRIMES))
    for name, s, t, z in CASES:
        if name == "age-structural":
            code = codes.make("age", s=s, t=t, z=z, structural=True)
        else:
            code = codes.make(name, s=s, t=t, z=z)
        for workers in (code.n_workers, 3 * code.n_workers):
            cells = []
            for p in PRIMES.values():
                t0 = time.perf_counter()
                try:
                    sess = Session.create(code, PrimeField(p), (4, 4), (4, 4), workers, RandomSource(seed=1))
                    cert = sess.certificate
                    assert cert is not None
                    a = cert.check("privacy-a")
                    text = cert.kind
                    if a.kind == "exhaustive":
                        text += f" ({a.checked:,} subsets)"
                    if cert.kind == "probabilistic":
                        text += f" (ε ≤ 2^{math.log2(cert.failure_bound):.0f})"
                except InvalidSessionError as exc:
                    text = "refused" + (" (bound)" if "Schwartz" in str(exc) else "")
                cells.append(f"{text}, {time.perf_counter() - t0:.2f} s")
            print(f"| {name} | {s} | {t} | {z} | {code.n_workers} | {workers} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("speed", "table"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if args.what == "speed":
        speed(args.repeat)
    else:
        table()


if __name__ == "__main__":
    main()
