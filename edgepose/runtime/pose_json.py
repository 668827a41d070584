"""Pose results as JSON: one line per frame (JSON Lines) or COCO keypoint results for one image.

Per frame (:func:`frame_record`, written by :class:`PoseJsonWriter` for videos and cameras)::

    {"frame": 0, "time": 0.033, "keypoint_set": "coco17", "track_ids": [1],
     "boxes": [[x, y, w, h]], "keypoints": [[[x, y], ...]], "scores": [[s, ...]]}

``time`` is the frame's timestamp in seconds (the file position for a video, the capture
clock for a camera; null for an image), coordinates are frame pixels, one entry per person
in the same order in every list.

For a single image (:func:`coco_results`) the file holds the COCO results format that
``pycocotools`` ``COCO.loadRes`` reads: a list of
``{"image_id", "category_id": 1, "keypoints": [x1, y1, s1, ...], "score", "bbox": [x, y, w, h]}``
with each keypoint's score in the third slot and the person's score the mean keypoint score.

Numbers are rounded as in :meth:`PoseResult.to_dict` (:func:`edgepose.runtime.result.json_number`).
numpy only; the runtime and the ``edgepose run`` command share it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from pathlib import Path
from typing import IO, Any

from edgepose.atomic import write_bytes_atomic
from edgepose.runtime.result import PoseResult, json_number

__all__ = ["PoseJsonWriter", "coco_image_id", "coco_results", "frame_record"]

logger = logging.getLogger(__name__)


#: the fields of :meth:`PoseResult.to_dict` a frame's record carries, in their order
_FRAME_FIELDS = ("keypoint_set", "track_ids", "boxes", "keypoints", "scores")


def frame_record(result: PoseResult, frame: int, time: float | None) -> dict[str, Any]:
    """The JSON object of one frame's poses (see the module docstring): ``frame``, ``time`` and
    ``keypoint_set``, ``track_ids``, ``boxes``, ``keypoints`` and ``scores`` of ``result.to_dict()``."""
    record = result.to_dict()
    return {"frame": int(frame), "time": None if time is None else json_number(time),
            **{key: record[key] for key in _FRAME_FIELDS}}


def coco_image_id(path: str | os.PathLike[str] | None) -> int:
    """COCO's image id for an image file: the number its name ends with (``000000000785.jpg`` -> 785), else 0."""
    match = re.search(r"(\d+)$", Path(path).stem) if path is not None else None
    return int(match.group(1)) if match else 0


def coco_results(result: PoseResult, image_id: int = 0, category_id: int = 1) -> list[dict[str, Any]]:
    """The COCO keypoint results of one image's poses (see the module docstring)."""
    out = []
    for person in range(len(result)):
        scores = [float(s) for s in result.scores[person]]
        keypoints: list[float | None] = []
        for (x, y), s in zip(result.keypoints[person], scores):
            keypoints += [json_number(x), json_number(y), json_number(s)]
        finite = [s for s in scores if math.isfinite(s)]
        out.append({
            "image_id": int(image_id), "category_id": int(category_id), "keypoints": keypoints,
            "score": json_number(sum(finite) / len(finite)) if finite else 0.0,
            "bbox": [json_number(v) for v in result.boxes[person]],
        })
    return out


class PoseJsonWriter:
    """Writes ``--save-json FILE``: a line per frame, or the COCO results of a single image.

    Args:
        path: the output file; its folder is created now and must be writable.
        single_image: write :func:`coco_results` of the one frame at :meth:`close` (atomically)
            instead of one :func:`frame_record` line per frame as frames arrive.
        image_id: the COCO image id of that image.
    """

    def __init__(self, path: str | os.PathLike[str], *, single_image: bool = False, image_id: int = 0) -> None:
        self.path = Path(path)
        self.single_image, self.image_id = single_image, image_id
        self.frames = 0
        self._image: list[dict[str, Any]] | None = None
        self._fh: IO[str] | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not single_image:
            self._fh = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, result: PoseResult, time: float | None = None) -> None:
        """Add one frame's poses."""
        if self.single_image:
            self._image = coco_results(result, self.image_id)
        elif self._fh is not None:
            self._fh.write(json.dumps(frame_record(result, self.frames, time), allow_nan=False) + "\n")
            self._fh.flush()
        self.frames += 1

    def close(self) -> None:
        """Finish the file (safe to call twice)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            logger.info("saved poses of %d frames to %s", self.frames, self.path)
        if self.single_image and self._image is not None:
            text = json.dumps(self._image, allow_nan=False) + "\n"
            write_bytes_atomic(self.path, text.encode("utf-8"), fsync=False)
            logger.info("saved %d poses (COCO results) to %s", len(self._image), self.path)
            self._image = None
