"""Parameter and multiply-add (MAC) counts of a model.

``count_params_and_macs(model, input_hw)`` counts multiply-adds (MACs) of ``Conv2d``,
``ConvTranspose2d`` and ``Linear`` layers for one image with forward hooks; BatchNorm,
activations, pooling, additions and biases are not counted (they are a fraction of a
percent). "GFLOPs" in the SimDR / SimpleBaseline papers are such multiply-adds.

A transposed convolution is counted by what it actually multiplies: every *input* element
times ``Cout/groups * kh * kw`` weights (the convention of fvcore and mmcv). Some older
counters (HRNet's ``get_model_summary``) count it over the *output* grid as if it were a
dense convolution on a zero-upsampled input, 4x more for stride 2. For SimpleBaseline-R50
at 64x64 / 128x128 / 256x192 the papers give 0.7 / 3.0 / 8.9 GFLOPs; output-grid counting
gives about 0.8 / 3.2 / 9.7 and ours 0.45 / 1.81 / 5.43, so our heatmap-model figures are
lower than the papers'. Models without transposed convolutions (SimDR without
deconvolution: 0.34 / 1.36 / 4.07) agree with the papers (0.3 / 1.3 / 3.8) under either
convention.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["count_params", "count_params_and_macs"]


def count_params(model: nn.Module) -> int:
    """Number of parameters (trainable or not; buffers excluded)."""
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
    height, width = (int(v) for v in input_hw)
    total = [0]

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        total[0] += _layer_macs(module, inputs, output)

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
    return count_params(model), total[0]
