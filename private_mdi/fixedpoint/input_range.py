"""The input range the fixed-point analysis assumes, and the check (or clip) of inputs against it.

The range analysis (:mod:`private_mdi.fixedpoint.ranges`) proves "no wrap-around" only for inputs in a
per-feature box ``[low_j, high_j]``. An :class:`InputRange` is that box in the **user's units** (the
floats given to ``predict``), made in one of two ways:

* :meth:`InputRange.from_bound`: ``|x_j| ≤ B`` (or ``low ≤ x_j ≤ high``). The default
  ``B = DEFAULT_INPUT_BOUND = 8`` covers standardized data (a standardized feature beyond ±8 standard
  deviations is an outlier under any distribution with finite variance by Chebyshev: P ≤ 1/64);
* :meth:`InputRange.from_calibration`: calibration data treated as a **sample** of the input
  distribution. The sample's per-feature ``[min_j, max_j]`` is widened on each side by
  ``margin · s_j`` with ``s_j = max(max_j − min_j, median_k (max_k − min_k))``.

Why a margin: for ``n`` i.i.d. calibration rows of a continuous feature, a fresh row falls outside
the sample's ``[min, max]`` with probability exactly ``2 / (n + 1)``; with ``d`` features a row is
refused with probability up to ``2d / (n + 1)`` (30 features, 400 rows: ~15 %), which is what users
saw. How far outside depends on the tail of the distribution, so the margin was chosen by measurement
(reproducible: ``tests/test_fixedpoint.py::test_calibration_margin_on_held_out_data``):
50 random 75/25 splits of scikit-learn's breast-cancer, iris, wine and digits data, raw and
standardized (scaler fitted on the training part), counting refused test rows:

==========  ===========  ===========  ===========
margin      0.5          1.0          2.0
==========  ===========  ===========  ===========
cancer      16 / 7150    12 / 7150    0 / 7150
digits      40 / 22500   21 / 22500   7 / 22500
iris, wine  0            0            0
==========  ===========  ===========  ===========

(standardized data; raw data refuse fewer rows.) ``CALIBRATION_MARGIN = 2.0`` widens the box to five
times the observed span, which costs log2(5) ≈ 2.3 bits of headroom in the analysis (sometimes a larger
prime). The remaining refusals are digits pixels that are (nearly) constant in the training part and
therefore standardized by a tiny deviation: no margin proportional to the sample covers them; pass
``input_bound=`` (e.g. ``(0, 1)`` for pixels known to lie there) or clip. The floor
``median_k span_k`` gives a feature that did not vary in the sample the room of a typical feature.

Out-of-range inputs are refused (:class:`InputRangeError`, naming feature, value, range and the fix)
or, with ``on_out_of_range="clip"``, clipped into the box with a warning: clipping **changes the
result** (the model then sees a different input) and is for users who accept that.

What leaks: nothing; the box is a public parameter of the session.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cmpc.errors import ShapeError

from ..errors import OverflowRiskError, ParameterError

__all__ = [
    "CALIBRATION_MARGIN",
    "DEFAULT_INPUT_BOUND",
    "OUT_OF_RANGE_CHOICES",
    "InputRange",
    "InputRangeError",
    "InputRangeWarning",
]

#: default |x| bound without calibration data: covers standardized features (Chebyshev: P(|z| > 8) ≤ 1/64)
DEFAULT_INPUT_BOUND = 8.0
#: calibration box widened on each side by this fraction of the feature's span (see the module docstring)
CALIBRATION_MARGIN = 2.0
#: accepted values of ``on_out_of_range``
OUT_OF_RANGE_CHOICES = ("raise", "clip")

_FIX = (
    "pass calibration=X_train (a sample of the inputs you will send) or a wider input_bound= when the "
    "session is created, or on_out_of_range='clip' to clip (this changes results)"
)


class InputRangeError(OverflowRiskError):
    """An input lies outside the range the fixed-point parameters were chosen for."""


class InputRangeWarning(UserWarning):
    """Inputs were clipped into the analysed range (results differ from the unclipped model)."""


@dataclass(frozen=True)
class InputRange:
    """Per-feature box ``low[j] ≤ x_j ≤ high[j]`` (float64 arrays, user units) and how it was made."""

    low: np.ndarray = field(repr=False)
    high: np.ndarray = field(repr=False)
    origin: str = "input_bound"

    def __post_init__(self) -> None:
        low = np.asarray(self.low, dtype=np.float64).reshape(-1)
        high = np.asarray(self.high, dtype=np.float64).reshape(-1)
        if low.shape != high.shape or low.size == 0:
            raise ShapeError(
                f"low and high must be non-empty and of equal length, got {low.shape}, {high.shape}"
            )
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ParameterError("the input range must be finite")
        if np.any(low > high):
            j = int(np.argmax(low > high))
            raise ParameterError(f"input range of feature {j}: low {low[j]:g} > high {high[j]:g}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def n_features(self) -> int:
        return int(self.low.size)

    # -- construction ----------------------------------------------------------------------------------
    @classmethod
    def from_bound(
        cls, n_features: int, bound: float | tuple[float, float] = DEFAULT_INPUT_BOUND
    ) -> InputRange:
        """``|x_j| ≤ bound`` for every feature, or ``low ≤ x_j ≤ high`` for ``bound = (low, high)``."""
        if isinstance(bound, tuple | list):
            if len(bound) != 2 or not float(bound[0]) <= float(bound[1]):
                raise ParameterError(f"input_bound must be B or (low, high) with low <= high, got {bound}")
            low, high = float(bound[0]), float(bound[1])
            text = f"input_bound=({low:g}, {high:g})"
        else:
            try:
                b = float(bound)
            except (TypeError, ValueError) as exc:
                raise ParameterError(f"input_bound must be a number or (low, high), got {bound!r}") from exc
            if not b >= 0 or not np.isfinite(b):
                raise ParameterError(f"input_bound must be finite and >= 0, got {bound}")
            low, high = -b, b
            text = f"input_bound={b:g}"
        return cls(np.full(n_features, low), np.full(n_features, high), text)

    @classmethod
    def from_calibration(
        cls, data: Any, *, n_features: int | None = None, margin: float = CALIBRATION_MARGIN
    ) -> InputRange:
        """The widened per-feature range of calibration rows ``data`` (samples, features).

        ``[min_j − margin·s_j, max_j + margin·s_j]`` with ``s_j = max(span_j, median span)``;
        ``margin=0`` gives the bare sample range.
        """
        cal = np.asarray(data, dtype=np.float64)
        if cal.ndim == 1:
            cal = cal[None, :]
        if cal.ndim != 2 or cal.shape[0] == 0 or (n_features is not None and cal.shape[1] != n_features):
            want = "features" if n_features is None else str(n_features)
            raise ShapeError(f"calibration must have shape (samples, {want}), got {np.shape(data)}")
        if not np.all(np.isfinite(cal)):
            raise ParameterError("calibration data must be finite (no NaN or inf)")
        if not (isinstance(margin, int | float) and np.isfinite(margin) and margin >= 0):
            raise ParameterError(f"margin must be a finite number >= 0, got {margin!r}")
        lo, hi = cal.min(axis=0), cal.max(axis=0)
        span = hi - lo
        s = np.maximum(span, float(np.median(span)))
        return cls(lo - margin * s, hi + margin * s, f"calibration ({cal.shape[0]} rows, margin {margin:g})")

    @classmethod
    def resolve(
        cls,
        n_features: int,
        *,
        input_bound: float | tuple[float, float] | None = None,
        calibration: Any = None,
        margin: float = CALIBRATION_MARGIN,
    ) -> InputRange:
        """The range for the session arguments: calibration (widened), else the bound, else ±8."""
        if input_bound is not None and calibration is not None:
            raise ParameterError("give at most one of input_bound and calibration")
        if calibration is not None:
            return cls.from_calibration(calibration, n_features=n_features, margin=margin)
        return cls.from_bound(n_features, DEFAULT_INPUT_BOUND if input_bound is None else input_bound)

    # -- use -------------------------------------------------------------------------------------------
    def _rows(self, x: Any) -> np.ndarray:
        arr = np.asarray(x, dtype=np.float64)
        if arr.size % self.n_features:
            raise ShapeError(f"inputs must have {self.n_features} features per row, got shape {arr.shape}")
        return arr.reshape(-1, self.n_features)

    def check(self, x: Any) -> None:
        """Raise :class:`InputRangeError` for the first value outside the box (row, feature, value, fix)."""
        rows = self._rows(x)
        bad = (rows < self.low) | (rows > self.high) | ~np.isfinite(rows)
        if bad.any():
            i, j = (int(v) for v in np.argwhere(bad)[0])
            count = int(bad.any(axis=1).sum())
            raise InputRangeError(
                f"input row {i}, feature {j} = {rows[i, j]:.6g} is outside the range "
                f"[{self.low[j]:.6g}, {self.high[j]:.6g}] the fixed-point parameters were chosen for "
                f"(from {self.origin}; {count} of {rows.shape[0]} rows are outside); {_FIX}",
                layer="input",
            )

    def clip(self, x: Any) -> np.ndarray:
        """``x`` clipped into the box (same shape); warns with :class:`InputRangeWarning` when it changes."""
        arr = np.asarray(x, dtype=np.float64)
        rows = self._rows(arr)
        if not np.all(np.isfinite(rows)):
            raise ParameterError("inputs must be finite (no NaN or inf)")
        clipped = np.clip(rows, self.low, self.high)
        changed = int((clipped != rows).any(axis=1).sum())
        if changed:
            warnings.warn(
                f"{changed} of {rows.shape[0]} input rows were clipped into the analysed range "
                f"(from {self.origin}): their results are those of the clipped inputs",
                InputRangeWarning,
                stacklevel=2,
            )
        return clipped.reshape(arr.shape)

    def apply(self, x: Any, on_out_of_range: str = "raise") -> np.ndarray:
        """``check`` (``"raise"``) or ``clip`` (``"clip"``) and return the inputs to encode."""
        if on_out_of_range not in OUT_OF_RANGE_CHOICES:
            raise ParameterError(
                f"on_out_of_range must be one of {OUT_OF_RANGE_CHOICES}, got {on_out_of_range!r}"
            )
        if on_out_of_range == "clip":
            return self.clip(x)
        self.check(x)
        return np.asarray(x, dtype=np.float64)
