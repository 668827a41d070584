"""Render a synthetic COCO keypoint dataset of anny humans.

    python training/synth.py --out data/synth --n 10000 --size 128 --seed 0 --workers 2

Writes ``OUT/images/*.jpg`` and ``OUT/annotations/person_keypoints.json``. The same
arguments give byte-identical output, whatever ``--workers``. The first run on a
machine builds anny's model cache (about a minute, ``~/.cache/anny``).

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

from edgepose.cli import run_main
from edgepose.data.synthetic import SYNTH_VERSION, SynthConfig, generate_dataset
from edgepose.errors import InputError

USER_ERROR = 2  # exit status of a user error (argparse's usage errors exit 2 as well)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n", type=int, required=True, help="number of images")
    p.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    p.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    p.add_argument("--people-max", type=int, default=3, choices=(1, 2, 3), help="max people per image")
    p.add_argument("--workers", type=int, default=1, help="rendering processes (default 1)")
    p.add_argument("--format", choices=("jpg", "png"), default="jpg", help="image format")
    p.add_argument("--jpeg-quality", type=int, default=92)
    p.add_argument("--supersample", type=int, default=2, help="render at this factor, then downsample")
    p.add_argument("--occluder-prob", type=float, default=0.35, help="probability of occluders per image")
    p.add_argument("--child-prob", type=float, default=0.12, help="probability that a person is a child")
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
                                     ("--child-prob", args.child_prob, 0.0, 1.0)):
        if value < low or (high is not None and value > high):
            bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
            raise InputError(f"{option} must be {bound}; got {value}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot create the folder ({exc.strerror or exc})") from None
    return out


def _main(argv: Sequence[str] | None) -> int:
    args = parse_args(argv)
    out = check_args(args)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = SynthConfig(
        size=args.size, people_max=args.people_max, supersample=args.supersample,
        occluder_prob=args.occluder_prob, child_prob=args.child_prob,
        image_format=args.format, jpeg_quality=args.jpeg_quality,
    )
    start = time.perf_counter()
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
