"""One privateMDI server party as a process: ``python -m private_mdi party --party cloud|edgeJ ...``.

On a deployment (``private-mdi init``, :mod:`private_mdi.deploy`) a machine runs
``private-mdi party --config parties.toml --id cloud|edgeJ`` from its folder: the spec, addresses, keys,
timeout (and for the cloud the weights) come from that folder, after the config digest is checked.
Progress goes to stderr, one line per step (listening, first message of each phase, a final line).

Otherwise it is started by :class:`~.execution.ProcessExecution` (through :mod:`cmpc.launch`). It opens its
TCP endpoint (mutual TLS with ``--keys DIR``, plain with ``--insecure``), prints ``LISTENING`` and runs its
role (:class:`~.cloud.Cloud` with ``--weights``, or :class:`~.edge.Edge`) with :func:`cmpc.runtime.run_role`
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
from collections.abc import Callable
from typing import Any

from cmpc import runtime
from cmpc.net.link import LinkEmulator, LinkSpec

from ..errors import ParameterError
from . import messages as m
from .base import ServerRole
from .cloud import Cloud
from .edge import Edge
from .execution import read_cloud_layers
from .spec import CLIENT, CLOUD, Phase, SessionSpec

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="a deployment's parties.toml (private-mdi init)")
    parser.add_argument("--id", help="with --config: this party, cloud or edgeJ")
    parser.add_argument("--spec", help="session spec (JSON)")
    parser.add_argument("--party", help="cloud or edgeJ")
    parser.add_argument("--addresses", help="JSON {party: [host, port]}")
    parser.add_argument("--keys", help="directory of the TLS CA and party certificates")
    parser.add_argument("--insecure", action="store_true", help="plain TCP (debugging only)")
    parser.add_argument("--weights", help="the cloud's quantised layers (.npz)")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--bandwidth-mbps", type=float, default=0.0)


def main(args: argparse.Namespace) -> int:
    from cmpc.net.tcp import TcpTransport
    from cmpc.net.tls import load_credentials

    say = _progress(bool(args.config))
    if args.config:
        _from_config(args)
    elif not (args.spec and args.party and args.addresses):
        raise ParameterError("give --config FILE --id PARTY, or --spec, --party and --addresses")
    else:
        with open(args.spec, encoding="utf-8") as fh:
            args.spec_obj = SessionSpec.from_json(fh.read())
        with open(args.addresses, encoding="utf-8") as fh:
            args.address_map = {k: (str(v[0]), int(v[1])) for k, v in json.load(fh).items()}
    spec, addresses = args.spec_obj, args.address_map
    role: ServerRole
    if args.party == CLOUD:
        role = Cloud(spec, read_cloud_layers(args.weights, spec))
    elif args.party in spec.edge_names():
        role = Edge(spec, int(args.party.removeprefix("edge")))
    else:
        raise ParameterError(f"party must be cloud or one of {spec.edge_names()}, got {args.party!r}")
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
    host, port = addresses[args.party]
    say(f"{args.party}: listening on {host}:{port} ({'plain TCP' if args.insecure else 'mutual TLS'})")
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

    if not args.config:  # a deployed party runs until Shutdown; stdin may be /dev/null there
        threading.Thread(target=control, daemon=True).start()
    print("LISTENING", flush=True)
    codec = _ProgressCodec(args.party, say)
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
    if status == 0:
        say(f"{args.party}: finished OK ({codec.received} messages received)")
    return status


def _progress(on: bool) -> Callable[[str], None]:
    def say(text: str) -> None:
        if on:
            print(text, file=sys.stderr, flush=True)

    return say


def _from_config(args: argparse.Namespace) -> None:
    """Fill the process arguments from a deployment folder (:func:`private_mdi.deploy.load_party`)."""
    from ..deploy import WEIGHTS, load_party

    if not args.id:
        raise ParameterError("--config needs --id PARTY (cloud or edgeJ)")
    if args.id == CLIENT:
        raise ParameterError("the client runs with `private-mdi client --config ...`, not `party`")
    pf = load_party(args.config, args.id)
    args.party, args.spec_obj, args.address_map = args.id, pf.spec, pf.config.addresses()
    args.keys, args.insecure, args.timeout = pf.keys, False, pf.config.timeout
    args.weights = pf.folder / WEIGHTS if args.id == CLOUD else None
    if args.id == CLOUD and not args.weights.is_file():
        raise ParameterError(f"the cloud's model file {args.weights} is missing; copy the cloud folder again")


class _ProgressCodec(m.Codec):
    """The protocol codec, reporting the first message of each phase (and counting messages)."""

    def __init__(self, party: str, say: Callable[[str], None]) -> None:
        super().__init__()
        self.party, self.say, self.received = party, say, 0
        self._phases: set[str] = set()
        self._peers: set[str] = set()

    def decode(self, sender: str, frame: bytes) -> m.Message:
        msg = super().decode(sender, frame)
        self.received += 1
        if sender not in self._peers:
            self._peers.add(sender)
            self.say(f"{self.party}: first message from {sender}")
        phase = self.phase(msg)
        if phase not in self._phases and phase != Phase.CONTROL:
            self._phases.add(phase)
            self.say(f"{self.party}: phase {phase} started ({type(msg).__name__} from {sender})")
        return msg
