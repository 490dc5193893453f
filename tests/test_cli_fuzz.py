"""Fuzz tests (hypothesis) for the cmpc-side parsers of untrusted input: parties.toml, hosts files, the
argument parser. Random bytes and mutated valid inputs must give named errors only (ConfigError /
ParameterError, or argparse's exit 2), each example within a time bound (hypothesis ``deadline``)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmpc.cli import build_parser, main
from cmpc.commands.init import parse_hosts
from cmpc.errors import ParameterError
from cmpc.net.config import ConfigError, NetworkConfig, PartyAddress, dump_config, load_config, parse_config

VALID = dump_config(
    NetworkConfig(
        parties=(PartyAddress("source-a", "127.0.0.1", 7000), PartyAddress("worker-0", "10.0.0.2", 7001)),
        session_file=Path("session.json"),
        keys=Path("keys"),
        code={"code": "bgw", "s": 1, "t": 1, "z": 1, "m": 8},
    )
)
PARTIES = ["source-a", "source-b", "worker-0", "worker-1", "worker-2", "master"]
FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])


def mutate(text: str, data: st.DataObject) -> str:
    """Delete, duplicate or replace a random slice of ``text``."""
    n = len(text)
    i = data.draw(st.integers(0, n))
    j = data.draw(st.integers(i, min(n, i + 40)))
    how = data.draw(st.sampled_from(["delete", "duplicate", "replace"]))
    if how == "delete":
        return text[:i] + text[j:]
    if how == "duplicate":
        return text[:j] + text[i:j] + text[j:]
    return text[:i] + data.draw(st.text(max_size=20)) + text[j:]


@FUZZ
@given(st.text(max_size=400))
def test_parse_config_random_text(text):
    try:
        parse_config(text)
    except ConfigError:
        pass


@FUZZ
@given(st.data())
def test_parse_config_mutated(data):
    text = VALID
    for _ in range(data.draw(st.integers(1, 4))):
        text = mutate(text, data)
    try:
        cfg = parse_config(text)
    except ConfigError:
        return
    assert parse_config(dump_config(cfg)) == cfg  # what parses round-trips


@FUZZ
@given(st.binary(max_size=400))
def test_load_config_random_bytes(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("fuzz") / "parties.toml"
    path.write_bytes(raw)
    try:
        load_config(path)
    except ConfigError:
        pass


@FUZZ
@given(st.text(max_size=300), st.integers(-5, 70000))
def test_parse_hosts_random(text, base_port):
    try:
        out = parse_hosts(text, PARTIES, base_port)
    except ConfigError:
        return
    assert [a.id for a in out] == PARTIES
    assert len({(a.host, a.port) for a in out}) == len(out)


TOKENS = ["party", "keys", "run", "init", "workers", "--config", "--id", "--timeout", "--m", "--s", "--days",
          "--local", "--format", "json", "nan", "inf", "-1", "0", "3", "worker-0", "--", "--debug", "x",
          "1e999", "--hosts", "--out", "--parties", "--code", "age", "\x00", "é"]


@FUZZ
@given(st.lists(st.sampled_from(TOKENS) | st.text(max_size=8), max_size=8))
def test_argument_parser_fuzz(argv):
    """Parsing alone (no command runs): a namespace, or argparse's usage exit 2 (or 0 for help)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            build_parser().parse_args(argv)
        except SystemExit as exc:
            assert exc.code in (0, 2)
    assert "Traceback" not in err.getvalue()


@FUZZ
@given(st.lists(st.sampled_from(["--timeout", "--m", "--days", "--s", "--z"]), min_size=1, max_size=1),
       st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e999", "99999999999999999999", "1.5", "x"]))
def test_bad_numbers_never_run(tmp_path_factory, opt, value):
    """A bad number on `cmpc init` is refused with exit 2 before anything is written."""
    out = tmp_path_factory.mktemp("init") / "d"
    argv = ["init", "--local", "--code", "bgw", "--s", "1", "--t", "1", "--z", "1", "--m", "4",
            "--out", str(out), *opt, value]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = main(argv)
        except SystemExit as exc:  # argparse's usage error
            status = exc.code
    text = err.getvalue()
    assert "Traceback" not in text
    if status == 0:  # a legal value after all (e.g. --m 0 is not): the deployment must be complete
        assert (out / "session.json").exists()
    else:
        assert status == 2 and "error" in text, text
        assert not out.exists()


def test_parameter_error_is_the_base():
    assert issubclass(ConfigError, ParameterError)
