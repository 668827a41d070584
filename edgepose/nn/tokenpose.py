"""TokenPose-S (v1) pose models: the heatmap model with its MLP head, and SimDR on its
keypoint tokens.

Module names equal the official code's (``leeyegy/TokenPose`` ``pose_tokenpose_s.py`` /
``tokenpose_base.py``), so official checkpoints load by key. Everything but the SimDR heads
sits under ``features`` (the official ``TokenPose_S_base``):

* stem: ``conv1`` (3x3, stride 2, 3 -> 64), ``bn1``, ``conv2`` (3x3, stride 2), ``bn2``, ReLU,
  ``layer1`` (four Bottlenecks, 64 -> 256 channels): (B, 256, H/4, W/4).
* patches: the stride-4 map is cut into a 16 x 16 grid of (ph, pw) patches, each flattened in
  the order (p1, p2, c) and embedded by ``patch_to_embedding`` Linear(256*ph*pw, D).
  TokenPose-S-v1 at 256x192 uses 4x3 patches. The patch sizes of the SimDR paper's 64x64 and
  128x128 models are not published; 1x1 and 2x2 patches (the same 16 x 16 grid) reproduce its
  parameter and GFLOPs figures, so (ph, pw) = (H/64, W/64).
* ``keypoint_token`` (1, K, D): learned queries, prepended to the patch tokens.
* ``pos_embedding`` (1, 256, D): the fixed 2-D sine embedding ("sine-full"), kept as a
  buffer (same state_dict key as the official frozen parameter); it is added to the patch
  tokens before every transformer layer.
* ``transformer.layers.{i}``: D = 192, 12 layers, 8 heads, MLP ratio 3, pre-norm:
  ``{i}.0.fn.norm`` LayerNorm, ``{i}.0.fn.fn.to_qkv`` Linear(D, 3D, no bias),
  ``{i}.0.fn.fn.to_out.0`` Linear(D, D); ``{i}.1.fn.norm`` LayerNorm,
  ``{i}.1.fn.fn.net.0`` Linear(D, 3D), GELU, ``{i}.1.fn.fn.net.3`` Linear(3D, D).
  Attention logits are scaled by D**-0.5 (the whole width, not the per-head width), as in
  the official TokenPose-S.
* heatmap head ``features.mlp_head``: LayerNorm(D), Linear(D, h*w) when D > h*w/16, else
  LayerNorm(D), Linear(D, h*w/8), LayerNorm(h*w/8), Linear(h*w/8, h*w) (the official rule;
  256x192 takes the second form) -> heatmaps (B, K, H/4, W/4).
* SimDR head (the paper replaces the MLP head by a linear layer; no official code for it,
  key names as in the authors' later TokenPose-with-SimDR code): ``mlp_head_x`` = [LayerNorm(D), Linear(D, W*k)] and
  ``mlp_head_y`` = [LayerNorm(D), Linear(D, H*k)] on the K keypoint tokens.

Attention is written with plain matmul and softmax, so it exports to ONNX / TFLite builtin
ops. Initialisation follows the official code: Linear weights truncated N(0, 0.02) with zero
biases, LayerNorm 1 / 0, ``keypoint_token`` truncated N(0, 0.02), convolutions N(0, 0.001),
BatchNorm 1 / 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from edgepose.codecs import HeatmapCodec, SimDRCodec
from edgepose.errors import InputError
from edgepose.nn.heads import check_num_keypoints, num_bins
from edgepose.nn.resnet import Bottleneck

__all__ = [
    "TOKENPOSE_CONFIGS",
    "TokenPoseConfig",
    "TokenPoseBase",
    "TokenPose",
    "SimDRTokenPose",
    "check_tokenpose_input_hw",
    "parse_tokenpose",
    "sine_position_embedding",
]

#: Side of the patch-token grid (16 x 16 tokens at every input size).
TOKEN_GRID = 16
#: Stride of the convolutional stem (and of the heatmaps).
STEM_STRIDE = 4


@dataclass(frozen=True)
class TokenPoseConfig:
    """Width and depth of a TokenPose variant (official ``MODEL`` config entries).

    Attributes:
        dim: token width D (``DIM``), even and divisible by ``heads``.
        depth: transformer layers (``TRANSFORMER_DEPTH``).
        heads: attention heads (``TRANSFORMER_HEADS``).
        mlp_ratio: hidden width of the feed-forward block / D (``TRANSFORMER_MLP_RATIO``).
    """

    dim: int
    depth: int
    heads: int
    mlp_ratio: int

    def __post_init__(self) -> None:
        if self.dim % self.heads or self.dim % 2:
            raise InputError(f"TokenPose dim {self.dim} must be even and divisible by heads {self.heads}")


#: backbone name -> configuration. TokenPose-S-v1: D 192, 12 layers, 8 heads, MLP ratio 3.
TOKENPOSE_CONFIGS: dict[str, TokenPoseConfig] = {"tokenpose_s": TokenPoseConfig(192, 12, 8, 3)}


def parse_tokenpose(backbone: str) -> str:
    """Normalise a TokenPose backbone name: ``"tokenpose_s"`` or ``"tps"`` -> ``"tokenpose_s"``."""
    text = str(backbone).strip().lower().replace("-", "_")
    if text in ("tps", "tokenpose_s_v1"):
        text = "tokenpose_s"
    if text not in TOKENPOSE_CONFIGS:
        raise InputError(f"unknown TokenPose backbone {backbone!r}: expected one of {sorted(TOKENPOSE_CONFIGS)}")
    return text


def check_tokenpose_input_hw(input_hw: Sequence[int]) -> tuple[int, int]:
    """Validate an input size (H, W): positive multiples of 64 (a 16 x 16 grid of whole patches)."""
    try:
        height, width = (int(v) for v in input_hw)
    except (TypeError, ValueError) as exc:
        raise InputError(f"input_hw must be (height, width), got {input_hw!r}") from exc
    unit = STEM_STRIDE * TOKEN_GRID
    if height <= 0 or width <= 0 or height % unit or width % unit:
        raise InputError(
            f"input_hw {tuple(input_hw)} must be positive multiples of {unit} for TokenPose (a "
            f"{TOKEN_GRID} x {TOKEN_GRID} grid of patches on the stride-4 map); e.g. (64, 64), "
            "(128, 128), (256, 192)"
        )
    return height, width


def sine_position_embedding(grid_hw: Sequence[int], dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """The official fixed 2-D sine embedding of a token grid.

    Row and column indices 1..n are normalised to (0, 2*pi]; each takes D/2 channels of
    interleaved sin / cos at frequencies ``temperature ** (2 * (i // 2) / (D / 2))``; the
    y channels come first.

    Args:
        grid_hw: (rows, columns) of the token grid.
        dim: D (even).

    Returns:
        (1, rows * columns, D) float32, tokens in row-major order.
    """
    rows, cols = (int(v) for v in grid_hw)
    half = dim // 2
    scale, eps = 2 * math.pi, 1e-6
    y = torch.arange(1, rows + 1, dtype=torch.float32)[:, None].expand(rows, cols)
    x = torch.arange(1, cols + 1, dtype=torch.float32)[None, :].expand(rows, cols)
    y = y / (rows + eps) * scale
    x = x / (cols + eps) * scale
    freq = temperature ** (2 * (torch.arange(half, dtype=torch.float32) // 2) / half)

    def encode(v: torch.Tensor) -> torch.Tensor:  # (rows, cols) -> (rows, cols, half)
        angles = v[..., None] / freq
        return torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), dim=-1).flatten(-2)

    return torch.cat((encode(y), encode(x)), dim=-1).reshape(1, rows * cols, 2 * half)


class Residual(nn.Module):
    """``fn(x) + x`` (official ``Residual``; the wrapped module is ``fn``)."""

    def __init__(self, fn: nn.Module) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> (B, N, D)."""
        return self.fn(x) + x


class PreNorm(nn.Module):
    """``fn(LayerNorm(x))`` (official ``PreNorm``: modules ``norm`` and ``fn``)."""

    def __init__(self, dim: int, fn: nn.Module) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> (B, N, D)."""
        return self.fn(self.norm(x))


class FeedForward(nn.Module):
    """Linear(D, hidden), GELU, Linear(hidden, D) (official ``FeedForward.net`` indices 0 and 3)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.0),
                                 nn.Linear(hidden, dim), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> (B, N, D)."""
        return self.net(x)


class Attention(nn.Module):
    """Multi-head self-attention with plain matmul / softmax (exports to builtin ops).

    Args:
        dim: D.
        heads: number of heads h (per-head width D/h).
        scale: logit scale; the official TokenPose-S uses D**-0.5.
    """

    def __init__(self, dim: int, heads: int, scale: float) -> None:
        super().__init__()
        self.heads = heads
        self.scale = scale
        self.to_qkv = nn.Linear(dim, dim * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(dim, dim), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens (B, N, D) -> (B, N, D)."""
        b, n, d = x.shape
        # (B, N, 3D) -> 3 x (B, h, N, D/h); channel order (3, h, D/h) as the official 'b n (h d)'
        qkv = self.to_qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * self.scale, dim=-1)  # (B, h, N, N)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(b, n, d)
        return self.to_out(out)


class Transformer(nn.Module):
    """Pre-norm transformer encoder; the patch tokens get the position embedding again before
    every layer after the first (the official "sine-full" mode).

    ``forward(x, pos)``: tokens (B, K + N, D), pos (1, N, D) -> (B, K + N, D).
    """

    def __init__(self, dim: int, depth: int, heads: int, mlp_dim: int, num_keypoints: int) -> None:
        super().__init__()
        self.num_keypoints = num_keypoints
        self.layers = nn.ModuleList(
            nn.ModuleList([Residual(PreNorm(dim, Attention(dim, heads, dim ** -0.5))),
                           Residual(PreNorm(dim, FeedForward(dim, mlp_dim)))])
            for _ in range(depth))

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Tokens (B, K + N, D) and pos (1, N, D) -> (B, K + N, D)."""
        k = self.num_keypoints
        for index, layer in enumerate(self.layers):
            attn, ff = layer[0], layer[1]
            if index > 0:
                x = torch.cat((x[:, :k], x[:, k:] + pos), dim=1)
            x = ff(attn(x))
        return x


class TokenPoseBase(nn.Module):
    """Stem, patch embedding, keypoint tokens and transformer (official ``TokenPose_S_base``),
    with or without its heatmap MLP head.

    Args:
        config: a :class:`TokenPoseConfig`.
        num_keypoints: K.
        input_hw: (H, W), multiples of 64.
        heatmap_head: build ``mlp_head`` (the heatmap model) or not (SimDR replaces it).

    ``forward_tokens``: images (B, 3, H, W) -> keypoint tokens (B, K, D).
    ``forward``: images -> heatmaps (B, K, H/4, W/4) (needs the heatmap head).
    """

    def __init__(self, config: TokenPoseConfig, num_keypoints: int, input_hw: tuple[int, int], *,
                 heatmap_head: bool) -> None:
        super().__init__()
        height, width = input_hw
        dim = config.dim
        self.num_keypoints = num_keypoints
        self.heatmap_hw = (height // STEM_STRIDE, width // STEM_STRIDE)
        self.patch_size = (self.heatmap_hw[0] // TOKEN_GRID, self.heatmap_hw[1] // TOKEN_GRID)
        self.num_patches = TOKEN_GRID * TOKEN_GRID
        channels = 256
        self.keypoint_token = nn.Parameter(torch.zeros(1, num_keypoints, dim))
        # The official code holds it as a Parameter with requires_grad=False; a persistent buffer
        # has the same state_dict key and stays out of parameters() (the paper's counts exclude it).
        self.pos_embedding: torch.Tensor
        self.register_buffer("pos_embedding", sine_position_embedding((TOKEN_GRID, TOKEN_GRID), dim))
        self.patch_to_embedding = nn.Linear(channels * self.patch_size[0] * self.patch_size[1], dim)
        self.dropout = nn.Dropout(0.0)
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = nn.Conv2d(64, 64, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        downsample = nn.Sequential(nn.Conv2d(64, 256, 1, bias=False), nn.BatchNorm2d(256))
        self.layer1 = nn.Sequential(Bottleneck(64, 64, 1, downsample),
                                    *(Bottleneck(256, 64) for _ in range(3)))
        self.transformer = Transformer(dim, config.depth, config.heads, dim * config.mlp_ratio, num_keypoints)
        self.to_keypoint_token = nn.Identity()
        self.mlp_head: nn.Module | None = None
        if heatmap_head:
            area = self.heatmap_hw[0] * self.heatmap_hw[1]
            hidden = area // 8
            if dim <= hidden * 0.5:  # the official rule (apply_multi)
                self.mlp_head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden),
                                              nn.LayerNorm(hidden), nn.Linear(hidden, area))
            else:
                self.mlp_head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, area))
        init_tokenpose_weights(self)
        nn.init.trunc_normal_(self.keypoint_token, std=0.02)

    def forward_tokens(self, img: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> keypoint tokens (B, K, D)."""
        x = self.relu(self.bn1(self.conv1(img)))
        x = self.layer1(self.relu(self.bn2(self.conv2(x))))  # (B, C, H/4, W/4)
        b, c = x.shape[0], x.shape[1]
        ph, pw = self.patch_size
        # 'b c (h p1) (w p2) -> b (h w) (p1 p2 c)'
        x = x.reshape(b, c, TOKEN_GRID, ph, TOKEN_GRID, pw).permute(0, 2, 4, 3, 5, 1)
        x = self.patch_to_embedding(x.reshape(b, self.num_patches, ph * pw * c)) + self.pos_embedding
        tokens = self.keypoint_token.expand(b, -1, -1)
        x = self.dropout(torch.cat((tokens, x), dim=1))
        x = self.transformer(x, self.pos_embedding)
        return self.to_keypoint_token(x[:, :self.num_keypoints])

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> heatmaps (B, K, H/4, W/4)."""
        if self.mlp_head is None:
            raise InputError("this TokenPose trunk has no heatmap head (a SimDR model); call forward_tokens")
        x = self.mlp_head(self.forward_tokens(img))
        return x.reshape(x.shape[0], self.num_keypoints, *self.heatmap_hw)


def init_tokenpose_weights(root: nn.Module) -> None:
    """Official init: Linear trunc N(0, 0.02) / bias 0, LayerNorm 1 / 0, conv N(0, 0.001), BN 1 / 0."""
    for m in root.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.LayerNorm, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, std=0.001)


class TokenPose(nn.Module):
    """TokenPose heatmap model (official ``pose_tokenpose_s``; its MLP head makes heatmaps).

    Args:
        backbone: ``"tokenpose_s"``.
        num_keypoints: K.
        input_hw: (H, W), multiples of 64.

    ``forward``: images (B, 3, H, W) -> heatmaps (B, K, H/4, W/4).
    """

    head_name = "heatmap"
    output_names: tuple[str, ...] = HeatmapCodec.output_names

    def __init__(self, backbone: str, num_keypoints: int, input_hw: Sequence[int]) -> None:
        super().__init__()
        self.backbone = parse_tokenpose(backbone)
        self.num_keypoints = check_num_keypoints(num_keypoints)
        self.input_hw = check_tokenpose_input_hw(input_hw)
        self.features = TokenPoseBase(TOKENPOSE_CONFIGS[self.backbone], self.num_keypoints, self.input_hw,
                                      heatmap_head=self.head_name == "heatmap")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> heatmaps (B, K, H/4, W/4)."""
        return self.features(x)


class SimDRTokenPose(TokenPose):
    """SimDR on TokenPose: the MLP heatmap head replaced by linear x / y heads per keypoint token.

    Args:
        backbone, num_keypoints, input_hw: as :class:`TokenPose`.
        split_ratio: k, bins per input pixel.

    ``forward``: images (B, 3, H, W) -> (simcc_x (B, K, W*k), simcc_y (B, K, H*k)) logits.
    """

    head_name = "simdr"
    output_names = SimDRCodec.output_names

    def __init__(self, backbone: str, num_keypoints: int, input_hw: Sequence[int], *,
                 split_ratio: float) -> None:
        height, width = check_tokenpose_input_hw(input_hw)
        bins_x, bins_y = num_bins(width, split_ratio), num_bins(height, split_ratio)
        super().__init__(backbone, num_keypoints, input_hw)
        self.split_ratio = float(split_ratio)
        dim = TOKENPOSE_CONFIGS[self.backbone].dim
        self.mlp_head_x = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, bins_x))
        self.mlp_head_y = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, bins_y))
        init_tokenpose_weights(self.mlp_head_x)
        init_tokenpose_weights(self.mlp_head_y)

    def forward(  # type: ignore[override]
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, 3, H, W) -> (simcc_x (B, K, W*k), simcc_y (B, K, H*k))."""
        tokens = self.features.forward_tokens(x)  # (B, K, D)
        return self.mlp_head_x(tokens), self.mlp_head_y(tokens)
