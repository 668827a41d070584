r"""Int8 post-training quantization (NNCF) to ONNX and TFLite, calibrated on COCO person crops.

    edgepose export --int8 --checkpoint best.pt \
        --ann data/coco/annotations/person_keypoints_val2017.json --images data/coco/val2017 \
        --out-dir exports --subset-size 300 --head float --formats onnx,tflite

(``edgepose export --int8`` writes the fp32 files first, as ``edgepose export`` does; in a clone,
``python quantization/int8.py`` with the same options writes only the int8 files.)

Calibration crops: N random non-crowd persons with labelled keypoints, boxes from the
annotations, made with the runtime preprocessing (``edgepose.preprocess.preprocess_crops``).
ONNX: NNCF ONNX backend (QDQ; ``--preset`` performance = symmetric activations, mixed =
asymmetric), activations stored as uint8 and residual adds as ``Sum`` so onnxruntime gives the
same results on x86-64 and aarch64 (``--fuse-residual-adds``: about 10 % faster on x86-64
without that guarantee; see edgepose/export/qdq_portable.py). TFLite: litert-torch PT2E
quantizer calibrated by NNCF ``quantize_pt2e`` (int8 asymmetric activations / symmetric per-
channel weights; ``--preset`` does not apply); its input tensor is int8. ``--head float`` keeps
the SimDR 1-D head (final conv + x/y Linear) in float. TokenPose (ONNX and TFLite): the stem, the
patch embedding and the transformer's Linear layers are int8, LayerNorm, softmax and the head stay
float (TFLite: the residual stream too), and so do the attention matmuls (Q K^T, A V) unless
``--attention int8`` (TFLite: the softmax then becomes int8 too). Files: ``{out}/{model}_int8.onnx``,
``{out}/{model}_int8.tflite``; all are written or none.

Score threshold: each file's metadata carries ``score_threshold``, measured per file on the
calibration crops exactly as ``edgepose verify`` measures its "score thr" (the 10th
percentile of the scores of the keypoints placed within 0.2 x their box), so the file loaded by
path (``Estimator("x_int8.onnx")``) uses it; ``--score-threshold S`` stores S instead.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

from edgepose.cli import require_paths
from edgepose.export.export_command import parse_checked
from edgepose.export.calibration import calibration_crops
from edgepose.export.cli import ArgumentParser, add_model_args, model_from_args, setup_logging
from edgepose.export.onnx_export import DEFAULT_OPSET
from edgepose.export.pipeline import INT8_FORMATS, export_int8, parse_list
from edgepose.export.quantize import ATTENTION_MODES, HEAD_MODES, PRESETS, QuantOptions
from edgepose.export.report import summary_table

__all__ = ["check_data", "main", "parse_args", "quantize"]


def parse_args(argv: Sequence[str] | None = None, prog: str | None = None) -> argparse.Namespace:
    """The options of the int8 export (``prog``: the program name in usage lines; None: ``sys.argv[0]``)."""
    parser = ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(parser)
    data = parser.add_argument_group("calibration data (COCO format)")
    data.add_argument("--ann", required=True, help="person_keypoints_*.json")
    data.add_argument("--images", required=True, help="image folder of --ann")
    data.add_argument("--subset-size", type=int, default=300, help="calibration persons (default 300)")
    data.add_argument("--seed", type=int, default=0, help="seed of the calibration sample")
    parser.add_argument("--out-dir", default="exports", help="output folder (default: exports)")
    parser.add_argument("--formats", default=",".join(INT8_FORMATS), help="onnx,tflite (default both)")
    parser.add_argument("--preset", choices=PRESETS, default="performance", help="NNCF preset (ONNX)")
    parser.add_argument("--head", choices=HEAD_MODES, default="float",
                        help="keep the 1-D head in float (default) or quantize everything")
    parser.add_argument("--attention", choices=ATTENTION_MODES, default="float",
                        help="transformers (TokenPose): keep the attention matmuls Q K^T and A V float (default) "
                             "or quantize them; no effect on convolutional models")
    parser.add_argument("--bias-correction", choices=("on", "off"), default="on", help="NNCF fast bias correction")
    parser.add_argument("--fuse-residual-adds", action="store_true",
                        help="ONNX: keep residual adds as Add, which onnxruntime fuses into QLinearAdd (about 10%% "
                             "faster on x86-64, but results then differ slightly between x86-64 and aarch64)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET)
    parser.add_argument("--tflite-layout", choices=("NHWC", "NCHW"), default="NHWC")
    parser.add_argument("--score-threshold", type=float, metavar="S",
                        help="store S (in [0, 1]) as the files' keypoint score threshold instead of measuring it "
                             "(default: measured per file on the calibration crops, as edgepose verify does)")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parse_checked(parser, argv)


def check_data(args: argparse.Namespace) -> None:
    """Raise InputError when ``--ann`` is not a file or ``--images`` not a folder (before any model loads)."""
    require_paths([("--ann", args.ann, "file"), ("--images", args.images, "dir")])


def quantize(args: argparse.Namespace) -> int:
    """Write the int8 files of :func:`parse_args`'s options and print their table on stdout; 0.

    Raises:
        EdgeposeError: a user error (missing calibration data, a bad ``--formats``), for
            :func:`edgepose.cli.run_main` to print as one line.
    """
    import nncf  # noqa: F401 - nncf sets its logger to INFO when first imported: first, then quieted

    setup_logging(args.verbose)
    formats = parse_list(args.formats, INT8_FORMATS, "formats")
    options = QuantOptions(subset_size=args.subset_size, preset=args.preset, head=args.head,
                           bias_correction=args.bias_correction == "on", fuse_residual_adds=args.fuse_residual_adds,
                           attention=args.attention)
    check_data(args)
    loaded = model_from_args(args)
    crops = calibration_crops(args.ann, args.images, loaded.spec, args.subset_size, seed=args.seed,
                               progress=sys.stderr.isatty())
    # NNCF draws its progress bars on stdout, which carries the result table: they go to stderr
    with contextlib.redirect_stdout(sys.stderr):
        records = export_int8(loaded, args.out_dir, crops.batch, formats, options, opset=args.opset,
                              tflite_layout=args.tflite_layout, progress=False, score_threshold=args.score_threshold,
                              threshold_crops=None if args.score_threshold is not None else crops)
    print(summary_table(records))
    return 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Parse ``argv`` (None: ``sys.argv[1:]``) and quantize; raises EdgeposeError on a user error."""
    return quantize(parse_args(argv, prog))
