"""Fetch background photographs from Debian image packages into the local cache.

    python training/fetch_backgrounds.py                      # all allowed packages
    python training/fetch_backgrounds.py --out /data/bg --packages mate-backgrounds

Runs ``apt-get download`` and ``dpkg-deb -x`` (run ``apt-get update`` first on a fresh
machine), keeps the raster images scaled to at most ``--max-side`` pixels, drops the
denylisted ones (``edgepose/data/synth/background_denylist.json``), and writes
``OUT/manifest.json`` (file, package, version, licence, sha256). The renderer reads the
cache with ``training/synth.py --backgrounds photos``.

A user error prints one line ``error: <what is wrong>`` on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from edgepose.cli import run_main
from edgepose.data.synth.debian_assets import ALLOWED_PACKAGES, DEFAULT_PACKAGES, default_cache_dir, fetch_backgrounds

USER_ERROR = 2


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None,
                   help="cache folder (default $EDGEPOSE_BACKGROUNDS or ~/.cache/edgepose/backgrounds)")
    p.add_argument("--packages", nargs="+", choices=ALLOWED_PACKAGES, default=list(DEFAULT_PACKAGES),
                   metavar="PACKAGE",
                   help=f"Debian packages to fetch (default and allowed: {' '.join(ALLOWED_PACKAGES)})")
    p.add_argument("--max-side", type=int, default=1024, help="longest side of a cached image in pixels")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p.parse_args(argv)


def _main(argv: Sequence[str] | None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out = Path(args.out) if args.out else default_cache_dir()
    manifest = fetch_backgrounds(out, args.packages, max_side=args.max_side)
    logging.info("wrote %s", manifest)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the program; returns its exit status (:data:`USER_ERROR` after an ``error:`` line)."""
    return run_main(_main, argv, exit_code=USER_ERROR)


if __name__ == "__main__":
    sys.exit(main())
