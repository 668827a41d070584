"""Procedural textures for synthetic humans: colours, noise, patterns, random shapes
(occluders) and the procedural background.

Everything here is drawn from a ``numpy.random.Generator`` and OpenCV drawing calls, so a
seed reproduces the same pixels. No image file is read: the procedural background is
noise, gradients, stripes, checkers and random shapes (photo backgrounds are
:mod:`edgepose.data.synth.backgrounds`). The OOD asset split uses other pattern kinds
(dots, zigzags, cells, weaves; for garments heather, plaid, dots, chevrons, camouflage),
:mod:`edgepose.data.synth.holdout`.

Colours are RGB. Images are ``(H, W, 3) uint8`` unless stated; per-vertex colours are
``(V, 3) float32`` in [0, 1].
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from edgepose.data.synth.holdout import FIELD_KINDS, OOD_GARMENT_KINDS

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


def _pattern_field(rng: np.random.Generator, hw: tuple[int, int], split: str = "train") -> np.ndarray:
    """A random scalar pattern (H, W) float32 in [0, 1] of a kind of ``FIELD_KINDS[split]``
    (:mod:`edgepose.data.synth.holdout`): gradient, stripes, checker, noise or rings for
    "train"; dots, zigzag, cells or weave for "ood"."""
    height, width = hw
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    kind = rng.choice(FIELD_KINDS[split])
    angle = rng.uniform(0, math.pi)
    if split == "ood":
        return _held_out_field(rng, kind, xx, yy, angle)
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


def _held_out_field(rng: np.random.Generator, kind: str, xx: np.ndarray, yy: np.ndarray,
                    angle: float) -> np.ndarray:
    """A scalar pattern (H, W) float32 in [0, 1] of an OOD kind (dots, zigzag, cells,
    weave) on the pixel grid ``xx``, ``yy`` (H, W), oriented by ``angle`` (radians)."""
    side = float(max(xx.shape))
    u = (xx * math.cos(angle) + yy * math.sin(angle)) / side
    v = (-xx * math.sin(angle) + yy * math.cos(angle)) / side
    if kind == "dots":  # a grid of round dots
        freq = rng.uniform(3, 16)
        du, dv = np.mod(freq * u, 1.0) - 0.5, np.mod(freq * v, 1.0) - 0.5
        return (du * du + dv * dv < rng.uniform(0.15, 0.45) ** 2).astype(np.float32)
    if kind == "zigzag":  # stripes along a triangle wave
        freq, amplitude = rng.uniform(2, 14), rng.uniform(0.02, 0.12)
        wave = np.abs(np.mod(v * rng.uniform(4, 20), 2.0) - 1.0) * amplitude
        return (np.mod(freq * (u + wave), 1.0) < rng.uniform(0.3, 0.7)).astype(np.float32)
    if kind == "cells":  # Voronoi cells, each a random level
        n = int(rng.integers(6, 40))
        seeds = rng.uniform(-0.1, 1.1, size=(n, 2)).astype(np.float32) * side
        levels = rng.random(n).astype(np.float32)
        nearest = np.argmin((xx[..., None] - seeds[:, 0]) ** 2 + (yy[..., None] - seeds[:, 1]) ** 2, axis=-1)
        return levels[nearest]
    # weave: two crossing sets of soft bands (a basket weave or tartan)
    fu, fv = rng.uniform(3, 20), rng.uniform(3, 20)
    field = 0.5 * (0.5 + 0.5 * np.sin(2 * math.pi * fu * u)) + 0.5 * (0.5 + 0.5 * np.sin(2 * math.pi * fv * v))
    return field.astype(np.float32)


def held_out_garment_field(rng: np.random.Generator, coords: np.ndarray) -> np.ndarray:
    """A garment pattern of an OOD kind (:data:`~edgepose.data.synth.holdout.OOD_GARMENT_KINDS`):
    per-vertex blend weights (N,) float32 in [0, 1] between a garment's two colours.

    Args:
        rng: random generator.
        coords: (N, 3) rest-pose vertex positions in metres (x left, y back, z up).

    Kinds: heather (a near-solid fabric of fine two-tone speckle), plaid (crossing bands
    at three levels), dots, chevron (zigzag bands around the body) and camouflage
    (thresholded blobs at three levels). Frequencies are in cycles per metre.
    """
    kind = rng.choice(OOD_GARMENT_KINDS)
    n = coords.shape[0]
    x, y, z = coords[:, 0], coords[:, 1], coords[:, 2]
    if kind == "heather":
        return (rng.random(n) < rng.uniform(0.05, 0.3)).astype(np.float32) * np.float32(rng.uniform(0.3, 0.8))
    if kind == "plaid":
        fu, fv = rng.uniform(4, 14), rng.uniform(4, 14)
        bands = (np.mod(fu * (x + y), 1.0) < 0.35).astype(np.float32) + (np.mod(fv * z, 1.0) < 0.35)
        return (bands / 2.0).astype(np.float32)
    if kind == "dots":
        freq, radius = rng.uniform(10, 30), rng.uniform(0.15, 0.35)
        cells = np.mod(freq * coords + rng.uniform(0, 1, size=3), 1.0) - 0.5
        return (np.sum(cells * cells, axis=1) < radius * radius).astype(np.float32)
    if kind == "chevron":
        freq, slope = rng.uniform(5, 18), rng.uniform(0.5, 2.0)
        around = np.abs(np.mod((x + y) * rng.uniform(3, 10), 2.0) - 1.0)  # a triangle wave around the body
        return (np.mod(freq * (z + slope * around / 10.0), 1.0) < 0.5).astype(np.float32)
    blobs = np.zeros(n)
    for _ in range(3):
        blobs += np.sin(coords @ rng.normal(size=3) * rng.uniform(6, 16) + rng.uniform(0, 6.3))
    return np.digitize(blobs, [-0.6, 0.6]).astype(np.float32) / 2.0


def textured_fill(rng: np.random.Generator, hw: tuple[int, int], split: str = "train") -> np.ndarray:
    """A random two- or three-colour procedural texture (H, W, 3) float32 in [0, 1], its
    patterns of the kinds of asset split ``split`` ("train" or "ood")."""
    a, b = random_colour(rng), random_colour(rng)
    img = _colour_ramp(_pattern_field(rng, hw, split), a, b)
    if rng.random() < 0.4:
        c = random_colour(rng)
        mix = _pattern_field(rng, hw, split)[..., None] * rng.uniform(0.2, 0.6)
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


def procedural_background(rng: np.random.Generator, hw: tuple[int, int], split: str = "train") -> np.ndarray:
    """A random procedural background (H, W, 3) uint8 RGB.

    Layers: a base (solid, a pattern, or a floor/wall split at a horizon), then 0-14
    random shapes with solid or patterned fills, then an optional blur. The patterns are
    of the kinds of asset split ``split`` (:func:`textured_fill`).
    """
    height, width = hw
    if rng.random() < 0.35:  # wall and floor, split at a horizon line
        horizon = int(rng.uniform(0.2, 0.8) * height)
        img = textured_fill(rng, hw, split)
        floor = textured_fill(rng, hw, split)
        img[horizon:] = floor[horizon:]
    elif rng.random() < 0.15:
        img = np.broadcast_to(random_colour(rng), (height, width, 3)).astype(np.float32).copy()
    else:
        img = textured_fill(rng, hw, split)
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
            fill = np.clip(textured_fill(rng, hw, split) * 255.0 + 0.5, 0, 255).astype(np.uint8)
            img8[mask > 0] = fill[mask > 0]
    if rng.random() < 0.4:
        sigma = rng.uniform(0.5, 2.5)
        img8 = cv2.GaussianBlur(img8, (0, 0), sigma)
    return img8


