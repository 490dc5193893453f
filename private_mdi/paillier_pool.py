"""Re-randomisers ``u^n mod n²`` for a Paillier public key: uniform units, the pool and its background thread.

Holds :func:`random_unit` (a uniform ``u ∈ Z*_n``), :class:`RandomizerPool` (re-randomisers computed ahead of
time, in bulk or in a background thread) and the one shared background executor for asynchronous fills
(recreated on demand in a forked child). The key classes are in :mod:`private_mdi.paillier`, which
re-exports both public names.

Math (Paillier, EUROCRYPT 1999; ``g = n + 1``)
-----------------------------------------------
* **Re-randomisation** by the public-key holder multiplies a ciphertext by a fresh ``u^n``: for uniform
  ``u ∈ Z*_n``, ``u^n`` is uniform over the ``n``-th residues ``N = {u^n}`` (a subgroup of ``Z*_{n²}``
  isomorphic to ``Z*_n``), so ``c · u^n`` is a fresh encryption of the same plaintext. The full
  ``|n|``-bit exponent needs no extra assumption: the DJN short-exponent randomisers ``h^α`` with
  ``|α| ≈ |n|/2`` would be cheaper but rest on an additional assumption, and a fixed-base table over a few
  random bases covers only the subgroup they generate, which for a product of two cyclic groups of even
  order is a proper subgroup with constant probability; neither is used.
* **Units.** ``u`` is drawn uniform in ``[1, n)`` and rejected unless ``gcd(u, n) = 1`` (non-units have
  probability ``(p + q − 2)/(n − 1)``, negligible).

What leaks: nothing; the randomisers are secrets of the party that holds the pool (drawn from its
:class:`~cmpc.rand.RandomSource`) and each is used once.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import gmpy2

from cmpc.checks import check_int
from cmpc.rand import RandomSource, resolve

from .powmod import Mpz, check_threads, map_powmod

if TYPE_CHECKING:  # annotation only: private_mdi.paillier imports this module
    from .paillier import PublicKey

__all__ = ["RandomizerPool", "random_unit"]


def random_unit(pub: PublicKey, rng: RandomSource) -> Mpz:
    """A uniform ``u ∈ Z*_n`` (rejection of the negligible non-units)."""
    while True:
        u = gmpy2.mpz(rng.randbelow(int(pub.n) - 1) + 1)
        if gmpy2.gcd(u, pub.n) == 1:
            return u



class RandomizerPool:
    """Precomputed re-randomisers ``u^n mod n²`` (uniform ``u ∈ Z*_n``) for one public key.

    :meth:`fill` computes them in bulk ahead of time (idle or offline time, optionally on several threads:
    ``gmpy2.powmod_base_list`` releases the GIL); :meth:`fill_async` does the same in a background thread,
    so the owner can garble or answer requests on the other core meanwhile; :meth:`take` pops one (waiting
    for a background fill if the pool is otherwise empty) and computes a fresh one on demand when nothing is
    left. Each value is used once. Only the public key is needed: the full ``|n|``-bit exponent keeps
    ``u^n`` uniform over the ``n``-th residues (DCR, no further assumption).

    The units ``u`` are always drawn in the calling thread, in call order, and background batches join the
    pool in submission order once it is empty, so the values taken depend only on the ``rng`` and the
    sequence of calls, not on thread timing. Not safe for concurrent use from several threads.
    """

    def __init__(self, public_key: PublicKey, rng: RandomSource | None = None) -> None:
        self.public_key = public_key
        self._rng = resolve(rng)
        self._items: list[Mpz] = []
        self._pending: deque[Future[list[Mpz]]] = deque()
        self._pending_count = 0

    def __len__(self) -> int:
        """Randomisers ready or being computed in the background."""
        return len(self._items) + self._pending_count

    def _one(self) -> Mpz:
        pub = self.public_key
        return gmpy2.powmod(random_unit(pub, self._rng), pub.n, pub.nsquare)

    def _units(self, count: int) -> list[Mpz]:
        count = check_int("count", count, 0)
        return [random_unit(self.public_key, self._rng) for _ in range(count)]

    def fill(self, count: int, *, threads: int = 1) -> None:
        """Add ``count`` fresh randomisers (the units are drawn in order from the pool's ``rng``)."""
        threads = check_threads(threads)
        pub = self.public_key
        self._items.extend(map_powmod(self._units(count), pub.n, pub.nsquare, threads))

    def fill_async(self, count: int, *, threads: int = 1) -> Future[list[Mpz]]:
        """Like :meth:`fill`, computed in a background thread; returns at once (the future is for waiting)."""
        threads = check_threads(threads)
        pub = self.public_key
        units = self._units(count)
        fut = _background().submit(map_powmod, units, pub.n, pub.nsquare, threads)
        self._pending.append(fut)
        self._pending_count += len(units)
        return fut

    def take(self) -> Mpz:
        while not self._items and self._pending:
            batch = self._pending.popleft().result()
            self._pending_count -= len(batch)
            self._items.extend(batch)
        return self._items.pop() if self._items else self._one()


_BACKGROUND: ThreadPoolExecutor | None = None


def _background() -> ThreadPoolExecutor:
    """One shared background thread for asynchronous pool fills (created on first use)."""
    global _BACKGROUND
    if _BACKGROUND is None:
        _BACKGROUND = ThreadPoolExecutor(max_workers=1, thread_name_prefix="paillier-pool")
    return _BACKGROUND


def _forget_background() -> None:
    """A forked child has no copy of the parent's threads: start a fresh executor there on demand."""
    global _BACKGROUND
    _BACKGROUND = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_background)
