"""A tiny COCO-format dataset of stick figures, drawn with OpenCV, for fast loop tests.

Each image holds one figure: 17 COCO keypoints placed from a random standing pose, limbs
drawn as thick lines in a per-image colour on a noise background. Labels are exact.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from edgepose.skeleton import COCO17

# a standing pose in a unit box (x right, y down), COCO-17 order
_TEMPLATE = np.array([
    [0.50, 0.08], [0.46, 0.06], [0.54, 0.06], [0.42, 0.08], [0.58, 0.08],
    [0.36, 0.22], [0.64, 0.22], [0.30, 0.38], [0.70, 0.38], [0.27, 0.52], [0.73, 0.52],
    [0.42, 0.55], [0.58, 0.55], [0.41, 0.76], [0.59, 0.76], [0.40, 0.96], [0.60, 0.96],
])


def write_stick_dataset(root: Path, n: int, size: int = 96, seed: int = 0) -> Path:
    """Write ``n`` images and ``annotations.json`` under ``root``; returns the json path."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(n):
        image = rng.integers(0, 80, size=(size, size, 3), dtype=np.uint8)
        h = rng.uniform(0.55, 0.85) * size
        w = h * rng.uniform(0.45, 0.7)
        x0, y0 = rng.uniform(0, size - w), rng.uniform(0, size - h)
        kp = _TEMPLATE * [w, h] + [x0, y0]
        kp[7:11] += rng.normal(0, 0.08, size=(4, 2)) * [w, h]  # arms move
        kp[13:17] += rng.normal(0, 0.04, size=(4, 2)) * [w, h]  # legs move
        colour = tuple(int(c) for c in rng.integers(120, 256, size=3))
        for a, b in COCO17.limbs:
            cv2.line(image, tuple(np.round(kp[a]).astype(int)), tuple(np.round(kp[b]).astype(int)), colour, 2)
        for j, p in enumerate(kp):
            cv2.circle(image, tuple(np.round(p).astype(int)), 2, (255 - 12 * j, 40 + 12 * j, 200), -1)
        name = f"{i:05d}.png"
        cv2.imwrite(str(root / "images" / name), image)
        images.append({"id": i + 1, "file_name": name, "width": size, "height": size})
        lo, hi = kp.min(axis=0), kp.max(axis=0)
        flat = np.concatenate([kp, np.full((17, 1), 2.0)], axis=1).reshape(-1)
        annotations.append({
            "id": i + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0, "num_keypoints": 17,
            "keypoints": [round(float(v), 2) for v in flat],
            "bbox": [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])],
            "area": float((hi - lo).prod()),
        })
    data = {
        "images": images, "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "keypoints": list(COCO17.names),
                        "skeleton": [[a + 1, b + 1] for a, b in COCO17.limbs]}],
    }
    path = root / "annotations.json"
    path.write_text(json.dumps(data))
    return path
