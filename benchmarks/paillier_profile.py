"""Where the privateMDI offline CPU goes per digits-MLP inference: counts per inference × cost per operation.

Usage: python benchmarks/paillier_profile.py [--key-bits 2048,3072] [--repeat 3] [--format table|json]

For the digits MLP (64→32→32→32→10, the session's quantised weights, prime and weight bounds, one full
batch β = P of inferences per layer, P = slots per ciphertext) it measures, in one process and one thread
(CPU time, ``time.process_time``, best of ``--repeat``):

* ``decrypt``: one CRT decryption (``PaillierKeyPair.decrypt_many``, batched), the client's unit of work
  for both the upload pads (n_in per batch) and the replies (n_out per batch at β = P);
* ``rerand``: one public-key re-randomiser ``u^n mod n²`` (``RandomizerPool.fill``), full-length exponent,
  one per reply ciphertext;
* ``multiexp``: the owner's bucket multi-exponentiations of one layer (``row_product`` over all rows,
  including the inversions of the columns with a negative weight), per inference;
* ``owner_rest``: the rest of ``owner_respond`` with a filled pool (seed expansion, the upload's
  ``y·(1+δn)``, the ρ offsets and the final products), per inference.

Then the model ``Σ count × cost`` and the measured end-to-end total CPU of one batch per layer (client
pads + upload + owner + reply decryptions, with a filled pool) for comparison. The crypto randomness is
seeded (reproducible, not secret).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

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
from private_mdi.multiexp import row_product  # noqa: E402
from private_mdi.paillier import PaillierKeyPair, RandomizerPool  # noqa: E402


def _bench_module() -> Any:
    """benchmarks/paillier.py loaded by path (its ``digits_layers``: the session's quantised digits MLP)."""
    spec = importlib.util.spec_from_file_location("_paillier_bench", os.path.join(_HERE, "paillier.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _best(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def _layer(kp: PaillierKeyPair, p: int, w: np.ndarray, bound: int, repeat: int, rng: RandomSource) -> dict:
    """Seconds per inference of one layer's parts at β = P (full batch)."""
    pub, bits = kp.public, kp.public.bits
    n_out, n_in = w.shape
    cap = CorrelationParams(p, n_in, n_out, bound).max_batch(bits)
    prm = CorrelationParams(p, n_in, n_out, bound, cap)
    lay = prm.layout(bits)
    bases = [pub.encrypt_raw(0, rng) for _ in range(n_in)]
    n2 = pub.nsquare

    def rows() -> None:
        inv = [gmpy2.invert(b, n2) if (w[:, j] < 0).any() else None for j, b in enumerate(bases)]
        for i in range(n_out):
            row_product(bases, inv, w[i], n2)

    pad = precompute_upload(kp, n_in, rng)
    _, msg = client_encrypt_mask(kp, prm, rng, pad=pad)
    up = msg.to_bytes()
    rerands = RandomizerPool(pub, rng)
    rerands.fill(lay.reply_cts * repeat)

    def owner() -> None:
        owner_respond(pub, w, prm, up, rng, pool=rerands)  # pool filled: no u^n in the timing

    def whole() -> None:
        pool = RandomizerPool(pub, rng)
        pool.fill(lay.reply_cts)
        pad = precompute_upload(kp, n_in, rng)
        state, msg = client_encrypt_mask(kp, prm, rng, pad=pad)
        _, reply = owner_respond(pub, w, prm, msg.to_bytes(), rng, pool=pool)
        client_decrypt_reply(kp, state, reply.to_bytes())

    t_rows, t_owner, t_whole = _best(rows, repeat), _best(owner, repeat), _best(whole, repeat)
    return {
        "n_in": n_in,
        "n_out": n_out,
        "weight_bound": bound,
        "slot_bits": lay.slot_bits,
        "slots": lay.slots_per_ct,
        "batch": cap,
        "reply_cts": lay.reply_cts,
        "decryptions_per_inference": (n_in + lay.reply_cts) / cap,
        "rerandomizers_per_inference": lay.reply_cts / cap,
        "multiexp_s": t_rows / cap,
        "owner_rest_s": max(0.0, t_owner - t_rows) / cap,
        "measured_s": t_whole / cap,
    }


def profile(bits: int, repeat: int) -> dict[str, Any]:
    """Cost per operation, counts per inference and the per-part CPU seconds per inference at ``bits``."""
    kp = PaillierKeyPair.generate(bits, RandomSource(seed=f"profile-{bits}"))
    pub, rng = kp.public, RandomSource(seed=f"profile-run-{bits}")
    p, layers = _bench_module().digits_layers(kp)
    cts = [pub.encrypt_raw(i, rng) for i in range(32)]
    cost = {
        "decrypt_s": _best(lambda: kp.decrypt_many(cts), repeat) / len(cts),
        "rerand_s": _best(lambda: RandomizerPool(pub, rng).fill(16), repeat) / 16,
    }
    per_layer = [_layer(kp, p, w, bound, repeat, rng) for w, bound in layers]
    count = {k: sum(lay[f"{k}_per_inference"] for lay in per_layer) for k in ("decryptions", "rerandomizers")}
    parts = {
        "decrypt_s": count["decryptions"] * cost["decrypt_s"],
        "rerand_s": count["rerandomizers"] * cost["rerand_s"],
        "multiexp_s": sum(lay["multiexp_s"] for lay in per_layer),
        "owner_rest_s": sum(lay["owner_rest_s"] for lay in per_layer),
    }
    return {
        "key_bits": bits,
        "p": p,
        "repeat": repeat,
        "load_1min": os.getloadavg()[0],
        "cost_per_op": cost,
        "count_per_inference": count,
        "parts_per_inference": parts,
        "model_total_s": sum(parts.values()),
        "measured_total_s": sum(lay["measured_s"] for lay in per_layer),
        "layers": per_layer,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--key-bits", default="2048,3072")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--format", choices=("table", "json"), default="table")
    args = ap.parse_args()
    res = [profile(int(b), args.repeat) for b in args.key_bits.split(",")]
    if args.format == "json":
        print(json.dumps(res, indent=1))
        return
    print(f"digits MLP offline, CPU ms per inference, one thread, best of {args.repeat}")
    for r in res:
        c, n, parts = r["cost_per_op"], r["count_per_inference"], r["parts_per_inference"]
        print(f"{r['key_bits']} bits (load {r['load_1min']:.1f}):")
        for lay in r["layers"]:
            print(
                f"  layer {lay['n_in']:>3}→{lay['n_out']:<3} bound {lay['weight_bound']:>6}  "
                f"w = {lay['slot_bits']} bits  P = β = {lay['slots']}  reply cts {lay['reply_cts']}  "
                f"multiexp "
                f"{1e3 * lay['multiexp_s']:.2f}  measured {1e3 * lay['measured_s']:.2f}"
            )
        ops = (("decryptions ", "decryptions", "decrypt"), ("re-randomise", "rerandomizers", "rerand"))
        for label, k, op in ops:
            each, total = 1e3 * c[f"{op}_s"], 1e3 * parts[f"{op}_s"]
            print(f"  {label} {n[k]:5.2f} × {each:.2f} = {total:6.1f}")
        print(f"  owner multi-exponentiation      {1e3 * parts['multiexp_s']:6.1f}")
        print(f"  owner rest (expand, offsets)    {1e3 * parts['owner_rest_s']:6.1f}")
        model, measured = 1e3 * r["model_total_s"], 1e3 * r["measured_total_s"]
        print(f"  model total {model:.1f}; measured end to end {measured:.1f}")


if __name__ == "__main__":
    main()
