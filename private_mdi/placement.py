"""Placement of privateMDI's linear layers on the K edge servers: which edge holds each layer or slice.

Linear layer ℓ (1-based) is computed by edge ``host(ℓ) ∈ {1..K}``; the garbled ReLU after layer ℓ is
evaluated by an edge ``evaluator(ℓ)`` (paper arXiv 2407.18353 §III: host(ℓ+1)). A layer may also be
**split** across several edges (slices of its output rows, each on its own edge, with its own evaluator).
This module is the public entry point and re-exports the names of

* :mod:`private_mdi.placement_rules`: :class:`Placement`, :class:`Slice`, :func:`validate_placement`,
  :func:`round_robin`, :func:`plan_slices`; the rules (1–4), the defaults and the default evaluators are
  stated in its docstring;
* :mod:`private_mdi.placement_balance`: :func:`balanced` and :func:`edge_loads`, the cost-model balancing
  of the edges' online work.

What leaks: nothing; the placement is public.
"""

from __future__ import annotations

from .placement_balance import balanced, edge_loads
from .placement_rules import MAX_SLICES as MAX_SLICES  # the slice limit, read from here by older code
from .placement_rules import Placement, Slice, plan_slices, round_robin, validate_placement

__all__ = [
    "Placement",
    "Slice",
    "balanced",
    "edge_loads",
    "plan_slices",
    "round_robin",
    "validate_placement",
]
