"""A real multi-host run: every party host is its own Linux network namespace with its own address.

Topology (all created by the test, unique per process id, removed in ``finally``): one *hub* namespace with
a bridge, and three *host* namespaces, each joined to the bridge by a veth pair and given 10.213.<k>.<i>/24.
``cmpc init --hosts`` places the six parties of a ``bgw`` session (2 sources, 3 workers, master) round
robin on the three hosts; each party runs as ``ip netns exec <host> python -m cmpc party ...``
from its own folder. The privateMDI test does the same with four hosts: ``private-mdi init --hosts`` puts
client, cloud, edge1 and edge2 one per host; the servers run ``private-mdi party --config``, the client
``private-mdi client --config``, and its outputs must equal the fixed-point reference bit for bit.
The tests contact only the addresses inside the namespaces it created; nothing is added to the root
namespace (the veth ends are moved out at once). Skipped, with the reason, where namespaces are unavailable.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cmpc.cli import main

ROOT = Path(__file__).resolve().parents[1]

HOSTS = 3
PARTIES = ["source-a", "source-b", "worker-0", "worker-1", "worker-2", "master"]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=check)


def _require_namespaces() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("network namespaces need Linux")
    if os.geteuid() != 0:
        pytest.skip("creating network namespaces needs root")
    if shutil.which("ip") is None:
        pytest.skip("the `ip` command (iproute2) is not installed")
    probe = f"cmpcprobe{os.getpid()}"
    res = _ip("netns", "add", probe, check=False)
    if res.returncode != 0:
        pytest.skip(f"`ip netns add` failed: {res.stderr.strip()}")
    _ip("netns", "del", probe, check=False)


@contextlib.contextmanager
def _namespaces(n_hosts: int) -> Iterator[tuple[list[str], list[str]]]:
    """Create the hub and ``n_hosts`` host namespaces (module docstring); yield (names, addresses).

    Everything is removed on exit, and the exit checks that no namespace of ours is left.
    """
    tag = os.getpid() % 100000
    subnet = 10 + tag % 200  # 10.213.<subnet>.0/24, private to our namespaces
    hub = f"cmpc{tag}hub"
    hosts = [f"cmpc{tag}h{i}" for i in range(n_hosts)]
    created: list[str] = []
    try:
        for ns in [hub, *hosts]:
            _ip("netns", "add", ns)
            created.append(ns)
        _ip("-n", hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", hub, "link", "set", "br0", "up")
        addresses = []
        for i, ns in enumerate(hosts):
            a, b = f"c{tag}a{i}", f"c{tag}b{i}"
            _ip("link", "add", a, "type", "veth", "peer", "name", b)
            _ip("link", "set", a, "netns", hub)  # both ends leave the root namespace at once
            _ip("link", "set", b, "netns", ns)
            _ip("-n", hub, "link", "set", a, "master", "br0")
            _ip("-n", hub, "link", "set", a, "up")
            addr = f"10.213.{subnet}.{i + 1}"
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", b)
            _ip("-n", ns, "link", "set", b, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            addresses.append(addr)
        yield hosts, addresses
    finally:
        for ns in reversed(created):  # deleting a namespace removes the veth ends inside it
            _ip("netns", "del", ns, check=False)
    leftover = _ip("netns", "list").stdout
    assert not any(ns in leftover for ns in [hub, *hosts])


@pytest.mark.slow
def test_parties_on_separate_network_namespaces(tmp_path):
    _require_namespaces()
    from cmpc.commands.party import demo_inputs
    from cmpc.field import PrimeField
    from cmpc.protocol import Session, exact_product

    procs: dict[str, subprocess.Popen] = {}
    with _namespaces(HOSTS) as (hosts, addresses):
        try:
            hosts_file = tmp_path / "hosts.txt"
            hosts_file.write_text("\n".join(addresses) + "\n")
            out = tmp_path / "deploy"
            assert main(["init", "--code", "bgw", "--s", "1", "--t", "1", "--z", "1", "--m", "8", "--hosts",
                         str(hosts_file), "--out", str(out), "--timeout", "30"]) == 0
            session = Session.from_json((out / "session.json").read_text())
            a_in, b_in = demo_inputs(session, 3)
            np.save(out / "source-a" / "A.npy", a_in)
            np.save(out / "source-b" / "B.npy", b_in)
            env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
            for k, pid in enumerate(PARTIES):
                ns = hosts[k % HOSTS]  # the same round robin as `cmpc init --hosts`
                cmd = ["ip", "netns", "exec", ns, sys.executable, "-m", "cmpc", "party",
                       "--config", "parties.toml", "--id", pid]
                cmd += {"source-a": ["--input", "A.npy"], "source-b": ["--input", "B.npy"],
                        "master": ["--output", "Y.npy"]}.get(pid, [])
                procs[pid] = subprocess.Popen(cmd, cwd=out / pid, env=env, stderr=subprocess.PIPE, text=True)
            errs = {pid: p.communicate(timeout=180)[1] for pid, p in procs.items()}
            assert all(p.returncode == 0 for p in procs.values()), errs
            y = np.load(out / "master" / "Y.npy")
            assert np.array_equal(y, exact_product(PrimeField(session.p), a_in, b_in))
            assert f"master: listening on {addresses[(len(PARTIES) - 1) % HOSTS]}:" in errs["master"]
            assert "master: finished OK" in errs["master"]
        finally:
            for p in procs.values():
                if p.poll() is None:
                    p.kill()
                    p.wait()


@pytest.mark.slow
def test_private_mdi_parties_on_separate_network_namespaces(tmp_path):
    """privateMDI: client, cloud and two edges each on its own namespace host, from `private-mdi init`."""
    _require_namespaces()
    from test_private_mdi_hosts import MODEL, Server, server_argv

    from private_mdi.deploy import init_deployment
    from private_mdi.examples.train_digits import digits_split
    from private_mdi.model import Model

    mdi_parties = ["client", "cloud", "edge1", "edge2"]
    with _namespaces(len(mdi_parties)) as (hosts, addresses):
        out = tmp_path / "deploy"
        dep = init_deployment(out, MODEL, edges=2, hosts_text="\n".join(addresses), input_bound=(0.0, 1.0),
                              key_bits=2048, timeout=60.0)  # round robin: one party per host
        x = digits_split()[1][:3]
        np.save(out / "client" / "X.npy", x)
        servers: dict[str, Server] = {}
        try:
            for k, pid in enumerate(mdi_parties[1:], start=1):
                folder, argv = server_argv(dep.commands[pid])
                servers[pid] = Server(["ip", "netns", "exec", hosts[k], *argv], out / folder)
            for k, (pid, srv) in enumerate(servers.items(), start=1):
                assert f"{pid}: listening on {addresses[k]}:" in srv.wait_for(f"{pid}: listening on")
            folder, argv = server_argv(dep.commands["client"])
            client = subprocess.run(["ip", "netns", "exec", hosts[0], *argv, "--format", "json"],
                                    cwd=out / folder, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                                    capture_output=True, text=True, timeout=300)
            assert client.returncode == 0, client.stderr
            for pid, srv in servers.items():
                assert srv.finish() == 0, srv.lines
                assert srv.lines[-1].startswith(f"{pid}: finished OK"), srv.lines
        finally:
            for srv in servers.values():
                srv.kill()
    res = json.loads(client.stdout)
    ref = Model.load(MODEL).reference(x, res["f"], res["p"])
    assert np.array_equal(np.asarray(res["raw"], np.int64), ref)
    assert "client: finished OK" in client.stderr
