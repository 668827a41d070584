"""Top-down input preprocessing shared by the runtime, calibration and verification (numpy + OpenCV).

One function turns a frame and person boxes into the model's input batch, so that int8
calibration sees exactly what inference sees:

    box (x, y, w, h) -> box_to_center_scale -> get_affine_matrix -> warp_crop
    -> colour order of the model -> (pixel / 255 - mean) / std -> NCHW (or NHWC) float32
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from edgepose.errors import InputError
from edgepose.geometry import DEFAULT_PADDING, box_to_center_scale, get_affine_matrix, transform_points, warp_crop

__all__ = ["input_params", "preprocess_crops", "crops_to_frame", "normalize_crops"]


def input_params(spec: Any) -> tuple[tuple[int, int], np.ndarray, np.ndarray, str]:
    """``(input_hw, mean (3,), std (3,), color_order)`` of a ModelSpec or a metadata dict."""
    if isinstance(spec, Mapping):
        try:
            hw, mean, std, color = spec["input_hw"], spec["mean"], spec["std"], spec["color_order"]
        except KeyError as exc:
            raise InputError(f"model description lacks {exc.args[0]!r}") from None
    else:
        try:
            hw, mean, std, color = spec.input_hw, spec.mean, spec.std, spec.color_order
        except AttributeError as exc:
            raise InputError(f"expected a ModelSpec or metadata dict, got {type(spec).__name__}: {exc}") from None
    if color not in ("bgr", "rgb"):
        raise InputError(f"color_order must be 'bgr' or 'rgb', got {color!r}")
    mean_a = np.asarray(mean, dtype=np.float32).reshape(3)
    std_a = np.asarray(std, dtype=np.float32).reshape(3)
    return (int(hw[0]), int(hw[1])), mean_a, std_a, color


def normalize_crops(crops: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``crops (N, H, W, 3)`` pixels in the model's channel order -> ``(x / 255 - mean) / std`` float32."""
    x = crops.astype(np.float32) / np.float32(255.0)
    return (x - mean.astype(np.float32)) / std.astype(np.float32)


def preprocess_crops(
    frame: np.ndarray,
    boxes: np.ndarray | Sequence[Sequence[float]],
    spec: Any,
    *,
    frame_color: str = "bgr",
    padding: float = DEFAULT_PADDING,
    layout: str = "NCHW",
) -> tuple[np.ndarray, np.ndarray]:
    """Cut, warp and normalise one crop per box.

    Args:
        frame: ``(H, W, 3)`` image, uint8 (or float in 0..255), channels in ``frame_color`` order.
        boxes: ``(N, 4)`` person boxes ``(x, y, w, h)`` in frame pixels.
        spec: a ``ModelSpec`` or a model-file metadata dict (``input_hw``, ``mean``, ``std``,
            ``color_order``).
        frame_color: "bgr" (OpenCV) or "rgb": channel order of ``frame``.
        padding: box padding factor (1.25 as in the official code).
        layout: "NCHW" or "NHWC" for the returned batch.

    Returns:
        ``batch`` float32 ``(N, 3, H, W)`` (NCHW) or ``(N, H, W, 3)`` (NHWC), and
        ``matrices (N, 2, 3)`` float64 mapping frame pixels to crop pixels (decoded crop
        keypoints go back with :func:`crops_to_frame`).

    Raises:
        InputError: bad frame, boxes, colour order or layout.
    """
    img = np.asarray(frame)
    if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] == 0 or img.shape[1] == 0:
        raise InputError(f"frame must be (H, W, 3); got shape {img.shape}")
    if frame_color not in ("bgr", "rgb"):
        raise InputError(f"frame_color must be 'bgr' or 'rgb', got {frame_color!r}")
    if layout not in ("NCHW", "NHWC"):
        raise InputError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")
    b = np.asarray(boxes, dtype=np.float64)
    if b.ndim == 1 and b.size == 4:
        b = b[None]
    if b.ndim != 2 or b.shape[1] != 4:
        raise InputError(f"boxes must be (N, 4) (x, y, w, h); got shape {b.shape}")
    input_hw, mean, std, color = input_params(spec)
    n = b.shape[0]
    crops = np.empty((n, input_hw[0], input_hw[1], 3), dtype=np.float32)
    matrices = np.empty((n, 2, 3), dtype=np.float64)
    for i, box in enumerate(b):
        center, scale = box_to_center_scale(box, input_hw, padding)
        matrices[i] = get_affine_matrix(center, scale, input_hw)
        crops[i] = warp_crop(img, matrices[i], input_hw)
    if color != frame_color:
        crops = crops[..., ::-1]
    batch = normalize_crops(crops, mean, std)
    if layout == "NCHW":
        batch = batch.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(batch, dtype=np.float32), matrices


def crops_to_frame(keypoints: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Map ``keypoints (N, K, 2)`` from crop pixels back to frame pixels with the inverse of
    ``matrices (N, 2, 3)`` (as returned by :func:`preprocess_crops`); float64 (N, K, 2)."""
    kp = np.asarray(keypoints, dtype=np.float64)
    m = np.asarray(matrices, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[2] != 2 or m.shape != (kp.shape[0], 2, 3):
        raise InputError(f"need keypoints (N, K, 2) and matrices (N, 2, 3); got {kp.shape} and {m.shape}")
    out = np.empty_like(kp)
    for i in range(kp.shape[0]):
        out[i] = transform_points(kp[i], cv2.invertAffineTransform(m[i]))
    return out
