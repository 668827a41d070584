"""Render a synthetic COCO keypoint dataset of anny humans.

    python training/synth.py --out data/synth --n 10000 --size 192 --seed 0 --workers 2

The default ``--preset v2``: surveillance cameras, wide and tele lenses, camera effects,
pedestrian, everyday and sports poses, clothes, hair, hats and bags. ``--preset v1``
renders as version 1.0.0 did (v1 poses, eye-level cameras, no effects). Every other option
overrides the preset. Background photos, photo textures and a ground plane with shadows need
the photo cache (fill it first with ``python training/fetch_backgrounds.py``):
``--backgrounds photos --photo-texture-prob 0.4 --ground-prob 0.5 --shadow-prob 0.5``. An
out-of-distribution val set, rendered only with assets that training renders never use
(held-out background photos and ground textures, other pattern kinds, rim and overhead
coloured lights, camera elevations and fields of view outside the trained ranges, body
shapes beyond the trained range; edgepose/data/synth/holdout.py):

    python training/synth.py --out data/synth_ood --n 400 --size 192 --seed 1000 --asset-split ood

``--background-split`` picks the photo half apart from the other assets (default: that of
``--asset-split``).

Groups of 3-8 people at several depths who occlude each other, in a fifth of the images:
``--group-prob 0.2 --group-size 3 8``. Only pedestrians (walking, arms hanging, pockets,
phone, carrying) for a real-like val split: ``--pose-sampler pedestrian``.
Clothes are geometry over the painted outfits, which hide what they cover in the labels too
(a wrist inside a long sleeve is v=1): the v2 preset's ``--garment-prob 0.7 --hair-prob 0.8
--accessory-prob 0.3``; ``--garment-prob 0 --hair-prob 0 --accessory-prob 0`` undresses them.

Writes ``OUT/images/*.jpg`` and ``OUT/annotations/person_keypoints.json``. The same
arguments give byte-identical output, whatever ``--workers`` (with photos: given the
same photo cache). The first run on a machine builds anny's model cache (about a
minute, ``~/.cache/anny``) and says so before the progress bar starts.

A user error (a bad option value, an ``--out`` that cannot be written) prints one line
``error: <what is wrong>`` on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from edgepose.cli import ArgumentParser, run_main
from edgepose.data.synth import SYNTH_VERSION, generate_dataset
from edgepose.data.synth.backgrounds import SPLITS, get_background_library
from edgepose.data.synth.body import body_cache_ready, get_body_model
from edgepose.data.synth.config import BACKGROUNDS, GROUP_SIZE_LIMITS, PRESETS, preset_config
from edgepose.data.synth.holdout import ASSET_SPLITS, exhausted_camera_ranges
from edgepose.data.synth.pose import POSE_KINEMATICS, POSE_SAMPLERS, SAMPLER_KINEMATICS
from edgepose.errors import InputError

USER_ERROR = 2  # exit status of a user error (argparse's usage errors exit 2 as well)

#: Options that are probabilities, by their SynthConfig (and argparse) names.
_PROBABILITY_OPTIONS = ("photo_background_prob", "photo_texture_prob", "ground_prob", "shadow_prob", "cctv_prob",
                        "exposure_prob", "motion_blur_prob", "defocus_prob", "lowres_prob", "jpeg_prob", "group_prob",
                        "garment_prob", "hair_prob", "accessory_prob")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n", type=int, required=True, help="number of images")
    p.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    p.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    p.add_argument("--people-max", type=int, default=3, choices=(1, 2, 3),
                   help="max people per image that is not a group (see --group-prob)")
    p.add_argument("--group-prob", type=float, default=None,
                   help="probability that an image shows a group of --group-size people at several depths, "
                   "occluding each other (default 0)")
    p.add_argument("--group-size", type=int, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help=f"people per group, both included (default 3 8; within {GROUP_SIZE_LIMITS[0]} "
                   f"to {GROUP_SIZE_LIMITS[1]})")
    p.add_argument("--workers", type=int, default=1, help="rendering processes (default 1)")
    p.add_argument("--format", choices=("jpg", "png"), default="jpg", help="image format")
    p.add_argument("--jpeg-quality", type=int, default=92)
    p.add_argument("--preset", choices=sorted(PRESETS), default="v2",
                   help="starting settings, which the options below override: v2 (default: surveillance cameras, "
                   "wide and tele lenses, camera effects, pedestrian, everyday and sports poses, clothes) or v1 "
                   "(v1 poses, eye-level cameras, the renders of version 1.0.0)")
    p.add_argument("--supersample", type=int, default=None, help="render at this factor, then downsample (default 2)")
    p.add_argument("--occluder-prob", type=float, default=None, help="probability of occluders per image")
    p.add_argument("--child-prob", type=float, default=None, help="probability that a person is a child")
    p.add_argument("--backgrounds", choices=BACKGROUNDS, default=None,
                   help="procedural patterns, or crops of background photos (fill the cache first: "
                   "python training/fetch_backgrounds.py); default procedural")
    p.add_argument("--photo-background-prob", type=float, default=None,
                   help="with --backgrounds photos: probability of a photo per image")
    p.add_argument("--asset-split", choices=ASSET_SPLITS, default=None,
                   help="train (default): the assets of training renders; ood: only assets held back from them, "
                   "for an out-of-distribution val set (photos, pattern kinds, lights, camera elevations and "
                   "fields of view outside --elevation/--fov and the surveillance range, body shapes)")
    p.add_argument("--background-split", choices=SPLITS, default=None,
                   help="photo half apart from --asset-split: train or ood (default: that of --asset-split)")
    p.add_argument("--background-dir", default=None,
                   help="photo cache (default $EDGEPOSE_BACKGROUNDS or ~/.cache/edgepose/backgrounds)")
    p.add_argument("--photo-texture-prob", type=float, default=None,
                   help="probability that a garment or occluder gets a photo texture")
    for flag, what in (("--ground-prob", "a textured ground plane in perspective (needs the photo cache)"),
                       ("--shadow-prob", "soft shadows of the people on the ground"),
                       ("--cctv-prob", "a camera looking down 20-50 degrees (surveillance view)"),
                       ("--exposure-prob", "over- or under-exposure"), ("--motion-blur-prob", "motion blur"),
                       ("--defocus-prob", "defocus blur"), ("--lowres-prob", "rendering small and upscaling"),
                       ("--jpeg-prob", "strong JPEG compression")):
        p.add_argument(flag, type=float, default=None, help=f"probability of {what} per image")
    for flag, what in (("--garment-prob", "garment meshes (long coats, jackets, sweaters with sleeves that may hide "
                        "the wrists, dresses, skirts, wide trousers, shoes)"),
                       ("--hair-prob", "a hair mesh (short, or long down the back)"),
                       ("--accessory-prob", "a hat and/or a bag (backpack, bag at the hip, bag in a hanging hand)")):
        p.add_argument(flag, type=float, default=None, help=f"probability of {what} per person")
    p.add_argument("--fov", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help="vertical field of view range in degrees (v1 30 65, v2 15 80; wide and tele: e.g. 12 95)")
    p.add_argument("--elevation", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help="camera elevation range in degrees, positive looking down (default -10 35)")
    p.add_argument("--pose-sampler", choices=sorted(POSE_SAMPLERS), default=None,
                   help="pose families: v1, v2 (the v2 preset's: pedestrians walking with a natural arm swing, "
                   "arms hanging, pockets, crossed arms, hands on hips, phone, carrying, pointing; sports: kicking, "
                   "jumping, throwing, sprinting; a few v1 families) or pedestrian (a real-like val split: walking, "
                   "arms hanging, pockets, phone, carrying)")
    p.add_argument("--pose-kinematics", choices=sorted(POSE_KINEMATICS), default=None,
                   help="elbow/knee angle 0 is anny's bent rest pose (v1) or a straight limb (v2); "
                   "default: v1 with --pose-sampler v1, else v2")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p.parse_args(argv)


def check_args(args: argparse.Namespace) -> Path:
    """Raise InputError, in the options' own names, for values that cannot work; returns ``--out``.

    ``--out`` (and its parents) is created here, so an unwritable or invalid folder fails
    before anything is rendered.
    """
    for option, value, low, high in (("--n", args.n, 1, None), ("--size", args.size, 16, None),
                                     ("--workers", args.workers, 1, None), ("--supersample", args.supersample, 1, None),
                                     ("--jpeg-quality", args.jpeg_quality, 1, 100),
                                     ("--occluder-prob", args.occluder_prob, 0.0, 1.0),
                                     ("--child-prob", args.child_prob, 0.0, 1.0),
                                     *((f"--{name.replace('_', '-')}", getattr(args, name), 0.0, 1.0)
                                       for name in _PROBABILITY_OPTIONS)):
        if value is not None and (value < low or (high is not None and value > high)):
            bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
            raise InputError(f"{option} must be {bound}; got {value}")
    for option, value, lowest, highest in (("--fov", args.fov, 1.0, 170.0),
                                           ("--elevation", args.elevation, -89.0, 89.0)):
        if value is None:
            continue
        low, high = value
        if not lowest <= low <= high <= highest:
            raise InputError(f"{option} needs LOW <= HIGH within [{lowest}, {highest}]; got {low:g} {high:g}")
    if args.asset_split == "ood":
        preset = preset_config(args.preset)
        fov = tuple(args.fov) if args.fov is not None else preset.fov
        elevation = tuple(args.elevation) if args.elevation is not None else preset.elevation
        cctv_prob = args.cctv_prob if args.cctv_prob is not None else preset.cctv_prob
        for name, trained, limits in exhausted_camera_ranges(fov, elevation, preset.cctv_elevation, cctv_prob):
            also = " (with the surveillance range, --cctv-prob)" if name == "elevation" and cctv_prob > 0 else ""
            raise InputError(f"--asset-split ood draws {name} outside the trained {trained[0]:g} to {trained[1]:g}"
                             f"{also} within {limits[0]:g} to {limits[1]:g}, and none is left: narrow --{name}")
    if args.group_size is not None:
        low, high = args.group_size
        if not GROUP_SIZE_LIMITS[0] <= low <= high <= GROUP_SIZE_LIMITS[1]:
            raise InputError(f"--group-size needs {GROUP_SIZE_LIMITS[0]} <= LOW <= HIGH <= {GROUP_SIZE_LIMITS[1]}; "
                             f"got {low} {high}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot create the folder ({exc.strerror or exc})") from None
    return out


def config_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The SynthConfig settings the command line sets (on top of ``--preset``), by field name."""
    overrides: dict[str, object] = {"size": args.size, "people_max": args.people_max, "image_format": args.format,
                                    "jpeg_quality": args.jpeg_quality}
    for name in ("supersample", "occluder_prob", "child_prob", "backgrounds", "asset_split", "background_split",
                 "background_dir", *_PROBABILITY_OPTIONS):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    for name in ("fov", "elevation", "group_size"):
        if getattr(args, name) is not None:
            overrides[name] = tuple(getattr(args, name))
    if args.pose_sampler is not None:
        overrides["pose_family_weights"] = None if args.pose_sampler == "v1" else POSE_SAMPLERS[args.pose_sampler]
        overrides["pose_kinematics"] = SAMPLER_KINEMATICS[args.pose_sampler]
    if args.pose_kinematics is not None:
        overrides["pose_kinematics"] = args.pose_kinematics
    return overrides


def _main(argv: Sequence[str] | None) -> int:
    args = parse_args(argv)
    out = check_args(args)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = preset_config(args.preset, **config_overrides(args))
    if config.uses_photos:  # a missing photo cache fails here, before the body model loads
        get_background_library(config.background_dir, config.photo_split)
    start = time.perf_counter()
    if not body_cache_ready():  # build it here, once, before the progress bar and the workers start
        get_body_model()
    try:  # the bar shows after 0.5 s: an early error stays the only line on stderr
        with tqdm(total=args.n, unit="img", desc=f"synth v{SYNTH_VERSION}", delay=0.5) as bar:
            path = generate_dataset(out, args.n, size=args.size, seed=args.seed, people_max=args.people_max,
                                    workers=args.workers, config=config, on_progress=bar.update)
    except OSError as exc:  # a file of the output that cannot be written (not a folder, disk full, ...)
        if not isinstance(exc.filename, str) or out.resolve() not in Path(exc.filename).resolve().parents:
            raise
        raise InputError(f"cannot write {exc.filename} ({exc.strerror or exc}); check --out {out}") from None
    elapsed = time.perf_counter() - start
    logging.info("wrote %s (%d images in %.1f s, %.1f images/s including start-up)",
                 path, args.n, elapsed, args.n / elapsed)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the program; returns its exit status (:data:`USER_ERROR` after an ``error:`` line)."""
    return run_main(_main, argv, exit_code=USER_ERROR)


if __name__ == "__main__":
    sys.exit(main())
