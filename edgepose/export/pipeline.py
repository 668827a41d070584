"""Whole export runs: several files from one model, all written or none.

Used by ``quantization/export.py`` and ``quantization/int8.py``. Files are named
``{model}_{precision}.{onnx|tflite}`` in the output folder. Every file is staged to a
temporary name and renamed only after all requested files were produced, so a failure
leaves neither partial files nor a half-updated set.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from edgepose.errors import InputError
from edgepose.export.atomic import StagedOutputs
from edgepose.export.checkpoint import LoadedModel
from edgepose.export.onnx_export import DEFAULT_OPSET, export_onnx
from edgepose.export.quantize import QuantOptions, quantize_onnx, quantize_tflite
from edgepose.export.report import OutputRecord
from edgepose.export.tflite_export import export_tflite

logger = logging.getLogger(__name__)

__all__ = ["FLOAT_TARGETS", "INT8_FORMATS", "output_path", "export_float", "export_int8", "parse_list"]

#: export.py target name -> (format, precision)
FLOAT_TARGETS: dict[str, tuple[str, str]] = {
    "onnx": ("onnx", "fp32"), "tflite": ("tflite", "fp32"), "tflite-fp16": ("tflite", "fp16"),
}
INT8_FORMATS = ("onnx", "tflite")


def parse_list(text: str, allowed: Sequence[str], what: str) -> list[str]:
    """Split ``"a,b"`` and check every item is in ``allowed`` (order kept, duplicates dropped)."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise InputError(f"no {what} given; choose from {list(allowed)}")
    bad = [t for t in items if t not in allowed]
    if bad:
        raise InputError(f"unknown {what} {bad}; choose from {list(allowed)}")
    return list(dict.fromkeys(items))


def output_path(out_dir: str | os.PathLike[str], name: str, fmt: str, precision: str) -> Path:
    """``out_dir / f"{name}_{precision}.{fmt}"``."""
    return Path(out_dir) / f"{name}_{precision}.{fmt}"


def _finish(records: list[tuple[Path, str, str, float]], out: StagedOutputs) -> list[OutputRecord]:
    out.commit()
    return [OutputRecord(path, fmt, precision, seconds) for path, fmt, precision, seconds in records]


def export_float(
    loaded: LoadedModel,
    out_dir: str | os.PathLike[str],
    targets: Sequence[str] = tuple(FLOAT_TARGETS),
    *,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = True,
    tflite_layout: str = "NHWC",
    check: bool = True,
    progress: bool = False,
) -> list[OutputRecord]:
    """Write the fp32 / fp16 files ``targets`` (keys of :data:`FLOAT_TARGETS`) of ``loaded``."""
    unknown = [t for t in targets if t not in FLOAT_TARGETS]
    if unknown or not targets:
        raise InputError(f"targets must be a non-empty subset of {list(FLOAT_TARGETS)}; got {list(targets)}")
    spec, model = loaded.spec, loaded.model
    records: list[tuple[Path, str, str, float]] = []
    with StagedOutputs() as out:
        for target in tqdm(targets, desc=f"export {spec.name}", unit="file", disable=not progress):
            fmt, precision = FLOAT_TARGETS[target]
            final = output_path(out_dir, spec.name, fmt, precision)
            tmp = out.stage(final)
            start = time.perf_counter()
            if fmt == "onnx":
                export_onnx(model, spec, tmp, opset=opset, dynamic_batch=dynamic_batch, check=check)
            else:
                export_tflite(model, spec, tmp, precision=precision, layout=tflite_layout, check=check)
            records.append((final, fmt, precision, time.perf_counter() - start))
        return _finish(records, out)


def export_int8(
    loaded: LoadedModel,
    out_dir: str | os.PathLike[str],
    calibration: np.ndarray,
    formats: Sequence[str] = INT8_FORMATS,
    options: QuantOptions = QuantOptions(),
    *,
    opset: int = DEFAULT_OPSET,
    tflite_layout: str = "NHWC",
    progress: bool = False,
) -> list[OutputRecord]:
    """Write the int8 files of ``loaded`` in ``formats`` ("onnx", "tflite"), calibrated on
    ``calibration (N, 3, H, W)``. The fp32 ONNX needed by NNCF is a temporary file."""
    unknown = [f for f in formats if f not in INT8_FORMATS]
    if unknown or not formats:
        raise InputError(f"formats must be a non-empty subset of {list(INT8_FORMATS)}; got {list(formats)}")
    spec, model = loaded.spec, loaded.model
    records: list[tuple[Path, str, str, float]] = []
    with StagedOutputs() as out:
        for fmt in tqdm(formats, desc=f"int8 {spec.name}", unit="file", disable=not progress):
            final = output_path(out_dir, spec.name, fmt, "int8")
            tmp = out.stage(final)
            start = time.perf_counter()
            if fmt == "onnx":
                fp32 = out.scratch(output_path(out_dir, spec.name, "onnx", "fp32"))
                export_onnx(model, spec, fp32, opset=opset)
                quantize_onnx(fp32, spec, tmp, calibration, options)
            else:
                quantize_tflite(model, spec, tmp, calibration, options, layout=tflite_layout)
            records.append((final, fmt, "int8", time.perf_counter() - start))
        return _finish(records, out)
