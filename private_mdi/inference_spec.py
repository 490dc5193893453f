"""The public parameters of a :class:`~private_mdi.inference.PrivateInference`: placement and session spec.

Holds :func:`choose_placement` (the placement a session uses for its ``edges``/``hosts``/``split``
arguments: the balanced placement for ``split=``, round-robin by default, or the caller's, validated),
:func:`layer_granules` (rows per output channel of each linear layer's dense equivalent, so that split
convolutions are cut at channel boundaries) and :func:`session_spec` (the
:class:`~private_mdi.protocol.spec.SessionSpec` every party receives).

Public weight bounds: layer ℓ's Paillier bound is ``min(2^b − 1, (p − 1)/2)`` with ``b`` the bit length of
the largest ``|Ŵ_ℓ|`` (at least 1), so the client learns only ``b``
(:func:`~private_mdi.correlation_params.weight_bound_for` applies the same rounding).

What leaks: everything here is public by design (dimensions, placement, slices, pooling windows, p, f, key
size, the bit length of each layer's largest quantised weight); no weight or input value is read beyond
that bit length.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import PlacementError
from .model import Model
from .nn.layers import ReLU
from .placement import Placement, balanced, plan_slices, round_robin, validate_placement
from .protocol.spec import SessionSpec

__all__ = ["choose_placement", "layer_granules", "session_spec"]


def choose_placement(
    model: Model,
    edges: int,
    hosts: Sequence[int | Sequence[int]] | Placement | None = None,
    split: Mapping[int, int] | None = None,
) -> Placement:
    """The session's placement (rules and defaults: :mod:`private_mdi.placement_rules`).

    ``split`` without ``hosts``: :func:`~private_mdi.placement.balanced` on the model's dense equivalents;
    neither: :func:`~private_mdi.placement.round_robin`; a :class:`Placement` is re-validated with its
    evaluators kept; a host list is validated. Raises :class:`~private_mdi.errors.PlacementError`.
    """
    if hosts is not None and split:
        raise PlacementError(
            "give split slices either in hosts= (tuples of edges) or in split=, not both"
        )
    if hosts is None and split:
        # a split layer: balance the online work (placement.balanced; rules 1–3 hold by construction)
        lin = model.range_layers()
        return balanced(
            edges,
            [int(w.shape[0]) for w, *_ in lin],
            [int(w.shape[1]) for w, *_ in lin],
            model.relu_counts(),
            split=split,
        )
    elif hosts is None:
        return round_robin(edges, model.num_linear, split)
    elif isinstance(hosts, Placement):  # e.g. from placement.balanced: its evaluators are kept
        if hosts.edges != edges:
            raise PlacementError(f"hosts= is a placement on {hosts.edges} edges, but edges={edges}")
        return validate_placement(
            hosts.hosts, edges, model.num_linear, evaluators=hosts.evaluators
        )
    else:
        return validate_placement(hosts, edges, model.num_linear)


def layer_granules(model: Model) -> list[int]:
    """Rows per output channel of each linear layer's dense equivalent (1 unless it ends in a conv)."""
    shape, out = model.input_shape, []
    for layer in model.layers:
        if isinstance(layer, ReLU):
            out.append(math.prod(shape[1:]) if len(shape) == 3 else 1)
        shape = layer.output_shape(shape)
    out.append(math.prod(shape[1:]) if len(shape) == 3 else 1)
    return out


def session_spec(
    quantized: list[Any],
    p: int,
    f: int,
    placement: Placement,
    key_bits: int,
    granules: list[int] | None = None,
) -> SessionSpec:
    """The public :class:`SessionSpec`; ``granules`` (rows per output channel, :func:`layer_granules`) only
    matter for split layers (without them a split conv layer is cut at row boundaries)."""
    dims = (quantized[0].in_dim, *(q.out_dim for q in quantized))
    pools = tuple(
        None if q.pool is None else tuple(tuple(int(i) for i in win) for win in q.pool)
        for q in quantized[:-1]
    )
    # public Paillier weight bounds, rounded up to 2^b − 1 so that only the bit length b of each layer's
    # largest |Ŵ| is revealed to the client
    bounds = tuple(
        min((1 << max(1, q.weight_abs_max()).bit_length()) - 1, (p - 1) // 2)
        for q in quantized
    )
    slices: tuple[tuple[tuple[int, int, int, int], ...], ...] = ()
    if placement.split or any(
        ev != (placement.host(ell + 1),) for ell, ev in enumerate(placement.evaluators[:-1], start=1)
    ):
        planned = plan_slices(placement, dims, [q.pool for q in quantized[:-1]], granules)
        slices = tuple(tuple((s.host, s.lo, s.hi, s.evaluator) for s in sl) for sl in planned)
    return SessionSpec(
        slices=slices,
        p=p,
        f=f,
        dims=dims,
        hosts=tuple(placement.host(ell) for ell in range(1, len(quantized) + 1)),
        edges=placement.edges,
        weight_bounds=bounds,
        key_bits=key_bits,
        pools=pools,
    )
