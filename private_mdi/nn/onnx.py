"""Import of ONNX graphs (``pip install cmpc-toolkit[onnx]``): PyTorch, scikit-learn (skl2onnx), Keras...

The graph must be a single chain from its one input to its one output, every other operand being an
initializer (or a ``Constant``). Supported operators and how they map:

==========================  ===================================================================
ONNX op                     private_mdi layer
==========================  ===================================================================
Gemm (transA = 0)           :class:`Dense` with ``W = alpha · op(B)ᵀ``, ``b = beta · C``
MatMul [+ Add]              :class:`Dense` (the Add of a constant is folded into the bias)
Conv (2-D, group 1)         :class:`Conv2d` (strides; symmetric pads; dilation 1)
Add (constant)              folded into the bias of the preceding Dense / Conv2d
BatchNormalization          folded into the preceding Dense / Conv2d (inference mode):
                            ``W ← W · γ/√(σ²+ε)``, ``b ← (b − μ) · γ/√(σ²+ε) + β``
Relu                        :class:`ReLU`
AveragePool                 :class:`AvgPool2d` (no padding, ceil_mode 0)
GlobalAveragePool           :class:`AvgPool2d` over the whole (H, W)
MaxPool                     :class:`MaxPool2d` when kernel = stride, no padding, next to a ReLU
Flatten (axis 1), Reshape   :class:`Flatten` (Reshape only to (batch, −1) / (batch, features))
Identity, Dropout           dropped (inference)
Cast (to a float type)      dropped (skl2onnx casts its input to float32)
Softmax, LogSoftmax         as the last node: dropped, argmax head (both are monotone)
Sigmoid                     as the last node: dropped, binary (1 output) or multilabel head
==========================  ===================================================================

**Converters' label tails.** After a final Softmax / Sigmoid a converter may append the steps that
turn scores into labels; skl2onnx does for every classifier, giving the graph a second output
(``label`` beside ``probabilities``). Exactly these steps are recognised, each checked against what it
must consume, and they fix the head's labels: ``Sub(1, p)`` and ``Concat([1 − p, p], axis=1)`` (binary),
``ArgMax(axis=1)`` over the probabilities, ``ArrayFeatureExtractor(classes, index)`` (the constant
``classes`` become :attr:`Model.classes`, as scikit-learn's ``classes_``), ``Reshape``, ``Cast``,
``Identity`` and ``ZipMap`` of those values. The private model computes the label through its head;
the probabilities are not produced (privateMDI reveals only the head's output).

Anything else raises :class:`~private_mdi.errors.UnsupportedModelError` naming the node and its op.
Without a final activation the head is ``argmax`` for several outputs and ``identity`` (regression)
for one; ``head=`` overrides.

Exporting (not run here: neither torch nor skl2onnx is a dependency of the library)::

    torch.onnx.export(net.eval(), torch.zeros(1, 1, 28, 28), "net.onnx")   # PyTorch
    onx = skl2onnx.to_onnx(mlp, X_train[:1].astype(np.float32),            # scikit-learn
                           options={id(mlp): {"zipmap": False}})
    model = Model.from_onnx(onx)       # or Model.from_onnx("net.onnx")
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ParameterError, UnsupportedModelError
from .layers import AvgPool2d, Conv2d, Dense, Flatten, Layer, MaxPool2d, ReLU
from .model import HEADS, Model

__all__ = ["SUPPORTED_OPS", "from_onnx"]

SUPPORTED_OPS = (
    "Add",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Constant",
    "Conv",
    "Dropout",
    "Flatten",
    "Gemm",
    "GlobalAveragePool",
    "Identity",
    "LogSoftmax",
    "MatMul",
    "MaxPool",
    "Relu",
    "Reshape",
    "Sigmoid",
    "Softmax",
)
_FINAL = {"Softmax": "argmax", "LogSoftmax": "argmax", "Sigmoid": "sigmoid"}
# label post-processing a converter may append after the final activation (module docstring)
TAIL_OPS = ("ArgMax", "ArrayFeatureExtractor", "Cast", "Concat", "Identity", "Reshape", "Sub", "ZipMap")
# onnx.TensorProto data types a Cast may target inside the chain: FLOAT, FLOAT16, DOUBLE, BFLOAT16
_FLOAT_TYPES = (1, 10, 11, 16)


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise UnsupportedModelError(
            "Model.from_onnx needs the onnx package: pip install 'cmpc-toolkit[onnx]'"
        ) from exc
    return onnx


def _load(source: Any) -> Any:
    onnx = _onnx()
    if isinstance(source, onnx.ModelProto):
        return source
    try:
        if isinstance(source, bytes | bytearray):
            return onnx.load_from_string(bytes(source))
        if isinstance(source, str | Path):
            if not Path(source).is_file():
                raise ParameterError(f"ONNX file {source} does not exist")
            return onnx.load(str(source))
    except ParameterError:
        raise
    except Exception as exc:  # the protobuf parser raises several unrelated types
        raise ParameterError(f"cannot read ONNX model {str(source)[:200]}: {exc}") from exc
    raise ParameterError(f"from_onnx takes a path, bytes or an onnx.ModelProto, got {type(source).__name__}")


class _Chain:
    """State of the walk: layers so far, the current tensor's name and its shape (without batch)."""

    def __init__(self, name: str, shape: tuple[int, ...]) -> None:
        self.layers: list[Layer] = []
        self.tensor = name
        self.shape = shape

    def push(self, layer: Layer) -> None:
        self.shape = layer.output_shape(self.shape)
        self.layers.append(layer)

    def last_linear(self, node: Any) -> Dense | Conv2d:
        if not self.layers or not isinstance(self.layers[-1], Dense | Conv2d):
            raise UnsupportedModelError(
                f"node {node.name!r} (op {node.op_type}) must directly follow a Gemm/MatMul or Conv "
                "(it is folded into that layer)"
            )
        return self.layers[-1]


def _attrs(node: Any) -> dict[str, Any]:
    onnx = _onnx()
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _refuse(node: Any, why: str) -> UnsupportedModelError:
    return UnsupportedModelError(f"node {node.name!r} (op {node.op_type}): {why}")


def _two(node: Any, values: Any, what: str) -> tuple[int, int]:
    t = [int(v) for v in values]
    if len(t) != 2:
        raise _refuse(node, f"only 2-D {what} is supported, got {t}")
    return (t[0], t[1])


def _pool_params(node: Any, at: dict[str, Any]) -> tuple[tuple[int, int], tuple[int, int]]:
    kernel = _two(node, at.get("kernel_shape", ()), "pooling kernel")
    stride = _two(node, at.get("strides", (1, 1)), "pooling stride")
    if any(int(p) for p in at.get("pads", ())) or at.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise _refuse(node, "padded pooling is not supported")
    if int(at.get("ceil_mode", 0)) or any(int(d) != 1 for d in at.get("dilations", (1, 1))):
        raise _refuse(node, "ceil_mode and dilations are not supported")
    return kernel, stride


def _fold_scale_shift(layer: Dense | Conv2d, scale: np.ndarray, shift: np.ndarray) -> None:
    """``y ← scale · y + shift`` per output unit / channel, folded into the layer's parameters."""
    shape = (-1, *([1] * (layer.weight.ndim - 1)))
    layer.weight = layer.weight * scale.reshape(shape)
    layer.bias = layer.bias * scale + shift


def _node(chain: _Chain, node: Any, consts: dict[str, np.ndarray]) -> None:
    op = node.op_type
    at = _attrs(node)
    if op in ("Identity", "Dropout"):
        return
    if op == "Cast":
        if int(at.get("to", 0)) not in _FLOAT_TYPES:
            raise _refuse(node, f"only a cast to a floating-point type is supported, got type {at.get('to')}")
        return
    if op == "Relu":
        chain.push(ReLU())
    elif op == "Gemm":
        if int(at.get("transA", 0)):
            raise _refuse(node, "transA = 1 is not supported")
        b = consts[node.input[1]].astype(np.float64)
        b = b.T if int(at.get("transB", 0)) else b  # (in, out)
        w = float(at.get("alpha", 1.0)) * b.T
        c = consts[node.input[2]] if len(node.input) > 2 and node.input[2] else np.zeros(w.shape[0])
        bias = float(at.get("beta", 1.0)) * np.broadcast_to(
            np.asarray(c, np.float64).reshape(-1), (w.shape[0],)
        )
        if len(chain.shape) != 1:
            chain.push(Flatten())
        chain.push(Dense(w, bias))
    elif op == "MatMul":
        b = consts[node.input[1]].astype(np.float64)
        if b.ndim != 2:
            raise _refuse(node, f"the constant operand must be a 2-D matrix, got shape {b.shape}")
        chain.push(Dense(b.T, np.zeros(b.shape[1])))
    elif op == "Add":
        layer = chain.last_linear(node)
        c = np.asarray(consts[node.input[1]], np.float64)
        n_out = layer.bias.shape[0]
        if c.size == 1 or c.size == n_out:
            layer.bias = layer.bias + c.reshape(-1)
        else:
            raise _refuse(node, f"can only add a per-output constant ({n_out} values), got shape {c.shape}")
    elif op == "BatchNormalization":
        layer = chain.last_linear(node)
        gamma, beta, mean, var = (np.asarray(consts[n], np.float64).reshape(-1) for n in node.input[1:5])
        scale = gamma / np.sqrt(var + float(at.get("epsilon", 1e-5)))
        _fold_scale_shift(layer, scale, beta - mean * scale)
    elif op == "Conv":
        w = consts[node.input[1]].astype(np.float64)
        if w.ndim != 4:
            raise _refuse(node, f"only 2-D convolutions are supported, weight shape {w.shape}")
        if int(at.get("group", 1)) != 1 or any(int(d) != 1 for d in at.get("dilations", (1, 1))):
            raise _refuse(node, "grouped or dilated convolutions are not supported")
        if at.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise _refuse(node, "auto_pad is not supported: export with explicit pads")
        pads = [int(p) for p in at.get("pads", (0, 0, 0, 0))]
        if pads[0] != pads[2] or pads[1] != pads[3]:
            raise _refuse(node, f"asymmetric pads {pads} are not supported")
        bias = consts[node.input[2]] if len(node.input) > 2 and node.input[2] else np.zeros(w.shape[0])
        stride = _two(node, at.get("strides", (1, 1)), "convolution stride")
        chain.push(Conv2d(w, np.asarray(bias, np.float64), stride=stride, padding=(pads[0], pads[1])))
    elif op == "AveragePool":
        kernel, stride = _pool_params(node, at)
        chain.push(AvgPool2d(kernel=kernel, stride=stride))
    elif op == "GlobalAveragePool":
        if len(chain.shape) != 3:
            raise _refuse(node, f"needs a (C, H, W) input, got {chain.shape}")
        chain.push(AvgPool2d(kernel=chain.shape[1:], stride=chain.shape[1:]))
    elif op == "MaxPool":
        kernel, stride = _pool_params(node, at)
        if stride != kernel:
            raise _refuse(
                node, f"max pooling needs stride = kernel (non-overlapping), got {stride} vs {kernel}"
            )
        chain.push(MaxPool2d(kernel=kernel))
    elif op == "Flatten":
        if int(at.get("axis", 1)) != 1:
            raise _refuse(node, "only axis = 1 is supported")
        chain.push(Flatten())
    elif op == "Reshape":
        target = [int(v) for v in consts[node.input[1]].reshape(-1)]
        if len(target) != 2 or target[1] not in (-1, math.prod(chain.shape)) or target[0] not in (-1, 0, 1):
            raise _refuse(node, f"only a reshape to (batch, features) is supported, got {target}")
        chain.push(Flatten())
    else:
        raise _refuse(node, f"unsupported operator; supported: {', '.join(SUPPORTED_OPS)}")


def _on_class_axis(at: dict[str, Any]) -> bool:
    """The step works along axis 1 of (batch, classes) (ONNX's default axis for ArgMax is 0)."""
    return int(at.get("axis", 0)) in (1, -1)


def _label_tail(
    nodes: list[Any], consts: dict[str, np.ndarray], out: str, start: str
) -> tuple[Any, set[str]]:
    """Check a converter's label post-processing after the final activation (module docstring).

    Each tensor gets a meaning (``start`` for the activation's output: ``probs`` after a Softmax,
    ``scores`` after a one-output Sigmoid, ``sigmoids`` after a several-output Sigmoid (multilabel: no
    argmax); ``neg``: ``1 − p``; ``probs``: class probabilities whose argmax is the label index;
    ``index``; ``label``), and every step must
    consume the meaning it expects, so a tail that would reorder or alter the classes is refused.
    Returns the constant ``classes`` of an ArrayFeatureExtractor (or None) and the tensors it explains.
    """
    onnx = _onnx()
    kind = {out: start}
    classes: Any = None
    for node in nodes:
        op, ins, at = node.op_type, list(node.input), _attrs(node)
        if op == "Constant":
            consts[node.output[0]] = onnx.numpy_helper.to_array(at["value"])
            continue
        if op not in TAIL_OPS:
            raise _refuse(
                node,
                "after the final activation only a converter's label steps are supported "
                f"({', '.join(TAIL_OPS)})",
            )
        first = kind.get(ins[0]) if ins else None
        if op in ("Identity", "Cast", "ZipMap") and first is not None:
            new = first
        elif (
            op == "Sub"
            and len(ins) == 2
            and ins[0] in consts
            and np.all(np.asarray(consts[ins[0]]) == 1)
            and kind.get(ins[1]) == "scores"
        ):
            new = "neg"
        elif op == "Concat" and [kind.get(i) for i in ins] == ["neg", "scores"] and _on_class_axis(at):
            new = "probs"
        elif op == "ArgMax" and first == "probs" and _on_class_axis(at):
            new = "index"
        elif (
            op == "ArrayFeatureExtractor"
            and len(ins) == 2
            and ins[0] in consts
            and kind.get(ins[1]) == "index"
        ):
            classes = np.asarray(consts[ins[0]]).reshape(-1)
            new = "label"
        elif op == "Reshape" and first in ("index", "label"):
            new = first
        else:
            raise _refuse(
                node,
                "not a recognised label step (expected Sub(1, p) → Concat([1 − p, p]) for a binary "
                "sigmoid, ArgMax over the probabilities, ArrayFeatureExtractor(classes, index), "
                "Reshape, Cast, Identity, ZipMap)",
            )
        for o in node.output:
            kind[o] = new
    if classes is not None and classes.dtype == object:  # string classes come back as bytes
        classes = np.asarray([c.decode() if isinstance(c, bytes) else str(c) for c in classes])
    return classes, set(kind)


def from_onnx(source: Any, *, name: str | None = None, head: str | None = None, classes: Any = None) -> Model:
    """Convert an ONNX model (path, serialized bytes or ``onnx.ModelProto``); see the module docstring.

    ``classes`` (labels of the head's outputs) defaults to the constant classes of a converter's label
    tail (skl2onnx), if the graph has one.
    """
    onnx = _onnx()
    proto = _load(source)
    graph = proto.graph
    consts = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in consts]
    if len(inputs) != 1:
        raise UnsupportedModelError(f"the ONNX graph must have one data input, got {len(inputs)}")
    dims = [d.dim_value if d.HasField("dim_value") else 0 for d in inputs[0].type.tensor_type.shape.dim]
    shape = tuple(dims[1:])
    if not shape or min(shape) < 1:
        raise UnsupportedModelError(f"the input needs a batch axis and fixed sizes, got dims {dims}")
    chain = _Chain(inputs[0].name, shape)
    final_head: str | None = None
    explained = {inputs[0].name}
    tail_classes: Any = None
    nodes = list(graph.node)
    for k, node in enumerate(nodes):
        if node.op_type == "Constant":
            consts[node.output[0]] = onnx.numpy_helper.to_array(_attrs(node)["value"])
            continue
        if not node.input or node.input[0] != chain.tensor:
            raise _refuse(
                node, "the graph is not a single chain (its first input is not the previous output)"
            )
        missing = [n for n in node.input[1:] if n and n not in consts]
        if missing:
            raise _refuse(node, f"operands {missing} must be constants (initializers)")
        chain.tensor = node.output[0]
        if node.op_type in _FINAL:
            final_head = _FINAL[node.op_type]
            if final_head == "argmax":
                start = "probs"
            else:
                start = "scores" if math.prod(chain.shape) == 1 else "sigmoids"
            tail_classes, explained = _label_tail(nodes[k + 1 :], consts, chain.tensor, start)
            break
        _node(chain, node, consts)
    outputs = [o.name for o in graph.output]
    if final_head is None or len(explained) == 1:
        if outputs != [chain.tensor]:
            raise UnsupportedModelError(
                f"the graph outputs {outputs} are not the end of the chain ({chain.tensor!r}): the graph "
                "must have one output (or a converter's label outputs after a final Softmax / Sigmoid)"
            )
    elif unexplained := [o for o in outputs if o not in explained]:
        raise UnsupportedModelError(f"graph outputs {unexplained} do not come from the model's scores")
    out_dim = math.prod(chain.shape)
    if len(chain.shape) != 1:
        chain.push(Flatten())
    if final_head == "sigmoid":
        final_head = "binary" if out_dim == 1 else "multilabel"
    chosen = head or final_head or ("argmax" if out_dim > 1 else "identity")
    if chosen not in HEADS:
        raise ParameterError(f"head must be one of {HEADS}, got {head!r}")
    labels = classes if classes is not None else tail_classes
    return Model(shape, chain.layers, head=chosen, classes=labels, name=name or graph.name or "onnx")
