"""Estimator: frame -> PoseResult, with person boxes, batched crops, smoothing and timings.

::

    from edgepose import Estimator, EstimatorOptions
    with Estimator("simdr_r50_128") as est:             # registry name, or a .onnx/.tflite path
        result = est(frame)                              # frame: (H, W, 3) uint8, BGR by default
        result.keypoints, result.scores                  # (N, K, 2) frame px, (N, K)
        result = est.estimate(frame, [[x, y, w, h]])     # your own person boxes

    # a video: declare it, and pass each frame's capture time in seconds
    est = Estimator("simdr_r50_128", EstimatorOptions(running_mode="video", mode="track", detector="hog"))
    result = est(frame, timestamp=frame_index / fps)

    # an external SimCC model without edgepose metadata (e.g. an RTMPose ONNX export):
    from edgepose import ModelDescription, SimDRCodec
    est = Estimator("rtmpose-s.onnx", description=ModelDescription(
        codec=SimDRCodec((256, 192), split_ratio=2.0), mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225), color_order="rgb", keypoint_set="coco17"))  # mean/std in pixel/255

Settings live in :class:`~edgepose.runtime.options.EstimatorOptions` (frozen); keyword arguments
to ``Estimator`` are a shorthand for its fields: ``Estimator(m, threads=1)`` equals
``Estimator(m, EstimatorOptions(threads=1))``, and ``Estimator(m, opts, threads=1)``
replaces ``threads`` in ``opts``.

Per frame: person boxes (mode ``"full"``, ``"track"`` or ``"detect"``, see below) ->
:func:`edgepose.preprocess.preprocess_crops` -> one backend call for all N crops (see
"Several people" below) -> ``codec.decode`` -> inverse affine to frame pixels ->
tracker update -> One Euro smoothing per track (video mode).

Running mode (``running_mode``): ``"image"`` (default) treats every call on its own:
no timestamps, no smoothing. ``"video"`` needs ``timestamp=`` in seconds on every call,
strictly increasing; equal or earlier timestamps raise :class:`~edgepose.errors.InputError`
(call :meth:`Estimator.reset` before a new video or after a seek), and a spacing of more
than :data:`PLAUSIBLE_FRAME_GAP_S` seconds (e.g. milliseconds passed as seconds) logs one
warning.

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

Several people: with ``threads`` > 1 (or None: all cores) and N > 1 crops, the default
``batching="auto"`` cuts the batch into one chunk per thread and runs the chunks
concurrently on single-threaded runtime instances, because one small crop does not keep
several threads busy; with ``threads=1`` the crops run as one batched call. The extra
instances cost memory; ``batching="batch"`` avoids them. training/RECIPES.md has the
measured speed-ups and memory.

Thread safety: an Estimator keeps per-video state (tracks, filters, the last timestamp)
and is **not** thread-safe: use one Estimator per thread (or per video stream). Several
Estimators can share one loaded model by passing the same
:class:`~edgepose.runtime.backends.Backend` as ``model``: ONNX Runtime then runs them
concurrently; TFLite and OpenVINO backends serialise their calls with a lock.

Input limits: frames must be ``uint8 (H, W, 3)`` with at most :data:`MAX_FRAME_PIXELS`
pixels and sides of at most :data:`MAX_FRAME_SIDE` pixels (OpenCV's warp limit); boxes
finite, in frame pixels (boxes whose numbers are all <= 1 on a frame larger than
:data:`NORMALIZED_BOX_MIN_FRAME` px are refused as normalised), overlapping the frame,
at least :data:`MIN_BOX_SIZE` wide and high, and within :data:`MAX_BOX_COORD` pixels;
timestamps finite numbers; track ids integers. Violations raise
:class:`~edgepose.errors.InputError` naming the problem.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import numbers
import os
import time
from typing import Any

import numpy as np

from edgepose.runtime.backends import Backend
from edgepose.checks import check_number
from edgepose.runtime.detect import make_detector
from edgepose.errors import InputError, ModelFileError
from edgepose.runtime.model_info import build_model_info, load_model, shipped_spec
from edgepose.runtime.options import BATCHING, BOX_FORMATS, MAX_PADDING, MODES, EstimatorOptions, ModelDescription
from edgepose.preprocess import crops_to_frame, preprocess_crops
from edgepose.runtime.result import TIMING_KEYS, PoseResult
from edgepose.skeleton import KeypointSet
from edgepose.runtime.smooth import PoseSmoother
from edgepose.runtime.track import PoseTracker
from edgepose.zoo import REGISTRY

__all__ = ["BATCHING", "BOX_FORMATS", "MAX_PADDING", "MODES", "TIMING_KEYS", "Estimator", "EstimatorOptions",
           "ModelDescription", "PoseResult", "check_boxes", "check_frame", "check_timestamp", "check_track_ids"]

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
#: Boxes whose numbers all lie in [0, 1] are refused as normalised on frames whose
#: shorter side is at least this many pixels (a real box there is wider than a pixel).
NORMALIZED_BOX_MIN_FRAME = 32
#: Frame spacing in seconds above which video timestamps look wrong (milliseconds passed as
#: seconds, say): one warning, and smoothing restarts after gaps longer than the smoother's.
PLAUSIBLE_FRAME_GAP_S = 5.0


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
            "(edgepose.runtime.estimator.MAX_FRAME_PIXELS); resize it first, e.g. with cv2.resize"
        )
    if max(frame.shape[:2]) > MAX_FRAME_SIDE:
        raise InputError(
            f"frame {frame.shape[1]}x{frame.shape[0]} has a side longer than {MAX_FRAME_SIDE} pixels "
            "(edgepose.runtime.estimator.MAX_FRAME_SIDE, OpenCV's warp limit); resize it first, e.g. with cv2.resize"
        )
    return frame


def to_xywh(boxes: np.ndarray, box_format: str) -> np.ndarray:
    """``boxes (N, 4)`` in ``box_format`` ("xywh", "xyxy" or "cxcywh") as (x, y, w, h) float64."""
    b = np.asarray(boxes, dtype=np.float64)
    if box_format == "xywh":
        return b
    if box_format == "xyxy":
        return np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
    if box_format == "cxcywh":
        return np.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 2], b[:, 3]], axis=1)
    raise InputError(f"box_format must be one of {BOX_FORMATS}; got {box_format!r}")


def check_boxes(boxes: Any, frame_hw: tuple[int, int], box_format: str = "xywh") -> np.ndarray:
    """``boxes (N, 4)`` in ``box_format`` (frame pixels) -> (N, 4) xywh float64, or InputError
    (not numbers, NaN/inf, size <= 0, normalised-looking, entirely outside the frame)."""
    layout = {"xywh": "(x, y, w, h)", "xyxy": "(x1, y1, x2, y2)", "cxcywh": "(cx, cy, w, h)"}.get(box_format)
    if layout is None:
        raise InputError(f"box_format must be one of {BOX_FORMATS}; got {box_format!r}")
    try:
        given = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"boxes must be numbers of shape (N, 4) {layout}: {exc}") from None
    if given.ndim == 1 and given.size == 4:
        given = given[None]
    if given.size == 0:
        return np.zeros((0, 4))
    if given.ndim != 2 or given.shape[1] != 4:
        raise InputError(f"boxes must have shape (N, 4) {layout}; got {given.shape}")
    h, w = frame_hw
    for i, row in enumerate(given):
        if not np.all(np.isfinite(row)):
            raise InputError(f"box {i} {row.tolist()} contains NaN or inf")
    if min(h, w) >= NORMALIZED_BOX_MIN_FRAME and np.all((given >= 0) & (given <= 1)):
        raise InputError(
            f"boxes {given.tolist()[:2]}{' ...' if len(given) > 2 else ''} look normalised (all numbers in 0..1) "
            f"on a {w}x{h} frame: pass frame pixels, e.g. multiply x and w by {w} and y and h by {h}"
        )
    b = to_xywh(given, box_format)
    for i, (x, y, bw, bh) in enumerate(b):
        original = given[i].tolist()
        if bw <= 0 or bh <= 0:
            hint = " (x2 <= x1 or y2 <= y1)" if box_format == "xyxy" else ""
            raise InputError(f"box {i} {original} has width or height <= 0{hint}; boxes are {layout} "
                             f"(box_format={box_format!r})")
        if bw < MIN_BOX_SIZE or bh < MIN_BOX_SIZE:
            raise InputError(
                f"box {i} {original} has a width or height below {MIN_BOX_SIZE:g} pixels "
                f"(edgepose.runtime.estimator.MIN_BOX_SIZE): boxes are {layout} in frame pixels"
            )
        if max(abs(x), abs(y), bw, bh) > MAX_BOX_COORD or not np.all(np.isfinite([x, y, bw, bh])):
            raise InputError(
                f"box {i} {original} has a coordinate or size beyond {MAX_BOX_COORD:g} pixels "
                f"(edgepose.runtime.estimator.MAX_BOX_COORD): boxes are {layout} in frame pixels"
            )
        if x >= w or y >= h or x + bw <= 0 or y + bh <= 0:
            raise InputError(f"box {i} {original} lies outside the {w}x{h} frame (boxes are {layout}, "
                             f"box_format={box_format!r})")
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
def make_options(options: EstimatorOptions | None, settings: dict[str, Any]) -> EstimatorOptions:
    """``options`` (default ``EstimatorOptions()``) with the fields named in ``settings`` replaced."""
    if options is not None and not isinstance(options, EstimatorOptions):
        if isinstance(options, str):
            raise InputError(
                f"Estimator's second argument is an EstimatorOptions; to pick a backend write "
                f"Estimator(model, backend={options!r})"
            )
        raise InputError(f"options must be an EstimatorOptions; got {type(options).__name__}")
    known = EstimatorOptions.field_names()
    unknown = [k for k in settings if k not in known]
    if unknown:
        described = [k for k in unknown if k in {f.name for f in dataclasses.fields(ModelDescription)}]
        if described:
            raise InputError(
                f"{', '.join(f'{k}=' for k in described)} describe a model file: pass "
                f"description=ModelDescription({', '.join(f'{k}=...' for k in described)})"
            )
        close = difflib.get_close_matches(unknown[0], known, n=1)
        raise InputError(f"Estimator got an unknown setting {unknown[0]!r}"
                         f"{f' (did you mean {close[0]!r}?)' if close else ''}; settings: {', '.join(known)}")
    base = options if options is not None else EstimatorOptions()
    return dataclasses.replace(base, **settings) if settings else base


class Estimator:
    """Top-down pose estimation on frames (see the module docstring for modes and threads).

    Args:
        model: registry name (``"simdr_r50_128"``), path to ``.onnx``/``.tflite``/``.xml``,
            or an already loaded :class:`~edgepose.runtime.backends.Backend` (shared, not closed here).
        options: an :class:`~edgepose.runtime.options.EstimatorOptions` (default: all defaults).
        description: a :class:`~edgepose.runtime.options.ModelDescription` for a file without
            edgepose metadata; its fields override the file's metadata.
        **settings: :class:`~edgepose.runtime.options.EstimatorOptions` fields replacing those of
            ``options`` (``threads=1``, ``running_mode="video"``, ...).

    The keypoint score threshold (``score_threshold``: tracker defaults, what
    ``PoseResult.draw`` uses) is, in this order: the option; the registry's, for a
    registry name or for a shipped file loaded by path (recognised by its sha256); the
    file's ``score_threshold`` metadata (``quantization/int8.py``, ``export.py
    --score-threshold`` and ``ship.py`` write it); else, for a foreign file or one exported
    before the key existed, the codec's default (0.3 x the score of a perfect prediction):
    give such files ``score_threshold=`` (``quantization/verify.py`` measures one). SimDR
    scores are softmax maxima, whose scale depends on the bins and on how sharply a model
    localises, so one number does not fit every model.

    Attributes:
        options: the settings in force.
        info: :class:`~edgepose.runtime.model_info.ModelInfo`, how the model is fed and decoded.
        score_threshold: as above.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | Backend,
        options: EstimatorOptions | None = None,
        *,
        description: ModelDescription | None = None,
        **settings: Any,
    ) -> None:
        self._closed = True
        self.options = opts = make_options(options, settings)
        if description is not None and not isinstance(description, ModelDescription):
            raise InputError(f"description must be a ModelDescription; got {type(description).__name__}")
        self.detector = make_detector(opts.detector)
        self.mode = opts.mode or ("detect" if self.detector is not None else "full")
        if self.mode == "detect" and self.detector is None:
            raise InputError("mode 'detect' needs a detector (detector='hog', 'motion' or a ModelDetector)")
        self.running_mode = opts.running_mode
        self.smoothing = opts.smoothing
        self.frame_color, self.batching, self.max_batch = opts.frame_color, opts.batching, int(opts.max_batch)
        self.padding, self.max_people = float(opts.padding), opts.max_people
        self.full_frame_if_none = opts.full_frame_if_none
        self.smoother = (PoseSmoother(self.smoothing)
                         if self.smoothing is not None and self.running_mode == "video" else None)
        self._last_timestamp: float | None = None
        self._warned_spacing = False
        self._owns_backend = not isinstance(model, Backend)
        try:
            if isinstance(model, Backend):
                self.backend = model
            else:
                self.backend = load_model(model, opts.backend, opts.threads, opts.precision,
                                          **dict(opts.backend_options or {}))
            self.info = build_model_info(self.backend, description.given() if description is not None else {})
            self.score_threshold = self._score_threshold(model, opts.score_threshold)
        except BaseException:
            self.close()
            raise
        self.tracker = opts.tracker or PoseTracker(lost_score=self.score_threshold,
                                                   keypoint_threshold=self.score_threshold)
        self._closed = False
        logger.info("Estimator: %s, running_mode=%s, mode=%s, smoothing=%s, batching=%s", self.backend,
                    self.running_mode, self.mode, "on" if self.smoother is not None else "off", self.batching)

    def _score_threshold(self, model: Any, given: Any) -> float:
        """``given``, else the registry's (by name, or a shipped file by path), the file's metadata,
        or the codec's default."""
        if given is None and isinstance(model, str) and model in REGISTRY:
            given = REGISTRY[model].score_threshold
        if given is None:
            given = self.info.metadata.get("score_threshold")
        if given is None:
            shipped = shipped_spec(self.backend.path, self.info.metadata)
            given = shipped.score_threshold if shipped is not None else None
        if given is None:
            return self.info.codec.default_score_threshold()
        return check_number(given, "score_threshold", low=0.0, high=1.0, low_inclusive=True, high_inclusive=True)

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
            timestamp: capture time in seconds, strictly increasing: required in
                ``running_mode="video"``, refused in ``"image"``.
        """
        t0 = time.perf_counter()
        frame = self._check_open_frame(frame)
        timestamp = self._check_time(timestamp)
        boxes, ids = self._person_boxes(frame)
        return self._run_pipeline(frame, boxes, ids, timestamp, t0, time.perf_counter(), update_tracker=True)

    def estimate(self, frame: np.ndarray, boxes: Any, track_ids: Any = None,
                 timestamp: float | None = None) -> PoseResult:
        """Poses in ``frame`` for caller-given ``boxes (N, 4)`` in frame pixels, laid out as the
        ``box_format`` option says (default (x, y, w, h)); the result's boxes are xywh.

        Args:
            track_ids: (N,) ids for smoothing across calls; None: boxes are matched to the
                previous call's by IoU (as detections are).
            timestamp: as for :meth:`__call__`.
        """
        t0 = time.perf_counter()
        frame = self._check_open_frame(frame)
        b = check_boxes(boxes, frame.shape[:2], self.options.box_format)
        ids = None if track_ids is None else check_track_ids(track_ids, len(b))
        timestamp = self._check_time(timestamp)
        if ids is None:
            ids = self.tracker.match(b)
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
        """Forget tracks, smoothing history and the last timestamp (call between unrelated
        videos, or after a seek)."""
        self.tracker.reset()
        self._last_timestamp = None
        if self.smoother is not None:
            self.smoother.reset()

    def close(self) -> None:
        """Release the backend (unless it was passed in as ``model``) and close the detector."""
        self._closed = True
        if getattr(self, "_owns_backend", False) and hasattr(self, "backend"):
            self.backend.close()
        close = getattr(getattr(self, "detector", None), "close", None)
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

    def _check_time(self, timestamp: Any) -> float | None:
        """The frame's timestamp, checked against the running mode and the previous frame's."""
        t = check_timestamp(timestamp)
        if self.running_mode == "image":
            if t is not None:
                raise InputError(
                    "timestamp= is for video: create the Estimator with running_mode='video' to smooth "
                    "consecutive frames, or leave timestamp out for independent images"
                )
            return None
        if t is None:
            raise InputError(
                "running_mode='video' needs timestamp= on every frame: its capture time in seconds "
                "(time.monotonic() for a live camera, frame_index / fps for a file)"
            )
        last = self._last_timestamp
        if last is not None:
            if t <= last:
                raise InputError(
                    f"timestamp {t:.6g} s is {'equal to' if t == last else 'before'} the previous frame's "
                    f"{last:.6g} s: in running_mode='video' timestamps must strictly increase; pass each frame's "
                    "capture time in seconds, and call reset() before a new video or after a seek"
                )
            if t - last > PLAUSIBLE_FRAME_GAP_S and not self._warned_spacing:
                self._warned_spacing = True
                logger.warning(
                    "video timestamps %.6g s apart (%.6g -> %.6g): edgepose takes seconds; if these are "
                    "milliseconds, divide them by 1000 (smoothing restarts after each gap this long)",
                    t - last, last, t)
        self._last_timestamp = t
        return t

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

    def _result(self, frame: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, boxes: np.ndarray,
                ids: np.ndarray, timings: dict[str, float]) -> PoseResult:
        return PoseResult(keypoints.astype(np.float32, copy=False), scores.astype(np.float32, copy=False),
                          boxes.astype(np.float32), np.asarray(ids, dtype=np.int64), timings,
                          self.info.keypoint_set.name, self.score_threshold,
                          (int(frame.shape[0]), int(frame.shape[1])))

    def _run_pipeline(self, frame: np.ndarray, boxes: np.ndarray, ids: np.ndarray, timestamp: float | None,
                      t0: float, t1: float, update_tracker: bool) -> PoseResult:
        k = self.info.keypoint_set.num_keypoints
        n = len(boxes)
        if n == 0:
            timings = dict.fromkeys(TIMING_KEYS, 0.0)
            timings["detect"] = (t1 - t0) * 1e3
            timings["total"] = (time.perf_counter() - t0) * 1e3
            return self._result(frame, np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32),
                                np.zeros((0, 4)), np.zeros(0, np.int64), timings)
        batch, matrices = preprocess_crops(frame, boxes, self.info.input_spec,
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
        t4 = time.perf_counter()
        if update_tracker and self.mode != "full":
            self.tracker.update(ids, keypoints, scores, frame.shape[:2])
        t5 = time.perf_counter()
        if self.smoother is not None and timestamp is not None:
            keypoints = self.smoother(ids, keypoints, timestamp)
        t6 = time.perf_counter()
        timings = {"detect": (t1 - t0) * 1e3, "preprocess": (t2 - t1) * 1e3, "infer": (t3 - t2) * 1e3,
                   "decode": (t4 - t3) * 1e3, "track": (t5 - t4) * 1e3, "smooth": (t6 - t5) * 1e3,
                   "total": (t6 - t0) * 1e3}
        return self._result(frame, keypoints, scores, boxes, ids, timings)

    def __repr__(self) -> str:
        return (f"Estimator({self.backend!r}, running_mode={self.running_mode!r}, mode={self.mode!r}, "
                f"model={self.info.name!r})")
