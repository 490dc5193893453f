"""The ``private-mdi`` command.

``private-mdi demo [--edges K] [--model mlp|cnn] [--n 100] [--processes]`` runs the shipped digits example
end to end (client, cloud and K edges on an in-memory network, one thread per party) and prints the
plaintext accuracy, the private accuracy, the agreement with the fixed-point reference (must be 100 %),
offline and online time per inference, and the bytes per party pair and phase. The exit status is 0
only when every private output equals the fixed-point reference bit for bit.

With ``--processes`` the K edges run as separate processes (``private-mdi edge``, an internal subcommand)
that talk to each other, to the client and to the cloud over TCP with mutual TLS (:mod:`cmpc.net.tcp`,
certificates from a temporary CA); client and cloud stay in the launching process. ``--latency-ms`` and
``--bandwidth-mbps`` emulate a link between every pair of parties (:mod:`cmpc.net.link`).

``private-mdi edge --spec FILE --party edgeJ --addresses FILE [--keys DIR | --insecure]`` is that edge
process: it reads commands on stdin (``SETUP``, ``OFFLINE first n``, ``SERVE id,id,…``, ``QUIT``), runs the
edge role for each, and answers one line ``DONE {json}`` (busy times, storage, times, its meter) or
``ERROR {json}`` on stdout. stdin/stdout is the launcher's control channel, never protocol traffic.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from cmpc.net.link import LinkEmulator, LinkSpec

from .inference import PrivateInference
from .model import Model, signed

__all__ = ["main"]


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _load(name: str) -> Model:
    from .examples.train_digits import DATA_DIR

    return Model.load(DATA_DIR / f"digits_{name}.npz")


def demo(args: argparse.Namespace) -> int:
    from .examples.train_digits import digits_split

    model = _load(args.model)
    x_tr, x_te, _, y_te = digits_split()
    n = min(args.n, len(y_te))
    x, y = x_te[:n], y_te[:n]
    print(f"privateMDI demo: digits-{args.model}, {n} test images, K = {args.edges} edges")
    print(model.summary())
    t0 = time.perf_counter()
    link = None
    if args.latency_ms or args.bandwidth_mbps:
        link = LinkSpec(args.latency_ms, args.bandwidth_mbps or None)
    pi = PrivateInference(
        model,
        edges=args.edges,
        calibration=x_tr,
        key_bits=args.key_bits,
        progress=None if args.progress else False,
        processes=args.processes,
        link=link,
        timeout=args.timeout,
    )
    try:
        return _demo_run(args, pi, model, x, y, n, t0)
    finally:
        pi.close()


def _demo_run(
    args: argparse.Namespace,
    pi: PrivateInference,
    model: Model,
    x: np.ndarray,
    y: np.ndarray,
    n: int,
    t0: float,
) -> int:
    print(
        f"field p = {pi.p} ({pi.p.bit_length()} bits), f = {pi.f}; "
        f"placement host(ℓ) = {list(pi.placement.hosts)}; Paillier {pi.spec.key_bits} bits"
    )
    pi.offline(n)
    t_off = time.perf_counter() - t0
    raw = pi.predict_raw(x, pipelined=not args.sequential)
    ref = pi.reference(x)
    private_labels = model.labels(signed(raw, pi.p))
    agree = float(np.mean(np.all(raw == ref, axis=1)))
    plain = float(np.mean(model.predict(x) == y))
    priv = float(np.mean(private_labels == y))
    rep = pi.report
    times = rep["times"]
    print()
    print(f"plaintext accuracy            {plain:.4f}")
    print(f"private accuracy              {priv:.4f}")
    print(f"agreement with fixed-point    {agree * 100:.1f} %  ({int(agree * n)}/{n} outputs bit-exact)")
    split = times["offline_split_s"]
    print(
        f"offline per inference         {times['offline_per_inference_s'] * 1e3:.1f} ms "
        f"(total {t_off:.2f} s incl. setup; CPU: Paillier {split['paillier']:.2f} s, "
        f"garbling {split['garbling']:.2f} s, OT {split['ot']:.2f} s)"
    )
    mode = "one at a time" if args.sequential else f"pipelined, {n} in flight"
    where = (
        f"edges as processes over TCP+TLS{', emulated link' if pi.link else ''}"
        if args.processes
        else (f"in-memory{', emulated link' if pi.link else ''}")
    )
    print(f"online per inference          {times['online_per_inference_s'] * 1e3:.2f} ms ({mode}, {where})")
    co = rep["client_online"]
    print(
        f"client online traffic         {co['up_messages']} up / {co['down_messages']} down messages, "
        f"{co['up_bytes'] / n:.0f} B up + {co['down_bytes'] / n:.0f} B down per inference"
    )
    print(
        "storage per inference         "
        + ", ".join(f"{k} {_fmt_bytes(v)}" for k, v in rep["storage_per_inference_bytes"].items())
    )
    print()
    print(f"{'phase':<18} {'sender -> receiver':<22} {'bytes':>12} {'per inference':>14} {'messages':>9}")
    for (phase, src, dst), t in sorted(pi.meter.by_pair().items()):
        per = "" if phase == "setup" else _fmt_bytes(t.bytes / n)
        print(f"{phase:<18} {src + ' -> ' + dst:<22} {t.bytes:>12,} {per:>14} {t.messages:>9}")
    cloud_online = [k for k in pi.meter.by_pair() if k[0] == "online" and "cloud" in k[1:]]
    print(f"\nbytes to/from the cloud online: {0 if not cloud_online else 'NONZERO'}")
    return 0 if agree == 1.0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``private-mdi`` console script."""
    ap = argparse.ArgumentParser(prog="private-mdi", description="privateMDI private inference")
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="run the digits example end to end and print accuracy, time and traffic")
    d.add_argument("--edges", type=int, default=2, help="number of edge servers K >= 2 (default 2)")
    d.add_argument(
        "--model", choices=("mlp", "cnn"), default="mlp", help="shipped digits model (default mlp)"
    )
    d.add_argument("--n", type=int, default=100, help="test images = inferences (default 100)")
    d.add_argument("--key-bits", type=int, default=2048, help="Paillier modulus bits (default 2048)")
    d.add_argument("--sequential", action="store_true", help="one inference at a time instead of pipelined")
    d.add_argument(
        "--processes", action="store_true", help="edges as separate processes over TCP + mutual TLS"
    )
    d.add_argument("--latency-ms", type=float, default=0.0, help="emulated latency on every link (default 0)")
    d.add_argument("--bandwidth-mbps", type=float, default=0.0, help="emulated bandwidth cap (0 = none)")
    d.add_argument("--timeout", type=float, default=120.0, help="seconds a party waits for a message")
    d.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    e = sub.add_parser("edge", help=argparse.SUPPRESS)
    e.add_argument("--spec", required=True)
    e.add_argument("--party", required=True)
    e.add_argument("--addresses", required=True)
    e.add_argument("--keys")
    e.add_argument("--insecure", action="store_true")
    e.add_argument("--timeout", type=float, default=120.0)
    e.add_argument("--latency-ms", type=float, default=0.0)
    e.add_argument("--bandwidth-mbps", type=float, default=0.0)
    args = ap.parse_args(argv)
    if args.command == "demo":
        if args.edges < 2:
            ap.error("--edges must be >= 2")
        if args.n < 1:
            ap.error("--n must be >= 1")
        return demo(args)
    if args.command == "edge":
        return edge_process(args)
    return 2  # pragma: no cover


def edge_process(args: argparse.Namespace) -> int:
    """The ``private-mdi edge`` process (see the module docstring)."""
    import json
    import warnings

    from cmpc.net.tcp import TcpTransport
    from cmpc.net.tls import load_credentials

    from .offline import edge_offline, edge_setup
    from .online import edge_serve
    from .parties import Edge, SessionSpec

    spec = SessionSpec.from_json(open(args.spec, encoding="utf-8").read())
    addresses = {
        k: (str(v[0]), int(v[1]))
        for k, v in json.loads(open(args.addresses, encoding="utf-8").read()).items()
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        creds = None if args.insecure else load_credentials(args.keys, args.party)
        tcp = TcpTransport(
            args.party,
            addresses,
            credentials=creds,
            insecure=args.insecure,
            connect_timeout=min(10.0, args.timeout),
        ).start()
    transport: Any = tcp
    if args.latency_ms or args.bandwidth_mbps:
        transport = LinkEmulator(tcp, default=LinkSpec(args.latency_ms, args.bandwidth_mbps or None))
    edge = Edge(transport, spec, int(args.party.removeprefix("edge")), timeout=args.timeout)
    print("LISTENING", flush=True)
    status = 0
    for raw in sys.stdin:
        cmd = raw.split()
        if not cmd:
            continue
        try:
            if cmd[0] == "SETUP":
                edge_setup(edge)
            elif cmd[0] == "OFFLINE":
                edge_offline(edge, int(cmd[1]), int(cmd[2]))
            elif cmd[0] == "SERVE":
                edge_serve(edge, [int(v) for v in cmd[1].split(",")])
            elif cmd[0] == "QUIT":
                break
            else:
                raise ValueError(f"unknown command {cmd[0]!r}")
            # sends are asynchronous: wait until every frame is written (and metered) before reporting
            if isinstance(transport, LinkEmulator):
                transport.flush(args.timeout)
            tcp.flush(args.timeout)
            state = {
                "busy": {str(k): v for k, v in edge.busy.items()},
                "storage": {str(k): v for k, v in edge.storage.items()},
                "times": edge.times,
                "meter": tcp.meter.to_dict(),
            }
            print("DONE " + json.dumps(state), flush=True)
        except Exception as exc:
            print("ERROR " + json.dumps({"type": type(exc).__name__, "message": str(exc)}), flush=True)
            status = 1
            break
    if isinstance(transport, LinkEmulator):
        transport.close()
    else:
        tcp.close()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
