"""``cmpc run --local``: every party on 127.0.0.1 with its own TLS identity (mutual TLS), checked end to end.

Example::

    cmpc run --local --code age --s 2 --t 2 --z 2 --m 512
    cmpc run --local --code bgw --s 1 --t 1 --z 1 --m 256 --format json
    cmpc run --local --code age --s 2 --t 2 --z 1 --m 256 --workers 16 --latency-ms 5 --bandwidth-mbps 1000

Like MPyC's ``-M``: the launcher draws a session (:class:`cmpc.protocol.Session`), creates a temporary CA
and party certificates, writes a ``parties.toml`` with free loopback ports and starts the party processes:
by default one per core, each hosting several parties (:mod:`cmpc.hosting`; each party keeps its own
port, key, certificate, connections and report, so the wire bytes are unchanged), or with
``--one-process-per-party`` ``python -m cmpc party --id X ... --launcher`` once per party (the deployment
shape); ``--processes P`` picks the number. Start-up is synchronised over the children's stdin/stdout
(``LISTENING`` → ``DIAL`` → ``READY`` → ``GO``), so the time reported excludes interpreter start-up,
imports and the TLS handshakes; finished parties print ``DONE`` and idle until the master is done and the
launcher says ``EXIT``. The sources generate A and B from a public seed which the launcher also knows
(local demo mode only); it checks the master's Y against one exact AᵀB mod p.

Measured and printed: ``seconds`` per phase — from the first start to the last end of any party's work in
that phase (the spans each party reports, wall clock), as in :func:`cmpc.simulate` — and ``total`` — from
``GO`` to the master holding Y; ``bytes`` per phase — frame payloads summed over every party's meter (TLS
record overhead and handshakes excluded). ``--format json`` prints exactly::

    {"correct": bool, "workers": N', "seconds": {"phase1", "phase2", "phase3", "total"}, "bytes": {...},
     "startup_s": float, "wall_s": float}

(later keys only appended: ``worker_processes``, ``workers_needed``, ``certificate``, ``processes``)
where ``workers`` is the number of workers started (N′; N unless ``--workers`` asks for spares) and
``bytes`` has ``phase1``, ``phase2``, ``phase3`` and ``total``; ``startup_s`` is the time from the launch
to ``GO`` (processes, imports, handshakes) and ``wall_s`` the whole launch until every process exited.
Progress goes to stderr, one line per step (processes started, listening k/N, connected k/N, each phase
with bytes and seconds, where the result is, a final line), in both formats; ``--quiet`` silences it.
On failure ``correct`` is false, the parties'
errors go to stderr and the exit status is 1. A failure the protocol cannot tolerate ends the run at once
(:mod:`cmpc.commands.run_processes`). Each process runs single-threaded BLAS (``OMP_NUM_THREADS=1``
unless set): the processes share the machine's cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import check_float, check_int, check_timeout
from ..errors import ParameterError
from ..hosting import default_processes, plan_processes
from ..launch import child_env
from ..net.base import Traffic
from ..net.config import NetworkConfig, PartyAddress, dump_config
from ..net.link import LinkSpec
from ..net.tcp import free_loopback_ports
from ..net.tls import write_keys
from .run_processes import PartyProcesses

__all__ = ["LocalRun", "add_session_arguments", "register", "run", "run_local"]

PHASES = ("phase1", "phase2", "phase3")
#: largest matrix side ``cmpc run --local`` accepts (A and B are m×m int64 in every source)
MAX_M = 2**15
#: largest s, t or z the command lines accept (bounds the code construction before it starts)
MAX_CODE_PARAM = 16
#: most party processes ``cmpc run --local`` starts on one machine
MAX_PROCESSES = 512


def add_session_arguments(parser: argparse.ArgumentParser) -> None:
    """``--code --s --t --z --m --p --workers``: the session a command draws (``run``, ``init``)."""
    parser.add_argument("--code", default="age", help="code name (cmpc.codes.available())")
    parser.add_argument("--s", type=int, default=2)
    parser.add_argument("--t", type=int, default=2)
    parser.add_argument("--z", type=int, default=2)
    parser.add_argument("--m", type=int, default=512, help="A and B are m×m (default 512)")
    parser.add_argument("--p", type=int, default=2**31 - 1, help="prime modulus (default 2^31 - 1)")
    parser.add_argument("--workers", type=int, help="worker processes N' >= N (spares tolerate stragglers)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the protocol with every party as a process on loopback (mutual TLS)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--local", action="store_true", required=True,
                        help="spawn every party on 127.0.0.1 (the only mode so far)")
    add_session_arguments(parser)
    parser.add_argument("--format", choices=("table", "json", "text"), default="table",
                        help="table (people; 'text' is an older name for it) or json (machines)")
    parser.add_argument("--insecure", action="store_true", help="plain TCP without TLS (warns)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="emulated latency per message")
    parser.add_argument("--bandwidth-mbps", type=float, default=0.0, help="emulated bandwidth cap per link")
    parser.add_argument("--timeout", type=float, default=30.0, help="protocol receive timeout, seconds")
    parser.add_argument("--seed", type=int, default=1, help="public seed of the demo inputs A, B")
    parser.add_argument("--keep", metavar="DIR", help="keep keys, config, logs and reports in DIR")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--processes", type=int, metavar="P",
                        help="processes hosting the parties (default: one per core; each party keeps its "
                             "own TLS endpoint)")
    parser.add_argument("--one-process-per-party", action="store_true",
                        help="one `cmpc party` process per party, the deployment shape (slower start-up)")
    parser.set_defaults(func=run)


@dataclass
class LocalRun:
    """Outcome of :func:`run_local`."""

    correct: bool
    workers: int
    seconds: dict[str, float | None]
    bytes: dict[str, int]
    messages: dict[str, int]
    reports: dict[str, dict[str, Any]]
    errors: dict[str, str]
    returncodes: dict[str, int | None]
    y: np.ndarray | None = None
    startup_seconds: float = 0.0
    wall_seconds: float = 0.0
    workdir: Path | None = None
    logs: dict[str, str] = field(default_factory=dict)
    workers_needed: int = 0
    certificate: dict[str, Any] | None = None
    certificate_text: str = ""
    processes: int = 0

    def summary(self) -> dict[str, Any]:
        """The JSON of ``--format json`` (these keys, in this order; later versions only append keys).

        ``workers`` (kept for compatibility) is the number of worker *processes* started, N′, also given as
        ``worker_processes``; ``workers_needed`` is N, the workers the code needs.
        """
        return {
            "correct": self.correct, "workers": self.workers, "seconds": self.seconds, "bytes": self.bytes,
            "startup_s": round(self.startup_seconds, 4), "wall_s": round(self.wall_seconds, 4),
            "worker_processes": self.workers, "workers_needed": self.workers_needed,
            "certificate": self.certificate, "processes": self.processes,
        }


def _traffic(reports: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, str, str], Traffic]:
    """``{(phase, src, dst): Traffic}`` summed over the meters the parties reported."""
    out: dict[tuple[str, str, str], Traffic] = {}
    for rep in reports.values():
        for key, val in rep.get("meter", {}).items():
            phase, src, dst = key.split("|")
            old = out.get((phase, src, dst), Traffic(0, 0))
            nbytes, nmsgs = int(val["bytes"]), int(val["messages"])
            out[(phase, src, dst)] = Traffic(old.bytes + nbytes, old.messages + nmsgs)
    return out


def run_local(
    code: str = "age",
    s: int = 2,
    t: int = 2,
    z: int = 2,
    m: int = 512,
    *,
    p: int = 2**31 - 1,
    workers: int | None = None,
    insecure: bool = False,
    latency_ms: float = 0.0,
    bandwidth_mbps: float = 0.0,
    timeout: float = 30.0,
    connect_timeout: float = 10.0,
    seed: int = 1,
    crash: Mapping[str, int] | None = None,
    keys_override: Mapping[str, str] | None = None,
    workdir: str | os.PathLike[str] | None = None,
    startup_timeout: float = 120.0,
    progress: Callable[[str], None] | None = None,
    processes: int | None = None,
) -> LocalRun:
    """Launch every party as a subprocess on loopback and run one session; see the module docstring.

    ``crash={"worker-1": 2}`` kills that worker right after its 2nd received frame (fault injection).
    ``keys_override={"worker-0": "/other/keys"}`` gives a party another key directory (tests of refusal).
    ``progress`` receives one human line per step (processes started, listening k/N, connected, done).
    ``processes``: how many processes host the parties (default: one per core; ``len(parties)`` or more:
    one process per party, the deployment shape; crash-injected parties always get their own).
    """
    say = progress or (lambda _msg: None)
    from .. import codes
    from ..field import PrimeField
    from ..protocol import Session, exact_product
    from .party import demo_inputs

    check_int("--m", m, 1, MAX_M)
    for name, value in (("--s", s), ("--t", t), ("--z", z)):
        check_int(name, value, 1, MAX_CODE_PARAM)
    check_int("--seed", seed, 0)
    timeout = check_timeout("--timeout", timeout)
    connect_timeout = check_timeout("connect_timeout", connect_timeout)
    startup_timeout = check_timeout("startup_timeout", startup_timeout)
    check_float("--latency-ms", latency_ms, 0.0, 60_000.0)
    check_float("--bandwidth-mbps", bandwidth_mbps, 0.0)
    if workers is not None:
        check_int("--workers", workers, 1, MAX_PROCESSES)
    LinkSpec(latency_ms, bandwidth_mbps or None)  # validates
    the_code = codes.make(code, s=s, t=t, z=z)
    n_processes = max(the_code.n_workers, workers or 0) + 3
    if n_processes > MAX_PROCESSES:
        raise ParameterError(
            f"{n_processes} party processes are more than the {MAX_PROCESSES} `cmpc run --local` starts; "
            "use a smaller code or fewer --workers"
        )
    n_procs = default_processes() if processes is None else check_int("--processes", processes, 1)
    fld = PrimeField(p)
    session = Session.create(the_code, fld, (m, m), (m, m), workers)
    parties = session.parties
    crash = dict(crash or {})
    for pid in crash:
        if pid not in parties:
            raise ParameterError(f"crash: unknown party {pid!r}")
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="cmpc-run-")
        work = Path(tmp.name)
    else:
        work = Path(workdir)
        work.mkdir(parents=True, exist_ok=True)
    wall0 = time.perf_counter()
    procs: PartyProcesses | None = None
    try:
        for stale in [*work.glob("*.report.json"), *work.glob("*.log"), work / "Y.npy"]:
            stale.unlink(missing_ok=True)  # a reused --keep directory must not feed old results back
        (work / "session.json").write_text(session.to_json(), encoding="utf-8")
        if not insecure:
            write_keys(work / "keys", parties)
        ports = free_loopback_ports(len(parties))
        cfg = NetworkConfig(
            parties=tuple(PartyAddress(pid, "127.0.0.1", port) for pid, port in zip(parties, ports)),
            session_file=Path("session.json"),
            keys=None if insecure else Path("keys"),
            insecure=insecure,
            connect_timeout=connect_timeout,
            timeout=timeout,
            latency_ms=latency_ms,
            bandwidth_mbps=bandwidth_mbps,
        )
        (work / "parties.toml").write_text(dump_config(cfg), encoding="utf-8")
        env = child_env()
        module = "cmpc" if importlib.util.find_spec("cmpc.__main__") else "cmpc.cli"
        base = [sys.executable, "-m", module, "party", "--config", str(work / "parties.toml"), "--launcher",
                "--demo-seed", str(seed), "--output", str(work / "Y.npy")]
        base += ["--insecure"] if insecure else []
        groups = plan_processes(parties, n_procs, alone=list(crash))
        commands = []
        for group in groups:
            if len(group) == 1:  # the deployment shape: exactly `cmpc party --id X`
                pid = group[0]
                cmd = [*base, "--id", pid, "--report", str(work / f"{pid}.report.json")]
                if pid in crash:
                    cmd += ["--crash-after-frames", str(crash[pid])]
                if keys_override and pid in keys_override:
                    cmd += ["--keys", str(keys_override[pid])]
            else:
                cmd = [*base, "--host", ",".join(group), "--report-dir", str(work)]
                for pid in group:
                    if keys_override and pid in keys_override:
                        cmd += ["--party-keys", f"{pid}={keys_override[pid]}"]
            commands.append(cmd)
        procs = PartyProcesses(groups, commands, work, env, spares=session.n_total - session.n_needed,
                               expected_deaths=list(crash))
        say(f"started {len(groups)} processes for {len(parties)} parties ({session.n_total} workers, "
            f"2 sources, master); files in {work}")
        t_go = procs.start_up(time.monotonic() + startup_timeout, say, wall0)
        startup = time.perf_counter() - wall0
        end_deadline = time.monotonic() + 4 * timeout + 2 * connect_timeout + 30
        if t_go is not None:  # parties idle after DONE until EXIT: their teardown does not slow the others
            procs.wait_master(end_deadline)
        procs.finish(end_deadline)
        wall = time.perf_counter() - wall0
        reports: dict[str, dict[str, Any]] = {}
        errors: dict[str, str] = {}
        codes_by_party = procs.returncodes()
        for pid in parties:
            path = work / f"{pid}.report.json"
            if path.exists():
                reports[pid] = json.loads(path.read_text(encoding="utf-8"))
                if reports[pid].get("error"):
                    errors.setdefault(pid, f"{reports[pid]['error_type']}: {reports[pid]['error']}")
            elif pid not in crash:
                why = procs.failed.get(pid, f"no report (exit status {codes_by_party[pid]})")
                errors.setdefault(pid, why)
        say(f"parties finished ({wall:.2f} s)")
        y = None
        if (work / "Y.npy").exists():
            y = np.load(work / "Y.npy", allow_pickle=False)
        a, b = demo_inputs(session, seed)
        correct = y is not None and np.array_equal(y, exact_product(fld, a, b))
        seconds: dict[str, float | None] = {}
        for ph in PHASES:
            spans = [r["spans"][ph] for r in reports.values() if ph in r.get("spans", {})]
            seconds[ph] = (max(sp[1] for sp in spans) - min(sp[0] for sp in spans)) if spans else None
        master = reports.get("master", {})
        seconds["total"] = (master["t_end"] - t_go) if correct and t_go and "t_end" in master else None
        traffic = _traffic(reports)
        nbytes = {ph: sum(v.bytes for k, v in traffic.items() if k[0] == ph) for ph in PHASES}
        nbytes["total"] = sum(v.bytes for v in traffic.values())
        msgs = {ph: sum(v.messages for k, v in traffic.items() if k[0] == ph) for ph in PHASES}
        return LocalRun(
            correct=bool(correct),
            workers=session.n_total,
            seconds=seconds,
            bytes=nbytes,
            messages=msgs,
            reports=reports,
            errors=errors,
            returncodes=codes_by_party,
            y=y,
            startup_seconds=startup,
            wall_seconds=wall,
            workdir=None if tmp else work,
            logs={pid: (work / f"{pid}.log").read_text(errors="replace") for pid in parties
                  if (work / f"{pid}.log").exists()},
            processes=len(groups),
            workers_needed=session.n_needed,
            certificate=None if session.certificate is None else session.certificate.to_dict(),
            certificate_text="" if session.certificate is None else session.certificate.describe(),
        )
    finally:
        if procs is not None:
            procs.close()
        if tmp is not None:
            tmp.cleanup()


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)  # pragma: no cover


def _say(message: str) -> None:
    print(f"cmpc run: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    say = (lambda _m: None) if args.quiet else _say
    res = run_local(
        args.code, args.s, args.t, args.z, args.m,
        p=args.p, workers=args.workers, insecure=args.insecure, latency_ms=args.latency_ms,
        bandwidth_mbps=args.bandwidth_mbps, timeout=args.timeout, seed=args.seed, workdir=args.keep,
        progress=say, processes=MAX_PROCESSES if args.one_process_per_party else args.processes,
    )
    for pid, err in sorted(res.errors.items()):
        print(f"{pid}: {err}", file=sys.stderr)
    for ph in PHASES:
        sec = res.seconds[ph]
        if sec is not None:
            say(f"{ph} done: {_fmt_bytes(res.bytes[ph])} in {sec:.3f} s")
    if res.y is not None:
        kept = res.workdir
        where = str(kept / "Y.npy") if kept is not None else "checked and discarded (use --keep DIR)"
        say(f"result Y ({res.y.shape[0]}×{res.y.shape[1]}): {where}")
    if res.correct:
        say(f"finished OK: Y == A^T B mod p, {res.wall_seconds:.2f} s wall "
            f"({res.startup_seconds:.2f} s start-up)")
    else:
        say("FAILED: the result is wrong or missing (errors above)")
    if args.format == "json":
        print(json.dumps(res.summary()))
        return 0 if res.correct else 1
    tls = "plain TCP (insecure)" if args.insecure else "mutual TLS 1.3"
    print(f"cmpc run --local: code {args.code} s={args.s} t={args.t} z={args.z} m={args.m} p={args.p}, "
          f"{res.workers} workers (N = {res.workers_needed} needed) + 2 sources + master in "
          f"{res.processes} processes on 127.0.0.1, {tls}")
    if res.certificate_text:
        print(res.certificate_text)
    if args.latency_ms or args.bandwidth_mbps:
        print(f"link emulation: {args.latency_ms} ms per message, "
              f"{args.bandwidth_mbps or 'unlimited'} Mbit/s per link")
    print(f"{'phase':<8} {'seconds':>9} {'bytes':>13} {'messages':>9}")
    for ph in PHASES:
        sec = res.seconds[ph]
        print(f"{ph:<8} {'-' if sec is None else f'{sec:.4f}':>9} {_fmt_bytes(res.bytes[ph]):>13} "
              f"{res.messages[ph]:>9}")
    tot = res.seconds["total"]
    print(f"{'total':<8} {'-' if tot is None else f'{tot:.4f}':>9} {_fmt_bytes(res.bytes['total']):>13} "
          f"{sum(res.messages.values()):>9}")
    print(f"start-up (processes, imports, TLS handshakes; not in total): {res.startup_seconds:.2f} s")
    verdict = "CORRECT" if res.correct else "WRONG or missing"
    print(f"result {verdict}: Y == A^T B mod p checked by the launcher")
    return 0 if res.correct else 1
