"""End-to-end privateMDI on tiny models: bit-exact with the fixed-point reference, traffic, failures."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cmpc.errors import ProtocolError, TransportError
from cmpc.rand import RandomSource
from private_mdi.errors import MaterialReusedError, OverflowRiskError, PlacementError
from private_mdi.inference import PrivateInference, SessionClosedError
from private_mdi.model import AvgPool2d, Conv2d, Dense, Flatten, MaxPool2d, Model, ReLU
from private_mdi.paillier import PaillierKeyPair
from private_mdi.protocol import messages as msg
from private_mdi.protocol.spec import CLIENT, CLOUD, Phase, SessionSpec
from private_mdi.report import ClientOnline

P31 = 2**31 - 1


@pytest.fixture(scope="module")
def keys() -> PaillierKeyPair:
    """One 2048-bit Paillier key for the whole module (key generation dominates small sessions; 2048 bits is
    the smallest accepted size, the default of a real session is 3072)."""
    return PaillierKeyPair.generate(2048, RandomSource(seed="e2e-paillier"))


def dense_model(seed: int, sizes: tuple[int, ...] = (4, 5, 3, 2)) -> Model:
    g = np.random.default_rng(seed)
    layers: list = []
    for i in range(len(sizes) - 1):
        layers.append(Dense(g.normal(size=(sizes[i + 1], sizes[i])), g.normal(size=sizes[i + 1]) * 0.5))
        if i < len(sizes) - 2:
            layers.append(ReLU())
    return Model((sizes[0],), layers)


def conv_model(seed: int) -> Model:
    """Conv (stride 1, padding 1) → ReLU → AvgPool → Flatten → Dense → ReLU → Dense: L = 3 linear layers."""
    g = np.random.default_rng(seed)
    return Model(
        (1, 4, 4),
        [
            Conv2d(g.normal(size=(2, 1, 3, 3)), g.normal(size=2) * 0.3, stride=1, padding=1),
            ReLU(),
            AvgPool2d(2),
            Flatten(),
            Dense(g.normal(size=(3, 8)), g.normal(size=3) * 0.3),
            ReLU(),
            Dense(g.normal(size=(2, 3)), g.normal(size=2) * 0.3),
        ],
    )


def inputs(seed: int, n: int, d: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, d))


@pytest.mark.parametrize("edges", [2, 3])
def test_dense_bit_exact_with_reference(edges: int, keys: PaillierKeyPair) -> None:
    model = dense_model(edges)
    pi = PrivateInference(model, edges=edges, paillier_keys=keys, rng=RandomSource(seed=edges), timeout=20)
    assert pi.placement.hosts == ((1, 2, 1) if edges == 2 else (1, 2, 3))
    x = inputs(edges, 4, 4)
    pi.offline(4)
    got = pi.predict_raw(x)
    ref = pi.reference_raw(x)
    assert got.shape == (4, 2)
    np.testing.assert_array_equal(got, ref)
    # the reference is a faithful fixed-point version of the float model
    np.testing.assert_allclose(pi.predict_logits(x[:0]).shape, (0, 2))
    np.testing.assert_allclose(model.reference_logits(x, pi.f, pi.p), model.forward(x), atol=0.05)
    assert pi.available == 0


def test_labels_logits_and_one_at_a_time(keys: PaillierKeyPair) -> None:
    model = dense_model(11, (3, 4, 3))
    pi = PrivateInference(model, edges=2, paillier_keys=keys, rng=RandomSource(seed=11), timeout=20)
    x = inputs(11, 6, 3)
    pi.offline(6)
    np.testing.assert_array_equal(pi.predict(x[:3]), model.reference_predict(x[:3], pi.f, pi.p))
    logits = pi.predict_logits(x[3:], pipelined=False)
    np.testing.assert_array_equal(logits, model.reference_logits(x[3:], pi.f, pi.p))


@pytest.mark.parametrize("edges", [2, 3])
def test_conv_bit_exact_with_reference(edges: int, keys: PaillierKeyPair) -> None:
    model = conv_model(5 + edges)
    assert model.num_linear == 3 and model.relu_counts() == [32, 3]
    pi = PrivateInference(model, edges=edges, paillier_keys=keys, rng=RandomSource(seed=5), timeout=20)
    x = inputs(5, 3, 16)
    pi.offline(3)
    np.testing.assert_array_equal(pi.predict_raw(x), pi.reference_raw(x))


def test_online_cloud_silence_and_client_traffic(keys: PaillierKeyPair) -> None:
    model = dense_model(7)
    pi = PrivateInference(model, edges=3, paillier_keys=keys, rng=RandomSource(seed=7), timeout=20)
    m = 3
    pi.offline(m)
    before = pi.meter.by_pair()
    assert any(ph == Phase.PAILLIER for ph, _, _ in before)
    assert not any(ph == Phase.ONLINE for ph, _, _ in before)
    pi.predict(inputs(7, m, 4), batch=1)  # one inference per message (the default batches them)
    online = {k: t for k, t in pi.meter.by_pair().items() if k[0] == Phase.ONLINE}
    assert online, "the online phase must be metered"
    # no byte to or from the cloud online
    assert not [k for k in online if CLOUD in (k[1], k[2])]
    # client: exactly one masked input up (to host(1)) and one output share down (from host(L)) each
    up = {k: t for k, t in online.items() if k[1] == CLIENT}
    down = {k: t for k, t in online.items() if k[2] == CLIENT}
    assert list(up) == [(Phase.ONLINE, CLIENT, "edge1")] and up[(Phase.ONLINE, CLIENT, "edge1")].messages == m
    assert (
        list(down) == [(Phase.ONLINE, "edge3", CLIENT)]
        and down[(Phase.ONLINE, "edge3", CLIENT)].messages == m
    )
    frame_in = len(msg.Input.vector(0, 1, np.zeros(4, np.int64), P31).to_bytes())
    frame_out = len(msg.Output.vector(0, 3, np.zeros(2, np.int64), P31).to_bytes())
    assert up[(Phase.ONLINE, CLIENT, "edge1")].bytes == m * frame_in
    assert down[(Phase.ONLINE, "edge3", CLIENT)].bytes == m * frame_out
    rep = pi.report
    assert rep.client_online == ClientOnline(
        up_bytes=m * frame_in, down_bytes=m * frame_out, up_messages=m, down_messages=m
    )
    assert set(rep.times.offline_split_s) == {"paillier", "garbling", "ot"}
    assert rep.storage_per_inference_bytes["edge2"] > 0
    assert rep.to_dict()["client_online"]["up_bytes"] == m * frame_in


def test_wrong_placement_refused(keys: PaillierKeyPair) -> None:
    model = dense_model(1)
    with pytest.raises(PlacementError, match="consecutive linear layers"):
        PrivateInference(model, edges=2, hosts=[1, 1, 2], paillier_keys=keys)
    with pytest.raises(PlacementError, match="K >= 2"):
        PrivateInference(model, edges=1, paillier_keys=keys)


def test_overflow_refused_before_any_message(keys: PaillierKeyPair) -> None:
    big = Model(
        (3,), [Dense(np.full((3, 3), 500.0), np.zeros(3)), ReLU(), Dense(np.full((1, 3), 500.0), np.zeros(1))]
    )
    with pytest.raises(OverflowRiskError) as err:
        PrivateInference(big, edges=2, p=P31, f=12, paillier_keys=keys)
    assert err.value.layer is not None
    # an input outside the analysed box is refused by predict before anything is sent
    model = dense_model(2)
    pi = PrivateInference(
        model, edges=2, paillier_keys=keys, input_bound=1.0, rng=RandomSource(seed=2), timeout=20
    )
    pi.offline(1)
    sent_before = pi.meter.total_bytes()
    with pytest.raises(OverflowRiskError):
        pi.predict(np.array([[5.0, 0.0, 0.0, 0.0]]))
    assert pi.meter.total_bytes() == sent_before
    assert pi.available == 1


def test_material_is_single_use(keys: PaillierKeyPair) -> None:
    model = dense_model(3, (3, 3, 2))
    pi = PrivateInference(model, edges=2, paillier_keys=keys, rng=RandomSource(seed=3), timeout=5)
    x = inputs(3, 1, 3)
    pi.offline(1)
    pi.predict(x)
    with pytest.raises(MaterialReusedError, match="offline"):
        pi.predict(x)
    with pytest.raises(MaterialReusedError, match="already used"):
        pi.client.take(0)
    # a replayed masked input for inference 0 is refused by the edge (its s-vector is gone): the edge
    # answers with an Abort naming the error, which the client raises
    edge1 = pi.edges[0]
    replay = msg.Input.vector(0, 1, np.zeros(3, np.int64), pi.p)
    out = edge1.handle(CLIENT, msg.decode(replay.to_bytes()))
    assert isinstance(edge1.error, MaterialReusedError) and [type(o) for _, o in out] == [msg.Abort]
    with pytest.raises(MaterialReusedError, match=r"edge1: .*already used"):
        pi.client.handle("edge1", out[0][1])


def test_edge_disconnect_online_gives_clean_error(keys: PaillierKeyPair) -> None:
    model = dense_model(4)
    pi = PrivateInference(model, edges=2, paillier_keys=keys, rng=RandomSource(seed=4), timeout=1.5)
    pi.offline(2)
    pi.network.kill("edge2")
    t0 = time.monotonic()
    with pytest.raises(TransportError):
        pi.predict(inputs(4, 2, 4))
    assert time.monotonic() - t0 < 15
    with pytest.raises(SessionClosedError):
        pi.predict(inputs(4, 1, 4))


def test_frame_encoding_rejects_bad_bytes() -> None:
    fr = msg.LabelsMsg(7, 2, b"abc", 1)
    data = fr.to_bytes()
    assert msg.decode(data) == fr
    with pytest.raises(ProtocolError, match="magic"):
        msg.decode(b"XXXX" + data[4:])
    with pytest.raises(ProtocolError, match="version"):
        msg.decode(data[:4] + bytes([1]) + data[5:])
    with pytest.raises(ProtocolError, match="unknown kind"):
        msg.decode(data[:5] + bytes([99]) + data[6:])
    with pytest.raises(ProtocolError, match="length"):
        msg.decode(data + b"x")
    with pytest.raises(ProtocolError, match="shorter"):
        msg.decode(data[:10])
    with pytest.raises(ProtocolError, match="expected a Output"):
        msg.Output.from_bytes(data)
    with pytest.raises(ProtocolError, match="no payload"):
        msg.decode(msg.Shutdown(payload=b"x").to_bytes())
    with pytest.raises(ProtocolError, match="JSON"):
        msg.decode(msg.Stats(payload=b"[1]").to_bytes())
    v = np.array([0, 1, P31 - 1], np.int64)
    out = msg.Output.vector(0, 1, v, P31)
    np.testing.assert_array_equal(msg.decode(out.to_bytes()).matrix(P31, (1, 3))[0], v)
    with pytest.raises(ProtocolError, match="not below p"):
        msg.Output(0, 1, out.payload[:-4] + np.array([P31], "<u4").tobytes()).matrix(P31, (1, 3))
    with pytest.raises(ProtocolError, match="shape"):
        out.matrix(P31, (1, 4))


def test_cli_demo_runs_and_is_bit_exact(capsys: pytest.CaptureFixture[str]) -> None:
    from private_mdi.cli import main

    assert main(["demo", "--n", "3", "--edges", "3", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "agreement with fixed-point    100.0 %" in out
    assert "bytes to/from the cloud online: 0" in out
    assert "online             client -> edge1" in out


@pytest.mark.slow
def test_edges_as_processes_over_tls(keys: PaillierKeyPair) -> None:
    """The same role code with each edge in its own process over TCP + mutual TLS."""
    model = dense_model(9)
    x = inputs(9, 3, 4)
    with PrivateInference(
        model, edges=3, paillier_keys=keys, rng=RandomSource(seed=9), timeout=30, processes=True
    ) as pi:
        pi.offline(3)
        np.testing.assert_array_equal(pi.predict_raw(x), pi.reference_raw(x))
        pairs = pi.meter.by_pair()
        online = [k for k in pairs if k[0] == Phase.ONLINE]
        assert ("online", "edge1", "edge2") in online and ("online", "edge3", CLIENT) in online
        assert not [k for k in online if CLOUD in k[1:]]
        assert pairs[(Phase.ONLINE, CLIENT, "edge1")].messages == 1  # one batch of 3
        assert pi.report.edge_busy_per_inference_s["edge2"] > 0
        procs = [c.proc for c in pi.execution.children.values()]
        assert len(procs) == 4  # the cloud and three edges
    assert all(p.poll() is not None for p in procs)


@pytest.mark.slow
def test_edge_process_killed_online_gives_clean_error(keys: PaillierKeyPair) -> None:
    from private_mdi.protocol.client import PartyError

    model = dense_model(10)
    with PrivateInference(
        model, edges=2, paillier_keys=keys, rng=RandomSource(seed=10), timeout=3, processes=True
    ) as pi:
        pi.offline(2)
        pi.execution.children["edge2"].proc.kill()
        pi.execution.children["edge2"].proc.wait()
        t0 = time.monotonic()
        with pytest.raises((PartyError, TransportError)):
            pi.predict(inputs(10, 2, 4))
        assert time.monotonic() - t0 < 30
        with pytest.raises(SessionClosedError):
            pi.predict(inputs(10, 1, 4))


def test_edges_hold_only_their_own_material(keys: PaillierKeyPair) -> None:
    """Each edge gets only its layers' weights; the Δ-holder of a circuit never gets its tables."""
    model = dense_model(12, (4, 5, 4, 3, 2))
    pi = PrivateInference(model, edges=3, hosts=[2, 3, 1, 2], paillier_keys=keys, rng=RandomSource(seed=12))
    pi.offline(2)
    for e in pi.edges:
        assert sorted(e.weights) == e.hosted
        assert {ell for _, ell in e.s.keys()} == set(e.hosted)
        keys_layers = {ell for _, ell in e.bkeys.keys()}
        table_layers = {ell for _, ell in e.garbled.keys()}
        assert keys_layers == {ell for ell in e.hosted if ell < 4}
        assert table_layers == set(e.evaluated) == {ell for _, ell in e.client_labels.keys()}
        assert not keys_layers & table_layers
    setup = {
        k: t
        for k, t in pi.meter.by_pair().items()
        if k[0] == Phase.SETUP and k[1] == CLOUD and k[2] != CLIENT
    }
    assert {k[2]: t.messages for k, t in setup.items()} == {"edge1": 1, "edge2": 2, "edge3": 1}
    x = inputs(12, 2, 4)
    np.testing.assert_array_equal(pi.predict_raw(x), pi.reference_raw(x))


def maxpool_model(seed: int) -> Model:
    """Conv → ReLU → MaxPool(2) → Flatten → Dense → ReLU → Dense: a garbled max in layer 1's ReLU."""
    g = np.random.default_rng(seed)
    return Model(
        (1, 4, 4),
        [
            Conv2d(g.normal(size=(2, 1, 3, 3)), g.normal(size=2) * 0.3, stride=1, padding=1),
            ReLU(),
            MaxPool2d(2),
            Flatten(),
            Dense(g.normal(size=(3, 8)), g.normal(size=3) * 0.3),
            ReLU(),
            Dense(g.normal(size=(2, 3)), g.normal(size=2) * 0.3),
        ],
    )


@pytest.mark.parametrize("edges", [2, 3])
def test_maxpool_bit_exact_with_reference(edges: int, keys: PaillierKeyPair) -> None:
    model = maxpool_model(20 + edges)
    pi = PrivateInference(model, edges=edges, paillier_keys=keys, rng=RandomSource(seed=20), timeout=20)
    assert pi.spec.window(1) == 4 and pi.spec.relu_copies(1) == 8 and pi.spec.in_dim(2) == 8
    assert pi.report.parameters.garbled_copies_per_inference == 8 + 3
    x = inputs(20 + edges, 3, 16)
    pi.offline(3)
    np.testing.assert_array_equal(pi.predict_raw(x), pi.reference_raw(x))
    assert SessionSpec.from_json(pi.spec.to_json()) == pi.spec
