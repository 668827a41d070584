"""COCO person-keypoints datasets (also any COCO-format keypoint json, e.g. synthetic humans).

Ground-truth persons follow the official SimpleBaseline / HRNet loader, whose filters are
documented here and counted in the log:

* only the person category;
* ``iscrowd`` annotations are dropped (they carry no keypoints);
* annotations whose keypoints are all zero are dropped;
* the box is clipped to the image (``x2 = min(W - 1, x1 + max(0, w - 1))``) and dropped
  when it has no area (``area <= 0`` or a non-positive clipped width or height).

Validation can use ground-truth boxes (score 1) or a detection-results JSON (a list of
``{image_id, bbox, score, category_id}``, as published with the papers): person boxes
only, ``score >= det_score_threshold`` (official: 0.0), and boxes with a non-positive
width or height dropped (counted).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgepose.codecs import Codec
from edgepose.errors import InputError
from edgepose.geometry import DEFAULT_PADDING, box_to_center_scale
from edgepose.skeleton import KeypointSet
from edgepose.zoo import ModelSpec

from edgepose.data.topdown import (
    AnnotationError,
    PersonTable,
    PersonTableBuilder,
    TopDownDataset,
    read_json,
    require_keys,
)
from edgepose.data.transforms import AugmentConfig

logger = logging.getLogger(__name__)

IMAGE_KEYS = ("id", "file_name", "width", "height")
ANNOTATION_KEYS = ("image_id", "category_id", "keypoints", "bbox")
DETECTION_KEYS = ("image_id", "bbox", "score", "category_id")


@dataclass(frozen=True)
class CocoAnnotations:
    """A validated COCO keypoint annotation file.

    Attributes:
        path: the file.
        images: image id -> image entry (``file_name``, ``width``, ``height``, ...).
        person_category: category id of persons.
        annotations: the person annotations (all validated).
        num_keypoints: K.
    """

    path: Path
    images: dict[int, dict[str, Any]]
    person_category: int
    annotations: list[dict[str, Any]]
    num_keypoints: int


def _finite_numbers(values: Any, length: int, where: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise AnnotationError(f"{where} is not a list of numbers: {values!r}") from None
    if arr.shape != (length,) or not np.all(np.isfinite(arr)):
        raise AnnotationError(f"{where} must be {length} finite numbers; got {values!r}")
    return arr


def _person_category(data: dict[str, Any], path: Path, num_keypoints: int) -> int:
    categories = data.get("categories")
    if not isinstance(categories, list) or not categories:
        raise AnnotationError(f"{path}: 'categories' must be a non-empty list")
    for i, cat in enumerate(categories):
        require_keys(cat, ("id", "name"), f"{path}: categories[{i}]")
    persons = [c for c in categories if c["name"] == "person"]
    if len(persons) != 1:
        if len(categories) != 1:
            names = [c["name"] for c in categories]
            raise AnnotationError(f"{path}: expected one category named 'person'; got {names}")
        persons = categories
    names = persons[0].get("keypoints")
    if names is not None and len(names) != num_keypoints:
        raise AnnotationError(
            f"{path}: the person category lists {len(names)} keypoints; expected {num_keypoints}"
        )
    return int(persons[0]["id"])


def read_coco_annotations(ann_file: str | os.PathLike[str], num_keypoints: int) -> CocoAnnotations:
    """Read and validate a COCO keypoint json with ``num_keypoints`` keypoints per person.

    Raises:
        DataFileNotFoundError: no such file.
        AnnotationError: bad JSON, missing keys, keypoint lists of the wrong length,
            annotations of unknown images.
    """
    path = Path(ann_file)
    data = read_json(path, "annotation")
    require_keys(data, ("images", "annotations", "categories"), f"{path}: top level")
    if not isinstance(data["images"], list) or not isinstance(data["annotations"], list):
        raise AnnotationError(f"{path}: 'images' and 'annotations' must be lists")
    person = _person_category(data, path, num_keypoints)
    images: dict[int, dict[str, Any]] = {}
    for i, img in enumerate(data["images"]):
        require_keys(img, IMAGE_KEYS, f"{path}: images[{i}]")
        images[int(img["id"])] = img
    annotations = []
    for i, ann in enumerate(data["annotations"]):
        where = f"{path}: annotations[{i}] (id {ann.get('id', '?') if isinstance(ann, dict) else '?'})"
        require_keys(ann, ANNOTATION_KEYS, where)
        if int(ann["category_id"]) != person:
            continue
        if int(ann["image_id"]) not in images:
            raise AnnotationError(f"{where}: image_id {ann['image_id']} is not in 'images'")
        _finite_numbers(ann["keypoints"], 3 * num_keypoints, f"{where} keypoints")
        _finite_numbers(ann["bbox"], 4, f"{where} bbox")
        annotations.append(ann)
    return CocoAnnotations(path, images, person, annotations, num_keypoints)


def load_coco_gt_persons(
    ann_file: str | os.PathLike[str],
    image_dir: str | os.PathLike[str],
    keypoint_set: KeypointSet,
    input_hw: tuple[int, int],
    padding: float = DEFAULT_PADDING,
) -> PersonTable:
    """Ground-truth persons with their boxes, filtered as the official code (module docstring).

    Args:
        ann_file: COCO keypoint json; image_dir: folder of the ``file_name`` entries;
        keypoint_set: the model's keypoints (K must match the file);
        input_hw: model input (H, W) for the box aspect ratio; padding: box padding.
    """
    coco = read_coco_annotations(ann_file, keypoint_set.num_keypoints)
    k = keypoint_set.num_keypoints
    skipped: Counter[str] = Counter()
    table = PersonTableBuilder(str(coco.path), k)
    for ann in coco.annotations:
        if ann.get("iscrowd", 0):
            skipped["crowd"] += 1
            continue
        kps = np.asarray(ann["keypoints"], dtype=np.float64).reshape(k, 3)
        if kps.max() == 0:
            skipped["no keypoints"] += 1
            continue
        img = coco.images[int(ann["image_id"])]
        box = _clean_box(np.asarray(ann["bbox"], dtype=np.float64), float(img["width"]), float(img["height"]))
        area = float(ann.get("area", box[2] * box[3] if box is not None else 0.0))
        if box is None or area <= 0:
            skipped["degenerate box"] += 1
            continue
        center, scale = box_to_center_scale(box, input_hw, padding)
        table.add(
            str(Path(image_dir) / img["file_name"]), int(ann["image_id"]), box, center, scale,
            kps[:, :2], np.minimum(1.0, kps[:, 2]), 1.0,
        )
    result = table.build()
    logger.info(
        "%s: %d persons in %d images (skipped: %s)", coco.path.name, len(result),
        len(result.image_files), dict(skipped) or "none",
    )
    return result


def _clean_box(box: np.ndarray, width: float, height: float) -> np.ndarray | None:
    """Official box clipping; None for a box with no positive width or height inside the image."""
    x, y, w, h = box
    x1, y1 = max(0.0, x), max(0.0, y)
    x2 = min(width - 1, x1 + max(0.0, w - 1))
    y2 = min(height - 1, y1 + max(0.0, h - 1))
    if x2 <= x1 or y2 <= y1:
        return None
    return np.array([x1, y1, x2 - x1, y2 - y1])


def load_coco_detections(
    det_file: str | os.PathLike[str],
    ann_file: str | os.PathLike[str],
    image_dir: str | os.PathLike[str],
    keypoint_set: KeypointSet,
    input_hw: tuple[int, int],
    score_threshold: float = 0.0,
    padding: float = DEFAULT_PADDING,
) -> PersonTable:
    """Detected person boxes for validation (keypoints unknown: zeros, visible 0).

    Args:
        det_file: JSON list of ``{image_id, bbox (x, y, w, h), score, category_id}``;
        ann_file: the ground-truth json (image files and sizes); image_dir: image folder;
        keypoint_set, input_hw, padding: as :func:`load_coco_gt_persons`;
        score_threshold: keep boxes with ``score >= score_threshold``.
    """
    coco = read_coco_annotations(ann_file, keypoint_set.num_keypoints)
    det_path = Path(det_file)
    detections = read_json(det_path, "detection results")
    if not isinstance(detections, list):
        raise AnnotationError(f"{det_path}: expected a JSON list of detections")
    k = keypoint_set.num_keypoints
    skipped: Counter[str] = Counter()
    table = PersonTableBuilder(str(det_path), k)
    zeros_kp, zeros_vis = np.zeros((k, 2)), np.zeros(k, dtype=np.float32)
    for i, det in enumerate(detections):
        where = f"{det_path}: detection [{i}]"
        require_keys(det, DETECTION_KEYS, where)
        if int(det["category_id"]) != coco.person_category:
            skipped["not person"] += 1
            continue
        box = _finite_numbers(det["bbox"], 4, f"{where} bbox")
        score = float(det["score"])
        if score < score_threshold:
            skipped["below score threshold"] += 1
            continue
        if box[2] <= 0 or box[3] <= 0:
            skipped["degenerate box"] += 1
            continue
        image_id = int(det["image_id"])
        if image_id not in coco.images:
            raise AnnotationError(f"{where}: image_id {image_id} is not in {coco.path}")
        center, scale = box_to_center_scale(box, input_hw, padding)
        table.add(
            str(Path(image_dir) / coco.images[image_id]["file_name"]), image_id, box, center,
            scale, zeros_kp, zeros_vis, score,
        )
    result = table.build()
    logger.info(
        "%s: %d person boxes in %d images (skipped: %s)", det_path.name, len(result),
        len(result.image_files), dict(skipped) or "none",
    )
    return result


class CocoPoseDataset(TopDownDataset):
    """COCO-format keypoint dataset (COCO-17 person_keypoints, synthetic humans, ...).

    Args:
        ann_file: COCO keypoint json; image_dir: folder of its images.
        spec: the model spec (input size, codec, keypoint set, normalisation).
        train: training (ground-truth boxes + augmentation) or validation.
        detections: validation only: detection-results JSON; None = ground-truth boxes.
        det_score_threshold: minimum detection score kept (official 0.0).
        augment, seed, codec: see :class:`TopDownDataset`.
        padding: box padding factor (1.25).
    """

    def __init__(
        self,
        ann_file: str | os.PathLike[str],
        image_dir: str | os.PathLike[str],
        spec: ModelSpec,
        *,
        train: bool,
        detections: str | os.PathLike[str] | None = None,
        det_score_threshold: float = 0.0,
        augment: AugmentConfig | None = None,
        seed: int = 0,
        codec: Codec | None = None,
        padding: float = DEFAULT_PADDING,
    ) -> None:
        keypoint_set = spec.keypoints()
        if detections is None:
            table = load_coco_gt_persons(ann_file, image_dir, keypoint_set, spec.input_hw, padding)
        elif train:
            raise InputError("detection boxes are for validation; train on ground-truth boxes")
        else:
            table = load_coco_detections(
                detections, ann_file, image_dir, keypoint_set, spec.input_hw, det_score_threshold, padding
            )
        self.ann_file = Path(ann_file)
        super().__init__(table, spec, train=train, augment=augment, seed=seed, codec=codec)
