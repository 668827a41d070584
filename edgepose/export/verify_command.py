r"""Check exported files against the torch model: logits, decoded keypoints, COCO AP, latency, size.

    edgepose verify --checkpoint best.pt exports/simdr_r50_128_*.onnx exports/simdr_r50_128_*.tflite \
        --ann data/coco/annotations/person_keypoints_val2017.json --images data/coco/val2017 --max-images 200

(``python quantization/verify.py ...`` in a clone is the same program.) Prints one table:
torch fp32 first, then one row per file (see edgepose.export.verify). Files run through the
runtime backends (edgepose.runtime.backends), like the Estimator. AP uses ground-truth boxes, no flip
test; latency is the median of one crop at --threads threads.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from edgepose.errors import InputError
from edgepose.export.calibration import coco_person_crops
from edgepose.export.cli import ArgumentParser, add_model_args, model_from_args, setup_logging
from edgepose.export.verify import verify_files, verify_table

__all__ = ["main", "parse_args", "verify"]


def parse_args(argv: Sequence[str] | None = None, prog: str | None = None) -> argparse.Namespace:
    """The options of the check (``prog``: the program name in usage lines; None: ``sys.argv[0]``)."""
    parser = ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(parser)
    parser.add_argument("files", nargs="+", help=".onnx / .tflite files exported from this model")
    data = parser.add_argument_group("validation data (COCO format)")
    data.add_argument("--ann", required=True, help="person_keypoints_*.json")
    data.add_argument("--images", required=True, help="image folder of --ann")
    data.add_argument("--max-images", type=int, default=100, help="first N images with persons (default 100)")
    parser.add_argument("--threads", type=int, default=1, help="runtime threads for latency (default 1)")
    parser.add_argument("--repeats", type=int, default=30, help="timed runs per file (default 30)")
    parser.add_argument("--no-ap", action="store_true", help="skip COCO AP")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def verify(args: argparse.Namespace) -> int:
    """Check the files of :func:`parse_args`'s options and print the table on stdout; 0.

    Raises:
        EdgeposeError: a user error (a missing file, ``--threads 0``), for
            :func:`edgepose.cli.run_main` to print as one line.
    """
    setup_logging(args.verbose)
    if args.max_images < 1 or args.threads < 1 or args.repeats < 1:
        raise InputError("--max-images, --threads and --repeats must be >= 1")
    loaded = model_from_args(args)
    crops = coco_person_crops(args.ann, args.images, loaded.spec, max_images=args.max_images,
                              progress=sys.stderr.isatty())
    rows = verify_files(loaded, args.files, crops, threads=args.threads, repeats=args.repeats,
                        compute_ap=not args.no_ap)
    print(verify_table(rows))
    return 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Parse ``argv`` (None: ``sys.argv[1:]``) and check; raises EdgeposeError on a user error."""
    return verify(parse_args(argv, prog))
