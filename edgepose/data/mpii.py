"""MPII Human Pose in the json format of the HRNet-family code (``train.json``, ``valid.json``).

Each entry: ``{"image": file name, "center": [x, y], "scale": s, "joints": (16, 2),
"joints_vis": (16,)}``, with 1-based (Matlab) pixel coordinates and ``s`` the person
height in units of 200 px. As in the official loader:

* unless ``center[0] == -1``, the centre moves down by ``15 * s`` px and ``s`` grows by 1.25;
* centre and joints are converted to 0-based by subtracting 1;
* nothing is filtered: row i of the table is entry i of the file (and of ``gt_valid.mat``
  for the validation split), so predictions can be matched by ``meta["index"]``.

The crop is the ``200 s x 200 s`` square around the centre, grown to the model's aspect
ratio and padded by 1.25 (:func:`edgepose.geometry.box_to_center_scale`); for the official
square 256x256 input this is exactly the official ``s * 1.25 * 200`` px crop.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from edgepose.codecs import Codec
from edgepose.errors import InputError
from edgepose.geometry import DEFAULT_PADDING, box_to_center_scale
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

MPII_KEYPOINT_SET = "mpii16"
NUM_JOINTS = 16
PIXEL_STD = 200.0
ENTRY_KEYS = ("image", "center", "scale", "joints", "joints_vis")
#: The official MPII training augmentation: scale +-25 %, rotation 30 deg, no half-body.
MPII_AUGMENT = AugmentConfig(scale_factor=0.25, rotation_factor=30.0, half_body_prob=0.0)


def _array(value: object, shape: tuple[int, ...], where: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise AnnotationError(f"{where} is not numeric: {value!r}") from None
    if arr.shape != shape or not np.all(np.isfinite(arr)):
        raise AnnotationError(f"{where} must have shape {shape} and be finite; got {arr.shape}")
    return arr


def load_mpii_persons(
    ann_file: str | os.PathLike[str],
    image_dir: str | os.PathLike[str],
    input_hw: tuple[int, int],
    padding: float = DEFAULT_PADDING,
) -> PersonTable:
    """Persons of an HRNet-format MPII json, 0-based (see module docstring).

    Raises:
        DataFileNotFoundError: no such file.
        AnnotationError: bad JSON, missing keys, wrong array sizes, non-positive scale.
    """
    path = Path(ann_file)
    entries = read_json(path, "annotation")
    if not isinstance(entries, list):
        raise AnnotationError(f"{path}: expected a JSON list of person entries")
    table = PersonTableBuilder(str(path), NUM_JOINTS)
    for i, entry in enumerate(entries):
        where = f"{path}: entry [{i}]"
        require_keys(entry, ENTRY_KEYS, where)
        center = _array(entry["center"], (2,), f"{where} center")
        s = float(_array(entry["scale"], (), f"{where} scale"))
        if s <= 0:
            raise AnnotationError(f"{where}: scale must be > 0; got {s}")
        joints = _array(entry["joints"], (NUM_JOINTS, 2), f"{where} joints")
        vis = _array(entry["joints_vis"], (NUM_JOINTS,), f"{where} joints_vis")
        if center[0] != -1:
            center[1] += 15 * s
            s *= 1.25
        center -= 1.0
        side = s * PIXEL_STD
        box = np.array([center[0] - side / 2, center[1] - side / 2, side, side])
        crop_center, crop_scale = box_to_center_scale(box, input_hw, padding)
        table.add(
            str(Path(image_dir) / str(entry["image"])), i, box, crop_center, crop_scale,
            joints - 1.0, (vis > 0).astype(np.float32), 1.0,
        )
    result = table.build()
    logger.info("%s: %d persons in %d images", path.name, len(result), len(result.image_files))
    return result


class MpiiDataset(TopDownDataset):
    """MPII person crops; the spec must use the ``mpii16`` keypoint set.

    ``meta["image_id"]`` and ``meta["index"]`` are the entry's position in the json.
    Training uses :data:`MPII_AUGMENT` unless ``augment`` is given.

    Args:
        ann_file: HRNet-format json; image_dir: the ``images`` folder;
        spec, train, augment, seed, codec: see :class:`TopDownDataset`;
        padding: crop padding factor (1.25).
    """

    def __init__(
        self,
        ann_file: str | os.PathLike[str],
        image_dir: str | os.PathLike[str],
        spec: ModelSpec,
        *,
        train: bool,
        augment: AugmentConfig | None = None,
        seed: int = 0,
        codec: Codec | None = None,
        padding: float = DEFAULT_PADDING,
    ) -> None:
        if spec.keypoint_set != MPII_KEYPOINT_SET:
            raise InputError(f"model {spec.name!r} uses {spec.keypoint_set}; MPII needs {MPII_KEYPOINT_SET}")
        table = load_mpii_persons(ann_file, image_dir, spec.input_hw, padding)
        if train and augment is None:
            augment = MPII_AUGMENT
        self.ann_file = Path(ann_file)
        super().__init__(table, spec, train=train, augment=augment, seed=seed, codec=codec)
