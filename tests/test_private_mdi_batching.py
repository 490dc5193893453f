"""Online batches (issue 15): ranges of a multi-copy garbling, the batch plan, batched sessions and the
batched wire messages (counts that do not match payloads are refused)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_private_mdi_e2e import dense_model, inputs  # the same tiny models as the end-to-end tests

from cmpc.errors import ProtocolError
from cmpc.rand import RandomSource
from private_mdi.errors import GarbledDecodeError, MaterialReusedError, ParameterError
from private_mdi.gc import encode, evaluate, garble, privatemdi_relu_circuit
from private_mdi.gc.encoding import Labels
from private_mdi.gc.garble import evaluate_copies
from private_mdi.inference import PrivateInference
from private_mdi.paillier import PaillierKeyPair
from private_mdi.protocol import messages as msg
from private_mdi.protocol.layout import online_batches
from private_mdi.protocol.spec import CLIENT, Phase

P = 2**13 - 1


@pytest.fixture(scope="module")
def keys() -> PaillierKeyPair:
    return PaillierKeyPair.generate(2048, RandomSource(seed="batching-paillier"))


# -- garbled ranges -------------------------------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(first=st.integers(0, 5), count=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_a_range_of_copies_evaluates_like_the_whole_garbling(first: int, count: int, seed: int) -> None:
    circuit = privatemdi_relu_circuit(P, 4)
    total = 6
    count = min(count, total - first)
    g = garble(circuit, copies=total, rng=RandomSource(seed=seed))
    bits = np.random.default_rng(seed).integers(0, 2, size=(total, circuit.n_inputs), dtype=np.uint8)
    labels = encode(g.encoder, bits)
    whole = g.decoder.decode(evaluate(g.garbled, labels))
    part_labels = Labels(labels.array[first : first + count])
    out = evaluate_copies(g.garbled, part_labels, first)
    np.testing.assert_array_equal(out.array, evaluate(g.garbled, labels).array[first : first + count])
    np.testing.assert_array_equal(g.decoder.decode_copies(out, first), whole[first : first + count])


def test_a_range_decoded_at_the_wrong_offset_is_refused() -> None:
    circuit = privatemdi_relu_circuit(P, 4)
    g = garble(circuit, copies=4, rng=RandomSource(seed=1))
    bits = np.zeros((4, circuit.n_inputs), np.uint8)
    labels = encode(g.encoder, bits)
    out = evaluate_copies(g.garbled, Labels(labels.array[1:3]), 1)
    # the tags' tweaks name the copy: decoding copies 1..2 as copies 2..3 fails (not silently wrong)
    with pytest.raises(GarbledDecodeError):
        g.decoder.decode_copies(out, 2)
    with pytest.raises(ParameterError):
        evaluate_copies(g.garbled, Labels(labels.array[1:3]), 3)  # past the end
    with pytest.raises(ParameterError):
        g.decoder.decode_copies(out, 3)


# -- the batch plan ---------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(ids=st.lists(st.integers(0, 60), unique=True).map(sorted), batch=st.integers(1, 8))
def test_online_batches_are_consecutive_runs_that_cover_the_ids(ids: list[int], batch: int) -> None:
    runs = list(online_batches(ids, batch))
    assert [i for lo, hi in runs for i in ids[lo:hi]] == ids
    for lo, hi in runs:
        assert 1 <= hi - lo <= batch
        assert ids[lo:hi] == list(range(ids[lo], ids[lo] + hi - lo))
    # maximal: a run ends at the batch size or at a gap
    for lo, hi in runs[:-1]:
        assert hi - lo == batch or ids[hi] != ids[hi - 1] + 1


# -- sessions ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pipelined", [True, False])
def test_batches_across_chunks_with_a_partial_last_batch(keys: PaillierKeyPair, pipelined: bool) -> None:
    model = dense_model(11)
    pi = PrivateInference(
        model, edges=2, paillier_keys=keys, rng=RandomSource(seed=11), timeout=20, offline_chunk=3
    )
    m = 7
    pi.offline(m)
    x = inputs(11, m, 4)
    # batches of 2 over chunks of 3: (0,1) (2,3) spans two chunks, (4,5), (6) partial
    np.testing.assert_array_equal(pi.predict_raw(x, batch=2, pipelined=pipelined), pi.reference_raw(x))
    up = pi.meter.by_pair()[(Phase.ONLINE, CLIENT, "edge1")]
    assert up.messages == 4
    with pytest.raises(MaterialReusedError):
        pi.predict_raw(x[:1])


def test_single_row_and_default_batch(keys: PaillierKeyPair) -> None:
    model = dense_model(12, (4, 6, 6, 3))
    pi = PrivateInference(model, edges=3, split={2: 2}, paillier_keys=keys, rng=RandomSource(seed=12))
    pi.offline(5)
    x = inputs(12, 5, 4)
    np.testing.assert_array_equal(pi.predict_raw(x[:1]), pi.reference_raw(x[:1]))
    np.testing.assert_array_equal(pi.predict_raw(x[1:]), pi.reference_raw(x[1:]))
    assert pi.meter.by_pair()[(Phase.ONLINE, CLIENT, f"edge{pi.placement.host(1)}")].messages == 2
    with pytest.raises(ParameterError, match="batch"):
        PrivateInference(model, edges=2, paillier_keys=keys, online_batch=0)


def test_batched_messages_must_match_their_count(keys: PaillierKeyPair) -> None:
    model = dense_model(13, (3, 3, 2))
    pi = PrivateInference(model, edges=2, paillier_keys=keys, rng=RandomSource(seed=13), mode="sequential")
    pi.offline(2)
    edge1 = pi.edges[0]
    # a count of 2 with one row of payload: refused by the codec check of the field matrix
    bad = msg.Input(0, 1, msg.Input.vector(0, 1, np.zeros((1, 3), np.int64), pi.p).payload, 2)
    out = edge1.handle(CLIENT, msg.decode(bad.to_bytes()))
    assert isinstance(edge1.error, ProtocolError) and [type(o) for _, o in out] == [msg.Abort]
    # a count of 0 never decodes
    frame = bytearray(msg.Input.vector(0, 1, np.zeros((1, 3), np.int64), pi.p).to_bytes())
    frame[12:16] = (0).to_bytes(4, "little")
    with pytest.raises(ProtocolError, match="covers 0"):
        msg.decode(bytes(frame))


def test_client_refuses_an_output_for_another_batch_size(keys: PaillierKeyPair) -> None:
    model = dense_model(14, (3, 3, 2))
    pi = PrivateInference(model, edges=2, paillier_keys=keys, rng=RandomSource(seed=14), mode="sequential")
    pi.offline(2)
    pi.client.begin_online([0, 1], pi.model.encode(inputs(14, 2, 3), pi.f, pi.p), batch=2)
    wrong = msg.Output.vector(0, 2, np.zeros((1, 2), np.int64), pi.p, 1)
    with pytest.raises(ProtocolError, match="count 1"):
        pi.client.handle("edge2", wrong)
