"""Single-path pose heads on a ResNet trunk: SimDR (with and without deconvolution) and the
SimpleBaseline heatmap model.

Module names equal the official code's (``leeyegy/SimDR`` ``pose_resnet_upfree`` and
``pose_resnet``, Microsoft's SimpleBaseline), so official checkpoints load by key:

* :class:`SimDRResNet` (official ``pose_resnet_upfree``): trunk -> ``final_layer`` (1x1 conv,
  8C -> K*cpj, bias) -> reshape (B, K*cpj, h, w) -> (B, K, cpj*h*w) -> shared
  ``mlp_head_x`` Linear(cpj*h*w, W*k) and ``mlp_head_y`` Linear(cpj*h*w, H*k).
* :class:`SimpleBaseline` (official ``pose_resnet``, heatmap): trunk -> ``deconv_layers``
  (3 x [ConvTranspose2d 4x4 stride 2, 256 ch, no bias; BN; ReLU], Sequential indices
  0/1/2, 3/4/5, 6/7/8) -> ``final_layer`` (1x1 conv 256 -> K, bias) -> heatmaps.
* :class:`SimDRDeconvResNet` (official ``pose_resnet`` with ``COORD_REPRESENTATION: simdr``):
  :class:`SimpleBaseline` whose K heatmaps (h = H/4, w = W/4) are flattened to (B, K, h*w)
  and projected by ``mlp_head_x`` Linear(h*w, W*k) and ``mlp_head_y`` Linear(h*w, H*k).

Head initialisation follows the official code: convolutions and transposed convolutions
N(0, 0.001), biases 0, BatchNorm gamma 1 / beta 0; the Linear heads keep PyTorch's default.
The trunk keeps torchvision's initialisation (it is normally replaced by ImageNet weights).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

from edgepose.codecs import HeatmapCodec, SimDRCodec
from edgepose.errors import InputError
from edgepose.nn.resnet import ResNet

__all__ = [
    "SimDRResNet",
    "SimDRDeconvResNet",
    "SimpleBaseline",
    "check_input_hw",
    "check_num_keypoints",
    "num_bins",
    "make_deconv_layers",
    "init_head_weights",
]

#: Trunk output stride.
TRUNK_STRIDE = 32
#: Output stride of the heatmap models (trunk stride 32, three x2 deconvolutions).
HEATMAP_STRIDE = 4


def check_input_hw(input_hw: Sequence[int]) -> tuple[int, int]:
    """Validate an input size (H, W): two positive integers divisible by 32."""
    try:
        height, width = (int(v) for v in input_hw)
    except (TypeError, ValueError) as exc:
        raise InputError(f"input_hw must be (height, width), got {input_hw!r}") from exc
    if height <= 0 or width <= 0 or height % TRUNK_STRIDE or width % TRUNK_STRIDE:
        raise InputError(
            f"input_hw {tuple(input_hw)} must be positive multiples of {TRUNK_STRIDE} "
            f"(the ResNet trunk's stride); e.g. (64, 64), (128, 128), (256, 192)"
        )
    return height, width


def num_bins(size: int, split_ratio: float) -> int:
    """Number of SimDR bins ``size * k`` along one axis; it must be a whole number."""
    value = size * float(split_ratio)
    if split_ratio <= 0 or abs(value - round(value)) > 1e-6:
        raise InputError(
            f"split_ratio {split_ratio} times size {size} = {value} is not a positive whole "
            "number of bins; choose k so that H*k and W*k are integers (e.g. 2.0 or 3.0)"
        )
    return int(round(value))


def make_deconv_layers(in_channels: int, channels: Sequence[int]) -> nn.Sequential:
    """``len(channels)`` x [ConvTranspose2d(4x4, stride 2, pad 1, no bias), BN, ReLU].

    (B, in_channels, h, w) -> (B, channels[-1], h * 2**n, w * 2**n). Indices in the returned
    Sequential are 0/1/2, 3/4/5, ... as in the official ``deconv_layers``.
    """
    layers: list[nn.Module] = []
    for out_channels in channels:
        layers += [
            nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1,
                               output_padding=0, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        ]
        in_channels = out_channels
    return nn.Sequential(*layers)


def init_head_weights(modules: Iterable[nn.Module]) -> None:
    """Official head init: (transposed) convs N(0, 0.001), biases 0, BN gamma 1 / beta 0."""
    for root in modules:
        for m in root.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


def check_num_keypoints(num_keypoints: int) -> int:
    """Validate the number of keypoints K (a positive integer)."""
    if int(num_keypoints) <= 0:
        raise InputError(f"num_keypoints must be positive, got {num_keypoints}")
    return int(num_keypoints)


class SimDRResNet(ResNet):
    """SimDR without upsampling (official ``pose_resnet_upfree``).

    Args:
        depth: ResNet depth (18, 34, 50, 101, 152).
        num_keypoints: K.
        input_hw: (H, W), multiples of 32.
        cpj: channels per joint of ``final_layer`` (official: 32 at 64x64/128x128, 28 at 256x192).
        split_ratio: k, bins per input pixel (official: 3.0 at 64/128, 2.0 at 256x192).

    ``forward``: images (B, 3, H, W) -> (simcc_x (B, K, W*k), simcc_y (B, K, H*k)) logits.
    """

    head_name = "simdr"
    output_names = SimDRCodec.output_names

    def __init__(self, depth: int, num_keypoints: int, input_hw: Sequence[int], *,
                 cpj: int, split_ratio: float) -> None:
        num_keypoints = check_num_keypoints(num_keypoints)
        height, width = check_input_hw(input_hw)
        if int(cpj) <= 0:
            raise InputError(f"cpj (channels per joint) must be positive, got {cpj}")
        bins_x, bins_y = num_bins(width, split_ratio), num_bins(height, split_ratio)
        super().__init__(depth)
        self.num_keypoints = num_keypoints
        self.input_hw = (height, width)
        self.cpj = int(cpj)
        self.split_ratio = float(split_ratio)
        self.head_input = self.cpj * (height // TRUNK_STRIDE) * (width // TRUNK_STRIDE)
        self.final_layer = nn.Conv2d(self.stage_channels[3], self.num_keypoints * self.cpj,
                                     kernel_size=1, stride=1, padding=0, bias=True)
        self.mlp_head_x = nn.Linear(self.head_input, bins_x)
        self.mlp_head_y = nn.Linear(self.head_input, bins_y)
        init_head_weights([self.final_layer])

    def forward(  # type: ignore[override]
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, 3, H, W) -> (simcc_x (B, K, W*k), simcc_y (B, K, H*k))."""
        x = self.final_layer(self.forward_features(x))  # (B, K*cpj, H/32, W/32)
        # channel index is k*cpj + t: (B, K*cpj, h, w) -> (B, K, cpj*h*w)
        x = x.reshape(x.shape[0], self.num_keypoints, self.head_input)
        return self.mlp_head_x(x), self.mlp_head_y(x)


class SimpleBaseline(ResNet):
    """SimpleBaseline heatmap model (official ``pose_resnet``, heatmap representation).

    Args:
        depth: ResNet depth.
        num_keypoints: K.
        input_hw: (H, W), multiples of 32.
        deconv_channels: output channels of the three deconvolutions (official: 256 each).

    ``forward``: images (B, 3, H, W) -> heatmaps (B, K, H/4, W/4).
    """

    head_name = "heatmap"
    output_names: tuple[str, ...] = HeatmapCodec.output_names

    def __init__(self, depth: int, num_keypoints: int, input_hw: Sequence[int], *,
                 deconv_channels: Sequence[int] = (256, 256, 256)) -> None:
        num_keypoints = check_num_keypoints(num_keypoints)
        input_hw = check_input_hw(input_hw)
        if len(deconv_channels) != 3:
            raise InputError(f"deconv_channels needs 3 entries (stride 32 -> 4), got "
                             f"{list(deconv_channels)}")
        super().__init__(depth)
        self.num_keypoints = num_keypoints
        self.input_hw = input_hw
        self.deconv_layers = make_deconv_layers(self.stage_channels[3], deconv_channels)
        self.final_layer = nn.Conv2d(deconv_channels[-1], self.num_keypoints, kernel_size=1,
                                     stride=1, padding=0, bias=True)
        init_head_weights([self.deconv_layers, self.final_layer])

    def forward_heatmaps(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> heatmaps (B, K, H/4, W/4)."""
        return self.final_layer(self.deconv_layers(self.forward_features(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> heatmaps (B, K, H/4, W/4)."""
        return self.forward_heatmaps(x)


class SimDRDeconvResNet(SimpleBaseline):
    """SimDR on the SimpleBaseline deconvolution head (official ``pose_resnet`` + SimDR).

    Args:
        depth, num_keypoints, input_hw, deconv_channels: as :class:`SimpleBaseline`.
        split_ratio: k, bins per input pixel (official: 3.0 at 64/128, 2.0 at 256x192+).

    ``forward``: images (B, 3, H, W) -> (simcc_x (B, K, W*k), simcc_y (B, K, H*k)) logits.
    """

    head_name = "simdr_deconv"
    output_names = SimDRCodec.output_names

    def __init__(self, depth: int, num_keypoints: int, input_hw: Sequence[int], *,
                 split_ratio: float, deconv_channels: Sequence[int] = (256, 256, 256)) -> None:
        height, width = check_input_hw(input_hw)
        bins_x, bins_y = num_bins(width, split_ratio), num_bins(height, split_ratio)
        super().__init__(depth, num_keypoints, input_hw, deconv_channels=deconv_channels)
        self.split_ratio = float(split_ratio)
        self.head_input = (height // HEATMAP_STRIDE) * (width // HEATMAP_STRIDE)
        self.mlp_head_x = nn.Linear(self.head_input, bins_x)
        self.mlp_head_y = nn.Linear(self.head_input, bins_y)

    def forward(  # type: ignore[override]
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, 3, H, W) -> (simcc_x (B, K, W*k), simcc_y (B, K, H*k))."""
        x = self.forward_heatmaps(x).flatten(2)  # (B, K, H/4 * W/4)
        return self.mlp_head_x(x), self.mlp_head_y(x)
