"""What one inference's offline material looks like on the wire: Paillier batches, circuits, wire bits.

Shared by the three roles so that they agree by construction: the Paillier request chunks
(:func:`batch_plan`, as many inferences per ciphertext as fit), the garbled circuit after each layer
(:func:`relu_circuit`: the privateMDI ReLU, or ReLU fused with max pooling), how a layer's outputs are
grouped into circuit copies (:func:`gather_windows`), the client's and the host's input bits
(:func:`client_wire_bits`, :func:`edge_wire_bits`), the 16-byte OT transfer id per (inference, layer)
(:func:`transfer_id`; pads never repeat within a session) and the label ↔ OT-row conversion.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol, TypeVar

import numpy as np

from ..gc.circuit import Circuit
from ..gc.relu import field_to_bits, privatemdi_maxpool_relu_circuit, privatemdi_relu_circuit
from ..paillier import CorrelationParams
from .spec import SessionSpec

__all__ = [
    "MAX_BATCH",
    "Span",
    "batch_plan",
    "chunk_containing",
    "client_wire_bits",
    "correlation_params",
    "edge_wire_bits",
    "gather_windows",
    "labels_to_rows",
    "online_batches",
    "relu_circuit",
    "rows_to_labels",
    "transfer_id",
]


class Span(Protocol):
    """A chunk of consecutive inferences ``[first, first + count)``."""

    first: int
    count: int


S = TypeVar("S", bound=Span)


def chunk_containing(chunks: Iterable[S], inference: int) -> S | None:
    """The chunk whose range holds ``inference``, or None."""
    for chunk in chunks:
        if chunk.first <= inference < chunk.first + chunk.count:
            return chunk
    return None


def correlation_params(spec: SessionSpec, layer: int, batch: int) -> CorrelationParams:
    """Public parameters of one Paillier correlation request for ``layer`` covering ``batch`` inferences."""
    return CorrelationParams(
        spec.p, spec.in_dim(layer), spec.dims[layer], spec.weight_bounds[layer - 1], batch
    )


def batch_plan(spec: SessionSpec, layer: int, first: int, n: int) -> Iterator[tuple[int, int]]:
    """Paillier request chunks ``(first id, count)`` for ``layer``: as many inferences per ciphertext as fit
    (``CorrelationParams.max_batch``)."""
    cap = correlation_params(spec, layer, 1).max_batch(spec.key_bits)
    done = 0
    while done < n:
        c = min(cap, n - done)
        yield first + done, c
        done += c


@functools.lru_cache(maxsize=16)
def _circuit(p: int, f: int, window: int) -> Circuit:
    if window == 1:
        return privatemdi_relu_circuit(p, f)
    return privatemdi_maxpool_relu_circuit(p, f, window)


def relu_circuit(spec: SessionSpec, layer: int) -> Circuit:
    """The garbled circuit after ``layer``: the privateMDI ReLU, or ReLU fused with max pooling over a
    window (inputs ``a``, ``b`` of window·k bits, ``r`` of k bits). Built once per (p, f, window)."""
    return _circuit(spec.p, spec.f, spec.window(layer))


def gather_windows(spec: SessionSpec, layer: int, values: np.ndarray, j: int = 0) -> np.ndarray:
    """Field elements of slice j of ``layer``'s outputs (…, rows of the slice) arranged per circuit copy:
    (…, copies, window)."""
    pool = spec.pool_slice(layer, j)
    return values[..., None] if pool is None else values[..., pool]


def client_wire_bits(
    spec: SessionSpec, layer: int, a: np.ndarray, r_next: np.ndarray, j: int = 0
) -> np.ndarray:
    """C's input bits of the circuits of slice j after ``layer``: (n, copies, (window + 1)·k), a's bits then
    r's (``a``: the slice's rows of a_ℓ; ``r_next``: the slice's copies of r_{ℓ+1})."""
    k = spec.bits
    a_bits = field_to_bits(gather_windows(spec, layer, a, j), spec.p)  # (n, copies, window, k)
    a_bits = a_bits.reshape(*a_bits.shape[:-2], -1)
    return np.concatenate([a_bits, field_to_bits(r_next, spec.p).reshape(*r_next.shape, k)], axis=-1)


def edge_wire_bits(spec: SessionSpec, layer: int, b: np.ndarray, j: int = 0) -> np.ndarray:
    """host(ℓ, j)'s input bits of slice j's circuits after ``layer``: (…, copies, window·k) for b of shape
    (…, rows of the slice) (one inference or a batch)."""
    bits = field_to_bits(gather_windows(spec, layer, b, j), spec.p)
    return bits.reshape(*bits.shape[:-2], -1)


#: the most inferences one online message may carry
MAX_BATCH = 4096


def online_batches(ids: Sequence[int], batch: int) -> Iterator[tuple[int, int]]:
    """Positions ``[lo, hi)`` of the online batches of ``ids``: runs of consecutive ids (an online message
    names its first inference and a count), at most ``batch`` long."""
    lo = 0
    while lo < len(ids):
        hi = lo + 1
        while hi < len(ids) and hi - lo < batch and ids[hi] == ids[hi - 1] + 1:
            hi += 1
        yield lo, hi
        lo = hi


def transfer_id(inference: int, layer: int) -> bytes:
    """16-byte OT transfer id, unique per (chunk's first inference, layer) within a session (chunks never
    overlap, so pads never repeat); ``layer`` is the message unit ℓ + 1024·j for slice j."""
    return b"PMDI" + inference.to_bytes(8, "little") + layer.to_bytes(4, "little")


def labels_to_rows(labels: np.ndarray) -> np.ndarray:
    """(…, 2) uint64 labels → (count, 16) uint8 rows (little-endian lo ‖ hi, as the GC encodings)."""
    flat = np.ascontiguousarray(labels.reshape(-1, 2).astype("<u8"))
    return flat.view(np.uint8).reshape(-1, 16)


def rows_to_labels(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`labels_to_rows` with the leading ``shape``."""
    return np.ascontiguousarray(rows).view("<u8").astype(np.uint64).reshape(*shape, 2)
