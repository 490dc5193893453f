"""One privateMDI server party as a process: ``python -m private_mdi party --party cloud|edgeJ ...``.

Started by :class:`~.execution.ProcessExecution` (through :mod:`cmpc.launch`). It opens its TCP endpoint
(mutual TLS with ``--keys DIR``, plain with ``--insecure``), prints ``LISTENING`` and runs its role
(:class:`~.cloud.Cloud` with ``--weights``, or :class:`~.edge.Edge`) with :func:`cmpc.runtime.run_role`
until the client's ``Shutdown`` (or ``EXIT``/end of file on stdin, the launcher's control channel, which
never carries protocol traffic). ``Stats`` replies carry its transport meter. On failure it tells the
client (``Abort``), writes the error to stderr and exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import warnings
from typing import Any

from cmpc import runtime
from cmpc.net.link import LinkEmulator, LinkSpec

from . import messages as m
from .base import ServerRole
from .cloud import Cloud
from .edge import Edge
from .execution import read_cloud_layers
from .spec import CLIENT, CLOUD, SessionSpec

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", required=True, help="session spec (JSON)")
    parser.add_argument("--party", required=True, help="cloud or edgeJ")
    parser.add_argument("--addresses", required=True, help="JSON {party: [host, port]}")
    parser.add_argument("--keys", help="directory of the TLS CA and party certificates")
    parser.add_argument("--insecure", action="store_true", help="plain TCP (debugging only)")
    parser.add_argument("--weights", help="the cloud's quantised layers (.npz)")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--bandwidth-mbps", type=float, default=0.0)


def main(args: argparse.Namespace) -> int:
    from cmpc.net.tcp import TcpTransport
    from cmpc.net.tls import load_credentials

    with open(args.spec, encoding="utf-8") as fh:
        spec = SessionSpec.from_json(fh.read())
    with open(args.addresses, encoding="utf-8") as fh:
        addresses = {k: (str(v[0]), int(v[1])) for k, v in json.load(fh).items()}
    role: ServerRole
    if args.party == CLOUD:
        role = Cloud(spec, read_cloud_layers(args.weights, spec))
    else:
        role = Edge(spec, int(args.party.removeprefix("edge")))
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

    def meter() -> dict[str, Any]:
        if isinstance(transport, LinkEmulator):
            transport.flush(args.timeout)
        tcp.flush(args.timeout)
        return {"meter": tcp.meter.to_dict()}

    role.stats_extra = meter
    stop = threading.Event()

    def control() -> None:
        for line in sys.stdin:
            if line.strip() == "EXIT":
                break
        stop.set()

    threading.Thread(target=control, daemon=True).start()
    print("LISTENING", flush=True)
    codec = m.Codec()
    status = 0
    try:
        runtime.run_role(role, transport, codec, timeout=args.timeout, stop=stop)
        if role.error is not None:
            raise role.error
    except Exception as exc:
        status = 1
        print(f"{args.party}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        if role.error is None:
            try:
                body = {"type": type(exc).__name__, "message": str(exc)}
                runtime.send_all(transport, codec, [(CLIENT, m.Abort.with_json(body))])
            except Exception:
                pass
    try:
        if isinstance(transport, LinkEmulator):
            transport.flush(5.0)
        tcp.flush(5.0)
    finally:
        transport.close()
    print("DONE", flush=True)
    return status
