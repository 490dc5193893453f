"""``cmpc keys``: create the project CA and one certificate per party of a ``parties.toml``.

Example::

    cmpc keys --parties parties.toml --out keys/

Writes ``keys/ca.pem``, ``keys/ca.key`` and ``keys/<party>.pem`` / ``keys/<party>.key`` for every
``[[party]]`` (private keys mode 0600; see :mod:`cmpc.net.tls`). Copy ``ca.pem`` and a party's own pair to
that party's host; keep ``ca.key`` offline. When ``[session]`` names a code (``code``, ``s``, ``t``, ``z``,
``m`` and optionally ``k``, ``n``, ``p``, ``workers``) and a ``session`` file that does not exist yet, the
public session parameters (evaluation points drawn with the CSPRNG and verified) are written there too,
so that ``cmpc party`` can run on every host with the same file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ParameterError
from ..net.config import ConfigError, NetworkConfig, load_config
from ..net.tls import write_keys

__all__ = ["make_session", "register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "keys",
        help="create the project CA and party certificates for mutual TLS",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--parties", required=True, metavar="TOML", help="parties.toml listing every party")
    parser.add_argument("--out", required=True, metavar="DIR", help="directory for the CA and party keys")
    parser.add_argument("--days", type=int, default=365, help="validity of the certificates (default 365)")
    parser.add_argument(
        "--no-session", action="store_true", help="never write the session file"
    )
    parser.set_defaults(func=run)


def make_session(cfg: NetworkConfig):  # type: ignore[no-untyped-def]
    """A fresh :class:`cmpc.protocol.Session` from the ``[session]`` code keys of ``cfg``."""
    from .. import codes
    from ..field import PrimeField
    from ..protocol import Session

    spec = dict(cfg.code)
    missing = {"code", "s", "t", "z", "m"} - set(spec)
    if missing:
        raise ConfigError(f"[session] needs {sorted(missing)} to draw a session (code, s, t, z, m)")
    code = codes.make(spec["code"], s=spec["s"], t=spec["t"], z=spec["z"])
    m = spec["m"]
    k = spec.get("k", m)
    n = spec.get("n", m)
    field = PrimeField(spec.get("p", 2**31 - 1))
    session = Session.create(code, field, (k, m), (k, n), spec.get("workers"))
    if set(session.parties) != set(cfg.ids):
        raise ConfigError(
            f"the [[party]] ids {sorted(cfg.ids)} must be exactly the session's parties {session.parties}"
        )
    return session


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.parties)
    if args.days < 1:
        raise ParameterError(f"--days must be >= 1, got {args.days}")
    out = write_keys(args.out, cfg.ids, days=args.days)
    print(f"wrote CA and {len(cfg.ids)} party certificates to {out}/ (private keys 0600)")
    if cfg.code and cfg.session_file is not None and not args.no_session:
        path = Path(cfg.session_file)
        if path.exists():
            print(f"session file {path} exists; left unchanged")
        else:
            session = make_session(cfg)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(session.to_json(), encoding="utf-8")
            print(f"wrote session parameters ({session.code.name}, N' = {session.n_total}) to {path}")
    return 0
