#!/usr/bin/env python
"""Ship exported model files inside the package and pin them in the registry.

    python quantization/ship.py exports/simdr_r50_128_int8.onnx exports/simdr_r50_128_int8.tflite \
        --trained-on "synthetic humans (edgepose synth v1.0.0, seed 1, 12000 images), from scratch"

Each file is copied (atomically) to ``edgepose/weights/<file name>``; its model name, format and
precision are read from its edgepose metadata, and ``edgepose/weights/manifest.json`` gets its
``package://`` URL, sha256 and size, so ``Estimator("<model>")`` finds and verifies it. A model's
entry is replaced as a whole, so ship all of a model's files in one call. ``--remove MODEL``
drops a model from the manifest and deletes its files. Commit the result rarely: the budget is
100 MB of weights in all, counted as the bytes stored in the package. ``--xz`` stores each file
xz-packed (``<file name>.xz``, about 10 % smaller for int8 weights); the runtime unpacks it once into
its cache and checks the unpacked file against the pinned sha256.
"""

from __future__ import annotations

import argparse
import json
import logging
import lzma
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from edgepose.errors import InputError
from edgepose.export.atomic import StagedOutputs
from edgepose.export.cli import run_main
from edgepose.metadata import detect_format, read_metadata
from edgepose.zoo import MANIFEST, PACKAGE_SCHEME, PACKED_SUFFIX, WEIGHTS_DIR, get_spec, read_manifest, sha256_of

logger = logging.getLogger("ship")
BUDGET_BYTES = 100 * 1000 * 1000


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="*", help=".onnx / .tflite files exported by quantization/*.py")
    p.add_argument("--trained-on", help="what the weights were trained on (shown by the registry)")
    p.add_argument("--remove", action="append", default=[], metavar="MODEL", help="unship a model")
    p.add_argument("--score-threshold", type=float, metavar="S",
                   help="keypoint score above which these weights' keypoints count as found (drawing, tracking); "
                        "quantization/verify.py suggests one per file")
    p.add_argument("--xz", action="store_true", help="store the files xz-packed (unpacked into the cache on first use)")
    args = p.parse_args(argv)
    if args.files and not args.trained_on:
        p.error("--trained-on is required when shipping files")
    if not args.files and not args.remove:
        p.error("give files to ship or --remove MODEL")
    if args.score_threshold is not None and not 0.0 <= args.score_threshold <= 1.0:
        p.error(f"--score-threshold must be in [0, 1]; got {args.score_threshold}")
    return args


def package_file(url: str) -> Path:
    """The file under edgepose/weights that a ``package://`` URL names."""
    return WEIGHTS_DIR / url[len(PACKAGE_SCHEME):]


def file_entry(path: Path, packed: bool = False) -> tuple[str, dict[str, object]]:
    """(model name, manifest file entry) of an exported file; the file is checked first.

    ``packed``: the package stores ``<name>.xz``; sha256 and size stay those of ``path``."""
    if not path.is_file():
        raise InputError(f"{path} does not exist")
    fmt = detect_format(path)
    meta = read_metadata(path)
    model = meta["model"]
    get_spec(model)  # only registry models can ship
    url = PACKAGE_SCHEME + path.name + (PACKED_SUFFIX if packed else "")
    entry = {"format": fmt, "precision": meta["precision"], "url": url, "sha256": sha256_of(path),
             "size": path.stat().st_size}
    return model, entry


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    models = read_manifest(MANIFEST)
    removed = []
    for name in args.remove:
        entry = models.pop(name, None)
        if entry is None:
            raise InputError(f"{name} is not shipped; shipped: {sorted(models)}")
        removed += [package_file(f["url"]) for f in entry["files"]]
    new: dict[str, list[dict[str, object]]] = {}
    sources = []  # (exported file, its manifest entry)
    for raw in args.files:
        model, entry = file_entry(Path(raw), packed=args.xz)
        new.setdefault(model, []).append(entry)
        sources.append((raw, entry))
    for model, files in new.items():
        if model in models:  # replaced as a whole: its old files go unless a new entry reuses the path
            removed += [package_file(f["url"]) for f in models[model]["files"]]
        models[model] = {"trained_on": args.trained_on, "files": files}
        if args.score_threshold is not None:
            models[model]["score_threshold"] = args.score_threshold
    with StagedOutputs() as out:  # the files and the manifest land together or not at all
        stored = {}  # package file -> bytes it takes in the package
        for raw, entry in sources:
            target = package_file(str(entry["url"]))
            staged = out.stage(target)
            if args.xz:
                with open(raw, "rb") as src, lzma.open(staged, "wb", preset=6) as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            else:
                shutil.copyfile(raw, staged)
            stored[target] = staged.stat().st_size
        for entry in models.values():
            for f in entry["files"]:
                path = package_file(f["url"])
                stored.setdefault(path, path.stat().st_size if path.is_file() else int(f["size"]))
        total = sum(stored.values())
        if total > BUDGET_BYTES:
            raise InputError(f"shipped weights would take {total / 1e6:.1f} MB, over the {BUDGET_BYTES / 1e6:.0f} MB "
                             "budget (--xz packs int8 files by about 10 %)")
        out.stage(MANIFEST).write_text(json.dumps({"format_version": 1, "models": models}, indent=1) + "\n")
    shipped = {package_file(f["url"]) for e in models.values() for f in e["files"]}
    for path in removed:
        if path not in shipped:
            path.unlink(missing_ok=True)
    for model, entry in sorted(models.items()):
        for f in entry["files"]:
            path = package_file(f["url"])
            print(f"{model:16s} {f['format']:6s} {f['precision']:5s} {int(f['size']) / 1e6:6.1f} MB  "
                  f"stored {stored[path] / 1e6:6.1f} MB as {path.name}  {f['sha256'][:16]}")
    print(f"total {total / 1e6:.1f} MB stored in {WEIGHTS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
