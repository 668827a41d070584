"""Checkpoints that rebuild themselves: weights + ModelSpec + resolved training config.

Layout of a ``.pt`` file (a dict, saved with ``torch.save``)::

    {"format": "edgepose-checkpoint", "edgepose_version": str,
     "spec": ModelSpec.to_dict(), "config": TrainConfig.to_dict(), "model": state_dict,
     "optimizer": ..., "scheduler": ..., "scaler": ..., "epoch": int (epochs done),
     "best_ap": float, "metrics": dict}

Files are written to a temporary name and renamed, so a crash never leaves a half file
under the real name.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

import edgepose
from edgepose.errors import InputError, ModelFileError
from edgepose.zoo import ModelSpec

CHECKPOINT_FORMAT = "edgepose-checkpoint"


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Atomically write ``state`` (see module docstring) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": CHECKPOINT_FORMAT, "edgepose_version": edgepose.__version__, **state}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read an edgepose checkpoint; ModelFileError if it is missing or not one."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"checkpoint {path} does not exist")
    try:
        # weights_only: tensors and plain containers only, never arbitrary pickled objects
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise ModelFileError(f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ModelFileError(
            f"{path} is not an edgepose checkpoint (no 'format': {CHECKPOINT_FORMAT!r}); "
            "for an official SimDR checkpoint use edgepose.nn.weights"
        )
    for key in ("spec", "model"):
        if key not in state:
            raise ModelFileError(f"checkpoint {path} lacks {key!r}")
    return state


def model_from_checkpoint(path: str | Path) -> tuple[nn.Module, ModelSpec, dict[str, Any]]:
    """Rebuild the model of a checkpoint: ``(model in eval mode, spec, checkpoint dict)``."""
    from edgepose.nn import build

    state = load_checkpoint(path)
    spec = ModelSpec.from_dict(state["spec"])
    model = build(spec)
    try:
        result = model.load_state_dict(state["model"], strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise InputError(f"checkpoint {path} does not match model {spec.name}: {exc}") from None
    if result.missing_keys or result.unexpected_keys:
        raise InputError(
            f"checkpoint {path} does not match model {spec.name}: missing keys "
            f"{result.missing_keys[:5]}, unexpected keys {result.unexpected_keys[:5]}"
        )
    return model.eval(), spec, state
