"""Top-down training transforms (numpy + OpenCV, torch-free).

The augmentation follows the official SimpleBaseline / HRNet / SimDR ``JointsDataset``:

1. half-body: with probability ``half_body_prob``, when more than ``half_body_min_joints``
   keypoints are labelled, the crop is replaced by one around the upper or the lower body
   (centre = mean of the chosen joints, size = their extent grown to the input aspect
   ratio, times 1.5);
2. scale: ``scale *= clip(N(1, scale_factor), 1 - scale_factor, 1 + scale_factor)``;
3. rotation: with probability ``rotation_prob``,
   ``clip(N(0, rotation_factor), -2 rotation_factor, 2 rotation_factor)`` degrees
   (the official sampling: the factor is a standard deviation, clipped at twice it);
4. flip: with probability ``flip_prob`` the image is mirrored (``x -> W - 1 - x``, the
   same convention as the flip test's ``array[..., ::-1]``), left/right joints swapped and
   the crop centre mirrored.

All randomness comes from a ``numpy.random.Generator`` passed in, so a sample is a
pure function of (seed, epoch, index). The flip is folded into the crop's affine matrix
(:func:`hflip_matrix`), which is exactly equivalent to mirroring the whole image first,
without copying it.

Model input normalisation (:func:`normalize`) reuses the inference code
(:func:`edgepose.preprocess.normalize_crops`): colour order from the spec, then
``(pixel / 255 - mean) / std`` per channel, so training sees what the runtime feeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgepose.errors import InputError
from edgepose.geometry import get_affine_matrix, transform_points, warp_crop
from edgepose.preprocess import InputSpec, normalize_crops
from edgepose.skeleton import KeypointSet

#: Name fragments of keypoints that belong to the lower body (for half-body augmentation).
LOWER_BODY_WORDS = ("hip", "knee", "ankle", "pelvis")


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation settings (defaults: the official SimDR / HRNet COCO config).

    Attributes:
        scale_factor: relative std of the random scale and its clip (0.3 = +-30 %).
        rotation_factor: std of the random rotation in degrees, clipped at twice it.
        rotation_prob: probability of rotating at all.
        flip_prob: probability of a horizontal flip (0 disables flipping).
        half_body_prob: probability of the half-body crop.
        half_body_min_joints: half-body needs strictly more labelled joints than this.
        half_body_padding: size factor of the half-body crop (official: 1.5).
        shift_factor: relative std of a random shift of the crop centre, per axis, in units
            of the crop size, clipped at twice it (0 = off, the official recipe; mmpose's
            RTMPose recipe uses 0.16). Teaches the model off-centre people, as in a
            whole-frame crop or a box carried over from the previous frame.
        shift_prob: probability of shifting at all.
    """

    scale_factor: float = 0.3
    rotation_factor: float = 40.0
    rotation_prob: float = 0.6
    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    half_body_min_joints: int = 8
    half_body_padding: float = 1.5
    shift_factor: float = 0.0
    shift_prob: float = 0.0

    def __post_init__(self) -> None:
        for name in ("rotation_prob", "flip_prob", "half_body_prob", "shift_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InputError(f"AugmentConfig.{name} must be in [0, 1]; got {value}")
        if not 0.0 <= self.scale_factor < 1.0:
            raise InputError(f"AugmentConfig.scale_factor must be in [0, 1); got {self.scale_factor}")
        if self.rotation_factor < 0 or self.half_body_padding <= 0:
            raise InputError("AugmentConfig.rotation_factor must be >= 0 and half_body_padding > 0")
        if not 0.0 <= self.shift_factor <= 0.5:
            raise InputError(f"AugmentConfig.shift_factor must be in [0, 0.5]; got {self.shift_factor}")


@dataclass(frozen=True)
class CropParams:
    """One sample's crop: what the augmentation decided.

    Attributes:
        center: (2,) crop centre (x, y) px in the source image, mirrored when ``flip``
            (i.e. in the coordinates of the mirrored image, as in the official code).
        scale: (2,) crop (width, height) px.
        rotation: degrees, counter-clockwise as displayed.
        flip: whether the image is mirrored before cropping.
        half_body: whether the half-body crop was used.
    """

    center: np.ndarray
    scale: np.ndarray
    rotation: float
    flip: bool
    half_body: bool = False


def normalize(image_bgr: np.ndarray, input_spec: InputSpec) -> np.ndarray:
    """Model input from a BGR crop: colour order, ``/255``, mean/std, channels first.

    Args:
        image_bgr: (H, W, 3) uint8 (or float in 0..255) image in OpenCV's BGR order.
        input_spec: how the model is fed (``ModelSpec.input_spec``): its ``color_order`` (the
            order the model sees) and ``mean``/``std`` (3,) per model input channel in
            pixel/255 units; the result is channels first whatever its ``layout``.

    Returns:
        (3, H, W) float32, C-contiguous.

    Raises:
        InputError: an image that is not (H, W, 3), or ``input_spec`` not an InputSpec.
    """
    img = np.asarray(image_bgr)
    if img.ndim != 3 or img.shape[2] != 3:
        raise InputError(f"expected an (H, W, 3) BGR image; got shape {img.shape}")
    if not isinstance(input_spec, InputSpec):
        raise InputError(f"input_spec must be an InputSpec (ModelSpec.input_spec); got {type(input_spec).__name__}")
    if input_spec.color_order == "rgb":
        img = img[..., ::-1]
    chw = normalize_crops(img[None], np.asarray(input_spec.mean), np.asarray(input_spec.std))[0].transpose(2, 0, 1)
    return np.ascontiguousarray(chw, dtype=np.float32)


def hflip_image(image: np.ndarray) -> np.ndarray:
    """Mirror an (H, W, ...) image left-right: pixel column x goes to W - 1 - x."""
    return np.ascontiguousarray(np.asarray(image)[:, ::-1])


def hflip_keypoints(
    keypoints: np.ndarray, visible: np.ndarray, image_width: int, flip_index: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints of the mirrored image: ``x -> W - 1 - x`` and left/right joints swapped.

    Args:
        keypoints: (K, 2) px; visible: (K,); image_width: W px;
        flip_index: (K,) permutation, ``KeypointSet.flip_index()``.

    Returns:
        (keypoints (K, 2) float64, visible (K,)) of the mirrored image.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    idx = np.asarray(flip_index, dtype=np.int64)
    out = kp[idx].copy()
    out[:, 0] = image_width - 1 - out[:, 0]
    return out, np.asarray(visible)[idx].copy()


def hflip_matrix(image_width: int) -> np.ndarray:
    """(2, 3) affine matrix of the mirror ``x -> W - 1 - x``."""
    return np.array([[-1.0, 0.0, image_width - 1.0], [0.0, 1.0, 0.0]])


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """(2, 3) matrix of ``outer(inner(p))``."""
    o, i = np.asarray(outer, dtype=np.float64), np.asarray(inner, dtype=np.float64)
    return np.hstack([o[:, :2] @ i[:, :2], (o[:, :2] @ i[:, 2] + o[:, 2])[:, None]])


def upper_body_index(keypoint_set: KeypointSet) -> np.ndarray:
    """Indices (U,) of upper-body keypoints: every name without hip/knee/ankle/pelvis.

    Gives the official lists: COCO 0-10, MPII 7-15, CrowdPose 0-5, 12, 13.
    """
    upper = [i for i, n in enumerate(keypoint_set.names) if not any(w in n for w in LOWER_BODY_WORDS)]
    return np.asarray(upper, dtype=np.int64)


def half_body_center_scale(
    keypoints: np.ndarray,
    visible: np.ndarray,
    upper_index: np.ndarray,
    input_hw: tuple[int, int],
    rng: np.random.Generator,
    padding: float = 1.5,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Crop around the upper or lower body (official ``half_body_transform``).

    The upper body is chosen when ``rng.standard_normal() < 0.5`` (the official code's
    ``np.random.randn() < 0.5``, i.e. about 69 %) and more than two upper joints are
    labelled; otherwise the lower body if it has more than two, else the upper body.

    Args:
        keypoints: (K, 2) px; visible: (K,) (> 0 = labelled); upper_index: (U,);
        input_hw: model input (H, W); rng: random generator; padding: size factor.

    Returns:
        ``(center (2,), scale (2,) px)`` or None when fewer than two joints are selected.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    labelled = np.asarray(visible) > 0
    is_upper = np.zeros(kp.shape[0], dtype=bool)
    is_upper[upper_index] = True
    upper, lower = kp[labelled & is_upper], kp[labelled & ~is_upper]
    if rng.standard_normal() < 0.5 and len(upper) > 2:
        selected = upper
    else:
        selected = lower if len(lower) > 2 else upper
    if len(selected) < 2:
        return None
    center = selected.mean(axis=0)
    w, h = selected.max(axis=0) - selected.min(axis=0)
    aspect = input_hw[1] / input_hw[0]
    if w > aspect * h:
        h = w / aspect
    elif w < aspect * h:
        w = h * aspect
    return center, np.array([w, h]) * padding


def sample_crop(
    rng: np.random.Generator,
    config: AugmentConfig,
    center: np.ndarray,
    scale: np.ndarray,
    keypoints: np.ndarray,
    visible: np.ndarray,
    upper_index: np.ndarray,
    input_hw: tuple[int, int],
    image_width: int,
) -> CropParams:
    """Draw one training crop (half-body, scale, shift, rotation, flip); the official order, shift added.

    Args:
        rng: the sample's generator; config: augmentation settings;
        center: (2,) px and scale: (2,) px of the person's crop (box + padding);
        keypoints: (K, 2) px and visible: (K,) in the (unmirrored) image;
        upper_index: (U,) upper-body keypoints; input_hw: (H, W); image_width: W px.
    """
    c = np.asarray(center, dtype=np.float64).copy()
    s = np.asarray(scale, dtype=np.float64).copy()
    half_body = False
    if (
        np.sum(np.asarray(visible) > 0) > config.half_body_min_joints
        and rng.random() < config.half_body_prob
    ):
        hb = half_body_center_scale(
            keypoints, visible, upper_index, input_hw, rng, config.half_body_padding
        )
        if hb is not None:
            c, s = hb
            half_body = True
    sf, rf = config.scale_factor, config.rotation_factor
    s = s * float(np.clip(rng.standard_normal() * sf + 1.0, 1.0 - sf, 1.0 + sf))
    if config.shift_prob > 0 and rng.random() < config.shift_prob:  # no draw when off: official stream
        shift = np.clip(rng.standard_normal(2) * config.shift_factor, -2 * config.shift_factor, 2 * config.shift_factor)
        c = c + shift * s
    rotation = 0.0
    if rng.random() < config.rotation_prob:
        rotation = float(np.clip(rng.standard_normal() * rf, -2.0 * rf, 2.0 * rf))
    flip = bool(rng.random() < config.flip_prob)
    if flip:
        c[0] = image_width - 1 - c[0]
    return CropParams(center=c, scale=s, rotation=rotation, flip=flip, half_body=half_body)


def crop_matrix(params: CropParams, input_hw: tuple[int, int], image_width: int) -> np.ndarray:
    """(2, 3) matrix from the original (unmirrored) image to the crop, flip included."""
    matrix = get_affine_matrix(params.center, params.scale, input_hw, params.rotation)
    if params.flip:
        matrix = compose_affine(matrix, hflip_matrix(image_width))
    return matrix


def crop_person(
    image: np.ndarray,
    keypoints: np.ndarray,
    visible: np.ndarray,
    params: CropParams,
    input_hw: tuple[int, int],
    flip_index: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Warp the crop and move the keypoints with the same matrix.

    Args:
        image: (H, W, 3) image; keypoints: (K, 2) px; visible: (K,);
        params: the crop; input_hw: (h, w) of the crop; flip_index: (K,) permutation.

    Returns:
        ``crop (h, w, 3)`` (same dtype as ``image``), ``keypoints (K, 2)`` px in the crop
        (joints swapped when flipped), ``visible (K,)`` (swapped likewise) and the
        ``matrix (2, 3)`` from the original image to the crop.
    """
    width = int(image.shape[1])
    matrix = crop_matrix(params, input_hw, width)
    crop = warp_crop(image, matrix, input_hw)
    kp, vis = np.asarray(keypoints, dtype=np.float64), np.asarray(visible)
    if params.flip:
        idx = np.asarray(flip_index, dtype=np.int64)
        kp, vis = kp[idx], vis[idx]
    return crop, transform_points(kp, matrix), np.asarray(vis).copy(), matrix
