"""The public parameters of a privateMDI session (:class:`SessionSpec`), party names and meter phases.

Every party knows the spec: the field (p), fixed point (f), layer sizes, placement, pooling windows, the
public Paillier weight bounds and key size. It travels as validated JSON (:meth:`SessionSpec.from_json`),
e.g. to party processes. Nothing secret is in it.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from dataclasses import dataclass

import numpy as np

from cmpc.checks import check_int

from ..errors import ParameterError

__all__ = ["CLIENT", "CLOUD", "Phase", "SessionSpec", "edge_name"]

CLIENT = "client"
CLOUD = "cloud"


def edge_name(j: int) -> str:
    """Party name of edge ``j`` (1-based)."""
    return f"edge{j}"


class Phase:
    """Meter labels (the ``phase=`` of every send)."""

    SETUP = "setup"
    PAILLIER = "offline-paillier"
    GARBLING = "offline-garbling"
    OT = "offline-ot"
    ONLINE = "online"
    #: online slices of u_{ℓ+1} from the evaluators of a split layer to the next layer's hosts
    GATHER = "online-gather"
    #: orchestration (begin/done/stats/shutdown): not protocol traffic, reported apart
    CONTROL = "control"
    OFFLINE = (PAILLIER, GARBLING, OT)


@dataclass(frozen=True)
class SessionSpec:
    """Public parameters every party knows: field, fixed point, layer sizes, placement, pooling windows.

    ``dims = (d_0, …, d_L)``: ``d_0`` is the input size and ``d_ℓ`` the output size of linear layer ℓ;
    ``hosts[ℓ−1] = host(ℓ)``. ``pools`` has one entry per ReLU layer ℓ < L (or is empty for none):
    ``None``, or the max-pooling windows after that ReLU as tuples of output indices. Without pooling
    layer ℓ + 1 takes ``d_ℓ`` inputs; with it, one per window (:meth:`in_dim`). ``weight_bounds`` are the
    public Paillier weight bounds (2^b − 1 for the bit length b of each layer's largest |Ŵ|).
    """

    p: int
    f: int
    dims: tuple[int, ...]
    hosts: tuple[int, ...]
    edges: int
    weight_bounds: tuple[int, ...]
    key_bits: int = 3072
    pools: tuple[tuple[tuple[int, ...], ...] | None, ...] = ()
    #: per layer, its slices (host, lo, hi, evaluator) when some layer is split (empty: unsplit,
    #: evaluator(ℓ) = host(ℓ+1)); see :mod:`private_mdi.placement`
    slices: tuple[tuple[tuple[int, int, int, int], ...], ...] = ()

    def __post_init__(self) -> None:
        check_int("p", self.p, 3)
        check_int("f", self.f, 0, 64)
        check_int("edges", self.edges, 2, 1 << 16)
        if len(self.dims) < 2 or any(check_int("dims", d, 1, 1 << 24) < 1 for d in self.dims):
            raise ParameterError(f"dims must list d_0..d_L (L >= 1) positive sizes, got {self.dims}")
        if len(self.hosts) != self.layers or any(not 1 <= h <= self.edges for h in self.hosts):
            raise ParameterError(f"hosts must give one edge in 1..{self.edges} per layer, got {self.hosts}")
        if self.slices:
            self._check_slices()
        elif any(a == b for a, b in zip(self.hosts, self.hosts[1:])):
            raise ParameterError(f"consecutive linear layers must sit on different edges, got {self.hosts}")
        if len(self.weight_bounds) != self.layers:
            raise ParameterError(f"weight_bounds needs {self.layers} entries, got {len(self.weight_bounds)}")
        if self.pools and len(self.pools) != self.layers - 1:
            raise ParameterError(
                f"pools needs {self.layers - 1} entries (one per ReLU), got {len(self.pools)}"
            )
        for ell, pool in enumerate(self.pools, start=1):
            if pool is not None and any(not 0 <= i < self.dims[ell] for win in pool for i in win):
                raise ParameterError(
                    f"pooling window of layer {ell} indexes outside its {self.dims[ell]} outputs"
                )

    def _check_slices(self) -> None:
        if len(self.slices) != self.layers or self.layers > 1023:
            raise ParameterError(f"slices needs {self.layers} entries (at most 1023 layers)")
        for ell, sl in enumerate(self.slices, start=1):
            rows = [(lo, hi) for _, lo, hi, _ in sl]
            ok = 1 <= len(sl) <= 63 and rows[0][0] == 0 and rows[-1][1] == self.dims[ell]
            ok = ok and all(lo < hi for lo, hi in rows)
            ok = ok and all(a[1] == b[0] for a, b in itertools.pairwise(rows))
            hosts = [h for h, _, _, _ in sl]
            ok = ok and len(set(hosts)) == len(hosts) and all(1 <= h <= self.edges for h in hosts)
            ok = ok and hosts[0] == self.hosts[ell - 1]
            if ell < self.layers:
                ok = ok and all(1 <= e <= self.edges and e != h for h, _, _, e in sl)
            if not ok:
                raise ParameterError(
                    f"slices of layer {ell} must cover its {self.dims[ell]} rows in order, on distinct "
                    f"edges, each evaluated on a different edge than its host, got {sl}"
                )
            pool = self.pool(ell)
            if pool is not None and len(sl) > 1:
                for j in range(len(sl)):
                    lo, hi = sl[j][1], sl[j][2]
                    inside = ((pool >= lo) & (pool < hi)).all(axis=1)
                    touch = ((pool >= lo) & (pool < hi)).any(axis=1)
                    if (inside != touch).any():
                        raise ParameterError(f"a max-pooling window of layer {ell} straddles slices")

    # -- slices ------------------------------------------------------------------------------------
    def slices_of(self, layer: int) -> tuple[tuple[int, int, int, int], ...]:
        """Slices (host, lo, hi, evaluator) of ``layer``; one for an unsplit layer."""
        if self.slices:
            return self.slices[layer - 1]
        ev = self.hosts[layer] if layer < self.layers else 0
        return ((self.hosts[layer - 1], 0, self.dims[layer], ev),)

    def unit(self, layer: int, j: int) -> int:
        """The ``layer`` field of messages about slice j of ``layer``: ℓ + 1024·j (ℓ when unsplit)."""
        return layer + 1024 * j

    def parse_unit(self, unit: int) -> tuple[int, int]:
        """(ℓ, j) of a message's ``layer`` field (j may be out of range: callers check)."""
        return unit % 1024, unit // 1024

    def pool_slice(self, layer: int, j: int) -> np.ndarray | None:
        """The pooling windows of slice j, relative to its first row; None without pooling."""
        pool = self.pool(layer)
        if pool is None:
            return None
        _, lo, hi, _ = self.slices_of(layer)[j]
        return pool[(pool[:, 0] >= lo) & (pool[:, 0] < hi)] - lo

    def copy_range(self, layer: int, j: int) -> tuple[int, int]:
        """Indices [a, b) of slice j's circuit copies (outputs) in u_{ℓ+1} (the next layer's input)."""
        _, lo, hi, _ = self.slices_of(layer)[j]
        pool = self.pool(layer)
        if pool is None:
            return lo, hi
        idx = np.nonzero((pool[:, 0] >= lo) & (pool[:, 0] < hi))[0]
        return int(idx[0]), int(idx[-1]) + 1

    def slice_copies(self, layer: int, j: int) -> int:
        a, b = self.copy_range(layer, j)
        return b - a

    def hosted_units(self, e: int) -> list[tuple[int, int]]:
        """(ℓ, j) of the slices edge ``e`` computes."""
        return [
            (ell, j)
            for ell in range(1, self.layers + 1)
            for j, sl in enumerate(self.slices_of(ell))
            if sl[0] == e
        ]

    def evaluated_units(self, e: int) -> list[tuple[int, int]]:
        """(ℓ, j), ℓ < L, of the slices whose garbled ReLU edge ``e`` evaluates."""
        return [
            (ell, j)
            for ell in range(1, self.layers)
            for j, sl in enumerate(self.slices_of(ell))
            if sl[3] == e
        ]

    @property
    def layers(self) -> int:
        return len(self.dims) - 1

    @property
    def bits(self) -> int:
        """k: bits per field element in the garbled circuits."""
        return self.p.bit_length()

    def pool(self, layer: int) -> np.ndarray | None:
        """Max-pooling windows after the ReLU of ``layer`` as an int array (windows, size), or None."""
        if layer - 1 >= len(self.pools) or self.pools[layer - 1] is None:
            return None
        return np.asarray(self.pools[layer - 1], dtype=np.int64)

    def window(self, layer: int) -> int:
        """Field elements per garbled-circuit copy after ``layer``: 1, or the pooling window size."""
        pool = self.pool(layer)
        return 1 if pool is None else int(pool.shape[1])

    def relu_copies(self, layer: int) -> int:
        """Garbled-circuit copies after ``layer`` (< L): one per neuron, or one per pooling window."""
        pool = self.pool(layer)
        return self.dims[layer] if pool is None else int(pool.shape[0])

    def in_dim(self, layer: int) -> int:
        """Input size of linear layer ``layer``."""
        return self.dims[0] if layer == 1 else self.relu_copies(layer - 1)

    def host(self, layer: int) -> str:
        return edge_name(self.hosts[layer - 1])

    def evaluator(self, layer: int) -> str:
        """The edge that evaluates the garbled ReLU after ``layer`` (= host(layer + 1))."""
        return edge_name(self.hosts[layer])

    def hosted(self, j: int) -> list[int]:
        """Layers edge ``j`` computes."""
        return [ell for ell in range(1, self.layers + 1) if self.hosts[ell - 1] == j]

    def evaluated(self, j: int) -> list[int]:
        """Layers ℓ < L whose ReLU edge ``j`` evaluates (it hosts ℓ + 1)."""
        return [ell for ell in range(1, self.layers) if self.hosts[ell] == j]

    def edge_names(self) -> list[str]:
        return [edge_name(j) for j in range(1, self.edges + 1)]

    def parties(self) -> list[str]:
        return [CLIENT, CLOUD, *self.edge_names()]

    def to_json(self) -> str:
        """JSON text (public parameters only); :meth:`from_json` reads it back."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SessionSpec:
        """Parse and validate (:class:`ParameterError` naming what is wrong)."""
        try:
            d = json.loads(text)
            return cls(
                p=int(d["p"]),
                f=int(d["f"]),
                dims=tuple(int(v) for v in d["dims"]),
                hosts=tuple(int(v) for v in d["hosts"]),
                edges=int(d["edges"]),
                weight_bounds=tuple(int(v) for v in d["weight_bounds"]),
                key_bits=int(d["key_bits"]),
                pools=tuple(
                    None if pl is None else tuple(tuple(int(i) for i in win) for win in pl)
                    for pl in d["pools"]
                ),
                slices=tuple(
                    tuple((int(a), int(b), int(c), int(e)) for a, b, c, e in sl) for sl in d.get("slices", [])
                ),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ParameterError(f"malformed session spec: {exc!r}") from exc
