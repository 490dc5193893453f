"""privateMDI on standard private-inference networks (MiniONN MNIST CNN, CIFAR-10 7-conv CNN).

Networks from :mod:`private_mdi.nn.zoo` (random weights, architectures in its docstring). For each
network and each K in ``--edges``, in one run:

* plaintext numpy forward pass per sample (``Model.forward``, one sample at a time) as the baseline;
* offline wall time and bytes per inference (setup excluded), CPU split Paillier / garbling / OT;
* online latency and bytes per inference in memory (no link emulation), one inference at a time;
* online latency per inference over an emulated link (``--latency-ms``/``--bandwidth-mbps``, default
  40 ms / 400 Mbit/s, the WAN setting Cheetah reports), every party pair, in-memory threads;
* the private output is checked bit-exact against the fixed-point reference.

``p`` and ``f`` are chosen once per network (range analysis over ``[0, 1]`` inputs) and reused for every K.

Usage: python benchmarks/private_mdi_networks.py [--models minionn,cifar] [--cifar-channels 4]
       [--edges 2,3,4,8] [--n 1] [--key-bits 2048] [--format table|json]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np  # noqa: E402

from cmpc.net.link import LinkSpec  # noqa: E402
from cmpc.rand import RandomSource  # noqa: E402
from private_mdi.inference import PrivateInference  # noqa: E402
from private_mdi.nn.model import Model  # noqa: E402
from private_mdi.nn.zoo import cifar_cnn, minionn_mnist, relu_count  # noqa: E402
from private_mdi.paillier import PaillierKeyPair  # noqa: E402
from private_mdi.protocol.spec import Phase  # noqa: E402


def _session(
    model: Model, k: int, keys: PaillierKeyPair, pf: tuple[int, int], link: LinkSpec | None, tag: str
):
    return PrivateInference(
        model,
        edges=k,
        p=pf[0],
        f=pf[1],
        input_bound=(0.0, 1.0),
        paillier_keys=keys,
        progress=False,
        rng=RandomSource(seed=f"bench-net-{tag}-{model.name}-{k}"),  # benchmark only
        timeout=3600,
        link=link,
    )


def measure(model: Model, args: argparse.Namespace, keys: PaillierKeyPair) -> list[dict[str, Any]]:
    n = args.n
    g = np.random.default_rng(1)  # test-data-ok: benchmark inputs
    x = g.random((max(n, 1), *model.input_shape))
    reps = 20
    t0 = time.perf_counter()
    for j in range(reps):
        model.forward(x[j % len(x)][None])
    plain = (time.perf_counter() - t0) / reps
    t0 = time.perf_counter()
    if args.p and args.f:
        pf = (args.p, args.f)  # given on the command line (e.g. from an earlier run's output)
    else:
        first = PrivateInference(model, edges=2, input_bound=(0.0, 1.0), paillier_keys=keys, progress=False)
        pf = (first.p, first.f)
        first.close()
    choose_s = time.perf_counter() - t0
    print(
        f"  {model.name}: p = {pf[0]} ({pf[0].bit_length()} bits), f = {pf[1]}, "
        f"ReLUs {relu_count(model)}, parameter choice {choose_s:.1f} s",
        flush=True,
    )
    link = LinkSpec(args.latency_ms, args.bandwidth_mbps or None)
    rows = []
    for k in args.edges:
        pi = _session(model, k, keys, pf, None, "mem")
        try:
            pi.setup()
            before = dict(pi.meter.bytes_by_phase())
            t0 = time.perf_counter()
            pi.offline(n)
            off = (time.perf_counter() - t0) / n
            after = pi.meter.bytes_by_phase()
            off_b = sum(after.get(ph, 0) - before.get(ph, 0) for ph in Phase.OFFLINE) / n
            t0 = time.perf_counter()
            raw = pi.predict_raw(x[:n], pipelined=False)
            lat = (time.perf_counter() - t0) / n
            exact = bool(np.array_equal(raw, pi.reference_raw(x[:n])))
            rep = pi.report.to_dict()
        finally:
            pi.close()
        on_b = rep["bytes_by_phase"].get(Phase.ONLINE, 0) / n + rep["gather_bytes_per_inference"]
        lat_link = float("nan")
        if args.link_edges is None or k in args.link_edges:
            pl = _session(model, k, keys, pf, link, "link")
            try:
                pl.offline(1)
                t0 = time.perf_counter()
                pl.predict_raw(x[:1], pipelined=False)
                lat_link = time.perf_counter() - t0
            finally:
                pl.close()
        row = {
            "model": model.name,
            "K": k,
            "relus": relu_count(model),
            "inferences": n,
            "plain_s": plain,
            "offline_s": off,
            "offline_split_s": rep["times"]["offline_split_s"],
            "offline_bytes": off_b,
            "online_s": lat,
            "online_bytes": on_b,
            "online_link_s": lat_link,
            "exact": exact,
        }
        rows.append(row)
        print(
            f"  {model.name} K={k}: offline {off:.1f} s, {off_b / 2**20:.1f} MiB; online {lat:.2f} s, "
            f"{on_b / 2**20:.2f} MiB; online over link {lat_link:.2f} s; exact {exact}; plaintext "
            f"{plain * 1e3:.2f} ms; offline CPU s Paillier/GC/OT "
            + " / ".join(f"{rep['times']['offline_split_s'][c]:.1f}" for c in ("paillier", "garbling", "ot"))
            + f"; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB "
            + time.strftime("(%H:%M:%S UTC)", time.gmtime()),
            flush=True,
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="minionn,cifar")
    ap.add_argument("--cifar-channels", type=int, default=4)
    ap.add_argument("--edges", default="2,3,4,8")
    ap.add_argument("--n", type=int, default=1, help="inferences measured per K (default 1)")
    ap.add_argument("--key-bits", type=int, default=2048)
    ap.add_argument("--latency-ms", type=float, default=40.0)
    ap.add_argument("--bandwidth-mbps", type=float, default=400.0, help="0 = no cap")
    ap.add_argument(
        "--link-edges",
        default=None,
        help="measure the emulated link only for these K (comma list; default: every K; '' = none)",
    )
    ap.add_argument("--p", type=int, default=0, help="skip the parameter choice: use this prime (with --f)")
    ap.add_argument("--f", type=int, default=0, help="fractional bits to use with --p")
    ap.add_argument("--format", choices=("table", "json"), default="table")
    args = ap.parse_args()
    args.edges = [int(v) for v in args.edges.split(",")]
    if args.link_edges is not None:
        args.link_edges = [int(v) for v in args.link_edges.split(",") if v]
    if bool(args.p) != bool(args.f):
        ap.error("--p and --f go together")
    keys = PaillierKeyPair.generate(args.key_bits, RandomSource(seed="bench-paillier"))  # benchmark only
    rows: list[dict[str, Any]] = []
    for name in args.models.split(","):
        model = minionn_mnist() if name == "minionn" else cifar_cnn(args.cifar_channels)
        print(f"== {model.name}", flush=True)
        rows += measure(model, args, keys)
    if args.format == "json":
        print(json.dumps(rows, indent=1))
        return
    link = f"{args.latency_ms:g} ms / {args.bandwidth_mbps:g} Mbit/s"
    print()
    print(
        f"| network | K | offline s/inf (CPU s: Paillier / GC / OT) | offline MiB/inf | online s/inf "
        f"(vs plaintext) | online MiB/inf | online s/inf over {link} | exact |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        sp = r["offline_split_s"]
        print(
            f"| {r['model']} | {r['K']} | {r['offline_s']:.1f} "
            f"({sp['paillier']:.1f} / {sp['garbling']:.1f} / {sp['ot']:.1f}) | "
            f"{r['offline_bytes'] / 2**20:.1f} | {r['online_s']:.2f} "
            f"({r['online_s'] / r['plain_s']:.0f}× of {r['plain_s'] * 1e3:.2f} ms) | "
            f"{r['online_bytes'] / 2**20:.2f} | {r['online_link_s']:.2f} | {r['exact']} |"
        )


if __name__ == "__main__":
    main()
