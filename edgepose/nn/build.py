"""Build a torch pose model from a ``ModelSpec`` (or a registry name, or explicit arguments).

``ModelSpec.arch`` (see CONTRACTS.md)::

    {"head": "simdr" | "simdr_deconv" | "heatmap" | "mrheat1" | "mrheat2" | "mrfea1" | "mrfea2",
     "backbone": "resnet18" | "resnet34" | "resnet50" | "resnet101" | "resnet152"
                 | "hrnet_w32" | "hrnet_w48" | "tokenpose_s",
     "cpj": int,            # "simdr" on a ResNet only: channels per joint
     "split_ratio": float}  # "simdr" and "simdr_deconv": k, bins per input pixel

ResNet trunks take every head (:data:`HEADS`). HRNet and TokenPose trunks take "heatmap" and
"simdr" (:data:`TRUNK_HEADS`): their "simdr" is the paper's linear x/y head on the flattened
per-keypoint heatmap (HRNet) or on the keypoint tokens (TokenPose), and has no ``cpj``.

Outputs of the built model (``model(images)`` with images (B, 3, H, W)):
SimDR heads -> ``(simcc_x (B, K, W*k), simcc_y (B, K, H*k))`` logits;
heatmap heads -> ``heatmaps (B, K, H/4, W/4)``.

Every built model carries ``num_keypoints``, ``input_hw``, ``head_name``, ``output_names``
and ``arch`` (the normalised arch dict) as attributes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Callable

from torch import nn

from edgepose.errors import InputError
from edgepose.nn.heads import SimDRDeconvResNet, SimDRResNet, SimpleBaseline
from edgepose.nn.hrnet import HRNET_WIDTHS, PoseHRNet, SimDRHRNet, parse_hrnet
from edgepose.nn.multires import MRFeaNet1, MRFeaNet2, MRHeatNet1, MRHeatNet2
from edgepose.nn.resnet import parse_backbone
from edgepose.nn.tokenpose import TOKENPOSE_CONFIGS, SimDRTokenPose, TokenPose, parse_tokenpose

__all__ = ["build", "build_model", "normalize_arch", "HEADS", "SIMDR_HEADS", "TRUNK_HEADS"]

logger = logging.getLogger(__name__)

#: head name -> model class (ResNet trunks)
HEADS: dict[str, Callable[..., nn.Module]] = {
    "simdr": SimDRResNet,
    "simdr_deconv": SimDRDeconvResNet,
    "heatmap": SimpleBaseline,
    "mrheat1": MRHeatNet1,
    "mrheat2": MRHeatNet2,
    "mrfea1": MRFeaNet1,
    "mrfea2": MRFeaNet2,
}
#: heads whose outputs are (simcc_x, simcc_y) and that need ``split_ratio``
SIMDR_HEADS = frozenset({"simdr", "simdr_deconv"})
#: non-ResNet backbone -> {head name -> model class}; classes take (backbone, K, input_hw[, split_ratio])
TRUNK_HEADS: dict[str, dict[str, Callable[..., nn.Module]]] = {
    **{name: {"heatmap": PoseHRNet, "simdr": SimDRHRNet} for name in HRNET_WIDTHS},
    **{name: {"heatmap": TokenPose, "simdr": SimDRTokenPose} for name in TOKENPOSE_CONFIGS},
}
_ARCH_KEYS = frozenset({"head", "backbone", "cpj", "split_ratio"})


def _trunk_name(backbone: Any) -> str | None:
    """The :data:`TRUNK_HEADS` name of ``backbone`` (``"hrw32"`` -> ``"hrnet_w32"``,
    ``"tps"`` -> ``"tokenpose_s"``), or None for any other name."""
    for parse in (parse_hrnet, parse_tokenpose):
        try:
            return parse(str(backbone))
        except InputError:
            continue
    return None


def normalize_arch(arch: Mapping[str, Any]) -> dict[str, Any]:
    """Validate an arch dict and return it normalised (``backbone`` as ``"resnetNN"``, or a
    :data:`TRUNK_HEADS` name such as ``"hrnet_w32"``).

    Raises:
        InputError (a ValueError): unknown head/backbone/keys, or a missing or misplaced
            ``cpj`` / ``split_ratio``.
    """
    if not isinstance(arch, Mapping):
        raise InputError(f"arch must be a dict, got {type(arch).__name__}")
    unknown = set(arch) - _ARCH_KEYS
    if unknown:
        raise InputError(f"arch has unknown keys {sorted(unknown)}; allowed: {sorted(_ARCH_KEYS)}")
    head = arch.get("head")
    if head not in HEADS:
        raise InputError(f"arch['head'] = {head!r} is not one of {sorted(HEADS)}")
    if "backbone" not in arch:
        raise InputError("arch['backbone'] is missing; e.g. 'resnet50'")
    backbone = _trunk_name(arch["backbone"]) or str(arch["backbone"])
    if backbone in TRUNK_HEADS:
        if head not in TRUNK_HEADS[backbone]:
            raise InputError(f"arch['head'] = {head!r} does not go with backbone {backbone!r}; "
                             f"it takes {sorted(TRUNK_HEADS[backbone])}")
        out: dict[str, Any] = {"head": head, "backbone": backbone}
    else:
        try:
            out = {"head": head, "backbone": f"resnet{parse_backbone(backbone)}"}
        except InputError:
            raise InputError(f"unknown backbone {arch['backbone']!r}: expected resnet18/34/50/101/152 "
                             f"or one of {sorted(TRUNK_HEADS)}") from None
    if head == "simdr" and backbone not in TRUNK_HEADS:
        if arch.get("cpj") is None:
            raise InputError("arch['cpj'] (channels per joint) is required for head 'simdr'; "
                             "official: 32 at 64x64/128x128, 28 at 256x192")
        out["cpj"] = int(arch["cpj"])
    elif arch.get("cpj") is not None:
        raise InputError(f"arch['cpj'] is only used by head 'simdr' on a ResNet, not {head!r} on "
                         f"{out['backbone']!r}; remove it")
    if head in SIMDR_HEADS:
        if arch.get("split_ratio") is None:
            raise InputError(f"arch['split_ratio'] (k) is required for head {head!r}; "
                             "official: 3.0 at 64x64/128x128, 2.0 at 256x192")
        out["split_ratio"] = float(arch["split_ratio"])
    elif arch.get("split_ratio") is not None:
        raise InputError(f"arch['split_ratio'] is only used by SimDR heads, not {head!r}; "
                         "remove it")
    return out


def build_model(head: str, backbone: str | int, num_keypoints: int, input_hw: Sequence[int], *,
                cpj: int | None = None, split_ratio: float | None = None) -> nn.Module:
    """Build a model from explicit arguments (randomly initialised; see ``edgepose.nn.weights``).

    Args:
        head: one of :data:`HEADS` (ResNet) or of the backbone's :data:`TRUNK_HEADS` entry.
        backbone: ``"resnet50"`` (or ``"r50"``, ``50``), ``"hrnet_w32"``, ``"hrnet_w48"`` or
            ``"tokenpose_s"``.
        num_keypoints: K.
        input_hw: (H, W), multiples of 32 (TokenPose: of 64).
        cpj: channels per joint (head ``"simdr"`` on a ResNet only).
        split_ratio: k (SimDR heads only).
    """
    arch = normalize_arch({"head": head, "backbone": backbone, "cpj": cpj,
                           "split_ratio": split_ratio})
    if arch["backbone"] in TRUNK_HEADS:
        extra = {"split_ratio": arch["split_ratio"]} if head in SIMDR_HEADS else {}
        model = TRUNK_HEADS[arch["backbone"]][head](arch["backbone"], num_keypoints, input_hw, **extra)
        model.arch = arch
        logger.debug("built %s %s K=%d input_hw=%s", head, arch["backbone"], num_keypoints,
                     tuple(input_hw))
        return model
    depth = parse_backbone(arch["backbone"])
    kwargs: dict[str, Any] = {}
    if head == "simdr":
        kwargs["cpj"] = arch["cpj"]
    if head in SIMDR_HEADS:
        kwargs["split_ratio"] = arch["split_ratio"]
    model = HEADS[head](depth, num_keypoints, input_hw, **kwargs)
    model.arch = arch
    logger.debug("built %s %s K=%d input_hw=%s", head, arch["backbone"], num_keypoints,
                 tuple(input_hw))
    return model


def _resolve_spec(spec_or_name: Any) -> Any:
    if isinstance(spec_or_name, str):
        try:
            from edgepose.zoo import get_spec
        except ImportError as exc:
            raise InputError(
                f"cannot look up model {spec_or_name!r}: edgepose.zoo is not importable ({exc}); "
                "pass a ModelSpec, or arch=..., input_hw=... and num_keypoints=..."
            ) from exc
        return get_spec(spec_or_name)
    return spec_or_name


def _num_keypoints_of(keypoint_set: str) -> int:
    try:
        from edgepose.skeleton import get_keypoint_set
    except ImportError as exc:
        raise InputError(
            f"cannot resolve keypoint_set {keypoint_set!r}: edgepose.skeleton is not importable "
            f"({exc}); pass num_keypoints=..."
        ) from exc
    return get_keypoint_set(keypoint_set).num_keypoints


def build(spec_or_name: Any = None, *, num_keypoints: int | None = None,
          arch: Mapping[str, Any] | None = None, input_hw: Sequence[int] | None = None,
          keypoint_set: str | None = None) -> nn.Module:
    """Build the torch model of a ``ModelSpec``, a registry name, or explicit arguments.

    Args:
        spec_or_name: a ``ModelSpec`` (any object with ``arch``, ``input_hw`` and
            ``keypoint_set`` attributes), a registry name (looked up with
            ``edgepose.zoo.get_spec``), or None when ``arch`` and ``input_hw`` are given.
        num_keypoints: K; overrides the spec's keypoint set (e.g. to fine-tune on another set).
        arch, input_hw, keypoint_set: override (or, without a spec, supply) the spec's fields.

    Returns:
        A randomly initialised ``nn.Module`` (see ``edgepose.nn.weights`` to load weights).
        Outputs: SimDR heads ``(simcc_x (B,K,W*k), simcc_y (B,K,H*k))``; heatmap heads
        ``(B, K, H/4, W/4)``.
    """
    spec = _resolve_spec(spec_or_name)
    if arch is None:
        arch = getattr(spec, "arch", None)
    if input_hw is None:
        input_hw = getattr(spec, "input_hw", None)
    if keypoint_set is None:
        keypoint_set = getattr(spec, "keypoint_set", None)
    if arch is None or input_hw is None:
        raise InputError("build() needs a ModelSpec or registry name, or both arch=... and "
                         "input_hw=...")
    if num_keypoints is None:
        if keypoint_set is None:
            raise InputError("build() needs num_keypoints=... or a keypoint_set")
        num_keypoints = _num_keypoints_of(keypoint_set)
    norm = normalize_arch(arch)
    return build_model(norm["head"], norm["backbone"], num_keypoints, input_hw,
                       cpj=norm.get("cpj"), split_ratio=norm.get("split_ratio"))
