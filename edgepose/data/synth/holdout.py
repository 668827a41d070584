"""The assets that the out-of-distribution (OOD) split holds back from training renders.

:attr:`SynthConfig.asset_split` picks one of :data:`ASSET_SPLITS`. ``"train"`` (the
default) draws every asset exactly as the renderer always did; ``"ood"`` draws each asset
family only from a held-out part that training renders never use, so that in-domain minus
OOD accuracy measures how much a model learned the renderer's appearance instead of people:

* background photos, ground textures and photo textures of garments: the photos of the
  ``"ood"`` half of the cache (:func:`edgepose.data.synth.backgrounds.split_of`);
* procedural texture sources: pattern kinds that training never draws, for backgrounds and
  occluders (:data:`OOD_FIELD_KINDS`) and for garments (:data:`OOD_GARMENT_KINDS`);
* the lighting rig: a light from behind the people (rim light, azimuth beyond
  :data:`LIGHT_AZIMUTH` degrees from the camera) or from overhead (elevation above
  :data:`LIGHT_ELEVATION`), coloured (a channel gain off white by more than
  :data:`LIGHT_TINT_SPREAD`);
* camera heights and focal lengths: elevations and fields of view outside the ranges the
  settings train on, within :data:`OOD_ELEVATION_LIMITS` and :data:`OOD_FOV_LIMITS` (such a
  camera keeps 0.6 m from the people, :data:`edgepose.data.synth.camera.FRAMING_NEAR`);
* body shapes: anny's weight, muscle and proportions beyond the [0, 1] range training
  draws from (anny extrapolates its blend shapes), and younger children.

Everything here draws from a ``numpy.random.Generator``; nothing is drawn on the
``"train"`` path, so training renders stay as they were. Angles are in degrees.
"""

from __future__ import annotations

import numpy as np

#: Values of :attr:`SynthConfig.asset_split` (and ``training/synth.py --asset-split``).
ASSET_SPLITS = ("train", "ood")

# ------------------------------------------------------------------------- camera

#: (low, high) vertical fields of view that OOD cameras draw from, outside the trained range.
OOD_FOV_LIMITS = (8.0, 100.0)
#: (low, high) camera elevations (positive: looking down) that OOD cameras draw from,
#: outside the trained ranges: low cameras looking up, and near top-down views.
OOD_ELEVATION_LIMITS = (-25.0, 70.0)
#: Narrowest held-out interval (degrees) that counts; thinner slivers are not drawn.
MIN_HELD_OUT_WIDTH = 1.0


def held_out_intervals(inside: tuple[float, float], limits: tuple[float, float]) -> list[tuple[float, float]]:
    """The parts (low, high) of ``limits`` below and above ``inside``, each at least
    :data:`MIN_HELD_OUT_WIDTH` wide (an empty list when ``inside`` covers ``limits``)."""
    parts = [(limits[0], min(inside[0], limits[1])), (max(inside[1], limits[0]), limits[1])]
    return [(low, high) for low, high in parts if high - low >= MIN_HELD_OUT_WIDTH]


def draw_outside(rng: np.random.Generator, inside: tuple[float, float], limits: tuple[float, float]) -> float:
    """A value drawn uniformly from :func:`held_out_intervals` (``limits`` minus
    ``inside``); raises ValueError when nothing is left."""
    parts = held_out_intervals(inside, limits)
    if not parts:
        raise ValueError(f"no held-out range: {inside} covers {limits}")
    widths = np.array([high - low for low, high in parts])
    low, high = parts[int(rng.choice(len(parts), p=widths / widths.sum()))]
    return float(rng.uniform(low, high))


def trained_elevations(elevation: tuple[float, float], cctv_elevation: tuple[float, float],
                       cctv_prob: float) -> tuple[float, float]:
    """(low, high) span of the camera elevations that training renders draw (``elevation``,
    and ``cctv_elevation`` when ``cctv_prob`` > 0)."""
    if cctv_prob > 0:
        return min(elevation[0], cctv_elevation[0]), max(elevation[1], cctv_elevation[1])
    return elevation[0], elevation[1]


def ood_camera_angles(rng: np.random.Generator, fov: tuple[float, float],
                      trained_elevation: tuple[float, float]) -> tuple[float, float]:
    """(field of view, elevation) in degrees of an OOD camera: a field of view outside
    ``fov`` and an elevation outside ``trained_elevation`` (:func:`trained_elevations`),
    within :data:`OOD_FOV_LIMITS` and :data:`OOD_ELEVATION_LIMITS`. A tele lens (narrower
    than ``fov``) frames people from afar, where a camera looking up would sit below the
    ground, so it looks down (the higher held-out band) whenever that band is not empty."""
    lens = draw_outside(rng, fov, OOD_FOV_LIMITS)
    limits = OOD_ELEVATION_LIMITS
    if lens < fov[0] and held_out_intervals(trained_elevation, (trained_elevation[1], limits[1])):
        limits = (trained_elevation[1], limits[1])
    return lens, draw_outside(rng, trained_elevation, limits)


def exhausted_camera_ranges(fov: tuple[float, float], elevation: tuple[float, float],
                            cctv_elevation: tuple[float, float], cctv_prob: float
                            ) -> list[tuple[str, tuple[float, float], tuple[float, float]]]:
    """The camera ranges that leave OOD cameras nothing to draw, as (name: "fov" or
    "elevation", trained (low, high), held-out limits); empty when both leave some."""
    trained = {"fov": (fov[0], fov[1]), "elevation": trained_elevations(elevation, cctv_elevation, cctv_prob)}
    limits = {"fov": OOD_FOV_LIMITS, "elevation": OOD_ELEVATION_LIMITS}
    return [(name, trained[name], limits[name]) for name in ("fov", "elevation")
            if not held_out_intervals(trained[name], limits[name])]


# -------------------------------------------------------------------------- light

#: Training lights come from within this azimuth (degrees, either side of the camera's
#: direction as seen from the people)...
LIGHT_AZIMUTH = 110.0
#: ...and this elevation range above the horizon.
LIGHT_ELEVATION = (0.0, 75.0)
#: Training lights are near white: every channel gain within 1 +- this.
LIGHT_TINT_SPREAD = 0.1
#: Probability that an OOD light is a rim light from behind (otherwise from overhead).
OOD_RIM_PROB = 0.7


def ood_light_angles(rng: np.random.Generator) -> tuple[float, float]:
    """(azimuth, elevation) in degrees of an OOD light: from behind the people (|azimuth|
    180 to :data:`LIGHT_AZIMUTH`, elevation 5-60) or from overhead (elevation above
    :data:`LIGHT_ELEVATION`'s top, up to 88, any azimuth)."""
    if rng.random() < OOD_RIM_PROB:
        azimuth = rng.choice([-1.0, 1.0]) * rng.uniform(LIGHT_AZIMUTH, 180.0)
        return float(azimuth), float(rng.uniform(5.0, 60.0))
    return float(rng.uniform(-180.0, 180.0)), float(rng.uniform(LIGHT_ELEVATION[1], 88.0))


def ood_tint(rng: np.random.Generator) -> np.ndarray:
    """(3,) RGB gains of a coloured OOD light: a random fully saturated hue mixed in at
    strength 0.3-0.6, so some channel is off white by 0.15 to 0.4 (more than
    :data:`LIGHT_TINT_SPREAD`); the mean gain is 1."""
    hue = rng.uniform(0.0, 1.0)
    rgb = np.clip(np.abs(np.mod(hue * 6.0 + np.array([0.0, 4.0, 2.0]), 6.0) - 3.0) - 1.0, 0.0, 1.0)
    return 1.0 + rng.uniform(0.3, 0.6) * (rgb - rgb.mean())


# --------------------------------------------------------------------------- body

#: Phenotype parameters that OOD bodies draw beyond training's [0, 1] range.
OOD_SHAPE_PARAMETERS = ("weight", "muscle", "proportions")
#: The held-out bands of those parameters: below 0 and above 1 (anny extrapolates).
OOD_SHAPE_BANDS = ((-0.6, 0.0), (1.0, 1.6))
#: Age range of OOD children (training children: 0.36-0.6, adults 0.6-1).
OOD_CHILD_AGE = (0.15, 0.36)


def ood_phenotype(rng: np.random.Generator, child_prob: float) -> dict[str, float]:
    """anny phenotype values of an OOD body: weight, muscle and proportions each from a
    band of :data:`OOD_SHAPE_BANDS` (either side at even odds), children (probability
    ``child_prob``) younger than any training child, other values as in training."""
    age = rng.uniform(*OOD_CHILD_AGE) if rng.random() < child_prob else rng.uniform(0.6, 1.0)
    values = {"gender": float(rng.uniform(0, 1)), "age": float(age), "height": float(rng.uniform(0, 1))}
    for name in OOD_SHAPE_PARAMETERS:
        values[name] = float(rng.uniform(*OOD_SHAPE_BANDS[int(rng.integers(0, 2))]))
    return values


# ----------------------------------------------------------------------- textures

#: Procedural pattern kinds of backgrounds and occluders, per split
#: (:func:`edgepose.data.synth.texture.textured_fill`; "noise" is listed twice: drawn twice as often).
FIELD_KINDS = {"train": ("gradient", "stripes", "checker", "noise", "noise", "rings"),
               "ood": ("dots", "zigzag", "cells", "weave")}
#: Pattern kinds of garments, per split (:func:`edgepose.data.synth.clothing.clothing_colours`).
GARMENT_KINDS = {"train": ("solid", "solid", "stripes", "stripes", "checker", "blotches", "gradient"),
                 "ood": ("heather", "heather", "plaid", "dots", "chevron", "camouflage")}
OOD_FIELD_KINDS = FIELD_KINDS["ood"]
OOD_GARMENT_KINDS = GARMENT_KINDS["ood"]
