"""cmpc.runtime: silence-based timeouts, deterministic sequential delivery, thread runner, fault wrappers."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from cmpc.errors import TransportError
from cmpc.net.memory import MemoryNetwork
from cmpc.runtime import (
    CrashAt,
    DeadlockError,
    Deferred,
    Transcript,
    run_role,
    run_sequential,
    run_threads,
)


class IntCodec:
    """Messages are small ints; one byte each (phase "p<value mod 2>")."""

    def encode(self, message: int) -> bytes:
        return bytes([message])

    def decode(self, sender: str, frame: bytes) -> int:
        return frame[0]

    def phase(self, message: int) -> str:
        return f"p{message % 2}"


class Counter:
    """Sends ``start_with`` to ``peer``; answers v with v + 1 until ``stop_at``; records what it saw."""

    def __init__(self, peer: str, start_with: int | None, stop_at: int) -> None:
        self.peer, self.first, self.stop_at = peer, start_with, stop_at
        self.done = False
        self.seen: list[tuple[str, int]] = []
        self.result: Any = None

    def start(self) -> list[tuple[str, int]]:
        return [] if self.first is None else [(self.peer, self.first)]

    def handle(self, sender: str, message: int) -> list[tuple[str, int]]:
        self.seen.append((sender, message))
        if message + 1 >= self.stop_at:
            self.done = True
            self.result = message
            return [(self.peer, message + 1)] if message + 1 == self.stop_at else []
        return [(self.peer, message + 1)]


def test_sequential_is_fifo_and_deterministic() -> None:
    digests = []
    for _ in range(2):
        net = MemoryNetwork(["a", "b"])
        a, b = Counter("b", 0, 100), Counter("a", None, 9)
        tr = Transcript()
        run_sequential({"a": a, "b": b}, net, IntCodec(), until=lambda b=b: b.done, transcript=tr)
        assert [m for _, m in b.seen] == [0, 2, 4, 6, 8]
        assert [m for _, m in a.seen] == [1, 3, 5, 7]  # 9 is still in flight when b is done
        assert [f[3][0] for f in tr.frames] == list(range(10))
        assert net.meter.messages_by_phase() == {"p0": 5, "p1": 5}
        digests.append(tr.digest())
    assert digests[0] == digests[1]
    assert Transcript().digest() != digests[0]


def test_sequential_deadlock_is_named() -> None:
    net = MemoryNetwork(["a", "b"])
    a, b = Counter("b", None, 3), Counter("a", None, 3)
    with pytest.raises(DeadlockError, match="a, b"):
        run_sequential({"a": a, "b": b}, net, IntCodec(), until=lambda: b.done)


def test_sequential_faults_as_wrappers() -> None:
    net = MemoryNetwork(["a", "b", "c"])
    a = Counter("b", 0, 100)
    b = Counter("a", None, 100)

    class Sink(Counter):
        def handle(self, sender: str, message: int) -> list[tuple[str, int]]:
            self.seen.append((sender, message))
            self.done = True
            return []

    c = Sink("a", None, 1)
    c_starts = Counter("c", 50, 51)  # c's messages are held until nothing else is in flight

    def wrap(name: str, t: Any) -> Any:
        return CrashAt(t, "p1") if name == "b" else t

    # b dies when it first sends an odd number: a waits forever -> deadlock, not a hang
    with pytest.raises(DeadlockError, match="a"):
        run_sequential({"a": a, "b": b}, net, IntCodec(), until=lambda: a.done, wrap=wrap)
    assert b.seen == [("a", 0)] and a.seen == []
    net2 = MemoryNetwork(["a", "c"])
    held: Any = None

    def wrap2(name: str, t: Any) -> Any:
        nonlocal held
        if name == "a":
            held = Deferred(t)
            return held
        return t

    run_sequential({"a": c_starts, "c": c}, net2, IntCodec(), until=lambda: c.done, wrap=wrap2)
    assert c.seen == [("a", 50)]
    assert held is not None and not held.release()


def test_silence_timeout_not_batch_length() -> None:
    """A peer that keeps sending for longer than the timeout is fine; a silent one fails within it."""
    net = MemoryNetwork(["a", "b"])
    sink = Counter("b", None, 11)
    sender = net.transport("b")

    def trickle() -> None:
        for v in range(11):
            time.sleep(0.05)
            sender.send("a", bytes([v]))

    th = threading.Thread(target=trickle)
    th.start()
    t0 = time.monotonic()
    run_role(sink, net.transport("a"), IntCodec(), timeout=0.2)  # the whole run takes ~0.55 s
    th.join()
    assert sink.done and time.monotonic() - t0 > 0.4
    silent = Counter("b", None, 3)
    t0 = time.monotonic()
    with pytest.raises(TransportError, match=r"nothing received for 0\.2 s"):
        run_role(silent, net.transport("a"), IntCodec(), timeout=0.2)
    assert time.monotonic() - t0 < 2.0


def test_idle_server_never_times_out() -> None:
    net = MemoryNetwork(["srv", "cli"])

    class Server(Counter):
        expecting = False  # a reactive server: nothing outstanding

    srv = Server("cli", None, 1)
    th = threading.Thread(target=run_role, args=(srv, net.transport("srv"), IntCodec()),
                          kwargs={"timeout": 0.1})
    th.start()
    time.sleep(0.5)  # five timeouts of idleness
    assert th.is_alive()
    net.transport("cli").send("srv", bytes([0]))
    th.join(5)
    assert srv.done and srv.seen == [("cli", 0)]


def test_threads_raise_the_first_error() -> None:
    net = MemoryNetwork(["a", "b", "c"])

    class Boom(Counter):
        def handle(self, sender: str, message: int) -> list[tuple[str, int]]:
            raise ValueError("root cause")

    roles = {"a": Counter("b", 0, 5), "b": Boom("a", None, 5), "c": Counter("a", None, 5)}
    transports = {k: net.transport(k) for k in roles}
    with pytest.raises(ValueError, match="root cause"):
        run_threads(roles, transports, IntCodec(), timeout=0.3, deadline=10)
    roles = {"a": Counter("b", 0, 6), "b": Counter("a", None, 7)}
    net = MemoryNetwork(["a", "b"])
    threads = run_threads(roles, {k: net.transport(k) for k in roles}, IntCodec(), timeout=2, deadline=10)
    assert all(t.error is None for t in threads.values()) and roles["b"].done
