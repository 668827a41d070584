#!/usr/bin/env python
"""Time MediaPipe BlazePose (full) on one frame; run with the interpreter of a MediaPipe venv.

MediaPipe 0.10.21 needs numpy<2 while the rest of edgepose's tooling runs on numpy 2, so
the peer lives in its own virtual environment and ``apps/bench.py --mediapipe-python`` calls
this script there::

    python3.11 -m venv .venv-mediapipe
    .venv-mediapipe/bin/pip install "mediapipe==0.10.21" "numpy<2" "opencv-python-headless<5"
    python apps/bench.py --models-dir exports --mediapipe-python .venv-mediapipe/bin/python

It reads the frame (any image OpenCV reads; BGR), runs ``mp.solutions.pose.Pose`` with
``model_complexity=1`` (BlazePose full; its detector and landmark models ship in the wheel, so
it runs offline) in static-image mode (the detector runs on every frame, as our "full" /
"detect" end-to-end numbers do) and prints one JSON line:
``{"e2e_med": ms, "e2e_p90": ms, "people": n, "mediapipe": version, "threads": "default"}``.

With ``--crops CROPS.npy --out OUT.npz`` it instead runs BlazePose full (static-image mode) on each
person crop of ``CROPS.npy`` (``(N, H, W, 3)`` uint8 RGB, cut by ``apps/peers.py`` exactly as
edgepose's Estimator cuts them) and writes ``landmarks (N, 33, 4)`` float32 (x, y normalised to the
crop, z, visibility; NaN where no pose was found), ``found (N,)`` bool and ``ms (N,)`` float64
(``pose.process`` per crop). ``apps/peers_setup.sh`` makes the venv as ``.peers/mediapipe-venv``.
Only numpy, OpenCV and mediapipe are imported: not edgepose.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import cv2
import numpy as np


def run_crops(mp: object, crops_path: str, out_path: str) -> int:
    """BlazePose full (static-image mode) on every crop of ``crops_path``; writes ``out_path`` (.npz)."""
    try:
        crops = np.load(crops_path)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {crops_path}: {exc}", file=sys.stderr)
        return 2
    if crops.ndim != 4 or crops.shape[3] != 3 or crops.dtype != np.uint8:
        print(f"error: {crops_path} must hold (N, H, W, 3) uint8 RGB crops; got {crops.shape} {crops.dtype}",
              file=sys.stderr)
        return 2
    landmarks = np.full((len(crops), 33, 4), np.nan, dtype=np.float32)
    found = np.zeros(len(crops), dtype=bool)
    ms = np.zeros(len(crops))
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as pose:  # type: ignore[attr-defined]
        for i, crop in enumerate(crops):
            t = time.perf_counter()
            result = pose.process(np.ascontiguousarray(crop))
            ms[i] = (time.perf_counter() - t) * 1e3
            if result.pose_landmarks is not None:
                found[i] = True
                landmarks[i] = [(lm.x, lm.y, lm.z, lm.visibility) for lm in result.pose_landmarks.landmark]
    np.savez(out_path, landmarks=landmarks, found=found, ms=ms)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("frame", nargs="?", help="image file (the benchmark frame)")
    p.add_argument("--crops", help="(N, H, W, 3) uint8 RGB .npy of person crops: landmarks per crop instead")
    p.add_argument("--out", help="with --crops: the .npz to write")
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--tracking", action="store_true",
                   help="video mode (landmarks tracked between frames, detector only when lost)")
    args = p.parse_args(argv)
    try:
        import mediapipe as mp
    except ImportError as exc:
        print(f"error: mediapipe is not importable with {sys.executable}: {exc}", file=sys.stderr)
        return 2
    if args.crops:
        if not args.out:
            print("error: --crops needs --out", file=sys.stderr)
            return 2
        return run_crops(mp, args.crops, args.out)
    if not args.frame:
        print("error: give a frame (image file) or --crops", file=sys.stderr)
        return 2
    frame = cv2.imread(args.frame)
    if frame is None:
        print(f"error: cannot read {args.frame}", file=sys.stderr)
        return 2
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    times = []
    with mp.solutions.pose.Pose(static_image_mode=not args.tracking, model_complexity=1) as pose:
        for i in range(args.warmup + args.repeats):
            t = time.perf_counter()
            result = pose.process(rgb)
            if i >= args.warmup:
                times.append((time.perf_counter() - t) * 1e3)
    print(json.dumps({"e2e_med": float(np.median(times)), "e2e_p90": float(np.percentile(times, 90)),
                      "people": int(result.pose_landmarks is not None), "mediapipe": mp.__version__,
                      "threads": "default", "mode": "tracking" if args.tracking else "static"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
