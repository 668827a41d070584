"""Synchronised BatchNorm for CPU (gloo) process groups.

``torch.nn.SyncBatchNorm`` only runs on CUDA. :class:`ProcessGroupBatchNorm2d` computes the
batch statistics over all processes with a differentiable all-reduce, so a CPU
``torchrun`` run computes exactly what one process would on the global batch. It keeps
BatchNorm2d's parameter and buffer names: state_dicts load both ways.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
from torch import nn


class ProcessGroupBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are those of the whole multi-process batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W)
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        channels = x.shape[1]
        count = torch.tensor([x.numel() / channels], dtype=x.dtype, device=x.device)
        local = torch.cat([x.sum(dim=(0, 2, 3)), (x * x).sum(dim=(0, 2, 3)), count])
        total = dist_fn.all_reduce(local)  # sums over processes, gradients flow back
        n = total[-1]
        mean = total[:channels] / n
        var = (total[channels:2 * channels] / n - mean * mean).clamp_min(0.0)
        with torch.no_grad():
            self.num_batches_tracked += 1
            momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
            self.running_mean.mul_(1 - momentum).add_(momentum * mean.detach())
            self.running_var.mul_(1 - momentum).add_(momentum * var.detach() * n / max(float(n) - 1, 1.0))
        scale = self.weight / torch.sqrt(var + self.eps)
        shift = self.bias - mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]


def convert_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d in ``module`` by :class:`ProcessGroupBatchNorm2d` (same state)."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            synced = ProcessGroupBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine,
                                             child.track_running_stats)
            synced.load_state_dict(child.state_dict())
            setattr(module, name, synced)
        else:
            convert_batchnorm(child)
    return module
