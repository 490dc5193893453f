"""The ``cmpc`` command line's error policy (cmpc.cliutil): one regression test per case of issue 13.

Every case runs the CLI in-process (``cmpc.cli.main``) and checks the exit status (2 = usage error: bad
argument or input file; 1 = runtime failure), the ``cmpc: error: <message>`` line and that no traceback
is printed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cmpc import __version__
from cmpc.cli import build_parser, main
from cmpc.cliutil import classify, help_texts
from cmpc.commands.init import init_deployment
from cmpc.errors import ParameterError, TransportError
from cmpc.net import tls
from cmpc.rand import RandomSource


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return status, out, err


@pytest.fixture(scope="module")
def deploy(tmp_path_factory) -> Path:
    return init_deployment(
        tmp_path_factory.mktemp("deploy") / "d", code="bgw", s=1, t=1, z=1, m=4, timeout=2.0
    ).root


def party_copy(deploy: Path, tmp_path: Path, pid: str = "worker-0") -> Path:
    """A writable copy of one party's folder (the tests corrupt files in it)."""
    import shutil

    dst = tmp_path / pid
    shutil.copytree(deploy / pid, dst)
    return dst


def test_version_and_clean_help(capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"cmpc {__version__}"
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    texts = help_texts(build_parser())
    assert {"cmpc", "cmpc init", "cmpc keys", "cmpc party", "cmpc run"} <= set(texts)
    for prog, text in texts.items():
        assert "==SUPPRESS==" not in text, prog
        assert "--launcher" not in text, prog


def test_usage_error_from_argparse_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--local", "--m", "abc"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "cmpc run: error: argument --m: invalid int value" in err and "Traceback" not in err


@pytest.mark.parametrize("what", ["key", "cert", "ca"])
def test_garbage_key_certificate_or_ca_is_a_named_error(deploy, tmp_path, capsys, what):
    folder = party_copy(deploy, tmp_path)
    target = {"key": "worker-0.key", "cert": "worker-0.pem", "ca": "ca.pem"}[what]
    (folder / "keys" / target).write_bytes(b"\x00garbage\xff" * 10)
    status, _, err = run_cli(capsys, ["party", "--config", str(folder / "parties.toml"), "--id", "worker-0"])
    assert status == 2
    assert err.startswith("cmpc: error: ") and target in err
    assert "recreate it with `cmpc keys`" in err or "not a PEM" in err


def test_wrong_key_type_foreign_ca_and_id_mismatch(deploy, tmp_path):
    folder = party_copy(deploy, tmp_path)
    keys = folder / "keys"
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    good_key = (keys / "worker-0.key").read_bytes()
    (keys / "worker-0.key").write_bytes(pem)
    with pytest.raises(tls.CredentialsError, match="must be an EC P-256 key"):
        tls.load_credentials(keys, "worker-0")
    (keys / "worker-0.key").write_bytes(good_key)
    tls.load_credentials(keys, "worker-0")  # intact again
    other = tls.write_keys(tmp_path / "other", ["worker-0", "worker-1"], rng=RandomSource(seed=3))
    (keys / "ca.pem").write_bytes((other / "ca.pem").read_bytes())
    with pytest.raises(tls.CredentialsError, match="not signed by the CA"):
        tls.load_credentials(keys, "worker-0")
    (keys / "ca.pem").write_bytes((deploy / "ca" / "ca.pem").read_bytes())
    (keys / "worker-0.pem").write_bytes((deploy / "worker-1" / "keys" / "worker-1.pem").read_bytes())
    with pytest.raises(tls.CredentialsError, match="does not belong to the certificate"):
        tls.load_credentials(keys, "worker-0")
    # a certificate and key of another party, renamed: the names inside give it away
    (keys / "worker-0.key").write_bytes((deploy / "worker-1" / "keys" / "worker-1.key").read_bytes())
    with pytest.raises(tls.CredentialsError, match="not for party 'worker-0'"):
        tls.load_credentials(keys, "worker-0")
    assert issubclass(tls.CredentialsError, ParameterError)


def test_binary_config_is_a_named_error(tmp_path, capsys):
    cfg = tmp_path / "parties.toml"
    cfg.write_bytes(bytes(range(256)))
    status, _, err = run_cli(capsys, ["party", "--config", str(cfg), "--id", "worker-0"])
    assert status == 2 and "is not UTF-8 text" in err


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1.5", "1e9"])
def test_config_timeouts_must_be_finite_and_positive(deploy, tmp_path, capsys, value):
    folder = party_copy(deploy, tmp_path)
    cfg = folder / "parties.toml"
    cfg.write_text(cfg.read_text().replace("connect_timeout = 10.0", f"connect_timeout = {value}"))
    status, _, err = run_cli(capsys, ["party", "--config", str(cfg), "--id", "worker-0"])
    assert status == 2
    assert "[session].connect_timeout must be a finite number of seconds" in err


def test_missing_input_file(deploy, tmp_path, capsys):
    folder = party_copy(deploy, tmp_path, "source-a")
    # the digest check passes (same bytes), so the failure is the input file, named
    status, _, err = run_cli(capsys, ["party", "--config", str(folder / "parties.toml"), "--id", "source-a",
                                      "--input", str(tmp_path / "nope.npy")])
    assert status == 2 and "nope.npy not found" in err
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    status, _, err = run_cli(capsys, ["party", "--config", str(folder / "parties.toml"), "--id", "source-a",
                                      "--input", str(tmp_path / "bad.npy")])
    assert status == 2 and "is not a .npy array" in err


def test_keys_days_out_of_range_writes_nothing(deploy, tmp_path, capsys):
    out = tmp_path / "keys"
    status, _, err = run_cli(capsys, ["keys", "--parties", str(deploy / "parties.toml"), "--out", str(out),
                                      "--days", "1000000000"])
    assert status == 2 and "--days must be an int in [1, 36525]" in err
    assert not out.exists()
    with pytest.raises(ParameterError, match="days"):
        tls.generate_ca(days=10**9)


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-2"])
def test_run_timeout_must_be_finite_positive(capsys, value):
    t0 = time.monotonic()
    status, _, err = run_cli(capsys, ["run", "--local", "--code", "bgw", "--s", "1", "--t", "1", "--z", "1",
                                      "--m", "4", "--timeout", value])
    assert status == 2 and "--timeout must be a finite number of seconds" in err
    assert time.monotonic() - t0 < 10  # refused up front, no process started


def test_party_timeout_nan(deploy, tmp_path, capsys):
    folder = party_copy(deploy, tmp_path)
    status, _, err = run_cli(capsys, ["party", "--config", str(folder / "parties.toml"), "--id", "worker-0",
                                      "--timeout", "nan"])
    assert status == 2 and "--timeout must be a finite number" in err


def test_tampered_session_fails_at_load_naming_the_file(deploy, tmp_path, capsys):
    folder = party_copy(deploy, tmp_path)
    (folder / "session.json").write_text("{not json")
    status, _, err = run_cli(capsys, ["party", "--config", str(folder / "parties.toml"), "--id", "worker-0"])
    assert status == 2 and "session.json is invalid" in err
    (folder / "session.json").write_bytes(b"\xff\xfe")
    status, _, err = run_cli(capsys, ["party", "--config", str(folder / "parties.toml"), "--id", "worker-0"])
    assert status == 2 and "not UTF-8" in err


@pytest.mark.parametrize("how", ["duplicate", "zero", "p"])
def test_session_with_bad_points_fails_at_load(deploy, tmp_path, capsys, how):
    from cmpc.protocol import Session

    folder = party_copy(deploy, tmp_path)
    d = json.loads((folder / "session.json").read_text())
    d["points"][1] = {"duplicate": d["points"][0], "zero": 0, "p": d["p"]}[how]
    text = json.dumps(d)
    try:
        Session.from_json(text)
    except ParameterError:
        pass
    else:
        pytest.skip("Session.from_json does not validate points yet (session validation lands separately)")
    (folder / "session.json").write_text(text)
    t0 = time.monotonic()
    status, _, err = run_cli(capsys, ["party", "--config", str(folder / "parties.toml"), "--id", "worker-0"])
    assert status == 2 and "session.json is invalid" in err
    assert time.monotonic() - t0 < 5  # at load, not at a timeout


def test_config_digest_mismatch_is_refused(deploy, tmp_path, capsys):
    folder = party_copy(deploy, tmp_path)
    cfg = folder / "parties.toml"
    cfg.write_text(cfg.read_text().replace("timeout = 2.0", "timeout = 3.0"))
    status, _, err = run_cli(capsys, ["party", "--config", str(cfg), "--id", "worker-0"])
    assert status == 2 and "was made for another parties.toml" in err and "cmpc init" in err


def test_debug_prints_the_traceback(tmp_path, capsys):
    status = main(["--debug", "party", "--config", str(tmp_path / "none.toml"), "--id", "worker-0"])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" in err and "cmpc: error: cannot read config" in err
    status = main(["party", "--config", str(tmp_path / "none.toml"), "--id", "worker-0", "--debug"])
    assert status == 2 and "Traceback" in capsys.readouterr().err


def test_classify_policy():
    import ssl

    assert classify(ParameterError("x"))[1] == 2
    assert classify(TransportError("gone", peer="w"))[1] == 1
    assert classify(ssl.SSLError(1, "bad"))[1] == 2
    assert classify(FileNotFoundError(2, "No such file", "a.npy")) == ("No such file: a.npy", 2)
    assert classify(ConnectionRefusedError(111, "refused"))[1] == 1
    message, status = classify(ZeroDivisionError("boom"))
    assert status == 1 and "internal error" in message and "--debug" in message
