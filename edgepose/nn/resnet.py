"""ResNet-18/34/50/101/152 trunks with torchvision-compatible parameter names.

The trunk is ``conv1 -> bn1 -> relu -> maxpool -> layer1 .. layer4`` (stride 32), without
the classifier (``avgpool``/``fc``). Parameter names are those of torchvision and of the
official SimpleBaseline / SimDR / SimMRPose code, so an ImageNet ``state_dict`` (minus
``fc.*``) or an official pose checkpoint loads by key:

    conv1.weight, bn1.{weight,bias,running_mean,running_var,num_batches_tracked},
    layer{1..4}.{i}.conv1 / bn1 / conv2 / bn2 [/ conv3 / bn3] [/ downsample.0 / downsample.1]

Blocks are ResNet v1.5 (the stride of a Bottleneck sits on its 3x3 ``conv2``), which is what
torchvision and the official pose code use.

Pose models (``edgepose.nn.heads``, ``edgepose.nn.multires``) subclass :class:`ResNet` so that
the trunk's parameters stay at the top level of their ``state_dict``.
"""

from __future__ import annotations

from typing import Union

import torch
from torch import nn

from edgepose.errors import InputError

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "RESNET_DEPTHS",
    "parse_backbone",
    "stage_channels",
]


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34).

    Input (B, inplanes, H, W) -> output (B, planes, H/stride, W/stride).
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (strided) -> 1x1 bottleneck with a residual connection (ResNet-50+).

    Input (B, inplanes, H, W) -> output (B, 4*planes, H/stride, W/stride).
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        width = planes
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


Block = Union[type[BasicBlock], type[Bottleneck]]

#: depth -> (block class, number of blocks per stage)
RESNET_DEPTHS: dict[int, tuple[Block, tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


def parse_backbone(backbone: str | int) -> int:
    """Depth of a backbone name: ``"resnet50"``, ``"r50"``, ``"50"`` or ``50`` -> 50."""
    text = str(backbone).strip().lower()
    for prefix in ("resnet", "r"):
        if text.startswith(prefix) and text[len(prefix):].isdigit():
            text = text[len(prefix):]
            break
    if not text.isdigit() or int(text) not in RESNET_DEPTHS:
        raise InputError(
            f"unknown backbone {backbone!r}: expected one of "
            f"{', '.join(f'resnet{d}' for d in RESNET_DEPTHS)}"
        )
    return int(text)


def stage_channels(depth: int) -> tuple[int, int, int, int]:
    """Output channels of layer1..layer4 for a ResNet depth: (C, 2C, 4C, 8C).

    C = 64 for ResNet-18/34 and 256 for ResNet-50/101/152.
    """
    block, _ = RESNET_DEPTHS[depth]
    return tuple(64 * (2 ** i) * block.expansion for i in range(4))  # type: ignore[return-value]


class ResNet(nn.Module):
    """ResNet trunk without classifier.

    Args:
        depth: 18, 34, 50, 101 or 152.
        zero_init_residual: zero the last BN's gamma of each residual branch (torchvision option).

    ``forward(x)``: images (B, 3, H, W) -> layer4 features (B, 8C, H/32, W/32).
    ``forward_stages(x)``: -> (layer1 (B, C, H/4, W/4), layer2 (B, 2C, H/8, W/8),
    layer3 (B, 4C, H/16, W/16), layer4 (B, 8C, H/32, W/32)).

    Weights are initialised like torchvision: Kaiming-normal (fan_out, ReLU) convolutions,
    BatchNorm gamma 1 and beta 0.
    """

    def __init__(self, depth: int, *, zero_init_residual: bool = False) -> None:
        super().__init__()
        if depth not in RESNET_DEPTHS:
            raise InputError(f"ResNet depth {depth} is not one of {sorted(RESNET_DEPTHS)}")
        block, counts = RESNET_DEPTHS[depth]
        self.depth = depth
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, counts[0], stride=1)
        self.layer2 = self._make_layer(block, 128, counts[1], stride=2)
        self.layer3 = self._make_layer(block, 256, counts[2], stride=2)
        self.layer4 = self._make_layer(block, 512, counts[3], stride=2)
        self.stage_channels = stage_channels(depth)
        self._init_trunk(zero_init_residual)

    def _make_layer(self, block: Block, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        out_channels = planes * block.expansion
        if stride != 1 or self.inplanes != out_channels:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = out_channels
        layers.extend(block(self.inplanes, planes) for _ in range(1, blocks))
        return nn.Sequential(*layers)

    def _init_trunk(self, zero_init_residual: bool) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def trunk_state_keys(self) -> list[str]:
        """The ``state_dict`` keys that belong to the trunk (conv1, bn1, layer1..4)."""
        prefixes = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.")
        return [k for k in self.state_dict() if k.startswith(prefixes)]

    def forward_stages(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images (B, 3, H, W) -> the four stage outputs (strides 4, 8, 16, 32)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c1 = self.layer1(x)
        c2 = self.layer2(c1)
        c3 = self.layer3(c2)
        c4 = self.layer4(c3)
        return c1, c2, c3, c4

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> layer4 features (B, 8C, H/32, W/32)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> layer4 features; pose models override this."""
        return self.forward_features(x)
