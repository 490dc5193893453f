"""Boolean circuits: wires, XOR/AND/INV/EQW/EQ gates, named input and output groups.

A :class:`Circuit` is a list of gates in topological order over ``n_wires`` wires. The input wires are
``0 .. n_inputs - 1``, split into consecutive named groups (``circuit.inputs``: name -> wire indices);
for the privateMDI ReLU these are ``"a"``, ``"r"`` (the client's wires) and ``"b"`` (the edge's). Output
groups name arbitrary wires (an output may also be an input wire or repeat another output). Every
non-input wire is written by exactly one gate.

Gate kinds (the Bristol Fashion set, see :mod:`private_mdi.gc.bristol`):

- ``XOR(a, b)`` and ``AND(a, b)``;
- ``INV(a)`` = NOT a;
- ``EQW(a)``: a copy of wire a;
- ``EQ(c)``: the constant c in {0, 1}.

The plaintext evaluator :meth:`Circuit.evaluate` runs the gate list directly, with the bits of all
copies of one wire packed into one Python integer (bit c = copy c), so one gate costs one big-integer
operation whatever the number of copies. It deliberately shares no code with the levelled schedule of
:mod:`private_mdi.gc.plan` used by the garbler, so that tests comparing the two are meaningful.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import CircuitError, ParameterError
from .bristol import parse_bristol_parts, read_bristol_text, write_bristol
from .gates import AND, EQ, EQW, INV, MAX_GATES, MAX_WIRES, OP_NAMES, XOR
from .plan import Plan, build_plan

__all__ = [
    "AND",
    "EQ",
    "EQW",
    "INV",
    "OP_NAMES",
    "XOR",
    "Circuit",
    "parse_bristol",
    "read_bristol",
    "write_bristol",
]



def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name:
        raise CircuitError(f"{what} names must be non-empty strings, got {name!r}")
    return name


class Circuit:
    """An immutable boolean circuit with named input and output groups.

    Parameters
    ----------
    n_wires:
        Number of wires; wires are ``0 .. n_wires - 1``.
    gates:
        Sequence of ``(op, in0, in1, out)`` with ``op`` one of :data:`XOR`, :data:`AND`,
        :data:`INV`, :data:`EQW`, :data:`EQ`. Unused inputs are ``-1``; for ``EQ`` the constant
        (0 or 1) is given as ``in0``. Gates must be in topological order.
    inputs:
        Ordered ``(name, width)`` pairs; the groups take the wires ``0 .. sum(width) - 1`` in order.
    outputs:
        Ordered mapping ``name -> wire indices`` (least-significant bit first by convention).

    Raises
    ------
    CircuitError
        On an unknown gate kind, a wire out of range, a wire written twice, a gate writing an input
        wire, a gate reading a wire before it is written, or an undefined output wire.
    """

    __slots__ = (
        "_fingerprint",
        "_inputs",
        "_n_inputs",
        "_outputs",
        "_plan",
        "gates",
        "n_wires",
    )

    def __init__(
        self,
        n_wires: int,
        gates: np.ndarray | Sequence[tuple[int, int, int, int]],
        inputs: Sequence[tuple[str, int]],
        outputs: Mapping[str, Sequence[int] | np.ndarray],
    ) -> None:
        n_wires = int(n_wires)
        if not 0 <= n_wires <= MAX_WIRES:
            raise CircuitError(f"n_wires must be in [0, {MAX_WIRES}] (gates.MAX_WIRES), got {n_wires}")
        if len(gates) > MAX_GATES:
            raise CircuitError(f"at most {MAX_GATES} gates (gates.MAX_GATES), got {len(gates)}")
        try:
            g = np.asarray(gates, dtype=np.int64)
        except (OverflowError, ValueError, TypeError) as exc:
            raise CircuitError(
                f"gates must be (op, in0, in1, out) integer tuples in int64 range: {exc}"
            ) from None
        if g.size == 0:
            g = np.zeros((0, 4), dtype=np.int64)
        if g.ndim != 2 or g.shape[1] != 4:
            raise CircuitError(f"gates must have shape (n_gates, 4), got {g.shape}")
        self.n_wires = n_wires
        self.gates = g
        self.gates.setflags(write=False)

        groups: dict[str, np.ndarray] = {}
        start = 0
        for name, width in inputs:
            _check_name(name, "input group")
            width = int(width)
            if not 0 <= width <= n_wires - start:
                raise CircuitError(f"input groups do not fit in n_wires = {n_wires} (group {name!r} has "
                                   f"width {width})")
            if name in groups:
                raise CircuitError(f"input group {name!r} appears twice")
            w = np.arange(start, start + width, dtype=np.int64)
            w.setflags(write=False)
            groups[name] = w
            start += width
        if start > n_wires:
            raise CircuitError(f"{start} input wires do not fit in n_wires = {n_wires}")
        self._inputs = groups
        self._n_inputs = start

        outs: dict[str, np.ndarray] = {}
        for name, wires in outputs.items():
            _check_name(name, "output group")
            w = np.asarray(wires, dtype=np.int64).reshape(-1)
            if w.size and (w.min() < 0 or w.max() >= n_wires):
                raise CircuitError(f"output group {name!r} names a wire outside [0, {n_wires})")
            w.setflags(write=False)
            outs[name] = w
        self._outputs = outs
        self._plan: Plan | None = None
        self._fingerprint: bytes | None = None
        self._validate()

    # -- validation ---------------------------------------------------------------------------------
    def _validate(self) -> None:
        g = self.gates
        n = self.n_wires
        if g.shape[0]:
            ops = g[:, 0]
            if ops.min() < 0 or ops.max() > EQ:
                bad = int(np.flatnonzero((ops < 0) | (ops > EQ))[0])
                raise CircuitError(f"gate {bad}: unknown gate kind {int(ops[bad])}")
            outs = g[:, 3]
            if outs.min() < 0 or outs.max() >= n:
                bad = int(np.flatnonzero((outs < 0) | (outs >= n))[0])
                raise CircuitError(f"gate {bad}: output wire {int(outs[bad])} outside [0, {n})")
            if outs.min() < self._n_inputs:
                bad = int(np.flatnonzero(outs < self._n_inputs)[0])
                raise CircuitError(f"gate {bad}: writes input wire {int(outs[bad])}")
            uniq, counts = np.unique(outs, return_counts=True)
            if (counts > 1).any():
                raise CircuitError(f"wire {int(uniq[counts > 1][0])} is written by more than one gate")
            # per-kind operand checks
            two = (ops == XOR) | (ops == AND)
            one = (ops == INV) | (ops == EQW)
            for col, mask in ((1, two | one), (2, two)):
                v = g[mask, col]
                if v.size and (v.min() < 0 or v.max() >= n):
                    bad = int(np.flatnonzero(mask & ((g[:, col] < 0) | (g[:, col] >= n)))[0])
                    raise CircuitError(f"gate {bad}: input wire {int(g[bad, col])} outside [0, {n})")
            eq = ops == EQ
            if eq.any() and not np.isin(g[eq, 1], (0, 1)).all():
                bad = int(np.flatnonzero(eq & ~np.isin(g[:, 1], (0, 1)))[0])
                raise CircuitError(f"gate {bad}: EQ constant must be 0 or 1, got {int(g[bad, 1])}")
            # topological order: every read wire is defined (input or earlier gate output)
            when = np.full(n, -1, dtype=np.int64)  # index of the gate defining the wire, -1 = input
            when[outs] = np.arange(g.shape[0])
            defined = np.zeros(n, dtype=bool)
            defined[: self._n_inputs] = True
            defined[outs] = True
            idx = np.arange(g.shape[0])
            for col, mask in ((1, two | one), (2, two)):
                rows = idx[mask]
                wires = g[mask, col]
                if wires.size == 0:
                    continue
                ok = defined[wires] & (when[wires] < rows)
                if not ok.all():
                    bad = int(rows[~ok][0])
                    raise CircuitError(
                        f"gate {bad}: reads wire {int(g[bad, col])} before it is written "
                        "(gates must be in topological order)"
                    )
        else:
            defined = np.zeros(n, dtype=bool)
            defined[: self._n_inputs] = True
        for name, w in self._outputs.items():
            if w.size and not defined[w].all():
                raise CircuitError(f"output group {name!r}: wire {int(w[~defined[w]][0])} is never written")

    # -- groups -------------------------------------------------------------------------------------
    @property
    def inputs(self) -> dict[str, np.ndarray]:
        """Input groups in order: name -> wire indices (consecutive, starting at 0)."""
        return dict(self._inputs)

    @property
    def outputs(self) -> dict[str, np.ndarray]:
        """Output groups in order: name -> wire indices."""
        return dict(self._outputs)

    @property
    def n_inputs(self) -> int:
        """Total number of input wires (the wires ``0 .. n_inputs - 1``)."""
        return self._n_inputs

    @property
    def output_wires(self) -> np.ndarray:
        """All output wires, groups concatenated in order."""
        if not self._outputs:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate(list(self._outputs.values()))

    @property
    def n_outputs(self) -> int:
        """Total number of output bits."""
        return int(sum(w.size for w in self._outputs.values()))

    def input_slice(self, name: str) -> slice:
        """The columns of the input bit matrix that belong to group ``name``."""
        w = self._group(name)
        return slice(int(w[0]) if w.size else 0, int(w[-1]) + 1 if w.size else 0)

    def output_slice(self, name: str) -> slice:
        """The columns of the output bit matrix that belong to output group ``name``."""
        start = 0
        for n, w in self._outputs.items():
            if n == name:
                return slice(start, start + w.size)
            start += w.size
        raise ParameterError(f"no output group {name!r}; groups are {list(self._outputs)}")

    def _group(self, name: str) -> np.ndarray:
        try:
            return self._inputs[name]
        except KeyError:
            raise ParameterError(f"no input group {name!r}; groups are {list(self._inputs)}") from None

    # -- statistics ---------------------------------------------------------------------------------
    def count(self, op: int) -> int:
        """Number of gates of kind ``op`` in the gate list."""
        return int(np.count_nonzero(self.gates[:, 0] == op))

    @property
    def n_gates(self) -> int:
        return int(self.gates.shape[0])

    @property
    def and_count(self) -> int:
        """AND gates in the gate list (the garbled cost: 32 bytes each; see also ``plan.n_and``)."""
        return self.count(AND)

    @property
    def and_depth(self) -> int:
        """Largest number of AND gates on a path from an input to a wire."""
        return int(self.plan().depth)

    def plan(self) -> Plan:
        """The levelled garbling schedule of this circuit (computed once, then cached)."""
        if self._plan is None:
            self._plan = build_plan(self)
        return self._plan

    @property
    def fingerprint(self) -> bytes:
        """SHA-256 (first 16 bytes) of a canonical encoding of the circuit; binds garbled material to it."""
        if self._fingerprint is None:
            h = hashlib.sha256(b"cmpc-toolkit/private_mdi/gc/circuit/v1\x00")
            h.update(self.n_wires.to_bytes(8, "little"))
            h.update(self.gates.astype("<i8").tobytes())
            for tag, groups in ((b"I", self._inputs), (b"O", self._outputs)):
                h.update(tag + len(groups).to_bytes(4, "little"))
                for name, w in groups.items():
                    nb = name.encode()
                    h.update(len(nb).to_bytes(4, "little") + nb)
                    h.update(w.size.to_bytes(8, "little") + w.astype("<i8").tobytes())
            self._fingerprint = h.digest()[:16]
        return self._fingerprint

    def __repr__(self) -> str:
        ins = ", ".join(f"{k}:{v.size}" for k, v in self._inputs.items())
        outs = ", ".join(f"{k}:{v.size}" for k, v in self._outputs.items())
        return (
            f"Circuit(wires={self.n_wires}, gates={self.n_gates}, AND={self.and_count}, "
            f"XOR={self.count(XOR)}, INV={self.count(INV)}, inputs=[{ins}], outputs=[{outs}])"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Circuit):
            return NotImplemented
        return self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    # -- Bristol Fashion ----------------------------------------------------------------------------
    @classmethod
    def from_bristol(
        cls, source: str | Path, *, input_names: Sequence[str] | None = None,
        output_names: Sequence[str] | None = None,
    ) -> Circuit:
        """Read a Bristol Fashion circuit from a file path (see :mod:`private_mdi.gc.bristol`)."""
        return cls.from_bristol_text(read_bristol_text(source), input_names=input_names,
                                     output_names=output_names)

    @classmethod
    def from_bristol_text(
        cls, text: str, *, input_names: Sequence[str] | None = None,
        output_names: Sequence[str] | None = None,
    ) -> Circuit:
        """Parse Bristol Fashion text (untrusted input is checked: see :mod:`private_mdi.gc.bristol`)."""
        n_wires, gates, inputs, outputs = parse_bristol_parts(text, input_names=input_names,
                                                              output_names=output_names)
        return cls(n_wires, gates, inputs, outputs)

    def to_bristol(self) -> str:
        """This circuit as Bristol Fashion text (wires renumbered; group names are not kept)."""
        return write_bristol(self)

    # -- plaintext evaluation -----------------------------------------------------------------------
    def check_input_bits(self, bits: np.ndarray | Sequence[Sequence[int]] | Sequence[int]) -> np.ndarray:
        """``bits`` as a (copies, n_inputs) uint8 0/1 array, or ParameterError naming the problem."""
        arr = np.asarray(bits)
        if arr.ndim != 2 or arr.shape[1] != self._n_inputs:
            raise ParameterError(
                f"input bits must have shape (copies, {self._n_inputs}), got {arr.shape}"
            )
        if arr.dtype == bool:
            return arr.astype(np.uint8)
        if not np.issubdtype(arr.dtype, np.integer):
            raise ParameterError(f"input bits must be integers 0/1, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise ParameterError("input bits must be 0 or 1")
        return arr.astype(np.uint8)

    def evaluate(self, bits: np.ndarray | Sequence[Sequence[int]] | Sequence[int]) -> np.ndarray:
        """Evaluate in the clear, vectorised over copies.

        ``bits`` has shape (copies, n_inputs) (columns = input wires in order); the result has shape
        (copies, n_outputs) (columns = output groups concatenated), dtype uint8. A 1-D ``bits`` of
        length n_inputs is one copy and gives a 1-D result.
        """
        if np.ndim(bits) == 1:
            return self.evaluate(np.asarray(bits)[None, :])[0]
        arr = self.check_input_bits(bits)
        copies = arr.shape[0]
        nbytes = (copies + 7) // 8
        vals: list[int] = [0] * self.n_wires
        if copies:
            packed = np.packbits(arr.T, axis=1, bitorder="little")
            for w in range(self._n_inputs):
                vals[w] = int.from_bytes(packed[w].tobytes(), "little")
        ones = (1 << copies) - 1
        for op, a, b, o in self.gates.tolist():
            if op == XOR:
                vals[o] = vals[a] ^ vals[b]
            elif op == AND:
                vals[o] = vals[a] & vals[b]
            elif op == INV:
                vals[o] = vals[a] ^ ones
            elif op == EQW:
                vals[o] = vals[a]
            else:  # EQ
                vals[o] = ones if a else 0
        outw = self.output_wires
        out = np.zeros((outw.size, nbytes), dtype=np.uint8)
        for i, w in enumerate(outw.tolist()):
            out[i] = np.frombuffer(vals[w].to_bytes(nbytes, "little"), dtype=np.uint8)
        res = np.unpackbits(out, axis=1, count=copies, bitorder="little")
        return np.ascontiguousarray(res.T)

    def evaluate_groups(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Evaluate with inputs given per group (each (copies, width)); outputs per group."""
        bits = self.join_inputs(inputs)
        out = self.evaluate(bits)
        return {name: out[:, self.output_slice(name)] for name in self._outputs}

    def require_groups(self, given: Mapping[str, object], what: str) -> None:
        """ParameterError unless ``given`` names exactly this circuit's input groups."""
        missing = [n for n in self._inputs if n not in given]
        extra = [n for n in given if n not in self._inputs]
        if missing or extra:
            raise ParameterError(
                f"{what} must give exactly the groups {list(self._inputs)}; "
                f"missing {missing}, unknown {extra}"
            )

    def join_inputs(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Concatenate per-group bit arrays (each (copies, width)) into the (copies, n_inputs) matrix."""
        self.require_groups(inputs, "inputs")
        parts = []
        copies: int | None = None
        for name, w in self._inputs.items():
            a = np.asarray(inputs[name])
            if a.ndim != 2 or a.shape[1] != w.size:
                raise ParameterError(
                    f"input group {name!r} must have shape (copies, {w.size}), got {a.shape}"
                )
            if copies is None:
                copies = a.shape[0]
            elif a.shape[0] != copies:
                raise ParameterError(f"input group {name!r} has {a.shape[0]} copies, expected {copies}")
            parts.append(a)
        if not parts:
            return np.zeros((0, 0), dtype=np.uint8)
        return self.check_input_bits(np.concatenate(parts, axis=1))


def concat_wires(groups: Iterable[np.ndarray]) -> np.ndarray:
    """Concatenate wire-index arrays (helper for callers assembling output groups)."""
    parts = list(groups)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def parse_bristol(
    text: str, *, input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None
) -> Circuit:
    """Parse Bristol Fashion text into a :class:`Circuit` (same as :meth:`Circuit.from_bristol_text`)."""
    return Circuit.from_bristol_text(text, input_names=input_names, output_names=output_names)


def read_bristol(
    path: str | Path, *, input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None
) -> Circuit:
    """Read a Bristol Fashion file (same as :meth:`Circuit.from_bristol`)."""
    return Circuit.from_bristol(path, input_names=input_names, output_names=output_names)
