"""MPII (HRNet json format): 1-based conversion, centre/scale adjustment, targets, errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgepose.data import MPII_AUGMENT, AnnotationError, MpiiDataset, load_mpii_persons
from edgepose.errors import InputError
from edgepose.preprocess import crops_to_frame
from edgepose.zoo import get_spec


def write_tiny_mpii(root: Path) -> tuple[Path, Path]:
    """Two persons in one 320x300 image, joints drawn as dots, 1-based coordinates."""
    rng = np.random.default_rng(4)
    image_dir = root / "images"
    image_dir.mkdir(parents=True)
    canvas = np.zeros((300, 320, 3), dtype=np.uint8)
    entries = []
    for cx, cy in ((90.0, 150.0), (230.0, 140.0)):
        joints0 = np.column_stack([rng.uniform(cx - 40, cx + 40, 16), rng.uniform(cy - 90, cy + 60, 16)]).round(1)
        vis = np.ones(16)
        vis[3] = 0
        for (x, y), v in zip(joints0, vis):
            if v:
                cv2.circle(canvas, (int(round(x)), int(round(y))), 4, (255, 255, 255), -1)
        entries.append({
            "image": "015601864.jpg", "center": [cx + 1, cy + 1], "scale": 0.9,
            "joints": (joints0 + 1).tolist(), "joints_vis": vis.tolist(),
        })
    cv2.imwrite(str(image_dir / "015601864.jpg"), canvas, [cv2.IMWRITE_JPEG_QUALITY, 98])
    ann = root / "valid.json"
    ann.write_text(json.dumps(entries))
    return ann, image_dir


def test_official_center_scale_and_zero_based_joints(tmp_path):
    ann, image_dir = write_tiny_mpii(tmp_path)
    table = load_mpii_persons(ann, image_dir, (256, 256))
    entries = json.loads(ann.read_text())
    for i, e in enumerate(entries):
        s = e["scale"]
        np.testing.assert_allclose(table.centers[i], [e["center"][0] - 1, e["center"][1] + 15 * s - 1])
        np.testing.assert_allclose(table.scales[i], [s * 1.25 * 200 * 1.25] * 2)  # official crop size
        np.testing.assert_allclose(table.keypoints[i], np.asarray(e["joints"]) - 1)
        assert table.image_ids[i] == i
    # a non-square input grows the crop to its aspect ratio
    wide = load_mpii_persons(ann, image_dir, (256, 192))
    assert wide.scales[0, 0] / wide.scales[0, 1] == pytest.approx(192 / 256)


@pytest.mark.parametrize("model", ["hm_r50_256_mpii", "simdr_r50_256_mpii"])
def test_targets_decode_back_to_joints(tmp_path, model):
    ann, image_dir = write_tiny_mpii(tmp_path)
    spec = get_spec(model)
    ds = MpiiDataset(ann, image_dir, spec, train=False)
    step = 1 / ds.codec.split_ratio if hasattr(ds.codec, "split_ratio") else 4.0
    for i in range(len(ds)):
        s = ds[i]
        meta = s["meta"]
        assert meta["index"] == i and s["image"].shape == (3, 256, 256)
        if "heatmap" in s:
            kp, _ = ds.codec.decode(s["heatmap"][None])
        else:
            kp, _ = ds.codec.decode((np.log(s["target_x"] + 1e-12)[None], np.log(s["target_y"] + 1e-12)[None]))
        back = crops_to_frame(kp, meta["matrix"][None])[0]
        weight = s["target_weight"] > 0
        assert weight.sum() == 15
        tol = 0.5 * step * meta["scale"][0] / 256 + 1e-6
        np.testing.assert_array_less(np.abs(back - meta["keypoints"])[weight], tol)


def test_training_uses_official_mpii_augmentation(tmp_path):
    ann, image_dir = write_tiny_mpii(tmp_path)
    ds = MpiiDataset(ann, image_dir, get_spec("simdr_r50_256_mpii"), train=True, seed=0)
    assert ds.augment == MPII_AUGMENT and MPII_AUGMENT.half_body_prob == 0.0
    assert ds[1]["target_x"].shape == (16, 512)
    with pytest.raises(InputError, match="mpii16"):
        MpiiDataset(ann, image_dir, get_spec("simdr_r50_64"), train=False)


@pytest.mark.parametrize("mutate, pattern", [
    (lambda e: e[1].pop("joints_vis"), r"entry \[1\].*joints_vis"),
    (lambda e: e[0].__setitem__("joints", [[1, 2]] * 15), r"entry \[0\] joints.*\(16, 2\)"),
    (lambda e: e[0].__setitem__("scale", -1), r"entry \[0\].*scale must be > 0"),
    (lambda e: e.__setitem__(0, "oops"), r"entry \[0\] is a str"),
])
def test_broken_entries_name_file_and_entry(tmp_path, mutate, pattern):
    ann, image_dir = write_tiny_mpii(tmp_path)
    entries = json.loads(ann.read_text())
    mutate(entries)
    ann.write_text(json.dumps(entries))
    with pytest.raises(AnnotationError, match=pattern) as err:
        load_mpii_persons(ann, image_dir, (256, 256))
    assert "valid.json" in str(err.value)


def test_top_level_must_be_a_list(tmp_path):
    ann = tmp_path / "train.json"
    ann.write_text(json.dumps({"annotations": []}))
    with pytest.raises(AnnotationError, match="train.json.*list"):
        load_mpii_persons(ann, tmp_path, (256, 256))
