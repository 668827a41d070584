"""The bench's moving scene: 640x480 frames with one person that moves a few pixels per frame.

The person is a small picture pasted onto a fixed noise background: by default
``edgepose/samples/small_person.jpg`` (package data, so an installed wheel has it), else the
image the caller names (``--image``). :func:`bench_tracker` is the tracker every end-to-end
run of the bench uses.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edgepose.errors import InputError
from edgepose.runtime.track import PoseTracker

__all__ = ["DEFAULT_PATCH", "MovingScene", "bench_tracker", "read_patch"]

#: the picture pasted into the scene when none is given (128x128 px, one synthetic person)
DEFAULT_PATCH = Path(__file__).resolve().parents[1] / "samples" / "small_person.jpg"


def read_patch(image: str | Path | None, option: str = "--image") -> np.ndarray:
    """The BGR uint8 picture (H, W, 3) to paste into the scene: ``image``, or :data:`DEFAULT_PATCH`.

    Raises:
        InputError: ``image`` cannot be read as a picture (the message names ``option``).
    """
    path = Path(image).expanduser() if image else DEFAULT_PATCH
    patch = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if patch is None:
        raise InputError(f"{option} {path}: cannot be read as an image (the picture pasted into the bench's "
                         f"moving scene)")
    return patch


class MovingScene:
    """640x480 frames: a fixed noise background with ``patch`` pasted at a position that
    moves a few pixels per frame (a slow sway left-right and a bob up-down).

    Args:
        patch: BGR uint8 (h, w, 3) picture; scaled to 60 % of the frame height.
        size_hw: frame size (H, W) in px.
    """

    def __init__(self, patch: np.ndarray, size_hw: tuple[int, int] = (480, 640)) -> None:
        h, w = size_hw
        scale = 0.6 * h / patch.shape[0]
        self.patch = cv2.resize(patch, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)[:h, :w]
        self.background = np.random.default_rng(0).integers(40, 90, (h, w, 3), dtype=np.uint8)
        self.free = (w - self.patch.shape[1], h - self.patch.shape[0])

    def __call__(self, i: int) -> np.ndarray:
        """Frame ``i``: BGR uint8 (H, W, 3), a new array."""
        fx, fy = self.free
        x = int(fx / 2 * (1 + np.sin(i / 25.0)))
        y = int(fy / 2 * (1 + 0.3 * np.sin(i / 11.0)))
        frame = self.background.copy()
        frame[y:y + self.patch.shape[0], x:x + self.patch.shape[1]] = self.patch
        return frame


def bench_tracker() -> PoseTracker:
    """The bench's tracker: tracks are kept whatever the keypoint scores, so that a
    random-weight model exercises the whole track path too (box from the previous
    keypoints and per-track One Euro smoothing on every frame, re-detection every
    ``redetect_interval`` frames, new tracks and dropped ones)."""
    return PoseTracker(lost_score=0.0, keypoint_threshold=0.0)
