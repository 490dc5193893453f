"""End-to-end coded MPC: exactness, stragglers, metering against cmpc.costs, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmpc import PrimeField, RandomSource, codes, costs, simulate
from cmpc.errors import (
    FieldRangeError,
    InsufficientWorkersError,
    ParameterError,
    ProtocolError,
    ShapeError,
)
from cmpc.protocol import Session, make_role
from cmpc.protocol import messages as msg
from cmpc.wire import MATRIX_HEADER

F31 = PrimeField(2**31 - 1)


def data_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)  # test data only


def random_inputs(field: PrimeField, k: int, m: int, n: int, seed: int):
    g = data_rng(seed)
    return (g.integers(0, field.p, (k, m), dtype=np.int64) if field.p > 2 else g.integers(0, 2, (k, m)),
            g.integers(0, field.p, (k, n), dtype=np.int64) if field.p > 2 else g.integers(0, 2, (k, n)))


def reference(field: PrimeField, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ((a.T.astype(object) @ b.astype(object)) % field.p).astype(np.int64)


def make_code(name: str, s: int, t: int, z: int):
    if name == "bgw":
        return codes.make("bgw", s=1, t=1, z=z)
    if name in ("polynomial-sharing", "gasp"):
        return codes.make(name, s=1, t=t, z=z)
    return codes.make(name, s=s, t=t, z=z)


NAMES = ["age", "polydot", "entangled", "ssmm", "polynomial-sharing", "bgw", "gasp"]


@settings(max_examples=25)
@given(
    name=st.sampled_from(NAMES),
    s=st.integers(1, 3),
    t=st.integers(1, 3),
    z=st.integers(1, 3),
    k=st.integers(1, 9),
    m=st.integers(1, 9),
    n=st.integers(1, 9),
    p=st.sampled_from([65521, 2**31 - 1, 2**61 - 1]),
    seed=st.integers(0, 2**32),
)
def test_exact_for_every_code(name, s, t, z, k, m, n, p, seed):
    field = PrimeField(p)
    code = make_code(name, s, t, z)
    a, b = random_inputs(field, k, m, n, seed)
    y, report = simulate(code, a, b, field=field, rng=RandomSource(seed=seed))
    assert type(y).order == p
    assert np.array_equal(np.asarray(y).astype(np.int64), reference(field, a, b))
    assert report.workers == code.n_workers


def test_readme_example():
    rng = RandomSource(seed=1)
    a = F31.random((64, 48), rng=rng)
    b = F31.random((64, 40), rng=rng)
    code = codes.make("age", s=2, t=2, z=2)
    y, report = simulate(code, a, b, field=F31)
    assert (y == F31.matmul(a.T, b)).all()
    assert code.n_workers == 17 and report.workers == 17
    assert set(report.bytes) == {"phase1", "phase2", "phase3"}
    assert all(v >= 0 for v in report.seconds.values())


def test_threads_mode_same_result():
    a, b = random_inputs(F31, 12, 8, 8, 3)
    code = codes.make("age", s=2, t=2, z=1)
    y, _ = simulate(code, a, b, field=F31, mode="threads", rng=RandomSource(seed=4))
    assert np.array_equal(np.asarray(y).astype(np.int64), reference(F31, a, b))


@pytest.mark.parametrize("name,s,t,z", [("age", 2, 2, 2), ("polydot", 2, 3, 2), ("entangled", 3, 2, 1),
                                        ("bgw", 1, 1, 3)])
def test_metered_elements_equal_cost_report(name, s, t, z):
    m = 12 * s * t
    code = make_code(name, s, t, z)
    a, b = random_inputs(F31, m, m, m, 5)
    _, report = simulate(code, a, b, field=F31, rng=RandomSource(seed=6))
    want = costs.report(code, m)
    assert report.elements == want.communication
    # bytes = elements x 4 (p < 2^32) + per-message header and dimension fields; without spares
    # there is no Ready / StartPhase2 round trip
    header = msg.HEADER.size + MATRIX_HEADER.size
    n = code.n_workers
    assert report.bytes["phase1"] == 4 * want.communication["phase1"] + 2 * n * header
    r = code.t**2 + code.z  # reporters
    assert report.messages["phase2"] == r * (n - 1)  # reshares to the reporters only


# -- stragglers and spares ---------------------------------------------------------------------------------
def test_spare_workers_tolerate_crashes_and_stragglers():
    code = codes.make("age", s=2, t=2, z=1)
    n = code.n_workers
    a, b = random_inputs(F31, 8, 8, 8, 7)
    # worker-0 never answers, worker-3 is slow, worker-5 dies before reporting its result share
    faults = {"worker-0": "crash", "worker-3": "slow", "worker-5": "crash-phase3"}
    for mode in ("sequential", "threads"):
        y, report = simulate(code, a, b, field=F31, workers=n + 2, faults=faults, mode=mode,
                             rng=RandomSource(seed=8), timeout=2.0)
        assert np.array_equal(np.asarray(y).astype(np.int64), reference(F31, a, b))
        assert 0 not in report.chosen and 3 not in report.chosen  # crashed / answered last
        assert report.workers_total == n + 2


def test_metered_elements_equal_cost_report_with_spares():
    code = codes.make("age", s=2, t=2, z=1)
    m, n = 16, code.n_workers
    a, b = random_inputs(F31, m, m, m, 21)
    _, report = simulate(code, a, b, field=F31, workers=n + 2, rng=RandomSource(seed=22),
                         faults={"worker-0": "crash", "worker-1": "crash"})
    # with spares every chosen worker reports; the two crashed workers still got phase-1 shares
    want = costs.report(code, m, redundant_results=True)
    assert report.elements["phase2"] == want.communication["phase2"]
    assert report.elements["phase3"] == want.communication["phase3"]
    assert report.elements["phase1"] == want.communication["phase1"] * (n + 2) // n


def test_phase3_needs_only_t2_plus_z_replies():
    code = codes.make("age", s=2, t=2, z=2)
    n = code.n_workers
    a, b = random_inputs(F31, 8, 8, 8, 9)
    # redundant results: every chosen worker reports, the master decodes from the first t^2+z
    y, report = simulate(code, a, b, field=F31, workers=n + 1, rng=RandomSource(seed=10),
                         faults={"worker-2": "slow"})
    assert np.array_equal(np.asarray(y).astype(np.int64), reference(F31, a, b))
    assert report.messages["phase3"] >= code.t**2 + code.z


def test_too_few_workers_named_error():
    code = codes.make("age", s=2, t=2, z=1)
    n = code.n_workers
    a, b = random_inputs(F31, 4, 4, 4, 11)
    with pytest.raises(InsufficientWorkersError) as info:
        simulate(code, a, b, field=F31, workers=n + 1,
                 faults={"worker-1": "crash", "worker-2": "crash"})
    assert info.value.answered == n - 1 and info.value.needed == n
    assert f"N = {n}" in str(info.value)


def test_too_few_workers_threads_mode_within_timeout():
    code = codes.make("bgw", s=1, t=1, z=1)
    a, b = random_inputs(F31, 4, 4, 4, 12)
    with pytest.raises(InsufficientWorkersError):
        simulate(code, a, b, field=F31, mode="threads", timeout=0.5, faults={"worker-0": "crash"})


def test_crash_in_phase2_without_spares_fails_cleanly():
    code = codes.make("bgw", s=1, t=1, z=1)
    a, b = random_inputs(F31, 4, 4, 4, 13)
    with pytest.raises(InsufficientWorkersError) as info:
        simulate(code, a, b, field=F31, faults={"worker-1": "crash-phase2"})
    assert info.value.needed == code.t**2 + code.z


# -- bad input -----------------------------------------------------------------------------------------------
def test_bad_inputs_named_errors():
    code = codes.make("age", s=2, t=2, z=1)
    a, b = random_inputs(F31, 4, 4, 4, 14)
    with pytest.raises(ParameterError, match="same number of rows"):
        simulate(code, a, b[:3], field=F31)
    with pytest.raises(FieldRangeError):
        simulate(code, a + F31.p, b, field=F31)
    with pytest.raises(ParameterError, match="field too small"):
        simulate(code, a % 13, b % 13, field=PrimeField(13))
    with pytest.raises(ParameterError, match="workers must be"):
        simulate(code, a, b, field=F31, workers=code.n_workers - 1)
    with pytest.raises(ParameterError):
        codes.make("age", s=2, t=2, z=0)
    with pytest.raises(ParameterError):
        simulate(code, a[0], b, field=F31)


def test_source_checks_its_input_shape():
    code = codes.make("bgw", s=1, t=1, z=1)
    session = Session.create(code, F31, (3, 2), (3, 2), rng=RandomSource(seed=1))
    with pytest.raises(ShapeError):
        make_role(session, "source-a", np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ParameterError):
        make_role(session, "nobody")


def test_session_json_roundtrip_and_rejects_garbage():
    code = codes.make("age", s=2, t=2, z=2)
    session = Session.create(code, F31, (8, 8), (8, 8), rng=RandomSource(seed=2))
    again = Session.from_json(session.to_json())
    assert again == session or again.to_json() == session.to_json()
    with pytest.raises(ParameterError):
        Session.from_json("{}")


# -- message codecs ------------------------------------------------------------------------------------------
SID = bytes(range(16))


@pytest.mark.parametrize("m", [
    msg.ShareA(np.arange(6, dtype=np.int64).reshape(2, 3)),
    msg.ShareB(np.zeros((1, 1), dtype=np.int64)),
    msg.Ready(), msg.StandDown(),
    msg.StartPhase2(chosen=(3, 1, 2), reporters=(3, 1)),
    msg.Reshare(np.full((2, 2), 7, dtype=np.int64)),
    msg.ResultShare(np.full((3, 1), 2**31 - 2, dtype=np.int64)),
])
def test_message_roundtrip(m):
    for p in (2**31 - 1, 2**61 - 1):
        frame = msg.encode(m, SID, p)
        back = msg.decode(frame, p=p, session=SID)
        assert type(back) is type(m)
        if isinstance(m, msg.MatrixMessage):
            assert np.array_equal(back.data, m.data)
        if isinstance(m, msg.StartPhase2):
            assert back == m


def test_decoder_rejects_bad_frames():
    good = msg.encode(msg.Reshare(np.ones((2, 2), dtype=np.int64)), SID, 2**31 - 1)
    bad_frames = [
        b"", good[:5], b"XX" + good[2:], good[:2] + b"\x09" + good[3:],  # magic, version
        good[:3] + b"\x63" + good[4:],  # unknown tag
        good[:-1], good + b"\x00",  # lengths
    ]
    for frame in bad_frames:
        with pytest.raises(ProtocolError):
            msg.decode(frame, p=2**31 - 1, session=SID)
    with pytest.raises(ProtocolError, match="session"):
        msg.decode(good, p=2**31 - 1, session=bytes(16))
    big = msg.encode(msg.Reshare(np.full((1, 1), 100, dtype=np.int64)), SID, 2**31 - 1)
    with pytest.raises(ProtocolError, match="below p"):
        msg.decode(big, p=97, session=SID)


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_decoder_fuzz_only_protocol_errors(data):
    try:
        msg.decode(data, p=2**31 - 1)
    except ProtocolError:
        pass


def test_report_is_short_and_has_a_json_form():
    import json

    code = codes.make("age", s=2, t=2, z=2)
    a, b = random_inputs(F31, 16, 16, 16, 11)
    _, report = simulate(code, a, b, field=F31, rng=RandomSource(seed=12))
    text = repr(report)
    assert len(text) < 600 and "17 needed" in text and "structural" in text
    d = json.loads(json.dumps(report.to_dict()))
    assert d["workers"] == 17 and d["certificate"]["kind"] == "structural"
    assert sum(v["bytes"] for v in d["traffic"].values()) == sum(report.bytes.values())
