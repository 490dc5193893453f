"""privateMDI end to end on the digits models: offline/online cost, pipelining, edges, and a 2-party baseline.

For each model (digits MLP and CNN) and each K in ``--edges``, in one run:

* plaintext numpy inference time per sample (``Model.forward`` one sample at a time) as the baseline;
* offline: wall time per inference (setup excluded), CPU split into Paillier / garbling / OT, bytes per
  inference per phase, storage per inference at each party;
* online (in-memory, no link emulation): latency per inference one at a time, then ms per inference with
  all ``--n`` in flight unbatched (``batch=1``, the baseline) and in batches of ``--batch`` (default 32),
  client bytes per inference, busiest edge's CPU busy time per inference (median over the batched run);
* pipelining over an emulated link (``--latency-ms``, optional ``--bandwidth-mbps``; every party pair),
  with the edges as separate processes over TCP + mutual TLS (``--threads``: in-memory threads instead):
  ``--inflight`` inferences one at a time versus all in flight in batches, and the throughput ratio;
* a **two-party Delphi-style baseline** on the same building blocks (one server holds the whole model and
  garbles; the client evaluates every garbled ReLU online: it receives the server's b-labels and returns the
  output labels, which only the server can decode). Its client-wire labels come from a *stand-in* for a
  two-party OT (the server sends both masked labels per wire with the same 3-party OT encoding and the
  client unmasks one): the traffic is that of a real OT-extension message (two 16-byte labels per wire plus
  check bytes) but it is **not** a secure 2-party OT; it exists only to measure the protocol shape.

An ``--edges`` entry ``4s`` splits the linear layer with the most ReLUs into K slices (``4s2``: into 2);
``4b`` puts it in K/2 slices evaluated by the other K/2 edges (:func:`balanced_hosts`)
(intra-layer parallelism: ``PrivateInference(..., split={ℓ: K})``, rules in ``docs/private-mdi.md``);
the largest-edge busy-time ratio is printed against K = 2 unsplit.

Usage: python benchmarks/private_mdi.py [--models mlp,cnn] [--edges 2,3,4,4s] [--n 16] [--inflight 16]
       [--latency-ms 10] [--bandwidth-mbps 0] [--no-baseline] [--threads] [--batch 32]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

# This file is named like the package it measures: drop its own directory from the import path so
# that ``import private_mdi`` finds the package, not this script.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np  # noqa: E402

from cmpc.field import PrimeField  # noqa: E402
from cmpc.net import MemoryNetwork  # noqa: E402
from cmpc.net.base import Transport  # noqa: E402
from cmpc.net.link import LinkEmulator, LinkSpec  # noqa: E402
from cmpc.rand import RandomSource  # noqa: E402
from cmpc.wire import decode_matrix as decode_field  # noqa: E402
from cmpc.wire import encode_matrix as encode_field  # noqa: E402
from private_mdi.examples.train_digits import DATA_DIR, digits_split  # noqa: E402
from private_mdi.gc.encoding import Labels, assemble_labels  # noqa: E402
from private_mdi.gc.garble import evaluate, garble  # noqa: E402
from private_mdi.gc.relu import bits_to_field, field_to_bits, privatemdi_relu_circuit  # noqa: E402
from private_mdi.inference import PrivateInference  # noqa: E402
from private_mdi.model import Model  # noqa: E402
from private_mdi.ot import OTChooser, OTSender, receive  # noqa: E402
from private_mdi.paillier import (  # noqa: E402
    CorrelationParams,
    PaillierKeyPair,
    RandomizerPool,
    client_decrypt_reply,
    client_encrypt_mask,
    owner_respond,
)
from private_mdi.protocol import messages as M  # noqa: E402
from private_mdi.protocol.spec import Phase  # noqa: E402


def kb(x: float) -> str:
    return f"{x / 1000:.1f} kB"


class Mailbox:
    """The baseline's blocking inbox (benchmark only): wait for a message of some classes, keep the rest."""

    def __init__(self, transport: Transport, timeout: float) -> None:
        self.transport, self.timeout = transport, timeout
        self.pending: list[tuple[str, M.Message]] = []

    def send(self, peer: str, message: M.Message, phase: str) -> None:
        self.transport.send(peer, message.to_bytes(), phase=phase)

    def expect(
        self, kinds: Any, *, inference: int | None = None, layer: int | None = None
    ) -> tuple[str, Any]:
        def match(fr: M.Message) -> bool:
            return isinstance(fr, kinds) and inference in (None, fr.inference) and layer in (None, fr.layer)

        for j, (peer, fr) in enumerate(self.pending):
            if match(fr):
                del self.pending[j]
                return peer, fr
        while True:
            peer, data = self.transport.recv(timeout=self.timeout)
            fr = M.decode(data, peer=peer)
            if match(fr):
                return peer, fr
            self.pending.append((peer, fr))


# -------------------------------------------------------------------------------------------------
# two-party Delphi-style baseline (benchmark only)
# -------------------------------------------------------------------------------------------------
class Baseline:
    """Client + one server holding the whole model; the client evaluates the garbled ReLUs online."""

    def __init__(self, pi: PrivateInference, keys: PaillierKeyPair, link: LinkSpec | None = None) -> None:
        self.spec = pi.spec
        if any(pl is not None for pl in pi.spec.pools):
            raise ValueError("the baseline handles models without max pooling only")
        self.p, self.f = pi.p, pi.f
        self.fld = PrimeField(self.p)
        self.layers = pi.quantized
        self.keys = keys
        self.net = MemoryNetwork(["client", "server"])

        def tr(name: str) -> Any:
            inner = self.net.transport(name)
            return inner if link is None or link.is_null else LinkEmulator(inner, default=link)

        self.cmail = Mailbox(tr("client"), timeout=120)
        self.smail = Mailbox(tr("server"), timeout=120)
        self.rng = RandomSource(seed="baseline")  # benchmark only
        self.circuit = privatemdi_relu_circuit(self.p, self.f)
        self.key = self.rng.bytes(32)  # stand-in OT key (see module docstring)
        self.cmat: dict[int, dict[str, Any]] = {}
        self.smat: dict[int, dict[str, Any]] = {}
        self.times = {"paillier": 0.0, "garbling": 0.0, "ot": 0.0}

    def offline(self, first: int, n: int) -> None:
        spec, p, L = self.spec, self.p, self.spec.layers
        kp = self.keys
        pool = RandomizerPool(kp.public, self.rng.spawn())
        sender, chooser = OTSender(self.key), OTChooser(self.key)
        r: dict[int, np.ndarray] = {}
        a: dict[int, np.ndarray] = {}
        s: dict[int, np.ndarray] = {}
        for ell in range(1, L + 1):
            prm = CorrelationParams(p, spec.in_dim(ell), spec.dims[ell], spec.weight_bounds[ell - 1], 1)
            cap = prm.max_batch(spec.key_bits)
            rs, as_, ss = [], [], []
            for c0 in range(0, n, cap):
                cnt = min(cap, n - c0)
                prm = CorrelationParams(p, spec.in_dim(ell), spec.dims[ell], spec.weight_bounds[ell - 1], cnt)
                t0 = time.thread_time()
                state, msg = client_encrypt_mask(kp, prm, self.rng)
                self.cmail.send(
                    "server", M.EncMasks(first + c0, ell, msg.to_bytes(), cnt), Phase.PAILLIER
                )
                _, fr = self.smail.expect(M.EncMasks)
                si, reply = owner_respond(
                    kp.public, self.layers[ell - 1].weight, prm, fr.payload, self.rng, pool=pool
                )
                self.smail.send(
                    "client",
                    M.EncCorrelation(first + c0, ell, reply.to_bytes(), cnt),
                    Phase.PAILLIER,
                )
                _, fr = self.cmail.expect(M.EncCorrelation)
                ri, ai = client_decrypt_reply(kp, state, fr.payload)  # type: ignore[misc]
                self.times["paillier"] += time.thread_time() - t0
                rs.append(ri)
                as_.append(ai)
                ss.append(si)
            r[ell], a[ell], s[ell] = np.concatenate(rs), np.concatenate(as_), np.concatenate(ss)
        k = spec.bits
        sl_a, sl_r = self.circuit.input_slice("a"), self.circuit.input_slice("r")
        for j in range(n):
            i = first + j
            self.cmat[i] = {"r1": r[1][j], "aL": a[L][j], "gc": {}, "labels": {}}
            self.smat[i] = {"s": {ell: s[ell][j] for ell in range(1, L + 1)}, "bkeys": {}, "dec": {}}
            for ell in range(1, L):
                d = spec.dims[ell]
                t0 = time.thread_time()
                g = garble(self.circuit, copies=d, rng=self.rng)
                self.times["garbling"] += time.thread_time() - t0
                self.smail.send("client", M.Garbled(i, ell, g.garbled.to_bytes()), Phase.GARBLING)
                self.smat[i]["bkeys"][ell] = g.encoder.keys("b")
                self.smat[i]["dec"][ell] = g.decoder
                _, fr = self.cmail.expect(M.Garbled, inference=i, layer=ell)
                self.cmat[i]["gc"][ell] = type(g.garbled).from_bytes(fr.payload, self.circuit)
                t0 = time.thread_time()
                zero = np.concatenate([g.encoder.zero[:, sl_a], g.encoder.zero[:, sl_r]], axis=1)
                one = zero ^ g.encoder.delta[:, None, :]
                tid = b"BASE" + i.to_bytes(8, "little") + ell.to_bytes(4, "little")
                rows0 = np.ascontiguousarray(zero.reshape(-1, 2).astype("<u8")).view(np.uint8).reshape(-1, 16)
                rows1 = np.ascontiguousarray(one.reshape(-1, 2).astype("<u8")).view(np.uint8).reshape(-1, 16)
                msg = sender.message(rows0, rows1, tid).to_bytes()
                self.smail.send("client", M.OtSender(i, ell, msg), Phase.OT)
                _, fr = self.cmail.expect(M.OtSender, inference=i, layer=ell)
                bits = np.concatenate([field_to_bits(a[ell][j], p), field_to_bits(r[ell + 1][j], p)], axis=1)
                got = receive(fr.payload, chooser.message(bits.reshape(-1), 16, tid))
                lab = np.ascontiguousarray(got).view("<u8").astype(np.uint64).reshape(d, 2 * k, 2)
                self.cmat[i]["labels"][ell] = (Labels(lab[:, :k].copy()), Labels(lab[:, k:].copy()))
                self.times["ot"] += time.thread_time() - t0

    def _server(self, ids: list[int]) -> None:
        spec, fld, L = self.spec, self.fld, self.spec.layers
        todo = len(ids) * L
        while todo:
            _, fr = self.smail.expect((M.Input, M.LabelsMsg))
            i = fr.inference
            if isinstance(fr, M.Input):
                u = decode_field(fr.payload, self.p)[0]
                ell = 1
            else:
                prev = fr.layer
                out = Labels.from_bytes(fr.payload)
                u = bits_to_field(self.smat[i]["dec"][prev].decode(out), self.p)
                ell = prev + 1
            q = self.layers[ell - 1]
            b = fld.raw_add(
                fld.raw_add(fld.raw_matmul(q.weight_mod(self.p), u), self.smat[i]["s"][ell]),
                q.bias_mod(self.p),
            )
            if ell < L:
                lab = self.smat[i]["bkeys"][ell].encode(field_to_bits(b, self.p))
                self.smail.send("client", M.LabelsMsg(i, ell, lab.to_bytes()), Phase.ONLINE)
            else:
                self.smail.send("client", M.Output(i, ell, encode_field(b, self.p)), Phase.ONLINE)
            todo -= 1
        _ = spec

    def _client(self, x_hat: np.ndarray, ids: list[int], pipelined: bool) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}

        def send(i: int, row: np.ndarray) -> None:
            u = self.fld.raw_sub(row, self.cmat[i]["r1"])
            self.cmail.send("server", M.Input(i, 1, encode_field(u, self.p)), Phase.ONLINE)

        pending = list(zip(ids, x_hat))
        if pipelined:
            for i, row in pending:
                send(i, row)
        else:
            send(*pending.pop(0))
        while len(out) < len(ids):
            _, fr = self.cmail.expect((M.LabelsMsg, M.Output))
            i = fr.inference
            if isinstance(fr, M.Output):
                out[i] = self.fld.raw_add(self.cmat[i]["aL"], decode_field(fr.payload, self.p)[0])
                if not pipelined and pending:
                    send(*pending.pop(0))
                continue
            ell = fr.layer
            gc = self.cmat[i]["gc"][ell]
            la, lr = self.cmat[i]["labels"][ell]
            labels = assemble_labels(self.circuit, {"a": la, "r": lr, "b": Labels.from_bytes(fr.payload)})
            res = evaluate(gc, labels)
            self.cmail.send("server", M.LabelsMsg(i, ell, res.to_bytes()), Phase.ONLINE)
        return out

    def online(self, x_hat: np.ndarray, ids: list[int], pipelined: bool = True) -> np.ndarray:
        res: dict[int, np.ndarray] = {}
        errs: list[BaseException] = []

        def srv() -> None:
            try:
                self._server(ids)
            except BaseException as exc:  # benchmark: surface in the main thread
                errs.append(exc)

        t = threading.Thread(target=srv, daemon=True)
        t.start()
        res = self._client(x_hat, ids, pipelined)
        t.join(120)
        if errs:
            raise errs[0]
        return np.stack([res[i] for i in ids])


# -------------------------------------------------------------------------------------------------
def balanced_hosts(layers: int, widest: int, k: int) -> list[int | tuple[int, ...]]:
    """``Kb``: the widest layer in K/2 slices on edges 1..K/2, their garbled ReLUs on the other K/2 edges
    (the default evaluators of a split layer with idle edges); the other layers alternate on edges 1, 2."""
    half = tuple(range(1, k // 2 + 1))
    return [half if ell == widest else 1 + (ell % 2) for ell in range(1, layers + 1)]


def measure_model(name: str, args: argparse.Namespace, keys: PaillierKeyPair) -> list[dict[str, Any]]:
    model = Model.load(DATA_DIR / f"digits_{name}.npz")
    _, x_te, _, _ = digits_split()
    n, m = args.n, args.inflight
    x = x_te[: max(n, 2 * m)]
    # plaintext baseline: one sample at a time
    reps = 200
    t0 = time.perf_counter()
    for j in range(reps):
        model.forward(x[j % len(x)][None, :])
    plain = (time.perf_counter() - t0) / reps
    rows = []
    link = LinkSpec(args.latency_ms, args.bandwidth_mbps or None)
    widest = 1 + int(np.argmax(model.relu_counts())) if model.relu_counts() else 1
    for label in args.edges:
        k_txt, _, m_txt = label.rstrip("b").partition("s")
        k = int(k_txt)
        split = {widest: int(m_txt or k)} if "s" in label else None
        hosts = balanced_hosts(model.num_linear, widest, k) if label.endswith("b") else None
        pi = PrivateInference(
            model,
            edges=k,
            split=split,
            hosts=hosts,
            input_bound=(0.0, 1.0),  # pixels / 16 lie in [0, 1] by construction
            paillier_keys=keys,
            progress=False,
            rng=RandomSource(seed=f"bench-{name}-{k}"),
            timeout=300,
        )
        pi.setup()
        before = dict(pi.meter.bytes_by_phase())
        t0 = time.perf_counter()
        pi.offline(3 * n + 1)
        off = (time.perf_counter() - t0) / (3 * n + 1)
        after = pi.meter.bytes_by_phase()
        off_bytes = {ph: (after.get(ph, 0) - before.get(ph, 0)) / (3 * n + 1) for ph in Phase.OFFLINE}
        pi.predict_raw(x[:1])  # warm-up (compiled kernels, caches): not timed
        t0 = time.perf_counter()
        raw = pi.predict_raw(x[:n], pipelined=False, batch=1)
        lat = (time.perf_counter() - t0) / n
        assert np.array_equal(raw, pi.reference_raw(x[:n])), (
            "private output differs from the fixed-point reference"
        )
        rep = pi.report.to_dict()
        # in memory, all n in flight: unbatched (the baseline, batch=1) then in batches of --batch
        t0 = time.perf_counter()
        pi.predict_raw(x[:n], batch=1)
        pip1 = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        raw = pi.predict_raw(x[:n], batch=args.batch)
        pipb = (time.perf_counter() - t0) / n
        assert np.array_equal(raw, pi.reference_raw(x[:n]))
        # busiest edge: median CPU per inference over the batched inferences, per edge
        ids = range(2 * n + 1, 3 * n + 1)
        busy = {e.name: float(np.median([e.busy.get(i, 0.0) for i in ids])) for e in pi.edges}
        pi.close()
        # pipelining over the emulated link: edges as processes over TCP + TLS (or threads with --threads)
        pl = PrivateInference(
            model,
            edges=k,
            split=split,
            hosts=hosts,
            input_bound=(0.0, 1.0),  # pixels / 16 lie in [0, 1] by construction
            paillier_keys=keys,
            progress=False,
            rng=RandomSource(seed=f"bench-link-{name}-{k}"),
            timeout=300,
            link=link,
            processes=not args.threads,
        )
        try:
            pl.offline(2 * m)
            t0 = time.perf_counter()
            pl.predict_raw(x[:m], pipelined=False, batch=1)
            seq = time.perf_counter() - t0
            t0 = time.perf_counter()
            pl.predict_raw(x[m : 2 * m], pipelined=True, batch=args.batch)
            pip = time.perf_counter() - t0
        finally:
            pl.close()
        rows.append(
            {
                "model": name,
                "K": label,
                "plain_ms": plain * 1e3,
                "offline_ms": off * 1e3,
                "offline_split": rep["times"]["offline_split_s"],
                "offline_bytes": off_bytes,
                "online_ms": lat * 1e3,
                "pip1_ms": pip1 * 1e3,
                "pipb_ms": pipb * 1e3,
                "client_online_B": (rep["client_online"]["up_bytes"] + rep["client_online"]["down_bytes"])
                / rep["inferences"]["online"],  # n and the warm-up, all one per message
                "online_B": rep["bytes_by_phase"].get(Phase.ONLINE, 0) / rep["inferences"]["online"]
                + rep["gather_bytes_per_inference"],
                "gather_B": rep["gather_bytes_per_inference"],
                "busy_max_ms": max(busy.values()) * 1e3,
                "busy": busy,
                "storage": rep["storage_per_inference_bytes"],
                "seq_per_s": m / seq,
                "pip_per_s": m / pip,
            }
        )
        print(
            f"  {name} K={label}: offline {off * 1e3:.0f} ms/inf, online {lat * 1e3:.2f} ms/inf one at a "
            f"time, {n} in flight {pip1 * 1e3:.2f} ms/inf unbatched vs {pipb * 1e3:.2f} ms/inf in batches "
            f"of ≤ {args.batch} ({pip1 / pipb:.1f}×); over the link {m / pip:.1f}/s vs {m / seq:.1f}/s",
            flush=True,
        )
    if args.baseline:
        pi = PrivateInference(model, edges=2, input_bound=(0.0, 1.0), paillier_keys=keys, progress=False)
        pi.close()  # only its parameters are used
        for lk in (None, link):
            base = Baseline(pi, keys, lk)
            t0 = time.perf_counter()
            base.offline(0, n if lk is None else 2 * m)
            off = (time.perf_counter() - t0) / (n if lk is None else 2 * m)
            x_hat = model.encode(x, pi.f, pi.p)
            if lk is None:
                t0 = time.perf_counter()
                v = base.online(x_hat[:n], list(range(n)), pipelined=False)
                lat = (time.perf_counter() - t0) / n
                assert np.array_equal(v, pi.reference_raw(x[:n]))
                pairs = base.net.meter.by_pair()
                on = sum(t.bytes for (ph, _, _), t in pairs.items() if ph == Phase.ONLINE) / n
                offb = {
                    ph: sum(t.bytes for (q, _, _), t in pairs.items() if q == ph) / n for ph in Phase.OFFLINE
                }
                brow = {
                    "model": name,
                    "K": "2-party",
                    "plain_ms": plain * 1e3,
                    "offline_ms": off * 1e3,
                    "offline_split": dict(base.times),
                    "offline_bytes": offb,
                    "online_ms": lat * 1e3,
                    "pip1_ms": float("nan"),
                    "pipb_ms": float("nan"),
                    "client_online_B": on,
                    "online_B": on,
                    "busy_max_ms": float("nan"),
                    "busy": {},
                    "storage": {},
                }
            else:
                t0 = time.perf_counter()
                base.online(x_hat[:m], list(range(m)), pipelined=False)
                seq = time.perf_counter() - t0
                t0 = time.perf_counter()
                base.online(x_hat[m : 2 * m], list(range(m, 2 * m)), pipelined=True)
                pip = time.perf_counter() - t0
                brow.update({"seq_per_s": m / seq, "pip_per_s": m / pip})
        rows.append(brow)
        print(
            f"  {name} 2-party baseline: offline {brow['offline_ms']:.0f} ms/inf, "
            f"online {brow['online_ms']:.2f} ms/inf, client online {kb(brow['client_online_B'])}/inf",
            flush=True,
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--edges", default="2,3,4")
    ap.add_argument("--n", type=int, default=16, help="inferences for offline and latency (default 16)")
    ap.add_argument(
        "--inflight", type=int, default=16, help="inferences in flight for pipelining (default 16)"
    )
    ap.add_argument("--latency-ms", type=float, default=10.0)
    ap.add_argument("--bandwidth-mbps", type=float, default=0.0, help="0 = no cap")
    ap.add_argument("--no-baseline", dest="baseline", action="store_false")
    ap.add_argument("--batch", type=int, default=32, help="inferences per online batch (default 32)")
    ap.add_argument("--threads", action="store_true", help="pipelining test with threads, not edge processes")
    args = ap.parse_args()
    args.edges = [v.strip() for v in args.edges.split(",")]
    keys = PaillierKeyPair.generate(2048, RandomSource(seed="bench-paillier"))  # benchmark only
    rows = []
    for name in args.models.split(","):
        print(f"== {name}", flush=True)
        rows += measure_model(name, args, keys)
    link = f"{args.latency_ms:g} ms" + (f", {args.bandwidth_mbps:g} Mbit/s" if args.bandwidth_mbps else "")
    print()
    print(
        "| model | K | offline ms/inf (CPU s: Paillier / GC / OT over the batch) | offline kB/inf "
        "(Paillier / GC / OT) | online ms/inf one at a time (vs plaintext) | online ms/inf, --n in flight: "
        f"unbatched / batches of {args.batch} | client online B/inf (unbatched) | all online kB/inf "
        f"| max edge busy ms/inf (batched) | pipelined batched / one-at-a-time "
        f"({args.inflight} in flight, {link} link) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        sp = r["offline_split"]
        ob = r["offline_bytes"]
        online = (
            f"{r['online_ms']:.2f} ({r['online_ms'] / r['plain_ms']:.0f}× of {r['plain_ms'] * 1e3:.0f} µs)"
        )
        print(
            f"| {r['model']} | {r['K']} | {r['offline_ms']:.0f} "
            f"({sp['paillier']:.2f} / {sp['garbling']:.2f} / {sp['ot']:.2f}) | "
            f"{ob[Phase.PAILLIER] / 1e3:.1f} / {ob[Phase.GARBLING] / 1e3:.1f} / {ob[Phase.OT] / 1e3:.1f} | "
            f"{online} | {r['pip1_ms']:.2f} / {r['pipb_ms']:.2f} | {r['client_online_B']:.0f} | "
            f"{r['online_B'] / 1e3:.1f} | "
            f"{r['busy_max_ms']:.2f} | {r['pip_per_s']:.1f}/s vs {r['seq_per_s']:.1f}/s = "
            f"{r['pip_per_s'] / r['seq_per_s']:.1f}× |"
        )
    for name in args.models.split(","):
        b = {r["K"]: r["busy_max_ms"] for r in rows if r["model"] == name}
        for big in [k for k in b if k.startswith("4")]:
            if "2" in b:
                print(f"{name}: largest edge busy time K={big} / K=2 = {b[big] / b['2']:.2f}")


if __name__ == "__main__":
    main()
