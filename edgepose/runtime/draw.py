"""Skeleton overlays with OpenCV: limbs from the keypoint set, one colour per track.

All functions draw in place on a BGR ``uint8 (H, W, 3)`` image and return it. Keypoints
scoring below ``threshold`` are not drawn, nor are limbs touching them.
"""

from __future__ import annotations

import colorsys
from typing import Any

import cv2
import numpy as np

from edgepose.errors import InputError
from edgepose.skeleton import KeypointSet, get_keypoint_set

_GOLDEN = 0.618033988749895


def track_color(track_id: int) -> tuple[int, int, int]:
    """A distinct, saturated BGR colour for ``track_id`` (golden-ratio hue steps)."""
    hue = (0.1 + int(track_id) * _GOLDEN) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise InputError(f"draw on a uint8 (H, W, 3) image; got {got}")
    if not image.flags.writeable:
        raise InputError("draw writes into the image, and this one is read-only (e.g. a frame shared with the "
                         "camera or a decoded buffer): draw on a copy, image = image.copy()")
    if not image.flags.c_contiguous:
        raise InputError("draw needs a contiguous image, and this one is a view with gaps (e.g. frame[:, ::2] or "
                         "frame[..., ::-1]): draw on np.ascontiguousarray(image)")


def draw_pose(
    image: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    keypoint_set: KeypointSet | str = "coco17",
    *,
    threshold: float = 0.3,
    color: tuple[int, int, int] = (0, 255, 0),
    thickness: int | None = None,
    radius: int | None = None,
) -> np.ndarray:
    """Draw one person: ``keypoints (K, 2)`` px, ``scores (K,)``.

    Line thickness and point radius default to a size relative to the image (about 1/300
    of its longer side, at least 1 and 2 px).
    """
    _check_image(image)
    kps = keypoint_set if isinstance(keypoint_set, KeypointSet) else get_keypoint_set(keypoint_set)
    kp = np.asarray(keypoints, dtype=np.float64)
    sc = np.asarray(scores, dtype=np.float64)
    if kp.shape != (kps.num_keypoints, 2) or sc.shape != (kps.num_keypoints,):
        raise InputError(
            f"{kps.name} has {kps.num_keypoints} keypoints; got keypoints {kp.shape} and scores {sc.shape}"
        )
    size = max(image.shape[:2])
    thickness = thickness or max(1, size // 300)
    radius = radius or max(2, size // 200)
    visible = (sc >= threshold) & np.all(np.isfinite(kp), axis=1)
    pts = np.zeros(kp.shape, dtype=np.int64)
    pts[visible] = np.round(kp[visible]).astype(np.int64)
    for i, j in kps.limbs:
        if visible[i] and visible[j]:
            cv2.line(image, tuple(int(v) for v in pts[i]), tuple(int(v) for v in pts[j]), color, thickness,
                     cv2.LINE_AA)
    for i in np.nonzero(visible)[0]:
        cv2.circle(image, tuple(int(v) for v in pts[i]), radius, color, -1, cv2.LINE_AA)
        cv2.circle(image, tuple(int(v) for v in pts[i]), radius, (255, 255, 255), 1, cv2.LINE_AA)
    return image


def draw_box(image: np.ndarray, box: np.ndarray, color: tuple[int, int, int], label: str | None = None) -> np.ndarray:
    """Draw an ``(x, y, w, h)`` box with an optional label above it."""
    _check_image(image)
    x, y, w, h = (int(round(v)) for v in np.asarray(box, dtype=np.float64))
    cv2.rectangle(image, (x, y), (x + w, y + h), color, 1, cv2.LINE_AA)
    if label:
        cv2.putText(image, label, (x + 2, max(y - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA)
    return image


def draw_people(
    image: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    boxes: np.ndarray,
    track_ids: np.ndarray,
    keypoint_set: KeypointSet | str = "coco17",
    *,
    threshold: float = 0.3,
    show_boxes: bool = True,
    ids: bool = True,
) -> np.ndarray:
    """Draw N people, coloured by track id: ``keypoints (N, K, 2)`` px, ``scores (N, K)``,
    ``boxes (N, 4)`` xywh px, ``track_ids (N,)``; ``show_boxes=False`` leaves the boxes out."""
    _check_image(image)
    for i in range(len(keypoints)):
        tid = int(track_ids[i])
        color = track_color(tid)
        if show_boxes:
            draw_box(image, boxes[i], color, f"#{tid}" if ids else None)
        draw_pose(image, keypoints[i], scores[i], keypoint_set, threshold=threshold, color=color)
    return image


def draw_result(image: np.ndarray, result: Any, *, threshold: float | None = None, boxes: bool = True,
                ids: bool = True) -> np.ndarray:
    """Draw every person of a result (anything with ``keypoints``, ``scores``, ``boxes``,
    ``track_ids``, ``keypoint_set`` and ``score_threshold`` arrays/fields, e.g. a
    :class:`~edgepose.runtime.result.PoseResult`); ``threshold`` defaults to its ``score_threshold``."""
    if threshold is None:
        threshold = float(result.score_threshold)
    return draw_people(image, result.keypoints, result.scores, result.boxes, result.track_ids, result.keypoint_set,
                       threshold=threshold, show_boxes=boxes, ids=ids)


def draw_text(image: np.ndarray, text: str, origin: tuple[int, int] = (8, 22),
              color: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Draw ``text`` with a dark outline (readable on any background), e.g. an FPS counter."""
    _check_image(image)
    for c, t in (((0, 0, 0), 3), (color, 1)):
        cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.6, c, t, cv2.LINE_AA)
    return image
