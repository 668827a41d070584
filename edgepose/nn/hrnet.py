"""HRNet-W32 / HRNet-W48 pose models: the heatmap model and SimDR on its heatmaps.

Module names equal the official code's (``leeyegy/SimCC`` ``lib/models/pose_hrnet.py``, itself
Microsoft's ``deep-high-resolution-net.pytorch``), so official checkpoints load by key:

* stem: ``conv1`` (3x3, stride 2, 3 -> 64), ``bn1``, ``conv2`` (3x3, stride 2, 64 -> 64),
  ``bn2``, ReLU; then ``layer1``: four Bottlenecks (64 -> 256 channels, ``layer1.0.downsample``).
* ``transition1`` / ``transition2`` / ``transition3``: ModuleLists, one entry per branch of the
  next stage. An entry is ``None`` (no parameters) where the channel count is unchanged, a
  Sequential ``[Conv2d 3x3 stride 1, BN, ReLU]`` where it changes, and for the new, lowest
  branch a Sequential of Sequentials ``[[Conv2d 3x3 stride 2, BN, ReLU]]``.
* ``stage2`` (1 module, 2 branches), ``stage3`` (4 modules, 3 branches), ``stage4`` (3 modules,
  4 branches): Sequentials of :class:`HighResolutionModule`, each with ``branches`` (four
  BasicBlocks per branch) and ``fuse_layers``. ``fuse_layers[i][j]`` brings branch j to branch
  i's resolution: ``None`` for i == j; for j > i ``[Conv2d 1x1, BN, Upsample(2**(j-i),
  nearest)]``; for j < i a Sequential of i-j stride-2 3x3 steps, ``[Conv2d, BN, ReLU]`` except
  the last, ``[Conv2d, BN]``, which also changes the channel count. The last module of
  ``stage4`` fuses to the highest-resolution branch only.
* ``final_layer``: Conv2d 1x1 (C -> K, bias) on the stride-4 branch -> heatmaps (B, K, H/4, W/4).
* SimDR (``COORD_REPRESENTATION: simdr``): the K heatmaps are flattened to (B, K, H/4 * W/4)
  and projected by ``mlp_head_x`` Linear(H/4 * W/4, W*k) and ``mlp_head_y``
  Linear(H/4 * W/4, H*k), shared by all keypoints.

Branch widths are C, 2C, 4C, 8C at strides 4, 8, 16, 32 (C = 32 for W32, 48 for W48).
Initialisation follows the official ``init_weights``: every convolution N(0, 0.001), biases 0,
BatchNorm gamma 1 / beta 0; the Linear heads keep PyTorch's default. ImageNet weights (the
official ``hrnet_w32-36af842e.pth`` / ``hrnet_w48-8ef0771d.pth``) use the same trunk names.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from edgepose.codecs import HeatmapCodec, SimDRCodec
from edgepose.errors import InputError
from edgepose.nn.heads import check_num_keypoints, num_bins
from edgepose.nn.resnet import BasicBlock, Bottleneck

__all__ = [
    "HRNET_WIDTHS",
    "HighResolutionModule",
    "HRNet",
    "PoseHRNet",
    "SimDRHRNet",
    "check_hrnet_input_hw",
    "parse_hrnet",
]

#: backbone name -> base width C (branch widths C, 2C, 4C, 8C)
HRNET_WIDTHS: dict[str, int] = {"hrnet_w32": 32, "hrnet_w48": 48}
#: Stride of the lowest-resolution branch; inputs must be multiples of it.
HRNET_STRIDE = 32
#: Output stride of the heatmaps.
HRNET_HEATMAP_STRIDE = 4
#: (number of modules, number of branches) of stage2, stage3, stage4 (4 BasicBlocks per branch)
_STAGES = ((1, 2), (4, 3), (3, 4))
_BLOCKS_PER_BRANCH = 4


def parse_hrnet(backbone: str) -> str:
    """Normalise an HRNet backbone name: ``"hrnet_w32"``, ``"hrw32"``, ``"w32"`` -> ``"hrnet_w32"``."""
    text = str(backbone).strip().lower().replace("-", "_")
    for prefix in ("hrnet_", "hrnet", "hr", ""):
        if text.startswith(prefix) and f"hrnet_{text[len(prefix):]}" in HRNET_WIDTHS:
            return f"hrnet_{text[len(prefix):]}"
    raise InputError(f"unknown HRNet backbone {backbone!r}: expected one of {sorted(HRNET_WIDTHS)}")


def check_hrnet_input_hw(input_hw: Sequence[int]) -> tuple[int, int]:
    """Validate an input size (H, W): two positive integers divisible by 32."""
    try:
        height, width = (int(v) for v in input_hw)
    except (TypeError, ValueError) as exc:
        raise InputError(f"input_hw must be (height, width), got {input_hw!r}") from exc
    if height <= 0 or width <= 0 or height % HRNET_STRIDE or width % HRNET_STRIDE:
        raise InputError(
            f"input_hw {tuple(input_hw)} must be positive multiples of {HRNET_STRIDE} (HRNet's "
            "lowest branch has stride 32); e.g. (64, 64), (128, 128), (256, 192)"
        )
    return height, width


def _conv_bn(cin: int, cout: int, kernel: int, stride: int, relu: bool) -> nn.Sequential:
    """[Conv2d (no bias, 'same' padding for odd kernels), BN] (+ ReLU)."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                               nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class HighResolutionModule(nn.Module):
    """Parallel branches of BasicBlocks followed by an all-to-all fusion.

    Args:
        channels: width of each branch (branch i has stride 4 * 2**i).
        num_blocks: BasicBlocks per branch.
        multi_scale_output: fuse into every branch (True) or into branch 0 only (False).

    ``forward``: list of (B, channels[i], h / 2**i, w / 2**i) -> list of the same shapes
    (one entry, branch 0, when ``multi_scale_output`` is False).
    """

    def __init__(self, channels: Sequence[int], num_blocks: int = _BLOCKS_PER_BRANCH, *,
                 multi_scale_output: bool = True) -> None:
        super().__init__()
        self.channels = tuple(int(c) for c in channels)
        self.num_branches = len(self.channels)
        self.branches = nn.ModuleList(
            nn.Sequential(*(BasicBlock(c, c) for _ in range(num_blocks))) for c in self.channels)
        self.fuse_layers = self._make_fuse_layers(multi_scale_output) if self.num_branches > 1 else None
        self.relu = nn.ReLU(inplace=False)

    def _make_fuse_layers(self, multi_scale_output: bool) -> nn.ModuleList:
        fuse = nn.ModuleList()
        for i in range(self.num_branches if multi_scale_output else 1):
            row = nn.ModuleList()
            for j in range(self.num_branches):
                if j > i:  # lower resolution -> 1x1 conv to branch i's width, then upsample
                    row.append(nn.Sequential(
                        nn.Conv2d(self.channels[j], self.channels[i], 1, 1, 0, bias=False),
                        nn.BatchNorm2d(self.channels[i]),
                        nn.Upsample(scale_factor=2 ** (j - i), mode="nearest")))
                elif j == i:
                    row.append(None)
                else:  # higher resolution -> i-j strided 3x3 convolutions
                    steps = [_conv_bn(self.channels[j], self.channels[j], 3, 2, relu=True)
                             for _ in range(i - j - 1)]
                    steps.append(_conv_bn(self.channels[j], self.channels[i], 3, 2, relu=False))
                    row.append(nn.Sequential(*steps))
            fuse.append(row)
        return fuse

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Branch inputs (B, C_i, h_i, w_i) -> fused branch outputs."""
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        if self.fuse_layers is None:
            return xs
        out = []
        for i, row in enumerate(self.fuse_layers):
            y = xs[i]
            for j, layer in enumerate(row):
                if j != i:
                    y = y + layer(xs[j])
            out.append(self.relu(y))
        return out


class HRNet(nn.Module):
    """HRNet trunk (official ``PoseHighResolutionNet`` without ``final_layer``).

    Args:
        width: base width C (32 for W32, 48 for W48).

    ``forward_features``: images (B, 3, H, W) -> stride-4 features (B, C, H/4, W/4).
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        if int(width) <= 0:
            raise InputError(f"HRNet width must be positive, got {width}")
        self.width = int(width)
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = nn.Conv2d(64, 64, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        downsample = nn.Sequential(nn.Conv2d(64, 256, 1, bias=False), nn.BatchNorm2d(256))
        self.layer1 = nn.Sequential(Bottleneck(64, 64, 1, downsample),
                                    *(Bottleneck(256, 64) for _ in range(3)))
        previous = [256]
        for index, (modules, branches) in enumerate(_STAGES, start=2):
            channels = [self.width * 2 ** b for b in range(branches)]
            setattr(self, f"transition{index - 1}", self._make_transition(previous, channels))
            last = index == len(_STAGES) + 1
            stage = nn.Sequential(*(HighResolutionModule(channels, multi_scale_output=not (last and m == modules - 1))
                                    for m in range(modules)))
            setattr(self, f"stage{index}", stage)
            previous = channels

    @staticmethod
    def _make_transition(previous: Sequence[int], current: Sequence[int]) -> nn.ModuleList:
        layers = nn.ModuleList()
        for i, cout in enumerate(current):
            if i < len(previous):
                layers.append(None if previous[i] == cout else _conv_bn(previous[i], cout, 3, 1, relu=True))
            else:  # a new, lower branch from the lowest existing one
                steps = [_conv_bn(previous[-1], previous[-1], 3, 2, relu=True)
                         for _ in range(i - len(previous))]
                steps.append(_conv_bn(previous[-1], cout, 3, 2, relu=True))
                layers.append(nn.Sequential(*steps))
        return layers

    def _init_official(self) -> None:
        """The official ``init_weights``: convolutions N(0, 0.001), biases 0, BN 1 / 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> the stride-4 branch of stage4 (B, C, H/4, W/4)."""
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer1(self.relu(self.bn2(self.conv2(x))))
        xs = [x]
        for index in (1, 2, 3):
            transition: nn.ModuleList = getattr(self, f"transition{index}")
            # existing branches pass through (or change width); a new branch comes from the lowest one
            xs = [xs[i] if layer is None else layer(xs[i] if i < len(xs) else xs[-1])
                  for i, layer in enumerate(transition)]
            xs = getattr(self, f"stage{index + 1}")(xs)
        return xs[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> stride-4 features; pose models override this."""
        return self.forward_features(x)


class PoseHRNet(HRNet):
    """HRNet heatmap model (official ``pose_hrnet``, ``COORD_REPRESENTATION: heatmap``).

    Args:
        backbone: ``"hrnet_w32"`` or ``"hrnet_w48"``.
        num_keypoints: K.
        input_hw: (H, W), multiples of 32.

    ``forward``: images (B, 3, H, W) -> heatmaps (B, K, H/4, W/4).
    """

    head_name = "heatmap"
    output_names: tuple[str, ...] = HeatmapCodec.output_names

    def __init__(self, backbone: str, num_keypoints: int, input_hw: Sequence[int]) -> None:
        num_keypoints = check_num_keypoints(num_keypoints)
        input_hw = check_hrnet_input_hw(input_hw)
        name = parse_hrnet(backbone)
        super().__init__(HRNET_WIDTHS[name])
        self.backbone = name
        self.num_keypoints = num_keypoints
        self.input_hw = input_hw
        self.final_layer = nn.Conv2d(self.width, num_keypoints, kernel_size=1, stride=1, padding=0)
        self._init_official()

    def forward_heatmaps(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> heatmaps (B, K, H/4, W/4)."""
        return self.final_layer(self.forward_features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> heatmaps (B, K, H/4, W/4)."""
        return self.forward_heatmaps(x)


class SimDRHRNet(PoseHRNet):
    """SimDR on HRNet (official ``pose_hrnet``, ``COORD_REPRESENTATION: simdr`` / ``sa-simdr``).

    Args:
        backbone, num_keypoints, input_hw: as :class:`PoseHRNet`.
        split_ratio: k, bins per input pixel (official: 3.0 at 64x64, 2.0 at 128x128 and 256x192).

    ``forward``: images (B, 3, H, W) -> (simcc_x (B, K, W*k), simcc_y (B, K, H*k)) logits.
    """

    head_name = "simdr"
    output_names = SimDRCodec.output_names

    def __init__(self, backbone: str, num_keypoints: int, input_hw: Sequence[int], *,
                 split_ratio: float) -> None:
        height, width = check_hrnet_input_hw(input_hw)
        bins_x, bins_y = num_bins(width, split_ratio), num_bins(height, split_ratio)
        super().__init__(backbone, num_keypoints, input_hw)
        self.split_ratio = float(split_ratio)
        self.head_input = (height // HRNET_HEATMAP_STRIDE) * (width // HRNET_HEATMAP_STRIDE)
        self.mlp_head_x = nn.Linear(self.head_input, bins_x)
        self.mlp_head_y = nn.Linear(self.head_input, bins_y)

    def forward(  # type: ignore[override]
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, 3, H, W) -> (simcc_x (B, K, W*k), simcc_y (B, K, H*k))."""
        x = self.forward_heatmaps(x).flatten(2)  # (B, K, H/4 * W/4)
        return self.mlp_head_x(x), self.mlp_head_y(x)
