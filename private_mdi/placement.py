"""Placement of privateMDI's linear layers on the K edge servers, and its validity rule.

Linear layer ℓ (1-based) is computed by edge ``host(ℓ) ∈ {1..K}``; the garbled ReLU after layer ℓ is
evaluated by ``host(ℓ+1)`` (paper arXiv 2407.18353 §III). Rule: K ≥ 2 and consecutive linear layers
on different edges, because the edge holding a layer's output share must not also evaluate the
garbled ReLU that consumes it (it would hold both the masked value and the decoding). The default is
round-robin, ``host(ℓ) = ((ℓ − 1) mod K) + 1`` (:func:`round_robin`).

Designed for growth: a :class:`Placement` answers "which edge computes layer ℓ" through
:meth:`Placement.host` / :meth:`Placement.layers_of`, so a later version can give slices of one layer's
outputs to several edges (``hosts[ℓ − 1]`` then becomes a tuple of (edge, output slice)) without
changing callers that ask through these methods.

What leaks: nothing; the placement is public.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ParameterError, PlacementError

__all__ = ["Placement", "round_robin", "validate_placement"]


@dataclass(frozen=True)
class Placement:
    """Which edge (1..K) holds each linear layer; ``hosts[ℓ − 1] = host(ℓ)``."""

    edges: int
    hosts: tuple[int, ...]

    def host(self, layer: int) -> int:
        """The edge that computes linear layer ``layer`` (1-based)."""
        return self.hosts[layer - 1]

    def evaluator(self, layer: int) -> int:
        """The edge that evaluates the garbled ReLU after linear layer ``layer`` (= host(layer + 1))."""
        if not 1 <= layer < len(self.hosts):
            raise ParameterError(
                f"layer must be in [1, {len(self.hosts) - 1}] (has a ReLU after it), got {layer}"
            )
        return self.hosts[layer]

    def layers_of(self, edge: int) -> list[int]:
        """The linear layers (1-based) that ``edge`` holds."""
        return [i + 1 for i, h in enumerate(self.hosts) if h == edge]


def validate_placement(hosts: Sequence[int], edges: int, layers: int) -> Placement:
    """Check the placement rule and return a :class:`Placement` (raises :class:`PlacementError`)."""
    if isinstance(edges, bool) or not isinstance(edges, int | np.integer) or int(edges) < 2:
        raise PlacementError(f"privateMDI needs K >= 2 edge servers, got edges={edges!r}")
    edges = int(edges)
    try:
        hosts_t = tuple(int(h) for h in hosts)
    except (TypeError, ValueError) as exc:
        raise PlacementError(f"hosts must be a sequence of edge numbers 1..{edges}, got {hosts!r}") from exc
    if len(hosts_t) != layers:
        raise PlacementError(
            f"placement must give one edge per linear layer: {layers} layers, got {len(hosts_t)}"
        )
    for i, h in enumerate(hosts_t, start=1):
        if not 1 <= h <= edges:
            raise PlacementError(f"linear layer {i} placed on edge {h}, edges are numbered 1..{edges}")
    for i in range(1, layers):
        if hosts_t[i - 1] == hosts_t[i]:
            raise PlacementError(
                f"linear layers {i} and {i + 1} are both on edge {hosts_t[i]}: consecutive linear layers "
                "must be on different edges (the edge holding a layer's output share must not evaluate "
                "the garbled ReLU that consumes it)"
            )
    return Placement(edges=edges, hosts=hosts_t)


def round_robin(edges: int, layers: int) -> Placement:
    """``host(ℓ) = ((ℓ − 1) mod K) + 1`` for ℓ = 1..layers, validated."""
    if isinstance(edges, bool) or not isinstance(edges, int | np.integer) or int(edges) < 2:
        raise PlacementError(f"privateMDI needs K >= 2 edge servers, got edges={edges!r}")
    return validate_placement([((i - 1) % int(edges)) + 1 for i in range(1, layers + 1)], int(edges), layers)
