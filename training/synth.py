"""Render a synthetic COCO keypoint dataset of anny humans.

    python training/synth.py --out data/synth --n 10000 --size 128 --seed 0 --workers 2

Writes ``OUT/images/*.jpg`` and ``OUT/annotations/person_keypoints.json``. The same
arguments give byte-identical output, whatever ``--workers``. The first run on a
machine builds anny's model cache (about a minute, ``~/.cache/anny``).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from tqdm import tqdm

from edgepose.data.synthetic import SYNTH_VERSION, SynthConfig, generate_dataset


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = SynthConfig(
        size=args.size, people_max=args.people_max, supersample=args.supersample,
        occluder_prob=args.occluder_prob, child_prob=args.child_prob,
        image_format=args.format, jpeg_quality=args.jpeg_quality,
    )
    start = time.perf_counter()
    with tqdm(total=args.n, unit="img", desc=f"synth v{SYNTH_VERSION}") as bar:
        path = generate_dataset(args.out, args.n, size=args.size, seed=args.seed, people_max=args.people_max,
                                workers=args.workers, config=config, on_progress=bar.update)
    elapsed = time.perf_counter() - start
    logging.info("wrote %s (%d images in %.1f s, %.1f images/s including start-up)",
                 path, args.n, elapsed, args.n / elapsed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
