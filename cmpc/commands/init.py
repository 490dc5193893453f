"""``cmpc init``: generate a whole deployment — config, session, keys and one folder per machine.

Example::

    cmpc init --code age --s 2 --t 2 --z 2 --m 1024 --hosts hosts.txt --out deploy/
    cmpc init --code bgw --s 1 --t 1 --z 1 --m 64 --local --out deploy/

``--hosts FILE`` lists where the parties run, one line each (``#`` starts a comment), either

* ``HOST`` or ``HOST:PORT`` — assigned to the parties in session order (source-a, source-b, worker-0, …,
  master), round robin when there are fewer lines than parties; or
* ``PARTY HOST`` / ``PARTY HOST:PORT`` — explicit, and then every party must be listed.

A party without a port gets ``--base-port`` + its index, so parties sharing a host never clash. ``--local``
puts every party on 127.0.0.1.

Written (``--out DIR``, which must be empty or new)::

    DIR/parties.toml          the config: every party with host:port; [session] names session.json and keys/
    DIR/session.json          the public session (code, field, evaluation points), made with the SHA-256 of
                              parties.toml as config_digest: a party refuses it under any other config
    DIR/ca/ca.key, ca.pem     the CA's key: keep it offline, only needed to issue or rotate certificates
    DIR/<party>/              exactly what that machine receives: parties.toml, session.json,
                              keys/ca.pem, keys/<party>.pem, keys/<party>.key (0600)
    DIR/commands.txt          the command to start on each machine (also printed)

Each party folder holds one private key only — its own. Copy ``DIR/<party>/`` to that party's machine and
run the command there (``docs/deployment.md``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import tempfile
from pathlib import Path

from ..checks import check_int, check_timeout
from ..net.config import (
    MAX_CONFIG_BYTES,
    ConfigError,
    NetworkConfig,
    PartyAddress,
    config_digest,
    dump_config,
    load_config,
)
from ..net.tcp import free_loopback_ports
from ..net.tls import CA_CERT, CA_KEY, MAX_DAYS, write_keys
from .run import MAX_CODE_PARAM, add_session_arguments

__all__ = ["Deployment", "init_deployment", "parse_hosts", "register", "run"]

#: most lines read from a hosts file
MAX_HOST_LINES = 4096


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "init",
        help="generate parties.toml, the session, keys and one folder per machine",
        description=__doc__.split("\n\n")[0],
    )
    add_session_arguments(parser)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--hosts", metavar="FILE", help="where the parties run (see the description)")
    where.add_argument("--local", action="store_true", help="every party on 127.0.0.1")
    parser.add_argument("--base-port", type=int, default=7000, help="first port when none is given")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory (empty or new)")
    parser.add_argument("--days", type=int, default=365, help="certificate validity in days (1-36525)")
    parser.add_argument("--timeout", type=float, default=30.0, help="protocol receive timeout, seconds")
    parser.add_argument("--insecure", action="store_true", help="plain TCP, no keys (debugging only)")
    parser.set_defaults(func=run)


def _host_port(text: str, where: str) -> tuple[str, int | None]:
    if text.startswith("["):  # [v6]:port
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, None
    if not host or any(c.isspace() or ord(c) < 32 for c in host) or len(host) > 253:
        raise ConfigError(f"{where}: bad host {host!r}")
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigError(f"{where}: port must be in [1, 65535], got {port_text!r}")
    return host, int(port_text)


def parse_hosts(text: str, parties: list[str], base_port: int) -> list[PartyAddress]:
    """The addresses of ``parties`` from the text of a hosts file (module docstring); ConfigError if bad."""
    lines = [(i + 1, ln.split("#", 1)[0].strip()) for i, ln in enumerate(text.splitlines())]
    lines = [(n, ln) for n, ln in lines if ln]
    if not lines:
        raise ConfigError("the hosts file lists no host")
    if len(lines) > MAX_HOST_LINES:
        raise ConfigError(f"the hosts file has {len(lines)} lines, more than {MAX_HOST_LINES}")
    explicit = [len(ln.split()) == 2 for _, ln in lines]
    if any(len(ln.split()) > 2 for _, ln in lines) or (any(explicit) and not all(explicit)):
        raise ConfigError("each hosts line must be `HOST[:PORT]`, or every line `PARTY HOST[:PORT]`")
    chosen: dict[str, tuple[str, int | None]] = {}
    if all(explicit):
        for n, ln in lines:
            pid, addr = ln.split()
            if pid not in parties:
                raise ConfigError(f"hosts line {n}: unknown party {pid!r}; the parties are {parties}")
            if pid in chosen:
                raise ConfigError(f"hosts line {n}: party {pid!r} listed twice")
            chosen[pid] = _host_port(addr, f"hosts line {n}")
        missing = [p for p in parties if p not in chosen]
        if missing:
            raise ConfigError(f"the hosts file does not place {missing}")
    else:
        for i, pid in enumerate(parties):
            n, ln = lines[i % len(lines)]
            chosen[pid] = _host_port(ln, f"hosts line {n}")
    out = []
    for i, pid in enumerate(parties):
        host, port = chosen[pid]
        port = base_port + i if port is None else port
        if not 1 <= port <= 65535:
            raise ConfigError(f"{pid}: port {port} out of [1, 65535]; lower --base-port")
        out.append(PartyAddress(pid, host, port))
    seen: dict[tuple[str, int], str] = {}
    for a in out:
        if (a.host, a.port) in seen:
            raise ConfigError(f"{a.id} and {seen[(a.host, a.port)]} would both listen on {a.host}:{a.port}")
        seen[(a.host, a.port)] = a.id
    return out


class Deployment:
    """What :func:`init_deployment` wrote: the root, the config and session paths, the commands per party."""

    def __init__(self, root: Path, commands: dict[str, str]) -> None:
        self.root = root
        self.commands = commands

    @property
    def config(self) -> Path:
        return self.root / "parties.toml"

    @property
    def session(self) -> Path:
        return self.root / "session.json"

    def folder(self, party: str) -> Path:
        return self.root / party


def _party_command(pid: str, folder: str) -> str:
    cmd = f"cd {shlex.quote(folder)} && cmpc party --config parties.toml --id {pid}"
    if pid == "source-a":
        cmd += " --input A.npy"
    elif pid == "source-b":
        cmd += " --input B.npy"
    elif pid == "master":
        cmd += " --output Y.npy"
    return cmd


def init_deployment(
    out: str | os.PathLike[str],
    *,
    code: str = "age",
    s: int = 2,
    t: int = 2,
    z: int = 2,
    m: int = 512,
    p: int = 2**31 - 1,
    workers: int | None = None,
    hosts_text: str | None = None,
    base_port: int = 7000,
    days: int = 365,
    timeout: float = 30.0,
    insecure: bool = False,
) -> Deployment:
    """Write a deployment (module docstring); ``hosts_text=None`` places every party on 127.0.0.1."""
    from .. import codes
    from ..field import PrimeField
    from ..protocol import Session

    check_int("--m", m, 1, 2**20)
    for name, value in (("--s", s), ("--t", t), ("--z", z)):
        check_int(name, value, 1, MAX_CODE_PARAM)
    check_int("--days", days, 1, MAX_DAYS)
    check_int("--base-port", base_port, 1, 65535)
    timeout = check_timeout("--timeout", timeout)
    root = check_new_out_dir(out)
    the_code = codes.make(code, s=s, t=t, z=z)
    if max(the_code.n_workers, workers or 0) + 3 > MAX_HOST_LINES:
        raise ConfigError(f"more than {MAX_HOST_LINES} parties; use a smaller code or fewer --workers")
    field = PrimeField(p)
    # draw once to learn the party list (the real session needs the config digest, made below)
    probe = Session.create(the_code, field, (m, m), (m, m), workers)
    parties = probe.parties
    if hosts_text is None:
        ports = free_loopback_ports(len(parties))
        addresses = [PartyAddress(pid, "127.0.0.1", port) for pid, port in zip(parties, ports)]
    else:
        addresses = parse_hosts(hosts_text, parties, base_port)
    spec: dict[str, object] = {"code": code, "s": s, "t": t, "z": z, "m": m, "p": p}
    if workers is not None:
        spec["workers"] = workers
    cfg = NetworkConfig(
        parties=tuple(addresses),
        session_file=Path("session.json"),
        keys=None if insecure else Path("keys"),
        insecure=insecure,
        timeout=timeout,
        code=spec,
    )
    text = dump_config(cfg)
    root.mkdir(parents=True, exist_ok=True)
    config_path = root / "parties.toml"
    config_path.write_text(text, encoding="utf-8")
    load_config(config_path)  # what every party will read: must parse
    session = Session.create(
        the_code, field, (m, m), (m, m), workers, config_digest=config_digest(config_path)
    )
    (root / "session.json").write_text(session.to_json(), encoding="utf-8")
    if not insecure:
        ca_dir = root / "ca"
        with tempfile.TemporaryDirectory(dir=root, prefix=".keys-") as tmp:
            write_keys(tmp, parties, days=days)
            ca_dir.mkdir(mode=0o700)
            os.replace(Path(tmp) / CA_KEY, ca_dir / CA_KEY)
            shutil.copy2(Path(tmp) / CA_CERT, ca_dir / CA_CERT)
            for pid in parties:
                keys = root / pid / "keys"
                keys.mkdir(mode=0o700, parents=True)
                shutil.copy2(Path(tmp) / CA_CERT, keys / CA_CERT)
                os.replace(Path(tmp) / f"{pid}.pem", keys / f"{pid}.pem")
                os.replace(Path(tmp) / f"{pid}.key", keys / f"{pid}.key")
    commands: dict[str, str] = {}
    for a in addresses:
        folder = root / a.id
        folder.mkdir(exist_ok=True)
        shutil.copy2(config_path, folder / "parties.toml")
        shutil.copy2(root / "session.json", folder / "session.json")
        commands[a.id] = _party_command(a.id, a.id)
    lines = ["# one line per machine: copy the party's folder there, then run its command", ""]
    lines += [f"# {a.id} on {a.host}:{a.port}\n{commands[a.id]}" for a in addresses]
    (root / "commands.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Deployment(root, commands)


def run(args: argparse.Namespace) -> int:
    hosts_text = None
    if args.hosts:
        path = Path(args.hosts)
        try:
            with path.open("rb") as fh:
                raw = fh.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read --hosts {path}: {exc.strerror or exc}") from exc
        try:
            hosts_text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"--hosts {path} is not UTF-8 text (byte {exc.start})") from exc
    root = Path(args.out)
    created = not root.exists()
    try:
        dep = init_deployment(
            args.out, code=args.code, s=args.s, t=args.t, z=args.z, m=args.m, p=args.p,
            workers=args.workers, hosts_text=hosts_text, base_port=args.base_port, days=args.days,
            timeout=args.timeout, insecure=args.insecure,
        )
    except BaseException:
        if created and root.exists():  # leave nothing half-written behind
            with contextlib.suppress(OSError):
                shutil.rmtree(root)
        raise
    n = len(dep.commands)
    print(f"wrote {dep.config}, {dep.session} and {n} party folders in {dep.root}/")
    if not args.insecure:
        print(f"keep {dep.root / 'ca' / CA_KEY} offline (needed only to issue or rotate certificates)")
    print("start each party on its machine (also in commands.txt):")
    for pid, cmd in dep.commands.items():
        print(f"  [{pid}] {cmd}")
    return 0


def check_new_out_dir(out: str | os.PathLike[str]) -> Path:
    """``out`` as a Path, refused (``ConfigError``) unless it is new or an empty directory: a deployment never
    overwrites keys of another one."""
    root = Path(out)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ConfigError(f"--out {root} exists and is not an empty directory; choose a new one")
    return root
