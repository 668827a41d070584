"""Person detectors: HOG (when OpenCV has it), motion, and user-supplied YOLO/SSD models."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from _tiny_models import make_constant_onnx

from edgepose.detect import Detector, HOGPeopleDetector, ModelDetector, MotionDetector, make_detector, nms
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
