"""Estimator: frame -> PoseResult, with person boxes, batched crops, smoothing and timings.

::

    from edgepose import Estimator
    with Estimator("simdr_r50_128") as est:            # registry name, or a .onnx/.tflite path
        result = est(frame)                             # frame: (H, W, 3) uint8, BGR by default
        result.keypoints, result.scores                 # (N, K, 2) frame px, (N, K)
        result = est.estimate(frame, [[x, y, w, h]])    # your own person boxes

    # an external SimCC model without edgepose metadata (e.g. an RTMPose ONNX export):
    from edgepose import SimDRCodec
    est = Estimator("rtmpose-s.onnx", codec=SimDRCodec((256, 192), split_ratio=2.0),
                    mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),  # pixel/255 units
                    color_order="rgb", keypoint_set="coco17")

Per frame: person boxes (mode ``"full"``, ``"track"`` or ``"detect"``, see below) ->
:func:`edgepose.preprocess.preprocess_crops` -> one backend call for all N crops (see
"Several people" below) -> ``codec.decode`` -> inverse
affine to frame pixels -> tracker update -> One Euro smoothing per track.

Modes:

``"full"``  one person, the whole frame is the box. Cheapest; right for a webcam
    facing one person; wrong for several people or a small person in a big frame.
``"detect"``  the detector runs on every frame. Robust, and the detector dominates
    the cost.
``"track"``  the detector (or the whole frame, without one) runs on the first frame,
    when a track is lost (mean keypoint score below ``PoseTracker.lost_score``) and every
    ``redetect_interval`` frames; in between each person's box comes from their
    previous keypoints. Nearly the cost of ``"full"`` with several people; a newcomer
    is found only at the next detection.

Smoothing (``smoothing=``): ``None`` off; ``"auto"`` (default) smooths frames that carry
a ``timestamp`` (video: the apps pass the capture time) and leaves frames without one
alone (single images, unrelated photos); a :class:`~edgepose.smooth.OneEuroParams`
smooths every frame, using ``time.monotonic()`` when no timestamp is given.

Several people: with ``threads`` > 1 (or None: all cores) and N > 1 crops, the default
``batching="auto"`` cuts the batch into one chunk per thread and runs the chunks
concurrently on single-threaded runtime instances, because one small crop does not keep
several threads busy. Four ``simdr_r50_128`` int8 crops on ONNX Runtime with 2 threads
(2 cores, end to end, five runs of ``apps/bench.py --threads 2 --people 4``) took
0.68-0.73x the time of four single calls this way, 0.79-0.81x as one 2-thread batched
call. With ``threads=1`` the crops run as one batched call: 0.92x at 128x128 int8
(:mod:`edgepose.backends.base` says why so little), 0.74x at 64x64. The extra instances
cost memory: for ``simdr_r50_128`` int8 with two workers, +81 MB (ONNX Runtime), +102 MB
(OpenVINO), +105 MB (LiteRT); ``batching="batch"`` avoids them.

Thread safety: an Estimator keeps per-video state (tracks, filters) and is **not**
thread-safe: use one Estimator per thread (or per video stream). Several Estimators can
share one loaded model by passing the same :class:`~edgepose.backends.Backend` as
``model``: ONNX Runtime then runs them concurrently; TFLite and OpenVINO backends
serialise their calls with a lock (correct, not parallel).

Input limits: frames must be ``uint8 (H, W, 3)`` with at most :data:`MAX_FRAME_PIXELS`
pixels and sides of at most :data:`MAX_FRAME_SIDE` pixels (OpenCV's warp limit); boxes
finite, overlapping the frame, at least :data:`MIN_BOX_SIZE` wide and high, and within
:data:`MAX_BOX_COORD` pixels;
timestamps finite numbers; track ids integers. Violations raise
:class:`~edgepose.errors.InputError` naming the problem.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgepose.backends import Backend
from edgepose.codecs import Codec
from edgepose.codecs.base import check_number
from edgepose.detect import Detector, make_detector
from edgepose.errors import InputError, ModelFileError
from edgepose.model_info import build_model_info, load_model
from edgepose.preprocess import crops_to_frame, preprocess_crops
from edgepose.skeleton import KeypointSet
from edgepose.smooth import OneEuroParams, PoseSmoother
from edgepose.track import PoseTracker
from edgepose.zoo import REGISTRY

logger = logging.getLogger(__name__)

#: Largest frame accepted, in pixels (about 50 MP; 8K UHD, 33 MP, passes). Resize larger
#: frames first: a pose model sees a crop of at most a few hundred pixels anyway.
MAX_FRAME_PIXELS = 50_000_000
#: Longest frame side accepted, in pixels: OpenCV's warpAffine needs sides below SHRT_MAX.
MAX_FRAME_SIDE = 32_766
#: Largest absolute box coordinate or size, in pixels: keeps crops and results finite in float32.
MAX_BOX_COORD = 1e9
#: Smallest box width or height, in pixels (a thousandth of a pixel).
MIN_BOX_SIZE = 1e-3
#: Largest crop padding factor (the official value is 1.25).
MAX_PADDING = 100.0
MODES = ("full", "track", "detect")
BATCHING = ("auto", "batch", "loop")
TIMING_KEYS = ("detect", "preprocess", "infer", "decode", "smooth", "total")


@dataclass(frozen=True)
class PoseResult:
    """Poses found in one frame.

    Attributes:
        keypoints: (N, K, 2) float32, (x, y) in frame pixels.
        scores: (N, K) float32 keypoint confidences (codec's score, 0..1 for SimDR).
        boxes: (N, 4) float32 person boxes (x, y, w, h) in frame pixels that were cropped.
        track_ids: (N,) int64 track ids (stable across frames in "track"/"detect" modes).
        timings: milliseconds per stage: detect, preprocess, infer, decode, smooth, total.
        keypoint_set: name of the keypoint set ("coco17", ...).
    """

    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    track_ids: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)
    keypoint_set: str = "coco17"

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    def draw(self, image: np.ndarray, threshold: float = 0.3) -> np.ndarray:
        """Draw the skeletons on ``image`` (BGR uint8, in place) and return it."""
        from edgepose.draw import draw_result

        return draw_result(image, self, threshold=threshold)


# ---- input checks ---------------------------------------------------------------------------
def check_frame(frame: Any) -> np.ndarray:
    """Return ``frame`` if it is a usable ``uint8 (H, W, 3)`` image, else raise InputError naming the problem."""
    if frame is None:
        raise InputError(
            "frame is None: the camera or video returned no image (check the ok flag of cv2.VideoCapture.read() "
            "or the path given to cv2.imread)"
        )
    if not isinstance(frame, np.ndarray):
        raise InputError(f"frame must be a numpy array (H, W, 3) uint8; got {type(frame).__name__}")
    if frame.size == 0:
        raise InputError(f"frame is empty (shape {frame.shape})")
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        raise InputError(
            f"frame {frame.shape} is grayscale; convert it with cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)"
        )
    if frame.ndim != 3:
        raise InputError(f"frame must have shape (H, W, 3); got {frame.shape}")
    if frame.shape[2] == 4:
        raise InputError(f"frame {frame.shape} has 4 channels; convert it with cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)")
    if frame.shape[2] != 3:
        raise InputError(f"frame must have 3 channels (H, W, 3); got {frame.shape}")
    if frame.dtype != np.uint8:
        raise InputError(
            f"frame dtype is {frame.dtype}, expected uint8 (0..255): convert with "
            "np.clip(frame, 0, 255).astype(np.uint8) (multiply 0..1 floats by 255 first)"
        )
    if frame.shape[0] * frame.shape[1] > MAX_FRAME_PIXELS:
        raise InputError(
            f"frame {frame.shape[1]}x{frame.shape[0]} exceeds the limit of {MAX_FRAME_PIXELS} pixels "
            "(edgepose.estimator.MAX_FRAME_PIXELS); resize it first, e.g. with cv2.resize"
        )
    if max(frame.shape[:2]) > MAX_FRAME_SIDE:
        raise InputError(
            f"frame {frame.shape[1]}x{frame.shape[0]} has a side longer than {MAX_FRAME_SIDE} pixels "
            "(edgepose.estimator.MAX_FRAME_SIDE, OpenCV's warp limit); resize it first, e.g. with cv2.resize"
        )
    return frame


def check_boxes(boxes: Any, frame_hw: tuple[int, int]) -> np.ndarray:
    """``boxes (N, 4)`` xywh as float64, or InputError (NaN/inf, size <= 0, entirely outside the frame)."""
    try:
        b = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"boxes must be numbers of shape (N, 4) (x, y, w, h): {exc}") from None
    if b.ndim == 1 and b.size == 4:
        b = b[None]
    if b.size == 0:
        return np.zeros((0, 4))
    if b.ndim != 2 or b.shape[1] != 4:
        raise InputError(f"boxes must have shape (N, 4) (x, y, w, h); got {b.shape}")
    h, w = frame_hw
    for i, (x, y, bw, bh) in enumerate(b):
        if not np.all(np.isfinite([x, y, bw, bh])):
            raise InputError(f"box {i} {b[i].tolist()} contains NaN or inf")
        if bw <= 0 or bh <= 0:
            raise InputError(f"box {i} {b[i].tolist()} has width or height <= 0")
        if bw < MIN_BOX_SIZE or bh < MIN_BOX_SIZE:
            raise InputError(
                f"box {i} {b[i].tolist()} has a width or height below {MIN_BOX_SIZE:g} pixels "
                "(edgepose.estimator.MIN_BOX_SIZE): boxes are (x, y, w, h) in frame pixels"
            )
        if max(abs(x), abs(y), bw, bh) > MAX_BOX_COORD:
            raise InputError(
                f"box {i} {b[i].tolist()} has a coordinate or size beyond {MAX_BOX_COORD:g} pixels "
                "(edgepose.estimator.MAX_BOX_COORD): boxes are (x, y, w, h) in frame pixels"
            )
        if x >= w or y >= h or x + bw <= 0 or y + bh <= 0:
            raise InputError(f"box {i} {b[i].tolist()} lies outside the {w}x{h} frame")
    return b


def check_track_ids(track_ids: Any, n: int) -> np.ndarray:
    """``track_ids`` as int64 ``(n,)``, or InputError (not integers, or not ``n`` of them)."""
    try:
        ids = np.asarray(track_ids)
    except (TypeError, ValueError) as exc:
        raise InputError(f"track_ids must be {n} integers; got {track_ids!r} ({exc})") from None
    integral = ids.dtype.kind in "iu" or (
        ids.dtype.kind == "f" and bool(np.all(np.isfinite(ids) & (ids == np.trunc(ids)))))
    if not integral or (ids.size and not np.all(np.abs(ids.astype(np.float64)) < 2.0**63)):
        raise InputError(f"track_ids must be integers; got {track_ids!r}")
    ids = ids.astype(np.int64).reshape(-1)
    if ids.shape != (n,):
        raise InputError(f"track_ids must have shape ({n},); got {ids.shape}")
    return ids


def check_timestamp(timestamp: Any) -> float | None:
    """``timestamp`` as float seconds (None stays None), or InputError if it is not a finite number."""
    if timestamp is None:
        return None
    if isinstance(timestamp, (bool, np.bool_)) or not isinstance(timestamp, numbers.Real):
        raise InputError(f"timestamp must be a number of seconds or None; got {timestamp!r}")
    try:
        t = float(timestamp)
    except OverflowError:
        t = math.inf
    if not math.isfinite(t):
        raise InputError(f"timestamp must be finite seconds; got {timestamp!r}")
    return t


# ---- the estimator --------------------------------------------------------------------------
class Estimator:
    """Top-down pose estimation on frames (see the module docstring for modes and threads).

    Args:
        model: registry name (``"simdr_r50_128"``), path to ``.onnx``/``.tflite``/``.xml``,
            or an already loaded :class:`~edgepose.backends.Backend` (shared, not closed here).
        backend: "onnxruntime" | "tflite" | "openvino" | None (from the file suffix).
        threads: runtime CPU threads (None: the runtime's default).
        precision: registry file precision ("int8", "fp32", "fp16"); None: int8 first.
        mode: "full" | "track" | "detect"; None: "detect" with a detector, else "full".
        detector: a :class:`~edgepose.detect.Detector`, ``"hog"``, ``"motion"``, a detection
            model path (``.onnx``/``.tflite``/``.xml``, e.g. ``.peers/models/centernet_fp32.onnx``;
            a :class:`~edgepose.detect.ModelDetector` with its output format found from the
            file's outputs), or None.
            :meth:`close` closes it (if it has ``close``).
        tracker: :class:`~edgepose.track.PoseTracker` settings for "track"/"detect" modes;
            None: defaults whose lost/keypoint thresholds are ``score_threshold``.
        score_threshold: keypoint score above which a keypoint counts as found (the tracker's
            default thresholds; ``apps/webcam.py`` draws with it). None: the registry's value
            when ``model`` is a registry name with shipped weights, else the file's
            ``score_threshold`` metadata, else the codec's default (0.3 x the score of a
            perfect prediction). Files written by ``quantization/int8.py`` (measured),
            ``quantization/export.py --score-threshold`` and ``quantization/ship.py`` carry
            the metadata value, so a shipped file copied elsewhere and loaded by path gets the
            same threshold as by name; a foreign file (no edgepose metadata, e.g. an RTMPose
            export) or one exported before the key existed gets the codec's default, and
            should be given ``score_threshold=`` (``quantization/verify.py`` measures one).
            SimDR scores are softmax maxima, whose scale depends on the bins and on how
            sharply a model localises, so one number does not fit every model.
        smoothing: None, "auto" or :class:`~edgepose.smooth.OneEuroParams` (module docstring).
        frame_color: channel order of the frames you pass: "bgr" (OpenCV) or "rgb".
        batching: "auto": the crops of a frame go to the backend together, which spreads
            them over its threads (:meth:`~edgepose.backends.Backend.run_parallel`; one
            thread: a single batched call). "batch": one runtime call for all crops with
            all threads (when the batch axis is dynamic, else one call per crop). "loop":
            one call per crop (to measure the difference).
        max_batch: crops per backend call at most (bounds memory with many people).
        padding: crop padding around each box (1.25 as in training).
        max_people: keep at most this many detected people (highest score first).
        full_frame_if_none: when the detector finds nobody, use the whole frame as one
            box instead of returning no people.
        codec, input_hw, mean, std, color_order, keypoint_set: model description for files
            without edgepose metadata (e.g. RTMPose SimCC exports); they override metadata.
            ``mean``/``std`` in pixel/255 units, in the model's channel order.
        output_names: output tensor names in the order the codec takes them, when they
            are not ``simcc_x``/``simcc_y`` (SimDR) or the single heatmap output.
        backend_options: extra keyword arguments for the backend (``providers``, ``device``).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | Backend,
        backend: str | None = None,
        *,
        threads: int | None = None,
        precision: str | None = None,
        mode: str | None = None,
        detector: Detector | str | os.PathLike[str] | None = None,
        tracker: PoseTracker | None = None,
        score_threshold: float | None = None,
        smoothing: str | OneEuroParams | None = "auto",
        frame_color: str = "bgr",
        batching: str = "auto",
        max_batch: int = 32,
        padding: float = 1.25,
        max_people: int | None = None,
        full_frame_if_none: bool = False,
        codec: Codec | dict[str, Any] | None = None,
        input_hw: tuple[int, int] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        color_order: str | None = None,
        keypoint_set: str | None = None,
        output_names: Sequence[str] | None = None,
        backend_options: dict[str, Any] | None = None,
    ) -> None:
        if frame_color not in ("bgr", "rgb"):
            raise InputError(f"frame_color must be 'bgr' or 'rgb'; got {frame_color!r}")
        if batching not in BATCHING:
            raise InputError(f"batching must be one of {BATCHING}; got {batching!r}")
        if isinstance(max_batch, bool) or not isinstance(max_batch, numbers.Integral) or max_batch < 1:
            raise InputError(f"max_batch must be an integer >= 1; got {max_batch!r}")
        if isinstance(padding, bool) or not isinstance(padding, numbers.Real) or not 0 < padding <= MAX_PADDING:
            raise InputError(f"padding must be a number in (0, {MAX_PADDING:g}]; got {padding!r}")
        if max_people is not None and (isinstance(max_people, bool) or not isinstance(max_people, numbers.Integral)
                                       or max_people < 0):
            raise InputError(f"max_people must be None or an integer >= 0; got {max_people!r}")
        self.detector = make_detector(detector)
        self.mode = mode or ("detect" if self.detector is not None else "full")
        if self.mode not in MODES:
            raise InputError(f"mode must be one of {MODES}; got {self.mode!r}")
        if self.mode == "detect" and self.detector is None:
            raise InputError("mode 'detect' needs a detector (detector='hog', 'motion' or a ModelDetector)")
        self.smoothing = self._smoothing_params(smoothing)
        #: smooth frames without a timestamp too (explicit OneEuroParams), not only video frames
        self.smooth_always = isinstance(smoothing, OneEuroParams) or smoothing is True
        self.frame_color, self.batching, self.max_batch = frame_color, batching, int(max_batch)
        self.padding, self.max_people, self.full_frame_if_none = float(padding), max_people, full_frame_if_none
        self.smoother = PoseSmoother(self.smoothing) if self.smoothing is not None else None
        self._owns_backend = not isinstance(model, Backend)
        try:
            if isinstance(model, Backend):
                self.backend = model
            else:
                self.backend = load_model(model, backend, threads, precision, **(backend_options or {}))
            self.info = build_model_info(self.backend, {
                "codec": codec, "input_hw": input_hw, "mean": mean, "std": std, "color_order": color_order,
                "keypoint_set": keypoint_set, "output_names": output_names,
            })
            self.score_threshold = self._score_threshold(model, score_threshold)
        except BaseException:
            self.close()
            raise
        self.tracker = tracker or PoseTracker(lost_score=self.score_threshold, keypoint_threshold=self.score_threshold)
        self._closed = False
        logger.info("Estimator: %s, mode=%s, smoothing=%s, batching=%s", self.backend, self.mode,
                    smoothing if isinstance(smoothing, str) or smoothing is None else "on", batching)

    def _score_threshold(self, model: Any, given: Any) -> float:
        """``given``, else the registry's (shipped weights), the file's metadata or the codec's default."""
        if given is None and isinstance(model, str) and model in REGISTRY:
            given = REGISTRY[model].score_threshold
        if given is None:
            given = self.info.metadata.get("score_threshold")
        if given is None:
            return self.info.codec.default_score_threshold()
        return check_number(given, "score_threshold", low=0.0, high=1.0, low_inclusive=True, high_inclusive=True)

    @staticmethod
    def _smoothing_params(smoothing: Any) -> OneEuroParams | None:
        if smoothing is None or smoothing is False:
            return None
        if smoothing == "auto" or smoothing is True:
            return OneEuroParams()
        if isinstance(smoothing, OneEuroParams):
            return smoothing
        raise InputError(f"smoothing must be None, 'auto' or OneEuroParams; got {smoothing!r}")

    # ---- properties ---------------------------------------------------------------------
    @property
    def keypoint_set(self) -> KeypointSet:
        """The model's keypoint set."""
        return self.info.keypoint_set

    @property
    def input_hw(self) -> tuple[int, int]:
        """Model input (height, width)."""
        return self.info.input_hw

    # ---- public calls ---------------------------------------------------------------------
    def __call__(self, frame: np.ndarray, timestamp: float | None = None) -> PoseResult:
        """Poses in ``frame (H, W, 3) uint8`` (channels in ``frame_color`` order).

        Args:
            frame: the image.
            timestamp: capture time in seconds (video). Turns "auto" smoothing on.
        """
        t0 = time.perf_counter()
        frame = self._check_open_frame(frame)
        timestamp = check_timestamp(timestamp)
        boxes, ids = self._person_boxes(frame)
        return self._run_pipeline(frame, boxes, ids, timestamp, t0, time.perf_counter(), update_tracker=True)

    def estimate(self, frame: np.ndarray, boxes: Any, track_ids: Any = None,
                 timestamp: float | None = None) -> PoseResult:
        """Poses in ``frame`` for caller-given ``boxes (N, 4)`` (x, y, w, h) frame px.

        Args:
            track_ids: (N,) ids for smoothing across calls; None: boxes are matched to the
                previous call's by IoU (as detections are).
            timestamp: capture time in seconds (turns "auto" smoothing on).
        """
        t0 = time.perf_counter()
        frame = self._check_open_frame(frame)
        timestamp = check_timestamp(timestamp)
        b = check_boxes(boxes, frame.shape[:2])
        if track_ids is None:
            ids = self.tracker.match(b)
        else:
            ids = check_track_ids(track_ids, len(b))
        return self._run_pipeline(frame, b, ids, timestamp, t0, time.perf_counter(),
                                  update_tracker=track_ids is None)

    def infer(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run the model on a preprocessed ``batch (N, 3, H, W)`` following ``batching``;
        outputs in the codec's order."""
        if self.batching == "loop":
            parts = [self.backend.run(batch[i:i + 1]) for i in range(batch.shape[0])]
        else:
            run = self.backend.run_parallel if self.batching == "auto" else self.backend.run
            parts = [run(batch[i:i + self.max_batch]) for i in range(0, batch.shape[0], self.max_batch)]
        outs = [np.concatenate([p[j] for p in parts], axis=0) if len(parts) > 1 else parts[0][j]
                for j in range(len(parts[0]))]
        return [outs[i] for i in self.info.output_order]

    def reset(self) -> None:
        """Forget tracks and smoothing history (call between unrelated videos)."""
        self.tracker.reset()
        if self.smoother is not None:
            self.smoother.reset()

    def close(self) -> None:
        """Release the backend (unless it was passed in as ``model``) and close the detector."""
        self._closed = True
        if getattr(self, "_owns_backend", False) and hasattr(self, "backend"):
            self.backend.close()
        close = getattr(self.detector, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> Estimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- internals ----------------------------------------------------------------------
    def _check_open_frame(self, frame: Any) -> np.ndarray:
        if self._closed:
            raise InputError("this Estimator is closed")
        return check_frame(frame)

    def _detect(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        if self.detector is None:
            return np.array([[0.0, 0.0, float(w), float(h)]])
        found = self.detector.detect(frame, self.frame_color)
        try:
            boxes, scores = found
            boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
            scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InputError(
                f"the detector {type(self.detector).__name__} must return (boxes (M, 4), scores (M,)) numbers "
                f"({exc})"
            ) from None
        if scores.shape != (len(boxes),):
            raise InputError(
                f"the detector {type(self.detector).__name__} returned {len(boxes)} boxes but {scores.size} scores"
            )
        if self.max_people is not None and len(boxes) > self.max_people:
            boxes = boxes[np.argsort(-scores, kind="stable")[: self.max_people]]
        if len(boxes) == 0 and self.full_frame_if_none:
            boxes = np.array([[0.0, 0.0, float(w), float(h)]])
        return check_boxes(boxes, (h, w))

    def _person_boxes(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = frame.shape[:2]
        if self.mode == "full":
            return np.array([[0.0, 0.0, float(w), float(h)]]), np.zeros(1, dtype=np.int64)
        if self.mode == "detect" or self.tracker.needs_detection():
            boxes = self._detect(frame)
            return boxes, self.tracker.match(boxes)
        return self.tracker.predicted()

    def _run_pipeline(self, frame: np.ndarray, boxes: np.ndarray, ids: np.ndarray, timestamp: float | None,
                      t0: float, t1: float, update_tracker: bool) -> PoseResult:
        k = self.info.keypoint_set.num_keypoints
        n = len(boxes)
        if n == 0:
            total = (time.perf_counter() - t0) * 1e3
            return PoseResult(np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32),
                              np.zeros((0, 4), np.float32), np.zeros(0, np.int64),
                              {"detect": (t1 - t0) * 1e3, "preprocess": 0.0, "infer": 0.0, "decode": 0.0,
                               "smooth": 0.0, "total": total}, self.info.keypoint_set.name)
        batch, matrices = preprocess_crops(frame, boxes, self.info.preprocess_params(),
                                           frame_color=self.frame_color, padding=self.padding)
        t2 = time.perf_counter()
        outputs = self.infer(batch)
        t3 = time.perf_counter()
        kp_crop, scores = self.info.codec.decode(outputs)
        if kp_crop.shape[1] != k:
            raise ModelFileError(
                f"{self.backend.path.name} predicts {kp_crop.shape[1]} keypoints; keypoint set "
                f"{self.info.keypoint_set.name!r} has {k}"
            )
        keypoints = crops_to_frame(kp_crop, matrices)
        if update_tracker and self.mode != "full":
            self.tracker.update(ids, keypoints, scores, frame.shape[:2])
        t4 = time.perf_counter()
        if self.smoother is not None and (timestamp is not None or self.smooth_always):
            t = float(timestamp) if timestamp is not None else time.monotonic()
            keypoints = self.smoother(ids, keypoints, t)
        t5 = time.perf_counter()
        timings = {"detect": (t1 - t0) * 1e3, "preprocess": (t2 - t1) * 1e3, "infer": (t3 - t2) * 1e3,
                   "decode": (t4 - t3) * 1e3, "smooth": (t5 - t4) * 1e3, "total": (t5 - t0) * 1e3}
        return PoseResult(keypoints.astype(np.float32), scores.astype(np.float32), boxes.astype(np.float32),
                          np.asarray(ids, dtype=np.int64), timings, self.info.keypoint_set.name)

    def __repr__(self) -> str:
        return f"Estimator({self.backend!r}, mode={self.mode!r}, model={self.info.name!r})"
