"""The transport interface and traffic metering.

A transport moves opaque byte strings ("frames") between named parties. It knows nothing of the
protocol: message encodings live with the roles (e.g. :mod:`cmpc.protocol.messages`). Every frame sent
is counted by a :class:`Meter` under a phase label chosen by the sender, so that a run can report
bytes and messages per phase and per pair of parties.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class Traffic:
    """Bytes and messages on one (phase, sender, receiver) key."""

    bytes: int
    messages: int


class Meter:
    """Thread-safe counters of bytes and messages per (phase, sender, receiver)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bytes: dict[tuple[str, str, str], int] = defaultdict(int)
        self._msgs: dict[tuple[str, str, str], int] = defaultdict(int)

    def record(self, phase: str, src: str, dst: str, nbytes: int) -> None:
        with self._lock:
            self._bytes[(phase, src, dst)] += nbytes
            self._msgs[(phase, src, dst)] += 1

    def merge(self, other: Meter) -> None:
        """Add another meter's counts into this one (e.g. gathered from party processes)."""
        for key, t in other.by_pair().items():
            with self._lock:
                self._bytes[key] += t.bytes
                self._msgs[key] += t.messages

    def by_pair(self) -> dict[tuple[str, str, str], Traffic]:
        """``{(phase, src, dst): Traffic}``."""
        with self._lock:
            return {k: Traffic(self._bytes[k], self._msgs[k]) for k in self._bytes}

    def bytes_by_phase(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for (phase, _, _), t in self.by_pair().items():
            out[phase] += t.bytes
        return dict(out)

    def messages_by_phase(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for (phase, _, _), t in self.by_pair().items():
            out[phase] += t.messages
        return dict(out)

    def total_bytes(self) -> int:
        return sum(t.bytes for t in self.by_pair().values())

    def involving(self, party: str) -> dict[tuple[str, str, str], Traffic]:
        """Counts on every key where ``party`` is sender or receiver."""
        return {k: t for k, t in self.by_pair().items() if party in (k[1], k[2])}

    def to_dict(self) -> dict[str, dict[str, int]]:
        """JSON-friendly ``{"phase|src|dst": {"bytes": .., "messages": ..}}``."""
        return {
            f"{p}|{s}|{d}": {"bytes": t.bytes, "messages": t.messages}
            for (p, s, d), t in sorted(self.by_pair().items())
        }


class Transport(ABC):
    """Send and receive frames as one named party.

    ``recv`` returns the next frame from any peer, in arrival order; it raises
    :class:`~cmpc.errors.TransportError` (naming the peer where known) when the timeout passes or a
    peer disconnects. Implementations meter every frame they send.
    """

    party: str
    meter: Meter

    @abstractmethod
    def send(self, peer: str, frame: bytes, *, phase: str = "") -> None:
        """Queue ``frame`` for ``peer``; counted under ``phase``."""

    @abstractmethod
    def recv(self, *, timeout: float | None = None) -> tuple[str, bytes]:
        """The next ``(sender, frame)``; ``TransportError`` after ``timeout`` seconds."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (sockets, tasks)."""
