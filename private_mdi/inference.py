"""End-to-end privateMDI: ``PrivateInference(model, edges=K)`` with offline and online phases.

One object drives a whole session: it picks (or checks) the field and fixed-point parameters with the
range analysis of :mod:`private_mdi.fixedpoint`, places the linear layers on the edges, builds the
parties (:mod:`private_mdi.parties`) on an in-memory network (:class:`cmpc.net.MemoryNetwork`) and runs
each party's role code in its own thread:

>>> pi = PrivateInference(model, edges=2, calibration=X_train)     # doctest: +SKIP
>>> pi.offline(100)             # Paillier correlations, garbled ReLUs, OT: material for 100 inferences
>>> pi.predict(X_test[:100])    # online: labels, bit-exact with pi.reference(X_test[:100])

Inputs are encoded and checked against the analysed input box **before any message is sent**
(:class:`~private_mdi.errors.OverflowRiskError`); every inference uses its own single-use material
(:class:`~private_mdi.errors.MaterialReusedError` when it is exhausted). A failure of any party (e.g. an
edge that disconnects) surfaces as the error of the run, within the timeout, and no partial output is
returned; the session is then closed (make a new one).

``pi.report`` gives traffic per phase and per (sender, receiver) pair from the transport's meter, the
offline time split into Paillier / garbling / OT, online time, the storage of offline material per
inference at each party, and the busy time per inference of every edge (CPU time of its serving loop,
median over the inferences served: the first one pays one-off warm-up costs).
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cmpc.net import MemoryNetwork, Meter, Transport
from cmpc.net.link import LinkEmulator, LinkSpec
from cmpc.rand import RandomSource, resolve

from .errors import MaterialReusedError, ParameterError, PrivateMDIError
from .fixedpoint import analyse_ranges, check_input, choose_parameters
from .model import Model, decode_output, signed
from .offline import client_offline, client_setup, cloud_offline, cloud_setup, edge_offline, edge_setup
from .online import client_collect, client_submit, edge_serve
from .paillier import MIN_KEY_BITS, PaillierKeyPair
from .parties import CLIENT, CLOUD, Client, Cloud, Edge, Phase, SessionSpec, edge_name

__all__ = ["EdgeProcess", "EdgeProcessError", "PrivateInference", "SessionClosedError"]


class SessionClosedError(PrivateMDIError):
    """The session failed earlier (a party crashed or timed out); start a new one."""


def _run_parties(tasks: dict[str, Callable[[], None]], *, deadline: float) -> None:
    """Run each party's task in a thread; raise the first error that occurred (the root cause)."""
    errors: dict[str, BaseException] = {}
    order: list[str] = []
    lock = threading.Lock()

    def wrap(name: str, fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:
                with lock:
                    errors[name] = exc
                    order.append(name)

        return run

    threads = [
        threading.Thread(target=wrap(n, f), name=f"privateMDI-{n}", daemon=True) for n, f in tasks.items()
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in threads if t.is_alive()]
    if errors:
        first = errors[order[0]]
        raise first
    if alive:
        raise PrivateMDIError(f"parties still running after the deadline: {alive}")


class EdgeProcessError(PrivateMDIError):
    """An edge process reported an error (its type and message are in the text) or died."""


class EdgeProcess:
    """Launcher-side handle of one ``private-mdi edge`` process (control over its stdin/stdout only).

    Mirrors the attributes of :class:`~private_mdi.parties.Edge` that the report reads (``name``,
    ``index``, ``hosted``, ``busy``, ``storage``, ``times``) from the JSON the process prints after each
    command, plus ``meter`` (its transport meter as ``{"phase|src|dst": {"bytes", "messages"}}``).
    """

    def __init__(
        self,
        index: int,
        spec: SessionSpec,
        work: Path,
        keys: Path | None,
        insecure: bool,
        timeout: float,
        link: LinkSpec | None,
    ) -> None:
        self.index = index
        self.name = edge_name(index)
        self.spec = spec
        self.timeout = timeout
        self.busy: dict[int, float] = {}
        self.storage: dict[int, int] = {}
        self.times: dict[str, float] = {}
        self.meter: dict[str, dict[str, int]] = {}
        cmd = [
            sys.executable,
            "-m",
            "private_mdi.cli",
            "edge",
            "--spec",
            str(work / "spec.json"),
            "--party",
            self.name,
            "--addresses",
            str(work / "addresses.json"),
            "--timeout",
            str(timeout),
        ]
        cmd += ["--insecure"] if insecure else ["--keys", str(keys)]
        if link is not None:
            cmd += ["--latency-ms", str(link.latency_ms), "--bandwidth-mbps", str(link.bandwidth_mbps or 0)]
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", "1")
        self._log = open(work / f"{self.name}.log", "wb")
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=env
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.log_path = work / f"{self.name}.log"

    @property
    def hosted(self) -> list[int]:
        return [ell for ell in range(1, self.spec.layers + 1) if self.spec.hosts[ell - 1] == self.index]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self._lines.put(raw.decode("utf-8", "replace").strip())
        self._lines.put(None)

    def _next_line(self, deadline: float, what: str) -> str:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise EdgeProcessError(f"{self.name}: no answer to {what} in time")
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
                raise EdgeProcessError(f"{self.name}: process exited (status {self.proc.wait()}) {tail}")
            return line

    def wait_ready(self, deadline: float) -> None:
        while self._next_line(deadline, "start-up") != "LISTENING":
            pass

    def command(self, line: str) -> None:
        """Send one command and wait for ``DONE`` (state update) or ``ERROR`` (raised)."""
        import json

        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise EdgeProcessError(f"{self.name}: process is gone ({exc})") from exc
        deadline = time.monotonic() + 4 * self.timeout + 30
        while True:
            reply = self._next_line(deadline, line.split()[0])
            if reply.startswith("DONE "):
                state = json.loads(reply[5:])
                self.busy = {int(k): v for k, v in state["busy"].items()}
                self.storage = {int(k): v for k, v in state["storage"].items()}
                self.times = state["times"]
                self.meter = state["meter"]
                return
            if reply.startswith("ERROR "):
                err = json.loads(reply[6:])
                raise EdgeProcessError(f"{self.name}: {err['type']}: {err['message']}")

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                assert self.proc.stdin is not None
                self.proc.stdin.write(b"QUIT\n")
                self.proc.stdin.flush()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(Exception):
                    pipe.close()
        self._log.close()


class PrivateInference:
    """A privateMDI session for ``model`` over a client, a cloud and ``edges`` edge servers.

    Parameters
    ----------
    model:
        A :class:`~private_mdi.model.Model`.
    edges:
        K ≥ 2 edge servers. ``hosts`` optionally gives host(ℓ) per linear layer (default round-robin).
    p, f:
        Field prime and fractional bits. Both or neither: when omitted they are chosen by
        :func:`~private_mdi.fixedpoint.choose_parameters`; when given they are checked by
        :func:`~private_mdi.fixedpoint.analyse_ranges` (``OverflowRiskError`` if the model can wrap).
    calibration, input_bound:
        The input range the analysis assumes: calibration data (per-feature [min, max]) or a bound
        ``B`` / ``(low, high)``; default ``input_bound=1.0``. Inputs outside it are refused.
    key_bits, paillier_keys:
        Paillier modulus size (≥ 2048) or a ready :class:`~private_mdi.paillier.PaillierKeyPair` of the
        client (key generation is the slowest part of a small session; tests share one key).
    rng:
        :class:`~cmpc.rand.RandomSource` for every party's secrets (``None``: OS entropy). Each party
        gets an independent child stream.
    timeout:
        Seconds a party waits for a message before failing the run.
    progress:
        Show a progress bar (tqdm) for the offline phase; default: only when ``n ≥ 50``.
    link:
        Optional :class:`cmpc.net.link.LinkSpec` (latency, bandwidth) emulated on every link between
        parties, offline and online (the in-memory network is otherwise instantaneous).
    processes:
        Run each edge as a separate process (``private-mdi edge``) over TCP with mutual TLS
        (:mod:`cmpc.net.tcp`; a temporary CA and one certificate per party); client and cloud stay in this
        process, each with its own TCP endpoint. ``insecure=True`` uses plain TCP (debugging only).
        Call :meth:`close` (or use ``with``) to stop the processes.
    """

    def __init__(
        self,
        model: Model,
        edges: int = 2,
        *,
        hosts: Sequence[int] | None = None,
        p: int | None = None,
        f: int | None = None,
        calibration: np.ndarray | None = None,
        input_bound: float | tuple[float, float] | None = None,
        key_bits: int = MIN_KEY_BITS,
        paillier_keys: PaillierKeyPair | None = None,
        rng: RandomSource | None = None,
        timeout: float = 60.0,
        progress: bool | None = None,
        link: LinkSpec | None = None,
        processes: bool = False,
        insecure: bool = False,
    ) -> None:
        if not isinstance(model, Model):
            raise ParameterError(f"model must be a private_mdi.model.Model, got {type(model).__name__}")
        self.model = model
        self.placement = model.placement(edges, hosts)
        if calibration is None and input_bound is None:
            input_bound = 1.0
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
        if not isinstance(key_bits, int) or key_bits < MIN_KEY_BITS:
            raise ParameterError(f"key_bits must be an int >= {MIN_KEY_BITS}, got {key_bits!r}")
        self.quantized = model.quantized(self.f)
        dims = (self.quantized[0].in_dim, *(q.out_dim for q in self.quantized))
        pools = tuple(
            None if q.pool is None else tuple(tuple(int(i) for i in win) for win in q.pool)
            for q in self.quantized[:-1]
        )
        # public Paillier weight bounds, rounded up to 2^b − 1 so that only the bit length b of each layer's
        # largest |Ŵ| is revealed to the client
        bounds = tuple(
            min((1 << max(1, int(np.abs(q.weight).max(initial=0))).bit_length()) - 1, (self.p - 1) // 2)
            for q in self.quantized
        )
        self.spec = SessionSpec(
            p=self.p,
            f=self.f,
            dims=dims,
            hosts=self.placement.hosts,
            edges=self.placement.edges,
            weight_bounds=bounds,
            key_bits=key_bits,
            pools=pools,
        )
        self.timeout = float(timeout)
        self.progress = progress
        self.link = link if link is not None and not link.is_null else None
        self.processes = bool(processes)
        self._local_meter = Meter()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._tcp: list[Any] = []
        src = resolve(rng)
        if self.processes:
            client_tr, cloud_tr = self._start_processes(insecure)
        else:
            self.network = MemoryNetwork(self.spec.parties(), meter=self._local_meter)
            client_tr, cloud_tr = (
                self._wrap(self.network.transport(CLIENT)),
                self._wrap(self.network.transport(CLOUD)),
            )
        self.client = Client(
            client_tr, self.spec, rng=src.spawn(), timeout=timeout, paillier_keys=paillier_keys
        )
        self.cloud = Cloud(cloud_tr, self.spec, self.quantized, rng=src.spawn(), timeout=timeout)
        self.edges: list[Any] = (
            self._edge_procs
            if self.processes
            else [
                Edge(
                    self._wrap(self.network.transport(edge_name(j))),
                    self.spec,
                    j,
                    rng=src.spawn(),
                    timeout=timeout,
                )
                for j in range(1, self.spec.edges + 1)
            ]
        )
        self._setup_done = False
        self._closed = False
        self._next_id = 0
        self._times: dict[str, float] = {}
        self._counts = {"offline": 0, "online": 0}

    # -- transports and processes ----------------------------------------------------------------
    def _wrap(self, inner: Transport) -> Transport:
        return inner if self.link is None else LinkEmulator(inner, default=self.link)

    def _start_processes(self, insecure: bool) -> tuple[Transport, Transport]:
        import json

        from cmpc.net.tcp import TcpTransport, free_loopback_ports
        from cmpc.net.tls import load_credentials, write_keys

        self._tmp = tempfile.TemporaryDirectory(prefix="private-mdi-")
        work = Path(self._tmp.name)
        parties = self.spec.parties()
        keys = None if insecure else write_keys(work / "keys", parties)
        ports = free_loopback_ports(len(parties))
        addresses = {pid: ("127.0.0.1", port) for pid, port in zip(parties, ports)}
        (work / "addresses.json").write_text(json.dumps(addresses), encoding="utf-8")
        (work / "spec.json").write_text(self.spec.to_json(), encoding="utf-8")
        self._edge_procs = [
            EdgeProcess(j, self.spec, work, keys, insecure, self.timeout, self.link)
            for j in range(1, self.spec.edges + 1)
        ]
        local = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for pid in (CLIENT, CLOUD):
                creds = None if keys is None else load_credentials(keys, pid)
                tcp = TcpTransport(
                    pid, addresses, credentials=creds, insecure=insecure, meter=self._local_meter
                )
                self._tcp.append(tcp.start())
                local.append(self._wrap(tcp))
        deadline = time.monotonic() + 60
        for proc in self._edge_procs:
            proc.wait_ready(deadline)
        return local[0], local[1]

    def close(self) -> None:
        """Stop edge processes and close TCP endpoints (no-op for the in-memory run)."""
        for proc in getattr(self, "_edge_procs", []):
            proc.close()
        for tr in (self.client.mail.transport, self.cloud.mail.transport) if hasattr(self, "cloud") else ():
            with contextlib.suppress(Exception):
                tr.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> PrivateInference:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------------------------
    @property
    def meter(self) -> Meter:
        """Traffic of every party: the in-memory meter, or (processes) ours merged with the edges'."""
        if not self.processes:
            return self._local_meter
        for tr in (self.client.mail.transport, self.cloud.mail.transport):
            if isinstance(tr, LinkEmulator):
                tr.flush(self.timeout)
        for tcp in self._tcp:
            tcp.flush(self.timeout)  # TCP sends are asynchronous: wait until they are written and metered
        merged = Meter()
        merged.merge(self._local_meter)
        for proc in self._edge_procs:
            for key, t in proc.meter.items():
                phase, src, dst = key.split("|")
                for _ in range(t["messages"] - 1):
                    merged.record(phase, src, dst, 0)
                merged.record(phase, src, dst, t["bytes"])
        return merged

    def _deadline(self, scale: float = 1.0) -> float:
        return time.monotonic() + self.timeout * scale + 5.0

    def _guard(self) -> None:
        if self._closed:
            raise SessionClosedError("this PrivateInference session failed earlier; create a new one")

    def _run(self, tasks: dict[str, Callable[[], None]], scale: float = 1.0) -> None:
        try:
            _run_parties(tasks, deadline=self._deadline(scale))
        except BaseException:
            self._closed = True
            raise

    def setup(self) -> None:
        """Session setup (Paillier key to S, k_CS, weights to the edges); done by the first offline()."""
        if self._setup_done:
            return
        t0 = time.perf_counter()
        tasks: dict[str, Callable[[], None]] = {
            CLIENT: lambda: client_setup(self.client),
            CLOUD: lambda: cloud_setup(self.cloud),
        }
        for e in self.edges:
            if self.processes:
                tasks[e.name] = lambda e=e: e.command("SETUP")  # type: ignore[misc]
            else:
                tasks[e.name] = lambda e=e: edge_setup(e)  # type: ignore[misc]
        self._run(tasks, scale=4.0)
        self._times["setup"] = time.perf_counter() - t0
        self._setup_done = True

    # -- offline ---------------------------------------------------------------------------------
    def offline(self, n: int) -> None:
        """Prepare single-use material for ``n`` more inferences (all parties, one batch)."""
        self._guard()
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ParameterError(f"n must be an int >= 1, got {n!r}")
        self.setup()
        first = self._next_id
        show = self.progress if self.progress is not None else n >= 50
        bar = None
        if show:
            from tqdm import tqdm

            bar = tqdm(
                total=n * (2 * self.spec.layers - 1), desc="privateMDI offline", unit="step", leave=False
            )
        lock = threading.Lock()

        def tick(k: int) -> None:
            if bar is not None:
                with lock:
                    bar.update(k)

        t0 = time.perf_counter()
        tasks: dict[str, Callable[[], None]] = {
            CLIENT: lambda: client_offline(self.client, first, n, tick),
            CLOUD: lambda: cloud_offline(self.cloud, first, n),
        }
        for e in self.edges:
            if self.processes:
                tasks[e.name] = lambda e=e: e.command(f"OFFLINE {first} {n}")  # type: ignore[misc]
            else:
                tasks[e.name] = lambda e=e: edge_offline(e, first, n)  # type: ignore[misc]
        try:
            self._run(tasks, scale=max(4.0, n / 10))
        finally:
            if bar is not None:
                bar.close()
        self._times["offline"] = self._times.get("offline", 0.0) + time.perf_counter() - t0
        self._next_id += n
        self._counts["offline"] += n

    @property
    def available(self) -> int:
        """Inferences for which offline material is ready."""
        return len(self.client.material)

    # -- online ----------------------------------------------------------------------------------
    def _encode(self, x: np.ndarray) -> np.ndarray:
        x_hat = self.model.encode(x, self.f, self.p)
        check_input(x_hat, self.ranges)
        return x_hat

    def predict_raw(self, x: np.ndarray, *, pipelined: bool = True) -> np.ndarray:
        """Run the online phase: ``v_L`` (field elements in [0, p), scale 2^{2f}), shape (n, outputs).

        ``pipelined=False`` sends one input at a time and waits for its output before the next.
        """
        self._guard()
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
        result: dict[int, np.ndarray] = {}

        def client_task() -> None:
            if pipelined:
                shares = client_submit(self.client, x_hat, ids)
                result.update(client_collect(self.client, shares))
            else:
                for i, row in zip(ids, x_hat):
                    shares = client_submit(self.client, row[None, :], [i])
                    result.update(client_collect(self.client, shares))

        tasks: dict[str, Callable[[], None]] = {CLIENT: client_task}
        line = "SERVE " + ",".join(str(i) for i in ids)
        for e in self.edges:
            if e.hosted and self.processes:
                tasks[e.name] = lambda e=e: e.command(line)  # type: ignore[misc]
            elif e.hosted:
                tasks[e.name] = lambda e=e: edge_serve(e, ids)  # type: ignore[misc]
        t0 = time.perf_counter()
        self._run(tasks, scale=max(2.0, m / 20))
        elapsed = time.perf_counter() - t0
        self._times["online"] = self._times.get("online", 0.0) + elapsed
        self._counts["online"] += m
        self._last_online = (m, elapsed, pipelined)
        return np.stack([result[i] for i in ids])

    def predict_logits(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        """Decoded outputs ``signed(v_L) / 2^{2f}`` of the private run (float64, (n, outputs))."""
        return decode_output(self.predict_raw(x, **kw), self.f, self.p)

    def predict(self, x: np.ndarray, **kw: Any) -> np.ndarray:
        """Labels from the private run (for a regression model: the decoded outputs)."""
        v = self.predict_raw(x, **kw)
        if self.model.head == "identity":
            return decode_output(v, self.f, self.p)
        return self.model.labels(signed(v, self.p))

    def reference(self, x: np.ndarray) -> np.ndarray:
        """The fixed-point reference ``v_L`` for the session's (p, f): what :meth:`predict_raw` must equal."""
        v = self.model.reference(x, self.f, self.p)
        assert isinstance(v, np.ndarray)
        return v

    # -- report ----------------------------------------------------------------------------------
    @property
    def report(self) -> dict[str, Any]:
        """Traffic, times, storage and busy times measured so far (JSON-friendly)."""
        meter = self.meter
        pairs = meter.by_pair()
        by_phase: dict[str, dict[str, int]] = {}
        for (phase, src, dst), t in sorted(pairs.items()):
            by_phase.setdefault(phase, {})[f"{src}->{dst}"] = t.bytes
        offline_split = {k: 0.0 for k in ("paillier", "garbling", "ot")}
        for role in (self.client, self.cloud, *self.edges):
            for k in offline_split:
                offline_split[k] += role.times.get(k, 0.0)
        n_off = max(1, self._counts["offline"])
        n_on = max(1, self._counts["online"])
        storage = {CLIENT: self.client.storage_bytes(), CLOUD: 0}  # the cloud keeps nothing per inference
        for e in self.edges:
            sizes = list(e.storage.values())
            storage[e.name] = int(np.mean(sizes)) if sizes else 0
        busy = {}
        for e in self.edges:
            vals = list(e.busy.values())
            busy[e.name] = float(np.median(vals)) if vals else 0.0  # median: the first inference warms up
        client_online = {
            "up_bytes": sum(t.bytes for (ph, s, _), t in pairs.items() if ph == Phase.ONLINE and s == CLIENT),
            "down_bytes": sum(
                t.bytes for (ph, _, d), t in pairs.items() if ph == Phase.ONLINE and d == CLIENT
            ),
            "up_messages": sum(
                t.messages for (ph, s, _), t in pairs.items() if ph == Phase.ONLINE and s == CLIENT
            ),
            "down_messages": sum(
                t.messages for (ph, _, d), t in pairs.items() if ph == Phase.ONLINE and d == CLIENT
            ),
        }
        return {
            "parameters": {
                "p": self.p,
                "f": self.f,
                "edges": self.spec.edges,
                "hosts": list(self.spec.hosts),
                "dims": list(self.spec.dims),
                "key_bits": self.spec.key_bits,
                "relu_per_inference": sum(self.spec.dims[1:-1]),
                "garbled_copies_per_inference": sum(
                    self.spec.relu_copies(ell) for ell in range(1, self.spec.layers)
                ),
            },
            "inferences": dict(self._counts),
            "bytes": by_phase,
            "messages": {f"{ph}|{s}->{d}": t.messages for (ph, s, d), t in sorted(pairs.items())},
            "bytes_by_phase": meter.bytes_by_phase(),
            "client_online": client_online,
            "times": {
                "setup_s": self._times.get("setup", 0.0),
                "offline_s": self._times.get("offline", 0.0),
                "offline_per_inference_s": self._times.get("offline", 0.0) / n_off,
                "offline_split_s": offline_split,
                "online_s": self._times.get("online", 0.0),
                "online_per_inference_s": self._times.get("online", 0.0) / n_on,
                "edge_online_split_s": {
                    e.name: {k: v for k, v in e.times.items() if k.startswith("online")} for e in self.edges
                },
            },
            "storage_per_inference_bytes": storage,
            "edge_busy_per_inference_s": busy,
        }
