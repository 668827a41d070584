"""Training configuration: one flat dataclass, loaded from a flat YAML, overridden by CLI.

A config file (``training/configs/<model>.yaml``) holds ``key: value`` pairs named after
the :class:`TrainConfig` fields, nothing nested and no inheritance. Command-line
overrides ``--key value`` are parsed with the field's type, so ``--lr abc`` or
``--lr_steps 1,x`` fail with a message naming the key.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgepose.errors import InputError, did_you_mean


LR_SCHEDULES = ("step", "cosine", "linear")
OPTIMIZERS = ("adam", "adamw")
PRECISIONS = ("bf16", "fp32", "fp16")
#: validation metrics that can pick ``best.pt``: name -> True when higher is better
BEST_METRICS = {"AP": True, "AR": True, "AP50": True, "PCK@0.2": True, "PCK@0.1": True, "PCK@0.05": True,
                "median_error": False}


@dataclass
class TrainConfig:
    """All knobs of ``training/train.py``; defaults follow the SimDR / SimpleBaseline recipes."""

    # model
    model: str = "simdr_r50_128"
    pretrained: str = ""  # torchvision ImageNet ResNet state_dict: local path or https URL
    pretrained_sha256: str = ""  # required with an https URL (prefix of the hash as torch.hub checks it)
    init_checkpoint: str = ""  # official SimDR / edgepose checkpoint to start from; x/y heads of another input size start fresh
    # data (COCO-format json + image folder; "synthetic" is COCO format too)
    dataset: str = "coco"  # coco | mpii | crowdpose | synthetic
    train_ann: str = ""
    train_images: str = ""
    val_ann: str = ""
    val_images: str = ""
    val_detections: str = ""  # COCO detection-results json; empty = ground-truth boxes
    mpii_gt_mat: str = ""  # MPII gt_valid.mat (head boxes for PCKh)
    workers: int = 4
    # augmentation
    scale_factor: float = 0.3
    rotation_factor: float = 40.0
    rotation_prob: float = 0.6
    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    shift_factor: float = 0.0  # crop-centre shift std, x crop size (0 = official recipe)
    shift_prob: float = 0.0
    # optimisation
    epochs: int = 140
    batch_size: int = 32  # per process
    lr: float = 1e-3
    lr_schedule: str = "step"  # step (x lr_factor at the epochs in lr_steps) | cosine | linear (decay to 0 by the last step)
    lr_steps: list[int] = field(default_factory=lambda: [90, 120])
    lr_factor: float = 0.1
    warmup_steps: int = 0  # linear warm-up from 0 over this many optimiser steps
    optimizer: str = "adam"  # adam | adamw (decoupled weight decay)
    weight_decay: float = 0.0
    precision: str = "bf16"  # bf16 | fp32 | fp16: autocast dtype; bf16 on a CPU without it trains fp32 (logged); fp16 needs CUDA
    channels_last: bool = True  # NHWC activations (faster convolutions with oneDNN and cuDNN)
    sync_bn: bool = True  # SyncBatchNorm when running on several processes
    max_steps_per_epoch: int = 0  # 0 = the whole epoch (small values for smoke runs)
    # evaluation / logging
    val_every: int = 1
    best_metric: str = "AP"  # the validation metric that picks best.pt: AP, AR, PCK@0.1, PCK@0.2, PCK@0.05 (higher is better) or median_error (lower)
    val_max_images: int = 0  # 0 = all
    flip_test: bool = True
    log_every: int = 50
    output_dir: str = "runs"
    resume: str = ""  # "", "auto" (last.pt in the run folder, else kept_checkpoint) or a checkpoint path (.pt or compact .xz)
    kept_checkpoint: str = ""  # compact fp16 .xz copy of last.pt (kept in git to continue elsewhere), written at the end
    kept_every: int = 0  # ... and every this many epochs (0: at the end only)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda

    def validate(self) -> None:
        """Raise InputError for values that cannot work."""
        if self.dataset not in ("coco", "mpii", "crowdpose", "synthetic"):
            raise InputError(f"dataset must be coco, mpii, crowdpose or synthetic; got {self.dataset!r}")
        if self.kept_every < 0:
            raise InputError(f"kept_every must be >= 0; got {self.kept_every}")
        for name in ("epochs", "batch_size", "val_every", "log_every"):
            if getattr(self, name) <= 0:
                raise InputError(f"{name} must be > 0; got {getattr(self, name)}")
        if self.lr <= 0:
            raise InputError(f"lr must be > 0; got {self.lr}")
        if self.lr_steps != sorted(self.lr_steps):
            raise InputError(f"lr_steps must be increasing; got {self.lr_steps}")
        if self.warmup_steps < 0:
            raise InputError(f"warmup_steps must be >= 0; got {self.warmup_steps}")
        for name, allowed in (("lr_schedule", LR_SCHEDULES), ("optimizer", OPTIMIZERS), ("precision", PRECISIONS)):
            if getattr(self, name) not in allowed:
                raise InputError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        if self.best_metric not in BEST_METRICS:
            raise InputError(f"best_metric must be one of {', '.join(BEST_METRICS)}; got {self.best_metric!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise InputError(f"device must be auto, cpu or cuda; got {self.device!r}")
        if self.pretrained.startswith("https://") and not self.pretrained_sha256:
            raise InputError("an https --pretrained URL needs --pretrained_sha256 (its hash is always checked)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


#: names other training code uses for a key, which difflib's spelling match cannot see
KEY_ALIASES = {
    "learning_rate": "lr", "base_lr": "lr", "num_epochs": "epochs", "max_epochs": "epochs", "bs": "batch_size",
    "batch": "batch_size", "num_workers": "workers", "wd": "weight_decay", "out_dir": "output_dir",
    "output": "output_dir", "warmup": "warmup_steps", "amp": "precision", "checkpoint": "resume",
    "weights": "init_checkpoint", "scheduler": "lr_schedule", "optim": "optimizer",
}


def _field_types() -> dict[str, Any]:
    hints = typing.get_type_hints(TrainConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(TrainConfig)}


def parse_value(key: str, text: str | Any, kind: Any) -> Any:
    """Convert ``text`` (CLI string or YAML value) to the field type ``kind``."""
    try:
        if kind is bool:
            if isinstance(text, bool):
                return text
            lowered = str(text).lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"not a boolean: {text!r}")
        if typing.get_origin(kind) is list:
            (item,) = typing.get_args(kind)
            if isinstance(text, list):
                return [item(v) for v in text]
            return [item(v) for v in str(text).split(",") if v.strip()]
        if kind is int and isinstance(text, float) and not text.is_integer():
            raise ValueError(f"not an integer: {text!r}")
        return kind(text)
    except (TypeError, ValueError) as exc:
        raise InputError(f"config key {key!r}: cannot read {text!r} as {getattr(kind, '__name__', kind)} ({exc})") from None


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a flat YAML config, then apply ``--key value`` overrides; validated.

    Args:
        path: YAML file or None for the defaults.
        overrides: tokens like ``["--lr", "5e-4", "--flip", "false"]`` (``--key=value`` too).
    """
    import yaml  # training extra

    types = _field_types()
    values: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(f"cannot read config {path}: {exc}") from None
        if not isinstance(loaded, dict):
            raise InputError(f"config {path} must be a flat mapping of key: value")
        for key, value in loaded.items():
            if key not in types:
                raise InputError(f"config {path}: unknown key {key!r}{did_you_mean(str(key), types, KEY_ALIASES)} "
                                 "(python training/train.py --help lists the keys)")
            values[key] = parse_value(key, value, types[key])
    tokens = list(overrides or [])
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--"):
            raise InputError(f"expected --key value, got {token!r}")
        key, sep, text = token[2:].partition("=")
        key = key.replace("-", "_")
        if not sep:
            if i + 1 >= len(tokens):
                raise InputError(f"--{key} needs a value")
            text = tokens[i + 1]
            i += 1
        if key not in types:
            raise InputError(f"unknown option --{key}{did_you_mean(key, types, KEY_ALIASES, prefix='--')} "
                             "(python training/train.py --help lists the keys)")
        values[key] = parse_value(key, text, types[key])
        i += 1
    config = TrainConfig(**values)
    config.validate()
    return config
