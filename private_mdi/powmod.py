"""Batched modular exponentiation with gmpy2, split over threads (the Paillier kernels' common step).

``gmpy2.powmod_base_list(bases, e, m)`` computes ``[b^e mod m]`` in C and releases the GIL, so splitting a
list of bases into contiguous chunks and running one chunk per thread uses several cores; the result is the
same list, in the same order, whatever the thread count. Used by :meth:`PaillierKeyPair.decrypt_many
<private_mdi.paillier.PaillierKeyPair.decrypt_many>` (exponents ``p − 1`` mod ``p²`` and ``q − 1`` mod
``q²``) and :class:`~private_mdi.paillier_pool.RandomizerPool` (exponent ``n`` mod ``n²``).

Pure arithmetic on the caller's values: nothing leaks beyond what the caller holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import gmpy2

from cmpc.checks import check_int

__all__ = ["MAX_THREADS", "Mpz", "check_threads", "map_powmod"]

#: most threads a batched exponentiation may use
MAX_THREADS = 8

Mpz = Any  # gmpy2.mpz (untyped)


def check_threads(threads: int) -> int:
    """``threads`` checked to be an int in ``[1, MAX_THREADS]`` (ParameterError otherwise)."""
    return check_int("threads", threads, 1, MAX_THREADS)


def map_powmod(bases: Sequence[Mpz], exp: Mpz, mod: Mpz, threads: int) -> list[Mpz]:
    """``[b^exp mod mod]`` with ``gmpy2.powmod_base_list`` (which releases the GIL), split over threads."""
    bases = list(bases)
    if threads <= 1 or len(bases) < 2:
        return list(gmpy2.powmod_base_list(bases, exp, mod))
    k = min(threads, len(bases))
    step = -(-len(bases) // k)
    chunks = [bases[i : i + step] for i in range(0, len(bases), step)]
    with ThreadPoolExecutor(max_workers=len(chunks)) as ex:
        parts = list(ex.map(lambda ch: gmpy2.powmod_base_list(ch, exp, mod), chunks))
    return [v for part in parts for v in part]
