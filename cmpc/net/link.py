"""Link emulation: added latency and a bandwidth cap per pair of parties, around any Transport.

Model (per directed link src → dst, applied at the sender). A frame of b bytes handed to ``send`` at time
τ starts transmission when the link is free, ``start = max(τ, busy_until)``, occupies it for
``b · 8 / (bandwidth_mbps · 10⁶)`` seconds (0 without a cap), and is delivered ``latency_ms`` after its
last byte left: ``deliver = start + b·8/bw + latency``. Frames on one link stay in order; different links
are independent (a full-duplex switch with no shared bottleneck). The delivery itself is a normal
``inner.send`` made by one background thread per link at the computed time, so the wrapped transport
meters exactly the same bytes as without emulation.

``send`` returns at once (it does not wait for the emulated delivery); a delivery error is raised by the
next ``send`` to that peer or by :meth:`LinkEmulator.close`, which also waits until every queued frame has
been delivered. With zero latency and no cap on a link, ``send`` goes straight through.

Off by default: nothing in the package wraps a transport unless ``--latency-ms`` / ``--bandwidth-mbps`` or
the ``latency_ms`` / ``bandwidth_mbps`` keys of ``parties.toml`` ask for it. The emulation slows frames
down; it never reorders, drops or alters them, and it adds nothing to the wire.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..checks import check_float
from ..errors import ParameterError, TransportError
from .base import Transport

__all__ = ["LinkEmulator", "LinkSpec"]


@dataclass(frozen=True)
class LinkSpec:
    """Latency (milliseconds, ≥ 0) and bandwidth cap (megabits per second, ``None`` = unlimited)."""

    latency_ms: float = 0.0
    bandwidth_mbps: float | None = None

    def __post_init__(self) -> None:
        check_float("latency_ms", self.latency_ms, lo=0)
        if self.bandwidth_mbps is not None:
            check_float("bandwidth_mbps", self.bandwidth_mbps, lo=0, lo_open=True)

    @property
    def is_null(self) -> bool:
        return self.latency_ms == 0 and self.bandwidth_mbps is None

    def transmit_seconds(self, nbytes: int) -> float:
        """Time the link is busy sending ``nbytes`` (0 without a cap)."""
        return 0.0 if self.bandwidth_mbps is None else nbytes * 8 / (self.bandwidth_mbps * 1e6)


class _Link:
    """One directed link: a FIFO of (deliver_at, frame, phase) drained by a thread."""

    def __init__(self, owner: LinkEmulator, peer: str, spec: LinkSpec) -> None:
        self.owner = owner
        self.peer = peer
        self.spec = spec
        self.busy_until = 0.0
        self.error: BaseException | None = None
        self.queue: queue.Queue[tuple[float, bytes, str] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name=f"link-{owner.party}-{peer}", daemon=True)
        self.thread.start()

    def submit(self, frame: bytes, phase: str) -> None:
        now = self.owner._clock()
        start = max(now, self.busy_until)
        self.busy_until = start + self.spec.transmit_seconds(len(frame))
        self.queue.put((self.busy_until + self.spec.latency_ms / 1000.0, frame, phase))

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            deliver_at, frame, phase = item
            if self.error is not None:
                continue  # the link is broken: drop the rest, the error is reported to the sender
            wait = deliver_at - self.owner._clock()
            if wait > 0:
                self.owner._sleep(wait)
            try:
                self.owner.inner.send(self.peer, frame, phase=phase)
            except BaseException as exc:  # reported on the sender's next call
                self.error = exc

    def finish(self, timeout: float | None) -> None:
        self.queue.put(None)
        self.thread.join(timeout)


class LinkEmulator(Transport):
    """Wrap ``inner`` so frames to each peer see the latency and bandwidth of that link.

    ``default`` applies to every link not listed in ``links``; ``links`` maps a pair of party ids to a
    :class:`LinkSpec` — ``(src, dst)`` is looked up first, then ``(dst, src)``, so one entry covers both
    directions unless both are given.
    """

    def __init__(
        self,
        inner: Transport,
        *,
        default: LinkSpec | None = None,
        links: Mapping[tuple[str, str], LinkSpec] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.inner = inner
        self.party = inner.party
        self.meter = inner.meter
        self.default = default or LinkSpec()
        self.links = dict(links or {})
        for key, spec in self.links.items():
            if not (isinstance(key, tuple) and len(key) == 2) or not isinstance(spec, LinkSpec):
                raise ParameterError(f"links must map (party, party) to LinkSpec, got {key!r}: {spec!r}")
        self._clock = clock
        self._sleep = sleep
        self._lanes: dict[str, _Link] = {}
        self._lock = threading.Lock()
        self._closed = False

    def spec_for(self, peer: str) -> LinkSpec:
        """The link spec from us to ``peer``."""
        return self.links.get((self.party, peer)) or self.links.get((peer, self.party)) or self.default

    def send(self, peer: str, frame: bytes, *, phase: str = "") -> None:
        if self._closed:
            raise TransportError(f"{self.party}: transport is closed", peer=self.party)
        spec = self.spec_for(peer)
        if spec.is_null:
            self.inner.send(peer, frame, phase=phase)
            return
        with self._lock:
            lane = self._lanes.get(peer)
            if lane is None:
                lane = self._lanes[peer] = _Link(self, peer, spec)
            if lane.error is not None:
                raise lane.error
            lane.submit(bytes(frame), phase)

    def recv(self, *, timeout: float | None = None) -> tuple[str, bytes]:
        return self.inner.recv(timeout=timeout)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued frame is delivered; re-raise the first delivery error."""
        with self._lock:
            lanes, self._lanes = list(self._lanes.values()), {}
        for lane in lanes:
            lane.finish(timeout)
        for lane in lanes:
            if lane.error is not None:
                raise lane.error

    def close(self) -> None:
        """Deliver what is queued, then close the wrapped transport."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self.inner.close()
