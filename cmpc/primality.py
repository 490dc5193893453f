"""Deterministic primality test for integers below 2^64 (no sympy at run time).

:func:`is_prime` is the strong-probable-prime (Miller–Rabin) test to the twelve prime bases
2, 3, 5, …, 37, preceded by trial division by those primes. It is *deterministic* below 2^64:

* ψ_12, the smallest odd composite that is a strong pseudoprime to all of the first twelve prime
  bases, is 318 665 857 834 031 151 167 461 ≈ 3.2·10^23 (upper bound: Y. Jiang and Y. Deng, "Strong
  pseudoprimes to the first eight prime bases", Math. Comp. 83 (2014) 2915–2924; equality:
  J. Sorenson and J. Webster, "Strong pseudoprimes to twelve prime bases", Math. Comp. 86 (2017)
  985–1003). Since 2^64 ≈ 1.8·10^19 < ψ_12, every composite n < 2^64 fails at least one base.
* Eleven bases would not do: ψ_11 = 3 825 123 056 546 413 051 < 2^64 passes bases 2 … 31 (the tests
  check that it is rejected here, by base 37).

Nothing leaks: the input is a public modulus. Cost: at most 12 modular exponentiations with Python
integers (a few µs for p < 2^64), against sympy's ~0.3–0.7 s import.
"""

from __future__ import annotations

__all__ = ["DETERMINISTIC_BOUND", "MR_BASES", "is_prime"]

#: the first twelve primes, a deterministic Miller–Rabin base set below ψ_12 (see the module doc)
MR_BASES: tuple[int, ...] = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)

#: :func:`is_prime` is proved correct for every n below this bound (2^64 < ψ_12)
DETERMINISTIC_BOUND = 2**64


def is_prime(n: int) -> bool:
    """Whether ``0 <= n < 2^64`` is prime (deterministic; ``ValueError`` outside that range)."""
    n = int(n)
    if n < 0 or n >= DETERMINISTIC_BOUND:
        raise ValueError(f"is_prime is deterministic for 0 <= n < 2^64, got {n}")
    if n < 2:
        return False
    for q in MR_BASES:
        if n % q == 0:
            return n == q
    # n - 1 = d * 2^s with d odd
    d = n - 1
    s = (d & -d).bit_length() - 1
    d >>= s
    for a in MR_BASES:
        x = pow(a, d, n)
        if x == 1 or x == n - 1:
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True
