"""The ``private-mdi`` command line (argument parsing and printing only).

``private-mdi demo [--edges K] [--model mlp|cnn] [--n 100] [--processes] [--format table|json]`` runs the
shipped digits example end to end and prints the plaintext accuracy, the private accuracy, the agreement
with the fixed-point reference (must be 100 %), time per inference and the bytes per party pair and phase.
The exit status is 0 only when every private output equals the fixed-point reference bit for bit. With
``--processes`` the cloud and the K edges run as separate processes over TCP with mutual TLS;
``--latency-ms`` / ``--bandwidth-mbps`` emulate a link between every pair of parties.

``private-mdi party ...`` (internal, not listed) is one server party process
(:mod:`private_mdi.protocol.party`).

Errors: a known error prints ``private-mdi: error: <message>`` to stderr and exits 2 for usage errors
(bad arguments, :class:`~cmpc.errors.ParameterError`) and 1 for runtime failures, without a traceback
unless ``--debug``. ``--version`` prints the package version.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence

import numpy as np

from cmpc.cliutil import add_common_options, run_cli
from cmpc.errors import ParameterError
from cmpc.net.link import LinkSpec

from .inference import DEFAULT_KEY_BITS, PrivateInference
from .model import Model, signed
from .report import fmt_bytes

__all__ = ["build_parser", "main"]

PROG = "private-mdi"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cmpc-toolkit")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _load(name: str) -> Model:
    from .examples.train_digits import DATA_DIR

    return Model.load(DATA_DIR / f"digits_{name}.npz")


def demo(args: argparse.Namespace) -> int:
    from .examples.train_digits import digits_split

    if args.edges < 2:
        raise ParameterError(f"--edges must be >= 2, got {args.edges}")
    if args.n < 1:
        raise ParameterError(f"--n must be >= 1, got {args.n}")
    model = _load(args.model)
    _, x_te, _, y_te = digits_split()
    n = min(args.n, len(y_te))
    x, y = x_te[:n], y_te[:n]
    table = args.format == "table"
    if table:
        print(f"privateMDI demo: digits-{args.model}, {n} test images, K = {args.edges} edges")
        print(model.summary())
    link = (
        LinkSpec(args.latency_ms, args.bandwidth_mbps or None)
        if args.latency_ms or args.bandwidth_mbps
        else None
    )
    t0 = time.perf_counter()
    with PrivateInference(
        model,
        edges=args.edges,
        input_bound=(0.0, 1.0),  # pixels / 16 lie in [0, 1] by construction
        key_bits=args.key_bits,
        progress=None if args.progress and table else False,
        processes=args.processes,
        link=link,
        timeout=args.timeout,
    ) as pi:
        if table:
            print(
                f"field p = {pi.p} ({pi.p.bit_length()} bits), f = {pi.f}; "
                f"placement host(ℓ) = {list(pi.placement.hosts)}; Paillier {pi.spec.key_bits} bits"
            )
        pi.offline(n)
        t_off = time.perf_counter() - t0
        raw = pi.predict_raw(x, pipelined=not args.sequential)
        ref = pi.reference_raw(x)
        agree = float(np.mean(np.all(raw == ref, axis=1)))
        plain = float(np.mean(model.predict(x) == y))
        priv = float(np.mean(model.labels(signed(raw, pi.p)) == y))
        rep = pi.report
    if not table:
        print(
            json.dumps(
                {
                    "plaintext_accuracy": plain,
                    "private_accuracy": priv,
                    "agreement": agree,
                    "report": rep.to_dict(),
                }
            )
        )
        return 0 if agree == 1.0 else 1
    t = rep.times
    print()
    print(f"plaintext accuracy            {plain:.4f}")
    print(f"private accuracy              {priv:.4f}")
    print(f"agreement with fixed-point    {agree * 100:.1f} %  ({int(agree * n)}/{n} outputs bit-exact)")
    sp = t.offline_split_s
    print(
        f"offline per inference         {t.offline_per_inference_s * 1e3:.1f} ms "
        f"(total {t_off:.2f} s incl. setup; CPU: Paillier {sp['paillier']:.2f} s, "
        f"garbling {sp['garbling']:.2f} s, OT {sp['ot']:.2f} s)"
    )
    mode = "one at a time" if args.sequential else f"pipelined, {n} in flight"
    em = ", emulated link" if link else ""
    where = f"cloud and edges as processes over TCP+TLS{em}" if args.processes else f"in-memory{em}"
    print(f"online per inference          {t.online_per_inference_s * 1e3:.2f} ms ({mode}, {where})")
    co = rep.client_online
    print(
        f"client online traffic         {co.up_messages} up / {co.down_messages} down messages, "
        f"{co.up_bytes / n:.0f} B up + {co.down_bytes / n:.0f} B down per inference"
    )
    print(
        "storage per inference         "
        + ", ".join(f"{k} {fmt_bytes(v)}" for k, v in rep.storage_per_inference_bytes.items())
    )
    print()
    print(f"{'phase':<18} {'sender -> receiver':<22} {'bytes':>12} {'per inference':>14} {'messages':>9}")
    for (phase, src, dst), tr in sorted(rep.traffic.items()):
        per = "" if phase == "setup" else fmt_bytes(tr.bytes / n)
        print(f"{phase:<18} {src + ' -> ' + dst:<22} {tr.bytes:>12,} {per:>14} {tr.messages:>9}")
    cloud_online = [k for k in rep.traffic if k[0] == "online" and "cloud" in k[1:]]
    print(f"\nbytes to/from the cloud online: {0 if not cloud_online else 'NONZERO'}")
    return 0 if agree == 1.0 else 1


def build_parser() -> argparse.ArgumentParser:
    from .protocol.party import add_arguments

    ap = argparse.ArgumentParser(prog=PROG, description="privateMDI private inference")
    add_common_options(ap, PROG, _version())  # --version, --debug (the shared policy of cmpc.cliutil)
    # only listed commands appear in the help; "party" is internal (started by the launcher)
    sub = ap.add_subparsers(dest="command", required=True, metavar="{demo}")
    d = sub.add_parser("demo", help="run the digits example end to end and print accuracy, time and traffic")
    d.add_argument("--edges", type=int, default=2, help="number of edge servers K >= 2 (default 2)")
    d.add_argument(
        "--model", choices=("mlp", "cnn"), default="mlp", help="shipped digits model (default mlp)"
    )
    d.add_argument("--n", type=int, default=100, help="test images = inferences (default 100)")
    d.add_argument(
        "--key-bits",
        type=int,
        default=DEFAULT_KEY_BITS,
        help=f"Paillier modulus bits (default {DEFAULT_KEY_BITS})",
    )
    d.add_argument("--sequential", action="store_true", help="one inference at a time instead of pipelined")
    d.add_argument(
        "--processes", action="store_true", help="cloud and edges as separate processes over TCP + mutual TLS"
    )
    d.add_argument("--latency-ms", type=float, default=0.0, help="emulated latency on every link (default 0)")
    d.add_argument("--bandwidth-mbps", type=float, default=0.0, help="emulated bandwidth cap (0 = none)")
    d.add_argument("--timeout", type=float, default=120.0, help="seconds of silence before a run fails")
    d.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    d.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    d.set_defaults(func=demo)
    p = sub.add_parser("party")
    add_arguments(p)
    p.set_defaults(func=_party)
    return ap


def _party(args: argparse.Namespace) -> int:
    from .protocol.party import main as party_main

    return party_main(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``private-mdi`` console script (see the module docstring for exit statuses)."""
    return run_cli(PROG, build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
