"""A small circuit builder: bits, words (LSB first), integer and mod-p arithmetic with few AND gates.

Under free-XOR only AND gates cost (32 garbled bytes each), so every construction here minimises ANDs:

- full adder with **one** AND: s = x ⊕ y ⊕ c, c' = c ⊕ ((x ⊕ c) ∧ (y ⊕ c)), so a k-bit ripple adder
  or subtractor (x + ¬y + 1) costs k ANDs (Kolesnikov, Sadeghi, Schneider, CANS 2009);
- comparison x ≥ y = the carry-out of x + ¬y + 1 (k ANDs; the sum XORs are dead and removed);
- multiplexer s ? x1 : x0 = x0 ⊕ (s ∧ (x0 ⊕ x1)): one AND per bit;
- mod-p addition for k-bit p: s = x + y (k+1 bits), t = s − p, result = t + (borrow ∧ p) mod 2^k:
  k + k + (k − 1) = 3k − 1 ANDs; mod-p subtraction: d = x − y, result = d + (borrow ∧ p) mod 2^k:
  2k − 1 ANDs. Inputs must be in [0, p) (the result is unspecified otherwise).

Bits are ints: a wire id (>= 0) or one of the constants :data:`ZERO`, :data:`ONE`. The builder folds
constants (x ⊕ 0 = x, x ∧ 1 = x, x ∧ 0 = 0, x ⊕ x = 0, x ∧ ¬x = 0, ...), hashes structurally (the same
gate on the same inputs is made once), pushes NOT out of XOR (¬a ⊕ b = ¬(a ⊕ b)) and, in
:meth:`CircuitBuilder.build`, removes every gate no output depends on. Operations with a constant operand
therefore cost at most one AND per bit and often none (e.g. x ≥ 2^30 for a 31-bit x is the wire x_30).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import CircuitError, ParameterError
from .circuit import AND, EQ, INV, XOR, Circuit

__all__ = ["ONE", "ZERO", "Bit", "CircuitBuilder", "Word"]

Bit = int
Word = list[int]
#: the constant-0 bit
ZERO: Bit = -1
#: the constant-1 bit
ONE: Bit = -2


def _is_const(b: Bit) -> bool:
    return b < 0


class CircuitBuilder:
    """Build a :class:`~private_mdi.gc.circuit.Circuit` gate by gate or word by word.

    Example::

        cb = CircuitBuilder()
        x = cb.input("x", 8); y = cb.input("y", 8)
        s, carry = cb.add(x, y)
        cb.output("sum", s + [carry])
        circuit = cb.build()
    """

    def __init__(self) -> None:
        self._inputs: list[tuple[str, list[int]]] = []
        self._gates: list[tuple[int, int, int, int]] = []
        self._outputs: dict[str, list[Bit]] = {}
        self._n = 0
        self._cache: dict[tuple[int, int, int], int] = {}
        self._neg: dict[int, int] = {}  # wire -> its negation (both directions)
        self._is_inv: set[int] = set()  # wires produced by INV

    # -- wires --------------------------------------------------------------------------------------
    def _new(self) -> int:
        w = self._n
        self._n += 1
        return w

    def input(self, name: str, width: int) -> Word:
        """Declare an input group of ``width`` bits (LSB first); groups keep their declaration order."""
        if not isinstance(name, str) or not name:
            raise CircuitError(f"input name must be a non-empty string, got {name!r}")
        if any(n == name for n, _ in self._inputs):
            raise CircuitError(f"input group {name!r} declared twice")
        if int(width) < 0:
            raise CircuitError(f"width must be >= 0, got {width}")
        bits = [self._new() for _ in range(int(width))]
        self._inputs.append((name, bits))
        return list(bits)

    def output(self, name: str, bits: Sequence[Bit]) -> None:
        """Declare an output group (LSB first); constants are allowed."""
        if not isinstance(name, str) or not name:
            raise CircuitError(f"output name must be a non-empty string, got {name!r}")
        if name in self._outputs:
            raise CircuitError(f"output group {name!r} declared twice")
        self._outputs[name] = [self._check(b) for b in bits]

    def _check(self, b: Bit) -> Bit:
        if not isinstance(b, int | np.integer) or b < ONE or b >= self._n:
            raise CircuitError(f"{b!r} is not a bit of this builder")
        return int(b)

    @staticmethod
    def const(value: int, width: int) -> Word:
        """The constant ``value`` as ``width`` bits (ParameterError if it does not fit)."""
        value, width = int(value), int(width)
        if value < 0 or value >= 1 << width:
            raise ParameterError(f"constant {value} does not fit in {width} bits")
        return [ONE if (value >> i) & 1 else ZERO for i in range(width)]

    @property
    def and_count(self) -> int:
        """AND gates created so far (before dead-gate removal)."""
        return sum(1 for g in self._gates if g[0] == AND)

    # -- bits ---------------------------------------------------------------------------------------
    def not_(self, a: Bit) -> Bit:
        if a == ZERO:
            return ONE
        if a == ONE:
            return ZERO
        if a in self._neg:
            return self._neg[a]
        w = self._new()
        self._gates.append((INV, a, -1, w))
        self._neg[a] = w
        self._neg[w] = a
        self._is_inv.add(w)
        return w

    def _strip(self, a: Bit) -> tuple[Bit, int]:
        if a == ONE:
            return ZERO, 1
        if a in self._is_inv:
            return self._neg[a], 1
        return a, 0

    def xor(self, a: Bit, b: Bit) -> Bit:
        a, fa = self._strip(a)
        b, fb = self._strip(b)
        flip = fa ^ fb
        if a == ZERO:
            r = b
        elif b == ZERO:
            r = a
        elif a == b:
            r = ZERO
        else:
            key = (XOR, min(a, b), max(a, b))
            r = self._cache.get(key, -3)
            if r == -3:
                r = self._new()
                self._gates.append((XOR, key[1], key[2], r))
                self._cache[key] = r
        return self.not_(r) if flip else r

    def and_(self, a: Bit, b: Bit) -> Bit:
        if a == ZERO or b == ZERO:
            return ZERO
        if a == ONE:
            return b
        if b == ONE:
            return a
        if a == b:
            return a
        if self._neg.get(a) == b:
            return ZERO
        key = (AND, min(a, b), max(a, b))
        r = self._cache.get(key, -3)
        if r == -3:
            r = self._new()
            self._gates.append((AND, key[1], key[2], r))
            self._cache[key] = r
        return r

    def or_(self, a: Bit, b: Bit) -> Bit:
        """a ∨ b = ¬(¬a ∧ ¬b): one AND."""
        return self.not_(self.and_(self.not_(a), self.not_(b)))

    def mux(self, s: Bit, x0: Bit, x1: Bit) -> Bit:
        """s ? x1 : x0 = x0 ⊕ (s ∧ (x0 ⊕ x1)): one AND."""
        return self.xor(x0, self.and_(s, self.xor(x0, x1)))

    # -- words --------------------------------------------------------------------------------------
    @staticmethod
    def _pad(x: Sequence[Bit], width: int) -> Word:
        return list(x) + [ZERO] * (width - len(x))

    def add(self, x: Sequence[Bit], y: Sequence[Bit], carry_in: Bit = ZERO) -> tuple[Word, Bit]:
        """Ripple-carry x + y + carry_in: (sum of width max(|x|, |y|), carry out); one AND per bit."""
        width = max(len(x), len(y))
        xs, ys = self._pad(x, width), self._pad(y, width)
        c = carry_in
        out: Word = []
        for a, b in zip(xs, ys):
            axc = self.xor(a, c)
            out.append(self.xor(axc, b))
            c = self.xor(c, self.and_(axc, self.xor(b, c)))
        return out, c

    def sub(self, x: Sequence[Bit], y: Sequence[Bit]) -> tuple[Word, Bit]:
        """x − y mod 2^width and the borrow (1 iff x < y as unsigned integers); one AND per bit."""
        width = max(len(x), len(y))
        ny = [self.not_(b) for b in self._pad(y, width)]
        d, carry = self.add(self._pad(x, width), ny, ONE)
        return d, self.not_(carry)

    def ge(self, x: Sequence[Bit], y: Sequence[Bit]) -> Bit:
        """[x ≥ y] unsigned (carry-out of x + ¬y + 1)."""
        return self.not_(self.sub(x, y)[1])

    def lt(self, x: Sequence[Bit], y: Sequence[Bit]) -> Bit:
        """[x < y] unsigned."""
        return self.sub(x, y)[1]

    def gt(self, x: Sequence[Bit], y: Sequence[Bit]) -> Bit:
        return self.lt(y, x)

    def le(self, x: Sequence[Bit], y: Sequence[Bit]) -> Bit:
        return self.ge(y, x)

    def eq(self, x: Sequence[Bit], y: Sequence[Bit]) -> Bit:
        """[x = y]: an AND of XNORs (width − 1 ANDs)."""
        width = max(len(x), len(y))
        r = ONE
        for a, b in zip(self._pad(x, width), self._pad(y, width)):
            r = self.and_(r, self.not_(self.xor(a, b)))
        return r

    def mux_word(self, s: Bit, x0: Sequence[Bit], x1: Sequence[Bit]) -> Word:
        """s ? x1 : x0 bitwise (one AND per bit where x0 and x1 differ)."""
        width = max(len(x0), len(x1))
        return [self.mux(s, a, b) for a, b in zip(self._pad(x0, width), self._pad(x1, width))]

    def and_word(self, s: Bit, x: Sequence[Bit]) -> Word:
        """s ∧ x bitwise."""
        return [self.and_(s, a) for a in x]

    def xor_word(self, x: Sequence[Bit], y: Sequence[Bit]) -> Word:
        width = max(len(x), len(y))
        return [self.xor(a, b) for a, b in zip(self._pad(x, width), self._pad(y, width))]

    @staticmethod
    def shl(x: Sequence[Bit], n: int) -> Word:
        """x · 2^n mod 2^width (free: rewiring)."""
        n = min(int(n), len(x))
        return [ZERO] * n + list(x[: len(x) - n])

    @staticmethod
    def shr(x: Sequence[Bit], n: int) -> Word:
        """⌊x / 2^n⌋ for unsigned x, same width (free)."""
        n = min(int(n), len(x))
        return list(x[n:]) + [ZERO] * n

    @staticmethod
    def sar(x: Sequence[Bit], n: int) -> Word:
        """⌊x / 2^n⌋ for two's-complement x (arithmetic shift right), same width (free)."""
        if not x:
            return []
        n = min(int(n), len(x))
        return list(x[n:]) + [x[-1]] * n

    def mod_add(self, x: Sequence[Bit], y: Sequence[Bit], p: int) -> Word:
        """(x + y) mod p for x, y in [0, p) given as k = bit_length(p) bits: 3k − 1 ANDs."""
        k = self._modulus_bits(p, x, y)
        s, c = self.add(x, y)
        t, borrow = self.sub([*s, c], self.const(p, k + 1))
        return self.add(t[:k], self.and_word(borrow, self.const(p, k)))[0]

    def mod_sub(self, x: Sequence[Bit], y: Sequence[Bit], p: int) -> Word:
        """(x − y) mod p for x, y in [0, p) given as k = bit_length(p) bits: 2k − 1 ANDs."""
        k = self._modulus_bits(p, x, y)
        d, borrow = self.sub(x, y)
        return self.add(d, self.and_word(borrow, self.const(p, k)))[0]

    @staticmethod
    def _modulus_bits(p: int, x: Sequence[Bit], y: Sequence[Bit]) -> int:
        p = int(p)
        if p < 2:
            raise ParameterError(f"modulus p must be >= 2, got {p}")
        k = p.bit_length()
        if len(x) != k or len(y) != k:
            raise ParameterError(f"operands must have k = {k} bits for p = {p}, got {len(x)} and {len(y)}")
        return k

    # -- result -------------------------------------------------------------------------------------
    def build(self) -> Circuit:
        """The circuit: dead gates removed, wires renumbered (inputs first), constant outputs via EQ."""
        if not self._outputs:
            raise CircuitError("the circuit has no outputs")
        needed = bytearray(self._n)
        for bits in self._outputs.values():
            for b in bits:
                if b >= 0:
                    needed[b] = 1
        for op, a, b, o in reversed(self._gates):
            if needed[o]:
                needed[a] = 1
                if op in (XOR, AND):
                    needed[b] = 1
        new = np.full(self._n, -1, dtype=np.int64)
        nxt = 0
        groups = []
        for name, bits in self._inputs:
            for w in bits:
                new[w] = nxt
                nxt += 1
            groups.append((name, len(bits)))
        gates: list[tuple[int, int, int, int]] = []
        for op, a, b, o in self._gates:
            if not needed[o]:
                continue
            new[o] = nxt
            nxt += 1
            gates.append((op, int(new[a]), int(new[b]) if b >= 0 else -1, int(new[o])))
        const_wire: dict[int, int] = {}
        outputs: dict[str, list[int]] = {}
        for name, bits in self._outputs.items():
            ws = []
            for b in bits:
                if b >= 0:
                    ws.append(int(new[b]))
                else:
                    if b not in const_wire:
                        const_wire[b] = nxt
                        gates.append((EQ, 1 if b == ONE else 0, -1, nxt))
                        nxt += 1
                    ws.append(const_wire[b])
            outputs[name] = ws
        return Circuit(nxt, gates, groups, outputs)
