"""Writing a dataset: COCO records of samples, image files, and parallel generation that
is byte-identical whatever the number of worker processes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from edgepose.data.synth import pose as synth_pose
from edgepose.data.synth.backgrounds import get_background_library
from edgepose.data.synth.body import BodyModel, get_body_model
from edgepose.data.synth.config import KEYPOINT_SET, SYNTH_VERSION, SynthConfig
from edgepose.data.synth.debian_assets import MANIFEST
from edgepose.data.synth.scene import SynthSample, render_scene
from edgepose.errors import InputError
from edgepose.skeleton import get_keypoint_set

logger = logging.getLogger(__name__)


def coco_categories() -> list[dict]:
    """The COCO ``categories`` list: one "person" with keypoint names and 1-based skeleton."""
    kset = get_keypoint_set(KEYPOINT_SET)
    return [{
        "id": 1, "name": "person", "supercategory": "person",
        "keypoints": list(kset.names),
        "skeleton": [[a + 1, b + 1] for a, b in kset.limbs],
    }]


def _rle(mask: np.ndarray) -> dict:
    """COCO compressed RLE of an (H, W) bool mask, counts as str."""
    from pycocotools import mask as mask_utils  # noqa: PLC0415

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def sample_to_coco(sample: SynthSample, image_id: int, file_name: str) -> tuple[dict, list[dict]]:
    """COCO ``image`` record and ``annotations`` (without ids) for one sample."""
    h, w = sample.image.shape[:2]
    image = {"id": image_id, "file_name": file_name, "height": h, "width": w}
    annotations = []
    for i in range(sample.keypoints.shape[0]):
        kp = sample.keypoints[i]
        flat = []
        for x, y, v in kp:
            flat += [round(float(x), 2), round(float(y), 2), int(v)]
        annotations.append({
            "image_id": image_id,
            "category_id": 1,
            "iscrowd": 0,
            "keypoints": flat,
            "num_keypoints": int(np.count_nonzero(kp[:, 2] > 0)),
            "bbox": [float(b) for b in sample.boxes[i]],
            "area": float(sample.areas[i]),
            "segmentation": _rle(sample.masks[i]),
            "pose_family": sample.families[i],
        })
    return image, annotations


def _write_image(path: Path, image_rgb: np.ndarray, config: SynthConfig) -> None:
    """Write an RGB image as JPEG or PNG (deterministic encoders)."""
    bgr = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality] if config.image_format == "jpg" else \
        [cv2.IMWRITE_PNG_COMPRESSION, 6]
    if not cv2.imwrite(str(path), bgr, params):
        raise OSError(f"could not write image {path}")


def _image_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of image ``index`` of a dataset: independent of worker layout."""
    return np.random.default_rng([seed, index])


def _render_and_write(index: int, seed: int, image_dir: Path, config: SynthConfig,
                      body: BodyModel) -> tuple[dict, list[dict]]:
    sample = render_scene(body, _image_rng(seed, index), config)
    file_name = f"{index:07d}.{config.image_format}"
    _write_image(image_dir / file_name, sample.image, config)
    return sample_to_coco(sample, index + 1, file_name)


# Worker-process state (spawned processes).
_WORKER: dict = {}


def _worker_init(seed: int, image_dir: str, config: SynthConfig) -> None:
    import torch  # noqa: PLC0415

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    _WORKER.update(seed=seed, image_dir=Path(image_dir), config=config, body=get_body_model())


def _worker_task(index: int) -> tuple[dict, list[dict]]:
    w = _WORKER
    return _render_and_write(index, w["seed"], w["image_dir"], w["config"], w["body"])


def _iter_records(n: int, seed: int, image_dir: Path, config: SynthConfig, workers: int
                  ) -> Iterator[tuple[dict, list[dict]]]:
    """COCO records of images 0..n-1 in order, rendered here or in ``workers`` processes."""
    if workers <= 1:
        import torch  # noqa: PLC0415

        body = get_body_model()
        threads, cv_threads = torch.get_num_threads(), cv2.getNumThreads()
        torch.set_num_threads(1)
        cv2.setNumThreads(1)
        try:
            for index in range(n):
                yield _render_and_write(index, seed, image_dir, config, body)
        finally:
            torch.set_num_threads(threads)
            cv2.setNumThreads(cv_threads)
        return
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_worker_init, initargs=(seed, str(image_dir), config)) as pool:
        yield from pool.imap(_worker_task, range(n), chunksize=4)


def generate_dataset(
    out_dir: str | os.PathLike,
    n: int,
    size: int = 128,
    seed: int = 0,
    people_max: int = 3,
    workers: int = 1,
    config: SynthConfig | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Path:
    """Render ``n`` images into a COCO keypoint dataset.

    Layout: ``out_dir/images/0000000.jpg ...`` and
    ``out_dir/annotations/person_keypoints.json`` (``file_name`` is relative to
    ``images/``). The json ``info`` records :data:`SYNTH_VERSION`, the seed and the
    settings. Same arguments -> byte-identical files, whatever ``workers``.

    Args:
        out_dir: output folder (created; existing files of the same names are replaced).
        n: number of images (>= 1).
        size: image side in pixels (overrides ``config.size``).
        seed: dataset seed.
        people_max: at most this many people per image, 1-3 (overrides ``config``).
        workers: processes rendering in parallel (1: in this process).
        config: other settings (:class:`SynthConfig`).
        on_progress: called with the number of images finished since the last call.

    Returns:
        Path of the annotation json.

    Raises:
        InputError: for n < 1, workers < 1 or invalid settings.
    """
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    if workers < 1:
        raise InputError(f"workers must be >= 1, got {workers}")
    config = dataclasses.replace(config or SynthConfig(), size=size, people_max=people_max)
    photos = get_background_library(config.background_dir, config.photo_split) if config.uses_photos else None
    if photos is not None and config.ground_prob > 0:
        photos.require_tileable()
    out = Path(out_dir)
    image_dir = out / "images"
    ann_dir = out / "annotations"
    image_dir.mkdir(parents=True, exist_ok=True)
    ann_dir.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    images, annotations = [], []
    for image, anns in _iter_records(n, seed, image_dir, config, workers):
        images.append(image)
        for ann in anns:
            annotations.append({"id": len(annotations) + 1, **ann})
        if on_progress is not None:
            on_progress(1)
    elapsed = time.perf_counter() - start
    logger.info("rendered %d images (%d people) in %.1f s: %.1f images/s", n, len(annotations), elapsed,
                n / max(elapsed, 1e-9))

    settings = dataclasses.asdict(config)
    settings["pose_family_weights"] = dict(config.pose_family_weights or synth_pose.POSE_FAMILIES)
    info = {
        "description": "edgepose synthetic humans (anny body model, procedural scenes)",
        "version": SYNTH_VERSION,
        "generator": "edgepose.data.synth",
        "body_model": f"anny {_anny_version()}",
        "seed": seed,
        "num_images": n,
        "settings": settings,
        "coordinates": "pixel centres at integer coordinates (OpenCV); v: 0 outside image, 1 hidden, 2 visible",
    }
    if photos is not None:
        manifest = (photos.cache_dir / MANIFEST).read_bytes()
        info["description"] = "edgepose synthetic humans (anny body model, procedural scenes, background photos)"
        info["background_photos"] = {"split": photos.split, "count": len(photos),
                                     "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
                                     "packages": sorted({r["package"] for r in photos.records})}
    dataset = {
        "info": info,
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": coco_categories(),
    }
    path = ann_dir / "person_keypoints.json"
    path.write_text(json.dumps(dataset, separators=(",", ":")))
    return path


def _anny_version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("anny")
    except PackageNotFoundError:
        return "unknown"
