"""Lowering, quantisation and the choice of (p, f) for the CIFAR-10 CNN of :mod:`private_mdi.nn.zoo` at a
given channel count, with the conv segments as sparse (CSR) operators (issue 14).

With ``--dense-baseline`` the same steps also run with every segment dense (``sparse_above`` huge; only
possible while the dense equivalents fit ``MAX_DENSE_ELEMENTS``), and the ratio dense / sparse is printed.

    python benchmarks/sparse_lowering.py [--channels 4,64] [--dense-baseline] [--format table|json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # benchmarks/private_mdi.py

from private_mdi.fixedpoint import FixedPoint, choose_parameters  # noqa: E402
from private_mdi.nn.lowering import build_linear, quantize, range_layers  # noqa: E402
from private_mdi.nn.operator import SparseOperator  # noqa: E402
from private_mdi.nn.zoo import cifar_cnn  # noqa: E402


def measure(channels: int, sparse_above: int | None) -> dict[str, Any]:
    model = cifar_cnn(channels)
    t0 = time.perf_counter()
    linear = build_linear(model.input_shape, model.layers, sparse_above=sparse_above)
    t1 = time.perf_counter()
    quantize(linear, FixedPoint(2**61 - 1, 9))
    t2 = time.perf_counter()
    chosen = choose_parameters(range_layers(linear), input_bound=(0.0, 1.0))
    t3 = time.perf_counter()
    sparse = [isinstance(lin.weight, SparseOperator) for lin in linear]
    nnz = sum(lin.weight.nnz if isinstance(lin.weight, SparseOperator) else lin.weight.size for lin in linear)
    return {
        "channels": channels,
        "sparse_segments": sum(sparse),
        "segments": len(sparse),
        "stored_entries": int(nnz),
        "lower_s": t1 - t0,
        "quantise_s": t2 - t1,
        "choose_s": t3 - t2,
        "p": chosen.p,
        "f": chosen.f,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", default="4,64")
    ap.add_argument("--dense-baseline", action="store_true")
    ap.add_argument("--format", choices=["table", "json"], default="table")
    args = ap.parse_args()
    rows = []
    for c in (int(v) for v in args.channels.split(",")):
        row = measure(c, None)
        if args.dense_baseline:
            dense = measure(c, 1 << 62)
            row["dense_choose_s"] = dense["choose_s"]
            row["dense_same_p_f"] = (dense["p"], dense["f"]) == (row["p"], row["f"])
        rows.append(row)
        if args.format == "table":
            extra = (
                f", dense choose {row['dense_choose_s']:.2f} s "
                f"({row['dense_choose_s'] / row['choose_s']:.1f}×), "
                f"same p/f: {row['dense_same_p_f']}"
                if args.dense_baseline
                else ""
            )
            print(
                f"channels {c}: {row['sparse_segments']}/{row['segments']} sparse, "
                f"{row['stored_entries']:,} stored entries; lower {row['lower_s']:.2f} s, "
                f"quantise {row['quantise_s']:.2f} s, choose {row['choose_s']:.2f} s -> "
                f"p = {row['p']}, f = {row['f']}{extra}",
                flush=True,
            )
    if args.format == "json":
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
