"""Transports that carry protocol bytes between parties, and the meters that count them.

* :class:`~cmpc.net.base.Transport` — the one interface every role driver uses.
* :class:`~cmpc.net.memory.MemoryNetwork` — in-process transport for tests and simulation.
* :class:`~cmpc.net.base.Meter` — bytes and messages per phase and per (sender, receiver) pair.
"""

from .base import Meter, Transport
from .memory import MemoryNetwork, MemoryTransport

__all__ = ["MemoryNetwork", "MemoryTransport", "Meter", "Transport"]
