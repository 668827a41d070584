"""Procedural appearance for synthetic humans: backgrounds, occluder textures, clothing.

Everything here is drawn from a ``numpy.random.Generator`` and OpenCV drawing calls, so a
seed reproduces the same pixels. No image file is read: backgrounds are noise,
gradients, stripes, checkers and random shapes, never photographs.

Colours are RGB. Images are ``(H, W, 3) uint8`` unless stated; per-vertex colours are
``(V, 3) float32`` in [0, 1].
"""

from __future__ import annotations

import math
import cv2
import numpy as np

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


# ----------------------------------------------------------------------------- colours


def random_colour(rng: np.random.Generator, saturation: tuple[float, float] = (0.0, 1.0),
                  value: tuple[float, float] = (0.1, 1.0)) -> np.ndarray:
    """One RGB colour (3,) float32 in [0, 1] from a random hue and the given S, V ranges."""
    h = rng.uniform(0.0, 1.0)
    s = rng.uniform(*saturation)
    v = rng.uniform(*value)
    i = int(h * 6.0) % 6
    f = h * 6.0 - math.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return np.array(rgb, dtype=np.float32)


def to_uint8_colour(rgb: np.ndarray) -> tuple[int, int, int]:
    """(3,) float RGB in [0, 1] -> tuple of ints for OpenCV drawing."""
    c = np.clip(np.round(np.asarray(rgb) * 255.0), 0, 255).astype(int)
    return int(c[0]), int(c[1]), int(c[2])


def skin_tone(rng: np.random.Generator) -> np.ndarray:
    """A skin colour (3,) float32 in [0, 1]."""
    i = int(rng.integers(0, len(SKIN_TONES) - 1))
    t = rng.uniform(0, 1)
    tone = (1 - t) * SKIN_TONES[i] + t * SKIN_TONES[i + 1]
    return np.clip(tone * rng.uniform(0.92, 1.06, size=3), 0, 1).astype(np.float32)


# ------------------------------------------------------------------------------ noise


def value_noise(rng: np.random.Generator, hw: tuple[int, int], cells: int, octaves: int = 3) -> np.ndarray:
    """Smooth fractal noise (H, W) float32 in [0, 1].

    Args:
        rng: random generator.
        hw: output (H, W).
        cells: number of random lattice cells across the first octave.
        octaves: octaves summed, each twice finer and half as strong.
    """
    height, width = hw
    total = np.zeros((height, width), np.float32)
    weight_sum = 0.0
    for octave in range(octaves):
        n = max(2, cells * (2 ** octave))
        grid = rng.random((n + 1, n + 1)).astype(np.float32)
        layer = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        w = 0.5 ** octave
        total += w * layer
        weight_sum += w
    total /= weight_sum
    lo, hi = float(total.min()), float(total.max())
    return (total - lo) / max(hi - lo, 1e-6)


def _colour_ramp(t: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Blend colours a, b (3,) by t (H, W) in [0, 1] -> (H, W, 3) float32."""
    return (1 - t[..., None]) * a[None, None, :] + t[..., None] * b[None, None, :]


def _pattern_field(rng: np.random.Generator, hw: tuple[int, int]) -> np.ndarray:
    """A random scalar pattern (H, W) float32 in [0, 1]: gradient, stripes, checker or noise."""
    height, width = hw
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    kind = rng.choice(["gradient", "stripes", "checker", "noise", "noise", "rings"])
    angle = rng.uniform(0, math.pi)
    u = (xx * math.cos(angle) + yy * math.sin(angle)) / max(height, width)
    if kind == "gradient":
        return np.clip(u * rng.uniform(0.5, 1.5) + rng.uniform(-0.3, 0.3), 0, 1).astype(np.float32)
    if kind == "stripes":
        freq = rng.uniform(2, 24)
        wave = np.sin(2 * math.pi * freq * u + rng.uniform(0, 2 * math.pi))
        return ((wave > rng.uniform(-0.5, 0.5)) if rng.random() < 0.6 else 0.5 + 0.5 * wave).astype(np.float32)
    if kind == "checker":
        freq = rng.uniform(2, 12)
        v = (-xx * math.sin(angle) + yy * math.cos(angle)) / max(height, width)
        return ((np.floor(freq * u) + np.floor(freq * v)) % 2).astype(np.float32)
    if kind == "rings":
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / max(height, width)
        return (0.5 + 0.5 * np.sin(2 * math.pi * rng.uniform(2, 10) * r)).astype(np.float32)
    return value_noise(rng, hw, cells=int(rng.integers(2, 10)), octaves=int(rng.integers(1, 5)))


def textured_fill(rng: np.random.Generator, hw: tuple[int, int]) -> np.ndarray:
    """A random two- or three-colour procedural texture (H, W, 3) float32 in [0, 1]."""
    a, b = random_colour(rng), random_colour(rng)
    img = _colour_ramp(_pattern_field(rng, hw), a, b)
    if rng.random() < 0.4:
        c = random_colour(rng)
        mix = _pattern_field(rng, hw)[..., None] * rng.uniform(0.2, 0.6)
        img = (1 - mix) * img + mix * c[None, None, :]
    return img.astype(np.float32)


# -------------------------------------------------------------------------- shapes


def random_polygon(rng: np.random.Generator, center: tuple[float, float], radius: float,
                   vertices: int | None = None) -> np.ndarray:
    """A random star-shaped polygon (N, 2) int32 around ``center`` (x, y) of about ``radius`` px."""
    n = int(vertices if vertices is not None else rng.integers(3, 9))
    angles = np.sort(rng.uniform(0, 2 * math.pi, size=n))
    radii = radius * rng.uniform(0.5, 1.0, size=n)
    pts = np.stack([center[0] + radii * np.cos(angles), center[1] + radii * np.sin(angles)], axis=1)
    return np.round(pts).astype(np.int32)


def draw_random_shape(rng: np.random.Generator, mask: np.ndarray, center: tuple[float, float],
                      size: float) -> None:
    """Draw one random filled shape (rectangle, ellipse, polygon, thick bar) of about
    ``size`` px into ``mask`` ((H, W) uint8, set to 255) in place."""
    kind = rng.choice(["rect", "ellipse", "polygon", "bar"])
    cx, cy = center
    if kind == "rect":
        w, h = size * rng.uniform(0.4, 1.2), size * rng.uniform(0.4, 1.2)
        angle = rng.uniform(0, 180)
        box = cv2.boxPoints(((cx, cy), (w, h), angle))
        cv2.fillPoly(mask, [np.round(box).astype(np.int32)], 255, lineType=cv2.LINE_8)
    elif kind == "ellipse":
        axes = (max(1, int(size * rng.uniform(0.2, 0.6))), max(1, int(size * rng.uniform(0.2, 0.6))))
        cv2.ellipse(mask, (int(round(cx)), int(round(cy))), axes, rng.uniform(0, 180), 0, 360, 255, -1)
    elif kind == "polygon":
        cv2.fillPoly(mask, [random_polygon(rng, center, size * 0.6)], 255)
    else:
        angle = rng.uniform(0, math.pi)
        half = size * rng.uniform(0.6, 1.5)
        p0 = (int(round(cx - half * math.cos(angle))), int(round(cy - half * math.sin(angle))))
        p1 = (int(round(cx + half * math.cos(angle))), int(round(cy + half * math.sin(angle))))
        cv2.line(mask, p0, p1, 255, max(1, int(size * rng.uniform(0.1, 0.3))))


# ----------------------------------------------------------------------- background


def procedural_background(rng: np.random.Generator, hw: tuple[int, int]) -> np.ndarray:
    """A random procedural background (H, W, 3) uint8 RGB.

    Layers: a base (solid, gradient, noise, stripes, checker, or a floor/wall split at a
    horizon), then 0-14 random shapes with solid or textured fills, then an optional blur.
    """
    height, width = hw
    if rng.random() < 0.35:  # wall and floor, split at a horizon line
        horizon = int(rng.uniform(0.2, 0.8) * height)
        img = textured_fill(rng, hw)
        floor = textured_fill(rng, hw)
        img[horizon:] = floor[horizon:]
    elif rng.random() < 0.15:
        img = np.broadcast_to(random_colour(rng), (height, width, 3)).astype(np.float32).copy()
    else:
        img = textured_fill(rng, hw)
    img8 = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    n_shapes = int(rng.integers(0, 15))
    scale = max(height, width)
    for _ in range(n_shapes):
        mask = np.zeros((height, width), np.uint8)
        center = (rng.uniform(-0.1, 1.1) * width, rng.uniform(-0.1, 1.1) * height)
        draw_random_shape(rng, mask, center, scale * rng.uniform(0.05, 0.5))
        if rng.random() < 0.6:
            colour = np.array(to_uint8_colour(random_colour(rng)), np.uint8)
            img8[mask > 0] = colour
        else:
            fill = np.clip(textured_fill(rng, hw) * 255.0 + 0.5, 0, 255).astype(np.uint8)
            img8[mask > 0] = fill[mask > 0]
    if rng.random() < 0.4:
        sigma = rng.uniform(0.5, 2.5)
        img8 = cv2.GaussianBlur(img8, (0, 0), sigma)
    return img8


# ------------------------------------------------------------------------- clothing

#: Garment regions of a body, as labelled by :func:`clothing_colours`' ``regions``.
REGIONS = ("head", "neck", "eyes", "torso", "arm", "hand", "pelvis", "leg", "foot")


def _garment_colours(rng: np.random.Generator, coords: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Per-vertex colours (N, 3) of one garment with a random pattern.

    Args:
        coords: (N, 3) rest-pose vertex positions in metres, on which the pattern lives.
        skin: (3,) the wearer's skin colour; the main colour keeps away from it, so that
            clothes do not read as bare skin.
    """
    base = random_colour(rng, saturation=(0.0, 0.9), value=(0.08, 0.95))
    for _ in range(10):
        if np.linalg.norm(base - skin) > 0.3:
            break
        base = random_colour(rng, saturation=(0.0, 0.9), value=(0.08, 0.95))
    if rng.random() < 0.5:
        second = np.clip(base * rng.uniform(0.3, 0.7), 0, 1)
    else:
        second = random_colour(rng, saturation=(0.0, 0.9), value=(0.1, 1.0))
    kind = rng.choice(["solid", "solid", "stripes", "stripes", "checker", "blotches", "gradient"])
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
    else:
        z = coords[:, 2]
        t = (z - z.min()) / max(float(np.ptp(z)), 1e-6)
    t = np.asarray(t, np.float32)[:, None]
    return ((1 - t) * base[None] + t * second[None]).astype(np.float32)


def clothing_colours(
    rng: np.random.Generator,
    regions: np.ndarray,
    limb_coord: np.ndarray,
    rest_coords: np.ndarray,
    scalp: np.ndarray,
    iris: np.ndarray,
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

    Returns:
        (V, 3) float32 RGB albedo in [0, 1].
    """
    r = {name: regions == i for i, name in enumerate(REGIONS)}
    skin = skin_tone(rng)
    colours = np.broadcast_to(skin, (regions.shape[0], 3)).astype(np.float32).copy()

    top = _garment_colours(rng, rest_coords, skin)
    one_piece = rng.random() < 0.12
    bottom = top if one_piece else _garment_colours(rng, rest_coords, skin)
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
