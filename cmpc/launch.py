"""One child-process launcher: ``python -m <module> ...`` with a line-based control channel.

Used by ``private_mdi`` (party processes) and meant for ``cmpc run --local``. The child's **stdin/stdout
carry control lines only** (e.g. ``LISTENING`` → ``GO``, ``DONE``, ``EXIT``), never protocol traffic; its
stderr goes to a log file whose tail is quoted when it dies. Every wait has a deadline
(:class:`LaunchTimeout`), a child that exits early raises :class:`ChildExited` with its status and log
tail, and :meth:`Child.close` always leaves no process behind (polite goodbye line, then kill).

Example::

    child = Child("edge1", python_module("private_mdi", "party", "--party", "edge1"), log=work / "edge1.log")
    child.expect("LISTENING", deadline=time.monotonic() + 60)
    child.tell("GO")
    ...
    child.close(goodbye="EXIT")
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import CMPCError

__all__ = ["Child", "ChildExited", "LaunchError", "LaunchTimeout", "child_env", "python_module"]

#: bytes of a dead child's log quoted in the error
LOG_TAIL = 2000


class LaunchError(CMPCError, RuntimeError):
    """A child process failed to start, answer or stay alive."""


class LaunchTimeout(LaunchError, TimeoutError):
    """A child did not say the expected line before the deadline."""


class ChildExited(LaunchError):
    """A child exited while a line was awaited (``status`` and the tail of its log are in the message)."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status


def python_module(module: str, *args: str) -> list[str]:
    """The command line ``[sys.executable, "-m", module, *args]``."""
    return [sys.executable, "-m", module, *args]


def child_env(base: Mapping[str, str] | None = None, *, single_thread_blas: bool = True) -> dict[str, str]:
    """Environment for a child: unbuffered output, this very package first on ``PYTHONPATH`` and (by
    default) one BLAS thread per process, so that N children share the cores without oversubscription."""
    env = dict(os.environ if base is None else base)
    if single_thread_blas:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            env.setdefault(var, "1")
    env["PYTHONUNBUFFERED"] = "1"
    root = str(Path(__file__).resolve().parents[1])
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([root, *[p for p in paths if p != root]])
    return env


class Child:
    """One child process; a reader thread turns its stdout lines into a queue."""

    def __init__(self, name: str, cmd: Sequence[str], *, log: str | os.PathLike[str],
                 env: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.log = Path(log)
        self._log_fh = open(self.log, "wb")  # closed in close()
        try:
            self.proc = subprocess.Popen(
                list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log_fh,
                env=dict(child_env() if env is None else env),
            )
        except OSError as exc:
            self._log_fh.close()
            raise LaunchError(f"{name}: cannot start {cmd[0]!r}: {exc}") from exc
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name=f"launch-{name}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
        self.lines.put(None)

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def log_tail(self) -> str:
        """The last :data:`LOG_TAIL` characters of the child's stderr log."""
        self._log_fh.flush()
        try:
            return self.log.read_text(errors="replace")[-LOG_TAIL:]
        except OSError:
            return ""

    def next_line(self, deadline: float, what: str = "a line") -> str:
        """The next stdout line; :class:`LaunchTimeout` at ``deadline`` (``time.monotonic()`` based),
        :class:`ChildExited` if the child's output ends first."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LaunchTimeout(f"{self.name}: no {what} in time")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.lines.put(None)  # later calls see the end too
                status = self.proc.wait()
                tail = self.log_tail().strip()
                raise ChildExited(
                    f"{self.name} exited (status {status}) before {what}" + (f": {tail}" if tail else ""),
                    status,
                )
            return line

    def expect(self, word: str, deadline: float) -> str:
        """Skip lines until one equals ``word`` or starts with ``word + " "``; returns that line."""
        while True:
            line = self.next_line(deadline, word)
            if line == word or line.startswith(word + " "):
                return line

    def tell(self, line: str) -> bool:
        """Write one control line; False if the child is gone (its exit is reported by the next wait)."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def wait(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` s for the child to exit; its status, or None if it still runs."""
        try:
            return self.proc.wait(timeout=max(0.0, timeout))
        except subprocess.TimeoutExpired:
            return None

    def close(self, goodbye: str | None = None, grace: float = 5.0) -> int | None:
        """Say ``goodbye`` (if given), wait up to ``grace`` s, then kill; close pipes and the log."""
        if self.proc.poll() is None and goodbye is not None and self.tell(goodbye):
            self.wait(grace)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):  # a dead child's stdin may hold an unflushed line
                    pipe.close()
        self._log_fh.close()
        return self.proc.returncode

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
