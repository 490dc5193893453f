"""Transports that carry protocol bytes between parties, and the meters that count them.

* :class:`~cmpc.net.base.Transport` — the one interface every role driver uses.
* :class:`~cmpc.net.memory.MemoryNetwork` — in-process transport for tests and simulation.
* :class:`~cmpc.net.tcp.TcpTransport` — TCP with mutual TLS 1.3 between party processes.
* :class:`~cmpc.net.link.LinkEmulator` — added latency and bandwidth caps per pair of parties.
* :class:`~cmpc.net.base.Meter` — bytes and messages per phase and per (sender, receiver) pair.
"""

from .base import Meter, Transport
from .config import NetworkConfig, load_config
from .link import LinkEmulator, LinkSpec
from .memory import MemoryNetwork, MemoryTransport
from .tcp import TcpTransport

__all__ = [
    "LinkEmulator",
    "LinkSpec",
    "MemoryNetwork",
    "MemoryTransport",
    "Meter",
    "NetworkConfig",
    "TcpTransport",
    "Transport",
    "load_config",
]
