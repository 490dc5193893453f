"""Coded BGW-style secure matrix multiplication Y = AᵀB: sessions, roles, drivers.

``simulate(code, A, B, field=F)`` runs every party in memory; ``Session``, ``make_role`` and
``run_role`` are what a party process uses in a real run.
"""

from .certificate import Certificate, InvalidSessionError, UncertifiedSessionError
from .driver import SimulationReport, exact_product, run_role, simulate
from .roles import Master, Role, Source, Worker, make_role
from .session import CodeSpec, Session

__all__ = [
    "Certificate",
    "CodeSpec",
    "InvalidSessionError",
    "Master",
    "Role",
    "Session",
    "SimulationReport",
    "Source",
    "UncertifiedSessionError",
    "Worker",
    "exact_product",
    "make_role",
    "run_role",
    "simulate",
]
