"""A contact sheet of a COCO keypoint dataset: images in a grid with their labels drawn, for
people to look at (left/right and visibility at a glance).

Each person's limbs and keypoints are drawn over the image: the person's **left** side in
orange, the **right** side in blue, the middle (face centre line, shoulders and hips) in
green; a labelled but hidden keypoint (v=1) is a hollow circle, a visible one (v=2) a filled
circle, and v=0 is not drawn. Images are BGR ``uint8``; tiles are square, ``tile`` px.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from edgepose.errors import InputError
from edgepose.skeleton import KeypointSet, get_keypoint_set

LEFT_BGR = (0, 140, 255)
RIGHT_BGR = (255, 120, 0)
MIDDLE_BGR = (60, 220, 60)


def _side_colour(keypoint_set: KeypointSet, index: int) -> tuple[int, int, int]:
    name = keypoint_set.names[index]
    if name.startswith("left"):
        return LEFT_BGR
    if name.startswith("right"):
        return RIGHT_BGR
    return MIDDLE_BGR


def draw_labels(image: np.ndarray, keypoints: np.ndarray, keypoint_set: KeypointSet, scale: float = 1.0) -> None:
    """Draw one person's labels ``keypoints (K, 3)`` (x, y px, v) on ``image`` in place,
    coordinates multiplied by ``scale``."""
    kp = np.asarray(keypoints, dtype=np.float64).reshape(keypoint_set.num_keypoints, 3)
    pts = [(int(round(x * scale)), int(round(y * scale))) for x, y, _ in kp]
    for i, j in keypoint_set.limbs:
        if kp[i, 2] > 0 and kp[j, 2] > 0:
            colour_i, colour_j = _side_colour(keypoint_set, i), _side_colour(keypoint_set, j)
            cv2.line(image, pts[i], pts[j], colour_i if colour_i == colour_j else MIDDLE_BGR, 1, cv2.LINE_AA)
    for index, (x, y, v) in enumerate(kp):
        if v > 0:
            cv2.circle(image, pts[index], 3, _side_colour(keypoint_set, index), -1 if v >= 2 else 1, cv2.LINE_AA)


def contact_sheet(dataset_dir: str | Path, n: int = 24, columns: int = 6, tile: int = 192,
                  keypoint_set: str = "coco17") -> np.ndarray:
    """The first ``n`` images of ``dataset_dir`` (``annotations/person_keypoints.json`` and
    ``images/``, as ``training/synth.py`` writes) with their labels, as one BGR image of
    ``ceil(n / columns)`` rows of ``columns`` tiles of ``tile`` x ``tile`` px."""
    folder = Path(dataset_dir)
    ann_file = folder / "annotations" / "person_keypoints.json"
    if not ann_file.is_file():
        raise InputError(f"{ann_file} does not exist; render a dataset there first (training/synth.py --out {folder})")
    if n < 1 or columns < 1 or tile < 16:
        raise InputError(f"need n >= 1, columns >= 1 and tile >= 16; got {n}, {columns}, {tile}")
    data = json.loads(ann_file.read_text())
    kps = get_keypoint_set(keypoint_set)
    people: dict[int, list[dict]] = defaultdict(list)
    for ann in data["annotations"]:
        people[ann["image_id"]].append(ann)
    tiles = []
    for record in data["images"][:n]:
        image = cv2.imread(str(folder / "images" / record["file_name"]), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(f"cannot read {folder / 'images' / record['file_name']}")
        scale = tile / max(image.shape[:2])
        canvas = np.zeros((tile, tile, 3), np.uint8)
        resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                             interpolation=cv2.INTER_AREA)
        canvas[:resized.shape[0], :resized.shape[1]] = resized
        for ann in people[record["id"]]:
            draw_labels(canvas, np.asarray(ann["keypoints"]), kps, scale)
        tiles.append(canvas)
    while len(tiles) % columns:
        tiles.append(np.zeros((tile, tile, 3), np.uint8))
    rows = [np.hstack(tiles[i:i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)
