"""parties.toml, ``cmpc keys``, ``cmpc party`` and the local launcher ``cmpc run --local``.

The slow tests start real party processes on 127.0.0.1 over mutual TLS. To keep the file near a minute on
two cores they are few and small (m ≤ 16; process start-up, mostly imports, dominates).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cmpc import codes
from cmpc.cli import main as cli_main
from cmpc.commands.party import demo_inputs, send_targets
from cmpc.commands.run import run_local
from cmpc.errors import InsufficientWorkersError, ParameterError
from cmpc.field import PrimeField
from cmpc.net.config import ConfigError, NetworkConfig, PartyAddress, dump_config, load_config, parse_config
from cmpc.net.link import LinkSpec
from cmpc.net.tls import write_keys
from cmpc.protocol import Session, simulate
from cmpc.rand import RandomSource

F31 = PrimeField(2**31 - 1)

GOOD = """
[session]
session = "session.json"
keys = "keys"
timeout = 5
latency_ms = 2.5

[[party]]
id = "source-a"
host = "127.0.0.1"
port = 7000

[[party]]
id = "worker-0"
host = "127.0.0.1"
port = 7001

[[link]]
a = "source-a"
b = "worker-0"
bandwidth_mbps = 100
"""


PARTY_A = "[[party]]\nid = 'a'\nhost = 'h'\nport = 1\n"


# -- parties.toml -------------------------------------------------------------------------------------------
def test_config_parses_and_resolves_paths(tmp_path):
    (tmp_path / "parties.toml").write_text(GOOD)
    cfg = load_config(tmp_path / "parties.toml")
    assert cfg.ids == ["source-a", "worker-0"]
    assert cfg.addresses()["worker-0"] == ("127.0.0.1", 7001)
    assert cfg.session_file == tmp_path / "session.json" and cfg.keys == tmp_path / "keys"
    assert cfg.timeout == 5.0 and cfg.connect_timeout == 10.0 and not cfg.insecure
    assert cfg.default_link() == LinkSpec(2.5, None)
    assert cfg.links == {("source-a", "worker-0"): LinkSpec(0.0, 100.0)}
    assert cfg.link_emulation()


def test_config_round_trip():
    cfg = NetworkConfig(
        parties=(PartyAddress("master", "10.0.0.2", 9000), PartyAddress("worker-0", "host-b", 9001)),
        session_file=Path("s.json"),
        keys=Path("k"),
        insecure=True,
        timeout=7.5,
        code={"code": "age", "s": 2, "t": 2, "z": 1, "m": 64},
        links={("master", "worker-0"): LinkSpec(3.0, 50.0)},
    )
    back = parse_config(dump_config(cfg), ".")
    assert back == cfg


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[session]\ntimeout = 1\n", "at least one [[party]]"),
        ("[[party]]\nid = 'a'\nhost = 'h'\n", "missing keys ['port']"),
        ("[[party]]\nid = 'a'\nhost = 'h'\nport = 0\n", "port must be in [1, 65535]"),
        ("[[party]]\nid = 'a b'\nhost = 'h'\nport = 1\n", "party id"),
        (PARTY_A + "[[party]]\nid = 'a'\nhost = 'h'\nport = 2\n", "duplicate"),
        (PARTY_A + "[[party]]\nid = 'b'\nhost = 'h'\nport = 1\n", "already used"),
        ("[session]\ntimeuot = 1\n[[party]]\nid = 'a'\nhost = 'h'\nport = 1\n", "unknown keys ['timeuot']"),
        ("[session]\ntimeout = -1\n[[party]]\nid = 'a'\nhost = 'h'\nport = 1\n",
         "timeout must be a finite number of seconds"),
        ("[session]\ninsecure = 'yes'\n[[party]]\nid = 'a'\nhost = 'h'\nport = 1\n", "true or false"),
        ("[[party]]\nid = 'a'\nhost = 'h'\nport = 1\n[[link]]\na = 'a'\nb = 'zz'\n", "b must be one of"),
        ("x = [", "not valid TOML"),
    ],
)
def test_config_errors_name_the_key(text, words):
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert words in str(info.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "nope.toml")


# -- cmpc keys / cmpc party (no network) ------------------------------------------------------------------
def session_config(tmp_path: Path, code: str = "bgw", m: int = 8) -> Path:
    s = t = z = 1
    n = codes.make(code, s=s, t=t, z=z).n_workers
    ids = ["source-a", "source-b", *[f"worker-{i}" for i in range(n)], "master"]
    cfg = NetworkConfig(
        parties=tuple(PartyAddress(pid, "127.0.0.1", 20000 + i) for i, pid in enumerate(ids)),
        session_file=Path("session.json"),
        keys=Path("keys"),
        code={"code": code, "s": s, "t": t, "z": z, "m": m},
    )
    path = tmp_path / "parties.toml"
    path.write_text(dump_config(cfg))
    return path


def test_keys_command_writes_keys_and_session(tmp_path, capsys):
    cfg = session_config(tmp_path)
    assert cli_main(["keys", "--parties", str(cfg), "--out", str(tmp_path / "keys")]) == 0
    assert "5 party" not in capsys.readouterr().out  # 6 parties: 2 sources, 3 workers, master
    for pid in ["source-a", "source-b", "worker-0", "worker-1", "worker-2", "master"]:
        assert (tmp_path / "keys" / f"{pid}.key").stat().st_mode & 0o777 == 0o600
    session = Session.from_json((tmp_path / "session.json").read_text())
    assert session.parties == ["source-a", "source-b", "worker-0", "worker-1", "worker-2", "master"]
    first = (tmp_path / "session.json").read_text()
    assert cli_main(["keys", "--parties", str(cfg), "--out", str(tmp_path / "keys")]) == 0
    assert (tmp_path / "session.json").read_text() == first  # never overwritten


def test_party_command_errors_are_clean(tmp_path, capsys):
    cfg = session_config(tmp_path)
    # no session file yet
    assert cli_main(["party", "--config", str(cfg), "--id", "worker-0"]) == 2
    assert "cannot read session file" in capsys.readouterr().err
    cli_main(["keys", "--parties", str(cfg), "--out", str(tmp_path / "keys")])
    assert cli_main(["party", "--config", str(cfg), "--id", "worker-9"]) == 2
    assert "worker-9" in capsys.readouterr().err
    assert cli_main(["party", "--config", str(cfg), "--id", "source-a"]) == 2
    assert "needs --input" in capsys.readouterr().err


def test_demo_inputs_and_send_targets():
    session = Session.create(codes.make("bgw", s=1, t=1, z=1), F31, (4, 3), (4, 5), 4, RandomSource(seed=1))
    a, b = demo_inputs(session, 3)
    a2, _ = demo_inputs(session, 3)
    assert a.shape == (4, 3) and b.shape == (4, 5) and np.array_equal(a, a2)
    assert not np.array_equal(a, demo_inputs(session, 4)[0])
    assert send_targets(session, "source-a") == session.workers
    assert send_targets(session, "worker-1") == ["worker-0", "worker-2", "worker-3", "master"]
    # without spares a worker dials only the other reporters (the first t² + z = 2) and the master
    fixed = Session.create(codes.make("bgw", s=1, t=1, z=1), F31, (4, 3), (4, 5), None, RandomSource(seed=1))
    assert fixed.fixed_assignment and fixed.fixed_roles()[1] == (0, 1)
    assert send_targets(fixed, "worker-2") == ["worker-0", "worker-1", "master"]
    assert send_targets(fixed, "worker-0") == ["worker-1", "master"]
    assert send_targets(fixed, "master") == fixed.workers == send_targets(fixed, "source-b")


def test_run_local_rejects_bad_arguments():
    with pytest.raises(ParameterError, match="--m"):
        run_local("bgw", 1, 1, 1, 0)
    with pytest.raises(ParameterError, match="latency-ms"):
        run_local("bgw", 1, 1, 1, 4, latency_ms=-1)
    for bad in (float("nan"), float("inf"), 0.0, -3.0):
        with pytest.raises(ParameterError, match="--timeout must be a finite number of seconds"):
            run_local("bgw", 1, 1, 1, 4, timeout=bad)
    with pytest.raises(ParameterError, match="crash"):
        run_local("bgw", 1, 1, 1, 4, crash={"worker-7": 1})


# -- real processes -----------------------------------------------------------------------------------------
def simulated(code: str, s: int, t: int, z: int, m: int, seed: int, workers: int | None = None):
    the_code = codes.make(code, s=s, t=t, z=z)
    session = Session.create(the_code, F31, (m, m), (m, m))
    a, b = demo_inputs(session, seed)  # the launcher's inputs depend on shapes and seed only
    y, report = simulate(the_code, a, b, field=F31, workers=workers)
    return np.asarray(y, dtype=np.int64), report


@pytest.mark.slow
def test_tls_run_matches_simulation_bgw():
    res = run_local("bgw", 1, 1, 1, 12, seed=5, timeout=10)
    assert res.errors == {}, res.logs
    assert res.correct and res.workers == 3
    y, report = simulated("bgw", 1, 1, 1, 12, 5)
    assert np.array_equal(res.y, y)
    assert {ph: res.bytes[ph] for ph in report.bytes} == report.bytes  # same frames, same meter
    assert set(res.seconds) == {"phase1", "phase2", "phase3", "total"}
    assert all(v is not None and v >= 0 for v in res.seconds.values())
    # bgw, m = 12, p < 2^32: 4-byte elements; phase 1 = 2 sources × 3 workers × (12·12·4 + 24-byte header
    # + 10-byte matrix header); without spares no Ready messages go to the master
    assert res.bytes["phase1"] == 6 * (12 * 12 * 4 + 24 + 10)
    assert res.bytes["total"] == sum(res.bytes[p] for p in ("phase1", "phase2", "phase3"))


@pytest.mark.slow
def test_tls_run_with_a_killed_spare_matches_simulation_age():
    """AGE (s = 2, t = 1, z = 1, N = 5) with N′ = 6: worker-1 is SIGKILLed after receiving its two shares."""
    res = run_local("age", 2, 1, 1, 16, workers=6, seed=6, timeout=10, crash={"worker-1": 2})
    assert res.returncodes["worker-1"] == -9  # it really died
    assert res.correct, (res.errors, res.logs)
    assert res.workers == 6
    assert np.array_equal(res.y, simulated("age", 2, 1, 1, 16, 6)[0])
    assert res.reports["master"]["ok"]


@pytest.mark.slow
def test_killed_worker_without_spares_fails_cleanly_within_the_timeout():
    t0 = time.monotonic()
    res = run_local("bgw", 1, 1, 1, 8, timeout=2.0, crash={"worker-2": 2})
    assert not res.correct and res.y is None
    master = res.reports["master"]
    assert master["error_type"] == InsufficientWorkersError.__name__
    assert "worker-2" in master["error"]  # the lost peer is named
    assert master["t_end"] - master["t_start"] < 2.0 + 1.5  # within the timeout (+ scheduling slack)
    assert all(code is not None for code in res.returncodes.values())  # nobody hangs
    assert time.monotonic() - t0 < 90


@pytest.mark.slow
def test_party_with_foreign_certificate_is_refused(tmp_path):
    other = write_keys(tmp_path / "other", ["worker-0"], rng=RandomSource(seed=99))
    res = run_local(
        "bgw", 1, 1, 1, 8, timeout=2.0, connect_timeout=2.0, keys_override={"worker-0": str(other)}
    )
    assert not res.correct
    assert res.reports["master"]["error_type"] == InsufficientWorkersError.__name__
    assert "worker-0" in res.reports["master"]["error"]  # named as lost (refused) or never heard from
    for source in ("source-a", "source-b"):
        assert "worker-0" in res.reports[source]["lost_peers"]
        assert "TLS handshake with worker-0 failed" in res.logs[source]
    # not one byte reached the party with the foreign certificate
    assert not any(key.endswith("|worker-0") for rep in res.reports.values() for key in rep["meter"])


@pytest.mark.slow
def test_cli_json_output_insecure():
    proc = subprocess.run(
        [sys.executable, "-m", "cmpc.cli", "run", "--local", "--code", "bgw", "--s", "1", "--t", "1",
         "--z", "1", "--m", "8", "--format", "json", "--insecure", "--latency-ms", "30"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert list(out)[:4] == ["correct", "workers", "seconds", "bytes"]  # later keys are appended only
    assert out["startup_s"] > 0 and out["wall_s"] >= out["startup_s"]
    assert "cmpc run: parties connected 6/6" in proc.stderr
    assert "cmpc run: finished OK" in proc.stderr
    assert out["correct"] is True and out["workers"] == 3
    assert out["worker_processes"] == 3 and out["workers_needed"] == 3  # bgw z = 1: N = 2z + 1
    assert out["certificate"]["kind"] == "structural"  # the session's certificate is shown
    assert list(out["seconds"]) == ["phase1", "phase2", "phase3", "total"]
    assert set(out["bytes"]) == {"phase1", "phase2", "phase3", "total"}
    # three messages in sequence (share → Reshare → ResultShare; no spares, so no Ready/StartPhase2
    # round trip), 30 ms each
    assert out["seconds"]["total"] >= 3 * 0.030


# -- several parties per process (cmpc.hosting) -------------------------------------------------------------
def test_plan_processes_round_robin_and_alone():
    from cmpc.hosting import plan_processes

    ids = ["source-a", "source-b", "master", "worker-0", "worker-1", "worker-2"]
    assert plan_processes(ids, 2) == [
        ["source-a", "master", "worker-1"], ["source-b", "worker-0", "worker-2"]
    ]
    assert plan_processes(ids, 99) == [[p] for p in ids]  # the deployment shape
    assert plan_processes(ids, 1, alone=["worker-1"]) == [["worker-1"], [p for p in ids if p != "worker-1"]]
    with pytest.raises(ParameterError, match="--processes"):
        plan_processes(ids, 0)


def test_gate_waits_for_every_party_and_aborts_with_a_named_error():
    import threading

    from cmpc.errors import TransportError
    from cmpc.hosting import Gate

    gate = Gate(["a", "b"])
    passed: list[str] = []
    th = threading.Thread(target=lambda: (gate.arrive("a", 0), passed.append("a")))
    th.start()
    assert not gate.all_arrived(0, 0.05)  # b has not arrived
    gate.leave("b")  # a failed party never holds the others back
    assert gate.all_arrived(0, 1.0)
    assert passed == []  # not before the step is opened
    gate.open(0)
    th.join(2)
    assert passed == ["a"]
    gate.abort("it said EXIT before GO")
    with pytest.raises(TransportError, match="run aborted by the launcher"):
        gate.arrive("a", 1)


@pytest.mark.slow
def test_hosted_source_that_fails_at_start_up_fails_the_run_fast(tmp_path):
    t0 = time.monotonic()
    res = run_local("bgw", 1, 1, 1, 8, timeout=20.0, connect_timeout=20.0, processes=2,
                    keys_override={"source-a": str(tmp_path / "missing")})
    assert time.monotonic() - t0 < 15  # neither the 20 s dial budget nor the 20 s silence timeout
    assert not res.correct and res.y is None
    assert res.errors["source-a"].startswith("CredentialsError")  # named, from its own report
    assert "not found" in res.errors["source-a"]
    assert res.processes == 2
    assert all(code is not None for code in res.returncodes.values())  # nobody hangs
    assert "aborted by the launcher" in res.errors["source-b"]  # the others were told, not left waiting


@pytest.mark.slow
def test_one_process_per_party_still_works():
    res = run_local("bgw", 1, 1, 1, 8, seed=3, timeout=10, processes=99)
    assert res.correct and res.errors == {}, res.errors
    assert res.processes == 6
    assert len(set(res.returncodes)) == 6 and set(res.returncodes.values()) == {0}


def test_host_parties_speaks_the_control_words_and_takes_an_early_exit(tmp_path, monkeypatch, capsys):
    """The launcher says EXIT as soon as the master is done, possibly before the other hosted parties end:
    the host must remember it (it once waited for a second EXIT forever)."""
    import argparse
    import io
    import threading

    from cmpc.hosting import host_parties

    def fake_run_party(ns):
        ns.sync("LISTENING")
        print(f"{ns.party}: hello", file=sys.stderr)  # routed to this party's log
        ns.sync("READY")
        time.sleep(0.3 if ns.party == "worker-0" else 0.0)  # ends after the launcher's EXIT was read
        return (0 if ns.party != "worker-1" else 3), {"party": ns.party, "ok": ns.party != "worker-1"}

    monkeypatch.setattr(sys, "stdin", io.StringIO("DIAL\nGO\nEXIT\n"))
    args = argparse.Namespace(report_dir=str(tmp_path), party_keys=None, keys=None, output="Y.npy",
                              host="x", party=None, report=None)
    box: list[int] = []
    th = threading.Thread(target=lambda: box.append(host_parties(args, ["worker-0", "worker-1"],
                                                                 fake_run_party)), daemon=True)
    th.start()
    th.join(10)
    assert box == [3]  # returned (no hang), and a failed hosted party fails the process
    out = capsys.readouterr().out.split()
    assert out[:2] == ["LISTENING", "READY"] and out[-1] == "DONE"
    assert "PARTY-DONE worker-1 3" in " ".join(out) and "PARTY-DONE worker-0 0" in " ".join(out)
    assert (tmp_path / "worker-0.log").read_text() == "worker-0: hello\n"
    assert json.loads((tmp_path / "worker-1.report.json").read_text())["ok"] is False


def _scripted(tmp_path, name: str, after_go: str) -> list[str]:
    """A stand-in process that speaks the launcher's control words, then runs ``after_go``."""
    body = (
        "import sys, time\n"
        "print('LISTENING', flush=True); sys.stdin.readline()\n"
        "print('READY', flush=True); sys.stdin.readline()\n" + after_go
    )
    (tmp_path / f"{name}.py").write_text(body)
    return [sys.executable, str(tmp_path / f"{name}.py")]


def test_a_source_failing_after_go_stops_every_process_at_once(tmp_path):
    from cmpc.commands.run_processes import PartyProcesses
    from cmpc.launch import child_env

    hang = "time.sleep(60)\n"
    commands = [
        _scripted(tmp_path, "p0", "print('PARTY-DONE source-a 3', flush=True)\n" + hang),
        _scripted(tmp_path, "p1", hang),  # the master would wait for its silence timeout
    ]
    procs = PartyProcesses([["source-a", "worker-0"], ["master", "source-b"]], commands, tmp_path,
                           child_env(), spares=0)
    try:
        t0 = time.monotonic()
        assert procs.start_up(time.monotonic() + 30, lambda _m: None, time.perf_counter()) is not None
        procs.wait_master(time.monotonic() + 30)
        assert time.monotonic() - t0 < 10  # not the 30 s deadline
        assert procs.intolerable() == ["source-a"]
        assert all(c.proc.wait(5) is not None for c in procs.children)  # both processes were stopped
    finally:
        procs.close()


def test_a_worker_failing_at_start_up_is_tolerated_with_a_spare(tmp_path):
    from cmpc.commands.run_processes import PartyProcesses
    from cmpc.launch import child_env

    early = tmp_path / "early.py"
    early.write_text(
        "import sys\nprint('PARTY-DONE worker-1 2', flush=True)\nprint('LISTENING', flush=True)\n"
        "sys.stdin.readline()\nprint('READY', flush=True)\nsys.stdin.readline()\n"
        "print('PARTY-DONE master 0', flush=True)\nprint('DONE', flush=True)\nsys.stdin.readline()\n"
    )
    said: list[str] = []
    procs = PartyProcesses([["master", "worker-1"]], [[sys.executable, str(early)]], tmp_path, child_env(),
                           spares=1)
    try:
        assert procs.start_up(time.monotonic() + 30, said.append, time.perf_counter()) is not None
        assert said[0].startswith("parties listening 1/2") and said[1].startswith("parties connected 1/2")
        procs.wait_master(time.monotonic() + 30)
        assert "master" in procs.finished and procs.failed == {"worker-1": "failed (status 2)"}
        procs.finish(time.monotonic() + 10)
        assert procs.returncodes() == {"master": 0, "worker-1": 0}
    finally:
        procs.close()
