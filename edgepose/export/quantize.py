"""Int8 post-training quantization with NNCF: ONNX (QDQ) and TFLite (PT2E).

* ONNX: ``nncf.quantize`` on the fp32 ONNX model (NNCF ONNX backend) -> QDQ model that
  ONNX Runtime runs with int8 kernels. ``preset`` "performance" = symmetric activations,
  "mixed" = asymmetric activations; weights symmetric per channel. NNCF's int8 activations
  are then stored as uint8 and the residual adds written as ``Sum`` (both exact, see
  :mod:`edgepose.export.qdq_portable`): ONNX Runtime on aarch64 then runs every convolution
  with int8 kernels and gives the same outputs as on x86-64.
* TFLite: the model (wrapped for NHWC input) is captured with ``torch.export``, annotated
  by litert-torch's ``PT2EQuantizer`` (int8 asymmetric per-tensor activations, symmetric
  per-channel weights: the TFLite int8 scheme, so ``preset`` does not apply), calibrated
  by ``nncf.experimental.torch.fx.quantize_pt2e`` and converted by litert-torch in
  static-quantization mode. The file's input is int8 (quantise with the input tensor's
  scale/zero point); outputs are float32 when the head stays float, int8 otherwise.

Head: with ``head="float"`` the SimDR 1-D head - the nodes from the outputs back to and
including the last convolution (``final_layer`` 1x1 conv, reshape, ``mlp_head_x/y``
Linear) - stays float (NNCF ``IgnoredScope`` for ONNX, an annotation filter for PT2E).
For heatmap models this keeps only the final 1x1 conv in float.

Transformers (ONNX): when that walk back from the outputs meets a ``Softmax`` (TokenPose:
the last convolution is in the stem, before the whole transformer), the convolution rule
would keep the transformer in float. The ONNX rule then becomes
:func:`onnx_transformer_float_nodes`: the patch embedding and the transformer's Linear
layers are quantized; every ``LayerNormalization`` and ``Softmax``, and the head (the
nodes from the outputs back to the keypoint-token ``Slice``: ``mlp_head_x/y`` or the
heatmap ``mlp_head``) stay float; ``head="int8"`` quantizes the head too but still keeps
LayerNorm and softmax float. ``attention="float"`` (the default) also keeps the two
activation-by-activation matmuls of each attention (Q K^T with its scale, and A V) in float;
``attention="int8"`` quantizes them too.

Transformers (TFLite): the PT2E rule is the same on the FX graph
(:func:`fx_transformer_float_nodes`), plus the token stream: every ``layer_norm`` and
``softmax``, the residual adds and the position-embedding adds / concatenations after the
first ``layer_norm`` and, with ``head="float"``, the head (back from the outputs to the
keypoint-token ``slice``) stay unannotated, so the convolution stem, the patch embedding and
every transformer Linear layer (with the GELU between two of them) are int8 and the residual
stream is float. ``attention="float"`` also leaves the Q K^T matmul with its scale and the
A V matmul unannotated; litert-torch's annotators have no matmul pattern, so
``attention="int8"`` annotates them here, with the softmax side of A V at the fixed scale
1/256 that the TFLite int8 ``SOFTMAX`` requires (the converter then makes the softmax int8 too).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edgepose.errors import EdgeposeError, InputError
from edgepose.export.atomic import StagedOutputs
from edgepose.export.common import (
    INPUT_NAME, ExportWrapper, check_model_matches_spec, output_names, sample_input,
)
from edgepose.export.errors import CalibrationError, ExportError
from edgepose.export.qdq_portable import activations_to_uint8, unfuse_residual_adds
from edgepose.export.tflite_export import (
    check_layout, check_tflite_ops, convert_to_tflite, tflite_io_dtypes, tflite_output_roles,
)
from edgepose.export.model_files import read_metadata, write_onnx_metadata, write_tflite_metadata
from edgepose.runtime.metadata import make_metadata
from edgepose.zoo import ModelSpec

logger = logging.getLogger(__name__)

__all__ = [
    "QuantOptions", "quantize_onnx", "quantize_tflite", "onnx_head_nodes", "onnx_float_nodes",
    "onnx_transformer_float_nodes", "fx_head_nodes", "fx_transformer_float_nodes", "fx_float_nodes",
]

PRESETS = ("performance", "mixed")
HEAD_MODES = ("float", "int8")
ATTENTION_MODES = ("float", "int8")


@dataclass(frozen=True)
class QuantOptions:
    """Post-training quantization settings.

    Attributes:
        subset_size: calibration samples used (NNCF ``subset_size``).
        preset: "performance" or "mixed" (ONNX only; see module docstring).
        head: "float" keeps the 1-D head in float, "int8" quantizes everything.
        bias_correction: NNCF fast bias correction on/off.
        fuse_residual_adds: ONNX only. False (default) writes the residual adds as ``Sum`` so
            that ONNX Runtime gives bit-identical results on x86-64 and aarch64. True keeps
            ``Add``, which ONNX Runtime fuses into ``QLinearAdd``: about 10 % faster on x86-64,
            with rare one-step rounding differences between CPUs
            (:mod:`edgepose.export.qdq_portable`).
        attention: transformers only (see module docstring): "float" (default) keeps
            the attention matmuls Q K^T and A V float, "int8" quantizes them (no more
            accurate and slower in ONNX Runtime on x86-64 for TokenPose-S at 64x64; in TFLite
            the softmax becomes int8 too). No effect on convolutional models.
    """

    subset_size: int = 300
    preset: str = "performance"
    head: str = "float"
    bias_correction: bool = True
    fuse_residual_adds: bool = False
    attention: str = "float"

    def __post_init__(self) -> None:
        if self.subset_size < 1:
            raise InputError(f"subset_size must be >= 1, got {self.subset_size}")
        if self.preset not in PRESETS:
            raise InputError(f"preset must be one of {PRESETS}, got {self.preset!r}")
        if self.head not in HEAD_MODES:
            raise InputError(f"head must be one of {HEAD_MODES}, got {self.head!r}")
        if self.attention not in ATTENTION_MODES:
            raise InputError(f"attention must be one of {ATTENTION_MODES}, got {self.attention!r}")


def _check_calibration(calibration: np.ndarray, spec: ModelSpec) -> np.ndarray:
    x = np.asarray(calibration, dtype=np.float32)
    h, w = spec.input_hw
    if x.ndim != 4 or x.shape[1:] != (3, h, w):
        raise CalibrationError(f"calibration batch must be (N, 3, {h}, {w}); got {x.shape}")
    if x.shape[0] == 0:
        raise CalibrationError("the calibration set is empty")
    if not np.all(np.isfinite(x)):
        raise CalibrationError("the calibration batch contains NaN or inf")
    return x


def _walk_back(outputs: Iterable[Any], producers: Any, is_conv: Any) -> list[Any]:
    """Nodes from the outputs back to (and including) the first conv on every path."""
    seen: dict[int, Any] = {}
    stack = list(outputs)
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen[id(node)] = node
        if not is_conv(node):
            stack.extend(producers(node))
    return list(seen.values())


def onnx_head_nodes(model: Any, outputs: list[str]) -> list[str]:
    """Names of the ONNX nodes of the head (see module docstring)."""
    producer = {out: node for node in model.graph.node for out in node.output}
    nodes = _walk_back(
        (producer.get(o) for o in outputs),
        lambda n: [producer.get(i) for i in n.input if i in producer],
        lambda n: n.op_type in ("Conv", "ConvTranspose"),
    )
    if not any(n.op_type in ("Conv", "ConvTranspose") for n in nodes):
        raise ExportError("could not find the head: no convolution before the outputs")
    return sorted(n.name for n in nodes)


def onnx_transformer_float_nodes(model: Any, outputs: list[str], *, head: bool = True,
                                  attention: str = "float") -> list[str]:
    """Names of the ONNX nodes a transformer keeps in float (see module docstring).

    Args:
        model: an fp32 ``onnx.ModelProto`` with a ``Softmax`` attention.
        outputs: the graph outputs of the head.
        head: keep the head float.
        attention: "float" (the Q K^T scale-and-matmul and A V matmuls too) or "int8".

    Returns:
        Sorted node names: all ``LayerNormalization`` and ``Softmax`` nodes, with ``head`` the
        head (from the outputs back to and including the first ``Slice`` / ``Gather`` /
        ``Shape`` on every path), and with ``attention="float"`` the matmuls next to each
        ``Softmax``.

    Raises:
        ExportError: the graph has no ``Softmax`` or no token ``Slice`` before the outputs.
    """
    if attention not in ATTENTION_MODES:
        raise InputError(f"attention must be one of {ATTENTION_MODES}, got {attention!r}")
    nodes = list(model.graph.node)
    producer = {out: node for node in nodes for out in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in nodes:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    softmaxes = [n for n in nodes if n.op_type == "Softmax"]
    if not softmaxes:
        raise ExportError("not a transformer: no Softmax in the graph")
    stops = ("Slice", "Gather", "Shape")
    head_nodes = _walk_back(
        (producer.get(o) for o in outputs),
        lambda n: [producer.get(i) for i in n.input if i in producer],
        lambda n: n.op_type in stops,
    )
    if not any(n.op_type in stops for n in head_nodes):
        raise ExportError("could not find the transformer head: no token Slice before the outputs")
    keep = {n.name for n in head_nodes} if head else set()
    keep.update(n.name for n in nodes if n.op_type in ("LayerNormalization", "Softmax"))
    if attention == "float":
        for softmax in softmaxes:
            # A V: the MatMul that consumes the softmax
            keep.update(c.name for c in consumers.get(softmax.output[0], []) if c.op_type == "MatMul")
            # Q K^T (and its scale): back from the softmax through Mul / Div to the first MatMul
            node = producer.get(softmax.input[0])
            while node is not None and node.op_type in ("Mul", "Div"):
                keep.add(node.name)
                node = next((producer[i] for i in node.input
                             if i in producer and producer[i].op_type != "Constant"), None)
            if node is not None and node.op_type == "MatMul":
                keep.add(node.name)
    return sorted(keep)


def onnx_float_nodes(model: Any, outputs: list[str], options: QuantOptions) -> list[str]:
    """Names of the ONNX nodes ``options`` keeps in float: the convolutional head rule
    (:func:`onnx_head_nodes`, ``head="float"`` only) or, when it would keep an attention in
    float, the transformer rule (:func:`onnx_transformer_float_nodes`)."""
    by_name = {n.name: n for n in model.graph.node}
    if not any(n.op_type == "Softmax" for n in by_name.values()):
        return onnx_head_nodes(model, outputs) if options.head == "float" else []
    conv_head = onnx_head_nodes(model, outputs)
    if any(by_name[name].op_type == "Softmax" for name in conv_head):
        keep = onnx_transformer_float_nodes(model, outputs, head=options.head == "float",
                                            attention=options.attention)
        logger.info("transformer: %d of %d nodes stay float (LayerNorm, softmax%s%s) instead of the %d "
                    "after the last convolution", len(keep), len(by_name),
                    ", head" if options.head == "float" else "",
                    ", attention matmuls" if options.attention == "float" else "", len(conv_head))
        return keep
    return conv_head if options.head == "float" else []


def fx_head_nodes(graph_module: torch.fx.GraphModule) -> set[str]:
    """Names of the FX nodes of the head (see module docstring)."""
    output = next(n for n in graph_module.graph.nodes if n.op == "output")

    def is_conv(n: torch.fx.Node) -> bool:
        return n.op == "call_function" and "conv" in str(n.target)

    nodes = _walk_back(
        output.all_input_nodes,
        lambda n: [a for a in n.all_input_nodes if a.op == "call_function"],
        is_conv,
    )
    if not any(is_conv(n) for n in nodes):
        raise ExportError("could not find the head: no convolution before the outputs")
    return {n.name for n in nodes if n.op == "call_function"}


def _fx_op(node: torch.fx.Node, *names: str) -> bool:
    """Whether ``node`` calls one of the aten ops ``names`` (e.g. "layer_norm": any overload)."""
    return node.op == "call_function" and str(node.target).split(".")[:2] in (["aten", n] for n in names)


def fx_transformer_float_nodes(graph_module: torch.fx.GraphModule, *, head: bool = True,
                               attention: str = "float") -> set[str]:
    """Names of the FX nodes a transformer keeps in float in PT2E (see module docstring).

    The FX counterpart of :func:`onnx_transformer_float_nodes`: every ``layer_norm`` and
    ``softmax``, and the token stream's ``add`` and ``cat`` nodes after the first
    ``layer_norm`` (the residual adds and the position embedding added before each layer: an
    int8 residual stream is the largest int8 error of TokenPose in TFLite); with ``head`` the
    head (from the outputs back to, not including, the first ``slice`` / ``select`` on every
    path: the keypoint tokens); with ``attention="float"`` the matmuls next to each softmax
    (Q K^T with its scale ``mul`` / ``div``, and A V).

    Raises:
        ExportError: the graph has no softmax or no token slice before the outputs.
    """
    if attention not in ATTENTION_MODES:
        raise InputError(f"attention must be one of {ATTENTION_MODES}, got {attention!r}")
    nodes = [n for n in graph_module.graph.nodes if n.op == "call_function"]
    softmaxes = [n for n in nodes if _fx_op(n, "softmax", "_softmax")]
    if not softmaxes:
        raise ExportError("not a transformer: no softmax in the graph")
    norms = [n for n in nodes if _fx_op(n, "layer_norm", "native_layer_norm")]
    keep = {n.name for n in norms} | {n.name for n in softmaxes}
    keep.update(n.name for n in _downstream(norms[:1]) if _fx_op(n, "add", "cat"))
    if head:
        output = next(n for n in graph_module.graph.nodes if n.op == "output")
        stops = ("slice", "select")
        head_nodes = _walk_back(output.all_input_nodes,
                                lambda n: [a for a in n.all_input_nodes if a.op == "call_function"],
                                lambda n: _fx_op(n, *stops))
        if not any(_fx_op(n, *stops) for n in head_nodes):
            raise ExportError("could not find the transformer head: no token slice before the outputs")
        keep.update(n.name for n in head_nodes if n.op == "call_function" and not _fx_op(n, *stops))
    if attention == "float":
        keep.update(n.name for n in attention_nodes(softmaxes))
    return keep


def _downstream(starts: Iterable[torch.fx.Node]) -> list[torch.fx.Node]:
    """The nodes that use ``starts``' outputs, directly or not (``starts`` excluded)."""
    seen: dict[str, torch.fx.Node] = {}
    stack = [u for n in starts for u in n.users]
    while stack:
        node = stack.pop()
        if node.name not in seen:
            seen[node.name] = node
            stack.extend(node.users)
    return list(seen.values())


def attention_nodes(softmaxes: Iterable[torch.fx.Node]) -> list[torch.fx.Node]:
    """The FX nodes around each softmax: the A V matmul that consumes it, and Q K^T (the matmul
    reached back from the softmax through its scale ``mul`` / ``div``) with the scale."""
    found: list[torch.fx.Node] = []
    for softmax in softmaxes:
        found.extend(u for u in softmax.users if _fx_op(u, "matmul", "bmm"))
        node: torch.fx.Node | None = softmax.all_input_nodes[0] if softmax.all_input_nodes else None
        while node is not None and _fx_op(node, "mul", "div"):
            found.append(node)
            node = next((a for a in node.all_input_nodes if a.op == "call_function"), None)
        if node is not None and _fx_op(node, "matmul", "bmm"):
            found.append(node)
    return found


def fx_float_nodes(graph_module: torch.fx.GraphModule, options: QuantOptions) -> tuple[set[str], set[str]]:
    """``(float, int8 matmuls)``: the FX nodes ``options`` keeps in float - the convolutional head
    rule (:func:`fx_head_nodes`, ``head="float"`` only) or, when it would keep an attention in
    float, the transformer rule (:func:`fx_transformer_float_nodes`) - and, for a transformer with
    ``attention="int8"``, the attention matmuls to quantize (the PT2E annotators have no matmul
    pattern; :func:`_pt2e_quantizer` annotates these)."""
    nodes = list(graph_module.graph.nodes)
    softmaxes = [n for n in nodes if _fx_op(n, "softmax", "_softmax")]
    if not softmaxes:
        return (fx_head_nodes(graph_module) if options.head == "float" else set()), set()
    conv_head = fx_head_nodes(graph_module)
    if not any(n.name in conv_head for n in softmaxes):
        return (conv_head if options.head == "float" else set()), set()
    keep = fx_transformer_float_nodes(graph_module, head=options.head == "float", attention=options.attention)
    matmuls = ({n.name for n in attention_nodes(softmaxes) if _fx_op(n, "matmul", "bmm")}
               if options.attention == "int8" else set())
    logger.info("transformer: %d of %d FX nodes stay float (LayerNorm, softmax, residual stream%s%s) instead of the %d "
                "after the last convolution", len(keep), sum(n.op == "call_function" for n in nodes),
                ", head" if options.head == "float" else "",
                ", attention matmuls" if options.attention == "float" else "", len(conv_head))
    return keep, matmuls


# ---- ONNX ---------------------------------------------------------------------------------
def quantize_onnx(
    fp32_path: str | os.PathLike[str],
    spec: ModelSpec,
    path: str | os.PathLike[str],
    calibration: np.ndarray,
    options: QuantOptions = QuantOptions(),
) -> Path:
    """NNCF int8 PTQ of an fp32 edgepose ONNX file into ``path`` (QDQ, atomically written).

    Args:
        fp32_path: fp32 ONNX written by :func:`edgepose.export.export_onnx`.
        spec: the model's ModelSpec.
        path: output file.
        calibration: ``(N, 3, H, W)`` float32 crops (``calibration_batch``).
        options: :class:`QuantOptions`.

    Raises:
        CalibrationError: empty or mis-shaped calibration batch.
        ExportError: NNCF failure.
    """
    import nncf
    import onnx
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters

    x = _check_calibration(calibration, spec)
    source_meta = read_metadata(fp32_path)
    if source_meta["precision"] != "fp32" or source_meta["model"] != spec.name:
        raise InputError(f"{fp32_path} is not the fp32 ONNX of {spec.name} (metadata: {source_meta['model']}, {source_meta['precision']})")
    fp32 = onnx.load(str(fp32_path))
    ignored = onnx_float_nodes(fp32, output_names(spec), options)
    subset = min(options.subset_size, len(x))
    dataset = nncf.Dataset([x[i:i + 1] for i in range(len(x))], lambda item: {INPUT_NAME: item})
    target = Path(path)
    start = time.perf_counter()
    try:
        quantized = nncf.quantize(
            fp32, dataset,
            preset=nncf.QuantizationPreset.PERFORMANCE if options.preset == "performance" else nncf.QuantizationPreset.MIXED,
            subset_size=subset, fast_bias_correction=True,
            ignored_scope=nncf.IgnoredScope(names=ignored) if ignored else None,
            advanced_parameters=AdvancedQuantizationParameters(disable_bias_correction=not options.bias_correction),
        )
    except (nncf.ValidationError, RuntimeError, ValueError) as exc:
        raise ExportError(f"NNCF could not quantize {spec.name} (ONNX): {exc}") from exc
    rewritten = activations_to_uint8(quantized)
    unfused = 0 if options.fuse_residual_adds else unfuse_residual_adds(quantized)
    quant = {
        "tool": f"nncf {nncf.__version__} onnx backend (QDQ)", "calibration_size": subset,
        **asdict(options), "float_nodes": ignored, "int8_activations_stored_as_uint8": rewritten,
        "residual_adds_as_sum": unfused,
    }
    with StagedOutputs() as out:
        tmp = out.stage(target)
        onnx.save(quantized, str(tmp))
        meta = make_metadata(spec, "NCHW", "int8", batch_size=source_meta.get("batch_size"),
                             input_name=INPUT_NAME, quantization=quant)
        write_onnx_metadata(tmp, meta)
    logger.info("wrote %s (%.1f MB, %.1f s)", target, target.stat().st_size / 1e6, time.perf_counter() - start)
    return target


# ---- TFLite (PT2E) ----------------------------------------------------------------------------
def tag_add_relu_sources(graph_module: torch.fx.GraphModule) -> int:
    """Give every add / relu node its own ``source_fn_stack`` entry; returns how many were tagged.

    Non-strict ``torch.export`` leaves ``source_fn_stack`` empty, so the PT2E annotators
    group nodes by module path instead: a ReLU module called twice in a ResNet block
    becomes one partition with two outputs ("Relu partition has more than one output
    node") and the residual ``out + identity`` belongs to no ``torch.add`` partition. Both
    stay unquantized, which leaves float ADDs between DEQUANTIZE/QUANTIZE pairs in the
    TFLite file. One entry per node restores the add / add+relu patterns.
    """
    count = 0
    for node in graph_module.graph.nodes:
        if node.op != "call_function" or node.meta.get("source_fn_stack"):
            continue
        target = str(node.target)
        if target.startswith(("aten.add.Tensor", "aten.add_.Tensor")):
            node.meta["source_fn_stack"] = [(node.name, torch.add)]
            count += 1
        elif target.startswith(("aten.relu.", "aten.relu_.")):
            node.meta["source_fn_stack"] = [(node.name, torch.nn.ReLU)]
            count += 1
    return count


def _pt2e_quantizer(skip: set[str], int8_matmuls: frozenset[str] | set[str] = frozenset()) -> Any:
    """litert-torch's PT2EQuantizer (per-channel int8) that leaves the nodes in ``skip`` unannotated
    and also quantizes the activation-by-activation matmuls named in ``int8_matmuls`` (int8 inputs
    and output, the activation scheme of its linear layers; a softmax input then needs
    :func:`fix_softmax_output_qparams` after calibration)."""
    from litert_torch.quantize import pt2e_quantizer as pq
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation

    class _SkippingQuantizer(pq.PT2EQuantizer):
        def annotate(self, model: torch.fx.GraphModule) -> torch.fx.GraphModule:
            if not skip and not int8_matmuls:
                return super().annotate(model)
            self._annotate_all_static_patterns(model, self.global_config, lambda n: n.name not in skip)
            config = self.global_config
            for node in model.graph.nodes:
                if node.name in int8_matmuls and "quantization_annotation" not in node.meta:
                    node.meta["quantization_annotation"] = QuantizationAnnotation(
                        input_qspec_map={a: config.input_activation for a in node.all_input_nodes},
                        output_qspec=config.output_activation, _annotated=True)
            pq.propagate_annotation(model)
            return model

    return _SkippingQuantizer().set_global(pq.get_symmetric_quantization_config(is_per_channel=True))


#: output scale and zero point of the TFLite int8 ``SOFTMAX`` kernel (it accepts no others)
SOFTMAX_QPARAMS = (1.0 / 256.0, -128)


def fix_softmax_output_qparams(graph_module: torch.fx.GraphModule) -> int:
    """Set every quantize / dequantize pair on a softmax output to :data:`SOFTMAX_QPARAMS`; returns
    how many nodes changed.

    A quantized softmax output (the A V input with ``attention="int8"``) makes litert-torch fuse
    the softmax into an int8 ``SOFTMAX``, whose kernel refuses any output scale but 1/256 with
    zero point -128; NNCF calibrates its own range and its torchao adapter does not take a
    ``FixedQParamsQuantizationSpec``, so the calibrated parameters are overwritten here.
    """
    changed = 0
    scale, zero_point = SOFTMAX_QPARAMS
    for softmax in (n for n in graph_module.graph.nodes if _fx_op(n, "softmax", "_softmax")):
        for quant in [u for u in softmax.users if "quantize_per_tensor" in str(u.target)]:
            for node in (quant, *[u for u in quant.users if "dequantize_per_tensor" in str(u.target)]):
                node.args = (node.args[0], scale, zero_point, *node.args[3:])
                changed += 1
    graph_module.recompile()
    return changed


def quantize_tflite(
    model: nn.Module,
    spec: ModelSpec,
    path: str | os.PathLike[str],
    calibration: np.ndarray,
    options: QuantOptions = QuantOptions(),
    *,
    layout: str = "NHWC",
) -> Path:
    """Int8 TFLite of ``model`` (PT2E + NNCF calibration + litert-torch), atomically written.

    Args:
        model: torch model of ``spec``.
        spec: its ModelSpec.
        path: output file.
        calibration: ``(N, 3, H, W)`` float32 crops (converted to ``layout`` here).
        options: :class:`QuantOptions` (``preset`` is not used: see module docstring).
        layout: "NHWC" (default) or "NCHW" input.

    Raises:
        CalibrationError: empty or mis-shaped calibration batch.
        ExportError: quantization / conversion failure or non-builtin ops.
    """
    import nncf
    from litert_torch.quantize.quant_config import QuantConfig
    from nncf.experimental.torch.fx import quantize_pt2e

    x = _check_calibration(calibration, spec)
    channels_last = check_layout(layout)
    logger.info("TFLite int8 uses the LiteRT scheme (asymmetric int8 activations, symmetric per-channel "
                "weights); preset %r applies to ONNX only", options.preset)
    model = model.eval()
    check_model_matches_spec(model, spec)
    if channels_last:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    target = Path(path)
    what = f"{spec.name} (int8, {layout})"
    start = time.perf_counter()
    wrapper = ExportWrapper(model, output_names(spec), channels_last=channels_last, as_dict=True).eval()
    sample = sample_input(spec, batch=1, channels_last=channels_last)
    try:
        graph = torch.export.export(wrapper, (), {INPUT_NAME: sample}).module()
    except Exception as exc:  # torch.export raises many unrelated types; re-raised with context
        raise ExportError(f"torch.export cannot capture {what}: {type(exc).__name__}: {exc}") from exc
    tagged = tag_add_relu_sources(graph)
    logger.debug("%s: tagged %d add/relu nodes for the PT2E annotators", what, tagged)
    skip, int8_matmuls = fx_float_nodes(graph, options)
    quantizer = _pt2e_quantizer(skip, int8_matmuls)
    subset = min(options.subset_size, len(x))
    dataset = nncf.Dataset([torch.from_numpy(x[i:i + 1]) for i in range(len(x))], lambda item: {INPUT_NAME: item})
    try:
        quantized = quantize_pt2e(
            graph, quantizer, dataset, subset_size=subset,
            fast_bias_correction=True if options.bias_correction else None, fold_quantize=False,
        )
    except (nncf.ValidationError, RuntimeError, ValueError) as exc:
        raise ExportError(f"NNCF quantize_pt2e failed for {what}: {exc}") from exc
    if int8_matmuls:
        logger.debug("%s: %d softmax quantize/dequantize nodes set to the int8 SOFTMAX parameters", what,
                     fix_softmax_output_qparams(quantized))
    quant = {
        "tool": f"nncf {nncf.__version__} quantize_pt2e + litert-torch PT2EQuantizer",
        "scheme": "int8 asymmetric per-tensor activations, symmetric per-channel weights",
        "calibration_size": subset, "subset_size": options.subset_size, "head": options.head,
        "bias_correction": options.bias_correction, "attention": options.attention, "float_nodes": sorted(skip),
        "int8_attention_matmuls": sorted(int8_matmuls),
    }
    with StagedOutputs() as out:
        tmp = out.stage(target)
        convert_to_tflite(quantized, sample, tmp, quant_config=QuantConfig(pt2e_quantizer=quantizer), what=what)
        check_tflite_ops(tmp, what)
        input_dtype, output_dtype = tflite_io_dtypes(tmp)
        try:
            meta = make_metadata(spec, layout, "int8", input_dtype=input_dtype, output_dtype=output_dtype,
                                 batch_size=1, input_name=INPUT_NAME, quantization=quant,
                                 outputs=tflite_output_roles(tmp))
            write_tflite_metadata(tmp, meta)
        except EdgeposeError as exc:
            raise ExportError(f"{what}: cannot write metadata: {exc}") from exc
    logger.info("wrote %s (%.1f MB, %.1f s)", target, target.stat().st_size / 1e6, time.perf_counter() - start)
    return target
