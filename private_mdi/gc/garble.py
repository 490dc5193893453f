"""Half-gates garbling with free-XOR and point-and-permute, vectorised over copies of one circuit.

Scheme (Zahur, Rosulek, Evans, "Two Halves Make a Whole", EUROCRYPT 2015, §3), per copy c:

- Δ_c: a fresh 128-bit offset with lsb(Δ_c) = 1 (free-XOR, Kolesnikov–Schneider 2008); every wire w has
  zero label W⁰ and one label W¹ = W⁰ ⊕ Δ_c; the point-and-permute bit of a label is its lsb
  (Beaver–Micali–Rogaway 1990), so lsb(W⁰) is the wire's secret permutation bit.
- XOR: C⁰ = A⁰ ⊕ B⁰ (no table). NOT and copies: relabelling only (see :mod:`private_mdi.gc.plan`).
- AND gate number g (plan order) with p_a = lsb(A⁰), p_b = lsb(B⁰), tweaks j = 2(gC + c), j' = j + 1:

      T_G = H(A⁰, j) ⊕ H(A¹, j) ⊕ p_b·Δ          W_G = H(A⁰, j) ⊕ p_a·T_G
      T_E = H(B⁰, j') ⊕ H(B¹, j') ⊕ A⁰           W_E = H(B⁰, j') ⊕ p_b·(T_E ⊕ A⁰)
      C⁰ = W_G ⊕ W_E,   table = (T_G, T_E): 2 ciphertexts = 32 bytes.

  The evaluator holding A, B computes C = [H(A, j) ⊕ s_a·T_G] ⊕ [H(B, j') ⊕ s_b·(T_E ⊕ A)] with s = lsb.
- H(x, i) = π(π(x) ⊕ i) ⊕ π(x) is the TCCR hash of :mod:`private_mdi.gc.hash` (Guo–Katz–Wang–Yu,
  ePrint 2019/074): per AND 4 hashes (8 AES blocks) to garble and 2 hashes (4 AES blocks) to evaluate, in
  two AES-ECB calls per AND level over all gates and copies of that level. Every tweak is used once per
  Δ, which is the condition of the TCCR theorem.

**Δ per copy.** Each copy (one neuron) is an independently garbled circuit with its own Δ_c; two calls
of :func:`garble` never share a Δ (fresh from the CSPRNG each time). Sharing one Δ over the copies would be
equally standard; per-copy Δ costs nothing measurable and keeps copies separable.

**Output decoding and invalid labels.** The decoder holds d = lsb(W⁰) per output wire (value =
lsb(L) ⊕ d) and, for each output wire, 64-bit tags of its two valid labels indexed by permute bit,
tag(L) = low 64 bits of H(L, 2^64 + o·C + c) (o = output position; bit 64 separates these tweaks from
gate tweaks). A label that is not one of the two valid labels passes with probability 2^-64, so garbage
from an invalid input label raises :class:`~private_mdi.errors.GarbledDecodeError` instead of decoding
to a valid-looking bit. Cost: 16 extra bytes per output wire per copy (plus the decoding bit). The tags
reveal nothing beyond TCCR outputs under fresh tweaks; the evaluator learns the output bits, which it is
meant to learn.

What leaks to the evaluator: the circuit (topology, sizes, constants in it), the permute bits of the
active labels (uniform and independent of the values) and the decoded output. The garbler learns nothing
from garbling.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from cmpc.checks import check_int
from cmpc.rand import RandomSource, resolve

from ..errors import ParameterError
from . import aesni, kernels
from .circuit import Circuit
from .encoding import Decoder, Encoder, GarbledCircuit, Labels, output_tags
from .hash import FixedKeyAES
from .levels import (
    Scratch,
    evaluate_chunk_fused,
    evaluate_chunk_numpy,
    garble_chunk_fused,
    garble_chunk_numpy,
)
from .plan import Plan

__all__ = [
    "Garbling",
    "available_backends",
    "decode",
    "encode",
    "evaluate",
    "evaluate_copies",
    "garble",
    "get_backend",
    "output_tags",
    "run",
    "set_backend",
    "set_threads",
]

_ONE = np.uint64(1)

_BACKENDS = (("aesni",) if aesni.AVAILABLE else ()) + (("numba",) if kernels.HAVE_NUMBA else ()) + ("numpy",)
_backend = os.environ.get("PRIVATE_MDI_GC_BACKEND", _BACKENDS[0])
#: threads of the aesni backend's garbling and evaluation (copies split evenly; 1 = this thread)
_threads = 1
if _backend not in _BACKENDS:
    _backend = _BACKENDS[0]


_GARBLE_RUNNERS = {"numba": garble_chunk_fused, "numpy": garble_chunk_numpy}
_EVALUATE_RUNNERS = {"numba": evaluate_chunk_fused, "numpy": evaluate_chunk_numpy}


def available_backends() -> tuple[str, ...]:
    """Per-level kernels available here, fastest first: ``"aesni"`` (one compiled loop per level with the
    hash inside, :mod:`private_mdi.gc.aesni`: numba and a CPU with AES-NI), ``"numba"`` (compiled loops
    around batched AES-ECB calls of :mod:`cryptography`) and ``"numpy"``."""
    return _BACKENDS


def get_backend() -> str:
    """The backend in use (default: the first of :func:`available_backends`; env PRIVATE_MDI_GC_BACKEND
    overrides)."""
    return _backend


def set_backend(name: str) -> str:
    """Select the per-level kernels; returns the previous choice. All give bit-identical results."""
    global _backend
    if name not in _BACKENDS:
        raise ParameterError(f"backend must be one of {_BACKENDS}, got {name!r}")
    previous, _backend = _backend, name
    return previous


def set_threads(n: int) -> int:
    """Threads of the ``aesni`` backend's garbling and evaluation (default 1); returns the previous value.

    The copies are split into n contiguous ranges, one per thread (the compiled kernels release the GIL);
    results are bit-identical for every n (tweaks come from the global copy index). A range gets at least
    64 copies, so small garblings stay on one thread. Other backends ignore it.
    """
    global _threads
    n = check_int("threads", n, lo=1, hi=256)
    previous, _threads = _threads, n
    return previous


@dataclass(frozen=True, eq=False)
class Garbling:
    """Result of :func:`garble`: the garbled circuit (for the evaluator), the encoder (garbler's secret)
    and the decoder (for whoever decodes the outputs)."""

    garbled: GarbledCircuit
    encoder: Encoder
    decoder: Decoder

    @property
    def circuit(self) -> Circuit:
        return self.garbled.circuit

    @property
    def copies(self) -> int:
        return self.garbled.copies

    @property
    def tables(self) -> np.ndarray:
        return self.garbled.tables


def _check_copies(copies: object) -> int:
    return check_int("copies", copies, lo=1, hi=2**31)


#: Target size of the label array of one chunk of copies: copies are garbled and evaluated in chunks so
#: that the working set stays bounded (memory is O(chunk · slots), not O(copies · slots)).
CHUNK_BYTES = 32 << 20


def _chunk(plan: Plan, copies: int) -> int:
    """Copies per chunk: at most CHUNK_BYTES of labels (but >= 8), chunks of nearly equal size."""
    largest = max(8, min(copies, CHUNK_BYTES // (16 * plan.n_slots)))
    n_chunks = -(-copies // largest)
    return -(-copies // n_chunks)


def _garble_plan(plan: Plan, zero_in: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run the garbler: zero_in (n_in, C, 2), delta (C, 2) -> tables, stored output labels.

    Returns tables (n_and, 2 [T_G, T_E], C, 2) and the stored labels S of the output slots (n_out, C, 2);
    the true zero label of output o is S ⊕ out_inv[o]·Δ. Copies run in chunks (see CHUNK_BYTES) with
    tweaks from the global copy index, so the result does not depend on the chunking or the backend.
    """
    copies = delta.shape[0]
    if _backend == "aesni":
        return aesni.garble_plan(plan, zero_in, delta, threads=_threads)
    chunk = _chunk(plan, copies)
    runner = _GARBLE_RUNNERS[_backend]
    tables = np.empty((plan.n_and, 2, copies, 2), dtype=np.uint64)
    out = np.empty((plan.out_slots.size, copies, 2), dtype=np.uint64)
    L = np.empty((plan.n_slots, chunk, 2), dtype=np.uint64)
    sc = Scratch(plan, chunk, 4)
    for c0 in range(0, copies, chunk):
        c1 = min(copies, c0 + chunk)
        Lc = L if c1 - c0 == chunk else np.empty((plan.n_slots, c1 - c0, 2), dtype=np.uint64)
        Lc[: plan.n_inputs] = zero_in[:, c0:c1]
        Lc[plan.zero_slot] = 0
        dc = np.ascontiguousarray(delta[c0:c1])
        runner(plan, Lc, dc, tables[:, :, c0:c1], copies, c0, sc)
        out[:, c0:c1] = np.take(Lc, plan.out_slots, axis=0)
    return tables, out


def _evaluate_plan(
    plan: Plan, tables: np.ndarray, labels_in: np.ndarray, total: int | None = None, first: int = 0
) -> np.ndarray:
    """Run the evaluator: labels_in (n_in, C, 2) -> output labels (n_out, C, 2).

    ``total``/``first``: the C copies are copies ``first .. first + C − 1`` of a garbling of ``total``
    copies (the tweaks depend on both); default: the whole garbling.
    """
    copies = labels_in.shape[1]
    total = copies if total is None else total
    if _backend == "aesni":
        return aesni.evaluate_plan(plan, tables, labels_in, total, first, threads=_threads)
    chunk = _chunk(plan, copies)
    runner = _EVALUATE_RUNNERS[_backend]
    out = np.empty((plan.out_slots.size, copies, 2), dtype=np.uint64)
    L = np.empty((plan.n_slots, chunk, 2), dtype=np.uint64)
    sc = Scratch(plan, chunk, 2)
    for c0 in range(0, copies, chunk):
        c1 = min(copies, c0 + chunk)
        Lc = L if c1 - c0 == chunk else np.empty((plan.n_slots, c1 - c0, 2), dtype=np.uint64)
        Lc[: plan.n_inputs] = labels_in[:, c0:c1]
        Lc[plan.zero_slot] = 0
        runner(plan, Lc, tables[:, :, c0:c1], total, first + c0, sc)
        out[:, c0:c1] = np.take(Lc, plan.out_slots, axis=0)
    return out


def garble(circuit: Circuit, copies: int = 1, rng: RandomSource | None = None) -> Garbling:
    """Garble ``copies`` independent copies of ``circuit`` (one fresh Δ and fresh input labels per copy).

    Returns a :class:`Garbling` holding the garbled tables (32 bytes per AND gate per copy), the
    encoder (zero input labels and Δ: secret) and the decoder.
    """
    if not isinstance(circuit, Circuit):
        raise ParameterError(f"circuit must be a Circuit, got {type(circuit).__name__}")
    copies = _check_copies(copies)
    if rng is not None and not isinstance(rng, RandomSource):
        raise ParameterError(
            f"rng must be a cmpc.rand.RandomSource or None, got {type(rng).__name__} "
            "(labels and Δ are secrets: numpy/random generators are not allowed)"
        )
    rng = resolve(rng)
    plan = circuit.plan()
    n_in = circuit.n_inputs
    delta = rng.labels(copies)
    delta[:, 0] |= _ONE
    zero_w = rng.labels(n_in * copies).reshape(n_in, copies, 2)  # wire-major, as the garbler uses them
    tables, out_stored = _garble_plan(plan, zero_w, delta)
    zero = zero_w.transpose(1, 0, 2)  # (copies, n_in, 2) view for the encoder
    # true zero labels of the outputs: S ⊕ inv·Δ ; decoding bit d = lsb(W⁰)
    inv = plan.out_inv.astype(bool)
    out_zero = out_stored.copy()
    out_zero[inv] ^= delta
    out_zero = np.ascontiguousarray(out_zero.transpose(1, 0, 2))  # (C, n_out, 2)
    d = (out_zero[..., 0] & _ONE).astype(np.uint8)
    out_one = out_zero ^ delta[:, None, :]
    aes = FixedKeyAES()
    tag0 = output_tags(out_zero, aes)
    tag1 = output_tags(out_one, aes)
    tags = np.empty((*out_zero.shape[:2], 2), dtype=np.uint64)
    # index by permute bit: the label with lsb s sits at position s
    tags[..., 0] = np.where(d == 0, tag0, tag1)
    tags[..., 1] = np.where(d == 0, tag1, tag0)
    return Garbling(
        garbled=GarbledCircuit(circuit, tables),
        encoder=Encoder(circuit, zero, delta),
        decoder=Decoder(circuit, d, tags),
    )


def encode(encoder: Encoder, party_inputs: np.ndarray | Mapping[str, np.ndarray]) -> Labels:
    """Active input labels for bits (copies, n_inputs) or a mapping group name -> (copies, width) bits."""
    return encoder.encode(party_inputs)


def evaluate(gc: Garbling | GarbledCircuit, labels: Labels | np.ndarray) -> Labels:
    """Evaluate the garbled tables on active input labels.

    ``labels``: (copies, n_inputs, 2) uint64 or :class:`Labels`; returns the output labels
    (copies, n_outputs, 2). An invalid input label gives garbage that :func:`decode` rejects.
    """
    garbled = gc.garbled if isinstance(gc, Garbling) else gc
    if not isinstance(garbled, GarbledCircuit):
        raise ParameterError(f"gc must be a Garbling or GarbledCircuit, got {type(gc).__name__}")
    lab = labels if isinstance(labels, Labels) else Labels(labels)
    circuit = garbled.circuit
    if lab.array.shape[:2] != (garbled.copies, circuit.n_inputs):
        raise ParameterError(
            f"labels must have shape ({garbled.copies}, {circuit.n_inputs}, 2), got {lab.array.shape}"
        )
    plan = circuit.plan()
    if garbled.tables.shape != (plan.n_and, 2, garbled.copies, 2):
        raise ParameterError(f"tables have shape {garbled.tables.shape}, expected "
                             f"({plan.n_and}, 2, {garbled.copies}, 2)")
    out = _evaluate_plan(plan, garbled.tables, lab.array.transpose(1, 0, 2))
    return Labels(np.ascontiguousarray(out.transpose(1, 0, 2)))


def evaluate_copies(garbled: GarbledCircuit, labels: Labels, first: int) -> Labels:
    """Evaluate copies ``first .. first + labels.copies − 1`` of a multi-copy garbling on their active
    input labels (the tweaks are those of the whole garbling, so a contiguous range of copies can be
    evaluated alone: used to evaluate several inferences' copies of one chunk garbling in one call).
    Decode with :meth:`~.encoding.Decoder.decode_copies` and the same ``first``."""
    if not isinstance(garbled, GarbledCircuit) or not isinstance(labels, Labels):
        raise ParameterError("evaluate_copies needs a GarbledCircuit and Labels")
    circuit, n = garbled.circuit, labels.copies
    first = check_int("first", first, lo=0, hi=garbled.copies - n)
    if labels.array.shape[1] != circuit.n_inputs:
        raise ParameterError(
            f"labels cover {labels.array.shape[1]} wires, the circuit has {circuit.n_inputs}"
        )
    tables = garbled.tables[:, :, first : first + n]
    out = _evaluate_plan(circuit.plan(), tables, labels.array.transpose(1, 0, 2), garbled.copies, first)
    return Labels(np.ascontiguousarray(out.transpose(1, 0, 2)))


def decode(decoder: Decoder, output_labels: Labels | np.ndarray) -> np.ndarray:
    """Output bits (copies, n_out) uint8 from output labels; GarbledDecodeError on an invalid label."""
    if not isinstance(decoder, Decoder):
        raise ParameterError(f"decoder must be a Decoder, got {type(decoder).__name__}")
    return decoder.decode(output_labels)


def run(circuit: Circuit, bits: np.ndarray, rng: RandomSource | None = None) -> np.ndarray:
    """Garble, encode, evaluate and decode in one go: bits (copies, n_inputs) -> (copies, n_outputs).

    A 1-D ``bits`` of length n_inputs is one copy and gives a 1-D result.
    """
    if np.ndim(bits) == 1:
        return run(circuit, np.asarray(bits)[None, :], rng)[0]
    arr = circuit.check_input_bits(bits)
    g = garble(circuit, copies=max(arr.shape[0], 1), rng=rng)
    if arr.shape[0] == 0:
        return np.zeros((0, circuit.n_outputs), dtype=np.uint8)
    labels = encode(g.encoder, arr)
    return decode(g.decoder, evaluate(g.garbled, labels))
