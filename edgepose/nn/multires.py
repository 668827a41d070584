"""Multi-resolution heatmap / feature-map networks of Tran et al. (MRHeatNet1/2, MRFeaNet1/2).

Structure and module names follow the authors' public code (``tqtrunghnvn/SimMRPose``,
``lib/models/mr{heat,fea}{1,2}_pose_resnet.py``), so its checkpoints load by key. Every
"deconv" below is [ConvTranspose2d 4x4 stride 2 pad 1 (no bias), BN, ReLU] unless marked
"bare" (transposed convolution only). K = number of keypoints; strides are relative to the
input image.

MRHeatNet1 (paper Fig. 3a), C = 256:
    d1 = deconv1(layer4)                       (C, /16)
    d2 = deconv2(d1)                           (C, /8)
    s1 = s_deconv1(s_conv1(d1))                s_conv1 = [1x1 conv C->K (bias), BN, ReLU]; (K, /8)
    s2 = s_deconv2(s_conv2(d2) + s1)           s_deconv2 bare K->K;                        (K, /4)
    out = final_layer(deconv3(d2)) + s2        final_layer = 1x1 conv C->K (bias);        (K, /4)

MRHeatNet2 (Fig. 3b): each resolution's heatmaps are upsampled on their own path:
    s1 = s_deconv12(s_deconv1(s_conv1(d1)))    s_deconv12 bare;  (K, /4)
    s2 = s_deconv2(s_conv2(d2))                                  (K, /4)
    out = final_layer(deconv3(d2)) + s1 + s2

MRFeaNet1 (Fig. 4a), C = layer1 channels (256 for ResNet-50+):
    f4 = deconv13(deconv12(deconv11(layer4)))  8C -> C -> C -> C
    f3 = deconv22(deconv21(layer3))            4C -> C -> C
    f2 = deconv3(layer2)                       2C -> C
    out = final_layer((layer1 + f2 + f3 + f4) / 4)

MRFeaNet2 (Fig. 4b): as MRFeaNet1 but channels halve along each path:
    layer4: 8C -> 4C -> 2C -> C;  layer3: 4C -> 2C -> C;  layer2: 2C -> C.

Supervision: the paper's Fig. 3/4 put the L2 loss on the final heatmaps only, and the
authors' training code (``lib/core/function.py``) computes ``JointsMSELoss`` on the single
output of ``forward``. So these models return only the final heatmaps (B, K, H/4, W/4), in
training and inference alike; the side branches are trained through that one loss.

The paper's "element-sum" of the four MRFeaNet branches is an average (sum / 4) in the
authors' code; it is kept as an average so their checkpoints reproduce their outputs.

For ResNet-18/34 (not in the paper) MRFeaNet's C is the layer1 width, 64.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from edgepose.codecs import HeatmapCodec
from edgepose.nn.heads import (
    check_num_keypoints,
    check_input_hw,
    init_head_weights,
    make_deconv_layers,
)
from edgepose.nn.resnet import ResNet

__all__ = ["MRHeatNet1", "MRHeatNet2", "MRFeaNet1", "MRFeaNet2"]


def _deconv(in_channels: int, out_channels: int) -> nn.Sequential:
    """[ConvTranspose2d 4x4 s2 (no bias), BN, ReLU]: (B, in, h, w) -> (B, out, 2h, 2w)."""
    return make_deconv_layers(in_channels, [out_channels])


def _bare_deconv(channels: int) -> nn.ConvTranspose2d:
    """ConvTranspose2d 4x4 s2 (no bias) only: (B, c, h, w) -> (B, c, 2h, 2w)."""
    return nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1, bias=False)


def _side_conv(in_channels: int, num_keypoints: int) -> nn.Sequential:
    """[1x1 Conv2d in -> K (bias), BN, ReLU]: features -> low-resolution heatmaps."""
    return nn.Sequential(
        nn.Conv2d(in_channels, num_keypoints, kernel_size=1, bias=True),
        nn.BatchNorm2d(num_keypoints),
        nn.ReLU(inplace=True),
    )


class _MRHeatBase(ResNet):
    """Shared trunk and main deconvolution path of MRHeatNet1/2."""

    output_names = HeatmapCodec.output_names

    def __init__(self, depth: int, num_keypoints: int, input_hw: Sequence[int], *,
                 deconv_channels: int = 256) -> None:
        k = check_num_keypoints(num_keypoints)
        input_hw = check_input_hw(input_hw)
        c = int(deconv_channels)
        super().__init__(depth)
        self.num_keypoints = k
        self.input_hw = input_hw
        self.deconv1 = _deconv(self.stage_channels[3], c)
        self.deconv2 = _deconv(c, c)
        self.deconv3 = _deconv(c, c)
        self.s_conv1 = _side_conv(c, k)
        self.s_deconv1 = _deconv(k, k)
        self.s_conv2 = _side_conv(c, k)
        self.s_deconv2 = _bare_deconv(k)
        self.final_layer = nn.Conv2d(c, k, kernel_size=1, bias=True)

    def _main_path(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images -> (d1 (B,C,H/16,W/16), d2 (B,C,H/8,W/8), main heatmaps (B,K,H/4,W/4))."""
        d1 = self.deconv1(self.forward_features(x))
        d2 = self.deconv2(d1)
        return d1, d2, self.final_layer(self.deconv3(d2))


class MRHeatNet1(_MRHeatBase):
    """Multi-resolution heatmap learning, progressive fusion (paper Fig. 3a).

    ``forward``: images (B, 3, H, W) -> heatmaps (B, K, H/4, W/4).
    """

    head_name = "mrheat1"

    def __init__(self, depth: int, num_keypoints: int, input_hw: Sequence[int], *,
                 deconv_channels: int = 256) -> None:
        super().__init__(depth, num_keypoints, input_hw, deconv_channels=deconv_channels)
        init_head_weights([self.deconv1, self.deconv2, self.deconv3, self.s_conv1,
                           self.s_deconv1, self.s_conv2, self.s_deconv2, self.final_layer])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> heatmaps (B, K, H/4, W/4)."""
        d1, d2, main = self._main_path(x)
        s1 = self.s_deconv1(self.s_conv1(d1))            # (B, K, H/8, W/8)
        s2 = self.s_deconv2(self.s_conv2(d2) + s1)       # (B, K, H/4, W/4)
        return main + s2


class MRHeatNet2(_MRHeatBase):
    """Multi-resolution heatmap learning, independent upsampling (paper Fig. 3b).

    ``forward``: images (B, 3, H, W) -> heatmaps (B, K, H/4, W/4).
    """

    head_name = "mrheat2"

    def __init__(self, depth: int, num_keypoints: int, input_hw: Sequence[int], *,
                 deconv_channels: int = 256) -> None:
        super().__init__(depth, num_keypoints, input_hw, deconv_channels=deconv_channels)
        self.s_deconv12 = _bare_deconv(self.num_keypoints)
        init_head_weights([self.deconv1, self.deconv2, self.deconv3, self.s_conv1,
                           self.s_deconv1, self.s_deconv12, self.s_conv2, self.s_deconv2,
                           self.final_layer])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> heatmaps (B, K, H/4, W/4)."""
        d1, d2, main = self._main_path(x)
        s1 = self.s_deconv12(self.s_deconv1(self.s_conv1(d1)))   # (B, K, H/4, W/4)
        s2 = self.s_deconv2(self.s_conv2(d2))                    # (B, K, H/4, W/4)
        return main + s1 + s2


class _MRFeaBase(ResNet):
    """Multi-resolution feature-map learning; ``halve`` selects MRFeaNet2's path widths."""

    output_names = HeatmapCodec.output_names
    halve_channels = False

    def __init__(self, depth: int, num_keypoints: int, input_hw: Sequence[int]) -> None:
        num_keypoints = check_num_keypoints(num_keypoints)
        input_hw = check_input_hw(input_hw)
        super().__init__(depth)
        self.num_keypoints = num_keypoints
        self.input_hw = input_hw
        c1, c2, c3, c4 = self.stage_channels
        # widths after the 1st/2nd deconv of the layer4 path and the 1st of the layer3 path
        w4a, w4b, w3a = (c3, c2, c2) if self.halve_channels else (c1, c1, c1)
        self.deconv11 = _deconv(c4, w4a)
        self.deconv12 = _deconv(w4a, w4b)
        self.deconv13 = _deconv(w4b, c1)
        self.deconv21 = _deconv(c3, w3a)
        self.deconv22 = _deconv(w3a, c1)
        self.deconv3 = _deconv(c2, c1)
        self.final_layer = nn.Conv2d(c1, self.num_keypoints, kernel_size=1, bias=True)
        init_head_weights([self.deconv11, self.deconv12, self.deconv13, self.deconv21,
                           self.deconv22, self.deconv3, self.final_layer])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> heatmaps (B, K, H/4, W/4)."""
        f1, f2, f3, f4 = self.forward_stages(x)
        f2 = self.deconv3(f2)                                    # (B, C, H/4, W/4)
        f3 = self.deconv22(self.deconv21(f3))                    # (B, C, H/4, W/4)
        f4 = self.deconv13(self.deconv12(self.deconv11(f4)))     # (B, C, H/4, W/4)
        return self.final_layer((f1 + f2 + f3 + f4) / 4)


class MRFeaNet1(_MRFeaBase):
    """Multi-resolution feature-map learning, constant width C (paper Fig. 4a).

    Args: depth, num_keypoints, input_hw (multiples of 32).
    ``forward``: images (B, 3, H, W) -> heatmaps (B, K, H/4, W/4).
    """

    head_name = "mrfea1"
    halve_channels = False


class MRFeaNet2(_MRFeaBase):
    """Multi-resolution feature-map learning, widths halving per x2 upsampling (Fig. 4b).

    Args: depth, num_keypoints, input_hw (multiples of 32).
    ``forward``: images (B, 3, H, W) -> heatmaps (B, K, H/4, W/4).
    """

    head_name = "mrfea2"
    halve_channels = True
