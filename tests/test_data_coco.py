"""COCO-format datasets (COCO, CrowdPose, synthetic): loading, filters, targets, errors, DataLoader."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgepose.data import (
    AnnotationError,
    AugmentConfig,
    CocoPoseDataset,
    CrowdPoseDataset,
    DataFileNotFoundError,
    crowd_index_split,
    worker_init_fn,
)
from edgepose.errors import InputError
from edgepose.preprocess import crops_to_frame
from edgepose.skeleton import get_keypoint_set
from edgepose.zoo import get_spec

IMAGE_HW = (200, 240)
SYNTH = Path(__file__).parent / "fixtures" / "synth_small"


def _person(rng: np.random.Generator, k: int, x0: float, y0: float, w: float, h: float) -> np.ndarray:
    """(K, 3) keypoints inside the box, all visible (v = 2)."""
    kp = np.column_stack([rng.uniform(x0 + 5, x0 + w - 5, k), rng.uniform(y0 + 5, y0 + h - 5, k), np.full(k, 2.0)])
    return np.round(kp, 2)


def write_tiny_coco(root: Path, num_keypoints: int = 17, crowd_index: bool = False) -> tuple[Path, Path]:
    """Three images with dots at the keypoints, plus a crowd and a keypoint-less annotation."""
    rng = np.random.default_rng(0)
    image_dir = root / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    boxes = {1: [(20, 10, 90, 170), (130, 30, 80, 150)], 2: [(60, 20, 100, 160)], 3: [(10, 40, 200, 120)]}
    images, annotations = [], []
    for image_id, person_boxes in boxes.items():
        canvas = np.zeros((*IMAGE_HW, 3), dtype=np.uint8)
        for box in person_boxes:
            kp = _person(rng, num_keypoints, *box)
            if image_id == 3:
                kp[num_keypoints // 2:, 2] = 0  # half unlabelled
                kp[num_keypoints // 2:, :2] = 0
            for x, y, v in kp:
                if v > 0:
                    cv2.circle(canvas, (int(round(x)), int(round(y))), 4, (255, 255, 255), -1)
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                "bbox": list(box), "area": float(box[2] * box[3]), "keypoints": kp.reshape(-1).tolist(),
                "num_keypoints": int((kp[:, 2] > 0).sum()),
            })
        name = f"{image_id:012d}.jpg"
        cv2.imwrite(str(image_dir / name), canvas, [cv2.IMWRITE_JPEG_QUALITY, 98])
        entry = {"id": image_id, "file_name": name, "width": IMAGE_HW[1], "height": IMAGE_HW[0]}
        if crowd_index:
            entry["crowdIndex"] = {1: 0.05, 2: 0.5, 3: 0.9}[image_id]
        images.append(entry)
    zeros = [0.0] * (3 * num_keypoints)
    annotations.append({"id": 100, "image_id": 1, "category_id": 1, "iscrowd": 1, "bbox": [0, 0, 50, 50],
                        "area": 2500.0, "keypoints": zeros, "num_keypoints": 0})
    annotations.append({"id": 101, "image_id": 2, "category_id": 1, "iscrowd": 0, "bbox": [5, 5, 30, 30],
                        "area": 900.0, "keypoints": zeros, "num_keypoints": 0})
    data = {
        "images": images, "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(num_keypoints)]}],
    }
    ann_file = root / "annotations.json"
    ann_file.write_text(json.dumps(data))
    return ann_file, image_dir


@pytest.fixture()
def tiny_coco(tmp_path: Path) -> tuple[Path, Path]:
    return write_tiny_coco(tmp_path)


def _decode_targets(ds, sample) -> np.ndarray:
    """Crop keypoints (K, 2) decoded from the sample's exact targets."""
    if "heatmap" in sample:
        kp, _ = ds.codec.decode(sample["heatmap"][None])
    else:
        kp, _ = ds.codec.decode((np.log(sample["target_x"] + 1e-12)[None], np.log(sample["target_y"] + 1e-12)[None]))
    return kp[0]


def _crop_step(ds) -> float:
    """Crop px resolution of the codec (one SimDR bin or one heatmap cell)."""
    c = ds.codec
    return 1.0 / c.split_ratio if hasattr(c, "split_ratio") else float(max(c.stride))


@pytest.mark.parametrize("model", ["simdr_r50_64", "simdr_r50_256x192", "hm_r50_128"])
def test_validation_targets_decode_back_to_ground_truth(tiny_coco, model):
    ann_file, image_dir = tiny_coco
    spec = get_spec(model)
    ds = CocoPoseDataset(ann_file, image_dir, spec, train=False)
    assert len(ds) == 4  # crowd and keypoint-less annotations filtered
    h, w = spec.input_hw
    for i in range(len(ds)):
        s = ds[i]
        assert s["image"].shape == (3, h, w) and s["image"].dtype == np.float32
        meta = s["meta"]
        assert meta["rotation"] == 0 and meta["flip"] is False and meta["score"] == 1.0
        assert meta["scale"][0] / meta["scale"][1] == pytest.approx(w / h)
        weight = s["target_weight"] > 0
        assert weight.sum() == (meta["visible"] > 0).sum()
        back = crops_to_frame(_decode_targets(ds, s)[None], meta["matrix"][None])[0]
        tol = 0.5 * _crop_step(ds) * meta["scale"][0] / w + 1e-6  # half a bin / cell, in image px
        np.testing.assert_array_less(np.abs(back - meta["keypoints"])[weight], tol)


def test_training_samples_are_consistent_under_augmentation(tiny_coco):
    """Targets, flipped joints and the drawn dots agree for augmented samples."""
    ann_file, image_dir = tiny_coco
    spec = get_spec("simdr_r50_128")
    ds = CocoPoseDataset(ann_file, image_dir, spec, train=True, seed=5,
                         augment=AugmentConfig(flip_prob=0.5, half_body_prob=0.5))
    flip_index = get_keypoint_set("coco17").flip_index()
    seen_flip = set()
    white = (1.0 - np.array(spec.mean)) / np.array(spec.std)
    for epoch in range(3):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            s = ds[i]
            meta = s["meta"]
            seen_flip.add(meta["flip"])
            kp_crop = _decode_targets(ds, s)
            weight = s["target_weight"] > 0
            source = meta["keypoints"][flip_index] if meta["flip"] else meta["keypoints"]
            back = crops_to_frame(kp_crop[None], meta["matrix"][None])[0]
            zoom = np.linalg.norm(meta["matrix"][:, 0])
            err = np.linalg.norm(back - source, axis=1)[weight]  # half a bin per crop axis, rotated
            np.testing.assert_array_less(err, np.sqrt(2) * 0.5 / ds.codec.split_ratio / zoom + 1e-6)
            # the image shows a dot at every target location
            for x, y in kp_crop[weight]:
                xi, yi = int(round(x)), int(round(y))
                patch = s["image"][0, max(0, yi - 1):yi + 2, max(0, xi - 1):xi + 2]
                assert patch.max() > 0.5 * white[0], (epoch, i, x, y)
    assert seen_flip == {True, False}


def test_samples_are_deterministic_per_seed_epoch_index(tiny_coco):
    ann_file, image_dir = tiny_coco
    spec = get_spec("simdr_r50_64")
    a = CocoPoseDataset(ann_file, image_dir, spec, train=True, seed=1)
    b = CocoPoseDataset(ann_file, image_dir, spec, train=True, seed=1)
    c = CocoPoseDataset(ann_file, image_dir, spec, train=True, seed=2)
    for i in range(len(a)):
        np.testing.assert_array_equal(a[i]["image"], b[i]["image"])
        np.testing.assert_array_equal(a[i]["target_x"], b[i]["target_x"])
    assert any(not np.array_equal(a[i]["meta"]["matrix"], c[i]["meta"]["matrix"]) for i in range(len(a)))
    before = [a[i]["meta"]["matrix"] for i in range(len(a))]
    a.set_epoch(1)
    assert any(not np.array_equal(before[i], a[i]["meta"]["matrix"]) for i in range(len(a)))


def test_dataloader_with_two_workers_matches_single_process(tiny_coco):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    ann_file, image_dir = tiny_coco
    ds = CocoPoseDataset(ann_file, image_dir, get_spec("simdr_r50_64"), train=True, seed=3)
    ds.set_epoch(2)
    kwargs = {"batch_size": 3, "shuffle": False}
    parallel = list(DataLoader(ds, num_workers=2, timeout=60, worker_init_fn=worker_init_fn, **kwargs))
    serial = list(DataLoader(ds, num_workers=0, **kwargs))
    assert [len(b["image"]) for b in parallel] == [3, 1]
    for p, s in zip(parallel, serial):
        assert isinstance(p["image"], torch.Tensor) and p["image"].shape[1:] == (3, 64, 64)
        assert p["target_x"].shape == (len(p["image"]), 17, 192)
        assert p["meta"]["matrix"].shape == (len(p["image"]), 2, 3)
        for key in ("image", "target_x", "target_y", "target_weight"):
            assert torch.equal(p[key], s[key])
        assert torch.equal(p["meta"]["flip"], s["meta"]["flip"])


def test_filters_are_counted_in_the_log(tiny_coco, caplog):
    ann_file, image_dir = tiny_coco
    with caplog.at_level(logging.INFO, logger="edgepose.data.coco"):
        CocoPoseDataset(ann_file, image_dir, get_spec("simdr_r50_64"), train=True)
    assert "'crowd': 1" in caplog.text and "'no keypoints': 1" in caplog.text


def test_detections_for_validation(tiny_coco, tmp_path):
    ann_file, image_dir = tiny_coco
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [20, 10, 90, 170], "score": 0.9},
        {"image_id": 2, "category_id": 1, "bbox": [60, 20, 100, 160], "score": 0.3},
        {"image_id": 2, "category_id": 2, "bbox": [60, 20, 100, 160], "score": 0.99},  # not a person
        {"image_id": 3, "category_id": 1, "bbox": [10, 40, 0, 120], "score": 0.8},  # no width
    ]
    det_file = tmp_path / "dets.json"
    det_file.write_text(json.dumps(dets))
    spec = get_spec("simdr_r50_64")
    ds = CocoPoseDataset(ann_file, image_dir, spec, train=False, detections=det_file, det_score_threshold=0.0)
    assert len(ds) == 2
    assert [ds[i]["meta"]["score"] for i in range(2)] == [0.9, 0.3]
    assert ds[0]["meta"]["image_id"] == 1 and ds[0]["target_weight"].sum() == 0
    strict = CocoPoseDataset(ann_file, image_dir, spec, train=False, detections=det_file, det_score_threshold=0.5)
    assert len(strict) == 1
    with pytest.raises(InputError, match="validation"):
        CocoPoseDataset(ann_file, image_dir, spec, train=True, detections=det_file)
    det_file.write_text(json.dumps([{"image_id": 99, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 1}]))
    with pytest.raises(AnnotationError, match="image_id 99"):
        CocoPoseDataset(ann_file, image_dir, spec, train=False, detections=det_file)
    det_file.write_text(json.dumps([{"image_id": 1, "bbox": [0, 0, 5, 5], "score": 1}]))
    with pytest.raises(AnnotationError, match=r"dets.json.*category_id"):
        CocoPoseDataset(ann_file, image_dir, spec, train=False, detections=det_file)


def test_broken_json_names_the_file(tiny_coco):
    ann_file, image_dir = tiny_coco
    ann_file.write_text('{"images": [')
    with pytest.raises(AnnotationError, match=r"annotations.json.*not valid JSON"):
        CocoPoseDataset(ann_file, image_dir, get_spec("simdr_r50_64"), train=True)


def test_missing_annotation_file(tmp_path):
    with pytest.raises(DataFileNotFoundError, match="nope.json"):
        CocoPoseDataset(tmp_path / "nope.json", tmp_path, get_spec("simdr_r50_64"), train=True)
    with pytest.raises(FileNotFoundError):
        CocoPoseDataset(tmp_path / "nope.json", tmp_path, get_spec("simdr_r50_64"), train=True)


@pytest.mark.parametrize("section, index, key, pattern", [
    ("annotations", 0, "bbox", r"annotations\[0\].*bbox"),
    ("annotations", 2, "keypoints", r"annotations\[2\].*keypoints"),
    ("images", 1, "file_name", r"images\[1\].*file_name"),
    ("images", 0, "width", r"images\[0\].*width"),
])
def test_missing_keys_name_file_entry_and_key(tiny_coco, section, index, key, pattern):
    ann_file, image_dir = tiny_coco
    data = json.loads(ann_file.read_text())
    del data[section][index][key]
    ann_file.write_text(json.dumps(data))
    with pytest.raises(AnnotationError, match=pattern) as err:
        CocoPoseDataset(ann_file, image_dir, get_spec("simdr_r50_64"), train=False)
    assert str(ann_file) in str(err.value)


def test_wrong_keypoint_count_is_rejected(tiny_coco):
    ann_file, image_dir = tiny_coco
    with pytest.raises(AnnotationError, match="17 keypoints; expected 14"):
        CrowdPoseDataset(ann_file, image_dir, get_spec("simdr_r50_256x192_crowdpose"), train=False)
    data = json.loads(ann_file.read_text())
    data["annotations"][1]["keypoints"] = data["annotations"][1]["keypoints"][:-3]
    ann_file.write_text(json.dumps(data))
    with pytest.raises(AnnotationError, match=r"annotations\[1\].*51 finite numbers"):
        CocoPoseDataset(ann_file, image_dir, get_spec("simdr_r50_64"), train=False)


def test_missing_image_fails_at_load_time_naming_the_path(tiny_coco):
    ann_file, image_dir = tiny_coco
    ds = CocoPoseDataset(ann_file, image_dir, get_spec("simdr_r50_64"), train=False)
    missing = image_dir / "000000000002.jpg"
    missing.unlink()
    ds[0]  # image 1 is still there
    index = int(np.nonzero(ds.table.image_ids == 2)[0][0])
    with pytest.raises(DataFileNotFoundError, match=str(missing)) as err:
        ds[index]
    assert isinstance(err.value, FileNotFoundError)


def test_crowdpose_dataset_and_difficulty_split(tmp_path):
    ann_file, image_dir = write_tiny_coco(tmp_path, num_keypoints=14, crowd_index=True)
    spec = get_spec("simdr_r50_256x192_crowdpose")
    ds = CrowdPoseDataset(ann_file, image_dir, spec, train=True, seed=0)
    s = ds[0]
    assert s["target_x"].shape == (14, 384) and s["target_y"].shape == (14, 512)
    assert crowd_index_split(ann_file) == {"easy": [1], "medium": [2], "hard": [3]}
    with pytest.raises(InputError, match="crowdpose14"):
        CrowdPoseDataset(ann_file, image_dir, get_spec("simdr_r50_64"), train=False)


@pytest.mark.skipif(not any(SYNTH.glob("**/*.json")),
                    reason="tests/fixtures/synth_small is not there (written by the synthetic-data work)")
def test_synthetic_fixture_loads():
    ann_files = sorted(SYNTH.glob("**/*.json"))
    ann_file = next((p for p in ann_files if "annotation" in p.name or "keypoint" in p.name), ann_files[0])
    data = json.loads(ann_file.read_text())
    first = data["images"][0]["file_name"]
    candidates = [d for d in [SYNTH, SYNTH / "images", ann_file.parent, ann_file.parent / "images"] if (d / first).is_file()]
    assert candidates, f"cannot find {first} next to {ann_file}"
    spec = get_spec("simdr_r50_128")
    ds = CocoPoseDataset(ann_file, candidates[0], spec, train=True, seed=0)
    s = ds[0]
    assert s["image"].shape == (3, 128, 128)
    val = CocoPoseDataset(ann_file, candidates[0], spec, train=False)
    v = val[0]
    back = crops_to_frame(_decode_targets(val, v)[None], v["meta"]["matrix"][None])[0]
    weight = v["target_weight"] > 0
    np.testing.assert_array_less(np.abs(back - v["meta"]["keypoints"])[weight], 0.5 / 3 * v["meta"]["scale"][0] / 128 + 1e-6)


def test_validation_crop_is_exactly_the_inference_preprocessing(tiny_coco):
    """Training/validation inputs equal the runtime's preprocess_crops for the same box."""
    from edgepose.preprocess import preprocess_crops

    ann_file, image_dir = tiny_coco
    spec = get_spec("simdr_r50_256x192")
    ds = CocoPoseDataset(ann_file, image_dir, spec, train=False)
    for i in (0, 3):
        s = ds[i]
        frame = cv2.imread(ds.table.image_path(i))
        batch, matrices = preprocess_crops(frame, s["meta"]["bbox"][None], spec.input_spec)
        np.testing.assert_allclose(matrices[0], s["meta"]["matrix"])
        np.testing.assert_array_equal(batch[0], s["image"])
