"""Drivers that move role messages over a transport, and :func:`simulate`.

* :func:`run_role` — the loop every real party runs (one role, one transport, blocking receives with a
  timeout). The launcher's party processes and the threaded simulation use it.
* :func:`simulate` — every party in one process over :class:`~cmpc.net.memory.MemoryNetwork`. The default
  ``mode="sequential"`` delivers messages one at a time in send order in a single thread, so that the time
  each role spends computing is measured without interference (``report.compute``); ``mode="threads"``
  runs each role's :func:`run_role` in its own thread, exactly as separate processes would.

Faults (both modes): ``faults={"worker-3": "crash"}`` — the worker never answers (a phase-1 straggler);
``"crash-phase2"`` — it dies after phase 1, before sending any phase-2 share; ``"crash-phase3"`` — it
dies after sending its phase-2 shares, before its result share; ``"slow"`` — its messages arrive after
everyone else's (sequential) or ``slow_delay`` seconds late (threads).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import runtime
from ..errors import CMPCError, ParameterError, TransportError
from ..field import PrimeField
from ..net.base import Meter, Transport
from ..net.memory import MemoryNetwork
from ..rand import RandomSource, resolve
from . import messages as msg
from .certificate import Certificate
from .roles import PHASES, Master, Role, make_role
from .session import MASTER, SOURCE_A, SOURCE_B, Session

FAULTS = ("crash", "crash-phase2", "crash-phase3", "slow")


def _phase_of(message: msg.Message) -> str:
    return f"phase{message.ROUND}"


class _Codec:
    """Frames of :mod:`cmpc.protocol.messages` for one session; counts field elements sent per phase."""

    def __init__(self, session: Session, counts: dict[str, int] | None = None,
                 lock: threading.Lock | None = None) -> None:
        self.session, self.counts, self.lock = session, counts, lock or threading.Lock()

    def encode(self, message: msg.Message) -> bytes:
        frame = msg.encode(message, self.session.session_id, self.session.p)
        if self.counts is not None:
            with self.lock:
                ph = _phase_of(message)
                self.counts[ph] = self.counts.get(ph, 0) + message.n_elements
        return frame

    def decode(self, sender: str, frame: bytes) -> msg.Message:
        return msg.decode(frame, p=self.session.p, session=self.session.session_id)

    def phase(self, message: msg.Message) -> str:
        return _phase_of(message)


def run_role(role: Role, transport: Transport, timeout: float = 30.0,
             element_counts: dict[str, int] | None = None) -> Any:
    """Run one role to completion over ``transport``; returns the role's result (Y for the master).

    Frames are decoded with the session's p and id (:class:`~cmpc.errors.ProtocolError` otherwise).
    When nothing arrives within ``timeout`` seconds (silence while the role waits, as in
    :func:`cmpc.runtime.run_role`) the role's ``on_timeout`` decides (the master raises
    :class:`~cmpc.errors.InsufficientWorkersError`, others :class:`~cmpc.errors.TransportError`).
    """
    return runtime.run_role(role, transport, _Codec(role.session, element_counts), timeout=timeout)


@dataclass
class SimulationReport:
    """What a simulated run measured.

    ``bytes`` / ``messages`` / ``elements``: per phase, over all links (elements = field elements carried).
    ``seconds``: wall time per phase (first to last activity of any role in that phase) and ``total``.
    ``compute``: ``{party: {phase: seconds}}`` spent inside that role's handlers.
    ``traffic``: ``{(phase, src, dst): (bytes, messages)}``.
    ``certificate``: why the session's points are safe (:class:`~cmpc.protocol.certificate.Certificate`;
    ``certificate.describe()`` is the one line to print).
    ``workers`` is N, the workers the code *needs*; ``workers_total`` is N′ ≥ N, the workers that took part
    (spares included).

    ``repr(report)`` and :meth:`summary` are short (a few lines); :meth:`to_dict` is the JSON form (keys with
    unit suffixes), ``compute``/``cpu``/``traffic`` included.
    """

    workers: int
    workers_total: int
    bytes: dict[str, int]
    messages: dict[str, int]
    elements: dict[str, int]
    seconds: dict[str, float]
    compute: dict[str, dict[str, float]]
    cpu: dict[str, dict[str, float]]
    traffic: dict[tuple[str, str, str], tuple[int, int]]
    chosen: tuple[int, ...] = ()
    meter: Meter = field(default_factory=Meter, repr=False)
    certificate: Certificate | None = None

    def compute_total(self) -> float:
        """Sum over every party and phase of the time spent computing."""
        return sum(sum(v.values()) for v in self.compute.values())

    def compute_by_phase(self) -> dict[str, float]:
        return {ph: sum(v.get(ph, 0.0) for v in self.compute.values()) for ph in PHASES}

    def max_worker_compute(self) -> dict[str, float]:
        workers = [v for k, v in self.compute.items() if k.startswith("worker-")]
        return {ph: max((w.get(ph, 0.0) for w in workers), default=0.0) for ph in PHASES}

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: units in key names (``_bytes``, ``_s``), traffic keyed ``phase|src|dst``."""
        return {
            "workers": self.workers,
            "workers_total": self.workers_total,
            "chosen": list(self.chosen),
            "certificate": None if self.certificate is None else self.certificate.to_dict(),
            "bytes": dict(self.bytes),
            "messages": dict(self.messages),
            "elements": dict(self.elements),
            "seconds_s": dict(self.seconds),
            "compute_s": {k: dict(v) for k, v in self.compute.items()},
            "cpu_s": {k: dict(v) for k, v in self.cpu.items()},
            "traffic": {f"{ph}|{src}|{dst}": {"bytes": b, "messages": m}
                        for (ph, src, dst), (b, m) in sorted(self.traffic.items())},
        }

    def summary(self) -> str:
        """A few lines for people: workers, certificate, bytes and wall time per phase, total compute."""
        cert = self.certificate.describe() if self.certificate is not None else "certificate: none"
        phases = ", ".join(
            f"{ph} {self.bytes.get(ph, 0):,} B in {self.seconds.get(ph, 0.0) * 1e3:.1f} ms" for ph in PHASES
        )
        return (
            f"workers {self.workers} needed, {self.workers_total} took part; {cert}\n"
            f"{phases}; total {self.seconds.get('total', 0.0) * 1e3:.1f} ms, "
            f"compute {self.compute_total() * 1e3:.1f} ms over all parties"
        )

    def __repr__(self) -> str:
        return f"SimulationReport({self.summary()!r})"


def simulate(
    code: Any,
    A: Any,
    B: Any,
    field: PrimeField | None = None,
    rng: RandomSource | None = None,
    workers: int | None = None,
    *,
    faults: dict[str, str] | None = None,
    mode: str = "sequential",
    timeout: float = 10.0,
    slow_delay: float = 0.2,
    redundant_results: bool | None = None,
) -> tuple[Any, SimulationReport]:
    """Run sources, ``workers`` (default N) workers and the master in one process; return (Y, report).

    ``Y`` is a FieldArray equal to AᵀB mod p. ``field`` defaults to GF(2^31 − 1). Raises
    :class:`~cmpc.errors.InsufficientWorkersError` when faults leave too few workers.

    >>> import numpy as np
    >>> from cmpc import PrimeField, RandomSource, codes
    >>> F = PrimeField(65521)
    >>> A = F.random((8, 6), rng=RandomSource(seed=1)); B = F.random((8, 4), rng=RandomSource(seed=2))
    >>> Y, report = simulate(codes.make("age", s=2, t=2, z=2), A, B, field=F, rng=RandomSource(seed=3))
    >>> bool((Y == F.matmul(A.T, B)).all()), report.workers, report.certificate.kind
    (True, 17, 'structural')
    """
    if field is None:
        field = PrimeField(2**31 - 1)
    if not isinstance(field, PrimeField):
        raise ParameterError(f"field must be a PrimeField, got {type(field).__name__}")
    if mode not in ("sequential", "threads"):
        raise ParameterError(f"mode must be 'sequential' or 'threads', got {mode!r}")
    rng = resolve(rng)
    a = field.asarray(A, name="A")
    b = field.asarray(B, name="B")
    if a.ndim != 2 or b.ndim != 2:
        raise ParameterError(f"A and B must be 2-D, got {a.ndim}-D and {b.ndim}-D")
    session = Session.create(code, field, a.shape, b.shape, workers, rng, redundant_results=redundant_results)
    faults = dict(faults or {})
    for party, kind in faults.items():
        if party not in session.workers:
            raise ParameterError(
                f"faults: unknown worker {party!r}; valid ids are worker-0 .. worker-{session.n_total - 1}"
            )
        if kind not in FAULTS:
            raise ParameterError(
                f"faults[{party!r}]: unknown fault {kind!r}; choose from {', '.join(FAULTS)}"
            )
    roles: dict[str, Role] = {
        SOURCE_A: make_role(session, SOURCE_A, a, rng.spawn()),
        SOURCE_B: make_role(session, SOURCE_B, b, rng.spawn()),
        MASTER: make_role(session, MASTER, None, rng.spawn()),
    }
    for w in session.workers:
        roles[w] = make_role(session, w, None, rng.spawn())
    net = MemoryNetwork(session.parties)
    counts: dict[str, int] = {}
    t0 = time.perf_counter()
    if mode == "sequential":
        _run_sequential(session, roles, net, faults, counts)
    else:
        _run_threads(session, roles, net, faults, counts, timeout, slow_delay)
    total = time.perf_counter() - t0
    master = roles[MASTER]
    assert isinstance(master, Master)
    if not master.done:
        raise CMPCError("the master did not finish")  # pragma: no cover - drivers raise first
    seconds = {}
    for ph in PHASES:
        spans = [r.spans[ph] for r in roles.values() if ph in r.spans]
        seconds[ph] = (max(s[1] for s in spans) - min(s[0] for s in spans)) if spans else 0.0
    seconds["total"] = total
    report = SimulationReport(
        workers=session.n_needed,
        workers_total=session.n_total,
        bytes=net.meter.bytes_by_phase(),
        messages=net.meter.messages_by_phase(),
        elements=counts,
        seconds=seconds,
        compute={k: dict(r.timings) for k, r in roles.items()},
        cpu={k: dict(r.cpu) for k, r in roles.items()},
        traffic={k: (v.bytes, v.messages) for k, v in net.meter.by_pair().items()},
        chosen=master.chosen or (),
        meter=net.meter,
        certificate=session.certificate,
    )
    return field.to_field(master.result), report


def _run_sequential(session: Session, roles: dict[str, Role], net: MemoryNetwork,
                    faults: dict[str, str], counts: dict[str, int]) -> None:
    held: deque[Any] = deque()

    def wrap(name: str, transport: Transport) -> Transport:
        kind = faults.get(name)
        if kind == "slow":
            return runtime.Deferred(transport, held)
        if kind is not None:  # "crash" (dead from the start), "crash-phase2", "crash-phase3"
            return runtime.CrashAt(transport, None if kind == "crash" else kind.split("-")[1])
        return transport

    ordered = {name: roles[name] for name in (SOURCE_A, SOURCE_B, MASTER, *session.workers)}
    master = roles[MASTER]
    runtime.run_sequential(ordered, net, _Codec(session, counts), until=lambda: master.done, wrap=wrap,
                           on_idle=MASTER)


def _run_threads(session: Session, roles: dict[str, Role], net: MemoryNetwork, faults: dict[str, str],
                 counts: dict[str, int], timeout: float, slow_delay: float) -> None:
    for party, kind in faults.items():
        if kind == "crash":
            net.kill(party)
        elif kind == "slow":
            net.delay(party, slow_delay)
    transports: dict[str, Transport] = {}
    for name in roles:
        transport: Transport = net.transport(name)
        if faults.get(name) in ("crash-phase2", "crash-phase3"):
            transport = runtime.CrashAt(transport, faults[name].split("-")[1], raise_error=True,
                                        on_crash=net.kill)
        transports[name] = transport
    runtime.run_threads(roles, transports, _Codec(session, counts), timeout=timeout,
                        deadline=timeout * 4 + 5, critical=(MASTER,),
                        skip=[p for p, k in faults.items() if k == "crash"])
    if not roles[MASTER].done:
        raise TransportError("master did not finish in time", peer=MASTER)


def exact_product(field: PrimeField, A: Any, B: Any) -> np.ndarray:
    """AᵀB mod p with one exact :meth:`PrimeField.raw_matmul` (the baseline of the benchmarks)."""
    return field.raw_matmul(field.asarray(A, name="A").T, field.asarray(B, name="B"))
