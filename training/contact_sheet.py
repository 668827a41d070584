"""Draw a contact sheet of a rendered dataset: images with their labels (left orange, right
blue, hidden keypoints hollow), to look at what the renderer makes.

    python training/contact_sheet.py --data data/synth_v2/val --out training/contact_sheet_v2.png --n 24

A user error prints one line ``error: <what is wrong>`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2

from edgepose.cli import run_main
from edgepose.data.contact_sheet import contact_sheet
from edgepose.errors import InputError


def _main(argv: Sequence[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="a rendered dataset folder (annotations/ and images/)")
    p.add_argument("--out", required=True, help="the PNG to write")
    p.add_argument("--n", type=int, default=24, help="images (default 24)")
    p.add_argument("--columns", type=int, default=6, help="tiles per row (default 6)")
    p.add_argument("--tile", type=int, default=192, help="tile side in px (default 192)")
    args = p.parse_args(argv)
    sheet = contact_sheet(args.data, n=args.n, columns=args.columns, tile=args.tile)
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise InputError(f"--out must end in .png; got {out}")
    if not cv2.imwrite(str(out), sheet):
        raise InputError(f"cannot write --out {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the program; returns its exit status."""
    return run_main(_main, argv, exit_code=2)


if __name__ == "__main__":
    sys.exit(main())
