"""Settings of the synthetic-human renderer: :class:`SynthConfig` and the generator version."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from edgepose.data.synth.backgrounds import SPLITS
from edgepose.data.synth.pose import POSE_KINEMATICS
from edgepose.errors import InputError

#: Version of the generator; bump when the output for a given seed changes.
SYNTH_VERSION = "1.0.0"

KEYPOINT_SET = "coco17"

#: The settings that are probabilities (each must lie in [0, 1]).
PROBABILITIES = ("truncation_prob", "child_prob", "occluder_prob", "noise_prob", "blur_prob",
                 "photo_background_prob", "photo_texture_prob", "ground_prob", "shadow_prob", "cctv_prob",
                 "exposure_prob", "motion_blur_prob", "defocus_prob", "lowres_prob", "jpeg_prob",
                 "garment_prob", "hair_prob", "accessory_prob")

#: Kinds of background (:attr:`SynthConfig.backgrounds`).
BACKGROUNDS = ("procedural", "photos")


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
        background_split: "train" or "ood": which held-apart half of the photos to use
            (for backgrounds and photo textures).
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
    background_split: str = "train"
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
        if self.background_split not in SPLITS:
            raise InputError(f"background_split must be one of {', '.join(SPLITS)}; got {self.background_split!r}")
        for name, lowest, highest in (("fov", 1.0, 170.0), ("elevation", -89.0, 89.0), ("cctv_elevation", -89.0, 89.0)):
            low, high = getattr(self, name)
            if not lowest <= low <= high <= highest:
                raise InputError(f"{name} must be (low, high) with low <= high within [{lowest}, {highest}]; "
                                 f"got {getattr(self, name)}")
        for name in PROBABILITIES:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(f"{name} must be in [0, 1], got {getattr(self, name)}")

    @property
    def uses_photos(self) -> bool:
        """Whether rendering reads the background-photo cache."""
        return ((self.backgrounds == "photos" and self.photo_background_prob > 0) or self.photo_texture_prob > 0
                or self.ground_prob > 0)

