"""TCP transport with mutual TLS: every party listens on its own port and dials the peers it sends to.

Wire format (``docs/network.md``). Each party opens one *outbound* connection per peer it sends to and
receives on the connections its peers opened to it, so every connection carries data in one direction
only. On a connection, every unit is a frame::

    length : 4 bytes, big-endian unsigned — number of payload bytes (≤ max_frame)
    kind   : 1 byte  — 0 DATA, 1 HELLO, 2 ACCEPT, 3 REFUSE, 4 BYE
    payload: length bytes

The dialer sends ``HELLO`` (payload ``b"CMPCNET1" + party id``); the listener answers ``ACCEPT`` or
``REFUSE`` (payload: the reason) and from then on only reads. ``DATA`` payloads are the protocol's
frames, opaque here (:mod:`cmpc.protocol.messages` encodes them with tag, version, session id and round).
``BYE`` announces an orderly close; a connection that ends without it means the peer crashed or was cut
off, and the next :meth:`TcpTransport.recv` raises :class:`~cmpc.errors.TransportError` naming that peer.

Authentication. With TLS (the default) both sides present certificates made by :mod:`cmpc.net.tls`; the
connection is accepted only when the peer's chain ends at the project CA, its certificate names exactly one
party id (CN and DNS SAN), that id is in the party list and is not our own, and it matches the id in
``HELLO``. The dialer additionally checks that the listener's certificate carries the id it meant to reach
(``server_hostname`` = peer id). TLS 1.3 only. ``insecure=True`` gives plain TCP where the ``HELLO`` id is
taken on trust; it warns (:class:`InsecureTransportWarning`) and is meant for debugging only.

Timeouts, never a hang. Dialing retries (connection refused while a peer is starting) until
``connect_timeout``; the TLS handshake and the HELLO/ACCEPT exchange share that budget. ``send`` hands the
frame to the event-loop thread and returns (it waits only when more than ``max_queued`` bytes are unwritten);
a peer that cannot be reached, or stops reading for ``send_timeout``, is recorded as failed and named by the
TransportError of every later ``send`` to it and of :meth:`TcpTransport.flush`; ``close`` delivers what was
handed over before it says BYE.
``recv`` waits at most its ``timeout`` (default ``recv_timeout``); a peer that sends an oversized or
malformed frame is reported by the next ``recv`` (``ProtocolError`` naming the peer); a peer that
disconnects without BYE is named by the ``TransportError`` of the next ``recv`` that times out (at
once with ``fail_fast=True``). The asyncio event loop runs in a daemon thread; the public API is synchronous.

Bounded memory. Frames received but not yet taken by ``recv`` wait in the inbox; each peer may hold at most
``max_inbox`` bytes there (default 1 GiB, so at most ``max_inbox`` × peers in all). The check runs on the
length header, *before* the payload is read: a peer that would exceed it is cut off and the next ``recv``
raises :class:`~cmpc.errors.TransportError` naming it, instead of the process running out of memory.

One connection per identity. While a peer's inbound connection is open, a second connection presenting
the same party id is *refused* (REFUSE "already connected"), not allowed to replace the first. Reasons:
frames of one peer must arrive in order, which two concurrent connections would not guarantee; replacing the
first would silently drop the frames still in flight on it; and the protocol has no resumption, so a
legitimate peer never dials twice. A second dial with the same identity is therefore a fault or an attack (a
copied key) and is logged and dropped; the first connection is unaffected. Once the first connection has
ended, a new one from that id is accepted again.

What leaks to a network observer (with TLS): who talks to whom, when, and how many bytes — the sizes
follow from the public parameters (m, s, t, N), not from the inputs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import queue
import socket
import ssl
import struct
import threading
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..checks import check_int, check_timeout
from ..errors import ParameterError, ProtocolError, TransportError
from .base import Meter, Transport
from .tls import PartyCredentials, check_party_id, identity_from_peercert

__all__ = [
    "DEFAULT_MAX_FRAME",
    "DEFAULT_MAX_INBOX",
    "HEADER",
    "InsecureTransportWarning",
    "Kind",
    "TcpTransport",
    "free_loopback_ports",
]

log = logging.getLogger(__name__)

#: frame header: payload length (uint32, big-endian) and kind (uint8)
HEADER = struct.Struct("!IB")
#: default largest DATA payload accepted (256 MiB); larger frames raise ProtocolError
DEFAULT_MAX_FRAME = 256 * 2**20
#: largest control payload (HELLO / ACCEPT / REFUSE / BYE)
MAX_CONTROL = 1024
#: default bound on the bytes one peer may have waiting in our inbox (not yet taken by ``recv``)
DEFAULT_MAX_INBOX = 2**30
#: bytes that ``send`` may hand over before it waits for the writes to finish (back-pressure)
DEFAULT_MAX_QUEUED = 64 * 2**20
MAGIC = b"CMPCNET1"


class Kind:
    """Frame kinds (the byte after the length)."""

    DATA = 0
    HELLO = 1
    ACCEPT = 2
    REFUSE = 3
    BYE = 4


class InsecureTransportWarning(UserWarning):
    """Plain TCP without TLS was requested: frames travel unauthenticated and unencrypted."""


class _InboxFull(Exception):
    """A peer's frame would push its waiting bytes above ``max_inbox``."""


class _Refused(Exception):
    """The peer answered our HELLO with REFUSE or dropped the connection during it."""


@dataclass
class _Outbound:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    watcher: asyncio.Task | None = None
    error: TransportError | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def free_loopback_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 right now (the OS may reuse them later)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _check_positive(name: str, value: float) -> float:
    return check_timeout(name, value)


class TcpTransport(Transport):
    """One party's endpoint: a listener on its own address and outbound connections to its peers.

    Parameters
    ----------
    party:
        Our party id; must be a key of ``addresses``.
    addresses:
        ``{party id: (host, port)}`` for every party of the session (ours included; port 0 binds any free
        port, see :attr:`port`).
    credentials:
        Our certificate, key and the CA (``cmpc.net.tls.load_credentials``). Required unless ``insecure``.
    insecure:
        Plain TCP, no authentication or encryption (warns). Debugging only.
    connect_timeout:
        Seconds to keep retrying a dial while the peer is not listening yet, and for the TLS/HELLO handshake.
    send_timeout:
        Seconds a single ``send`` may wait for a peer that does not read.
    recv_timeout:
        Default for ``recv(timeout=None)``; ``None`` waits indefinitely (peer failures still raise).
    max_frame:
        Largest DATA payload in bytes (≤ 2^32 − 1); bigger frames in either direction raise ProtocolError.
    fail_fast:
        ``False`` (default): a peer that disconnects without BYE is remembered and named by the
        TransportError of the next ``recv`` that times out — frames from the other peers keep flowing, so
        a protocol with spare workers can carry on. ``True``: the next ``recv`` raises at once.
    max_inbox:
        Bytes one peer may have waiting in our inbox; a frame that would exceed it cuts that peer off and the
        next ``recv`` raises TransportError naming it (see the module docstring).
    """

    def __init__(
        self,
        party: str,
        addresses: Mapping[str, tuple[str, int]],
        *,
        credentials: PartyCredentials | None = None,
        insecure: bool = False,
        connect_timeout: float = 10.0,
        send_timeout: float = 30.0,
        recv_timeout: float | None = None,
        max_frame: int = DEFAULT_MAX_FRAME,
        meter: Meter | None = None,
        fail_fast: bool = False,
        max_queued: int = DEFAULT_MAX_QUEUED,
        max_inbox: int = DEFAULT_MAX_INBOX,
    ) -> None:
        check_party_id(party)
        if party not in addresses:
            raise ParameterError(f"party {party!r} is not in the address list {sorted(addresses)}")
        for pid, addr in addresses.items():
            check_party_id(pid)
            if not (isinstance(addr, tuple) and len(addr) == 2):
                raise ParameterError(f"address of {pid!r} must be (host, port), got {addr!r}")
            check_int(f"port of {pid!r}", addr[1], 0, 65535)  # refuses True and non-integers
        max_frame = check_int("max_frame", max_frame, lo=1, hi=2**32 - 1)
        self.connect_timeout = _check_positive("connect_timeout", connect_timeout)
        self.send_timeout = _check_positive("send_timeout", send_timeout)
        self.recv_timeout = None if recv_timeout is None else _check_positive("recv_timeout", recv_timeout)
        if credentials is None and not insecure:
            raise ParameterError("credentials are required for TLS; pass insecure=True for plain TCP")
        if credentials is not None and insecure:
            raise ParameterError("pass either credentials (TLS) or insecure=True, not both")
        if credentials is not None and credentials.party != party:
            raise ParameterError(f"credentials are for {credentials.party!r}, not {party!r}")
        if insecure:
            warnings.warn(
                f"{party}: plain TCP without TLS — frames (secret shares) travel unencrypted and peers are "
                "not authenticated; use only for debugging on a trusted host",
                InsecureTransportWarning,
                stacklevel=2,
            )
        self.party = party
        self.meter = meter if meter is not None else Meter()
        self.max_frame = max_frame
        self.insecure = insecure
        self.fail_fast = fail_fast
        self.max_queued = check_int("max_queued", max_queued, lo=0)
        self.max_inbox = check_int("max_inbox (bytes)", max_inbox, lo=1)
        self._pending: dict[str, int] = {}
        self._plock = threading.Lock()
        self._inbound_live: set[str] = set()
        self._errors: dict[str, TransportError] = {}
        self._reported: set[str] = set()
        self._inflight: set[concurrent.futures.Future] = set()
        self._queued = 0
        self._qlock = threading.Lock()
        self._addresses = dict(addresses)
        self._credentials = credentials
        self._server_ctx = None if credentials is None else credentials.server_context()
        self._client_ctx = None if credentials is None else credentials.client_context()
        self._inbox: queue.Queue[tuple[str, bytes | BaseException]] = queue.Queue()
        self._outbound: dict[str, _Outbound] = {}
        self._dial_locks: dict[str, asyncio.Lock] = {}
        self._readers: set[asyncio.Task] = set()
        self._lost: dict[str, str] = {}
        self._said_bye: set[str] = set()
        self._heard: set[str] = set()
        self._server: asyncio.AbstractServer | None = None
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(self._loop_exception)
        self._thread = threading.Thread(target=self._run_loop, name=f"tcp-{party}", daemon=True)
        self._closed = False
        self._started = False
        self._port = addresses[party][1]

    # ------------------------------------------------------------------ lifecycle

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    @staticmethod
    def _loop_exception(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        # failed handshakes of refused peers land here; they are expected, not crashes
        log.debug("tcp transport: %s", context.get("message"), exc_info=context.get("exception"))

    def _call(self, coro, timeout: float | None):  # type: ignore[no-untyped-def]
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return fut.result(timeout)
        except TimeoutError:
            fut.cancel()
            raise

    def start(self) -> TcpTransport:
        """Start the event loop and listen on our address; returns ``self``."""
        if self._started:
            return self
        self._started = True
        self._thread.start()
        host, port = self._addresses[self.party]
        try:
            self._port = self._call(self._listen(host, port), timeout=self.connect_timeout + 5)
        except OSError as exc:
            self.close()
            raise TransportError(
                f"{self.party}: cannot listen on {host}:{port}: {exc}", peer=self.party
            ) from exc
        self._addresses[self.party] = (host, self._port)
        return self

    def __enter__(self) -> TcpTransport:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        """The port we listen on (the real one after :meth:`start`, also when 0 was asked)."""
        return self._port

    @property
    def peers(self) -> list[str]:
        return [p for p in self._addresses if p != self.party]

    def set_address(self, peer: str, host: str, port: int) -> None:
        """Change a peer's address before the first dial to it (tests binding port 0 use this)."""
        if peer not in self._addresses:
            raise ParameterError(f"unknown peer {peer!r}")
        self._addresses[peer] = (host, int(port))

    def connect(
        self, peers: Iterable[str] | None = None, *, strict: bool = True
    ) -> dict[str, TransportError]:
        """Dial ``peers`` (default: all) now, concurrently, instead of on the first ``send``.

        ``strict``: raise the TransportError of the first peer that could not be reached or refused us;
        otherwise return ``{peer: error}`` for every such peer (empty when all connected).
        """
        self._require_open()
        targets = [p for p in (self.peers if peers is None else peers) if p != self.party]
        for p in targets:
            self._check_peer(p)

        async def dial_all() -> list[_Outbound | BaseException]:
            return list(await asyncio.gather(*(self._get_conn(p) for p in targets), return_exceptions=True))

        results = self._call(dial_all(), timeout=self.connect_timeout * 2 + 5)
        failures: dict[str, TransportError] = {}
        for peer, res in zip(targets, results):
            if isinstance(res, BaseException):
                err = res if isinstance(res, TransportError) else TransportError(
                    f"{self.party}: cannot connect to {peer}: {res!r}", peer=peer
                )
                self._errors.setdefault(peer, err)
                self._reported.add(peer)
                failures[peer] = err
        if strict and failures:
            raise next(iter(failures.values()))
        return failures

    def close(self) -> None:
        """Say BYE on every outbound connection, flush, stop listening and stop the loop. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._started and self._loop.is_running():
            with self._qlock:
                pending = list(self._inflight)
            concurrent.futures.wait(pending, timeout=self._budget())  # deliver what was handed over
            with contextlib.suppress(Exception):
                self._call(self._shutdown(), timeout=self.send_timeout + 5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        if not self._loop.is_running():
            with contextlib.suppress(Exception):
                self._loop.close()

    def _require_open(self) -> None:
        if self._closed:
            raise TransportError(f"{self.party}: transport is closed", peer=self.party)
        if not self._started:
            self.start()

    def _check_peer(self, peer: str) -> None:
        if peer == self.party:
            raise ParameterError(f"{self.party}: cannot send to itself")
        if peer not in self._addresses:
            raise TransportError(f"{self.party}: unknown peer {peer!r}", peer=peer)

    # ------------------------------------------------------------------ public send / recv

    def send(self, peer: str, frame: bytes, *, phase: str = "") -> None:
        """Hand ``frame`` to the writer for ``peer`` (dialing it first if needed) and return.

        Frames to one peer are written in order. The write happens in the event-loop thread; ``send`` waits
        for it only when more than ``max_queued`` bytes are still unwritten (back-pressure). A failure to
        reach or write to ``peer`` (refused, unreachable after ``connect_timeout``, stalled past
        ``send_timeout``, closed) is raised as TransportError naming it by every later ``send`` to that
        peer and by :meth:`flush`. A frame is metered under ``phase`` once it has been written.
        """
        self._require_open()
        self._check_peer(peer)
        if len(frame) > self.max_frame:
            raise ProtocolError(
                f"{self.party}: frame of {len(frame)} bytes to {peer} exceeds max_frame={self.max_frame}"
            )
        self._raise_for(peer)
        data = bytes(frame)
        fut = asyncio.run_coroutine_threadsafe(self._send(peer, data, phase), self._loop)
        with self._qlock:
            self._inflight.add(fut)
            self._queued += len(data)
            over = self._queued > self.max_queued
        fut.add_done_callback(functools.partial(self._sent, len(data)))
        if over:
            concurrent.futures.wait([fut], timeout=self._budget())
            self._raise_for(peer)

    def _budget(self) -> float:
        return self.connect_timeout * 2 + self.send_timeout + 5

    def _sent(self, nbytes: int, fut: concurrent.futures.Future) -> None:
        with self._qlock:
            self._inflight.discard(fut)
            self._queued -= nbytes

    def _raise_for(self, peer: str) -> None:
        err = self._errors.get(peer)
        if err is not None:
            self._reported.add(peer)
            raise err

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every frame handed to ``send`` is written or has failed.

        Raises the TransportError of a failed peer not reported by ``send`` yet, or one naming no peer when
        the writes did not finish within ``timeout`` (default: 2·connect_timeout + send_timeout + 5 s).
        """
        with self._qlock:
            pending = list(self._inflight)
        wait = self._budget() if timeout is None else timeout
        _, not_done = concurrent.futures.wait(pending, timeout=wait)
        for peer in self._errors:
            if peer not in self._reported:
                self._raise_for(peer)
        if not_done:
            raise TransportError(f"{self.party}: {len(not_done)} frames not written within {wait:.3g} s")

    def recv(self, *, timeout: float | None = None) -> tuple[str, bytes]:
        """The next ``(sender, frame)`` from any peer, in arrival order.

        Raises TransportError after ``timeout`` (default ``recv_timeout``) seconds without a frame, or when a
        peer disconnected without BYE; ProtocolError when a peer sent an oversized or malformed frame.
        """
        if self._closed:
            raise TransportError(f"{self.party}: transport is closed", peer=self.party)
        if not self._started:
            self.start()
        wait = self.recv_timeout if timeout is None else timeout
        try:
            sender, item = self._inbox.get(timeout=wait)
        except queue.Empty:
            lost = sorted(self._lost)
            if lost:
                raise TransportError(
                    f"{self.party}: nothing received within {wait:.3g} s; peers that disconnected without "
                    f"goodbye: {', '.join(lost)}",
                    peer=lost[0],
                ) from None
            raise TransportError(f"{self.party}: nothing received within {wait:.3g} s", peer=None) from None
        if isinstance(item, BaseException):
            raise item
        with self._plock:
            self._pending[sender] = self._pending.get(sender, 0) - len(item)
        return sender, item

    def pending_bytes(self, peer: str) -> int:
        """Bytes from ``peer`` received and waiting in the inbox (bounded by ``max_inbox``)."""
        with self._plock:
            return self._pending.get(peer, 0)

    def disconnected(self) -> set[str]:
        """Peers whose inbound connection ended without BYE so far (crashed or cut off)."""
        return set(self._lost)

    def heard_from(self) -> set[str]:
        """Peers that have sent us at least one DATA frame."""
        return set(self._heard)

    def finished_peers(self) -> set[str]:
        """Peers that closed their connection to us in an orderly way (sent BYE)."""
        return set(self._said_bye)

    # ------------------------------------------------------------------ internals (event loop)

    async def _listen(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(
            self._handle_inbound,
            host,
            port,
            ssl=self._server_ctx,
            ssl_handshake_timeout=self.connect_timeout if self._server_ctx else None,
            reuse_address=True,
            limit=2**20,
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def _read_frame(
        self, reader: asyncio.StreamReader, peer: str, limit: int, *, inbox: bool = False
    ) -> tuple[int, bytes]:
        header = await reader.readexactly(HEADER.size)
        length, kind = HEADER.unpack(header)
        if length > limit:
            raise ProtocolError(
                f"{self.party}: {peer} sent a frame of {length} bytes, above the limit {limit}"
            )
        if inbox and kind == Kind.DATA:
            with self._plock:  # reserve before reading: the payload is never allocated beyond the bound
                waiting = self._pending.get(peer, 0)
                if waiting + length > self.max_inbox:
                    raise _InboxFull(
                        f"{self.party}: inbox from {peer} would hold {waiting + length} bytes, above "
                        f"max_inbox={self.max_inbox}; {peer} was cut off (raise max_inbox if legitimate)"
                    )
                self._pending[peer] = waiting + length
        payload = await reader.readexactly(length) if length else b""
        return kind, payload

    @staticmethod
    def _write_frame(writer: asyncio.StreamWriter, kind: int, payload: bytes) -> None:
        writer.write(HEADER.pack(len(payload), kind))
        if payload:
            writer.write(payload)

    async def _handle_inbound(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._readers.add(task)
        peer = "?"
        try:
            peer = await asyncio.wait_for(self._admit(reader, writer), self.connect_timeout)
        except (Exception, asyncio.CancelledError) as exc:  # refused or broken handshake: drop it
            log.debug("%s: refused inbound connection: %s", self.party, exc)
            writer.close()
            if task is not None:
                self._readers.discard(task)
            return
        clean = False
        try:
            while True:
                kind, payload = await self._read_frame(reader, peer, self.max_frame, inbox=True)
                if kind == Kind.DATA:
                    self._heard.add(peer)
                    self._inbox.put((peer, payload))
                elif kind == Kind.BYE:
                    clean = True
                    self._said_bye.add(peer)
                    break
                else:
                    raise ProtocolError(f"{self.party}: {peer} sent an unexpected frame kind {kind}")
        except ProtocolError as exc:
            self._inbox.put((peer, exc))
            clean = True  # already reported
        except _InboxFull as exc:
            log.warning("%s", exc)
            self._inbox.put((peer, TransportError(str(exc), peer=peer)))
            clean = True  # already reported
        except asyncio.CancelledError:
            clean = True  # we are closing
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            self._inbound_live.discard(peer)
            writer.close()
            if task is not None:
                self._readers.discard(task)
            if not clean and not self._closed:
                message = f"{self.party}: peer {peer} disconnected without goodbye"
                self._lost[peer] = message
                if self.fail_fast:
                    self._inbox.put((peer, TransportError(message, peer=peer)))

    async def _admit(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        """Check the dialer's identity; answer ACCEPT or REFUSE; return its party id."""
        cert_id: str | None = None
        if self._server_ctx is not None:
            try:
                cert_id = identity_from_peercert(writer.get_extra_info("peercert"))
            except ParameterError as exc:
                await self._refuse(writer, str(exc))
                raise
        kind, payload = await self._read_frame(reader, "(dialer)", MAX_CONTROL)
        if kind != Kind.HELLO or not payload.startswith(MAGIC):
            await self._refuse(writer, "expected HELLO")
            raise ProtocolError("expected HELLO")
        try:
            claimed = check_party_id(payload[len(MAGIC):].decode("ascii"))
        except (UnicodeDecodeError, ParameterError) as exc:
            await self._refuse(writer, "bad party id in HELLO")
            raise ProtocolError("bad party id in HELLO") from exc
        if cert_id is not None and claimed != cert_id:
            await self._refuse(writer, f"HELLO names {claimed!r} but the certificate is for {cert_id!r}")
            raise ProtocolError("HELLO/certificate mismatch")
        if claimed not in self._addresses or claimed == self.party:
            await self._refuse(writer, f"{claimed!r} is not a peer of {self.party!r} in this session")
            raise ProtocolError(f"unknown party {claimed!r}")
        if claimed in self._inbound_live:  # one live connection per identity (module docstring)
            log.warning("%s: refused a second connection from %s (first still open)", self.party, claimed)
            await self._refuse(writer, f"{claimed!r} is already connected to {self.party!r}")
            raise ProtocolError(f"duplicate connection from {claimed!r}")
        self._inbound_live.add(claimed)
        try:
            self._write_frame(writer, Kind.ACCEPT, MAGIC + self.party.encode("ascii"))
            await writer.drain()
        except BaseException:
            self._inbound_live.discard(claimed)
            raise
        return claimed

    async def _refuse(self, writer: asyncio.StreamWriter, reason: str) -> None:
        with contextlib.suppress(Exception):
            self._write_frame(writer, Kind.REFUSE, reason.encode("utf-8")[:MAX_CONTROL])
            await asyncio.wait_for(writer.drain(), 1.0)

    async def _get_conn(self, peer: str) -> _Outbound:
        conn = self._outbound.get(peer)
        if conn is not None:
            return conn
        lock = self._dial_locks.setdefault(peer, asyncio.Lock())
        async with lock:
            conn = self._outbound.get(peer)
            if conn is None:
                conn = await self._dial(peer)
                self._outbound[peer] = conn
            return conn

    async def _dial(self, peer: str) -> _Outbound:
        host, port = self._addresses[peer]
        deadline = time.monotonic() + self.connect_timeout
        delay = 0.02
        loop = asyncio.get_running_loop()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransportError(
                    f"{self.party}: could not connect to {peer} at {host}:{port} within "
                    f"{self.connect_timeout:.3g} s",
                    peer=peer,
                )
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await asyncio.wait_for(loop.sock_connect(sock, (host, port)), remaining)
                break
            except (OSError, TimeoutError):
                sock.close()
                await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 0.5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    sock=sock,
                    ssl=self._client_ctx,
                    server_hostname=peer if self._client_ctx else None,
                    ssl_handshake_timeout=self.connect_timeout if self._client_ctx else None,
                    limit=2**16,
                ),
                max(0.1, deadline - time.monotonic()) + 1.0,
            )
        except (ssl.SSLError, ssl.CertificateError) as exc:
            sock.close()
            raise TransportError(f"{self.party}: TLS handshake with {peer} failed: {exc}", peer=peer) from exc
        except (OSError, TimeoutError) as exc:
            sock.close()
            raise TransportError(
                f"{self.party}: TLS handshake with {peer} failed: {exc!r}", peer=peer
            ) from exc
        try:
            self._write_frame(writer, Kind.HELLO, MAGIC + self.party.encode("ascii"))
            await writer.drain()
            kind, payload = await asyncio.wait_for(
                self._read_frame(reader, peer, MAX_CONTROL), max(0.1, deadline - time.monotonic()) + 1.0
            )
            if kind == Kind.REFUSE:
                raise _Refused(payload.decode("utf-8", "replace"))
            if kind != Kind.ACCEPT or payload != MAGIC + peer.encode("ascii"):
                raise _Refused("unexpected answer to HELLO")
        except (_Refused, ProtocolError, asyncio.IncompleteReadError, ConnectionError, ssl.SSLError,
                OSError, TimeoutError) as exc:
            writer.close()
            reason = str(exc) or type(exc).__name__
            raise TransportError(f"{self.party}: {peer} refused the connection: {reason}", peer=peer) from exc
        conn = _Outbound(reader, writer)
        conn.watcher = asyncio.create_task(self._watch(peer, conn))
        return conn

    async def _watch(self, peer: str, conn: _Outbound) -> None:
        """The listener never writes after ACCEPT: any EOF or data means the connection is over."""
        try:
            await conn.reader.read(1)
        except asyncio.CancelledError:
            return
        except Exception:  # any error ends the connection just the same
            pass
        if conn.error is None:
            conn.error = TransportError(f"{self.party}: {peer} closed the connection", peer=peer)

    async def _send(self, peer: str, frame: bytes, phase: str) -> None:
        """Write one DATA frame; failures are recorded per peer (raised by the next send / flush)."""
        if peer in self._errors:
            return  # the peer is already known to be unreachable: do not dial again
        try:
            conn = await self._get_conn(peer)
            async with conn.lock:
                if conn.error is not None:
                    raise conn.error
                try:
                    self._write_frame(conn.writer, Kind.DATA, frame)
                    await asyncio.wait_for(conn.writer.drain(), self.send_timeout)
                except TimeoutError:
                    conn.error = TransportError(
                        f"{self.party}: {peer} stalled: frame not accepted within {self.send_timeout:.3g} s",
                        peer=peer,
                    )
                    conn.writer.transport.abort()
                    raise conn.error from None
                except (ConnectionError, ssl.SSLError, OSError) as exc:
                    lost = f"{self.party}: connection to {peer} lost: {exc!r}"
                    conn.error = TransportError(lost, peer=peer)
                    raise conn.error from exc
            self.meter.record(phase, self.party, peer, len(frame))
        except TransportError as exc:
            self._errors.setdefault(peer, exc)
        except asyncio.CancelledError:
            cancelled = TransportError(f"{self.party}: send to {peer} cancelled", peer=peer)
            self._errors.setdefault(peer, cancelled)
            raise
        except Exception as exc:  # a bug or an unforeseen socket error: still a named, recorded failure
            failed = TransportError(f"{self.party}: send to {peer} failed: {exc!r}", peer=peer)
            self._errors.setdefault(peer, failed)

    async def _shutdown(self) -> None:
        async def bye(peer: str, conn: _Outbound) -> None:
            with contextlib.suppress(Exception):
                async with conn.lock:
                    if conn.error is None:
                        self._write_frame(conn.writer, Kind.BYE, b"")
                        await asyncio.wait_for(conn.writer.drain(), self.send_timeout)
                conn.writer.close()
                await asyncio.wait_for(conn.writer.wait_closed(), 2.0)
            if conn.watcher is not None:
                conn.watcher.cancel()

        await asyncio.gather(*(bye(p, c) for p, c in self._outbound.items()), return_exceptions=True)
        if self._server is not None:
            self._server.close()
        for task in list(self._readers):
            task.cancel()
        if self._readers:
            await asyncio.wait(list(self._readers), timeout=2.0)
