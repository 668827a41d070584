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

import edgepose
from edgepose.errors import ModelFileError

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


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read the raw dict of an edgepose checkpoint (for resuming); ModelFileError if it is not one.

    To rebuild the model of a checkpoint use :func:`edgepose.export.checkpoint.load_checkpoint`.
    """
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
