"""Background photographs for the renderer: the cached images (filled by
:mod:`edgepose.data.synth.debian_assets`), a fixed train / OOD split, and random crops
with scale, flip and colour shifts.

The split is decided by each image's ``source_sha256`` (the sha256 of the original file
in its Debian package), so it is the same on every machine and does not move when
other images are added: about one image in :data:`OOD_MODULUS` is held out for the
out-of-distribution val set.

Images are RGB; crops are ``(H, W, 3) float32`` in [0, 1].
"""

from __future__ import annotations

import functools
import json
import math
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from edgepose.data.synth.debian_assets import MANIFEST, default_cache_dir, scaled_down
from edgepose.errors import InputError

SPLITS = ("train", "ood")
#: One image in this many (by ``source_sha256``) belongs to the OOD split.
OOD_MODULUS = 5
#: Decoded images kept in memory per process (each at most 1024 px on its longer side).
_DECODED_CACHE = 64


def split_of(source_sha256: str) -> str:
    """``"ood"`` or ``"train"`` for an image, from the sha256 (hex) of its original file."""
    return "ood" if int(source_sha256[:8], 16) % OOD_MODULUS == 0 else "train"


def fetch_command(cache_dir: Path) -> str:
    """The command that fills ``cache_dir``."""
    default = cache_dir == default_cache_dir()
    return "python training/fetch_backgrounds.py" + ("" if default else f" --out {cache_dir}")


class BackgroundLibrary:
    """The background photographs of one split of a cache folder.

    Attributes:
        cache_dir: the cache folder.
        split: ``"train"`` or ``"ood"``.
        records: manifest rows of the split's images, in manifest order.
        tileable: indices (into ``records``) of the repeating textures.
    """

    def __init__(self, cache_dir: Path, split: str) -> None:
        if split not in SPLITS:
            raise InputError(f"background split must be one of {', '.join(SPLITS)}; got {split!r}")
        manifest = cache_dir / MANIFEST
        if not manifest.is_file():
            raise InputError(f"no background photos in {cache_dir} (no {MANIFEST}): run {fetch_command(cache_dir)}")
        records = [r for r in json.loads(manifest.read_text())["images"] if split_of(r["source_sha256"]) == split]
        missing = [r["file"] for r in records if not (cache_dir / r["file"]).is_file()]
        if missing:
            raise InputError(f"{len(missing)} background photos listed in {manifest} are missing (first: "
                             f"{missing[0]}): run {fetch_command(cache_dir)}")
        if not records:
            raise InputError(f"the {split!r} split of {cache_dir} holds no photos: run {fetch_command(cache_dir)}")
        self.cache_dir = cache_dir
        self.split = split
        self.records = records
        self.tileable = [i for i, r in enumerate(records) if r.get("tileable")]
        self._decoded: OrderedDict[int, np.ndarray] = OrderedDict()
        self._small: dict[tuple[int, int], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.records)

    def require_tileable(self) -> list[int]:
        """:attr:`tileable`; raises InputError when the split holds no repeating texture."""
        if not self.tileable:
            raise InputError(f"the {self.split!r} split of {self.cache_dir} holds no ground textures: run "
                             f"{fetch_command(self.cache_dir)} --packages supertuxkart-data")
        return self.tileable

    def image(self, index: int) -> np.ndarray:
        """Image ``index`` of the split, (H, W, 3) uint8 RGB (decoded once, kept in a small cache)."""
        if index in self._decoded:
            self._decoded.move_to_end(index)
            return self._decoded[index]
        path = self.cache_dir / self.records[index]["file"]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"cannot read background photo {path}: run {fetch_command(self.cache_dir)}")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        self._decoded[index] = rgb
        if len(self._decoded) > _DECODED_CACHE:
            self._decoded.popitem(last=False)
        return rgb

    def small_image(self, index: int, side: int) -> np.ndarray:
        """Image ``index`` scaled down to at most ``side`` pixels on its longer side (kept)."""
        key = (index, side)
        if key not in self._small:
            self._small[key] = scaled_down(self.image(index), side)
        return self._small[key]

    def crop(self, rng: np.random.Generator, hw: tuple[int, int], min_fraction: float = 0.25) -> np.ndarray:
        """A random crop of a random photo, resized to ``hw``, perhaps mirrored, colour-shifted.

        Args:
            rng: random generator (the only source of randomness).
            hw: (H, W) of the result in pixels.
            min_fraction: smallest crop side as a fraction of the largest crop of the
                target aspect ratio that fits the photo.

        Returns:
            (H, W, 3) float32 RGB in [0, 1].
        """
        height, width = hw
        index = int(rng.integers(0, len(self.records)))
        photo = self.image(index)
        if self.records[index].get("tileable"):
            return colour_shift(rng, tiled(rng, photo, hw).astype(np.float32) / 255.0)
        ph, pw = photo.shape[:2]
        aspect = width / height
        full_h = min(ph, pw / aspect)
        crop_h = full_h * rng.uniform(min_fraction, 1.0)
        crop_w = min(pw, crop_h * aspect)
        y0 = rng.uniform(0.0, ph - crop_h)
        x0 = rng.uniform(0.0, pw - crop_w)
        r0, c0 = int(math.floor(y0)), int(math.floor(x0))
        r1 = min(ph, max(r0 + 1, int(round(y0 + crop_h))))
        c1 = min(pw, max(c0 + 1, int(round(x0 + crop_w))))
        patch = photo[r0:r1, c0:c1]
        shrinking = patch.shape[0] >= height
        out = cv2.resize(patch, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
        if rng.random() < 0.5:
            out = out[:, ::-1]
        return colour_shift(rng, out.astype(np.float32) / 255.0)


def tiled(rng: np.random.Generator, texture: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """A repeating texture laid over (H, W) at a random scale (0.15 to 1 output pixel per
    texture pixel), offset and mirroring; returns (H, W, 3) uint8."""
    height, width = hw
    scale = rng.uniform(0.15, 1.0)
    th, tw = texture.shape[:2]
    need_h, need_w = int(math.ceil(height / scale)) + 1, int(math.ceil(width / scale)) + 1
    y0, x0 = int(rng.integers(0, th)), int(rng.integers(0, tw))
    reps = (int(math.ceil((need_h + y0) / th)), int(math.ceil((need_w + x0) / tw)), 1)
    patch = np.tile(texture, reps)[y0:y0 + need_h, x0:x0 + need_w]
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    return cv2.resize(np.ascontiguousarray(patch), (width, height), interpolation=cv2.INTER_AREA)


def colour_shift(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Random brightness, contrast, per-channel gain and (sometimes) desaturation of an
    (H, W, 3) float32 [0, 1] image; returns a new float32 image clipped to [0, 1]."""
    grey = image.mean(axis=2, keepdims=True)
    if rng.random() < 0.2:
        image = grey + (image - grey) * np.float32(rng.uniform(0.0, 0.7))
    contrast = np.float32(rng.uniform(0.7, 1.2))
    brightness = np.float32(rng.uniform(0.65, 1.2))
    gain = rng.uniform(0.88, 1.12, size=3).astype(np.float32)
    mean = np.float32(image.mean())
    image = ((image - mean) * contrast + mean) * brightness * gain[None, None, :]
    return np.clip(image, 0.0, 1.0).astype(np.float32)


@functools.lru_cache(maxsize=4)
def get_background_library(cache_dir: str | None, split: str) -> BackgroundLibrary:
    """The process-wide library of a cache folder (None: :func:`default_cache_dir`) and split."""
    return BackgroundLibrary(Path(cache_dir) if cache_dir else default_cache_dir(), split)
