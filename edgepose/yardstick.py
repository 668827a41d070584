"""The yardstick: every accuracy metric of top-down poses predicted on ground-truth boxes.

For N people of a COCO-format val set, predictions made on their ground-truth boxes are
scored with (all fractions, all distances in units of the box side):

* ``ap_segm_area`` / ``ap50_segm_area`` / ``ap75_segm_area``: COCO OKS AP through pycocotools
  with the ``area`` field of the annotation file (COCO's segment area; the renders write their
  silhouette area there). This is what COCO reports. An annotation without ``area`` gets
  ``w * h`` (:func:`edgepose.evaluate.load_coco_gt`), where the two APs then agree.
* ``ap_box_area`` / ``ap50_box_area`` / ``ap75_box_area``: the same with every ``area``
  replaced by the box's ``w * h``. A box is larger than the silhouette, so OKS is more lenient.
* ``pck@0.05`` / ``pck@0.1`` / ``pck@0.2``: a keypoint is correct when
  ``||pred - gt|| <= alpha * s`` with the box side ``s = max(w, h)`` of the person's
  ground-truth box ``(x, y, w, h)`` (:func:`edgepose.evaluate.pck`, the normaliser of the
  training log's PCK).
* ``median_error``: median over counted keypoints of ``||pred - gt|| / s``.
* ``pck@0.1_per_keypoint``: PCK@0.1 of each keypoint name.
* ``offset_per_keypoint``: mean signed ``(pred - gt) / s`` per keypoint as ``[dx, dy]``
  (+x right, +y down in the image): a consistent sign is a bias (e.g. wrists placed high,
  or a different definition of the hips), noise averages out.
* ``swap_rate``: left/right swaps (:func:`swapped_pairs`), per pair in ``swap_rate_per_pair``.

Counted keypoints: ``visibility="labelled"`` counts every labelled keypoint (``v >= 1``,
COCO's OKS convention, the training log's PCK); ``"visible"`` counts only ``v == 2`` (not
occluded). AP always follows COCO (``v >= 1``), whatever the choice. The choice is written
into the result as ``keypoints_counted``.

Example::

    people = load_people("data/synth/val/annotations/person_keypoints.json")
    # predict keypoints (N, K, 2) image px and scores (N, K) on people.boxes, then
    report = yardstick(people, keypoints, scores, COCO17, input_hw=(128, 128))
    report["pck@0.1"], report["ap_box_area"], report["swap_rate"]
"""

from __future__ import annotations

import copy
import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgepose.data.topdown import AnnotationError, read_json
from edgepose.errors import InputError
from edgepose.evaluate import box_sides, check_pose_arrays, coco_keypoint_ap, coco_results, median_error, pck
from edgepose.geometry import DEFAULT_PADDING, box_to_center_scale
from edgepose.skeleton import KeypointSet

logger = logging.getLogger(__name__)

#: visibility choice -> smallest COCO ``v`` counted
VISIBILITY_MIN_V = {"labelled": 1, "visible": 2}
#: what each choice counts, as written into reports
VISIBILITY_TEXT = {"labelled": "labelled (v>=1)", "visible": "visible (v=2)"}
#: PCK thresholds of the report, fractions of the box side
PCK_ALPHAS = (0.05, 0.1, 0.2)
#: threshold of the per-keypoint PCK
PER_KEYPOINT_ALPHA = 0.1
#: swap margin, box sides: how much closer (summed over the pair) the mirrored ground truth must be
SWAP_MARGIN = 0.1


@dataclass(frozen=True)
class GroundTruthPeople:
    """The people of a COCO-format val set that carry a labelled keypoint and a box.

    Attributes:
        dataset: the annotation file's dict (``images``, ``annotations``, ``categories``).
        boxes: (N, 4) float64 ``(x, y, w, h)`` image px.
        keypoints: (N, K, 2) float64 ground truth image px.
        visibility: (N, K) int COCO ``v`` (0 unlabelled, 1 labelled occluded, 2 visible).
        image_ids: (N,) int64.
        file_names: (N,) the image file of each person (relative to the images folder).
    """

    dataset: dict[str, Any]
    boxes: np.ndarray
    keypoints: np.ndarray
    visibility: np.ndarray
    image_ids: np.ndarray
    file_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.boxes.shape[0])


def load_people(ann: str | os.PathLike[str] | dict[str, Any]) -> GroundTruthPeople:
    """Read the people of a COCO keypoint file, ordered by image id then annotation order.

    Crowd annotations, boxes without size and people with no labelled keypoint are left out
    (pycocotools ignores them for AP as well).

    Raises:
        DataFileNotFoundError / AnnotationError: missing or malformed file, or no person.
    """
    source = "<dict>" if isinstance(ann, dict) else str(ann)
    data = copy.deepcopy(ann) if isinstance(ann, dict) else read_json(ann, "ground-truth annotation")
    if not isinstance(data, dict) or not all(k in data for k in ("images", "annotations", "categories")):
        raise AnnotationError(f"{source}: a COCO file needs 'images', 'annotations' and 'categories'")
    names = {int(im["id"]): str(im["file_name"]) for im in data["images"]}
    people = []
    for i, a in enumerate(data["annotations"]):
        if not all(k in a for k in ("image_id", "keypoints", "bbox")):
            raise AnnotationError(f"{source}: annotations[{i}] needs image_id, keypoints and bbox")
        if int(a["image_id"]) not in names:
            raise AnnotationError(f"{source}: annotations[{i}] names image id {a['image_id']}, not in 'images'")
        kp = np.asarray(a["keypoints"], dtype=np.float64).reshape(-1, 3)
        if a.get("iscrowd", 0) or a["bbox"][2] <= 0 or a["bbox"][3] <= 0 or not (kp[:, 2] > 0).any():
            continue
        people.append((int(a["image_id"]), i, kp, a["bbox"]))
    if not people:
        raise AnnotationError(f"{source}: no person with a box and a labelled keypoint")
    people.sort(key=lambda p: (p[0], p[1]))
    if len({p[2].shape[0] for p in people}) != 1:
        raise AnnotationError(f"{source}: people have different keypoint counts")
    kp = np.stack([p[2] for p in people])
    return GroundTruthPeople(
        dataset=data, boxes=np.array([p[3] for p in people], dtype=np.float64), keypoints=kp[..., :2],
        visibility=kp[..., 2].astype(np.int64), image_ids=np.array([p[0] for p in people], dtype=np.int64),
        file_names=tuple(names[p[0]] for p in people),
    )


def counted_keypoints(visibility: np.ndarray, choice: str = "labelled") -> np.ndarray:
    """(N, K) bool: the keypoints a metric counts under ``choice`` ("labelled": v >= 1, "visible": v == 2)."""
    if choice not in VISIBILITY_MIN_V:
        raise InputError(f"visibility must be one of {sorted(VISIBILITY_MIN_V)}; got {choice!r}")
    return np.asarray(visibility) >= VISIBILITY_MIN_V[choice]


def _box_side(boxes: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """(N,) ``max(w, h)`` (1 for a person with nothing counted and no size); see :func:`box_sides`."""
    side = box_sides(boxes, counted)
    return np.where(side > 0, side, 1.0)


def mean_signed_offsets(pred: np.ndarray, gt: np.ndarray, counted: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Mean signed offset per keypoint, ``(pred - gt) / max(w, h)`` over counted keypoints.

    Args:
        pred, gt: (N, K, 2) image px; counted: (N, K) bool; boxes: (N, 4) ``(x, y, w, h)`` px.

    Returns:
        (K, 2) mean ``(dx, dy)`` in box sides, +x right, +y down (NaN for a keypoint never counted).
    """
    p, g, c = check_pose_arrays(pred, gt, counted)
    d = (p - g) / _box_side(boxes, c)[:, None, None]
    n = c.sum(axis=0)
    total = np.where(c[..., None], d, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n[:, None] > 0, total / n[:, None], np.nan)


def flip_pairs(keypoint_set: KeypointSet) -> list[tuple[int, int, str]]:
    """The set's left/right pairs as ``(left index, right index, name)``; the name drops "left_"."""
    pairs = []
    for j, m in enumerate(keypoint_set.flip_index().tolist()):
        if j < m:
            left, right = (m, j) if keypoint_set.names[m].startswith("left") else (j, m)
            name = keypoint_set.names[left]
            pairs.append((left, right, name.removeprefix("left_") if name.startswith("left_")
                          else f"{name}/{keypoint_set.names[right]}"))
    return pairs


def swapped_pairs(
    pred: np.ndarray, gt: np.ndarray, counted: np.ndarray, boxes: np.ndarray,
    pairs: list[tuple[int, int, str]], margin: float = SWAP_MARGIN,
) -> tuple[np.ndarray, np.ndarray]:
    """Which left/right pairs of which people were predicted swapped.

    For a person with box side ``s = max(w, h)`` and a pair ``(l, r)`` whose two keypoints
    are both counted::

        d_true   = ||p_l - g_l|| + ||p_r - g_r||     (prediction vs the true pair)
        d_mirror = ||p_l - g_r|| + ||p_r - g_l||     (prediction vs the mirrored pair)
        swapped  = d_true - d_mirror > margin * s

    By the triangle inequality ``d_true - d_mirror <= 2 ||g_l - g_r||``, so a pair whose
    ground-truth keypoints are at most ``margin / 2 * s`` apart (a profile view's shoulders)
    can never count as swapped; such pairs are not eligible and stay out of the rate.

    Args:
        pred, gt: (N, K, 2) image px; counted: (N, K) bool; boxes: (N, 4) ``(x, y, w, h)`` px;
        pairs: ``(left, right, name)`` (:func:`flip_pairs`); margin: in box sides.

    Returns:
        ``swapped (N, P)`` bool and ``eligible (N, P)`` bool (swapped implies eligible).
    """
    p, g, c = check_pose_arrays(pred, gt, counted)
    side = _box_side(boxes, c)[:, None]
    left = np.array([a for a, _, _ in pairs], dtype=np.int64)
    right = np.array([b for _, b, _ in pairs], dtype=np.int64)

    def dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.linalg.norm(a - b, axis=-1) / side

    separation = dist(g[:, left], g[:, right])
    eligible = c[:, left] & c[:, right] & (separation > margin / 2)
    d_true = dist(p[:, left], g[:, left]) + dist(p[:, right], g[:, right])
    d_mirror = dist(p[:, left], g[:, right]) + dist(p[:, right], g[:, left])
    return eligible & (d_true - d_mirror > margin), eligible


def swap_rate(
    pred: np.ndarray, gt: np.ndarray, counted: np.ndarray, boxes: np.ndarray,
    pairs: list[tuple[int, int, str]], margin: float = SWAP_MARGIN,
) -> dict[str, float]:
    """Swapped / eligible pairs (:func:`swapped_pairs`): ``{"all": rate, <pair name>: rate}`` (NaN: none eligible)."""
    return _swap_rates(*swapped_pairs(pred, gt, counted, boxes, pairs, margin), pairs)


def _swap_rates(swapped: np.ndarray, eligible: np.ndarray, pairs: list[tuple[int, int, str]]) -> dict[str, float]:
    def rate(s: np.ndarray, e: np.ndarray) -> float:
        return float(s.sum() / e.sum()) if e.sum() else float("nan")

    out = {"all": rate(swapped, eligible)}
    for i, (_, _, name) in enumerate(pairs):
        out[name] = rate(swapped[:, i], eligible[:, i])
    return out


def with_box_areas(dataset: dict[str, Any]) -> dict[str, Any]:
    """A copy of a COCO dataset dict whose every ``area`` is its ``bbox`` w*h."""
    out = copy.deepcopy(dataset)
    for a in out["annotations"]:
        a["area"] = float(a["bbox"][2]) * float(a["bbox"][3])
    return out


def yardstick(
    people: GroundTruthPeople,
    keypoints: np.ndarray,
    scores: np.ndarray,
    keypoint_set: KeypointSet,
    *,
    input_hw: tuple[int, int],
    visibility: str = "labelled",
    padding: float = DEFAULT_PADDING,
) -> dict[str, Any]:
    """Every metric of the module docstring for predictions on ``people``'s boxes.

    Args:
        people: the ground truth (:func:`load_people`).
        keypoints: (N, K, 2) predicted image px, in ``people``'s order; scores: (N, K).
        keypoint_set: the ground truth's set (names, flip pairs, OKS sigmas).
        input_hw: the model's input (height, width): OKS NMS uses the crops' areas (the
            box grown to this aspect ratio and padded, as the official code).
        visibility: "labelled" (v >= 1) or "visible" (v == 2) keypoints for PCK, median
            error, offsets and swaps.
        padding: the crop padding the predictions used.

    Returns:
        ``{"people", "images", "keypoints_counted", "counted", "ap_segm_area", "ap50_segm_area",
        "ap75_segm_area", "ap_box_area", "ap50_box_area", "ap75_box_area", "pck@0.05",
        "pck@0.1", "pck@0.2", "median_error", "swap_rate", "swap_eligible",
        "swap_rate_per_pair": {pair: rate}, "pck@0.1_per_keypoint": {name: rate},
        "offset_per_keypoint": {name: [dx, dy]}}``; fractions and box sides, NaN where
        nothing was counted.
    """
    n, k = len(people), keypoint_set.num_keypoints
    kp, ks = np.asarray(keypoints, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    if kp.shape != (n, k, 2) or ks.shape != (n, k) or people.keypoints.shape != (n, k, 2):
        raise InputError(f"{n} people with {people.keypoints.shape[1]} keypoints; keypoint set {keypoint_set.name!r} "
                         f"has {k}; got keypoints {kp.shape}, scores {ks.shape}")
    counted = counted_keypoints(people.visibility, visibility)
    sigmas = keypoint_set.sigma_array()
    areas = np.array([np.prod(box_to_center_scale(b, input_hw, padding)[1]) for b in people.boxes])
    results = coco_results(kp, ks, people.image_ids, np.ones(n), areas=areas, sigmas=sigmas)
    report: dict[str, Any] = {
        "people": n, "images": len(set(people.image_ids.tolist())),
        "keypoints_counted": VISIBILITY_TEXT[visibility], "counted": int(counted.sum()),
    }
    for label, gt in (("segm_area", people.dataset), ("box_area", with_box_areas(people.dataset))):
        stats = coco_keypoint_ap(gt, results, sigmas)
        report.update({f"ap_{label}": stats["AP"], f"ap50_{label}": stats["AP50"], f"ap75_{label}": stats["AP75"]})
    g, boxes = people.keypoints, people.boxes
    for alpha in PCK_ALPHAS:
        report[f"pck@{alpha:g}"] = pck(kp, g, counted, boxes, alpha)["mean"]
    report["median_error"] = median_error(kp, g, counted, boxes)
    pairs = flip_pairs(keypoint_set)
    swapped, eligible = swapped_pairs(kp, g, counted, boxes, pairs)
    swaps = _swap_rates(swapped, eligible, pairs)
    report["swap_rate"] = swaps.pop("all")
    report["swap_eligible"] = int(eligible.sum())
    report["swap_rate_per_pair"] = swaps
    per_kp = pck(kp, g, counted, boxes, PER_KEYPOINT_ALPHA, names=keypoint_set.names)
    report[f"pck@{PER_KEYPOINT_ALPHA:g}_per_keypoint"] = {name: per_kp[name] for name in keypoint_set.names}
    offsets = mean_signed_offsets(kp, g, counted, boxes)
    report["offset_per_keypoint"] = {name: [float(offsets[j, 0]), float(offsets[j, 1])]
                                     for j, name in enumerate(keypoint_set.names)}
    return report
