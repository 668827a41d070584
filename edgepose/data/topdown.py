"""Shared top-down dataset logic: a table of person crops and the dataset that samples it.

A dataset is a :class:`PersonTable` (one row per person crop: image file, box, crop
centre/scale, keypoints, score) plus a :class:`TopDownDataset` that turns a row into a
model sample: read the image (BGR), draw the augmentation (training only), warp the
crop, move the keypoints with the same matrix, normalise the image like inference
and encode the targets with the model's codec.

The table is stored as a few numpy arrays rather than a list of Python objects, so
DataLoader workers share it copy-on-write without touching reference counts.

Sample (a dict; numpy arrays, which the default torch collate turns into tensors)::

    image          (3, H, W) float32, model-normalised (colour order, mean/std of the spec)
    <codec keys>   SimDR: target_x (K, W*k), target_y (K, H*k), target_weight (K,)
                   heatmap: heatmap (K, h, w), target_weight (K,)
    meta           dict:
      index        int, row of the table (MPII: entry of the json)
      image_id     int, dataset image id
      bbox         (4,) person box (x, y, w, h) image px; score: float box score (1 for GT)
      center, scale  (2,) px: the crop's centre and (w, h); when ``flip`` the centre is in
                   the mirrored image (x -> W - 1 - x), as in the official code
      rotation     float degrees; flip, half_body: bool
      matrix       (2, 3) original image -> crop (flip included): crop keypoints map back
                   with ``edgepose.preprocess.crops_to_frame(kp, matrix)``
      keypoints    (K, 2) ground truth in image px (zeros for detected boxes); visible (K,)

Randomness: sample ``i`` of epoch ``e`` uses ``numpy.random.default_rng([seed, e, i])``,
so samples do not depend on which worker loads them (:func:`worker_init_fn` only seeds
the global generators, for user code);
call :meth:`TopDownDataset.set_epoch` before each epoch (with ``persistent_workers=False``,
the DataLoader default, so workers get the new epoch).

OpenCV threads: to limit them, call ``cv2.setNumThreads(n)`` in the main process before
the DataLoader starts its workers; calling it inside a forked worker after the parent
used OpenCV deadlocks (OpenCV's thread pool state is copied by fork).
"""

from __future__ import annotations

import json
import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgepose.codecs import Codec
from edgepose.errors import EdgeposeError, InputError
from edgepose.zoo import ModelSpec

from edgepose.data.transforms import (
    AugmentConfig,
    CropParams,
    crop_person,
    normalize,
    sample_crop,
    upper_body_index,
)

logger = logging.getLogger(__name__)


class AnnotationError(InputError):
    """An annotation or detection file is malformed: bad JSON, missing keys, wrong sizes."""


class DataFileNotFoundError(EdgeposeError, FileNotFoundError):
    """An annotation file or an image listed in one does not exist on disk."""


class ImageReadError(EdgeposeError, OSError):
    """An image file exists but OpenCV cannot decode it."""


def read_json(path: str | os.PathLike[str], what: str) -> Any:
    """Parse a JSON file; clear edgepose errors naming the file when it is missing or broken."""
    p = Path(path)
    if not p.is_file():
        raise DataFileNotFoundError(f"{what} file {p} does not exist")
    try:
        with p.open("r", encoding="utf-8") as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"{what} file {p} is not valid JSON: {exc}") from None


def require_keys(entry: Any, keys: tuple[str, ...], where: str) -> None:
    """Raise AnnotationError unless ``entry`` is a dict holding every key in ``keys``."""
    if not isinstance(entry, dict):
        raise AnnotationError(f"{where} is a {type(entry).__name__}, expected a JSON object")
    missing = [k for k in keys if k not in entry]
    if missing:
        raise AnnotationError(f"{where} lacks key(s) {missing}")


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image as (H, W, 3) uint8 BGR (EXIF orientation ignored, as the official code).

    Raises:
        DataFileNotFoundError: the file does not exist.
        ImageReadError: OpenCV cannot decode it.
    """
    p = Path(path)
    if not p.is_file():
        raise DataFileNotFoundError(f"image {p} does not exist")
    image = cv2.imread(str(p), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise ImageReadError(f"image {p} exists but cannot be decoded by OpenCV")
    return image


@dataclass(frozen=True)
class PersonTable:
    """Person crops of one dataset split, as arrays (N persons, M images, K keypoints).

    Attributes:
        source: the annotation file the table came from (named in errors).
        image_files: (M,) str, image paths.
        image_index: (N,) int64, row -> index into ``image_files``.
        image_ids: (N,) int64, dataset image id (COCO ``image_id``; MPII: entry index).
        boxes: (N, 4) float64 person box (x, y, w, h) px.
        centers: (N, 2) float64 crop centre px; scales: (N, 2) float64 crop (w, h) px.
        keypoints: (N, K, 2) float64 px (zeros where unknown, e.g. detected boxes).
        visible: (N, K) float32, > 0 where labelled.
        scores: (N,) float64 box score (1 for ground-truth boxes).
    """

    source: str
    image_files: np.ndarray
    image_index: np.ndarray
    image_ids: np.ndarray
    boxes: np.ndarray
    centers: np.ndarray
    scales: np.ndarray
    keypoints: np.ndarray
    visible: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.image_index)
        k = self.keypoints.shape[1] if self.keypoints.ndim == 3 else -1
        shapes = {
            "image_ids": (self.image_ids.shape, (n,)), "boxes": (self.boxes.shape, (n, 4)),
            "centers": (self.centers.shape, (n, 2)), "scales": (self.scales.shape, (n, 2)),
            "keypoints": (self.keypoints.shape, (n, k, 2)), "visible": (self.visible.shape, (n, k)),
            "scores": (self.scores.shape, (n,)),
        }
        for name, (got, want) in shapes.items():
            if got != want:
                raise InputError(f"PersonTable.{name} has shape {got}, expected {want}")

    def __len__(self) -> int:
        return len(self.image_index)

    @property
    def num_keypoints(self) -> int:
        """K."""
        return int(self.keypoints.shape[1])

    def image_path(self, row: int) -> str:
        """Image path of row ``row``."""
        return str(self.image_files[self.image_index[row]])


class PersonTableBuilder:
    """Collects rows, then freezes them into a :class:`PersonTable`."""

    def __init__(self, source: str, num_keypoints: int) -> None:
        self.source = source
        self.num_keypoints = num_keypoints
        self._image_slot: dict[str, int] = {}
        self._rows: dict[str, list[Any]] = {k: [] for k in (
            "image_index", "image_ids", "boxes", "centers", "scales", "keypoints", "visible", "scores")}

    def add(
        self, image_file: str, image_id: int, box: np.ndarray, center: np.ndarray,
        scale: np.ndarray, keypoints: np.ndarray, visible: np.ndarray, score: float,
    ) -> None:
        """Append one person (shapes as in :class:`PersonTable`, one row)."""
        slot = self._image_slot.setdefault(image_file, len(self._image_slot))
        for key, value in (
            ("image_index", slot), ("image_ids", image_id), ("boxes", box), ("centers", center),
            ("scales", scale), ("keypoints", keypoints), ("visible", visible), ("scores", score),
        ):
            self._rows[key].append(value)

    def __len__(self) -> int:
        return len(self._rows["image_index"])

    def build(self) -> PersonTable:
        """Freeze the rows; AnnotationError if there are none."""
        if not len(self):
            raise AnnotationError(f"{self.source}: no usable person annotations")
        r, k = self._rows, self.num_keypoints
        return PersonTable(
            source=self.source,
            image_files=np.array(list(self._image_slot), dtype=np.str_),
            image_index=np.asarray(r["image_index"], dtype=np.int64),
            image_ids=np.asarray(r["image_ids"], dtype=np.int64),
            boxes=np.asarray(r["boxes"], dtype=np.float64).reshape(-1, 4),
            centers=np.asarray(r["centers"], dtype=np.float64).reshape(-1, 2),
            scales=np.asarray(r["scales"], dtype=np.float64).reshape(-1, 2),
            keypoints=np.asarray(r["keypoints"], dtype=np.float64).reshape(-1, k, 2),
            visible=np.asarray(r["visible"], dtype=np.float32).reshape(-1, k),
            scores=np.asarray(r["scores"], dtype=np.float64),
        )


class TopDownDataset:
    """Map-style dataset of top-down person crops (works with ``torch.utils.data.DataLoader``).

    Args:
        table: the persons.
        spec: the model's spec: ``input_hw``, codec, keypoint set, mean/std, colour order.
        train: draw augmentation (else: the plain box crop, as at inference).
        augment: augmentation settings (training only); default :class:`AugmentConfig`.
        seed: base seed; sample i of epoch e uses ``default_rng([seed, e, i])``.
        codec: overrides ``spec.build_codec()`` (e.g. a different label smoothing).
    """

    def __init__(
        self,
        table: PersonTable,
        spec: ModelSpec,
        *,
        train: bool,
        augment: AugmentConfig | None = None,
        seed: int = 0,
        codec: Codec | None = None,
    ) -> None:
        keypoint_set = spec.keypoints()
        if table.num_keypoints != keypoint_set.num_keypoints:
            raise InputError(
                f"{table.source} has {table.num_keypoints} keypoints per person but model "
                f"{spec.name!r} uses {keypoint_set.name} ({keypoint_set.num_keypoints})"
            )
        if augment is not None and not train:
            raise InputError("augmentation is for training; pass train=True or augment=None")
        self.table = table
        self.spec = spec
        self.train = bool(train)
        self.augment = (augment or AugmentConfig()) if train else None
        if int(seed) < 0:
            raise InputError(f"seed must be >= 0; got {seed}")
        self.seed = int(seed)
        self.epoch = 0
        self.codec = codec if codec is not None else spec.build_codec()
        if tuple(self.codec.input_hw) != tuple(spec.input_hw):
            raise InputError(f"codec input_hw {self.codec.input_hw} != spec input_hw {spec.input_hw}")
        self.input_hw = (int(spec.input_hw[0]), int(spec.input_hw[1]))
        self.flip_index = keypoint_set.flip_index()
        self.upper_index = upper_body_index(keypoint_set)

    def __len__(self) -> int:
        return len(self.table)

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation stream of ``epoch`` (call before iterating each epoch)."""
        if int(epoch) < 0:
            raise InputError(f"epoch must be >= 0; got {epoch}")
        self.epoch = int(epoch)

    def rng(self, index: int) -> np.random.Generator:
        """The generator of sample ``index`` in the current epoch."""
        return np.random.default_rng([self.seed, self.epoch, int(index)])

    def crop_params(self, index: int, image_width: int) -> CropParams:
        """The crop of sample ``index``: augmented when training, the plain box crop otherwise."""
        t = self.table
        if self.augment is None:
            return CropParams(center=t.centers[index].copy(), scale=t.scales[index].copy(), rotation=0.0, flip=False)
        return sample_crop(
            self.rng(index), self.augment, t.centers[index], t.scales[index],
            t.keypoints[index], t.visible[index], self.upper_index, self.input_hw, image_width,
        )

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} persons")
        t = self.table
        image = load_image(t.image_path(index))
        params = self.crop_params(index, image.shape[1])
        crop, kp_crop, vis_crop, matrix = crop_person(
            image, t.keypoints[index], t.visible[index], params, self.input_hw, self.flip_index
        )
        targets = self.codec.encode(kp_crop, vis_crop)
        meta = {
            "index": int(index),
            "image_id": int(t.image_ids[index]),
            "bbox": t.boxes[index].copy(),
            "score": float(t.scores[index]),
            "center": params.center,
            "scale": params.scale,
            "rotation": float(params.rotation),
            "flip": bool(params.flip),
            "half_body": bool(params.half_body),
            "matrix": matrix,
            "keypoints": t.keypoints[index].copy(),
            "visible": t.visible[index].copy(),
        }
        return {"image": normalize(crop, self.spec.input_spec), **targets, "meta": meta}



def worker_init_fn(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: give each worker its own numpy / ``random`` global seed.

    The datasets here do not need it (each sample seeds its own generator from
    (seed, epoch, index)), but code that calls ``np.random.*`` or ``random.*`` inside a
    worker would otherwise draw the same numbers in every forked worker. The seed is
    torch's per-worker seed (``base_seed + worker_id``). It does not touch OpenCV (see
    the module docstring).
    """
    import torch  # only DataLoader workers call this

    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
    logger.debug("data worker %d seeded with %d", worker_id, seed)
