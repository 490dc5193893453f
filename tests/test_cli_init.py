"""``cmpc init`` (deployment generator) and ``cmpc keys`` checks before writing (issue 16)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cmpc.cli import main
from cmpc.commands.init import parse_hosts
from cmpc.net.config import ConfigError, config_digest, load_config
from cmpc.protocol import Session

PARTIES = ["source-a", "source-b", "worker-0", "worker-1", "worker-2", "master"]


def test_init_writes_one_folder_per_machine(tmp_path, capsys):
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("# two machines\n10.1.0.1\n10.1.0.2:7100\n".replace(":7100", ""))
    out = tmp_path / "deploy"
    assert main(["init", "--code", "bgw", "--s", "1", "--t", "1", "--z", "1", "--m", "8",
                 "--hosts", str(hosts), "--out", str(out), "--base-port", "7000"]) == 0
    printed = capsys.readouterr().out
    cfg = load_config(out / "parties.toml")
    assert cfg.ids == PARTIES
    assert [(p.host, p.port) for p in cfg.parties] == [
        ("10.1.0.1", 7000), ("10.1.0.2", 7001), ("10.1.0.1", 7002), ("10.1.0.2", 7003), ("10.1.0.1", 7004),
        ("10.1.0.2", 7005),
    ]
    session = Session.from_json((out / "session.json").read_text())
    assert session.config_digest == config_digest(out / "parties.toml")
    assert session.parties == PARTIES
    for pid in PARTIES:
        folder = out / pid
        assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) == sorted(
            ["keys", "keys/ca.pem", f"keys/{pid}.pem", f"keys/{pid}.key", "parties.toml", "session.json"]
        )
        assert (folder / "parties.toml").read_bytes() == (out / "parties.toml").read_bytes()
        assert (folder / "keys" / f"{pid}.key").stat().st_mode & 0o777 == 0o600
        assert f"cmpc party --config parties.toml --id {pid}" in printed
    assert (out / "ca" / "ca.key").stat().st_mode & 0o777 == 0o600
    assert not list(out.glob(".keys-*"))  # the temporary key folder is gone
    assert "master --output Y.npy" in (out / "commands.txt").read_text()
    # a non-empty --out is refused, nothing overwritten
    assert main(["init", "--local", "--code", "bgw", "--s", "1", "--t", "1", "--z", "1", "--m", "8",
                 "--out", str(out)]) == 2
    assert "not an empty directory" in capsys.readouterr().err


def test_parse_hosts_errors():
    with pytest.raises(ConfigError, match="lists no host"):
        parse_hosts("# nothing\n", PARTIES, 7000)
    with pytest.raises(ConfigError, match="does not place"):
        parse_hosts("source-a h1\n", PARTIES, 7000)
    with pytest.raises(ConfigError, match="unknown party 'worker-9'"):
        parse_hosts("worker-9 h1\n", PARTIES, 7000)
    with pytest.raises(ConfigError, match="both listen on h:9"):
        parse_hosts("h:9\n", PARTIES, 7000)
    with pytest.raises(ConfigError, match="port must be in"):
        parse_hosts("h:99999\n", PARTIES, 7000)
    with pytest.raises(ConfigError, match="lower --base-port"):
        parse_hosts("h\n", PARTIES, 65534)
    explicit = "\n".join(f"{p} 10.0.0.{i}:80" for i, p in enumerate(PARTIES))
    assert [a.host for a in parse_hosts(explicit, PARTIES, 7000)] == [f"10.0.0.{i}" for i in range(6)]


def test_keys_checks_the_party_list_before_writing(tmp_path, capsys):
    cfg = tmp_path / "parties.toml"
    cfg.write_text(
        '[session]\nsession = "session.json"\ncode = "bgw"\ns = 1\nt = 1\nz = 1\nm = 8\n'
        '[[party]]\nid = "source-a"\nhost = "h"\nport = 1\n'
    )
    assert main(["keys", "--parties", str(cfg), "--out", str(tmp_path / "keys")]) == 2
    assert "must be exactly the session's parties" in capsys.readouterr().err
    assert not (tmp_path / "keys").exists() and not (tmp_path / "session.json").exists()


def test_keys_refuses_a_stale_session_then_replaces_it_on_request(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["init", "--local", "--code", "bgw", "--s", "1", "--t", "1", "--z", "1", "--m", "8",
                 "--out", str(out)]) == 0
    cfg = out / "parties.toml"
    first = (out / "session.json").read_text()
    assert main(["keys", "--parties", str(cfg), "--out", str(tmp_path / "k")]) == 0
    assert "is up to date" in capsys.readouterr().out
    assert (out / "session.json").read_text() == first
    cfg.write_text(cfg.read_text().replace("m = 8", "m = 16"))
    assert main(["keys", "--parties", str(cfg), "--out", str(tmp_path / "k2")]) == 2
    err = capsys.readouterr().err
    assert "does not fit" in err and "A shape" in err and "--new-session" in err
    assert not (tmp_path / "k2").exists()
    assert main(["keys", "--parties", str(cfg), "--out", str(tmp_path / "k2"), "--new-session"]) == 0
    assert "replaced session parameters" in capsys.readouterr().out
    new = Session.from_json((out / "session.json").read_text())
    assert new.a_shape == (16, 16) and new.config_digest == config_digest(cfg)


@pytest.mark.slow
def test_init_local_deployment_runs_end_to_end(tmp_path):
    """Start every party from its own folder with the printed command; the master's Y is A^T B."""
    from cmpc.commands.party import demo_inputs
    from cmpc.field import PrimeField
    from cmpc.protocol import exact_product

    out = tmp_path / "d"
    assert main(["init", "--local", "--code", "bgw", "--s", "1", "--t", "1", "--z", "1", "--m", "8",
                 "--timeout", "60", "--out", str(out)]) == 0
    session = Session.from_json((out / "session.json").read_text())
    a, b = demo_inputs(session, 7)
    np.save(out / "source-a" / "A.npy", a)
    np.save(out / "source-b" / "B.npy", b)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    procs = {}
    for pid in PARTIES:
        cmd = [sys.executable, "-m", "cmpc", "party", "--config", "parties.toml", "--id", pid]
        cmd += {"source-a": ["--input", "A.npy"], "source-b": ["--input", "B.npy"],
                "master": ["--output", "Y.npy", "--report", "report.json"]}.get(pid, [])
        procs[pid] = subprocess.Popen(cmd, cwd=out / pid, env=env, stderr=subprocess.PIPE, text=True)
    errs = {}
    try:
        for pid, proc in procs.items():
            _, errs[pid] = proc.communicate(timeout=120)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert all(p.returncode == 0 for p in procs.values()), errs
    y = np.load(out / "master" / "Y.npy")
    assert np.array_equal(y, exact_product(PrimeField(session.p), a, b))
    assert "master: peers connected 3/3" in errs["master"]
    assert "master: result Y (8×8) written to Y.npy" in errs["master"]
    assert "master: finished OK" in errs["master"]
    assert "phase1 done" in errs["source-a"]
    assert json.loads((out / "master" / "report.json").read_text())["ok"] is True
