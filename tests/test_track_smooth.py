"""One Euro smoothing and keypoint-based tracking."""

from __future__ import annotations

import numpy as np
import pytest

from edgepose.errors import InputError
from edgepose.runtime.smooth import OneEuroFilter, OneEuroParams, PoseSmoother
from edgepose.runtime.track import PoseTracker, box_iou, clip_box, extend_box


# ---- One Euro --------------------------------------------------------------------------------------
def test_params_validated() -> None:
    OneEuroParams(min_cutoff=0.5, beta=0.0, d_cutoff=2.0)
    for bad in ({"min_cutoff": 0.0}, {"beta": -1.0}, {"d_cutoff": -2.0}):
        with pytest.raises(InputError, match="One Euro"):
            OneEuroParams(**bad)


def test_first_value_passes_and_constant_stays() -> None:
    f = OneEuroFilter()
    x = np.array([[10.0, 20.0], [30.0, 40.0]])
    assert np.array_equal(f(x, 0.0), x)
    for i in range(1, 10):
        assert np.allclose(f(x, i / 30), x)


def test_reduces_jitter_at_rest() -> None:
    rng = np.random.default_rng(0)
    f = OneEuroFilter(OneEuroParams(min_cutoff=1.0, beta=0.0))
    raw = 100 + rng.normal(0, 2.0, (300, 17, 2))
    out = np.array([f(r, i / 30) for i, r in enumerate(raw)])
    assert out[50:].std() < 0.4 * raw[50:].std()
    assert abs(out[50:].mean() - 100) < 0.5


def test_beta_cuts_lag_on_fast_motion() -> None:
    t = np.arange(60) / 30
    x = 600.0 * t  # 600 px/s
    lags = []
    for beta in (0.0, 0.05):
        f = OneEuroFilter(OneEuroParams(min_cutoff=1.0, beta=beta))
        out = np.array([f(np.array([v]), ti)[0] for v, ti in zip(x, t, strict=True)])
        lags.append(x[-1] - out[-1])
    assert lags[1] < 0.3 * lags[0]


def test_time_handling() -> None:
    f = OneEuroFilter(OneEuroParams(min_cutoff=0.1))
    f(np.array([0.0]), 1.0)
    a = f(np.array([10.0]), 1.1)
    assert 0 < a[0] < 10
    # an equal timestamp used to return the previous output for ever (a frozen pose); now it is refused,
    # as is time going back, and the filter keeps following afterwards
    with pytest.raises(InputError, match="strictly increase"):
        f(np.array([50.0]), 1.1)
    with pytest.raises(InputError, match="reset"):
        f(np.array([7.0]), 0.5)
    b = f(np.array([50.0]), 1.2)
    assert a[0] < b[0] < 50
    f.reset()
    assert np.array_equal(f(np.array([7.0]), 0.5), [7.0])  # after reset() earlier times are fine
    with pytest.raises(InputError, match="timestamp"):
        f(np.array([1.0]), float("nan"))


def test_nan_passes_through() -> None:
    f = OneEuroFilter()
    f(np.array([1.0, 2.0]), 0.0)
    out = f(np.array([np.nan, 3.0]), 0.1)
    assert np.isnan(out[0]) and 2.0 < out[1] < 3.0


def test_pose_smoother_per_track() -> None:
    s = PoseSmoother(OneEuroParams(min_cutoff=0.1), max_gap_s=0.5)
    a = np.zeros((1, 17, 2))
    b = np.full((1, 17, 2), 100.0)
    s(np.array([1, 2]), np.concatenate([a, b]), 0.0)
    out = s(np.array([2, 1]), np.concatenate([b + 10, a + 10]), 0.1)
    assert out.dtype == np.float32 and out.shape == (2, 17, 2)
    assert np.all((out[0] > 100) & (out[0] < 110)) and np.all((out[1] > 0) & (out[1] < 10))
    assert len(s) == 2
    s(np.array([1]), a, 1.0)  # track 2 unseen for 0.9 s > max_gap: dropped
    assert len(s) == 1
    # a track coming back after a gap starts afresh (no smoothing toward its old position)
    assert np.array_equal(s(np.array([1]), b, 2.0), b.astype(np.float32))
    with pytest.raises(InputError, match="N = len"):
        s(np.array([1, 2]), a, 3.0)


# ---- boxes --------------------------------------------------------------------------------------------
def test_box_helpers() -> None:
    iou = box_iou(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]]))
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.0]])
    assert box_iou(np.zeros((0, 4)), np.zeros((2, 4))).shape == (0, 2)
    np.testing.assert_allclose(extend_box(np.array([10, 10, 20, 40]), 1.5), [5, 0, 30, 60])
    np.testing.assert_allclose(clip_box(np.array([-10, -10, 50, 50]), (30, 20)), [0, 0, 20, 30])
    assert clip_box(np.array([100, 100, 5, 5]), (30, 20)) is None


# ---- tracker ---------------------------------------------------------------------------------------------
def _pose_in(box: list[float], score: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    x, y, w, h = box
    rng = np.random.default_rng(1)
    kp = np.stack([x + rng.uniform(0.1, 0.9, 17) * w, y + rng.uniform(0.1, 0.9, 17) * h], axis=1)
    kp[0], kp[1] = (x + 0.1 * w, y + 0.1 * h), (x + 0.9 * w, y + 0.9 * h)
    return kp, np.full(17, score)


def test_match_keeps_ids_and_starts_new_ones() -> None:
    t = PoseTracker(iou_threshold=0.3)
    assert t.needs_detection()
    ids = t.match(np.array([[0, 0, 50, 100], [200, 0, 50, 100]]))
    assert ids.tolist() == [0, 1] and not t.needs_detection()
    ids = t.match(np.array([[205, 2, 50, 100], [400, 0, 50, 100], [3, 1, 50, 100]]))
    assert ids.tolist() == [1, 2, 0]
    ids = t.match(np.array([[400, 0, 50, 100]]))  # 0 and 1 unmatched: dropped (max_misses=0)
    assert ids.tolist() == [2] and sorted(t.tracks) == [2]


def test_max_misses_keeps_unmatched_tracks_a_while() -> None:
    t = PoseTracker(max_misses=1)
    t.match(np.array([[0, 0, 50, 100]]))
    t.match(np.zeros((0, 4)))
    assert 0 in t.tracks
    t.match(np.zeros((0, 4)))
    assert 0 not in t.tracks


def test_update_moves_box_to_keypoints_and_detects_loss() -> None:
    t = PoseTracker(box_extension=1.0, redetect_interval=3)
    ids = t.match(np.array([[0, 0, 100, 200], [300, 0, 100, 200]]))
    kp0, sc0 = _pose_in([20, 30, 40, 80])
    kp1, sc1 = _pose_in([300, 0, 100, 200], score=0.1)  # low confidence: lost
    kept = t.update(ids, np.stack([kp0, kp1]), np.stack([sc0, sc1]), (480, 640))
    assert kept.tolist() == [True, False]
    boxes, pids = t.predicted()
    assert pids.tolist() == [0]
    np.testing.assert_allclose(boxes[0], [24, 38, 32, 64], atol=1e-6)  # tight box around kp0
    assert t.needs_detection()  # a track was lost


def test_redetect_interval() -> None:
    t = PoseTracker(redetect_interval=3)
    ids = t.match(np.array([[0, 0, 100, 200]]))
    kp, sc = _pose_in([10, 10, 80, 180])
    flags = []
    for _ in range(4):
        t.update(ids, kp[None], sc[None], (480, 640))
        flags.append(t.needs_detection())
    assert flags == [False, False, True, True]
    with pytest.raises(InputError, match="redetect_interval"):
        PoseTracker(redetect_interval=0)


def test_box_leaving_the_frame_is_lost() -> None:
    t = PoseTracker()
    ids = t.match(np.array([[0, 0, 100, 200]]))
    kp, sc = _pose_in([700, 10, 80, 180])  # keypoints all right of a 640 px frame
    assert t.update(ids, kp[None], sc[None], (480, 640)).tolist() == [False]
    assert t.tracks == {}
