"""Link emulation (cmpc.net.link): the latency/bandwidth model, ordering, metering, flushing, errors."""

from __future__ import annotations

import threading
import time

import pytest

from cmpc.errors import ParameterError, TransportError
from cmpc.net import MemoryNetwork
from cmpc.net.link import LinkEmulator, LinkSpec


class FakeClock:
    """A clock that only moves when someone sleeps on it (deterministic delivery times)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.lock = threading.Lock()
        self.gate = threading.Event()  # sleeping blocks until the test opens the gate
        self.gate.set()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        self.gate.wait(5)
        with self.lock:
            self.now += seconds


class Recorder:
    """An inner transport that records (clock time, peer, frame, phase) of every delivery."""

    def __init__(self, clock: FakeClock) -> None:
        self.party = "source-a"
        self.meter = MemoryNetwork(["source-a"]).meter
        self.clock = clock
        self.log: list[tuple[float, str, bytes, str]] = []
        self.fail_for: set[str] = set()

    def send(self, peer, frame, *, phase=""):
        if peer in self.fail_for:
            raise TransportError(f"{peer} is down", peer=peer)
        self.log.append((self.clock(), peer, frame, phase))
        self.meter.record(phase, self.party, peer, len(frame))

    def recv(self, *, timeout=None):
        raise TransportError("nothing", peer=None)

    def close(self):
        pass


def test_linkspec_validation():
    assert LinkSpec().is_null
    assert not LinkSpec(latency_ms=1).is_null
    assert LinkSpec(bandwidth_mbps=8).transmit_seconds(1_000_000) == pytest.approx(1.0)
    for bad in (dict(latency_ms=-1), dict(latency_ms=True), dict(bandwidth_mbps=0), dict(bandwidth_mbps=-5)):
        with pytest.raises(ParameterError):
            LinkSpec(**bad)


def test_delivery_times_follow_the_model():
    """deliver = max(now, busy_until) + bytes·8/bw + latency, per link, FIFO."""
    clock = FakeClock()
    inner = Recorder(clock)
    spec = LinkSpec(latency_ms=20, bandwidth_mbps=8)
    em = LinkEmulator(inner, default=spec, clock=clock, sleep=clock.sleep)
    clock.gate.clear()  # both frames are handed over at the same instant
    em.send("worker-0", bytes(10_000), phase="p")  # 10 ms on the wire
    em.send("worker-0", bytes(20_000), phase="p")  # queued behind it: 20 ms more
    clock.gate.set()
    em.flush()
    (t1, _, f1, _), (t2, _, f2, _) = inner.log
    assert (len(f1), len(f2)) == (10_000, 20_000)
    assert t1 == pytest.approx(100.0 + 0.010 + 0.020)
    assert t2 == pytest.approx(100.0 + 0.030 + 0.020)


def test_links_are_independent_and_overrides_are_symmetric():
    clock = FakeClock()
    inner = Recorder(clock)
    em = LinkEmulator(
        inner,
        default=LinkSpec(latency_ms=50),
        links={("worker-1", "source-a"): LinkSpec(latency_ms=5), ("source-a", "master"): LinkSpec()},
        clock=clock,
        sleep=clock.sleep,
    )
    assert em.spec_for("worker-1").latency_ms == 5  # (dst, src) entry applies to src → dst too
    assert em.spec_for("worker-0").latency_ms == 50
    em.send("master", b"direct")  # a null link goes straight through
    assert inner.log[0][1:3] == ("master", b"direct")
    em.send("worker-1", b"fast")
    em.flush()
    assert inner.log[1][0] == pytest.approx(100.005)


def test_real_time_latency_without_blocking_the_sender():
    net = MemoryNetwork(["source-a", "worker-0"])
    em = LinkEmulator(net.transport("source-a"), default=LinkSpec(latency_ms=150))
    receiver = net.transport("worker-0")
    t0 = time.monotonic()
    for i in range(3):
        em.send("worker-0", bytes([i]), phase="phase1")
    assert time.monotonic() - t0 < 0.1  # send returned at once
    got = [receiver.recv(timeout=3) for _ in range(3)]
    assert time.monotonic() - t0 >= 0.15
    assert [f for _, f in got] == [b"\x00", b"\x01", b"\x02"]  # order kept
    assert net.meter.bytes_by_phase() == {"phase1": 3}  # metered exactly as without emulation
    em.close()


def test_close_flushes_pending_frames():
    net = MemoryNetwork(["source-a", "worker-0"])
    em = LinkEmulator(net.transport("source-a"), default=LinkSpec(latency_ms=100))
    em.send("worker-0", b"late")
    assert net.pending("worker-0") == 0
    em.close()
    assert net.pending("worker-0") == 1
    with pytest.raises(TransportError, match="closed"):
        em.send("worker-0", b"x")


def test_delivery_errors_surface_on_the_next_send_and_on_flush():
    clock = FakeClock()
    inner = Recorder(clock)
    inner.fail_for.add("worker-0")
    em = LinkEmulator(inner, default=LinkSpec(latency_ms=1), clock=clock, sleep=clock.sleep)
    em.send("worker-0", b"lost")
    lane = em._lanes["worker-0"]
    deadline = time.monotonic() + 3
    while lane.error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(TransportError, match="worker-0 is down"):
        em.send("worker-0", b"again")
    with pytest.raises(TransportError, match="worker-0 is down"):
        em.flush()


def test_bad_links_mapping():
    net = MemoryNetwork(["source-a"])
    with pytest.raises(ParameterError, match="links must map"):
        LinkEmulator(net.transport("source-a"), links={"source-a": LinkSpec()})  # type: ignore[dict-item]
