"""Multiply-adds per crop of a model file, for the bench's achieved GMAC/s.

Where a figure comes from, in order: the caller (``--macs NAME=GMAC``, computed once, e.g.
with ``edgepose.nn.complexity.count_params_and_macs``), the file's metadata (``macs``), or,
for ONNX files when the ``onnx`` package is installed, the graph itself (Conv, ConvTranspose,
Gemm, MatMul). Files without any (TFLite) take the figure of another file of the same model
and input size (:func:`share_macs`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from edgepose.bench.row import Row

__all__ = ["file_macs", "onnx_graph_macs", "share_macs"]


@functools.cache
def onnx_graph_macs(path: Path) -> float | None:
    """GMACs per image of an ONNX graph (Conv, ConvTranspose, Gemm, MatMul), or None without ``onnx``."""
    try:
        import onnx
        from onnx import shape_inference
    except ImportError:
        return None
    model = shape_inference.infer_shapes(onnx.load(str(path)))
    g = model.graph
    shapes: dict[str, list[int]] = {}
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        dims = [d.dim_value if d.HasField("dim_value") else 1 for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = dims
    for init in g.initializer:
        shapes[init.name] = list(init.dims)

    def prod(v: list[int]) -> int:
        return int(np.prod(v)) if v else 0

    macs = 0
    for node in g.node:
        ins = [shapes.get(i, []) for i in node.input]
        out = shapes.get(node.output[0], [])
        groups = next((a.i for a in node.attribute if a.name == "group"), 1)
        if node.op_type == "Conv" and len(ins) > 1 and ins[1]:
            w = ins[1]
            macs += prod(out) * w[1] * prod(w[2:])
        elif node.op_type == "ConvTranspose" and len(ins) > 1 and ins[1]:
            w = ins[1]
            macs += prod(ins[0]) * (w[1] * groups // max(groups, 1)) * prod(w[2:])
        elif node.op_type in ("Gemm", "MatMul") and len(ins) > 1 and ins[0] and ins[1]:
            macs += prod(out) * ins[0][-1]
    return macs / 1e9


def file_macs(path: Path, names: Sequence[str], metadata_macs: int | None,
              given: Mapping[str, float]) -> tuple[float, str]:
    """(GMACs per crop, where the figure came from) of the file ``path``; (nan, "") when unknown.

    Args:
        path: the model file.
        names: how ``given`` may name the file (file name, stem, model name), first match wins.
        metadata_macs: the ``macs`` of the file's metadata (multiply-adds, not G), or None.
        given: ``--macs``: name -> GMACs.
    """
    figure = next((given[k] for k in names if k in given), None)
    if figure is not None:
        return figure, "--macs"
    if metadata_macs:
        return metadata_macs / 1e9, "metadata"
    if path.suffix.lower() == ".onnx":
        counted = onnx_graph_macs(path)
        if counted is not None:
            return counted, "onnx graph"
    return float("nan"), ""


def share_macs(rows: list[Row]) -> None:
    """MACs are computed once per model: rows without them (e.g. TFLite files) take those of
    another file of the same model and input size."""
    known = {(r.model, r.input_hw): (r.gmac, r.macs_from) for r in rows if r.gmac == r.gmac}
    for r in rows:
        if r.gmac != r.gmac and (r.model, r.input_hw) in known:
            r.gmac, source = known[(r.model, r.input_hw)]
            r.macs_from = f"same model ({source})"
