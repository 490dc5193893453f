"""Paillier linear correlations: naive per-element phe versus ours, and the digits-MLP offline cost.

Usage: python benchmarks/paillier.py [--layers 64x128,784x128] [--key-bits 3072] [--weight-bits 10]
                                     [--naive-rows 8] [--naive-enc 128]
       python benchmarks/paillier.py --digits-mlp [--key-bits 2048,3072] [--repeat 3] [--format table|json]

``--digits-mlp`` measures the Paillier work of the privateMDI offline phase per digits-MLP inference
(layers 64→32→32→32→10 with the quantised weights of ``private_mdi/data/digits_mlp.npz``, the session's
prime and weight bounds, one full batch of ``max_batch`` inferences per layer) along two paths in the
same run:

* **before**: the pre-change computation: one decryption after another on one thread, re-randomisers
  computed on the spot while answering (the offline phase's pool was never filled);
* **after**: the request-independent exponentiations precomputed in bulk on two threads before the
  requests (``gmpy2.powmod_base_list`` releases the GIL): the owner's re-randomisers
  (``RandomizerPool.fill(k, threads=2)``) and the client's upload pads (``precompute_upload``: the seed
  and the decryptions of its expansion); at request time the client's reply decryptions run on two
  threads (``threads=2``: the ``p``- and ``q``-halves in parallel).

It prints CPU time (``time.process_time``: all threads of the process) and wall time per inference,
split into the client's work, the owner's work at request time and the owner's precomputation, and the
ratios before/after. The exponentiation count is the same on both paths (so is the CPU time); what
changes is how much of it sits on the request path and how many cores share it.

For each dense layer (in → out, integer weights uniform in [−2^b, 2^b], p = 2^31 − 1) it times one
correlation ``a ≡ W r − s (mod p)`` three ways, with one key pair shared by all:

* **naive**: python-paillier as documented: ``public_key.encrypt`` per mask entry (fresh ``r^n`` each),
  the owner's ``Σ_j W_ij · Enc(r_j)`` with ``EncryptedNumber`` operations, ``+ (p·ρ_i − s_i)``,
  ``obfuscate()`` per output, ``private_key.decrypt`` per output; one ciphertext (2|n| bits) per input up
  and per output down. For large layers the client's encryptions and the owner's rows are timed on a
  subset (``--naive-enc`` inputs, ``--naive-rows`` rows) and extrapolated linearly (the output says so).
* **ours, batch 1**: one inference: seeded upload, bucket multi-exponentiation, output packing.
* **ours, batch P**: P inferences packed per ciphertext (P = slots per ciphertext), reported per inference.

Times include everything both sides do (client: mask encryption + decryption; owner: products,
offsets, re-randomisation computed on the spot). Bytes are the encoded messages (``nbytes``). The
crypto randomness is seeded (reproducible, not secret) and the weights come from a seeded numpy
generator.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

# benchmarks/private_mdi.py would shadow the private_mdi package when this file runs as a script
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import gmpy2  # noqa: E402
import numpy as np  # noqa: E402

from cmpc.rand import RandomSource  # noqa: E402
from private_mdi.correlation import (  # noqa: E402
    CorrelationParams,
    client_decrypt_reply,
    client_encrypt_mask,
    owner_respond,
    precompute_upload,
)
from private_mdi.paillier import DEFAULT_KEY_BITS, PaillierKeyPair, RandomizerPool  # noqa: E402

P = 2**31 - 1


def naive(kp: PaillierKeyPair, w: np.ndarray, n_enc: int, n_rows: int, rng: RandomSource) -> dict[str, float]:
    """The per-element phe path; returns seconds (extrapolated where subsets are timed) and bytes."""
    pub, priv = kp.to_phe()
    n_out, n_in = w.shape
    prm = CorrelationParams(P, n_in, n_out, int(np.abs(w).max()))
    lay = prm.layout(kp.public.bits)
    r = rng.field_elements(P, n_in)
    enc_n = min(n_enc, n_in)
    t0 = time.perf_counter()
    enc_sub = [pub.encrypt(int(r[j])) for j in range(enc_n)]
    t_enc = (time.perf_counter() - t0) * n_in / enc_n
    # inputs beyond the timed subset reuse those ciphertexts (the mask is then r[j mod enc_n])
    enc = [enc_sub[j % enc_n] for j in range(n_in)]
    r_used = np.array([r[j % enc_n] for j in range(n_in)], dtype=object)
    rows = min(n_rows, n_out)
    s = rng.field_elements(P, rows)
    t0 = time.perf_counter()
    replies = []
    for i in range(rows):
        acc = enc[0] * int(w[i, 0])
        for j in range(1, n_in):
            acc = acc + enc[j] * int(w[i, j])
        rho = lay.rho_low + rng.randbelow(lay.rho_span)
        acc = acc + (P * rho - int(s[i]))
        acc.obfuscate()
        replies.append(acc)
    t_owner = (time.perf_counter() - t0) * n_out / rows
    t0 = time.perf_counter()
    a = [priv.decrypt(c) % P for c in replies]
    t_dec = (time.perf_counter() - t0) * n_out / rows
    expect = [(sum(int(w[i, j]) * int(r_used[j]) for j in range(n_in)) - int(s[i])) % P for i in range(rows)]
    assert a == expect, "naive path gave a wrong result"
    ct = kp.public.ciphertext_bytes
    return {
        "client_s": t_enc + t_dec,
        "owner_s": t_owner,
        "total_s": t_enc + t_owner + t_dec,
        "up_bytes": n_in * ct,
        "down_bytes": n_out * ct,
        "extrapolated": float(enc_n < n_in or rows < n_out),
    }


def ours(kp: PaillierKeyPair, w: np.ndarray, batch: int, rng: RandomSource) -> dict[str, float]:
    n_out, n_in = w.shape
    prm = CorrelationParams(P, n_in, n_out, int(np.abs(w).max()), batch)
    t0 = time.perf_counter()
    state, msg = client_encrypt_mask(kp, prm, rng)
    up = msg.to_bytes()
    t1 = time.perf_counter()
    s, reply = owner_respond(kp.public, w, prm, up, rng)
    down = reply.to_bytes()
    t2 = time.perf_counter()
    r, a = client_decrypt_reply(kp, state, down)  # type: ignore[misc]
    t3 = time.perf_counter()
    expect = np.array((r.astype(object) @ w.T.astype(object) - s.astype(object)) % P, dtype=np.int64)
    assert np.array_equal(a, expect), "batched path gave a wrong result"
    return {
        "client_s": (t1 - t0 + t3 - t2) / batch,
        "owner_s": (t2 - t1) / batch,
        "total_s": (t3 - t0) / batch,
        "up_bytes": len(up) / batch,
        "down_bytes": len(down) / batch,
        "reply_cts": len(reply.ciphertexts),
    }


# -------------------------------------------------------------------------------------------------
# digits MLP: Paillier work per inference of the offline phase
# -------------------------------------------------------------------------------------------------
def digits_layers(kp: PaillierKeyPair) -> tuple[int, list[tuple[np.ndarray, int]]]:
    """(p, [(W_ℓ, weight bound ℓ)]) of the digits MLP as the privateMDI session quantises it."""
    from private_mdi.inference import PrivateInference
    from private_mdi.model import Model

    model = Model.load(os.path.join(os.path.dirname(_HERE), "private_mdi", "data", "digits_mlp.npz"))
    pi = PrivateInference(model, edges=2, paillier_keys=kp, rng=RandomSource(seed="bench-digits"))
    spec = pi.spec
    return spec.p, [(q.weight, spec.weight_bounds[i]) for i, q in enumerate(pi.quantized)]


class _Clock:
    """CPU (all threads) and wall seconds of the ``with`` blocks since the last :meth:`flush`."""

    def __init__(self) -> None:
        self.cpu = self.wall = 0.0

    def __enter__(self) -> _Clock:
        self._c, self._w = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu += time.process_time() - self._c
        self.wall += time.perf_counter() - self._w

    def flush(self) -> tuple[float, float]:
        out = (self.cpu, self.wall)
        self.cpu = self.wall = 0.0
        return out


def digits_round(
    kp: PaillierKeyPair, p: int, layers: list[tuple[np.ndarray, int]], after: bool, seed: str
) -> dict[str, float]:
    """One full batch per layer; seconds per inference (CPU and wall) of each part, and counts."""
    threads = 2 if after else 1
    rng = RandomSource(seed=seed)
    clocks = {"client": _Clock(), "owner": _Clock(), "precompute": _Clock()}
    out = {f"{k}_{u}_s": 0.0 for k in clocks for u in ("cpu", "wall")}
    out["decryptions_per_inference"] = out["rerandomizers_per_inference"] = 0.0
    for w, bound in layers:
        n_out, n_in = w.shape
        cap = CorrelationParams(p, n_in, n_out, bound).max_batch(kp.public.bits)
        prm = CorrelationParams(p, n_in, n_out, bound, cap)
        lay = prm.layout(kp.public.bits)
        pool = RandomizerPool(kp.public, rng.spawn())
        pad = None
        if after:  # before: no pad, empty pool: every exponentiation happens while answering the request
            with clocks["precompute"]:
                pool.fill(lay.reply_cts, threads=2)
                pad = precompute_upload(kp, n_in, rng.spawn(), threads=2)
        with clocks["client"]:
            state, msg = client_encrypt_mask(kp, prm, rng, threads=threads, pad=pad)
            up = msg.to_bytes()
        with clocks["owner"]:
            s, reply = owner_respond(kp.public, w, prm, up, rng, pool=pool)
            down = reply.to_bytes()
        with clocks["client"]:
            r, a = client_decrypt_reply(kp, state, down, threads=threads)  # type: ignore[misc]
        expect = np.array((r.astype(object) @ w.T.astype(object) - s.astype(object)) % p, dtype=np.int64)
        assert np.array_equal(a, expect), "digits-MLP correlation gave a wrong result"
        for name, clock in clocks.items():
            cpu, wall = clock.flush()
            out[f"{name}_cpu_s"] += cpu / cap
            out[f"{name}_wall_s"] += wall / cap
        out["decryptions_per_inference"] += (n_in + lay.reply_cts) / cap
        out["rerandomizers_per_inference"] += lay.reply_cts / cap
    out["total_cpu_s"] = out["client_cpu_s"] + out["owner_cpu_s"] + out["precompute_cpu_s"]
    out["total_wall_s"] = out["client_wall_s"] + out["owner_wall_s"] + out["precompute_wall_s"]
    out["request_wall_s"] = out["client_wall_s"] + out["owner_wall_s"]
    return out


def thread_check(kp: PaillierKeyPair, count: int = 16) -> dict[str, float]:
    """Wall seconds per ``u^n`` of ``RandomizerPool.fill(count)`` on one and on two threads (best of 3)."""
    out = {}
    for threads in (1, 2):
        best = float("inf")
        for k in range(3):
            pool = RandomizerPool(kp.public, RandomSource(seed=f"threads-{k}"))
            t0 = time.perf_counter()
            pool.fill(count, threads=threads)
            best = min(best, (time.perf_counter() - t0) / count)
        out[f"threads_{threads}_s_per_rerandomizer"] = best
    out["speedup"] = out["threads_1_s_per_rerandomizer"] / out["threads_2_s_per_rerandomizer"]
    # the key owner's u^n by CRT against pow(u, n, n²) (CPU time, best of 3, same units)
    units = [
        gmpy2.mpz(RandomSource(seed=f"crt-{i}").randbelow(int(kp.public.n) - 1) + 1) for i in range(count)
    ]
    plain = crt = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        a = [gmpy2.powmod(u, kp.public.n, kp.public.nsquare) for u in units]
        t1 = time.process_time()
        b = [kp.nth_power(u) for u in units]
        t2 = time.process_time()
        assert a == b, "CRT u^n differs from pow(u, n, n²)"
        plain, crt = min(plain, (t1 - t0) / count), min(crt, (t2 - t1) / count)
    out["plain_s_per_nth_power"], out["crt_s_per_nth_power"] = plain, crt
    return out


def digits_main(args: argparse.Namespace) -> None:
    results = []
    for bits in (int(b) for b in str(args.key_bits).split(",")):
        kp = PaillierKeyPair.generate(bits, RandomSource(seed=f"bench-digits-{bits}"))
        p, layers = digits_layers(kp)
        runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        for k in range(args.repeat):
            for path in ("before", "after"):
                runs[path].append(digits_round(kp, p, layers, path == "after", f"digits-{bits}-{k}"))
        best = {path: min(rs, key=lambda m: m["request_wall_s"]) for path, rs in runs.items()}
        ratio = {
            "request_wall": best["before"]["request_wall_s"] / best["after"]["request_wall_s"],
            "total_wall": best["before"]["total_wall_s"] / best["after"]["total_wall_s"],
            "total_cpu": best["before"]["total_cpu_s"] / best["after"]["total_cpu_s"],
        }
        results.append(
            {
                "key_bits": bits,
                "p": p,
                "repeat": args.repeat,
                **best,
                "before_over_after": ratio,
                "two_threads": thread_check(kp),
            }
        )
    if args.format == "json":
        print(json.dumps(results, indent=1))
        return
    print(
        "digits MLP 64→32→32→32→10, Paillier work of the offline phase per inference (best of "
        f"{args.repeat} by request wall time; ms)"
    )
    header = (
        f"{'key':>5} {'path':>7} {'dec/inf':>7} {'rr/inf':>6} {'client cpu':>10} {'client wall':>11} "
        f"{'owner cpu':>9} {'owner wall':>10} {'precomp cpu':>11} {'precomp wall':>12} {'request wall':>12} "
        f"{'total cpu':>9} {'total wall':>10}"
    )
    print(header)
    print("-" * len(header))
    for res in results:
        for path in ("before", "after"):
            m = res[path]
            print(
                f"{res['key_bits']:>5} {path:>7} {m['decryptions_per_inference']:>7.1f} "
                f"{m['rerandomizers_per_inference']:>6.1f} "
                + " ".join(
                    f"{1e3 * m[k]:>{wd}.1f}"
                    for k, wd in (
                        ("client_cpu_s", 10),
                        ("client_wall_s", 11),
                        ("owner_cpu_s", 9),
                        ("owner_wall_s", 10),
                        ("precompute_cpu_s", 11),
                        ("precompute_wall_s", 12),
                        ("request_wall_s", 12),
                        ("total_cpu_s", 9),
                        ("total_wall_s", 10),
                    )
                )
            )
        r = res["before_over_after"]
        print(
            f"{res['key_bits']:>5} before/after: request wall {r['request_wall']:.2f}×, total wall "
            f"{r['total_wall']:.2f}×, total CPU {r['total_cpu']:.2f}×"
        )
        tc = res["two_threads"]
        print(
            f"{res['key_bits']:>5} u^n precompute: {1e3 * tc['threads_1_s_per_rerandomizer']:.1f} ms each "
            f"on one thread, {1e3 * tc['threads_2_s_per_rerandomizer']:.1f} ms on two ({tc['speedup']:.2f}×)"
        )
        print(
            f"{res['key_bits']:>5} u^n with the key: pow {1e3 * tc['plain_s_per_nth_power']:.1f} ms, CRT "
            f"{1e3 * tc['crt_s_per_nth_power']:.1f} ms CPU "
            f"({tc['plain_s_per_nth_power'] / tc['crt_s_per_nth_power']:.2f}×, bit-identical)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", default="64x128,784x128", help="comma-separated IN x OUT")
    ap.add_argument(
        "--key-bits", default=None, help=f"modulus bits (default {DEFAULT_KEY_BITS}; --digits-mlp: 2048,3072)"
    )
    ap.add_argument("--digits-mlp", action="store_true", help="per-inference cost of the digits-MLP offline")
    ap.add_argument("--repeat", type=int, default=3, help="--digits-mlp: runs per path (best is shown)")
    ap.add_argument("--format", choices=("table", "json"), default="table")
    ap.add_argument("--weight-bits", type=int, default=10)
    ap.add_argument(
        "--naive-rows", type=int, default=8, help="rows of the naive owner timed (then extrapolated)"
    )
    ap.add_argument("--naive-enc", type=int, default=128, help="naive encryptions timed (then extrapolated)")
    args = ap.parse_args()
    if args.digits_mlp:
        if args.key_bits is None:
            args.key_bits = "2048,3072"
        digits_main(args)
        return
    args.key_bits = int(args.key_bits or DEFAULT_KEY_BITS)

    rng = RandomSource(seed="benchmark-paillier")
    t0 = time.perf_counter()
    kp = PaillierKeyPair.generate(args.key_bits, rng)
    print(
        f"key: {args.key_bits}-bit modulus, generated in {time.perf_counter() - t0:.2f} s; p = 2^31 - 1; "
        f"weights uniform in [-2^{args.weight_bits}, 2^{args.weight_bits}]"
    )
    npr = np.random.default_rng(0)
    header = (
        f"{'layer':>9} {'path':>14} {'client s':>9} {'owner s':>9} {'total s':>9} {'up KB':>9} "
        f"{'down KB':>8} {'total KB':>9} {'time ×':>7} {'bytes ×':>7}"
    )
    print(header)
    print("-" * len(header))
    for spec in args.layers.split(","):
        n_in, n_out = (int(v) for v in spec.lower().split("x"))
        lim = 2**args.weight_bits
        w = npr.integers(-lim, lim + 1, (n_out, n_in))
        base = naive(kp, w, args.naive_enc, args.naive_rows, rng)
        cap = CorrelationParams(P, n_in, n_out, int(np.abs(w).max())).max_batch(args.key_bits)
        rows = [("naive phe" + ("*" if base["extrapolated"] else ""), base)]
        rows.append(("ours batch 1", ours(kp, w, 1, rng)))
        rows.append((f"ours batch {cap}", ours(kp, w, cap, rng)))
        nb = base["up_bytes"] + base["down_bytes"]
        for name, m in rows:
            tb = m["up_bytes"] + m["down_bytes"]
            print(
                f"{n_in:>4}→{n_out:<4} {name:>14} {m['client_s']:>9.3f} {m['owner_s']:>9.3f} "
                f"{m['total_s']:>9.3f} "
                f"{m['up_bytes'] / 1e3:>9.1f} {m['down_bytes'] / 1e3:>8.1f} {tb / 1e3:>9.1f} "
                f"{base['total_s'] / m['total_s']:>7.1f} {nb / tb:>7.1f}"
            )
    print(
        "times and bytes are per inference (batch P: total / P); × = naive / this row, measured in this run"
    )
    print(
        f"* naive: {args.naive_enc} encryptions and {args.naive_rows} owner rows timed, extrapolated "
        "linearly to the full layer (where the layer is larger)"
    )


if __name__ == "__main__":
    main()
