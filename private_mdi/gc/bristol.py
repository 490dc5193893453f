"""Bristol Fashion circuit files: reader and writer.

Format (Archer, Bogdanov, Lindell, Smart et al., "Bristol Fashion" MPC circuits,
https://nigelsmart.github.io/MPC-Circuits/)::

    <n_gates> <n_wires>
    <niv> <width_1> ... <width_niv>        # input values, wires 0 .. sum(width) - 1 in this order
    <nov> <width_1> ... <width_nov>        # output values: the LAST sum(width) wires, in this order
    <blank line>
    <n_in> <n_out> <input wires...> <output wires...> <OP>     # one gate per line, topological order

with OP one of XOR, AND (2 → 1), INV, EQW (1 → 1), EQ (1 → 1, the "input" is the constant 0 or 1) and
MAND (2m → m: m AND gates, the first m inputs with the last m). The reader expands MAND into AND gates.

Bit order inside a value is whatever the circuit's author chose; for the AES-128 circuit shipped in
``tests/vectors/bristol_aes_128.txt`` the key is input 0 and the plaintext input 1, and each 128-bit value
enters least-significant bit first (wire j of a value carries bit j of the integer whose big-endian
16-byte encoding is the key/block), i.e. the bit string of the integer reversed; the output likewise.
This was checked against AES from ``cryptography`` (see tests/test_gc_bristol.py).

**Untrusted files.** Nothing is allocated from a header number before it is checked: every number must
be a non-negative decimal integer ≤ :data:`MAX_WIRES` (gate count ≤ :data:`MAX_GATES`); the gate count
must match the gate lines actually present; the declared wires may not exceed :data:`WIRES_PER_BYTE` per
character of the text (so the allocation is bounded by the file's own size);
gate wire numbers must be < n_wires; files larger than :data:`MAX_FILE_BYTES` are refused before being
read. Every failure is a :class:`~private_mdi.errors.CircuitError` naming the line and the problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import CircuitError
from .gates import AND, EQ, EQW, INV, MAX_GATES, MAX_WIRES, OP_NAMES, XOR, CircuitView

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_GATES",
    "MAX_WIRES",
    "WIRES_PER_BYTE",
    "BristolParts",
    "parse_bristol_parts",
    "read_bristol_text",
    "write_bristol",
]

#: Largest Bristol file :func:`read_bristol` reads (checked with stat before reading).
MAX_FILE_BYTES = 1 << 30
#: Declared wires allowed per byte of text (bounds unused input wires by the file's own size).
WIRES_PER_BYTE = 16

_OPS = {"XOR": XOR, "AND": AND, "INV": INV, "NOT": INV, "EQW": EQW, "EQ": EQ}
_MAX_DIGITS = 20  # no valid number has more digits; longer tokens are refused before int() sees them


def _ints(tokens: list[str], line_no: int, what: str, hi: int = MAX_WIRES) -> list[int]:
    """Non-negative decimal integers ≤ hi, or CircuitError naming the line and the offending token."""
    vals = []
    for t in tokens:
        if not (t.isascii() and t.isdigit()) or len(t) > _MAX_DIGITS:
            raise CircuitError(f"line {line_no}: {what} must be non-negative decimal integers, "
                               f"got {t[:40]!r}")
        v = int(t)
        if v > hi:
            raise CircuitError(f"line {line_no}: {what}: {v} exceeds the limit {hi}")
        vals.append(v)
    return vals


def _names(given: Sequence[str] | None, count: int, prefix: str, what: str) -> list[str]:
    if given is None:
        return [f"{prefix}{i}" for i in range(count)]
    names = list(given)
    if len(names) != count:
        raise CircuitError(f"{what}: {len(names)} names given for {count} groups")
    return names


class BristolParts(NamedTuple):
    """The arguments of :class:`~private_mdi.gc.circuit.Circuit` read from a Bristol file."""

    n_wires: int
    gates: list[tuple[int, int, int, int]]
    inputs: list[tuple[str, int]]
    outputs: dict[str, np.ndarray]


def parse_bristol_parts(
    text: str, *, input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None
) -> BristolParts:
    """Parse Bristol Fashion text into the parts of a circuit (``Circuit.from_bristol_text`` builds it).

    Input groups are named ``in0, in1, ...`` and output groups ``out0, ...`` unless names are given.
    Raises CircuitError (with the line number) on any malformed header or gate line; the Circuit
    constructor then checks wire order and single assignment.
    """
    lines = [(i + 1, ln.split()) for i, ln in enumerate(text.splitlines())]
    body = [(no, toks) for no, toks in lines if toks]
    if len(body) < 3:
        raise CircuitError("Bristol file needs a 3-line header (gates/wires, inputs, outputs)")
    (l1, h1), (l2, h2), (l3, h3) = body[0], body[1], body[2]
    if len(h1) != 2:
        raise CircuitError(f"line {l1}: expected '<n_gates> <n_wires>', got {' '.join(h1)[:80]!r}")
    n_gates = _ints(h1[:1], l1, "gate count", MAX_GATES)[0]
    n_wires = _ints(h1[1:], l1, "wire count", MAX_WIRES)[0]
    if n_wires > WIRES_PER_BYTE * len(text):
        raise CircuitError(f"line {l1}: {n_wires} wires declared in a {len(text)}-character file "
                           f"(at most {WIRES_PER_BYTE} per character): the header is wrong or the file cut")
    ins = _ints(h2, l2, "input header")
    if not ins or len(ins) != ins[0] + 1:
        raise CircuitError(f"line {l2}: input header must be '<niv> <width>*niv', got {' '.join(h2)[:80]!r}")
    outs = _ints(h3, l3, "output header")
    if not outs or len(outs) != outs[0] + 1:
        raise CircuitError(f"line {l3}: output header must be '<nov> <width>*nov', got {' '.join(h3)[:80]!r}")
    in_widths, out_widths = ins[1:], outs[1:]
    n_in, n_out = sum(in_widths), sum(out_widths)
    if n_in > n_wires or n_out > n_wires:
        raise CircuitError(f"line {l1}: {n_wires} wires cannot hold {n_in} inputs and {n_out} outputs")
    gate_lines = body[3:]
    if len(gate_lines) != n_gates:
        raise CircuitError(f"line {l1}: header announces {n_gates} gates, the file has {len(gate_lines)} "
                           "gate lines")
    gates: list[tuple[int, int, int, int]] = []
    for no, toks in gate_lines:
        if len(toks) < 3:
            raise CircuitError(f"line {no}: malformed gate {' '.join(toks)!r}")
        op = toks[-1].upper()
        k_in, k_out = _ints(toks[:2], no, "gate arity", len(toks))
        wires = _ints(toks[2:-1], no, "gate wires")
        bad = [w for w in (wires[1:] if op == "EQ" else wires) if w >= n_wires]
        if bad:
            raise CircuitError(f"line {no}: wire {bad[0]} is outside [0, {n_wires}) (n_wires in line {l1})")
        if len(wires) != k_in + k_out:
            raise CircuitError(f"line {no}: gate declares {k_in}+{k_out} wires but lists {len(wires)}")
        if op == "MAND":
            if k_in != 2 * k_out or k_out == 0:
                raise CircuitError(f"line {no}: MAND needs 2m inputs and m outputs, got {k_in} -> {k_out}")
            for j in range(k_out):
                gates.append((AND, wires[j], wires[k_out + j], wires[k_in + j]))
            continue
        if op not in _OPS:
            raise CircuitError(f"line {no}: unknown gate {toks[-1]!r} (XOR, AND, INV, EQ, EQW, MAND)")
        code = _OPS[op]
        want = 2 if code in (XOR, AND) else 1
        if k_in != want or k_out != 1:
            raise CircuitError(f"line {no}: {op} takes {want} input(s) and 1 output, got {k_in} -> {k_out}")
        if code == EQ:
            if wires[0] not in (0, 1):
                raise CircuitError(f"line {no}: EQ constant must be 0 or 1, got {wires[0]}")
            gates.append((EQ, wires[0], -1, wires[1]))
        elif want == 2:
            gates.append((code, wires[0], wires[1], wires[2]))
        else:
            gates.append((code, wires[0], -1, wires[1]))
    in_names = _names(input_names, len(in_widths), "in", "input_names")
    out_names = _names(output_names, len(out_widths), "out", "output_names")
    outputs = {}
    start = n_wires - n_out
    for name, w in zip(out_names, out_widths, strict=True):
        outputs[name] = np.arange(start, start + w)
        start += w
    return BristolParts(n_wires, gates, list(zip(in_names, in_widths, strict=True)), outputs)


def read_bristol_text(path: str | Path) -> str:
    """The text of a Bristol Fashion file of at most :data:`MAX_FILE_BYTES` bytes, ASCII only."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CircuitError(f"{path}: {size} bytes is larger than the {MAX_FILE_BYTES}-byte limit "
                               "for Bristol files")
        text = p.read_text(encoding="ascii")
    except UnicodeDecodeError:
        raise CircuitError(f"{path}: not an ASCII Bristol Fashion file") from None
    except OSError as exc:
        raise CircuitError(f"{path}: cannot read the Bristol file ({exc.strerror or exc})") from None
    return text


def write_bristol(circuit: CircuitView) -> str:
    """Bristol Fashion text for ``circuit``.

    Wires are renumbered: inputs keep 0 .. n_in - 1, internal wires follow in gate order and the
    outputs become the last wires in group order. An output that is an input wire, or appears more than
    once, or is not the result of a gate is copied with an EQW gate. Group names are not stored.
    """
    g = circuit.gates
    n_in = circuit.n_inputs
    out_w = circuit.output_wires.tolist()
    n_out = len(out_w)
    # which outputs can be produced directly by their gate (first occurrence of a gate-written wire)
    produced = {int(o): i for i, o in enumerate(g[:, 3].tolist())}
    direct: dict[int, int] = {}  # wire -> output position
    for pos, w in enumerate(out_w):
        if w in produced and w not in direct:
            direct[w] = pos
    copies = [pos for pos, w in enumerate(out_w) if direct.get(w) != pos]
    n_internal = len(produced) - len(direct)
    n_wires = n_in + n_internal + n_out
    new = {w: w for w in range(n_in)}
    nxt = n_in
    for o in g[:, 3].tolist():
        if o in direct:
            new[o] = n_in + n_internal + direct[o]
        else:
            new[o] = nxt
            nxt += 1
    lines = []
    for op, a, b, o in g.tolist():
        name = OP_NAMES[op]
        if op in (XOR, AND):
            lines.append(f"2 1 {new[a]} {new[b]} {new[o]} {name}")
        elif op == EQ:
            lines.append(f"1 1 {a} {new[o]} EQ")
        else:
            lines.append(f"1 1 {new[a]} {new[o]} {name}")
    for pos in copies:
        lines.append(f"1 1 {new[out_w[pos]]} {n_in + n_internal + pos} EQW")
    in_w = [w.size for w in circuit.inputs.values()]
    out_widths = [w.size for w in circuit.outputs.values()]
    head = [
        f"{len(lines)} {n_wires}",
        " ".join(str(x) for x in [len(in_w), *in_w]),
        " ".join(str(x) for x in [len(out_widths), *out_widths]),
        "",
    ]
    return "\n".join(head + lines) + "\n"
