"""Latency of one model file on one backend: model-only, end to end, and several people per frame.

* model-only: ``backend.run`` on one preprocessed crop (median and p90, ms);
* end to end per frame of the moving 640x480 scene (:mod:`edgepose.bench.scene`) with one
  tracked person (``mode="track"``, One Euro smoothing on: frame checks + box from the previous
  keypoints + preprocess + infer + decode + smooth), median and p90 ms;
* with ``people`` > 1, end to end on one frame with that many caller-given boxes: the default
  ``batching="auto"`` (crops spread over the threads, see
  :meth:`edgepose.runtime.backends.Backend.run_parallel`), one runtime call for all crops
  (``batching="batch"``) and a loop of single calls, timed in interleaved rounds so that machine
  noise hits the three alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgepose.bench.macs import file_macs
from edgepose.bench.row import Row
from edgepose.bench.scene import MovingScene, bench_tracker
from edgepose.errors import EdgeposeError
from edgepose.runtime.backends import available_backends, backends_for_suffix
from edgepose.runtime.estimator import Estimator
from edgepose.runtime.timing import time_calls_ms, time_interleaved_ms

__all__ = ["LatencySettings", "bench_file", "bench_files", "e2e_tracked", "measure"]

logger = logging.getLogger("edgepose.bench")


@dataclass(frozen=True)
class LatencySettings:
    """How to time: runtime ``threads`` (None: the runtime's default), ``repeats`` timed and
    ``warmup`` untimed calls, ``people`` boxes per frame (> 1 also times batched vs looped),
    and per file name, stem or model name: ``macs`` (GMACs per crop) and ``accuracy``."""

    threads: int | None = None
    repeats: int = 50
    warmup: int = 5
    people: int = 1
    macs: Mapping[str, float] = field(default_factory=dict)
    accuracy: Mapping[str, float] = field(default_factory=dict)


def measure(fn: Callable[[], object], repeats: int, warmup: int) -> tuple[float, float]:
    """(median, p90) wall time of ``fn`` in ms."""
    times = time_calls_ms(fn, repeats=repeats, warmup=warmup)
    return float(np.median(times)), float(np.percentile(times, 90))


def e2e_tracked(path: Path, backend: str, settings: LatencySettings, scene: MovingScene) -> tuple[float, float]:
    """(median, p90) ms per frame of the whole pipeline on successive 640x480 frames of
    ``scene`` with one tracked person: ``mode="track"`` (box from the previous frame's
    keypoints, re-detection every ``redetect_interval`` frames), One Euro smoothing on
    (timestamps at 30 fps), frame checks, preprocessing, inference and decoding."""
    frames = [scene(i) for i in range(settings.warmup + settings.repeats)]
    with Estimator(path, backend=backend, running_mode="video", threads=settings.threads, mode="track",
                   tracker=bench_tracker()) as est:
        index = iter(range(len(frames)))

        def step() -> None:
            i = next(index)
            est(frames[i], timestamp=i / 30.0)

        return measure(step, settings.repeats, settings.warmup)


def _people_boxes(frame_hw: tuple[int, int], people: int) -> list[list[float]]:
    """``people`` xywh boxes in px tiling the frame, four a row, each a quarter wide and half high."""
    h, w = frame_hw
    return [[(i % 4) * w / 4, (i // 4) * h / 4, w / 4, h / 2] for i in range(people)]


def bench_file(path: Path, backend: str, settings: LatencySettings, frame: np.ndarray,
               scene: MovingScene) -> Row | None:
    """The row of ``path`` on ``backend``; None (with a warning) when the file does not open there.

    Args:
        frame: the frame of the several-people runs, BGR uint8 (H, W, 3).
        scene: the moving scene of the end-to-end run.
    """
    try:
        est = Estimator(path, backend=backend, threads=settings.threads)
    except EdgeposeError as exc:
        logger.warning("skipping %s on %s: %s", path.name, backend, exc)
        return None
    with est:
        info = est.info
        row = Row(path.name, info.name or path.stem, f"{info.input_hw[0]}x{info.input_hw[1]}", backend,
                  info.precision, str(settings.threads or "default"))
        crop = np.random.default_rng(0).standard_normal((1, 3, *info.input_hw)).astype(np.float32)
        row.model_med, row.model_p90 = measure(lambda: est.backend.run(crop), settings.repeats, settings.warmup)
        row.e2e_med, row.e2e_p90 = e2e_tracked(path, backend, settings, scene)
        if settings.people > 1:
            boxes = _people_boxes(frame.shape[:2], settings.people)

            def people(batching: str) -> Callable[[], object]:
                def call() -> object:
                    est.batching = batching
                    return est.estimate(frame, boxes, track_ids=range(settings.people))
                return call

            times = time_interleaved_ms({b: people(b) for b in ("auto", "batch", "loop")},
                                        repeats=settings.repeats, warmup=settings.warmup)
            row.batch_med, row.onecall_med, row.loop_med = (float(np.median(times[b])) for b in
                                                            ("auto", "batch", "loop"))
            est.batching = "auto"
        names = (path.name, path.stem, info.name)  # how --macs / --accuracy name a file
        row.accuracy = next((settings.accuracy[k] for k in names if k in settings.accuracy), float("nan"))
        row.gmac, row.macs_from = file_macs(path, names, info.macs, settings.macs)
    return row


def bench_files(files: Sequence[Path], backends: Sequence[str], settings: LatencySettings,
                scene: MovingScene) -> list[Row]:
    """One row per file and installed backend of ``backends`` that reads it, in that order;
    the several-people runs use the scene's first frame."""
    frame = scene(0)
    installed = available_backends()
    rows: list[Row] = []
    for path in files:
        for backend in backends_for_suffix(path.suffix):
            if backend in backends and backend in installed:
                logger.info("benchmarking %s on %s", path.name, backend)
                row = bench_file(path, backend, settings, frame, scene)
                if row is not None:
                    rows.append(row)
    return rows
