"""privateMDI across hosts: ``private-mdi init`` folders, ``party --config``, ``client --config``.

The end-to-end test starts the cloud and the edges as separate processes from their folders with the
commands ``init`` printed, runs the client, and checks its outputs equal the fixed-point reference
(``Model.reference`` at the deployment's p and f) bit for bit.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cmpc.net.config import ConfigError
from private_mdi.cli import main
from private_mdi.deploy import init_deployment, load_party
from private_mdi.examples.train_digits import DATA_DIR, digits_split
from private_mdi.model import Model, signed

MODEL = DATA_DIR / "digits_mlp.npz"
ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))


def server_argv(command: str) -> tuple[str, list[str]]:
    """(folder, argv) of a printed ``cd FOLDER && private-mdi ...`` command, run with this Python."""
    cd, _, rest = command.partition(" && ")
    words = shlex.split(rest)
    assert cd.startswith("cd ") and words[0] == "private-mdi", command
    return shlex.split(cd)[1], [sys.executable, "-m", "private_mdi", *words[1:]]


class Server:
    """A started party process whose stderr lines are collected by a thread."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            if self.proc.poll() is not None:
                self._reader.join(2.0)
                if any(text in ln for ln in self.lines):
                    continue
                raise AssertionError(f"party exited ({self.proc.returncode}) before {text!r}: {self.lines}")
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} within {timeout} s: {self.lines}")

    def finish(self, timeout: float = 60.0) -> int:
        rc = self.proc.wait(timeout)
        self._reader.join(5.0)
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_folders_hold_exactly_what_each_machine_receives(tmp_path):
    dep = init_deployment(tmp_path / "d", MODEL, edges=3, input_bound=(0.0, 1.0))
    parties = ["client", "cloud", "edge1", "edge2", "edge3"]
    assert list(dep.commands) == parties
    for pid in parties:
        files = {str(p.relative_to(dep.folder(pid))) for p in dep.folder(pid).rglob("*") if p.is_file()}
        keys = {f for f in files if f.endswith(".key")}
        assert keys == {f"keys/{pid}.key"}  # one private key: its own
        assert ("cloud-weights.npz" in files) == (pid == "cloud")  # only the cloud gets the weights
        assert ("client.json" in files) == (pid == "client")
        assert {"parties.toml", "session.json", "keys/ca.pem", f"keys/{pid}.pem"} <= files
        assert (dep.folder(pid) / "keys" / f"{pid}.key").stat().st_mode & 0o077 == 0
        assert load_party(dep.folder(pid) / "parties.toml", pid).spec.edges == 3
    session = json.loads(dep.session.read_text())
    assert len(session["config_digest"]) == 64
    info = json.loads((dep.folder("client") / "client.json").read_text())
    assert info["head"] == "argmax" and info["low"] == [0.0] * 64 and info["high"] == [1.0] * 64
    assert "--id edge2" in (dep.root / "commands.txt").read_text()


def test_a_changed_config_is_refused(tmp_path, capsys):
    dep = init_deployment(tmp_path / "d", MODEL, edges=2, input_bound=1.0)
    cfg = dep.folder("edge1") / "parties.toml"
    cfg.write_text(cfg.read_text().replace("timeout = 120.0", "timeout = 60.0"))
    with pytest.raises(ConfigError, match="digest"):
        load_party(cfg, "edge1")
    assert main(["party", "--config", str(cfg), "--id", "edge1"]) == 2
    err = capsys.readouterr().err
    assert "private-mdi: error:" in err and "re-run private-mdi init" in err
    # untouched folders still load
    assert load_party(dep.folder("edge2") / "parties.toml", "edge2").party == "edge2"


def test_bad_party_ids_are_refused(tmp_path, capsys):
    dep = init_deployment(tmp_path / "d", MODEL, edges=2, input_bound=1.0)
    with pytest.raises(ConfigError, match="not a party"):
        load_party(dep.folder("edge1") / "parties.toml", "edge9")
    cfg = str(dep.folder("client") / "parties.toml")
    assert main(["party", "--config", cfg, "--id", "client"]) == 2
    assert "private-mdi client" in capsys.readouterr().err


def test_init_refuses_a_used_directory_and_bad_hosts(tmp_path, capsys):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    assert main(["init", "--model", str(MODEL), "--local", "--out", str(tmp_path / "used")]) == 2
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("client 10.0.0.1\ncloud 10.0.0.2\n")  # edges missing
    out = tmp_path / "new"
    assert main(["init", "--model", str(MODEL), "--hosts", str(hosts), "--out", str(out)]) == 2
    assert "does not place" in capsys.readouterr().err
    assert not out.exists()  # nothing half-written is left behind


@pytest.mark.slow
def test_end_to_end_from_the_printed_commands(tmp_path, capsys, monkeypatch):
    out = tmp_path / "deploy"
    assert main(["init", "--model", str(MODEL), "--edges", "2", "--local", "--out", str(out),
                 "--input-bound", "0", "1", "--key-bits", "2048", "--timeout", "60"]) == 0
    printed = capsys.readouterr().out
    commands = {}
    for line in printed.splitlines():
        if line.strip().startswith("["):
            pid, _, cmd = line.strip()[1:].partition("] ")
            commands[pid] = cmd
    assert set(commands) == {"client", "cloud", "edge1", "edge2"}
    _, x_all, _, _ = digits_split()
    x = x_all[:4]
    np.save(out / "client" / "X.npy", x)
    servers: dict[str, Server] = {}
    try:
        for pid in ("cloud", "edge1", "edge2"):
            folder, argv = server_argv(commands[pid])
            servers[pid] = Server(argv, out / folder)
        for pid, srv in servers.items():
            assert "127.0.0.1:" in srv.wait_for(f"{pid}: listening on")
        folder, argv = server_argv(commands["client"])
        assert argv[3:5] == ["client", "--config"]
        monkeypatch.chdir(out / folder)
        assert main([*argv[3:], "--format", "json", "--offline", "5"]) == 0
        res = json.loads(capsys.readouterr().out)
        for pid, srv in servers.items():
            assert srv.finish() == 0, srv.lines
            assert srv.lines[-1].startswith(f"{pid}: finished OK"), srv.lines
        assert any("phase online started" in ln for ln in servers["edge1"].lines)
    finally:
        for srv in servers.values():
            srv.kill()
    model = Model.load(MODEL)
    ref = model.reference(x, res["f"], res["p"])
    assert np.array_equal(np.asarray(res["raw"], np.int64), ref)
    assert res["predictions"] == model.labels(signed(ref, res["p"])).tolist()


def test_client_refuses_bad_inputs_before_any_message(tmp_path, capsys):
    from private_mdi.deploy import run_client
    from private_mdi.fixedpoint import InputRangeError

    dep = init_deployment(tmp_path / "d", MODEL, edges=2, input_bound=(0.0, 1.0))
    cfg = dep.folder("client") / "parties.toml"
    # no server runs: these must fail on the input check, not on a connection
    with pytest.raises(InputRangeError):
        run_client(cfg, np.full((2, 64), 2.0))
    with pytest.raises(ConfigError, match="shape"):
        run_client(cfg, np.zeros((2, 63)))
    np.save(tmp_path / "bad.npy", np.zeros((1, 5)))
    assert main(["client", "--config", str(cfg), "--input", str(tmp_path / "bad.npy")]) == 2
    assert "--input must have shape" in capsys.readouterr().err


@pytest.mark.slow
def test_client_without_servers_fails_within_the_connect_timeout(tmp_path):
    from cmpc.errors import TransportError
    from private_mdi.deploy import run_client

    dep = init_deployment(tmp_path / "d", MODEL, edges=2, input_bound=(0.0, 1.0), key_bits=2048)
    t0 = time.monotonic()
    with pytest.raises(TransportError, match="start the servers first"):
        run_client(dep.folder("client") / "parties.toml", np.zeros((1, 64)))
    assert time.monotonic() - t0 < 60  # the connect timeout (10 s), not the 120 s protocol timeout
