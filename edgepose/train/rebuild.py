"""Rebuild a torch model for export: from a training checkpoint, or from a registry name.

A checkpoint is a ``torch.save``-d dict ``{"model": state_dict, "spec": ModelSpec.to_dict(),
"config": {...}}`` (see CONTRACTS.md), or a compact fp16 xz checkpoint
(:func:`edgepose.train.checkpoint.save_compact_checkpoint`); both are read by
:func:`edgepose.train.checkpoint.load_checkpoint_file` with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from edgepose.errors import EdgeposeError, InputError, ModelFileError
from edgepose.zoo import ModelSpec, get_spec

logger = logging.getLogger(__name__)

__all__ = ["LoadedModel", "load_checkpoint", "load_named_model", "load_torch_model"]


@dataclass
class LoadedModel:
    """A model in eval mode with the spec it was built from.

    Attributes:
        model: the torch module (eval mode, CPU, float32).
        spec: its ``ModelSpec``.
        config: the training config stored in the checkpoint ({} otherwise).
        source: where the weights came from (a path, or "random-init").
    """

    model: nn.Module
    spec: ModelSpec
    config: dict[str, Any] = field(default_factory=dict)
    source: str = ""


def _build(spec: ModelSpec) -> nn.Module:
    from edgepose.nn.build import build

    try:
        return build(spec)
    except EdgeposeError as exc:
        raise ModelFileError(f"cannot build model {spec.name!r} from its spec: {exc}") from exc


def load_checkpoint(path: str | os.PathLike[str]) -> LoadedModel:
    """Load ``{"model", "spec", "config"}`` from ``path`` and rebuild the model.

    ``path`` may be a full training checkpoint (``.pt``) or a compact one (fp16, xz; its
    weights come back as float32, so the model is float32 either way).

    Raises:
        ModelFileError: missing/unreadable file, not a checkpoint dict, invalid spec, or
            weights that do not fit the architecture in the spec
            (``edgepose.nn.weights.CheckpointMismatchError``, listing the keys).
    """
    from edgepose.nn.weights import load_pose_checkpoint
    from edgepose.train.checkpoint import load_checkpoint_file

    p = Path(path)
    ckpt = load_checkpoint_file(p)
    if not isinstance(ckpt, dict) or "model" not in ckpt or "spec" not in ckpt:
        keys = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ModelFileError(
            f"{p} is not an edgepose checkpoint: expected a dict with 'model' (state_dict) and "
            f"'spec' (ModelSpec.to_dict()), got {keys}; for a bare state_dict use "
            "--model NAME --weights FILE"
        )
    try:
        spec = ModelSpec.from_dict(ckpt["spec"])
    except InputError as exc:
        raise ModelFileError(f"{p}: invalid 'spec': {exc}") from None
    model = _build(spec)
    report = load_pose_checkpoint(model, ckpt["model"], strict=True)
    logger.info("loaded %s from %s (%s)", spec.name, p, report.describe())
    config = ckpt.get("config") or {}
    return LoadedModel(model.eval(), spec, dict(config), str(p))


def load_named_model(
    name: str, weights: str | os.PathLike[str] | None = None, *, random_init: bool = False
) -> LoadedModel:
    """Build registry model ``name`` and load a bare ``state_dict`` file (or keep random weights).

    Raises:
        InputError: neither or both of ``weights`` and ``random_init``.
        UnknownModelError: ``name`` is not registered.
        ModelFileError: unreadable weights or weights that do not fit the architecture.
    """
    from edgepose.nn.weights import load_pose_checkpoint

    if (weights is None) == (not random_init):
        raise InputError(
            "give exactly one of weights=FILE (a state_dict) or random_init=True "
            "(random weights are only useful for tests and latency measurements)"
        )
    spec = get_spec(name)
    model = _build(spec)
    if weights is None:
        logger.warning("%s: exporting RANDOM weights (random_init=True)", name)
        return LoadedModel(model.eval(), spec, {}, "random-init")
    report = load_pose_checkpoint(model, Path(weights), strict=True)
    logger.info("loaded %s weights from %s (%s)", name, weights, report.describe())
    return LoadedModel(model.eval(), spec, {}, str(weights))


def load_torch_model(
    checkpoint: str | os.PathLike[str] | None = None,
    name: str | None = None,
    weights: str | os.PathLike[str] | None = None,
    random_init: bool = False,
) -> LoadedModel:
    """Either :func:`load_checkpoint` (``checkpoint``) or :func:`load_named_model` (``name``)."""
    if (checkpoint is None) == (name is None):
        raise InputError("give exactly one of a checkpoint or a model name")
    if checkpoint is not None:
        if weights is not None or random_init:
            raise InputError("weights/random_init apply to a model name, not to a checkpoint")
        return load_checkpoint(checkpoint)
    return load_named_model(name, weights, random_init=random_init)
