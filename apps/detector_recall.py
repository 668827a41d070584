#!/usr/bin/env python
"""How many rendered people each person detector finds: recall at IoU 0.5, false positives, ms.

Compares the detectors ``edgepose.runtime.detect`` offers on synthetic multi-person renders
(``training/synth.py``, COCO annotations): a detection model file (by default the COCO
CenterNet that ``apps/peers_setup.sh`` converts to ``.peers/models/centernet_fp32.onnx``),
OpenCV's HOG people detector (when the OpenCV build has it) and the MOG2 motion detector::

    python apps/detector_recall.py                       # renders data/synth/detect_val first if absent
    python apps/detector_recall.py --data /tmp/detval --n 100 --seed 4242 --json out.json

Protocol (per frame, per detector):

* Ground truth: the render's person boxes, which bound each person's *visible* pixels (and
  visible keypoints). A person is **counted** when the box is at least ``--min-height`` px
  tall (default 64, an eighth of a 512 frame) and at least ``--min-visible`` of the 17
  keypoints are visible (v = 2; default 6). The rest (tiny, cut off by the border or mostly
  hidden behind occluders or other people) are **ignored**, as COCO ignores crowd regions:
  a detection that matches one is neither a hit nor a false positive.
* Matching: detections in descending score order each take the unmatched counted person
  with the highest IoU >= ``--iou``; failing that, an unmatched ignored person; failing
  that, the detection is a false positive. ``recall`` = hits / counted people;
  ``recall_all`` repeats the matching with every person counted.
* ms: wall time of ``detect()`` per frame (median and 90th percentile), all detectors
  limited to ``--threads`` (OpenCV and the runtime); frame decoding is not timed.
* CenterNet runs once at a low threshold and is scored at each ``--thresholds`` value
  (non-maximum suppression never lets a lower score remove a higher one, so this equals
  running at each threshold); its default threshold is 0.2.
* Motion needs a video from a static camera, which stills are not. Each still is turned
  into a short clip: ``--plate-frames`` frames of the *empty scene* (the still with every
  annotated person's mask dilated and inpainted away, plus fresh sensor noise each frame)
  to learn the background, then the still itself, on which the detector is scored (a fresh
  detector per clip). This is the best case for motion: a perfectly static camera, people
  who have just moved into view and no lighting change; people who stand still fade into
  the background after about ``history`` frames, and anything else that moves is boxed too.
  Its boxes bound the changed pixels, as the ground truth bounds the visible pixels.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgepose.runtime.detect import FORMAT_DEFAULTS, HOGPeopleDetector, ModelDetector, MotionDetector
from edgepose.errors import EdgeposeError

logger = logging.getLogger("edgepose.apps.detector_recall")
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Frame:
    """One render: image file, ground-truth boxes ``(N, 4)`` xywh px, counted mask ``(N,)``, RLE masks,
    and per person the groups of the recall breakdown (pose family, box height bucket)."""

    path: Path
    boxes: np.ndarray
    counted: np.ndarray
    masks: list[dict[str, Any]] = field(default_factory=list)
    groups: list[tuple[str, ...]] = field(default_factory=list)


@dataclass
class Tally:
    """Running counts of one detector (at one threshold)."""

    hits: int = 0
    counted: int = 0
    hits_all: int = 0
    people: int = 0
    false_pos: int = 0
    frames: int = 0
    ms: list[float] = field(default_factory=list)
    #: breakdown group -> [hits, counted people]
    groups: dict[str, list[int]] = field(default_factory=dict)

    def row(self, name: str) -> dict[str, Any]:
        """The table row: recall, recall_all, fp/frame, ms median / p90."""
        ms = sorted(self.ms)
        return {
            "detector": name, "recall": self.hits / max(self.counted, 1),
            "recall_all": self.hits_all / max(self.people, 1),
            "fp_per_frame": self.false_pos / max(self.frames, 1), "hits": self.hits, "counted": self.counted,
            "people": self.people, "frames": self.frames,
            "ms_median": statistics.median(ms) if ms else float("nan"),
            "ms_p90": ms[min(len(ms) - 1, int(0.9 * len(ms)))] if ms else float("nan"),
            "groups": {g: list(v) for g, v in self.groups.items()},
        }


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a (M, 4)`` with every box in ``b (N, 4)``, both xywh -> ``(M, N)``."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    y2 = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = a[:, None, 2] * a[:, None, 3] + b[None, :, 2] * b[None, :, 3] - inter
    return inter / np.maximum(union, 1e-9)


def match(boxes: np.ndarray, scores: np.ndarray, gt: np.ndarray, counted: np.ndarray,
          iou_threshold: float) -> tuple[np.ndarray, int]:
    """Greedy matching of detections ``boxes (M, 4)`` to ground truth ``gt (N, 4)`` (module doc).

    Returns:
        ``found (N,)`` bool (each person matched by a detection) and the false-positive count.
    """
    ious = iou_matrix(boxes, gt)
    taken = np.zeros(len(gt), bool)
    false_pos = 0
    for d in np.argsort(-np.asarray(scores), kind="stable"):
        matched = False
        for want_counted in (True, False):
            cand = np.where((~taken) & (counted == want_counted) & (ious[d] >= iou_threshold))[0]
            if len(cand):
                g = cand[np.argmax(ious[d, cand])]
                taken[g] = True
                matched = True
                break
        false_pos += int(not matched)
    return taken, false_pos


def score_frame(tally: Tally, frame: Frame, boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> None:
    """Add one frame's detections to ``tally``."""
    found, fp = match(boxes, scores, frame.boxes, frame.counted, iou_threshold)
    found_all, _ = match(boxes, scores, frame.boxes, np.ones(len(frame.boxes), bool), iou_threshold)
    tally.hits += int(np.sum(found & frame.counted))
    tally.counted += int(frame.counted.sum())
    tally.hits_all += int(found_all.sum())
    for i in np.nonzero(frame.counted)[0]:
        for group in frame.groups[i]:
            tally.groups.setdefault(group, [0, 0])
            tally.groups[group][0] += int(found[i])
            tally.groups[group][1] += 1
    tally.people += len(frame.boxes)
    tally.false_pos += fp
    tally.frames += 1


def render(out: Path, n: int, seed: int, size: int) -> None:
    """Render ``n`` multi-person frames (up to 3 people) with ``training/synth.py`` into ``out``."""
    cmd = [sys.executable, str(ROOT / "training/synth.py"), "--out", str(out), "--n", str(n), "--seed", str(seed),
           "--size", str(size), "--people-max", "3"]
    logger.info("rendering: %s", " ".join(cmd))
    subprocess.run(cmd, check=True)


def load_frames(data: Path, min_height: float, min_visible: int) -> list[Frame]:
    """Frames of a rendered COCO folder (``images/``, ``annotations/person_keypoints.json``)."""
    coco = json.loads((data / "annotations/person_keypoints.json").read_text())
    by_image: dict[int, list[dict[str, Any]]] = {}
    for ann in coco["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    frames = []
    for image in sorted(coco["images"], key=lambda im: im["id"]):
        anns = by_image.get(image["id"], [])
        boxes = np.asarray([a["bbox"] for a in anns], np.float64).reshape(-1, 4)
        visible = np.asarray([int(np.sum(np.asarray(a["keypoints"]).reshape(-1, 3)[:, 2] == 2)) for a in anns])
        counted = (boxes[:, 3] >= min_height) & (visible >= min_visible) if len(anns) else np.zeros(0, bool)
        groups = [(str(a.get("pose_family", "?")), height_bucket(float(a["bbox"][3]))) for a in anns]
        frames.append(Frame(data / "images" / image["file_name"], boxes, counted,
                            [a["segmentation"] for a in anns], groups))
    return frames


def height_bucket(height: float) -> str:
    """Box height (px) -> breakdown group name."""
    if height < 128:
        return "height <128 px"
    return "height 128-255 px" if height < 256 else "height >=256 px"


def empty_plate(image: np.ndarray, masks: list[dict[str, Any]]) -> np.ndarray:
    """``image (H, W, 3)`` with the people's (dilated) masks inpainted: the scene without them."""
    from pycocotools import mask as mask_utils

    union = np.zeros(image.shape[:2], np.uint8)
    for rle in masks:
        union |= mask_utils.decode(rle).astype(np.uint8)
    union = cv2.dilate(union * 255, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9)))
    return cv2.inpaint(image, union, 5, cv2.INPAINT_TELEA)


def timed(detector: Any, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``detector.detect(image)`` -> boxes, scores, milliseconds."""
    t0 = time.perf_counter()
    boxes, scores = detector.detect(image, "bgr")
    return boxes, scores, (time.perf_counter() - t0) * 1e3


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Score every requested detector; returns the table rows."""
    frames = load_frames(args.data, args.min_height, args.min_visible)
    logger.info("%d frames, %d people (%d counted)", len(frames), sum(len(f.boxes) for f in frames),
                sum(int(f.counted.sum()) for f in frames))
    cv2.setNumThreads(args.threads)
    rows: list[dict[str, Any]] = []
    names = [d.strip() for d in args.detectors.split(",") if d.strip()]
    for name in names:
        if name == "centernet":
            if not args.model.exists():
                logger.warning("skipping the model detector: %s not found (bash apps/peers_setup.sh makes it)",
                               args.model)
                continue
            thresholds = sorted(float(t) for t in args.thresholds.split(","))
            det = ModelDetector(args.model, args.format, threads=args.threads, score_threshold=min(thresholds))
            default_threshold = FORMAT_DEFAULTS[det.output_format]["score_threshold"]
            tallies = {t: Tally() for t in thresholds}
            for i, frame in enumerate(frames):
                image = cv2.imread(str(frame.path))
                if i == 0:
                    timed(det, image)  # warm-up (session start-up), not timed
                boxes, scores, ms = timed(det, image)
                for t, tally in tallies.items():
                    keep = scores >= t
                    score_frame(tally, frame, boxes[keep], scores[keep], args.iou)
                    tally.ms.append(ms)
            det.close()
            label = f"{args.model.stem} ({det.output_format})"
            rows += [tallies[t].row(f"{label} @{t:g}" + (" (default)" if t == default_threshold else ""))
                     for t in thresholds]
        elif name == "hog":
            try:
                hog = HOGPeopleDetector()
            except EdgeposeError as exc:
                logger.warning("skipping HOG: %s", exc)
                continue
            tally = Tally()
            for frame in frames:
                boxes, scores, ms = timed(hog, cv2.imread(str(frame.path)))
                score_frame(tally, frame, boxes, scores, args.iou)
                tally.ms.append(ms)
            rows.append(tally.row("HOG (OpenCV default people SVM)"))
        elif name == "motion":
            tally = Tally()
            rng = np.random.default_rng(args.seed)
            for frame in frames:
                image = cv2.imread(str(frame.path))
                plate = empty_plate(image, frame.masks).astype(np.float32)
                motion = MotionDetector()
                for _ in range(args.plate_frames):
                    noisy = np.clip(plate + rng.normal(0.0, 2.0, plate.shape), 0, 255).astype(np.uint8)
                    motion.detect(noisy)
                boxes, scores, ms = timed(motion, image)
                score_frame(tally, frame, boxes, scores, args.iou)
                tally.ms.append(ms)
            rows.append(tally.row(f"motion (MOG2, {args.plate_frames} empty-scene frames first)"))
        else:
            raise SystemExit(f"unknown detector {name!r}: use centernet, hog, motion")
    return rows


def format_table(rows: list[dict[str, Any]], iou: float) -> str:
    """Markdown table of the rows."""
    lines = [f"| detector | recall@IoU{iou:g} (counted) | recall (all people) | FP / frame | ms median | ms p90 |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['detector']} | {r['recall']:.3f} ({r['hits']}/{r['counted']}) | {r['recall_all']:.3f} | "
                     f"{r['fp_per_frame']:.2f} | {r['ms_median']:.1f} | {r['ms_p90']:.1f} |")
    return "\n".join(lines)


def format_breakdown(rows: list[dict[str, Any]]) -> str:
    """Markdown table: recall of every detector row per pose family and height bucket (counted people)."""
    groups = sorted({g for r in rows for g in r["groups"]}, key=lambda g: (g.startswith("height"), g))
    lines = ["| group (counted people) | n | " + " | ".join(r["detector"] for r in rows) + " |",
             "|---|---|" + "---|" * len(rows)]
    for g in groups:
        n = max(r["groups"].get(g, [0, 0])[1] for r in rows)
        cells = [f"{r['groups'][g][0] / r['groups'][g][1]:.2f}" if r["groups"].get(g, [0, 0])[1] else "-" for r in rows]
        lines.append(f"| {g} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=ROOT / "data/synth/detect_val",
                   help="rendered COCO folder; rendered with training/synth.py when it has no annotations")
    p.add_argument("--n", type=int, default=100, help="frames to render when --data is empty")
    p.add_argument("--seed", type=int, default=4242, help="render seed (and the motion plates' noise)")
    p.add_argument("--size", type=int, default=512, help="render side (px)")
    p.add_argument("--detectors", default="centernet,hog,motion", help="comma list of centernet, hog, motion")
    p.add_argument("--model", type=Path, default=ROOT / ".peers/models/centernet_fp32.onnx",
                   help="detection model file for the 'centernet' entry (any ModelDetector file works)")
    p.add_argument("--format", default="auto", help="its ModelDetector output_format")
    p.add_argument("--thresholds", default="0.1,0.2,0.3", help="model score thresholds to report")
    p.add_argument("--threads", type=int, default=1, help="threads for OpenCV and the runtime")
    p.add_argument("--iou", type=float, default=0.5)
    p.add_argument("--min-height", type=float, default=64.0, help="counted people: box height >= this (px)")
    p.add_argument("--min-visible", type=int, default=6, help="counted people: at least this many visible keypoints")
    p.add_argument("--plate-frames", type=int, default=30, help="empty-scene frames before each still (motion)")
    p.add_argument("--json", type=Path, help="also write the rows and settings here")
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if not (args.data / "annotations/person_keypoints.json").exists():
        render(args.data, args.n, args.seed, args.size)
    try:
        rows = run(args)
    except EdgeposeError as exc:
        logger.error("%s", exc)
        return 2
    print(format_table(rows, args.iou))
    print()
    print(format_breakdown(rows))
    if args.json:
        settings = {k: str(v) for k, v in vars(args).items()}
        args.json.write_text(json.dumps({"settings": settings, "rows": rows}, indent=1))
        logger.info("wrote %s", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
