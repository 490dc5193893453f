"""Paillier linear correlations: naive per-element phe versus ours, measured in the same run.

Usage: python benchmarks/paillier.py [--layers 64x128,784x128] [--key-bits 2048] [--weight-bits 10]
                                     [--naive-rows 8] [--naive-enc 128]

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
import os
import sys
import time

# benchmarks/private_mdi.py would shadow the private_mdi package when this file runs as a script
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import numpy as np  # noqa: E402

from cmpc.rand import RandomSource  # noqa: E402
from private_mdi.paillier import (  # noqa: E402
    CorrelationParams,
    PaillierKeyPair,
    client_decrypt_reply,
    client_encrypt_mask,
    owner_respond,
)

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", default="64x128,784x128", help="comma-separated IN x OUT")
    ap.add_argument("--key-bits", type=int, default=2048)
    ap.add_argument("--weight-bits", type=int, default=10)
    ap.add_argument(
        "--naive-rows", type=int, default=8, help="rows of the naive owner timed (then extrapolated)"
    )
    ap.add_argument("--naive-enc", type=int, default=128, help="naive encryptions timed (then extrapolated)")
    args = ap.parse_args()

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
