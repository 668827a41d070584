#!/usr/bin/env python
"""Export a pose model to fp32 ONNX, fp32 TFLite and fp16 TFLite, each with edgepose metadata.

A thin wrapper kept for the docs and existing scripts: ``python quantization/export.py ARGS`` is
``edgepose export ARGS`` (the program lives in ``edgepose.export.export_command``; see its docstring
or ``--help`` for the options, files and exit statuses). Examples::

    python quantization/export.py --checkpoint runs/simdr_r50_128/best.pt --out-dir exports
    python quantization/export.py --model simdr_r50_128 --weights simdr_r50_128.pth --targets onnx
    python quantization/export.py --model simdr_r18_64 --random-init --out-dir /tmp/x
"""

from __future__ import annotations

import sys

from edgepose.export.export_command import main, parse_args
from edgepose.export.cli import run_main

__all__ = ["main", "parse_args", "run_main"]

if __name__ == "__main__":
    sys.exit(run_main(main))
