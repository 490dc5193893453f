"""Balancing the edges' online work: the cost model and the placement that minimises the largest load.

Holds :func:`balanced` (a placement of given slice counts minimising the largest edge's online work under a
cost model, by greedy LPT plus evaluator moves) and :func:`edge_loads` (that cost model evaluated for any
placement). Both are re-exported by :mod:`private_mdi.placement`; the rules they respect (slices of a layer
on distinct edges; an evaluator never the holder of the value it consumes) are checked by
:func:`~private_mdi.placement_rules.validate_placement`.

The cost model (in units of one garbled ReLU evaluation: a slice's host pays its multiply-adds and the
encoding of its b-labels, its evaluator the ReLU evaluations) and the search are stated in :func:`balanced`.

What leaks: nothing; the placement and the layer sizes are public.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .errors import ParameterError, PlacementError
from .placement_rules import Placement, even_cuts, is_int, slice_counts, validate_placement

__all__ = ["balanced", "edge_loads"]


def _unit_costs(
    rows: Sequence[int],
    inner: Sequence[int],
    relus: Sequence[int],
    m: Sequence[int],
    mac_per_relu: float,
    encode: float,
) -> tuple[list[list[float]], list[list[float]]]:
    """Per layer and slice: (host cost, evaluator cost) in ReLU units (see :func:`balanced`)."""
    host, ev = [], []
    for ell, (r, d, c, mm) in enumerate(zip(rows, inner, relus, m)):
        cuts_r, cuts_c = even_cuts(int(r), mm), even_cuts(int(c), mm)
        host.append(
            [
                (cuts_r[j + 1] - cuts_r[j]) * d / mac_per_relu + encode * (cuts_c[j + 1] - cuts_c[j])
                for j in range(mm)
            ]
        )
        ev.append([float(cuts_c[j + 1] - cuts_c[j]) if ell < len(rows) - 1 else 0.0 for j in range(mm)])
    return host, ev


def balanced(
    edges: int,
    rows: Sequence[int],
    inner: Sequence[int],
    relus: Sequence[int],
    *,
    split: Mapping[int, int] | None = None,
    mac_per_relu: float = 1000.0,
    encode: float = 0.07,
) -> Placement:
    """A placement minimising the largest edge's online work under a cost model (validated, rules 1–3).

    ``rows[ℓ − 1]``, ``inner[ℓ − 1]``: output rows and inner dimension of linear layer ℓ's dense
    equivalent; ``relus[ℓ − 1]``: its garbled ReLU copies (ignored for the last layer); ``split = {ℓ: m}``:
    layer ℓ in m slices (cut as :func:`plan_slices` does, rows as evenly as possible). Cost model, in units
    of one garbled ReLU evaluation: slice j's host pays ``rows_j · inner / mac_per_relu`` (its linear step)
    plus ``encode · relus_j`` (encoding its b-labels); its evaluator pays ``relus_j``. Defaults measured on
    the digits CNN (``benchmarks/split_edges.py``): a ReLU evaluation costs about 1000 multiply-adds mod p,
    encoding a ReLU's labels about 7 % of evaluating it.

    Search: greedy, largest unit first (LPT; once over all units, once the hosts' units before the
    evaluators', the better kept), each unit to the least-loaded edge allowed by rules 2–3 (slices of a
    layer on distinct edges; an evaluator never the holder of the value it consumes); then
    every evaluator is re-chosen, one at a time, while that lowers the largest load. The largest load is
    at most the optimum plus the largest unit (checked exhaustively on small cases in
    ``tests/test_placement_balanced.py``). What leaks: nothing; the placement is public.
    """
    if not is_int(edges) or int(edges) < 2:
        raise PlacementError(f"privateMDI needs K >= 2 edge servers, got edges={edges!r}")
    k, layers = int(edges), len(rows)
    if layers < 1 or len(inner) != layers or len(relus) < layers - 1:
        raise ParameterError(
            f"rows, inner and relus must describe the same linear layers: got {len(rows)}, {len(inner)}, "
            f"{len(relus)} entries (relus may omit the last layer)"
        )
    if not mac_per_relu > 0 or not encode >= 0:
        raise ParameterError(f"need mac_per_relu > 0 and encode >= 0, got {mac_per_relu}, {encode}")
    m = slice_counts(split, layers, k)
    relu_l = [int(relus[ell]) if ell < layers - 1 else 0 for ell in range(layers)]
    hc, ec = _unit_costs(rows, inner, relu_l, m, float(mac_per_relu), float(encode))
    best: tuple[float, dict[tuple[int, int], int], dict[tuple[int, int], int]] | None = None
    for hosts_first in (False, True):
        got = _greedy(k, m, hc, ec, hosts_first)
        if got is not None and (best is None or got[0] < best[0] - 1e-12):
            best = got
    assert best is not None  # hosts first always succeeds (m ≤ K, K ≥ 2)
    _, host, evl = best
    hosts = [
        host[(ell, 0)] if m[ell] == 1 else tuple(host[(ell, j)] for j in range(m[ell]))
        for ell in range(layers)
    ]
    evs = [tuple(evl[(ell, j)] for j in range(m[ell])) for ell in range(layers - 1)] + [()]
    return validate_placement(hosts, k, layers, evaluators=evs)


def _greedy(
    k: int, m: list[int], hc: list[list[float]], ec: list[list[float]], hosts_first: bool
) -> tuple[float, dict[tuple[int, int], int], dict[tuple[int, int], int]] | None:
    """LPT + evaluator moves (:func:`balanced`); None when the interleaved order paints itself into a
    corner (a slice whose allowed edges are all taken)."""
    layers = len(m)
    load = [0.0] * (k + 1)
    host: dict[tuple[int, int], int] = {}
    evl: dict[tuple[int, int], int] = {}
    units = [(hc[ell][j], 0, ell, j) for ell in range(layers) for j in range(m[ell])]
    units += [(ec[ell][j], 1, ell, j) for ell in range(layers - 1) for j in range(m[ell])]
    units.sort(key=lambda u: (u[1] if hosts_first else 0, -u[0], u[1], u[2], u[3]))
    for cost, kind, ell, j in units:
        if kind == 0:
            banned = {host[(ell, q)] for q in range(m[ell]) if (ell, q) in host}
            banned |= {evl[(ell, j)]} if (ell, j) in evl else set()
        else:
            banned = {host[(ell, j)]} if (ell, j) in host else set()
        allowed = [e for e in range(1, k + 1) if e not in banned]
        if not allowed:
            return None
        e = min(allowed, key=lambda e: (load[e], e))
        (host if kind == 0 else evl)[(ell, j)] = e
        load[e] += cost
    for (ell, j), e in evl.items():  # interleaved: an evaluator placed before its host
        if e == host[(ell, j)]:
            return None
    improved = True
    while improved:  # local search on evaluators: move one ReLU unit off the busiest edge
        improved = False
        top = max(load[1:])
        for (ell, j), e in sorted(evl.items()):
            if load[e] < top:
                continue
            c = ec[ell][j]
            others = [f for f in range(1, k + 1) if f not in (e, host[(ell, j)])]
            best = min(others, key=lambda f: load[f]) if others else e
            if best != e and load[best] + c < top:
                load[e] -= c
                load[best] += c
                evl[(ell, j)] = best
                improved = True
                break
    return max(load[1:]), host, evl


def edge_loads(
    placement: Placement,
    rows: Sequence[int],
    inner: Sequence[int],
    relus: Sequence[int],
    *,
    mac_per_relu: float = 1000.0,
    encode: float = 0.07,
) -> list[float]:
    """The cost model of :func:`balanced`: the work of edges 1..K under ``placement`` (ReLU units)."""
    layers = len(rows)
    m = [len(placement.slice_hosts(ell)) for ell in range(1, layers + 1)]
    relu_l = [int(relus[ell]) if ell < layers - 1 else 0 for ell in range(layers)]
    hc, ec = _unit_costs(rows, inner, relu_l, m, float(mac_per_relu), float(encode))
    load = [0.0] * placement.edges
    for ell in range(layers):
        for j, h in enumerate(placement.slice_hosts(ell + 1)):
            load[h - 1] += hc[ell][j]
            if ell < layers - 1:
                load[placement.evaluators[ell][j] - 1] += ec[ell][j]
    return load
