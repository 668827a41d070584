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
Only numpy, OpenCV and mediapipe are imported: not edgepose.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import cv2
import numpy as np


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("frame", help="image file (the benchmark frame)")
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
