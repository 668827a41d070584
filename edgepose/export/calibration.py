"""Person crops from a COCO-format keypoint dataset, made with the runtime preprocessing.

Used for int8 calibration (``calibration_batch``) and for verification against torch
(``coco_person_crops`` keeps image ids, boxes and crop matrices for COCO AP). Boxes come
from the annotations; every crop goes through :func:`edgepose.preprocess.preprocess_crops`
exactly as at inference (images are read by OpenCV, so the frame colour order is BGR).
Needs numpy + OpenCV only.
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from edgepose.errors import InputError
from edgepose.export.errors import CalibrationError
from edgepose.preprocess import preprocess_crops
from edgepose.zoo import ModelSpec

logger = logging.getLogger(__name__)

__all__ = ["CocoCrops", "coco_person_crops", "calibration_crops", "calibration_batch", "load_coco_json"]


@dataclass
class CocoCrops:
    """Model inputs for N annotated persons.

    Attributes:
        batch: ``(N, 3, H, W)`` float32, normalised NCHW.
        matrices: ``(N, 2, 3)`` frame -> crop affine maps.
        boxes: ``(N, 4)`` xywh boxes used (the annotations' ``bbox``).
        keypoints: ``(N, K, 3)`` float64 annotated keypoints ``(x, y, v)``, frame px.
        image_ids, ann_ids: ``(N,)`` int64 COCO ids.
        ann_file: the annotation file they come from.
    """

    batch: np.ndarray
    matrices: np.ndarray
    boxes: np.ndarray
    keypoints: np.ndarray
    image_ids: np.ndarray
    ann_ids: np.ndarray
    ann_file: Path

    def __len__(self) -> int:
        return int(self.batch.shape[0])


def load_coco_json(ann_file: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a COCO annotation file; InputError if missing or not COCO-like JSON."""
    p = Path(ann_file)
    if not p.is_file():
        raise InputError(f"annotation file {p} does not exist")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{p} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) or not isinstance(data.get("annotations"), list):
        raise InputError(f"{p} is not a COCO annotation file (needs 'images' and 'annotations' lists)")
    return data


def _person_category_ids(data: dict[str, Any]) -> set[int]:
    cats = data.get("categories") or []
    ids = {int(c["id"]) for c in cats if c.get("name") == "person"}
    return ids or {1}


def _eligible(ann: dict[str, Any], persons: set[int], min_keypoints: int) -> bool:
    box = ann.get("bbox") or [0, 0, 0, 0]
    return (
        int(ann.get("category_id", -1)) in persons
        and not ann.get("iscrowd", 0)
        and int(ann.get("num_keypoints", 0)) >= min_keypoints
        and len(box) == 4 and box[2] > 1 and box[3] > 1
    )


def coco_person_crops(
    ann_file: str | os.PathLike[str],
    image_dir: str | os.PathLike[str],
    spec: ModelSpec,
    *,
    limit: int | None = None,
    max_images: int | None = None,
    shuffle: bool = False,
    seed: int = 0,
    min_keypoints: int = 1,
    progress: bool = False,
) -> CocoCrops:
    """Crops of the non-crowd persons with ``>= min_keypoints`` labelled keypoints.

    Args:
        ann_file: COCO ``person_keypoints_*.json``.
        image_dir: folder of the images (``file_name`` relative to it).
        spec: the model's ModelSpec (its ``input_spec``: input size, mean/std, colour order).
        limit: keep at most this many persons (after shuffling, if ``shuffle``).
        max_images: keep only the first ``max_images`` images (by id) that have a person;
            all their persons are kept (what COCO AP on an image subset needs).
        shuffle / seed: random person order (calibration).
        min_keypoints: minimum ``num_keypoints`` of an annotation.
        progress: show a tqdm bar over the images.

    Raises:
        InputError: missing/invalid files, an unreadable image, or no eligible person.
    """
    if limit is not None and limit <= 0:
        raise InputError(f"limit must be positive, got {limit}")
    data = load_coco_json(ann_file)
    root = Path(image_dir)
    if not root.is_dir():
        raise InputError(f"image folder {root} does not exist")
    persons = _person_category_ids(data)
    anns = [a for a in data["annotations"] if _eligible(a, persons, min_keypoints)]
    if max_images is not None:
        keep = sorted({int(a["image_id"]) for a in anns})[:max_images]
        keep_set = set(keep)
        anns = [a for a in anns if int(a["image_id"]) in keep_set]
    anns.sort(key=lambda a: (int(a["image_id"]), int(a.get("id", 0))))
    if shuffle:
        order = np.random.default_rng(seed).permutation(len(anns))
        anns = [anns[i] for i in order]
    if limit is not None:
        anns = anns[:limit]
    if not anns:
        raise InputError(
            f"{ann_file} has no non-crowd person annotation with >= {min_keypoints} labelled keypoints"
        )
    files = {int(im["id"]): im["file_name"] for im in data["images"]}
    by_image: dict[int, list[int]] = defaultdict(list)
    for i, a in enumerate(anns):
        by_image[int(a["image_id"])].append(i)
    h, w = spec.input_hw
    batch = np.empty((len(anns), 3, int(h), int(w)), dtype=np.float32)
    matrices = np.empty((len(anns), 2, 3), dtype=np.float64)
    boxes = np.array([a["bbox"] for a in anns], dtype=np.float64)
    try:
        keypoints = np.array([a["keypoints"] for a in anns], dtype=np.float64).reshape(len(anns), -1, 3)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{ann_file}: person keypoints must be K x (x, y, v) numbers, the same K for all ({exc})"
                         ) from None
    for image_id, idx in tqdm(by_image.items(), desc="person crops", unit="image", disable=not progress):
        if image_id not in files:
            raise InputError(f"{ann_file}: annotation refers to image id {image_id}, which is not listed")
        path = root / files[image_id]
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            raise InputError(f"cannot read image {path} (missing or not an image); check the image folder")
        crops, mats = preprocess_crops(frame, boxes[idx], spec.input_spec, frame_color="bgr", layout="NCHW")
        batch[idx] = crops
        matrices[idx] = mats
    logger.info("%d person crops from %d images of %s", len(anns), len(by_image), Path(ann_file).name)
    return CocoCrops(
        batch=batch, matrices=matrices, boxes=boxes, keypoints=keypoints,
        image_ids=np.array([int(a["image_id"]) for a in anns], dtype=np.int64),
        ann_ids=np.array([int(a.get("id", -1)) for a in anns], dtype=np.int64),
        ann_file=Path(ann_file),
    )


def calibration_crops(
    ann_file: str | os.PathLike[str],
    image_dir: str | os.PathLike[str],
    spec: ModelSpec,
    size: int,
    *,
    seed: int = 0,
    progress: bool = False,
) -> CocoCrops:
    """``size`` random person crops for int8 calibration, with their labels (``quantization/int8.py``
    also measures each file's score threshold on them).

    Raises:
        CalibrationError: size < 1 or no usable person (with the reason).
    """
    if size < 1:
        raise CalibrationError(f"calibration subset size must be >= 1, got {size}")
    try:
        crops = coco_person_crops(ann_file, image_dir, spec, limit=size, shuffle=True, seed=seed, progress=progress)
    except InputError as exc:
        raise CalibrationError(f"empty or unusable calibration set: {exc}") from None
    if len(crops) < size:
        logger.warning("calibration set has only %d persons (asked for %d); using all of them", len(crops), size)
    return crops


def calibration_batch(
    ann_file: str | os.PathLike[str],
    image_dir: str | os.PathLike[str],
    spec: ModelSpec,
    size: int,
    *,
    seed: int = 0,
    progress: bool = False,
) -> np.ndarray:
    """``size`` random person crops ``(N, 3, H, W)`` float32 for int8 calibration
    (the ``batch`` of :func:`calibration_crops`).

    Raises:
        CalibrationError: size < 1 or no usable person (with the reason).
    """
    return calibration_crops(ann_file, image_dir, spec, size, seed=seed, progress=progress).batch
