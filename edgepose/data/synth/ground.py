"""A textured ground plane that agrees with the camera: the people stand on it, their
shadows fall on it, and it recedes in perspective to the horizon, where the background
photo shows through.

The ground is the world plane z = 0, covered by a repeating texture of the photo cache
(:attr:`BackgroundLibrary.tileable`), each tile ``metres`` wide. Each pixel's ray is
intersected with the plane and the texture sampled there (OpenCV ``remap`` with wrapping
borders does the tiling); far ground fades into the background like haze.
"""

from __future__ import annotations

import cv2
import numpy as np

from edgepose.data.synth.backgrounds import BackgroundLibrary, colour_shift
from edgepose.data.synth.camera import Camera

#: Longest side (pixels) of one ground tile as sampled.
GROUND_TEXTURE_SIDE = 256


def ground_points(camera: Camera, hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each pixel's ray meets the ground plane z = 0.

    Args:
        camera: the camera of the image.
        hw: (H, W) of the image in pixels.

    Returns:
        ``x, y (H, W)`` float32 world metres of the hit, and ``distance (H, W)`` float32
        along the ray in metres, ``inf`` where the ray does not go down to the ground (at
        and above the horizon, or a camera below the ground; x and y are 0 there).
    """
    height, width = hw
    cols = ((np.arange(width) - camera.center[0]) / camera.focal).astype(np.float32)[None, :]
    rows = ((np.arange(height) - camera.center[1]) / camera.focal).astype(np.float32)[:, None]
    r = camera.rotation.astype(np.float32)  # a camera ray (x, y, 1) points along R^T (x, y, 1) in the world
    rx, ry, rz = (cols * r[0, k] + rows * r[1, k] + r[2, k] for k in range(3))
    cz = float(camera.position[2])
    hits = (rz < -1e-6) & (cz > 0)
    scale = np.where(hits, np.float32(-cz) / np.minimum(rz, np.float32(-1e-6)), np.float32(0.0))
    x = np.float32(camera.position[0]) + scale * rx
    y = np.float32(camera.position[1]) + scale * ry
    distance = np.where(hits, scale * np.sqrt(rx * rx + ry * ry + rz * rz), np.float32(np.inf))
    return x, y, distance


def paint_ground(rng: np.random.Generator, library: BackgroundLibrary, camera: Camera, colour: np.ndarray) -> None:
    """Paint a random ground texture over ``colour`` (H, W, 3) float32 [0, 1] in place.

    The texture is a random tileable image of ``library``, tiles 0.6 to 3 m wide, rotated
    about the vertical, colour-shifted and darkened by 0-40 %; it fades into the existing
    background with distance (haze length 12 to 60 m).
    """
    hw = colour.shape[:2]
    index = library.require_tileable()[int(rng.integers(0, len(library.tileable)))]
    texture = library.small_image(index, GROUND_TEXTURE_SIDE)  # less aliasing far away, faster sampling
    metres = rng.uniform(0.6, 3.0)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    offset = rng.uniform(0.0, metres, size=2)
    haze = rng.uniform(12.0, 60.0)
    shade = np.float32(rng.uniform(0.6, 1.0))
    x, y, distance = ground_points(camera, hw)
    th, tw = texture.shape[:2]
    c, s = np.float32(np.cos(angle) / metres), np.float32(np.sin(angle) / metres)
    map_x = np.mod(c * x - s * y + np.float32(offset[0] / metres), np.float32(1.0)) * np.float32(tw)
    map_y = np.mod(s * x + c * y + np.float32(offset[1] / metres), np.float32(1.0)) * np.float32(th)
    tile = colour_shift(rng, texture.astype(np.float32) / 255.0) * shade
    ground = cv2.remap(tile, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    weight = np.exp(-distance / np.float32(haze))[..., None]  # 0 where the ray misses the ground
    colour *= 1.0 - weight
    colour += weight * ground
