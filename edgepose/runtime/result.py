"""What an Estimator returns for one frame: :class:`PoseResult`, a sequence of :class:`Person`.

::

    result = est(frame)
    len(result)                    # people found
    for person in result:          # Person: keypoints (K, 2), scores (K,), box (4,), track_id
        ...
    result[0].keypoints            # the first person
    result.keypoints_normalized    # (N, K, 2), x / frame width, y / frame height
    result.draw(frame)             # skeletons above the model's score threshold
    result.to_json()               # one JSON object (PoseResult.to_dict)

numpy only; drawing goes through :mod:`edgepose.runtime.draw`, which works on arrays and knows
nothing of results. A result's JSON object is made here (:meth:`PoseResult.to_dict`, numbers
rounded by :func:`json_number`); files of them (JSON Lines, COCO results) are
:mod:`edgepose.runtime.pose_json`'s, which imports this module and is never imported by it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgepose.runtime.draw import draw_people

__all__ = ["DECIMALS", "TIMING_KEYS", "Person", "PoseResult", "json_number"]

#: Stages timed per frame, in milliseconds. ``track`` is the tracker's bookkeeping (next
#: boxes from the keypoints), apart from ``decode``; ``total`` is the whole call.
TIMING_KEYS = ("detect", "preprocess", "infer", "decode", "track", "smooth", "total")
#: threshold of results made without one (the heatmap convention)
DEFAULT_DRAW_THRESHOLD = 0.3
#: decimals kept for pixel coordinates and scores in the JSON output
DECIMALS = 3


def json_number(value: float) -> float | None:
    """A JSON-safe float rounded to :data:`DECIMALS` (None for NaN/inf: strict JSON has no such numbers)."""
    value = float(value)
    return round(value, DECIMALS) if math.isfinite(value) else None


@dataclass(frozen=True)
class Person:
    """One person of a :class:`PoseResult`.

    Attributes:
        keypoints: (K, 2) float32, (x, y) in frame pixels.
        scores: (K,) float32 keypoint confidences.
        box: (4,) float32, (x, y, w, h) in frame pixels.
        track_id: the person's track id.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    box: np.ndarray
    track_id: int


@dataclass(frozen=True)
class PoseResult:
    """Poses found in one frame; ``len()``, iteration and indexing go per person.

    Attributes:
        keypoints: (N, K, 2) float32, (x, y) in frame pixels.
        scores: (N, K) float32 keypoint confidences (codec's score, 0..1 for SimDR).
        boxes: (N, 4) float32 person boxes (x, y, w, h) in frame pixels that were cropped.
        track_ids: (N,) int64 track ids (stable across frames in "track"/"detect" modes).
        timings: milliseconds per stage, keys :data:`TIMING_KEYS`.
        keypoint_set: name of the keypoint set ("coco17", ...).
        score_threshold: the model's keypoint score threshold (what :meth:`draw` uses).
        frame_hw: (height, width) of the frame, pixels ((0, 0) when unknown).
    """

    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    track_ids: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)
    keypoint_set: str = "coco17"
    score_threshold: float = DEFAULT_DRAW_THRESHOLD
    frame_hw: tuple[int, int] = (0, 0)

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    def __getitem__(self, index: int) -> Person:
        n = len(self)
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"PoseResult indices are integers; got {type(index).__name__}")
        if not -n <= index < n:
            raise IndexError(f"person {index} of a result with {n} people")
        i = int(index) % n
        return Person(self.keypoints[i], self.scores[i], self.boxes[i], int(self.track_ids[i]))

    def __iter__(self) -> Iterator[Person]:
        return (self[i] for i in range(len(self)))

    @property
    def keypoints_normalized(self) -> np.ndarray:
        """(N, K, 2) float32 keypoints as fractions of the frame: x / width, y / height."""
        h, w = self.frame_hw
        if h <= 0 or w <= 0:
            raise ValueError("this result does not know its frame size (frame_hw)")
        return (self.keypoints / np.array([w, h], dtype=np.float32)).astype(np.float32)

    def draw(self, image: np.ndarray, threshold: float | None = None, *, boxes: bool = True,
             ids: bool = True) -> np.ndarray:
        """Draw the skeletons on ``image`` (BGR uint8 (H, W, 3), in place) and return it.

        Keypoints scoring below ``threshold`` (default: the model's :attr:`score_threshold`)
        are left out, with the limbs touching them.
        """
        return draw_people(image, self.keypoints, self.scores, self.boxes, self.track_ids, self.keypoint_set,
                           threshold=self.score_threshold if threshold is None else threshold,
                           show_boxes=boxes, ids=ids)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``keypoint_set``, ``frame_hw`` [H, W], ``score_threshold``, and per
        person (same order in every list) ``track_ids``, ``boxes`` [x, y, w, h], ``keypoints``
        [[x, y], ...] frame px, ``keypoints_normalized`` (x / width, y / height; null when the frame
        size is unknown) and ``scores``; then ``timings`` (ms). Numbers are :func:`json_number`'s."""
        num = json_number
        h, w = (int(v) for v in self.frame_hw)
        normalized = ([[[num(x / w), num(y / h)] for x, y in person] for person in self.keypoints]
                      if h > 0 and w > 0 else None)
        return {
            "keypoint_set": self.keypoint_set,
            "frame_hw": [h, w],
            "score_threshold": num(self.score_threshold),
            "track_ids": [int(t) for t in self.track_ids],
            "boxes": [[num(v) for v in box] for box in self.boxes],
            "keypoints": [[[num(x), num(y)] for x, y in person] for person in self.keypoints],
            "keypoints_normalized": normalized,
            "scores": [[num(s) for s in person] for person in self.scores],
            "timings": {k: num(v) for k, v in self.timings.items()},
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as strict JSON (NaN and inf become null)."""
        return json.dumps(self.to_dict(), allow_nan=False)
