"""The three roles of coded BGW matrix multiplication: Source, Worker, Master.

Roles are I/O-free state machines: ``start()`` and ``handle(sender, message)`` return the messages to
send as ``(recipient, message)`` pairs; a driver (:mod:`cmpc.protocol.driver`) moves them over any
:class:`~cmpc.net.base.Transport`. A simulated run and a real run execute exactly this code.

Protocol (``docs/protocol.md``; after the BGW-style CMPC of AGE-CMPC, arXiv 2305.07142, Sec. III):

1. *Sharing.* Source A evaluates F_A(x) = Σ A_{i,j} x^{a(i,j)} + Σ_w Ā_w x^{α_w} at every worker's point
   (one product ``V_A @ blocks``), Ā_w uniform from the CSPRNG; source B likewise. Worker n computes
   H(α_n) = F_A(α_n)ᵀ F_B(α_n) and tells the master it is ready.
2. *Degree reduction.* With spare workers the master picks the first N ready workers S (telling the
   others to stand down) and, among them, the R reporters (R = t² + z, or all of S when spares make
   phase 3 redundant); without spares S is every worker and the reporters are the first R, fixed by the
   session, so workers go on without the ready/choose round trip.
   Worker n ∈ S sends every reporter n′ ≠ n the value G_n(α_{n′}) of
   G_n(x) = Σ_{j,l} r_n^{(j,l)} H(α_n) x^{j+tl} + Σ_{w<z} R_w^{(n)} x^{t²+w}, r from V_S⁻¹, R fresh.
3. *Reconstruction.* Reporter n′ sums I(α_{n′}) = Σ_n G_n(α_{n′}) and sends it to the master, who
   interpolates I from any t² + z replies and reads Y_{j,l} at x^{j+tl}.

What leaks: any z workers see z evaluations of F_A, F_B (masked by the z secret terms when every z×z
secret-exponent matrix is invertible, which the session verifies) and of each G_n (masked by R^{(n)}); the
master sees evaluations of I, whose non-result coefficients Σ_n R_w^{(n)} are uniform: only Y. Which
workers were slow is visible to the master.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..errors import (
    InsufficientWorkersError,
    ParameterError,
    ProtocolError,
    ShapeError,
    SingularMatrixError,
)
from ..rand import RandomSource, resolve
from . import messages as msg
from .certificate import InvalidSessionError
from .encoding import (
    cached_decoding_rows,
    encode_shares,
    interpolate_results,
    interpolation_rows,
    reshare_values,
    split_blocks,
)
from .session import MASTER, SOURCE_A, SOURCE_B, Session, worker_id

# the pure steps (cached_decoding_rows … split_blocks) live in cmpc.protocol.encoding; re-exported here
__all__ = [
    "PHASES",
    "Master",
    "Role",
    "Source",
    "Worker",
    "cached_decoding_rows",
    "encode_shares",
    "interpolate_results",
    "make_role",
    "reshare_values",
    "split_blocks",
]

Outgoing = list[tuple[str, msg.Message]]

PHASES = ("phase1", "phase2", "phase3")

#: elements per reply in one band of the master's decoding (256 KiB of int64: the bands of all t² + z
#: replies and of the coefficients stay in cache)
DECODE_BAND = 1 << 15


# -- roles ----------------------------------------------------------------------------------------------
class Role:
    """Common state: the session, the field, per-phase timing and a done flag."""

    party: str

    def __init__(self, session: Session, rng: RandomSource | None = None) -> None:
        # refuse an invalid session before anything is shared (InvalidSessionError names the reason)
        if not isinstance(session, Session):
            raise InvalidSessionError(f"a role needs a Session, got {type(session).__name__}")
        session.validate()
        self.session = session
        self.field = session.field()
        self.rng = resolve(rng)
        self.done = False
        self.result: Any = None
        self.timings: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self.cpu: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self.spans: dict[str, list[float]] = {}

    @contextmanager
    def _timed(self, phase: str):  # type: ignore[no-untyped-def]
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            t1 = time.perf_counter()
            self.timings[phase] += t1 - t0
            self.cpu[phase] += time.process_time() - c0
            span = self.spans.setdefault(phase, [t0, t1])
            span[0], span[1] = min(span[0], t0), max(span[1], t1)

    def start(self) -> Outgoing:
        return []

    def handle(self, sender: str, message: msg.Message) -> Outgoing:
        raise ProtocolError(f"{self.party} did not expect {type(message).__name__} from {sender}")

    def on_timeout(self) -> Outgoing:
        """Called by the driver when nothing arrived in time; default: give up."""
        from ..errors import TransportError

        raise TransportError(f"{self.party}: timed out waiting for the protocol to continue")

    def _unexpected(self, sender: str, message: msg.Message) -> ProtocolError:
        return ProtocolError(f"{self.party}: unexpected {type(message).__name__} from {sender}")


class Source(Role):
    """Owns A (``which="A"``) or B; sends F_A(α_n) (resp. F_B(α_n)) to every worker (phase 1)."""

    def __init__(self, session: Session, which: str, data: Any, rng: RandomSource | None = None) -> None:
        super().__init__(session, rng)
        if which not in ("A", "B"):
            raise ParameterError(f"which must be 'A' or 'B', got {which!r}")
        self.which = which
        self.party = SOURCE_A if which == "A" else SOURCE_B
        shape = session.a_shape if which == "A" else session.b_shape
        arr = self.field.asarray(data, name=which)
        if arr.shape != shape:
            raise ShapeError(f"{which} has shape {arr.shape}, the session expects {shape}")
        self.data = arr

    def start(self) -> Outgoing:
        sess = self.session
        code = sess.code
        with self._timed("phase1"):
            k, m, n = sess.padded
            cols = m if self.which == "A" else n
            # uint32 blocks, secrets and shares for p < 2^32 (the same values: half the bytes to move)
            blocks = split_blocks(self.data, code.s, code.t, (k, cols), self.field.compact_dtype.type)
            secrets = self.field.raw_random((code.z, *blocks.shape[1:]), self.rng, compact=True)
            exps = code.a_exponents if self.which == "A" else code.b_exponents
            shares = encode_shares(self.field, blocks, secrets, exps, sess.points, compact=True)
        kind = msg.ShareA if self.which == "A" else msg.ShareB
        self.done = True
        return [(worker_id(i), kind(shares[i])) for i in range(sess.n_total)]


class Worker(Role):
    """Computes H(α_n), takes part in degree reduction, sends its share of I to the master."""

    def __init__(self, session: Session, index: int, rng: RandomSource | None = None) -> None:
        super().__init__(session, rng)
        if not 0 <= index < session.n_total:
            raise ParameterError(f"worker index must be in [0, {session.n_total}), got {index}")
        self.index = index
        self.party = worker_id(index)
        self.share_a: np.ndarray | None = None
        self.share_b: np.ndarray | None = None
        self.h: np.ndarray | None = None
        self.chosen: tuple[int, ...] | None = None
        self.reporters: tuple[int, ...] = ()
        self.received: dict[int, np.ndarray] = {}
        self.own: np.ndarray | None = None
        self._early: list[tuple[str, msg.Message]] = []

    def handle(self, sender: str, message: msg.Message) -> Outgoing:
        (ba, bb) = self.session.block_shapes
        if isinstance(message, msg.ShareA | msg.ShareB):
            want = (SOURCE_A, ba) if isinstance(message, msg.ShareA) else (SOURCE_B, bb)
            if sender != want[0] or message.data.shape != want[1]:
                raise ProtocolError(f"{self.party}: bad {type(message).__name__} from {sender}")
            if isinstance(message, msg.ShareA):
                if self.share_a is not None:
                    raise ProtocolError(f"{self.party}: second ShareA")
                self.share_a = message.data
            else:
                if self.share_b is not None:
                    raise ProtocolError(f"{self.party}: second ShareB")
                self.share_b = message.data
            if self.share_a is not None and self.share_b is not None:
                with self._timed("phase1"):
                    self.h = self.field.raw_matmul(self.share_a.T, self.share_b, compact=True)
                if self.session.fixed_assignment:  # no spares: straight on to phase 2
                    chosen, reporters = self.session.fixed_roles()
                    return self._start_phase2(msg.StartPhase2(chosen=chosen, reporters=reporters))
                return [(MASTER, msg.Ready())]
            return []
        if isinstance(message, msg.StandDown):
            if sender != MASTER:
                raise self._unexpected(sender, message)
            self.done = True
            return []
        if isinstance(message, msg.StartPhase2):
            if sender != MASTER or self.chosen is not None or self.session.fixed_assignment:
                raise self._unexpected(sender, message)
            return self._start_phase2(message)
        if isinstance(message, msg.Reshare):
            if self.chosen is None:  # a faster peer's share arrived before our StartPhase2
                self._early.append((sender, message))
                return []
            return self._take_reshare(sender, message)
        raise self._unexpected(sender, message)

    def _start_phase2(self, message: msg.StartPhase2) -> Outgoing:
        sess = self.session
        chosen = message.chosen
        if (
            len(chosen) != sess.n_needed
            or len(set(chosen)) != len(chosen)
            or any(not 0 <= c < sess.n_total for c in chosen)
            or self.index not in chosen
            or not set(message.reporters) <= set(chosen)
            or len(message.reporters) < sess.n_results
        ):
            raise ProtocolError(f"{self.party}: invalid StartPhase2 (chosen {chosen})")
        if self.h is None:
            raise ProtocolError(f"{self.party}: StartPhase2 before both shares arrived")
        self.chosen, self.reporters = chosen, message.reporters
        code = sess.code
        reporters = message.reporters
        with self._timed("phase2"):
            rows = cached_decoding_rows(self.field, sess, chosen)
            q = chosen.index(self.index)
            # uint32 masks and values for p < 2^32 (the same values from the same stream, half the bytes)
            masks = self.field.raw_random((code.z, *self.h.shape), self.rng, compact=True)
            # only the reporters need I: G_n is evaluated at their points alone
            pts = [sess.points[c] for c in reporters]
            values = reshare_values(self.field, self.h, rows[q], masks, pts, code.t, compact=True)
        out: Outgoing = []
        for pos, c in enumerate(reporters):
            if c == self.index:
                self.own = values[pos]
            else:
                out.append((worker_id(c), msg.Reshare(values[pos])))
        if self.index not in reporters:
            self.done = True
            if self._early:
                raise ProtocolError(f"{self.party}: got a Reshare but does not report")
            return out
        early, self._early = self._early, []
        for sender, m in early:
            out += self._take_reshare(sender, m)
        out += self._maybe_report()
        return out

    def _take_reshare(self, sender: str, message: msg.Message) -> Outgoing:
        assert self.chosen is not None and isinstance(message, msg.Reshare)
        try:
            n = int(sender.rsplit("-", 1)[1]) if sender.startswith("worker-") else -1
        except ValueError:
            n = -1
        if n not in self.chosen or n == self.index or n in self.received:
            raise ProtocolError(f"{self.party}: unexpected Reshare from {sender}")
        if self.index not in self.reporters:
            raise ProtocolError(f"{self.party}: got a Reshare but does not report")
        if self.h is None or message.data.shape != self.h.shape:
            raise ProtocolError(f"{self.party}: Reshare from {sender} has the wrong shape")
        self.received[n] = message.data
        return self._maybe_report()

    def _maybe_report(self) -> Outgoing:
        assert self.chosen is not None
        if self.own is None or len(self.received) < len(self.chosen) - 1:
            return []
        with self._timed("phase3"):
            total = self.field.raw_sum([self.own, *self.received.values()], compact=True)
        self.done = True
        return [(MASTER, msg.ResultShare(total))]


class Master(Role):
    """Chooses the phase-2 workers, collects t² + z shares of I and decodes Y."""

    party = MASTER

    def __init__(self, session: Session, rng: RandomSource | None = None) -> None:
        super().__init__(session, rng)
        self.ready: list[int] = []
        self.chosen: tuple[int, ...] | None = None
        self.reporters: tuple[int, ...] = ()
        self.replies: dict[int, np.ndarray] = {}
        self._t0 = time.perf_counter()

    def start(self) -> Outgoing:
        if self.session.fixed_assignment:
            self.chosen, self.reporters = self.session.fixed_roles()
        return []

    @staticmethod
    def _index(sender: str) -> int:
        if not sender.startswith("worker-"):
            return -1
        try:
            return int(sender.rsplit("-", 1)[1])
        except ValueError:
            return -1

    def handle(self, sender: str, message: msg.Message) -> Outgoing:
        n = self._index(sender)
        if not 0 <= n < self.session.n_total:
            raise self._unexpected(sender, message)
        if isinstance(message, msg.Ready):
            if n in self.ready or self.session.fixed_assignment:
                raise ProtocolError(f"master: second Ready from {sender}")
            self.ready.append(n)
            if self.chosen is None and len(self.ready) >= self.session.n_needed:
                return self._choose()
            if self.chosen is not None:
                return [(sender, msg.StandDown())]
            return []
        if isinstance(message, msg.ResultShare):
            if self.chosen is None or n not in self.reporters or n in self.replies:
                raise self._unexpected(sender, message)
            (_, bm), (_, bn) = self.session.block_shapes
            if message.data.shape != (bm, bn):
                raise ProtocolError(f"master: ResultShare from {sender} has shape {message.data.shape}")
            self.replies[n] = message.data
            if len(self.replies) >= self.session.n_results and not self.done:
                self._decode()
            return []
        raise self._unexpected(sender, message)

    def _choose(self) -> Outgoing:
        sess = self.session
        with self._timed("phase2"):
            chosen = None
            # the first N ready workers; if their Vandermonde is singular (possible only with spares and
            # sampled point checks), try other N-subsets of the ready workers
            candidates = [tuple(self.ready[: sess.n_needed])]
            if len(self.ready) > sess.n_needed:
                candidates += [tuple(self.ready[i : i + sess.n_needed]) for i in range(1, 4)]
            for cand in candidates:
                if len(cand) < sess.n_needed:
                    continue
                try:
                    cached_decoding_rows(self.field, sess, cand)
                except SingularMatrixError:
                    continue
                chosen = cand
                break
            if chosen is None:
                raise SingularMatrixError(f"no decodable set of {sess.n_needed} workers among {self.ready}")
            self.chosen = chosen
            self.reporters = chosen if sess.redundant_results else chosen[: sess.n_results]
        start = msg.StartPhase2(chosen=chosen, reporters=self.reporters)
        out: Outgoing = [(worker_id(c), start) for c in chosen]
        out += [(worker_id(n), msg.StandDown()) for n in self.ready if n not in chosen]
        return out

    def _decode(self) -> None:
        sess = self.session
        code = sess.code
        with self._timed("phase3"):
            order = list(self.replies)[: sess.n_results]
            pts = tuple(int(sess.points[n]) for n in order)
            t = code.t
            k = len(order)
            rows = interpolation_rows(self.field.p, pts, t * t)
            _, m_pad, n_pad = sess.padded
            bm, bn = m_pad // t, n_pad // t
            y = np.empty((m_pad, n_pad), dtype=np.int64)
            y4 = y.reshape(t, bm, t, bn)  # block (j, l) = coefficient j + t·l of I
            # in bands of block rows: the replies' bands are gathered into a small reused buffer and the
            # coefficients written straight into Y (no stacked copy of all replies, no block array)
            band = max(1, DECODE_BAND // max(1, bn))
            buf = np.empty((k, min(band, bm), bn), dtype=np.int64)
            for i0 in range(0, bm, band):
                h = min(band, bm - i0)
                for q, n in enumerate(order):
                    buf[q, :h] = self.replies[n][i0 : i0 + h]
                coeffs = self.field.raw_matmul(rows, buf[:, :h].reshape(k, h * bn))
                y4[:, i0 : i0 + h] = coeffs.reshape(t, t, h, bn).transpose(1, 2, 0, 3)
            self.result = y[: sess.a_shape[1], : sess.b_shape[1]]
        self.done = True

    def on_timeout(self) -> Outgoing:
        sess = self.session
        if self.chosen is None:
            raise InsufficientWorkersError(
                f"phase 2 needs N = {sess.n_needed} ready workers, only {len(self.ready)} of "
                f"{sess.n_total} answered in time",
                answered=len(self.ready),
                needed=sess.n_needed,
            )
        raise InsufficientWorkersError(
            f"phase 3 needs t^2 + z = {sess.n_results} result shares, only {len(self.replies)} "
            "arrived in time",
            answered=len(self.replies),
            needed=sess.n_results,
        )


def make_role(
    session: Session, party: str, inputs: Any = None, rng: RandomSource | None = None
) -> Role:
    """The role object for ``party`` ("source-a", "source-b", "worker-<n>", "master")."""
    if party == SOURCE_A:
        return Source(session, "A", inputs, rng)
    if party == SOURCE_B:
        return Source(session, "B", inputs, rng)
    if party == MASTER:
        return Master(session, rng)
    if party.startswith("worker-"):
        try:
            idx = int(party.split("-", 1)[1])
        except ValueError:
            raise ParameterError(f"unknown party {party!r}") from None
        return Worker(session, idx, rng)
    raise ParameterError(f"unknown party {party!r}; parties are {session.parties}")
