"""Model files are read without trusting them (issue 13): every bad file gives a named ParameterError.

Regression tests for the cases found (raw EOFError, TypeError, RecursionError, MemoryError from a header
claiming a 46 TiB array; save("x") / load("x") disagreeing on the suffix) and hypothesis fuzzing of
random bytes and mutated valid files, each within a time bound.
"""

from __future__ import annotations

import io
import json
import struct
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from private_mdi.errors import ParameterError
from private_mdi.nn import AvgPool2d, Conv2d, Dense, Flatten, MaxPool2d, Model, ReLU
from private_mdi.nn.serialization import ModelFileError

TIME_BOUND_S = 2.0  # one load of a small bad file, generous for a loaded 2-core machine


def small_model() -> Model:
    g = np.random.default_rng(0)
    return Model(
        (1, 6, 6),
        [
            Conv2d(g.normal(size=(2, 1, 3, 3)), g.normal(size=2), stride=1, padding=1),
            ReLU(),
            MaxPool2d(2),
            AvgPool2d(1),
            Flatten(),
            Dense(g.normal(size=(3, 18)), g.normal(size=3)),
        ],
        classes=np.array(["a", "b", "c"]),
    )


_VALID: list[bytes] = []


def valid_bytes(tmp_path: Path) -> bytes:
    if not _VALID:
        _VALID.append(small_model().save(tmp_path / "m").read_bytes())
    return _VALID[0]


def write_npz(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def base_members(spec: object) -> dict[str, bytes]:
    return {
        "format.npy": npy(np.array("private-mdi-model")),
        "version.npy": npy(np.array(1)),
        "spec.npy": npy(np.array(json.dumps(spec))),
    }


def load_named(path: Path) -> None:
    """Load must either succeed or raise a ParameterError with a message, within TIME_BOUND_S."""
    t0 = time.perf_counter()
    try:
        Model.load(path)
    except ParameterError as exc:
        assert str(exc)
    assert time.perf_counter() - t0 < TIME_BOUND_S


def test_save_and_load_agree_on_the_suffix(tmp_path: Path) -> None:
    model = small_model()
    written = model.save(tmp_path / "x")
    assert written == tmp_path / "x.npz" and written.is_file()
    back = Model.load(tmp_path / "x")  # the same name the user gave to save
    x = np.random.default_rng(1).normal(size=(4, 36))
    np.testing.assert_array_equal(back.forward(x), model.forward(x))
    np.testing.assert_array_equal(back.classes, model.classes)  # type: ignore[arg-type]
    assert Model.load(str(written)).name == model.name


def test_missing_truncated_and_garbage_files(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no such file"):
        Model.load(tmp_path / "absent")
    data = valid_bytes(tmp_path)
    for cut in (0, 10, len(data) // 2, len(data) - 1):
        (tmp_path / "t.npz").write_bytes(data[:cut])
        with pytest.raises(ModelFileError):
            Model.load(tmp_path / "t.npz")


def test_header_claiming_a_huge_array_is_refused_before_allocation(tmp_path: Path) -> None:
    # a .npy header claiming 6.3e12 float64 values (46 TiB) with 8 bytes of data behind it
    fake = npy(np.zeros(1)).replace(b"(1,)", b"(6322000000000,)")
    members = base_members({"input_shape": [2], "layers": [{"type": "dense"}]})
    members["layer0.weight.npy"] = fake
    with pytest.raises(ModelFileError, match="claims"):
        Model.load(write_npz(tmp_path / "huge.npz", members))


def test_zip_member_size_claims_are_bounded(tmp_path: Path) -> None:
    data = bytearray(valid_bytes(tmp_path))
    first_cd = data.find(b"PK\x01\x02")  # central directory entry: uncompressed size at offset 24
    assert first_cd >= 0
    data[first_cd + 24 : first_cd + 28] = struct.pack("<I", 0xFFFFFFFF)
    (tmp_path / "z.npz").write_bytes(bytes(data))
    with pytest.raises(ModelFileError):
        Model.load(tmp_path / "z.npz")


def test_deeply_nested_and_overlong_specs(tmp_path: Path) -> None:
    members = base_members({})
    members["spec.npy"] = npy(np.array("[" * 100_000 + "]" * 100_000))
    with pytest.raises(ModelFileError, match="nested"):
        Model.load(write_npz(tmp_path / "deep.npz", members))
    nested = {"input_shape": [2], "layers": [{"type": "dense", "x": [[[[[[[[[1]]]]]]]]]}]}
    with pytest.raises(ModelFileError, match="nested"):
        Model.load(write_npz(tmp_path / "deep2.npz", base_members(nested)))


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ([1, 2], "JSON object"),
        ({"input_shape": "abc", "layers": []}, "input_shape"),
        ({"input_shape": [0], "layers": [{"type": "relu"}]}, "input_shape"),
        ({"input_shape": [2**40], "layers": [{"type": "relu"}]}, "input_shape"),
        ({"input_shape": [2], "head": 7, "layers": [{"type": "relu"}]}, "head"),
        ({"input_shape": [2], "layers": "dense"}, "layers"),
        ({"input_shape": [2], "layers": [7]}, "JSON object"),
        ({"input_shape": [2], "layers": [{"type": ["dense"]}]}, "unsupported type"),
        ({"input_shape": [2], "layers": [{"type": "dense"}]}, "no 'weight'"),
        ({"input_shape": [1, 4, 4], "layers": [{"type": "maxpool2d", "kernel": "2"}]}, "kernel"),
        (
            {
                "input_shape": [1, 4, 4],
                "layers": [{"type": "avgpool2d", "kernel": [2, True], "stride": [1, 1]}],
            },
            "kernel",
        ),
        ({"input_shape": [1, 4, 4], "layers": [{"type": "flatten", "evil": 1}]}, "unknown keys"),
        ({"name": 5, "input_shape": [2], "layers": [{"type": "relu"}]}, "name"),
    ],
)
def test_every_spec_field_is_validated(tmp_path: Path, spec: object, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        Model.load(write_npz(tmp_path / "s.npz", base_members(spec)))


def test_bad_arrays_are_refused(tmp_path: Path) -> None:
    spec = {"input_shape": [2], "layers": [{"type": "dense"}]}
    bad_weights = [
        npy(np.zeros((1, 2))).replace(b"'<f8'", b"'|O'"),  # object dtype: would need unpickling
        npy(np.zeros(4)),  # wrong number of dimensions
        npy(np.array([["a", "b"]])),  # strings
    ]
    for weight in bad_weights:
        members = base_members(spec)
        members["layer0.weight.npy"] = weight
        members["layer0.bias.npy"] = npy(np.zeros(1))
        with pytest.raises(ModelFileError):
            Model.load(write_npz(tmp_path / "a.npz", members))
    members = base_members(spec)
    members["layer0.weight.npy"] = npy(np.full((1, 2), np.nan))
    members["layer0.bias.npy"] = npy(np.zeros(1))
    with pytest.raises(ParameterError, match="finite"):
        Model.load(write_npz(tmp_path / "nan.npz", members))
    members = base_members(spec)
    members["version.npy"] = npy(np.array(2))
    with pytest.raises(ModelFileError, match="version"):
        Model.load(write_npz(tmp_path / "v.npz", members))
    members = base_members(spec)
    members["../evil.npy"] = npy(np.zeros(1))
    with pytest.raises(ModelFileError, match="unexpected archive member"):
        Model.load(write_npz(tmp_path / "e.npz", members))


def test_dense_equivalent_size_is_bounded(tmp_path: Path) -> None:
    # a small file whose lowering would need a (2^24 x 2^24) dense equivalent
    spec = {
        "input_shape": [1, 4096, 4096],
        "layers": [{"type": "flatten"}, {"type": "relu"}, {"type": "flatten"}],
    }
    with pytest.raises(ParameterError, match="dense equivalent"):
        Model.load(write_npz(tmp_path / "big.npz", base_members(spec)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=2048))
def test_fuzz_random_bytes(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "r.npz"
    path.write_bytes(blob)
    load_named(path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_mutated_valid_files(tmp_path: Path, data: st.DataObject) -> None:
    blob = bytearray(valid_bytes(tmp_path))
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    path = tmp_path / "mut.npz"
    path.write_bytes(bytes(blob))
    load_named(path)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_JSON, layer_type=st.sampled_from(["dense", "conv2d", "avgpool2d", "maxpool2d", "flatten", "x"]))
def test_fuzz_spec_fields(tmp_path: Path, value: object, layer_type: str) -> None:
    doc = {"input_shape": value, "layers": [{"type": layer_type, "kernel": value, "stride": value}]}
    members = base_members(doc)
    members["layer0.weight.npy"] = npy(np.zeros((2, 2)))
    members["layer0.bias.npy"] = npy(np.zeros(2))
    load_named(write_npz(tmp_path / "f.npz", members))
    load_named(write_npz(tmp_path / "g.npz", base_members(value)))
