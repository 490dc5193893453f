"""Fixed point in GF(p): the single home of privateMDI's fixed-point semantics.

* :mod:`.core`: :class:`FixedPoint` (``encode`` / ``decode`` / ``truncate`` / ``signed`` /
  ``quantize``), :func:`signed` and :func:`reference_forward`, the quantised forward pass the private
  run reproduces bit for bit;
* :mod:`.input_range`: :class:`InputRange`, the input box in the user's units (bound or widened
  calibration range) with ``check`` / ``clip``;
* :mod:`.ranges`: the range analysis (:func:`analyse_ranges`, :func:`check_input`) and the choice of
  ``(p, f)`` (:func:`choose_parameters`).
"""

from __future__ import annotations

from .core import (
    MAX_FRAC_BITS,
    FixedPoint,
    check_frac_bits,
    decode,
    encode,
    encode_bias,
    from_signed,
    reference_forward,
    signed,
    to_signed,
)
from .input_range import (
    CALIBRATION_MARGIN,
    DEFAULT_INPUT_BOUND,
    OUT_OF_RANGE_CHOICES,
    InputRange,
    InputRangeError,
    InputRangeWarning,
)
from .ranges import (
    DEFAULT_F_RANGE,
    DEFAULT_MARGIN_BITS,
    DEFAULT_PRIMES,
    DenseLayer,
    FixedPointParams,
    LayerRange,
    RangeReport,
    analyse_ranges,
    check_input,
    choose_parameters,
    input_box,
)

__all__ = [
    "CALIBRATION_MARGIN",
    "DEFAULT_F_RANGE",
    "DEFAULT_INPUT_BOUND",
    "DEFAULT_MARGIN_BITS",
    "DEFAULT_PRIMES",
    "MAX_FRAC_BITS",
    "OUT_OF_RANGE_CHOICES",
    "DenseLayer",
    "FixedPoint",
    "FixedPointParams",
    "InputRange",
    "InputRangeError",
    "InputRangeWarning",
    "LayerRange",
    "RangeReport",
    "analyse_ranges",
    "check_frac_bits",
    "check_input",
    "choose_parameters",
    "decode",
    "encode",
    "encode_bias",
    "from_signed",
    "input_box",
    "reference_forward",
    "signed",
    "to_signed",
]
