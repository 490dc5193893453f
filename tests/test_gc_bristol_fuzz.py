"""Untrusted Bristol files (issue 13): header limits, random bytes and mutated valid files.

Every input either parses into a Circuit or raises CircuitError (naming the line), within a time bound,
and nothing is allocated from an unchecked header number.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from private_mdi.errors import CircuitError
from private_mdi.gc import Circuit, privatemdi_relu_circuit
from private_mdi.gc.bristol import MAX_FILE_BYTES, MAX_WIRES, write_bristol
from private_mdi.gc.circuit import parse_bristol, read_bristol

AES_TEXT = (Path(__file__).resolve().parent / "vectors" / "bristol_aes_128.txt").read_text(encoding="ascii")
SMALL_TEXT = write_bristol(privatemdi_relu_circuit(31, 2))


def parse_or_named_error(text: str, bound_s: float) -> Circuit | None:
    t0 = time.perf_counter()
    try:
        c = parse_bristol(text)
    except CircuitError as exc:
        assert str(exc)  # a message, never empty
        c = None
    assert time.perf_counter() - t0 < bound_s
    return c


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("0 1000000000000\n0\n0\n", r"line 1: wire count: 1000000000000 exceeds the limit"),
        (f"0 {2**70}\n0\n0\n", r"line 1: wire count"),
        (f"{2**70} 3\n0\n0\n", r"line 1: gate count"),
        (f"0 {MAX_WIRES}\n1 {MAX_WIRES}\n0\n", r"line 1: .*wires declared in a"),
        ("0 3\n1 99999999999999999999999\n0\n", r"line 2: input header"),
        ("0 3\n2 1 1\n1 -1\n", r"line 3: output header"),
        ("5 3\n1 1\n1 1\n\n1 1 0 2 INV\n", r"line 1: header announces 5 gates, the file has 1"),
        ("1 3\n1 1\n1 1\n\n1 1 0 1e9 INV\n", r"line 5: gate wires"),
        ("1 3\n1 1\n1 1\n\n1 1 0 7000000 INV\n", r"line 5: wire 7000000 is outside \[0, 3\)"),
        ("1 3\n1 1\n1 1\n\n9999999 1 0 2 INV\n", r"line 5: gate arity"),
        ("1 3\n1 1\n1 1\n\n1 1 ٣ 2 INV\n", r"line 5: gate wires must be non-negative decimal"),
    ],
)
def test_header_numbers_are_checked_before_allocation(text: str, match: str) -> None:
    t0 = time.perf_counter()
    with pytest.raises(CircuitError, match=match):
        parse_bristol(text)
    assert time.perf_counter() - t0 < 1.0


def test_circuit_constructor_limits() -> None:
    """The library path has the same limits: no allocation from a huge count, no OverflowError."""
    for args, match in [
        ((2**70, [], [("x", 1)], {"o": [0]}), "n_wires must be in"),
        ((10**12, [], [("x", 1)], {"o": [0]}), "n_wires must be in"),
        ((10, [], [("x", 2**70)], {}), "do not fit"),
        ((10, [(0, 2**70, 1, 2)], [("x", 2)], {}), "int64 range"),
    ]:
        with pytest.raises(CircuitError, match=match):
            Circuit(*args)  # type: ignore[arg-type]


def test_read_bristol_refuses_missing_binary_and_huge_files(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CircuitError, match="cannot read"):
        read_bristol(tmp_path / "missing.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CircuitError, match="not an ASCII"):
        read_bristol(tmp_path / "bin.txt")
    import sys

    monkeypatch.setattr(sys.modules["private_mdi.gc.bristol"], "MAX_FILE_BYTES", 10)
    (tmp_path / "big.txt").write_text(SMALL_TEXT)
    with pytest.raises(CircuitError, match="larger than the 10-byte limit"):
        read_bristol(tmp_path / "big.txt")
    assert MAX_FILE_BYTES >= 1 << 20


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=400))
def test_random_bytes_give_named_errors(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.txt"
        path.write_bytes(data)
        t0 = time.perf_counter()
        try:
            read_bristol(path)
        except CircuitError:
            pass
        assert time.perf_counter() - t0 < 2.0
    parse_or_named_error(data.decode("latin-1"), 2.0)


_TOKENS = st.sampled_from(["0", "1", "2", "-1", "7", "65535", str(2**31), str(2**64), str(2**70), "1e3", "x",
                           "AND", "XOR", "INV", "EQ", "EQW", "MAND", "NOT", "", "\n", "  "])


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """``text`` with a few token replacements, line deletions/duplications, or a cut."""
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["token", "token_header", "delete", "duplicate", "cut"]))
        last = min(3, len(lines) - 1) if kind == "token_header" else len(lines) - 1
        i = draw(st.integers(0, last))
        if kind in ("token", "token_header"):
            toks = lines[i].split(" ")
            j = draw(st.integers(0, max(len(toks) - 1, 0)))
            toks[j] = draw(_TOKENS)
            lines[i] = " ".join(toks)
        elif kind == "delete" and len(lines) > 1:
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "cut":
            lines = lines[: i + 1]
    return "\n".join(lines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated(SMALL_TEXT))
def test_mutated_small_circuit_gives_named_errors(text: str) -> None:
    c = parse_or_named_error(text, 3.0)
    if c is not None:
        c.plan()  # a file that parses is a usable circuit


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated(AES_TEXT))
def test_mutated_aes_circuit_gives_named_errors(text: str) -> None:
    parse_or_named_error(text, 30.0)
