"""Lighting: a random directional light plus ambient, Lambert shading of triangles, and
the soft shadows the people cast on the ground plane."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from edgepose.data.synth.camera import Camera
from edgepose.data.synth.holdout import LIGHT_AZIMUTH, LIGHT_ELEVATION, LIGHT_TINT_SPREAD, ood_light_angles, ood_tint
from edgepose.data.synth.people import Person
from edgepose.data.synth.raster import NEAR_PLANE


def random_light(rng: np.random.Generator, camera: Camera, split: str = "train"
                 ) -> tuple[np.ndarray, float, float, np.ndarray]:
    """Random light: unit direction towards the light (world), ambient, diffuse, tint (3,).

    "train" lights shine from the camera's side (azimuth within +-:data:`LIGHT_AZIMUTH`
    degrees of the direction towards the camera, elevation in :data:`LIGHT_ELEVATION`),
    nearly white; the "ood" asset split draws rim lights from behind or overhead lights,
    coloured (:mod:`edgepose.data.synth.holdout`).
    """
    right, down, forward = camera.rotation
    if split == "ood":
        azimuth_deg, elevation_deg = ood_light_angles(rng)
        azimuth, elevation = math.radians(azimuth_deg), math.radians(elevation_deg)
    else:
        azimuth = math.radians(rng.uniform(-LIGHT_AZIMUTH, LIGHT_AZIMUTH))
        elevation = math.radians(rng.uniform(*LIGHT_ELEVATION))
    towards_camera = -forward
    direction = (math.cos(elevation) * (math.cos(azimuth) * towards_camera + math.sin(azimuth) * right)
                 + math.sin(elevation) * np.array([0.0, 0.0, 1.0]))
    direction /= np.linalg.norm(direction)
    ambient = rng.uniform(0.25, 0.55)
    diffuse = rng.uniform(0.5, 0.95)
    tint = ood_tint(rng) if split == "ood" else rng.uniform(1 - LIGHT_TINT_SPREAD, 1 + LIGHT_TINT_SPREAD, size=3)
    return direction, ambient, diffuse, tint


def shade(vertices: np.ndarray, faces: np.ndarray, albedo: np.ndarray, light: tuple) -> np.ndarray:
    """Lambert-shaded colour (F, 3) of triangles with per-triangle albedo (F, 3)."""
    direction, ambient, diffuse, tint = light
    tri = vertices[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12
    lambert = np.clip(normal @ direction, 0.0, 1.0)
    return albedo * (ambient + diffuse * lambert)[:, None] * tint[None, :]



#: Lowest elevation (degrees) of the light used for shadows: a grazing light would cast
#: shadows across the whole ground.
SHADOW_MIN_ELEVATION = 25.0


def ground_shadow(people: list[Person], parts: Sequence[np.ndarray], camera: Camera, direction: np.ndarray,
                  hw: tuple[int, int]) -> np.ndarray:
    """Hard shadow mask (H, W) float32 in {0, 1} of the people on the ground plane z = 0.

    Each body part (the vertices of one bone) casts the convex hull of its vertices'
    shadow: close to the mesh's exact shadow for limb segments, and cheap.

    Args:
        people: the people of the scene (world metres, standing on z = 0).
        parts: vertex indices of each body part (:attr:`BodyModel.parts`).
        camera: the camera of the (H, W) image.
        direction: (3,) unit vector towards the light; a light lower than
            :data:`SHADOW_MIN_ELEVATION` is raised to it for the shadow.
        hw: (H, W) of the mask in pixels.
    """
    d = np.asarray(direction, np.float64).copy()
    low = math.sin(math.radians(SHADOW_MIN_ELEVATION))
    if d[2] < low:
        horizontal = d[:2] / max(float(np.linalg.norm(d[:2])), 1e-9)
        d = np.array([*(horizontal * math.cos(math.asin(low))), low])
    mask = np.zeros(hw, np.uint8)
    for person in people:
        v = person.vertices
        on_ground = v - d[None, :] * (v[:, 2:3] / d[2])
        uv, z = camera.project(on_ground)
        fixed = np.round(np.clip(uv, -1e5, 1e5) * 4.0).astype(np.int32)  # 2 bits of sub-pixel precision
        for part in parts:
            points = fixed[part[z[part] > NEAR_PLANE]]
            if points.shape[0] >= 3:
                cv2.fillConvexPoly(mask, cv2.convexHull(points), 1, lineType=cv2.LINE_8, shift=2)
    return mask.astype(np.float32)
