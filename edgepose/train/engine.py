"""The training loop behind ``training/train.py``: data, model, loss, optimiser, validation.

Read top to bottom: :func:`run_training` sets up the process group, the datasets, the
model, then alternates :func:`train_one_epoch` and :func:`validate`, saving ``last.pt``
every epoch and ``best.pt`` on a new best AP. Everything a run needs is in its
:class:`~edgepose.train.config.TrainConfig`; checkpoints store it with the ModelSpec so
they rebuild themselves.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from edgepose.codecs import Codec
from edgepose.data import AugmentConfig, CocoPoseDataset, CrowdPoseDataset, MpiiDataset, worker_init_fn
from edgepose.errors import InputError
from edgepose.evaluate import (
    coco_keypoint_ap,
    coco_results,
    crop_to_image,
    load_mpii_gt_valid,
    pck,
    pckh,
    predict_with_flip,
)
from edgepose.nn import build
from edgepose.nn.losses import JointsMSELoss, SimDRLoss, SimDRStarLoss
from edgepose.nn.weights import load_imagenet_backbone, load_pose_checkpoint
from edgepose.train import distributed
from edgepose.train.checkpoint import read_checkpoint, save_checkpoint
from edgepose.train.config import TrainConfig
from edgepose.train.syncbn import convert_batchnorm
from edgepose.zoo import ModelSpec, get_spec

logger = logging.getLogger(__name__)

Criterion = Callable[[Any, dict[str, torch.Tensor]], torch.Tensor]


# ---- building blocks ---------------------------------------------------------------------
def make_criterion(codec: Codec) -> Criterion:
    """The loss of a codec: SimDR -> KL with label smoothing, SimDR* -> KL, heatmap -> MSE."""
    kind = codec.to_dict()["type"]
    if kind in ("simdr", "simdr_star"):
        loss = SimDRLoss() if kind == "simdr" else SimDRStarLoss()

        def simdr(outputs: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            return loss(outputs, batch["target_x"], batch["target_y"], batch["target_weight"])

        return simdr
    mse = JointsMSELoss()

    def heatmap(outputs: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return mse(outputs, batch["heatmap"], batch["target_weight"])

    return heatmap


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
        report = load_pose_checkpoint(model, config.init_checkpoint)
        logger.info("initial pose weights from %s: %s", config.init_checkpoint, report.summary())
    return model


@dataclass
class RunState:
    """What moves from epoch to epoch (and into checkpoints)."""

    epoch: int = 0  # epochs completed
    best_ap: float = -1.0
    global_step: int = 0
    first_step_loss: float = float("nan")


# ---- one epoch ---------------------------------------------------------------------------
def train_one_epoch(
    model: nn.Module, loader: DataLoader, criterion: Criterion, optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler, info: distributed.DistInfo, config: TrainConfig, state: RunState,
    log_step: Callable[[dict[str, float]], None],
) -> float:
    """Train for one epoch; returns the mean loss over processes and steps."""
    model.train()
    use_amp = config.amp and info.device.type == "cuda"
    total, steps = 0.0, 0
    limit = config.max_steps_per_epoch or len(loader)
    bar = tqdm(loader, total=min(limit, len(loader)), desc=f"epoch {state.epoch + 1}/{config.epochs}",
               disable=not info.is_main, leave=False)
    for step, batch in enumerate(bar):
        if step >= limit:
            break
        inputs = batch["image"].to(info.device, non_blocking=True)
        targets = {k: v.to(info.device, non_blocking=True) for k, v in batch.items() if k not in ("image", "meta")}
        with torch.autocast(device_type=info.device.type, dtype=torch.float16, enabled=use_amp):
            outputs = model(inputs)
        loss = criterion(_to_float(outputs), targets)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {loss.item()} at epoch {state.epoch + 1} step {step}; lower --lr")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        mean_loss = distributed.all_reduce_mean(loss.detach(), info).item()
        if state.global_step == 0:
            state.first_step_loss = mean_loss
        state.global_step += 1
        total, steps = total + mean_loss, steps + 1
        bar.set_postfix(loss=f"{mean_loss:.4f}")
        if info.is_main and (state.global_step % config.log_every == 0 or state.global_step == 1):
            log_step({"step": state.global_step, "epoch": state.epoch + 1, "loss": mean_loss,
                      "lr": optimizer.param_groups[0]["lr"]})
    return total / max(steps, 1)


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
            "keypoints": crop_to_image(kp, meta["matrix"]), "scores": scores,
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
    for alpha in (0.2, 0.1):  # box-normalised PCK: progress that OKS AP does not show yet
        metrics[f"PCK@{alpha}"] = pck(pred["keypoints"], pred["gt_keypoints"], pred["visible"] > 0,
                                      pred["boxes"], alpha=alpha)["mean"]
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
        self.fields = ["time", "epoch", "step", "loss", "lr", "AP", "AP50", "AP75", "APM", "APL", "AR", "PCK@0.2",
                       "PCK@0.1", "train_loss"]
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
    train_set, val_set = build_datasets(config, spec)
    sampler = DistributedSampler(train_set, num_replicas=info.world_size, rank=info.rank,
                                 shuffle=True, seed=config.seed, drop_last=True)
    loader = DataLoader(train_set, batch_size=config.batch_size, sampler=sampler, num_workers=config.workers,
                        collate_fn=collate, worker_init_fn=worker_init_fn, drop_last=True,
                        pin_memory=info.device.type == "cuda")  # not persistent: set_epoch must reach workers
    if len(loader) == 0:
        raise InputError(f"{len(train_set)} training persons are fewer than one batch of "
                         f"{config.batch_size} x {info.world_size} processes; lower --batch_size")
    model = make_model(config, spec).to(info.device)
    if info.distributed and config.sync_bn:
        model = (nn.SyncBatchNorm.convert_sync_batchnorm(model) if info.device.type == "cuda"
                 else convert_batchnorm(model))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=config.lr_steps, gamma=config.lr_factor)
    scaler = torch.amp.GradScaler(info.device.type, enabled=config.amp and info.device.type == "cuda")
    state = RunState()
    resume = run_dir / "last.pt" if config.resume == "auto" else (Path(config.resume) if config.resume else None)
    if resume is not None and (config.resume != "auto" or resume.exists()):
        ckpt = read_checkpoint(resume)
        if ckpt["spec"]["name"] != spec.name:
            raise InputError(f"--resume {resume} holds model {ckpt['spec']['name']!r}, not {spec.name!r}")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        state = RunState(epoch=ckpt["epoch"], best_ap=ckpt.get("best_ap", -1.0),
                         global_step=ckpt.get("global_step", 0))
        logger.info("resumed %s at epoch %d", resume, state.epoch)
    net = DistributedDataParallel(model) if info.distributed else model
    criterion = make_criterion(spec.build_codec())
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=1))
    log = RunLogger(run_dir, info.is_main)
    metrics: dict[str, float] = {}
    started = time.time()
    try:
        while state.epoch < config.epochs:
            sampler.set_epoch(state.epoch)
            train_set.set_epoch(state.epoch)
            train_loss = train_one_epoch(net, loader, criterion, optimizer, scaler, info, config, state, log.log)
            scheduler.step()
            state.epoch += 1
            if val_set is not None and (state.epoch % config.val_every == 0 or state.epoch == config.epochs):
                if info.is_main:
                    metrics = validate(model, val_set, spec, config, info.device)
                    log.log({"epoch": state.epoch, "step": state.global_step, "train_loss": train_loss, **metrics})
                distributed.barrier(info)
            elif info.is_main:
                log.log({"epoch": state.epoch, "step": state.global_step, "train_loss": train_loss})
            if info.is_main:
                _save(run_dir, model, optimizer, scheduler, scaler, spec, config, state, metrics)
    finally:
        log.close()
    checksums = _gather_checksums(model, info)
    summary = {
        "model": spec.name, "epochs": state.epoch, "steps": state.global_step,
        "first_step_loss": state.first_step_loss, "best_ap": state.best_ap, "metrics": metrics,
        "world_size": info.world_size, "replica_param_checksums": checksums,
        "wall_time_s": round(time.time() - started, 1),
    }
    if info.is_main:
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def _save(run_dir: Path, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
          scaler: torch.amp.GradScaler, spec: ModelSpec, config: TrainConfig, state: RunState,
          metrics: dict[str, float]) -> None:
    """Write ``last.pt`` and, on a new best validation AP, ``best.pt``.

    SyncBatchNorm keeps BatchNorm's parameter names, so the weights load into ``build(spec)``.
    """
    ap = metrics.get("AP")
    is_best = ap is not None and ap > state.best_ap
    if is_best:
        state.best_ap = ap
    checkpoint = {
        "spec": spec.to_dict(), "config": config.to_dict(), "model": model.state_dict(),
        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
        "epoch": state.epoch, "global_step": state.global_step, "best_ap": state.best_ap, "metrics": metrics,
    }
    save_checkpoint(run_dir / "last.pt", checkpoint)
    if is_best:
        save_checkpoint(run_dir / "best.pt", checkpoint)
        logger.info("new best AP %.4f at epoch %d", ap, state.epoch)


def _gather_checksums(model: nn.Module, info: distributed.DistInfo) -> list[float]:
    value = torch.tensor([_param_checksum(model)], dtype=torch.float64)
    if not info.distributed:
        return [float(value)]
    gathered = [torch.zeros_like(value) for _ in range(info.world_size)]
    torch.distributed.all_gather(gathered, value)
    return [float(v) for v in gathered]
