"""Top-down input preprocessing shared by the runtime, calibration and verification (numpy + OpenCV).

One function turns a frame and person boxes into the model's input batch, so that int8
calibration sees exactly what inference sees:

    box (x, y, w, h) -> box_to_center_scale -> get_affine_matrix (both: crop_matrix) -> warp_crop (the frame's dtype)
    -> colour order of the model -> (pixel / 255 - mean) / std -> NCHW (or NHWC) float32

The last three steps are one pass per channel, straight into the batch
(``pixel * scale + offset``, :func:`normalization`), with no float copy of the crop.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from edgepose.checks import check_hw
from edgepose.errors import InputError
from edgepose.geometry import DEFAULT_PADDING, warp_crop

__all__ = ["COLOR_ORDERS", "LAYOUTS", "InputSpec", "InputSpecShortcuts", "check_color_order", "check_layout", "crop_matrix", "crops_to_frame",
           "normalization", "normalize_crops", "preprocess_crops"]


#: channel orders of frames and models
COLOR_ORDERS = ("bgr", "rgb")
#: layouts of an input batch
LAYOUTS = ("NCHW", "NHWC")


def check_color_order(value: Any, name: str = "color_order") -> str:
    """``value`` if it is "bgr" or "rgb", else InputError naming ``name`` (the one colour-order check:
    frames, model specs, model-file metadata and detectors all go through it)."""
    if value not in COLOR_ORDERS:
        raise InputError(f"{name} must be 'bgr' or 'rgb'; got {value!r}")
    return str(value)


def check_layout(value: Any, name: str = "layout") -> str:
    """``value`` if it is "NCHW" or "NHWC", else InputError naming ``name``."""
    if value not in LAYOUTS:
        raise InputError(f"{name} must be 'NCHW' or 'NHWC'; got {value!r}")
    return str(value)


def _three(name: str, values: Any) -> tuple[float, float, float]:
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError, OverflowError):
        arr = np.full(1, np.nan)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be 3 finite numbers; got {values!r}")
    if np.any(np.abs(arr) > 1.5):
        raise InputError(
            f"{name}={list(arr)} looks like 0..255 units; edgepose takes pixel/255 units "
            f"(e.g. RTMPose's mean [123.675, 116.28, 103.53] is [0.485, 0.456, 0.406])"
        )
    if name == "std" and np.any(arr <= 0):
        raise InputError(f"std must be > 0; got {list(arr)}")
    return (float(arr[0]), float(arr[1]), float(arr[2]))


@dataclass(frozen=True)
class InputSpec:
    """How to feed a model: the one description that the registry (``ModelSpec.input_spec``),
    model files (``ModelInfo.input_spec``, :func:`edgepose.runtime.metadata.input_spec_of`),
    calibration and training crops share. Frozen, and validated when made: a bad field raises
    one-line :class:`InputError` naming it.

    Attributes:
        input_hw: model input (height, width) in pixels.
        mean, std: per input channel, pixel/255 units, in the model's channel order.
        color_order: channel order the model expects, "bgr" or "rgb".
        layout: layout of the batch fed to it, "NCHW" or "NHWC".
    """

    input_hw: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    color_order: str = "bgr"
    layout: str = "NCHW"

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_hw", check_hw(self.input_hw, "input_hw"))
        object.__setattr__(self, "mean", _three("mean", self.mean))
        object.__setattr__(self, "std", _three("std", self.std))
        check_color_order(self.color_order)
        check_layout(self.layout)

    @functools.cached_property
    def scale_offset(self) -> tuple[np.ndarray, np.ndarray]:
        """:func:`normalization` of this spec (computed once)."""
        return normalization(self.mean, self.std)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"input_hw": [H, W], "mean": [3], "std": [3], "color_order", "layout"}``."""
        return {"input_hw": list(self.input_hw), "mean": list(self.mean), "std": list(self.std),
                "color_order": self.color_order, "layout": self.layout}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], layout: str | None = None) -> InputSpec:
        """Inverse of :meth:`to_dict`; ``layout`` (or ``d["layout"]``, else "NCHW") sets the layout.

        Raises:
            InputError: ``d`` is not a mapping, lacks a field (named), or a field is invalid.
        """
        if not isinstance(d, Mapping):
            raise InputError(f"an input spec must be a mapping; got {type(d).__name__}")
        missing = [k for k in ("input_hw", "mean", "std", "color_order") if k not in d]
        if missing:
            raise InputError(f"input spec lacks {', '.join(repr(k) for k in missing)}")
        return cls(d["input_hw"], d["mean"], d["std"], d["color_order"],
                   d.get("layout", "NCHW") if layout is None else layout)


class InputSpecShortcuts:
    """``input_hw``, ``mean``, ``std`` and ``color_order`` read from the ``input_spec`` of the class
    that mixes this in (``ModelSpec``, ``ModelInfo``): one place for the four shortcuts."""

    input_spec: InputSpec

    @property
    def input_hw(self) -> tuple[int, int]:
        """Model input (height, width) px."""
        return self.input_spec.input_hw

    @property
    def mean(self) -> tuple[float, float, float]:
        """Per-channel mean, pixel/255 units, model channel order."""
        return self.input_spec.mean

    @property
    def std(self) -> tuple[float, float, float]:
        """Per-channel std, pixel/255 units, model channel order."""
        return self.input_spec.std

    @property
    def color_order(self) -> str:
        """Channel order the model expects, "bgr" or "rgb"."""
        return self.input_spec.color_order


def _check_spec(spec: Any) -> InputSpec:
    if not isinstance(spec, InputSpec):
        raise InputError(f"expected an InputSpec (ModelSpec.input_spec, ModelInfo.input_spec or "
                         f"edgepose.runtime.metadata.input_spec_of(metadata)); got {type(spec).__name__}")
    return spec


def normalization(mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(scale (3,), offset (3,))`` float32 with ``pixel * scale + offset == (pixel / 255 - mean) / std``."""
    mean64, std64 = np.asarray(mean, np.float64).reshape(3), np.asarray(std, np.float64).reshape(3)
    return (1.0 / (255.0 * std64)).astype(np.float32), (-mean64 / std64).astype(np.float32)


def normalize_crops(crops: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``crops (N, H, W, 3)`` pixels in the model's channel order -> ``(x / 255 - mean) / std`` float32
    (computed as ``x * scale + offset``, see :func:`normalization`, exactly as :func:`preprocess_crops`)."""
    scale, offset = normalization(mean, std)
    out = np.multiply(crops, scale, dtype=np.float32)
    out += offset
    return out


def crop_matrix(box: Sequence[float], input_hw: tuple[int, int], padding: float = DEFAULT_PADDING) -> np.ndarray:
    """The (2, 3) float64 frame -> crop matrix of one ``box (x, y, w, h)``: the same numbers as
    ``get_affine_matrix(*box_to_center_scale(box, input_hw, padding), input_hw)``, computed with
    Python floats (a few microseconds instead of a few dozen small numpy calls per person).

    Raises:
        InputError: a box that is not 4 finite numbers with positive size, a padding <= 0, or a
            box too small or too far out for a finite matrix.
    """
    try:
        x, y, w, h = (float(v) for v in box)
    except (TypeError, ValueError) as exc:
        raise InputError(f"a box must be 4 numbers (x, y, w, h); got {box!r} ({exc})") from None
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise InputError(f"box {[x, y, w, h]} contains NaN or inf")
    if w <= 0 or h <= 0:
        raise InputError(f"degenerate box {[x, y, w, h]}: width and height must be > 0")
    if not padding > 0:
        raise InputError(f"padding must be > 0, got {padding}")
    height, width = input_hw
    aspect = width / height
    ext_w = w if w > aspect * h else h * aspect
    zoom = width / (ext_w * padding)
    cx, cy = x + w * 0.5, y + h * 0.5
    matrix = np.array([[zoom, 0.0, width * 0.5 - (zoom * cx + 0.0 * cy)],
                       [-0.0, zoom, height * 0.5 - (-0.0 * cx + zoom * cy)]])
    if not (math.isfinite(zoom) and math.isfinite(matrix[0, 2]) and math.isfinite(matrix[1, 2])):
        raise InputError(
            f"box {[x, y, w, h]} gives a non-finite affine matrix: the box is too small or too far from the origin"
        )
    return matrix


def preprocess_crops(
    frame: np.ndarray,
    boxes: np.ndarray | Sequence[Sequence[float]],
    spec: InputSpec,
    *,
    frame_color: str = "bgr",
    padding: float = DEFAULT_PADDING,
    layout: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut, warp and normalise one crop per box.

    Args:
        frame: ``(H, W, 3)`` image, uint8 (or float in 0..255), channels in ``frame_color`` order.
        boxes: ``(N, 4)`` person boxes ``(x, y, w, h)`` in frame pixels.
        spec: how the model is fed (``ModelSpec.input_spec``, ``ModelInfo.input_spec``, or
            :func:`edgepose.runtime.metadata.input_spec_of` of a file's metadata).
        frame_color: "bgr" (OpenCV) or "rgb": channel order of ``frame``.
        padding: box padding factor (1.25 as in the official code).
        layout: "NCHW" or "NHWC" for the returned batch; None: the spec's.

    Returns:
        ``batch`` float32 ``(N, 3, H, W)`` (NCHW) or ``(N, H, W, 3)`` (NHWC), and
        ``matrices (N, 2, 3)`` float64 mapping frame pixels to crop pixels (decoded crop
        keypoints go back with :func:`crops_to_frame`).

    Raises:
        InputError: bad frame, boxes, frame colour order or layout, or ``spec`` not an InputSpec.
    """
    img = np.asarray(frame)
    if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] == 0 or img.shape[1] == 0:
        raise InputError(f"frame must be (H, W, 3); got shape {img.shape}")
    check_color_order(frame_color, "frame_color")
    input_spec = _check_spec(spec)
    layout = input_spec.layout if layout is None else check_layout(layout)
    b = np.asarray(boxes, dtype=np.float64)
    if b.ndim == 1 and b.size == 4:
        b = b[None]
    if b.ndim != 2 or b.shape[1] != 4:
        raise InputError(f"boxes must be (N, 4) (x, y, w, h); got shape {b.shape}")
    input_hw = input_spec.input_hw
    scale, offset = input_spec.scale_offset
    swap = input_spec.color_order != frame_color
    scale_b, offset_b = (scale[:, None, None], offset[:, None, None]) if layout == "NCHW" else (scale, offset)
    n, (h, w) = b.shape[0], input_hw
    batch = np.empty((n, 3, h, w) if layout == "NCHW" else (n, h, w, 3), dtype=np.float32)
    matrices = np.empty((n, 2, 3), dtype=np.float64)
    for i, box in enumerate(b.tolist()):
        matrices[i] = crop_matrix(box, input_hw, padding)
        crop = warp_crop(img, matrices[i], input_hw)  # (h, w, 3) in the frame's dtype
        if swap:
            crop = crop[:, :, ::-1]  # a view: the model's channel order
        # colour order, normalisation and layout in one strided pass (plus the offset)
        np.multiply(crop.transpose(2, 0, 1) if layout == "NCHW" else crop, scale_b, out=batch[i],
                    dtype=np.float32, casting="unsafe")
        batch[i] += offset_b
    return batch, matrices


def crops_to_frame(keypoints: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Map ``keypoints (N, K, 2)`` from crop pixels back to frame pixels with the inverse of
    ``matrices (N, 2, 3)`` (as returned by :func:`preprocess_crops`); float64 (N, K, 2)."""
    kp = np.asarray(keypoints, dtype=np.float64)
    m = np.asarray(matrices, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[2] != 2 or m.shape != (kp.shape[0], 2, 3):
        raise InputError(f"need keypoints (N, K, 2) and matrices (N, 2, 3); got {kp.shape} and {m.shape}")
    out = np.empty_like(kp)
    for i in range(kp.shape[0]):  # one OpenCV call per person: (K, 1, 2) points through the inverse
        out[i] = cv2.transform(kp[i, :, None, :], cv2.invertAffineTransform(m[i]))[:, 0, :]
    return out
