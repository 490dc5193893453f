"""TCP transport (cmpc.net.tcp): framing, metering, timeouts, disconnects and stalls — never a hang."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import pytest

from cmpc.errors import ParameterError, ProtocolError, TransportError
from cmpc.net import tls
from cmpc.net.tcp import HEADER, MAGIC, InsecureTransportWarning, Kind, TcpTransport, free_loopback_ports
from cmpc.rand import RandomSource

PARTIES = ["source-a", "worker-0", "worker-1", "master"]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return tls.write_keys(tmp_path_factory.mktemp("keys"), PARTIES, rng=RandomSource(seed=11))


def mesh(keys, parties=PARTIES, **kw):
    """One started transport per party, all on loopback ports chosen by the OS."""
    book = {p: ("127.0.0.1", 0) for p in parties}
    ts = {
        p: TcpTransport(p, book, credentials=tls.load_credentials(keys, p), connect_timeout=3.0, **kw).start()
        for p in parties
    }
    for t in ts.values():
        for q, u in ts.items():
            if q != t.party:
                t.set_address(q, "127.0.0.1", u.port)
    return ts


@pytest.fixture
def net(keys):
    ts = mesh(keys)
    yield ts
    for t in ts.values():
        t.close()


def test_frames_arrive_in_order_and_are_metered(net):
    frames = [bytes([i]) * (i * 1000 + 1) for i in range(20)]
    for f in frames:
        net["source-a"].send("worker-0", f, phase="phase1")
    net["worker-1"].send("worker-0", b"", phase="phase2")  # empty frames are frames too
    got = [net["worker-0"].recv(timeout=5) for _ in range(21)]
    net["source-a"].flush()
    net["worker-1"].flush()
    assert [f for s, f in got if s == "source-a"] == frames
    assert ("worker-1", b"") in got
    pairs = net["source-a"].meter.by_pair()
    assert pairs[("phase1", "source-a", "worker-0")].bytes == sum(map(len, frames))
    assert pairs[("phase1", "source-a", "worker-0")].messages == 20
    assert net["worker-1"].meter.bytes_by_phase() == {"phase2": 0}


def test_big_frame_round_trip(net):
    big = os.urandom(3 * 2**20 + 17)
    net["worker-0"].send("master", big)
    assert net["master"].recv(timeout=10) == ("worker-0", big)


def test_connect_dials_ahead(net):
    net["master"].connect(["worker-0", "worker-1"])
    t0 = time.monotonic()
    net["master"].send("worker-1", b"go")
    assert time.monotonic() - t0 < 1.0
    assert net["worker-1"].recv(timeout=3) == ("master", b"go")


def test_oversized_frames_are_protocol_errors(keys):
    small = mesh(keys, ["worker-0", "worker-1"], max_frame=1000)
    try:
        with pytest.raises(ProtocolError, match="exceeds max_frame=1000"):
            small["worker-0"].send("worker-1", bytes(1001))
    finally:
        for t in small.values():
            t.close()
    # a peer configured with a larger limit sends a frame above the receiver's limit
    ts = mesh(keys, ["worker-0", "worker-1"])
    recv_side = ts["worker-1"]
    recv_side.max_frame = 1000  # the reader checks the limit per frame
    try:
        ts["worker-0"].send("worker-1", bytes(5000))
        with pytest.raises(ProtocolError, match="worker-0 sent a frame of 5000 bytes"):
            recv_side.recv(timeout=3)
    finally:
        for t in ts.values():
            t.close()


def test_recv_timeout_is_a_transport_error(net):
    t0 = time.monotonic()
    with pytest.raises(TransportError, match=r"nothing received within 0\.3 s"):
        net["master"].recv(timeout=0.3)
    assert 0.25 < time.monotonic() - t0 < 1.5


def test_unreachable_peer_fails_within_connect_timeout(keys):
    port = free_loopback_ports(1)[0]  # nobody listens there
    book = {"worker-0": ("127.0.0.1", 0), "worker-1": ("127.0.0.1", port)}
    creds = tls.load_credentials(keys, "worker-0")
    t = TcpTransport("worker-0", book, credentials=creds, connect_timeout=0.5)
    with t:
        t0 = time.monotonic()
        t.send("worker-1", b"x")  # handed over; the dial fails in the background
        with pytest.raises(TransportError, match="could not connect to worker-1") as info:
            t.flush()
        assert info.value.peer == "worker-1"
        assert time.monotonic() - t0 < 2.0
        with pytest.raises(TransportError, match="could not connect to worker-1"):
            t.send("worker-1", b"y")  # and every later send to it says so at once
        failures = t.connect(["worker-1"], strict=False)
        assert list(failures) == ["worker-1"] and failures["worker-1"].peer == "worker-1"
        with pytest.raises(TransportError, match="could not connect to worker-1"):
            t.connect(["worker-1"])


def test_dial_retries_until_a_late_peer_listens(keys):
    port = free_loopback_ports(1)[0]
    book = {"worker-0": ("127.0.0.1", 0), "worker-1": ("127.0.0.1", port)}
    late = TcpTransport("worker-1", book, credentials=tls.load_credentials(keys, "worker-1"))
    timer = threading.Timer(0.4, late.start)
    timer.start()
    creds = tls.load_credentials(keys, "worker-0")
    early = TcpTransport("worker-0", book, credentials=creds, connect_timeout=5)
    try:
        with early:
            early.send("worker-1", b"hello")  # retried while worker-1 was not listening yet
            assert late.recv(timeout=3) == ("worker-0", b"hello")
    finally:
        timer.join()
        late.close()


def test_orderly_close_is_not_an_error(net):
    net["master"].connect(["worker-0"])
    net["worker-0"].send("master", b"last")
    net["worker-0"].close()
    assert net["master"].recv(timeout=3) == ("worker-0", b"last")
    with pytest.raises(TransportError, match="nothing received") as info:
        net["master"].recv(timeout=0.3)
    assert info.value.peer is None  # nobody crashed
    deadline = time.monotonic() + 3
    while "worker-0" not in net["master"].finished_peers() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert net["master"].finished_peers() == {"worker-0"}
    # sending to a party that has left fails fast, naming it
    net["worker-0"].close()  # idempotent
    t0 = time.monotonic()
    with pytest.raises(TransportError, match="worker-0 closed the connection") as info:
        net["master"].send("worker-0", b"x")
        net["master"].flush()
    assert info.value.peer == "worker-0"
    assert time.monotonic() - t0 < 0.5


def test_closed_transport_refuses_use(net):
    net["worker-1"].close()
    with pytest.raises(TransportError, match="closed"):
        net["worker-1"].send("master", b"x")
    with pytest.raises(TransportError, match="closed"):
        net["worker-1"].recv(timeout=0.1)


CRASHER = textwrap.dedent(
    """
    import sys, time
    from cmpc.net import tls
    from cmpc.net.tcp import TcpTransport
    keys, port = sys.argv[1], int(sys.argv[2])
    book = {"worker-0": ("127.0.0.1", 0), "master": ("127.0.0.1", port)}
    t = TcpTransport("worker-0", book, credentials=tls.load_credentials(keys, "worker-0")).start()
    t.send("master", b"before the crash")
    print("SENT", flush=True)
    time.sleep(60)
    """
)


@pytest.mark.parametrize("fail_fast", [False, True])
def test_killed_peer_is_named_within_the_timeout(keys, fail_fast):
    book = {"worker-0": ("127.0.0.1", 0), "master": ("127.0.0.1", 0)}
    master = TcpTransport(
        "master", book, credentials=tls.load_credentials(keys, "master"), fail_fast=fail_fast
    ).start()
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(keys), str(master.port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "SENT"
        assert master.recv(timeout=10) == ("worker-0", b"before the crash")
        proc.kill()  # SIGKILL: no goodbye
        proc.wait()
        t0 = time.monotonic()
        with pytest.raises(TransportError, match="worker-0") as info:
            master.recv(timeout=1.0)
        elapsed = time.monotonic() - t0
        assert info.value.peer == "worker-0"
        assert elapsed < 1.5
        if fail_fast:
            assert "disconnected without goodbye" in str(info.value)
            assert elapsed < 0.9
        assert master.disconnected() == {"worker-0"}
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        master.close()


def test_stalled_peer_makes_send_fail_within_send_timeout():
    """A listener that says ACCEPT and then never reads: the sender's buffers fill, send fails in time."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    held: list[socket.socket] = []

    def accept_and_stall() -> None:
        conn, _ = server.accept()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        held.append(conn)
        conn.recv(HEADER.size + len(MAGIC) + 16)  # the HELLO
        reply = MAGIC + b"worker-1"
        conn.sendall(HEADER.pack(len(reply), Kind.ACCEPT) + reply)  # ... and never read again

    th = threading.Thread(target=accept_and_stall, daemon=True)
    th.start()
    book = {"worker-0": ("127.0.0.1", 0), "worker-1": ("127.0.0.1", port)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureTransportWarning)
        t = TcpTransport("worker-0", book, insecure=True, send_timeout=0.5, connect_timeout=2)
    try:
        t0 = time.monotonic()
        with pytest.raises(TransportError, match="worker-1 stalled") as info:
            for _ in range(200):
                t.send("worker-1", bytes(2**20))
        assert info.value.peer == "worker-1"
        assert time.monotonic() - t0 < 10
    finally:
        t.close()
        th.join(2)
        for c in held:
            c.close()
        server.close()


def test_garbage_after_accept_is_a_protocol_error_naming_the_peer(keys):
    ts = mesh(keys, ["worker-0", "worker-1"])
    try:
        ts["worker-0"].connect(["worker-1"])
        conn = ts["worker-0"]._outbound["worker-1"]  # write a frame of an unknown kind on the wire
        ts["worker-0"]._loop.call_soon_threadsafe(conn.writer.write, HEADER.pack(3, 9) + b"abc")
        with pytest.raises(ProtocolError, match="worker-0 sent an unexpected frame kind 9"):
            ts["worker-1"].recv(timeout=3)
    finally:
        for t in ts.values():
            t.close()


def test_insecure_mode_warns_and_works():
    book = {"worker-0": ("127.0.0.1", 0), "worker-1": ("127.0.0.1", 0)}
    with pytest.warns(InsecureTransportWarning, match="without TLS"):
        a = TcpTransport("worker-0", book, insecure=True).start()
    with pytest.warns(InsecureTransportWarning):
        b = TcpTransport("worker-1", book, insecure=True).start()
    try:
        a.set_address("worker-1", "127.0.0.1", b.port)
        a.send("worker-1", b"plain")
        assert b.recv(timeout=3) == ("worker-0", b"plain")
    finally:
        a.close()
        b.close()


def test_parameter_checks(keys):
    book = {"worker-0": ("127.0.0.1", 0), "worker-1": ("127.0.0.1", 0)}
    creds = tls.load_credentials(keys, "worker-0")
    with pytest.raises(ParameterError, match="credentials are required"):
        TcpTransport("worker-0", book)
    with pytest.raises(ParameterError, match="not both"):
        TcpTransport("worker-0", book, credentials=creds, insecure=True)
    with pytest.raises(ParameterError, match="not in the address list"):
        TcpTransport("master", book, credentials=creds)
    with pytest.raises(ParameterError, match="credentials are for 'worker-0'"):
        TcpTransport("worker-1", book, credentials=creds)
    with pytest.raises(ParameterError, match="port of"):
        TcpTransport("worker-0", {**book, "worker-1": ("127.0.0.1", 70000)}, credentials=creds)
    with pytest.raises(ParameterError, match="max_frame"):
        TcpTransport("worker-0", book, credentials=creds, max_frame=0)
    with pytest.raises(ParameterError, match="connect_timeout"):
        TcpTransport("worker-0", book, credentials=creds, connect_timeout=0)
    with TcpTransport("worker-0", book, credentials=creds) as t:
        with pytest.raises(ParameterError, match="itself"):
            t.send("worker-0", b"x")
        with pytest.raises(TransportError, match="unknown peer"):
            t.send("worker-7", b"x")


def dialer(keys, party, target):
    """A second, separate transport for ``party`` that knows only ``target``'s real address."""
    return TcpTransport(
        party,
        {party: ("127.0.0.1", 0), target.party: ("127.0.0.1", target.port)},
        credentials=tls.load_credentials(keys, party),
        connect_timeout=2.0,
    ).start()


def test_second_connection_with_the_same_identity_is_refused(keys):
    """One live inbound connection per party id: a second dial as worker-0 is refused, the first lives on."""
    ts = mesh(keys, ["worker-0", "worker-1"])
    twin = dialer(keys, "worker-0", ts["worker-1"])
    try:
        ts["worker-0"].send("worker-1", b"first")
        assert ts["worker-1"].recv(timeout=3) == ("worker-0", b"first")
        with pytest.raises(TransportError, match="already connected") as info:
            twin.connect(["worker-1"])
        assert info.value.peer == "worker-1"
        ts["worker-0"].send("worker-1", b"still here")
        assert ts["worker-1"].recv(timeout=3) == ("worker-0", b"still here")
    finally:
        twin.close()
        for t in ts.values():
            t.close()


def test_identity_may_reconnect_after_its_connection_ended(keys):
    ts = mesh(keys, ["worker-0", "worker-1"])
    try:
        ts["worker-0"].send("worker-1", b"one")
        assert ts["worker-1"].recv(timeout=3) == ("worker-0", b"one")
        ts["worker-0"].close()  # BYE: the first connection ends in an orderly way
        again = dialer(keys, "worker-0", ts["worker-1"])
        try:
            deadline = time.monotonic() + 3
            while "worker-0" in ts["worker-1"]._inbound_live and time.monotonic() < deadline:
                time.sleep(0.02)
            again.send("worker-1", b"two")
            assert ts["worker-1"].recv(timeout=3) == ("worker-0", b"two")
        finally:
            again.close()
    finally:
        for t in ts.values():
            t.close()


def test_inbox_is_bounded_per_peer(keys):
    """A peer that floods a receiver which does not read is cut off with a TransportError naming it."""
    ts = mesh(keys, ["worker-0", "worker-1", "master"], max_inbox=10_000)
    try:
        for _ in range(3):
            ts["worker-0"].send("master", bytes(4000))
        ts["worker-1"].send("master", bytes(4000))  # another peer has its own budget
        ts["worker-0"].flush()
        ts["worker-1"].flush()
        deadline = time.monotonic() + 5
        while ts["master"]._inbox.qsize() < 4 and time.monotonic() < deadline:
            time.sleep(0.02)  # master does not read: 2 + 1 frames and the error pile up
        assert ts["master"].pending_bytes("worker-0") == 8000
        frames, errors = [], []
        for _ in range(4):
            try:
                frames.append(ts["master"].recv(timeout=3))
            except TransportError as exc:
                errors.append(exc)
        assert sorted(s for s, _ in frames) == ["worker-0", "worker-0", "worker-1"]
        assert len(errors) == 1 and errors[0].peer == "worker-0"
        assert "max_inbox=10000" in str(errors[0]) and "worker-0" in str(errors[0])
        assert ts["master"].pending_bytes("worker-0") == 0
    finally:
        for t in ts.values():
            t.close()
    with pytest.raises(ParameterError, match="max_inbox"):
        TcpTransport(
            "worker-0", {"worker-0": ("127.0.0.1", 0)}, credentials=tls.load_credentials(keys, "worker-0"),
            max_inbox=0,
        )


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), 0, -1.0, True])
def test_timeouts_must_be_finite_positive(keys, bad):
    creds = tls.load_credentials(keys, "worker-0")
    with pytest.raises(ParameterError, match="connect_timeout must be a finite number"):
        TcpTransport("worker-0", {"worker-0": ("127.0.0.1", 0)}, credentials=creds, connect_timeout=bad)
