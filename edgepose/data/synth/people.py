"""People of a scene: random body shapes, poses and outfits, standing on the ground, with
an optional seat box for sitting poses."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from edgepose.data.synth import clothing, texture
from edgepose.data.synth import pose as synth_pose
from edgepose.data.synth.backgrounds import BackgroundLibrary
from edgepose.data.synth.body import BodyModel
from edgepose.data.synth.boxes import box_corners
from edgepose.data.synth.config import SynthConfig
from edgepose.data.synth.garments import Garment, dress_person
from edgepose.data.synth.holdout import ood_phenotype


@dataclass
class Person:
    """One person of a scene, posed and placed in the world (metres, z up).

    Attributes:
        vertices: (V, 3) world positions.
        keypoints: (17, 3) world positions of the COCO keypoints.
        albedo: (V, 3) float32 RGB in [0, 1].
        height: standing (rest-pose) height in metres.
        family: pose family name.
        seat: (8, 3) world corners of a box the person sits on (:data:`~edgepose.data.synth.boxes.BOX_FACES`
            order), or None.
        seat_albedo: (3,) RGB in [0, 1] of the seat.
        garments: worn meshes (garments, hair, hats, bags), :mod:`edgepose.data.synth.garments`.
        hidden_faces: (F,) bool, body triangles under the garments that are not drawn
            (None: all are drawn).
    """

    vertices: np.ndarray
    keypoints: np.ndarray
    albedo: np.ndarray
    height: float
    family: str
    seat: np.ndarray | None = None
    seat_albedo: np.ndarray | None = None
    garments: list[Garment] = field(default_factory=list)
    hidden_faces: np.ndarray | None = None

    def moved(self, shift: np.ndarray) -> Person:
        """The same person translated by ``shift`` (3,) metres."""
        seat = None if self.seat is None else self.seat + shift
        worn = [g.transformed(np.eye(3), shift) for g in self.garments]
        return dataclasses.replace(self, vertices=self.vertices + shift, keypoints=self.keypoints + shift, seat=seat,
                                   garments=worn)

    @property
    def surface(self) -> np.ndarray:
        """(N, 3) points of the person's extent: body vertices, then those of the worn
        meshes that stand off the body (skirts, brims, bags; not the close shells)."""
        extra = [g.vertices for g in self.garments if g.framing]
        return np.concatenate([self.vertices, *extra]) if extra else self.vertices


def _sample_seat(body: BodyModel, rng: np.random.Generator, vertices: np.ndarray) -> np.ndarray | None:
    """A box under the buttocks and thighs of a seated body (body frame), or None when
    the seat would be too low."""
    regions = body.regions
    seated = (regions == clothing.REGIONS.index("pelvis")) | (
        (regions == clothing.REGIONS.index("leg")) & (body.limb_coord < 0.45))
    top = vertices[seated, 2].min()
    ground = vertices[:, 2].min()
    if top - ground < 0.15:
        return None
    centre = vertices[seated, :2].mean(axis=0) + np.array([0.0, rng.uniform(0.0, 0.08)])
    half = np.array([rng.uniform(0.2, 0.35), rng.uniform(0.18, 0.28)])
    return box_corners(np.array([*(centre - half), ground]), np.array([*(centre + half), top]))


def sample_phenotype(rng: np.random.Generator, child_prob: float, split: str = "train") -> dict[str, float]:
    """anny phenotype values in [0, 1]. Age: 1/3 child, 2/3 young adult, 1 old. The "ood"
    asset split draws held-out shapes instead (:func:`edgepose.data.synth.holdout.ood_phenotype`)."""
    if split == "ood":
        return ood_phenotype(rng, child_prob)
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
                family: str | None = None, photos: BackgroundLibrary | None = None) -> list[Person]:
    """Sample, pose and dress ``count`` people, each turned by a random yaw and standing
    on the ground (lowest vertex at z = 0; families of
    :data:`~edgepose.data.synth.pose.AIRBORNE` lifted above it), centred at the origin in x and y. Garments
    take photo textures from ``photos`` with probability ``config.photo_texture_prob``;
    garments, hair and accessories are drawn with ``config.garment_prob``, ``hair_prob``
    and ``accessory_prob``."""
    phenotypes, poses, families = [], [], []
    for _ in range(count):
        phenotypes.append(sample_phenotype(rng, config.child_prob, config.asset_split))
        fam, pose = synth_pose.sample_pose(rng, family, config.pose_family_weights)
        families.append(fam)
        poses.append(pose)
    vertices, keypoints, heights = body.pose_people(phenotypes, poses,
                                                    synth_pose.POSE_KINEMATICS[config.pose_kinematics])
    people = []
    for i in range(count):
        seat = None
        if families[i] == "sitting" and rng.random() < 0.8:
            seat = _sample_seat(body, rng, vertices[i])
        rot = _yaw_matrix(rng.uniform(0.0, 360.0))
        v = vertices[i] @ rot.T
        k = keypoints[i] @ rot.T
        lift = rng.uniform(*synth_pose.AIRBORNE[families[i]]) if families[i] in synth_pose.AIRBORNE else 0.0
        offset = np.array([-(v[:, 0].min() + v[:, 0].max()) / 2, -(v[:, 1].min() + v[:, 1].max()) / 2,
                           lift - v[:, 2].min()])
        albedo = clothing.clothing_colours(rng, body.regions, body.limb_coord, body.rest_coords,
                                           body.scalp, body.iris, photos, config.photo_texture_prob,
                                           config.asset_split)
        person = Person(v, k, albedo, float(heights[i]), families[i])
        if seat is not None:
            person.seat = seat @ rot.T
            person.seat_albedo = texture.random_colour(rng, value=(0.15, 0.9))
        worn, person.hidden_faces = dress_person(
            rng, body, vertices[i], keypoints[i], albedo, config.garment_prob, config.hair_prob,
            config.accessory_prob, photos, config.photo_texture_prob, config.asset_split)
        person.garments = [g.transformed(rot, np.zeros(3)) for g in worn]
        people.append(person.moved(offset))
    return people

