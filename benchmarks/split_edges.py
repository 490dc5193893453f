"""A layer split across edges (issue 14): per-edge online busy time of the digits CNN, with a breakdown.

For each placement in ``--placements`` (one run, same keys and images), the online phase is run
``--reps`` times on ``--n`` images in batches of ``--batch`` (default 8, so each edge serves several
batches per repetition: the figure is not one batch's fixed costs). Per edge and per inference it prints
the CPU busy time (thread CPU time of the edge's online handler, summed over the run and divided by the
inferences) split into linear step, label encoding, garbled evaluation, gather (deposit + concatenation of
slices) and other (message decoding, bookkeeping), and the edge's idle share of the wall time. The figure
of merit is the **largest per-edge busy time**, median over the repetitions, as a ratio against K = 2
unsplit measured in the same run.

Placements: ``2``, ``4`` (round-robin unsplit); ``4s`` (``split={ℓ: 4}``, ℓ the layer with the most
ReLUs: placed by :func:`private_mdi.placement.balanced`, the default for ``split=``); ``4s3``, ``4s2``
(split into 3 or 2); ``4r`` (the same split placed round the ring as :func:`round_robin` does, the
previous default); ``4b`` (the widest layer in 2 slices on edges 1, 2, their ReLUs on edges 3, 4, other
layers alternating on 1, 2).

Usage: python benchmarks/split_edges.py [--placements 2,4,4r,4s,4s3,4b] [--n 48] [--batch 8] [--reps 3]
       [--key-bits 2048] [--format table|json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

# benchmarks/ holds a script named like the package: keep it off the import path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np  # noqa: E402

from cmpc.rand import RandomSource  # noqa: E402
from private_mdi import PrivateInference  # noqa: E402
from private_mdi.cli import _load  # noqa: E402
from private_mdi.examples.train_digits import digits_split  # noqa: E402
from private_mdi.placement import round_robin  # noqa: E402

PARTS = ("online-linear", "online-encode", "online-garbled-eval", "online-gather")


def _placement(label: str, model: Any) -> dict[str, Any]:
    counts = model.relu_counts()
    widest = 1 + int(np.argmax(counts)) if counts else 1
    k_txt, kind, m_txt = label[0], label[1:2], label[2:]
    k = int(k_txt)
    if kind == "":
        return {"edges": k}
    if kind == "s":
        return {"edges": k, "split": {widest: int(m_txt or k)}}
    if kind == "b":
        half = tuple(range(1, k // 2 + 1))
        return {
            "edges": k,
            "hosts": [half if ell == widest else 1 + (ell % 2) for ell in range(1, model.num_linear + 1)],
        }
    if kind == "r":  # the round-robin split of the previous release (default evaluators of the ring)
        return {"edges": k, "hosts": list(round_robin(k, model.num_linear, {widest: int(m_txt or k)}).hosts)}
    raise SystemExit(f"unknown placement {label!r}: use K, Ks, Ksm, Kr, Kb (K a digit)")


def measure(label: str, model: Any, x: np.ndarray, args: argparse.Namespace, keys: Any) -> dict[str, Any]:
    kw = _placement(label, model)
    n, b = len(x), args.batch
    with PrivateInference(
        model,
        input_bound=(0.0, 1.0),
        paillier_keys=keys,
        progress=False,
        rng=RandomSource(seed=f"split-{label}"),
        timeout=600,
        **kw,
    ) as pi:
        pi.offline(args.reps * n + 1)
        ref = pi.reference_raw(x)
        pi.predict_raw(x[:1], batch=1)  # warm-up, not counted
        reps = []
        for _ in range(args.reps):
            before = [dict(e.times) for e in pi.edges]
            busy0 = [sum(e.busy.values()) for e in pi.edges]
            t0 = time.perf_counter()
            raw = pi.predict_raw(x, batch=b)
            wall = time.perf_counter() - t0
            if not np.array_equal(raw, ref):
                raise SystemExit(f"{label}: private output differs from the fixed-point reference")
            per = {}
            for e, t_b, b0 in zip(pi.edges, before, busy0):
                busy = (sum(e.busy.values()) - b0) / n
                parts = {p: (e.times.get(p, 0.0) - t_b.get(p, 0.0)) / n for p in PARTS}
                parts["other"] = max(0.0, busy - sum(parts.values()))
                per[e.name] = {
                    "busy_s": busy,
                    **{f"{p}_s": v for p, v in parts.items()},
                    "idle_share": max(0.0, 1 - busy * n / wall),
                }
            reps.append(
                {
                    "wall_per_inf_s": wall / n,
                    "edges": per,
                    "busy_max_s": max(v["busy_s"] for v in per.values()),
                }
            )
        mid = sorted(reps, key=lambda r: r["busy_max_s"])[len(reps) // 2]
        return {
            "placement": label,
            "hosts": [list(h) if isinstance(h, tuple) else h for h in pi.placement.hosts],
            "evaluators": [list(v) for v in pi.placement.evaluators],
            "busy_max_s": [r["busy_max_s"] for r in reps],
            "median": mid,
        }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--placements", default="2,4,4r,4s,4s3,4b")
    ap.add_argument("--n", type=int, default=48, help="images per repetition (default 48)")
    ap.add_argument("--batch", type=int, default=8, help="inferences per online batch (default 8)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions; the median is reported (default 3)")
    ap.add_argument("--key-bits", type=int, default=2048)
    ap.add_argument("--format", choices=("table", "json"), default="table")
    args = ap.parse_args(argv)
    from private_mdi.paillier import PaillierKeyPair

    keys = PaillierKeyPair.generate(args.key_bits)
    model = _load("cnn")
    _, x_te, _, _ = digits_split()
    x = x_te[: args.n]
    rows = [measure(lbl, model, x, args, keys) for lbl in args.placements.split(",")]
    base = {r["placement"]: r["median"]["busy_max_s"] for r in rows}.get("2")
    if args.format == "json":
        print(json.dumps({"n": args.n, "batch": args.batch, "reps": args.reps, "rows": rows}, indent=1))
        return 0
    print(
        f"digits CNN, {args.n} images in batches of {args.batch}, median of {args.reps} repetitions; "
        "ms per inference (CPU), idle = share of the wall time"
    )
    for r in rows:
        md = r["median"]
        ratio = f"{md['busy_max_s'] / base:.2f}" if base else "-"
        allr = ", ".join(f"{v * 1e3:.2f}" for v in r["busy_max_s"])
        print(f"\n{r['placement']}: hosts {r['hosts']} evaluators {r['evaluators']}")
        print(
            f"  largest edge busy {md['busy_max_s'] * 1e3:.2f} ms/inf (reps: {allr}); / K=2: {ratio}; "
            f"wall {md['wall_per_inf_s'] * 1e3:.2f} ms/inf"
        )
        print("  edge     busy  linear encode  gc-eval gather  other  idle")
        for name, v in md["edges"].items():
            print(
                f"  {name:6s} {v['busy_s'] * 1e3:6.2f} {v['online-linear_s'] * 1e3:6.2f} "
                f"{v['online-encode_s'] * 1e3:6.2f} {v['online-garbled-eval_s'] * 1e3:7.2f} "
                f"{v['online-gather_s'] * 1e3:6.2f} {v['other_s'] * 1e3:6.2f} {v['idle_share']:5.0%}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
