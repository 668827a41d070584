"""Person tracks across video frames: ids, next-frame boxes from keypoints, when to re-detect.

Top-down pose estimation needs a box per person. Running a detector on every frame is
the most robust and the most expensive choice; :class:`PoseTracker` lets the
:class:`~edgepose.runtime.estimator.Estimator` reuse each person's keypoints instead: the box of
frame t+1 is the box around the confident keypoints of frame t, extended by
``box_extension``. A track is *lost* when its mean keypoint score drops below
``lost_score`` (the person left, was occluded, or moved too fast for the old box); the
next frame is then re-detected, as is every ``redetect_interval``-th frame so that new
people are picked up.

Detections are matched to existing tracks greedily by IoU (>= ``iou_threshold``), which
keeps ids stable for per-track smoothing and per-track colours. This is deliberately
simple (no motion model, no appearance features): fine for a few people who do not cross
each other, not a multi-object tracker for crowds.

Boxes are ``(x, y, w, h)`` in frame pixels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from edgepose.errors import InputError
from edgepose.geometry import keypoints_to_box

logger = logging.getLogger(__name__)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (len(a), len(b)) of ``(x, y, w, h)`` boxes ``a (M, 4)`` and ``b (N, 4)``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def extend_box(box: np.ndarray, factor: float) -> np.ndarray:
    """Grow ``box (4,)`` about its centre by ``factor`` in both directions."""
    x, y, w, h = np.asarray(box, dtype=np.float64)
    cx, cy = x + w / 2, y + h / 2
    return np.array([cx - w * factor / 2, cy - h * factor / 2, w * factor, h * factor])


def clip_box(box: np.ndarray, frame_hw: tuple[int, int]) -> np.ndarray | None:
    """``box`` intersected with the frame; None when nothing of it is inside."""
    x, y, w, h = np.asarray(box, dtype=np.float64)
    x1, y1 = max(x, 0.0), max(y, 0.0)
    x2, y2 = min(x + w, float(frame_hw[1])), min(y + h, float(frame_hw[0]))
    if x2 - x1 < 1 or y2 - y1 < 1:
        return None
    return np.array([x1, y1, x2 - x1, y2 - y1])


@dataclass
class Track:
    """One tracked person.

    Attributes:
        track_id: stable integer id.
        box: last box (4,) xywh, frame px.
        keypoints: last keypoints (K, 2) frame px, None before the first pose.
        scores: last keypoint scores (K,).
        misses: consecutive detections in which this track found no match.
    """

    track_id: int
    box: np.ndarray
    keypoints: np.ndarray | None = None
    scores: np.ndarray | None = None
    misses: int = 0
    age: int = field(default=0)


class PoseTracker:
    """Tracks people between frames from their keypoints.

    Args:
        iou_threshold: minimum IoU for a detection to continue a track.
        lost_score: a track whose mean keypoint score falls below this is lost.
        keypoint_threshold: keypoints scoring at least this define the next box.
        box_extension: factor the keypoint box grows by (the estimator pads the crop on
            top of this); > 1 leaves room for motion and for the head top and feet,
            which lie outside the keypoints.
        redetect_interval: re-detect at least every this many frames (>= 1; 1 = every frame).
        max_misses: detections a track may go unmatched before it is dropped.
    """

    def __init__(
        self,
        iou_threshold: float = 0.3,
        lost_score: float = 0.3,
        keypoint_threshold: float = 0.3,
        box_extension: float = 1.2,
        redetect_interval: int = 30,
        max_misses: int = 0,
    ) -> None:
        if redetect_interval < 1:
            raise InputError(f"redetect_interval must be >= 1; got {redetect_interval}")
        if box_extension <= 0:
            raise InputError(f"box_extension must be > 0; got {box_extension}")
        self.iou_threshold = float(iou_threshold)
        self.lost_score = float(lost_score)
        self.keypoint_threshold = float(keypoint_threshold)
        self.box_extension = float(box_extension)
        self.redetect_interval = int(redetect_interval)
        self.max_misses = int(max_misses)
        self.reset()

    def reset(self) -> None:
        """Forget all tracks (e.g. at a new video)."""
        self.tracks: dict[int, Track] = {}
        self._next_id = 0
        self._since_detection = 0
        self._lost = False

    # ---- queries ---------------------------------------------------------------------
    def needs_detection(self) -> bool:
        """True when the next frame should be detected: no tracks, a track was lost, or
        ``redetect_interval`` frames passed since the last detection."""
        return not self.tracks or self._lost or self._since_detection >= self.redetect_interval

    def predicted(self) -> tuple[np.ndarray, np.ndarray]:
        """Boxes for the next frame from the tracks' last poses: ``boxes (N, 4)``, ``ids (N,)``."""
        ids = sorted(self.tracks)
        boxes = np.array([self.tracks[i].box for i in ids], dtype=np.float64).reshape(-1, 4)
        return boxes, np.array(ids, dtype=np.int64)

    # ---- updates ---------------------------------------------------------------------
    def match(self, boxes: np.ndarray) -> np.ndarray:
        """Assign track ids to freshly detected ``boxes (M, 4)``; returns ids (M,).

        Greedy IoU matching against the tracks' current boxes; unmatched detections
        start new tracks; unmatched tracks count a miss and are dropped after
        ``max_misses``.
        """
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        old_ids = sorted(self.tracks)
        ids = np.full(len(boxes), -1, dtype=np.int64)
        if old_ids and len(boxes):
            old = np.array([self.tracks[i].box for i in old_ids])
            iou = box_iou(boxes, old)
            for flat in np.argsort(-iou, axis=None):
                d, t = np.unravel_index(flat, iou.shape)
                if iou[d, t] < self.iou_threshold:
                    break
                if ids[d] >= 0 or old_ids[t] in ids:
                    continue
                ids[d] = old_ids[t]
        matched = set(ids.tolist())
        for tid in old_ids:
            if tid not in matched:
                self.tracks[tid].misses += 1
                if self.tracks[tid].misses > self.max_misses:
                    del self.tracks[tid]
        for d in range(len(boxes)):
            if ids[d] < 0:
                ids[d] = self._next_id
                self._next_id += 1
                self.tracks[int(ids[d])] = Track(int(ids[d]), boxes[d].copy())
            else:
                track = self.tracks[int(ids[d])]
                track.box, track.misses = boxes[d].copy(), 0
        self._since_detection = 0
        self._lost = False
        return ids

    def update(self, ids: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
               frame_hw: tuple[int, int]) -> np.ndarray:
        """Record the poses found for tracks ``ids (N,)``; sets each track's next box.

        Args:
            ids: track ids (N,) from :meth:`match` or :meth:`predicted`.
            keypoints: (N, K, 2) frame px.
            scores: (N, K).
            frame_hw: frame (height, width), to clip the next boxes.

        Returns:
            bool (N,): which tracks were kept (False = lost and dropped).
        """
        kept = np.ones(len(ids), dtype=bool)
        for i, tid in enumerate(np.asarray(ids).tolist()):
            track = self.tracks.get(tid)
            if track is None:
                kept[i] = False
                continue
            track.keypoints, track.scores = keypoints[i].copy(), scores[i].copy()
            track.age += 1
            box = None
            if float(np.mean(scores[i])) >= self.lost_score:
                tight = keypoints_to_box(keypoints[i], scores[i] >= self.keypoint_threshold)
                if tight is not None:
                    box = clip_box(extend_box(tight, self.box_extension), frame_hw)
            if box is None:
                logger.debug("track %d lost (mean score %.2f)", tid, float(np.mean(scores[i])))
                del self.tracks[tid]
                self._lost = True
                kept[i] = False
            else:
                track.box = box
        self._since_detection += 1
        return kept
