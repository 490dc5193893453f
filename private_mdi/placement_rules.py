"""The placement type and its rules: which edge holds each linear layer (or slice) and evaluates each ReLU.

Holds :class:`Placement`, :class:`Slice`, :func:`validate_placement` (rules 1–3), :func:`round_robin` (the
default), :func:`plan_slices` (rule 4: the concrete row ranges) and the helpers that the cost-model balancing
of :mod:`private_mdi.placement_balance` shares (:func:`is_int`, :func:`slice_counts`, :func:`even_cuts`;
package-internal, not in ``__all__``). The public names are re-exported by :mod:`private_mdi.placement`.

Linear layer ℓ (1-based) is computed by edge ``host(ℓ) ∈ {1..K}``; the garbled ReLU after layer ℓ is
evaluated by an edge ``evaluator(ℓ)`` (paper arXiv 2407.18353 §III: host(ℓ+1)). A layer may also be
**split** across several edges (intra-layer parallelism, ``/work/shared/docs/privatemdi-protocol.md``,
"Splitting one layer across edges"): slice j holds a contiguous range of the layer's output rows (rows of
its dense equivalent; whole output channels of a convolution; whole max-pooling windows) and sits on edge
``host(ℓ, j)``; its garbled ReLU is evaluated by ``evaluator(ℓ, j)``, which sends its decoded slice of
``u_{ℓ+1}`` to every host of layer ℓ + 1 (a gather).

Rules (:func:`validate_placement`, :func:`plan_slices` raise :class:`PlacementError` naming the rule):

1. K ≥ 2; one entry per linear layer; edges are numbered 1..K.
2. The slices of one layer sit on distinct edges (so at most K slices).
3. **The edge that holds a value never evaluates the circuit that consumes it**: evaluator(ℓ, j) ≠
   host(ℓ, j) (host(ℓ, j) holds the b-wire keys and Δ of that circuit). Unsplit and with the default
   evaluators this is the old rule "consecutive linear layers on different edges".
4. Max-pooling windows never straddle slices (slices are cut at window boundaries; a layer with fewer
   windows — or channels — than slices is refused).

Default (no ``split``, no ``hosts``): round-robin unsplit, ``host(ℓ) = ((ℓ − 1) mod K) + 1``
(:func:`round_robin`), evaluator(ℓ) = host(ℓ + 1). A split layer ℓ with m slices on edges h_1..h_m gets
evaluators h_{j+1 mod m} (each of its hosts evaluates one neighbour's slice: the ReLU work is spread like
the linear work), or, when at least m edges hold no slice of ℓ, those idle edges (in ring order after the
last host); an unsplit layer before a split one is evaluated by a host of the next layer.
Slices of one layer have the same input, so their multiply-adds and ReLUs are both proportional to their
rows: balancing by work is cutting the rows as evenly as possible (at channel boundaries when the channels
divide evenly, at window boundaries under max pooling).

What leaks: nothing; the placement is public.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ParameterError, PlacementError

__all__ = ["MAX_SLICES", "Placement", "Slice", "plan_slices", "round_robin", "validate_placement"]

#: slices per layer are limited by the message header (layer field = ℓ + 1024·j)
MAX_SLICES = 63


@dataclass(frozen=True)
class Slice:
    """Slice j of linear layer ℓ: output rows ``[lo, hi)`` on edge ``host``; its garbled ReLU on edge
    ``evaluator`` (0 for the last layer, which has no ReLU)."""

    host: int
    lo: int
    hi: int
    evaluator: int


def is_int(v: object) -> bool:
    """True for a Python or numpy integer that is not a bool."""
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


@dataclass(frozen=True)
class Placement:
    """Which edges (1..K) hold each linear layer: ``hosts[ℓ − 1]`` is an edge number, or a tuple of edge
    numbers for a layer split into slices (slice j on ``hosts[ℓ − 1][j]``); ``evaluators[ℓ − 1]`` gives the
    evaluator of each slice's garbled ReLU (empty tuple for the last layer)."""

    edges: int
    hosts: tuple[int | tuple[int, ...], ...]
    evaluators: tuple[tuple[int, ...], ...] = ()

    def __post_init__(self) -> None:
        if not self.evaluators and self.hosts:  # built directly: the default evaluators (unchecked)
            hs = [self.slice_hosts(ell) for ell in range(1, len(self.hosts) + 1)]
            object.__setattr__(self, "evaluators", tuple(_default_evaluators(hs, int(self.edges))))

    def slice_hosts(self, layer: int) -> tuple[int, ...]:
        """The edges holding the slices of ``layer`` (one for an unsplit layer)."""
        h = self.hosts[layer - 1]
        return (int(h),) if is_int(h) else tuple(h)  # type: ignore[arg-type]

    def is_split(self, layer: int) -> bool:
        return len(self.slice_hosts(layer)) > 1

    @property
    def split(self) -> bool:
        """True when some layer is split across edges."""
        return any(self.is_split(ell) for ell in range(1, len(self.hosts) + 1))

    def host(self, layer: int) -> int:
        """The edge that computes unsplit linear layer ``layer`` (1-based); first slice's edge if split."""
        return self.slice_hosts(layer)[0]

    def evaluator(self, layer: int) -> int:
        """The edge that evaluates the garbled ReLU after unsplit ``layer`` (first slice's if split)."""
        if not 1 <= layer < len(self.hosts):
            raise ParameterError(
                f"layer must be in [1, {len(self.hosts) - 1}] (has a ReLU after it), got {layer}"
            )
        return self.evaluators[layer - 1][0]

    def layers_of(self, edge: int) -> list[int]:
        """The linear layers (1-based) that ``edge`` holds (a slice of, for split layers)."""
        return [ell for ell in range(1, len(self.hosts) + 1) if edge in self.slice_hosts(ell)]


def _entry(h: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(h, int | np.integer) and not isinstance(h, bool):
        return (int(h),)
    if isinstance(h, str | bytes):
        raise TypeError(h)
    return tuple(int(e) for e in h)  # type: ignore[union-attr]


def _default_evaluators(hosts: list[tuple[int, ...]], edges: int) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = []
    for ell in range(len(hosts) - 1):
        here, nxt = hosts[ell], hosts[ell + 1]
        if len(here) > 1:
            # idle edges first (edges holding no slice of ℓ), then the hosts' neighbours round the ring
            idle = [e for e in range(1, edges + 1) if e not in here]
            if len(idle) >= len(here):
                start = (max(here) % edges) + 1
                ring = [((start - 1 + t) % edges) + 1 for t in range(edges)]
                out.append(tuple(e for e in ring if e not in here)[: len(here)])
            else:
                out.append(tuple(here[(j + 1) % len(here)] for j in range(len(here))))
        elif len(nxt) == 1:
            out.append(nxt)  # host(ℓ+1), as in the paper (rule 3 then refuses host(ℓ) = host(ℓ+1))
        else:
            # a host of the next layer (no gather message to itself)
            out.append(tuple([e for e in nxt if e != here[0]] or [here[0] % edges + 1])[:1])
    out.append(())
    return out


def validate_placement(
    hosts: Sequence[int | Sequence[int]],
    edges: int,
    layers: int,
    *,
    evaluators: Sequence[Sequence[int]] | None = None,
) -> Placement:
    """Check rules 1–3 (module docstring) and return a :class:`Placement` (raises :class:`PlacementError`).

    ``hosts[ℓ − 1]``: an edge, or a sequence of distinct edges for a layer split into that many slices.
    ``evaluators``: optional, per layer the evaluator of each slice (default: see the module docstring).
    """
    if not is_int(edges) or int(edges) < 2:
        raise PlacementError(f"privateMDI needs K >= 2 edge servers, got edges={edges!r}")
    edges = int(edges)
    try:
        hs = [_entry(h) for h in hosts]
    except (TypeError, ValueError) as exc:
        raise PlacementError(
            f"hosts must be a sequence of edge numbers 1..{edges} (a tuple of them for a split layer), "
            f"got {hosts!r}"
        ) from exc
    if len(hs) != layers:
        raise PlacementError(
            f"placement must give one edge per linear layer (a tuple of edges for a split layer): "
            f"{layers} layers, got {len(hs)}"
        )
    for i, h in enumerate(hs, start=1):
        if not h:
            raise PlacementError(f"linear layer {i} is placed on no edge")
        for e in h:
            if not 1 <= e <= edges:
                raise PlacementError(f"linear layer {i} placed on edge {e}, edges are numbered 1..{edges}")
        if len(set(h)) != len(h) or len(h) > MAX_SLICES:
            raise PlacementError(
                f"the slices of linear layer {i} must sit on distinct edges (at most {MAX_SLICES}), got {h}"
            )
    if evaluators is None:
        ev = _default_evaluators(hs, edges)
    else:
        try:
            ev = [tuple(int(e) for e in v) for v in evaluators]
        except (TypeError, ValueError) as exc:
            raise PlacementError(f"evaluators must list edge numbers per slice, got {evaluators!r}") from exc
        if len(ev) != layers or any(len(v) != len(h) for v, h in zip(ev[:-1], hs[:-1])) or ev[-1]:
            raise PlacementError(
                "evaluators must give one edge per slice of each layer with a ReLU (and () for the last)"
            )
    split = any(len(h) > 1 for h in hs)
    for i in range(1, layers):
        for j, (h_j, e) in enumerate(zip(hs[i - 1], ev[i - 1])):
            if not 1 <= e <= edges:
                raise PlacementError(
                    f"ReLU of layer {i} evaluated on edge {e}, edges are numbered 1..{edges}"
                )
            if h_j == e:
                if not split and evaluators is None:
                    raise PlacementError(
                        f"linear layers {i} and {i + 1} are both on edge {h_j}: consecutive linear layers "
                        "must be on different edges (the edge holding a layer's output share must not "
                        "evaluate the garbled ReLU that consumes it)"
                    )
                raise PlacementError(
                    f"slice {j} of linear layer {i} is held and its ReLU evaluated by edge {h_j}: the edge "
                    "that holds a value never evaluates the circuit that consumes it"
                )
    hosts_t = tuple(h[0] if len(h) == 1 else h for h in hs)
    return Placement(edges=edges, hosts=hosts_t, evaluators=tuple(ev))


def slice_counts(split: Mapping[int, int] | None, layers: int, k: int) -> list[int]:
    """Slices per layer from ``split = {ℓ: m}`` (rule 1: layers 1..L, counts 1..K)."""
    m = [1] * layers
    for ell, cnt in dict(split or {}).items():
        if not is_int(ell) or not 1 <= int(ell) <= layers:
            raise PlacementError(f"split names layer {ell!r}, the model has linear layers 1..{layers}")
        if not is_int(cnt) or not 1 <= int(cnt) <= k:
            raise PlacementError(f"split of layer {ell} into {cnt!r} slices: need 1..K = 1..{k} slices")
        m[int(ell) - 1] = int(cnt)
    return m


def round_robin(edges: int, layers: int, split: Mapping[int, int] | None = None) -> Placement:
    """``host(ℓ) = ((ℓ − 1) mod K) + 1`` for ℓ = 1..layers, validated; ``split = {ℓ: m}`` cuts layer ℓ
    into m slices on the m edges from host(ℓ) on, round the ring."""
    if not is_int(edges) or int(edges) < 2:
        raise PlacementError(f"privateMDI needs K >= 2 edge servers, got edges={edges!r}")
    k = int(edges)
    counts = slice_counts(split, layers, k)
    hosts: list[int | tuple[int, ...]] = []
    for ell in range(1, layers + 1):
        h = ((ell - 1) % k) + 1
        m = counts[ell - 1]
        hosts.append(h if m == 1 else tuple(((h - 1 + j) % k) + 1 for j in range(m)))
    return validate_placement(hosts, k, layers)


def even_cuts(units: int, m: int) -> list[int]:
    """Boundaries cutting ``units`` equal units into m contiguous, as-even-as-possible parts."""
    return [(units * j) // m for j in range(m + 1)]


def plan_slices(
    placement: Placement,
    dims: Sequence[int],
    pools: Sequence[np.ndarray | None],
    granules: Sequence[int] | None = None,
) -> tuple[tuple[Slice, ...], ...]:
    """The concrete row slices of every layer (rule 4 of the module docstring).

    ``dims = (d_0, …, d_L)``; ``pools[ℓ − 1]`` the max-pooling windows after layer ℓ's ReLU (or None);
    ``granules[ℓ − 1]`` the rows per output channel of layer ℓ (1 for a dense layer). Slices are cut at
    pooling-window boundaries when the layer is pooled (windows must then be contiguous row blocks in
    order; whole channels' windows when the windows divide evenly among channels), else at channel
    boundaries when the channels divide evenly among the slices, else at row boundaries, as evenly as
    possible.
    """
    layers = len(dims) - 1
    out: list[tuple[Slice, ...]] = []
    for ell in range(1, layers + 1):
        hs, d = placement.slice_hosts(ell), int(dims[ell])
        ev = placement.evaluators[ell - 1] if ell < layers else (0,) * len(hs)
        m = len(hs)
        if m == 1:
            out.append((Slice(hs[0], 0, d, ev[0]),))
            continue
        pool = pools[ell - 1] if ell - 1 < len(pools) else None
        g = 1 if granules is None else max(1, int(granules[ell - 1]))
        if d % g:
            g = 1
        if pool is not None:
            pool = np.asarray(pool)
            nw = int(pool.shape[0])
            # cut at channel boundaries (whole channels' windows) when the windows divide evenly
            units = d // g if nw % (d // g) == 0 else nw
            if units < m:
                raise PlacementError(
                    f"layer {ell} has {units} pooled channels/windows, cannot cut {m} slices"
                )
            wc = [c * (nw // units) for c in even_cuts(units, m)]
            bounds = []
            for j in range(m):
                block = pool[wc[j] : wc[j + 1]]
                lo, hi = int(block.min()), int(block.max()) + 1
                bounds.append((lo, hi))
            ok = bounds[0][0] == 0 and bounds[-1][1] == d
            ok = ok and all(bounds[j][1] == bounds[j + 1][0] for j in range(m - 1))
            ok = ok and all(
                int(np.sum((pool >= lo) & (pool < hi))) == (wc[j + 1] - wc[j]) * pool.shape[1]
                for j, (lo, hi) in enumerate(bounds)
            )
            if not ok:
                raise PlacementError(
                    f"layer {ell}: max-pooling windows would straddle slices (max-pooling windows must not "
                    "straddle slices; this pooling is not a sequence of contiguous row blocks): split a "
                    "different layer"
                )
        else:
            units = d // g
            if units % m:  # channels do not divide evenly: balance rows instead
                g, units = 1, d
            if units < m:
                raise PlacementError(f"layer {ell} has {units} output channels/rows, cannot cut {m} slices")
            bounds = [(c * g, e * g) for c, e in zip(even_cuts(units, m), even_cuts(units, m)[1:])]
        out.append(tuple(Slice(h, lo, hi, e) for h, (lo, hi), e in zip(hs, bounds, ev)))
    return tuple(out)

