"""Whole export runs: several files from one model, all written or none.

Used by ``quantization/export.py`` and ``quantization/int8.py``. Files are named
``{model}_{precision}.{onnx|tflite}`` in the output folder. Every file is staged to a
temporary name and renamed only after all requested files were produced, so a failure
leaves neither partial files nor a half-updated set.

Score threshold: each file's metadata gets a ``score_threshold`` (the runtime's default for
the file when it is loaded by path), either the ``score_threshold`` given, or measured on
``threshold_crops`` exactly as ``quantization/verify.py`` measures it
(:func:`edgepose.export.verify.measure_score_threshold`), or none when neither is given.
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
from edgepose.export.calibration import CocoCrops
from edgepose.train.rebuild import LoadedModel
from edgepose.export.onnx_export import DEFAULT_OPSET, export_onnx
from edgepose.export.quantize import QuantOptions, quantize_onnx, quantize_tflite
from edgepose.export.report import OutputRecord
from edgepose.export.tflite_export import export_tflite
from edgepose.export.model_files import read_metadata, write_metadata
from edgepose.runtime.metadata import with_runtime_defaults

logger = logging.getLogger(__name__)

__all__ = ["FLOAT_TARGETS", "INT8_FORMATS", "output_path", "export_float", "export_int8", "parse_list",
           "stamp_score_threshold"]

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


def check_score_threshold(value: float | None) -> float | None:
    """``value`` if None or a number in [0, 1]; InputError otherwise."""
    if value is None:
        return None
    from edgepose.checks import check_number

    return float(check_number(value, "score_threshold", low=0.0, high=1.0, low_inclusive=True,
                              high_inclusive=True))


def stamp_score_threshold(path: str | os.PathLike[str], *, value: float | None = None,
                          crops: CocoCrops | None = None, label: str = "") -> float | None:
    """Store the score threshold of the file at ``path`` in its metadata and return it.

    ``value`` when given; else measured on ``crops`` as ``quantization/verify.py`` does; with
    neither (or when no keypoint of the crops is placed within 0.2 x its box) the file is left
    without one and None is returned (the runtime then uses the codec's default).
    """
    label = label or Path(path).name
    value = check_score_threshold(value)
    if value is None and crops is not None:
        from edgepose.export.verify import measure_score_threshold

        value = measure_score_threshold(path, crops)
        if value is None:
            logger.warning("%s: no keypoint of the %d crops lies within 0.2 x its box, so no score threshold "
                           "was measured; the runtime will use the codec's default", label, len(crops))
        else:
            logger.info("%s: score threshold %.4g, measured on %d crops (as quantization/verify.py)",
                        label, value, len(crops))
    if value is not None:
        write_metadata(path, with_runtime_defaults(read_metadata(path), score_threshold=value))
    return value


def _finish(records: list[tuple[Path, str, str, float, float | None]], out: StagedOutputs) -> list[OutputRecord]:
    out.commit()
    return [OutputRecord(*record) for record in records]


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
    score_threshold: float | None = None,
    threshold_crops: CocoCrops | None = None,
) -> list[OutputRecord]:
    """Write the fp32 / fp16 files ``targets`` (keys of :data:`FLOAT_TARGETS`) of ``loaded``;
    ``score_threshold`` / ``threshold_crops``: see the module docstring."""
    unknown = [t for t in targets if t not in FLOAT_TARGETS]
    if unknown or not targets:
        raise InputError(f"targets must be a non-empty subset of {list(FLOAT_TARGETS)}; got {list(targets)}")
    score_threshold = check_score_threshold(score_threshold)
    spec, model = loaded.spec, loaded.model
    records: list[tuple[Path, str, str, float, float | None]] = []
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
            threshold = stamp_score_threshold(tmp, value=score_threshold, crops=threshold_crops, label=final.name)
            records.append((final, fmt, precision, time.perf_counter() - start, threshold))
            logger.info("%s: %s %s exported (%d/%d, %.1f s)", spec.name, fmt, precision, len(records), len(targets),
                        records[-1][3])
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
    score_threshold: float | None = None,
    threshold_crops: CocoCrops | None = None,
) -> list[OutputRecord]:
    """Write the int8 files of ``loaded`` in ``formats`` ("onnx", "tflite"), calibrated on
    ``calibration (N, 3, H, W)``. The fp32 ONNX needed by NNCF is a temporary file.
    ``score_threshold`` / ``threshold_crops`` (``quantization/int8.py``: the calibration
    crops): see the module docstring."""
    unknown = [f for f in formats if f not in INT8_FORMATS]
    if unknown or not formats:
        raise InputError(f"formats must be a non-empty subset of {list(INT8_FORMATS)}; got {list(formats)}")
    score_threshold = check_score_threshold(score_threshold)
    spec, model = loaded.spec, loaded.model
    records: list[tuple[Path, str, str, float, float | None]] = []
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
            threshold = stamp_score_threshold(tmp, value=score_threshold, crops=threshold_crops, label=final.name)
            records.append((final, fmt, "int8", time.perf_counter() - start, threshold))
            logger.info("%s: %s int8 quantized (%d/%d, %.1f s)", spec.name, fmt, len(records), len(formats),
                        records[-1][3])
        return _finish(records, out)
