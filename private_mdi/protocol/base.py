"""What the three privateMDI roles share: spec, field, randomness, CPU-time accounting, the Outgoing type,
and the server behaviour (reactive, never expecting; a failure becomes an :class:`~.messages.Abort` to C)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from cmpc.errors import CMPCError, ProtocolError
from cmpc.field import PrimeField
from cmpc.rand import RandomSource, resolve

from . import messages as m
from .spec import CLIENT, SessionSpec

__all__ = ["Outgoing", "Reply", "RoleBase", "ServerRole"]

Outgoing = list[tuple[str, m.Message]]
#: what ``handle`` returns: a list, or a generator that the driver sends from as it produces (streaming)
Reply = Iterable[tuple[str, m.Message]]


class RoleBase:
    """Common state of client, cloud and edge."""

    name: str

    def __init__(self, spec: SessionSpec, rng: RandomSource | None) -> None:
        self.spec = spec
        self.field = PrimeField(spec.p)
        self.rng = resolve(rng)
        self.done = False
        self.result: Any = None
        #: CPU seconds per activity (``paillier``, ``garbling``, ``ot``, ``online-…``)
        self.times: dict[str, float] = {}

    @contextmanager
    def timed(self, what: str) -> Iterator[None]:
        t0 = time.thread_time()
        try:
            yield
        finally:
            self.times[what] = self.times.get(what, 0.0) + time.thread_time() - t0

    def start(self) -> Outgoing:
        return []


class ServerRole(RoleBase):
    """A reactive party (cloud, edge): it never waits on its own account (``expecting`` is False, so an
    idle server never times out); :class:`~.messages.Shutdown` ends it; an error while handling a message
    is answered with an :class:`~.messages.Abort` to the client (which raises it) and ends the role."""

    expecting = False

    def __init__(self, spec: SessionSpec, rng: RandomSource | None) -> None:
        super().__init__(spec, rng)
        #: extra fields of the Stats reply (a party process adds its transport meter)
        self.stats_extra: Callable[[], dict[str, Any]] | None = None
        self.error: BaseException | None = None

    def handle(self, sender: str, message: m.Message) -> Reply:
        if isinstance(message, m.Shutdown):
            if sender != CLIENT:
                raise ProtocolError(f"{self.name}: Shutdown from {sender}")
            self.done = True
            return []
        if isinstance(message, m.StatsRequest):
            body = self.stats()
            if self.stats_extra is not None:
                body.update(self.stats_extra())
            return [(CLIENT, m.Stats.with_json(body))]
        try:
            return self.serve(sender, message)
        except CMPCError as exc:
            self.error, self.done = exc, True
            return [(CLIENT, m.Abort.with_json({"type": type(exc).__name__, "message": str(exc)}))]

    def serve(self, sender: str, message: m.Message) -> Reply:
        raise ProtocolError(f"{self.name}: unexpected {type(message).__name__} from {sender}")

    def stats(self) -> dict[str, Any]:
        return {"times": dict(self.times)}
