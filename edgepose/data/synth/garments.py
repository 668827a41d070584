"""Worn geometry of a person: garments, hair, hats and bags as meshes of their own.

Garments and hair are *offset shells* of the posed body mesh: a subset of its triangles
(chosen by body region and by the position along a limb) pushed out along the vertex
normals by a few centimetres that vary over the body (wide sleeve ends, flared trouser
hems, volume on top of the head). Skirts, dresses and the lower part of coats are a tube
hung from the hips around both legs; hat brims are annuli around the head, bags are
boxes on the back, at the hip or hanging from a hand. Everything is built from the posed
vertices, so it follows the pose, and it is rasterised with the body in one z-buffer.

Each mesh carries a per-triangle ``cover``: how far (metres) its surface stands off the
body. Keypoint visibility (:mod:`edgepose.data.synth.labels`) keeps a joint seen through a
close-fitting garment (``cover`` up to :data:`LOOSE_COVER_M`) visible, as COCO annotators
mark joints under clothes; a loose garment (a sleeve past the wrist, a skirt over the
knees, a flared trouser hem over the ankle) or an opaque thing (hair, hat, bag: ``cover``
inf) hides it (v=1: labelled, occluded).

Coordinates are in the body frame of :meth:`BodyModel.pose_people` (metres, x the
person's left, y back, z up). All randomness comes from the given generator, in a fixed
order; nothing is drawn for a kind of item whose probability is 0.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import numpy as np

from edgepose.data.synth import clothing
from edgepose.data.synth.backgrounds import BackgroundLibrary
from edgepose.data.synth.body import BodyModel
from edgepose.data.synth.boxes import BOX_FACES
from edgepose.data.synth.effects import happens
from edgepose.data.synth.texture import random_colour

#: Surfaces standing off the body by more than this (metres) hide the joints under them.
LOOSE_COVER_M = 0.04

#: ``cover`` of opaque items (hair, hats, bags).
OPAQUE = math.inf

#: Upper garments, lower garments, hats and bags, each drawn with the weights below.
TOPS = ("none", "sweater", "jacket", "coat", "dress")
TOP_WEIGHTS = (0.15, 0.2, 0.25, 0.25, 0.15)
BOTTOMS = ("none", "trousers", "skirt")
HATS = ("beanie", "cap", "hat")
BAGS = ("backpack", "shoulder_bag", "handbag")

#: Probability that a garment is dark (value 0.03-0.3) rather than of any brightness.
DARK_PROB = 0.5

_COCO_HIPS, _COCO_KNEES, _COCO_ANKLES, _COCO_WRISTS = (11, 12), (13, 14), (15, 16), (9, 10)


@dataclass
class Garment:
    """One worn mesh.

    Attributes:
        kind: what it is ("coat", "hair", "backpack", ...).
        vertices: (N, 3) float64 positions in metres.
        faces: (M, 3) int64 triangles, counter-clockwise seen from outside.
        albedo: (N, 3) float32 RGB in [0, 1] per vertex.
        cover: (M,) float32 metres the surface stands off the body (inf: opaque).
        framing: whether the mesh counts in the person's extent when the camera frames and
            places people (False for offset shells, which stay within centimetres of the
            body: leaving them out saves projecting thousands of points).
    """

    kind: str
    vertices: np.ndarray
    faces: np.ndarray
    albedo: np.ndarray
    cover: np.ndarray
    framing: bool = True

    def transformed(self, rotation: np.ndarray, shift: np.ndarray) -> Garment:
        """The garment rotated by ``rotation`` (3, 3), then translated by ``shift`` (3,)."""
        return dataclasses.replace(self, vertices=self.vertices @ rotation.T + shift)


class GarmentAtlas:
    """Per-vertex data of the rest mesh that garments are cut by (built once per body model).

    Attributes:
        arm_coord: (V,) 0 at the shoulder, 1 at the wrist, above 1 on the hand (1 + the
            distance past the wrist along the forearm, in arm lengths); nan elsewhere.
        leg_coord: (V,) 0 at the hip, 1 at the ankle, above 1 on the foot (1 + the
            distance below the ankle, in leg lengths); -1 on the pelvis; nan elsewhere.
        region: name -> (V,) bool mask of each :data:`clothing.REGIONS` region.
        face: (V,) bool, head vertices of the face (never covered by hair).
        hair_back: (V,) bool, head, neck and torso vertices behind the ears / the spine
            (where long hair falls).
    """

    def __init__(self, body: BodyModel) -> None:
        v = body.rest_coords
        heads = body.bone_heads
        self.faces = body.faces
        self.rest = v
        self.scalp = body.scalp
        self.region = {name: body.regions == i for i, name in enumerate(clothing.REGIONS)}
        r = self.region
        left = v[:, 0] >= 0
        self.arm_coord = np.full(v.shape[0], np.nan)
        self.leg_coord = np.full(v.shape[0], np.nan)
        self.leg_coord[r["pelvis"]] = -1.0
        for side, mask in (("L", left), ("R", ~left)):
            shoulder, wrist = heads[f"upperarm01.{side}"], heads[f"wrist.{side}"]
            length = float(np.linalg.norm(wrist - shoulder))
            arm = r["arm"] & mask
            self.arm_coord[arm] = body.limb_coord[arm]
            forearm = wrist - heads[f"lowerarm01.{side}"]
            forearm /= np.linalg.norm(forearm)
            hand = r["hand"] & mask
            self.arm_coord[hand] = 1.0 + (v[hand] - wrist) @ forearm / length
            hip, ankle = heads[f"upperleg01.{side}"], heads[f"foot.{side}"]
            leg = r["leg"] & mask
            self.leg_coord[leg] = body.limb_coord[leg]
            foot = r["foot"] & mask
            self.leg_coord[foot] = 1.0 + (ankle[2] - v[foot, 2]) / float(np.linalg.norm(ankle - hip))
        self.eye = 0.5 * (heads["eye.L"] + heads["eye.R"])
        self.hip_z = float(heads["upperleg01.L"][2])
        self.shoulder_z = float(heads["upperarm01.L"][2])
        head = r["head"]
        self.face = head & (v[:, 1] < self.eye[1] + 0.035) & (v[:, 2] < self.eye[2] + 0.045)
        spine_y = float(heads["neck01"][1])
        self.hair_back = ((head & (v[:, 1] > self.eye[1] + 0.06))
                          | ((r["neck"] | r["torso"]) & (v[:, 1] > spine_y)))
        self.lower_torso = r["torso"] & (v[:, 2] < self.hip_z + 0.25)


@functools.lru_cache(maxsize=2)
def garment_atlas(body: BodyModel) -> GarmentAtlas:
    """The :class:`GarmentAtlas` of ``body`` (built once)."""
    return GarmentAtlas(body)


# ------------------------------------------------------------------------ geometry

def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) float32 unit area-weighted vertex normals of a mesh, pointing outwards."""
    v = np.asarray(vertices, dtype=np.float32)
    a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
    corner = v[a]
    normal = np.cross(v[b] - corner, v[c] - corner)
    n = v.shape[0]
    out = np.empty_like(v)
    for axis in range(3):
        weight = normal[:, axis]
        out[:, axis] = (np.bincount(a, weight, n) + np.bincount(b, weight, n) + np.bincount(c, weight, n))
    return out / (np.linalg.norm(out, axis=1, keepdims=True) + np.float32(1e-12))


def offset_shell(kind: str, vertices: np.ndarray, normals: np.ndarray, faces: np.ndarray,
                 selected: np.ndarray, offset: np.ndarray) -> tuple[Garment, np.ndarray]:
    """The triangles of a body mesh whose three vertices are ``selected``, pushed out along
    the normals.

    Args:
        kind: name of the garment.
        vertices: (V, 3) posed body vertices; normals (V, 3) their unit normals.
        faces: (F, 3) body triangles.
        selected: (V,) bool, vertices the garment covers.
        offset: (V,) metres each selected vertex moves out (> 0).

    Returns:
        the garment (grey albedo, to be painted) and ``hidden`` (F,) bool: body triangles
        that the shell covers far enough from its open edges that they cannot be seen
        (left out of the rasteriser; near the edges the body stays, to be seen through
        the openings).
    """
    a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
    inside = selected[a] & selected[b] & selected[c]
    used = np.zeros(vertices.shape[0], dtype=bool)
    used[faces[inside].ravel()] = True
    index = np.nonzero(used)[0]
    remap = np.full(vertices.shape[0], -1, dtype=np.int64)
    remap[index] = np.arange(index.size)
    shell_faces = remap[faces[inside]]
    shell_vertices = vertices[index] + normals[index] * offset[index, None]
    cover = ((offset[a[inside]] + offset[b[inside]] + offset[c[inside]]) / 3.0).astype(np.float32)
    garment = Garment(kind, shell_vertices, shell_faces, np.full((index.size, 3), 0.5, np.float32), cover,
                      framing=False)

    # Open edges: used vertices that also belong to a triangle outside the shell.
    edge = np.zeros(vertices.shape[0], dtype=bool)
    edge[faces[~inside].ravel()] = True
    edge &= used
    hidden = np.zeros(faces.shape[0], dtype=bool)
    if not edge.any():
        hidden[inside] = True
        return garment, hidden
    # The body stays drawn within twice the edge's offset (plus 2 cm) of an open edge
    # (distances to at most 256 of the edge's vertices: the margin is generous).
    margin = 2.0 * float(offset[edge].max()) + 0.02
    edge_index = np.nonzero(edge)[0]
    edge_points = vertices[edge_index[:: max(1, edge_index.size // 256)]].astype(np.float32)
    candidates = index
    points = vertices[candidates].astype(np.float32)
    d2 = ((points * points).sum(axis=1)[:, None] + (edge_points * edge_points).sum(axis=1)[None, :]
          - 2.0 * points @ edge_points.T)
    removable = np.zeros(vertices.shape[0], dtype=bool)
    removable[candidates[d2.min(axis=1) > margin * margin]] = True
    hidden = inside & removable[a] & removable[b] & removable[c]
    return garment, hidden


def _ring_faces(rings: int, around: int) -> np.ndarray:
    """Triangles (2 (rings-1) around, 3) joining ``rings`` closed rings of ``around`` vertices."""
    j, i = np.divmod(np.arange((rings - 1) * around), around)
    a = j * around + i
    b = j * around + (i + 1) % around
    c = a + around
    d = b + around
    return np.concatenate([np.stack([a, c, b], 1), np.stack([b, c, d], 1)]).astype(np.int64)


def _outwards(vertices: np.ndarray, faces: np.ndarray, centre_of: np.ndarray) -> np.ndarray:
    """``faces`` reoriented (all flipped or none) so that they face away from the points
    ``centre_of`` (per face, (M, 3)), judged by the majority."""
    tri = vertices[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    outward = np.einsum("ij,ij->i", normal, tri.mean(axis=1) - centre_of)
    return faces if np.sum(outward) >= 0 else faces[:, [0, 2, 1]]


def skirt_tube(rng: np.random.Generator, atlas: GarmentAtlas, vertices: np.ndarray, keypoints: np.ndarray,
               kind: str, rise: float, hem: float, offset: float, flare: float) -> Garment:
    """A tube hung from the hips around both legs: skirts, dresses, the skirt of a coat.

    Its axis runs from above the mid-hip along the thighs (tilted down, so that a seated
    person's skirt drapes over the thighs); each ring holds the convex outline of the
    pelvis and legs at its height, grown by ``offset`` and a flare that grows towards the
    hem; a ring is never narrower than the one above it (the fabric hangs).

    Args:
        vertices: (V, 3) posed body vertices; keypoints (17, 3) posed COCO keypoints.
        rise: metres the top ring lies above the hips.
        hem: length below the hips as a fraction of the leg length (0.5: about the knee).
        offset: metres between body and fabric at the top; flare: metres added at the hem.
    """
    hips, knees, ankles = keypoints[list(_COCO_HIPS)], keypoints[list(_COCO_KNEES)], keypoints[list(_COCO_ANKLES)]
    thigh = (knees - hips).mean(axis=0)
    thigh /= np.linalg.norm(thigh) + 1e-12
    axis = thigh + np.array([0.0, 0.0, -0.8])
    axis /= np.linalg.norm(axis)
    top = hips.mean(axis=0) + np.array([0.0, 0.0, rise])
    across = hips[0] - hips[1]
    e1 = across - (across @ axis) * axis
    e1 /= np.linalg.norm(e1) + 1e-12
    e2 = np.cross(axis, e1)
    leg_length = float(np.mean(np.linalg.norm(knees - hips, axis=1) + np.linalg.norm(ankles - knees, axis=1)))

    # The outline follows the part of the legs the garment reaches (not the shins under
    # a knee-length skirt, which would balloon it when the knees are bent).
    reach = atlas.region["leg"] & (atlas.leg_coord <= min(1.0, hem + 0.1))
    inside = atlas.region["pelvis"] | atlas.lower_torso | reach
    points = vertices[inside] - top
    s = points @ axis
    length = min(rise + hem * leg_length, float(s.max()) - 0.01)
    rings, around = 9, 28
    theta = np.linspace(0.0, 2.0 * math.pi, around, endpoint=False)
    directions = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    support = np.stack([points @ e1, points @ e2], axis=1) @ directions.T  # (N, around)
    wave_amp, wave_k, wave_phase = rng.uniform(0.0, 0.05), int(rng.integers(4, 9)), rng.uniform(0.0, 2 * math.pi)
    heights = np.linspace(0.0, max(length, 0.05), rings)
    band = max(heights[1] - heights[0], 0.03)
    radius = np.zeros((rings, around))
    cover = np.zeros(rings)
    previous = np.full(around, 0.05)
    for j, height in enumerate(heights):
        near = np.abs(s - height) <= band
        outline = support[near].max(axis=0) if near.any() else previous
        t = j / (rings - 1)
        cover[j] = offset + flare * t ** 1.5
        ring = np.maximum(np.maximum(outline, 0.03) + cover[j], previous)
        radius[j] = ring * (1.0 + wave_amp * t * np.sin(wave_k * theta + wave_phase))
        previous = ring
    centres = top + heights[:, None] * axis  # (rings, 3)
    spokes = directions[:, 0, None] * e1 + directions[:, 1, None] * e2  # (around, 3)
    tube = (centres[:, None, :] + radius[:, :, None] * spokes[None, :, :]).reshape(-1, 3)
    faces = _ring_faces(rings, around)
    faces = _outwards(tube, faces, centres[faces[:, 0] // around])
    face_cover = cover[faces // around].mean(axis=1).astype(np.float32)
    return Garment(kind, tube, faces, np.full((tube.shape[0], 3), 0.5, np.float32), face_cover)


def box_mesh(kind: str, centre: np.ndarray, axes: np.ndarray, half: np.ndarray) -> Garment:
    """An opaque box: ``centre`` (3,), unit ``axes`` (3, 3) as rows (right-handed) and
    half-sides ``half`` (3,) in metres along them."""
    bits = np.array([[i & 1, (i >> 1) & 1, (i >> 2) & 1] for i in range(8)], dtype=np.float64) * 2.0 - 1.0
    corners = centre + (bits * half) @ axes
    return Garment(kind, corners, BOX_FACES.copy(), np.full((8, 3), 0.5, np.float32),
                   np.full(BOX_FACES.shape[0], OPAQUE, np.float32))


def similarity(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity (Umeyama) with ``target ~ scale * source @ R.T + t``.

    Args:
        source, target: (N, 3) corresponding points.

    Returns:
        scale, rotation (3, 3), translation (3,).
    """
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    a, b = source - mu_s, target - mu_t
    u, sig, vt = np.linalg.svd(b.T @ a / a.shape[0])
    d = np.diag([1.0, 1.0, float(np.sign(np.linalg.det(u @ vt)) or 1.0)])
    rotation = u @ d @ vt
    scale = float(np.sum(sig * np.diag(d)) / (np.sum(a * a) / a.shape[0]))
    return scale, rotation, mu_t - scale * rotation @ mu_s


def _posed(atlas: GarmentAtlas, vertices: np.ndarray, part: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Rest-frame ``points`` (N, 3) carried along with the body ``part`` (V,) bool."""
    scale, rotation, shift = similarity(atlas.rest[part], vertices[part])
    return scale * points @ rotation.T + shift


def brim(kind: str, atlas: GarmentAtlas, vertices: np.ndarray, edge_z: float, inner_offset: float,
         width: np.ndarray, droop: float) -> Garment:
    """A double-sided flat annulus around the head at rest height ``edge_z``: ``width``
    (around,) metres from the head outline grown by ``inner_offset``, the outer edge
    ``droop`` metres lower. Posed with the head."""
    head = atlas.region["head"]
    rest = atlas.rest[head]
    band = rest[np.abs(rest[:, 2] - edge_z) < 0.012]
    centre = 0.5 * (band.min(axis=0) + band.max(axis=0))
    around = width.shape[0]
    theta = np.linspace(0.0, 2.0 * math.pi, around, endpoint=False)
    spokes = np.stack([np.cos(theta), np.sin(theta), np.zeros(around)], axis=1)
    inner = (band[:, :2] - centre[:2]) @ spokes[:, :2].T
    r_in = inner.max(axis=0) + inner_offset
    base = np.array([centre[0], centre[1], edge_z])
    ring_in = base + r_in[:, None] * spokes
    ring_out = base + (r_in + width)[:, None] * spokes - np.array([0.0, 0.0, droop])
    rest_points = np.concatenate([ring_in, ring_out])
    faces = _ring_faces(2, around)
    faces = np.concatenate([faces, faces[:, [0, 2, 1]]])  # seen from above and from below
    posed = _posed(atlas, vertices, head, rest_points)
    return Garment(kind, posed, faces, np.full((posed.shape[0], 3), 0.5, np.float32),
                   np.full(faces.shape[0], OPAQUE, np.float32))


# ------------------------------------------------------------------------ dressing

def _paint(rng: np.random.Generator, garments: list[Garment], skin: np.ndarray,
           photos: BackgroundLibrary | None, photo_prob: float, split: str = "train") -> None:
    """Give ``garments`` one shared random pattern (in place), dark with :data:`DARK_PROB`."""
    value = (0.03, 0.3) if rng.random() < DARK_PROB else (0.08, 0.95)
    coords = np.concatenate([g.vertices for g in garments])
    colours = clothing.garment_colours(rng, coords, skin, photos, photo_prob, split, value=value)
    start = 0
    for g in garments:
        g.albedo = colours[start:start + g.vertices.shape[0]]
        start += g.vertices.shape[0]


def _solid(rng: np.random.Generator, garment: Garment, value: tuple[float, float]) -> None:
    """Paint ``garment`` one random colour with a little per-vertex noise (in place)."""
    colour = random_colour(rng, saturation=(0.0, 0.8), value=value)
    noise = rng.uniform(0.9, 1.1, size=(garment.vertices.shape[0], 1))
    garment.albedo = np.clip(colour * noise, 0, 1).astype(np.float32)


def _sleeve_offset(coord: np.ndarray, base: float, cuff: float) -> np.ndarray:
    """Offset (metres) along a sleeve: ``base`` up to mid-arm, growing by ``cuff`` to the wrist."""
    t = np.clip((np.nan_to_num(coord, nan=0.0) - 0.4) / 0.6, 0.0, 1.0)
    return base + cuff * t * t


def _top(rng: np.random.Generator, atlas: GarmentAtlas, vertices: np.ndarray, normals: np.ndarray,
         keypoints: np.ndarray, kind: str) -> tuple[list[Garment], np.ndarray]:
    """An upper garment (sweater, jacket, coat or dress): a shell of the torso, the arms
    down to the sleeve end and the pelvis down to the hem, plus a skirt tube for coats
    and dresses. Returns its meshes and the body triangles it hides."""
    r, v = atlas.region, atlas.rest
    base = {"sweater": (0.006, 0.012), "jacket": (0.012, 0.022), "coat": (0.018, 0.03), "dress": (0.005, 0.01)}[kind]
    base = rng.uniform(*base)
    if kind == "dress":
        sleeve = float(rng.choice([0.0, rng.uniform(0.2, 0.45), rng.uniform(0.85, 1.0)], p=[0.4, 0.35, 0.25]))
    else:
        sleeve = rng.uniform(1.03, 1.15) if rng.random() < 0.55 else rng.uniform(0.85, 1.0)
    if sleeve > 1.0:  # past the wrist: a wide cuff
        cuff = rng.uniform(0.045, 0.07) - base
    else:
        cuff = rng.uniform(0.0, 0.02)
    if kind in ("coat", "dress"):
        pelvis = r["pelvis"]
    else:
        pelvis = r["pelvis"] & (v[:, 2] >= atlas.hip_z + rng.uniform(-0.06, 0.08))
    selected = r["torso"] | pelvis | (atlas.arm_coord <= sleeve)
    if rng.random() < 0.3:  # a collar
        selected |= r["neck"] & (v[:, 2] < atlas.shoulder_z + rng.uniform(0.1, 0.2))
    offset = np.where(np.isnan(atlas.arm_coord), base, _sleeve_offset(atlas.arm_coord, base, cuff))
    shell, hidden = offset_shell(kind, vertices, normals, atlas.faces, selected, offset)
    meshes = [shell]
    if kind == "coat":
        meshes.append(skirt_tube(rng, atlas, vertices, keypoints, kind, 0.04, rng.uniform(0.35, 0.8),
                                 base + 0.005, rng.uniform(0.03, 0.12)))
    elif kind == "dress":
        meshes.append(skirt_tube(rng, atlas, vertices, keypoints, kind, 0.06, rng.uniform(0.3, 0.95),
                                 base + 0.01, rng.uniform(0.02, 0.16)))
    return meshes, hidden


def _bottom(rng: np.random.Generator, atlas: GarmentAtlas, vertices: np.ndarray, normals: np.ndarray,
            keypoints: np.ndarray, kind: str) -> tuple[list[Garment], np.ndarray]:
    """Wide trousers (a shell of pelvis and legs, flared to the ankle) or a skirt."""
    faces = atlas.faces
    if kind == "skirt":
        tube = skirt_tube(rng, atlas, vertices, keypoints, kind, rng.uniform(0.04, 0.12), rng.uniform(0.2, 0.8),
                          rng.uniform(0.008, 0.02), rng.uniform(0.02, 0.15))
        return [tube], np.zeros(faces.shape[0], dtype=bool)
    base, flare = rng.uniform(0.006, 0.015), rng.uniform(0.015, 0.07)
    selected = (atlas.leg_coord <= rng.uniform(0.98, 1.04)) & (
        ~atlas.region["pelvis"] | (atlas.rest[:, 2] < atlas.hip_z + rng.uniform(0.1, 0.22)))
    t = np.clip(np.nan_to_num(atlas.leg_coord, nan=0.0), 0.0, 1.1)
    shell, hidden = offset_shell(kind, vertices, normals, faces, selected, base + flare * t * t)
    return [shell], hidden


def _shoes(rng: np.random.Generator, atlas: GarmentAtlas, vertices: np.ndarray,
           normals: np.ndarray) -> tuple[Garment, np.ndarray]:
    """Shoes or boots: a shell of the feet (and the shins for boots)."""
    top = 1.0 if rng.random() < 0.8 else rng.uniform(0.7, 0.9)
    selected = atlas.region["foot"] | (atlas.region["leg"] & (atlas.leg_coord >= top))
    offset = np.full(vertices.shape[0], rng.uniform(0.004, 0.01))
    shoes, hidden = offset_shell("shoes", vertices, normals, atlas.faces, selected, offset)
    _solid(rng, shoes, (0.03, 0.5) if rng.random() < 0.7 else (0.1, 0.95))
    return shoes, hidden


def _hair(rng: np.random.Generator, atlas: GarmentAtlas, vertices: np.ndarray,
          normals: np.ndarray) -> tuple[Garment, np.ndarray, np.ndarray]:
    """Hair: a shell over the scalp, thicker on top, sometimes long down the back.
    Returns the mesh, the body triangles it hides and the per-vertex offset (V,)."""
    head = atlas.region["head"]
    selected = head & (atlas.scalp > rng.uniform(-1.3, 0.3)) & ~atlas.face
    volume = rng.uniform(0.003, 0.018)
    offset = 0.004 + volume * np.clip((atlas.scalp + 1.5) / 3.0, 0.0, 1.0)
    if rng.random() < 0.4:  # long hair down the back
        end = atlas.shoulder_z - rng.uniform(-0.05, 0.25)
        long = atlas.hair_back & (atlas.rest[:, 2] >= end)
        selected |= long
        offset = np.where(long & ~head, 0.006 + 0.5 * volume, offset)
    hair, hidden = offset_shell("hair", vertices, normals, atlas.faces, selected, offset)
    colour = clothing.HAIR_COLOURS[int(rng.integers(0, len(clothing.HAIR_COLOURS)))] * rng.uniform(0.85, 1.15)
    noise = rng.uniform(0.85, 1.15, size=(hair.vertices.shape[0], 1))
    hair.albedo = np.clip(colour * noise, 0, 1).astype(np.float32)
    hair.cover = np.full(hair.faces.shape[0], OPAQUE, np.float32)
    return hair, hidden, np.where(selected, offset, 0.0)


def _hat(rng: np.random.Generator, atlas: GarmentAtlas, vertices: np.ndarray, normals: np.ndarray,
         hair_offset: np.ndarray) -> tuple[list[Garment], np.ndarray]:
    """A beanie, a cap with a visor or a hat with a brim, over the hair if any."""
    kind = HATS[int(rng.integers(0, len(HATS)))]
    edge_z = float(atlas.eye[2]) + rng.uniform(0.025, 0.06)
    selected = atlas.region["head"] & (atlas.rest[:, 2] >= edge_z)
    offset = hair_offset + rng.uniform(0.006, 0.014)
    crown, hidden = offset_shell(kind, vertices, normals, atlas.faces, selected, offset)
    crown.cover = np.full(crown.faces.shape[0], OPAQUE, np.float32)
    meshes = [crown]
    if kind != "beanie":
        around = 28
        theta = np.linspace(0.0, 2.0 * math.pi, around, endpoint=False)
        if kind == "cap":  # a visor at the front (-y)
            width = rng.uniform(0.05, 0.08) * np.clip(np.cos(theta + 0.5 * math.pi), 0.0, 1.0) ** 0.7
        else:
            width = np.full(around, rng.uniform(0.03, 0.09))
        inner = float(np.max(offset[selected])) - 0.004
        meshes.append(brim(kind, atlas, vertices, edge_z, inner, width, rng.uniform(0.0, 0.03)))
    value = (0.03, 0.4) if rng.random() < DARK_PROB else (0.1, 0.95)
    colour = random_colour(rng, saturation=(0.0, 0.8), value=value)
    for mesh in meshes:
        mesh.albedo = np.broadcast_to(colour, mesh.vertices.shape).astype(np.float32).copy()
    return meshes, hidden


def _bag(rng: np.random.Generator, atlas: GarmentAtlas, vertices: np.ndarray, keypoints: np.ndarray) -> list[Garment]:
    """A backpack, a bag at the hip or a bag hanging from a low hand (boxes)."""
    kind = BAGS[int(rng.integers(0, len(BAGS)))]
    r, rest = atlas.region, atlas.rest
    meshes: list[Garment] = []
    if kind == "handbag":
        sides = [w for w in _COCO_WRISTS if keypoints[w, 2] < keypoints[list(_COCO_HIPS), 2].mean()]
        kind = "shoulder_bag" if not sides else kind
    if kind == "backpack":
        half = np.array([rng.uniform(0.11, 0.17), rng.uniform(0.05, 0.1), rng.uniform(0.15, 0.23)])
        z_top = atlas.shoulder_z - rng.uniform(0.0, 0.05)
        back = r["torso"] & (rest[:, 2] > z_top - 2 * half[2]) & (np.abs(rest[:, 0]) < half[0])
        y_back = float(rest[back, 1].max()) if back.any() else float(rest[r["torso"], 1].max())
        centre = np.array([0.0, y_back - 0.01 + half[1], z_top - half[2]])
        part = r["torso"]
    elif kind == "shoulder_bag":
        half = np.array([rng.uniform(0.03, 0.06), rng.uniform(0.1, 0.16), rng.uniform(0.08, 0.14)])
        side = 1.0 if rng.random() < 0.5 else -1.0
        z = atlas.hip_z + rng.uniform(-0.05, 0.12)
        near = (r["pelvis"] | r["leg"]) & (np.abs(rest[:, 2] - z) < half[2])
        x_side = float(np.max(side * rest[near, 0]))
        centre = np.array([side * (x_side + half[0]), rng.uniform(-0.05, 0.05), z])
        part = r["pelvis"]
    else:
        wrist = keypoints[sides[int(rng.integers(0, len(sides)))]]
        half = np.array([rng.uniform(0.03, 0.06), rng.uniform(0.1, 0.17), rng.uniform(0.08, 0.15)])
        handle = rng.uniform(0.03, 0.08)
        side = 1.0 if wrist[0] >= 0 else -1.0
        centre = wrist + np.array([side * half[0], 0.0, -handle - half[2]])
        meshes.append(box_mesh("handle", wrist + np.array([side * half[0], 0.0, -0.5 * handle]), np.eye(3),
                               np.array([0.008, 0.008, 0.5 * handle + 0.01])))
        part = None
    if part is None:  # hanging from the hand: upright in the body frame
        meshes.append(box_mesh(kind, centre, np.eye(3), half))
    else:  # carried along with the torso or the pelvis
        scale, rotation, shift = similarity(rest[part], vertices[part])
        meshes.append(box_mesh(kind, scale * centre @ rotation.T + shift, rotation.T, scale * half))
    value = (0.03, 0.35) if rng.random() < DARK_PROB else (0.1, 0.95)
    for mesh in meshes:
        _solid(rng, mesh, value)
    return meshes


def dress_person(rng: np.random.Generator, body: BodyModel, vertices: np.ndarray, keypoints: np.ndarray,
                 albedo: np.ndarray, garment_prob: float, hair_prob: float, accessory_prob: float,
                 photos: BackgroundLibrary | None = None, photo_prob: float = 0.0, split: str = "train",
                 ) -> tuple[list[Garment], np.ndarray | None]:
    """Random worn meshes for one posed person.

    With ``garment_prob`` an upper garment and/or a lower one (at least one) and shoes;
    with ``hair_prob`` hair; with ``accessory_prob`` a hat or a bag (or both). Nothing
    is drawn from ``rng`` for a probability of 0.

    Args:
        vertices: (V, 3) posed body vertices; keypoints (17, 3) posed keypoints (body frame).
        albedo: (V, 3) the body's painted albedo (the skin colour is read from the face).
        photos, photo_prob: photo textures for garments, as for the painted outfit.
        split: asset split; "ood" paints the garments with the held-out pattern kinds.

    Returns:
        the meshes, and (F,) bool of body triangles they hide (None: none worn).
    """
    wear_garments = happens(rng, garment_prob)
    wear_hair = happens(rng, hair_prob)
    wear_accessory = happens(rng, accessory_prob)
    if not (wear_garments or wear_hair or wear_accessory):
        return [], None
    atlas = garment_atlas(body)
    normals = vertex_normals(vertices, atlas.faces)
    skin = np.median(albedo[atlas.face], axis=0)
    meshes: list[Garment] = []
    hidden = np.zeros(atlas.faces.shape[0], dtype=bool)
    if wear_garments:
        top = TOPS[int(rng.choice(len(TOPS), p=TOP_WEIGHTS))]
        bottom = "none" if top == "dress" else BOTTOMS[int(rng.integers(0 if top != "none" else 1, len(BOTTOMS)))]
        if top == "coat" and bottom == "skirt":
            bottom = "trousers"
        if top != "none":
            worn, covered = _top(rng, atlas, vertices, normals, keypoints, top)
            _paint(rng, worn, skin, photos, photo_prob, split)
            meshes += worn
            hidden |= covered
        if bottom != "none":
            worn, covered = _bottom(rng, atlas, vertices, normals, keypoints, bottom)
            _paint(rng, worn, skin, photos, photo_prob, split)
            meshes += worn
            hidden |= covered
        if rng.random() < 0.7:
            shoes, covered = _shoes(rng, atlas, vertices, normals)
            meshes.append(shoes)
            hidden |= covered
    hair_offset = np.zeros(vertices.shape[0])
    if wear_hair:
        hair, covered, hair_offset = _hair(rng, atlas, vertices, normals)
        meshes.append(hair)
        hidden |= covered
    if wear_accessory:
        choice = rng.random()
        if choice < 0.6:
            worn, covered = _hat(rng, atlas, vertices, normals, hair_offset)
            meshes += worn
            hidden |= covered
        if choice >= 0.4:
            meshes += _bag(rng, atlas, vertices, keypoints)
    return meshes, hidden
