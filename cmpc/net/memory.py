"""In-process transport: one queue per party, metered like the real one.

Used by :func:`cmpc.simulate` and by tests. Frames are copied as ``bytes`` so no party can reach into
another's memory. A party can be *killed* (its inbound frames are dropped and it can no longer send)
or *delayed* to emulate stragglers.

Bounded memory, as :class:`~cmpc.net.tcp.TcpTransport`: each sender may have at most ``max_inbox`` bytes
waiting in one receiver's queue (default 1 GiB). A frame that would exceed it is not queued; the pair is cut
(later sends from that sender to that receiver raise :class:`~cmpc.errors.TransportError`) and the
receiver's next ``recv`` raises TransportError naming the sender.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable

from ..checks import check_int
from ..errors import TransportError
from .base import Meter, Transport

#: default bound on the bytes one sender may have waiting in one receiver's queue
DEFAULT_MAX_INBOX = 2**30

_Item = tuple[str, "bytes | TransportError"]


class MemoryNetwork:
    """A set of named parties connected by in-memory queues."""

    def __init__(
        self, parties: Iterable[str], meter: Meter | None = None, *, max_inbox: int = DEFAULT_MAX_INBOX
    ) -> None:
        self.meter = meter or Meter()
        self.max_inbox = check_int("max_inbox (bytes)", max_inbox, lo=1)
        self._queues: dict[str, queue.Queue[_Item]] = {p: queue.Queue() for p in parties}
        self._pending: dict[tuple[str, str], int] = {}
        self._cut: dict[tuple[str, str], str] = {}
        self._dead: set[str] = set()
        self._delay: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def parties(self) -> list[str]:
        return list(self._queues)

    def transport(self, party: str) -> MemoryTransport:
        if party not in self._queues:
            raise TransportError(f"unknown party {party!r}", peer=party)
        return MemoryTransport(self, party)

    def kill(self, party: str) -> None:
        """From now on ``party`` neither sends nor receives (a crashed process)."""
        with self._lock:
            self._dead.add(party)

    def delay(self, party: str, seconds: float) -> None:
        """Frames sent by ``party`` arrive ``seconds`` late (a straggler)."""
        self._delay[party] = seconds

    def is_dead(self, party: str) -> bool:
        return party in self._dead

    def _deliver(self, src: str, dst: str, frame: bytes, phase: str) -> None:
        if dst not in self._queues:
            raise TransportError(f"unknown peer {dst!r}", peer=dst)
        if src in self._dead:
            raise TransportError(f"party {src!r} is down", peer=src)
        cut = self._cut.get((src, dst))
        if cut is not None:
            raise TransportError(cut, peer=dst)
        if dst in self._dead:
            self.meter.record(phase, src, dst, len(frame))
            return
        with self._lock:
            waiting = self._pending.get((src, dst), 0)
            if waiting + len(frame) > self.max_inbox:
                message = (
                    f"{dst}: inbox from {src} would hold {waiting + len(frame)} bytes, above "
                    f"max_inbox={self.max_inbox}; {src} was cut off (raise max_inbox if legitimate)"
                )
                self._cut[(src, dst)] = message
                self._queues[dst].put((src, TransportError(message, peer=src)))
                raise TransportError(message, peer=dst)
            self._pending[(src, dst)] = waiting + len(frame)
        self.meter.record(phase, src, dst, len(frame))
        if dst in self._dead:
            return
        lag = self._delay.get(src, 0.0)
        if lag > 0:
            timer = threading.Timer(lag, self._queues[dst].put, args=((src, bytes(frame)),))
            timer.daemon = True
            timer.start()
        else:
            self._queues[dst].put((src, bytes(frame)))

    def _receive(self, party: str, timeout: float | None) -> tuple[str, bytes]:
        deadline = None if timeout is None else time.monotonic() + timeout
        q = self._queues[party]
        while True:
            if party in self._dead:
                raise TransportError(f"party {party!r} is down", peer=party)
            wait = 0.05 if deadline is None else max(0.0, min(0.05, deadline - time.monotonic()))
            try:
                src, item = q.get(timeout=wait)
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise TransportError(
                        f"{party}: nothing received within {timeout:.3g} s", peer=None
                    ) from None
                continue
            if isinstance(item, TransportError):
                raise item
            with self._lock:
                self._pending[(src, party)] -= len(item)
            return src, item

    def pending(self, party: str) -> int:
        return self._queues[party].qsize()


class MemoryTransport(Transport):
    """One party's end of a :class:`MemoryNetwork`."""

    def __init__(self, network: MemoryNetwork, party: str) -> None:
        self.network = network
        self.party = party
        self.meter = network.meter

    def send(self, peer: str, frame: bytes, *, phase: str = "") -> None:
        self.network._deliver(self.party, peer, frame, phase)

    def recv(self, *, timeout: float | None = None) -> tuple[str, bytes]:
        return self.network._receive(self.party, timeout)
