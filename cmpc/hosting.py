"""Several parties in one process (``cmpc run --local``): each its own TLS endpoint, thread and report.

Why: every party process pays an interpreter start and the imports of numpy, cryptography and cmpc (about
0.4 s of CPU each); twenty of them on two cores cost several seconds before the first message. For the
local launcher a few processes (by default one per core) each *host* several parties. Nothing else
changes: each hosted party still runs :func:`cmpc.commands.party.run_party` unchanged — its own
:class:`~cmpc.net.tcp.TcpTransport` (own listening port, own event loop, own certificate and key, mutual
TLS to every peer, also to the parties in the same process), its own role, its own report — so the bytes
on the wire and the result are those of one process per party. Deployments across machines keep
``cmpc party --id X`` (one party, one process).

Host side (:func:`host_parties`, ``cmpc party --launcher --host a,b,c --report-dir DIR``): one thread per
party; the control words on stdin/stdout are those of a single party (``LISTENING`` → ``DIAL``, ``READY``
→ ``GO``), said once every hosted party has reached the step (or failed). Then one line per finished
party, ``PARTY-DONE <id> <status>``, and a final ``DONE``; the process idles until ``EXIT`` and exits 0
if every hosted party succeeded, else 3. ``EXIT`` (or the end of stdin) *before* the end aborts the
hosted parties still waiting at a step: they fail with a named TransportError ("run aborted by the
launcher") and write their reports. Each party's stderr lines go to ``DIR/<id>.log`` (the threads' writes
are routed by party), its report to ``DIR/<id>.report.json``.

Launcher side: :func:`plan_processes` splits the parties into process groups.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import queue
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from .errors import ParameterError, TransportError

__all__ = ["STEPS", "Gate", "host_parties", "plan_processes"]

#: the control steps: (what the host says when all hosted parties got there, what the launcher answers)
STEPS = (("LISTENING", "DIAL"), ("READY", "GO"))
EXIT_FAILED = 3


def plan_processes(parties: Sequence[str], processes: int, *, alone: Sequence[str] = ()) -> list[list[str]]:
    """Split ``parties`` into at most ``processes`` groups, round robin in the given order.

    Parties in ``alone`` (e.g. fault injection that kills its own process) get a process of their own, on
    top of the others. With ``processes >= len(parties)`` every party is alone (the deployment shape).
    Round robin spreads the workers, whose products are the bulk of the compute, evenly over the cores.
    """
    if processes < 1:
        raise ParameterError(f"--processes must be >= 1, got {processes}")
    rest = [p for p in parties if p not in set(alone)]
    groups: list[list[str]] = [[] for _ in range(min(processes, len(rest)))]
    for i, pid in enumerate(rest):
        groups[i % len(groups)].append(pid)
    return [*([p] for p in parties if p in set(alone)), *groups]


class Gate:
    """The hosted parties meet at each step; the host's main thread opens a step once all have arrived.

    A party thread calls :meth:`arrive` (blocks until the step is opened, or raises TransportError when the
    run was aborted); a finished or failed party :meth:`leave` s, so it never holds the others back.
    """

    def __init__(self, parties: Sequence[str]) -> None:
        self.parties = list(parties)
        self._cv = threading.Condition()
        self._at: dict[str, int] = {}
        self._opened = -1
        self._aborted: str | None = None

    def arrive(self, party: str, step: int) -> None:
        with self._cv:
            self._at[party] = step
            self._cv.notify_all()
            self._cv.wait_for(lambda: self._opened >= step or self._aborted is not None)
            if self._aborted is not None and self._opened < step:
                raise TransportError(f"{party}: run aborted by the launcher ({self._aborted})",
                                     peer="launcher")

    def leave(self, party: str) -> None:
        with self._cv:
            self._at[party] = len(STEPS)
            self._cv.notify_all()

    def all_arrived(self, step: int, timeout: float) -> bool:
        """Wait until every party reached ``step`` (or left); False on timeout."""
        with self._cv:
            return self._cv.wait_for(
                lambda: all(self._at.get(p, -1) >= step for p in self.parties), timeout=timeout
            )

    def open(self, step: int) -> None:
        with self._cv:
            self._opened = step
            self._cv.notify_all()

    def abort(self, why: str) -> None:
        with self._cv:
            self._aborted = why
            self._cv.notify_all()


class _RoutedStderr(io.TextIOBase):
    """``sys.stderr`` for a host process: a party thread's writes go to that party's log file."""

    def __init__(self, fallback: TextIO) -> None:
        self.fallback = fallback
        self.local = threading.local()

    def bind(self, file: TextIO | None) -> None:
        self.local.file = file

    def _target(self) -> TextIO:
        return getattr(self.local, "file", None) or self.fallback

    def write(self, s: str) -> int:
        target = self._target()
        target.write(s)
        return len(s)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._target().flush()


def _write_report(path: Path, report: dict[str, Any]) -> None:
    path.write_text(json.dumps(report, indent=1), encoding="utf-8")


def host_parties(args: argparse.Namespace, parties: Sequence[str],
                 run_party: Callable[[argparse.Namespace], tuple[int, dict[str, Any]]]) -> int:
    """Run ``parties`` in this process as described in the module docstring; the process's exit status."""
    if not args.report_dir:
        raise ParameterError("--host needs --report-dir DIR (each hosted party's report and log go there)")
    folder = Path(args.report_dir)
    gate = Gate(parties)
    events: queue.Queue[tuple[str, str, int]] = queue.Queue()
    stderr = _RoutedStderr(sys.stderr)
    sys.stderr = stderr
    keys = dict(kv.split("=", 1) for kv in (args.party_keys or []))
    statuses: dict[str, int] = {}

    def body(pid: str) -> None:
        ns = argparse.Namespace(**vars(args))
        ns.party, ns.host, ns.report = pid, None, str(folder / f"{pid}.report.json")
        ns.output = args.output if pid == "master" else None
        ns.keys = keys.get(pid, args.keys)
        step = iter(range(len(STEPS)))
        ns.sync = lambda _word: gate.arrive(pid, next(step))
        status = EXIT_FAILED
        with open(folder / f"{pid}.log", "w", encoding="utf-8", buffering=1) as log:
            stderr.bind(log)
            try:
                status, report = run_party(ns)
            except Exception as exc:  # a bad argument or file of this party: reported like a failed run
                status = 2
                report = {"party": pid, "ok": False, "error": str(exc), "error_type": type(exc).__name__}
                if not isinstance(exc, ParameterError):
                    traceback.print_exc()
                else:
                    print(f"{pid}: {type(exc).__name__}: {exc}", file=log)
            finally:
                gate.leave(pid)
            try:
                _write_report(Path(ns.report), report)
            except OSError as exc:
                print(f"{pid}: cannot write the report {ns.report}: {exc}", file=log)
            stderr.bind(None)
        events.put(("party", pid, status))

    def read_stdin() -> None:
        for line in sys.stdin:
            events.put(("line", line.strip(), 0))
        events.put(("line", "", 0))  # end of stdin

    threads = [threading.Thread(target=body, args=(pid,), name=f"party-{pid}", daemon=True)
               for pid in parties]
    for th in threads:
        th.start()
    threading.Thread(target=read_stdin, name="host-stdin", daemon=True).start()

    def next_line() -> str:
        while True:
            kind, text, status = events.get()
            if kind == "line":
                return text
            statuses[text] = status
            print(f"PARTY-DONE {text} {status}", flush=True)

    aborted = False
    for i, (word, reply) in enumerate(STEPS):
        while not gate.all_arrived(i, 0.05):
            while not events.empty():  # report parties that ended early, at once
                kind, text, status = events.get()
                if kind == "line":  # the launcher gave up (EXIT or end of stdin) before we were ready
                    aborted = True
                    break
                statuses[text] = status
                print(f"PARTY-DONE {text} {status}", flush=True)
            if aborted:
                break
        if aborted:
            break
        print(word, flush=True)
        got = next_line()
        if got != reply:
            aborted = True
            break
        gate.open(i)
    if aborted:
        gate.abort("it said EXIT before GO")
    told_exit = aborted
    while len(statuses) < len(parties):  # the launcher may say EXIT as soon as the master is done
        kind, text, status = events.get()
        if kind == "party":
            statuses[text] = status
            print(f"PARTY-DONE {text} {status}", flush=True)
        else:
            told_exit = True
    print("DONE", flush=True)
    if not told_exit:
        next_line()  # idle until EXIT (or end of stdin): see cmpc party --launcher
    sys.stderr = stderr.fallback
    return 0 if all(s == 0 for s in statuses.values()) else EXIT_FAILED


def default_processes() -> int:
    """Processes ``cmpc run --local`` starts by default: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
