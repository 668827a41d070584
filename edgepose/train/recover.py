"""Recover a trainable torch state_dict from an exported (fp32 or int8 QDQ) ONNX file.

The shipped int8 files were exported from the torch model in eval mode, so every BatchNorm
is folded into the convolution before it (``W' = W * gamma / sqrt(var + eps)``, ``b' = beta
- mean * gamma / sqrt(var + eps)``), and NNCF then stored the weights as int8 with float
scales (``DequantizeLinear`` of int8 initializers, per output channel) and activations as
``QuantizeLinear -> DequantizeLinear`` pairs. :func:`recover_state_dict` inverts this:

1. the weights are dequantised (``(q - zero_point) * scale``, per tensor or per axis; a
   ``QuantizeLinear -> DequantizeLinear`` pair on a float initializer is evaluated as well);
2. every ``Conv`` / ``Gemm`` / ``MatMul`` (with a constant weight) is taken in graph order
   and mapped onto the torch model's ``Conv2d`` / ``Linear`` modules in the order the
   forward pass calls them, checking shapes (and conv strides / pads / groups) one by one;
3. each ``Conv2d`` (no bias) followed by a ``BatchNorm2d`` gets ``weight = W'`` and its BN is
   *un-folded*: with ``m``, ``v`` the per-channel mean and (biased) variance of ``W' x``
   over the calibration images, ``running_mean = m``, ``running_var = v``,
   ``BN weight = sqrt(v + eps)``, ``BN bias = m + b'``. Then the eval-mode BN computes
   ``W' x + b'`` exactly (up to float rounding), and the train-mode batch statistics of
   calibration-like batches start at the running ones. By default each channel of ``W'`` is
   then divided by a scale ``s`` that gives it the norm of a fresh init, with
   ``running_mean = m / s``, ``running_var = v / s^2`` and ``BN weight = sqrt(v + eps s^2)``:
   the same function, and step sizes that fine-tuning with Adam does not wreck
   (:func:`_init_scale`).

The statistics are those of the recovered network itself: one calibration pass runs after
all weights are set, with every BN replaced (through a forward hook) by the exact
pass-through ``conv_out + b'``, which is what the final eval-mode model computes, whatever
``m`` and ``v`` turn out to be.

Heads (``Linear``, a ``Conv2d`` with its own bias, such as SimDR's 1x1 ``final_layer``) map
directly. The int8 rounding of the weights is of course not undone: the recovered model is
the int8 file's weights in float32, without the activation fake-quantization.
"""

from __future__ import annotations

import logging
import lzma
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edgepose.errors import InputError, ModelFileError
from edgepose.nn.weights import CheckpointMismatchError

__all__ = ["OnnxLayer", "RecoveryReport", "load_onnx", "onnx_weight_layers", "dequantized_float_model",
           "recover_state_dict"]

logger = logging.getLogger(__name__)

_WEIGHT_OPS = ("Conv", "Gemm", "MatMul")
_UNSUPPORTED_MODULES = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Conv1d, nn.Conv3d,
                        nn.BatchNorm1d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm, nn.PReLU, nn.Embedding)


@dataclass(frozen=True)
class OnnxLayer:
    """One weight layer of the ONNX graph, already in torch layout.

    Attributes:
        node: ONNX node name (or its weight's name when the node has none).
        op: "Conv", "Gemm" or "MatMul".
        weight: float32, ``(out, in/groups, kh, kw)`` for Conv, ``(out, in)`` for Gemm/MatMul.
        bias: float32 ``(out,)`` or None (no bias in the graph).
        attrs: Conv only: ``strides``, ``pads`` (begin..., end...), ``dilations``, ``group``.
    """

    node: str
    op: str
    weight: np.ndarray
    bias: np.ndarray | None
    attrs: dict[str, Any]

    def describe(self) -> str:
        """E.g. ``ONNX Conv 'node_conv1' (weight (64, 3, 7, 7))``."""
        return f"ONNX {self.op} {self.node!r} (weight {tuple(self.weight.shape)})"


@dataclass(frozen=True)
class RecoveryReport:
    """What :func:`recover_state_dict` did and how close the result is to the ONNX file.

    Attributes:
        layers: weight layers mapped (ONNX Conv/Gemm/MatMul -> torch Conv2d/Linear).
        tensors: state_dict tensors set from the file (weights and biases, BN parameters and
            running statistics included); the rest (``num_batches_tracked``) keep the model's values.
        batchnorms: BatchNorm2d layers un-folded.
        calibration_images: images in the statistics pass.
        compared_images: images of the output comparison (the first calibration images).
        max_abs_diff_float: max |torch eval output - onnxruntime| on the ONNX graph with its
            weights dequantised and its activation Q/DQ pairs removed (float32 throughout): the
            exactness of the recovery itself (output units: logits / heatmap values).
        max_abs_diff_file: the same against onnxruntime on the file as it is (int8 activations
            included): the quantization error of the file, not of the recovery.
        max_abs_output: max |output| of the torch model on those images (scale of the two above).
    """

    layers: int
    tensors: int
    batchnorms: int
    calibration_images: int
    compared_images: int
    max_abs_diff_float: float | None
    max_abs_diff_file: float | None
    max_abs_output: float | None

    def summary(self) -> str:
        """One line for logs."""
        text = (f"{self.layers} weight layers / {self.tensors} tensors recovered, {self.batchnorms} BatchNorms "
                f"un-folded on {self.calibration_images} calibration images")
        if self.compared_images:
            text += (f"; on {self.compared_images} of them, max |torch - onnxruntime| = {self.max_abs_diff_float:.3g}"
                     f" against the dequantised float graph, {self.max_abs_diff_file:.3g} against the file as it is"
                     f" (outputs up to {self.max_abs_output:.3g})")
        return text


# ---- reading the ONNX file --------------------------------------------------------------------
def load_onnx(path: str | os.PathLike[str]) -> Any:
    """Read an ONNX file (``.xz``-packed or not) into an ``onnx.ModelProto``.

    Raises:
        ModelFileError: missing file, damaged xz stream, or not an ONNX model.
    """
    import onnx
    from google.protobuf.message import DecodeError

    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"ONNX file {p} does not exist")
    try:
        data = lzma.decompress(p.read_bytes()) if p.suffix == ".xz" else p.read_bytes()
    except (OSError, lzma.LZMAError, EOFError) as exc:
        raise ModelFileError(f"cannot read {p}: {type(exc).__name__}: {exc}") from None
    try:
        model = onnx.load_from_string(data)
    except (DecodeError, ValueError) as exc:
        raise ModelFileError(f"{p} is not an ONNX model ({type(exc).__name__}: {exc})") from None
    if not model.graph.node:
        raise ModelFileError(f"{p} is not an ONNX model (no graph nodes)")
    return model


def _attr(node: Any, name: str, default: Any = None) -> Any:
    import onnx

    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _dequantize(q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None, axis: int) -> np.ndarray:
    """``(q - zero_point) * scale`` in float32, as onnxruntime computes it; per tensor or per ``axis``."""
    if scale.ndim > 1:
        raise ModelFileError(f"block-wise quantization (scale of shape {scale.shape}) is not supported")
    zp = np.zeros((), np.int32) if zero_point is None else zero_point.astype(np.int32)
    diff = (q.astype(np.int32) - _along(zp, axis, q.ndim)).astype(np.float32)
    return diff * _along(scale.astype(np.float32), axis, q.ndim)


def _quantize(x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None, axis: int) -> np.ndarray:
    """``saturate(round_half_even(x / scale) + zero_point)`` in the zero point's integer type (uint8 without one)."""
    if scale.ndim > 1:
        raise ModelFileError(f"block-wise quantization (scale of shape {scale.shape}) is not supported")
    dtype = np.uint8 if zero_point is None else zero_point.dtype
    if not np.issubdtype(dtype, np.integer):
        raise ModelFileError(f"QuantizeLinear to {dtype} is not supported (integer types only)")
    zp = np.zeros((), np.int64) if zero_point is None else zero_point.astype(np.int64)
    info = np.iinfo(dtype)
    y = np.rint(x.astype(np.float32) / _along(scale.astype(np.float32), axis, x.ndim)).astype(np.int64)
    return np.clip(y + _along(zp, axis, x.ndim), info.min, info.max).astype(dtype)


def _along(values: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    """A 0-d array as it is; a 1-d array reshaped to broadcast along ``axis`` of an ``ndim`` array."""
    if values.ndim == 0 or ndim == 0:
        return values
    shape = [1] * ndim
    shape[axis % ndim] = values.size
    return values.reshape(shape)


class _Constants:
    """Values of the graph's constant tensors: initializers, ``Constant`` nodes, and
    ``DequantizeLinear`` / ``QuantizeLinear`` / ``Identity`` / ``Transpose`` of constants."""

    def __init__(self, graph: Any) -> None:
        from onnx import numpy_helper

        self._to_array = numpy_helper.to_array
        self.initializers = {i.name: i for i in graph.initializer}
        self.producers = {o: n for n in graph.node for o in n.output}
        self._cache: dict[str, np.ndarray | None] = {}

    def value(self, name: str) -> np.ndarray | None:
        """The value of tensor ``name``, or None if it depends on the graph's input."""
        if name not in self._cache:
            self._cache[name] = self._compute(name)
        return self._cache[name]

    def _compute(self, name: str) -> np.ndarray | None:
        if name in self.initializers:
            return self._to_array(self.initializers[name])
        node = self.producers.get(name)
        if node is None:
            return None
        if node.op_type == "Constant":
            value = _attr(node, "value")
            return None if value is None else self._to_array(value)
        if node.op_type not in ("DequantizeLinear", "QuantizeLinear", "Identity", "Transpose"):
            return None
        inputs = [self.value(i) if i else None for i in node.input]
        if inputs[0] is None or (len(inputs) > 1 and inputs[1] is None):
            return None
        if node.op_type == "Identity":
            return inputs[0]
        if node.op_type == "Transpose":
            perm = _attr(node, "perm")
            return np.transpose(inputs[0], None if perm is None else list(perm))
        zero_point = inputs[2] if len(inputs) > 2 else None
        axis = int(_attr(node, "axis", 1))
        if node.op_type == "DequantizeLinear":
            return _dequantize(inputs[0], inputs[1], zero_point, axis)
        return _quantize(inputs[0], inputs[1], zero_point, axis)


def onnx_weight_layers(model: Any) -> list[OnnxLayer]:
    """The Conv / Gemm / MatMul layers with constant weights, in graph order, dequantised.

    A MatMul's bias is the constant operand of the ``Add`` that alone consumes its output.

    Raises:
        ModelFileError: a Conv with a non-constant weight, a Gemm with ``transA``.
    """
    graph = model.graph
    consts = _Constants(graph)
    consumers: dict[str, list[Any]] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    layers: list[OnnxLayer] = []
    for n in graph.node:
        if n.op_type not in _WEIGHT_OPS:
            continue
        name = n.name or n.input[1]
        weight = consts.value(n.input[1])
        bias_name = n.input[2] if len(n.input) > 2 and n.input[2] else None
        bias = consts.value(bias_name) if bias_name else None
        if n.op_type == "Conv":
            if weight is None or (bias_name and bias is None):
                raise ModelFileError(f"ONNX Conv {name!r} has a weight or bias computed from the input; not a layer")
            if _attr(n, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                raise ModelFileError(f"ONNX Conv {name!r} uses auto_pad; only explicit pads are supported")
            k = weight.ndim - 2
            attrs = {"strides": tuple(_attr(n, "strides", [1] * k)), "pads": tuple(_attr(n, "pads", [0] * 2 * k)),
                     "dilations": tuple(_attr(n, "dilations", [1] * k)), "group": int(_attr(n, "group", 1))}
        elif n.op_type == "Gemm":
            if weight is None:
                continue
            if _attr(n, "transA", 0):
                raise ModelFileError(f"ONNX Gemm {name!r} has transA=1; not a Linear layer")
            weight = weight * np.float32(_attr(n, "alpha", 1.0))
            weight = weight if _attr(n, "transB", 0) else weight.T
            if bias is not None:
                bias = np.broadcast_to(bias * np.float32(_attr(n, "beta", 1.0)), (weight.shape[0],))
            attrs = {}
        else:  # MatMul x @ B: B is (in, out)
            if weight is None or weight.ndim != 2:
                continue  # activation x activation (attention), not a layer
            weight = weight.T
            bias = None
            users = consumers.get(n.output[0], [])
            if len(users) == 1 and users[0].op_type == "Add":
                other = [i for i in users[0].input if i != n.output[0]]
                value = consts.value(other[0]) if len(other) == 1 else None
                if value is not None and value.size == weight.shape[0]:
                    bias = value.reshape(-1)
            attrs = {}
        layers.append(OnnxLayer(name, n.op_type, np.ascontiguousarray(weight, np.float32),
                                None if bias is None else np.ascontiguousarray(bias, np.float32).reshape(-1), attrs))
    return layers


def dequantized_float_model(model: Any) -> Any:
    """A copy of ``model`` in float32 throughout: constant DequantizeLinear outputs become
    float initializers and each activation ``QuantizeLinear -> DequantizeLinear`` pair an
    ``Identity``. The graph then computes what the recovered torch model computes."""
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    consts = _Constants(graph)
    producers = consts.producers
    consumers: dict[str, list[Any]] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    outputs = {o.name for o in graph.output}
    nodes, new_inits = [], []
    for n in graph.node:
        if n.op_type == "DequantizeLinear":
            value = consts.value(n.output[0])
            if value is not None:
                new_inits.append(numpy_helper.from_array(value.astype(np.float32), n.output[0]))
                continue
            src = producers.get(n.input[0])
            if src is not None and src.op_type == "QuantizeLinear":
                nodes.append(helper.make_node("Identity", [src.input[0]], [n.output[0]]))
                continue
        if n.op_type == "QuantizeLinear" and n.output[0] not in outputs and all(
                c.op_type == "DequantizeLinear" for c in consumers.get(n.output[0], [])):
            continue
        nodes.append(n)
    used = {i for n in nodes for i in n.input}
    inits = [i for i in graph.initializer if i.name in used] + [i for i in new_inits if i.name in used]
    new_graph = helper.make_graph(nodes, graph.name, list(graph.input), list(graph.output), inits)
    out = helper.make_model(new_graph, opset_imports=list(model.opset_import))
    out.ir_version = model.ir_version
    onnx.checker.check_model(out)
    return out


# ---- the torch side ---------------------------------------------------------------------------
@dataclass
class _Trace:
    """What one traced forward pass showed about the torch model."""

    layers: list[tuple[str, nn.Module]]  # Conv2d / Linear in call order
    bn_of: dict[str, tuple[str, nn.BatchNorm2d]]  # conv name -> (BN name, BN) that takes its output


def _trace(model: nn.Module, sample: torch.Tensor) -> _Trace:
    """Call order of the Conv2d / Linear modules, and which BatchNorm2d reads which conv's output."""
    names = {m: n for n, m in model.named_modules()}
    bad = [f"{n} ({type(m).__name__})" for n, m in model.named_modules() if isinstance(m, _UNSUPPORTED_MODULES)]
    if bad:
        raise InputError(f"cannot recover {type(model).__name__}: unsupported layers {', '.join(bad[:5])}")
    calls: list[nn.Module] = []
    conv_out: dict[int, tuple[torch.Tensor, str]] = {}
    bn_input: dict[str, str] = {}

    def on_layer(module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        calls.append(module)
        if isinstance(module, nn.Conv2d):
            conv_out[id(output)] = (output, names[module])

    def on_bn(module: nn.Module, inputs: Any) -> None:
        found = conv_out.get(id(inputs[0]))
        if found is None or found[0] is not inputs[0]:
            raise InputError(f"BatchNorm {names[module]!r} does not directly follow a Conv2d; cannot un-fold it")
        bn_input[found[1]] = names[module]

    handles = []
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            handles.append(m.register_forward_hook(on_layer))
        elif isinstance(m, nn.BatchNorm2d):
            handles.append(m.register_forward_pre_hook(on_bn))
    try:
        with torch.no_grad():
            model(sample)
    finally:
        for h in handles:
            h.remove()
    twice = {names[m] for m in calls if calls.count(m) > 1}
    if twice:
        raise InputError(f"modules {sorted(twice)} run more than once per forward pass; cannot map them")
    modules = dict(model.named_modules())
    bns = {n for n, m in modules.items() if isinstance(m, nn.BatchNorm2d)}
    unused = bns - set(bn_input.values())
    if unused:
        raise InputError(f"BatchNorm layers {sorted(unused)[:5]} are not run by the forward pass")
    return _Trace([(names[m], m) for m in calls],
                  {conv: (bn, modules[bn]) for conv, bn in bn_input.items()})  # type: ignore[misc]


def _check_fits(index: int, layer: OnnxLayer, name: str, module: nn.Module) -> None:
    """Raise CheckpointMismatchError unless ``layer`` fits torch ``module`` (kind, weight shape, conv geometry)."""
    kind = "Conv" if isinstance(module, nn.Conv2d) else "Linear"
    problem = None
    if (layer.op == "Conv") != (kind == "Conv"):
        problem = f"a {layer.op} against a {type(module).__name__}"
    elif tuple(layer.weight.shape) != tuple(module.weight.shape):
        problem = f"weight {tuple(layer.weight.shape)} against {tuple(module.weight.shape)}"
    elif layer.bias is not None and module.bias is not None and layer.bias.shape[0] != module.bias.shape[0]:
        problem = f"bias ({layer.bias.shape[0]},) against ({module.bias.shape[0]},)"
    elif kind == "Conv":
        a = layer.attrs
        padding = module.padding if not isinstance(module.padding, str) else None
        want = {"strides": tuple(module.stride), "dilations": tuple(module.dilation), "group": module.groups}
        if padding is not None:
            want["pads"] = tuple(padding) * 2
        diff = [f"{k} {a[k]} against {v}" for k, v in want.items() if a[k] != v]
        problem = ", ".join(diff) or None
    if problem:
        raise CheckpointMismatchError(
            f"layer #{index}: {layer.describe()} does not fit torch module {name!r} ({type(module).__name__}, "
            f"weight {tuple(module.weight.shape)}): {problem}; the ONNX file was exported from another model"
        )


def _batches(calibration: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    """The calibration batches as a list of float32 ``(B, 3, H, W)`` tensors; InputError if there is no image."""
    out = [torch.as_tensor(b, dtype=torch.float32) for b in calibration]
    if not out or not sum(len(b) for b in out):
        raise InputError("no calibration images: the BatchNorm statistics need at least one batch")
    return out


class _ChannelStats:
    """Per-channel mean and biased variance of ``(B, C, H, W)`` tensors, merged batch by batch (float64)."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: torch.Tensor | None = None
        self.m2: torch.Tensor | None = None

    def add(self, x: torch.Tensor) -> None:
        x = x.detach().to(torch.float64).transpose(0, 1).reshape(x.shape[1], -1)
        n = x.shape[1]
        mean = x.mean(dim=1)
        m2 = ((x - mean[:, None]) ** 2).sum(dim=1)
        if self.mean is None or self.m2 is None:
            self.count, self.mean, self.m2 = n, mean, m2
            return
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta ** 2 * (self.count * n / total)
        self.count = total

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.mean is not None and self.m2 is not None
        return self.mean.float(), (self.m2 / self.count).float()


def _outputs(model: nn.Module, x: torch.Tensor) -> list[np.ndarray]:
    """Outputs of ``model`` on ``x`` as float32 numpy arrays, in order."""
    with torch.no_grad():
        out = model(x)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o.detach().float().cpu().numpy() for o in outs]


def _onnx_outputs(model: Any, x: np.ndarray) -> list[np.ndarray]:
    """onnxruntime outputs (graph order) of ONNX ``model`` on ``x (N, 3, H, W)`` (in chunks of the
    file's batch size when that is fixed)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    first = session.get_inputs()[0]
    step = first.shape[0] if isinstance(first.shape[0], int) and first.shape[0] > 0 else len(x)  # fixed batch size
    parts = [session.run(None, {first.name: x[i:i + step]}) for i in range(0, len(x), step)]
    return [np.concatenate([np.asarray(p[j], np.float32) for p in parts]) for j in range(len(parts[0]))]


def _max_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """Largest |a - b| over paired outputs (shapes must match)."""
    if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b)):
        raise CheckpointMismatchError(
            f"torch outputs {[x.shape for x in a]} and ONNX outputs {[y.shape for y in b]} differ")
    return max(float(np.max(np.abs(x.astype(np.float64) - y))) for x, y in zip(a, b))


def _init_scale(weight: torch.Tensor) -> torch.Tensor:
    """Per output channel ``s`` such that ``weight / s`` has the expected norm of a fresh init.

    The folded ``W' = W * gamma / sqrt(var + eps)`` can be orders of magnitude off the scale
    the layer was trained at, and Adam's steps are about ``lr`` per weight whatever the
    weight's size: fine-tuning a recovered model at the recipe's lr then wrecks the layers
    with small ``W'``. A BatchNorm in train mode is invariant to the scale of the conv before
    it, so dividing channel ``c`` by ``s_c`` (and the running statistics with it) changes no
    output and gives Adam the step sizes it has on a trained checkpoint. The target is the
    norm of a Kaiming-normal init in fan-out mode (the trunks' init): ``sqrt(2 / fan_out)``
    per weight, ``fan_out = out_channels * kernel area``.

    Args:
        weight: conv weight ``(C_out, C_in / groups, kh, kw)``.

    Returns:
        ``(C_out,)`` positive scales (1 where a channel is all zeros).
    """
    fan_out = weight.shape[0] * int(np.prod(weight.shape[2:]))
    per_channel = int(np.prod(weight.shape[1:]))
    target = np.sqrt(2.0 / fan_out) * np.sqrt(per_channel)
    norm = weight.flatten(1).norm(dim=1)
    return torch.where(norm > 0, norm / target, torch.ones_like(norm))


def recover_state_dict(
    onnx_path: str | os.PathLike[str],
    model: nn.Module,
    calibration_batches: Iterable[torch.Tensor],
    *,
    compare_images: int = 8,
    rescale: bool = True,
) -> tuple[dict[str, torch.Tensor], RecoveryReport]:
    """Recover ``model``'s weights from an ONNX file exported from it (see module docstring).

    Args:
        onnx_path: ``.onnx`` or ``.onnx.xz`` file (fp32, or int8 QDQ), BatchNorm folded.
        model: the torch model of the same architecture (e.g. ``edgepose.nn.build(spec)``);
            its weights are overwritten, and it is left in eval mode.
        calibration_batches: image batches ``(B, 3, H, W)`` float32, normalised as the model
            expects (eval transform); their per-channel conv-output statistics become the
            BatchNorm running statistics.
        compare_images: compare torch with onnxruntime on the first this many calibration
            images (0: skip the comparison; the report's diffs are then None).
        rescale: give each output channel of a conv followed by a BatchNorm the norm of a
            fresh Kaiming-normal (fan-out) init, moving the scale into the BatchNorm (see
            :func:`_init_scale`); False keeps the folded ``W'``.

    Returns:
        ``(state_dict, report)``: ``model.state_dict()`` (CPU tensors) after recovery and a
        :class:`RecoveryReport`.

    Raises:
        ModelFileError: unreadable file or unsupported quantization.
        CheckpointMismatchError (a ModelFileError): the first ONNX layer whose kind or shape
            does not fit the torch module at the same position, or unequal layer counts.
        InputError: no calibration images, or a model with layers this cannot map.
    """
    onnx_model = load_onnx(onnx_path)
    layers = onnx_weight_layers(onnx_model)
    batches = _batches(calibration_batches)
    model = model.cpu().eval()
    trace = _trace(model, batches[0][:1])
    for i, (layer, (name, module)) in enumerate(zip(layers, trace.layers)):
        _check_fits(i, layer, name, module)
    if len(layers) != len(trace.layers):
        raise CheckpointMismatchError(
            f"{onnx_path} has {len(layers)} weight layers (Conv/Gemm/MatMul), {type(model).__name__} has "
            f"{len(trace.layers)} (Conv2d/Linear); the first {min(len(layers), len(trace.layers))} fit: the file "
            "was exported from another model")
    covered: set[str] = set()
    folded: dict[str, torch.Tensor] = {}  # BN name -> folded bias b'
    with torch.no_grad():
        for layer, (name, module) in zip(layers, trace.layers):
            module.weight.copy_(torch.tensor(layer.weight))
            covered.add(f"{name}.weight")
            bias = torch.zeros(layer.weight.shape[0]) if layer.bias is None else torch.tensor(layer.bias)
            if name in trace.bn_of:
                bn_name, _ = trace.bn_of[name]
                folded[bn_name] = bias
                if module.bias is not None:
                    module.bias.zero_()
            elif module.bias is not None:
                module.bias.copy_(bias)
            elif layer.bias is not None and bool(np.any(layer.bias)):
                raise CheckpointMismatchError(
                    f"{layer.describe()} has a bias but torch module {name!r} has none and no BatchNorm follows it")
            if module.bias is not None:
                covered.add(f"{name}.bias")

    stats = {conv: _ChannelStats() for conv in trace.bn_of}
    handles = []
    modules = dict(model.named_modules())
    for conv, (bn_name, bn) in trace.bn_of.items():
        handles.append(modules[conv].register_forward_hook(
            lambda _m, _i, out, s=stats[conv]: s.add(out)))
        handles.append(bn.register_forward_hook(
            lambda _m, inputs, _out, b=folded[bn_name]: inputs[0] + b.view(1, -1, 1, 1)))
    try:
        for batch in batches:
            with torch.no_grad():
                model(batch)
    finally:
        for h in handles:
            h.remove()
    with torch.no_grad():
        for conv, (bn_name, bn) in trace.bn_of.items():
            mean, var = stats[conv].result()
            weight = modules[conv].weight
            scale = _init_scale(weight) if rescale else torch.ones(weight.shape[0], dtype=weight.dtype)
            weight.div_(scale.view(-1, *([1] * (weight.dim() - 1))))
            bn.running_mean.copy_(mean / scale)
            bn.running_var.copy_(var / scale**2)
            bn.weight.copy_(torch.sqrt(var + bn.eps * scale**2))
            bn.bias.copy_(mean + folded[bn_name])
            covered.update(f"{bn_name}.{k}" for k in ("weight", "bias", "running_mean", "running_var"))
    state = model.state_dict()
    left = [k for k in state if k not in covered and not k.endswith("num_batches_tracked")]
    if left:
        raise InputError(f"{len(left)} tensors of {type(model).__name__} have no source in the ONNX file: {left[:5]}")

    diff_float = diff_file = max_out = None
    x = torch.cat(batches)[:compare_images]
    if compare_images > 0:
        ref = _outputs(model, x)
        diff_float = _max_diff(ref, _onnx_outputs(dequantized_float_model(onnx_model), x.numpy()))
        diff_file = _max_diff(ref, _onnx_outputs(onnx_model, x.numpy()))
        max_out = max(float(np.max(np.abs(o))) for o in ref)
    report = RecoveryReport(
        layers=len(layers), tensors=len(covered), batchnorms=len(trace.bn_of),
        calibration_images=sum(len(b) for b in batches), compared_images=len(x) if compare_images > 0 else 0,
        max_abs_diff_float=diff_float, max_abs_diff_file=diff_file, max_abs_output=max_out,
    )
    logger.info("recovered %s from %s: %s", type(model).__name__, onnx_path, report.summary())
    return {k: v.detach().cpu().clone() for k, v in state.items()}, report
