"""Garbled-circuit throughput: half-gates garbling and evaluation vs. the bare AES-ECB lower bound, same run.

Two workloads of about ``--ands`` AND gates each:
  * a privateMDI ReLU layer: ``privatemdi_relu_circuit(p, f)`` garbled for many neurons (copies);
  * the AES-128 Bristol circuit (tests/vectors/bristol_aes_128.txt) garbled for many copies.

For each backend (``aesni``: one compiled loop over the whole plan with the hash on AES-NI inside;
``numba``: fused per-level loops around batched AES-ECB calls; ``numpy``: pure numpy passes): garble and
evaluate time (best of ``--reps``), AND gates per second, bytes per AND (tables alone, and tables + decoder),
and the time of the AES-ECB calls the scheme cannot avoid (the hash H(x, i) = π(π(x) ⊕ i) ⊕ π(x) costs two AES
blocks: 4 hashes = 8 blocks per AND to garble, 2 hashes = 4 blocks to evaluate, in two AES-ECB calls per AND
level), issued with the same per-level batch sizes through the same fixed-key cipher. The ratio
ours / AES-only says how far the bookkeeping around AES is from that bound.

Times are CPU seconds of this process (``time.process_time``; single-threaded code), which keeps other
jobs on a shared machine from inflating them; ``--wall`` uses ``time.perf_counter`` instead.

``--baseline-aesni FILE`` also times an earlier version of ``private_mdi/gc/aesni.py`` (for example
``git show a6eb6fd:private_mdi/gc/aesni.py > /tmp/aesni_prev.py``) against the current one: its
``garble_plan``/``evaluate_plan`` and ours on the same inputs, interleaved rep by rep with the AES-only
bound, outputs checked equal (the kernels alone, without the CSPRNG and the decoder tags of ``garble``).

``--profile`` times the current aesni kernels with parts switched off (same inputs, interleaved): the
full kernel, without the XOR gates, without the AND gates, the chunk load/store alone, and the AND gates
with every operand read from two hot registers (no label cache misses), each as a multiple of the AES-only
bound: where the cycles beyond the AES calls go (docs/gc.md, "Where the cycles went").

Usage: python benchmarks/gc.py [--ands 1000000] [--reps 5] [--p 2147483647] [--f 12] [--wall]
                               [--backend aesni] [--threads] [--baseline-aesni FILE] [--profile]
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import math
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np

# Running "python benchmarks/gc.py" puts benchmarks/ first on sys.path, where a script named like a package
# (e.g. benchmarks/private_mdi.py) would shadow it: drop that entry before importing the project.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

from cmpc.rand import RandomSource
from private_mdi.gc import (
    Circuit,
    aesni,
    aesni_kernels,
    decode,
    encode,
    evaluate,
    garble,
    privatemdi_relu_circuit,
)
from private_mdi.gc.hash import FixedKeyAES

gcmod = sys.modules["private_mdi.gc.garble"]
CLOCK = time.process_time

AES_PATH = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "bristol_aes_128.txt"


def best(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        t = CLOCK()
        fn()
        times.append(CLOCK() - t)
    return min(times)


def paired(ours: Callable[[], object], bound: Callable[[], object], reps: int) -> tuple[float, float]:
    """Best-of-reps times of ``ours`` and ``bound``, interleaved rep by rep so both see the same load."""
    t_ours, t_bound = [], []
    for _ in range(reps):
        t = CLOCK()
        ours()
        t_ours.append(CLOCK() - t)
        t = CLOCK()
        bound()
        t_bound.append(CLOCK() - t)
    return min(t_ours), min(t_bound)


def aes_bound_fn(circuit: Circuit, copies: int, hashes_per_and: int) -> Callable[[], None]:
    """The AES-ECB calls alone: per AND level the two passes of H(x, i) = π(π(x) ⊕ i) ⊕ π(x), each over
    hashes_per_and blocks per gate (so 2·hashes_per_and AES blocks per AND)."""
    sizes = [s.ands.size * copies * hashes_per_and for s in circuit.plan().stages if s.ands is not None]
    bufs = [np.zeros((n, 2), dtype=np.uint64) for n in sizes]
    aes = FixedKeyAES()

    def go() -> None:
        for b in bufs:
            p = aes.permute(b, buffer=1)
            aes.permute(p, buffer=0)

    return go


def thread_scaling(jobs: list[tuple[Circuit, int]], reps: int) -> tuple[float, float]:
    """Wall-clock seconds (best of reps) to garble every (circuit, copies) job one after the other, and
    with one thread per job at the same time. The compiled kernels and numpy release the GIL."""
    def one(job: tuple[Circuit, int]) -> None:
        garble(job[0], copies=job[1], rng=RandomSource(seed=3))  # benchmark only; one source per thread

    def sequential() -> None:
        for job in jobs:
            one(job)

    def parallel() -> None:
        threads = [threading.Thread(target=one, args=(job,)) for job in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    seq, par = [], []
    for _ in range(reps):
        t = time.perf_counter()
        sequential()
        seq.append(time.perf_counter() - t)
        t = time.perf_counter()
        parallel()
        par.append(time.perf_counter() - t)
    return min(seq), min(par)


def measure(name: str, circuit: Circuit, copies: int, reps: int) -> dict[str, float]:
    rng = RandomSource(seed=1)  # benchmark only: reproducible, not secret
    n_and = circuit.plan().n_and * copies
    bits = rng.bits((copies, circuit.n_inputs))
    holder: dict[str, object] = {}

    def do_garble() -> None:
        holder["g"] = garble(circuit, copies=copies, rng=rng)

    do_garble()  # warm-up (numba compiles or loads its cache on first use)
    t_g, bound_g = paired(do_garble, aes_bound_fn(circuit, copies, 4), reps)
    g = holder["g"]
    labels = encode(g.encoder, bits)  # type: ignore[attr-defined]
    t_e, bound_e = paired(lambda: holder.__setitem__("out", evaluate(g.garbled, labels)),  # type: ignore[attr-defined]
                          aes_bound_fn(circuit, copies, 2), reps)
    out = decode(g.decoder, holder["out"])  # type: ignore[attr-defined, arg-type]
    assert np.array_equal(out, circuit.evaluate(bits)), "garbled result differs from plaintext"
    t_encode = best(lambda: encode(g.encoder, bits), reps)  # type: ignore[attr-defined]
    t_decode = best(lambda: decode(g.decoder, holder["out"]), reps)  # type: ignore[attr-defined, arg-type]
    table_bytes = len(g.garbled.to_bytes())  # type: ignore[attr-defined]
    dec_bytes = len(g.decoder.to_bytes())  # type: ignore[attr-defined]
    return {
        "name": name,  # type: ignore[dict-item]
        "copies": copies,
        "ands": n_and,
        "levels": circuit.plan().depth,
        "garble_s": t_g,
        "eval_s": t_e,
        "encode_s": t_encode,
        "decode_s": t_decode,
        "aes_g_s": bound_g,
        "aes_e_s": bound_e,
        "bytes_per_and_tables": table_bytes / n_and,
        "bytes_per_and_total": (table_bytes + dec_bytes) / n_and,
    }


def load_baseline(path: Path) -> object:
    """Import an earlier aesni.py as ``private_mdi.gc._aesni_baseline`` (its relative imports resolve in
    the current package)."""
    name = "private_mdi.gc._aesni_baseline"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def ab_kernels(base: object, circuit: Circuit, copies: int, reps: int) -> dict[str, float]:
    """Kernel times (best of reps, interleaved): current aesni, the baseline module, the AES-only bound."""
    plan = circuit.plan()
    rng = RandomSource(seed=7)  # benchmark only
    zero_in = rng.labels(plan.n_inputs * copies).reshape(plan.n_inputs, copies, 2)
    delta = rng.labels(copies)
    delta[:, 0] |= np.uint64(1)
    tables, out = aesni.garble_plan(plan, zero_in, delta)
    t_b, o_b = base.garble_plan(plan, zero_in, delta)  # type: ignore[attr-defined]
    assert np.array_equal(tables, t_b) and np.array_equal(out, o_b), "baseline garbles differently"
    e_ours = aesni.evaluate_plan(plan, tables, zero_in, copies, 0)
    e_base = base.evaluate_plan(plan, tables, zero_in, copies, 0)  # type: ignore[attr-defined]
    assert np.array_equal(e_ours, e_base), "baseline evaluates differently"
    res: dict[str, list[float]] = {}
    fns = {
        "g_ours": lambda: aesni.garble_plan(plan, zero_in, delta),
        "g_base": lambda: base.garble_plan(plan, zero_in, delta),  # type: ignore[attr-defined]
        "g_aes": aes_bound_fn(circuit, copies, 4),
        "e_ours": lambda: aesni.evaluate_plan(plan, tables, zero_in, copies, 0),
        "e_base": lambda: base.evaluate_plan(plan, tables, zero_in, copies, 0),  # type: ignore[attr-defined]
        "e_aes": aes_bound_fn(circuit, copies, 2),
    }
    for _ in range(reps):
        for key, fn in fns.items():
            t = CLOCK()
            fn()
            res.setdefault(key, []).append(CLOCK() - t)
    return {k: min(v) for k, v in res.items()}


def profile_parts(circuit: Circuit, copies: int, reps: int) -> dict[str, list[float]]:
    """Current aesni kernels with parts switched off, as multiples of the AES-only bound:
    {variant: [garble ratio, evaluate ratio]} (the variants give wrong labels; only their time counts)."""
    plan = circuit.plan()
    rp = plan.registers
    rng = RandomSource(seed=9)  # benchmark only
    zero_in = rng.labels(plan.n_inputs * copies).reshape(plan.n_inputs, copies, 2)
    delta = rng.labels(copies)
    delta[:, 0] |= np.uint64(1)
    tables, _ = aesni.garble_plan(plan, zero_in, delta)
    g_all, e_all = aesni._kernels()
    rk = aesni.round_keys()
    chunk = min(aesni._chunk_copies(plan), copies)
    none = np.zeros_like(rp.and_lo)
    hot = (np.zeros_like(rp.aa), np.ones_like(rp.ab), np.full_like(rp.ao, rp.zero_reg))
    variants = {
        "full kernel": (rp.and_lo, rp.xor_lo, (rp.aa, rp.ab, rp.ao)),
        "without XOR gates": (rp.and_lo, none, (rp.aa, rp.ab, rp.ao)),
        "without AND gates": (none, rp.xor_lo, (rp.aa, rp.ab, rp.ao)),
        "chunk load/store only": (none, none, (rp.aa, rp.ab, rp.ao)),
        "AND gates, 2 hot registers": (rp.and_lo, none, hot),
    }
    fns: dict[str, Callable[[], object]] = {}
    for name, (and_lo, xor_lo, (aa, ab, ao)) in variants.items():
        L = np.empty((rp.n_regs, 2 * chunk), dtype=np.uint64)
        tb = np.empty_like(tables)
        out_g = np.empty((plan.out_slots.size, copies, 2), dtype=np.uint64)
        out_e = np.empty((copies, plan.out_slots.size, 2), dtype=np.uint64).transpose(1, 0, 2)

        def g_fn(L=L, tb=tb, o=out_g, a=and_lo, x=xor_lo, aa=aa, ab=ab, ao=ao) -> None:  # type: ignore[no-untyped-def]
            g_all(zero_in, delta, tb, o, rp.out_regs, rp.zero_reg, L, 0, copies, rk, a, x, aa, ab, ao,
                  rp.fa, rp.fb, rp.xa, rp.xb, rp.xo)

        def e_fn(L=L, o=out_e, a=and_lo, x=xor_lo, aa=aa, ab=ab, ao=ao) -> None:  # type: ignore[no-untyped-def]
            e_all(zero_in, tables, o, rp.out_regs, rp.zero_reg, L, 0, copies, copies, 0, rk, a, x, aa, ab, ao,
                  rp.xa, rp.xb, rp.xo)

        fns["g " + name] = g_fn
        fns["e " + name] = e_fn
    fns["g bound"] = aes_bound_fn(circuit, copies, 4)
    fns["e bound"] = aes_bound_fn(circuit, copies, 2)
    times: dict[str, list[float]] = {}
    for fn in fns.values():
        fn()
    for _ in range(reps):
        for key, fn in fns.items():
            t = CLOCK()
            fn()
            times.setdefault(key, []).append(CLOCK() - t)
    best_t = {k: min(v) for k, v in times.items()}
    return {name: [best_t["g " + name] / best_t["g bound"], best_t["e " + name] / best_t["e bound"]]
            for name in variants}


def hash_alone(reps: int, blocks: int = 1 << 23) -> dict[str, float]:
    """ns per AES block: the TCCR hash alone in a compiled loop (8 hashes per step on the kernels' path,
    and on 128-bit rounds), against the two AES-ECB passes of the bound over as many blocks."""
    rk = aesni.round_keys()
    steps: dict[str, Any] = {}
    for label, wide in (("TCCR, 8 hashes per step (kernel path)", aesni.WIDE),
                        ("TCCR, 128-bit rounds", False)):
        tccr = aesni_kernels.make_tccr(8, wide=wide)

        def loop(rk, n, tccr=tccr):  # type: ignore[no-untyped-def]
            acc = np.uint64(0)  # the steps are independent: inputs depend on i only
            one = np.uint64(1)
            for i in range(n):
                u = np.uint64(i)
                v = u * np.uint64(0x9E3779B97F4A7C15)
                h = tccr(rk, (u, v, u + one, v, v, u, v ^ one, u, u, one, v, one, one, v, one, u),
                         (u, u, u, u, u, u, u, u))
                for q in range(16):
                    acc ^= h[q]
            return acc

        steps[label] = numba.njit(loop)
    n = blocks // 16  # 8 hashes = 16 AES blocks per step
    for step in steps.values():
        step(rk, 10)  # compile
    buf = np.zeros((blocks // 2, 2), dtype=np.uint64)
    aes = FixedKeyAES()

    def ecb() -> None:
        aes.permute(aes.permute(buf, buffer=1), buffer=0)

    fns: dict[str, Callable[[], object]] = {"AES-ECB (the bound)": ecb}
    for k, step in steps.items():
        fns[k] = functools.partial(step, rk, n)
    times: dict[str, list[float]] = {}
    for _ in range(reps):
        for key, fn in fns.items():
            t = CLOCK()
            fn()
            times.setdefault(key, []).append(CLOCK() - t)
    return {k: min(v) / blocks * 1e9 for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ands", type=int, default=1_000_000, help="AND gates per workload (approx.)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--wall", action="store_true", help="wall-clock instead of CPU time")
    ap.add_argument("--backend", choices=["all", *gcmod.available_backends()], default="all")
    ap.add_argument("--p", type=int, default=2**31 - 1)
    ap.add_argument("--f", type=int, default=12)
    ap.add_argument("--aes", type=Path, default=AES_PATH, help="path of the AES-128 Bristol circuit")
    ap.add_argument("--threads", action="store_true",
                    help="also time two threads garbling the two workloads at once, and one garbling "
                         "split over two threads (aesni, set_threads) (wall-clock)")
    ap.add_argument("--profile", action="store_true",
                    help="time the aesni kernels with parts switched off (where the cycles go)")
    ap.add_argument("--baseline-aesni", type=Path, default=None,
                    help="an earlier aesni.py to time against the current kernels (A/B, same run)")
    args = ap.parse_args()
    global CLOCK
    if args.wall:
        CLOCK = time.perf_counter
    backends = gcmod.available_backends() if args.backend == "all" else (args.backend,)

    rows = []
    relu = privatemdi_relu_circuit(args.p, args.f)
    per = relu.plan().n_and
    aes = Circuit.from_bristol(args.aes, input_names=["key", "plaintext"]) if args.aes.exists() else None
    if aes is None:
        print(f"(skipping AES: {args.aes} not found)")
    for backend in backends:
        gcmod.set_backend(backend)
        copies = math.ceil(args.ands / per)
        rows.append(measure(f"[{backend}] ReLU p={args.p} f={args.f}", relu, copies, args.reps))
        if aes is not None:
            copies = math.ceil(args.ands / aes.plan().n_and)
            rows.append(measure(f"[{backend}] AES-128 (6400 AND)", aes, copies, args.reps))

    clock = "wall-clock" if args.wall else "CPU"
    print(f"ReLU circuit: {per} AND/neuron; best of {args.reps} ({clock} time); AND/s in millions; "
          "'x AES' = our time / time of the bare AES-ECB calls")
    hdr = (f"{'workload':<38} {'copies':>7} {'ANDs':>9} {'garble':>8} {'eval':>8} {'g x AES':>8} "
           f"{'e x AES':>8} {'AES-only g':>10} {'AES-only e':>10} {'B/AND':>6} {'B/AND+dec':>9}")
    print(hdr)
    for r in rows:
        n = r["ands"]
        print(
            f"{r['name']:<38} {r['copies']:>7} {n:>9,} {n / r['garble_s'] / 1e6:>8.2f} "
            f"{n / r['eval_s'] / 1e6:>8.2f} {r['garble_s'] / r['aes_g_s']:>8.1f} "
            f"{r['eval_s'] / r['aes_e_s']:>8.1f} "
            f"{n / r['aes_g_s'] / 1e6:>10.1f} {n / r['aes_e_s'] / 1e6:>10.1f} "
            f"{r['bytes_per_and_tables']:>6.2f} {r['bytes_per_and_total']:>9.2f}"
        )
    if args.threads and aes is not None:
        for backend in backends:
            gcmod.set_backend(backend)
            jobs = [(relu, math.ceil(args.ands / per)), (aes, math.ceil(args.ands / aes.plan().n_and))]
            seq, par = thread_scaling(jobs, args.reps)
            print(f"[{backend}] two threads garbling ReLU and AES at once: sequential {seq * 1e3:.0f} ms, "
                  f"threads {par * 1e3:.0f} ms, speed-up {seq / par:.2f}x (wall-clock, best of {args.reps})")
    if args.threads and "aesni" in backends:
        gcmod.set_backend("aesni")
        copies = math.ceil(args.ands / per)
        g = garble(relu, copies=copies, rng=RandomSource(seed=5))
        labels = g.encoder.zero
        for what, fn in (("garble", lambda: garble(relu, copies=copies, rng=RandomSource(seed=5))),
                         ("evaluate", lambda: evaluate(g.garbled, labels))):
            walls = {}
            for n in (1, 2):
                gcmod.set_threads(n)
                best = math.inf
                for _ in range(args.reps):
                    t = time.perf_counter()
                    fn()
                    best = min(best, time.perf_counter() - t)
                walls[n] = best
            gcmod.set_threads(1)
            print(f"[aesni] one ReLU {what} of {copies} copies, set_threads(2) vs (1): "
                  f"{walls[1] * 1e3:.1f} ms -> {walls[2] * 1e3:.1f} ms, speed-up {walls[1] / walls[2]:.2f}x "
                  f"(wall-clock, best of {args.reps})")
    workloads = [(f"ReLU p={args.p} f={args.f}", relu, math.ceil(args.ands / per))]
    if aes is not None:
        workloads.append(("AES-128 (6400 AND)", aes, math.ceil(args.ands / aes.plan().n_and)))
    if args.baseline_aesni is not None and aesni.AVAILABLE:
        base = load_baseline(args.baseline_aesni)
        print(f"A/B kernels (garble_plan / evaluate_plan only), current aesni vs {args.baseline_aesni}, "
              f"best of {args.reps} ({clock} time), interleaved with the AES-only bound:")
        for name, circ, copies in workloads:
            r = ab_kernels(base, circ, copies, args.reps)
            print(f"  {name:<28} garble {r['g_ours'] * 1e3:6.1f} ms = {r['g_ours'] / r['g_aes']:.2f}x AES "
                  f"(baseline {r['g_base'] * 1e3:6.1f} ms = {r['g_base'] / r['g_aes']:.2f}x)   "
                  f"evaluate {r['e_ours'] * 1e3:6.1f} ms = {r['e_ours'] / r['e_aes']:.2f}x AES "
                  f"(baseline {r['e_base'] * 1e3:6.1f} ms = {r['e_base'] / r['e_aes']:.2f}x)")
    if args.profile and aesni.AVAILABLE:
        print(f"aesni kernel profile (x AES-only bound, garble / evaluate, best of {args.reps}, "
              f"{clock} time):")
        for name, circ, copies in workloads:
            parts = profile_parts(circ, copies, args.reps)
            print(f"  {name} ({circ.plan().registers.n_regs} registers, {circ.plan().n_slots} slots): "
                  + "; ".join(f"{k} {g:.2f}/{e:.2f}" for k, (g, e) in parts.items()))
        print("  the hash alone, ns per AES block: " + "; ".join(
            f"{k} {v:.2f}" for k, v in hash_alone(args.reps).items()))
    for r in rows:
        print(f"{r['name']}: garble {r['garble_s'] * 1e3:.1f} ms, evaluate {r['eval_s'] * 1e3:.1f} ms, "
              f"encode {r['encode_s'] * 1e3:.1f} ms, decode {r['decode_s'] * 1e3:.1f} ms, "
              f"AND levels {r['levels']}")


if __name__ == "__main__":
    main()
