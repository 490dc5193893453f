"""privateMDI's parties as sans-I/O state machines, their messages and how they are run.

* :mod:`.spec` — :class:`SessionSpec` (public parameters), party names, meter phases;
* :mod:`.messages` — one class per message kind, checked byte codecs;
* :mod:`.client` (the orchestrator), :mod:`.cloud`, :mod:`.edge` — the roles;
* :mod:`.layout` — Paillier batches, circuits and wire bits all roles agree on; :mod:`.material` —
  single-use stores;
* :mod:`.execution` — the same roles run sequentially (deterministic), in threads or as processes
  (:mod:`.party` is a party process), all through :mod:`cmpc.runtime`.
"""

from .client import Client
from .cloud import Cloud, CloudLayer
from .edge import Edge
from .spec import CLIENT, CLOUD, Phase, SessionSpec, edge_name

__all__ = ["CLIENT", "CLOUD", "Client", "Cloud", "CloudLayer", "Edge", "Phase", "SessionSpec", "edge_name"]
