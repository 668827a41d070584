"""Synthetic humans: anny body meshes rendered on the CPU with exact COCO-17 keypoints.

Each image holds one to ``people_max`` people from the anny parametric body model
(Apache-2.0 code, CC0 assets), with random body shapes (sex, age, muscle, weight,
height, proportions), random plausible poses (:mod:`edgepose.data.synth_pose`),
procedural clothing, skin and hair colours, Lambertian lighting, a procedural
background and random occluders (:mod:`edgepose.data.synth_texture`). Meshes go through
a numpy z-buffer rasteriser (:mod:`edgepose.data.synth_raster`) at ``supersample``
times the output size, then are area-averaged down (anti-aliasing).

Labels come from anny's own COCO keypoint regressor (a fixed linear blend of mesh
vertices), so they are exact for the rendered mesh:

* ``v = 2``: the keypoint projects inside the image and the surface seen there belongs
  to the same person, lies within a per-keypoint depth tolerance of the keypoint
  (limb thickness: the keypoint is not hidden by another body part) and is not covered
  by an occluder;
* ``v = 1``: inside the image but hidden (self-occlusion, another person, an occluder);
* ``v = 0`` with ``x = y = 0``: outside the image (or behind the camera).

Coordinates follow OpenCV's convention: pixel ``(col, row)`` has its centre at
``(x, y) = (col, row)``. ``bbox`` is ``[x0, y0, w, h]`` in pixel indices of the person's
visible silhouette (every pixel the person covers at least partly, after occlusion),
grown if needed so that it contains the pixel of every visible keypoint; ``area`` and
the RLE ``segmentation`` come from the pixels the person covers at least half.

A dataset is deterministic by seed: image ``i`` draws everything from
``numpy.random.default_rng([seed, i])`` and torch runs single-threaded while
generating, so the same seed gives byte-identical images and json whatever the number
of worker processes.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import json
import logging
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edgepose.data import synth_pose, synth_texture
from edgepose.data.synth_raster import NEAR_PLANE, rasterize
from edgepose.errors import InputError
from edgepose.skeleton import get_keypoint_set

logger = logging.getLogger(__name__)

#: Version of the generator; bump when the output for a given seed changes.
SYNTH_VERSION = "1.0.0"

KEYPOINT_SET = "coco17"

#: Depth tolerance (metres, for a body of standing height 1.7 m) within which the
#: surface seen at a keypoint's pixel still counts as that keypoint's own surface.
#: Joint centres lie inside limbs, so the tolerance is about the limb's thickness.
_VISIBILITY_TOLERANCE_M = {
    "nose": 0.04, "left_eye": 0.04, "right_eye": 0.04, "left_ear": 0.045, "right_ear": 0.045,
    "left_shoulder": 0.12, "right_shoulder": 0.12, "left_elbow": 0.08, "right_elbow": 0.08,
    "left_wrist": 0.07, "right_wrist": 0.07, "left_hip": 0.17, "right_hip": 0.17,
    "left_knee": 0.10, "right_knee": 0.10, "left_ankle": 0.08, "right_ankle": 0.08,
}

# anny "anny" rig bones -> garment region (index into synth_texture.REGIONS).
_REGION_OF_BONE_PREFIX = (
    ("eye.", "eyes"), ("head", "head"), ("neck03", "head"), ("neck", "neck"),
    ("spine", "torso"), ("clavicle", "torso"), ("shoulder01", "torso"),
    ("upperarm", "arm"), ("lowerarm", "arm"), ("wrist", "hand"), ("finger", "hand"),
    ("metacarpal", "hand"), ("root", "pelvis"), ("pelvis", "pelvis"),
    ("upperleg", "leg"), ("lowerleg", "leg"), ("foot", "foot"), ("toe", "foot"),
)


# ------------------------------------------------------------------------ configuration


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the scene sampler. Angles in degrees, ranges are (low, high).

    Attributes:
        size: output image side in pixels (square images).
        people_max: maximum number of people per image (1 to 3 are drawn with
            ``people_weights``, truncated to this maximum).
        people_weights: relative probability of 1, 2, 3 people.
        supersample: render at this factor times the output size, then area-average.
        main_person_scale: largest side of the main person's projected box as a fraction
            of the image side (single person; three quarters of it with several people).
        truncation_prob: probability that the main person may be cut by the image border.
        child_prob: probability that a person is a child or teenager.
        fov: vertical field of view range.
        elevation: camera elevation range (positive: above, looking down).
        roll: camera roll range.
        occluder_prob: probability that an image gets 1-2 occluding shapes over people.
        noise_prob: probability of additive Gaussian sensor noise (sigma 1-6 levels).
        blur_prob: probability of a slight Gaussian blur of the final image.
        pose_family_weights: sampling weights of the pose families (None: defaults of
            :data:`edgepose.data.synth_pose.POSE_FAMILIES`).
        image_format: "jpg" or "png".
        jpeg_quality: JPEG quality (1-100) for "jpg".
    """

    size: int = 128
    people_max: int = 3
    people_weights: tuple[float, float, float] = (0.6, 0.25, 0.15)
    supersample: int = 2
    main_person_scale: tuple[float, float] = (0.5, 0.95)
    truncation_prob: float = 0.15
    child_prob: float = 0.12
    fov: tuple[float, float] = (30.0, 65.0)
    elevation: tuple[float, float] = (-10.0, 35.0)
    roll: tuple[float, float] = (-8.0, 8.0)
    occluder_prob: float = 0.35
    noise_prob: float = 0.5
    blur_prob: float = 0.2
    pose_family_weights: Mapping[str, float] | None = None
    image_format: str = "jpg"
    jpeg_quality: int = 92

    def __post_init__(self) -> None:
        if self.size < 16:
            raise InputError(f"size must be >= 16 pixels, got {self.size}")
        if not 1 <= self.people_max <= 3:
            raise InputError(f"people_max must be 1, 2 or 3, got {self.people_max}")
        if self.supersample < 1:
            raise InputError(f"supersample must be >= 1, got {self.supersample}")
        if self.image_format not in ("jpg", "png"):
            raise InputError(f"image_format must be 'jpg' or 'png', got {self.image_format!r}")
        if not 1 <= self.jpeg_quality <= 100:
            raise InputError(f"jpeg_quality must be in 1..100, got {self.jpeg_quality}")


# -------------------------------------------------------------------------- body model


def _quiet_warp() -> None:
    """Silence the banner that NVIDIA Warp (an anny dependency) prints when imported."""
    if importlib.util.find_spec("warp") is not None:
        import warp  # noqa: PLC0415

        warp.config.quiet = True


class BodyModel:
    """anny body model + its COCO keypoint regressor + per-vertex appearance data.

    Loading builds anny's blend-shape cache on first use (about a minute, stored under
    ``~/.cache/anny`` or ``$ANNY_CACHE_DIR``); later loads take well under a second.

    Attributes:
        faces: (F, 3) int64 triangle vertex indices (counter-clockwise from outside).
        keypoint_names: the COCO-17 names, in order.
        regions: (V,) int, garment region index (:data:`synth_texture.REGIONS`) per vertex.
        limb_coord: (V,) float, 0 at shoulder/hip to 1 at wrist/ankle on arms and legs.
        scalp: (V,) float, head vertices' height above a nominal hairline (5 cm units).
        iris: (V,) bool, the front of the eyeballs.
        rest_coords: (V, 3) float64 rest-pose vertex positions (metres) of the average body.
    """

    def __init__(self) -> None:
        try:
            _quiet_warp()
            import anny  # noqa: PLC0415
            import torch  # noqa: PLC0415
        except ImportError as exc:
            raise ImportError(
                "synthetic humans need the 'train' extra (torch and anny): pip install 'edgepose[train]'"
            ) from exc
        self._torch = torch
        start = time.perf_counter()
        self.model = anny.Anny(skinning_method="lbs").to(dtype=torch.float32)
        self.model.eval()
        self.keypoint_names = get_keypoint_set(KEYPOINT_SET).names
        self.regressor = anny.KeypointsRegressor.coco(self.model, labels=list(self.keypoint_names))
        self.faces = self.model.faces.detach().cpu().numpy().astype(np.int64)
        self.bone_labels = list(self.model.bone_labels)
        with torch.no_grad():
            rest = self.model()
        heads = rest["rest_bone_heads"][0].double().numpy()
        self.bone_heads = {label: heads[i] for i, label in enumerate(self.bone_labels)}
        self.reference = synth_pose.ReferenceSkeleton(self.bone_heads)
        self.rest_coords = rest["rest_vertices"][0].double().numpy()
        self._init_regions()
        logger.info("anny body model loaded in %.1f s (%d vertices, %d triangles)",
                    time.perf_counter() - start, self.rest_coords.shape[0], self.faces.shape[0])

    def _init_regions(self) -> None:
        """Per-vertex garment regions, limb coordinates and scalp score on the rest mesh."""
        dominant = self.model.vertex_bone_indices[:, 0].cpu().numpy()
        region_names = []
        for label in self.bone_labels:
            region = next((r for prefix, r in _REGION_OF_BONE_PREFIX if label.startswith(prefix)), "torso")
            region_names.append(synth_texture.REGIONS.index(region))
        self.regions = np.asarray(region_names, dtype=np.int64)[dominant]

        v = self.rest_coords
        self.limb_coord = np.zeros(v.shape[0], dtype=np.float64)
        side_of_vertex = np.where(v[:, 0] >= 0, "L", "R")
        for region, start_bone, end_bone in (("arm", "upperarm01", "wrist"), ("leg", "upperleg01", "foot")):
            for side in synth_pose.SIDES:
                sel = (self.regions == synth_texture.REGIONS.index(region)) & (side_of_vertex == side)
                a, b = self.bone_heads[f"{start_bone}.{side}"], self.bone_heads[f"{end_bone}.{side}"]
                axis = b - a
                self.limb_coord[sel] = (v[sel] - a) @ axis / float(axis @ axis)

        eye = 0.5 * (self.bone_heads["eye.L"] + self.bone_heads["eye.R"])
        depth_back = np.clip((v[:, 1] - eye[1]) / 0.16, 0.0, 1.0)  # 0 at the eyes, 1 at the back
        hairline = eye[2] + 0.045 - 0.125 * depth_back
        self.scalp = np.where(self.regions == synth_texture.REGIONS.index("head"),
                              (v[:, 2] - hairline) / 0.05, -1e3)
        # The front cap of each eyeball (anny's eyeballs are spheres of radius ~1.6 cm).
        self.iris = (self.regions == synth_texture.REGIONS.index("eyes")) & (v[:, 1] - eye[1] < -0.011)

    @property
    def num_vertices(self) -> int:
        return int(self.rest_coords.shape[0])

    def pose_people(self, phenotypes: Sequence[Mapping[str, float]],
                    poses: Sequence[Mapping[str, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pose a batch of bodies.

        Args:
            phenotypes: per person, anny phenotype values in [0, 1] (gender, age, muscle,
                weight, height, proportions).
            poses: per person, joint angles in degrees (:mod:`edgepose.data.synth_pose`).

        Returns:
            ``vertices (B, V, 3)``, ``keypoints (B, 17, 3)`` in metres in the body frame
            (x left, y back, z up), and ``rest_height (B,)`` in metres (standing height).
        """
        torch = self._torch
        if len(phenotypes) != len(poses) or not poses:
            raise InputError("pose_people needs as many phenotypes as poses, at least one")
        rotations = [synth_pose.pose_to_bone_rotations(p, self.reference) for p in poses]
        bones = sorted({b for r in rotations for b in r})
        deltas = {}
        for bone in bones:
            mats = np.tile(np.eye(4), (len(poses), 1, 1))
            for i, r in enumerate(rotations):
                if bone in r:
                    mats[i, :3, :3] = r[bone]
            deltas[bone] = torch.from_numpy(mats).to(torch.float32)
        labels = list(self.model.phenotype_labels)
        phen = {k: torch.tensor([float(p.get(k, 0.5)) for p in phenotypes], dtype=torch.float32) for k in labels}
        with torch.no_grad():
            out = self.model(pose_parameters=deltas, phenotype_kwargs=phen)
            keypoints = self.regressor(out)
        rest = out["rest_vertices"]
        rest_height = (rest[..., 2].amax(dim=1) - rest[..., 2].amin(dim=1)).double().numpy()
        return out["vertices"].double().numpy(), keypoints.double().numpy(), rest_height


@functools.lru_cache(maxsize=1)
def get_body_model() -> BodyModel:
    """The process-wide :class:`BodyModel` (loaded once)."""
    return BodyModel()


# ------------------------------------------------------------------------------ camera


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


# -------------------------------------------------------------------------------- people


@dataclass
class Person:
    """One person of a scene, posed and placed in the world (metres, z up).

    Attributes:
        vertices: (V, 3) world positions.
        keypoints: (17, 3) world positions of the COCO keypoints.
        albedo: (V, 3) float32 RGB in [0, 1].
        height: standing (rest-pose) height in metres.
        family: pose family name.
        seat: (8, 3) world corners of a box the person sits on (:data:`BOX_FACES`
            order), or None.
        seat_albedo: (3,) RGB in [0, 1] of the seat.
    """

    vertices: np.ndarray
    keypoints: np.ndarray
    albedo: np.ndarray
    height: float
    family: str
    seat: np.ndarray | None = None
    seat_albedo: np.ndarray | None = None

    def moved(self, shift: np.ndarray) -> Person:
        """The same person translated by ``shift`` (3,) metres."""
        seat = None if self.seat is None else self.seat + shift
        return dataclasses.replace(self, vertices=self.vertices + shift, keypoints=self.keypoints + shift, seat=seat)


#: Triangles of a box whose 8 corners are ordered ``(x, y, z)`` bits as ``x + 2y + 4z``
#: (0 = low side), counter-clockwise seen from outside.
BOX_FACES = np.array([
    [0, 2, 1], [1, 2, 3],  # z low
    [4, 5, 6], [5, 7, 6],  # z high
    [0, 1, 4], [1, 5, 4],  # y low
    [2, 6, 3], [3, 6, 7],  # y high
    [0, 4, 2], [2, 4, 6],  # x low
    [1, 3, 5], [3, 7, 5],  # x high
], dtype=np.int64)


def box_corners(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(8, 3) corners of the axis-aligned box [low, high] in :data:`BOX_FACES` order."""
    bits = np.array([[i & 1, (i >> 1) & 1, (i >> 2) & 1] for i in range(8)], dtype=np.float64)
    return low + bits * (high - low)


def _sample_seat(body: BodyModel, rng: np.random.Generator, vertices: np.ndarray) -> np.ndarray | None:
    """A box under the buttocks and thighs of a seated body (body frame), or None when
    the seat would be too low."""
    regions = body.regions
    seated = (regions == synth_texture.REGIONS.index("pelvis")) | (
        (regions == synth_texture.REGIONS.index("leg")) & (body.limb_coord < 0.45))
    top = vertices[seated, 2].min()
    ground = vertices[:, 2].min()
    if top - ground < 0.15:
        return None
    centre = vertices[seated, :2].mean(axis=0) + np.array([0.0, rng.uniform(0.0, 0.08)])
    half = np.array([rng.uniform(0.2, 0.35), rng.uniform(0.18, 0.28)])
    return box_corners(np.array([*(centre - half), ground]), np.array([*(centre + half), top]))


def sample_phenotype(rng: np.random.Generator, child_prob: float) -> dict[str, float]:
    """anny phenotype values in [0, 1]. Age: 1/3 child, 2/3 young adult, 1 old."""
    age = rng.uniform(0.36, 0.6) if rng.random() < child_prob else rng.uniform(0.6, 1.0)
    return {
        "gender": float(rng.uniform(0, 1)),
        "age": float(age),
        "muscle": float(rng.uniform(0, 1)),
        "weight": float(rng.beta(2.0, 2.0)),
        "height": float(rng.uniform(0, 1)),
        "proportions": float(rng.uniform(0, 1)),
    }


def _yaw_matrix(yaw_deg: float) -> np.ndarray:
    a = math.radians(yaw_deg)
    return np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])


def make_people(body: BodyModel, rng: np.random.Generator, count: int, config: SynthConfig,
                family: str | None = None) -> list[Person]:
    """Sample, pose and dress ``count`` people, each turned by a random yaw and standing
    on the ground (lowest vertex at z = 0), centred at the origin in x and y."""
    phenotypes, poses, families = [], [], []
    for _ in range(count):
        phenotypes.append(sample_phenotype(rng, config.child_prob))
        fam, pose = synth_pose.sample_pose(rng, family, config.pose_family_weights)
        families.append(fam)
        poses.append(pose)
    vertices, keypoints, heights = body.pose_people(phenotypes, poses)
    people = []
    for i in range(count):
        seat = None
        if families[i] == "sitting" and rng.random() < 0.8:
            seat = _sample_seat(body, rng, vertices[i])
        rot = _yaw_matrix(rng.uniform(0.0, 360.0))
        v = vertices[i] @ rot.T
        k = keypoints[i] @ rot.T
        offset = np.array([-(v[:, 0].min() + v[:, 0].max()) / 2, -(v[:, 1].min() + v[:, 1].max()) / 2, -v[:, 2].min()])
        albedo = synth_texture.clothing_colours(rng, body.regions, body.limb_coord, body.rest_coords,
                                                body.scalp, body.iris)
        person = Person(v, k, albedo, float(heights[i]), families[i])
        if seat is not None:
            person.seat = seat @ rot.T
            person.seat_albedo = synth_texture.random_colour(rng, value=(0.15, 0.9))
        people.append(person.moved(offset))
    return people


# --------------------------------------------------------------------------------- scene


def _projected_box(camera: Camera, points: np.ndarray) -> np.ndarray:
    """Box (x0, y0, x1, y1) of projected points, float."""
    uv, _ = camera.project(points)
    return np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])


def frame_main_person(rng: np.random.Generator, person: Person, config: SynthConfig,
                      several: bool) -> Camera:
    """A camera that frames ``person`` at a random scale and position in the image."""
    size = config.size
    focal = 0.5 * size / math.tan(math.radians(rng.uniform(*config.fov)) / 2)
    rotation = look_at_rotation(rng.uniform(*config.elevation), rng.uniform(*config.roll))
    forward = rotation[2]
    v = person.vertices
    target = 0.5 * (v.min(axis=0) + v.max(axis=0))
    low, high = config.main_person_scale
    if several:
        low, high = low * 0.75, high * 0.75
    want = rng.uniform(low, high) * size
    distance = 4.0
    center = np.full(2, (size - 1) / 2.0)
    for _ in range(3):  # perspective: iterate the scale fit
        cam = Camera(rotation, target - distance * forward, focal, center)
        box = _projected_box(cam, v)
        extent = max(box[2] - box[0], box[3] - box[1])
        distance = max(0.8, distance * extent / want)
    cam = Camera(rotation, target - distance * forward, focal, center)
    box = _projected_box(cam, v)
    w, h = box[2] - box[0], box[3] - box[1]
    slack = 0.25 if rng.random() < config.truncation_prob else 0.0
    shift = np.zeros(2)
    for axis, extent in ((0, w), (1, h)):
        lo = extent * (0.5 - slack) - 0.5
        hi = size - 0.5 - extent * (0.5 - slack)
        want_center = rng.uniform(lo, hi) if hi > lo else (size - 1) / 2.0
        shift[axis] = want_center - 0.5 * (box[axis] + box[axis + 2])
    return Camera(rotation, cam.position, focal, center + shift)


def place_others(rng: np.random.Generator, camera: Camera, people: list[Person], size: int) -> list[Person]:
    """Move people 1.. next to or behind person 0 on the ground; drop those that cannot
    be placed (too close to someone, much closer to the camera than person 0, or out of
    view)."""
    placed = [people[0]]
    _, main_depth = camera.project(people[0].vertices)
    nearest_allowed = max(0.5, 0.6 * float(main_depth.min()))
    centres = [np.zeros(2)]
    for person in people[1:]:
        for _ in range(20):
            lateral = rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 1.8)
            depth = rng.uniform(-1.2, 3.0)
            c = np.array([lateral, depth])
            if min(np.linalg.norm(c - o) for o in centres) < 0.55:
                continue
            moved = person.vertices + np.array([c[0], c[1], 0.0])
            _, z = camera.project(moved)
            if z.min() < nearest_allowed:
                continue
            box = _projected_box(camera, moved)
            if box[2] < 0 or box[0] > size - 1 or box[3] < 0 or box[1] > size - 1:
                continue
            placed.append(person.moved(np.array([c[0], c[1], 0.0])))
            centres.append(c)
            break
    return placed


def _light_terms(rng: np.random.Generator, camera: Camera) -> tuple[np.ndarray, float, float, np.ndarray]:
    """Random light: unit direction towards the light (world), ambient, diffuse, tint (3,)."""
    right, down, forward = camera.rotation
    azimuth = math.radians(rng.uniform(-110, 110))
    elevation = math.radians(rng.uniform(0, 75))
    towards_camera = -forward
    direction = (math.cos(elevation) * (math.cos(azimuth) * towards_camera + math.sin(azimuth) * right)
                 + math.sin(elevation) * np.array([0.0, 0.0, 1.0]))
    direction /= np.linalg.norm(direction)
    ambient = rng.uniform(0.25, 0.55)
    diffuse = rng.uniform(0.5, 0.95)
    tint = rng.uniform(0.9, 1.1, size=3)
    return direction, ambient, diffuse, tint


def _shade(vertices: np.ndarray, faces: np.ndarray, albedo: np.ndarray, light: tuple) -> np.ndarray:
    """Lambert-shaded colour (F, 3) of triangles with per-triangle albedo (F, 3)."""
    direction, ambient, diffuse, tint = light
    tri = vertices[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12
    lambert = np.clip(normal @ direction, 0.0, 1.0)
    return albedo * (ambient + diffuse * lambert)[:, None] * tint[None, :]


def _scene_mesh(people: Sequence[Person], faces: np.ndarray, light: tuple
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All people and their seats as one mesh.

    Returns:
        vertices (N, 3) world, faces (M, 3), owner (M,) person index per triangle (-2
        for a seat), colour (M, 3) float32 shaded RGB.
    """
    verts, tris, owners, colours = [], [], [], []
    count = 0
    for p, person in enumerate(people):
        verts.append(person.vertices)
        tris.append(faces + count)
        owners.append(np.full(faces.shape[0], p))
        colours.append(_shade(person.vertices, faces, person.albedo[faces].mean(axis=1), light))
        count += person.vertices.shape[0]
    for person in people:
        if person.seat is None:
            continue
        verts.append(person.seat)
        tris.append(BOX_FACES + count)
        owners.append(np.full(BOX_FACES.shape[0], -2))
        albedo = np.broadcast_to(person.seat_albedo, (BOX_FACES.shape[0], 3))
        colours.append(_shade(person.seat, BOX_FACES, albedo, light))
        count += person.seat.shape[0]
    colour = np.clip(np.concatenate(colours), 0.0, 1.0).astype(np.float32)
    return np.concatenate(verts), np.concatenate(tris), np.concatenate(owners), colour


def _draw_occluders(rng: np.random.Generator, colour: np.ndarray, anchors: list[tuple[float, float, float]]
                    ) -> np.ndarray:
    """Paint 1-2 textured shapes over random anchors (x, y, size) of ``colour`` (Hs, Ws, 3)
    float32 in place; returns the occluder mask (Hs, Ws) bool."""
    hw = colour.shape[:2]
    occluded = np.zeros(hw, dtype=bool)
    for _ in range(int(rng.integers(1, 3))):
        x, y, scale = anchors[int(rng.integers(0, len(anchors)))]
        mask = np.zeros(hw, np.uint8)
        centre = (x + rng.normal(0, 0.15 * scale), y + rng.normal(0, 0.15 * scale))
        synth_texture.draw_random_shape(rng, mask, centre, scale * rng.uniform(0.15, 0.45))
        covered = mask > 0
        if rng.random() < 0.5:
            colour[covered] = synth_texture.random_colour(rng)
        else:
            colour[covered] = synth_texture.textured_fill(rng, hw)[covered]
        occluded |= covered
    return occluded


def _post_process(rng: np.random.Generator, image: np.ndarray, config: SynthConfig) -> np.ndarray:
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


@dataclass
class SynthSample:
    """One rendered image and its labels.

    Attributes:
        image: (H, W, 3) uint8 RGB.
        keypoints: (P, 17, 3) float32 ``[x, y, v]`` per person (pixels, COCO visibility).
        boxes: (P, 4) float32 ``[x0, y0, w, h]``.
        areas: (P,) float32 segmentation area in pixels.
        masks: (P, H, W) bool, pixels the person covers at least half (visible part).
        families: pose family per person.
    """

    image: np.ndarray
    keypoints: np.ndarray
    boxes: np.ndarray
    areas: np.ndarray
    masks: np.ndarray
    families: list[str] = field(default_factory=list)


def keypoint_visibility(
    keypoints_px: np.ndarray,
    keypoints_depth: np.ndarray,
    tolerance: np.ndarray,
    person_index: int,
    owner: np.ndarray,
    depth: np.ndarray,
    occluded: np.ndarray,
    supersample: int,
    size: int,
) -> np.ndarray:
    """COCO visibility (K,) int of one person's keypoints.

    Args:
        keypoints_px: (K, 2) output-image pixel coordinates.
        keypoints_depth: (K,) camera depth in metres.
        tolerance: (K,) metres; the surface seen within this depth in front of the
            keypoint counts as its own.
        person_index: index of the person in ``owner``.
        owner: (Hs, Ws) int, person owning each supersampled pixel, -1 for none, -2
            for a prop (seat).
        depth: (Hs, Ws) float32 depth buffer (metres).
        occluded: (Hs, Ws) bool, pixels under an occluder.
        supersample: factor between the buffers and the output image.
        size: output image side in pixels.

    Returns:
        (K,) int: 0 outside the image or behind the camera, 1 hidden, 2 visible. A
        keypoint is visible when one of the 3x3 supersampled pixels around it shows this
        person's own surface, uncovered, within ``tolerance``.
    """
    k = keypoints_px.shape[0]
    vis = np.zeros(k, dtype=np.int64)
    hs, ws = owner.shape
    for j in range(k):
        x, y = keypoints_px[j]
        if keypoints_depth[j] <= NEAR_PLANE or not (0.0 <= x <= size - 1 and 0.0 <= y <= size - 1):
            continue
        col = int(round((x + 0.5) * supersample - 0.5))
        row = int(round((y + 0.5) * supersample - 0.5))
        r0, r1 = max(0, row - 1), min(hs, row + 2)
        c0, c1 = max(0, col - 1), min(ws, col + 2)
        own = (owner[r0:r1, c0:c1] == person_index) & ~occluded[r0:r1, c0:c1]
        near = keypoints_depth[j] - depth[r0:r1, c0:c1] <= tolerance[j]
        vis[j] = 2 if np.any(own & near) else 1
    return vis


def _visibility_tolerance(body: BodyModel, person: Person) -> np.ndarray:
    """(17,) depth tolerance in metres for one person: the nominal limb thickness scaled
    by body height, at least 1.5 times the keypoint's distance to its nearest vertex."""
    nominal = np.array([_VISIBILITY_TOLERANCE_M[n] for n in body.keypoint_names]) * person.height / 1.7
    diff = person.keypoints[:, None, :] - person.vertices[None, :, :]
    nearest = np.sqrt(np.min(np.einsum("kvd,kvd->kv", diff, diff), axis=1))
    return np.maximum(nominal, 1.5 * nearest + 0.02)


def _annotate(body: BodyModel, people: list[Person], camera: Camera, owner: np.ndarray, depth: np.ndarray,
              occluded: np.ndarray, config: SynthConfig
              ) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keypoints, boxes, areas and masks of the people with at least one visible keypoint.

    Returns:
        indices of the kept people, keypoints (P, K, 3), boxes (P, 4), areas (P,),
        masks (P, H, W).
    """
    size, ss = config.size, config.supersample
    kept, kps, boxes, areas, masks = [], [], [], [], []
    for p, person in enumerate(people):
        visible_ss = (owner == p) & ~occluded
        coverage = visible_ss.reshape(size, ss, size, ss).mean(axis=(1, 3))
        touched = coverage > 0
        if not touched.any():
            continue
        uv, z = camera.project(person.keypoints)
        vis = keypoint_visibility(uv, z, _visibility_tolerance(body, person), p, owner, depth, occluded, ss, size)
        if not np.any(vis == 2):  # a sliver of a hidden or cut-off person: not annotated
            continue
        rows = np.nonzero(touched.any(axis=1))[0]
        cols = np.nonzero(touched.any(axis=0))[0]
        x0, x1, y0, y1 = cols[0], cols[-1], rows[0], rows[-1]
        for j in np.nonzero(vis == 2)[0]:
            cx, cy = int(round(uv[j, 0])), int(round(uv[j, 1]))
            x0, x1, y0, y1 = min(x0, cx), max(x1, cx), min(y0, cy), max(y1, cy)
        kp = np.zeros((len(vis), 3), dtype=np.float32)
        labelled = vis > 0
        kp[labelled, :2] = uv[labelled]
        kp[:, 2] = vis
        mask = coverage >= 0.5
        kept.append(p)
        kps.append(kp)
        boxes.append([x0, y0, x1 - x0 + 1, y1 - y0 + 1])
        areas.append(float(mask.sum()))
        masks.append(mask)
    k = len(body.keypoint_names)
    return (kept, np.asarray(kps, np.float32).reshape(-1, k, 3), np.asarray(boxes, np.float32).reshape(-1, 4),
            np.asarray(areas, np.float32), np.asarray(masks, bool).reshape(-1, size, size))


def render_scene(body: BodyModel, rng: np.random.Generator, config: SynthConfig | None = None,
                 num_people: int | None = None, pose_family: str | None = None) -> SynthSample:
    """Render one random image with its keypoint labels.

    Args:
        body: the loaded body model (:func:`get_body_model`).
        rng: random generator; the only source of randomness.
        config: scene settings (default :class:`SynthConfig`).
        num_people: people to place (None: drawn from ``config.people_weights``). People
            that cannot be placed in view are dropped, so the image may hold fewer.
        pose_family: force one pose family for everybody (None: random per person).

    Returns:
        :class:`SynthSample` with one entry per person that has at least one visible
        keypoint (a person reduced to a sliver by occluders or the border is rendered
        but not annotated).
    """
    config = config or SynthConfig()
    size, ss = config.size, config.supersample
    if num_people is None:
        weights = np.asarray(config.people_weights[: config.people_max], dtype=np.float64)
        num_people = 1 + int(rng.choice(len(weights), p=weights / weights.sum()))
    if num_people < 1:
        raise InputError(f"num_people must be >= 1, got {num_people}")

    people = make_people(body, rng, num_people, config, pose_family)
    camera = frame_main_person(rng, people[0], config, several=num_people > 1)
    people = place_others(rng, camera, people, size)
    light = _light_terms(rng, camera)

    vertices, faces, face_owner, shaded = _scene_mesh(people, body.faces, light)
    uv, z = camera.scaled(ss).project(vertices)
    buffers = rasterize(uv, z, faces, (size * ss, size * ss))
    owner = np.where(buffers.mask, face_owner[np.maximum(buffers.face, 0)], -1)

    background = synth_texture.procedural_background(rng, (size, size))
    colour = np.repeat(np.repeat(background.astype(np.float32) / 255.0, ss, axis=0), ss, axis=1)
    colour[buffers.mask] = shaded[buffers.face[buffers.mask]]

    occluded = np.zeros(owner.shape, dtype=bool)
    if rng.random() < config.occluder_prob:
        anchors = []
        for p in range(len(people)):
            rows, cols = np.nonzero(owner == p)
            if rows.size:
                anchors.append((float(cols.mean()), float(rows.mean()), float(max(np.ptp(rows), np.ptp(cols), 1))))
        if anchors:
            occluded = _draw_occluders(rng, colour, anchors)

    small = cv2.resize(colour, (size, size), interpolation=cv2.INTER_AREA) if ss > 1 else colour
    image = _post_process(rng, small, config)
    kept, kps, boxes, areas, masks = _annotate(body, people, camera, owner, buffers.depth, occluded, config)
    return SynthSample(image, kps, boxes, areas, masks, [people[i].family for i in kept])


def render_person(body: BodyModel | None = None, seed: int = 0, size: int = 128,
                  pose_family: str | None = None, config: SynthConfig | None = None) -> SynthSample:
    """Render one random person on a random background.

    Args:
        body: body model (None: the process-wide one, loaded on first use).
        seed: random seed.
        size: image side in pixels (overrides ``config.size``).
        pose_family: one of :data:`edgepose.data.synth_pose.POSE_FAMILIES` (None: random).
        config: other settings.

    Returns:
        :class:`SynthSample` with at most one person (none if an occluder or the border
        hides them completely).
    """
    config = dataclasses.replace(config or SynthConfig(), size=size)
    body = body or get_body_model()
    return render_scene(body, np.random.default_rng(seed), config, num_people=1, pose_family=pose_family)


# --------------------------------------------------------------------------------- COCO


def coco_categories() -> list[dict]:
    """The COCO ``categories`` list: one "person" with keypoint names and 1-based skeleton."""
    kset = get_keypoint_set(KEYPOINT_SET)
    return [{
        "id": 1, "name": "person", "supercategory": "person",
        "keypoints": list(kset.names),
        "skeleton": [[a + 1, b + 1] for a, b in kset.limbs],
    }]


def _rle(mask: np.ndarray) -> dict:
    """COCO compressed RLE of an (H, W) bool mask, counts as str."""
    from pycocotools import mask as mask_utils  # noqa: PLC0415

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def sample_to_coco(sample: SynthSample, image_id: int, file_name: str) -> tuple[dict, list[dict]]:
    """COCO ``image`` record and ``annotations`` (without ids) for one sample."""
    h, w = sample.image.shape[:2]
    image = {"id": image_id, "file_name": file_name, "height": h, "width": w}
    annotations = []
    for i in range(sample.keypoints.shape[0]):
        kp = sample.keypoints[i]
        flat = []
        for x, y, v in kp:
            flat += [round(float(x), 2), round(float(y), 2), int(v)]
        annotations.append({
            "image_id": image_id,
            "category_id": 1,
            "iscrowd": 0,
            "keypoints": flat,
            "num_keypoints": int(np.count_nonzero(kp[:, 2] > 0)),
            "bbox": [float(b) for b in sample.boxes[i]],
            "area": float(sample.areas[i]),
            "segmentation": _rle(sample.masks[i]),
            "pose_family": sample.families[i],
        })
    return image, annotations


def _write_image(path: Path, image_rgb: np.ndarray, config: SynthConfig) -> None:
    """Write an RGB image as JPEG or PNG (deterministic encoders)."""
    bgr = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality] if config.image_format == "jpg" else \
        [cv2.IMWRITE_PNG_COMPRESSION, 6]
    if not cv2.imwrite(str(path), bgr, params):
        raise OSError(f"could not write image {path}")


def _image_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of image ``index`` of a dataset: independent of worker layout."""
    return np.random.default_rng([seed, index])


def _render_and_write(index: int, seed: int, image_dir: Path, config: SynthConfig,
                      body: BodyModel) -> tuple[dict, list[dict]]:
    sample = render_scene(body, _image_rng(seed, index), config)
    file_name = f"{index:07d}.{config.image_format}"
    _write_image(image_dir / file_name, sample.image, config)
    return sample_to_coco(sample, index + 1, file_name)


# Worker-process state (spawned processes).
_WORKER: dict = {}


def _worker_init(seed: int, image_dir: str, config: SynthConfig) -> None:
    import torch  # noqa: PLC0415

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    _WORKER.update(seed=seed, image_dir=Path(image_dir), config=config, body=get_body_model())


def _worker_task(index: int) -> tuple[dict, list[dict]]:
    w = _WORKER
    return _render_and_write(index, w["seed"], w["image_dir"], w["config"], w["body"])


def _iter_records(n: int, seed: int, image_dir: Path, config: SynthConfig, workers: int
                  ) -> Iterator[tuple[dict, list[dict]]]:
    """COCO records of images 0..n-1 in order, rendered here or in ``workers`` processes."""
    if workers <= 1:
        import torch  # noqa: PLC0415

        body = get_body_model()
        threads, cv_threads = torch.get_num_threads(), cv2.getNumThreads()
        torch.set_num_threads(1)
        cv2.setNumThreads(1)
        try:
            for index in range(n):
                yield _render_and_write(index, seed, image_dir, config, body)
        finally:
            torch.set_num_threads(threads)
            cv2.setNumThreads(cv_threads)
        return
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_worker_init, initargs=(seed, str(image_dir), config)) as pool:
        yield from pool.imap(_worker_task, range(n), chunksize=4)


def generate_dataset(
    out_dir: str | os.PathLike,
    n: int,
    size: int = 128,
    seed: int = 0,
    people_max: int = 3,
    workers: int = 1,
    config: SynthConfig | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Path:
    """Render ``n`` images into a COCO keypoint dataset.

    Layout: ``out_dir/images/0000000.jpg ...`` and
    ``out_dir/annotations/person_keypoints.json`` (``file_name`` is relative to
    ``images/``). The json ``info`` records :data:`SYNTH_VERSION`, the seed and the
    settings. Same arguments -> byte-identical files, whatever ``workers``.

    Args:
        out_dir: output folder (created; existing files of the same names are replaced).
        n: number of images (>= 1).
        size: image side in pixels (overrides ``config.size``).
        seed: dataset seed.
        people_max: at most this many people per image, 1-3 (overrides ``config``).
        workers: processes rendering in parallel (1: in this process).
        config: other settings (:class:`SynthConfig`).
        on_progress: called with the number of images finished since the last call.

    Returns:
        Path of the annotation json.

    Raises:
        InputError: for n < 1, workers < 1 or invalid settings.
    """
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    if workers < 1:
        raise InputError(f"workers must be >= 1, got {workers}")
    config = dataclasses.replace(config or SynthConfig(), size=size, people_max=people_max)
    out = Path(out_dir)
    image_dir = out / "images"
    ann_dir = out / "annotations"
    image_dir.mkdir(parents=True, exist_ok=True)
    ann_dir.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    images, annotations = [], []
    for image, anns in _iter_records(n, seed, image_dir, config, workers):
        images.append(image)
        for ann in anns:
            annotations.append({"id": len(annotations) + 1, **ann})
        if on_progress is not None:
            on_progress(1)
    elapsed = time.perf_counter() - start
    logger.info("rendered %d images (%d people) in %.1f s: %.1f images/s", n, len(annotations), elapsed,
                n / max(elapsed, 1e-9))

    settings = dataclasses.asdict(config)
    settings["pose_family_weights"] = dict(config.pose_family_weights or synth_pose.POSE_FAMILIES)
    dataset = {
        "info": {
            "description": "edgepose synthetic humans (anny body model, procedural scenes)",
            "version": SYNTH_VERSION,
            "generator": "edgepose.data.synthetic",
            "body_model": f"anny {_anny_version()}",
            "seed": seed,
            "num_images": n,
            "settings": settings,
            "coordinates": "pixel centres at integer coordinates (OpenCV); v: 0 outside image, 1 hidden, 2 visible",
        },
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": coco_categories(),
    }
    path = ann_dir / "person_keypoints.json"
    path.write_text(json.dumps(dataset, separators=(",", ":")))
    return path


def _anny_version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("anny")
    except PackageNotFoundError:
        return "unknown"
