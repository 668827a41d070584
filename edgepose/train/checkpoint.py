"""Checkpoints that rebuild themselves: weights + ModelSpec + resolved training config.

Two kinds of file, both read by :func:`read_checkpoint` (and by
:func:`edgepose.train.rebuild.load_checkpoint`), told apart by their first bytes, not
by their suffix.

**Full checkpoint** (``last.pt``, ``best.pt``; :func:`save_checkpoint`): a dict saved with
``torch.save``::

    {"format": "edgepose-checkpoint", "edgepose_version": str,
     "spec": ModelSpec.to_dict(), "config": TrainConfig.to_dict(), "model": state_dict,
     "optimizer": ..., "scheduler": ..., "scaler": ..., "epoch": int (epochs done),
     "global_step": int, "best_*": ..., "metrics": dict}

**Compact checkpoint** (``<model>.xz``; :func:`save_compact_checkpoint`): the file kept in
the repository, one per shipped model, replaced (never added next to the old one) when the
model is trained further. It holds what a training run needs to continue on a fresh
machine: the weights, the spec, the config and the schedule position (``epoch``,
``global_step``), plus the metrics and ``best_*`` fields. It holds no optimiser, scheduler
or GradScaler state, so a run continued from it starts the optimiser moments afresh.
The weights are float16: about 2 bytes per parameter before compression (a 25 M-parameter
ResNet-50 SimDR model: ~50 MB of fp16, ~42 MB in the file).

Layout of a compact file: an xz stream (``lzma.FORMAT_XZ``, CRC64 check, so a truncated
or damaged file is detected) of a ``torch.save``-d dict::

    {"format": "edgepose-compact-checkpoint", "layout": "fp16-byteshuffle",
     "edgepose_version": str, "spec": ..., "config": ..., "epoch": int, "global_step": int,
     "metrics": dict, "best_*": ...,
     "model": {name: tensor},
     "float16": {name: [shape (list of int), original dtype (e.g. "float32")]}}

Every floating tensor of the state_dict named in ``"float16"`` is cast to float16 and
stored *byte-shuffled*: a uint8 tensor of shape ``(2, numel)`` whose row 0 holds the high
byte of every value (sign, exponent, two mantissa bits) and row 1 the low bytes (the rest
of the mantissa), independent of the machine's byte order. Grouping the
low-entropy high bytes lets xz compress them far better than interleaved with the
near-random low bytes (~5 % smaller files). Integer tensors (``num_batches_tracked``) and
floating tensors whose values do not fit float16 (kept in their own dtype, with a warning)
are stored as they are. Reading casts the float16 tensors back to their original dtype
(float32), and adds ``"compact": True`` (``False`` for a full checkpoint).

Files are written to a temporary name (``.<name>.<random>.tmp`` in the same folder) and
renamed, so a crash never leaves a half file under the real name.
"""

from __future__ import annotations

import io
import logging
import lzma
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgepose.atomic import write_atomic
from edgepose.errors import ModelFileError
from edgepose.version import __version__

logger = logging.getLogger(__name__)

__all__ = ["CHECKPOINT_FORMAT", "COMPACT_FORMAT", "DEFAULT_XZ_PRESET", "is_compact_checkpoint",
           "load_checkpoint_file", "read_checkpoint", "save_checkpoint", "save_compact_checkpoint"]

CHECKPOINT_FORMAT = "edgepose-checkpoint"
COMPACT_FORMAT = "edgepose-compact-checkpoint"
COMPACT_LAYOUT = "fp16-byteshuffle"
#: xz preset of compact files. Measured on simdr_r50_128 (fp16, byte-shuffled): preset 6
#: gives 42.46 MB in ~30 s, ``9 | PRESET_EXTREME`` 42.47 MB in ~55 s: no gain for twice the time.
DEFAULT_XZ_PRESET = 6
XZ_MAGIC = b"\xfd7zXZ\x00"
#: entries of a full checkpoint that a compact one leaves out (training-process state)
_PROCESS_STATE = ("optimizer", "scheduler", "scaler")
_FP16_MAX = float(torch.finfo(torch.float16).max)
_FLOAT_DTYPES = {str(t).removeprefix("torch."): t for t in (torch.float16, torch.bfloat16, torch.float32, torch.float64)}
#: what ``torch.load(weights_only=True)`` raises on a file that is not a (whole) torch file:
#: zip / pickle errors, and lookups of a damaged pickle (KeyError, IndexError, struct.error)
_LOAD_ERRORS = (RuntimeError, OSError, EOFError, ValueError, KeyError, IndexError, TypeError, AttributeError,
                struct.error, pickle.UnpicklingError)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Atomically write the full checkpoint ``state`` (see module docstring) to ``path``."""
    payload = {"format": CHECKPOINT_FORMAT, "edgepose_version": __version__, **state}
    return write_atomic(path, lambda tmp: torch.save(payload, tmp))


def _shuffle_fp16(tensor: torch.Tensor) -> torch.Tensor:
    """float tensor (any shape) -> uint8 ``(2, numel)``: row 0 the fp16 high bytes, row 1 the low bytes."""
    little = tensor.detach().to("cpu", torch.float16).contiguous().numpy().astype("<f2")
    pairs = little.reshape(-1).view(np.uint8).reshape(-1, 2)  # (numel, 2): low byte, high byte
    return torch.from_numpy(np.ascontiguousarray(pairs[:, ::-1].T))


def _unshuffle_fp16(data: torch.Tensor, shape: list[int]) -> torch.Tensor:
    """Inverse of :func:`_shuffle_fp16`: uint8 ``(2, numel)`` -> float16 tensor of ``shape``."""
    array = data.numpy()
    if array.dtype != np.uint8 or array.ndim != 2 or array.shape[0] != 2 or array.shape[1] != int(np.prod(shape)):
        raise ValueError(f"byte-shuffled tensor of shape {tuple(array.shape)} does not hold {shape}")
    pairs = np.ascontiguousarray(array[::-1].T)  # (numel, 2): low byte, high byte
    values = pairs.view("<f2").reshape(shape).astype(np.float16)
    return torch.from_numpy(values)


def _pack_state_dict(state_dict: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, list[Any]]]:
    """Byte-shuffled fp16 copies of the floating tensors; others as they are (on the CPU)."""
    model: dict[str, torch.Tensor] = {}
    float16: dict[str, list[Any]] = {}
    for name, tensor in state_dict.items():
        tensor = tensor.detach().cpu()
        if tensor.is_floating_point() and tensor.numel() > 0:
            finite = tensor[torch.isfinite(tensor)]
            if finite.numel() and float(finite.abs().max()) > _FP16_MAX:
                logger.warning("%s: values up to %.3g do not fit float16; kept as %s", name,
                               float(finite.abs().max()), tensor.dtype)
                model[name] = tensor
                continue
            model[name] = _shuffle_fp16(tensor)
            float16[name] = [list(tensor.shape), str(tensor.dtype).removeprefix("torch.")]
        else:
            model[name] = tensor
    return model, float16


def save_compact_checkpoint(path: str | Path, checkpoint: dict[str, Any], *,
                            preset: int = DEFAULT_XZ_PRESET) -> Path:
    """Atomically write the compact (fp16, xz) form of a full training checkpoint to ``path``.

    Args:
        path: the file to write, conventionally ``<model>.xz`` (replaced if it exists).
        checkpoint: a full checkpoint dict as saved by :func:`save_checkpoint` or returned by
            :func:`read_checkpoint` (needs ``spec`` and ``model``; ``config``, ``epoch``,
            ``global_step``, ``metrics`` and every ``best*`` entry are kept when present;
            optimizer / scheduler / scaler are dropped).
        preset: xz preset (0-9, optionally ``| lzma.PRESET_EXTREME``); lower is faster.

    Returns:
        ``path``. Time and size: see the module docstring (about 30 s and 42 MB for a
        25 M-parameter model on one CPU core).
    """
    for key in ("spec", "model"):
        if key not in checkpoint:
            raise ModelFileError(f"cannot write compact checkpoint {path}: the checkpoint lacks {key!r}")
    model, float16 = _pack_state_dict(checkpoint["model"])
    payload: dict[str, Any] = {
        "format": COMPACT_FORMAT, "layout": COMPACT_LAYOUT, "edgepose_version": __version__,
        "spec": checkpoint["spec"], "config": checkpoint.get("config", {}),
        "epoch": checkpoint.get("epoch", 0), "global_step": checkpoint.get("global_step", 0),
        "metrics": checkpoint.get("metrics", {}),
        **{k: v for k, v in checkpoint.items() if k.startswith("best")},
        "model": model, "float16": float16,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    blob = lzma.compress(buffer.getvalue(), format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=preset)
    dropped = [k for k in _PROCESS_STATE if k in checkpoint]
    logger.debug("compact checkpoint %s: %d tensors (%d as fp16), %.1f MB; left out %s", path, len(model),
                 len(float16), len(blob) / 1e6, dropped or "nothing")
    return write_atomic(path, lambda tmp: tmp.write_bytes(blob))


def is_compact_checkpoint(path: str | Path) -> bool:
    """True when ``path`` starts with the xz magic bytes (a compact checkpoint, whatever its suffix)."""
    with Path(path).open("rb") as fh:
        return fh.read(len(XZ_MAGIC)) == XZ_MAGIC


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


def _decode_compact(path: Path) -> dict[str, Any]:
    """The full-checkpoint-shaped dict of a compact file (float tensors back in their dtype)."""
    try:
        raw = lzma.decompress(path.read_bytes(), format=lzma.FORMAT_XZ)
    except OSError as exc:
        raise ModelFileError(f"cannot read checkpoint {path}: {_first_line(exc)}") from None
    except (lzma.LZMAError, EOFError) as exc:
        raise ModelFileError(f"compact checkpoint {path} is truncated or damaged ({_first_line(exc)}); "
                             "restore it from git") from None
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except _LOAD_ERRORS as exc:
        raise ModelFileError(f"cannot read compact checkpoint {path}: {_first_line(exc)}") from None
    if not isinstance(state, dict) or state.get("format") != COMPACT_FORMAT:
        raise ModelFileError(f"{path} is xz-compressed but not an edgepose compact checkpoint "
                             f"(no 'format': {COMPACT_FORMAT!r})")
    if state.get("layout") != COMPACT_LAYOUT:
        raise ModelFileError(f"compact checkpoint {path} has layout {state.get('layout')!r}, this edgepose "
                             f"reads {COMPACT_LAYOUT!r}")
    model = state.get("model")
    float16 = state.pop("float16", {})
    if not isinstance(model, dict) or not isinstance(float16, dict):
        raise ModelFileError(f"compact checkpoint {path} lacks its 'model' tensors")
    try:
        for name, (shape, dtype) in float16.items():
            model[name] = _unshuffle_fp16(model[name], list(shape)).to(_FLOAT_DTYPES[dtype])
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ModelFileError(f"compact checkpoint {path} is inconsistent: {_first_line(exc)}") from None
    state["compact"] = True
    return state


def load_checkpoint_file(path: str | Path) -> Any:
    """Load a full (``torch.save``) or compact (xz) checkpoint file, without checking its content.

    A compact file comes back in the shape of a full checkpoint (see the module docstring),
    with ``"compact": True``; any other file as ``torch.load`` gives it. Reads with
    ``weights_only=True``: tensors and plain containers only.

    Raises:
        ModelFileError: missing, unreadable, truncated or damaged file (one line naming it).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"checkpoint {path} does not exist")
    try:
        compact = is_compact_checkpoint(path)
    except OSError as exc:
        raise ModelFileError(f"cannot read checkpoint {path}: {_first_line(exc)}") from None
    if compact:
        return _decode_compact(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except _LOAD_ERRORS as exc:
        raise ModelFileError(f"cannot read checkpoint {path}: {_first_line(exc)}") from None
    return state


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read the raw dict of an edgepose checkpoint, full ``.pt`` or compact ``.xz`` (for resuming).

    Returns:
        The full checkpoint's dict with ``"compact": False``; for a compact file the same
        shape with float32 model tensors, ``"compact": True`` and no optimizer / scheduler /
        scaler entries.

    Raises:
        ModelFileError: missing, unreadable, truncated or not an edgepose checkpoint.

    To rebuild the model of a checkpoint use :func:`edgepose.train.rebuild.load_checkpoint`.
    """
    path = Path(path)
    state = load_checkpoint_file(path)
    if not isinstance(state, dict) or state.get("format") not in (CHECKPOINT_FORMAT, COMPACT_FORMAT):
        raise ModelFileError(
            f"{path} is not an edgepose checkpoint (no 'format': {CHECKPOINT_FORMAT!r}); "
            "for an official SimDR checkpoint use edgepose.nn.weights"
        )
    for key in ("spec", "model"):
        if key not in state:
            raise ModelFileError(f"checkpoint {path} lacks {key!r}")
    state.setdefault("compact", False)
    return state
