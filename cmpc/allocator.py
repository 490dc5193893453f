"""One process-wide allocator setting for warm, repeated runs (Linux with glibc; a no-op elsewhere).

With glibc's defaults every array above the dynamic mmap threshold (128 KiB, growing up to 32 MiB) is a
fresh ``mmap`` and every large free returns memory to the system, so a process that repeats the same work
(a party serving session after session, a benchmark's warm runs) touches fresh pages on every run: each
first touch is a page fault, ≈ 5 µs each on the development VM. One simulated AGE run at m = 1024 takes
about 27,000 of them (≈ 0.1 s of system CPU, as much as the protocol's re-sharing and sums together).
:func:`retain_freed_memory` sets ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` (``mallopt(3)``) so that
blocks up to ``limit`` bytes come from the heap and freed memory stays there for the next run: after the
first runs no page is faulted again. The cost is memory: the process keeps up to ``limit`` bytes it no
longer uses instead of returning them. Nothing about the values computed changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

from .checks import check_int

__all__ = ["retain_freed_memory"]

#: mallopt(3) parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

_applied: int | None = None


def retain_freed_memory(limit: int = 1 << 30) -> bool:
    """Keep freed heap memory (up to ``limit`` bytes) for reuse instead of returning it to the system.

    Returns whether the setting applies (glibc found and both ``mallopt`` calls accepted); elsewhere it
    does nothing and returns False. Process-wide and not undone: call it in programs (party processes,
    benchmarks), never from library code that others import.
    """
    global _applied
    limit = check_int("limit", limit, 1 << 20, 1 << 40)
    if _applied is not None and _applied >= limit:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    if name is None:  # pragma: no cover - glibc systems always have libc
        return False
    libc = ctypes.CDLL(name)
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:  # pragma: no cover
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    value = min(limit, 2**31 - 1)
    ok = bool(mallopt(M_TRIM_THRESHOLD, value)) and bool(mallopt(M_MMAP_THRESHOLD, value))
    if ok:
        _applied = value
    return ok
