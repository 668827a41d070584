"""The camera: pinhole projection, framing the main person, and sensor effects (colour
gain, blur, noise) on the rendered image."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from edgepose.data.synth.config import SynthConfig
from edgepose.data.synth.effects import happens
from edgepose.data.synth.holdout import ood_camera_angles, trained_elevations
from edgepose.data.synth.people import Person


@dataclass
class Camera:
    """Pinhole camera, OpenCV convention (x right, y down, z forward).

    Attributes:
        rotation: (3, 3) world-to-camera rotation.
        position: (3,) camera centre in world metres.
        focal: focal length in pixels.
        center: (2,) principal point (x, y) in pixels.
    """

    rotation: np.ndarray
    position: np.ndarray
    focal: float
    center: np.ndarray

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project (N, 3) world points -> ``uv (N, 2)`` pixels and ``depth (N,)`` metres."""
        pc = (np.asarray(points, np.float64) - self.position) @ self.rotation.T
        z = pc[:, 2]
        safe = np.where(np.abs(z) < 1e-9, 1e-9, z)
        uv = self.focal * pc[:, :2] / safe[:, None] + self.center
        return uv, z

    def scaled(self, factor: int) -> Camera:
        """The same camera for an image ``factor`` times larger (pixel centres kept)."""
        return Camera(self.rotation, self.position, self.focal * factor, (self.center + 0.5) * factor - 0.5)


def look_at_rotation(elevation_deg: float, roll_deg: float) -> np.ndarray:
    """(3, 3) world-to-camera rotation for a camera looking along +y (world), tilted down
    by ``elevation_deg`` and rolled by ``roll_deg`` about its optical axis."""
    e = math.radians(elevation_deg)
    forward = np.array([0.0, math.cos(e), -math.sin(e)])
    right = np.array([1.0, 0.0, 0.0])
    down = np.cross(forward, right)
    r = np.stack([right, down, forward])
    c, s = math.cos(math.radians(roll_deg)), math.sin(math.radians(roll_deg))
    roll = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return roll @ r



#: Closest distance (metres, along the optical axis) of a framed point to the camera, per
#: asset split: for "train" only a guard against points behind the camera (training draws
#: never come that close), for "ood" a limit that keeps a wide lens looking steeply down
#: from touching the head.
FRAMING_NEAR = {"train": 0.1, "ood": 0.6}


def projected_box(camera: Camera, points: np.ndarray) -> np.ndarray:
    """Box (x0, y0, x1, y1) of projected points, float."""
    uv, _ = camera.project(points)
    return np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])


def frame_main_person(rng: np.random.Generator, person: Person, config: SynthConfig,
                      several: bool) -> Camera:
    """A camera that frames ``person`` at a random scale and position in the image."""
    return frame_points(rng, person.surface, config, 0.75 if several else 1.0)


def frame_points(rng: np.random.Generator, points: np.ndarray, config: SynthConfig, scale: float = 1.0) -> Camera:
    """A camera looking along world +y that frames ``points`` (N, 3) world metres (a person,
    or all people of a group): the largest side of their projected box is drawn from
    ``config.main_person_scale`` times ``scale`` of the image side, at a random position.

    With ``config.asset_split`` "ood" the field of view and the elevation come from the
    held-out ranges outside the trained ones (:mod:`edgepose.data.synth.holdout`)."""
    size = config.size
    if config.asset_split == "ood":
        trained = trained_elevations(config.elevation, config.cctv_elevation, config.cctv_prob)
        fov, elevation = ood_camera_angles(rng, config.fov, trained)
    else:
        fov = rng.uniform(*config.fov)
        elevation = rng.uniform(*(config.cctv_elevation if happens(rng, config.cctv_prob) else config.elevation))
    focal = 0.5 * size / math.tan(math.radians(fov) / 2)
    rotation = look_at_rotation(elevation, rng.uniform(*config.roll))
    forward = rotation[2]
    v = points
    target = 0.5 * (v.min(axis=0) + v.max(axis=0))
    low, high = config.main_person_scale
    if scale != 1.0:
        low, high = low * scale, high * scale
    want = rng.uniform(low, high) * size
    distance = 4.0
    # every point at least FRAMING_NEAR[split] in front of the camera (a wide lens looking
    # steeply down would otherwise come so close that the head touches or passes it)
    nearest = FRAMING_NEAR[config.asset_split] - float(((v - target) @ forward).min())
    center = np.full(2, (size - 1) / 2.0)
    for _ in range(3):  # perspective: iterate the scale fit
        cam = Camera(rotation, target - distance * forward, focal, center)
        box = projected_box(cam, v)
        extent = max(box[2] - box[0], box[3] - box[1])
        distance = max(0.8, nearest, distance * extent / want)
    cam = Camera(rotation, target - distance * forward, focal, center)
    box = projected_box(cam, v)
    w, h = box[2] - box[0], box[3] - box[1]
    slack = 0.25 if rng.random() < config.truncation_prob else 0.0
    shift = np.zeros(2)
    for axis, extent in ((0, w), (1, h)):
        lo = extent * (0.5 - slack) - 0.5
        hi = size - 0.5 - extent * (0.5 - slack)
        want_center = rng.uniform(lo, hi) if hi > lo else (size - 1) / 2.0
        shift[axis] = want_center - 0.5 * (box[axis] + box[axis + 2])
    return Camera(rotation, cam.position, focal, center + shift)



def sensor_effects(rng: np.random.Generator, image: np.ndarray, config: SynthConfig) -> np.ndarray:
    """Colour jitter, optional blur and sensor noise on an (H, W, 3) float32 [0, 1] image
    -> uint8."""
    gain = rng.uniform(0.8, 1.2) * rng.uniform(0.92, 1.08, size=3)
    image = (image - 0.5) * rng.uniform(0.8, 1.15) + 0.5
    image = image * gain[None, None, :].astype(np.float32)
    if rng.random() < config.blur_prob:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 0.9))
    if rng.random() < config.noise_prob:
        image = image + rng.normal(0.0, rng.uniform(1.0, 6.0) / 255.0, size=image.shape).astype(np.float32)
    return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)

