"""Export a pose model to fp32 ONNX, fp32 TFLite and fp16 TFLite, each with edgepose metadata.

    edgepose export --checkpoint runs/simdr_r50_128/best.pt --out-dir exports
    edgepose export --model simdr_r50_128 --weights simdr_r50_128.pth --targets onnx
    edgepose export --model simdr_r18_64 --random-init --out-dir /tmp/x

(``python quantization/export.py ...`` in a clone is the same program.) Files:
``{out}/{model}_fp32.onnx`` (input "input" (B,3,H,W) float32, dynamic batch),
``{model}_fp32.tflite`` / ``{model}_fp16.tflite`` (input "input" (1,H,W,3) NHWC float32).
All requested files are written, or none (a failure leaves no partial output).
``edgepose export --int8`` also writes the int8 files (see ``edgepose export --int8 --help``).

Score threshold: this program reads no annotated data, so it cannot measure the keypoint score
threshold of the weights; give it with ``--score-threshold S`` (e.g. the "score thr" that
``edgepose verify`` prints for the file) and every file stores S in its metadata, which the
runtime uses when the file is loaded by path. Without it the files carry none and the runtime
falls back to the codec's default. (The int8 export measures it on its calibration crops.)
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from edgepose.export.cli import ArgumentParser, add_model_args, model_from_args, setup_logging
from edgepose.export.onnx_export import DEFAULT_OPSET
from edgepose.export.pipeline import FLOAT_TARGETS, export_float, parse_list
from edgepose.export.report import summary_table

__all__ = ["export", "main", "parse_args", "parse_checked"]


def parse_args(argv: Sequence[str] | None = None, prog: str | None = None) -> argparse.Namespace:
    """The options of the fp32 export (``prog``: the program name in usage lines; None: ``sys.argv[0]``)."""
    parser = ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(parser)
    parser.add_argument("--out-dir", default="exports", help="output folder (default: exports)")
    parser.add_argument("--targets", default=",".join(FLOAT_TARGETS),
                        help=f"comma-separated subset of {','.join(FLOAT_TARGETS)} (default: all)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset, >= 17 (default {DEFAULT_OPSET})")
    parser.add_argument("--static-batch", action="store_true", help="ONNX with a fixed batch of 1")
    parser.add_argument("--tflite-layout", choices=("NHWC", "NCHW"), default="NHWC",
                        help="TFLite input layout (default NHWC: no input transpose)")
    parser.add_argument("--no-check", action="store_true", help="skip the runtime-vs-torch self-check")
    parser.add_argument("--score-threshold", type=float, metavar="S",
                        help="keypoint score threshold (in [0, 1]) to store in every file's metadata; this program "
                             "reads no annotations, so it cannot measure one (edgepose verify prints it as "
                             "'score thr'); default: none stored, the runtime uses the codec's default")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parse_checked(parser, argv)


def parse_checked(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser.parse_args(argv)``, with ``--score-threshold`` outside [0, 1] a usage error (exit status 2)."""
    args = parser.parse_args(argv)
    if args.score_threshold is not None and not 0.0 <= args.score_threshold <= 1.0:
        parser.error(f"--score-threshold must be in [0, 1]; got {args.score_threshold}")
    return args


def export(args: argparse.Namespace) -> int:
    """Write the fp32/fp16 files of :func:`parse_args`'s options and print their table on stdout; 0.

    Raises:
        EdgeposeError: a user error (a missing checkpoint, a bad ``--targets``), for
            :func:`edgepose.cli.run_main` to print as one line.
    """
    setup_logging(args.verbose)
    targets = parse_list(args.targets, tuple(FLOAT_TARGETS), "targets")
    loaded = model_from_args(args)
    records = export_float(
        loaded, args.out_dir, targets, opset=args.opset, dynamic_batch=not args.static_batch,
        tflite_layout=args.tflite_layout, check=not args.no_check, progress=False,  # one log line per file
        score_threshold=args.score_threshold,
    )
    print(summary_table(records))
    return 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Parse ``argv`` (None: ``sys.argv[1:]``) and export; raises EdgeposeError on a user error (see :func:`export`)."""
    return export(parse_args(argv, prog))
