"""Fuzzing every decoder that reads bytes from the network or a config file.

Property: arbitrary input never crashes a decoder with anything but the named error — ``ProtocolError``
for :func:`cmpc.protocol.messages.decode` (every message type), ``ConfigError`` for ``parties.toml``.
Well-formed frames round-trip exactly; mutated ones either decode to a message of the same kind or raise
``ProtocolError``.
"""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cmpc.errors import ProtocolError
from cmpc.net.config import ConfigError, parse_config
from cmpc.protocol import messages as msg
from cmpc.wire import MATRIX_HEADER, MATRIX_VERSION

P31 = 2**31 - 1
P61 = 2**61 - 1
SID = bytes(range(16))
TYPES = sorted(msg.MESSAGE_TYPES.items())
FUZZ = settings(max_examples=300, deadline=None)


def decode_or_protocol_error(frame: bytes, **kw) -> msg.Message | None:
    try:
        out = msg.decode(frame, **kw)
    except ProtocolError:
        return None
    assert isinstance(out, msg.Message)
    return out


def header(tag: int, *, rnd: int | None = None, sid: bytes = SID, version: int = msg.VERSION) -> bytes:
    cls = msg.MESSAGE_TYPES.get(tag)
    r = rnd if rnd is not None else (cls.ROUND if cls is not None else 1)
    return msg.HEADER.pack(msg.MAGIC, version, tag, sid, r)


def example(cls: type[msg.Message], draw_matrix: np.ndarray, chosen: tuple[int, ...]) -> msg.Message:
    if issubclass(cls, msg.MatrixMessage):
        return cls(draw_matrix)
    if cls is msg.StartPhase2:
        return msg.StartPhase2(chosen=chosen, reporters=chosen[: len(chosen) // 2])
    return cls()


matrices = st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 2**32)).map(
    lambda rcs: np.random.default_rng(rcs[2]).integers(0, P31, (rcs[0], rcs[1]), dtype=np.int64)
)


@FUZZ
@given(st.binary(max_size=200))
def test_arbitrary_bytes(frame):
    decode_or_protocol_error(frame)
    decode_or_protocol_error(frame, p=P31, session=SID)
    decode_or_protocol_error(frame, p=P61)


@FUZZ
@given(st.sampled_from([t for t, _ in TYPES]), st.binary(max_size=120), st.sampled_from([None, P31, P61, 7]))
def test_valid_header_arbitrary_body(tag, body, p):
    """Every message type's body decoder, fed arbitrary bytes behind a correct header."""
    decode_or_protocol_error(header(tag) + body, p=p, session=SID)


@FUZZ
@given(
    st.sampled_from([t for t, _ in TYPES]),
    st.integers(0, 6),
    st.integers(0, 6),
    st.sampled_from([4, 8, 0, 3, 255]),
    st.binary(max_size=64),
)
def test_matrix_dimensions_lie(tag, rows, cols, width, payload):
    """Declared dimensions and width that disagree with the payload are caught."""
    body = MATRIX_HEADER.pack(MATRIX_VERSION, width, rows, cols) + payload
    out = decode_or_protocol_error(header(tag) + body, p=P31)
    if out is not None and isinstance(out, msg.MatrixMessage):
        assert out.data.shape == (rows, cols) and width == 4 and len(payload) == 4 * rows * cols
        assert int(out.data.max(initial=0)) < P31


@FUZZ
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.binary(max_size=40))
def test_start_phase2_counts_lie(nc, nr, rest):
    frame = header(msg.StartPhase2.TAG) + struct.pack("<II", nc, nr) + rest
    out = decode_or_protocol_error(frame)
    if out is not None:
        assert isinstance(out, msg.StartPhase2) and len(out.chosen) == nc and len(out.reporters) == nr


@FUZZ
@given(st.sampled_from([cls for _, cls in TYPES]), matrices, st.lists(st.integers(0, 2**32 - 1), max_size=6))
def test_round_trip(cls, matrix, chosen):
    m = example(cls, matrix, tuple(chosen))
    frame = msg.encode(m, SID, P31)
    out = msg.decode(frame, p=P31, session=SID)
    assert type(out) is cls
    if isinstance(m, msg.MatrixMessage):
        assert np.array_equal(out.data, m.data)
    else:
        assert out == m


@FUZZ
@given(
    st.sampled_from([cls for _, cls in TYPES]),
    matrices,
    st.data(),
)
def test_mutated_frames(cls, matrix, data):
    frame = bytearray(msg.encode(example(cls, matrix, (1, 2, 3)), SID, P31))
    kind = data.draw(st.sampled_from(["flip", "truncate", "extend"]))
    if kind == "flip":
        i = data.draw(st.integers(0, len(frame) - 1))
        frame[i] ^= data.draw(st.integers(1, 255))
    elif kind == "truncate":
        frame = frame[: data.draw(st.integers(0, len(frame) - 1))]
    else:
        frame += data.draw(st.binary(min_size=1, max_size=16))
    out = decode_or_protocol_error(bytes(frame), p=P31, session=SID)
    if out is not None and kind != "flip":
        raise AssertionError(f"a {kind}d frame decoded as {out!r}")


def test_header_checks_name_the_problem():
    good = msg.encode(msg.Ready(), SID, P31)
    cases = {
        b"XX" + good[2:]: "bad magic",
        good[:2] + bytes([msg.VERSION + 1]) + good[3:]: "version",
        good[:3] + b"\xee" + good[4:]: "unknown message tag",
        header(msg.Ready.TAG, rnd=3): "round",
        good[:10]: "shorter than",
        good + b"\x00": "no body",
    }
    for frame, words in cases.items():
        try:
            msg.decode(frame, p=P31, session=SID)
        except ProtocolError as exc:
            assert words in str(exc)
        else:
            raise AssertionError(f"{frame!r} decoded")
    try:
        msg.decode(good, p=P31, session=bytes(16))
    except ProtocolError as exc:
        assert "session" in str(exc)
    else:
        raise AssertionError("foreign session accepted")
    too_big = msg.encode(msg.ShareA(np.array([[P31]], dtype=np.int64)), SID, P31)
    try:
        msg.decode(too_big, p=P31)
    except ProtocolError as exc:
        assert "not below p" in str(exc)
    else:
        raise AssertionError("out-of-field element accepted")


# -- parties.toml ------------------------------------------------------------------------------------
toml_values = st.one_of(
    st.integers(-5, 70000), st.text(max_size=12), st.booleans(), st.floats(allow_nan=False), st.just([])
)


@FUZZ
@given(st.text(max_size=300))
def test_config_arbitrary_text(text):
    try:
        parse_config(text)
    except ConfigError:
        pass


@FUZZ
@given(
    st.dictionaries(st.sampled_from(["id", "host", "port", "extra"]), toml_values, max_size=4),
    st.dictionaries(st.sampled_from(["timeout", "insecure", "max_frame", "keys", "s", "code"]), toml_values,
                    max_size=3),
)
def test_config_structured_garbage(party, session):
    def val(v):
        if isinstance(v, str):
            return '"' + v.encode("unicode_escape").decode().replace('"', '\\"') + '"'
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return repr(v) if v == v and abs(v) != float("inf") else "0.0"
        return repr(v)

    text = "[session]\n" + "".join(f"{k} = {val(v)}\n" for k, v in session.items())
    text += "[[party]]\n" + "".join(f"{k} = {val(v)}\n" for k, v in party.items())
    try:
        cfg = parse_config(text)
    except ConfigError:
        return
    assert len(cfg.parties) == 1 and 1 <= cfg.parties[0].port <= 65535
