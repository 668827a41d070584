#!/usr/bin/env python
"""Check exported files against the torch model: logits, decoded keypoints, COCO AP, latency, size.

A thin wrapper kept for the docs and existing scripts: ``python quantization/verify.py ARGS`` is
``edgepose verify ARGS`` (the program lives in ``edgepose.export.verify_command``; see its docstring
or ``--help`` for the options and the table). Example::

    python quantization/verify.py --checkpoint best.pt exports/simdr_r50_128_*.onnx exports/simdr_r50_128_*.tflite \
        --ann data/coco/annotations/person_keypoints_val2017.json --images data/coco/val2017 --max-images 200
"""

from __future__ import annotations

import sys

from edgepose.export.verify_command import main, parse_args
from edgepose.export.cli import run_main

__all__ = ["main", "parse_args", "run_main"]

if __name__ == "__main__":
    sys.exit(run_main(main))
