"""Generate tests/vectors/paillier_kat.json: Paillier and linear-correlation known answers.

Independent of the implementation under test: this script uses only the Python standard library (plain
``pow``, ``hashlib``, ``struct``) plus AES-256-CTR from ``cryptography`` for the seed expansion the protocol
specifies. It never imports ``private_mdi`` or ``gmpy2``. Decryption here is the textbook (non-CRT) form
``m = L(c^λ mod n²) · μ mod n`` with ``λ = lcm(p−1, q−1)``, ``μ = L((n+1)^λ mod n²)^{−1} mod n``;
encryption is ``(n+1)^m · u^n mod n²`` with a full exponentiation of ``g = n + 1`` (no binomial shortcut).

Run from the repository root:  python tests/vectors/paillier_kat_gen.py > tests/vectors/paillier_kat.json
The output is deterministic (primes from a SHA-256 counter stream, Miller–Rabin with hash-derived bases);
tests/vectors/PAILLIER_KAT.md records its SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

LABEL = b"cmpc-toolkit/paillier-kat/v1"


def stream_int(tag: bytes, bits: int) -> int:
    out, ctr = b"", 0
    while len(out) * 8 < bits:
        out += hashlib.sha256(LABEL + b"/" + tag + ctr.to_bytes(4, "big")).digest()
        ctr += 1
    return int.from_bytes(out, "big") >> (len(out) * 8 - bits)


def is_probable_prime(x: int, rounds: int = 48) -> bool:
    if x < 2 or x % 2 == 0:
        return x == 2
    for sp in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if x % sp == 0:
            return x == sp
    d, s = x - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for i in range(rounds):
        a = 2 + stream_int(b"mr" + x.to_bytes((x.bit_length() + 7) // 8, "big") + bytes([i]), 64) % (x - 3)
        y = pow(a, d, x)
        if y in (1, x - 1):
            continue
        for _ in range(s - 1):
            y = y * y % x
            if y == x - 1:
                break
        else:
            return False
    return True


def prime(tag: bytes, bits: int) -> int:
    x = stream_int(tag, bits) | (3 << (bits - 2)) | 1
    while not is_probable_prime(x):
        x += 2
    assert x.bit_length() == bits
    return x


def textbook_decrypt(c: int, n: int, lam: int, mu: int) -> int:
    n2 = n * n
    return (pow(c, lam, n2) - 1) // n * mu % n


def main() -> None:
    p, q = prime(b"p", 1024), prime(b"q", 1024)
    assert p != q and math.gcd(p * q, (p - 1) * (q - 1)) == 1
    n, n2 = p * q, (p * q) ** 2
    assert n.bit_length() == 2048
    lam = math.lcm(p - 1, q - 1)
    mu = pow((pow(n + 1, lam, n2) - 1) // n, -1, n)
    nb = (n.bit_length() + 7) // 8
    fingerprint = hashlib.sha256(b"privateMDI/paillier/pk/v1\x00" + n.to_bytes(nb, "big")).digest()[:16]
    pk_bytes = b"PMPK" + struct.pack(">BH", 1, n.bit_length()) + n.to_bytes(nb, "big")

    enc = []
    for i, m in enumerate([0, 1, 2**31 - 2, n - 1, stream_int(b"m", 2047)]):
        u = 1 + stream_int(b"u%d" % i, 2048) % (n - 1)
        assert math.gcd(u, n) == 1
        c = pow(n + 1, m, n2) * pow(u, n, n2) % n2
        assert textbook_decrypt(c, n, lam, mu) == m
        enc.append({"m": hex(m), "u": hex(u), "c": hex(c)})

    # one correlation a = W r − s (mod prime) with every random value fixed
    prime_p, w = 101, [[1, -2], [3, 0]]
    n_in, n_out, bound, stat_bits = 2, 2, 3, 40
    r = [17, 88]
    s = [5, 99]
    big_a = n_in * bound * (prime_p - 1)
    k_min, k_max = (-big_a - (prime_p - 1)) // prime_p, big_a // prime_p
    span_k = k_max - k_min + 1
    rho_span = span_k << stat_bits
    slot_bits = (prime_p * (span_k - 1 + rho_span) - 1).bit_length()
    slots = (n.bit_length() - 1) // slot_bits
    assert slots >= n_out  # one reply ciphertext holds both rows
    rho_draws = [stream_int(b"rho%d" % i, 64) % rho_span for i in range(n_out)]  # ρ_i = −k_min + draw
    rho = [-k_min + d for d in rho_draws]
    seed = hashlib.sha256(LABEL + b"/seed").digest()
    width = 2 * nb + 16
    stream = Cipher(algorithms.AES(seed), modes.CTR(b"\x00" * 16)).encryptor().update(bytes(width * n_in))
    ys = [int.from_bytes(stream[j * width : (j + 1) * width], "big") % n2 for j in range(n_in)]
    deltas = [(r[j] - textbook_decrypt(ys[j], n, lam, mu)) % n for j in range(n_in)]
    enc_r = [ys[j] * (1 + deltas[j] * n) % n2 for j in range(n_in)]
    assert [textbook_decrypt(x, n, lam, mu) for x in enc_r] == r
    rid = hashlib.sha256(b"privateMDI/paillier/request\x00" + seed).digest()[:16]
    upload = struct.pack(">4sB16s16sQIHH", b"PMEM", 1, fingerprint, rid, prime_p, n_in, 1, slot_bits)
    upload += seed + b"".join(d.to_bytes(nb, "big") for d in deltas)
    rerand_u = 1 + stream_int(b"rerand", 2048) % (n - 1)
    # reply = Π_i (Π_j Enc(r_j)^{W_ij})^{2^{i·w}} · Enc(Σ_i (p ρ_i − s_i) 2^{i·w}; rerand_u)
    reply = 1
    for i in range(n_out):
        row = 1
        for j in range(n_in):
            row = row * pow(enc_r[j], w[i][j], n2) % n2  # negative exponent: modular inverse
        reply = reply * pow(row, 2 ** (i * slot_bits), n2) % n2
    offset = sum((prime_p * rho[i] - s[i]) << (i * slot_bits) for i in range(n_out)) % n
    reply = reply * pow(n + 1, offset, n2) * pow(rerand_u, n, n2) % n2
    z = [sum(w[i][j] * r[j] for j in range(n_in)) - s[i] + prime_p * rho[i] for i in range(n_out)]
    assert textbook_decrypt(reply, n, lam, mu) == sum(z[i] << (i * slot_bits) for i in range(n_out))
    a = [v % prime_p for v in z]
    reply_bytes = struct.pack(
        ">4sB16s16sQIHHHI", b"PMRP", 1, fingerprint, rid, prime_p, n_out, 1, slot_bits, slots, 1
    ) + reply.to_bytes(2 * nb, "big")

    out = {
        "description": "Paillier (g = n + 1) and privateMDI linear-correlation known answers; "
        "generated by tests/vectors/paillier_kat_gen.py (standard library + AES-CTR only)",
        "key": {
            "p": hex(p),
            "q": hex(q),
            "n": hex(n),
            "lambda": hex(lam),
            "mu": hex(mu),
            "fingerprint": fingerprint.hex(),
            "public_key_bytes_sha256": hashlib.sha256(pk_bytes).hexdigest(),
        },
        "encryptions": enc,
        "correlation": {
            "p": prime_p,
            "w": w,
            "weight_bound": bound,
            "stat_bits": stat_bits,
            "r": r,
            "s": s,
            "seed": seed.hex(),
            "rho_draws": [hex(d) for d in rho_draws],
            "rerandomizer_u": hex(rerand_u),
            "slot_bits": slot_bits,
            "slots_per_ct": slots,
            "rho_low": -k_min,
            "rho_span": hex(rho_span),
            "deltas": [hex(d) for d in deltas],
            "upload_hex": upload.hex(),
            "reply_ciphertext": hex(reply),
            "reply_hex": reply_bytes.hex(),
            "z": [hex(v) for v in z],
            "a": a,
        },
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
