"""How a session's parties run: one interface, three executions of the same role code.

The client is always in this process (it is the orchestrator); :meth:`Execution.run` sends what a
``Client.begin_*`` call returned and processes replies until the client expects nothing more.

* ``"sequential"`` — every party in this thread over a :class:`~cmpc.net.memory.MemoryNetwork`
  (:class:`cmpc.runtime.Sequential`: FIFO delivery, deterministic for seeded roles; a transcript digest
  pins the wire format).
* ``"threads"`` — the cloud and each edge in a thread (:class:`cmpc.runtime.RoleThread`) over the
  in-memory network, so edges work on different inferences at once (pipelining).
* processes — the cloud and each edge in its own process (``python -m private_mdi party``, launched by
  :mod:`cmpc.launch`) over TCP with mutual TLS (:mod:`cmpc.net.tcp`; a temporary CA and a certificate per
  party). Their statistics and meters come back in ``Stats`` messages.
* remote — :class:`RemoteExecution`: only the client's transport, to servers started elsewhere
  (``private-mdi party --config``); :class:`ProcessExecution` is a RemoteExecution that also starts them.

Timeouts measure silence: the client fails only when *no* frame arrived for ``timeout`` seconds while it
waits (:func:`cmpc.runtime.run_role`), so a long offline batch that keeps making progress never times out.
A server that fails tells the client (``Abort``); a server thread or process that dies is noticed by the
client's poll within a quarter second.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
import warnings
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from cmpc import runtime
from cmpc.errors import ShapeError
from cmpc.launch import Child, LaunchError, python_module
from cmpc.net import MemoryNetwork, Meter, Transport
from cmpc.net.link import LinkEmulator, LinkSpec

from ..errors import ParameterError
from ..nn.operator import SparseOperator
from .base import Outgoing
from .client import Client, PartyError
from .cloud import Cloud, CloudLayer
from .edge import Edge
from .messages import Codec
from .spec import CLIENT, CLOUD, SessionSpec

__all__ = ["Execution", "LocalExecution", "ProcessExecution", "RemoteExecution"]


class Execution(ABC):
    """Runs the client's operations against the servers (see the module docstring)."""

    client: Client
    timeout: float

    @abstractmethod
    def run(self, outgoing: Outgoing) -> None:
        """Send ``outgoing`` as the client and process replies until it expects nothing."""

    @property
    @abstractmethod
    def meter(self) -> Meter:
        """Traffic of every party so far."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Stop the servers and release resources."""


class LocalExecution(Execution):
    """Every party in this process: ``mode="sequential"`` or ``"threads"``."""

    def __init__(
        self,
        client: Client,
        cloud: Cloud,
        edges: list[Edge],
        *,
        mode: str,
        timeout: float,
        link: LinkSpec | None = None,
        transcript: runtime.Transcript | None = None,
    ) -> None:
        self.client, self.cloud, self.edges = client, cloud, edges
        self.mode, self.timeout, self.codec = mode, timeout, Codec()
        spec = client.spec
        self._meter = Meter()
        self.network = MemoryNetwork(spec.parties(), meter=self._meter)
        self.roles: dict[str, Any] = {CLIENT: client, CLOUD: cloud, **{e.name: e for e in edges}}
        self.threads: dict[str, runtime.RoleThread] = {}
        if mode == "sequential":
            self.seq = runtime.Sequential(self.roles, self.network, self.codec, transcript=transcript)
            return
        self.link = link
        self.transports = {name: self._wrap(self.network.transport(name)) for name in self.roles}
        for name, role in self.roles.items():
            if name != CLIENT:
                self.threads[name] = runtime.RoleThread(
                    name, role, self.transports[name], self.codec, timeout=timeout
                ).start()

    def _wrap(self, inner: Transport) -> Transport:
        return inner if self.link is None else LinkEmulator(inner, default=self.link)

    def _poll(self) -> None:
        root = runtime.first_error(self.threads.values())
        if root is not None and root.error is not None:
            raise root.error

    def run(self, outgoing: Outgoing) -> None:
        client = self.client
        if self.mode == "sequential":
            self.seq.send(CLIENT, outgoing)
            self.seq.run(lambda: not client.expecting)
            return
        tr = self.transports[CLIENT]
        runtime.send_all(tr, self.codec, outgoing)
        runtime.run_role(
            client,
            tr,
            self.codec,
            timeout=self.timeout,
            start=False,
            until=lambda: not client.expecting,
            poll=self._poll,
        )

    @property
    def meter(self) -> Meter:
        if self.mode != "sequential":
            for tr in self.transports.values():
                if isinstance(tr, LinkEmulator):
                    tr.flush(self.timeout)
        return self._meter

    def close(self) -> None:
        if self.mode == "sequential":
            return
        with contextlib.suppress(Exception):
            runtime.send_all(self.transports[CLIENT], self.codec, self.client.shutdown())
        for th in self.threads.values():
            th.join(2.0)
            th.stop.set()
        for tr in self.transports.values():
            if isinstance(tr, LinkEmulator):
                with contextlib.suppress(Exception):
                    tr.close()


def write_cloud_layers(path: Path, layers: list[CloudLayer]) -> None:
    """The cloud's private weights for its process (no pickle): per layer ℓ the bias ``b<ℓ>`` and either
    the dense ``w<ℓ>`` or, for a sparse layer, its CSR arrays ``w<ℓ>_shape``, ``w<ℓ>_indptr``,
    ``w<ℓ>_indices``, ``w<ℓ>_data`` (so the file is proportional to the non-zeros); all int64."""
    arrays: dict[str, Any] = {}
    for q in layers:
        w = q.weight
        if isinstance(w, SparseOperator):
            arrays[f"w{q.index}_shape"] = np.asarray(w.shape, np.int64)
            arrays[f"w{q.index}_indptr"] = np.asarray(w.indptr, np.int64)
            arrays[f"w{q.index}_indices"] = np.asarray(w.indices, np.int64)
            arrays[f"w{q.index}_data"] = np.asarray(w.data, np.int64)
        else:
            arrays[f"w{q.index}"] = np.asarray(w, np.int64)
        arrays[f"b{q.index}"] = np.asarray(q.bias_mod, np.int64)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]
    path.chmod(0o600)


def read_cloud_layers(path: str | Path, spec: SessionSpec) -> list[CloudLayer]:
    """Read :func:`write_cloud_layers`' file, checked against the session: every layer present, shapes
    ``(d_ℓ, in_dim(ℓ))``, integer arrays, a valid CSR structure (else :class:`ParameterError`)."""
    out: list[CloudLayer] = []
    with np.load(path, allow_pickle=False) as data:
        names = set(data.files)

        def get(name: str) -> np.ndarray:
            if name not in names:
                raise ParameterError(f"cloud model file {path}: member {name!r} is missing")
            arr = np.asarray(data[name])
            if arr.dtype.kind not in "iu":
                raise ParameterError(f"cloud model file {path}: {name!r} must be integer, got {arr.dtype}")
            return arr.astype(np.int64)

        for ell in range(1, spec.layers + 1):
            want = (spec.dims[ell], spec.in_dim(ell))
            w: np.ndarray | SparseOperator
            if f"w{ell}_indptr" in names:
                shape = tuple(int(v) for v in get(f"w{ell}_shape"))
                if shape != want:
                    raise ParameterError(f"cloud model file {path}: layer {ell} is {shape}, expected {want}")
                try:
                    w = SparseOperator((shape[0], shape[1]), get(f"w{ell}_indptr"), get(f"w{ell}_indices"),
                                       get(f"w{ell}_data"))
                except ShapeError as exc:
                    raise ParameterError(f"cloud model file {path}: layer {ell}: {exc}") from exc
            else:
                w = get(f"w{ell}")
                if w.shape != want:
                    raise ParameterError(
                        f"cloud model file {path}: layer {ell} is {w.shape}, expected {want}"
                    )
            b = get(f"b{ell}")
            if b.shape != (spec.dims[ell],):
                raise ParameterError(f"cloud model file {path}: bias {ell} has shape {b.shape}")
            out.append(CloudLayer(ell, w, b))
    return out


class RemoteExecution(Execution):
    """The client's side of servers running elsewhere: one TCP (+ mutual TLS) transport to the cloud and
    edges at ``addresses`` (``private-mdi client``; also the client half of :class:`ProcessExecution`).

    ``poll`` is called while waiting (e.g. to notice a dead child process). Server statistics and meters
    come back in ``Stats`` messages and are merged into :attr:`meter`.
    """

    def __init__(
        self,
        client: Client,
        addresses: dict[str, tuple[str, int]],
        *,
        timeout: float,
        credentials: Any = None,
        insecure: bool = False,
        link: LinkSpec | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        from cmpc.net.tcp import TcpTransport

        self.client, self.timeout, self.codec = client, timeout, Codec()
        self._server_stats: dict[str, dict[str, Any]] = {}
        self._local_meter = Meter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.tcp = TcpTransport(
                CLIENT,
                addresses,
                credentials=credentials,
                insecure=insecure,
                meter=self._local_meter,
                connect_timeout=connect_timeout,
            ).start()
        self.transport: Transport = self.tcp if link is None else LinkEmulator(self.tcp, default=link)

    def _poll(self) -> None:
        """Hook called while waiting for replies."""

    def run(self, outgoing: Outgoing) -> None:
        client = self.client
        runtime.send_all(self.transport, self.codec, outgoing)
        runtime.run_role(
            client,
            self.transport,
            self.codec,
            timeout=self.timeout,
            start=False,
            until=lambda: not client.expecting,
            poll=self._poll,
        )
        for pid, st in client.stats.items():
            self._server_stats[pid] = st

    @property
    def meter(self) -> Meter:
        if isinstance(self.transport, LinkEmulator):
            self.transport.flush(self.timeout)
        self.tcp.flush(self.timeout)  # sends are asynchronous: wait until they are written and metered
        merged = Meter()
        merged.merge(self._local_meter)
        for st in self._server_stats.values():
            for key, t in st.get("meter", {}).items():
                phase, src, dst = key.split("|")
                for _ in range(t["messages"] - 1):
                    merged.record(phase, src, dst, 0)
                merged.record(phase, src, dst, t["bytes"])
        return merged

    def shutdown(self) -> None:
        """Tell the servers the session is over (they exit) and close the transport."""
        if hasattr(self, "transport"):
            with contextlib.suppress(Exception):
                runtime.send_all(self.transport, self.codec, self.client.shutdown())
                self.tcp.flush(2.0)

    def close(self) -> None:
        self.shutdown()
        if hasattr(self, "transport"):
            with contextlib.suppress(Exception):
                self.transport.close()


class ProcessExecution(RemoteExecution):
    """The cloud and every edge as processes over TCP (+ mutual TLS unless ``insecure``)."""

    def __init__(
        self,
        client: Client,
        cloud_layers: list[CloudLayer],
        *,
        timeout: float,
        link: LinkSpec | None = None,
        insecure: bool = False,
        startup_timeout: float = 120.0,
    ) -> None:
        from cmpc.net.tcp import free_loopback_ports
        from cmpc.net.tls import load_credentials, write_keys

        self.client = client
        spec = client.spec
        self._tmp = tempfile.TemporaryDirectory(prefix="private-mdi-")
        work = Path(self._tmp.name)
        parties = spec.parties()
        keys = None if insecure else write_keys(work / "keys", parties)
        ports = free_loopback_ports(len(parties))
        addresses = {pid: ("127.0.0.1", port) for pid, port in zip(parties, ports)}
        (work / "addresses.json").write_text(json.dumps(addresses), encoding="utf-8")
        (work / "spec.json").write_text(spec.to_json(), encoding="utf-8")
        write_cloud_layers(work / "cloud-weights.npz", cloud_layers)
        self.children: dict[str, Child] = {}
        try:
            for pid in parties[1:]:
                args = [
                    "party",
                    "--spec",
                    str(work / "spec.json"),
                    "--party",
                    pid,
                    "--addresses",
                    str(work / "addresses.json"),
                    "--timeout",
                    str(timeout),
                ]
                args += ["--insecure"] if insecure else ["--keys", str(keys)]
                if pid == CLOUD:
                    args += ["--weights", str(work / "cloud-weights.npz")]
                if link is not None:
                    args += [
                        "--latency-ms",
                        str(link.latency_ms),
                        "--bandwidth-mbps",
                        str(link.bandwidth_mbps or 0),
                    ]
                self.children[pid] = Child(pid, python_module("private_mdi", *args), log=work / f"{pid}.log")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                creds = None if keys is None else load_credentials(keys, CLIENT)
            super().__init__(
                client, addresses, timeout=timeout, credentials=creds, insecure=insecure, link=link
            )
            deadline = time.monotonic() + startup_timeout
            for child in self.children.values():
                child.expect("LISTENING", deadline)
        except BaseException:
            self.close()
            raise

    def _poll(self) -> None:
        for pid, child in self.children.items():
            if child.returncode is not None:
                tail = child.log_tail().strip().splitlines()
                raise PartyError(
                    f"{pid} process exited (status {child.returncode})" + (f": {tail[-1]}" if tail else "")
                )

    def close(self) -> None:
        self.shutdown()
        for child in self.children.values():
            with contextlib.suppress(LaunchError, OSError):
                child.close(goodbye="EXIT", grace=5.0)
        if hasattr(self, "transport"):
            with contextlib.suppress(Exception):
                self.transport.close()
        self._tmp.cleanup()
