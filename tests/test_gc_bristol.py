"""Bristol Fashion reader/writer and the AES-128 circuit against AES from ``cryptography``.

Bit order of tests/vectors/bristol_aes_128.txt (provenance: tests/vectors/README-bristol-aes.md; checked
here): input 0 = key, input 1 = plaintext; a 16-byte string B enters as the 128 bits of the integer
int.from_bytes(B, "big"), least-significant bit first; the ciphertext comes out the same way.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from cmpc.rand import RandomSource
from private_mdi.errors import CircuitError
from private_mdi.gc import Circuit, run
from private_mdi.gc.circuit import AND, EQ, EQW, INV, XOR, parse_bristol

AES_PATH = Path(__file__).resolve().parent / "vectors" / "bristol_aes_128.txt"
AES_SHA256 = "40423a0cdaf5d4d34aba872c12660f115dc25c12eea6e24a9304578e79df6d04"


def test_vendored_aes_circuit_digest() -> None:
    assert hashlib.sha256(AES_PATH.read_bytes()).hexdigest() == AES_SHA256


def block_to_bits(block: bytes) -> list[int]:
    x = int.from_bytes(block, "big")
    return [(x >> i) & 1 for i in range(128)]


def bits_to_block(bits: np.ndarray) -> bytes:
    return sum(int(b) << i for i, b in enumerate(bits)).to_bytes(16, "big")


def aes(key: bytes, block: bytes) -> bytes:
    return Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(block)


@pytest.fixture(scope="module")
def aes_circuit() -> Circuit:
    return Circuit.from_bristol(AES_PATH, input_names=["key", "plaintext"])


def _aes_inputs(n: int, seed: int) -> tuple[list[bytes], list[bytes], np.ndarray]:
    rng = RandomSource(seed=seed)
    keys = [rng.bytes(16) for _ in range(n)]
    pts = [rng.bytes(16) for _ in range(n)]
    # fixed known-answer pair: FIPS-197 Appendix C.1 (AES-128)
    keys[0] = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    pts[0] = bytes.fromhex("00112233445566778899aabbccddeeff")
    bits = np.array([block_to_bits(k) + block_to_bits(p) for k, p in zip(keys, pts)], dtype=np.uint8)
    return keys, pts, bits


def test_aes_circuit_shape(aes_circuit: Circuit) -> None:
    assert aes_circuit.and_count == 6400
    assert list(aes_circuit.inputs) == ["key", "plaintext"]
    assert aes_circuit.n_inputs == 256 and aes_circuit.n_outputs == 128
    assert aes_circuit.plan().n_and == 6400


def test_aes_plaintext_matches_cryptography(aes_circuit: Circuit) -> None:
    keys, pts, bits = _aes_inputs(64, seed=1)
    out = aes_circuit.evaluate(bits)
    assert bits_to_block(out[0]) == bytes.fromhex("69c4e0d86a7b0430d8cdb78070b4c55a")  # FIPS-197 C.1
    for i in range(len(keys)):
        assert bits_to_block(out[i]) == aes(keys[i], pts[i])


def test_aes_garbled_matches_cryptography(aes_circuit: Circuit) -> None:
    keys, pts, bits = _aes_inputs(3, seed=2)
    out = run(aes_circuit, bits, rng=RandomSource(seed=3))
    assert out.shape == (3, 128)
    for i in range(3):
        assert bits_to_block(out[i]) == aes(keys[i], pts[i])
    # and with the secure default generator
    out = run(aes_circuit, bits[:1])
    assert bits_to_block(out[0]) == aes(keys[0], pts[0])


def test_aes_round_trip_through_writer(aes_circuit: Circuit) -> None:
    text = aes_circuit.to_bristol()
    again = parse_bristol(text, input_names=["key", "plaintext"])
    assert again.n_gates == aes_circuit.n_gates
    _, _, bits = _aes_inputs(8, seed=4)
    assert np.array_equal(again.evaluate(bits), aes_circuit.evaluate(bits))
    # writing is canonical: a second round trip gives the same text
    assert again.to_bristol() == text


TINY = """\
5 8
2 2 1
2 1 1

2 1 0 1 3 XOR
1 1 3 4 INV
2 1 4 2 5 AND
1 1 1 6 EQ
1 1 5 7 EQW
"""


def test_tiny_circuit_all_gate_kinds() -> None:
    c = parse_bristol(TINY)
    assert [c.count(op) for op in (XOR, AND, INV, EQW, EQ)] == [1, 1, 1, 1, 1]
    assert list(c.inputs) == ["in0", "in1"] and list(c.outputs) == ["out0", "out1"]
    bits = np.array([[x0, x1, y] for x0 in (0, 1) for x1 in (0, 1) for y in (0, 1)], dtype=np.uint8)
    out = c.evaluate(bits)
    expect = [[1, (1 - (x0 ^ x1)) & y] for x0, x1, y in bits.tolist()]
    assert out.tolist() == expect
    assert np.array_equal(run(c, bits), out)
    again = parse_bristol(c.to_bristol())
    assert np.array_equal(again.evaluate(bits), out)


def test_mand_is_expanded() -> None:
    text = "1 6\n1 4\n1 2\n\n4 2 0 1 2 3 4 5 MAND\n"
    c = parse_bristol(text)
    assert c.and_count == 2
    bits = np.array([[a, b, x, y] for a in (0, 1) for b in (0, 1) for x in (0, 1) for y in (0, 1)], np.uint8)
    assert c.evaluate(bits).tolist() == [[a & x, b & y] for a, b, x, y in bits.tolist()]


def test_writer_copies_outputs_that_are_inputs_or_repeated() -> None:
    c = Circuit(3, [(AND, 0, 1, 2)], [("x", 2)], {"o": [0, 2, 2]})
    text = c.to_bristol()
    again = parse_bristol(text)
    bits = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.uint8)
    assert np.array_equal(again.evaluate(bits), c.evaluate(bits))
    assert again.count(EQW) == 2


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "3-line header"),
        ("1\n1 1\n1 1\n\n1 1 0 1 INV\n", "n_gates"),
        ("1 2\n2 1\n1 1\n\n1 1 0 1 INV\n", "input header"),
        ("1 2\n1 1\n1 x\n\n1 1 0 1 INV\n", "integers"),
        ("1 2\n1 1\n1 1\n\n1 1 0 1 NAND\n", "unknown gate"),
        ("1 2\n1 1\n1 1\n\n2 1 0 0 1 INV\n", "INV takes 1"),
        ("1 2\n1 1\n1 1\n\n1 1 0 INV\n", "lists 1"),
        ("2 2\n1 1\n1 1\n\n1 1 0 1 INV\n", "announces 2 gates"),
        ("1 2\n1 1\n1 1\n\n1 1 0 5 INV\n", "outside"),
        ("1 3\n1 1\n1 1\n\n2 1 0 1 2 XOR\n", "before it is written"),
        ("1 2\n1 1\n1 1\n\n1 1 2 1 EQ\n", "EQ constant"),
        ("1 2\n1 1\n1 1\n\n1 1 0 0 INV\n", "writes input wire"),
        ("2 3\n1 1\n1 1\n\n1 1 0 2 INV\n1 1 0 2 INV\n", "more than one gate"),
        ("0 3\n1 1\n1 1\n\n", "never written"),
        ("1 2\n1 1\n1 1\n\n4 1 0 1 1 1 1 MAND\n", "MAND needs"),
    ],
)
def test_malformed_files_are_rejected(text: str, match: str) -> None:
    with pytest.raises(CircuitError, match=match):
        parse_bristol(text)


def test_group_names_must_match_counts(tmp_path: Path) -> None:
    f = tmp_path / "c.txt"
    f.write_text(TINY)
    with pytest.raises(CircuitError, match="names given"):
        Circuit.from_bristol(f, input_names=["only-one"])
    f.write_bytes(b"\xff\xfe")
    with pytest.raises(CircuitError, match="ASCII"):
        Circuit.from_bristol(f)
