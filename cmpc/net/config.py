"""``parties.toml``: who the parties are, where they listen, and the session's network options.

Example (every ``[session]`` key is optional; paths are relative to the file's directory)::

    [session]
    session = "session.json"     # public session parameters (code, field, points), see `cmpc keys`
    keys = "keys"                # directory made by `cmpc keys` (ca.pem, <party>.pem, <party>.key)
    code = "age"                 # with s, t, z, m (and optionally n, k, p, workers): lets `cmpc keys`
    s = 2                        #   draw the session file as well
    t = 2
    z = 2
    m = 512
    insecure = false             # true = plain TCP (debugging only; warns)
    connect_timeout = 10.0       # seconds to reach a peer (retries while it starts)
    send_timeout = 30.0          # seconds a peer may stall a send
    timeout = 30.0               # seconds the protocol waits for the next message
    max_frame = 268435456        # largest frame in bytes
    latency_ms = 0.0             # link emulation (off by default)
    bandwidth_mbps = 0.0         # 0 = no cap

    [[party]]
    id = "source-a"
    host = "127.0.0.1"
    port = 7000

    [[link]]                     # optional per-pair override of the emulated link
    a = "source-a"
    b = "worker-0"
    latency_ms = 40.0
    bandwidth_mbps = 100.0

Parsed with :mod:`tomllib`; unknown keys, wrong types, duplicate ids or ports and out-of-range values raise
:class:`ConfigError` naming the key and the allowed values. Nothing here is secret.
"""

from __future__ import annotations

import hashlib
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checks import check_timeout
from ..errors import ParameterError
from .link import LinkSpec
from .tcp import DEFAULT_MAX_FRAME
from .tls import check_party_id

__all__ = [
    "MAX_CONFIG_BYTES",
    "ConfigError",
    "NetworkConfig",
    "PartyAddress",
    "config_digest",
    "dump_config",
    "load_config",
    "parse_config",
]


class ConfigError(ParameterError):
    """``parties.toml`` is malformed or names values outside their allowed range."""


@dataclass(frozen=True)
class PartyAddress:
    """One ``[[party]]`` entry."""

    id: str
    host: str
    port: int


@dataclass(frozen=True)
class NetworkConfig:
    """A parsed ``parties.toml``."""

    parties: tuple[PartyAddress, ...]
    session_file: Path | None = None
    keys: Path | None = None
    insecure: bool = False
    connect_timeout: float = 10.0
    send_timeout: float = 30.0
    timeout: float = 30.0
    max_frame: int = DEFAULT_MAX_FRAME
    latency_ms: float = 0.0
    bandwidth_mbps: float = 0.0
    links: Mapping[tuple[str, str], LinkSpec] = field(default_factory=dict)
    code: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.parties]

    def addresses(self) -> dict[str, tuple[str, int]]:
        return {p.id: (p.host, p.port) for p in self.parties}

    def party(self, party_id: str) -> PartyAddress:
        for p in self.parties:
            if p.id == party_id:
                return p
        raise ConfigError(f"party {party_id!r} is not in the config; parties are {self.ids}")

    def default_link(self) -> LinkSpec:
        return LinkSpec(self.latency_ms, self.bandwidth_mbps or None)

    def link_emulation(self) -> bool:
        return bool(self.latency_ms or self.bandwidth_mbps or self.links)


_FLOATS = {"connect_timeout", "send_timeout", "timeout"}
_CODE_INTS = {"s", "t", "z", "m", "n", "k", "p", "workers"}
_SESSION_KEYS = (
    {"session", "keys", "insecure", "max_frame", "latency_ms", "bandwidth_mbps", "code"}
    | _FLOATS
    | _CODE_INTS
)


#: largest parties.toml read (a config of thousands of parties is well below it)
MAX_CONFIG_BYTES = 4 * 2**20


def _number(where: str, value: Any, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{where} must be a finite number, got {value!r}")
    if positive and not value > 0:
        raise ConfigError(f"{where} must be > 0, got {value}")
    if not positive and value < 0:
        raise ConfigError(f"{where} must be >= 0, got {value}")
    return float(value)


def _timeout(where: str, value: Any) -> float:
    try:
        return check_timeout(where, value)
    except ParameterError as exc:
        raise ConfigError(str(exc)) from None


def _int(where: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{where} must be in [{lo}, {hi}], got {value}")
    return value


def _path(where: str, value: Any, base: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} must be a non-empty path string, got {value!r}")
    p = Path(value)
    return p if p.is_absolute() else base / p


def _link(i: int, entry: Any, ids: set[str]) -> tuple[tuple[str, str], LinkSpec]:
    where = f"[[link]] #{i + 1}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(entry) - {"a", "b", "latency_ms", "bandwidth_mbps"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown keys {sorted(unknown)}; allowed: a, b, latency_ms, bandwidth_mbps"
        )
    for end in ("a", "b"):
        if entry.get(end) not in ids:
            raise ConfigError(
                f"{where}: {end} must be one of the party ids {sorted(ids)}, got {entry.get(end)!r}"
            )
    lat = _number(f"{where}.latency_ms", entry.get("latency_ms", 0.0), positive=False)
    bw = _number(f"{where}.bandwidth_mbps", entry.get("bandwidth_mbps", 0.0), positive=False)
    return (entry["a"], entry["b"]), LinkSpec(lat, bw or None)


def parse_config(text: str, base_dir: str | os.PathLike[str] = ".") -> NetworkConfig:
    """Parse the text of a ``parties.toml``; relative paths are taken from ``base_dir``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"parties.toml is not valid TOML: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError("parties.toml is not valid TOML: nested too deeply") from exc
    base = Path(base_dir)
    unknown = set(data) - {"session", "party", "link"}
    if unknown:
        raise ConfigError(
            f"unknown top-level keys {sorted(unknown)}; allowed: [session], [[party]], [[link]]"
        )
    sess = data.get("session", {})
    if not isinstance(sess, dict):
        raise ConfigError("[session] must be a table")
    unknown = set(sess) - _SESSION_KEYS
    if unknown:
        raise ConfigError(f"[session]: unknown keys {sorted(unknown)}; allowed: {sorted(_SESSION_KEYS)}")
    entries = data.get("party")
    if not isinstance(entries, list) or not entries:
        raise ConfigError("parties.toml needs at least one [[party]] entry with id, host and port")
    parties: list[PartyAddress] = []
    seen_ids: set[str] = set()
    seen_addr: set[tuple[str, int]] = set()
    for i, entry in enumerate(entries):
        where = f"[[party]] #{i + 1}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a table with id, host and port")
        missing = {"id", "host", "port"} - set(entry)
        if missing:
            raise ConfigError(f"{where}: missing keys {sorted(missing)}")
        extra = set(entry) - {"id", "host", "port"}
        if extra:
            raise ConfigError(f"{where}: unknown keys {sorted(extra)}; allowed: id, host, port")
        try:
            pid = check_party_id(entry["id"])
        except ParameterError as exc:
            raise ConfigError(f"{where}.id: {exc}") from None
        host = entry["host"]
        if not isinstance(host, str) or not host:
            raise ConfigError(f"{where}.host must be a non-empty string, got {host!r}")
        port = _int(f"{where}.port", entry["port"], 1, 65535)
        if pid in seen_ids:
            raise ConfigError(f"{where}: duplicate party id {pid!r}")
        if (host, port) in seen_addr:
            raise ConfigError(f"{where}: {host}:{port} is already used by another party")
        seen_ids.add(pid)
        seen_addr.add((host, port))
        parties.append(PartyAddress(pid, host, port))
    links_raw = data.get("link", [])
    if not isinstance(links_raw, list):
        raise ConfigError("[[link]] must be an array of tables")
    links = dict(_link(i, e, seen_ids) for i, e in enumerate(links_raw))
    insecure = sess.get("insecure", False)
    if not isinstance(insecure, bool):
        raise ConfigError(f"[session].insecure must be true or false, got {insecure!r}")
    code: dict[str, Any] = {}
    if "code" in sess:
        if not isinstance(sess["code"], str):
            raise ConfigError(f"[session].code must be a code name string, got {sess['code']!r}")
        code["code"] = sess["code"]
    for key in sorted(_CODE_INTS & set(sess)):
        code[key] = _int(f"[session].{key}", sess[key], 1, 2**63 - 1)
    return NetworkConfig(
        parties=tuple(parties),
        session_file=_path("[session].session", sess["session"], base) if "session" in sess else None,
        keys=_path("[session].keys", sess["keys"], base) if "keys" in sess else None,
        insecure=insecure,
        connect_timeout=_timeout("[session].connect_timeout", sess.get("connect_timeout", 10.0)),
        send_timeout=_timeout("[session].send_timeout", sess.get("send_timeout", 30.0)),
        timeout=_timeout("[session].timeout", sess.get("timeout", 30.0)),
        max_frame=_int("[session].max_frame", sess.get("max_frame", DEFAULT_MAX_FRAME), 1, 2**32 - 1),
        latency_ms=_number("[session].latency_ms", sess.get("latency_ms", 0.0), positive=False),
        bandwidth_mbps=_number("[session].bandwidth_mbps", sess.get("bandwidth_mbps", 0.0), positive=False),
        links=links,
        code=code,
    )


def read_bounded(p: Path, limit: int, what: str) -> bytes:
    """The bytes of an untrusted file ``p`` (at most ``limit`` of them are read); ConfigError naming ``what``
    if it is unreadable or larger than ``limit``."""
    try:
        with p.open("rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {p}: {exc.strerror or exc}") from exc
    if len(raw) > limit:
        raise ConfigError(f"{what} {p} is larger than {limit} bytes")
    return raw


def _read_config_bytes(p: Path) -> bytes:
    """The bytes of a config file, at most MAX_CONFIG_BYTES; ConfigError if unreadable or larger."""
    return read_bounded(p, MAX_CONFIG_BYTES, "config (is it really a parties.toml?)")


def load_config(path: str | os.PathLike[str]) -> NetworkConfig:
    """Read and parse a ``parties.toml`` file (ConfigError if missing or malformed)."""
    p = Path(path)
    raw = _read_config_bytes(p)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config {p} is not UTF-8 text (byte {exc.start}); parties.toml must be a TOML text file"
        ) from exc
    return parse_config(text, p.parent)


def config_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of the bytes of a ``parties.toml``: what ``Session.config_digest`` records.

    A session made by ``cmpc init`` carries the digest of the config it was made with; ``cmpc party``
    refuses to run that session under a config with another digest (e.g. after the code or a port changed).
    """
    return hashlib.sha256(_read_config_bytes(Path(path))).hexdigest()


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, Path):
        v = str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise ConfigError(f"cannot write {v!r} to TOML")


def dump_config(cfg: NetworkConfig) -> str:
    """TOML text that :func:`parse_config` reads back to ``cfg`` (paths written as given)."""
    lines = ["[session]"]
    if cfg.session_file is not None:
        lines.append(f"session = {_toml_value(cfg.session_file)}")
    if cfg.keys is not None:
        lines.append(f"keys = {_toml_value(cfg.keys)}")
    for key, value in cfg.code.items():
        lines.append(f"{key} = {_toml_value(value)}")
    for key in ("insecure", "connect_timeout", "send_timeout", "timeout", "max_frame", "latency_ms",
                "bandwidth_mbps"):
        lines.append(f"{key} = {_toml_value(getattr(cfg, key))}")
    for p in cfg.parties:
        lines += ["", "[[party]]", f"id = {_toml_value(p.id)}", f"host = {_toml_value(p.host)}",
                  f"port = {p.port}"]
    for (a, b), spec in cfg.links.items():
        lines += ["", "[[link]]", f"a = {_toml_value(a)}", f"b = {_toml_value(b)}",
                  f"latency_ms = {_toml_value(spec.latency_ms)}",
                  f"bandwidth_mbps = {_toml_value(spec.bandwidth_mbps or 0.0)}"]
    return "\n".join(lines) + "\n"
