"""The peers' rows of ``python apps/bench.py``: MoveNet Lightning / Thunder and MediaPipe BlazePose.

The peers live in the clone only: ``bash apps/peers_setup.sh`` converts MoveNet into float32
TFLite files under ``.peers/models`` (read through ``apps/peers.py``) and makes a MediaPipe
0.10.21 venv (numpy<2) under ``.peers/mediapipe-venv`` that runs ``apps/mediapipe_peer.py``.
So ``edgepose bench`` (:mod:`edgepose.commands.bench`) measures our files only, and
``apps/bench.py`` adds these rows on the same scene:

* MoveNet, run by LiteRT with the same ``--threads``: model-only on one crop, and end to end on the
  same moving scene through the same tracking (``PoseTracker``: box from the previous keypoints,
  full frame at re-detection) and One Euro smoothing as ours (crop + infer + map back + smooth);
* MediaPipe BlazePose full, end to end only, on the same frame, in static-image mode (its detector
  runs every frame) and in tracking (video) mode: in-process when ``mediapipe`` is importable, else
  through ``--mediapipe-python``. A run that found no person in the frame (it then times its
  detector alone) is marked and left out of the "vs peer" columns; the default scene's small
  rendered person is often missed by MediaPipe's detector: ``--image edgepose/samples/person.jpg``.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import peers  # apps/peers.py, next to this module

from edgepose.bench.latency import measure
from edgepose.bench.row import Row
from edgepose.bench.scene import MovingScene, bench_tracker
from edgepose.runtime.smooth import OneEuroParams, PoseSmoother

__all__ = ["add_peer_args", "bench_mediapipe", "bench_movenet", "movenet_e2e_step", "movenet_rows", "peer_rows"]

logger = logging.getLogger("edgepose.apps.bench")
APPS = Path(__file__).resolve().parent


def add_peer_args(p: argparse.ArgumentParser) -> None:
    """The peers' options of ``apps/bench.py``."""
    p.add_argument("--no-mediapipe", action="store_true")
    p.add_argument("--no-mediapipe-tracking", action="store_true",
                   help="MediaPipe in static-image mode only (default: static and tracking)")
    p.add_argument("--movenet-dir", default=str(peers.MODELS_DIR),
                   help="folder of the converted MoveNet files (bash apps/peers_setup.sh); absent: no MoveNet rows")
    p.add_argument("--no-movenet", action="store_true")
    p.add_argument("--mediapipe-python", help="python of a venv with mediapipe==0.10.21 (numpy<2): the peer runs "
                                               "there through apps/mediapipe_peer.py")


def _check_found(row: Row, people: int) -> Row:
    """Mark a MediaPipe row that found nobody: it timed the person detector only, so it is no
    peer to compare with (``compare_with_peers`` skips it)."""
    if people < 1:
        row.found = False
        row.file += " no person found"
        logger.warning("%s found no person in the bench frame: its time is its detector's alone (try --image "
                       "edgepose/samples/person.jpg)", row.model)
    return row


def bench_mediapipe(frame: np.ndarray, args: argparse.Namespace, tracking: bool = False) -> Row | None:
    """MediaPipe BlazePose (full) end-to-end on ``frame``, in static-image mode or (``tracking``)
    video mode: in-process when ``mediapipe`` imports, else through ``--mediapipe-python`` (the
    interpreter of a numpy<2 venv running ``apps/mediapipe_peer.py``); None when neither is available."""
    name = "mediapipe_blazepose_full" + ("_tracking" if tracking else "")
    row = Row("(bundled)", name, "256x256", "mediapipe", "fp32", "default", peer=True)
    if args.mediapipe_python:
        with tempfile.TemporaryDirectory() as tmp:
            image = Path(tmp) / "frame.png"
            cv2.imwrite(str(image), frame)
            cmd = [args.mediapipe_python, str(APPS / "mediapipe_peer.py"), str(image),
                   "--repeats", str(args.repeats), "--warmup", str(args.warmup)]
            if tracking:
                cmd.append("--tracking")
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            logger.error("MediaPipe peer failed (%s): %s", " ".join(cmd), done.stderr.strip()[-500:])
            return None
        result = json.loads(done.stdout.strip().splitlines()[-1])
        row.e2e_med, row.e2e_p90 = result["e2e_med"], result["e2e_p90"]
        row.file = f"(mediapipe {result['mediapipe']})"
        return _check_found(row, int(result.get("people", 1)))
    try:
        import mediapipe as mp  # type: ignore[import-not-found]
    except ImportError:
        logger.info("mediapipe not importable and no --mediapipe-python: no peer row")
        return None
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    with mp.solutions.pose.Pose(static_image_mode=not tracking, model_complexity=1) as pose:
        row.e2e_med, row.e2e_p90 = measure(lambda: pose.process(rgb), args.repeats, args.warmup)
        people = int(pose.process(rgb).pose_landmarks is not None)
    return _check_found(row, people)


def movenet_e2e_step(peer: Any, frames: list[np.ndarray], fps: float = 30.0) -> Callable[[], object]:
    """One call per frame of ``frames`` (made before timing, as the bench's end-to-end run does):
    the Estimator's ``mode="track"`` pipeline around ``peer`` (an ``apps/peers.py`` peer): boxes
    from the same :class:`PoseTracker` (the previous keypoints; the full frame at re-detection),
    crop + infer + map back, then the same One Euro smoothing."""
    tracker, smoother = bench_tracker(), PoseSmoother(OneEuroParams())
    index = iter(range(len(frames)))

    def step() -> object:
        i = next(index)
        frame = frames[i]
        h, w = frame.shape[:2]
        if tracker.needs_detection():
            boxes = np.array([[0.0, 0.0, float(w), float(h)]])
            ids = tracker.match(boxes)
        else:
            boxes, ids = tracker.predicted()
        keypoints, scores = peers.estimate(peer, frame, boxes)
        tracker.update(ids, keypoints, scores, (h, w))
        return smoother(ids, keypoints, i / fps)

    return step


def bench_movenet(peer: Any, args: argparse.Namespace, scene: MovingScene) -> Row:
    """MoveNet (an ``apps/peers.py`` peer): model-only on one crop and end to end on ``scene``
    (:func:`movenet_e2e_step`); the caller closes ``peer``."""
    info = peer.info
    row = Row(info.file, info.name, f"{info.input_hw[0]}x{info.input_hw[1]}", "tflite", "fp32",
              str(args.threads or "default"), peer=True)
    crop = np.random.default_rng(0).integers(0, 256, (*info.input_hw, 3), dtype=np.uint8)
    row.model_med, row.model_p90 = measure(lambda: peer.run_one(crop), args.repeats, args.warmup)
    frames = [scene(i) for i in range(args.warmup + args.repeats)]
    row.e2e_med, row.e2e_p90 = measure(movenet_e2e_step(peer, frames), args.repeats, args.warmup)
    row.accuracy = next((args.accuracy[k] for k in (info.file, info.name) if k in args.accuracy), float("nan"))
    return row


def movenet_rows(args: argparse.Namespace, scene: MovingScene) -> list[Row]:
    """Rows of the MoveNet files found in ``--movenet-dir`` ([] when none or ``--no-movenet``)."""
    if args.no_movenet:
        return []
    found = peers.movenet_peers(Path(args.movenet_dir), threads=args.threads)
    if not found:
        logger.info("no MoveNet files in %s (bash apps/peers_setup.sh makes them): no MoveNet rows", args.movenet_dir)
    rows = []
    for peer in found:
        with peer:
            logger.info("benchmarking peer %s", peer.info.name)
            rows.append(bench_movenet(peer, args, scene))
    return rows


def peer_rows(args: argparse.Namespace, scene: MovingScene, frame: np.ndarray) -> list[Row]:
    """The MoveNet rows, then MediaPipe's (static-image mode, then tracking) that ``args`` ask for."""
    rows = movenet_rows(args, scene)
    if not args.no_mediapipe:
        for tracking in (False, True)[:1 if args.no_mediapipe_tracking else 2]:
            row = bench_mediapipe(frame, args, tracking=tracking)
            if row is not None:
                rows.append(row)
    return rows
