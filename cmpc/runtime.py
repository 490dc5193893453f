"""The driver family: one way to run sans-I/O roles over transports, shared by ``cmpc`` and ``private_mdi``.

A *role* is an I/O-free state machine (:class:`RoleLike`)::

    start() -> [(peer, message), ...]           # what it sends first
    handle(sender, message) -> [(peer, message), ...]
    done: bool                                   # finished (the driver stops)
    expecting: bool (optional)                   # waiting for a message; default ``not done``
    on_timeout() -> [...] (optional)             # called after `timeout` s of silence while expecting

A *codec* (:class:`Codec`) turns messages into frames and back, and names the meter phase of each
message; the runtime never looks inside a message. Three drivers run the same role code:

* :func:`run_role` — one role over one :class:`~cmpc.net.base.Transport` (a party process, or one
  thread). Its ``timeout`` measures **silence**: the role fails (``on_timeout``, else
  :class:`~cmpc.errors.TransportError`) only when no frame from any peer arrived for ``timeout`` seconds
  *while the role is expecting one*. A long computation by a peer that keeps sending is never a timeout;
  an idle server (``expecting`` false) waits as long as it takes.
* :func:`run_sequential` — every role in one thread over a :class:`~cmpc.net.memory.MemoryNetwork`,
  delivering frames one at a time in global send order (FIFO). With seeded roles the run is deterministic:
  the transcript (every frame, in order) is byte-identical between runs (:class:`Transcript`).
* :func:`run_threads` — each role's :func:`run_role` in its own thread; the first error (in time) is
  raised as the root cause, and the whole run is bounded by a deadline.

Faults are transport wrappers (:class:`CrashAt`, :class:`Deferred`): the roles never know. In a sequential
run a wrapper that is no longer ``alive`` receives nothing, and :meth:`Deferred.release` hands out the held
frames when nothing else is in flight.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from .checks import check_timeout
from .errors import CMPCError, TransportError
from .net.base import Transport
from .net.memory import MemoryNetwork

__all__ = [
    "Codec",
    "CrashAt",
    "DeadlockError",
    "Deferred",
    "RoleLike",
    "RoleThread",
    "Sequential",
    "Transcript",
    "expecting",
    "first_error",
    "run_role",
    "run_sequential",
    "run_threads",
    "send_all",
]

Outgoing = Sequence[tuple[str, Any]]
#: longest single blocking receive; silence is accumulated over slices so that a stop request is seen
_SLICE = 0.25


class RoleLike(Protocol):
    """What the drivers need from a role (see the module docstring)."""

    done: bool

    def start(self) -> Outgoing: ...

    def handle(self, sender: str, message: Any) -> Outgoing: ...


class Codec(Protocol):
    """Frames ↔ messages for one protocol."""

    def encode(self, message: Any) -> bytes: ...

    def decode(self, sender: str, frame: bytes) -> Any: ...

    def phase(self, message: Any) -> str: ...


class DeadlockError(CMPCError):
    """A sequential run has nothing in flight while a role still waits (a protocol or orchestration bug)."""


def expecting(role: Any) -> bool:
    """Whether ``role`` waits for a message: its ``expecting`` attribute, else ``not role.done``."""
    flag = getattr(role, "expecting", None)
    return (not role.done) if flag is None else bool(flag)


def send_all(transport: Transport, codec: Codec, outgoing: Iterable[tuple[str, Any]]) -> None:
    """Encode and send every ``(peer, message)`` in order, metered under the codec's phase.

    ``outgoing`` may be a generator: each message is sent as soon as it is produced (a role that computes
    a long series of messages streams them instead of sending them all at the end)."""
    for dst, message in outgoing:
        transport.send(dst, codec.encode(message), phase=codec.phase(message))


def _on_silence(role: Any, party: str, timeout: float) -> Outgoing:
    handler = getattr(role, "on_timeout", None)
    if handler is None:
        raise TransportError(f"{party}: nothing received for {timeout:.3g} s while waiting for a message")
    out: Outgoing = handler()
    return out


def run_role(
    role: Any,
    transport: Transport,
    codec: Codec,
    *,
    timeout: float,
    stop: threading.Event | None = None,
    start: bool = True,
    until: Callable[[], bool] | None = None,
    poll: Callable[[], None] | None = None,
) -> Any:
    """Run ``role`` over ``transport`` until ``role.done`` (or ``stop`` is set); returns ``role.result``.

    ``timeout`` bounds *silence* while the role is expecting a message (see the module docstring). A
    disconnect reported by the transport (a ``TransportError`` naming a peer) goes to the role's
    ``on_timeout`` when it has one, else it is raised at once.
    ``start=False`` skips ``role.start()`` (the caller already sent it). ``until`` replaces the ``done``
    test (an orchestrator runs one operation at a time); ``poll()`` is called at least every 0.25 s and
    may raise (e.g. the error of a server thread or process, the root cause of a silence).
    """
    check_timeout("timeout", timeout)
    party = getattr(transport, "party", "?")
    if start:
        send_all(transport, codec, role.start())
    last = time.monotonic()
    finished = until if until is not None else (lambda: bool(role.done))
    while not finished() and not (stop is not None and stop.is_set()):
        if poll is not None:
            poll()
        waiting = expecting(role)
        wait = _SLICE if not waiting else max(0.0, min(_SLICE, last + timeout - time.monotonic()))
        try:
            sender, frame = transport.recv(timeout=wait)
        except TransportError as exc:
            if exc.peer is not None:  # a peer went away (or we are down): the role decides, else raise
                if getattr(role, "on_timeout", None) is None:
                    raise
                send_all(transport, codec, role.on_timeout())
                continue
            now = time.monotonic()
            if not waiting:
                last = now  # idle: silence only counts while something is expected
            elif now - last >= timeout:
                send_all(transport, codec, _on_silence(role, party, timeout))
                last = time.monotonic()
            continue
        send_all(transport, codec, role.handle(sender, codec.decode(sender, frame)))
        last = time.monotonic()  # our own computing is not a peer's silence
    return getattr(role, "result", None)


class Transcript:
    """Every frame of a sequential run, in delivery order, and a SHA-256 digest over them."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, str, str, bytes]] = []

    def add(self, phase: str, src: str, dst: str, frame: bytes) -> None:
        self.frames.append((phase, src, dst, bytes(frame)))

    def digest(self) -> str:
        """Hex SHA-256 over ``phase|src|dst|len|frame`` of every frame in order."""
        h = hashlib.sha256()
        for phase, src, dst, frame in self.frames:
            h.update(f"{phase}|{src}|{dst}|{len(frame)}|".encode())
            h.update(frame)
        return h.hexdigest()


class _Tracked(Transport):
    """Innermost wrapper of a sequential run: remembers the global send order (and the transcript)."""

    def __init__(self, inner: Transport, order: deque[str], transcript: Transcript | None) -> None:
        self.inner, self.party, self.meter = inner, inner.party, inner.meter
        self._order, self._transcript = order, transcript

    def send(self, peer: str, frame: bytes, *, phase: str = "") -> None:
        self.inner.send(peer, frame, phase=phase)
        self._order.append(peer)
        if self._transcript is not None:
            self._transcript.add(phase, self.party, peer, frame)

    def recv(self, *, timeout: float | None = None) -> tuple[str, bytes]:
        return self.inner.recv(timeout=timeout)


class Sequential:
    """A deterministic single-thread run over a :class:`~cmpc.net.memory.MemoryNetwork` that can be
    continued: an orchestrator :meth:`send` s and :meth:`run` s one operation after another.

    ``roles`` maps party names (parties of ``network``) to roles. ``wrap(name, transport)`` puts fault
    wrappers around each party's transport. Frames are delivered one at a time in global send order
    (FIFO). When nothing is in flight: held frames of :class:`Deferred` wrappers are released one by one;
    then the role named ``on_idle`` gets ``on_timeout()``; otherwise :class:`DeadlockError`.
    """

    def __init__(self, roles: Mapping[str, Any], network: MemoryNetwork, codec: Codec, *,
                 wrap: Callable[[str, Transport], Transport] | None = None,
                 transcript: Transcript | None = None) -> None:
        self.roles, self.codec = roles, codec
        self._order: deque[str] = deque()
        self._base = {name: network.transport(name) for name in roles}
        self.transports: dict[str, Transport] = {}
        for name in roles:
            t: Transport = _Tracked(self._base[name], self._order, transcript)
            self.transports[name] = wrap(name, t) if wrap is not None else t

    def send(self, name: str, outgoing: Iterable[tuple[str, Any]]) -> None:
        """Send ``outgoing`` as party ``name``."""
        send_all(self.transports[name], self.codec, outgoing)

    def start(self) -> None:
        """Send every role's ``start()`` in mapping order."""
        for name, role in self.roles.items():
            self.send(name, role.start())

    @property
    def in_flight(self) -> int:
        return len(self._order)

    def run(self, until: Callable[[], bool], *, on_idle: str | None = None) -> None:
        """Deliver frames until ``until()`` is true."""
        while not until():
            if not self._order:
                if any(isinstance(t, Deferred) and t.release() for t in self.transports.values()):
                    continue
                if on_idle is not None and on_idle in self.roles:
                    self.send(on_idle, self.roles[on_idle].on_timeout())
                    continue
                waiting = sorted(n for n, r in self.roles.items() if expecting(r))
                raise DeadlockError(
                    f"nothing in flight, but {', '.join(waiting) or 'the caller'} still waits"
                )
            dst = self._order.popleft()
            sender, frame = self._base[dst].recv(timeout=0)
            role = self.roles[dst]
            if not getattr(self.transports[dst], "alive", True) or role.done:
                continue
            self.send(dst, role.handle(sender, self.codec.decode(sender, frame)))


def run_sequential(
    roles: Mapping[str, Any],
    network: MemoryNetwork,
    codec: Codec,
    *,
    until: Callable[[], bool],
    wrap: Callable[[str, Transport], Transport] | None = None,
    on_idle: str | None = None,
    transcript: Transcript | None = None,
) -> dict[str, Transport]:
    """Every role's ``start()`` (in mapping order), then :meth:`Sequential.run` until ``until()``;
    returns the parties' transports (see :class:`Sequential`)."""
    seq = Sequential(roles, network, codec, wrap=wrap, transcript=transcript)
    seq.start()
    seq.run(until, on_idle=on_idle)
    return seq.transports


class RoleThread:
    """:func:`run_role` in a daemon thread; the error (if any) and the time it happened are kept."""

    def __init__(self, name: str, role: Any, transport: Transport, codec: Codec, *, timeout: float,
                 start: bool = True) -> None:
        self.name, self.role, self.transport = name, role, transport
        self.error: BaseException | None = None
        self.failed_at = float("inf")
        self.stop = threading.Event()
        self._thread = threading.Thread(
            target=self._body, args=(codec, timeout, start), name=f"role-{name}", daemon=True
        )

    def _body(self, codec: Codec, timeout: float, start: bool) -> None:
        try:
            run_role(self.role, self.transport, codec, timeout=timeout, stop=self.stop, start=start)
        except BaseException as exc:  # kept for the caller: the first one in time is the root cause
            self.error, self.failed_at = exc, time.monotonic()

    def start(self) -> RoleThread:
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()


def first_error(threads: Iterable[RoleThread]) -> RoleThread | None:
    """The thread that failed first (the root cause), or None."""
    failed = [t for t in threads if t.error is not None]
    return min(failed, key=lambda t: t.failed_at) if failed else None


def run_threads(
    roles: Mapping[str, Any],
    transports: Mapping[str, Transport],
    codec: Codec,
    *,
    timeout: float,
    deadline: float,
    critical: Iterable[str] | None = None,
    skip: Iterable[str] = (),
) -> dict[str, RoleThread]:
    """Run each role's :func:`run_role` in its own thread and wait for all of them (at most ``deadline``
    seconds in total); raise the first error (in time) among the ``critical`` roles (default: all).

    Roles in ``skip`` are not run (e.g. a crashed party). Returns the threads (their errors included).
    """
    check_timeout("deadline", deadline)
    threads = {
        name: RoleThread(name, role, transports[name], codec, timeout=timeout)
        for name, role in roles.items() if name not in set(skip)
    }
    for th in threads.values():
        th.start()
    end = time.monotonic() + deadline
    for th in threads.values():
        th.join(max(0.0, end - time.monotonic()))
    for th in threads.values():
        th.stop.set()
    wanted = set(threads) if critical is None else set(critical)
    root = first_error(t for n, t in threads.items() if n in wanted)
    if root is not None and root.error is not None:
        raise root.error
    late = sorted(n for n, t in threads.items() if n in wanted and t.is_alive())
    if late:
        raise TransportError(f"{', '.join(late)} still running after the {deadline:.3g} s deadline",
                             peer=None)
    return threads


# -- faults as transport wrappers -----------------------------------------------------------------------
class CrashAt(Transport):
    """The party dies when it first sends a frame of ``phase`` (or at once with ``phase=None``).

    From then on it sends nothing and (in a sequential run) receives nothing. ``on_crash`` is called once
    (e.g. :meth:`MemoryNetwork.kill`); with ``raise_error`` the crashing send raises ``TransportError``
    so that a threaded :func:`run_role` ends.
    """

    def __init__(self, inner: Transport, phase: str | None, *, raise_error: bool = False,
                 on_crash: Callable[[str], None] | None = None) -> None:
        self.inner, self.party, self.meter = inner, inner.party, inner.meter
        self.phase, self.raise_error, self.on_crash = phase, raise_error, on_crash
        self.alive = phase is not None

    def send(self, peer: str, frame: bytes, *, phase: str = "") -> None:
        if self.alive and phase != self.phase:
            self.inner.send(peer, frame, phase=phase)
            return
        if self.alive:
            self.alive = False
            if self.on_crash is not None:
                self.on_crash(self.party)
        if self.raise_error:
            raise TransportError(f"{self.party} crashed", peer=self.party)

    def recv(self, *, timeout: float | None = None) -> tuple[str, bytes]:
        return self.inner.recv(timeout=timeout)


class Deferred(Transport):
    """A straggler in a sequential run: its frames are held and released only when nothing else is in
    flight (one per :meth:`release`, oldest first over every wrapper sharing ``held``)."""

    def __init__(self, inner: Transport,
                 held: deque[tuple[Transport, str, bytes, str]] | None = None) -> None:
        self.inner, self.party, self.meter = inner, inner.party, inner.meter
        #: shared between the stragglers of one run, so that frames are released in global send order
        self._held: deque[tuple[Transport, str, bytes, str]] = deque() if held is None else held

    def send(self, peer: str, frame: bytes, *, phase: str = "") -> None:
        self._held.append((self.inner, peer, bytes(frame), phase))

    def recv(self, *, timeout: float | None = None) -> tuple[str, bytes]:
        return self.inner.recv(timeout=timeout)

    def release(self) -> bool:
        """Send the oldest held frame; False when none is held."""
        if not self._held:
            return False
        inner, peer, frame, phase = self._held.popleft()
        inner.send(peer, frame, phase=phase)
        return True
