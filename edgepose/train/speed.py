"""Training throughput, part by part: the data loader alone, the model alone, the whole recipe.

``training/speed.py`` prints these side by side so that the slow part of a recipe shows:

* :func:`loader_rate` - samples/s of a ``DataLoader`` over the real training set (JPEG
  decode, augmentation warp, target encoding, collation), nothing else running;
* :func:`model_rate` - samples/s of forward + backward + optimiser step on one fixed batch,
  for a precision and memory format;
* :func:`recipe_rate` - samples/s of the recipe as the engine runs it: real loader, model,
  and validation at the recipe's interval (``val_every`` epochs of ``max_steps_per_epoch``
  steps). A short run cannot reach the recipe's validation interval, so the training steps
  and one validation are timed separately and combined at that interval.

All rates are medians of per-step times (the first ``warmup`` steps are dropped), except the
loader and the recipe's training part, which are totals over their measured steps: a loader
with workers delivers batches in bursts.
"""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from edgepose.data import worker_init_fn
from edgepose.nn import build
from edgepose.nn.losses import criterion_for_codec
from edgepose.train import distributed
from edgepose.train.config import TrainConfig
from edgepose.train.engine import (
    RunState,
    autocast_dtype,
    build_datasets,
    collate,
    epoch_steps,
    make_optimizer,
    train_one_epoch,
    validate,
)
from edgepose.zoo import ModelSpec, get_spec

logger = logging.getLogger(__name__)


def make_loader(dataset: Dataset, batch_size: int, workers: int, seed: int = 0) -> DataLoader:
    """The training loader as the engine builds it (shuffled, drop_last), on one process."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers, collate_fn=collate,
                      worker_init_fn=worker_init_fn, drop_last=True, generator=generator)


def loader_rate(dataset: Dataset, batch_size: int, workers: int, batches: int, warmup: int = 2) -> float:
    """Samples/s the loader delivers over ``batches`` batches after ``warmup`` (workers started)."""
    iterator = iter(make_loader(dataset, batch_size, workers))
    for _ in range(warmup):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def model_rate(spec: ModelSpec, batch: dict[str, Any], precision: str, channels_last: bool, steps: int,
               warmup: int = 3, device: str = "cpu") -> float:
    """Samples/s of forward + backward + Adam on ``batch`` (median step), as the engine trains."""
    config = TrainConfig(model=spec.name, precision=precision, channels_last=channels_last,
                         batch_size=int(batch["image"].shape[0]), log_every=10**9, max_steps_per_epoch=warmup + steps)
    dev = torch.device(device)
    model = build(spec)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    model = model.to(dev)
    optimizer = make_optimizer(model, config)
    scaler = torch.amp.GradScaler(dev.type, enabled=False)
    criterion = criterion_for_codec(spec.build_codec())
    info = distributed.DistInfo(rank=0, world_size=1, local_rank=0, device=dev)
    stamps: list[float] = []  # the clock as each step starts, and once after the last

    class TimedBatches:
        """The same batch ``warmup + steps`` times, stamping the clock as each is taken."""

        def __len__(self) -> int:
            return warmup + steps

        def __iter__(self):  # noqa: ANN204 - a generator
            for _ in range(warmup + steps):
                stamps.append(time.perf_counter())
                yield batch

    train_one_epoch(model, TimedBatches(), criterion, optimizer, scaler, info, config,  # type: ignore[arg-type]
                    RunState(), lambda row: None, autocast_dtype(precision, dev))
    stamps.append(time.perf_counter())
    times = [b - a for a, b in zip(stamps, stamps[1:])]
    return config.batch_size / statistics.median(times[warmup:])


@dataclass
class RecipeTiming:
    """What :func:`recipe_rate` measured (seconds, samples)."""

    train_s: float  # wall time of the measured training steps, loader included
    train_samples: int
    val_s: float  # one validation pass
    val_interval_samples: int  # training samples between two validations in the recipe

    @property
    def train_rate(self) -> float:
        """Samples/s of training alone (real loader, no validation)."""
        return self.train_samples / self.train_s

    @property
    def end_to_end_rate(self) -> float:
        """Samples/s with one validation every ``val_interval_samples``."""
        per_sample = self.train_s / self.train_samples + self.val_s / self.val_interval_samples
        return 1.0 / per_sample


def recipe_rate(config: TrainConfig, steps: int, warmup: int = 3) -> RecipeTiming:
    """Time ``steps`` training steps of ``config`` with its real loader, then one validation."""
    if not config.val_ann:
        raise ValueError("recipe_rate needs a config with val_ann (validation is part of the recipe)")
    spec = get_spec(config.model)
    dev = torch.device("cpu" if config.device in ("auto", "cpu") else config.device)
    train_set, val_set = build_datasets(config, spec)
    assert val_set is not None
    amp_dtype = autocast_dtype(config.precision, dev)
    model = build(spec)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model = model.to(dev)
    optimizer = make_optimizer(model, config)
    scaler = torch.amp.GradScaler(dev.type, enabled=amp_dtype == torch.float16)
    criterion = criterion_for_codec(spec.build_codec())
    info = distributed.DistInfo(rank=0, world_size=1, local_rank=0, device=dev)
    loader = make_loader(train_set, config.batch_size, config.workers, config.seed)
    state = RunState()
    warm = TrainConfig(**{**config.to_dict(), "max_steps_per_epoch": warmup, "log_every": 10**9})
    train_one_epoch(model, loader, criterion, optimizer, scaler, info, warm, state, lambda row: None, amp_dtype)
    timed = TrainConfig(**{**config.to_dict(), "max_steps_per_epoch": steps, "log_every": 10**9})
    start = time.perf_counter()
    train_one_epoch(model, loader, criterion, optimizer, scaler, info, timed, state, lambda row: None, amp_dtype)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    validate(model, val_set, spec, config, dev)
    val_s = time.perf_counter() - start
    interval = config.val_every * epoch_steps(config, len(train_set) // config.batch_size) * config.batch_size
    return RecipeTiming(train_s=train_s, train_samples=steps * config.batch_size, val_s=val_s,
                        val_interval_samples=interval)
