"""Image degradations of real cameras, each drawn with its own probability: motion blur,
defocus, over- and under-exposure (before the sensor effects of
:func:`edgepose.data.synth.camera.sensor_effects`), then low resolution (render small
and upscale) and JPEG compression (on the final uint8 image).

None of them moves a pixel's content on average, so keypoint labels are unchanged.
Every function draws from the given generator only when its probability is above zero,
so with all probabilities at zero the output is the same as without this module.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from edgepose.data.synth.config import SynthConfig


def happens(rng: np.random.Generator, prob: float) -> bool:
    """A draw of probability ``prob`` that consumes no random number when ``prob`` is 0."""
    return prob > 0 and rng.random() < prob


def motion_blur_kernel(length: float, angle_deg: float) -> np.ndarray:
    """Normalised (k, k) float32 kernel of a straight motion of ``length`` pixels at ``angle_deg``."""
    k = max(3, int(math.ceil(length)) | 1)
    kernel = np.zeros((k, k), np.float32)
    c = (k - 1) / 2
    dx, dy = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    for t in np.linspace(-length / 2, length / 2, 4 * k):
        kernel[int(round(c + t * dy)), int(round(c + t * dx))] = 1.0
    return kernel / kernel.sum()


def defocus_kernel(radius: float) -> np.ndarray:
    """Normalised float32 disk kernel of ``radius`` pixels (anti-aliased edge)."""
    r = int(math.ceil(radius))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    kernel = np.clip(radius + 0.5 - np.sqrt(xx * xx + yy * yy), 0.0, 1.0).astype(np.float32)
    return kernel / kernel.sum()


def optical_effects(rng: np.random.Generator, image: np.ndarray, config: SynthConfig) -> np.ndarray:
    """Motion blur, defocus and exposure of an (H, W, 3) float32 [0, 1] image at output
    size; returns float32 (not clipped: over-exposure saturates in the sensor step)."""
    size = image.shape[0]
    if happens(rng, config.motion_blur_prob):
        length = rng.uniform(2.0, 2.0 + 0.035 * size)
        image = cv2.filter2D(image, -1, motion_blur_kernel(length, rng.uniform(0.0, 180.0)),
                             borderType=cv2.BORDER_REFLECT)
    if happens(rng, config.defocus_prob):
        image = cv2.filter2D(image, -1, defocus_kernel(rng.uniform(0.7, 0.7 + 0.012 * size)),
                             borderType=cv2.BORDER_REFLECT)
    if happens(rng, config.exposure_prob):
        image = image * np.float32(2.0 ** rng.uniform(-1.8, 1.3))
    return image


def output_effects(rng: np.random.Generator, image: np.ndarray, config: SynthConfig) -> np.ndarray:
    """Low resolution (downscale by 1.5-4 then upscale) and JPEG re-encoding (quality
    20-85) of an (H, W, 3) uint8 RGB image; returns uint8 of the same shape."""
    h, w = image.shape[:2]
    if happens(rng, config.lowres_prob):
        factor = rng.uniform(1.5, 4.0)
        small = cv2.resize(image, (max(8, round(w / factor)), max(8, round(h / factor))), interpolation=cv2.INTER_AREA)
        image = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR if rng.random() < 0.7 else cv2.INTER_CUBIC)
    if happens(rng, config.jpeg_prob):
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 86))])
        if not ok:
            raise RuntimeError("OpenCV could not JPEG-encode a rendered image")
        image = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return image
