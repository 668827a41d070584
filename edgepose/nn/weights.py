"""Load pretrained weights: torchvision ImageNet ResNets into a model's trunk, and official
pose checkpoints (SimDR ``pose_resnet_upfree`` / ``pose_resnet``, SimpleBaseline, SimMRPose)
into a whole model.

Sources may be a local file, an ``http(s)://`` URL (downloaded through
``torch.hub.load_state_dict_from_url`` into the torch hub cache, with ``check_hash=True`` by
default: the file name must carry the first hex digits of its sha256, as torchvision's do),
or an in-memory mapping. Files are read with ``torch.load(weights_only=True)``.

Checkpoint wrappers are unwrapped (``{"state_dict": {...}}``, or another key via ``key=``) and
the ``module.`` prefix of DataParallel / DistributedDataParallel checkpoints is stripped.
Mismatches raise :class:`CheckpointMismatchError` listing missing keys, unexpected keys and
shape mismatches; a BatchNorm ``num_batches_tracked`` missing from an old file (such as
torchvision's legacy ImageNet weights) is not an error: the model keeps its own value.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Union

import torch
from torch import nn

from edgepose.errors import ChecksumError, ModelFileError

__all__ = [
    "TORCHVISION_RESNET_URLS",
    "LEGACY_TORCHVISION_RESNET_URLS",
    "CheckpointMismatchError",
    "LoadReport",
    "read_state_dict",
    "load_imagenet_backbone",
    "load_pose_checkpoint",
]

logger = logging.getLogger(__name__)

Source = Union[str, os.PathLike, Mapping[str, Any]]

#: torchvision IMAGENET1K_V1 ResNet weights (depth -> URL; the name carries the sha256 prefix).
TORCHVISION_RESNET_URLS: dict[int, str] = {
    18: "https://download.pytorch.org/models/resnet18-f37072fd.pth",
    34: "https://download.pytorch.org/models/resnet34-b627a593.pth",
    50: "https://download.pytorch.org/models/resnet50-0676ba61.pth",
    101: "https://download.pytorch.org/models/resnet101-63fe2227.pth",
    152: "https://download.pytorch.org/models/resnet152-394f9c45.pth",
}
#: The older files of the same V1 weights, as used by the official SimDR/SimpleBaseline configs
#: (e.g. ``resnet50-19c8e357.pth``); they lack ``num_batches_tracked``.
LEGACY_TORCHVISION_RESNET_URLS: dict[int, str] = {
    18: "https://download.pytorch.org/models/resnet18-5c106cde.pth",
    34: "https://download.pytorch.org/models/resnet34-333f7ec4.pth",
    50: "https://download.pytorch.org/models/resnet50-19c8e357.pth",
    101: "https://download.pytorch.org/models/resnet101-5d3b4d8f.pth",
    152: "https://download.pytorch.org/models/resnet152-b121ed2d.pth",
}

_TRUNK_PREFIXES = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.")
#: the tensors whose shapes (or presence) follow the input size, for ``load_pose_checkpoint(fresh=...)``:
#: the SimDR x/y classifiers of every family and, for TokenPose, the patch embedding Linear(256*ph*pw, D)
#: (the patch grows with the input), the heatmap ``mlp_head`` (H/4*W/4 outputs, one or two Linear
#: layers by size) and the fixed sine position embedding (a buffer of the token grid)
RESIZABLE_HEADS = ("mlp_head_x.", "mlp_head_y.", "features.patch_to_embedding.", "features.mlp_head.",
                   "features.pos_embedding")
_LIST_LIMIT = 20


class CheckpointMismatchError(ModelFileError, ValueError):
    """A state_dict's keys or shapes do not match the model it is loaded into."""


@dataclass(frozen=True)
class LoadReport:
    """What a load did.

    Attributes:
        loaded: keys copied into the model.
        missing: model keys the source lacks.
        unexpected: source keys the model lacks.
        mismatched: (key, source shape, model shape) for keys whose shapes differ.
        ignored: source keys dropped on purpose (e.g. the ImageNet classifier ``fc.*``, or
            keys under ``fresh`` prefixes that the model lacks).
        kept: model keys kept at their current value on purpose (``num_batches_tracked``
            absent from old files, and keys under ``fresh`` prefixes that the source lacks).
        fresh: (key, source shape, model shape) of tensors of another shape left at the
            model's initial values on purpose (``load_pose_checkpoint(fresh=...)``).
    """

    loaded: tuple[str, ...]
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    mismatched: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = ()
    ignored: tuple[str, ...] = ()
    kept: tuple[str, ...] = field(default=())
    fresh: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = ()

    def summary(self) -> str:
        """One line for logs: counts, and the first few problem keys."""
        parts = [f"{len(self.loaded)} tensors loaded"]
        for name in ("missing", "unexpected", "mismatched", "ignored", "kept", "fresh"):
            keys = getattr(self, name)
            if keys:
                first = ", ".join(str(k[0] if isinstance(k, tuple) else k) for k in keys[:3])
                parts.append(f"{len(keys)} {name} ({first}{', ...' if len(keys) > 3 else ''})")
        return "; ".join(parts)

    @property
    def ok(self) -> bool:
        """True when nothing is missing, unexpected or mismatched."""
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self) -> str:
        """A human-readable, multi-line account (lists truncated to 20 entries)."""
        lines = [f"loaded {len(self.loaded)} tensors"]
        for title, items in (("missing in source", self.missing),
                             ("unexpected in source", self.unexpected),
                             ("ignored", self.ignored),
                             ("kept model value", self.kept)):
            if items:
                lines.append(f"{title} ({len(items)}): {_short_list(items)}")
        if self.fresh:
            lines.append(f"started fresh, other shape ({len(self.fresh)}): " + "; ".join(
                f"{k}: source {tuple(a)} vs model {tuple(b)}" for k, a, b in self.fresh))
        if self.mismatched:
            shown = [f"{k}: source {tuple(a)} vs model {tuple(b)}"
                     for k, a, b in self.mismatched[:_LIST_LIMIT]]
            more = len(self.mismatched) - len(shown)
            lines.append(f"shape mismatches ({len(self.mismatched)}): " + "; ".join(shown)
                         + (f"; ... and {more} more" if more > 0 else ""))
        return "\n".join(lines)


def _short_list(items: tuple[str, ...] | list[str]) -> str:
    shown = ", ".join(items[:_LIST_LIMIT])
    more = len(items) - _LIST_LIMIT
    return shown + (f", ... and {more} more" if more > 0 else "")


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _load_object(source: str | os.PathLike, check_hash: bool, map_location: Any) -> Any:
    text = os.fspath(source)
    if _is_url(text):
        try:
            return torch.hub.load_state_dict_from_url(text, map_location=map_location,
                                                      check_hash=check_hash, weights_only=True)
        except RuntimeError as exc:
            if "hash" in str(exc).lower():
                raise ChecksumError(f"downloaded {text} does not match the sha256 prefix in its "
                                    f"name ({exc}); delete the cached copy and retry") from exc
            raise ModelFileError(f"cannot load weights from {text}: {exc}") from exc
        except OSError as exc:  # includes urllib's URLError (no network, 404)
            raise ModelFileError(f"cannot download {text}: {exc}; download it elsewhere and "
                                 "pass the local path") from exc
    if not os.path.isfile(text):
        raise ModelFileError(f"weights file {text!r} does not exist")
    try:
        return torch.load(text, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        raise ModelFileError(f"cannot read {text!r} as a torch weights file: "
                             f"{type(exc).__name__}: {exc}") from exc


def read_state_dict(source: Source, *, key: str | None = None, check_hash: bool = True,
                    map_location: Any = "cpu") -> dict[str, torch.Tensor]:
    """Read a state_dict from a file, URL or mapping; unwrap and strip ``module.``.

    Args:
        source: local path, ``http(s)://`` URL, or a mapping (a state_dict or a wrapper).
        key: wrapper key holding the state_dict; default: ``"state_dict"`` when present, and
            ``"model"`` for an edgepose training checkpoint (``{"spec", "model", ...}``).
        check_hash: for URLs, verify the sha256 prefix in the file name.
        map_location: passed to ``torch.load``.

    Returns:
        ``{name: tensor}`` with any leading ``module.`` removed.
    """
    obj = source if isinstance(source, Mapping) else _load_object(source, check_hash,
                                                                  map_location)
    if not isinstance(obj, Mapping):
        raise ModelFileError(f"expected a state_dict (a mapping), got {type(obj).__name__}")
    if key is not None:
        if key not in obj:
            raise ModelFileError(f"checkpoint has no key {key!r}; its keys: "
                                 f"{_short_list(sorted(map(str, obj)))}")
        obj = obj[key]
    elif "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    elif "spec" in obj and isinstance(obj.get("model"), Mapping):  # an edgepose training checkpoint
        obj = obj["model"]
    not_tensors = [str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise ModelFileError(
            f"not a state_dict: entries {_short_list(not_tensors)} are not tensors; if it is a "
            "wrapper, pass key=<name of the entry holding the state_dict>")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in obj.items()}


def _compare(model_sd: Mapping[str, torch.Tensor], source_sd: Mapping[str, torch.Tensor],
             wanted: list[str], ignored: tuple[str, ...]) -> LoadReport:
    wanted_set = set(wanted)
    missing, kept = [], []
    for k in wanted:
        if k not in source_sd:
            (kept if k.endswith("num_batches_tracked") else missing).append(k)
    unexpected = [k for k in source_sd if k not in wanted_set]
    mismatched = [(k, tuple(source_sd[k].shape), tuple(model_sd[k].shape))
                  for k in wanted if k in source_sd
                  and tuple(source_sd[k].shape) != tuple(model_sd[k].shape)]
    bad = {k for k, _, _ in mismatched}
    loaded = [k for k in wanted if k in source_sd and k not in bad]
    return LoadReport(loaded=tuple(loaded), missing=tuple(missing), unexpected=tuple(unexpected),
                      mismatched=tuple(mismatched), ignored=ignored, kept=tuple(kept))


def _apply(model: nn.Module, source_sd: Mapping[str, torch.Tensor], report: LoadReport,
           strict: bool, what: str) -> LoadReport:
    if strict and not report.ok:
        raise CheckpointMismatchError(
            f"{what} does not match {type(model).__name__}:\n{report.describe()}\n"
            "Check that the model was built with the same head, backbone, input size, number "
            "of keypoints and cpj/split_ratio as the checkpoint; pass strict=False to load the "
            "matching tensors only.")
    full = model.state_dict()
    for k in report.loaded:
        full[k] = source_sd[k]
    model.load_state_dict(full, strict=True)
    log = logger.warning if not report.ok else logger.info
    log("%s into %s: %s", what, type(model).__name__, report.describe().replace("\n", "; "))
    return report


def load_imagenet_backbone(model: nn.Module, source: Source | None = None, *,
                           check_hash: bool = True, strict: bool = True) -> LoadReport:
    """Load torchvision ImageNet ResNet weights into the trunk (conv1, bn1, layer1..4).

    Args:
        model: a model built by ``edgepose.nn`` (any ResNet-trunk model).
        source: path, URL or state_dict; None uses :data:`TORCHVISION_RESNET_URLS` for the
            model's depth (downloads into the torch hub cache).
        check_hash: verify a URL's sha256 prefix.
        strict: raise :class:`CheckpointMismatchError` on missing/unexpected/mis-shaped keys
            (``fc.*`` is always dropped); with False, load what matches and log the rest.

    Returns:
        A :class:`LoadReport`; the head is left untouched.
    """
    if source is None:
        depth = getattr(model, "depth", None)
        if depth not in TORCHVISION_RESNET_URLS:
            raise ValueError(f"cannot pick ImageNet weights for {type(model).__name__} "
                             f"(depth {depth!r}); pass source=<path or URL>")
        source = TORCHVISION_RESNET_URLS[depth]
    source_sd = read_state_dict(source, check_hash=check_hash)
    ignored = tuple(k for k in source_sd if k.startswith("fc."))
    source_sd = {k: v for k, v in source_sd.items() if not k.startswith("fc.")}
    model_sd = model.state_dict()
    wanted = [k for k in model_sd if k.startswith(_TRUNK_PREFIXES)]
    if not wanted:
        raise ValueError(f"{type(model).__name__} has no ResNet trunk parameters "
                         "(conv1/bn1/layer1..4) at its top level")
    report = _compare(model_sd, source_sd, wanted, ignored)
    return _apply(model, source_sd, report, strict, "ImageNet backbone weights")


def load_pose_checkpoint(model: nn.Module, source: Source, *, key: str | None = None,
                         check_hash: bool = True, strict: bool = True,
                         fresh: tuple[str, ...] = ()) -> LoadReport:
    """Load a whole-model checkpoint (official SimDR / SimpleBaseline / SimMRPose, or ours).

    Args:
        model: the matching ``edgepose.nn`` model (same head, backbone, input size, K, cpj, k).
        source: path, URL or mapping; ``{"state_dict": ...}`` wrappers and ``module.``
            prefixes are handled.
        key: wrapper key if it is not ``"state_dict"`` (e.g. ``"best_state_dict"``).
        check_hash: verify a URL's sha256 prefix.
        strict: raise :class:`CheckpointMismatchError` on any missing/unexpected/mis-shaped key.
        fresh: name prefixes whose tensors may differ in shape and then keep the model's own
            initial values (e.g. :data:`RESIZABLE_HEADS`: a 64x64 model's trunk and 1x1
            ``final_layer`` into a 128x128 model, whose x/y classifiers are larger; a 64x64
            TokenPose's stem and transformer into a 128x128 one, whose patch embedding takes
            2x2 patches). They are reported as ``fresh``; keys under these prefixes that only
            the model has keep their initial values (reported as ``kept``), keys that only the
            source has are dropped (``ignored``); every other key must still match.

    Returns:
        A :class:`LoadReport`.
    """
    source_sd = read_state_dict(source, key=key, check_hash=check_hash)
    model_sd = model.state_dict()
    report = _compare(model_sd, source_sd, list(model_sd), ())
    if fresh:
        resized = tuple(m for m in report.mismatched if m[0].startswith(fresh))
        absent = tuple(k for k in report.missing if k.startswith(fresh))
        extra = tuple(k for k in report.unexpected if k.startswith(fresh))
        report = replace(report, mismatched=tuple(m for m in report.mismatched if m not in resized),
                         fresh=resized,
                         missing=tuple(k for k in report.missing if k not in absent),
                         kept=report.kept + absent,
                         unexpected=tuple(k for k in report.unexpected if k not in extra),
                         ignored=report.ignored + extra)
    return _apply(model, source_sd, report, strict, "pose checkpoint")
