"""``cmpc party``: run one party of a session as its own process, over TCP with mutual TLS.

Example (on the host listed for ``worker-3`` in ``parties.toml``)::

    cmpc party --config parties.toml --id worker-3
    cmpc party --config parties.toml --id source-a --input A.npy
    cmpc party --config parties.toml --id master --output Y.npy --report master.json

The party reads the public session file and its own key from the directories named in ``[session]``,
listens on its address, dials the peers it sends to (retrying while they start), runs the same role code
as :func:`cmpc.simulate` (:func:`cmpc.protocol.run_role`), then says goodbye and exits: 0 on success,
3 when the protocol failed (the error is printed and written to the report).

Network policy added here (the roles know nothing of sockets): a failed send to one peer marks that peer
*lost* and the run goes on — a crashed worker is a straggler, and the protocol's own timeouts decide
whether enough workers are left (``InsufficientWorkersError`` otherwise). A failed send after our role has
finished, to a peer that already closed in an orderly way (e.g. a redundant result share reaching a master
that has decoded), is not an error.

Report (``--report FILE``, JSON): ``party``, ``ok``, ``error``, ``error_type``, ``t_start`` / ``t_end``
(wall clock, seconds since the epoch, around :func:`run_role`), ``timings`` / ``cpu`` (per phase, in the
role's handlers), ``spans`` (per phase, first start and last end of the role's handlers, epoch seconds),
``meter`` (bytes/messages this party sent per ``phase|src|dst``), ``lost_peers``. The local launcher
(``cmpc run --local``) gathers these.

``--launcher`` (used by ``cmpc run --local``): after listening the party prints ``LISTENING``, waits for
``DIAL`` on stdin, connects, prints ``READY``, waits for ``GO``; so process start-up and connection set-up
stay out of the measured time. When its role is over it prints ``DONE`` and idles until ``EXIT`` (or end
of stdin), so that finished processes do not tear down while others still compute. ``--demo-seed`` makes
the sources generate A and B from a public seed
(:func:`demo_inputs`, local demo only: the inputs are then not secret). ``--host a,b,c --report-dir DIR``
(with ``--launcher``, instead of ``--id``) hosts several parties in this process for ``cmpc run --local``,
each with its own transport, key and report (:mod:`cmpc.hosting`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import check_int, check_timeout
from ..errors import CMPCError, ParameterError, TransportError
from ..net.base import Transport
from ..net.config import ConfigError, NetworkConfig, config_digest, load_config, read_bounded
from ..net.link import LinkEmulator
from ..net.tcp import TcpTransport
from ..net.tls import load_credentials
from ..rand import RandomSource

__all__ = [
    "CrashAfterFrames",
    "TolerantSends",
    "demo_inputs",
    "load_input",
    "load_session_file",
    "register",
    "run",
    "run_party",
    "send_targets",
]

EXIT_FAILED = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "party",
        help="run one party (source, worker or master) over TCP with mutual TLS",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--config", required=True, metavar="TOML", help="parties.toml")
    parser.add_argument("--id", dest="party", help="this party's id, e.g. worker-3 (required)")
    parser.add_argument("--session", metavar="JSON", help="session file (default: [session].session)")
    parser.add_argument("--keys", metavar="DIR", help="key directory (default: [session].keys)")
    parser.add_argument("--input", metavar="NPY", help="the source's matrix (A for source-a, B for source-b)")
    parser.add_argument("--demo-seed", type=int, help="sources: generate A and B from this public seed")
    parser.add_argument("--output", metavar="NPY", help="master: write Y here (.npy, int64)")
    parser.add_argument("--report", metavar="JSON", help="write timings, traffic and errors here")
    parser.add_argument("--timeout", type=float, help="protocol receive timeout, seconds")
    parser.add_argument("--insecure", action="store_true", help="plain TCP without TLS (debugging only)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr (errors still)")
    parser.add_argument("--launcher", action="store_true", help=argparse.SUPPRESS)
    # cmpc run --local: several parties in one process (cmpc.hosting); not for deployments
    parser.add_argument("--host", metavar="IDS", help=argparse.SUPPRESS)
    parser.add_argument("--report-dir", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--party-keys", metavar="ID=DIR", action="append", help=argparse.SUPPRESS)
    parser.add_argument(
        "--crash-after-frames",
        type=int,
        metavar="K",
        help="fault injection for tests: SIGKILL this process right after its K-th received frame",
    )
    parser.set_defaults(func=run)


def demo_inputs(session: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A (k×m) and B (k×n) drawn from a *public* seed: the local demo's inputs, known to the launcher."""
    rng = RandomSource(seed=f"cmpc-demo-inputs/{int(seed)}")
    a = rng.field_elements(session.p, session.a_shape)
    b = rng.field_elements(session.p, session.b_shape)
    return a, b


def send_targets(session: Any, party: str) -> list[str]:
    """The peers ``party`` sends to in the protocol (dialed before the run starts).

    Sources and the master: every worker. A worker: the master and the other workers — without spares
    (``session.fixed_assignment``) only the other *reporters*, since it re-shares to the t² + z reporters
    alone (:meth:`Session.fixed_roles`): about half the TLS handshakes of AGE s = t = z = 2 are saved,
    and no frame changes. A peer dialed later (``send``) still connects on demand.
    """
    from ..protocol.session import MASTER, SOURCE_A, SOURCE_B, worker_id

    workers = list(session.workers)
    if party in (SOURCE_A, SOURCE_B, MASTER):
        return workers
    if getattr(session, "fixed_assignment", False):
        workers = [worker_id(i) for i in session.fixed_roles()[1]]
    return [w for w in workers if w != party] + [MASTER]


class TolerantSends(Transport):
    """A failed send to a peer marks it lost instead of failing the party (see the module docstring)."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.party = inner.party
        self.meter = inner.meter
        self.lost: dict[str, str] = {}

    def send(self, peer: str, frame: bytes, *, phase: str = "") -> None:
        if peer in self.lost:
            return
        try:
            self.inner.send(peer, frame, phase=phase)
        except TransportError as exc:
            if exc.peer != peer:
                raise
            self.lost[peer] = str(exc)
            print(f"{self.party}: lost {peer}: {exc}", file=sys.stderr, flush=True)

    def recv(self, *, timeout: float | None = None) -> tuple[str, bytes]:
        return self.inner.recv(timeout=timeout)

    def close(self) -> None:
        self.inner.close()


class CrashAfterFrames(Transport):
    """Fault injection: SIGKILL our own process right after the ``limit``-th received frame."""

    def __init__(self, inner: Transport, limit: int) -> None:
        if limit < 1:
            raise ParameterError(f"--crash-after-frames must be >= 1, got {limit}")
        self.inner = inner
        self.party = inner.party
        self.meter = inner.meter
        self.limit = limit
        self.count = 0

    def send(self, peer: str, frame: bytes, *, phase: str = "") -> None:
        self.inner.send(peer, frame, phase=phase)

    def recv(self, *, timeout: float | None = None) -> tuple[str, bytes]:
        item = self.inner.recv(timeout=timeout)
        self.count += 1
        if self.count >= self.limit:
            sys.stderr.write(f"{self.party}: fault injection: killed after {self.count} frames\n")
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return item

    def close(self) -> None:
        self.inner.close()


def _expect(line: str) -> None:
    got = sys.stdin.readline().strip()
    if got != line:
        raise TransportError(f"launcher said {got!r} instead of {line!r} (launcher gone?)", peer="launcher")


def _sync(args: argparse.Namespace, word: str, reply: str) -> None:
    """Launcher mode: say ``word``, wait for ``reply`` (a hosted party meets its process's gate instead)."""
    sync = getattr(args, "sync", None)
    if sync is not None:
        sync(word)
    elif args.launcher:
        print(word, flush=True)
        _expect(reply)


#: largest session file read (a session of thousands of workers is a few hundred KiB)
MAX_SESSION_BYTES = 16 * 2**20


def load_session_file(file: Path):  # type: ignore[no-untyped-def]
    """Read and validate a session file at once; ParameterError naming the file and the cause.

    The validation is :meth:`cmpc.protocol.Session.from_json`'s (points distinct, non-zero and below p, …),
    run before any connection is made, so a tampered session fails here and not at a later timeout.
    """
    from ..protocol import Session

    raw = read_bounded(file, MAX_SESSION_BYTES, "session file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParameterError(f"session file {file} is not UTF-8 JSON text (byte {exc.start})") from exc
    try:
        session = Session.from_json(text)
        validate = getattr(session, "validate", None)
        if callable(validate):
            validate()
    except ParameterError as exc:
        raise ParameterError(f"session file {file} is invalid: {exc}") from exc
    except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
        raise ParameterError(f"session file {file} is malformed: {exc!r}") from exc
    return session


def _session_for(cfg: NetworkConfig, path: str | None, config_path: str | None = None):  # type: ignore[no-untyped-def]
    file = Path(path) if path else cfg.session_file
    if file is None:
        raise ConfigError("no session file: pass --session or set [session].session in parties.toml")
    session = load_session_file(file)
    if set(session.parties) != set(cfg.ids):
        raise ConfigError(
            f"the [[party]] ids {sorted(cfg.ids)} must be exactly the session's parties {session.parties}"
        )
    digest = getattr(session, "config_digest", "")
    if digest and config_path is not None and digest != config_digest(config_path):
        raise ConfigError(
            f"session file {file} was made for another parties.toml than {config_path} (config digest "
            f"{digest[:12]}… ≠ {config_digest(config_path)[:12]}…): regenerate both with `cmpc init` "
            "and give every party the same files"
        )
    return session


def load_input(path: str) -> np.ndarray:
    """A source's matrix from a ``.npy`` file (no pickles); ParameterError naming the file otherwise."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError as exc:
        raise ParameterError(f"--input file {path} not found") from exc
    except OSError as exc:
        raise ParameterError(f"cannot read --input file {path}: {exc.strerror or exc}") from exc
    except (ValueError, EOFError) as exc:
        raise ParameterError(f"--input file {path} is not a .npy array without pickles: {exc}") from exc
    if not isinstance(arr, np.ndarray) or arr.ndim != 2:
        raise ParameterError(f"--input file {path} must hold a 2-D array, got {getattr(arr, 'shape', arr)}")
    return arr


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


class _Progress:
    """One line per step on stderr, prefixed with the party id (stdout stays for the launcher's words)."""

    def __init__(self, party: str, *, quiet: bool = False) -> None:
        self.party = party
        self.quiet = quiet

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"{self.party}: {message}", file=sys.stderr, flush=True)


def _spans_epoch(role: Any) -> dict[str, list[float]]:
    offset = time.time() - time.perf_counter()
    return {ph: [a + offset, b + offset] for ph, (a, b) in getattr(role, "spans", {}).items()}


_WARMED: set[Any] = set()
_WARM_LOCK = threading.Lock()


def _warm_up(role: Any) -> None:
    """Pay first-use costs (BLAS start-up, numpy dispatch, matmul plans) before the timed run.

    Uses throw-away values from a fresh generator; nothing here touches the role's state. Once per process
    and session shape (parties hosted in one process share these costs).
    """
    field = role.field
    (bk, bm), (_, bn) = role.session.block_shapes
    with _WARM_LOCK:
        key = (field.p, bk, bm, bn)
        if key in _WARMED:
            return
        _WARMED.add(key)
    x = field.raw_random((min(bk, 64), min(bm, 64)))
    y = field.raw_random((min(bk, 64), min(bn, 64)))
    field.raw_matmul(x.T, y)
    field.raw_matmul(field.raw_random((3, 3)), field.raw_random((3, 4096)))
    field.raw_solve(field.raw_vandermonde([1, 2, 3], [0, 1, 2]), field.raw_random((3, 8)))


def run_party(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run the party described by ``args``; returns (exit status, report)."""
    from ..protocol import make_role, run_role
    from ..protocol.session import MASTER, SOURCE_A, SOURCE_B

    cfg = load_config(args.config)
    party = args.party
    cfg.party(party)  # ConfigError if unknown
    timeout = check_timeout("--timeout", args.timeout if args.timeout is not None else cfg.timeout)
    if args.crash_after_frames is not None:
        check_int("--crash-after-frames", args.crash_after_frames, 1)
    session = _session_for(cfg, args.session, args.config)
    insecure = bool(args.insecure or cfg.insecure)
    credentials = None
    if not insecure:
        keys = Path(args.keys) if args.keys else cfg.keys
        if keys is None:
            raise ConfigError("no key directory: pass --keys or set [session].keys (or use --insecure)")
        credentials = load_credentials(keys, party)
    inputs = None
    if party in (SOURCE_A, SOURCE_B):
        if args.input:
            inputs = load_input(args.input)
        elif args.demo_seed is not None:
            inputs = demo_inputs(session, args.demo_seed)[0 if party == SOURCE_A else 1]
        else:
            raise ParameterError(f"{party} needs --input FILE.npy (or --demo-seed for the local demo)")
    role = make_role(session, party, inputs)
    _warm_up(role)
    tcp = TcpTransport(
        party,
        cfg.addresses(),
        credentials=credentials,
        insecure=insecure,
        connect_timeout=cfg.connect_timeout,
        send_timeout=cfg.send_timeout,
        recv_timeout=timeout,
        max_frame=cfg.max_frame,
    )
    report: dict[str, Any] = {"party": party, "ok": False, "error": None, "error_type": None}
    tolerant = TolerantSends(tcp)
    stack: Transport = tolerant
    if cfg.link_emulation():
        stack = LinkEmulator(stack, default=cfg.default_link(), links=cfg.links)
    if args.crash_after_frames is not None:
        stack = CrashAfterFrames(stack, args.crash_after_frames)
    status = EXIT_FAILED
    say = _Progress(party, quiet=bool(getattr(args, "quiet", False)))
    try:
        tcp.start()
        host = cfg.party(party).host
        say(f"listening on {host}:{tcp.port} ({'plain TCP, insecure' if insecure else 'mutual TLS 1.3'})")
        _sync(args, "LISTENING", "DIAL")
        # a peer we cannot reach is lost from the start: the protocol's timeouts decide whether it matters
        targets = send_targets(session, party)
        failed = tcp.connect(targets, strict=False)
        for peer, exc in failed.items():
            tolerant.lost[peer] = str(exc)
            print(f"{party}: lost {peer}: {exc}", file=sys.stderr, flush=True)
        say(f"peers connected {len(targets) - len(failed)}/{len(targets)}")
        _sync(args, "READY", "GO")
        report["t_start"] = time.time()
        try:
            result = run_role(role, stack, timeout=timeout)
            status = 0
        except TransportError as exc:
            peer_done = exc.peer is not None and exc.peer in tcp.finished_peers()
            if not (role.done and peer_done):
                raise
            result, status = role.result, 0
        report["t_end"] = time.time()
        sent = tcp.meter.bytes_by_phase()
        for phase, seconds in sorted(role.timings.items()):
            say(f"{phase} done: {_human_bytes(sent.get(phase, 0))} sent, {seconds:.3f} s of work")
        if party == MASTER and args.output:
            try:
                np.save(args.output, np.asarray(result, dtype=np.int64), allow_pickle=False)
            except OSError as exc:
                raise ParameterError(f"cannot write --output {args.output}: {exc.strerror or exc}") from exc
            shape = np.asarray(result).shape
            say(f"result Y ({'×'.join(map(str, shape))}) written to {args.output}")
        say(f"finished OK in {report['t_end'] - report['t_start']:.3f} s")
    except CMPCError as exc:
        report["t_end"] = time.time()
        lost = sorted(set(tolerant.lost) | tcp.disconnected())
        notes = [f"peers lost: {', '.join(lost)}"] if lost else []
        if party == MASTER:
            silent = [w for w in session.workers if w not in tcp.heard_from() and w not in lost]
            if silent:
                notes.append(f"never heard from: {', '.join(silent)}")
        note = f" ({'; '.join(notes)})" if notes else ""
        report["error"] = f"{exc}{note}"
        report["error_type"] = type(exc).__name__
        print(f"{party}: {type(exc).__name__}: {exc}{note}", file=sys.stderr, flush=True)
    except Exception as exc:  # an unexpected bug: report it, still close cleanly
        report["t_end"] = time.time()
        report["error"] = f"{exc!r}"
        report["error_type"] = type(exc).__name__
        traceback.print_exc()
    finally:
        try:
            stack.close()
        except CMPCError as exc:
            print(f"{party}: while closing: {exc}", file=sys.stderr, flush=True)
    report["ok"] = status == 0
    report["timings"] = dict(role.timings)
    report["cpu"] = dict(getattr(role, "cpu", {}))
    report["spans"] = _spans_epoch(role)
    report["meter"] = tcp.meter.to_dict()
    report["lost_peers"] = sorted(set(tolerant.lost) | tcp.disconnected())
    return status, report


def run(args: argparse.Namespace) -> int:
    if args.host:
        from ..hosting import host_parties

        if not args.launcher or args.party:
            raise ParameterError("--host is for `cmpc run --local` only (with --launcher, without --id)")
        return host_parties(args, [p.strip() for p in args.host.split(",") if p.strip()], run_party)
    if not args.party:
        raise ParameterError("the following argument is required: --id (this party's id, e.g. worker-3)")
    status, report = run_party(args)
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=1), encoding="utf-8")
    if args.launcher:
        # stay alive (idle) until the launcher says EXIT: interpreter teardown of finished parties would
        # otherwise compete for the CPU with the parties still computing
        print("DONE", flush=True)
        sys.stdin.readline()
    return status
