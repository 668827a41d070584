#!/usr/bin/env python
"""Int8 post-training quantization (NNCF) to ONNX and TFLite, calibrated on COCO person crops.

A thin wrapper kept for the docs and existing scripts: ``python quantization/int8.py ARGS``
writes the int8 files of ``edgepose export --int8 ARGS`` (without the fp32 ones; the program
lives in ``edgepose.export.int8_command``; see its docstring or ``--help`` for the options). Example::

    python quantization/int8.py --checkpoint best.pt \
        --ann data/coco/annotations/person_keypoints_val2017.json --images data/coco/val2017 \
        --out-dir exports --subset-size 300 --head float --formats onnx,tflite
"""

from __future__ import annotations

import sys

from edgepose.export.int8_command import main, parse_args
from edgepose.export.cli import run_main

__all__ = ["main", "parse_args", "run_main"]

if __name__ == "__main__":
    sys.exit(run_main(main))
