"""apps/peers.py and apps/peers_accuracy.py: crop geometry shared with the Estimator, mapping of the
peers' normalised outputs back to frame pixels, the MediaPipe bridge, metrics and the report.

The fast tests need no peer files. ``test_movenet_on_renders`` runs the converted MoveNet files when
``bash apps/peers_setup.sh`` has made them in ``.peers/models`` (and the rendered val set exists);
otherwise it is skipped with the reason.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "apps"))

import bench  # noqa: E402
import bench_peers  # noqa: E402
import peers  # noqa: E402
import peers_accuracy  # noqa: E402

from edgepose.bench.row import Row  # noqa: E402
from edgepose.bench.scene import MovingScene  # noqa: E402
from edgepose.bench.table import compare_with_peers  # noqa: E402
from edgepose.errors import BackendNotInstalledError, InputError, ModelFileError  # noqa: E402
from edgepose.geometry import box_to_center_scale, get_affine_matrix, transform_points, warp_crop  # noqa: E402
from edgepose.preprocess import InputSpec, crops_to_frame, preprocess_crops  # noqa: E402
from edgepose.skeleton import get_keypoint_set  # noqa: E402

VAL = ROOT / "data" / "synth" / "val"
BLAZEPOSE_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)

boxes = st.tuples(st.floats(-50, 300), st.floats(-50, 300), st.floats(8, 400), st.floats(8, 400))
sizes = st.sampled_from([64, 128, 192, 256])


def _frame(h: int = 240, w: int = 320) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (h, w, 3), dtype=np.uint8)


# ---- crops: the Estimator's ---------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(box=boxes, size=sizes, bgr=st.booleans())
def test_make_crops_are_the_estimators_crops(box: tuple[float, float, float, float], size: int, bgr: bool) -> None:
    frame = _frame()
    crops, matrices = peers.make_crops(frame, [box], (size, size), frame_color="bgr" if bgr else "rgb")
    center, scale = box_to_center_scale(box, (size, size))
    m = get_affine_matrix(center, scale, (size, size))
    np.testing.assert_allclose(matrices[0], m)
    warped = warp_crop(frame, m, (size, size))
    expected = warped[..., ::-1] if bgr else warped  # peers take RGB
    assert crops.dtype == np.uint8 and crops.shape == (1, size, size, 3)
    np.testing.assert_array_equal(crops[0], expected)
    # the same matrices as the Estimator's preprocessing at that input size
    spec = InputSpec((size, size), (0.5,) * 3, (0.25,) * 3, "bgr")
    _, ours = preprocess_crops(frame, [box], spec)
    np.testing.assert_allclose(matrices, ours)


@settings(max_examples=40, deadline=None)
@given(box=boxes, size=st.sampled_from([192, 256]))
def test_square_peer_crops_cover_the_same_frame_region_as_ours(box: tuple[float, ...], size: int) -> None:
    """Our 128x128 crop and a peer's SxS crop map their corners to the same frame points."""
    _, peer_m = peers.make_crops(_frame(), [box], (size, size))
    spec = InputSpec((128, 128), (0.0,) * 3, (1.0,) * 3, "bgr")
    _, our_m = preprocess_crops(_frame(), [box], spec)
    peer_corners = crops_to_frame(np.array([[[0, 0], [size, size]]], float), peer_m)
    our_corners = crops_to_frame(np.array([[[0, 0], [128, 128]]], float), our_m)
    np.testing.assert_allclose(peer_corners, our_corners, atol=1e-6 * max(box[2], box[3], 1))


# ---- normalised output -> crop px -> frame px ---------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(box=boxes, size=sizes, u=st.floats(0, 1), v=st.floats(0, 1))
def test_normalised_output_maps_back_to_the_frame_point(box: tuple[float, ...], size: int, u: float, v: float) -> None:
    """A frame point seen at normalised (u, v) of the crop (0 = left edge, 1 = right edge) comes back
    to itself through normalized_to_crop_px + crops_to_frame, for MoveNet's (y, x) and MediaPipe's (x, y)."""
    _, m = peers.make_crops(_frame(), [box], (size, size))
    crop_px = np.array([u * size - 0.5, v * size - 0.5])  # pixel i centred at i
    frame_pt = transform_points(crop_px[None], cv2.invertAffineTransform(m[0]))[0]
    for order, coords in (("yx", [v, u]), ("xy", [u, v])):
        kp = peers.normalized_to_crop_px(np.array([[coords]]), (size, size), order)
        np.testing.assert_allclose(crops_to_frame(kp, m)[0, 0], frame_pt, atol=1e-6 * max(box[2], box[3], 1))


def test_normalised_centre_is_the_crop_centre() -> None:
    """0.5 is the middle of the input: crop px (W - 1) / 2 = the box centre's image."""
    kp = peers.normalized_to_crop_px(np.array([0.5, 0.5]), (192, 192))
    np.testing.assert_allclose(kp, [95.5, 95.5])
    with pytest.raises(InputError):
        peers.normalized_to_crop_px(np.zeros((3, 3)), (192, 192))
    with pytest.raises(InputError):
        peers.normalized_to_crop_px(np.zeros((3, 2)), (192, 192), order="xyz")


def test_movenet_decode_shapes_and_order() -> None:
    out = np.zeros((2, 1, 17, 3), np.float32)
    out[:, 0, :, 0] = 0.25  # y
    out[:, 0, :, 1] = 0.75  # x
    out[:, 0, :, 2] = 0.9
    kp, scores = peers.movenet_decode(out, (192, 192))
    assert kp.shape == (2, 17, 2) and scores.shape == (2, 17)
    np.testing.assert_allclose(kp[0, 0], [0.75 * 192 - 0.5, 0.25 * 192 - 0.5])
    np.testing.assert_allclose(scores, 0.9, rtol=1e-6)
    np.testing.assert_allclose(peers.movenet_decode(out[:, 0], (192, 192))[0], kp)
    with pytest.raises(InputError):
        peers.movenet_decode(np.zeros((1, 1, 16, 3)), (192, 192))


def test_blazepose_to_coco17_picks_the_coco_joints() -> None:
    coco = get_keypoint_set("coco17").names
    assert [BLAZEPOSE_NAMES[i] for i in peers.BLAZEPOSE_TO_COCO17] == list(coco)
    lm = np.arange(2 * 33 * 4, dtype=float).reshape(2, 33, 4)
    out = peers.blazepose_to_coco17(lm)
    assert out.shape == (2, 17, 4)
    np.testing.assert_array_equal(out[:, 5], lm[:, 11])
    with pytest.raises(InputError):
        peers.blazepose_to_coco17(np.zeros((1, 17, 4)))


# ---- MediaPipe bridge (a stand-in for the venv's python) --------------------------------------------
FAKE_MEDIAPIPE = """
import sys, numpy as np
args = sys.argv[1:]
assert args[0].endswith("apps/mediapipe_peer.py"), args
crops = np.load(args[args.index("--crops") + 1])
n = len(crops)
lm = np.zeros((n, 33, 4), np.float32)
lm[..., 0], lm[..., 1], lm[..., 3] = 0.25, 0.75, 0.8   # x, y normalised, visibility
found = np.arange(n) % 2 == 0                          # odd crops: no pose
lm[~found] = np.nan
np.savez(args[args.index("--out") + 1], landmarks=lm, found=found, ms=np.full(n, 3.0))
"""


def test_mediapipe_peer_through_its_script(tmp_path: Path) -> None:
    stub = tmp_path / "stub.py"
    stub.write_text(FAKE_MEDIAPIPE)
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{stub}" "$@"\n')
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    peer = peers.MediaPipePeer(python)
    assert peer.info.input_hw == (256, 256)
    crops = np.zeros((3, 256, 256, 3), np.uint8)
    kp, scores, ms = peer.run_crops(crops)
    assert kp.shape == (3, 17, 2) and scores.shape == (3, 17) and ms.tolist() == [3.0] * 3
    np.testing.assert_allclose(kp[0, 0], [0.25 * 256 - 0.5, 0.75 * 256 - 0.5])
    np.testing.assert_allclose(kp[1], 127.5)  # not found: crop centre, score 0
    assert scores[1].max() == 0 and scores[0].min() == pytest.approx(0.8)
    assert peer.found.tolist() == [True, False, True]
    with pytest.raises(BackendNotInstalledError):
        peers.MediaPipePeer(tmp_path / "missing" / "python")


def test_movenet_peer_refuses_missing_or_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="peers_setup"):
        peers.MoveNetPeer(tmp_path / "nope.tflite")
    from _tiny_models import make_tflite

    with pytest.raises(ModelFileError, match="not a MoveNet"):
        peers.MoveNetPeer(make_tflite(tmp_path / "tiny.tflite"))


# ---- metrics and the report ----------------------------------------------------------------------
def test_signed_offsets() -> None:
    gt = np.zeros((2, 3, 2))
    pred = gt.copy()
    pred[:, 0] = [5.0, -10.0]  # keypoint 0: +5 px in x, -10 px in y
    pred[0, 1] = [100.0, 100.0]  # keypoint 1 only counts where labelled
    visible = np.array([[True, False, False], [True, True, False]])
    boxes = np.array([[0, 0, 50, 100], [0, 0, 100, 20]], float)  # sides 100 and 100
    off = peers_accuracy.mean_signed_offsets(pred, gt, visible, boxes)
    np.testing.assert_allclose(off[0], [0.05, -0.1])
    np.testing.assert_allclose(off[1], [0.0, 0.0])
    assert np.isnan(off[2]).all()
    with pytest.raises(InputError):
        peers_accuracy.mean_signed_offsets(pred, gt, visible[:, :2], boxes)


def _tiny_val(tmp_path: Path) -> Path:
    """Two rendered-looking images with one labelled person each, COCO format."""
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    anns, imgs = [], []
    for i in (1, 2):
        cv2.imwrite(str(images / f"{i}.jpg"), rng.integers(0, 255, (96, 96, 3), dtype=np.uint8))
        imgs.append({"id": i, "file_name": f"{i}.jpg", "height": 96, "width": 96})
        kp = np.column_stack([rng.uniform(30, 60, 17), rng.uniform(20, 80, 17), np.full(17, 2)]).ravel()
        anns.append({"id": i, "image_id": i, "category_id": 1, "iscrowd": 0, "keypoints": kp.tolist(),
                     "num_keypoints": 17, "bbox": [28.0, 18.0, 34.0, 64.0], "area": 34.0 * 64.0})
    ann = tmp_path / "person_keypoints.json"
    ann.write_text(json.dumps({"images": imgs, "annotations": anns,
                               "categories": [{"id": 1, "name": "person",
                                               "keypoints": list(get_keypoint_set("coco17").names),
                                               "skeleton": []}]}))
    return ann


def test_accuracy_command_writes_tables_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ann = _tiny_val(tmp_path)
    out = tmp_path / "out"
    code = peers_accuracy.main(["--ann", str(ann), "--images", str(tmp_path / "images"), "--ours", "simdr_r50_64",
                                "--backends", "onnxruntime", "--peers-dir", str(tmp_path / "none"),
                                "--no-mediapipe", "--repeats", "2", "--out-dir", str(out)])
    assert code == 0
    text = (out / "accuracy.md").read_text()
    assert "| simdr_r50_64 int8 (onnx) | 64x64 | int8 |" in text
    assert "Per-keypoint PCK@0.2 (2 people)" in text and "| left_ankle |" in text
    rows = json.loads((out / "accuracy.json").read_text())
    assert [r["name"] for r in rows] == ["simdr_r50_64 int8 (onnx)"]
    assert 0 <= rows[0]["pck20"] <= 1 and set(rows[0]["offset_per_kp"]) == set(get_keypoint_set("coco17").names)
    assert (out / "accuracy.png").stat().st_size > 0
    assert "Accuracy on" in capsys.readouterr().out


def test_accuracy_command_user_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert peers_accuracy.main(["--ann", str(tmp_path / "missing.json"), "--no-plot"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


# ---- the real peers, when apps/peers_setup.sh has made them ---------------------------------------
def _missing_peer_files() -> str | None:
    files = [peers.MODELS_DIR / f for f in peers.MOVENET_FILES.values()]
    if not all(f.is_file() for f in files):
        return "no converted MoveNet files in .peers/models (run: bash apps/peers_setup.sh)"
    if not (VAL / "annotations" / "person_keypoints.json").is_file():
        return "no rendered val set in data/synth/val (training/synth.py renders it)"
    return None


@pytest.mark.skipif(_missing_peer_files() is not None, reason=str(_missing_peer_files()))
@pytest.mark.parametrize("name", list(peers.MOVENET_FILES))
def test_movenet_on_renders(name: str) -> None:
    """MoveNet on the people of 5 val renders: keypoints land near the labels (PCK@0.2 >= 0.6;
    0.84 / 0.87 over the whole val set for Lightning / Thunder)."""
    val = peers_accuracy.load_val(VAL / "annotations" / "person_keypoints.json", VAL / "images", limit=5)
    with peers.MoveNetPeer(peers.MODELS_DIR / peers.MOVENET_FILES[name], name=name) as peer:
        assert peer.info.input_hw == ((192, 192) if "lightning" in name else (256, 256))
        preds = []
        for path, box in zip(val.files, val.boxes, strict=True):
            kp, scores = peers.estimate(peer, cv2.imread(str(path)), [box])
            assert kp.shape == (1, 17, 2) and np.all((scores >= 0) & (scores <= 1))
            preds.append(kp[0])
    with pytest.raises(InputError, match="closed"):
        peer.run_one(np.zeros((*peer.info.input_hw, 3), np.uint8))
    from edgepose.evaluate import pck

    rate = pck(np.stack(preds), val.gt[..., :2], val.visible, val.boxes, alpha=0.2)["mean"]
    assert rate >= 0.6, f"{name}: PCK@0.2 {rate:.3f} on {len(preds)} people"


# ---- apps/bench.py (apps/bench_peers.py): MoveNet rows and the "vs peer" columns ------------------
class StubMoveNet:
    """Stands in for a MoveNet peer: an upright stick figure in the middle of every crop."""

    def __init__(self) -> None:
        self.info = peers.PeerInfo("movenet_stub", (96, 96), "fp32", "stub", "stub.tflite")
        self.calls = 0

    def run_one(self, crop: np.ndarray) -> np.ndarray:
        self.calls += 1
        y = np.linspace(0.15, 0.85, 17)
        return np.column_stack([y, 0.5 + 0.1 * np.sin(y * 9), np.full(17, 0.9)])

    def run_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        kp, scores = peers.movenet_decode(np.stack([self.run_one(c) for c in crops]), self.info.input_hw)
        return kp, scores, np.zeros(len(crops))

    def close(self) -> None:
        pass


def test_bench_movenet_row_uses_the_tracking_pipeline() -> None:
    args = bench.parse_args(["--files", "x.onnx", "--repeats", "4", "--warmup", "1", "--threads", "1",
                             "--accuracy", "movenet_stub=0.5"])
    scene = MovingScene(_frame(120, 60))
    peer = StubMoveNet()
    row = bench_peers.bench_movenet(peer, args, scene)
    assert row.peer and (row.model, row.input_hw, row.backend, row.threads) == ("movenet_stub", "96x96", "tflite", "1")
    assert row.model_med > 0 and row.e2e_med > 0 and row.accuracy == 0.5
    assert peer.calls == 2 * (4 + 1)  # model-only runs, then one crop per frame end to end
    step = bench_peers.movenet_e2e_step(peer, [scene(0), scene(1)])
    first, second = step(), step()  # full frame at detection, then the box from the keypoints
    assert first.shape == second.shape == (1, 17, 2)
    assert np.all(np.isfinite(second)) and np.all(second >= -50) and np.all(second[..., 0] <= 700)


def test_compare_with_peers_takes_the_fastest_peer() -> None:
    rows = [Row("a.onnx", "simdr_r50_128", "128x128", "onnxruntime", "int8", "1", model_med=4.0, e2e_med=6.0),
            Row("a_fp32.onnx", "simdr_r50_128", "128x128", "onnxruntime", "fp32", "1", model_med=8.0,
                      e2e_med=9.0),
            Row("l.tflite", "movenet_lightning", "192x192", "tflite", "fp32", "1", model_med=5.0, e2e_med=8.0,
                      peer=True),
            Row("(mp)", "mediapipe_blazepose_full", "256x256", "mediapipe", "fp32", "default", e2e_med=12.0,
                      peer=True)]
    rows.append(Row("(mp) no person found", "mediapipe_blazepose_full_tracking", "256x256", "mediapipe",
                          "fp32", "default", e2e_med=1.0, peer=True, found=False))  # timed its detector only
    compare_with_peers(rows)
    assert rows[0].model_vs_peer == pytest.approx(4.0 / 5.0) and rows[0].e2e_vs_peer == pytest.approx(6.0 / 8.0)
    assert all(r.e2e_vs_peer != r.e2e_vs_peer for r in rows[1:])  # only our int8 rows are compared


@pytest.mark.skipif(_missing_peer_files() is not None, reason=str(_missing_peer_files()))
def test_bench_with_the_real_movenet_files(tmp_path: Path) -> None:
    import csv

    from _tiny_models import make_onnx

    out = tmp_path / "bench.csv"
    assert bench.main(["--files", str(make_onnx(tmp_path / "tiny.onnx")), "--backends", "onnxruntime",
                       "--no-mediapipe", "--movenet-dir", str(peers.MODELS_DIR), "--threads", "1",
                       "--repeats", "3", "--warmup", "1", "--no-plot", "--csv", str(out)]) == 0
    rows = {r["model"]: r for r in csv.DictReader(open(out))}
    for name, size in (("movenet_lightning", "192x192"), ("movenet_thunder", "256x256")):
        assert rows[name]["input_hw"] == size and rows[name]["peer"] == "True"
        assert float(rows[name]["model_med"]) > 0 and float(rows[name]["e2e_med"]) > 0


def test_bench_marks_a_mediapipe_run_that_found_nobody(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    python = tmp_path / "mp-python"
    python.write_text('#!/bin/sh\necho \'{"e2e_med": 2.0, "e2e_p90": 2.5, "people": 0, "mediapipe": "0.10.21"}\'\n')
    python.chmod(0o755)
    args = bench.parse_args(["--files", "x.onnx", "--mediapipe-python", str(python)])
    row = bench_peers.bench_mediapipe(_frame(), args, tracking=True)
    assert row is not None and not row.found and row.file.endswith("no person found")
    assert row.model == "mediapipe_blazepose_full_tracking" and "found no person" in caplog.text


@pytest.mark.skipif(not peers.MEDIAPIPE_PYTHON.exists() or not (VAL / "images").is_dir(),
                    reason="no MediaPipe venv in .peers (run: bash apps/peers_setup.sh) or no rendered val set")
def test_mediapipe_on_renders() -> None:
    """MediaPipe (its venv, through apps/mediapipe_peer.py --crops) on the people of 5 val renders: where it
    finds a pose, the keypoints land near the labels (PCK@0.2 >= 0.5; 0.66 over the whole val set, counting
    the crops where it finds nobody as misses)."""
    from edgepose.evaluate import pck

    val = peers_accuracy.load_val(VAL / "annotations" / "person_keypoints.json", VAL / "images", limit=5)
    peer = peers.MediaPipePeer()
    crops, matrices = zip(*(peers.make_crops(cv2.imread(str(f)), [b], peer.info.input_hw)
                            for f, b in zip(val.files, val.boxes, strict=True)), strict=True)
    kp, scores, ms = peer.run_crops(np.concatenate(crops))
    assert kp.shape == (len(val.files), 17, 2) and np.all(ms > 0) and peer.found.any()
    frame_kp = crops_to_frame(kp, np.concatenate(matrices))
    f = peer.found
    rate = pck(frame_kp[f], val.gt[f][..., :2], val.visible[f], val.boxes[f], alpha=0.2)["mean"]
    assert rate >= 0.5, f"MediaPipe PCK@0.2 {rate:.3f} on {int(f.sum())} found people"
