"""The model file: a ``.npz`` read without trusting it.

Format (version 1)
------------------
A zip archive (as written by :func:`numpy.savez_compressed`) of ``.npy`` members:

* ``format``: the string ``"private-mdi-model"``; ``version``: the integer 1;
* ``spec``: a JSON string ``{"name": str, "input_shape": [ints], "head": one of HEADS,
  "layers": [{"type": ..., hyper-parameters}]}``;
* ``layer{i}.weight`` / ``layer{i}.bias`` (float64) for the layers with parameters;
* ``classes`` (1-D numbers or strings) when the head has labels.

:func:`save_model` and :func:`load_model` agree on the suffix: a path without ``.npz`` gets it appended
on save, and on load ``x`` means ``x.npz`` when ``x`` itself does not exist.

Reading untrusted files
-----------------------
Nothing is allocated from a size the file claims before the claim is checked: the file size is at most
:data:`MAX_FILE_BYTES`; the zip's member list is checked (known names only, at most
:data:`MAX_MEMBERS`); each member's declared uncompressed size is at most :data:`MAX_MEMBER_BYTES`
(the total at most :data:`MAX_TOTAL_BYTES`); each ``.npy`` header is parsed by
:func:`numpy.lib.format.read_array_header_1_0` / ``_2_0`` and its ``shape × itemsize`` must equal the
bytes the member really holds; only plain numeric, boolean and unicode dtypes are accepted (never
objects, so nothing is unpickled). The JSON spec is at most :data:`MAX_SPEC_CHARS` characters and
:data:`MAX_JSON_DEPTH` levels deep, and every field is type- and range-checked. Every failure raises
:class:`~private_mdi.errors.ParameterError` (or a subclass) naming the file and what was wrong.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ParameterError, PrivateMDIError, UnsupportedModelError
from .layers import LAYER_TYPES, AvgPool2d, Conv2d, Dense, Layer, MaxPool2d
from .model import HEADS, Model

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_FILE_BYTES",
    "ModelFileError",
    "load_model",
    "save_model",
]

FORMAT_NAME = "private-mdi-model"
FORMAT_VERSION = 1

MAX_FILE_BYTES = 1 << 30  #: 1 GiB
MAX_MEMBER_BYTES = 1 << 30  #: one uncompressed array
MAX_TOTAL_BYTES = 2 << 30  #: all uncompressed arrays together
MAX_MEMBERS = 2 * 1000 + 8
MAX_LAYERS = 1000
MAX_SPEC_CHARS = 1 << 20
MAX_JSON_DEPTH = 8
MAX_DIM = 1 << 24  #: any single dimension (input size, kernel, stride, padding)
_MEMBER = re.compile(r"^(format|version|spec|classes|layer(0|[1-9][0-9]{0,3})\.(weight|bias))\.npy$")


class ModelFileError(PrivateMDIError, ParameterError):
    """A model file is missing, unreadable, malformed, or claims sizes beyond the limits."""


def _model_path(path: str | Path, *, for_save: bool) -> Path:
    p = Path(path)
    if p.suffix == ".npz":
        return p
    if for_save:
        return p.with_name(p.name + ".npz")
    alt = p.with_name(p.name + ".npz")
    return alt if not p.exists() and alt.exists() else p


def save_model(model: Model, path: str | Path) -> Path:
    """Write ``model`` (format in the module docstring); ``.npz`` is appended if missing. Returns the path."""
    target = _model_path(path, for_save=True)
    spec = {
        "name": model.name,
        "input_shape": list(model.input_shape),
        "head": model.head,
        "layers": [layer.config() for layer in model.layers],
    }
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT_NAME),
        "version": np.array(FORMAT_VERSION),
        "spec": np.array(json.dumps(spec)),
    }
    for i, layer in enumerate(model.layers):
        for key, val in layer.params().items():
            arrays[f"layer{i}.{key}"] = val
    if model.classes is not None:
        arrays["classes"] = model.classes
    with open(target, "wb") as fh:
        np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
    return target


# -- reading ---------------------------------------------------------------------------------------------
_READ_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    SyntaxError,
    RuntimeError,
    NotImplementedError,
    OverflowError,
    MemoryError,
    zipfile.BadZipFile,
    zlib.error,
    UnicodeError,
)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """One ``.npy`` member, with its header checked against the member's real size before reading data."""
    with zf.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy version {version}")
        if dtype.hasobject or dtype.kind not in "biufU" or dtype.subdtype is not None or dtype.names:
            raise ValueError(f"array dtype {dtype} is not allowed (numbers, booleans or strings only)")
        if len(shape) > 4 or any((not isinstance(d, int)) or d < 0 or d > MAX_MEMBER_BYTES for d in shape):
            raise ValueError(f"its header claims shape {shape}, beyond the limits (at most 4 dimensions)")
        count = 1
        for d in shape:
            count *= d
        nbytes = count * dtype.itemsize
        if nbytes != info.file_size - fh.tell():
            raise ValueError(
                f"its header claims {nbytes:,} bytes of data ({shape} × {dtype}) but the member holds "
                f"{info.file_size - fh.tell():,}"
            )
        data = fh.read(nbytes)
        if len(data) != nbytes:
            raise EOFError(f"truncated: {len(data):,} of {nbytes:,} bytes")
    arr = np.frombuffer(data, dtype=dtype, count=count)
    return arr.reshape(shape, order="F" if fortran else "C").copy()


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise ModelFileError(f"cannot read model file {path}: no such file (Model.save writes <name>.npz)")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ModelFileError(f"model file {path} has {size:,} bytes, more than the limit {MAX_FILE_BYTES:,}")
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise ModelFileError(f"{path}: {len(infos)} archive members, at most {MAX_MEMBERS} allowed")
            if "format.npy" not in {info.filename for info in infos}:
                raise ModelFileError(f"{path} is not a {FORMAT_NAME} file (missing 'format')")
            total = 0
            for info in infos:
                if not _MEMBER.match(info.filename):
                    raise ModelFileError(f"{path}: unexpected archive member {info.filename[:80]!r}")
                if info.file_size > MAX_MEMBER_BYTES:
                    raise ModelFileError(
                        f"{path}: member {info.filename} claims {info.file_size:,} bytes "
                        f"(limit {MAX_MEMBER_BYTES:,})"
                    )
                total += info.file_size
                if total > MAX_TOTAL_BYTES:
                    raise ModelFileError(f"{path}: the members claim more than {MAX_TOTAL_BYTES:,} bytes")
            for info in infos:
                name = info.filename[: -len(".npy")]
                if name in arrays:
                    raise ModelFileError(f"{path}: member {info.filename} appears twice")
                try:
                    arrays[name] = _read_member(zf, info)
                except (*_READ_ERRORS, RecursionError) as exc:
                    if isinstance(exc, ModelFileError):
                        raise
                    raise ModelFileError(f"{path}: member {info.filename} is malformed: {exc}") from exc
    except ModelFileError:
        raise
    except _READ_ERRORS as exc:
        raise ModelFileError(f"cannot read model file {path}: {exc}") from exc
    return arrays


def _scalar_str(arrays: dict[str, np.ndarray], key: str, path: Path) -> str:
    a = arrays.get(key)
    if a is None or a.shape != () or a.dtype.kind != "U":
        raise ModelFileError(f"{path}: '{key}' must be a string scalar")
    return str(a)


def _depth(text: str) -> int:
    """Maximum nesting depth of ``[``/``{`` outside JSON strings (checked before parsing)."""
    depth = worst = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            worst = max(worst, depth)
        elif ch in "]}":
            depth -= 1
    return worst


def _int(v: Any, what: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ModelFileError(f"{what} must be an int in [{lo}, {hi}], got {str(v)[:40]!r}")
    return v


def _pair(
    conf: dict[str, Any], key: str, what: str, lo: int, default: list[int] | None = None
) -> tuple[int, int]:
    v = conf.get(key, default)
    if not isinstance(v, list) or len(v) != 2:
        raise ModelFileError(f"{what}: '{key}' must be a list of two ints, got {str(v)[:40]!r}")
    return (_int(v[0], f"{what} {key}", lo, MAX_DIM), _int(v[1], f"{what} {key}", lo, MAX_DIM))


_KEYS = {
    "dense": set(),
    "conv2d": {"stride", "padding"},
    "avgpool2d": {"kernel", "stride"},
    "maxpool2d": {"kernel"},
    "flatten": set(),
    "relu": set(),
}


def _param(arrays: dict[str, np.ndarray], i: int, key: str, ndim: int, path: Path) -> np.ndarray:
    a = arrays.get(f"layer{i}.{key}")
    if a is None:
        raise ModelFileError(f"{path}: layer {i} has no '{key}' array (member layer{i}.{key}.npy)")
    if a.ndim != ndim or a.dtype.kind not in "iuf":
        raise ModelFileError(
            f"{path}: layer {i} {key} must be a {ndim}-D numeric array, got {a.dtype} {a.shape}"
        )
    return a.astype(np.float64)


def _layer(i: int, conf: Any, arrays: dict[str, np.ndarray], path: Path) -> Layer:
    if not isinstance(conf, dict):
        raise ModelFileError(f"{path}: layer {i} must be a JSON object")
    kind = conf.get("type")
    if not isinstance(kind, str) or kind not in LAYER_TYPES:
        raise UnsupportedModelError(
            f"{path}: layer {i} has unsupported type {str(kind)[:40]!r}; supported: {sorted(LAYER_TYPES)}"
        )
    extra = set(conf) - _KEYS[kind] - {"type"}
    if extra:
        raise ModelFileError(f"{path}: layer {i} ({kind}) has unknown keys {sorted(extra)[:5]}")
    what = f"{path}: layer {i} ({kind})"
    if kind == "dense":
        return Dense(_param(arrays, i, "weight", 2, path), _param(arrays, i, "bias", 1, path))
    if kind == "conv2d":
        return Conv2d(
            _param(arrays, i, "weight", 4, path),
            _param(arrays, i, "bias", 1, path),
            stride=_pair(conf, "stride", what, 1, [1, 1]),
            padding=_pair(conf, "padding", what, 0, [0, 0]),
        )
    if kind == "avgpool2d":
        return AvgPool2d(kernel=_pair(conf, "kernel", what, 1), stride=_pair(conf, "stride", what, 1))
    if kind == "maxpool2d":
        return MaxPool2d(kernel=_pair(conf, "kernel", what, 1))
    return LAYER_TYPES[kind]()


def load_model(path: str | Path) -> Model:
    """Read and validate a model file (see the module docstring); bad files raise :class:`ModelFileError`."""
    p = _model_path(path, for_save=False)
    arrays = _read_arrays(p)
    if "format" not in arrays or _scalar_str(arrays, "format", p) != FORMAT_NAME:
        raise ModelFileError(f"{p} is not a {FORMAT_NAME} file (missing or wrong 'format')")
    ver = arrays.get("version")
    if ver is None or ver.shape != () or ver.dtype.kind not in "iu" or int(ver) != FORMAT_VERSION:
        raise ModelFileError(f"{p}: unsupported model format version {ver!r}, expected {FORMAT_VERSION}")
    text = _scalar_str(arrays, "spec", p)
    if len(text) > MAX_SPEC_CHARS:
        raise ModelFileError(f"{p}: the spec has {len(text):,} characters (limit {MAX_SPEC_CHARS:,})")
    if _depth(text) > MAX_JSON_DEPTH:
        raise ModelFileError(f"{p}: the spec is nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        spec = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"{p}: the spec is not valid JSON ({exc})") from exc
    if not isinstance(spec, dict):
        raise ModelFileError(f"{p}: the spec must be a JSON object")
    name = spec.get("name", "model")
    if not isinstance(name, str) or len(name) > 200:
        raise ModelFileError(f"{p}: 'name' must be a string of at most 200 characters")
    shape = spec.get("input_shape")
    if not isinstance(shape, list) or not 1 <= len(shape) <= 3:
        raise ModelFileError(f"{p}: 'input_shape' must be a list of 1 to 3 positive ints")
    input_shape = tuple(_int(d, f"{p}: input_shape entry", 1, MAX_DIM) for d in shape)
    head = spec.get("head", "argmax")
    if head not in HEADS:
        raise ModelFileError(f"{p}: 'head' must be one of {HEADS}, got {str(head)[:40]!r}")
    confs = spec.get("layers")
    if not isinstance(confs, list) or not 1 <= len(confs) <= MAX_LAYERS:
        raise ModelFileError(f"{p}: 'layers' must be a list of 1 to {MAX_LAYERS} layer objects")
    layers = [_layer(i, conf, arrays, p) for i, conf in enumerate(confs)]
    classes = arrays.get("classes")
    if classes is not None and (classes.ndim != 1 or classes.dtype.kind not in "biufU"):
        raise ModelFileError(f"{p}: 'classes' must be a 1-D array of numbers or strings")
    try:
        return Model(input_shape=input_shape, layers=layers, head=head, classes=classes, name=name)
    except ParameterError as exc:
        raise type(exc)(f"{p}: {exc}") from exc
