"""Torch models, losses and weight loading for edgepose (imports torch; the runtime does not).

Public API:

* :func:`build` / :func:`build_model`: ModelSpec (or name, or explicit args) -> ``nn.Module``.
* Models: :class:`SimDRResNet`, :class:`SimDRDeconvResNet`, :class:`SimpleBaseline`,
  :class:`MRHeatNet1`, :class:`MRHeatNet2`, :class:`MRFeaNet1`, :class:`MRFeaNet2`,
  :class:`PoseHRNet`, :class:`SimDRHRNet` (HRNet-W32/W48), :class:`TokenPose`,
  :class:`SimDRTokenPose` (TokenPose-S), trunks :class:`ResNet`, :class:`HRNet`.
* Losses: :func:`simdr_kl_loss`, :func:`simdr_star_kl_loss`, :func:`joints_mse_loss` and
  their modules :class:`SimDRLoss`, :class:`SimDRStarLoss`, :class:`JointsMSELoss`.
* Weights: :func:`load_imagenet_backbone`, :func:`load_pose_checkpoint`,
  :func:`read_state_dict`.
* Size: :func:`count_params_and_macs` (``python -m edgepose.nn.summary`` prints a table).
"""

from edgepose.nn.build import HEADS, SIMDR_HEADS, build, build_model, normalize_arch
from edgepose.nn.complexity import count_params, count_params_and_macs
from edgepose.nn.heads import SimDRDeconvResNet, SimDRResNet, SimpleBaseline
from edgepose.nn.hrnet import HRNet, PoseHRNet, SimDRHRNet
from edgepose.nn.losses import (
    JointsMSELoss,
    SimDRLoss,
    SimDRStarLoss,
    joints_mse_loss,
    kl_to_logits,
    simdr_kl_loss,
    simdr_star_kl_loss,
)
from edgepose.nn.multires import MRFeaNet1, MRFeaNet2, MRHeatNet1, MRHeatNet2
from edgepose.nn.resnet import ResNet
from edgepose.nn.tokenpose import SimDRTokenPose, TokenPose
from edgepose.nn.weights import (
    CheckpointMismatchError,
    LoadReport,
    load_imagenet_backbone,
    load_pose_checkpoint,
    read_state_dict,
)

__all__ = [
    "HEADS",
    "SIMDR_HEADS",
    "build",
    "build_model",
    "normalize_arch",
    "count_params",
    "count_params_and_macs",
    "ResNet",
    "SimDRResNet",
    "SimDRDeconvResNet",
    "SimpleBaseline",
    "MRHeatNet1",
    "MRHeatNet2",
    "MRFeaNet1",
    "MRFeaNet2",
    "HRNet",
    "PoseHRNet",
    "SimDRHRNet",
    "TokenPose",
    "SimDRTokenPose",
    "simdr_kl_loss",
    "simdr_star_kl_loss",
    "joints_mse_loss",
    "kl_to_logits",
    "SimDRLoss",
    "SimDRStarLoss",
    "JointsMSELoss",
    "CheckpointMismatchError",
    "LoadReport",
    "load_imagenet_backbone",
    "load_pose_checkpoint",
    "read_state_dict",
]
