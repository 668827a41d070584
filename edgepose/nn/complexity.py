"""Parameter and multiply-add (MAC) counts of a model.

``count_params_and_macs(model, input_hw)`` counts multiply-adds (MACs) of ``Conv2d``,
``ConvTranspose2d`` and ``Linear`` layers for one image with forward hooks; BatchNorm,
LayerNorm, activations, pooling, additions, biases and attention matmuls are not counted.

A transposed convolution is counted by what it actually multiplies: every *input* element
times ``Cout/groups * kh * kw`` weights (the convention of fvcore and mmcv). A Linear layer
is counted as input elements times output width.

The papers' "GFLOPs" (SimDR, SimpleBaseline, HRNet, TokenPose) come from the official
``get_model_summary`` (``lib/utils/utils.py`` of the HRNet / SimDR / TokenPose code), which
:func:`paper_gflops` reproduces. It differs in three ways: (1) it divides by 1024**3, not
1e9; (2) it counts a transposed convolution over its *output* grid, as a dense convolution on
a zero-upsampled input (4x more for stride 2); (3) it counts a Linear layer as
``output.numel() * input.shape[1]``, which is the input width only for 2-D inputs: on tokens
(B, N, D) it multiplies by the number of tokens N instead of D, and on the SimDR heads
(B, K, h*w) by K. Hence the tables' figures for models with transposed convolutions
(SimpleBaseline) or token Linears (TokenPose) are not their multiply-adds, and those of
convolution-only models (HRNet, SimDR without deconvolution) are MACs / 1024**3, about 7 %
below MACs / 1e9. ``python -m edgepose.nn.summary`` prints both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

__all__ = ["Complexity", "count_params", "count_params_and_macs", "measure", "paper_gflops"]


def count_params(model: nn.Module) -> int:
    """Number of parameters (trainable or not; buffers, such as TokenPose's fixed position
    embedding, excluded)."""
    return sum(p.numel() for p in model.parameters())


def _layer_macs(module: nn.Module, inputs: tuple[torch.Tensor, ...],
                output: torch.Tensor) -> int:
    """Multiply-adds of one layer call over the whole batch."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return output.numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.ConvTranspose2d):
        kh, kw = module.kernel_size
        return inputs[0].numel() * (module.out_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return inputs[0].numel() * module.out_features
    return 0


def _run_hooked(model: nn.Module, input_hw: Sequence[int],
                hook: Callable[[nn.Module, tuple[torch.Tensor, ...], torch.Tensor], None]) -> None:
    """Run ``model`` once on a (1, 3, H, W) zero image with ``hook`` on every Conv2d /
    ConvTranspose2d / Linear; eval mode and no gradients, training flag restored."""
    height, width = (int(v) for v in input_hw)
    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None else torch.float32
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, height, width, device=device, dtype=dtype))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()


@dataclass(frozen=True)
class Complexity:
    """Sizes of a model for one (1, 3, H, W) image.

    Attributes:
        params: number of parameters (buffers excluded).
        macs: multiply-adds of Conv2d / ConvTranspose2d / Linear (see the module docstring).
        paper_gflops: the papers' "GFLOPs" (official ``get_model_summary`` arithmetic, in units
            of 1024**3).
    """

    params: int
    macs: int
    paper_gflops: float


def measure(model: nn.Module, input_hw: Sequence[int]) -> Complexity:
    """Parameters, multiply-adds and the papers' GFLOPs of ``model`` in one forward pass."""
    macs, paper = [0], [0]

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        macs[0] += _layer_macs(module, inputs, output)
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            paper[0] += module.weight.numel() * output.shape[2:].numel()
        elif isinstance(module, nn.Linear):
            paper[0] += output.numel() * inputs[0].shape[1]

    _run_hooked(model, input_hw, hook)
    return Complexity(count_params(model), macs[0], paper[0] / 1024 ** 3)


def paper_gflops(model: nn.Module, input_hw: Sequence[int]) -> float:
    """The papers' "GFLOPs" of one (1, 3, H, W) image: the official ``get_model_summary``
    arithmetic (see the module docstring), in units of 1024**3 multiply-adds.

    Kept to compare with the SimDR / HRNet / TokenPose tables; use
    :func:`count_params_and_macs` for the real multiply-add count.
    """
    return measure(model, input_hw).paper_gflops


def count_params_and_macs(model: nn.Module, input_hw: Sequence[int]) -> tuple[int, int]:
    """Count parameters and multiply-adds for one (1, 3, H, W) image.

    Args:
        model: any module taking images (B, 3, H, W).
        input_hw: (H, W).

    Returns:
        (params, macs) as integers. The model is run once in eval mode without gradients, on
        its own device and dtype, and its training flag is restored afterwards. A model built
        under ``torch.device("meta")`` is counted without any computation.
    """
    sizes = measure(model, input_hw)
    return sizes.params, sizes.macs
