"""Pieces shared by the ONNX and TFLite exporters: the I/O wrapper and output checks."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edgepose.errors import EdgeposeError
from edgepose.export.errors import ExportError
from edgepose.zoo import ModelSpec

logger = logging.getLogger(__name__)

INPUT_NAME = "input"


def output_names(spec: ModelSpec) -> list[str]:
    """Names of the model's outputs, in order, as its codec names them (``Codec.output_names``)."""
    return list(spec.build_codec().output_names)


class ExportWrapper(nn.Module):
    """Gives a pose model the I/O of an exported file.

    ``forward(input)``: ``input`` is ``(B, 3, H, W)`` (``channels_last=False``) or
    ``(B, H, W, 3)`` (``channels_last=True``, permuted to NCHW inside the graph); returns
    the model's outputs as a tuple, or as a dict keyed by ``names`` (``as_dict=True``: the
    TFLite signature then carries the output names).
    """

    def __init__(self, model: nn.Module, names: Sequence[str], *, channels_last: bool, as_dict: bool) -> None:
        super().__init__()
        self.model = model
        self.names = tuple(names)
        self.channels_last = channels_last
        self.as_dict = as_dict

    def forward(self, input: torch.Tensor) -> Any:  # noqa: A002 - the tensor name in the files
        x = input.permute(0, 3, 1, 2) if self.channels_last else input
        out = self.model(x)
        outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
        if len(outs) != len(self.names):
            raise ExportError(f"model returned {len(outs)} outputs, expected {len(self.names)} ({self.names})")
        if self.as_dict:
            return dict(zip(self.names, outs))
        return outs


def sample_input(spec: ModelSpec, *, batch: int, channels_last: bool, seed: int = 0) -> torch.Tensor:
    """A deterministic random input ``(B, 3, H, W)`` or ``(B, H, W, 3)`` float32."""
    h, w = spec.input_hw
    shape = (batch, h, w, 3) if channels_last else (batch, 3, h, w)
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def torch_outputs(model: nn.Module, batch_nchw: np.ndarray | torch.Tensor) -> list[np.ndarray]:
    """Run the torch model on an NCHW batch; outputs as float32 numpy arrays, in order."""
    x = torch.as_tensor(np.asarray(batch_nchw, dtype=np.float32))
    with torch.no_grad():
        out = model.eval()(x)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o.detach().cpu().numpy().astype(np.float32) for o in outs]


def check_model_matches_spec(model: nn.Module, spec: ModelSpec) -> None:
    """Run the model once and decode its outputs with the spec's codec.

    Raises:
        ExportError: the outputs do not have the shapes the spec's codec decodes (e.g. a
            checkpoint whose spec disagrees with the architecture).
    """
    outs = torch_outputs(model, sample_input(spec, batch=1, channels_last=False).numpy())
    names = output_names(spec)
    if len(outs) != len(names):
        raise ExportError(f"{spec.name}: model returns {len(outs)} outputs, its codec expects {names}")
    try:
        spec.build_codec().decode(tuple(outs) if len(outs) > 1 else outs[0])
    except EdgeposeError as exc:
        shapes = [tuple(o.shape) for o in outs]
        raise ExportError(f"{spec.name}: model outputs {shapes} do not fit the spec's codec: {exc}") from None


def max_abs_diff(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """Largest absolute difference over paired arrays (shapes must match)."""
    if len(a) != len(b):
        raise ExportError(f"output count differs: {len(a)} vs {len(b)}")
    worst = 0.0
    for x, y in zip(a, b):
        if x.shape != y.shape:
            raise ExportError(f"output shapes differ: {x.shape} vs {y.shape}")
        worst = max(worst, float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))))
    return worst


def check_parity(model: nn.Module, spec: ModelSpec, path: Path, *, batch: int, tolerance: float, label: str) -> float:
    """Run the exported file through its runtime backend and torch on one random NCHW batch.

    Returns the max abs output difference; ExportError ``"{label} differs from torch ..."``
    when it exceeds ``tolerance``.
    """
    from edgepose.export.runtime import FileRunner  # runtime imports this module

    x = sample_input(spec, batch=batch, channels_last=False, seed=1).numpy()
    with FileRunner(path) as runner:
        diff = max_abs_diff(runner.run(x), torch_outputs(model, x))
    if not diff <= tolerance:
        raise ExportError(f"{label} differs from torch by {diff:.3g} (> {tolerance})")
    return diff
