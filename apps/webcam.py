"""Live pose estimation on a camera, a video file, an image or a Raspberry Pi camera.

A thin wrapper kept for the docs and existing scripts: ``python apps/webcam.py ARGS`` is
``edgepose run ARGS`` (the program lives in ``edgepose.commands.run``; see its docstring
or ``--help`` for the options, outputs and exit statuses). Examples::

    python apps/webcam.py --model simdr_r50_128                      # camera 0, window
    python apps/webcam.py --model model_int8.onnx --source clip.mp4 --view none --save out.mp4
    python apps/webcam.py --model model.onnx --source photo.jpg --save out.png --save-json out.json
"""

from __future__ import annotations

import sys

from edgepose.commands.run import main, parse_args

__all__ = ["main", "parse_args"]

if __name__ == "__main__":
    sys.exit(main())
