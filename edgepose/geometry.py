"""Top-down crop geometry: person box -> center/scale -> affine crop, and back.

Conventions:
    * boxes are ``(x, y, w, h)`` in frame pixels (COCO ``bbox`` order);
    * a crop is described by ``center (2,)`` (x, y) and ``scale (2,)`` = the (w, h) in
      frame pixels of the region that is warped onto the model input;
    * ``input_hw`` is (height, width) of the model input;
    * affine matrices are (2, 3) float64 and map (x, y, 1) column vectors.
The mapping is continuous: the crop center goes to ``(W / 2, H / 2)`` of the input, as
in the official SimpleBaseline / SimDR code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from edgepose.errors import InputError

DEFAULT_PADDING = 1.25


def box_to_center_scale(
    box: Sequence[float] | np.ndarray,
    input_hw: tuple[int, int],
    padding: float = DEFAULT_PADDING,
) -> tuple[np.ndarray, np.ndarray]:
    """Turn a box into the crop that the model sees.

    The box is grown to the input's aspect ratio (never shrunk), then padded by
    ``padding`` on both sides.

    Args:
        box: ``(x, y, w, h)`` in pixels; w and h must be finite and > 0.
        input_hw: model input (height, width).
        padding: factor applied to both sides after the aspect-ratio extension.

    Returns:
        ``center (2,)`` and ``scale (2,)`` (crop width, height in pixels), float64.

    Raises:
        InputError: for a box that is not 4 finite numbers with positive size.
    """
    b = np.asarray(box, dtype=np.float64)
    if b.shape != (4,):
        raise InputError(f"a box must be 4 numbers (x, y, w, h); got shape {b.shape}")
    if not np.all(np.isfinite(b)):
        raise InputError(f"box {b.tolist()} contains NaN or inf")
    x, y, w, h = b
    if w <= 0 or h <= 0:
        raise InputError(f"degenerate box {b.tolist()}: width and height must be > 0")
    if padding <= 0:
        raise InputError(f"padding must be > 0, got {padding}")
    height, width = _check_hw(input_hw)
    aspect = width / height
    if w > aspect * h:
        h = w / aspect
    else:
        w = h * aspect
    center = np.array([x + b[2] * 0.5, y + b[3] * 0.5], dtype=np.float64)
    scale = np.array([w * padding, h * padding], dtype=np.float64)
    return center, scale


def get_affine_matrix(
    center: Sequence[float] | np.ndarray,
    scale: Sequence[float] | np.ndarray,
    output_hw: tuple[int, int],
    rotation_deg: float = 0.0,
    inverse: bool = False,
) -> np.ndarray:
    """Affine map from the frame to the crop (or back with ``inverse=True``).

    The region of size ``scale`` around ``center``, rotated by ``rotation_deg``
    (counter-clockwise in the image as displayed, i.e. the crop shows the person turned
    by that angle), is mapped onto an ``output_hw`` image. Width sets the zoom; the
    height of ``scale`` is expected to match the output aspect ratio (see
    :func:`box_to_center_scale`).

    Returns:
        (2, 3) float64 matrix.
    """
    c = np.asarray(center, dtype=np.float64).reshape(2)
    s = np.asarray(scale, dtype=np.float64).reshape(2)
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(s))) or s[0] <= 0 or s[1] <= 0:
        raise InputError(f"invalid crop center {c.tolist()} / scale {s.tolist()}")
    height, width = _check_hw(output_hw)
    zoom = width / s[0]
    theta = math.radians(rotation_deg)
    cos, sin = math.cos(theta) * zoom, math.sin(theta) * zoom
    # crop = R(theta) * zoom * (p - center) + output_center, with y pointing down.
    linear = np.array([[cos, sin], [-sin, cos]])
    offset = np.array([width * 0.5, height * 0.5]) - linear @ c
    matrix = np.hstack([linear, offset[:, None]])
    if not np.all(np.isfinite(matrix)):
        raise InputError(
            f"crop center {c.tolist()} / scale {s.tolist()} gives a non-finite affine matrix: the box is too "
            "small or too far from the origin"
        )
    if inverse:
        return cv2.invertAffineTransform(matrix).astype(np.float64)
    return matrix


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine ``matrix`` to ``points (..., 2)``; returns float64 (..., 2)."""
    p = np.asarray(points, dtype=np.float64)
    if p.shape[-1:] != (2,):
        raise InputError(f"points must have shape (..., 2); got {p.shape}")
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (2, 3):
        raise InputError(f"an affine matrix must be (2, 3); got {m.shape}")
    return p @ m[:, :2].T + m[:, 2]


#: OpenCV's warpAffine needs image and crop sides below SHRT_MAX (32767).
MAX_WARP_SIDE = 32_766


def warp_crop(image: np.ndarray, matrix: np.ndarray, output_hw: tuple[int, int]) -> np.ndarray:
    """Warp ``image (H, W, C)`` with ``matrix`` into an ``output_hw`` crop (bilinear, black border)."""
    height, width = _check_hw(output_hw)
    if max(image.shape[0], image.shape[1], height, width) > MAX_WARP_SIDE:
        raise InputError(
            f"image {image.shape[1]}x{image.shape[0]} / crop {width}x{height}: OpenCV warps sides of at most "
            f"{MAX_WARP_SIDE} pixels; resize the image first"
        )
    return cv2.warpAffine(
        image, np.asarray(matrix, dtype=np.float64), (width, height),
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )


def keypoints_to_box(keypoints: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray | None:
    """Tight ``(x, y, w, h)`` box around ``keypoints (K, 2)`` where ``valid (K,)`` is true.

    Returns None when fewer than two valid keypoints exist or they span no area.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    mask = np.all(np.isfinite(kp), axis=1)
    if valid is not None:
        mask &= np.asarray(valid, dtype=bool)
    if mask.sum() < 2:
        return None
    lo, hi = kp[mask].min(axis=0), kp[mask].max(axis=0)
    w, h = hi - lo
    if w <= 0 and h <= 0:
        return None
    return np.array([lo[0], lo[1], max(w, 1.0), max(h, 1.0)], dtype=np.float64)


def _check_hw(hw: tuple[int, int]) -> tuple[int, int]:
    if len(hw) != 2 or int(hw[0]) <= 0 or int(hw[1]) <= 0:
        raise InputError(f"input_hw must be (height, width) with positive sizes; got {hw}")
    return int(hw[0]), int(hw[1])
