"""CrowdPose: COCO-format json with 14 keypoints, plus its crowd-index difficulty split.

The loading rules are those of :mod:`edgepose.data.coco`. CrowdPose images carry a
``crowdIndex`` in [0, 1]; the benchmark reports AP on easy (< 0.1), medium (0.1 to 0.8)
and hard (> 0.8) images, which :func:`crowd_index_split` returns as image id lists for
:func:`edgepose.evaluate.coco_keypoint_ap`.
"""

from __future__ import annotations

import os

from edgepose.codecs import Codec
from edgepose.errors import InputError
from edgepose.geometry import DEFAULT_PADDING
from edgepose.zoo import ModelSpec

from edgepose.data.coco import CocoPoseDataset
from edgepose.data.topdown import read_json, require_keys
from edgepose.data.transforms import AugmentConfig

CROWDPOSE_KEYPOINT_SET = "crowdpose14"
#: crowd-index bounds of the CrowdPose difficulty split: easy < 0.1 <= medium <= 0.8 < hard.
EASY_MAX, HARD_MIN = 0.1, 0.8


def crowd_index_split(ann_file: str | os.PathLike[str]) -> dict[str, list[int]]:
    """Image ids per difficulty: ``{"easy": [...], "medium": [...], "hard": [...]}``.

    Raises:
        AnnotationError: an image lacks ``crowdIndex`` (or the file is broken).
    """
    data = read_json(ann_file, "annotation")
    require_keys(data, ("images",), f"{ann_file}: top level")
    split: dict[str, list[int]] = {"easy": [], "medium": [], "hard": []}
    for i, img in enumerate(data["images"]):
        require_keys(img, ("id", "crowdIndex"), f"{ann_file}: images[{i}]")
        ci = float(img["crowdIndex"])
        level = "easy" if ci < EASY_MAX else ("hard" if ci > HARD_MIN else "medium")
        split[level].append(int(img["id"]))
    return split


class CrowdPoseDataset(CocoPoseDataset):
    """CrowdPose person crops; the spec must use the ``crowdpose14`` keypoint set.

    Arguments as :class:`edgepose.data.coco.CocoPoseDataset`.
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
        if spec.keypoint_set != CROWDPOSE_KEYPOINT_SET:
            raise InputError(
                f"model {spec.name!r} uses {spec.keypoint_set}; CrowdPose needs {CROWDPOSE_KEYPOINT_SET}"
            )
        super().__init__(
            ann_file, image_dir, spec, train=train, detections=detections,
            det_score_threshold=det_score_threshold, augment=augment, seed=seed, codec=codec,
            padding=padding,
        )

