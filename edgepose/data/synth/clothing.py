"""Appearance of a person: skin tone, hair and a random outfit as per-vertex albedo.

Colours are RGB ``(V, 3) float32`` in [0, 1]; everything is drawn from a
``numpy.random.Generator``.
"""

from __future__ import annotations

import math

import numpy as np

from edgepose.data.synth.backgrounds import BackgroundLibrary
from edgepose.data.synth.texture import held_out_garment_field, random_colour

#: Skin tones (RGB, 0-255), light to dark; a person's tone is drawn between two
#: neighbours and jittered.
SKIN_TONES = np.array([
    [255, 226, 204], [241, 194, 167], [224, 172, 137], [198, 134, 96],
    [161, 102, 70], [120, 76, 50], [84, 54, 38],
], dtype=np.float32) / 255.0

HAIR_COLOURS = np.array([
    [20, 16, 14], [45, 30, 22], [80, 52, 34], [120, 82, 50], [170, 130, 80],
    [215, 190, 140], [150, 60, 30], [180, 180, 180], [235, 235, 230],
], dtype=np.float32) / 255.0


def skin_tone(rng: np.random.Generator) -> np.ndarray:
    """A skin colour (3,) float32 in [0, 1]."""
    i = int(rng.integers(0, len(SKIN_TONES) - 1))
    t = rng.uniform(0, 1)
    tone = (1 - t) * SKIN_TONES[i] + t * SKIN_TONES[i + 1]
    return np.clip(tone * rng.uniform(0.92, 1.06, size=3), 0, 1).astype(np.float32)


# ------------------------------------------------------------------------- clothing

#: Garment regions of a body, as labelled by :func:`clothing_colours`' ``regions``.
REGIONS = ("head", "neck", "eyes", "torso", "arm", "hand", "pelvis", "leg", "foot")


def photo_pattern(crop: np.ndarray, coords: np.ndarray, metres: float) -> np.ndarray:
    """Per-vertex colours (N, 3) float32 of a photo crop wrapped around a body.

    Args:
        crop: (h, w, 3) float32 RGB in [0, 1], tiled over the body.
        coords: (N, 3) rest-pose positions in metres (x left, y back, z up).
        metres: side of one tile on the body in metres; the crop's columns follow
            ``x + y`` (so that the sides of the body are textured too), its rows ``z``.
    """
    h, w = crop.shape[:2]
    u = np.mod((coords[:, 0] + coords[:, 1]) / metres, 1.0)
    v = np.mod(-coords[:, 2] / metres, 1.0)
    rows = np.minimum((v * h).astype(np.int64), h - 1)
    cols = np.minimum((u * w).astype(np.int64), w - 1)
    return crop[rows, cols].astype(np.float32)


def garment_colours(rng: np.random.Generator, coords: np.ndarray, skin: np.ndarray,
                    photos: BackgroundLibrary | None = None, photo_prob: float = 0.0,
                    split: str = "train", value: tuple[float, float] = (0.08, 0.95)) -> np.ndarray:
    """Per-vertex colours (N, 3) of one garment with a random pattern.

    Args:
        coords: (N, 3) rest-pose vertex positions in metres, on which the pattern lives.
        skin: (3,) the wearer's skin colour; the main colour keeps away from it, so that
            clothes do not read as bare skin.
        photos: background photographs for photo textures (None: patterns only).
        photo_prob: probability that the garment is a photo texture (blended with up to
            60 % of the pattern).
        split: asset split; "ood" draws the pattern from the held-out kinds
            (:func:`edgepose.data.synth.texture.held_out_garment_field`).
        value: range of the main colour's HSV value (brightness).
    """
    base = random_colour(rng, saturation=(0.0, 0.9), value=value)
    for _ in range(10):
        if np.linalg.norm(base - skin) > 0.3:
            break
        base = random_colour(rng, saturation=(0.0, 0.9), value=value)
    if rng.random() < 0.5:
        second = np.clip(base * rng.uniform(0.3, 0.7), 0, 1)
    else:
        second = random_colour(rng, saturation=(0.0, 0.9), value=(0.1, 1.0))
    kind = rng.choice(["solid", "solid", "stripes", "stripes", "checker", "blotches", "gradient"]) if (
        split == "train") else "held_out"
    n = coords.shape[0]
    if kind == "solid":
        t = np.zeros(n, np.float32)
    elif kind == "stripes":
        direction = rng.normal(size=3)
        if rng.random() < 0.6:  # mostly horizontal or vertical stripes
            direction = np.array([0.0, 0.0, 1.0]) if rng.random() < 0.7 else np.array([1.0, 0.0, 0.0])
        direction /= np.linalg.norm(direction)
        freq = rng.uniform(6, 30)  # cycles per metre
        t = (np.sin(2 * math.pi * freq * coords @ direction + rng.uniform(0, 6.3)) > rng.uniform(-0.4, 0.4))
    elif kind == "checker":
        freq = rng.uniform(6, 20)
        t = (np.floor(coords[:, 0] * freq) + np.floor(coords[:, 2] * freq) + np.floor(coords[:, 1] * freq)) % 2
    elif kind == "blotches":
        t = np.zeros(n)
        for _ in range(4):
            d = rng.normal(size=3)
            t += np.sin(coords @ d * rng.uniform(8, 25) + rng.uniform(0, 6.3))
        t = t > rng.uniform(-0.5, 0.5)
    elif kind == "held_out":
        t = held_out_garment_field(rng, coords)
    else:
        z = coords[:, 2]
        t = (z - z.min()) / max(float(np.ptp(z)), 1e-6)
    t = np.asarray(t, np.float32)[:, None]
    colours = ((1 - t) * base[None] + t * second[None]).astype(np.float32)
    if photos is not None and photo_prob > 0 and rng.random() < photo_prob:
        crop = photos.crop(rng, (64, 64), min_fraction=0.1)
        mix = np.float32(rng.uniform(0.0, 0.6))
        colours = (1 - mix) * photo_pattern(crop, coords, rng.uniform(0.25, 1.0)) + mix * colours
    return colours.astype(np.float32)


def clothing_colours(
    rng: np.random.Generator,
    regions: np.ndarray,
    limb_coord: np.ndarray,
    rest_coords: np.ndarray,
    scalp: np.ndarray,
    iris: np.ndarray,
    photos: BackgroundLibrary | None = None,
    photo_prob: float = 0.0,
    split: str = "train",
) -> np.ndarray:
    """Random outfit, skin and hair for one person as per-vertex albedo.

    Args:
        rng: random generator.
        regions: (V,) int, index into :data:`REGIONS` of each vertex.
        limb_coord: (V,) float, position along the limb for arm and leg vertices, 0 at
            the shoulder / hip and 1 at the wrist / ankle (undefined elsewhere).
        rest_coords: (V, 3) rest-pose positions in metres (body frame: x left, y back, z up).
        scalp: (V,) float, height above a nominal hairline in units of 5 cm for head
            vertices (the hairline runs lower at the back of the head), very negative
            elsewhere; hair covers the head vertices above a random threshold.
        iris: (V,) bool, eyeball vertices facing forwards (dark); other eyeball vertices
            are white.
        photos: background photographs for photo textures of garments (None: patterns only).
        photo_prob: probability that a garment is textured with a photo crop.
        split: asset split of the garment patterns ("train" or "ood", :mod:`edgepose.data.synth.holdout`).

    Returns:
        (V, 3) float32 RGB albedo in [0, 1].
    """
    r = {name: regions == i for i, name in enumerate(REGIONS)}
    skin = skin_tone(rng)
    colours = np.broadcast_to(skin, (regions.shape[0], 3)).astype(np.float32).copy()

    top = garment_colours(rng, rest_coords, skin, photos, photo_prob, split)
    one_piece = rng.random() < 0.12
    bottom = top if one_piece else garment_colours(rng, rest_coords, skin, photos, photo_prob, split)
    # Sleeve cut along the arm: sleeveless, short, three-quarter or long.
    sleeve = rng.choice([0.0, rng.uniform(0.2, 0.45), rng.uniform(0.55, 0.8), 1.05],
                        p=[0.1, 0.3, 0.1, 0.5])
    if one_piece:
        legs = rng.uniform(0.15, 0.7)
    else:
        legs = rng.choice([rng.uniform(0.2, 0.45), rng.uniform(0.5, 0.8), 1.05, 1.05])
    colours[r["torso"]] = top[r["torso"]]
    if rng.random() < 0.1:  # high collar
        colours[r["neck"]] = top[r["neck"]]
    arm_cover = r["arm"] & (limb_coord <= sleeve)
    colours[arm_cover] = top[arm_cover]
    colours[r["pelvis"]] = bottom[r["pelvis"]]
    leg_cover = r["leg"] & (limb_coord <= legs)
    colours[leg_cover] = bottom[leg_cover]
    if legs < 1.0 and rng.random() < 0.3:  # socks or tights below the garment
        sock_top = rng.uniform(0.75, 0.95) if rng.random() < 0.7 else legs
        socks = r["leg"] & (limb_coord > sock_top)
        colours[socks] = random_colour(rng, value=(0.1, 1.0))
    shoes = r["foot"]
    colours[shoes] = random_colour(rng, saturation=(0.0, 0.7), value=(0.05, 0.9))
    if rng.random() < 0.05:  # gloves
        colours[r["hand"]] = random_colour(rng, value=(0.05, 0.9))
    if rng.random() < 0.92:  # hair; a random hairline, sometimes long at the back
        hair = HAIR_COLOURS[int(rng.integers(0, len(HAIR_COLOURS)))] * rng.uniform(0.85, 1.15)
        threshold = rng.uniform(-1.2, 0.5)
        colours[r["head"] & (scalp > threshold)] = np.clip(hair, 0, 1)
    if rng.random() < 0.1:  # hat
        colours[r["head"] & (scalp > rng.uniform(0.8, 1.5))] = random_colour(rng)
    colours[r["eyes"]] = np.array([0.85, 0.83, 0.8], np.float32)
    colours[iris] = np.array([0.12, 0.1, 0.08], np.float32)
    # Fabric and skin are not flat: a little per-vertex brightness noise.
    colours *= rng.uniform(0.93, 1.07, size=(colours.shape[0], 1)).astype(np.float32)
    return np.clip(colours, 0, 1).astype(np.float32)
