"""cmpc.launch: a child process with a line-based control channel, deadlines and a clean kill."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from cmpc.launch import Child, ChildExited, LaunchError, LaunchTimeout, child_env, python_module

ECHO = """
import sys
print("READY", flush=True)
for line in sys.stdin:
    line = line.strip()
    if line == "EXIT":
        break
    if line == "DIE":
        print("dying now", file=sys.stderr, flush=True)
        raise SystemExit(3)
    print("ECHO " + line, flush=True)
"""


def test_ready_command_and_goodbye(tmp_path: Path) -> None:
    child = Child("echo", [sys.executable, "-c", ECHO], log=tmp_path / "echo.log")
    try:
        assert child.expect("READY", time.monotonic() + 30) == "READY"
        assert child.tell("hello")
        assert child.expect("ECHO", time.monotonic() + 10) == "ECHO hello"
    finally:
        assert child.close(goodbye="EXIT") == 0


def test_exit_is_reported_with_status_and_log(tmp_path: Path) -> None:
    with Child("echo", [sys.executable, "-c", ECHO], log=tmp_path / "echo.log") as child:
        child.expect("READY", time.monotonic() + 30)
        child.tell("DIE")
        with pytest.raises(ChildExited, match=r"status 3.*dying now") as err:
            child.expect("ECHO", time.monotonic() + 10)
        assert err.value.status == 3
        assert isinstance(err.value, LaunchError)
        assert not child.tell("anything")  # gone: no exception


def test_deadline_and_kill(tmp_path: Path) -> None:
    child = Child("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], log=tmp_path / "s.log")
    t0 = time.monotonic()
    with pytest.raises(LaunchTimeout):
        child.expect("READY", time.monotonic() + 0.5)
    assert time.monotonic() - t0 < 5
    assert isinstance(LaunchTimeout("x"), TimeoutError)
    status = child.close(goodbye="EXIT", grace=0.2)
    assert status is not None and status != 0  # killed


def test_env_and_command_line() -> None:
    env = child_env({"PYTHONPATH": "/elsewhere", "OMP_NUM_THREADS": "4"})
    root = str(Path(__file__).resolve().parents[1])
    assert env["PYTHONPATH"].split(":")[0] == root and "/elsewhere" in env["PYTHONPATH"]
    assert env["OMP_NUM_THREADS"] == "4" and env["OPENBLAS_NUM_THREADS"] == "1"
    assert python_module("cmpc", "--help") == [sys.executable, "-m", "cmpc", "--help"]
    with pytest.raises(LaunchError, match="cannot start"):
        Child("x", ["/nonexistent/binary"], log=Path("/tmp") / "cmpc-launch-missing.log")
