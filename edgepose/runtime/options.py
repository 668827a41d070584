"""Settings of an :class:`~edgepose.runtime.estimator.Estimator`, in two frozen objects.

* :class:`EstimatorOptions`: how the pipeline runs (running mode, person boxes, threads,
  smoothing, ...). Every field has a default, so ``Estimator("simdr_r50_128")`` needs none;
  ``Estimator(model, threads=1)`` is a shorthand for ``Estimator(model, EstimatorOptions(threads=1))``.
* :class:`ModelDescription`: how to feed and decode a foreign model file that carries no
  edgepose metadata (e.g. an RTMPose SimCC export). Files written by edgepose describe
  themselves and need none.

Both validate their fields when made, so a wrong setting fails where it is written, with
a message naming the field.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from edgepose.errors import InputError
from edgepose.preprocess import check_color_order
from edgepose.runtime.smooth import OneEuroParams

if TYPE_CHECKING:
    from edgepose.codecs import Codec
    from edgepose.runtime.detect import Detector
    from edgepose.skeleton import KeypointSet
    from edgepose.runtime.track import PoseTracker

__all__ = ["BATCHING", "BOX_FORMATS", "MAX_PADDING", "MODES", "RUNNING_MODES", "EstimatorOptions",
           "ModelDescription"]

RUNNING_MODES = ("image", "video")
MODES = ("full", "track", "detect")
BATCHING = ("auto", "batch", "loop")
BOX_FORMATS = ("xywh", "xyxy", "cxcywh")
#: Largest crop padding factor (the official value is 1.25).
MAX_PADDING = 100.0


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class EstimatorOptions:
    """How an Estimator runs. All fields are optional.

    Attributes:
        running_mode: ``"image"`` (default): every call stands alone, no timestamps, no
            smoothing. ``"video"``: consecutive frames of one video; every call needs
            ``timestamp=`` in seconds, strictly increasing (the capture time, or
            ``frame_index / fps`` for a file), and keypoints are smoothed per track with
            ``smoothing``. Call ``Estimator.reset()`` before a new video or after a seek.
        mode: where person boxes come from: ``"full"`` (the whole frame is one person),
            ``"track"`` (detect, then follow each person's keypoints) or ``"detect"`` (the
            detector on every frame). None: ``"detect"`` with a detector, else ``"full"``.
        detector: a :class:`~edgepose.runtime.detect.Detector`, ``"hog"``, ``"motion"``, a
            detection model path (``.onnx``/``.tflite``/``.xml``), or None.
        tracker: :class:`~edgepose.runtime.track.PoseTracker` settings for "track"/"detect";
            None: defaults whose thresholds are the score threshold.
        score_threshold: keypoint score above which a keypoint counts as found (drawing,
            tracker defaults). None: the model's own (see ``Estimator``).
        smoothing: One Euro filter parameters for ``running_mode="video"``, or None (off).
            ``"auto"`` is accepted and means the default parameters.
        frame_color: channel order of the frames you pass: ``"bgr"`` (OpenCV) or ``"rgb"``.
        box_format: layout of the boxes you pass to ``estimate``: ``"xywh"`` (top-left
            corner, width, height; default), ``"xyxy"`` (two corners) or ``"cxcywh"``
            (centre, width, height), all in frame pixels. Results are always xywh.
        batching: ``"auto"``: the crops of a frame are spread over the backend's threads;
            ``"batch"``: one call with all crops; ``"loop"``: one call per crop.
        max_batch: crops per backend call at most (bounds memory with many people).
        padding: crop padding around each box (1.25 as in training).
        max_people: keep at most this many detected people (highest score first).
        full_frame_if_none: when the detector finds nobody, use the whole frame as one box.
        backend: ``"onnxruntime"`` | ``"tflite"`` | ``"openvino"`` | None (from the file suffix).
        threads: runtime CPU threads (None: the runtime's default).
        precision: registry file precision (``"int8"``, ``"fp32"``, ``"fp16"``); None: int8 first.
        backend_options: extra keyword arguments for the backend (``providers``, ``device``).
    """

    running_mode: str = "image"
    mode: str | None = None
    detector: Detector | str | os.PathLike[str] | None = None
    tracker: PoseTracker | None = None
    score_threshold: float | None = None
    smoothing: OneEuroParams | None = OneEuroParams()
    frame_color: str = "bgr"
    box_format: str = "xywh"
    batching: str = "auto"
    max_batch: int = 32
    padding: float = 1.25
    max_people: int | None = None
    full_frame_if_none: bool = False
    backend: str | None = None
    threads: int | None = None
    precision: str | None = None
    backend_options: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.running_mode not in RUNNING_MODES:
            raise InputError(f"running_mode must be one of {RUNNING_MODES}; got {self.running_mode!r}")
        if self.mode is not None and self.mode not in MODES:
            raise InputError(f"mode must be one of {MODES}; got {self.mode!r}")
        if self.smoothing == "auto" or self.smoothing is True:
            object.__setattr__(self, "smoothing", OneEuroParams())
        elif self.smoothing is False:
            object.__setattr__(self, "smoothing", None)
        if self.smoothing is not None and not isinstance(self.smoothing, OneEuroParams):
            raise InputError(f"smoothing must be None or OneEuroParams; got {self.smoothing!r}")
        check_color_order(self.frame_color, "frame_color")
        if self.box_format not in BOX_FORMATS:
            raise InputError(f"box_format must be one of {BOX_FORMATS}; got {self.box_format!r}")
        if self.batching not in BATCHING:
            raise InputError(f"batching must be one of {BATCHING}; got {self.batching!r}")
        if not _is_int(self.max_batch) or self.max_batch < 1:
            raise InputError(f"max_batch must be an integer >= 1; got {self.max_batch!r}")
        if isinstance(self.padding, bool) or not isinstance(self.padding, numbers.Real) \
                or not 0 < self.padding <= MAX_PADDING:
            raise InputError(f"padding must be a number in (0, {MAX_PADDING:g}]; got {self.padding!r}")
        if self.max_people is not None and (not _is_int(self.max_people) or self.max_people < 0):
            raise InputError(f"max_people must be None or an integer >= 0; got {self.max_people!r}")
        if self.backend_options is not None and not isinstance(self.backend_options, Mapping):
            raise InputError(f"backend_options must be a dict of keyword arguments; got {self.backend_options!r}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of all settings, in declaration order."""
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class ModelDescription:
    """How to feed and decode a model file without edgepose metadata; fields given here
    override the file's metadata (with a warning).

    ::

        ModelDescription(codec=SimDRCodec((256, 192), split_ratio=2.0),
                         mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),  # pixel/255
                         color_order="rgb", keypoint_set="coco17")

    Attributes:
        codec: the decoder (a :class:`~edgepose.codecs.Codec` or its dict).
        input_hw: model input (height, width); default: the codec's.
        mean, std: per input channel, pixel/255 units, in the model's channel order.
        color_order: channel order the model expects, ``"bgr"`` or ``"rgb"``.
        keypoint_set: name (``"coco17"``) or :class:`~edgepose.skeleton.KeypointSet`.
        output_names: output tensor names in the order the codec takes them, when they
            are not the codec's own (``codec.output_names``).
    """

    codec: Codec | Mapping[str, Any] | None = None
    input_hw: tuple[int, int] | None = None
    mean: Sequence[float] | None = None
    std: Sequence[float] | None = None
    color_order: str | None = None
    keypoint_set: str | KeypointSet | None = None
    output_names: Sequence[str] | None = None

    def given(self) -> dict[str, Any]:
        """The fields that were set, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
