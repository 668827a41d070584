"""The training loop behind ``training/train.py``: data, model, loss, optimiser, validation.

Read top to bottom: :func:`run_training` sets up the process group, the datasets, the
model, then alternates :func:`train_one_epoch` and :func:`validate`, saving ``last.pt``
every epoch and ``best.pt`` on a new best ``best_metric`` (AP, PCK@0.1, median_error, ...).
Everything a run needs is in its :class:`~edgepose.train.config.TrainConfig`; checkpoints
store it with the ModelSpec so they rebuild themselves.

Precision: the forward pass runs under autocast in ``precision`` (bf16 on CPUs with
AVX512-BF16/AMX and on CUDA, fp16 on CUDA with a GradScaler); the codec's loss
(``edgepose.nn.losses.criterion_for_codec``: softmax / KL / MSE)
is computed in fp32 on fp32 copies of the outputs, and BatchNorm keeps fp32 parameters and
running statistics. ``channels_last`` stores activations NHWC.

The learning rate is set every optimiser step from the step count alone
(:func:`lr_multiplier`: warm-up, then the step, cosine or linear schedule), so a run
resumed from a compact checkpoint, which holds no optimiser or scheduler state, continues
on the same schedule.

Multi-process (``torchrun``): DistributedSampler splits the data, DDP averages gradients,
BatchNorm is synchronised across processes (``SyncBatchNorm`` on CUDA,
:mod:`edgepose.train.syncbn` on CPU), rank 0 logs, validates and saves. Validation
runs on rank 0 over the whole validation set while the other ranks wait.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from edgepose.data import AugmentConfig, CocoPoseDataset, CrowdPoseDataset, MpiiDataset, worker_init_fn
from edgepose.errors import EdgeposeError, InputError
from edgepose.evaluate import (
    coco_keypoint_ap,
    coco_results,
    load_mpii_gt_valid,
    median_error,
    pck,
    pckh,
    predict_with_flip,
    strict_json_value,
)
from edgepose.nn import build
from edgepose.nn.losses import Criterion, criterion_for_codec
from edgepose.nn.weights import RESIZABLE_HEADS, load_imagenet_backbone, load_pose_checkpoint
from edgepose.preprocess import crops_to_frame
from edgepose.train import distributed
from edgepose.train.checkpoint import is_compact_checkpoint, read_checkpoint, save_checkpoint, save_compact_checkpoint
from edgepose.train.config import BEST_METRICS, TrainConfig
from edgepose.train.curves import plot_training_log
from edgepose.train.syncbn import convert_batchnorm
from edgepose.zoo import ModelSpec, get_spec

logger = logging.getLogger(__name__)

class TrainingDivergedError(EdgeposeError, FloatingPointError):
    """The loss became NaN or infinite (the recipe's learning rate is too high for the data)."""


# ---- building blocks ---------------------------------------------------------------------
def build_datasets(config: TrainConfig, spec: ModelSpec) -> tuple[Dataset, Dataset | None]:
    """Training and validation datasets named by the config (validation None without val_ann)."""
    for key in ("train_ann", "train_images"):
        if not getattr(config, key):
            raise InputError(f"--{key} is required (a {config.dataset} annotation file / image folder)")
    augment = AugmentConfig(
        scale_factor=config.scale_factor, rotation_factor=config.rotation_factor,
        rotation_prob=config.rotation_prob, flip_prob=config.flip_prob, half_body_prob=config.half_body_prob,
        shift_factor=config.shift_factor, shift_prob=config.shift_prob,
    )
    cls = _DATASETS[config.dataset]
    train = cls(config.train_ann, config.train_images, spec, train=True, augment=augment, seed=config.seed)
    return train, (build_val_dataset(config, spec) if config.val_ann else None)


def build_val_dataset(config: TrainConfig, spec: ModelSpec) -> Dataset:
    """The validation set of the config: GT boxes or ``val_detections``, first ``val_max_images`` images."""
    if not config.val_ann:
        raise InputError("--val_ann is required for validation")
    images = config.val_images or config.train_images
    if config.dataset == "mpii":
        return MpiiDataset(config.val_ann, images, spec, train=False)
    val = _DATASETS[config.dataset](config.val_ann, images, spec, train=False,
                                    detections=config.val_detections or None)
    return _first_images(val, config.val_max_images) if config.val_max_images else val


_DATASETS = {"coco": CocoPoseDataset, "synthetic": CocoPoseDataset, "crowdpose": CrowdPoseDataset,
             "mpii": MpiiDataset}


def _first_images(dataset: Any, max_images: int) -> torch.utils.data.Subset:
    """The persons of the first ``max_images`` image ids of a validation set."""
    ids = np.asarray(dataset.table.image_ids)
    keep_ids = set(np.unique(ids)[:max_images].tolist())
    rows = [i for i, image_id in enumerate(ids) if int(image_id) in keep_ids]
    subset = torch.utils.data.Subset(dataset, rows)
    subset.image_ids = sorted(keep_ids)  # type: ignore[attr-defined]
    return subset


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack samples into tensors; ``meta`` stays a dict of stacked numpy arrays."""
    batch: dict[str, Any] = {}
    for key in samples[0]:
        if key == "meta":
            batch["meta"] = {m: np.stack([np.asarray(s["meta"][m]) for s in samples]) for m in samples[0]["meta"]}
        else:
            batch[key] = torch.from_numpy(np.stack([s[key] for s in samples]))
    return batch


def make_model(config: TrainConfig, spec: ModelSpec) -> nn.Module:
    """Build the model and load ImageNet / pose weights named by the config."""
    model = build(spec)
    if config.pretrained:
        report = load_imagenet_backbone(model, config.pretrained, check_hash=bool(config.pretrained_sha256))
        logger.info("ImageNet trunk from %s: %s", config.pretrained, report.summary())
    if config.init_checkpoint:
        source = config.init_checkpoint
        compact = Path(source).is_file() and is_compact_checkpoint(source)
        weights = read_checkpoint(source)["model"] if compact else source
        report = load_pose_checkpoint(model, weights, fresh=RESIZABLE_HEADS)
        logger.info("initial pose weights from %s: %s", config.init_checkpoint, report.summary())
    return model


@dataclass
class RunState:
    """What moves from epoch to epoch (and into checkpoints)."""

    epoch: int = 0  # epochs completed
    best_value: float | None = None  # best value of config.best_metric so far
    global_step: int = 0  # optimiser steps done
    first_step_loss: float | None = None


# ---- precision and schedule ------------------------------------------------------------------
def cpu_supports_bf16() -> bool:
    """True when oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX)."""
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``precision`` on ``device``; None means plain fp32.

    bf16 asked for on hardware without it trains in fp32 and says so in the log; fp16 on
    a CPU is an error (CPU fp16 convolutions are slow and have no loss scaling here).
    """
    if precision == "fp32":
        return None
    if precision == "fp16":
        if device.type != "cuda":
            raise InputError("--precision fp16 needs a CUDA device; use bf16 or fp32 on a CPU")
        return torch.float16
    supported = torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_supports_bf16()
    if not supported:
        logger.warning("--precision bf16: this %s has no native bf16; training in fp32", device.type)
        return None
    return torch.bfloat16


def lr_multiplier(step: int, config: TrainConfig, steps_per_epoch: int) -> float:
    """Learning-rate factor (x ``config.lr``) for optimiser step ``step`` (0-based).

    Linear warm-up over ``warmup_steps``, then: ``step`` multiplies by ``lr_factor`` at each
    epoch of ``lr_steps``; ``cosine`` and ``linear`` decay from 1 to 0 between the end of
    warm-up and the last step (``epochs x steps_per_epoch``).
    """
    warmup = config.warmup_steps
    if step < warmup:
        return (step + 1) / warmup
    if config.lr_schedule == "step":
        epoch = step // max(steps_per_epoch, 1)
        return config.lr_factor ** sum(epoch >= m for m in config.lr_steps)
    total = config.epochs * steps_per_epoch
    progress = min(max((step - warmup) / max(total - warmup, 1), 0.0), 1.0)
    if config.lr_schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0 - progress


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam (L2 weight decay in the gradient, the papers' choice) or AdamW (decoupled decay)."""
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


# ---- one epoch ---------------------------------------------------------------------------
def train_one_epoch(
    model: nn.Module, loader: DataLoader, criterion: Criterion, optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler, info: distributed.DistInfo, config: TrainConfig, state: RunState,
    log_step: Callable[[dict[str, float]], None], amp_dtype: torch.dtype | None = None,
) -> float:
    """Train for one epoch; returns the mean loss over processes and steps.

    Sets the learning rate of every step from :func:`lr_multiplier`; ``amp_dtype`` is the
    autocast dtype (None: fp32).
    """
    model.train()
    total, steps = 0.0, 0
    steps_per_epoch = epoch_steps(config, len(loader))
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    quiet = {} if info.is_main else {"disable": True}  # on the main process TQDM_* variables apply
    bar = tqdm(loader, total=steps_per_epoch, desc=f"epoch {state.epoch + 1}/{config.epochs}", leave=False, **quiet)
    for step, batch in enumerate(bar):
        lr = config.lr * lr_multiplier(state.global_step, config, steps_per_epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        inputs = batch["image"].to(info.device, non_blocking=True).contiguous(memory_format=memory_format)
        targets = {k: v.to(info.device, non_blocking=True) for k, v in batch.items() if k not in ("image", "meta")}
        with torch.autocast(device_type=info.device.type, dtype=amp_dtype or torch.float32,
                            enabled=amp_dtype is not None):
            outputs = model(inputs)
        loss = criterion(_to_float(outputs), targets)  # fp32, outside autocast
        if not torch.isfinite(loss):
            raise TrainingDivergedError(f"loss is {loss.item()} at epoch {state.epoch + 1} step {step}; "
                                        "lower --lr or raise --warmup_steps, then --resume auto")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        mean_loss = distributed.all_reduce_mean(loss.detach(), info).item()
        if state.first_step_loss is None:
            state.first_step_loss = mean_loss
        state.global_step += 1
        total, steps = total + mean_loss, steps + 1
        bar.set_postfix(loss=f"{mean_loss:.4f}")
        if info.is_main and (state.global_step % config.log_every == 0 or state.global_step == 1):
            log_step({"step": state.global_step, "epoch": state.epoch + 1, "loss": mean_loss, "lr": lr,
                      "samples": state.global_step * config.batch_size * info.world_size})
        if step + 1 >= steps_per_epoch:
            break
    return total / max(steps, 1)


def epoch_steps(config: TrainConfig, loader_batches: int) -> int:
    """Optimiser steps per epoch: the loader's batches, capped by ``max_steps_per_epoch``."""
    return min(config.max_steps_per_epoch or loader_batches, loader_batches)


def _to_float(outputs: Any) -> Any:
    if isinstance(outputs, (tuple, list)):
        return tuple(o.float() for o in outputs)
    return outputs.float()


# ---- validation ----------------------------------------------------------------------------
@torch.no_grad()
def predict(
    model: nn.Module, dataset: Dataset, spec: ModelSpec, *, batch_size: int = 64, workers: int = 0,
    flip_test: bool = True, device: torch.device | str = "cpu",
) -> dict[str, np.ndarray]:
    """Run ``model`` over a validation dataset; keypoints are mapped back to the images.

    Returns:
        ``keypoints (N, K, 2)`` image px, ``scores (N, K)``, ``image_ids (N,)``,
        ``box_scores (N,)``, ``areas (N,)`` (crop w*h), ``gt_keypoints (N, K, 2)``,
        ``visible (N, K)``, ``boxes (N, 4)``.
    """
    model.eval()
    codec = spec.build_codec()
    flip_index = spec.keypoints().flip_index()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers,
                        collate_fn=collate, worker_init_fn=worker_init_fn)

    def run(x: Any) -> Any:
        return model(torch.as_tensor(x).to(device))

    parts: dict[str, list[np.ndarray]] = {}
    for batch in loader:
        if flip_test:
            kp, scores = predict_with_flip(run, batch["image"], codec, flip_index)
        else:
            out = run(batch["image"])
            kp, scores = codec.decode(tuple(o.float().cpu().numpy() for o in out) if isinstance(out, tuple)
                                      else out.float().cpu().numpy())
        meta = batch["meta"]
        values = {
            "keypoints": crops_to_frame(kp, meta["matrix"]), "scores": scores,
            "image_ids": meta["image_id"], "box_scores": meta["score"],
            "areas": np.prod(meta["scale"], axis=1), "gt_keypoints": meta["keypoints"],
            "visible": meta["visible"], "boxes": meta["bbox"],
        }
        for key, value in values.items():
            parts.setdefault(key, []).append(np.asarray(value))
    return {key: np.concatenate(v) for key, v in parts.items()}


def validate(model: nn.Module, dataset: Dataset, spec: ModelSpec, config: TrainConfig,
             device: torch.device) -> dict[str, float]:
    """Metrics on the validation set: COCO-style AP/AR, or PCKh for MPII (``AP`` = PCKh@0.5 mean)."""
    pred = predict(model, dataset, spec, batch_size=config.batch_size, workers=min(config.workers, 2),
                   flip_test=config.flip_test, device=device)
    if config.dataset == "mpii":
        return _mpii_metrics(pred, config)
    sigmas = spec.keypoints().sigma_array()
    results = coco_results(pred["keypoints"], pred["scores"], pred["image_ids"], pred["box_scores"],
                           areas=pred["areas"], sigmas=sigmas)
    image_ids = getattr(dataset, "image_ids", None)
    metrics = coco_keypoint_ap(config.val_ann, results, sigmas, image_ids=image_ids)
    labelled = pred["visible"] > 0
    for alpha in (0.2, 0.1, 0.05):  # box-normalised PCK: progress that OKS AP does not show yet
        metrics[f"PCK@{alpha}"] = pck(pred["keypoints"], pred["gt_keypoints"], labelled,
                                      pred["boxes"], alpha=alpha)["mean"]
    metrics["median_error"] = median_error(pred["keypoints"], pred["gt_keypoints"], labelled, pred["boxes"])
    return metrics


def _mpii_metrics(pred: dict[str, np.ndarray], config: TrainConfig) -> dict[str, float]:
    if not config.mpii_gt_mat:
        raise InputError("MPII validation needs --mpii_gt_mat (gt_valid.mat, for the head boxes)")
    joints, visible, headboxes = load_mpii_gt_valid(config.mpii_gt_mat)
    order = pred["image_ids"].astype(int)
    result = pckh(pred["keypoints"], joints[order], visible[order], headboxes[order])
    flat = {f"{t}_{group}": v for t, groups in result.items() for group, v in groups.items()}
    flat["AP"] = result["PCKh@0.5"]["mean"]
    return flat


# ---- the run -------------------------------------------------------------------------------
class RunLogger:
    """CSV + TensorBoard logging on rank 0."""

    def __init__(self, run_dir: Path, enabled: bool) -> None:
        self.enabled = enabled
        self.csv_path = run_dir / "log.csv"
        self.fields = ["time", "epoch", "step", "samples", "loss", "lr", "AP", "AP50", "AP75", "APM", "APL", "AR",
                       "PCK@0.2", "PCK@0.1", "PCK@0.05", "median_error", "train_loss", "samples_per_s"]
        if enabled and self.csv_path.exists():  # a resumed run keeps the columns its log started with
            with self.csv_path.open(newline="") as fh:
                self.fields = next(csv.reader(fh), self.fields)
        self.writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir / "tensorboard"))

    def log(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        new = not self.csv_path.exists()
        with self.csv_path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow({"time": round(time.time(), 1), **row})
        step = int(row.get("step", row.get("epoch", 0)))
        for key, value in row.items():
            if key not in ("time", "epoch", "step") and isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _param_checksum(model: nn.Module) -> float:
    with torch.no_grad():
        return float(sum(p.double().sum() * (i + 1) for i, p in enumerate(model.parameters())))


def run_training(config: TrainConfig) -> dict[str, Any]:
    """Train as the config says; returns a summary dict (also written to ``summary.json``)."""
    info = distributed.setup(config.device)
    try:
        return _run(config, info)
    finally:
        distributed.cleanup(info)


def _run(config: TrainConfig, info: distributed.DistInfo) -> dict[str, Any]:
    spec = get_spec(config.model)
    run_dir = Path(config.output_dir) / config.model
    torch.manual_seed(config.seed)
    amp_dtype = autocast_dtype(config.precision, info.device)
    train_set, val_set = build_datasets(config, spec)
    sampler = DistributedSampler(train_set, num_replicas=info.world_size, rank=info.rank,
                                 shuffle=True, seed=config.seed, drop_last=True)
    loader = DataLoader(train_set, batch_size=config.batch_size, sampler=sampler, num_workers=config.workers,
                        collate_fn=collate, worker_init_fn=worker_init_fn, drop_last=True,
                        pin_memory=info.device.type == "cuda")  # not persistent: set_epoch must reach workers
    if len(loader) == 0:
        raise InputError(f"{len(train_set)} training persons are fewer than one batch of "
                         f"{config.batch_size} x {info.world_size} processes; lower --batch_size")
    resume = resume_source(config, run_dir)
    # a resumed run takes its weights from the checkpoint: its init files need not exist here any more
    model = make_model(config if resume is None else replace(config, init_checkpoint="", pretrained=""), spec)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model = model.to(info.device)
    if info.distributed and config.sync_bn:
        model = (nn.SyncBatchNorm.convert_sync_batchnorm(model) if info.device.type == "cuda"
                 else convert_batchnorm(model))
    optimizer = make_optimizer(model, config)
    scaler = torch.amp.GradScaler(info.device.type, enabled=amp_dtype == torch.float16)
    state = RunState()
    if resume is not None:
        state = _restore(resume, spec, model, optimizer, scaler)
    if state.epoch >= config.epochs:
        raise InputError(f"the run in {resume} already finished {state.epoch} of --epochs {config.epochs}; "
                         f"pass a larger --epochs to extend it, or another --output_dir for a new run")
    steps_per_epoch = epoch_steps(config, len(loader))
    logger.info("training %s on %s: %s%s, %s schedule, %s, %d steps x %d per epoch, epochs %d..%d",
                spec.name, info.device, "fp32" if amp_dtype is None else f"{amp_dtype} autocast",
                ", channels_last" if config.channels_last else "", config.lr_schedule, config.optimizer,
                steps_per_epoch, config.batch_size * info.world_size, state.epoch + 1, config.epochs)
    net = DistributedDataParallel(model) if info.distributed else model
    criterion = criterion_for_codec(spec.build_codec())
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=1))
    log = RunLogger(run_dir, info.is_main)
    metrics: dict[str, float] = {}
    started = time.time()
    try:
        while state.epoch < config.epochs:
            epoch_started = time.perf_counter()
            sampler.set_epoch(state.epoch)
            train_set.set_epoch(state.epoch)
            train_loss = train_one_epoch(net, loader, criterion, optimizer, scaler, info, config, state, log.log,
                                         amp_dtype)
            state.epoch += 1
            row: dict[str, Any] = {"epoch": state.epoch, "step": state.global_step, "train_loss": train_loss,
                                   "samples": state.global_step * config.batch_size * info.world_size}
            validated = val_set is not None and (state.epoch % config.val_every == 0 or state.epoch == config.epochs)
            if validated:
                if info.is_main:
                    metrics = validate(model, val_set, spec, config, info.device)
                distributed.barrier(info)
            if info.is_main:
                row["samples_per_s"] = steps_per_epoch * config.batch_size * info.world_size / (
                    time.perf_counter() - epoch_started)
                log.log({**row, **(metrics if validated else {})})
                checkpoint = _save(run_dir, model, optimizer, scaler, spec, config, state,
                                   metrics if validated else {})
                if validated:
                    plot_training_log(log.csv_path, run_dir / "curves.png")
                if config.kept_checkpoint and (state.epoch == config.epochs or (
                        config.kept_every and state.epoch % config.kept_every == 0)):
                    path = save_compact_checkpoint(config.kept_checkpoint, checkpoint)
                    logger.info("compact checkpoint for continuing elsewhere: %s (%.1f MB, epoch %d)", path,
                                path.stat().st_size / 1e6, state.epoch)
    finally:
        log.close()
    checksums = _gather_checksums(model, info)
    summary = {
        "model": spec.name, "epochs": state.epoch, "steps": state.global_step,
        "samples": state.global_step * config.batch_size * info.world_size,
        "first_step_loss": state.first_step_loss, "best_metric": config.best_metric, "best_value": state.best_value,
        "metrics": metrics, "world_size": info.world_size, "replica_param_checksums": checksums,
        "wall_time_s": round(time.time() - started, 1),
    }
    summary = strict_json_value(summary)
    if info.is_main:
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, allow_nan=False))
    return summary


def resume_source(config: TrainConfig, run_dir: Path) -> Path | None:
    """The checkpoint ``--resume`` names: ``auto`` is ``last.pt`` of the run folder, else
    ``kept_checkpoint`` when that file exists, else None (a fresh run).

    A fresh run (``--resume ""``) into a folder that already holds ``last.pt`` is refused,
    so that a finished or interrupted run is never overwritten by accident.
    """
    last = run_dir / "last.pt"
    if config.resume == "auto":
        if last.exists():
            return last
        if config.kept_checkpoint and Path(config.kept_checkpoint).exists():
            return Path(config.kept_checkpoint)
        return None
    if config.resume:
        return Path(config.resume)
    if last.exists():
        raise InputError(f"{run_dir} already holds a run ({last}); pass --resume auto to continue it, "
                         "or another --output_dir for a new run")
    return None


def _restore(path: Path, spec: ModelSpec, model: nn.Module, optimizer: torch.optim.Optimizer,
             scaler: torch.amp.GradScaler) -> RunState:
    """Load a checkpoint into the model (and optimiser, when the file has it); its RunState."""
    ckpt = read_checkpoint(path)
    if ckpt["spec"]["name"] != spec.name:
        raise InputError(f"--resume {path} holds model {ckpt['spec']['name']!r}, not {spec.name!r}")
    model.load_state_dict(ckpt["model"])
    if "optimizer" in ckpt:
        optimizer.load_state_dict(ckpt["optimizer"])
        scaler.load_state_dict(ckpt.get("scaler", {}))
    else:
        logger.warning("%s is a compact checkpoint: weights and schedule position only; the optimiser "
                       "moments start afresh", path)
    state = RunState(epoch=int(ckpt["epoch"]), best_value=ckpt.get("best_value"),
                     global_step=int(ckpt.get("global_step", 0)))
    logger.info("resumed %s at epoch %d (step %d)", path, state.epoch, state.global_step)
    return state


def _save(run_dir: Path, model: nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
          spec: ModelSpec, config: TrainConfig, state: RunState, metrics: dict[str, float]) -> dict[str, Any]:
    """Write ``last.pt`` and, on a new best ``config.best_metric``, ``best.pt``; returns the checkpoint.

    ``metrics`` is empty after an epoch without validation. SyncBatchNorm keeps BatchNorm's
    parameter names, so the weights load into ``build(spec)``.
    """
    is_best = False
    if metrics:
        if config.best_metric not in metrics:
            raise InputError(f"--best_metric {config.best_metric} is not among this dataset's validation "
                             f"metrics: {', '.join(sorted(metrics))}")
        value = metrics[config.best_metric]
        higher = BEST_METRICS[config.best_metric]
        is_best = math.isfinite(value) and (
            state.best_value is None or (value > state.best_value if higher else value < state.best_value))
        if is_best:
            state.best_value = float(value)
    checkpoint = {
        "spec": spec.to_dict(), "config": config.to_dict(), "model": model.state_dict(),
        "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
        "epoch": state.epoch, "global_step": state.global_step, "best_metric": config.best_metric,
        "best_value": state.best_value, "metrics": strict_json_value(metrics),
    }
    save_checkpoint(run_dir / "last.pt", checkpoint)
    if is_best:
        save_checkpoint(run_dir / "best.pt", checkpoint)
        logger.info("new best %s %.4f at epoch %d", config.best_metric, state.best_value, state.epoch)
    return checkpoint


def _gather_checksums(model: nn.Module, info: distributed.DistInfo) -> list[float]:
    value = torch.tensor([_param_checksum(model)], dtype=torch.float64)
    if not info.distributed:
        return [float(value)]
    gathered = [torch.zeros_like(value) for _ in range(info.world_size)]
    torch.distributed.all_gather(gathered, value)
    return [float(v) for v in gathered]
