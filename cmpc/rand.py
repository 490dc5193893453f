"""The project's only source of secret randomness.

:class:`RandomSource` is a stream cipher used as a generator: AES-256 in counter mode (from
``cryptography``, so AES-NI where the CPU has it) over an all-zero plaintext. By default the key comes
from the operating system (``os.urandom``), which makes the output computationally indistinguishable
from uniform to anyone without the key. ``RandomSource(seed=...)`` derives the key from the seed with
SHA-256 instead: the stream is then reproducible, which is what tests need, and **not secret**.

Uniform integers below a bound are drawn by rejection sampling on masked words (no modulo bias): a
word of ``k = bit_length(bound - 1)`` bits is accepted when it is below the bound, which happens with
probability ``bound / 2^k > 1/2``.

Never use numpy's or Python's non-cryptographic generators for shares, masks, keys, labels or pads;
those are for test data only.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from typing import SupportsIndex

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import ParameterError

__all__ = ["RandomSource", "ShapeLike", "resolve"]

ShapeLike = SupportsIndex | Sequence[SupportsIndex]

_DOMAIN = b"cmpc-toolkit/RandomSource/v1\x00"
_ZEROS = bytes(1 << 22)  # plaintext of the keystream, encrypted in chunks of 4 MiB


def _seed_bytes(seed: int | bytes | str) -> bytes:
    if isinstance(seed, bool):
        raise ParameterError("seed must be an int, bytes or str, not bool")
    if isinstance(seed, int):
        if seed < 0:
            raise ParameterError(f"seed must be a non-negative integer, got {seed}")
        return b"i" + seed.to_bytes((seed.bit_length() + 7) // 8 or 1, "big")
    if isinstance(seed, bytes):
        return b"b" + seed
    if isinstance(seed, str):
        return b"s" + seed.encode()
    raise ParameterError(f"seed must be an int, bytes or str, got {type(seed).__name__}")


def _shape_tuple(shape: ShapeLike) -> tuple[int, ...]:
    if isinstance(shape, Sequence):
        dims = tuple(int(d) for d in shape)
    else:
        dims = (int(shape),)
    if any(d < 0 for d in dims):
        raise ParameterError(f"shape must have non-negative dimensions, got {dims}")
    return dims


class RandomSource:
    """AES-256-CTR generator keyed from OS entropy (default) or from a seed (tests only).

    Parameters
    ----------
    seed:
        ``None`` (default) for a secret key from ``os.urandom``. An int, bytes or str gives a
        reproducible stream: use it only for tests and benchmarks.
    """

    __slots__ = ("_enc", "_seeded")

    def __init__(self, seed: int | bytes | str | None = None) -> None:
        if seed is None:
            key = os.urandom(32)
            self._seeded = False
        else:
            key = hashlib.sha256(_DOMAIN + _seed_bytes(seed)).digest()
            self._seeded = True
        self._enc = Cipher(algorithms.AES(key), modes.CTR(b"\x00" * 16)).encryptor()

    @property
    def seeded(self) -> bool:
        """True when the stream was derived from a seed (reproducible, not secret)."""
        return self._seeded

    def __repr__(self) -> str:
        return f"RandomSource({'seeded' if self._seeded else 'os-entropy'})"

    # -- raw material ---------------------------------------------------------------------------
    def bytes(self, n: int) -> bytes:
        """``n`` uniformly random bytes."""
        n = int(n)
        if n < 0:
            raise ParameterError(f"n must be >= 0, got {n}")
        return self._stream(n).tobytes()

    def _stream(self, n: int) -> np.ndarray:
        """The next ``n`` keystream bytes as a fresh uint8 array (AES-CTR over zeros, in place)."""
        out = np.empty(n + 15, dtype=np.uint8)  # update_into wants a block of slack; CTR writes n
        zeros = memoryview(_ZEROS)
        off = 0
        while off < n:
            step = min(n - off, len(_ZEROS))
            self._enc.update_into(zeros[:step], out[off:].data)
            off += step
        return out[:n]

    def _words(self, count: int, dtype: type[np.unsignedinteger]) -> np.ndarray:
        size = np.dtype(dtype).itemsize
        return self._stream(count * size).view(dtype)

    def spawn(self) -> RandomSource:
        """An independent generator keyed from 32 bytes of this stream (seeded iff this one is)."""
        child = RandomSource.__new__(RandomSource)
        child._seeded = self._seeded
        child._enc = Cipher(algorithms.AES(self.bytes(32)), modes.CTR(b"\x00" * 16)).encryptor()
        return child

    # -- integers -------------------------------------------------------------------------------
    def integers_below(self, bound: int, shape: ShapeLike, dtype: type[np.integer] = np.int64) -> np.ndarray:
        """Uniform integers in [0, bound) (``1 <= bound <= 2^63``), no modulo bias, as an int64 array, or
        as a uint32 array with ``dtype=np.uint32`` (``bound <= 2^32``: the same values from the same stream,
        half the memory)."""
        bound = int(bound)
        if not 1 <= bound <= 2**63:
            raise ParameterError(f"bound must be in [1, 2^63], got {bound}")
        out_dtype = np.dtype(dtype)
        if out_dtype not in (np.dtype(np.int64), np.dtype(np.uint32)):
            raise ParameterError(f"dtype must be numpy.int64 or numpy.uint32, got {out_dtype}")
        if out_dtype == np.uint32 and bound > 2**32:
            raise ParameterError(f"dtype uint32 needs bound <= 2^32, got {bound}; use int64")
        dims = _shape_tuple(shape)
        n = math.prod(dims)
        if bound == 1 or n == 0:
            return np.zeros(dims, dtype=out_dtype)
        k = (bound - 1).bit_length()
        word: type[np.unsignedinteger] = np.uint32 if k <= 32 else np.uint64
        mask = word((1 << k) - 1)
        accept = bound / float(1 << k)
        out: np.ndarray | None = None
        filled = 0
        while filled < n:
            need = n - filled
            draw = int(need / accept * 1.05) + 16
            words = self._words(draw, word)
            np.bitwise_and(words, mask, out=words)
            if filled == 0 and int(words[:n].max()) < bound:
                # the first n words are all accepted (the rule for bounds just below a power of two, such
                # as 2^31 − 1 and 2^61 − 1): they are the result, without the accept mask or a compress
                head = words[:n]
                return (head if head.dtype == out_dtype else head.astype(out_dtype)).reshape(dims)
            if out is None:
                out = np.empty(n, dtype=out_dtype)
            good = words[words < bound]
            take = min(need, good.size)
            out[filled : filled + take] = good[:take]
            filled += take
        assert out is not None
        return out.reshape(dims)

    def field_elements(self, p: int, shape: ShapeLike, dtype: type[np.integer] = np.int64) -> np.ndarray:
        """Uniform elements of GF(p) (``2 <= p < 2^63``) as an int64 array in [0, p) (or uint32 with
        ``dtype=np.uint32`` for p ≤ 2^32: the same values)."""
        p = int(p)
        if not 2 <= p < 2**63:
            raise ParameterError(f"p must be in [2, 2^63), got {p}")
        return self.integers_below(p, shape, dtype)

    def randbelow(self, bound: int) -> int:
        """One uniform Python integer in [0, bound) for any ``bound >= 1`` (e.g. Paillier sizes)."""
        bound = int(bound)
        if bound < 1:
            raise ParameterError(f"bound must be >= 1, got {bound}")
        k = (bound - 1).bit_length()
        if k == 0:
            return 0
        nbytes = (k + 7) // 8
        excess = nbytes * 8 - k
        while True:
            v = int.from_bytes(self.bytes(nbytes), "big") >> excess
            if v < bound:
                return v

    def randbits(self, k: int) -> int:
        """A uniform Python integer in [0, 2^k)."""
        k = int(k)
        if k < 0:
            raise ParameterError(f"k must be >= 0, got {k}")
        return self.randbelow(1 << k) if k else 0

    def bits(self, shape: ShapeLike) -> np.ndarray:
        """Uniform bits as a uint8 array of 0/1."""
        dims = _shape_tuple(shape)
        n = math.prod(dims)
        raw = np.frombuffer(self.bytes((n + 7) // 8), dtype=np.uint8)
        return np.unpackbits(raw, bitorder="little")[:n].reshape(dims)

    def labels(self, n: int) -> np.ndarray:
        """``n`` uniform 128-bit values as an ``(n, 2)`` uint64 array (garbled-circuit labels, keys)."""
        n = int(n)
        if n < 0:
            raise ParameterError(f"n must be >= 0, got {n}")
        return self._words(2 * n, np.uint64).reshape(n, 2)


def resolve(rng: RandomSource | None) -> RandomSource:
    """The generator to use for an ``rng=`` argument: ``None`` means a fresh OS-entropy source."""
    if rng is None:
        return RandomSource()
    if not isinstance(rng, RandomSource):
        raise ParameterError(
            f"rng must be a cmpc.rand.RandomSource or None, got {type(rng).__name__} "
            "(numpy/random generators are not allowed for secret values)"
        )
    return rng
