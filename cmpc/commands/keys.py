"""``cmpc keys``: create the project CA and one certificate per party of a ``parties.toml``.

Example::

    cmpc keys --parties parties.toml --out keys/

Writes ``keys/ca.pem``, ``keys/ca.key`` and ``keys/<party>.pem`` / ``keys/<party>.key`` for every
``[[party]]`` (private keys mode 0600; see :mod:`cmpc.net.tls`). Copy ``ca.pem`` and a party's own pair to
that party's host; keep ``ca.key`` offline. When ``[session]`` names a code (``code``, ``s``, ``t``, ``z``,
``m`` and optionally ``k``, ``n``, ``p``, ``workers``) and a ``session`` file that does not exist yet, the
public session parameters (evaluation points drawn with the CSPRNG and verified) are written there too,
so that ``cmpc party`` can run on every host with the same file. The session records the SHA-256 of the
``parties.toml`` bytes (``config_digest``); ``cmpc party`` refuses a session made for another config.

Everything is checked before anything is written: the party list (ids valid and distinct, and exactly the
session's parties when a code is given), ``--days`` (1 … 36525). An existing session file that no longer
fits the config (another code, size, field, party list or config digest) is refused with a message;
``--new-session`` replaces it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..checks import check_int
from ..net.config import ConfigError, NetworkConfig, config_digest, load_config
from ..net.tls import MAX_DAYS, write_keys

__all__ = ["make_session", "register", "run", "session_mismatch"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "keys",
        help="create the project CA and party certificates for mutual TLS",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--parties", required=True, metavar="TOML", help="parties.toml listing every party")
    parser.add_argument("--out", required=True, metavar="DIR", help="directory for the CA and party keys")
    parser.add_argument(
        "--days", type=int, default=365, help="validity of the certificates in days (1-36525, default 365)"
    )
    parser.add_argument(
        "--no-session", action="store_true", help="never write the session file"
    )
    parser.add_argument(
        "--new-session", action="store_true", help="replace an existing session file that no longer fits"
    )
    parser.set_defaults(func=run)


def make_session(cfg: NetworkConfig, config_digest: str = ""):  # type: ignore[no-untyped-def]
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
    session = Session.create(code, field, (k, m), (k, n), spec.get("workers"), config_digest=config_digest)
    if set(session.parties) != set(cfg.ids):
        raise ConfigError(
            f"the [[party]] ids {sorted(cfg.ids)} must be exactly the session's parties {session.parties}"
        )
    return session


def session_mismatch(old, new) -> str | None:  # type: ignore[no-untyped-def]
    """Why session ``old`` (on disk) does not fit ``new`` (drawn from the current config), or None."""
    pairs = [
        ("code", old.code.name, new.code.name),
        ("s", old.code.s, new.code.s),
        ("t", old.code.t, new.code.t),
        ("z", old.code.z, new.code.z),
        ("p", old.p, new.p),
        ("A shape", old.a_shape, new.a_shape),
        ("B shape", old.b_shape, new.b_shape),
        ("parties", old.parties, new.parties),
    ]
    for what, a, b in pairs:
        if a != b:
            return f"{what} is {a!r} in the session file but {b!r} in the config"
    if old.config_digest and new.config_digest and old.config_digest != new.config_digest:
        return "the parties.toml changed since the session was made (config digest differs)"
    return None


def run(args: argparse.Namespace) -> int:
    from .party import load_session_file

    cfg = load_config(args.parties)
    days = check_int("--days", args.days, 1, MAX_DAYS)
    out = Path(args.out)
    session = None
    if cfg.code and cfg.session_file is not None and not args.no_session:
        session = make_session(cfg, config_digest(args.parties))  # checks the party list before writing
        path = Path(cfg.session_file)
        if path.exists():
            old = load_session_file(path)
            why = session_mismatch(old, session)
            if why is None:
                print(f"session file {path} is up to date with {args.parties}; kept")
                session = None
            elif not args.new_session:
                raise ConfigError(
                    f"session file {path} does not fit {args.parties}: {why}. Pass --new-session to replace "
                    "it (every party must then get the new file), or restore the old config"
                )
    elif cfg.code and not args.no_session and cfg.session_file is None:
        make_session(cfg)  # still check that the party list fits the code
    folder = write_keys(out, cfg.ids, days=days)
    print(f"wrote CA and {len(cfg.ids)} party certificates to {folder}/ (private keys 0600)")
    if session is not None:
        path = Path(cfg.session_file)  # type: ignore[arg-type]
        replaced = path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(session.to_json(), encoding="utf-8")
        verb = "replaced" if replaced else "wrote"
        print(f"{verb} session parameters ({session.code.name}, N' = {session.n_total}) in {path}")
    return 0
