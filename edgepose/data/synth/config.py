"""Settings of the synthetic-human renderer: :class:`SynthConfig` and the generator version."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edgepose.data.synth.backgrounds import SPLITS
from edgepose.data.synth.holdout import ASSET_SPLITS, exhausted_camera_ranges
from edgepose.data.synth.pose import POSE_FAMILIES_V2, POSE_KINEMATICS
from edgepose.errors import InputError

#: Version of the generator; bump when the output for a given seed changes. 1.1.0 added
#: :data:`PRESETS` (``training/synth.py --preset``, default "v2"); 1.2.0 added the sports families
#: to the v2 poses and groups to the v2 preset; 1.3.0 drops the photos from the v2 preset (the
#: equal-budget ablation of training/RECIPES.md: v2 renders without photos trained a better
#: model on every val split, the real-like one included); 1.4.0 dresses the v2 people (garment,
#: hair and accessory meshes: with them the ablation's model gained 1.6-2.9 PCK@0.1 points on
#: every split); 1.5.0 takes the groups out of the v2 preset again (the whole 1.4.0 preset, groups
#: included, trained a far worse model than any of its measured parts; groups were the one part
#: never measured alone). :class:`SynthConfig`'s own defaults (the "v1" preset) render exactly
#: as 1.0.0 did.
SYNTH_VERSION = "1.5.0"

KEYPOINT_SET = "coco17"

#: The settings that are probabilities (each must lie in [0, 1]).
PROBABILITIES = ("truncation_prob", "child_prob", "occluder_prob", "noise_prob", "blur_prob",
                 "photo_background_prob", "photo_texture_prob", "ground_prob", "shadow_prob", "cctv_prob",
                 "exposure_prob", "motion_blur_prob", "defocus_prob", "lowres_prob", "jpeg_prob", "group_prob",
                 "garment_prob", "hair_prob", "accessory_prob")

#: Smallest and largest group size (:attr:`SynthConfig.group_size`).
GROUP_SIZE_LIMITS = (2, 12)

#: Kinds of background (:attr:`SynthConfig.backgrounds`).
BACKGROUNDS = ("procedural", "photos")


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the scene sampler. Angles in degrees, ranges are (low, high).

    Attributes:
        size: output image side in pixels (square images).
        people_max: maximum number of people per image that is not a group (1 to 3 are
            drawn with ``people_weights``, truncated to this maximum).
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
            :data:`edgepose.data.synth.pose.POSE_FAMILIES`).
        pose_kinematics: "v1" (elbow and knee angles count from anny's bent rest pose, as in
            the renders of version 1.0.0) or "v2" (they count from a straight limb; meant for
            the v2 pose families), :data:`edgepose.data.synth.pose.POSE_KINEMATICS`.
        image_format: "jpg" or "png".
        jpeg_quality: JPEG quality (1-100) for "jpg".
        backgrounds: "procedural" (noise, patterns, shapes) or "photos" (crops of the
            background photographs of the local cache, :mod:`edgepose.data.synth.backgrounds`).
        photo_background_prob: with "photos", the probability that an image gets a photo
            (otherwise a procedural background).
        asset_split: "train" (default: the assets training renders use) or "ood": only
            assets held back from training, for an out-of-distribution val set (background
            photos, procedural pattern kinds, lights, camera elevations and fields of view
            outside ``elevation``/``cctv_elevation`` and ``fov``, body shapes),
            :mod:`edgepose.data.synth.holdout`.
        background_split: None (default: follow ``asset_split``), or "train" or "ood" to
            choose the half of the photos (backgrounds, ground, photo textures) apart from
            the other assets; :attr:`photo_split` is the one used.
        background_dir: the photo cache folder (None: ``$EDGEPOSE_BACKGROUNDS`` or
            ``~/.cache/edgepose/backgrounds``).
        photo_texture_prob: probability that a garment or an occluder is textured with a
            photo crop instead of a procedural pattern (needs the photo cache).
        ground_prob: probability of a textured ground plane under the people, in the
            camera's perspective (a repeating texture of the photo cache; needs it).
        shadow_prob: probability of soft shadows of the people on the ground plane.
        cctv_prob: probability that the camera looks down like a surveillance camera,
            at an elevation drawn from ``cctv_elevation`` instead of ``elevation``.
        cctv_elevation: elevation range of such cameras.
        exposure_prob: probability of an over- or under-exposed image (-1.8 to +1.3 stops).
        motion_blur_prob: probability of a straight motion blur.
        defocus_prob: probability of a defocus (disk) blur.
        lowres_prob: probability that the image is rendered small and upscaled (1.5-4x).
        jpeg_prob: probability of a strong JPEG compression (quality 20-85) before writing.
        group_prob: probability that an image shows a group instead of 1 to ``people_max``
            people: ``group_size`` people standing beside and behind each other at several
            depths, occluding each other, the whole group framed like a main person
            (:func:`edgepose.data.synth.scene.place_group`).
        group_size: (low, high) number of people of a group, both included, within
            :data:`GROUP_SIZE_LIMITS`.
        garment_prob: probability per person of garment geometry over the painted outfit
            (an upper garment: sweater, jacket, long coat or dress, and/or wide trousers or
            a skirt; often shoes), :mod:`edgepose.data.synth.garments`.
        hair_prob: probability per person of a hair mesh (short, or long down the back).
        accessory_prob: probability per person of a hat and/or a bag (backpack, bag at
            the hip, bag in a hanging hand).
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
    pose_kinematics: str = "v1"
    image_format: str = "jpg"
    jpeg_quality: int = 92
    backgrounds: str = "procedural"
    photo_background_prob: float = 1.0
    asset_split: str = "train"
    background_split: str | None = None
    background_dir: str | None = None
    photo_texture_prob: float = 0.0
    ground_prob: float = 0.0
    shadow_prob: float = 0.0
    cctv_prob: float = 0.0
    cctv_elevation: tuple[float, float] = (20.0, 50.0)
    exposure_prob: float = 0.0
    motion_blur_prob: float = 0.0
    defocus_prob: float = 0.0
    lowres_prob: float = 0.0
    jpeg_prob: float = 0.0
    group_prob: float = 0.0
    group_size: tuple[int, int] = (3, 8)
    garment_prob: float = 0.0
    hair_prob: float = 0.0
    accessory_prob: float = 0.0

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
        if self.backgrounds not in BACKGROUNDS:
            raise InputError(f"backgrounds must be one of {', '.join(BACKGROUNDS)}; got {self.backgrounds!r}")
        if self.pose_kinematics not in POSE_KINEMATICS:
            raise InputError(f"pose_kinematics must be one of {', '.join(POSE_KINEMATICS)}; "
                             f"got {self.pose_kinematics!r}")
        if self.asset_split not in ASSET_SPLITS:
            raise InputError(f"asset_split must be one of {', '.join(ASSET_SPLITS)}; got {self.asset_split!r}")
        if self.background_split is not None and self.background_split not in SPLITS:
            raise InputError(f"background_split must be one of {', '.join(SPLITS)} (or None: follow asset_split); "
                             f"got {self.background_split!r}")
        for name, lowest, highest in (("fov", 1.0, 170.0), ("elevation", -89.0, 89.0), ("cctv_elevation", -89.0, 89.0)):
            low, high = getattr(self, name)
            if not lowest <= low <= high <= highest:
                raise InputError(f"{name} must be (low, high) with low <= high within [{lowest}, {highest}]; "
                                 f"got {getattr(self, name)}")
        size_low, size_high = GROUP_SIZE_LIMITS
        if len(self.group_size) != 2 or not all(int(n) == n for n in self.group_size) or not (
                size_low <= self.group_size[0] <= self.group_size[1] <= size_high):
            raise InputError(f"group_size must be (low, high) whole numbers with {GROUP_SIZE_LIMITS[0]} <= low <= high "
                             f"<= {GROUP_SIZE_LIMITS[1]}; got {self.group_size}")
        for name in PROBABILITIES:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.asset_split == "ood":
            for name, trained, limits in exhausted_camera_ranges(self.fov, self.elevation, self.cctv_elevation,
                                                                 self.cctv_prob):
                raise InputError(f"asset_split 'ood' draws {name} outside the trained {trained} within {limits}, "
                                 f"and none is left: narrow {name}" + (" or cctv_elevation" if name == "elevation"
                                                                       and self.cctv_prob > 0 else ""))

    @property
    def photo_split(self) -> str:
        """The half of the photo cache used: ``background_split``, else ``asset_split``."""
        return self.background_split or self.asset_split

    @property
    def uses_photos(self) -> bool:
        """Whether rendering reads the background-photo cache."""
        return ((self.backgrounds == "photos" and self.photo_background_prob > 0) or self.photo_texture_prob > 0
                or self.ground_prob > 0)


#: Named settings (``training/synth.py --preset``), as overrides of :class:`SynthConfig`'s
#: defaults. "v1" is those defaults (procedural backgrounds, v1 poses and kinematics: the
#: renders of version 1.0.0). "v2" aims at people in real photographs: surveillance cameras,
#: wide and tele lenses, camera effects (exposure, motion and defocus blur, low resolution,
#: strong JPEG), the v2 poses (pedestrians, everyday gestures, sports) with straight-limb
#: kinematics, and clothes (garment meshes on 70 % of the people, hair on 80 %, a hat or a bag
#: on 30 %). Groups (``group_prob``) are an option. Background
#: photos, photo textures and the ground plane stay options (``backgrounds="photos"``,
#: ``photo_texture_prob``, ``ground_prob``, ``shadow_prob``): with them, the ablation's model
#: was worse on every val split.
PRESETS: dict[str, dict[str, Any]] = {
    "v1": {},
    "v2": {
        "cctv_prob": 0.35, "fov": (15.0, 80.0), "exposure_prob": 0.2, "motion_blur_prob": 0.15,
        "defocus_prob": 0.1, "lowres_prob": 0.25, "jpeg_prob": 0.25, "pose_family_weights": POSE_FAMILIES_V2,
        "pose_kinematics": "v2", "garment_prob": 0.7, "hair_prob": 0.8, "accessory_prob": 0.3,
    },
}


def preset_config(name: str, **overrides: Any) -> SynthConfig:
    """The :class:`SynthConfig` of preset ``name`` (:data:`PRESETS`), with ``overrides``
    (field name to value) applied on top; raises InputError for an unknown preset or field."""
    if name not in PRESETS:
        raise InputError(f"unknown synthetic preset {name!r}; choose one of {', '.join(PRESETS)}")
    fields = {f.name for f in dataclasses.fields(SynthConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise InputError(f"unknown SynthConfig setting(s) {', '.join(unknown)}")
    return SynthConfig(**{**PRESETS[name], **overrides})
