"""The privateMDI ReLU circuit (protocol step 2), a plain ReLU, max for max-pooling, and field <-> bits.

Field elements of GF(p) enter and leave circuits as k = bit_length(p) wires, **least-significant bit
first** (wire j of a group carries bit j). A value v in [0, p) stands for signed(v) = v if v ≤ (p−1)/2,
else v − p; ⌊·⌋ is floor division (an arithmetic shift right for negative values).

privateMDI ReLU (arXiv 2407.18353, our protocol page ``privatemdi-protocol.md`` step 2), per neuron:

    inputs  a, r (the client's wires), b (the edge's wires), each k bits, values in [0, p)
    output  (ReLU(⌊signed((a + b) mod p) / 2^f⌋) − r) mod p        (k bits)

Construction (AND gates, generic k-bit odd modulus; h = (p+1)/2):

1. s = a + b (k+1 bits, k ANDs); t = s − p and g = [s ≥ p] (k ANDs); v = g ? t : s bitwise (one AND per
   bit that is still needed, see 3).
2. neg = [v ≥ h] = [signed(v) < 0]. Because ⌊x / 2^f⌋ < 0 iff x < 0, ReLU(⌊signed(v)/2^f⌋) = 0 if neg,
   else v >> f: so no subtraction of p and no signed shift is ever computed. Two ways to get neg, and the
   builder keeps whichever costs fewer ANDs for the given (p, f):
   (v) compare v ≥ h: only the bits of v from the lowest set bit of h upwards matter (k − 1 − tz(h)
       ANDs, tz = trailing zeros), but they must be muxed;
   (s) neg = [s ≥ h] ⊕ g ⊕ [s ≥ p + h] (the three are nested, so their XOR is 1 exactly on
       [h, p) ∪ [p + h, 2p)): two constant comparisons on s, no extra mux bits.
   For p = 2^31 − 1, h = 2^30 and neg is the wire v_30: 0 ANDs.
3. y = ¬neg ∧ (v >> f): bits f .. k−2 of v (bit k−1 of a non-negative v is 0): k − 1 − f ANDs.
4. out = (y − r) mod p: 2k − 1 ANDs (y's top f + 1 bits are constant 0, which saves no AND in the
   borrow chain).

The function :func:`relu_and_counts` reports the garbled AND gates; see docs/gc.md for the table.

Nothing here is secret: the circuit is public; privacy comes from garbling it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cmpc.checks import check_int

from ..errors import ParameterError
from ..fixedpoint.core import signed  # the one centred lift of the package
from .builder import ZERO, CircuitBuilder, Word
from .circuit import Circuit

__all__ = [
    "bits_to_field",
    "field_bits",
    "field_to_bits",
    "max_circuit",
    "max_reference",
    "privatemdi_maxpool_relu_circuit",
    "privatemdi_relu_circuit",
    "privatemdi_relu_inputs",
    "privatemdi_relu_reference",
    "relu_and_counts",
    "relu_circuit",
    "relu_reference",
]

#: Largest supported modulus bit length (field elements travel as int64).
MAX_BITS = 62


def field_bits(p: int) -> int:
    """k = bit_length(p) after checking that p is an odd modulus in [3, 2^62)."""
    p = check_int("p", p)
    if p < 3 or p % 2 == 0 or p.bit_length() > MAX_BITS:
        raise ParameterError(f"p must be an odd modulus in [3, 2^{MAX_BITS}), got {p}")
    return p.bit_length()


def _check_f(f: int, k: int) -> int:
    return check_int("f", f, lo=0, hi=k - 1)  # f < k for a k-bit modulus


def field_to_bits(values: np.ndarray, p: int) -> np.ndarray:
    """Field elements (any shape, values in [0, p)) -> bits (..., k) uint8, least-significant bit first."""
    k = field_bits(p)
    v = np.asarray(values)
    if not np.issubdtype(v.dtype, np.integer):
        raise ParameterError(f"values must be integers, got dtype {v.dtype}")
    v = v.astype(np.int64)
    if v.size and (v.min() < 0 or v.max() >= p):
        raise ParameterError(f"values must be field elements in [0, {p})")
    shifts = np.arange(k, dtype=np.int64)
    return ((v[..., None] >> shifts) & 1).astype(np.uint8)


def bits_to_field(bits: np.ndarray, p: int | None = None) -> np.ndarray:
    """Bits (..., k) LSB first -> int64 values; with ``p`` also check that every value is below p."""
    b = np.asarray(bits)
    if b.ndim < 1 or b.shape[-1] > 63:
        raise ParameterError(f"bits must have a last axis of at most 63 bits, got shape {b.shape}")
    if p is not None and b.shape[-1] != field_bits(p):
        raise ParameterError(f"bits must have k = {field_bits(p)} columns for p = {p}, got {b.shape[-1]}")
    vals = (b.astype(np.int64) << np.arange(b.shape[-1], dtype=np.int64)).sum(axis=-1)
    if p is not None and vals.size and vals.max() >= p:
        raise ParameterError(f"decoded value {int(vals.max())} is not below p = {p}")
    return vals


# -- circuits ---------------------------------------------------------------------------------------
def _truncated_relu(cb: CircuitBuilder, s: Word, p: int, f: int, how: str) -> Word:
    """y = ReLU(⌊signed(s mod p) / 2^f⌋) for s in [0, 2p) given as k+1 bits; y as k bits."""
    k = p.bit_length()
    h = (p + 1) // 2
    t, borrow = cb.sub(s, cb.const(p, k + 1))
    g = cb.not_(borrow)  # s >= p
    v = cb.mux_word(g, s[:k], t[:k])
    if how == "v":
        neg = cb.ge(v, cb.const(h, k))
    else:
        neg = cb.xor(cb.xor(cb.ge(s, cb.const(h, k + 1)), g), cb.ge(s, cb.const(p + h, k + 1)))
    pos = cb.not_(neg)
    y = [cb.and_(pos, v[f + i]) for i in range(k - 1 - f)]
    return y + [ZERO] * (k - len(y))


def _relu_of_value(cb: CircuitBuilder, x: Word, p: int, f: int) -> Word:
    """ReLU(⌊signed(x)/2^f⌋) for x in [0, p) as k bits."""
    k = p.bit_length()
    neg = cb.ge(x, cb.const((p + 1) // 2, k))
    pos = cb.not_(neg)
    y = [cb.and_(pos, x[f + i]) for i in range(k - 1 - f)]
    return y + [ZERO] * (k - len(y))


def _best(builds: Mapping[str, Circuit]) -> Circuit:
    return min(builds.values(), key=lambda c: (c.plan().n_and, c.n_gates))


def privatemdi_relu_circuit(p: int, f: int, *, sign_test: str = "auto") -> Circuit:
    """Circuit of (ReLU(⌊signed((a + b) mod p) / 2^f⌋) − r) mod p per neuron.

    Input groups in order: ``"a"``, ``"r"`` (client), ``"b"`` (edge), k bits each, LSB first; output
    group ``"out"`` (k bits). Inputs must be field elements in [0, p); for other inputs the output is
    unspecified. ``sign_test`` picks the sign construction of step 2 of the module docstring: ``"v"``,
    ``"s"`` or ``"auto"`` (the one with fewer AND gates). See the module docstring for the AND count.
    """
    k = field_bits(p)
    f = _check_f(f, k)
    if sign_test not in ("auto", "v", "s"):
        raise ParameterError(f"sign_test must be 'auto', 'v' or 's', got {sign_test!r}")

    def build(how: str) -> Circuit:
        cb = CircuitBuilder()
        a = cb.input("a", k)
        r = cb.input("r", k)
        b = cb.input("b", k)
        s, c = cb.add(a, b)
        y = _truncated_relu(cb, [*s, c], p, f, how)
        cb.output("out", cb.mod_sub(y, r, p))
        return cb.build()

    if sign_test != "auto":
        return build(sign_test)
    return _best({"v": build("v"), "s": build("s")})


def relu_circuit(p: int, f: int = 0) -> Circuit:
    """Plain ReLU(⌊signed(x) / 2^f⌋) of a field element: input ``"x"``, output ``"y"`` (k bits each)."""
    k = field_bits(p)
    f = _check_f(f, k)
    cb = CircuitBuilder()
    x = cb.input("x", k)
    cb.output("y", _relu_of_value(cb, x, p, f))
    return cb.build()


def _signed_max(cb: CircuitBuilder, items: list[tuple[Word, int]], p: int) -> tuple[Word, int]:
    """Tree of pairwise maxima of (value, negative-bit) pairs in the signed order of GF(p)."""
    while len(items) > 1:
        nxt = []
        for i in range(0, len(items) - 1, 2):
            (x, nx), (y, ny) = items[i], items[i + 1]
            uge = cb.ge(x, y)
            # signed x >= y: equal signs -> unsigned comparison; different signs -> y is the negative one
            x_ge_y = cb.mux(cb.xor(nx, ny), uge, ny)
            nxt.append((cb.mux_word(x_ge_y, y, x), cb.mux(x_ge_y, ny, nx)))
        if len(items) % 2:
            nxt.append(items[-1])
        items = nxt
    return items[0]


def max_circuit(p: int, n: int = 2) -> Circuit:
    """Maximum of n field elements in the signed order: inputs ``"x0" .. "x{n-1}"``, output ``"y"``."""
    k = field_bits(p)
    n = check_int("n", n, lo=1)
    cb = CircuitBuilder()
    h = cb.const((p + 1) // 2, k)
    items = []
    for i in range(int(n)):
        x = cb.input(f"x{i}", k)
        items.append((x, cb.ge(x, h)))
    cb.output("y", _signed_max(cb, items, p)[0])
    return cb.build()


def privatemdi_maxpool_relu_circuit(p: int, f: int, window: int) -> Circuit:
    """Max-pooling fused with the privateMDI ReLU over a window of ``window`` neurons.

    Inputs ``"a"`` and ``"b"`` hold ``window`` field elements each (element j on bits j·k .. j·k+k−1),
    ``"r"`` one element; output ``"out"`` = (ReLU(⌊max_j signed((a_j + b_j) mod p) / 2^f⌋) − r) mod p,
    which equals the max of the per-neuron truncated ReLUs (both maps are monotone).
    """
    k = field_bits(p)
    f = _check_f(f, k)
    window = check_int("window", window, lo=1)
    cb = CircuitBuilder()
    a = cb.input("a", window * k)
    r = cb.input("r", k)
    b = cb.input("b", window * k)
    h = cb.const((p + 1) // 2, k)
    items = []
    for j in range(window):
        v = cb.mod_add(a[j * k : (j + 1) * k], b[j * k : (j + 1) * k], p)
        items.append((v, cb.ge(v, h)))
    m, neg = _signed_max(cb, items, p)
    pos = cb.not_(neg)
    y = [cb.and_(pos, m[f + i]) for i in range(k - 1 - f)]
    y = y + [ZERO] * (k - len(y))
    cb.output("out", cb.mod_sub(y, r, p))
    return cb.build()


# -- references and helpers -------------------------------------------------------------------------
def relu_reference(x: np.ndarray, p: int, f: int = 0) -> np.ndarray:
    """numpy reference of :func:`relu_circuit`: max(⌊signed(x)/2^f⌋, 0) as int64."""
    v = np.asarray(x, dtype=np.int64)
    return np.maximum(signed(v, p) >> f, 0)


def privatemdi_relu_reference(a: np.ndarray, r: np.ndarray, b: np.ndarray, p: int, f: int) -> np.ndarray:
    """numpy reference of :func:`privatemdi_relu_circuit` (int64, values in [0, p))."""
    a, r, b = (np.asarray(x, dtype=np.int64) for x in (a, r, b))
    y = relu_reference((a + b) % p, p, f)
    return (y - r) % p


def max_reference(xs: np.ndarray, p: int) -> np.ndarray:
    """numpy reference of :func:`max_circuit` along the last axis: the largest signed value, mod p."""
    v = np.asarray(xs, dtype=np.int64)
    return np.max(signed(v, p), axis=-1) % p


def privatemdi_relu_inputs(a: np.ndarray, r: np.ndarray, b: np.ndarray, p: int) -> dict[str, np.ndarray]:
    """The input bits of the privateMDI ReLU circuit per group: {"a", "r", "b"} -> (neurons, k) uint8."""
    return {"a": field_to_bits(a, p), "r": field_to_bits(r, p), "b": field_to_bits(b, p)}


def relu_and_counts(p: int, fs: tuple[int, ...] = (8, 10, 12, 16)) -> dict[int, int]:
    """Garbled AND gates per neuron of :func:`privatemdi_relu_circuit` for each f in ``fs``."""
    return {f: privatemdi_relu_circuit(p, f).plan().n_and for f in fs}

