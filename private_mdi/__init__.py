"""privateMDI: private model-distributed inference with a client, a cloud and K edge servers.

``Model`` describes a network (dense, conv, pooling, ReLU) and its fixed-point reference;
``PrivateInference`` runs the offline and online phases (``docs/private-mdi.md``).
"""

from .inference import PrivateInference
from .model import Model

__all__ = ["Model", "PrivateInference"]
