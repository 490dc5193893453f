"""End-to-end privateMDI: ``PrivateInference(model, edges=K)`` with offline and online phases.

One object drives a whole session: it picks (or checks) the field and fixed-point parameters with the
range analysis of :mod:`private_mdi.fixedpoint`, places the linear layers on the edges, builds the
parties — the client (the orchestrator), the cloud and the edges, sans-I/O state machines of
:mod:`private_mdi.protocol` — and runs them with the chosen execution (:mod:`private_mdi.protocol.execution`):
``mode="threads"`` (default: cloud and edges in threads, pipelining across edges), ``mode="sequential"``
(one thread, deterministic) or ``processes=True`` (cloud and edges as processes over TCP + mutual TLS).

Example (a tiny model; a real session uses the default 3072-bit Paillier key):

>>> import numpy as np
>>> from private_mdi import Model, PrivateInference
>>> from private_mdi.model import Dense, ReLU
>>> g = np.random.default_rng(0)  # test-data-ok: example weights and inputs, not secrets
>>> dense = [Dense(g.normal(size=(4, 3)), np.zeros(4)), ReLU(), Dense(g.normal(size=(2, 4)), np.zeros(2))]
>>> model = Model((3,), dense)
>>> with PrivateInference(model, edges=2, key_bits=2048, progress=False) as pi:
...     pi.offline(2)         # Paillier correlations, garbled ReLUs, OT: material for 2 inferences
...     x = g.uniform(-1, 1, size=(2, 3))
...     bool((pi.predict(x) == pi.reference(x)).all())    # bit-exact with the fixed-point reference
True

Inputs are encoded and checked against the analysed input box **before any message is sent**
(:class:`~private_mdi.errors.OverflowRiskError`); every inference uses its own single-use material
(:class:`~private_mdi.errors.MaterialReusedError` when it is exhausted). ``offline(n)`` works in chunks
(``offline_chunk`` inferences, at most ``offline_window`` chunks in flight) so memory stays bounded and
progress is visible from the start; material of completed chunks stays usable after a failure
(:class:`OfflineIncompleteError` says how much). Timeouts measure silence, not batch length. A failure of
any party surfaces as the error of the run and no partial output is returned; after a party failure the
session is closed (:class:`SessionClosedError`; make a new one).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cmpc.checks import check_choice, check_int, check_timeout
from cmpc.errors import TransportError
from cmpc.net import Meter
from cmpc.net.link import LinkSpec
from cmpc.rand import RandomSource, resolve

from . import paillier as _paillier
from .errors import MaterialReusedError, ParameterError, PrivateMDIError
from .fixedpoint import analyse_ranges, check_input, choose_parameters
from .fixedpoint.input_range import OUT_OF_RANGE_CHOICES
from .inference_report import session_report
from .inference_spec import choose_placement, layer_granules, session_spec
from .model import Model, decode_output, signed
from .paillier import MIN_KEY_BITS, PaillierKeyPair
from .placement import Placement
from .protocol.client import Client
from .protocol.cloud import Cloud, CloudLayer
from .protocol.edge import Edge
from .protocol.execution import Execution, LocalExecution, ProcessExecution
from .protocol.layout import MAX_BATCH
from .report import Report

#: Paillier modulus bits by default (``private_mdi.paillier.DEFAULT_KEY_BITS`` when it defines one)
DEFAULT_KEY_BITS: int = int(getattr(_paillier, "DEFAULT_KEY_BITS", 3072))

__all__ = ["DEFAULT_KEY_BITS", "OfflineIncompleteError", "PrivateInference", "SessionClosedError"]



class SessionClosedError(PrivateMDIError):
    """The session failed earlier (a party crashed or failed); start a new one."""


class OfflineIncompleteError(PrivateMDIError):
    """``offline(n)`` stopped early; the material of the ``prepared`` inferences completed stays usable."""

    def __init__(self, message: str, *, prepared: int, requested: int) -> None:
        super().__init__(message)
        self.prepared, self.requested = prepared, requested


class PrivateInference:
    """A privateMDI session for ``model`` over a client, a cloud and ``edges`` edge servers.

    Parameters
    ----------
    model:
        A :class:`~private_mdi.model.Model`.
    edges:
        K ≥ 2 edge servers. ``hosts`` optionally gives host(ℓ) per linear layer (default round-robin), an
        entry being a tuple of edges for a layer split into slices. ``split={ℓ: m}`` cuts layer ℓ into m
        slices (output rows / conv channels, balanced) placed by :func:`~private_mdi.placement.balanced`
        (the largest edge's online work minimal under its cost model; with ``hosts`` given, use tuples
        there instead). ``hosts`` may also be a
        :class:`~private_mdi.placement.Placement` (e.g. :func:`~private_mdi.placement.balanced`), whose
        evaluators are kept. Rules and defaults: :mod:`private_mdi.placement_rules`.
    p, f:
        Field prime and fractional bits. Both or neither: when omitted they are chosen by
        :func:`~private_mdi.fixedpoint.choose_parameters`; when given they are checked by
        :func:`~private_mdi.fixedpoint.analyse_ranges` (``OverflowRiskError`` if the model can wrap).
    calibration, input_bound, on_out_of_range:
        The input range the analysis assumes (:class:`~private_mdi.fixedpoint.InputRange`): calibration
        data, treated as a sample of the input distribution (each feature's [min, max] widened by the
        documented margin, so held-out rows pass), or a bound ``B`` (``|x| ≤ B``) / ``(low, high)``;
        neither: ``|x| ≤ 8``, which covers standardized data (a larger prime is chosen when the model needs
        the room). An input outside the range is refused before any message with an
        :class:`~private_mdi.fixedpoint.InputRangeError` in the caller's units (row, feature, value, range,
        fix); ``on_out_of_range="clip"`` clips it into the range instead, with a warning — this changes
        the result for that row.
    key_bits, paillier_keys:
        Paillier modulus size (default :data:`DEFAULT_KEY_BITS` = 3072; ≥ 2048) or a ready
        :class:`~private_mdi.paillier.PaillierKeyPair` of the client
        (key generation is slow; tests share one).
    rng:
        :class:`~cmpc.rand.RandomSource` for every party's secrets (``None``: OS entropy). Each party
        gets an independent child stream (party processes use their own OS entropy).
    timeout:
        Seconds of **silence** (no message from any party while the client waits) before a run fails.
    mode, processes, insecure:
        ``"threads"`` (default) or ``"sequential"`` (deterministic, one thread). ``processes=True`` runs
        the cloud and each edge as its own process over TCP with mutual TLS (``insecure=True``: plain TCP,
        debugging only); call :meth:`close` (or use ``with``) to stop them.
    offline_chunk, offline_window:
        Inferences per offline chunk (default 32) and chunks in flight (default 2). A chunk's garbled
        ReLUs are one garbling per layer (a fresh Δ and fresh labels per copy, so every inference's
        material is still its own and single use).
    online_batch:
        Inferences per online batch (default 32): ``predict`` sends up to this many rows per message and
        each edge evaluates their linear steps as one matmul and their garbled ReLUs in one call per
        offline chunk they come from (a partial last batch is fine). Edges learn the batch sizes.
    progress:
        Show a progress bar (tqdm) for the offline phase; default: only when ``n ≥ 50``.
    link:
        Optional :class:`cmpc.net.link.LinkSpec` (latency, bandwidth) emulated on every link (threads and
        processes; the sequential mode has no time).
    """

    def __init__(
        self,
        model: Model,
        edges: int = 2,
        *,
        hosts: Sequence[int | Sequence[int]] | Placement | None = None,
        split: Mapping[int, int] | None = None,
        p: int | None = None,
        f: int | None = None,
        calibration: np.ndarray | None = None,
        input_bound: float | tuple[float, float] | None = None,
        key_bits: int = DEFAULT_KEY_BITS,
        paillier_keys: PaillierKeyPair | None = None,
        rng: RandomSource | None = None,
        timeout: float = 60.0,
        progress: bool | None = None,
        link: LinkSpec | None = None,
        mode: str = "threads",
        processes: bool = False,
        insecure: bool = False,
        offline_chunk: int = 32,
        offline_window: int = 2,
        on_out_of_range: str = "raise",
        online_batch: int = 32,
    ) -> None:
        if not isinstance(model, Model):
            raise ParameterError(f"model must be a private_mdi.model.Model, got {type(model).__name__}")
        self.mode = check_choice("mode", mode, ("threads", "sequential"))
        self.timeout = check_timeout("timeout", timeout)
        self.offline_chunk = check_int("offline_chunk", offline_chunk, 1, 1 << 16)
        self.offline_window = check_int("offline_window", offline_window, 1, 64)
        self.online_batch = check_int("online_batch", online_batch, 1, MAX_BATCH)
        self.on_out_of_range = check_choice("on_out_of_range", on_out_of_range, OUT_OF_RANGE_CHOICES)
        self.model = model
        self.placement = choose_placement(model, edges, hosts, split)
        layers = model.range_layers()  # = dense equivalents, with max pooling bounded soundly
        if (p is None) != (f is None):
            raise ParameterError("give both p and f, or neither (then they are chosen)")
        if p is None or f is None:
            chosen = choose_parameters(layers, calibration, input_bound=input_bound)
            self.p, self.f, self.ranges = chosen.p, chosen.f, chosen.report
        else:
            self.p, self.f = int(p), int(f)
            self.ranges = analyse_ranges(
                layers, self.p, self.f, input_bound=input_bound, calibration=calibration
            )
        if paillier_keys is not None:
            key_bits = paillier_keys.public.bits
        if isinstance(key_bits, bool) or not isinstance(key_bits, int) or key_bits < MIN_KEY_BITS:
            raise ParameterError(f"key_bits must be an int >= {MIN_KEY_BITS}, got {key_bits!r}")
        self.quantized = model.quantized(self.f)
        self.spec = session_spec(
            self.quantized, self.p, self.f, self.placement, key_bits, layer_granules(model)
        )
        self.progress = progress
        self.link = link if link is not None and not link.is_null else None
        self.processes = bool(processes)
        src = resolve(rng)
        cloud_layers = [CloudLayer(q.index, q.weight, q.bias_mod(self.p)) for q in self.quantized]
        self.client = Client(self.spec, rng=src.spawn(), paillier_keys=paillier_keys)
        self.cloud: Cloud | None = None
        self.edges: list[Edge] = []
        self.execution: Execution
        if self.processes:
            self.execution = ProcessExecution(
                self.client, cloud_layers, timeout=self.timeout, link=self.link, insecure=insecure
            )
        else:
            self.cloud = Cloud(self.spec, cloud_layers, rng=src.spawn())
            self.edges = [Edge(self.spec, j, rng=src.spawn()) for j in range(1, self.spec.edges + 1)]
            self.execution = LocalExecution(
                self.client, self.cloud, self.edges, mode=self.mode, timeout=self.timeout, link=self.link
            )
        self._setup_done = False
        self._closed = False
        self._next_id = 0
        self._times: dict[str, float] = {}
        self._counts = {"offline": 0, "online": 0}
        self._stats: dict[str, dict[str, Any]] = {}

    @property
    def network(self) -> Any:
        """The in-memory network of a local run (fault injection in tests)."""
        return getattr(self.execution, "network", None)

    # -- lifecycle -------------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the servers (threads or processes) and release resources."""
        if getattr(self, "execution", None) is not None:
            self.execution.close()

    def __enter__(self) -> PrivateInference:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _guard(self) -> None:
        if self._closed:
            raise SessionClosedError("this PrivateInference session failed earlier; create a new one")

    def _run(self, outgoing: Any) -> None:
        try:
            self.execution.run(outgoing)
        except BaseException:
            self._closed = True
            self.client.cancel()
            raise

    @property
    def meter(self) -> Meter:
        """Traffic of every party so far (for processes: ours merged with the servers' reported meters)."""
        if self.processes and not self._closed:
            self._refresh_stats()
        return self.execution.meter

    def setup(self) -> None:
        """Session setup (Paillier key to S, k_CS, weights to the edges); done by the first offline()."""
        self._guard()
        if self._setup_done:
            return
        t0 = time.perf_counter()
        self._run(self.client.begin_setup())
        self._times["setup"] = time.perf_counter() - t0
        self._setup_done = True

    # -- offline ---------------------------------------------------------------------------------------
    def offline(self, n: int) -> None:
        """Prepare single-use material for ``n`` more inferences, chunk by chunk.

        Raises :class:`OfflineIncompleteError` (``prepared``, ``requested``; the cause attached) when a
        party fails or stays silent for ``timeout`` s; the completed chunks stay usable.
        """
        self._guard()
        n = check_int("n", n, 1, 1 << 30)
        self.setup()
        first = self._next_id
        show = self.progress if self.progress is not None else n >= 50
        bar: Any = None
        if show:
            from tqdm import tqdm

            bar = tqdm(total=n, desc="privateMDI offline", unit="inference", leave=False)
        lock = threading.Lock()
        before = len(self.client.material)

        def tick(k: int) -> None:
            if bar is not None:
                with lock:
                    bar.update(k)

        self.client.on_chunk = tick
        t0 = time.perf_counter()
        try:
            self.execution.run(
                self.client.begin_offline(first, n, chunk=self.offline_chunk, window=self.offline_window)
            )
        except BaseException as exc:
            self.client.cancel()
            prepared = len(self.client.material) - before
            self._counts["offline"] += prepared
            self._next_id = first + n  # ids of abandoned chunks are never reused
            silent = isinstance(exc, TransportError) and exc.peer is None
            self._closed = self._closed or not silent
            if isinstance(exc, Exception):
                raise OfflineIncompleteError(
                    f"offline({n}) stopped after {prepared} of {n} inferences ({type(exc).__name__}: {exc}); "
                    f"the {prepared} prepared stay usable",
                    prepared=prepared,
                    requested=n,
                ) from exc
            raise
        finally:
            self.client.on_chunk = lambda _n: None
            if bar is not None:
                bar.close()
            self._times["offline"] = self._times.get("offline", 0.0) + time.perf_counter() - t0
        self._next_id = first + n
        self._counts["offline"] += n

    @property
    def available(self) -> int:
        """Inferences for which offline material is ready."""
        return len(self.client.material)

    # -- online ----------------------------------------------------------------------------------------
    def _encode(self, x: np.ndarray) -> np.ndarray:
        box = self.ranges.input_range
        if box is not None:  # refuse (or clip) in the caller's units first
            x = box.apply(self.model._batch(x), self.on_out_of_range)
        x_hat = self.model.encode(x, self.f, self.p)
        check_input(x_hat, self.ranges)  # the encoded backstop
        return x_hat

    def predict_raw(
        self, x: np.ndarray, *, pipelined: bool = True, batch: int | None = None
    ) -> np.ndarray:
        """Run the online phase: ``v_L`` (field elements in [0, p), scale 2^{2f}), shape (n, outputs).

        Rows travel in batches of up to ``batch`` inferences (default: the session's ``online_batch``):
        one message per batch and hop, one garbled evaluation per layer and batch on each edge.
        ``pipelined=False`` sends one batch at a time and waits for its output before the next
        (``batch=1``: one input at a time).
        """
        self._guard()
        batch = self.online_batch if batch is None else check_int("batch", batch, 1, MAX_BATCH)
        x_hat = self._encode(x)  # OverflowRiskError / ParameterError before any message
        m = x_hat.shape[0]
        if m == 0:
            return np.zeros((0, self.spec.dims[-1]), np.int64)
        ids = sorted(self.client.material)[:m]
        if len(ids) < m:
            raise MaterialReusedError(
                f"offline material for {len(ids)} inference(s) left, {m} requested: "
                f"call offline({m - len(ids)})"
            )
        t0 = time.perf_counter()
        self._run(self.client.begin_online(ids, x_hat, pipelined=pipelined, batch=batch))
        elapsed = time.perf_counter() - t0
        self._times["online"] = self._times.get("online", 0.0) + elapsed
        self._counts["online"] += m
        out = np.stack([self.client.results.pop(i) for i in ids])
        return out

    def predict_logits(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        """Decoded outputs ``signed(v_L) / 2^{2f}`` of the private run (float64, (n, outputs))."""
        return decode_output(self.predict_raw(x, **kw), self.f, self.p)

    def _labels(self, v: np.ndarray) -> np.ndarray:
        if self.model.head == "identity":
            out = decode_output(v, self.f, self.p)
            return out.reshape(-1) if out.ndim == 2 and out.shape[1] == 1 else out
        labels = self.model.labels(signed(v, self.p))
        assert isinstance(labels, np.ndarray)
        return labels

    def predict(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        """Labels from the private run (a regressor: the decoded outputs; one output → shape (n,))."""
        return self._labels(self.predict_raw(x, **kw))

    def reference_raw(self, x: np.ndarray) -> np.ndarray:
        """The fixed-point reference ``v_L`` for the session's (p, f): what :meth:`predict_raw` must equal."""
        v = self.model.reference(x, self.f, self.p)
        assert isinstance(v, np.ndarray)
        return v

    def reference_logits(self, x: np.ndarray) -> np.ndarray:
        """What :meth:`predict_logits` must equal."""
        return decode_output(self.reference_raw(x), self.f, self.p)

    def reference(self, x: np.ndarray) -> np.ndarray:
        """What :meth:`predict` must equal: labels (or a regressor's decoded outputs), no message sent."""
        return self._labels(self.reference_raw(x))

    # -- report ----------------------------------------------------------------------------------------
    def _refresh_stats(self) -> None:
        if self._setup_done and not self._closed:
            self._run(self.client.begin_stats())
            self._stats = dict(self.client.stats)

    @property
    def report(self) -> Report:
        """Traffic, times, storage and busy times measured so far (:class:`~private_mdi.report.Report`)."""
        self._refresh_stats()
        return session_report(
            spec=self.spec,
            placement=self.placement,
            p=self.p,
            f=self.f,
            meter=self.execution.meter,
            client_times=self.client.times,
            client_storage_bytes=self.client.storage_bytes(),
            stats=self._stats,
            counts=self._counts,
            times=self._times,
            offline_chunk=self.offline_chunk,
            offline_window=self.offline_window,
        )
