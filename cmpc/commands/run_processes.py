"""The process side of ``cmpc run --local``: start the party processes, synchronise them, watch for failures.

A process hosts one party (``cmpc party --id X --launcher``, the deployment shape) or several
(``cmpc party --host a,b,c --launcher``, :mod:`cmpc.hosting`); both speak the same control words
(``LISTENING`` → ``DIAL``, ``READY`` → ``GO``, ``DONE`` … ``EXIT``). A hosting process also says
``PARTY-DONE <id> <status>`` when one of its parties ends.

Fail fast: a failure the protocol cannot tolerate ends the run at once instead of after the protocol's
timeouts. Intolerable is a source or the master failing, or more workers failing than there are spares
(N′ − N). Before ``GO`` (bad key files, a port in use, …) the launcher then answers ``EXIT`` instead of
the next word, so no party dials a dead one for ``connect_timeout``; after ``GO`` a failed source (the
master's own failure ends the run anyway) makes the launcher stop every process. Worker failures after
``GO`` are left to the protocol (spares, ``InsufficientWorkersError`` after the silence timeout), and so
are the deaths injected by ``crash=`` (they test exactly that).
"""

from __future__ import annotations

import queue
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..launch import Child
from ..protocol.session import MASTER, SOURCE_A, SOURCE_B

__all__ = ["PartyProcesses"]


class PartyProcesses:
    """The processes of one local run; ``groups`` lists the parties each process hosts."""

    def __init__(self, groups: Sequence[Sequence[str]], commands: Sequence[list[str]], work: Path,
                 env: Mapping[str, str], *, spares: int, expected_deaths: Sequence[str] = ()) -> None:
        self.groups = [list(g) for g in groups]
        self.children: list[Child] = []
        self.spares = spares
        self.expected = set(expected_deaths)
        self.failed: dict[str, str] = {}  # party -> why (startup errors and reported failures)
        self.finished: set[str] = set()
        for k, (group, cmd) in enumerate(zip(self.groups, commands)):
            name = group[0] if len(group) == 1 else f"process-{k}"
            self.children.append(Child(name, cmd, log=work / f"{name}.log", env=env))
        self.process_of = {pid: self.children[k] for k, g in enumerate(self.groups) for pid in g}

    # -- lines ---------------------------------------------------------------------------------------------
    def _note(self, child: Child, line: str) -> None:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "PARTY-DONE":
            self.finished.add(parts[1])
            if parts[2] != "0":
                self.failed.setdefault(parts[1], f"failed (status {parts[2]})")

    def _died(self, child: Child, why: str) -> None:
        for pid in self.groups[self.children.index(child)]:
            if pid not in self.finished:
                self.failed.setdefault(pid, why)

    def _expect(self, child: Child, word: str, deadline: float) -> None:
        while True:
            line = child.next_line(deadline, word)
            if line == word or line.startswith(word + " "):
                return
            self._note(child, line)

    def intolerable(self) -> list[str]:
        """Failed parties that doom the run (see the module docstring), sorted; empty when it may go on."""
        bad = [p for p in self.failed if p not in self.expected]
        workers = [p for p in bad if p not in (SOURCE_A, SOURCE_B, MASTER)]
        fatal = sorted(p for p in bad if p in (SOURCE_A, SOURCE_B, MASTER))
        return fatal + (sorted(workers) if len(workers) > self.spares else [])

    # -- phases --------------------------------------------------------------------------------------------
    def start_up(self, deadline: float, say: Callable[[str], None], t0: float) -> float | None:
        """LISTENING → DIAL, READY → GO; the wall-clock time of GO, or None when the run was aborted."""
        dead: set[int] = set()
        n = sum(len(g) for g in self.groups)
        t_go = None
        for word, reply, step in (("LISTENING", "DIAL", "listening"), ("READY", "GO", "connected")):
            for k, child in enumerate(self.children):
                if k in dead:
                    continue
                try:
                    self._expect(child, word, deadline)
                except (TimeoutError, RuntimeError) as exc:
                    dead.add(k)
                    self._died(child, str(exc))
            ok = n - len(self.failed)
            say(f"parties {step} {ok}/{n} ({time.perf_counter() - t0:.2f} s)")
            doomed = self.intolerable()
            if doomed:
                say(f"aborting: {', '.join(doomed)} failed before the run started")
                for child in self.children:
                    child.tell("EXIT")
                return None
            t_go = time.time()
            for k, child in enumerate(self.children):
                if k not in dead:
                    child.tell(reply)
        return t_go

    def wait_master(self, deadline: float) -> None:
        """Until the master is done (or failed, or its process died), a source failed, or ``deadline``."""
        master = self.process_of[MASTER]
        while time.monotonic() < deadline and MASTER not in self.finished and MASTER not in self.failed:
            for child in self.children:
                while True:
                    try:
                        line = child.lines.get(timeout=0.02 if child is master else 0)
                    except queue.Empty:
                        break
                    if line is None:
                        child.lines.put(None)
                        status = child.proc.wait()
                        self._died(child, f"process exited (status {status})")
                        break
                    if line == "DONE" and child is master:
                        self.finished.add(MASTER)
                    self._note(child, line)
            if any(p in (SOURCE_A, SOURCE_B) for p in self.intolerable()):
                for child in self.children:  # nobody can compute without a source: stop now
                    child.proc.kill()
                return

    def finish(self, deadline: float) -> None:
        """Say EXIT to everyone and wait for the processes (kill the ones still there at ``deadline``)."""
        for child in self.children:
            child.tell("EXIT")
        for child in self.children:
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()

    def returncodes(self) -> dict[str, int | None]:
        return {pid: child.proc.returncode for pid, child in self.process_of.items()}

    def close(self) -> None:
        for child in self.children:
            child.close()
