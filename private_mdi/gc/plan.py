"""The levelled schedule that the garbler and the evaluator run: one batch of AND gates per AND level.

:func:`build_plan` compiles a :class:`~private_mdi.gc.circuit.Circuit` once into a :class:`Plan`:

1. **Aliasing.** INV, EQW and EQ gates cost nothing under free-XOR, so they disappear: every wire becomes a
   pair (node, inversion bit). A node is an input wire, an XOR node, an AND node, or the constant-zero node
   (whose label is the all-zero string for both garbler and evaluator). The garbler stores for a node the
   label S that means "value = inversion bit" of every wire aliasing it, so the true zero label of wire w
   is ``S ⊕ inv(w)·Δ``; the evaluator's label needs no correction at all. XOR nodes propagate inversions
   (``inv = inv_a ⊕ inv_b``); AND nodes see them only in the garbler, who XORs Δ into the inverted operands.
2. **Constant folding.** ``x ⊕ x = 0``, ``x ⊕ 0 = x``, ``x ∧ 0 = 0``, ``x ∧ 1 = x``, ``x ∧ x = x`` and
   ``x ∧ ¬x = 0`` are resolved at compile time, so no AND gate is garbled on a public value.
3. **Dead-gate removal.** Nodes that no output depends on are dropped (input wires are always kept).
4. **Levelling.** The AND depth of a node is 0 for inputs, ``max(inputs)`` for XOR and ``max(inputs)+1``
   for AND. Stage d holds the AND nodes of depth d (one batch: two AES-ECB calls, one per pass of the
   hash) followed by the XOR nodes of depth d in sub-levels (longest XOR path inside the stage), each
   sub-level one vectorised XOR.
5. **Slots.** Node labels live in one array indexed by slot: inputs first (slot = wire), then stage by
   stage the AND batch and the XOR sub-levels, each a contiguous range (results are written in place, only
   operands are gathered), and the zero slot last.

AND gates are numbered in slot order (stage by stage, and inside a stage in gate-list order). That number
``g`` fixes the gate's place in the garbled tables and its hash tweaks, so garbler and evaluator must
use the same plan: it is a deterministic function of the circuit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .gates import EQ, EQW, INV, XOR, CircuitView

__all__ = ["AndBatch", "FlatPlan", "Plan", "RegisterPlan", "Stage", "XorBatch", "build_plan"]

_INPUT, _ZERO, _XOR, _AND = 0, 1, 2, 3


@dataclass(frozen=True)
class AndBatch:
    """AND gates of one stage: operand slots, inverted-operand positions, output slot range."""

    a: np.ndarray  # (G,) operand slots
    b: np.ndarray
    inv_a: np.ndarray  # positions in [0, G) whose first operand is inverted (garbler only)
    inv_b: np.ndarray
    flags_a: np.ndarray  # (G,) uint8: 1 where the first operand is inverted (same information)
    flags_b: np.ndarray
    out_start: int  # outputs go to slots out_start .. out_start + G - 1
    first: int  # AND number of the first gate of the batch

    @property
    def size(self) -> int:
        return int(self.a.size)


@dataclass(frozen=True)
class XorBatch:
    """One XOR sub-level: ``slot[out_start + i] = slot[a[i]] ⊕ slot[b[i]]``."""

    a: np.ndarray
    b: np.ndarray
    out_start: int

    @property
    def size(self) -> int:
        return int(self.a.size)


@dataclass(frozen=True)
class Stage:
    """The AND batch of AND depth d (None for d = 0) followed by the XOR sub-levels of depth d.

    ``all_xors`` concatenates the sub-levels in order (a valid sequential order for a scalar loop).
    """

    ands: AndBatch | None
    xors: tuple[XorBatch, ...]
    all_xors: XorBatch | None = None


@dataclass(frozen=True)
class FlatPlan:
    """The stages as flat arrays for a compiled loop over the whole plan: the AND gates of stage s are
    global numbers ``and_lo[s] .. and_lo[s + 1] − 1`` (operands ``aa``/``ab``, inversion flags ``fa``/``fb``,
    outputs from slot ``and_out[s]``), its XOR gates ``xor_lo[s] .. xor_lo[s + 1] − 1`` (operands
    ``xa``/``xb``, outputs from slot ``xor_out[s]``, in sub-level order)."""

    and_lo: np.ndarray
    and_out: np.ndarray
    xor_lo: np.ndarray
    xor_out: np.ndarray
    aa: np.ndarray
    ab: np.ndarray
    fa: np.ndarray
    fb: np.ndarray
    xa: np.ndarray
    xb: np.ndarray


@dataclass(frozen=True)
class RegisterPlan:
    """The flat schedule with label *registers* instead of slots, for a compiled loop that keeps a chunk's
    labels in cache: a register is reused once the value it held is dead (linear scan over the execution
    order — stage by stage, the AND gates then the XOR gates, each in plan order). The AND gates keep
    their global numbers g (tables and tweaks are unchanged); only where labels live changes.

    Registers ``0 .. n_inputs − 1`` hold the input wires (as slots do), ``zero_reg`` the constant-zero
    label; the AND gate g reads ``aa[g]``/``ab[g]`` and writes ``ao[g]``, the XOR gate i reads
    ``xa[i]``/``xb[i]`` and writes ``xo[i]``; output o is read from ``out_regs[o]`` after the last stage.
    A gate never writes a register it reads (operands are freed only after the output is allocated), and
    output registers are never reused. ``and_lo``/``xor_lo`` are the stage boundaries of :class:`FlatPlan`.
    """

    n_regs: int
    zero_reg: int
    and_lo: np.ndarray
    xor_lo: np.ndarray
    aa: np.ndarray
    ab: np.ndarray
    ao: np.ndarray
    fa: np.ndarray
    fb: np.ndarray
    xa: np.ndarray
    xb: np.ndarray
    xo: np.ndarray
    out_regs: np.ndarray


def _allocate_registers(plan: Plan) -> RegisterPlan:
    """Linear-scan register allocation of ``plan`` (see :class:`RegisterPlan`); freed registers are reused
    last-in first-out, so a new value goes where a recent one was (still in cache)."""
    fl = plan.flat
    # the execution order: (is_xor, row in the AND or XOR arrays, operand slots, output slot)
    ops: list[tuple[int, int, int, int, int]] = []
    for s in range(fl.and_out.shape[0]):
        for kind, lo, hi, out, xs, ys in ((0, fl.and_lo[s], fl.and_lo[s + 1], fl.and_out[s], fl.aa, fl.ab),
                                          (1, fl.xor_lo[s], fl.xor_lo[s + 1], fl.xor_out[s], fl.xa, fl.xb)):
            lo, hi, out = int(lo), int(hi), int(out)
            ops.extend(zip([kind] * (hi - lo), range(lo, hi), xs[lo:hi].tolist(), ys[lo:hi].tolist(),
                           range(out, out + hi - lo)))
    pinned = set(plan.out_slots.tolist()) | {plan.zero_slot}
    last = [-1] * plan.n_slots
    for k, (_, _, a, b, _) in enumerate(ops):
        last[a] = k
        last[b] = k
    reg = [-1] * plan.n_slots
    for i in range(plan.n_inputs):
        reg[i] = i
    zero_reg = plan.n_inputs
    reg[plan.zero_slot] = zero_reg
    n_regs = zero_reg + 1
    free = [i for i in range(plan.n_inputs - 1, -1, -1) if last[i] < 0 and i not in pinned]
    dst = (np.empty(fl.aa.shape[0], dtype=np.int64), np.empty(fl.xa.shape[0], dtype=np.int64))
    for k, (kind, row, a, b, o) in enumerate(ops):
        if free:
            r = free.pop()
        else:
            r = n_regs
            n_regs += 1
        reg[o] = r
        dst[kind][row] = r
        if last[o] < 0 and o not in pinned:  # pragma: no cover - build_plan removes dead gates
            free.append(r)
        for x in (a, b) if a != b else (a,):
            if last[x] == k and x not in pinned:
                free.append(reg[x])
    regs = np.asarray(reg, dtype=np.int64)
    return RegisterPlan(
        n_regs=n_regs, zero_reg=zero_reg, and_lo=fl.and_lo, xor_lo=fl.xor_lo,
        aa=regs[fl.aa], ab=regs[fl.ab], ao=dst[0], fa=fl.fa, fb=fl.fb,
        xa=regs[fl.xa], xb=regs[fl.xb], xo=dst[1],
        out_regs=np.ascontiguousarray(regs[plan.out_slots], dtype=np.int64),
    )


@dataclass(frozen=True)
class Plan:
    """Compiled schedule of a circuit (see the module docstring)."""

    n_inputs: int
    n_slots: int
    zero_slot: int
    n_and: int
    n_xor: int
    depth: int
    stages: tuple[Stage, ...]
    out_slots: np.ndarray  # (n_outputs,)
    out_inv: np.ndarray  # (n_outputs,) uint8

    @property
    def max_and_batch(self) -> int:
        return max((s.ands.size for s in self.stages if s.ands is not None), default=0)

    @cached_property
    def flat(self) -> FlatPlan:
        """:class:`FlatPlan` of this plan (built once)."""
        and_lo, xor_lo, and_out, xor_out = [0], [0], [], []
        aa, ab, fa, fb, xa, xb = [], [], [], [], [], []
        for st in self.stages:
            if st.ands is not None:
                if st.ands.first != and_lo[-1]:  # pragma: no cover - build_plan numbers ANDs in order
                    raise AssertionError("AND gates are not numbered in stage order")
                aa.append(st.ands.a)
                ab.append(st.ands.b)
                fa.append(st.ands.flags_a)
                fb.append(st.ands.flags_b)
            and_out.append(st.ands.out_start if st.ands is not None else 0)
            and_lo.append(and_lo[-1] + (st.ands.size if st.ands is not None else 0))
            if st.all_xors is not None:
                xa.append(st.all_xors.a)
                xb.append(st.all_xors.b)
            xor_out.append(st.all_xors.out_start if st.all_xors is not None else 0)
            xor_lo.append(xor_lo[-1] + (st.all_xors.size if st.all_xors is not None else 0))

        def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.ascontiguousarray(np.concatenate(parts) if parts else np.empty(0), dtype=dtype)

        return FlatPlan(
            and_lo=np.asarray(and_lo, dtype=np.int64), and_out=np.asarray(and_out, dtype=np.int64),
            xor_lo=np.asarray(xor_lo, dtype=np.int64), xor_out=np.asarray(xor_out, dtype=np.int64),
            aa=cat(aa, np.int64), ab=cat(ab, np.int64), fa=cat(fa, np.uint8), fb=cat(fb, np.uint8),
            xa=cat(xa, np.int64), xb=cat(xb, np.int64),
        )

    @cached_property
    def registers(self) -> RegisterPlan:
        """:class:`RegisterPlan` of this plan (built once): the schedule with reused label registers."""
        return _allocate_registers(self)


def build_plan(circuit: CircuitView) -> Plan:
    """Compile ``circuit`` into its levelled schedule (pure function of the circuit)."""
    n_in = circuit.n_inputs
    # node tables (python lists: built once per circuit)
    kind = [_INPUT] * n_in + [_ZERO]
    na = [-1] * (n_in + 1)
    ia = [0] * (n_in + 1)
    nb = [-1] * (n_in + 1)
    ib = [0] * (n_in + 1)
    depth = [0] * (n_in + 1)
    sub = [0] * (n_in + 1)
    zero = n_in
    node = [-1] * circuit.n_wires
    inv = [0] * circuit.n_wires
    for w in range(n_in):
        node[w] = w

    for op, x, y, o in circuit.gates.tolist():
        if op == EQ:
            node[o], inv[o] = zero, x
            continue
        nx, vx = node[x], inv[x]
        if op == INV:
            node[o], inv[o] = nx, vx ^ 1
            continue
        if op == EQW:
            node[o], inv[o] = nx, vx
            continue
        ny, vy = node[y], inv[y]
        if op == XOR:
            if nx == ny:
                node[o], inv[o] = zero, vx ^ vy
            elif nx == zero:
                node[o], inv[o] = ny, vx ^ vy
            elif ny == zero:
                node[o], inv[o] = nx, vx ^ vy
            else:
                d = max(depth[nx], depth[ny])
                s = 0
                for m in (nx, ny):
                    if kind[m] == _XOR and depth[m] == d:
                        s = max(s, sub[m] + 1)
                node[o], inv[o] = len(kind), vx ^ vy
                kind.append(_XOR)
                na.append(nx)
                ia.append(vx)
                nb.append(ny)
                ib.append(vy)
                depth.append(d)
                sub.append(s)
        else:  # AND
            if nx == zero:
                node[o], inv[o] = (ny, vy) if vx else (zero, 0)
            elif ny == zero:
                node[o], inv[o] = (nx, vx) if vy else (zero, 0)
            elif nx == ny:
                node[o], inv[o] = (nx, vx) if vx == vy else (zero, 0)
            else:
                node[o], inv[o] = len(kind), 0
                kind.append(_AND)
                na.append(nx)
                ia.append(vx)
                nb.append(ny)
                ib.append(vy)
                depth.append(max(depth[nx], depth[ny]) + 1)
                sub.append(0)

    n_nodes = len(kind)
    out_w = circuit.output_wires.tolist()
    live = bytearray(n_nodes)
    for w in out_w:
        live[node[w]] = 1
    for m in range(n_nodes - 1, n_in, -1):
        if live[m]:
            live[na[m]] = 1
            live[nb[m]] = 1

    # group live gate nodes by (depth, class, sub-level); creation order is kept inside a group
    max_depth = 0
    groups: dict[tuple[int, int, int], list[int]] = {}
    for m in range(n_in + 1, n_nodes):
        if not live[m]:
            continue
        key = (depth[m], 0 if kind[m] == _AND else 1, sub[m])
        groups.setdefault(key, []).append(m)
        max_depth = max(max_depth, depth[m])

    slot = np.full(n_nodes, -1, dtype=np.int64)
    slot[:n_in] = np.arange(n_in)
    next_slot = n_in
    order = sorted(groups)
    for key in order:
        members = groups[key]
        slot[members] = np.arange(next_slot, next_slot + len(members))
        next_slot += len(members)
    zero_slot = next_slot
    slot[zero] = zero_slot
    n_slots = next_slot + 1

    na_a = np.asarray(na, dtype=np.int64)
    nb_a = np.asarray(nb, dtype=np.int64)
    ia_a = np.asarray(ia, dtype=np.uint8)
    ib_a = np.asarray(ib, dtype=np.uint8)

    stages: list[Stage] = []
    and_count = 0
    xor_count = 0
    by_depth: dict[int, list[tuple[int, int, int]]] = {}
    for key in order:
        by_depth.setdefault(key[0], []).append(key)
    for d in range(max_depth + 1):
        ands: AndBatch | None = None
        xors: list[XorBatch] = []
        for key in by_depth.get(d, []):
            idx = np.asarray(groups[key], dtype=np.int64)
            a = slot[na_a[idx]].astype(np.intp)
            b = slot[nb_a[idx]].astype(np.intp)
            start = int(slot[idx[0]])
            if key[1] == 0:
                ands = AndBatch(
                    a=a,
                    b=b,
                    inv_a=np.flatnonzero(ia_a[idx]).astype(np.intp),
                    inv_b=np.flatnonzero(ib_a[idx]).astype(np.intp),
                    flags_a=np.ascontiguousarray(ia_a[idx]),
                    flags_b=np.ascontiguousarray(ib_a[idx]),
                    out_start=start,
                    first=and_count,
                )
                and_count += idx.size
            else:
                xors.append(XorBatch(a=a, b=b, out_start=start))
                xor_count += idx.size
        if ands is not None or xors:
            merged = None
            if xors:
                merged = XorBatch(
                    a=np.concatenate([x.a for x in xors]),
                    b=np.concatenate([x.b for x in xors]),
                    out_start=xors[0].out_start,
                )
            stages.append(Stage(ands=ands, xors=tuple(xors), all_xors=merged))

    out_slots = np.asarray([slot[node[w]] for w in out_w], dtype=np.intp)
    out_inv = np.asarray([inv[w] for w in out_w], dtype=np.uint8)
    return Plan(
        n_inputs=n_in,
        n_slots=n_slots,
        zero_slot=zero_slot,
        n_and=and_count,
        n_xor=xor_count,
        depth=max_depth,
        stages=tuple(stages),
        out_slots=out_slots,
        out_inv=out_inv,
    )

