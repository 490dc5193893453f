"""Secure AᵀB against a real MPC framework: MPyC (``-M 3``) vs ``cmpc run --local``, same machine, same run.

    .venv/bin/python benchmarks/vs_mpyc.py                # rows for m = 256, 512, 1024; p = 2^31 − 1, z = 1
    .venv/bin/python benchmarks/vs_mpyc.py --m 128 --repeat 3 --no-ssl

Task: A, B ∈ GF(p)^{m×m}, A held by one party, B by another, Y = AᵀB revealed, privacy against z = 1
colluding party. p = 2^31 − 1.

* **MPyC** (``pip install mpyc``, the ``bench`` extra): three parties started by MPyC itself (``-M 3``),
  Shamir threshold 1, secure field arrays (``SecFld(p).array``), party 0 inputs A, party 1 inputs B,
  ``A.T @ B``, ``mpc.output`` to every party. With ``--ssl`` (default here) MPyC runs over TLS with
  certificates this script makes for it (CN ``MPyC party i``, one CA).
* **cmpc**: the whole ``python -m cmpc run --local ... --format json`` command (a subprocess, timed from
  outside like MPyC's) — 2 sources + N workers + a master, each its own TLS endpoint (mutual TLS 1.3),
  hosted by the command's default number of processes (one per core); first the ``bgw`` code (s = t = 1,
  N = 3), then ``age`` with s = t = 2 (N = 14 for z = 1), then the start-up target of issue 15, ``age``
  s = t = z = 2 (N = 17); ``--per-party`` adds AGE with one process per party.

Reported for both: *protocol seconds* — from "all parties connected" to "result in hand" (MPyC: after
``mpc.start()`` until ``mpc.output`` returned at the slowest party; cmpc: from the launcher's GO until the
master holds Y), *wall seconds* — the whole command including interpreter start-up and imports (both
systems' commands run as subprocesses of this script), and bytes
sent by all parties (MPyC: its per-connection counters; cmpc: frame payloads, TLS overhead excluded in both).
The ratio printed is MPyC protocol time / cmpc protocol time (and the same for wall time). Numbers depend
on the machine's load: both systems run back to back in this one process, ``--repeat`` takes the median.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

P = 2**31 - 1

MPYC_PROGRAM = textwrap.dedent(
    """
    import json, os, sys, time
    import numpy as np
    from mpyc.runtime import mpc

    async def main():
        # the size and report folder come from the environment: MPyC's own option parser runs first and
        # takes any abbreviation of its options (``--m`` is read as ``--mix32-64bit``); the parties MPyC
        # starts itself (-M 3) inherit the environment (mpyc/runtime.py, subprocess.Popen without env=)
        m = int(os.environ["CMPC_VS_MPYC_M"])
        out = os.environ["CMPC_VS_MPYC_OUT"]
        p = 2**31 - 1
        secfld = mpc.SecFld(p)
        await mpc.start()
        t0 = time.time()
        zero = np.zeros((m, m), dtype=np.int64)
        a = np.random.default_rng(1).integers(0, p, (m, m)) if mpc.pid == 0 else zero
        b = np.random.default_rng(2).integers(0, p, (m, m)) if mpc.pid == 1 else zero
        A = mpc.input(secfld.array(a), senders=0)
        B = mpc.input(secfld.array(b), senders=1)
        y = await mpc.output(A.T @ B)
        t1 = time.time()
        sent = sum(peer.protocol.nbytes_sent for peer in mpc.parties if peer.pid != mpc.pid)
        # public demo seeds: check two result entries with Python integers
        a_ = np.random.default_rng(1).integers(0, p, (m, m)).astype(object)
        b_ = np.random.default_rng(2).integers(0, p, (m, m)).astype(object)
        ok = all(int(y[i, j]) == int((a_[:, i] * b_[:, j]).sum() % p) for i, j in ((0, 0), (m - 1, 1)))
        await mpc.shutdown()
        with open(os.path.join(out, f"mpyc-{mpc.pid}.json"), "w") as fh:
            json.dump({"pid": mpc.pid, "m": m, "t0": t0, "t1": t1, "bytes": sent, "ok": ok}, fh)

    mpc.run(main())
    """
)


def free_base_port(count: int = 3) -> int:
    """A port b with b, b+1, ..., b+count-1 free on 127.0.0.1 (MPyC uses consecutive ports)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + count > 65535:
            continue
        socks = []
        try:
            for i in range(count):
                t = socket.socket()
                socks.append(t)
                t.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for t in socks:
                t.close()
    raise RuntimeError("no free consecutive ports")


def mpyc_certificates(folder: Path, parties: int) -> None:
    """``.config/mpyc_ca.crt`` and ``party_i.crt/.key`` as MPyC's ``--ssl`` expects them."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from cmpc.rand import RandomSource

    rng = RandomSource()
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    now = dt.datetime.now(dt.UTC)

    def key():
        return ec.derive_private_key(rng.randbelow(order - 1) + 1, ec.SECP256R1())

    def build(subject: str, pub, issuer: str, signer, ca: bool):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(pub)
            .serial_number(rng.randbits(159) | 1)
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            san = x509.SubjectAlternativeName([x509.DNSName(subject)])
            builder = builder.add_extension(san, critical=False)
        return builder.sign(signer, hashes.SHA256())

    cfg = folder / ".config"
    cfg.mkdir(parents=True, exist_ok=True)
    ca_key = key()
    ca = build("MPyC CA", ca_key.public_key(), "MPyC CA", ca_key, True)
    (cfg / "mpyc_ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for i in range(parties):
        k = key()
        cert = build(f"MPyC party {i}", k.public_key(), "MPyC CA", ca_key, False)
        (cfg / f"party_{i}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (cfg / f"party_{i}.key").write_bytes(
            k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
        )
        os.chmod(cfg / f"party_{i}.key", 0o600)


def run_mpyc(m: int, ssl: bool, timeout: float = 600.0) -> dict:
    with tempfile.TemporaryDirectory(prefix="vs-mpyc-") as tmp:
        work = Path(tmp)
        (work / "prog.py").write_text(MPYC_PROGRAM)
        if ssl:
            mpyc_certificates(work, 3)
        cmd = [sys.executable, "prog.py", "-M", "3", "-B", str(free_base_port()), "--no-log"]
        if ssl:
            cmd.append("--ssl")
        env = dict(os.environ, CMPC_VS_MPYC_M=str(m), CMPC_VS_MPYC_OUT=str(work))
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=work, check=True, timeout=timeout, stdout=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 60
        reports = []
        while time.monotonic() < deadline:  # parties 1, 2 are MPyC's own subprocesses
            files = sorted(work.glob("mpyc-*.json"))
            if len(files) == 3:
                try:
                    reports = [json.loads(f.read_text()) for f in files]
                    break
                except json.JSONDecodeError:
                    pass
            time.sleep(0.05)
        wall = time.perf_counter() - t0
    if len(reports) != 3:
        raise RuntimeError("MPyC parties did not all report")
    if any(r["m"] != m for r in reports):
        raise RuntimeError(f"MPyC ran m = {[r['m'] for r in reports]}, not the requested {m}")
    return {
        "seconds": max(r["t1"] for r in reports) - min(r["t0"] for r in reports),
        "wall": wall,
        "bytes": sum(r["bytes"] for r in reports),
        "correct": all(r["ok"] for r in reports),
        "parties": 3,
    }


def run_ours(code: str, s: int, t: int, z: int, m: int, insecure: bool, processes: int | None = None) -> dict:
    """The whole ``python -m cmpc run --local ... --format json`` command, timed from outside like MPyC's.

    ``processes=None`` is the command's default (one process per core, several parties in each);
    ``processes=0`` asks for one process per party (``--one-process-per-party``, the deployment shape).
    """
    cmd = [sys.executable, "-m", "cmpc", "run", "--local", "--code", code, "--s", str(s), "--t", str(t),
           "--z", str(z), "--m", str(m), "--timeout", "60", "--format", "json", "--quiet"]
    cmd += ["--insecure"] if insecure else []
    if processes == 0:
        cmd.append("--one-process-per-party")
    elif processes is not None:
        cmd += ["--processes", str(processes)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"cmpc run failed (status {proc.returncode}): {proc.stderr[-2000:]}")
    res = json.loads(proc.stdout)
    return {
        "seconds": res["seconds"]["total"],
        "wall": wall,
        "bytes": res["bytes"]["total"],
        "correct": res["correct"],
        "parties": res["workers"] + 3,
        "processes": res.get("processes", res["workers"] + 3),
        "phases": {k: res["seconds"][k] for k in ("phase1", "phase2", "phase3")},
    }


def median_of(runs: list[dict]) -> dict:
    out = dict(runs[0])
    for key in ("seconds", "wall"):
        out[key] = statistics.median(r[key] for r in runs)
    out["correct"] = all(r["correct"] for r in runs)
    return out


def compare(m: int, repeat: int, ssl: bool, per_party: bool = False) -> dict[str, dict]:
    """One block of rows (MPyC, cmpc bgw, cmpc age) for size ``m``, run back to back."""
    rows: dict[str, dict] = {}
    rows["mpyc -M 3 (Shamir t=1)"] = median_of([run_mpyc(m, ssl) for _ in range(repeat)])
    rows["cmpc bgw (N=3)"] = median_of([run_ours("bgw", 1, 1, 1, m, not ssl) for _ in range(repeat)])
    rows["cmpc age s=t=2 (N=14)"] = median_of([run_ours("age", 2, 2, 1, m, not ssl) for _ in range(repeat)])
    if per_party:
        rows["cmpc age N=14, 1 proc/party"] = median_of(
            [run_ours("age", 2, 2, 1, m, not ssl, processes=0) for _ in range(repeat)]
        )
    # the start-up target's command (issue 15): z = 2, N = 17
    rows["cmpc age s=t=z=2 (N=17)"] = median_of([run_ours("age", 2, 2, 2, m, not ssl) for _ in range(repeat)])
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--m", type=int, action="append",
                    help="matrix side; repeat for several rows (default: 256, 512 and 1024)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--no-ssl", action="store_true", help="MPyC without TLS and cmpc with --insecure")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--per-party", action="store_true",
                    help="also run AGE with one process per party (the deployment shape, slower start-up)")
    args = ap.parse_args(argv)
    ssl = not args.no_ssl
    sizes = args.m or [256, 512, 1024]
    blocks = {m: compare(m, args.repeat, ssl, args.per_party) for m in sizes}
    if args.json:
        by_m = {str(m): rows for m, rows in blocks.items()}
        print(json.dumps({"p": P, "tls": ssl, "blocks": by_m}, indent=1))
        return 0
    print(f"secure A^T B, p = 2^31 - 1, z = 1, 127.0.0.1, {'TLS' if ssl else 'plain TCP'}, "
          f"median of {args.repeat}; machine: {os.cpu_count()} CPUs")
    print(f"{'m':>5} {'system':<27} {'parties':>7} {'procs':>5} {'protocol s':>11} {'wall s':>8} "
          f"{'MB sent':>9} {'speed-up':>9} {'wall x':>7} {'correct':>8}")
    for m, rows in blocks.items():
        base = rows["mpyc -M 3 (Shamir t=1)"]
        for name, r in rows.items():
            print(f"{m:>5} {name:<27} {r['parties']:>7} {r.get('processes', r['parties']):>5} "
                  f"{r['seconds']:>11.3f} {r['wall']:>8.2f} "
                  f"{r['bytes'] / 1e6:>9.2f} {base['seconds'] / r['seconds']:>8.1f}x "
                  f"{base['wall'] / r['wall']:>6.2f}x {r['correct']!s:>8}")
    print("speed-up = MPyC protocol seconds / this row's protocol seconds (connected → result); "
          "wall x = MPyC whole-command seconds / this row's (incl. start-up)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
