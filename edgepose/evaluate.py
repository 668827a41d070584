"""Pose evaluation: COCO OKS AP/AR (pycocotools), MPII PCKh, PCK, results files, flip test.

numpy + pycocotools only; torch tensors are accepted where a model is involved
(:func:`predict_with_flip`) without importing torch. All metrics are fractions in [0, 1]
(multiply by 100 for the papers' tables).

Validation pipeline (top-down)::

    kp_crop, kp_scores = predict_with_flip(model_fn, images, codec, flip_index)  # crop px
    kp_img = crops_to_frame(kp_crop, meta["matrix"])                            # image px (edgepose.preprocess)
    results = coco_results(kp_img, kp_scores, meta["image_id"], meta["score"],
                           areas=meta["scale"].prod(-1), sigmas=kset.sigmas)   # rescore + OKS NMS
    stats = coco_keypoint_ap(ann_file, results, kset.sigmas)                   # {"AP": ..., ...}

Every metric of one val set on ground-truth boxes at once (AP with segment and box areas, PCK,
median error, per-keypoint PCK and offsets, left/right swaps): :mod:`edgepose.yardstick`.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from edgepose.codecs import Codec
from edgepose.data.topdown import AnnotationError, read_json
from edgepose.errors import InputError
from edgepose.geometry import get_affine_matrix
from edgepose.preprocess import crops_to_frame
from edgepose.skeleton import MPII16

logger = logging.getLogger(__name__)

#: Names of ``COCOeval.stats`` for ``iouType="keypoints"``, in order.
COCO_KEYPOINT_STATS = ("AP", "AP50", "AP75", "APM", "APL", "AR", "AR50", "AR75", "ARM", "ARL")
#: Official rescoring / NMS settings (``TEST.IN_VIS_THRE``, ``TEST.OKS_THRE``).
IN_VIS_THRESH = 0.2
OKS_NMS_THRESH = 0.9
#: MPII head-size factor of the standard PCKh evaluation.
MPII_HEAD_FACTOR = 0.6
#: MPII joint groups (names of :data:`edgepose.skeleton.MPII16`); "mean" excludes pelvis and thorax.
MPII_GROUPS: dict[str, tuple[str, ...]] = {
    "head": ("head_top",),
    "shoulder": ("left_shoulder", "right_shoulder"),
    "elbow": ("left_elbow", "right_elbow"),
    "wrist": ("left_wrist", "right_wrist"),
    "hip": ("left_hip", "right_hip"),
    "knee": ("left_knee", "right_knee"),
    "ankle": ("left_ankle", "right_ankle"),
}
MPII_MEAN_EXCLUDES = ("pelvis", "thorax")


# ---- COCO OKS AP ------------------------------------------------------------------------
def _quiet(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` with pycocotools' prints captured into the debug log."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        result = fn()
    text = buffer.getvalue().strip()
    if text:
        logger.debug("pycocotools:\n%s", text)
    return result


def load_coco_gt(gt: str | os.PathLike[str] | dict[str, Any] | COCO) -> COCO:
    """A pycocotools ``COCO`` for keypoint evaluation, from a path, a dataset dict or a COCO.

    Annotations lacking ``area`` get ``bbox`` w*h, those lacking ``num_keypoints`` the
    count of labelled keypoints, those lacking ``id`` their position + 1 (CrowdPose-style
    files); the counts are logged. A dict is copied, never modified.

    Raises:
        DataFileNotFoundError / AnnotationError: missing or malformed file.
    """
    if isinstance(gt, COCO):
        return gt
    source = "<dict>"
    if isinstance(gt, dict):
        data = copy.deepcopy(gt)
    else:
        source = str(gt)
        data = read_json(gt, "ground-truth annotation")
    if not isinstance(data, dict) or not all(k in data for k in ("images", "annotations", "categories")):
        raise AnnotationError(f"{source}: a COCO file needs 'images', 'annotations' and 'categories'")
    filled: dict[str, int] = {"area": 0, "num_keypoints": 0, "id": 0}
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or not all(k in ann for k in ("image_id", "category_id", "keypoints", "bbox")):
            raise AnnotationError(f"{source}: annotations[{i}] needs image_id, category_id, keypoints and bbox")
        if "area" not in ann:
            ann["area"] = float(ann["bbox"][2]) * float(ann["bbox"][3])
            filled["area"] += 1
        if "num_keypoints" not in ann:
            ann["num_keypoints"] = int(np.sum(np.asarray(ann["keypoints"])[2::3] > 0))
            filled["num_keypoints"] += 1
        ann.setdefault("iscrowd", 0)
        if "id" not in ann:
            ann["id"] = i + 1
            filled["id"] += 1
    if any(filled.values()):
        logger.info("%s: filled missing fields %s", source, filled)
    coco = COCO()
    coco.dataset = data
    _quiet(coco.createIndex)
    return coco


def coco_keypoint_ap(
    gt: str | os.PathLike[str] | dict[str, Any] | COCO,
    results: Sequence[dict[str, Any]] | str | os.PathLike[str],
    sigmas: np.ndarray | Sequence[float],
    image_ids: Sequence[int] | None = None,
) -> dict[str, float]:
    """OKS AP/AR of keypoint results through ``COCOeval(iouType="keypoints")``.

    Args:
        gt: ground truth (path, dict or COCO; see :func:`load_coco_gt`).
        results: ``[{image_id, category_id, keypoints [x, y, s] * K, score}]`` or a json
            path; never modified (pycocotools' ``loadRes`` gets a copy).
        sigmas: (K,) OKS sigmas of the keypoint set (``KeypointSet.sigma_array()``).
        image_ids: evaluate only these images (e.g. a CrowdPose difficulty split);
            default all images of ``gt``, so images without results count as misses.

    Returns:
        ``{"AP", "AP50", "AP75", "APM", "APL", "AR", "AR50", "AR75", "ARM", "ARL"}``
        (-1 where an area range has no ground truth, as pycocotools).
    """
    coco_gt = load_coco_gt(gt)
    if isinstance(results, (str, os.PathLike)):
        results = read_json(results, "keypoint results")
    if not isinstance(results, (list, tuple)) or not results:
        raise InputError("no keypoint results to evaluate (an empty list cannot be scored)")
    sig = np.asarray(sigmas, dtype=np.float64)
    k = sig.shape[0]
    for i, r in enumerate(results):
        if not isinstance(r, dict) or not all(key in r for key in ("image_id", "category_id", "keypoints", "score")):
            raise InputError(f"result [{i}] needs image_id, category_id, keypoints and score")
        if len(r["keypoints"]) != 3 * k:
            raise InputError(f"result [{i}] has {len(r['keypoints'])} keypoint values; expected {3 * k} for {k} sigmas")
    unknown = {int(r["image_id"]) for r in results} - set(coco_gt.getImgIds())
    if unknown:
        raise InputError(f"results name image ids not in the ground truth: {sorted(unknown)[:10]}")
    coco_dt = _quiet(lambda: coco_gt.loadRes(copy.deepcopy(list(results))))
    evaluator = COCOeval(coco_gt, coco_dt, iouType="keypoints")
    evaluator.params.kpt_oks_sigmas = sig
    if image_ids is not None:
        evaluator.params.imgIds = sorted(int(i) for i in image_ids)
    _quiet(evaluator.evaluate)
    _quiet(evaluator.accumulate)
    _quiet(evaluator.summarize)
    stats = {name: float(v) for name, v in zip(COCO_KEYPOINT_STATS, evaluator.stats)}
    logger.info("COCO keypoint AP: %s", " ".join(f"{k}={v:.4f}" for k, v in stats.items()))
    return stats


# ---- results file, rescoring and OKS NMS -----------------------------------------------
def oks_iou(
    keypoints: np.ndarray, others: np.ndarray, area: float, other_areas: np.ndarray,
    sigmas: np.ndarray, other_scores: np.ndarray | None = None, in_vis_thresh: float | None = None,
) -> np.ndarray:
    """OKS between one pose and M others (official ``oks_iou``).

    Args:
        keypoints: (K, 2) px; others: (M, K, 2) px; area, other_areas (M,): px^2;
        sigmas: (K,); other_scores: (M, K) keypoint scores; in_vis_thresh: when given,
            only keypoints of ``others`` scoring above it count (what the official code's
            ``list(vg > t) and list(vd > t)`` evaluates to).

    Returns:
        (M,) OKS in [0, 1] (0 where no keypoint counts).
    """
    var = (2.0 * np.asarray(sigmas, dtype=np.float64)) ** 2
    d2 = np.sum((np.asarray(others, dtype=np.float64) - np.asarray(keypoints, dtype=np.float64)) ** 2, axis=-1)
    scale = (area + np.asarray(other_areas, dtype=np.float64))[:, None] / 2 + np.spacing(1)
    e = np.exp(-d2 / var / scale / 2)
    mask = np.ones_like(e, dtype=bool)
    if in_vis_thresh is not None and other_scores is not None:
        mask = np.asarray(other_scores) > in_vis_thresh
    count = mask.sum(axis=1)
    return np.where(count > 0, np.sum(e * mask, axis=1) / np.maximum(count, 1), 0.0)


def oks_nms(
    keypoints: np.ndarray, keypoint_scores: np.ndarray, scores: np.ndarray, areas: np.ndarray,
    sigmas: np.ndarray, thresh: float = OKS_NMS_THRESH, in_vis_thresh: float | None = IN_VIS_THRESH,
) -> np.ndarray:
    """Greedy OKS non-maximum suppression within one image (official ``oks_nms``).

    Args:
        keypoints: (N, K, 2) px; keypoint_scores: (N, K); scores: (N,) person scores;
        areas: (N,) px^2; sigmas: (K,); thresh: suppress OKS above this.

    Returns:
        (M,) int64 indices kept, best score first.
    """
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    kp, ks, ar = np.asarray(keypoints), np.asarray(keypoint_scores), np.asarray(areas, dtype=np.float64)
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        overlap = oks_iou(kp[i], kp[rest], ar[i], ar[rest], sigmas, ks[rest], in_vis_thresh)
        order = rest[overlap <= thresh]
    return np.asarray(keep, dtype=np.int64)


def rescore(keypoint_scores: np.ndarray, box_scores: np.ndarray, in_vis_thresh: float = IN_VIS_THRESH) -> np.ndarray:
    """Official person score: box score * mean of the keypoint scores above ``in_vis_thresh``.

    Args:
        keypoint_scores: (N, K); box_scores: (N,).

    Returns:
        (N,) float64; 0 for a person with no keypoint above the threshold.
    """
    ks = np.asarray(keypoint_scores, dtype=np.float64)
    above = ks > in_vis_thresh
    count = above.sum(axis=1)
    mean = np.where(count > 0, np.sum(ks * above, axis=1) / np.maximum(count, 1), 0.0)
    return mean * np.asarray(box_scores, dtype=np.float64)


def coco_results(
    keypoints: np.ndarray,
    keypoint_scores: np.ndarray,
    image_ids: np.ndarray | Sequence[int],
    box_scores: np.ndarray | Sequence[float],
    *,
    areas: np.ndarray | Sequence[float] | None = None,
    sigmas: np.ndarray | Sequence[float] | None = None,
    nms_thresh: float | None = OKS_NMS_THRESH,
    in_vis_thresh: float = IN_VIS_THRESH,
    category_id: int = 1,
) -> list[dict[str, Any]]:
    """COCO keypoint results, rescored and (optionally) OKS-NMSed per image as the official code.

    Args:
        keypoints: (N, K, 2) image px; keypoint_scores: (N, K);
        image_ids: (N,); box_scores: (N,) detector scores (1 for ground-truth boxes);
        areas: (N,) px^2 for OKS NMS (official: crop w*h, ``meta["scale"].prod(-1)``);
        sigmas: (K,) for OKS NMS; nms_thresh: None disables NMS (then areas/sigmas unused);
        in_vis_thresh: keypoint-score threshold of the rescoring and of the NMS.

    Returns:
        ``[{"image_id", "category_id", "keypoints": [x, y, s] * K, "score"}]``.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    ks = np.asarray(keypoint_scores, dtype=np.float64)
    ids = np.asarray(image_ids, dtype=np.int64).reshape(-1)
    n = kp.shape[0]
    if kp.ndim != 3 or kp.shape[2] != 2 or ks.shape != kp.shape[:2] or ids.shape != (n,):
        raise InputError(
            f"keypoints (N, K, 2), keypoint_scores (N, K), image_ids (N,); got {kp.shape}, {ks.shape}, {ids.shape}"
        )
    scores = rescore(ks, np.asarray(box_scores, dtype=np.float64).reshape(n), in_vis_thresh)
    keep = np.arange(n)
    if nms_thresh is not None:
        if areas is None or sigmas is None:
            raise InputError("OKS NMS needs areas (N,) and sigmas (K,); pass nms_thresh=None to skip it")
        ar = np.asarray(areas, dtype=np.float64).reshape(n)
        sig = np.asarray(sigmas, dtype=np.float64)
        kept = []
        for image_id in np.unique(ids):
            rows = np.nonzero(ids == image_id)[0]
            best = oks_nms(kp[rows], ks[rows], scores[rows], ar[rows], sig, nms_thresh, in_vis_thresh)
            kept.append(rows[best])
        keep = np.sort(np.concatenate(kept)) if kept else keep[:0]
    results = []
    for i in keep:
        triples = np.concatenate([kp[i], ks[i][:, None]], axis=1)
        results.append({
            "image_id": int(ids[i]), "category_id": int(category_id),
            "keypoints": [round(float(v), 4) for v in triples.reshape(-1)], "score": float(scores[i]),
        })
    return results


def write_coco_results(results: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write results as a COCO json (the format of test-dev submissions); returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", encoding="utf-8") as fh:
        json.dump(list(results), fh)
    logger.info("wrote %d keypoint results to %s", len(results), p)
    return p


# ---- crop -> image ---------------------------------------------------------------------
def crop_to_image_cs(
    keypoints: np.ndarray, centers: np.ndarray, scales: np.ndarray, input_hw: tuple[int, int],
) -> np.ndarray:
    """Map crop keypoints (N, K, 2) back with the crops' centres (N, 2) and scales (N, 2) px (no rotation);
    with the crops' matrices at hand, :func:`edgepose.preprocess.crops_to_frame` does it."""
    c, s = np.asarray(centers, dtype=np.float64), np.asarray(scales, dtype=np.float64)
    matrices = np.zeros((len(c), 2, 3))
    for i in range(len(c)):
        matrices[i] = get_affine_matrix(c[i], s[i], input_hw)
    return crops_to_frame(keypoints, matrices)


# ---- flip test ---------------------------------------------------------------------------
def _to_numpy(value: Any) -> Any:
    """Model outputs (arrays, torch tensors, tuples/lists/dicts of them) as numpy."""
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(_to_numpy(v) for v in value)
    if hasattr(value, "detach"):  # a torch tensor, converted without importing torch
        return value.detach().float().cpu().numpy()
    return np.asarray(value)


def flip_batch(batch: Any, width_axis: int = -1) -> Any:
    """Mirror a batch of images along ``width_axis`` (numpy array or torch tensor)."""
    if isinstance(batch, np.ndarray):
        return np.ascontiguousarray(np.flip(batch, axis=width_axis))
    if hasattr(batch, "flip"):
        return batch.flip(dims=(width_axis,))
    raise InputError(f"cannot flip a batch of type {type(batch).__name__}")


def predict_with_flip(
    model_fn: Callable[[Any], Any],
    batch: Any,
    codec: Codec,
    flip_index: np.ndarray,
    width_axis: int = -1,
) -> tuple[np.ndarray, np.ndarray]:
    """Official flip test: run the crops and their mirror images, fuse with ``codec.decode_flip``.

    Args:
        model_fn: batch -> outputs (SimDR: ``(simcc_x, simcc_y)``; heatmap: ``heatmaps``),
            numpy or torch.
        batch: (N, C, H, W) model inputs (numpy or torch); mirrored as ``x -> W - 1 - x``
            along ``width_axis`` (-1 for NCHW, 2 for NHWC).
        codec: the model's codec; flip_index: (K,) ``KeypointSet.flip_index()``.

    Returns:
        keypoints (N, K, 2) crop px, scores (N, K).
    """
    outputs = _to_numpy(model_fn(batch))
    flipped = _to_numpy(model_fn(flip_batch(batch, width_axis)))
    return codec.decode_flip(outputs, flipped, flip_index)


# ---- PCKh / PCK --------------------------------------------------------------------------
def strict_json_value(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, inf) replaced by None, so JSON stays strict."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json_value(v) for v in value]
    return value


def check_pose_arrays(
    pred: np.ndarray, gt: np.ndarray, visible: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``pred``, ``gt`` (N, K, 2) as float64 and ``visible`` (N, K) as bool; InputError on other shapes."""
    p, g = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    v = np.asarray(visible) > 0
    if p.ndim != 3 or p.shape[2] != 2 or g.shape != p.shape or v.shape != p.shape[:2]:
        raise InputError(f"pred and gt (N, K, 2), visible (N, K); got {p.shape}, {g.shape}, {v.shape}")
    return p, g, v


def pckh(
    pred: np.ndarray,
    gt: np.ndarray,
    visible: np.ndarray,
    headboxes: np.ndarray,
    thresholds: Sequence[float] = (0.5, 0.1),
    head_factor: float = MPII_HEAD_FACTOR,
) -> dict[str, dict[str, float]]:
    """MPII PCKh per joint group (standard evaluation, MPII-16 joint order).

    A joint is correct when ``||pred - gt|| <= t * head_factor * ||headbox diagonal||``.
    Groups average the per-joint rates of their left and right joints; "mean" is the
    rate over all labelled joints except pelvis and thorax (the official joint-count
    weighting). The official HRNet script's "Mean@0.1" actually reads threshold 0.11;
    here 0.1 is 0.1.

    Args:
        pred, gt: (N, 16, 2) px (same origin, e.g. both 0-based); visible: (N, 16);
        headboxes: (N, 2, 2) head box corners ``[[x1, y1], [x2, y2]]`` px;
        thresholds: PCKh thresholds; head_factor: 0.6.

    Returns:
        ``{"PCKh@0.5": {"head", "shoulder", ..., "ankle", "mean"}, "PCKh@0.1": {...}}``,
        fractions (NaN for a group with no labelled joint).
    """
    p, g, v = check_pose_arrays(pred, gt, visible)
    if p.shape[1] != MPII16.num_keypoints:
        raise InputError(f"PCKh expects the 16 MPII joints; got {p.shape[1]}")
    hb = np.asarray(headboxes, dtype=np.float64)
    if hb.shape != (p.shape[0], 2, 2):
        raise InputError(f"headboxes must be (N, 2, 2); got {hb.shape}")
    head_size = np.linalg.norm(hb[:, 1] - hb[:, 0], axis=1) * head_factor
    if np.any(head_size[v.any(axis=1)] <= 0):
        raise InputError("a head box with zero size belongs to a person with labelled joints")
    err = np.linalg.norm(p - g, axis=2) / np.where(head_size > 0, head_size, 1.0)[:, None]
    index = {name: i for i, name in enumerate(MPII16.names)}
    in_mean = np.array([n not in MPII_MEAN_EXCLUDES for n in MPII16.names])
    counts = v.sum(axis=0)
    out: dict[str, dict[str, float]] = {}
    for t in thresholds:
        hits = ((err <= t) & v).sum(axis=0)
        rate = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
        groups = {name: float(np.mean([rate[index[j]] for j in joints])) for name, joints in MPII_GROUPS.items()}
        total = counts[in_mean].sum()
        groups["mean"] = float(hits[in_mean].sum() / total) if total else float("nan")
        out[f"PCKh@{t:g}"] = groups
    return out


def load_mpii_gt_valid(mat_path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read MPII's ``gt_valid.mat`` (HRNet data layout) as 0-based arrays.

    Returns:
        joints (N, 16, 2) px, visible (N, 16) bool, headboxes (N, 2, 2) px, in the order
        of ``valid.json`` (the official evaluation's inputs).
    """
    try:
        from scipy.io import loadmat
    except ImportError as exc:
        raise ImportError("reading gt_valid.mat needs scipy: pip install scipy") from exc
    path = Path(mat_path)
    if not path.is_file():
        from edgepose.data.topdown import DataFileNotFoundError

        raise DataFileNotFoundError(f"MPII ground-truth file {path} does not exist")
    mat = loadmat(str(path))
    missing = [k for k in ("jnt_missing", "pos_gt_src", "headboxes_src") if k not in mat]
    if missing:
        raise AnnotationError(f"{path} lacks {missing}; is it MPII's gt_valid.mat?")
    joints = np.transpose(mat["pos_gt_src"], (2, 0, 1)).astype(np.float64) - 1.0
    visible = np.transpose(1 - mat["jnt_missing"], (1, 0)).astype(bool)
    headboxes = np.transpose(mat["headboxes_src"], (2, 0, 1)).astype(np.float64) - 1.0
    return joints, visible, headboxes


def pck_hits(
    pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, boxes: np.ndarray, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Which keypoints :func:`pck` counts as correct, ``||pred - gt|| <= alpha * max(w, h)``.

    Args: as :func:`pck`.

    Returns:
        ``(hits (N, K) bool, labelled (N, K) bool)``; hits are labelled and correct.
    """
    p, g, v = check_pose_arrays(pred, gt, visible)
    size = box_sides(boxes, v)
    return (np.linalg.norm(p - g, axis=2) <= alpha * size[:, None]) & v, v


def box_sides(boxes: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(N,) ``max(w, h)`` of (N, 4) ``(x, y, w, h)`` boxes; an error for a sizeless box with labelled joints."""
    b = np.asarray(boxes, dtype=np.float64)
    if b.shape != (visible.shape[0], 4):
        raise InputError(f"boxes must be (N, 4); got {b.shape}")
    size = np.maximum(b[:, 2], b[:, 3])
    if np.any(size[visible.any(axis=1)] <= 0):
        raise InputError("a box with no size belongs to a person with labelled joints")
    return size


def median_error(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, boxes: np.ndarray) -> float:
    """Median over labelled keypoints of ``||pred - gt|| / max(w, h)`` (the PCK normaliser).

    Args: as :func:`pck`. Returns a fraction of the box side (NaN with no labelled keypoint).
    """
    p, g, v = check_pose_arrays(pred, gt, visible)
    size = box_sides(boxes, v)
    if not v.any():
        return float("nan")
    errors = np.linalg.norm(p - g, axis=2) / np.where(size > 0, size, 1.0)[:, None]
    return float(np.median(errors[v]))


def pck(
    pred: np.ndarray,
    gt: np.ndarray,
    visible: np.ndarray,
    boxes: np.ndarray,
    alpha: float = 0.05,
    names: Sequence[str] | None = None,
) -> dict[str, float]:
    """PCK@alpha normalised by box size: correct when ``||pred - gt|| <= alpha * max(w, h)``.

    Args:
        pred, gt: (N, K, 2) px; visible: (N, K); boxes: (N, 4) ``(x, y, w, h)`` px;
        alpha: threshold fraction; names: (K,) keypoint names for the per-joint keys.

    Returns:
        ``{"mean": rate over all labelled joints, <name or "kp{i}">: per-joint rate}``
        (NaN for a joint never labelled).
    """
    hits, v = pck_hits(pred, gt, visible, boxes, alpha)
    counts = v.sum(axis=0)
    labels = list(names) if names is not None else [f"kp{i}" for i in range(hits.shape[1])]
    if len(labels) != hits.shape[1]:
        raise InputError(f"{len(labels)} names for {hits.shape[1]} keypoints")
    out = {"mean": float(hits.sum() / v.sum()) if v.sum() else float("nan")}
    for j, name in enumerate(labels):
        out[name] = float(hits[:, j].sum() / counts[j]) if counts[j] else float("nan")
    return out
