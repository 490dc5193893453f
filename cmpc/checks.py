"""One-line argument checks shared by both packages.

Every public entry point checks its arguments with these helpers, so that every refusal has the same
shape: a :class:`~cmpc.errors.ParameterError` whose message names the argument, the value received and
the allowed range. Inner functions stay unchecked and fast (the galois convention).

>>> check_int("z", 3, lo=1)
3
>>> check_int("z", True, lo=1)
Traceback (most recent call last):
...
cmpc.errors.ParameterError: z must be an int >= 1, got True
>>> check_timeout("timeout", float("nan"))
Traceback (most recent call last):
...
cmpc.errors.ParameterError: timeout must be a finite number of seconds in (0, 86400], got nan
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from .field import PrimeField

__all__ = [
    "MAX_TIMEOUT",
    "as_field",
    "check_choice",
    "check_float",
    "check_int",
    "check_timeout",
]

#: the longest timeout any API accepts (one day); longer waits are a bug, not a setting
MAX_TIMEOUT = 86400.0

T = TypeVar("T")


def _range_text(lo: float | None, hi: float | None, *, lo_open: bool = False, hi_open: bool = False) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi}"
    return ""


def check_int(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as a Python int in ``[lo, hi]`` (either bound may be ``None``).

    Accepts ``int`` and numpy integers; refuses ``bool`` (``True`` is not a count), floats (even 3.0)
    and everything else with :class:`ParameterError` naming ``name`` and the range.
    """
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok:
        v = int(value)
        if (lo is None or v >= lo) and (hi is None or v <= hi):
            return v
    rng = _range_text(lo, hi)
    raise ParameterError(f"{name} must be an int{' ' + rng if rng else ''}, got {value!r}")


def check_float(
    name: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """``value`` as a finite float in the given range (open or closed at each end).

    Accepts ints and floats (numpy scalars included), refuses ``bool``, NaN and ±inf.
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        v = float(value)
        above = lo is None or (v > lo if lo_open else v >= lo)
        below = hi is None or (v < hi if hi_open else v <= hi)
        if math.isfinite(v) and above and below:
            return v
    rng = _range_text(lo, hi, lo_open=lo_open, hi_open=hi_open)
    raise ParameterError(f"{name} must be a finite number{' ' + rng if rng else ''}, got {value!r}")


def check_timeout(name: str, value: Any, *, max_seconds: float = MAX_TIMEOUT) -> float:
    """A timeout: finite seconds in (0, ``max_seconds``]; NaN, inf, 0 and negatives are refused."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        v = float(value)
        if math.isfinite(v) and 0 < v <= max_seconds:
            return v
    raise ParameterError(
        f"{name} must be a finite number of seconds in (0, {max_seconds:g}], got {value!r}"
    )


def check_choice(name: str, value: Any, choices: Iterable[T]) -> T:
    """``value`` if one of ``choices`` has its type and equals it; else a ParameterError listing them."""
    options = list(choices)
    for c in options:
        if type(value) is type(c) and value == c:
            return c
    shown = ", ".join(repr(c) for c in options)
    raise ParameterError(f"{name} must be one of {shown}; got {value!r}")


def as_field(field_or_p: Any, name: str = "field") -> PrimeField:
    """A :class:`~cmpc.field.PrimeField` from a field or a prime modulus (checked by ``PrimeField``)."""
    from .field import PrimeField

    if isinstance(field_or_p, PrimeField):
        return field_or_p
    if isinstance(field_or_p, numbers.Integral) and not isinstance(field_or_p, bool):
        return PrimeField(int(field_or_p))
    raise ParameterError(f"{name} must be a PrimeField or a prime int, got {type(field_or_p).__name__}")
