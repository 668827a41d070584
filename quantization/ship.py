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

The shipped copies carry what the registry says about their weights, so a shipped file copied
elsewhere and loaded by path behaves as it does by name: before packing, ship.py writes
``trained_on`` and the model's ``score_threshold`` into each copy's edgepose metadata (the exported
files given are not modified), and pins the sha256 and size of the copy. The score threshold is
``--score-threshold`` when given (it wins over a threshold the files carry, with a log line);
else the one the files carry (quantization/int8.py measures one per file; when a model's files
differ, the lowest goes into the manifest and into every file, so each still counts at least
90 % of its well-placed keypoints as found); else none (the runtime then uses the codec's default).
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
from edgepose.export.cli import ArgumentParser, run_main
from edgepose.export.model_files import detect_format, read_metadata, write_metadata
from edgepose.runtime.metadata import with_runtime_defaults
from edgepose.download import sha256_of
from edgepose.zoo import MANIFEST, PACKAGE_SCHEME, PACKED_SUFFIX, WEIGHTS_DIR, get_spec, read_manifest

logger = logging.getLogger("ship")
BUDGET_BYTES = 100 * 1000 * 1000


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="*", help=".onnx / .tflite files exported by quantization/*.py")
    p.add_argument("--trained-on", help="what the weights were trained on (shown by the registry)")
    p.add_argument("--remove", action="append", default=[], metavar="MODEL", help="unship a model")
    p.add_argument("--score-threshold", type=float, metavar="S",
                   help="keypoint score above which these weights' keypoints count as found (drawing, tracking), "
                        "written into the manifest and into every shipped file's metadata; quantization/verify.py "
                        "suggests one per file (default: the threshold the files carry, see above)")
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
    meta = checked_metadata(path)
    url = PACKAGE_SCHEME + path.name + (PACKED_SUFFIX if packed else "")
    entry = {"format": detect_format(path), "precision": meta["precision"], "url": url, "sha256": sha256_of(path),
             "size": path.stat().st_size}
    return str(meta["model"]), entry


def checked_metadata(path: Path) -> dict[str, object]:
    """The edgepose metadata of an exported file that can ship (it exists, and names a registry model)."""
    if not path.is_file():
        raise InputError(f"{path} does not exist")
    detect_format(path)
    meta = read_metadata(path)
    get_spec(meta["model"])  # only registry models can ship
    return meta


def model_score_threshold(model: str, carried: dict[str, float | None], flag: float | None) -> float | None:
    """The score threshold shipped for ``model``, whose files (name -> threshold in their metadata)
    are ``carried``: ``flag`` (``--score-threshold``) if given, else the lowest one carried, else None."""
    values = {name: v for name, v in carried.items() if v is not None}
    if flag is not None:
        for name, value in values.items():
            if value != flag:
                logger.info("%s carries score threshold %g; --score-threshold %g wins (manifest and file)",
                            name, value, flag)
        return flag
    if not values:
        return None
    lowest = min(values.values())
    if len(set(values.values())) > 1:
        listed = ", ".join(f"{name} {value:g}" for name, value in values.items())
        logger.info("%s: the files carry different score thresholds (%s); shipping the lowest, %g, in the manifest "
                    "and every file (pass --score-threshold to choose)", model, listed, lowest)
    if len(values) < len(carried):
        logger.info("%s: score threshold %g, from its files, also goes into the files that carry none", model, lowest)
    return lowest


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
    sources: dict[str, list[tuple[Path, dict[str, object]]]] = {}  # model -> (exported file, its metadata)
    for raw in args.files:
        path = Path(raw)
        meta = checked_metadata(path)
        sources.setdefault(str(meta["model"]), []).append((path, meta))
    thresholds = {model: model_score_threshold(model, {p.name: m.get("score_threshold") for p, m in items},
                                               args.score_threshold)
                  for model, items in sources.items()}
    with StagedOutputs() as out:  # the files and the manifest land together or not at all
        stored = {}  # package file -> bytes it takes in the package
        for model, items in sources.items():
            files = []
            for path, meta in items:
                # the shipped copy carries the registry's word on its weights; the exported file stays as it is
                url = PACKAGE_SCHEME + path.name + (PACKED_SUFFIX if args.xz else "")
                target = package_file(url)
                staged = out.stage(target)
                plain = out.scratch(package_file(PACKAGE_SCHEME + path.name)) if args.xz else staged
                shutil.copyfile(path, plain)
                shipped_meta = with_runtime_defaults(meta, score_threshold=thresholds[model],
                                                     trained_on=args.trained_on)
                if shipped_meta != meta:
                    write_metadata(plain, shipped_meta)
                if args.xz:
                    with open(plain, "rb") as src, lzma.open(staged, "wb", preset=6) as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                stored[target] = staged.stat().st_size
                _, entry = file_entry(plain)
                files.append({**entry, "url": url})
            if model in models:  # replaced as a whole: its old files go unless a new entry reuses the path
                removed += [package_file(f["url"]) for f in models[model]["files"]]
            models[model] = {"trained_on": args.trained_on, "files": files}
            if thresholds[model] is not None:
                models[model]["score_threshold"] = thresholds[model]
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
        threshold = entry.get("score_threshold")
        print(f"{model:16s} score threshold {'-' if threshold is None else f'{threshold:g}'} (manifest"
              f"{' and files' if model in sources else ''})")
    print(f"total {total / 1e6:.1f} MB stored in {WEIGHTS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
