"""The yardstick (edgepose.yardstick): each metric on a hand-made case with a known answer, and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgepose.errors import InputError
from edgepose.skeleton import COCO17, MPII16
from edgepose.yardstick import (
    PCK_ALPHAS,
    counted_keypoints,
    flip_pairs,
    load_people,
    mean_signed_offsets,
    swap_rate,
    swapped_pairs,
    with_box_areas,
    yardstick,
)

K = 17
PAIRS = flip_pairs(COCO17)
THRESHOLDS = np.linspace(0.5, 0.95, 10)


def _dataset(boxes: list[tuple[float, float, float, float]], keypoints: np.ndarray, visibility: np.ndarray,
             areas: list[float], image_ids: list[int]) -> dict:
    """A COCO keypoint dataset of people (one annotation per box)."""
    images = [{"id": i, "file_name": f"{i:07d}.jpg", "width": 400, "height": 400} for i in sorted(set(image_ids))]
    anns = []
    for n, (box, area, image_id) in enumerate(zip(boxes, areas, image_ids, strict=True)):
        kp = np.column_stack([keypoints[n], visibility[n]]).reshape(-1)
        anns.append({"id": n + 1, "image_id": image_id, "category_id": 1, "iscrowd": 0, "bbox": list(box),
                     "area": area, "keypoints": kp.tolist(), "num_keypoints": int((visibility[n] > 0).sum())})
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}


def _symmetric_person(box: tuple[float, float, float, float], half_width: float = 10.0) -> np.ndarray:
    """(K, 2) keypoints in ``box``: the nose on the centre line, every left keypoint at
    ``centre - half_width`` (the person faces the camera: their left is on the image's right, so
    ``+half_width``), every right one mirrored; rows spaced down the box."""
    x, y, w, h = box
    cx = x + w / 2
    kp = np.zeros((K, 2))
    kp[0] = (cx, y + 0.05 * h)
    for row, (left, right, _) in enumerate(PAIRS):
        ky = y + (0.1 + 0.11 * row) * h
        kp[left] = (cx + half_width, ky)
        kp[right] = (cx - half_width, ky)
    return kp


# ---- AP: segment area vs box area ------------------------------------------------------------------
def test_ap_uses_the_segment_area_and_the_box_area_as_named() -> None:
    box = (100.0, 50.0, 50.0, 100.0)  # box area 5000
    gt = _symmetric_person(box)[None]
    vis = np.full((1, K), 2)
    people = load_people(_dataset([box], gt, vis, [1000.0], [1]))
    shift = 3.0  # px, every keypoint to the right
    report = yardstick(people, gt + [shift, 0.0], np.ones((1, K)), COCO17, input_hw=(64, 64))
    k2 = (2 * COCO17.sigma_array()) ** 2
    for label, area in (("segm_area", 1000.0), ("box_area", 5000.0)):
        oks = float(np.mean(np.exp(-shift**2 / (2 * area * k2))))
        # one person, one prediction: AP at an OKS threshold is 1 when matched, else 0
        assert report[f"ap_{label}"] == pytest.approx(np.mean(THRESHOLDS <= oks)), label
        assert report[f"ap50_{label}"] == pytest.approx(1.0 if oks >= 0.5 else 0.0)
        assert report[f"ap75_{label}"] == pytest.approx(1.0 if oks >= 0.75 else 0.0)
    # OKS 0.668 with area 1000 (4 of the 10 thresholds), 0.903 with 5000 (9 of 10)
    assert report["ap_segm_area"] == pytest.approx(0.4) and report["ap_box_area"] == pytest.approx(0.9)


def test_perfect_predictions_score_one_everywhere() -> None:
    boxes = [(10.0, 10.0, 80.0, 160.0), (200.0, 20.0, 60.0, 120.0)]
    gt = np.stack([_symmetric_person(b) for b in boxes])
    people = load_people(_dataset(boxes, gt, np.full((2, K), 2), [3000.0, 2000.0], [1, 1]))
    report = yardstick(people, gt, np.ones((2, K)), COCO17, input_hw=(128, 128))
    for key in ("ap_segm_area", "ap_box_area", "ap50_box_area", *(f"pck@{a:g}" for a in PCK_ALPHAS)):
        assert report[key] == pytest.approx(1.0), key
    assert report["median_error"] == 0.0 and report["swap_rate"] == 0.0
    assert report["swap_eligible"] == 2 * len(PAIRS)
    assert all(v == [0.0, 0.0] for v in report["offset_per_keypoint"].values())


def test_with_box_areas_copies() -> None:
    data = _dataset([(0.0, 0.0, 10.0, 20.0)], np.zeros((1, K, 2)), np.full((1, K), 2), [5.0], [1])
    assert with_box_areas(data)["annotations"][0]["area"] == 200.0
    assert data["annotations"][0]["area"] == 5.0


# ---- PCK, median error, per-keypoint PCK, visibility ----------------------------------------------
# errors in box sides, per person and keypoint; none on a threshold, so the answers are exact
ERRORS = np.array([
    [0.00, 0.03, 0.03, 0.07, 0.07, 0.15, 0.15, 0.30, 0.30, 0.03, 0.03, 0.07, 0.07, 0.03, 0.15, 0.30, 0.00],
    [0.30, 0.03, 0.07, 0.15, 0.00, 0.03, 0.07, 0.15, 0.30, 0.00, 0.03, 0.07, 0.15, 0.30, 0.00, 0.03, 0.07],
])
VIS = np.full((2, K), 2)
VIS[0, 7:9] = 1  # two occluded keypoints with the largest errors
VIS[1, 16] = 0  # one unlabelled keypoint


def _error_case() -> tuple:
    boxes = [(0.0, 0.0, 50.0, 100.0), (200.0, 100.0, 40.0, 20.0)]  # box sides 100 and 40
    gt = np.stack([_symmetric_person(b, half_width=5.0) for b in boxes])
    sides = np.array([100.0, 40.0])
    # each error along a different direction: the distance is what counts
    angle = np.linspace(0, 2 * np.pi, K, endpoint=False)
    direction = np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    pred = gt + ERRORS[..., None] * sides[:, None, None] * direction
    people = load_people(_dataset(boxes, gt, VIS, [1000.0, 300.0], [1, 2]))
    return people, pred


@pytest.mark.parametrize("visibility, min_v", [("labelled", 1), ("visible", 2)])
def test_pck_median_and_per_keypoint_pck_on_known_errors(visibility: str, min_v: int) -> None:
    people, pred = _error_case()
    report = yardstick(people, pred, np.ones((2, K)), COCO17, input_hw=(64, 64), visibility=visibility)
    counted = VIS >= min_v
    errors = ERRORS[counted]
    assert report["counted"] == counted.sum() == (33 if min_v == 1 else 31)
    assert report["keypoints_counted"] == ("labelled (v>=1)" if min_v == 1 else "visible (v=2)")
    # labelled: 33 errors, 14 of them <= 0.05 (0.00, 0.03), 21 <= 0.1, 27 <= 0.2; visible: the two
    # occluded 0.30 errors leave (31 errors), the counts below 0.2 stay
    n = 33 if min_v == 1 else 31
    for alpha, hits in zip(PCK_ALPHAS, (14, 21, 27), strict=True):
        assert report[f"pck@{alpha:g}"] == pytest.approx(hits / n)
        assert report[f"pck@{alpha:g}"] == pytest.approx(np.mean(errors <= alpha))
    assert report["median_error"] == pytest.approx(0.07)
    per_kp = report["pck@0.1_per_keypoint"]
    assert per_kp["nose"] == 0.5  # errors 0.00 and 0.30
    assert per_kp["left_ear"] == 0.5  # 0.07 and 0.15
    assert per_kp["right_ear"] == 1.0  # 0.07 and 0.00
    assert per_kp["right_ankle"] == 1.0  # 0.00; the second person's is unlabelled
    # right_elbow: 0.30 (v=1) and 0.30; left_elbow: 0.30 (v=1) and 0.15
    assert per_kp["right_elbow"] == 0.0 and per_kp["left_elbow"] == 0.0


def test_visible_only_drops_occluded_keypoints_from_the_per_keypoint_pck() -> None:
    people, pred = _error_case()
    pred[0, COCO17.names.index("left_elbow")] = people.keypoints[0, COCO17.names.index("left_elbow")]
    scores = np.ones((2, K))
    labelled = yardstick(people, pred, scores, COCO17, input_hw=(64, 64), visibility="labelled")
    visible = yardstick(people, pred, scores, COCO17, input_hw=(64, 64), visibility="visible")
    # left_elbow: person 0 now exact but occluded (v=1), person 1 error 0.15
    assert labelled["pck@0.1_per_keypoint"]["left_elbow"] == 0.5
    assert visible["pck@0.1_per_keypoint"]["left_elbow"] == 0.0
    assert labelled["ap_segm_area"] == visible["ap_segm_area"]  # AP follows COCO (v >= 1) either way


# ---- mean signed offsets ----------------------------------------------------------------------------
def test_mean_signed_offsets_in_box_sides() -> None:
    gt = np.zeros((2, 3, 2))
    boxes = np.array([[0, 0, 50, 100], [0, 0, 40, 20]], dtype=float)  # sides 100, 40
    pred = gt.copy()
    pred[0, 0] = (0.0, -10.0)  # -0.10 box side (too high)
    pred[1, 0] = (0.0, -8.0)  # -0.20
    pred[0, 1] = (5.0, 0.0)  # +0.05, the other person's is not counted
    pred[1, 1] = (400.0, 400.0)
    counted = np.array([[True, True, False], [True, False, False]])
    offsets = mean_signed_offsets(pred, gt, counted, boxes)
    np.testing.assert_allclose(offsets[0], [0.0, -0.15])
    np.testing.assert_allclose(offsets[1], [0.05, 0.0])
    assert np.isnan(offsets[2]).all()


def test_offsets_in_the_report() -> None:
    box = (0.0, 0.0, 100.0, 200.0)  # side 200
    gt = _symmetric_person(box)[None]
    pred = gt.copy()
    pred[0, COCO17.names.index("left_wrist")] += (0.0, -24.0)
    people = load_people(_dataset([box], gt, np.full((1, K), 2), [5000.0], [1]))
    report = yardstick(people, pred, np.ones((1, K)), COCO17, input_hw=(64, 64))
    assert report["offset_per_keypoint"]["left_wrist"] == pytest.approx([0.0, -0.12])
    assert report["offset_per_keypoint"]["right_wrist"] == [0.0, 0.0]


# ---- swap rate ------------------------------------------------------------------------------------
def _mirrored(pred: np.ndarray, keypoint_set=COCO17) -> np.ndarray:
    """Predictions with every left/right pair exchanged."""
    return pred[:, keypoint_set.flip_index()]


def test_swap_rate_on_known_people() -> None:
    boxes = np.array([[0, 0, 50, 100], [100, 0, 50, 100], [200, 0, 50, 100]], dtype=float)  # sides 100
    gt = np.stack([_symmetric_person(tuple(b), half_width=10.0) for b in boxes])  # pairs 0.2 apart
    gt[2] = _symmetric_person(tuple(boxes[2]), half_width=2.0)  # profile: pairs 0.04 apart, not eligible
    pred = gt.copy()
    pred[0] = _mirrored(gt)[0]  # person 0 predicted mirrored: all 8 pairs swapped
    pred[2] = _mirrored(gt)[2]  # mirrored too, but indistinguishable
    wrist_l, wrist_r = COCO17.names.index("left_wrist"), COCO17.names.index("right_wrist")
    pred[1, wrist_l] = gt[1, wrist_r]  # both wrists on the right one: as far from either pairing
    counted = np.ones((3, K), dtype=bool)
    swapped, eligible = swapped_pairs(pred, gt, counted, boxes, PAIRS)
    assert eligible.sum() == 16 and not eligible[2].any()
    assert swapped[0].all() and not swapped[1:].any()
    rates = swap_rate(pred, gt, counted, boxes, PAIRS)
    assert rates["all"] == 0.5 and rates["wrist"] == 0.5 and rates["eye"] == 0.5
    counted[0, wrist_l] = False  # a pair counts only when both keypoints do
    assert swap_rate(pred, gt, counted, boxes, PAIRS)["wrist"] == 0.0


def test_swap_needs_the_margin() -> None:
    box = np.array([[0, 0, 50, 100]], dtype=float)
    gt = _symmetric_person((0, 0, 50, 100), half_width=10.0)[None]  # every pair 20 px = 0.2 apart
    pairs = [(COCO17.names.index("left_wrist"), COCO17.names.index("right_wrist"), "wrist")]
    counted = np.ones((1, K), dtype=bool)
    pred = gt.copy()
    # left wrist moved 14 px towards the right one: d_true = 0.14, d_mirror = 0.06 + 0.2 -> not swapped
    pred[0, pairs[0][0], 0] -= 14
    assert not swapped_pairs(pred, gt, counted, box, pairs)[0].any()
    # both moved 16 px towards each other: d_true = 0.32, d_mirror = 0.08, difference 0.24 > 0.1 -> swapped
    pred = gt.copy()
    pred[0, pairs[0][0], 0] -= 16
    pred[0, pairs[0][1], 0] += 16
    assert swapped_pairs(pred, gt, counted, box, pairs)[0].all()
    # 13 px each: d_true 0.26, d_mirror 0.14, difference 0.12 > 0.1 -> swapped; 12 px: 0.08 -> not
    for step, expected in ((13, True), (12, False)):
        pred = gt.copy()
        pred[0, pairs[0][0], 0] -= step
        pred[0, pairs[0][1], 0] += step
        assert swapped_pairs(pred, gt, counted, box, pairs)[0].all() == expected, step


def test_flip_pairs_name_the_left_keypoint() -> None:
    assert [name for _, _, name in PAIRS] == ["eye", "ear", "shoulder", "elbow", "wrist", "hip", "knee", "ankle"]
    assert all(COCO17.names[left].startswith("left_") for left, _, _ in PAIRS)
    assert all(MPII16.names[left].startswith("left_") for left, _, _ in flip_pairs(MPII16))


# ---- properties ----------------------------------------------------------------------------------------
people_strategy = st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.just(n), st.integers(0, 2**31 - 1), st.permutations(list(range(n)))))


def _random_case(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    boxes = np.column_stack([rng.uniform(0, 200, (n, 2)), rng.uniform(10, 150, (n, 2))])
    gt = boxes[:, None, :2] + rng.uniform(0, 1, (n, K, 2)) * boxes[:, None, 2:]
    pred = gt + rng.normal(0, 0.1, (n, K, 2)) * boxes[:, None, 2:].max(axis=-1, keepdims=True)
    mirror = rng.random(n) < 0.4  # some people predicted mirrored
    pred[mirror] = _mirrored(pred)[mirror]
    counted = rng.random((n, K)) < 0.8
    return pred, gt, counted, boxes


@settings(max_examples=40, deadline=None)
@given(people_strategy)
def test_swap_rate_does_not_depend_on_person_order(case: tuple[int, int, list[int]]) -> None:
    n, seed, order = case
    pred, gt, counted, boxes = _random_case(n, seed)
    a = swap_rate(pred, gt, counted, boxes, PAIRS)
    b = swap_rate(pred[order], gt[order], counted[order], boxes[order], PAIRS)
    assert a == pytest.approx(b, nan_ok=True)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_mirrored_ground_truth_swaps_every_eligible_pair(n: int, seed: int) -> None:
    _, gt, counted, boxes = _random_case(n, seed)
    swapped, eligible = swapped_pairs(_mirrored(gt), gt, counted, boxes, PAIRS)
    np.testing.assert_array_equal(swapped, eligible)
    assert not swapped_pairs(gt, gt, counted, boxes, PAIRS)[0].any()


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**31 - 1),
       st.lists(st.floats(0.0, 1.0), min_size=2, max_size=6, unique=True))
def test_pck_is_monotone_in_the_threshold(n: int, seed: int, alphas: list[float]) -> None:
    from edgepose.evaluate import pck

    pred, gt, counted, boxes = _random_case(n, seed)
    if not counted.any():
        return
    rates = [pck(pred, gt, counted, boxes, a)["mean"] for a in sorted(alphas)]
    assert all(a <= b for a, b in zip(rates, rates[1:]))


# ---- input checks ----------------------------------------------------------------------------------
def test_bad_inputs_are_refused(tmp_path) -> None:
    with pytest.raises(InputError, match="visibility must be one of"):
        counted_keypoints(np.ones((1, K)), "occluded")
    box = (0.0, 0.0, 50.0, 100.0)
    people = load_people(_dataset([box], _symmetric_person(box)[None], np.full((1, K), 2), [1.0], [1]))
    with pytest.raises(InputError, match="keypoint set 'mpii16' has 16"):
        yardstick(people, np.zeros((1, 16, 2)), np.ones((1, 16)), MPII16, input_hw=(64, 64))
    empty = _dataset([box], np.zeros((1, K, 2)), np.zeros((1, K)), [1.0], [1])
    with pytest.raises(InputError, match="no person with a box and a labelled keypoint"):
        load_people(empty)
