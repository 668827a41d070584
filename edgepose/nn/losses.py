"""Training losses: SimDR / SimDR* KL divergence and the visibility-weighted joints MSE.

Targets come from the numpy codecs (``edgepose.codecs``) as arrays, stacked by the data
loader into tensors:

* SimDR / SimDR*: ``target_x`` (B, K, Nx), ``target_y`` (B, K, Ny) distributions over the
  bins (label-smoothed one-hot for SimDR, Gaussian for SimDR*), ``target_weight`` (B, K)
  (or (B, K, 1)); 0 for keypoints that are unlabelled or outside the grid.
* Heatmap: ``heatmap`` (B, K, h, w), ``target_weight`` (B, K) (or (B, K, 1)).

Formulas (``p = softmax(logits)`` over the bins, ``KL(t || p) = sum_i t_i (log t_i - log p_i)``
with ``0 log 0 = 0``):

* :func:`simdr_kl_loss`, official SimDR ``NMTCritierion`` with label smoothing:
  ``(1/B) sum_{b,k} w_bk [KL(tx_bk || px_bk) + KL(ty_bk || py_bk)]`` (sum over bins and joints,
  mean over the batch).
* :func:`simdr_star_kl_loss`, official SA-SimDR ``KLDiscretLoss``:
  ``(1/(B K)) sum_{b,k} w_bk [KL_x / Nx + KL_y / Ny]`` (mean over bins, joints and batch).
  ``reduction="sum"`` gives it SimDR's form instead. Both scales train the same under Adam;
  the default keeps the official one so official learning rates carry over.
* :func:`joints_mse_loss`, paper eq. (1) as in the official ``JointsMSELoss``:
  ``0.5 * mean_{b,k,p} (w_bk (H_pred - H_gt))^2``.

Which loss trains which codec is decided here, by :func:`criterion_for_codec` (SimDR -> KL with
label smoothing, SimDR* -> KL, heatmap -> MSE), not by the training loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from edgepose.codecs import Codec, HeatmapCodec, SimDRCodec, SimDRStarCodec
from edgepose.errors import InputError

__all__ = [
    "kl_to_logits",
    "simdr_kl_loss",
    "simdr_star_kl_loss",
    "joints_mse_loss",
    "SimDRLoss",
    "SimDRStarLoss",
    "JointsMSELoss",
    "Criterion",
    "criterion_for_codec",
]

Reduction = Literal["sum", "mean"]


def _weights(target_weight: torch.Tensor, batch: int, joints: int) -> torch.Tensor:
    """(B, K) or (B, K, 1) -> (B, K) float weights."""
    w = target_weight
    if w.dim() == 3 and w.shape[-1] == 1:
        w = w[..., 0]
    if tuple(w.shape) != (batch, joints):
        raise InputError(f"target_weight has shape {tuple(target_weight.shape)}; expected "
                         f"({batch}, {joints}) or ({batch}, {joints}, 1)")
    return w.float()


def _check_pair(logits: torch.Tensor, target: torch.Tensor, name: str) -> None:
    if logits.dim() != 3 or logits.shape != target.shape:
        raise InputError(f"{name}: logits {tuple(logits.shape)} and target "
                         f"{tuple(target.shape)} must both be (B, K, bins)")


def _at_least_fp32(dtype: torch.dtype) -> torch.dtype:
    """Half-precision and integer inputs are computed in float32; float64 stays float64."""
    return dtype if dtype in (torch.float32, torch.float64) else torch.float32


def kl_to_logits(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """KL(target || softmax(logits)) summed over the last axis.

    Args:
        logits: (..., N) raw scores.
        target: (..., N) non-negative target distribution (need not sum exactly to 1).

    Returns:
        (...) KL divergences in float32 (float64 if an input is float64); 0 where
        ``softmax(logits) == target``. Logits must be finite.
    """
    dtype = torch.promote_types(_at_least_fp32(logits.dtype), _at_least_fp32(target.dtype))
    log_p = F.log_softmax(logits.to(dtype), dim=-1)
    return F.kl_div(log_p, target.to(dtype), reduction="none").sum(dim=-1)


def _simdr_kl(pred_x: torch.Tensor, pred_y: torch.Tensor, target_x: torch.Tensor,
              target_y: torch.Tensor, target_weight: torch.Tensor, reduction: Reduction,
              ) -> torch.Tensor:
    _check_pair(pred_x, target_x, "x")
    _check_pair(pred_y, target_y, "y")
    batch, joints = pred_x.shape[:2]
    if pred_y.shape[:2] != (batch, joints):
        raise InputError(f"pred_x {tuple(pred_x.shape)} and pred_y {tuple(pred_y.shape)} "
                         "disagree on (B, K)")
    w = _weights(target_weight, batch, joints)
    kl_x = kl_to_logits(pred_x, target_x)  # (B, K)
    kl_y = kl_to_logits(pred_y, target_y)
    w = w.to(kl_x.dtype)
    if reduction == "sum":
        return ((kl_x + kl_y) * w).sum() / batch
    if reduction == "mean":
        per_joint = kl_x / pred_x.shape[-1] + kl_y / pred_y.shape[-1]
        return (per_joint * w).mean()
    raise InputError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


def simdr_kl_loss(pred_x: torch.Tensor, pred_y: torch.Tensor, target_x: torch.Tensor,
                  target_y: torch.Tensor, target_weight: torch.Tensor) -> torch.Tensor:
    """SimDR loss: KL to label-smoothed targets, summed over bins and joints, mean over batch.

    Args:
        pred_x: (B, K, Nx) logits; pred_y: (B, K, Ny) logits.
        target_x: (B, K, Nx), target_y: (B, K, Ny) target distributions.
        target_weight: (B, K) or (B, K, 1).

    Returns:
        Scalar tensor (float32).
    """
    return _simdr_kl(pred_x, pred_y, target_x, target_y, target_weight, "sum")


def simdr_star_kl_loss(pred_x: torch.Tensor, pred_y: torch.Tensor, target_x: torch.Tensor,
                       target_y: torch.Tensor, target_weight: torch.Tensor, *,
                       reduction: Reduction = "mean") -> torch.Tensor:
    """SimDR* loss: KL to Gaussian targets.

    ``reduction="mean"`` (official ``KLDiscretLoss``): mean over bins, joints and batch;
    ``"sum"``: the :func:`simdr_kl_loss` form. Shapes as :func:`simdr_kl_loss`.
    """
    return _simdr_kl(pred_x, pred_y, target_x, target_y, target_weight, reduction)


def joints_mse_loss(pred: torch.Tensor, target: torch.Tensor,
                    target_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Visibility-weighted heatmap MSE (paper eq. 1, official ``JointsMSELoss``).

    Args:
        pred: (B, K, h, w) predicted heatmaps.
        target: (B, K, h, w) target heatmaps.
        target_weight: (B, K) or (B, K, 1), or None for unweighted.

    Returns:
        Scalar ``0.5 * mean((w * (pred - target))**2)`` over batch, joints and pixels.
    """
    if pred.dim() != 4 or pred.shape != target.shape:
        raise InputError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must both "
                         "be (B, K, h, w)")
    diff = pred.float() - target.float()
    if target_weight is not None:
        w = _weights(target_weight, pred.shape[0], pred.shape[1]).to(diff.dtype)
        diff = diff * w[:, :, None, None]
    return 0.5 * diff.pow(2).mean()


class SimDRLoss(nn.Module):
    """Module form of :func:`simdr_kl_loss`.

    ``forward(outputs=(pred_x, pred_y), target_x, target_y, target_weight) -> scalar``.
    """

    def forward(self, outputs: tuple[torch.Tensor, torch.Tensor], target_x: torch.Tensor,
                target_y: torch.Tensor, target_weight: torch.Tensor) -> torch.Tensor:
        pred_x, pred_y = outputs
        return simdr_kl_loss(pred_x, pred_y, target_x, target_y, target_weight)


class SimDRStarLoss(nn.Module):
    """Module form of :func:`simdr_star_kl_loss` (``reduction`` ``"mean"`` or ``"sum"``)."""

    def __init__(self, reduction: Reduction = "mean") -> None:
        super().__init__()
        if reduction not in ("sum", "mean"):
            raise InputError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
        self.reduction: Reduction = reduction

    def forward(self, outputs: tuple[torch.Tensor, torch.Tensor], target_x: torch.Tensor,
                target_y: torch.Tensor, target_weight: torch.Tensor) -> torch.Tensor:
        pred_x, pred_y = outputs
        return simdr_star_kl_loss(pred_x, pred_y, target_x, target_y, target_weight,
                                  reduction=self.reduction)


class JointsMSELoss(nn.Module):
    """Module form of :func:`joints_mse_loss`; ``use_target_weight=False`` ignores weights.

    ``forward(heatmaps (B,K,h,w), target (B,K,h,w), target_weight (B,K)) -> scalar``.
    """

    def __init__(self, use_target_weight: bool = True) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight

    def forward(self, heatmaps: torch.Tensor, target: torch.Tensor,
                target_weight: torch.Tensor | None = None) -> torch.Tensor:
        weight = target_weight if self.use_target_weight else None
        return joints_mse_loss(heatmaps, target, weight)


#: a training loss: (model outputs, the batch's stacked codec targets) -> scalar tensor
Criterion = Callable[[Any, dict[str, torch.Tensor]], torch.Tensor]


def _simdr_criterion(loss: nn.Module) -> Criterion:
    def simdr(outputs: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return loss(outputs, batch["target_x"], batch["target_y"], batch["target_weight"])

    return simdr


def _heatmap_criterion() -> Criterion:
    mse = JointsMSELoss()

    def heatmap(outputs: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return mse(outputs, batch["heatmap"], batch["target_weight"])

    return heatmap


#: codec class -> maker of the loss its targets train with (the targets are ``codec.encode``'s keys)
_CRITERIA: dict[type[Codec], Callable[[], Criterion]] = {
    SimDRStarCodec: lambda: _simdr_criterion(SimDRStarLoss()),
    SimDRCodec: lambda: _simdr_criterion(SimDRLoss()),
    HeatmapCodec: _heatmap_criterion,
}


def criterion_for_codec(codec: Codec) -> Criterion:
    """The training loss of ``codec``'s targets: SimDR -> :class:`SimDRLoss` (KL to label-smoothed
    targets), SimDR* -> :class:`SimDRStarLoss` (KL to Gaussian targets), heatmap ->
    :class:`JointsMSELoss`. A subclass of a codec trains with its base's loss.

    The returned function takes ``(outputs, batch)``: the model's outputs (SimDR: ``(pred_x
    (B, K, Nx), pred_y (B, K, Ny))`` logits; heatmap: ``(B, K, h, w)``) and the batch's stacked
    targets (``target_x``, ``target_y``, ``target_weight`` or ``heatmap``, ``target_weight``).

    Raises:
        InputError: a codec no loss here trains.
    """
    for cls in type(codec).__mro__:
        if cls in _CRITERIA:
            return _CRITERIA[cls]()
    raise InputError(f"no training loss for codec {type(codec).__name__}; losses exist for "
                     f"{sorted(c.__name__ for c in _CRITERIA)}")
