"""Latency table (and plot) of pose model files per backend and precision; or a soak test.

    edgepose bench --models-dir exported/ --threads 4 --repeats 100 --people 4 --out bench.png
    edgepose bench --files simdr_r50_128 --backends onnxruntime --no-plot
    edgepose bench --soak 10000 --model exported/simdr_r18_64_int8.onnx --threads 1

For every model file (``--files``: files or registry names with shipped files; and every
.onnx/.tflite under ``--models-dir``, e.g. the output of ``edgepose export``) and every
installed backend that reads it, it measures (:mod:`edgepose.bench.latency`):

* model-only latency: ``backend.run`` on one preprocessed crop (median and p90, ms);
* end-to-end latency per frame of a moving 640x480 scene with one tracked person
  (:mod:`edgepose.bench.scene`; ``--image`` names the pasted picture, by default the packaged
  ``edgepose/samples/small_person.jpg``), median and p90 ms, and its ratio to model-only;
* with ``--people N`` (N > 1), end to end on one frame with N caller-given boxes: batched the
  default way, in one runtime call and in a loop of single calls, each with its ratio to the loop;
* accuracy, when given (``--accuracy NAME=VALUE``; ``--accuracy-label`` says which metric on
  which data), for the latency vs accuracy panel of the plot;
* achieved GMAC/s = multiply-adds per crop / model-only median (:mod:`edgepose.bench.macs`).

It prints a table, optionally writes CSV (``--csv``), and draws a PNG (``--out``; matplotlib,
the ``apps`` extra; ``--no-plot`` skips it). With ``--soak N`` (default 10000 frames) it instead
runs one model (``--model``, a file or registry name) for N frames through the tracking pipeline
and prints RSS and latency drift (:mod:`edgepose.bench.soak`); the exit status is 1 when RSS grew
by ``--soak-max-growth-mb`` or more.

Peers (MoveNet, MediaPipe) need the files that ``bash apps/peers_setup.sh`` makes in a clone:
``python apps/bench.py`` is this program with the peer rows and their options added.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from edgepose.bench.latency import LatencySettings, bench_files
from edgepose.bench.macs import share_macs
from edgepose.bench.plot import plot, require_matplotlib
from edgepose.bench.row import Row
from edgepose.bench.scene import MovingScene, bench_tracker, read_patch
from edgepose.bench.soak import format_soak, soak
from edgepose.bench.table import compare_with_peers, format_table, write_csv
from edgepose.cli import ArgumentParser, run_main
from edgepose.errors import InputError, did_you_mean
from edgepose.runtime.backends import available_backends
from edgepose.runtime.estimator import Estimator
from edgepose.download import fetch_file
from edgepose.zoo import REGISTRY

__all__ = ["MODEL_SUFFIXES", "PeerRows", "find_files", "main", "named_numbers", "parse_args", "run", "run_soak",
           "settings_from_args"]

logger = logging.getLogger("edgepose.bench")
MODEL_SUFFIXES = (".onnx", ".tflite")
USER_ERROR = 2
#: extra rows measured on the same scene and frame (the clone's peers: apps/bench.py)
PeerRows = Callable[[MovingScene, np.ndarray], list[Row]]


def named_numbers(parser: argparse.ArgumentParser, items: list[str], option: str) -> dict[str, float]:
    """``["NAME=NUMBER", ...]`` -> ``{NAME: NUMBER}``; a malformed item is a usage error."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not sep or not name or number != number:
            parser.error(f"{option} takes NAME=NUMBER items; got {item!r}")
        out[name] = number
    return out


def parse_args(argv: Sequence[str] | None = None, prog: str | None = None,
               extend: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """The options of the bench (``prog``: the program name in usage lines; ``extend`` adds more
    options to the parser, as apps/bench.py adds the peers'). ``args.macs`` and ``args.accuracy``
    come back as ``{name: number}``."""
    p = ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--models-dir", help="directory searched (recursively) for .onnx/.tflite files")
    p.add_argument("--files", nargs="*", default=[], help="model files, or registry names with shipped files")
    p.add_argument("--backends", help="comma-separated subset of: onnxruntime,tflite,openvino (default: all installed)")
    p.add_argument("--threads", type=int, help="runtime threads (default: the runtime's)")
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--people", type=int, default=1, help="N > 1 also measures N crops batched vs looped")
    p.add_argument("--macs", nargs="*", default=[], help="NAME=GMAC per crop (file name, stem or model name)")
    p.add_argument("--accuracy", nargs="*", default=[],
                   help="NAME=VALUE accuracy of a file (file name, stem or model name), for the latency vs "
                        "accuracy plot and the CSV")
    p.add_argument("--accuracy-label", default="COCO OKS AP",
                   help="what the --accuracy values are (metric and data set), for the plot's axis")
    p.add_argument("--image", help="image pasted into the moving 640x480 scene of the end-to-end and --soak runs "
                                    "(default: the packaged edgepose/samples/small_person.jpg)")
    if extend is not None:
        extend(p)
    p.add_argument("--csv", help="also write the table as CSV")
    p.add_argument("--out", default="bench.png", help="PNG plot path (needs matplotlib: edgepose[apps])")
    p.add_argument("--no-plot", action="store_true", help="print the table only")
    group = p.add_argument_group("soak (memory and latency stability of the tracking pipeline)")
    group.add_argument("--soak", type=int, nargs="?", const=10_000, metavar="N",
                       help="run N frames (default 10000) through --model instead of the latency table")
    group.add_argument("--model", help="model file or registry name for --soak")
    group.add_argument("--soak-warmup", type=int, default=200, help="frames run before the start RSS is read")
    group.add_argument("--soak-max-growth-mb", type=float, default=5.0,
                       help="RSS growth (MB) at which the soak fails (exit status 1)")
    args = p.parse_args(argv)
    args.macs = named_numbers(p, args.macs, "--macs")
    args.accuracy = named_numbers(p, args.accuracy, "--accuracy")
    return args


def settings_from_args(args: argparse.Namespace) -> LatencySettings:
    """The timing settings of :func:`parse_args`'s options."""
    return LatencySettings(threads=args.threads, repeats=args.repeats, warmup=args.warmup, people=args.people,
                           macs=args.macs, accuracy=args.accuracy)


def find_files(models_dir: str | None, files: Sequence[str]) -> list[Path]:
    """The model files of ``--files`` and ``--models-dir``, checked before anything is measured.

    A ``--files`` item is a model file (``~`` expanded) or a registry name with files (its
    shipped files, fetched and sha256-verified as ``Estimator(name)`` does); anything else is an
    InputError naming the item.
    """
    paths: list[Path] = []
    for item in files:
        path = Path(item).expanduser()
        if path.is_file():
            paths.append(path)
        elif item in REGISTRY and REGISTRY[item].files:
            paths += [fetch_file(model_file) for model_file in REGISTRY[item].files]
        elif path.is_dir():
            raise InputError(f"--files {item} is a folder; pass its model files, or --models-dir {item}")
        else:
            with_files = [n for n, spec in REGISTRY.items() if spec.files]
            raise InputError(f"--files {item}: no such model file, nor a registry name with files "
                             f"({', '.join(sorted(with_files))}){did_you_mean(item, REGISTRY)}")
    if models_dir:
        folder = Path(models_dir).expanduser()
        if not folder.is_dir():
            raise InputError(f"--models-dir {models_dir} is not a folder")
        paths += sorted(p for p in folder.rglob("*") if p.suffix.lower() in MODEL_SUFFIXES)
    return paths


def run_soak(args: argparse.Namespace) -> int:
    """``--soak``: the soak table on stdout; 0, or 1 when RSS grew by ``--soak-max-growth-mb`` or more."""
    if not args.model:
        raise InputError("--soak needs --model (a model file or registry name)")
    scene = MovingScene(read_patch(args.image))
    backends = args.backends.split(",") if args.backends else [None]
    if len(backends) > 1:
        logger.warning("--soak runs one backend: %s", backends[0])
    with Estimator(args.model, backend=backends[0], running_mode="video", threads=args.threads, mode="track",
                   tracker=bench_tracker()) as est:
        logger.info("soak: %d frames (+%d warm-up) on %s", args.soak, args.soak_warmup, est.backend)
        report = soak(est, scene, args.soak, args.soak_warmup)
        header = (f"soak: {Path(str(args.model)).name}  {est.backend.name}  {est.info.precision}  "
                  f"threads={args.threads or 'default'}  mode=track  smoothing=One Euro  scene=640x480 moving")
    print(format_soak(report, header, args.soak_max_growth_mb))
    if report.rss_growth >= args.soak_max_growth_mb:
        logger.error("RSS grew by %.2f MB (limit %g MB)", report.rss_growth, args.soak_max_growth_mb)
        return 1
    return 0


def run(args: argparse.Namespace, peers: PeerRows | None = None, title: str = "edgepose bench") -> int:
    """The bench of :func:`parse_args`'s options: the soak, or the table (with ``peers``' rows
    after ours) on stdout, the CSV and the plot (titled ``title``); the exit status.

    Raises:
        EdgeposeError: a user error (no files, an unreadable ``--image``, no matplotlib for the
            plot), before anything is measured.
    """
    if args.soak is not None:
        return run_soak(args)
    files = find_files(args.models_dir, args.files)
    if not files:
        raise InputError("no model files: give --models-dir and/or --files")
    if not args.no_plot:
        require_matplotlib()
    scene = MovingScene(read_patch(args.image))
    wanted = args.backends.split(",") if args.backends else available_backends()
    rows = bench_files(files, wanted, settings_from_args(args), scene)
    share_macs(rows)
    if peers is not None:
        rows += peers(scene, scene(0))
    compare_with_peers(rows)
    if not rows:
        logger.error("nothing could be measured")
        return USER_ERROR
    print(format_table(rows))
    if args.csv:
        write_csv(rows, args.csv)
    if not args.no_plot:
        plot(rows, Path(args.out), args.accuracy_label, title)
        logger.info("plot written to %s", args.out)
    return 0


def _main(argv: Sequence[str] | None, prog: str | None) -> int:
    args = parse_args(argv, prog)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run(args, title=prog or "edgepose bench")


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the command; a user error prints one ``error:`` line and returns 2."""
    return run_main(lambda a: _main(a, prog), argv, exit_code=USER_ERROR)
