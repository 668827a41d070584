"""One rendered image: people placed in view, meshed, lit, rasterised over a background
(procedural or a photo, with the people's ground shadows), occluders drawn on top, camera
effects applied, then labelled (:func:`render_scene`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from edgepose.data.synth import texture
from edgepose.data.synth.backgrounds import BackgroundLibrary, get_background_library
from edgepose.data.synth.body import BodyModel, get_body_model
from edgepose.data.synth.boxes import BOX_FACES
from edgepose.data.synth.camera import (
    Camera,
    frame_main_person,
    frame_points,
    projected_box,
    sensor_effects,
)
from edgepose.data.synth.config import SynthConfig
from edgepose.data.synth.effects import happens, optical_effects, output_effects
from edgepose.data.synth.ground import paint_ground
from edgepose.data.synth.labels import annotate
from edgepose.data.synth.light import ground_shadow, random_light, shade
from edgepose.data.synth.people import Person, make_people
from edgepose.data.synth.raster import rasterize
from edgepose.errors import InputError


def place_others(rng: np.random.Generator, camera: Camera, people: list[Person], size: int) -> list[Person]:
    """Move people 1.. next to or behind person 0 on the ground; drop those that cannot
    be placed (too close to someone, much closer to the camera than person 0, or out of
    view)."""
    placed = [people[0]]
    _, main_depth = camera.project(people[0].surface)
    nearest_allowed = max(0.5, 0.6 * float(main_depth.min()))
    centres = [np.zeros(2)]
    for person in people[1:]:
        for _ in range(20):
            lateral = rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 1.8)
            depth = rng.uniform(-1.2, 3.0)
            c = np.array([lateral, depth])
            if min(np.linalg.norm(c - o) for o in centres) < 0.55:
                continue
            moved = person.surface + np.array([c[0], c[1], 0.0])
            _, z = camera.project(moved)
            if z.min() < nearest_allowed:
                continue
            box = projected_box(camera, moved)
            if box[2] < 0 or box[0] > size - 1 or box[3] < 0 or box[1] > size - 1:
                continue
            placed.append(person.moved(np.array([c[0], c[1], 0.0])))
            centres.append(c)
            break
    return placed


#: Closest distance (metres, on the ground) between the centres of two people of a group.
GROUP_SPACING = 0.6


def place_group(rng: np.random.Generator, people: list[Person]) -> list[Person]:
    """Spread ``people`` (each centred at the origin) on the ground as a group: person 0
    stays at the origin, the others stand beside, in front and behind at several depths
    along the camera's viewing direction (world +y), so that they occlude each other.

    The area grows with the group: sideways within +-(0.5 + 0.15 n) metres, in depth from
    0.8 m in front to 0.35 n + 0.6 m behind, for n people; centres at least
    :data:`GROUP_SPACING` apart. A person that finds no free spot in 30 draws is left out.
    """
    n = len(people)
    half_width, back = 0.5 + 0.15 * n, 0.35 * n + 0.6
    placed, centres = [people[0]], [np.zeros(2)]
    for person in people[1:]:
        for _ in range(30):
            c = np.array([rng.uniform(-half_width, half_width), rng.uniform(-0.8, back)])
            if min(np.linalg.norm(c - o) for o in centres) >= GROUP_SPACING:
                placed.append(person.moved(np.array([c[0], c[1], 0.0])))
                centres.append(c)
                break
    return placed


def _scene_mesh(people: Sequence[Person], faces: np.ndarray, light: tuple
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All people, their seats and what they wear as one mesh (body triangles hidden
    under garments left out).

    Returns:
        vertices (N, 3) world, faces (M, 3), owner (M,) person index per triangle (-2
        for a seat), colour (M, 3) float32 shaded RGB, cover (M,) float32 metres that a
        worn surface stands off the body (0 for bodies and seats, inf for opaque items;
        :mod:`edgepose.data.synth.garments`).
    """
    verts, tris, owners, colours, covers = [], [], [], [], []
    count = 0
    for p, person in enumerate(people):
        drawn = faces if person.hidden_faces is None else faces[~person.hidden_faces]
        verts.append(person.vertices)
        tris.append(drawn + count)
        owners.append(np.full(drawn.shape[0], p))
        colours.append(shade(person.vertices, drawn, person.albedo[drawn].mean(axis=1), light))
        covers.append(np.zeros(drawn.shape[0], np.float32))
        count += person.vertices.shape[0]
    for person in people:
        if person.seat is None:
            continue
        verts.append(person.seat)
        tris.append(BOX_FACES + count)
        owners.append(np.full(BOX_FACES.shape[0], -2))
        albedo = np.broadcast_to(person.seat_albedo, (BOX_FACES.shape[0], 3))
        colours.append(shade(person.seat, BOX_FACES, albedo, light))
        covers.append(np.zeros(BOX_FACES.shape[0], np.float32))
        count += person.seat.shape[0]
    for p, person in enumerate(people):
        for garment in person.garments:
            verts.append(garment.vertices)
            tris.append(garment.faces + count)
            owners.append(np.full(garment.faces.shape[0], p))
            corners = garment.albedo[garment.faces[:, 0]] + garment.albedo[garment.faces[:, 1]]
            albedo = (corners + garment.albedo[garment.faces[:, 2]]) / np.float32(3.0)
            colours.append(shade(garment.vertices, garment.faces, albedo, light))
            covers.append(garment.cover)
            count += garment.vertices.shape[0]
    colour = np.clip(np.concatenate(colours), 0.0, 1.0).astype(np.float32)
    return (np.concatenate(verts), np.concatenate(tris), np.concatenate(owners), colour,
            np.concatenate(covers))



def _draw_occluders(rng: np.random.Generator, colour: np.ndarray, anchors: list[tuple[float, float, float]],
                    photos: BackgroundLibrary | None = None, photo_prob: float = 0.0,
                    split: str = "train") -> np.ndarray:
    """Paint 1-2 textured shapes over random anchors (x, y, size) of ``colour`` (Hs, Ws, 3)
    float32 in place; a shape is filled with a photo crop with probability ``photo_prob``
    (needs ``photos``), else a colour or a pattern of asset split ``split``. Returns the
    occluder mask (Hs, Ws) bool."""
    hw = colour.shape[:2]
    occluded = np.zeros(hw, dtype=bool)
    for _ in range(int(rng.integers(1, 3))):
        x, y, scale = anchors[int(rng.integers(0, len(anchors)))]
        mask = np.zeros(hw, np.uint8)
        centre = (x + rng.normal(0, 0.15 * scale), y + rng.normal(0, 0.15 * scale))
        texture.draw_random_shape(rng, mask, centre, scale * rng.uniform(0.15, 0.45))
        covered = mask > 0
        if photos is not None and photo_prob > 0 and rng.random() < photo_prob:
            colour[covered] = photos.crop(rng, hw)[covered]
        elif rng.random() < 0.5:
            colour[covered] = texture.random_colour(rng)
        else:
            colour[covered] = texture.textured_fill(rng, hw, split)[covered]
        occluded |= covered
    return occluded



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



def render_scene(body: BodyModel, rng: np.random.Generator, config: SynthConfig | None = None,
                 num_people: int | None = None, pose_family: str | None = None) -> SynthSample:
    """Render one random image with its keypoint labels.

    Args:
        body: the loaded body model (:func:`get_body_model`).
        rng: random generator; the only source of randomness.
        config: scene settings (default :class:`SynthConfig`).
        num_people: people to place (None: a group of ``config.group_size`` people with
            probability ``config.group_prob``, otherwise drawn from
            ``config.people_weights``). People that cannot be placed in view are dropped,
            so the image may hold fewer.
        pose_family: force one pose family for everybody (None: random per person).

    Returns:
        :class:`SynthSample` with one entry per person that has at least one visible
        keypoint (a person reduced to a sliver by occluders or the border is rendered
        but not annotated).
    """
    config = config or SynthConfig()
    size, ss = config.size, config.supersample
    group = False
    if num_people is None:
        if happens(rng, config.group_prob):
            group = True
            num_people = int(rng.integers(config.group_size[0], config.group_size[1] + 1))
        else:
            weights = np.asarray(config.people_weights[: config.people_max], dtype=np.float64)
            num_people = 1 + int(rng.choice(len(weights), p=weights / weights.sum()))
    if num_people < 1:
        raise InputError(f"num_people must be >= 1, got {num_people}")

    photos = get_background_library(config.background_dir, config.photo_split) if config.uses_photos else None
    people = make_people(body, rng, num_people, config, pose_family, photos)
    if group:  # the camera frames the whole group
        people = place_group(rng, people)
        camera = frame_points(rng, np.concatenate([p.surface for p in people]), config)
    else:
        camera = frame_main_person(rng, people[0], config, several=num_people > 1)
        people = place_others(rng, camera, people, size)
    light = random_light(rng, camera, config.asset_split)

    vertices, faces, face_owner, shaded, face_cover = _scene_mesh(people, body.faces, light)
    uv, z = camera.scaled(ss).project(vertices)
    buffers = rasterize(uv, z, faces, (size * ss, size * ss))
    owner = np.where(buffers.mask, face_owner[np.maximum(buffers.face, 0)], -1)
    cover = np.where(buffers.mask, face_cover[np.maximum(buffers.face, 0)], np.float32(0.0))

    if photos is not None and config.backgrounds == "photos" and (
            config.photo_background_prob >= 1.0 or rng.random() < config.photo_background_prob):
        colour = photos.crop(rng, (size * ss, size * ss))
    else:
        background = texture.procedural_background(rng, (size, size), config.asset_split)
        colour = np.repeat(np.repeat(background.astype(np.float32) / 255.0, ss, axis=0), ss, axis=1)
    if photos is not None and happens(rng, config.ground_prob):
        paint_ground(rng, photos, camera.scaled(ss), colour)
    if happens(rng, config.shadow_prob):
        hw = (size * ss, size * ss)
        shadow = ground_shadow(people, body.parts, camera.scaled(ss), light[0], hw)
        shadow = cv2.GaussianBlur(shadow, (0, 0), rng.uniform(0.004, 0.02) * size * ss)
        colour *= (1.0 - np.float32(rng.uniform(0.3, 0.65)) * shadow)[:, :, None]
    colour[buffers.mask] = shaded[buffers.face[buffers.mask]]

    occluded = np.zeros(owner.shape, dtype=bool)
    if rng.random() < config.occluder_prob:
        anchors = []
        for p in range(len(people)):
            rows, cols = np.nonzero(owner == p)
            if rows.size:
                anchors.append((float(cols.mean()), float(rows.mean()), float(max(np.ptp(rows), np.ptp(cols), 1))))
        if anchors:
            occluded = _draw_occluders(rng, colour, anchors, photos, config.photo_texture_prob, config.asset_split)

    small = cv2.resize(colour, (size, size), interpolation=cv2.INTER_AREA) if ss > 1 else colour
    image = output_effects(rng, sensor_effects(rng, optical_effects(rng, small, config), config), config)
    kept, kps, boxes, areas, masks = annotate(body, people, camera, owner, buffers.depth, occluded, config, cover)
    return SynthSample(image, kps, boxes, areas, masks, [people[i].family for i in kept])


def render_person(body: BodyModel | None = None, seed: int = 0, size: int = 128,
                  pose_family: str | None = None, config: SynthConfig | None = None) -> SynthSample:
    """Render one random person on a random background.

    Args:
        body: body model (None: the process-wide one, loaded on first use).
        seed: random seed.
        size: image side in pixels (overrides ``config.size``).
        pose_family: one of :data:`edgepose.data.synth.pose.POSE_FAMILIES` (None: random).
        config: other settings.

    Returns:
        :class:`SynthSample` with at most one person (none if an occluder or the border
        hides them completely).
    """
    config = dataclasses.replace(config or SynthConfig(), size=size)
    body = body or get_body_model()
    return render_scene(body, np.random.default_rng(seed), config, num_people=1, pose_family=pose_family)

