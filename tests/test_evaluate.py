"""Evaluation: COCO OKS AP vs pycocotools, rescoring/NMS, PCKh/PCK, crop->image, flip test."""

from __future__ import annotations

import contextlib
import copy
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from edgepose.codecs import HeatmapCodec, SimDRCodec, SimDRStarCodec
from edgepose.errors import InputError
from edgepose.evaluate import (
    coco_keypoint_ap,
    coco_results,
    crop_to_image_cs,
    load_mpii_gt_valid,
    oks_nms,
    pck,
    pckh,
    predict_with_flip,
    rescore,
    write_coco_results,
)
from edgepose.geometry import get_affine_matrix, transform_points
from edgepose.preprocess import crops_to_frame
from edgepose.skeleton import COCO17, CROWDPOSE14, MPII16

SIGMAS = COCO17.sigma_array()


def _gt_dataset(k: int = 17, seed: int = 0) -> dict:
    """Three images, persons of medium (~50x60) and large (~150x200) size."""
    rng = np.random.default_rng(seed)
    boxes = {1: [(10, 10, 50, 60), (100, 20, 150, 200)], 2: [(30, 40, 160, 190)], 3: [(5, 5, 55, 62)]}
    images, anns = [], []
    for image_id, bs in boxes.items():
        images.append({"id": image_id, "file_name": f"{image_id}.jpg", "width": 400, "height": 300})
        for x, y, w, h in bs:
            kp = np.column_stack([rng.uniform(x, x + w, k), rng.uniform(y, y + h, k), np.full(k, 2.0)])
            kp[rng.random(k) < 0.15, :] = 0  # some unlabelled joints
            anns.append({
                "id": len(anns) + 1, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                "bbox": [x, y, w, h], "area": float(w * h), "keypoints": kp.reshape(-1).round(2).tolist(),
                "num_keypoints": int((kp[:, 2] > 0).sum()),
            })
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}


def _predictions_from_gt(gt: dict, noise: float = 0.0, seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for a in gt["annotations"]:
        kp = np.asarray(a["keypoints"], dtype=float).reshape(-1, 3)
        kp[:, :2] += rng.normal(0, noise, size=kp[:, :2].shape) * np.sqrt(a["bbox"][2] * a["bbox"][3]) / 10
        kp[:, 2] = 1.0
        out.append({"image_id": a["image_id"], "category_id": 1, "keypoints": kp.reshape(-1).tolist(),
                    "score": float(rng.uniform(0.5, 1))})
    return out


def test_perfect_predictions_give_ap_one():
    gt = _gt_dataset()
    stats = coco_keypoint_ap(gt, _predictions_from_gt(gt), SIGMAS)
    assert set(stats) == {"AP", "AP50", "AP75", "APM", "APL", "AR", "AR50", "AR75", "ARM", "ARL"}
    for value in stats.values():
        assert value == pytest.approx(1.0)


@pytest.mark.parametrize("noise", [0.3, 1.0, 2.5])
def test_perturbed_predictions_match_pycocotools_directly(tmp_path, noise):
    gt = _gt_dataset(seed=3)
    results = _predictions_from_gt(gt, noise=noise, seed=4)
    gt_file = tmp_path / "gt.json"
    gt_file.write_text(json.dumps(gt))
    res_file = write_coco_results(results, tmp_path / "res.json")
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(gt_file))
        dt = coco.loadRes(copy.deepcopy(results))
        ev = COCOeval(coco, dt, "keypoints")
        ev.params.kpt_oks_sigmas = SIGMAS
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    ours = coco_keypoint_ap(str(gt_file), str(res_file), SIGMAS)
    np.testing.assert_allclose(list(ours.values()), ev.stats, atol=1e-12)
    assert ours["AP"] < 1.0


def test_ap_of_one_person_follows_the_oks_formula_with_the_given_sigmas():
    """One GT, one prediction: AP = share of thresholds 0.50:0.05:0.95 at or below the OKS."""
    gt = _gt_dataset()
    gt["annotations"] = gt["annotations"][1:2]
    ann = gt["annotations"][0]
    kp = np.asarray(ann["keypoints"], dtype=float).reshape(-1, 3)
    labelled = kp[:, 2] > 0
    sigmas = SIGMAS * 2.0  # not pycocotools' defaults: proves they are used
    var = (2 * sigmas) ** 2

    def oks_of(d: float) -> float:
        return float(np.mean(np.exp(-(d**2) / var / (ann["area"] + np.spacing(1)) / 2)[labelled]))

    lo, hi = 0.0, 500.0  # shift every joint right by d px so that the OKS is 0.72
    for _ in range(60):
        lo, hi = ((lo + hi) / 2, hi) if oks_of((lo + hi) / 2) > 0.72 else (lo, (lo + hi) / 2)
    oks = oks_of(lo)
    pred = kp.copy()
    pred[:, 0] += lo
    pred[:, 2] = 1
    results = [{"image_id": ann["image_id"], "category_id": 1, "keypoints": pred.reshape(-1).tolist(), "score": 1.0}]
    stats = coco_keypoint_ap(gt, results, sigmas, image_ids=[ann["image_id"]])
    thresholds = np.linspace(0.5, 0.95, 10)
    assert stats["AP"] == pytest.approx(np.mean(thresholds <= oks + 1e-12))
    assert 0.1 < stats["AP"] < 0.9  # a meaningful case
    default = coco_keypoint_ap(gt, results, SIGMAS, image_ids=[ann["image_id"]])
    assert default["AP"] < stats["AP"]


def test_inputs_are_not_mutated_and_bad_inputs_are_refused():
    gt = _gt_dataset()
    gt_copy = copy.deepcopy(gt)
    results = _predictions_from_gt(gt, noise=0.5)
    frozen = copy.deepcopy(results)
    coco_keypoint_ap(gt, results, SIGMAS)
    assert results == frozen and gt == gt_copy
    with pytest.raises(InputError, match="empty"):
        coco_keypoint_ap(gt, [], SIGMAS)
    bad = copy.deepcopy(results)
    bad[0]["image_id"] = 999
    with pytest.raises(InputError, match="999"):
        coco_keypoint_ap(gt, bad, SIGMAS)
    with pytest.raises(InputError, match="14 sigmas"):
        coco_keypoint_ap(gt, results, CROWDPOSE14.sigma_array())


def test_crowdpose_style_gt_without_area_or_num_keypoints():
    gt = _gt_dataset(k=14)
    for a in gt["annotations"]:
        del a["area"], a["num_keypoints"]
    stats = coco_keypoint_ap(gt, _predictions_from_gt(gt), CROWDPOSE14.sigma_array())
    assert stats["AP"] == pytest.approx(1.0)
    assert "area" not in gt["annotations"][0]


def test_rescoring_follows_the_official_rule():
    ks = np.array([[0.9, 0.1, 0.5], [0.1, 0.2, 0.05]])
    np.testing.assert_allclose(rescore(ks, np.array([0.5, 1.0])), [0.5 * 0.7, 0.0])
    results = coco_results(np.zeros((2, 3, 2)), ks, [7, 7], [0.5, 1.0], nms_thresh=None)
    assert [r["score"] for r in results] == pytest.approx([0.35, 0.0])
    assert results[0]["keypoints"][2::3] == pytest.approx([0.9, 0.1, 0.5])
    assert results[0]["image_id"] == 7 and results[0]["category_id"] == 1
    with pytest.raises(InputError, match="areas"):
        coco_results(np.zeros((2, 3, 2)), ks, [7, 7], [0.5, 1.0])


def test_oks_nms_drops_duplicates_per_image_only():
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 100, size=(17, 2))
    far = base + 300
    kp = np.stack([base, base + 0.5, far, base])
    ks = np.full((4, 17), 0.9)
    keep = oks_nms(kp[:3], ks[:3], np.array([0.8, 0.9, 0.7]), np.full(3, 1e4), SIGMAS)
    assert keep.tolist() == [1, 2]
    results = coco_results(kp, ks, [1, 1, 1, 2], [0.8, 0.9, 0.7, 0.6], areas=np.full(4, 1e4), sigmas=SIGMAS)
    assert [(r["image_id"], round(r["score"], 3)) for r in results] == [(1, 0.81), (1, 0.63), (2, 0.54)]


def test_pckh_on_a_constructed_example():
    """Two persons; head size = 0.6 * diagonal of a 30x40 head box = 30 px."""
    n = 2
    gt = np.tile(np.arange(16, dtype=float)[:, None] * [10.0, 5.0], (n, 1, 1))
    headboxes = np.array([[[0.0, 0.0], [30.0, 40.0]]] * n)
    visible = np.ones((n, 16))
    offsets = np.zeros((n, 16))
    names = MPII16.names
    j = {name: i for i, name in enumerate(names)}
    offsets[:, j["left_wrist"]] = [10.0, 20.0]    # 0.33, 0.67 head sizes
    offsets[:, j["right_wrist"]] = [2.0, 16.0]    # 0.07, 0.53
    offsets[:, j["head_top"]] = [14.0, 15.5]      # 0.47, 0.52
    offsets[:, j["pelvis"]] = [100.0, 100.0]      # wrong, but not in the mean
    visible[1, j["left_ankle"]] = 0
    offsets[1, j["left_ankle"]] = 500.0           # unlabelled: ignored
    pred = gt.copy()
    pred[..., 0] += offsets
    out = pckh(pred, gt, visible, headboxes)
    half, tenth = out["PCKh@0.5"], out["PCKh@0.1"]
    assert half["head"] == pytest.approx(0.5)
    assert half["wrist"] == pytest.approx(0.5 * (0.5 + 0.5))
    assert half["ankle"] == 1.0 and half["shoulder"] == 1.0
    counted = 2 * 14 - 1  # pelvis, thorax excluded; one unlabelled ankle
    misses = 1 + 1 + 1    # left wrist, right wrist, head of person 2
    assert half["mean"] == pytest.approx((counted - misses) / counted)
    assert tenth["wrist"] == pytest.approx(0.5 * (0.0 + 0.5))
    assert tenth["head"] == 0.0
    assert set(half) == {"head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "mean"}
    with pytest.raises(InputError, match="16 MPII"):
        pckh(pred[:, :15], gt[:, :15], visible[:, :15], headboxes)


def test_pck_by_box_size():
    gt = np.zeros((2, 3, 2))
    pred = gt.copy()
    pred[0, :, 0] = [1.0, 6.0, 4.9]   # box 100 wide: alpha 0.05 -> 5 px
    pred[1, :, 1] = [0.0, 3.0, 1.0]   # box 40 tall: 2 px
    visible = np.array([[1, 1, 1], [1, 1, 0]])
    boxes = np.array([[0, 0, 100, 50], [0, 0, 20, 40]], dtype=float)
    out = pck(pred, gt, visible, boxes, alpha=0.05, names=["a", "b", "c"])
    assert out == pytest.approx({"mean": 3 / 5, "a": 1.0, "b": 0.0, "c": 1.0})


def test_crops_to_frame_inverts_the_crop_matrix():
    rng = np.random.default_rng(2)
    centers, scales = rng.uniform(50, 300, (4, 2)), rng.uniform(40, 200, (4, 1)) * [1.0, 4 / 3]
    mats = np.stack([get_affine_matrix(c, s, (256, 192), r) for c, s, r in zip(centers, scales, [0, 10, -30, 90])])
    img_pts = rng.uniform(0, 400, (4, 17, 2))
    crop_pts = np.stack([transform_points(p, m) for p, m in zip(img_pts, mats)])
    np.testing.assert_allclose(crops_to_frame(crop_pts, mats), img_pts, atol=1e-9)
    plain = np.stack([get_affine_matrix(c, s, (256, 192)) for c, s in zip(centers, scales)])
    crop_plain = np.stack([transform_points(p, m) for p, m in zip(img_pts, plain)])
    np.testing.assert_allclose(crop_to_image_cs(crop_plain, centers, scales, (256, 192)), img_pts, atol=1e-9)


# ---- flip test ----------------------------------------------------------------------------
def _dot_images(kp: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(1, 3, H, W) image with joint j drawn as one pixel of value j + 1 in channel 0."""
    image = np.zeros((1, 3, *hw), dtype=np.float32)
    for j, (x, y) in enumerate(np.round(kp).astype(int)):
        image[0, 0, y, x] = j + 1
    return image


def _exact_label_model(codec, original: np.ndarray, flip_index: np.ndarray):
    """A 'model' that reads the dots and outputs exact-label encodings.

    On the mirrored image it names each dot by its mirror joint (what a model trained
    with flip augmentation sees): a left wrist seen in a mirror looks like a right wrist.
    """
    def run(batch):
        batch = np.asarray(batch)
        mirrored = not np.array_equal(batch, original)
        k = len(flip_index)
        kp = np.zeros((k, 2))
        for j in range(k):
            y, x = np.argwhere(batch[0, 0] == j + 1)[0]
            kp[flip_index[j] if mirrored else j] = (x, y)
        t = codec.encode(kp, np.ones(k))
        if "heatmap" in t:
            return t["heatmap"][None]
        return np.log(t["target_x"] + 1e-12)[None], np.log(t["target_y"] + 1e-12)[None]
    return run


@pytest.mark.parametrize("codec", [
    SimDRCodec((64, 64), split_ratio=2.0),
    SimDRCodec((64, 64), split_ratio=3.0),
    SimDRStarCodec((128, 96), split_ratio=2.0, sigma=4.0),
    HeatmapCodec((64, 64), sigma=1.0, refine="none"),
])
def test_predict_with_flip_recovers_the_keypoints(codec):
    """Image flip convention (x -> W - 1 - x) and the codec's flip shift agree."""
    h, w = codec.input_hw
    rng = np.random.default_rng(0)
    cells = rng.choice((h - 8) * (w - 8), size=17, replace=False)
    kp = np.column_stack([cells % (w - 8) + 4, cells // (w - 8) + 4]).astype(float)
    flip_index = COCO17.flip_index()
    batch = _dot_images(kp, (h, w))
    model = _exact_label_model(codec, batch, flip_index)
    fused, scores = predict_with_flip(model, batch, codec, flip_index)
    step = 1 / codec.split_ratio if hasattr(codec, "split_ratio") else float(max(codec.stride))
    assert fused.shape == (1, 17, 2) and scores.shape == (1, 17)
    np.testing.assert_array_less(np.abs(fused[0] - kp), step + 1e-6)  # within one bin / cell
    plain, _ = codec.decode(model(batch))
    np.testing.assert_array_less(np.abs(plain[0] - kp), 0.5 * step + 1e-6)


def test_predict_with_flip_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    codec = SimDRCodec((64, 64), split_ratio=2.0)
    rng = np.random.default_rng(1)
    cells = rng.choice(56 * 56, size=17, replace=False)
    kp = np.column_stack([cells % 56 + 4, cells // 56 + 4]).astype(float)
    flip_index = COCO17.flip_index()
    batch = _dot_images(kp, (64, 64))
    numpy_model = _exact_label_model(codec, batch, flip_index)

    def torch_model(t):
        assert isinstance(t, torch.Tensor)
        x, y = numpy_model(t.numpy())
        return torch.from_numpy(x).requires_grad_(), torch.from_numpy(y)

    fused, _ = predict_with_flip(torch_model, torch.from_numpy(batch), codec, flip_index)
    np.testing.assert_array_less(np.abs(fused[0] - kp), 0.5 + 1e-6)


def test_load_mpii_gt_valid_round_trip(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    n = 3
    rng = np.random.default_rng(0)
    pos = rng.uniform(1, 100, (16, 2, n))
    missing = (rng.random((16, n)) < 0.2).astype(np.uint8)
    heads = rng.uniform(1, 50, (2, 2, n))
    scipy_io.savemat(tmp_path / "gt_valid.mat", {"pos_gt_src": pos, "jnt_missing": missing, "headboxes_src": heads})
    joints, visible, headboxes = load_mpii_gt_valid(tmp_path / "gt_valid.mat")
    assert joints.shape == (n, 16, 2) and visible.shape == (n, 16) and headboxes.shape == (n, 2, 2)
    np.testing.assert_allclose(joints[1, 5], pos[5, :, 1] - 1)
    assert visible[2, 7] == (missing[7, 2] == 0)
    np.testing.assert_allclose(headboxes[0, 1], heads[1, :, 0] - 1)
