"""Skeleton drawing."""

from __future__ import annotations

import numpy as np
import pytest

from edgepose.runtime.draw import draw_box, draw_pose, draw_result, draw_text, track_color
from edgepose.errors import InputError
from edgepose.runtime.estimator import PoseResult
from edgepose.skeleton import get_keypoint_set


def _pose(k: int = 17) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.uniform(20, 180, (k, 2)), np.full(k, 0.9)


def test_draw_pose_marks_keypoints_and_limbs() -> None:
    img = np.zeros((200, 200, 3), np.uint8)
    kp, sc = _pose()
    out = draw_pose(img, kp, sc, "coco17", color=(0, 255, 0))
    assert out is img
    for x, y in kp:
        assert img[int(round(y)), int(round(x))].any()
    # the middle of a limb is drawn in the limb colour
    i, j = get_keypoint_set("coco17").limbs[0]
    mx, my = np.round((kp[i] + kp[j]) / 2).astype(int)
    assert img[my - 1:my + 2, mx - 1:mx + 2, 1].max() > 100


def test_threshold_hides_low_scores() -> None:
    img = np.zeros((200, 200, 3), np.uint8)
    kp, sc = _pose()
    draw_pose(img, kp, sc * 0.1, threshold=0.3)
    assert not img.any()
    sc2 = sc.copy()
    sc2[1:] = 0.0  # one visible keypoint: a dot, no limbs
    draw_pose(img, kp, sc2, threshold=0.3)
    ys, xs = np.nonzero(img.any(axis=2))
    assert np.hypot(xs - kp[0, 0], ys - kp[0, 1]).max() < 5


def test_other_keypoint_sets_and_nan() -> None:
    img = np.zeros((200, 200, 3), np.uint8)
    kp, sc = _pose(16)
    kp[3] = np.nan
    draw_pose(img, kp, sc, get_keypoint_set("mpii16"))
    assert img.any()
    with pytest.raises(InputError, match="17 keypoints"):
        draw_pose(img, kp, sc, "coco17")


def test_bad_image() -> None:
    kp, sc = _pose()
    for bad in (np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), None):
        with pytest.raises(InputError, match="uint8"):
            draw_pose(bad, kp, sc)  # type: ignore[arg-type]


def test_track_colours_distinct() -> None:
    colours = {track_color(i) for i in range(12)}
    assert len(colours) == 12
    assert all(max(c) >= 200 for c in colours)  # bright enough on dark video
    assert track_color(3) == track_color(3)


def test_draw_result_uses_track_colours() -> None:
    kp, sc = _pose()
    result = PoseResult(np.stack([kp, kp + 5]).astype(np.float32), np.stack([sc, sc]).astype(np.float32),
                        np.array([[10, 10, 100, 100], [15, 15, 100, 100]], np.float32), np.array([4, 9]))
    img = np.zeros((200, 200, 3), np.uint8)
    draw_result(img, result)
    colours = {tuple(int(v) for v in c) for c in img.reshape(-1, 3)}
    assert track_color(4) in colours and track_color(9) in colours


def test_box_and_text() -> None:
    img = np.zeros((100, 100, 3), np.uint8)
    draw_box(img, np.array([10, 10, 50, 50]), (0, 0, 255), "#1")
    assert img[10, 30, 2] > 0
    draw_text(img, "12.3 FPS")
    assert img[:30, :80].any()
