"""The ``private-mdi`` command line (argument parsing and printing only).

``private-mdi demo [--edges K] [--model mlp|cnn] [--n 100] [--processes] [--format table|json]`` runs the
shipped digits example end to end and prints the plaintext accuracy, the private accuracy, the agreement
with the fixed-point reference (must be 100 %), time per inference and the bytes per party pair and phase.
The exit status is 0 only when every private output equals the fixed-point reference bit for bit. With
``--processes`` the cloud and the K edges run as separate processes over TCP with mutual TLS;
``--latency-ms`` / ``--bandwidth-mbps`` emulate a link between every pair of parties.

Across machines (:mod:`private_mdi.deploy`, ``docs/deployment.md``):

* ``private-mdi init --model M.npz --edges K --hosts hosts.txt|--local --out DIR [--input-bound ...]``
  writes the config, the public session, keys and one folder per machine, and prints each machine's command;
* ``private-mdi party --config DIR/<id>/parties.toml --id cloud|edgeJ`` runs that server from its folder;
* ``private-mdi client --config DIR/client/parties.toml --input X.npy [--offline N] [--format table|json]
  [--output Y.npy]`` runs the client against them and prints the predictions.

``private-mdi party --spec ... --party ...`` (internal) is the server process that ``--processes`` starts
(:mod:`private_mdi.protocol.party`).

Errors: a known error prints ``private-mdi: error: <message>`` to stderr and exits 2 for usage errors
(bad arguments, :class:`~cmpc.errors.ParameterError`) and 1 for runtime failures, without a traceback
unless ``--debug``. ``--version`` prints the package version.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence

import numpy as np

from cmpc.cliutil import add_common_options, run_cli
from cmpc.errors import ParameterError
from cmpc.net.link import LinkSpec

from .inference import DEFAULT_KEY_BITS, PrivateInference
from .model import Model, signed
from .protocol.layout import MAX_BATCH
from .report import fmt_bytes

__all__ = ["build_parser", "main"]

PROG = "private-mdi"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cmpc-toolkit")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _load(name: str) -> Model:
    from .examples.train_digits import DATA_DIR

    return Model.load(DATA_DIR / f"digits_{name}.npz")


def demo(args: argparse.Namespace) -> int:
    from .examples.train_digits import digits_split

    if args.edges < 2:
        raise ParameterError(f"--edges must be >= 2, got {args.edges}")
    if args.n < 1:
        raise ParameterError(f"--n must be >= 1, got {args.n}")
    if not 1 <= args.batch <= MAX_BATCH:
        raise ParameterError(f"--batch must be in [1, {MAX_BATCH}], got {args.batch}")
    model = _load(args.model)
    _, x_te, _, y_te = digits_split()
    n = min(args.n, len(y_te))
    x, y = x_te[:n], y_te[:n]
    table = args.format == "table"
    if table:
        print(f"privateMDI demo: digits-{args.model}, {n} test images, K = {args.edges} edges")
        print(model.summary())
    link = (
        LinkSpec(args.latency_ms, args.bandwidth_mbps or None)
        if args.latency_ms or args.bandwidth_mbps
        else None
    )
    t0 = time.perf_counter()
    with PrivateInference(
        model,
        edges=args.edges,
        input_bound=(0.0, 1.0),  # pixels / 16 lie in [0, 1] by construction
        key_bits=args.key_bits,
        progress=None if args.progress and table else False,
        processes=args.processes,
        link=link,
        timeout=args.timeout,
    ) as pi:
        if table:
            print(
                f"field p = {pi.p} ({pi.p.bit_length()} bits), f = {pi.f}; "
                f"placement host(ℓ) = {list(pi.placement.hosts)}; Paillier {pi.spec.key_bits} bits"
            )
        pi.offline(n)
        t_off = time.perf_counter() - t0
        batch = 1 if args.sequential else args.batch
        raw = pi.predict_raw(x, pipelined=not args.sequential, batch=batch)
        ref = pi.reference_raw(x)
        agree = float(np.mean(np.all(raw == ref, axis=1)))
        plain = float(np.mean(model.predict(x) == y))
        priv = float(np.mean(model.labels(signed(raw, pi.p)) == y))
        rep = pi.report
    if not table:
        print(
            json.dumps(
                {
                    "plaintext_accuracy": plain,
                    "private_accuracy": priv,
                    "agreement": agree,
                    "report": rep.to_dict(),
                }
            )
        )
        return 0 if agree == 1.0 else 1
    t = rep.times
    print()
    print(f"plaintext accuracy            {plain:.4f}")
    print(f"private accuracy              {priv:.4f}")
    print(f"agreement with fixed-point    {agree * 100:.1f} %  ({int(agree * n)}/{n} outputs bit-exact)")
    sp = t.offline_split_s
    print(
        f"offline per inference         {t.offline_per_inference_s * 1e3:.1f} ms "
        f"(total {t_off:.2f} s incl. setup; CPU: Paillier {sp['paillier']:.2f} s, "
        f"garbling {sp['garbling']:.2f} s, OT {sp['ot']:.2f} s)"
    )
    mode = "one at a time" if args.sequential else f"pipelined, {n} in flight in batches of ≤ {batch}"
    em = ", emulated link" if link else ""
    where = f"cloud and edges as processes over TCP+TLS{em}" if args.processes else f"in-memory{em}"
    print(f"online per inference          {t.online_per_inference_s * 1e3:.2f} ms ({mode}, {where})")
    co = rep.client_online
    print(
        f"client online traffic         {co.up_messages} up / {co.down_messages} down messages, "
        f"{co.up_bytes / n:.0f} B up + {co.down_bytes / n:.0f} B down per inference"
    )
    print(
        "storage per inference         "
        + ", ".join(f"{k} {fmt_bytes(v)}" for k, v in rep.storage_per_inference_bytes.items())
    )
    print()
    print(f"{'phase':<18} {'sender -> receiver':<22} {'bytes':>12} {'per inference':>14} {'messages':>9}")
    for (phase, src, dst), tr in sorted(rep.traffic.items()):
        per = "" if phase == "setup" else fmt_bytes(tr.bytes / n)
        print(f"{phase:<18} {src + ' -> ' + dst:<22} {tr.bytes:>12,} {per:>14} {tr.messages:>9}")
    cloud_online = [k for k in rep.traffic if k[0] == "online" and "cloud" in k[1:]]
    print(f"\nbytes to/from the cloud online: {0 if not cloud_online else 'NONZERO'}")
    return 0 if agree == 1.0 else 1


def build_parser() -> argparse.ArgumentParser:
    from .protocol.party import add_arguments

    ap = argparse.ArgumentParser(prog=PROG, description="privateMDI private inference")
    add_common_options(ap, PROG, _version())  # --version, --debug (the shared policy of cmpc.cliutil)
    # only listed commands appear in the help; "party" is internal (started by the launcher)
    sub = ap.add_subparsers(dest="command", required=True, metavar="{demo,init,party,client}")
    d = sub.add_parser("demo", help="run the digits example end to end and print accuracy, time and traffic")
    d.add_argument("--edges", type=int, default=2, help="number of edge servers K >= 2 (default 2)")
    d.add_argument(
        "--model", choices=("mlp", "cnn"), default="mlp", help="shipped digits model (default mlp)"
    )
    d.add_argument("--n", type=int, default=100, help="test images = inferences (default 100)")
    d.add_argument(
        "--key-bits",
        type=int,
        default=DEFAULT_KEY_BITS,
        help=f"Paillier modulus bits (default {DEFAULT_KEY_BITS})",
    )
    d.add_argument("--sequential", action="store_true", help="one inference at a time instead of pipelined")
    d.add_argument(
        "--batch", type=int, default=32, help="inferences per online batch when pipelined (default 32)"
    )
    d.add_argument(
        "--processes", action="store_true", help="cloud and edges as separate processes over TCP + mutual TLS"
    )
    d.add_argument("--latency-ms", type=float, default=0.0, help="emulated latency on every link (default 0)")
    d.add_argument("--bandwidth-mbps", type=float, default=0.0, help="emulated bandwidth cap (0 = none)")
    d.add_argument("--timeout", type=float, default=120.0, help="seconds of silence before a run fails")
    d.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    d.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    d.set_defaults(func=demo)
    _add_init(sub)
    p = sub.add_parser("party", help="run a server party (cloud or edgeJ) from its deployment folder")
    add_arguments(p)
    p.set_defaults(func=_party)
    c = sub.add_parser("client", help="run the client of a deployment against the remote servers")
    c.add_argument("--config", required=True, help="the client's parties.toml (private-mdi init)")
    c.add_argument("--input", required=True, help="inputs, .npy of shape (n, features) or (n, *input_shape)")
    c.add_argument("--offline", type=int, help="inferences of offline material to prepare (default: rows)")
    c.add_argument("--output", help="also save the predictions (.npy)")
    c.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    c.set_defaults(func=_client)
    return ap


def _add_init(sub: argparse._SubParsersAction) -> None:
    i = sub.add_parser("init", help="write a deployment: config, session, keys, one folder per machine")
    i.add_argument("--model", required=True, help="the model file (.npz, private_mdi.Model.save)")
    i.add_argument("--edges", type=int, default=2, help="number of edge servers K >= 2 (default 2)")
    where = i.add_mutually_exclusive_group(required=True)
    where.add_argument("--hosts", metavar="FILE", help="where the parties run (cmpc init's hosts format)")
    where.add_argument("--local", action="store_true", help="every party on 127.0.0.1")
    i.add_argument("--out", required=True, metavar="DIR", help="output directory (empty or new)")
    rng = i.add_mutually_exclusive_group()
    rng.add_argument("--input-bound", type=float, nargs="+", metavar="B",
                     help="input box: B (|x| <= B) or LOW HIGH")
    rng.add_argument("--calibration", metavar="X.npy", help="calibration inputs for the range analysis")
    i.add_argument("--base-port", type=int, default=7100, help="first port when none is given")
    i.add_argument("--key-bits", type=int, default=DEFAULT_KEY_BITS, help="client's Paillier modulus bits")
    i.add_argument("--days", type=int, default=365, help="certificate validity in days")
    i.add_argument("--timeout", type=float, default=120.0, help="seconds of silence before a run fails")
    i.set_defaults(func=_init)


def _load_npy(path: str, what: str) -> np.ndarray:
    try:
        return np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)
    except (OSError, ValueError) as exc:
        raise ParameterError(f"cannot read {what} {path} as a numeric .npy array: {exc}") from exc


def _init(args: argparse.Namespace) -> int:
    import contextlib
    import shutil
    from pathlib import Path

    from cmpc.net.config import MAX_CONFIG_BYTES, ConfigError

    from .deploy import init_deployment

    bound: float | tuple[float, float] | None = None
    if args.input_bound is not None:
        if len(args.input_bound) not in (1, 2):
            raise ParameterError("--input-bound takes B or LOW HIGH")
        bound = args.input_bound[0] if len(args.input_bound) == 1 else tuple(args.input_bound)
    calib = None if args.calibration is None else _load_npy(args.calibration, "--calibration")
    hosts_text = None
    if args.hosts:
        try:
            raw = Path(args.hosts).read_bytes()[: MAX_CONFIG_BYTES + 1]
            hosts_text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read --hosts {args.hosts} as UTF-8 text: {exc}") from exc
    root = Path(args.out)
    created = not root.exists()
    try:
        dep = init_deployment(
            root, args.model, edges=args.edges, hosts_text=hosts_text, base_port=args.base_port,
            input_bound=bound, calibration=calib, key_bits=args.key_bits, days=args.days,
            timeout=args.timeout,
        )
    except BaseException:
        if created and root.exists():  # leave nothing half-written behind
            with contextlib.suppress(OSError):
                shutil.rmtree(root)
        raise
    print(f"wrote {dep.config}, {dep.session} and {len(dep.commands)} party folders in {dep.root}/")
    print(f"keep {dep.root / 'ca'} offline (needed only to issue or rotate certificates); "
          "the model file is only in cloud/")
    print("start the servers first, then the client (also in commands.txt):")
    for pid, cmd in dep.commands.items():
        print(f"  [{pid}] {cmd}")
    return 0


def _client(args: argparse.Namespace) -> int:
    import sys

    from .deploy import run_client

    x = _load_npy(args.input, "--input")
    table = args.format == "table"
    t0 = time.perf_counter()
    def step(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    res = run_client(args.config, x, offline=args.offline, step=step)
    elapsed = time.perf_counter() - t0
    preds = res.predictions
    if args.output:
        np.save(args.output, preds, allow_pickle=False)
    if not table:
        print(json.dumps({"predictions": np.asarray(preds).tolist(), "raw": res.raw.tolist(),
                          "p": res.spec.p, "f": res.spec.f, "wall_s": elapsed}))
    else:
        print(f"{'row':>5}  prediction")
        for i, pr in enumerate(np.asarray(preds).tolist()):
            print(f"{i:>5}  {pr}")
    print(f"client: finished OK ({len(res.raw)} inferences in {elapsed:.2f} s)", file=sys.stderr, flush=True)
    return 0


def _party(args: argparse.Namespace) -> int:
    from .protocol.party import main as party_main

    return party_main(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``private-mdi`` console script (see the module docstring for exit statuses)."""
    return run_cli(PROG, build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
