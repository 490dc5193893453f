"""Shared argument checks (cmpc.checks), the shared matrix codec (cmpc.wire), the one error hierarchy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cmpc.checks import as_field, check_choice, check_float, check_int, check_timeout
from cmpc.errors import CMPCError, ParameterError, ProtocolError
from cmpc.field import PrimeField
from cmpc.wire import MATRIX_HEADER, decode_matrix, encode_matrix, join_parts, split_parts


def test_check_int_accepts_ints_in_range_and_names_the_argument():
    assert check_int("z", 3, lo=1) == 3
    assert check_int("z", np.int64(5), 1, 9) == 5
    for bad in (True, 3.0, "3", None, 0, 10):
        with pytest.raises(ParameterError, match=r"^z must be an int in \[1, 9\], got"):
            check_int("z", bad, 1, 9)


def test_check_float_and_timeout_refuse_nan_and_inf():
    assert check_float("x", 2, lo=0) == 2.0
    for bad in (math.nan, math.inf, -math.inf, True, "1"):
        with pytest.raises(ParameterError, match=r"^x must be a finite number"):
            check_float("x", bad, lo=0)
    with pytest.raises(ParameterError, match=r"\(0, 1\)"):
        check_float("x", 0.0, 0, 1, lo_open=True, hi_open=True)
    assert check_timeout("timeout", 2.5) == 2.5
    for bad in (0, -1, math.nan, math.inf, 10**9, False):
        with pytest.raises(ParameterError, match=r"^timeout must be a finite number of seconds"):
            check_timeout("timeout", bad)


def test_check_choice_and_as_field():
    assert check_choice("mode", "threads", ("sequential", "threads")) == "threads"
    with pytest.raises(ParameterError, match="'sequential', 'threads'"):
        check_choice("mode", "thread", ("sequential", "threads"))
    assert as_field(7).p == 7 and as_field(PrimeField(11)).p == 11
    with pytest.raises(ParameterError):
        as_field("7")


def test_private_mdi_errors_are_cmpc_errors():
    from private_mdi import errors as pe

    assert pe.ParameterError is ParameterError
    for cls in (pe.OverflowRiskError, pe.PlacementError, pe.UnsupportedModelError, pe.CircuitError,
                pe.KeyMismatchError):
        assert issubclass(cls, ParameterError) and issubclass(cls, pe.PrivateMDIError)
    assert issubclass(pe.PrivateMDIError, CMPCError)


@given(st.sampled_from([7, 65521, 2**31 - 1, 2**61 - 1]), st.integers(0, 5), st.integers(0, 5), st.data())
def test_matrix_round_trip(p, rows, cols, data):
    vals = data.draw(st.lists(st.integers(0, p - 1), min_size=rows * cols, max_size=rows * cols))
    arr = np.array(vals, dtype=np.int64).reshape(rows, cols)
    blob = encode_matrix(arr, p)
    assert np.array_equal(decode_matrix(blob, p, shape=(rows, cols)), arr)


def test_matrix_decoder_refuses_bad_input_before_allocating():
    p = 65521
    blob = encode_matrix(np.arange(6).reshape(2, 3), p)
    with pytest.raises(ProtocolError, match="shape"):
        decode_matrix(blob, p, shape=(3, 2))
    with pytest.raises(ProtocolError, match="bytes"):
        decode_matrix(blob[:-1], p)
    with pytest.raises(ProtocolError, match="width"):
        decode_matrix(blob, 2**61 - 1)
    with pytest.raises(ProtocolError, match="not below"):
        decode_matrix(encode_matrix(np.array([[p]]), 2**31 - 1), p)
    huge = MATRIX_HEADER.pack(1, 4, 2**32 - 1, 2**32 - 1)
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        decode_matrix(huge, p)
    with pytest.raises(ProtocolError, match="version"):
        decode_matrix(b"\x09" + blob[1:], p)


@given(st.lists(st.binary(max_size=20), max_size=5))
def test_parts_round_trip(parts):
    blob = join_parts(parts)
    assert split_parts(blob, len(parts)) == parts
    with pytest.raises(ProtocolError):
        split_parts(blob + b"x", len(parts))
    with pytest.raises(ProtocolError):
        split_parts(blob, len(parts) + 1)


def test_compact_matrices_same_bytes_and_values():
    # uint32 arrays are written as they are (the same bytes as int64 ones); compact decoding returns a
    # read-only uint32 view for 4-byte elements and int64 for 8-byte ones
    p = 2**31 - 1
    arr = np.array([[0, 1, p - 1], [7, 2**30, 5]], dtype=np.int64)
    blob = encode_matrix(arr, p)
    assert encode_matrix(arr.astype(np.uint32), p) == blob
    view = decode_matrix(blob, p, compact=True)
    assert view.dtype == np.uint32 and not view.flags.writeable
    assert np.array_equal(view, arr)
    big = 2**61 - 1
    wide = decode_matrix(encode_matrix(arr.astype(np.uint32), big), big, compact=True)
    assert wide.dtype == np.int64 and np.array_equal(wide, arr)
