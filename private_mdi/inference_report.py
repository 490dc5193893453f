"""Shaping the typed :class:`~private_mdi.report.Report` of a privateMDI session from what was measured.

Holds :func:`session_report`, which :attr:`~private_mdi.inference.PrivateInference.report` calls: traffic
per (phase, sender, receiver) from the transport meter (control frames left out), the client's online bytes
and messages (online and gather phases), the offline time split (Paillier, garbling, OT) summed over the
client and the servers' reported statistics, storage per inference, edge busy times, and per-inference
times (totals divided by the inferences done, at least 1).

What leaks: nothing new; the report holds public sizes, counts and times that each party already sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cmpc.net import Meter

from .placement import Placement
from .protocol.spec import CLIENT, CLOUD, Phase, SessionSpec
from .report import ClientOnline, Parameters, Report, Times

__all__ = ["session_report"]


def session_report(
    *,
    spec: SessionSpec,
    placement: Placement,
    p: int,
    f: int,
    meter: Meter,
    client_times: Mapping[str, float],
    client_storage_bytes: int,
    stats: Mapping[str, Mapping[str, Any]],
    counts: Mapping[str, int],
    times: Mapping[str, float],
    offline_chunk: int,
    offline_window: int,
) -> Report:
    """The session's :class:`~private_mdi.report.Report`.

    ``stats``: the servers' reported statistics by party name (``times``, ``storage_mean_bytes``,
    ``busy_median_s``); ``counts``: inferences done ``{"offline": n, "online": n}``; ``times``: wall seconds
    of ``setup``, ``offline`` and ``online`` so far.
    """
    pairs = {k: v for k, v in meter.by_pair().items() if k[0] != Phase.CONTROL}
    split = {k: client_times.get(k, 0.0) for k in ("paillier", "garbling", "ot")}
    for st in stats.values():
        for k in split:
            split[k] += float(st.get("times", {}).get(k, 0.0))
    edges = spec.edge_names()
    storage = {CLIENT: client_storage_bytes, CLOUD: 0}  # the cloud keeps nothing per inference
    storage.update({e: int(stats.get(e, {}).get("storage_mean_bytes", 0)) for e in edges})
    n_off, n_on = max(1, counts["offline"]), max(1, counts["online"])

    def online(src: str | None, dst: str | None, what: str) -> int:
        return sum(
            getattr(t, what)
            for (ph, s, d), t in pairs.items()
            if ph in (Phase.ONLINE, Phase.GATHER)
            and (src is None or s == src)
            and (dst is None or d == dst)
        )

    return Report(
        parameters=Parameters(
            p=p,
            f=f,
            edges=spec.edges,
            hosts=placement.hosts,
            dims=spec.dims,
            key_bits=spec.key_bits,
            relu_per_inference=sum(spec.dims[1:-1]),
            garbled_copies_per_inference=sum(spec.relu_copies(ell) for ell in range(1, spec.layers)),
        ),
        inferences_offline=counts["offline"],
        inferences_online=counts["online"],
        traffic=pairs,
        times=Times(
            setup_s=times.get("setup", 0.0),
            offline_s=times.get("offline", 0.0),
            offline_per_inference_s=times.get("offline", 0.0) / n_off,
            offline_split_s=split,
            online_s=times.get("online", 0.0),
            online_per_inference_s=times.get("online", 0.0) / n_on,
            edge_online_split_s={
                e: {
                    k: float(v)
                    for k, v in stats.get(e, {}).get("times", {}).items()
                    if k.startswith("online")
                }
                for e in edges
            },
        ),
        storage_per_inference_bytes=storage,
        edge_busy_per_inference_s={
            e: float(stats.get(e, {}).get("busy_median_s", 0.0)) for e in edges
        },
        client_online=ClientOnline(
            up_bytes=online(CLIENT, None, "bytes"),
            down_bytes=online(None, CLIENT, "bytes"),
            up_messages=online(CLIENT, None, "messages"),
            down_messages=online(None, CLIENT, "messages"),
        ),
        offline_chunk=offline_chunk,
        offline_window=offline_window,
        gather_bytes_per_inference=sum(t.bytes for (ph, _, _), t in pairs.items() if ph == Phase.GATHER)
        / n_on,
    )
