"""Export a pose model to a single-file ONNX model (torch.onnx dynamo exporter).

The file has one input ``"input"`` ``(B, 3, H, W)`` float32 (NCHW, normalised as in
``edgepose.preprocess``), outputs ``simcc_x``/``simcc_y`` or ``heatmaps``, a dynamic batch
axis by default, all weights inside the file (no external data) and edgepose metadata.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import torch
from torch import nn

from edgepose.errors import InputError
from edgepose.export.atomic import StagedOutputs
from edgepose.export.common import (
    INPUT_NAME, ExportWrapper, check_model_matches_spec, check_parity, output_names, sample_input,
)
from edgepose.export.errors import ExportError
from edgepose.export.model_files import write_onnx_metadata
from edgepose.runtime.metadata import make_metadata
from edgepose.zoo import ModelSpec

logger = logging.getLogger(__name__)

__all__ = ["export_onnx", "MIN_OPSET", "DEFAULT_OPSET"]

MIN_OPSET = 17
DEFAULT_OPSET = 18
#: max abs logit difference tolerated by the post-export self-check (float32 round-off)
PARITY_TOLERANCE = 1e-3


def _export_graph(model: nn.Module, spec: ModelSpec, path: Path, opset: int, dynamic_batch: bool) -> None:
    wrapper = ExportWrapper(model, output_names(spec), channels_last=False, as_dict=False).eval()
    # batch 2: torch.export specialises a sample batch of 1 to a constant
    sample = sample_input(spec, batch=2 if dynamic_batch else 1, channels_last=False)
    dynamic = ({0: torch.export.Dim("batch")},) if dynamic_batch else None
    try:
        torch.onnx.export(
            wrapper, (sample,), str(path), input_names=[INPUT_NAME], output_names=output_names(spec),
            opset_version=opset, dynamic_shapes=dynamic, external_data=False, dynamo=True, verbose=False,
        )
    except Exception as exc:  # the exporter raises many unrelated types; re-raised with context
        raise ExportError(f"torch.onnx cannot export {spec.name} (opset {opset}): {type(exc).__name__}: {exc}") from exc
    extra = [p for p in path.parent.glob(path.name + "*.data")]
    if extra:
        raise ExportError(f"the ONNX exporter wrote external data {extra}; expected a single file")


def export_onnx(
    model: nn.Module,
    spec: ModelSpec,
    path: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = True,
    check: bool = True,
) -> Path:
    """Write ``model`` as an fp32 ONNX file with edgepose metadata (atomically).

    Args:
        model: torch model of ``spec`` (NCHW input, outputs as in CONTRACTS.md).
        spec: its ModelSpec.
        path: output file.
        opset: ONNX opset (>= 17).
        dynamic_batch: dynamic batch axis ``"batch"``; else a fixed batch of 1.
        check: compare ONNX Runtime with torch after export (max abs diff <= 1e-3).

    Returns:
        ``path``.

    Raises:
        InputError: opset < 17.
        ExportError: the exporter failed, the model does not fit the spec, or the self-check failed.
    """
    if opset < MIN_OPSET:
        raise InputError(f"opset {opset} is too old; edgepose exports opset >= {MIN_OPSET}")
    model = model.eval()
    check_model_matches_spec(model, spec)
    target = Path(path)
    start = time.perf_counter()
    with StagedOutputs() as out:
        tmp = out.stage(target)
        _export_graph(model, spec, tmp, opset, dynamic_batch)
        meta = make_metadata(spec, "NCHW", "fp32", batch_size=None if dynamic_batch else 1, input_name=INPUT_NAME)
        write_onnx_metadata(tmp, meta)
        if check:
            diff = check_parity(model, spec, tmp, batch=3 if dynamic_batch else 1, tolerance=PARITY_TOLERANCE,
                                label=f"ONNX export of {spec.name}")
            logger.info("%s: ONNX vs torch max abs diff %.2e", target.name, diff)
    logger.info("wrote %s (%.1f MB, %.1f s)", target, target.stat().st_size / 1e6, time.perf_counter() - start)
    return target
