"""Export a pose model to TFLite through litert-torch (no TensorFlow needed).

Layout decision: the TFLite input is **NHWC** ``(1, H, W, 3)`` by default. The permute to
NCHW is part of the traced graph and litert-torch's layout pass folds it into the
NHWC-native convolutions, so the file has no input ``TRANSPOSE``; with an NCHW input the
file keeps one. The cost of that transpose is small (simdr_r18_64, LiteRT, 1 thread:
4.18 ms NHWC vs 4.24 ms NCHW), but NHWC is TFLite's native layout and crops are HWC before
any transpose (``preprocess_crops(..., layout="NHWC")``), so NHWC is the default.
``layout="NCHW"`` is available; the metadata's ``layout`` says which one a file has.
Outputs keep their torch layout (``(1, K, W*k)``/``(1, K, H*k)`` or ``(1, K, h, w)``).

The batch size is fixed to 1: litert-torch 0.10 cannot lower the SimDR reshape with a
symbolic batch. The signature (``serving_default``) has input ``"input"`` and outputs named
as in the metadata (``simcc_x``, ``simcc_y`` or ``heatmaps``).

fp16 files are the fp32 model with float16 weights (ai-edge-quantizer "float casting",
weight-only): conv / fully-connected weights are stored as fp16 and dequantised by
builtin ``DEQUANTIZE`` ops; activations stay float32.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from edgepose.errors import EdgeposeError, InputError
from edgepose.export.atomic import StagedOutputs
from edgepose.export.common import (
    INPUT_NAME, ExportWrapper, check_model_matches_spec, check_parity, output_names, sample_input,
)
from edgepose.export.errors import ExportError
from edgepose.export.model_files import write_tflite_metadata
from edgepose.runtime.metadata import make_metadata
from edgepose.export.tflite_ops import TFLiteOps, tflite_ops
from edgepose.zoo import ModelSpec

logger = logging.getLogger(__name__)

__all__ = [
    "export_tflite", "convert_to_tflite", "tflite_io_dtypes", "tflite_output_roles", "check_tflite_ops",
    "TFLITE_PRECISIONS",
]

TFLITE_PRECISIONS = ("fp32", "fp16")
#: self-check tolerances (max abs logit difference vs torch)
PARITY_TOLERANCE = {"fp32": 1e-3, "fp16": 5e-2}


def check_layout(layout: str) -> bool:
    """Validate ``layout``; True for NHWC (channels last)."""
    if layout not in ("NHWC", "NCHW"):
        raise InputError(f"TFLite layout must be 'NHWC' or 'NCHW', got {layout!r}")
    return layout == "NHWC"


def convert_to_tflite(module: nn.Module, sample: Any, path: Path, *, quant_config: Any = None, what: str = "") -> None:
    """``litert_torch.convert(module, sample_kwargs={"input": sample})`` and write ``path``.

    Raises:
        ExportError: the converter cannot take the model.
    """
    import litert_torch

    shown = litert_torch.config.show_progress
    litert_torch.config.show_progress = False  # its progress lines go to stdout
    try:
        edge_model = litert_torch.convert(module, sample_kwargs={INPUT_NAME: sample}, quant_config=quant_config)
        edge_model.export(str(path))
    except Exception as exc:  # converter errors come as many unrelated types; re-raised with context
        raise ExportError(f"litert-torch cannot convert {what} to TFLite: {type(exc).__name__}: {exc}") from exc
    finally:
        litert_torch.config.show_progress = shown


def check_tflite_ops(path: Path, what: str) -> TFLiteOps:
    """Op list of a converted file; ExportError if it needs Flex/custom ops or StableHLO ops.

    ``STABLEHLO_*`` codes are builtin in the schema, but XNNPACK, the GPU delegates and
    older tflite-runtime builds lack kernels for them, so edgepose does not ship them either.
    """
    ops = tflite_ops(path)
    if not ops.builtin_only:
        raise ExportError(
            f"{what}: the TFLite conversion needs non-builtin ops {sorted(ops.custom)} (Flex/custom), "
            "which edgepose does not ship; this model cannot be exported to TFLite"
        )
    stablehlo = sorted(name for name in ops.builtin if name.startswith("STABLEHLO_"))
    if stablehlo:
        raise ExportError(
            f"{what}: the TFLite conversion produced StableHLO ops {stablehlo}, which common TFLite "
            "runtimes and delegates do not run; this model cannot be exported to TFLite"
        )
    logger.info("%s: TFLite ops %s", what, ", ".join(f"{k} x{v}" for k, v in ops.builtin.items()))
    return ops


def tflite_output_roles(path: Path) -> list[str]:
    """Signature output names of a converted file, in the file's output tensor order."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    signatures = interpreter.get_signature_list()
    if len(signatures) != 1:
        raise ExportError(f"{path}: expected one signature, found {sorted(signatures)}")
    runner = interpreter.get_signature_runner()
    by_index = {d["index"]: name for name, d in runner.get_output_details().items()}
    order = [d["index"] for d in interpreter.get_output_details()]
    missing = [i for i in order if i not in by_index]
    if missing:
        raise ExportError(f"{path}: output tensors {missing} are not in the signature")
    return [by_index[i] for i in order]


def tflite_io_dtypes(path: Path) -> tuple[str, str]:
    """``(input_dtype, output_dtype)`` of a converted file's default signature ("float32"/"int8")."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner()
    names = {np.dtype(np.float32): "float32", np.dtype(np.int8): "int8"}

    def kind(details: dict[str, Any], what: str) -> str:
        dtypes = {np.dtype(d["dtype"]) for d in details.values()}
        if len(dtypes) != 1 or next(iter(dtypes)) not in names:
            raise ExportError(f"{path}: unsupported {what} dtypes {sorted(map(str, dtypes))}")
        return names[next(iter(dtypes))]

    return kind(runner.get_input_details(), "input"), kind(runner.get_output_details(), "output")


def _fp16_weights(src: Path, dst: Path) -> None:
    """Rewrite ``src`` with float16 conv / fully-connected weights into ``dst``."""
    from ai_edge_quantizer import qtyping, quantizer

    q = quantizer.Quantizer(str(src))
    for op in (qtyping.TFLOperationName.CONV_2D, qtyping.TFLOperationName.DEPTHWISE_CONV_2D,
               qtyping.TFLOperationName.CONV_2D_TRANSPOSE, qtyping.TFLOperationName.FULLY_CONNECTED):
        q.add_weight_only_config(regex=".*", operation_name=op, num_bits=16,
                                 algorithm_key=quantizer.AlgorithmName.FLOAT_CASTING)
    try:
        result = q.quantize(enable_progress_report=False)
    except (ValueError, RuntimeError) as exc:
        raise ExportError(f"fp16 weight conversion of {src.name} failed: {exc}") from exc
    dst.write_bytes(bytes(result.quantized_model))


def export_tflite(
    model: nn.Module,
    spec: ModelSpec,
    path: str | os.PathLike[str],
    *,
    precision: str = "fp32",
    layout: str = "NHWC",
    check: bool = True,
) -> Path:
    """Write ``model`` as an fp32 or fp16 TFLite file with edgepose metadata (atomically).

    Args:
        model: torch model of ``spec``.
        spec: its ModelSpec.
        path: output file.
        precision: "fp32" or "fp16" (fp16 weights, float32 compute and I/O).
        layout: input layout, "NHWC" ``(1, H, W, 3)`` (default) or "NCHW" ``(1, 3, H, W)``.
        check: compare LiteRT with torch after conversion.

    Raises:
        InputError: unknown precision or layout.
        ExportError: conversion failure, non-builtin ops, or a failed self-check.
    """
    if precision not in TFLITE_PRECISIONS:
        raise InputError(f"TFLite precision must be one of {TFLITE_PRECISIONS} here (int8: quantization/int8.py); got {precision!r}")
    channels_last = check_layout(layout)
    model = model.eval()
    check_model_matches_spec(model, spec)
    target = Path(path)
    what = f"{spec.name} ({precision}, {layout})"
    start = time.perf_counter()
    wrapper = ExportWrapper(model, output_names(spec), channels_last=channels_last, as_dict=True).eval()
    sample = sample_input(spec, batch=1, channels_last=channels_last)
    with StagedOutputs() as out:
        tmp = out.stage(target)
        if precision == "fp32":
            convert_to_tflite(wrapper, sample, tmp, what=what)
        else:
            fp32_tmp = out.scratch(target)
            convert_to_tflite(wrapper, sample, fp32_tmp, what=what)
            _fp16_weights(fp32_tmp, tmp)
        check_tflite_ops(tmp, what)
        try:
            meta = make_metadata(spec, layout, precision, batch_size=1, input_name=INPUT_NAME,
                                 outputs=tflite_output_roles(tmp))
            write_tflite_metadata(tmp, meta)
        except EdgeposeError as exc:
            raise ExportError(f"{what}: cannot write metadata: {exc}") from exc
        if check:
            diff = check_parity(model, spec, tmp, batch=2, tolerance=PARITY_TOLERANCE[precision],
                                label=f"TFLite file {tmp.name}")
            logger.info("%s: TFLite vs torch max abs diff %.2e", target.name, diff)
    logger.info("wrote %s (%.1f MB, %.1f s)", target, target.stat().st_size / 1e6, time.perf_counter() - start)
    return target
