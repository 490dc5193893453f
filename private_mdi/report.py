"""The typed report of a privateMDI session (:attr:`PrivateInference.report`).

``to_dict()`` is JSON-friendly (keys carry units: ``_bytes``, ``_s``); ``summary()`` is a few lines for
people. Traffic comes from the transport meters (every frame, by phase and (sender, receiver)); control
frames (orchestration: begin/done/stats/shutdown) are metered under ``control`` and kept out of the
protocol phases.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from cmpc.net.base import Traffic

__all__ = ["ClientOnline", "Parameters", "Report", "Times", "fmt_bytes"]


def fmt_bytes(n: float) -> str:
    """``12.3 MiB`` style."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


@dataclass(frozen=True)
class Parameters:
    p: int
    f: int
    edges: int
    hosts: tuple[int | tuple[int, ...], ...]
    dims: tuple[int, ...]
    key_bits: int
    relu_per_inference: int
    garbled_copies_per_inference: int


@dataclass(frozen=True)
class ClientOnline:
    """The client's online traffic: one masked input up and one output share down per inference."""

    up_bytes: int
    down_bytes: int
    up_messages: int
    down_messages: int


@dataclass(frozen=True)
class Times:
    """Wall time of each phase (``*_s``) and CPU seconds of the offline work by building block."""

    setup_s: float
    offline_s: float
    offline_per_inference_s: float
    offline_split_s: dict[str, float]
    online_s: float
    online_per_inference_s: float
    edge_online_split_s: dict[str, dict[str, float]]


@dataclass(frozen=True)
class Report:
    """Traffic, times, storage and busy times measured so far."""

    parameters: Parameters
    inferences_offline: int
    inferences_online: int
    traffic: dict[tuple[str, str, str], Traffic]
    times: Times
    #: bytes of offline material held per inference at each party (edges: mean over inferences)
    storage_per_inference_bytes: dict[str, int]
    #: CPU seconds of each edge's serving per inference (median: the first one pays warm-up)
    edge_busy_per_inference_s: dict[str, float]
    client_online: ClientOnline
    #: what ``offline`` ran with: chunk size and chunks in flight
    offline_chunk: int = 0
    offline_window: int = 0
    #: bytes per inference of the online gather (slices of u_{ℓ+1} between edges; 0 without split layers)
    gather_bytes_per_inference: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def bytes_by_phase(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (phase, _, _), t in self.traffic.items():
            out[phase] = out.get(phase, 0) + t.bytes
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (units in the key names)."""
        return {
            "parameters": dataclasses.asdict(self.parameters),
            "inferences": {"offline": self.inferences_offline, "online": self.inferences_online},
            "traffic": {
                f"{ph}|{s}|{d}": {"bytes": t.bytes, "messages": t.messages}
                for (ph, s, d), t in sorted(self.traffic.items())
            },
            "bytes_by_phase": self.bytes_by_phase(),
            "client_online": dataclasses.asdict(self.client_online),
            "times": dataclasses.asdict(self.times),
            "storage_per_inference_bytes": dict(self.storage_per_inference_bytes),
            "edge_busy_per_inference_s": dict(self.edge_busy_per_inference_s),
            "offline_chunk": self.offline_chunk,
            "offline_window": self.offline_window,
            "gather_bytes_per_inference": self.gather_bytes_per_inference,
        }

    def summary(self) -> str:
        """A few lines: parameters, time and bytes per inference, storage."""
        p, t = self.parameters, self.times
        by = self.bytes_by_phase()
        n_off = max(1, self.inferences_offline)
        offline = sum(v for k, v in by.items() if k.startswith("offline"))
        gather = (
            f"; gather between edges {fmt_bytes(self.gather_bytes_per_inference)} per inference"
            if self.gather_bytes_per_inference
            else ""
        )
        lines = [
            f"privateMDI: p = {p.p} ({p.p.bit_length()} bits), f = {p.f}, K = {p.edges} edges, "
            f"host(ℓ) = {list(p.hosts)}, Paillier {p.key_bits} bits",
            f"offline: {self.inferences_offline} inferences, {t.offline_per_inference_s * 1e3:.1f} ms and "
            f"{fmt_bytes(offline / n_off)} per inference",
            f"online: {self.inferences_online} inferences, "
            f"{t.online_per_inference_s * 1e3:.2f} ms per inference; "
            f"client {fmt_bytes(self.client_online.up_bytes / max(1, self.inferences_online))} up, "
            f"{fmt_bytes(self.client_online.down_bytes / max(1, self.inferences_online))} down per inference"
            + gather,
            "storage per inference: "
            + ", ".join(f"{k} {fmt_bytes(v)}" for k, v in self.storage_per_inference_bytes.items()),
        ]
        return "\n".join(lines)
