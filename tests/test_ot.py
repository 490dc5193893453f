"""Three-party OT: sender S, chooser C, receiver R (private_mdi.ot)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import private_mdi.ot as ot
from cmpc.rand import RandomSource
from private_mdi.errors import MaterialReusedError, OTError, ParameterError
from private_mdi.ot import (
    ChooserMessage,
    OTChooser,
    OTSender,
    SenderMessage,
    receive,
    run_three_party,
    transfer,
    transfer_arrays,
)

KEY = bytes(range(32))
TID = bytes(16)


def _msgs(seed: int, count: int, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = RandomSource(seed=seed)
    m0 = np.frombuffer(rng.bytes(count * length), dtype=np.uint8).reshape(count, length).copy()
    m1 = np.frombuffer(rng.bytes(count * length), dtype=np.uint8).reshape(count, length).copy()
    return m0, m1, rng.bits(count)


def test_transfer_public_api_label_sized() -> None:
    m0, m1, c = _msgs(1, 500, 16)
    got = transfer([bytes(r) for r in m0], [bytes(r) for r in m1], c.tolist(), RandomSource(seed=2))
    assert got == [bytes(m1[i]) if c[i] else bytes(m0[i]) for i in range(500)]
    assert transfer([b"ab"], [b"cd"], [1]) == [b"cd"]  # OS-entropy default


@settings(max_examples=30, deadline=None)
@given(count=st.integers(0, 40), length=st.integers(0, 33), seed=st.integers(0, 2**32))
def test_transfer_arrays_any_length(count: int, length: int, seed: int) -> None:
    m0, m1, c = _msgs(seed, count, length)
    got = transfer_arrays(m0, m1, c, RandomSource(seed=seed))
    assert got.shape == (count, length)
    assert np.array_equal(got, np.where(c[:, None].astype(bool), m1, m0))


def _view(s_bytes: bytes, c_bytes: bytes) -> list[tuple[bytes, int, bytes]]:
    """The receiver's per-wire view: both masked messages, the index t and the pad it got."""
    s, c = SenderMessage.from_bytes(s_bytes), ChooserMessage.from_bytes(c_bytes)
    return [(s.masked[i].tobytes(), int(c.index[i]), c.pads[i].tobytes()) for i in range(s.count)]


def test_receiver_view_independent_of_unchosen_message_exhaustive(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exhaustive over 1-byte messages: over every permutation bit π and every value of the unchosen
    pad's message byte, the multiset of receiver views is the same for all 256 unchosen messages."""
    check = 4
    fixed = RandomSource(seed="ot-exhaustive")
    base_pads = np.frombuffer(fixed.bytes(2 * (1 + check)), dtype=np.uint8).reshape(2, 1 + check)
    # one "wire" per (π, mask) pair: π = w // 256, mask = w % 256
    pi = (np.arange(512) // 256).astype(np.uint8)
    chosen = 0x5A
    for c in (0, 1):
        pads = np.broadcast_to(base_pads, (512, 2, 1 + check)).copy()
        t_other = 1 - (c ^ pi)
        pads[np.arange(512), t_other, 0] = np.arange(512) % 256  # the message part R never sees
        monkeypatch.setattr(ot, "_material", lambda *args, _pi=pi, _pads=pads: (_pi.copy(), _pads.copy()))
        reference: Counter[tuple[bytes, int, bytes]] | None = None
        for unchosen in range(256):
            mc = np.full((512, 1), chosen, dtype=np.uint8)
            mu = np.full((512, 1), unchosen, dtype=np.uint8)
            m0, m1 = (mc, mu) if c == 0 else (mu, mc)
            s = OTSender(KEY, check).message(m0, m1, TID)
            ch = OTChooser(KEY, check).message(np.full(512, c), 1, TID)
            assert (receive(s.to_bytes(), ch.to_bytes()) == chosen).all()
            views = Counter(_view(s.to_bytes(), ch.to_bytes()))
            if reference is None:
                reference = views
            assert views == reference
            assert sum(views.values()) == 512


def test_receiver_view_statistics_with_seeded_source() -> None:
    """With real key derivation: the unchosen masked byte and the index bit are uniform whatever m_{1-c}."""
    n = 4096
    tables = []
    for unchosen in (0x00, 0xFF):
        m0 = np.full((n, 1), 0x11, dtype=np.uint8)
        m1 = np.full((n, 1), unchosen, dtype=np.uint8)
        run = run_three_party(m0, m1, np.zeros(n, dtype=np.uint8), RandomSource(seed=f"ot-stat-{unchosen}"))
        s, c = (
            SenderMessage.from_bytes(run.sender_to_receiver),
            ChooserMessage.from_bytes(run.chooser_to_receiver),
        )
        other = s.masked[np.arange(n), 1 - c.index, 0]
        tables.append(np.bincount(other, minlength=256))
        assert abs(int(c.index.sum()) - n / 2) < 4 * np.sqrt(n) / 2  # t = c ⊕ π is uniform
        assert np.array_equal(run.received[:, 0], np.full(n, 0x11))
    assert stats.chi2_contingency(np.array(tables))[1] > 1e-4
    for t in tables:
        assert stats.chisquare(t).pvalue > 1e-4


def test_sender_and_chooser_views_contain_nothing_from_each_other() -> None:
    m0, m1, c = _msgs(5, 64, 16)
    base = run_three_party(m0, m1, c, RandomSource(seed=9))
    other_choices = run_three_party(m0, m1, 1 - c, RandomSource(seed=9))
    other_messages = run_three_party(m1, m0 ^ 0x3C, c, RandomSource(seed=9))
    # S's outgoing messages do not depend on C's input, C's do not depend on S's input
    assert other_choices.sender_to_receiver == base.sender_to_receiver
    assert other_choices.sender_public == base.sender_public
    assert other_messages.chooser_to_receiver == base.chooser_to_receiver
    assert other_messages.chooser_public == base.chooser_public
    # and the only thing S and C exchange is their X25519 public keys (32 bytes each)
    assert len(base.sender_public) == len(base.chooser_public) == 32
    # the chooser's message changes with the choices (it carries t = c ⊕ π)
    assert other_choices.chooser_to_receiver != base.chooser_to_receiver


def test_wrong_pad_fails_to_decode() -> None:
    m0, m1, c = _msgs(3, 20, 16)
    s = OTSender(KEY).message(m0, m1, TID)
    ch = OTChooser(KEY).message(c, 16, TID)
    assert np.array_equal(receive(s.to_bytes(), ch.to_bytes()), np.where(c[:, None].astype(bool), m1, m0))
    # a wrong (independent) pad on wire 3
    pads = ch.pads.copy()
    pads[3] = np.frombuffer(RandomSource(seed=11).bytes(24), dtype=np.uint8)
    with pytest.raises(OTError, match=r"1 of 20 wires.*\[3\]"):
        receive(s, ChooserMessage(TID, ch.index, pads, 16, ch.check))
    # right index, but the pad of the other position (recovered here from E and the other message)
    pads = ch.pads.copy()
    pads[5] = s.masked[5, 1 - ch.index[5]] ^ np.concatenate(
        [np.where(c[5], m0[5], m1[5]), np.zeros(8, np.uint8)]
    )
    with pytest.raises(OTError, match=r"\[5\]"):
        receive(s, ChooserMessage(TID, ch.index, pads, 16, ch.check))
    # documented limit: corruption confined to the message bytes of the right pad is not detected
    pads = ch.pads.copy()
    pads[3, 0] ^= 1
    assert (
        receive(s, ChooserMessage(TID, ch.index, pads, 16, ch.check))[3, 0] != np.where(c[3], m1[3], m0[3])[0]
    )
    # chooser lies about the index (pad no longer matches the position)
    idx = ch.index.copy()
    idx[0] ^= 1
    with pytest.raises(OTError):
        receive(s, ChooserMessage(TID, idx, ch.pads, 16, ch.check))
    # pads of another key / another transfer
    with pytest.raises(OTError):
        receive(s, OTChooser(bytes(32)).message(c, 16, TID))
    with pytest.raises(OTError):
        receive(s, OTChooser(KEY).message(c, 16, b"\x01" * 16))


def test_transfer_id_single_use() -> None:
    snd, cho = OTSender(KEY), OTChooser(KEY)
    snd.message([b"a"], [b"b"], TID)
    cho.message([1], 1, TID)
    with pytest.raises(MaterialReusedError):
        snd.message([b"a"], [b"b"], TID)
    with pytest.raises(MaterialReusedError):
        cho.message([1], 1, TID)


def test_message_encodings_and_sizes() -> None:
    m0, m1, c = _msgs(4, 13, 16)
    s = OTSender(KEY).message(m0, m1, TID)
    ch = OTChooser(KEY).message(c, 16, TID)
    sb, cb = s.to_bytes(), ch.to_bytes()
    assert s.nbytes == len(sb) == 28 + 13 * 2 * 24
    assert ch.nbytes == len(cb) == 28 + 2 + 13 * 24
    assert SenderMessage.from_bytes(sb).to_bytes() == sb
    assert ChooserMessage.from_bytes(cb).to_bytes() == cb
    with pytest.raises(OTError):
        SenderMessage.from_bytes(b"XXXX" + sb[4:])
    with pytest.raises(OTError):
        SenderMessage.from_bytes(sb[:-1])
    with pytest.raises(OTError):
        ChooserMessage.from_bytes(cb + b"\x00")
    with pytest.raises(OTError):
        ChooserMessage.from_bytes(sb)  # a sender message is not a chooser message
    bad_pad_bits = bytearray(cb)
    bad_pad_bits[28 + 1] |= 0x80  # bit 15 of the index field: beyond count = 13
    with pytest.raises(OTError):
        ChooserMessage.from_bytes(bytes(bad_pad_bits))


def test_bad_inputs() -> None:
    with pytest.raises(ParameterError):
        transfer([b"ab", b"c"], [b"ab", b"cd"], [0, 1])  # unequal lengths
    with pytest.raises(ParameterError):
        transfer([b"ab"], [b"abc"], [0])
    with pytest.raises(ParameterError):
        transfer([b"ab"], [b"cd"], [2])  # not a bit
    with pytest.raises(ParameterError):
        transfer([b"ab"], [b"cd"], [0, 1])  # wrong count
    with pytest.raises(ParameterError):
        transfer(b"ab", b"cd", [0])  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        OTSender(b"short")
    with pytest.raises(ParameterError):
        OTSender(KEY).message([b"a"], [b"b"], b"short-id")
