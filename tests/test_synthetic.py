"""Synthetic humans: rasteriser, poses, visibility, dataset generation and the fixture."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgepose.data.synth import pose as synth_pose
from edgepose.data.synth.raster import rasterize
from edgepose.skeleton import get_keypoint_set

FIXTURE = Path(__file__).parent / "fixtures" / "synth_small"


# ------------------------------------------------------------------ no body model needed


def test_rasterize_covers_pixel_centres_and_keeps_nearest() -> None:
    # Two overlapping triangles, counter-clockwise as seen on screen = front-facing.
    verts = np.array([[0.0, 0.0], [0.0, 9.0], [9.0, 0.0], [1.0, 1.0], [1.0, 9.5], [9.5, 1.0]])
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    depth = np.array([2.0, 2.0, 2.0, 1.0, 1.0, 1.0])
    buf = rasterize(verts, depth, faces, (10, 10))
    assert buf.face[0, 0] == 0 and buf.depth[0, 0] == pytest.approx(2.0)
    assert buf.face[2, 2] == 1 and buf.depth[2, 2] == pytest.approx(1.0)
    assert buf.face[9, 9] == -1 and np.isinf(buf.depth[9, 9])
    # Back-facing (reversed winding) triangles are culled unless asked not to.
    assert not rasterize(verts, depth, faces[:, ::-1], (10, 10)).mask.any()
    assert rasterize(verts, depth, faces[:, ::-1], (10, 10), cull_backfaces=False).mask.sum() == buf.mask.sum()


def test_rasterize_perspective_correct_depth() -> None:
    # A quad (two triangles) receding from z=1 (left) to z=3 (right): depth at the screen
    # centre column is the harmonic interpolation, 1 / ((1/1 + 1/3) / 2) = 1.5.
    verts = np.array([[0.0, 0.0], [20.0, 0.0], [20.0, 20.0], [0.0, 20.0]])
    z = np.array([1.0, 3.0, 3.0, 1.0])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    buf = rasterize(verts, z, faces, (21, 21), cull_backfaces=False)
    assert buf.depth[10, 10] == pytest.approx(1.5, rel=1e-5)


def test_box_faces_point_outwards() -> None:
    from edgepose.data.synth.camera import Camera, look_at_rotation
    from edgepose.data.synth.boxes import BOX_FACES, box_corners

    corners = box_corners(np.array([-0.5, 2.5, -0.5]), np.array([0.5, 3.5, 0.5]))
    camera = Camera(look_at_rotation(20.0, 0.0), np.array([0.3, 0.0, 1.0]), 40.0, np.array([31.5, 31.5]))
    uv, z = camera.project(corners)
    culled = rasterize(uv, z, BOX_FACES, (64, 64))
    full = rasterize(uv, z, BOX_FACES, (64, 64), cull_backfaces=False)
    assert culled.mask.sum() > 100
    np.testing.assert_array_equal(culled.face, full.face)


@pytest.mark.parametrize("family", sorted({*synth_pose.POSE_FAMILIES, *synth_pose.POSE_FAMILIES_V2}))
def test_sampled_poses_within_limits(family: str) -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        name, pose = synth_pose.sample_pose(rng, family)
        assert name == family
        for joint, angle in pose.items():
            low, high = synth_pose.JOINT_LIMITS[joint.split(".")[0]]
            assert low <= angle <= high, (joint, angle)


def test_sample_pose_rejects_unknown_family() -> None:
    with pytest.raises(ValueError, match="unknown pose family"):
        synth_pose.sample_pose(np.random.default_rng(0), "flying")


def test_limb_direction_conventions() -> None:
    down = synth_pose.limb_direction(0, 0, "L")
    np.testing.assert_allclose(down, [0, 0, -1], atol=1e-12)
    forward = synth_pose.limb_direction(90, 0, "L")  # forward is -y in anny's body frame
    np.testing.assert_allclose(forward, [0, -1, 0], atol=1e-12)
    np.testing.assert_allclose(synth_pose.limb_direction(0, 90, "L"), [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(synth_pose.limb_direction(0, 90, "R"), [-1, 0, 0], atol=1e-12)
    r = synth_pose.rotation_between(down, forward)
    np.testing.assert_allclose(r @ down, forward, atol=1e-12)


def test_keypoint_visibility_rules() -> None:
    from edgepose.data.synth.labels import keypoint_visibility

    owner = np.full((8, 8), -1)
    owner[:, :4] = 0  # person 0 on the left half
    owner[:, 4:] = 1  # person 1 on the right half
    depth = np.full((8, 8), 2.0, dtype=np.float32)
    occluded = np.zeros((8, 8), bool)
    occluded[0:2, 0:2] = True
    kps = np.array([[1.0, 2.0], [0.0, 0.0], [3.0, 3.0], [1.0, 3.0], [5.0, 1.0]])  # output px (4x4 image)
    kz = np.array([2.05, 2.05, 2.05, 2.5, 2.05])
    tol = np.full(5, 0.1)
    vis = keypoint_visibility(kps, kz, tol, 0, owner, depth, occluded, supersample=2, size=4)
    # own surface / under occluder / other person's pixels / own surface too far in front / outside
    assert vis.tolist() == [2, 1, 1, 1, 0]


# -------------------------------------------------------------------- with the body model


@pytest.fixture(scope="module")
def synth_module():
    """The module, for checks that read files (pycocotools only)."""
    pytest.importorskip("pycocotools")
    from edgepose.data import synth as synthetic

    return synthetic


@pytest.fixture(scope="module")
def synth(synth_module):
    """The module, for tests that render (torch and anny needed)."""
    pytest.importorskip("torch")
    pytest.importorskip("anny")
    return synth_module


@pytest.fixture(scope="module")
def small_dataset(synth, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth_a")
    return synth.generate_dataset(out, n=6, size=96, seed=123, people_max=3)


def _check_coco(path: Path, synth) -> None:
    """Structural and geometric checks on a generated COCO keypoint file."""
    from pycocotools.coco import COCO

    coco = COCO(str(path))
    data = json.loads(path.read_text())
    assert data["info"]["version"] == synth.SYNTH_VERSION
    kset = get_keypoint_set("coco17")
    (category,) = data["categories"]
    assert category["keypoints"] == list(kset.names)
    assert all(1 <= i <= 17 for pair in category["skeleton"] for i in pair)
    image_dir = path.parent.parent / "images"
    for img in data["images"]:
        assert (image_dir / img["file_name"]).is_file()
    assert len(coco.getAnnIds()) >= len(data["images"]) // 2
    for ann in data["annotations"]:
        img = coco.imgs[ann["image_id"]]
        w, h = img["width"], img["height"]
        kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(17, 3)
        v = kp[:, 2]
        assert set(np.unique(v)) <= {0, 1, 2}
        assert ann["num_keypoints"] == int(np.count_nonzero(v))
        assert ann["iscrowd"] == 0 and ann["category_id"] == 1
        assert np.all(kp[v == 0, :2] == 0)
        lab = kp[v > 0]
        assert np.all((lab[:, 0] >= 0) & (lab[:, 0] <= w - 1) & (lab[:, 1] >= 0) & (lab[:, 1] <= h - 1))
        x0, y0, bw, bh = ann["bbox"]
        assert bw > 0 and bh > 0 and x0 >= 0 and y0 >= 0 and x0 + bw <= w and y0 + bh <= h
        vis = kp[v == 2]
        assert len(vis) > 0
        # Keypoints use pixel-centre coordinates; the box spans whole pixels.
        assert np.all((vis[:, 0] >= x0 - 0.5) & (vis[:, 0] <= x0 + bw - 0.5))
        assert np.all((vis[:, 1] >= y0 - 0.5) & (vis[:, 1] <= y0 + bh - 0.5))
        assert 0 <= ann["area"] <= bw * bh
        assert coco.annToMask(ann).sum() == ann["area"]


def test_generated_dataset_is_consistent(small_dataset: Path, synth) -> None:
    _check_coco(small_dataset, synth)
    data = json.loads(small_dataset.read_text())
    assert len(data["images"]) == 6
    assert data["info"]["seed"] == 123


def test_generation_is_deterministic(small_dataset: Path, synth, tmp_path: Path) -> None:
    again = synth.generate_dataset(tmp_path / "b", n=6, size=96, seed=123, people_max=3)
    assert again.read_bytes() == small_dataset.read_bytes()
    for img in sorted((small_dataset.parent.parent / "images").iterdir()):
        assert (tmp_path / "b" / "images" / img.name).read_bytes() == img.read_bytes()
    other = synth.generate_dataset(tmp_path / "c", n=2, size=96, seed=124, people_max=3)
    assert (tmp_path / "c" / "images" / "0000000.jpg").read_bytes() != \
        (small_dataset.parent.parent / "images" / "0000000.jpg").read_bytes()
    assert other.read_bytes() != again.read_bytes()


def test_workers_give_identical_output(small_dataset: Path, synth, tmp_path: Path) -> None:
    parallel = synth.generate_dataset(tmp_path / "p", n=6, size=96, seed=123, people_max=3, workers=2)
    assert parallel.read_bytes() == small_dataset.read_bytes()
    for img in sorted((small_dataset.parent.parent / "images").iterdir()):
        assert (tmp_path / "p" / "images" / img.name).read_bytes() == img.read_bytes()


def test_render_person(synth) -> None:
    sample = synth.render_person(seed=5, size=64, pose_family="walking")
    assert sample.image.shape == (64, 64, 3) and sample.image.dtype == np.uint8
    assert sample.keypoints.shape[1:] == (17, 3) and sample.keypoints.shape[0] <= 1
    assert sample.masks.shape[1:] == (64, 64)
    assert all(f == "walking" for f in sample.families)


def test_invalid_arguments(synth, tmp_path: Path) -> None:
    from edgepose.errors import InputError

    with pytest.raises(InputError):
        synth.generate_dataset(tmp_path, n=0)
    with pytest.raises(InputError):
        synth.SynthConfig(people_max=4)
    with pytest.raises(InputError):
        synth.SynthConfig(image_format="bmp")


def test_committed_fixture(synth_module) -> None:
    path = FIXTURE / "annotations" / "person_keypoints.json"
    assert path.is_file(), "run the command in tests/fixtures/synth_small/README.md"
    _check_coco(path, synth_module)
    data = json.loads(path.read_text())
    assert len(data["images"]) == 64
    size = sum(f.stat().st_size for f in FIXTURE.rglob("*") if f.is_file())
    assert size <= 5 * 1024 * 1024


GOLDEN = Path(__file__).parent / "fixtures" / "synth_golden_128.json"


def _golden_render(synth, out: Path, config=None) -> dict:
    """Render the golden set (6 PNG images, 128 px, seed 2026) and summarise it like
    ``fixtures/synth_golden_128.json``: sha256 of each image's decoded pixels, a 16x16 area-average
    thumbnail of each (uint8 BGR bytes as hex), and the COCO ``images`` and ``annotations``."""
    import hashlib

    import cv2

    config = config or synth.SynthConfig(image_format="png")
    path = synth.generate_dataset(out, n=6, size=128, seed=2026, people_max=3, config=config)
    data = json.loads(path.read_text())
    pixels, thumbs = {}, {}
    for im in data["images"]:
        image = cv2.imread(str(out / "images" / im["file_name"]))
        pixels[im["file_name"]] = hashlib.sha256(image.tobytes()).hexdigest()
        thumbs[im["file_name"]] = cv2.resize(image, (16, 16), interpolation=cv2.INTER_AREA).tobytes().hex()
    return {"pixels_sha256": pixels, "thumbnails": thumbs, "images": data["images"], "annotations": data["annotations"]}


def _assert_close_render(got: dict, golden: dict) -> None:
    """The same render up to the last bits of floating point (another CPU's SIMD paths in
    numpy/OpenCV): keypoints within 0.02 px, the same visibility flags, boxes within a pixel,
    areas within 3 %, thumbnails within 2 grey levels on average."""
    assert [a["image_id"] for a in got["annotations"]] == [a["image_id"] for a in golden["annotations"]]
    for a, b in zip(got["annotations"], golden["annotations"]):
        ka, kb = np.array(a["keypoints"], float).reshape(-1, 3), np.array(b["keypoints"], float).reshape(-1, 3)
        np.testing.assert_array_equal(ka[:, 2], kb[:, 2])
        np.testing.assert_allclose(ka[:, :2], kb[:, :2], atol=0.02)
        np.testing.assert_allclose(a["bbox"], b["bbox"], atol=1.0)
        assert abs(a["area"] - b["area"]) <= 0.03 * max(b["area"], 1)
        assert a.get("pose_family") == b.get("pose_family")
    for name, thumb in golden["thumbnails"].items():
        diff = np.abs(np.frombuffer(bytes.fromhex(got["thumbnails"][name]), np.uint8).astype(float)
                      - np.frombuffer(bytes.fromhex(thumb), np.uint8))
        assert diff.mean() <= 2.0, f"{name}: thumbnail differs by {diff.mean():.2f} grey levels on average"


def test_renders_match_golden(synth, tmp_path: Path) -> None:
    """The renderer's output for a seed never changes silently. With the numpy/torch/OpenCV
    builds and CPU the golden file was written with (this project's machine) it is byte-identical;
    elsewhere it must agree up to floating-point detail (:func:`_assert_close_render`). When a
    change is meant to alter renders, bump ``SYNTH_VERSION`` and rewrite the golden file with
    ``_golden_render``."""
    golden = json.loads(GOLDEN.read_text())
    got = _golden_render(synth, tmp_path)
    assert got["images"] == golden["images"]
    if got["pixels_sha256"] == golden["pixels_sha256"] and got["annotations"] == golden["annotations"]:
        return
    _assert_close_render(got, golden)
