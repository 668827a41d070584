#!/usr/bin/env python
"""Int8 ablation: the 1-D / heatmap head kept in float vs everything quantized, per checkpoint.

    python quantization/ablation.py runs/synth/simdr_r50_64/best.pt runs/synth/hm_r50_64/best.pt \
        --calib-ann data/synth/train/annotations/person_keypoints.json --calib-images data/synth/train/images \
        --ann data/synth/val/annotations/person_keypoints.json --images data/synth/val/images \
        --out-dir ablation --formats onnx

For every checkpoint it writes the fp32 ONNX and, for ``--head float`` and ``--head int8``,
the int8 files (NNCF, same calibration crops from the calibration set), then verifies them
all against the torch model on the validation set (``edgepose.export.verify``: COCO OKS AP
with ground-truth boxes and no flip test, latency of one crop at ``--threads``, file size).
It prints one table; AP is in points (x100) and dAP is the change vs torch fp32, so
"loses <= 1.0 AP" reads directly from it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from edgepose.export.calibration import calibration_batch, coco_person_crops
from edgepose.train.rebuild import load_torch_model
from edgepose.export.cli import ArgumentParser, run_main, setup_logging
from edgepose.export.pipeline import INT8_FORMATS, export_float, export_int8, parse_list
from edgepose.export.quantize import HEAD_MODES, QuantOptions
from edgepose.export.report import format_table
from edgepose.export.verify import VerifyRow, verify_files

HEADERS = ("model", "file", "precision", "head", "AP", "dAP", "PCK@0.1", "dPCK", "<=1px %", "ms", "MB")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+", help="training checkpoints (.pt)")
    p.add_argument("--calib-ann", required=True, help="calibration person_keypoints json (training split)")
    p.add_argument("--calib-images", required=True)
    p.add_argument("--ann", required=True, help="validation person_keypoints json (held-out split)")
    p.add_argument("--images", required=True)
    p.add_argument("--subset-size", type=int, default=300, help="calibration persons (default 300)")
    p.add_argument("--max-images", type=int, default=400, help="validation images (default 400)")
    p.add_argument("--formats", default="onnx", help="int8 formats: onnx,tflite (default onnx)")
    p.add_argument("--out-dir", default="ablation")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def rows_for(checkpoint: str, args: argparse.Namespace, formats: list[str]) -> list[tuple[object, ...]]:
    loaded = load_torch_model(checkpoint=checkpoint)
    name = loaded.spec.name
    out = Path(args.out_dir) / name
    files = [r.path for r in export_float(loaded, out, ["onnx"])]
    calibration = calibration_batch(args.calib_ann, args.calib_images, loaded.spec, args.subset_size)
    heads = {}
    for head in HEAD_MODES:
        options = QuantOptions(subset_size=args.subset_size, head=head)
        for record in export_int8(loaded, out / f"head-{head}", calibration, formats, options):
            files.append(record.path)
            heads[str(record.path)] = head
    crops = coco_person_crops(args.ann, args.images, loaded.spec, max_images=args.max_images)
    verified: list[VerifyRow] = verify_files(loaded, files, crops, threads=args.threads, repeats=args.repeats)
    return [(name, Path(r.file).name if r.format != "torch" else r.file, r.precision,
             heads.get(r.file, "-"), None if r.ap is None else 100 * r.ap,
             None if r.delta_ap is None else 100 * r.delta_ap, r.pck, r.delta_pck, r.within_1px, r.latency_ms, r.size_mb)
            for r in verified]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    formats = parse_list(args.formats, INT8_FORMATS, "formats")
    rows = [row for checkpoint in args.checkpoints for row in rows_for(checkpoint, args, formats)]
    print(format_table(HEADERS, rows))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
