"""Latency table (and plot) of exported pose models per backend and precision.

For every model file (``--files`` and/or every .onnx/.tflite in ``--models-dir``, e.g. the
output of quantization/export.py and quantization/int8.py) and every installed backend that
reads it, measures:

* model-only latency: ``backend.run`` on one preprocessed crop (median and p90, ms);
* end-to-end latency per frame of a moving 640x480 scene with one tracked person
  (``mode="track"``, One Euro smoothing on: frame checks + box from the previous keypoints +
  preprocess + infer + decode + smooth), median and p90 ms, and its ratio to model-only;
* with ``--people N`` (N > 1), end to end on one frame with N caller-given boxes: the
  default ``batching="auto"`` (crops spread over the threads, see
  :meth:`edgepose.runtime.backends.Backend.run_parallel`), one runtime call for all N crops
  (``batching="batch"``) and a loop of N single calls, each with its ratio to the loop
  (the three are timed in interleaved rounds, so machine noise hits them alike);
* accuracy, when given (``--accuracy NAME=VALUE``; ``--accuracy-label`` says which metric on
  which data), for the latency vs accuracy panel of the plot;
* achieved GMAC/s = multiply-adds per crop / model-only median. MACs come from
  ``--macs NAME=GMAC`` (computed once, e.g. with ``edgepose.nn.complexity.count_params_and_macs``,
  and passed in), else the file's metadata (``macs``), else - for ONNX files, when the
  ``onnx`` package is installed - from the graph (Conv/ConvTranspose/Gemm/MatMul); files
  without any (TFLite) reuse the figure of another file of the same model and input size.

With ``--soak N`` (default 10000 frames) it instead runs one model (``--model``, a file
or registry name) for N frames through the tracking pipeline (``mode="track"``, One Euro
smoothing on: every frame carries a timestamp) on a synthetic moving scene (``--image``,
by default a synthetic-person fixture, pasted into a 640x480 canvas and moved a few
pixels each frame), and prints RSS after warm-up and at the end, the growth, and the
drift of wall latency and of CPU time per frame (median of the first 10% of frames vs
the last 10%). Tracks are kept whatever the scores (:func:`soak_tracker`), so that a
random-weight model exercises box tracking and smoothing too. The exit status is 1
when RSS grew by ``--soak-max-growth-mb`` or more.

SimDR vs heatmap and 64x64 / 128x128 / 256x192 are compared by giving the corresponding
files. Peers:

* MoveNet Lightning / Thunder (``apps/peers.py``; the float32 TFLite files that
  ``bash apps/peers_setup.sh`` converts into ``.peers/models``, read from ``--movenet-dir``),
  run by LiteRT with the same ``--threads``: model-only on one crop, and end to end on the same
  moving scene through the same tracking (``PoseTracker``: box from the previous keypoints,
  full frame at re-detection) and One Euro smoothing as ours (crop + infer + map back + smooth);
* MediaPipe BlazePose full, end to end only, on the same frame, in static-image mode (its
  detector runs every frame) and in tracking (video) mode: in-process when ``mediapipe`` is
  importable, else through ``--mediapipe-python`` (mediapipe 0.10.21 needs numpy<2, so it lives
  in its own venv, ``.peers/mediapipe-venv`` from ``apps/peers_setup.sh``; see
  ``apps/mediapipe_peer.py``).

The columns "model vs peer" / "e2e vs peer" give each int8 file's median over the best (fastest)
peer's median (< 1: faster than every peer); a MediaPipe run that found no person in the frame (it
then times its detector alone) is marked and left out of that comparison. The default scene's
small rendered person is often missed by MediaPipe's detector: ``--image edgepose/samples/person.jpg``. Prints a table, optionally writes CSV, and draws a PNG
(matplotlib, ``pip install -e ".[apps]"``): latency vs input size per model family,
precision and backend, latency vs accuracy where given, and per-file bars.

Example::

    python apps/bench.py --models-dir exported/ --threads 4 --repeats 100 --people 4 --out bench.png
    python apps/bench.py --soak 10000 --model exported/simdr_r18_64_int8.onnx --threads 1
"""

from __future__ import annotations

import argparse
import csv
import functools
import gc
import json
import logging
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgepose import Estimator
from edgepose.runtime.backends import available_backends, backends_for_suffix
from edgepose.cli import ArgumentParser, run_main
from edgepose.errors import BackendNotInstalledError, EdgeposeError, InputError, did_you_mean, install_hint
from edgepose.runtime.smooth import OneEuroParams, PoseSmoother
from edgepose.runtime.timing import time_calls_ms, time_interleaved_ms
from edgepose.runtime.track import PoseTracker
from edgepose.zoo import REGISTRY, fetch_file

logger = logging.getLogger("edgepose.apps.bench")
MODEL_SUFFIXES = (".onnx", ".tflite")
ROOT = Path(__file__).resolve().parents[1]
SOAK_PATCH = ROOT / "tests" / "fixtures" / "synth_small" / "images" / "0000000.jpg"


@dataclass
class Row:
    """One benchmark line; times in ms."""

    file: str
    model: str
    input_hw: str
    backend: str
    precision: str
    threads: str
    model_med: float = float("nan")
    model_p90: float = float("nan")
    e2e_med: float = float("nan")
    e2e_p90: float = float("nan")
    batch_med: float = float("nan")
    onecall_med: float = float("nan")
    loop_med: float = float("nan")
    gmac: float = float("nan")
    macs_from: str = ""
    accuracy: float = float("nan")
    peer: bool = False
    found: bool = True  # a peer that found no person timed its detector only
    model_vs_peer: float = float("nan")
    e2e_vs_peer: float = float("nan")

    @property
    def gmacs_per_s(self) -> float:
        return self.gmac / (self.model_med / 1e3) if self.model_med > 0 else float("nan")


def measure(fn: Callable[[], object], repeats: int, warmup: int) -> tuple[float, float]:
    """(median, p90) wall time of ``fn`` in ms."""
    times = time_calls_ms(fn, repeats=repeats, warmup=warmup)
    return float(np.median(times)), float(np.percentile(times, 90))


@functools.cache
def onnx_graph_macs(path: Path) -> float | None:
    """GMACs per image of an ONNX graph (Conv, ConvTranspose, Gemm, MatMul), or None without ``onnx``."""
    try:
        import onnx
        from onnx import shape_inference
    except ImportError:
        return None
    model = shape_inference.infer_shapes(onnx.load(str(path)))
    g = model.graph
    shapes: dict[str, list[int]] = {}
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        dims = [d.dim_value if d.HasField("dim_value") else 1 for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = dims
    for init in g.initializer:
        shapes[init.name] = list(init.dims)

    def prod(v: list[int]) -> int:
        return int(np.prod(v)) if v else 0

    macs = 0
    for node in g.node:
        ins = [shapes.get(i, []) for i in node.input]
        out = shapes.get(node.output[0], [])
        groups = next((a.i for a in node.attribute if a.name == "group"), 1)
        if node.op_type == "Conv" and len(ins) > 1 and ins[1]:
            w = ins[1]
            macs += prod(out) * w[1] * prod(w[2:])
        elif node.op_type == "ConvTranspose" and len(ins) > 1 and ins[1]:
            w = ins[1]
            macs += prod(ins[0]) * (w[1] * groups // max(groups, 1)) * prod(w[2:])
        elif node.op_type in ("Gemm", "MatMul") and len(ins) > 1 and ins[0] and ins[1]:
            macs += prod(out) * ins[0][-1]
    return macs / 1e9


def find_files(models_dir: str | None, files: list[str]) -> list[Path]:
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


def e2e_tracked(path: Path, backend: str, args: argparse.Namespace, scene: "MovingScene") -> tuple[float, float]:
    """(median, p90) ms per frame of the whole pipeline on successive 640x480 frames of
    ``scene`` with one tracked person: ``mode="track"`` (box from the previous frame's
    keypoints, re-detection every ``redetect_interval`` frames), One Euro smoothing on
    (timestamps at 30 fps), frame checks, preprocessing, inference and decoding."""
    frames = [scene(i) for i in range(args.warmup + args.repeats)]
    with Estimator(path, backend=backend, running_mode="video", threads=args.threads, mode="track",
                   tracker=soak_tracker()) as est:
        index = iter(range(len(frames)))

        def step() -> None:
            i = next(index)
            est(frames[i], timestamp=i / 30.0)

        return measure(step, args.repeats, args.warmup)


def bench_file(path: Path, backend: str, args: argparse.Namespace, frame: np.ndarray,
               scene: "MovingScene") -> Row | None:
    try:
        est = Estimator(path, backend=backend, threads=args.threads)
    except EdgeposeError as exc:
        logger.warning("skipping %s on %s: %s", path.name, backend, exc)
        return None
    with est:
        info = est.info
        row = Row(path.name, info.name or path.stem, f"{info.input_hw[0]}x{info.input_hw[1]}", backend,
                  info.precision, str(args.threads or "default"))
        rng = np.random.default_rng(0)
        crop = rng.standard_normal((1, 3, *info.input_hw)).astype(np.float32)
        row.model_med, row.model_p90 = measure(lambda: est.backend.run(crop), args.repeats, args.warmup)
        row.e2e_med, row.e2e_p90 = e2e_tracked(path, backend, args, scene)
        if args.people > 1:
            h, w = frame.shape[:2]
            boxes = [[(i % 4) * w / 4, (i // 4) * h / 4, w / 4, h / 2] for i in range(args.people)]

            def people(batching: str) -> Callable[[], object]:
                def call() -> object:
                    est.batching = batching
                    return est.estimate(frame, boxes, track_ids=range(args.people))
                return call

            times = time_interleaved_ms({b: people(b) for b in ("auto", "batch", "loop")},
                                        repeats=args.repeats, warmup=args.warmup)
            row.batch_med, row.onecall_med, row.loop_med = (float(np.median(times[b])) for b in
                                                            ("auto", "batch", "loop"))
            est.batching = "auto"
        keys = (path.name, path.stem, info.name)  # how --macs / --accuracy name a file
        row.accuracy = next((args.accuracy[k] for k in keys if k in args.accuracy), float("nan"))
        given_macs = next((args.macs[k] for k in keys if k in args.macs), None)
        if given_macs is not None:
            row.gmac, row.macs_from = given_macs, "--macs"
        elif info.macs:
            row.gmac, row.macs_from = info.macs / 1e9, "metadata"
        elif path.suffix.lower() == ".onnx":
            g = onnx_graph_macs(path)
            if g is not None:
                row.gmac, row.macs_from = g, "onnx graph"
    return row


def share_macs(rows: list[Row]) -> None:
    """MACs are computed once per model: rows without them (e.g. TFLite files) take those of
    another file of the same model and input size."""
    known = {(r.model, r.input_hw): (r.gmac, r.macs_from) for r in rows if r.gmac == r.gmac}
    for r in rows:
        if r.gmac != r.gmac and (r.model, r.input_hw) in known:
            r.gmac, source = known[(r.model, r.input_hw)]
            r.macs_from = f"same model ({source})"


def bench_mediapipe(frame: np.ndarray, args: argparse.Namespace, tracking: bool = False) -> Row | None:
    """MediaPipe BlazePose (full) end-to-end on ``frame``, in static-image mode or (``tracking``)
    video mode: in-process when ``mediapipe`` imports, else through ``--mediapipe-python`` (the
    interpreter of a numpy<2 venv running ``apps/mediapipe_peer.py``); None when neither is available."""
    name = "mediapipe_blazepose_full" + ("_tracking" if tracking else "")
    row = Row("(bundled)", name, "256x256", "mediapipe", "fp32", "default", peer=True)
    if args.mediapipe_python:
        with tempfile.TemporaryDirectory() as tmp:
            image = Path(tmp) / "frame.png"
            cv2.imwrite(str(image), frame)
            cmd = [args.mediapipe_python, str(ROOT / "apps" / "mediapipe_peer.py"), str(image),
                   "--repeats", str(args.repeats), "--warmup", str(args.warmup)]
            if tracking:
                cmd.append("--tracking")
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            logger.error("MediaPipe peer failed (%s): %s", " ".join(cmd), done.stderr.strip()[-500:])
            return None
        result = json.loads(done.stdout.strip().splitlines()[-1])
        row.e2e_med, row.e2e_p90 = result["e2e_med"], result["e2e_p90"]
        row.file = f"(mediapipe {result['mediapipe']})"
        return _check_found(row, int(result.get("people", 1)))
    try:
        import mediapipe as mp  # type: ignore[import-not-found]
    except ImportError:
        logger.info("mediapipe not importable and no --mediapipe-python: no peer row")
        return None
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    with mp.solutions.pose.Pose(static_image_mode=not tracking, model_complexity=1) as pose:
        row.e2e_med, row.e2e_p90 = measure(lambda: pose.process(rgb), args.repeats, args.warmup)
        people = int(pose.process(rgb).pose_landmarks is not None)
    return _check_found(row, people)


def _check_found(row: Row, people: int) -> Row:
    """Mark a MediaPipe row that found nobody: it timed the person detector only, so it is no
    peer to compare with (``compare_with_peers`` skips it)."""
    if people < 1:
        row.found = False
        row.file += " no person found"
        logger.warning("%s found no person in the bench frame: its time is its detector's alone (try --image "
                       "edgepose/samples/person.jpg)", row.model)
    return row


def movenet_e2e_step(peer: Any, frames: list[np.ndarray], fps: float = 30.0) -> Callable[[], object]:
    """One call per frame of ``frames`` (made before timing, as :func:`e2e_tracked` does): the
    Estimator's ``mode="track"`` pipeline around ``peer`` (an ``apps/peers.py`` peer): boxes from
    the same :class:`PoseTracker` (the previous keypoints; the full frame at re-detection),
    crop + infer + map back, then the same One Euro smoothing."""
    from peers import estimate  # apps/peers.py, next to this script

    tracker, smoother = soak_tracker(), PoseSmoother(OneEuroParams())
    index = iter(range(len(frames)))

    def step() -> object:
        i = next(index)
        frame = frames[i]
        h, w = frame.shape[:2]
        if tracker.needs_detection():
            boxes = np.array([[0.0, 0.0, float(w), float(h)]])
            ids = tracker.match(boxes)
        else:
            boxes, ids = tracker.predicted()
        keypoints, scores = estimate(peer, frame, boxes)
        tracker.update(ids, keypoints, scores, (h, w))
        return smoother(ids, keypoints, i / fps)

    return step


def bench_movenet(peer: Any, args: argparse.Namespace, scene: MovingScene) -> Row:
    """MoveNet (an ``apps/peers.py`` peer): model-only on one crop and end to end on ``scene``
    (:func:`movenet_e2e_step`); the caller closes ``peer``."""
    info = peer.info
    row = Row(info.file, info.name, f"{info.input_hw[0]}x{info.input_hw[1]}", "tflite", "fp32",
              str(args.threads or "default"), peer=True)
    crop = np.random.default_rng(0).integers(0, 256, (*info.input_hw, 3), dtype=np.uint8)
    row.model_med, row.model_p90 = measure(lambda: peer.run_one(crop), args.repeats, args.warmup)
    frames = [scene(i) for i in range(args.warmup + args.repeats)]
    row.e2e_med, row.e2e_p90 = measure(movenet_e2e_step(peer, frames), args.repeats, args.warmup)
    row.accuracy = next((args.accuracy[k] for k in (info.file, info.name) if k in args.accuracy), float("nan"))
    return row


def movenet_rows(args: argparse.Namespace, scene: MovingScene) -> list[Row]:
    """Rows of the MoveNet files found in ``--movenet-dir`` ([] when none or ``--no-movenet``)."""
    if args.no_movenet:
        return []
    sys.path.insert(0, str(ROOT / "apps"))
    import peers

    found = peers.movenet_peers(Path(args.movenet_dir), threads=args.threads)
    if not found:
        logger.info("no MoveNet files in %s (bash apps/peers_setup.sh makes them): no MoveNet rows", args.movenet_dir)
    rows = []
    for peer in found:
        with peer:
            logger.info("benchmarking peer %s", peer.info.name)
            rows.append(bench_movenet(peer, args, scene))
    return rows


def compare_with_peers(rows: list[Row]) -> None:
    """Fill ``model_vs_peer`` / ``e2e_vs_peer`` of our int8 rows: their median over the best peer's."""
    peer_rows = [r for r in rows if r.peer and r.found]
    best_model = min((r.model_med for r in peer_rows if r.model_med == r.model_med), default=float("nan"))
    best_e2e = min((r.e2e_med for r in peer_rows if r.e2e_med == r.e2e_med), default=float("nan"))
    for r in rows:
        if not r.peer and r.precision == "int8":
            r.model_vs_peer = r.model_med / best_model
            r.e2e_vs_peer = r.e2e_med / best_e2e


def format_table(rows: list[Row]) -> str:
    head = ["file", "model", "input", "backend", "prec", "thr", "model med", "model p90", "e2e med", "e2e p90",
            "e2e/model", "batch", "1call", "loop", "batch/loop", "1call/loop", "GMAC", "GMAC/s", "MACs from",
            "model vs peer", "e2e vs peer"]

    def f(v: float, nd: int = 2) -> str:
        return "-" if v != v else f"{v:.{nd}f}"

    lines = [[r.file, r.model, r.input_hw, r.backend, r.precision, r.threads, f(r.model_med), f(r.model_p90),
              f(r.e2e_med), f(r.e2e_p90), f(r.e2e_med / r.model_med), f(r.batch_med), f(r.onecall_med),
              f(r.loop_med), f(r.batch_med / r.loop_med), f(r.onecall_med / r.loop_med), f(r.gmac, 3),
              f(r.gmacs_per_s, 1), r.macs_from or "-", f(r.model_vs_peer), f(r.e2e_vs_peer)] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*head), fmt.format(*["-" * w for w in widths])]
    out += [fmt.format(*line) for line in lines]
    return "\n".join(out)


def require_matplotlib() -> None:
    """Stop before measuring when the plot cannot be drawn (matplotlib is missing)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise BackendNotInstalledError(f"apps/bench.py draws its plot with matplotlib: {install_hint('apps')} "
                                       "(or pass --no-plot)") from None


_SIZE_TOKEN = re.compile(r"^\d+(x\d+)?$")


def model_family(model: str) -> str:
    """A model name without its input-size token: ``simdr_r50_128`` -> ``simdr_r50``,
    ``hm_r50_256x192`` -> ``hm_r50``; other names are kept whole."""
    parts = [p for p in model.split("_") if not _SIZE_TOKEN.match(p)]
    return "_".join(parts) or model


def _pixels(input_hw: str) -> int | None:
    h, _, w = input_hw.partition("x")
    return int(h) * int(w) if h.isdigit() and w.isdigit() else None


def plot(rows: list[Row], path: Path, accuracy_label: str) -> None:
    """PNG with three panels: model-only latency vs input size (one line per model family,
    precision and backend; peers measured end to end only as dashed lines), latency vs
    accuracy for the files whose accuracy was given, and model-only / end-to-end bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in rows if r.model_med == r.model_med]
    peers = [r for r in rows if r.model_med != r.model_med and r.e2e_med == r.e2e_med]
    fig = plt.figure(figsize=(16, 6.5 + 0.3 * len(rows)))
    grid = fig.add_gridspec(2, 2, height_ratios=[6.0, 1.0 + 0.3 * len(rows)])
    ax_size, ax_acc, ax_bar = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, :])

    series: dict[tuple[str, str, str], list[tuple[int, float]]] = {}
    ticks: dict[int, str] = {}
    for r in measured:
        pixels = _pixels(r.input_hw)
        if pixels is not None:
            series.setdefault((model_family(r.model), r.precision, r.backend), []).append((pixels, r.model_med))
            ticks[pixels] = r.input_hw
    for (family, precision, backend), points in sorted(series.items()):
        points.sort()
        ax_size.plot([p for p, _ in points], [ms for _, ms in points], marker="o",
                     label=f"{family} {precision} {backend}")
    for r in peers:
        ax_size.axhline(r.e2e_med, linestyle="--", color="gray")
        ax_size.annotate(f"{r.model} (end to end)", (0.01, r.e2e_med), xycoords=("axes fraction", "data"),
                         fontsize=8, color="gray", va="bottom")
    ax_size.set_xscale("log")
    ax_size.set_ylim(bottom=0)
    ax_size.set_xticks(sorted(ticks), [ticks[p] for p in sorted(ticks)])
    ax_size.minorticks_off()
    ax_size.set_xlabel("input size (H x W)")
    ax_size.set_ylabel("model-only latency, median ms")
    ax_size.set_title("latency vs input size")
    ax_size.legend(fontsize=7)

    known = [r for r in measured if r.accuracy == r.accuracy]
    markers = {"onnxruntime": "o", "openvino": "s", "tflite": "^"}
    colours: dict[tuple[str, str], Any] = {}
    labelled: set[str] = set()
    for r in known:
        key = (r.model, r.precision)
        colour = colours.setdefault(key, f"C{len(colours) % 10}")
        ax_acc.scatter(r.model_med, r.accuracy, color=colour, marker=markers.get(r.backend, "D"))
        if r.file not in labelled:  # one label per file; the marker tells the backend
            labelled.add(r.file)
            ax_acc.annotate(f"{r.model} {r.precision} ({Path(r.file).suffix[1:]})", (r.model_med, r.accuracy),
                            fontsize=7, xytext=(5, 3), textcoords="offset points", color=colour)
    for backend, marker in markers.items():
        if any(r.backend == backend for r in known):
            ax_acc.scatter([], [], marker=marker, color="gray", label=backend)
    if known:
        ax_acc.legend(fontsize=7)
    else:
        ax_acc.text(0.5, 0.5, "no accuracy given\n(--accuracy NAME=VALUE)", ha="center", va="center",
                    transform=ax_acc.transAxes)
    ax_acc.set_xlabel("model-only latency, median ms")
    ax_acc.set_ylabel(accuracy_label)
    ax_acc.set_title("latency vs accuracy")

    labels = [f"{r.model if r.peer else r.file} {r.backend} {r.precision}" for r in rows]
    y = np.arange(len(rows))
    ax_bar.barh(y - 0.2, [np.nan_to_num(r.model_med) for r in rows], 0.4, label="model only")
    ax_bar.barh(y + 0.2, [np.nan_to_num(r.e2e_med) for r in rows], 0.4, label="end to end (1 tracked person)")
    ax_bar.set_yticks(y, labels, fontsize=7)
    ax_bar.invert_yaxis()
    ax_bar.set_xlabel("median ms")
    ax_bar.set_title("per file")
    ax_bar.legend(fontsize=7)
    fig.suptitle(f"apps/bench.py, threads={rows[0].threads}")
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


# ---- soak -------------------------------------------------------------------------------------
def rss_mb() -> tuple[float, str]:
    """Resident set size of this process in MB (10^6 bytes), and where it was read.

    ``/proc/self/status`` (Linux), else ``psutil`` when installed, else the *peak* RSS
    from ``resource.getrusage`` (a leak still shows; a shrink does not).
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024 / 1e6, "/proc/self/status VmRSS"
    except OSError:
        pass
    try:
        import psutil

        return psutil.Process().memory_info().rss / 1e6, "psutil"
    except ImportError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
        return peak * (1 if sys.platform == "darwin" else 1024) / 1e6, "getrusage peak"


class MovingScene:
    """640x480 frames: a fixed noise background with ``patch`` pasted at a position that
    moves a few pixels per frame (a slow sway left-right and a bob up-down)."""

    def __init__(self, patch: np.ndarray, size_hw: tuple[int, int] = (480, 640)) -> None:
        h, w = size_hw
        scale = 0.6 * h / patch.shape[0]
        self.patch = cv2.resize(patch, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)[:h, :w]
        self.background = np.random.default_rng(0).integers(40, 90, (h, w, 3), dtype=np.uint8)
        self.free = (w - self.patch.shape[1], h - self.patch.shape[0])

    def __call__(self, i: int) -> np.ndarray:
        """Frame ``i``."""
        fx, fy = self.free
        x = int(fx / 2 * (1 + np.sin(i / 25.0)))
        y = int(fy / 2 * (1 + 0.3 * np.sin(i / 11.0)))
        frame = self.background.copy()
        frame[y:y + self.patch.shape[0], x:x + self.patch.shape[1]] = self.patch
        return frame


@dataclass
class SoakReport:
    """What :func:`soak` measured: RSS in MB; per-frame wall latency and process CPU time in ms."""

    frames: int
    warmup: int
    rss_start: float
    rss_end: float
    rss_trace: list[float]
    rss_source: str
    latency: np.ndarray
    cpu: np.ndarray
    wall_s: float
    detections: int
    track_ids: int
    filters: int

    @property
    def rss_growth(self) -> float:
        return self.rss_end - self.rss_start


def drift(times: np.ndarray) -> tuple[float, float, float]:
    """(median of the first 10% of ``times``, median of the last 10%, last / first)."""
    k = max(1, len(times) // 10)
    first, last = float(np.median(times[:k])), float(np.median(times[-k:]))
    return first, last, last / first if first > 0 else float("nan")


def soak_tracker() -> PoseTracker:
    """The soak's tracker: tracks are kept whatever the keypoint scores, so that a
    random-weight model exercises the whole track path too (box from the previous
    keypoints and per-track One Euro smoothing on every frame, re-detection every
    ``redetect_interval`` frames, new tracks and dropped ones)."""
    return PoseTracker(lost_score=0.0, keypoint_threshold=0.0)


def soak(est: Estimator, scene: MovingScene, frames: int, warmup: int, fps: float = 30.0) -> SoakReport:
    """Run ``warmup`` then ``frames`` frames of ``scene`` through ``est`` with timestamps
    ``i / fps``; RSS is read after warm-up (and a GC), every 10% of frames, and at the end.

    Wall latency includes time the process waits for a CPU; the CPU time per frame
    (``time.process_time``, all threads) does not, which keeps drift readable on a busy machine.
    """
    for i in range(warmup):
        est(scene(i), timestamp=i / fps)
    gc.collect()
    rss_start, source = rss_mb()
    trace, latency, cpu = [], np.empty(frames), np.empty(frames)
    every, detections, max_id = max(1, frames // 10), 0, -1
    t_start = time.perf_counter()
    for n in range(frames):
        i = warmup + n
        frame = scene(i)
        detections += est.tracker.needs_detection()
        t, c = time.perf_counter(), time.process_time()
        result = est(frame, timestamp=i / fps)
        latency[n], cpu[n] = (time.perf_counter() - t) * 1e3, (time.process_time() - c) * 1e3
        max_id = max(max_id, int(result.track_ids.max(initial=-1)))
        if (n + 1) % every == 0:
            trace.append(rss_mb()[0])
    wall = time.perf_counter() - t_start
    gc.collect()
    rss_end = rss_mb()[0]
    return SoakReport(frames, warmup, rss_start, rss_end, trace, source, latency, cpu, wall, detections,
                      max_id + 1, len(est.smoother) if est.smoother is not None else 0)


def format_soak(report: SoakReport, header: str, max_growth: float) -> str:
    """The soak table."""
    verdict = "ok" if report.rss_growth < max_growth else "FAIL"
    rows = [
        ("frames (after warm-up)", f"{report.frames} (+{report.warmup} warm-up), {report.wall_s:.1f} s"),
        ("rss start (after warm-up)", f"{report.rss_start:.2f} MB"),
        ("rss end", f"{report.rss_end:.2f} MB"),
        ("rss growth", f"{report.rss_growth:+.2f} MB ({verdict}: target < {max_growth:g} MB)"),
        ("rss every 10% of frames", " ".join(f"{v:.1f}" for v in report.rss_trace) + " MB"),
    ]
    for name, times in (("latency", report.latency), ("cpu time", report.cpu)):
        first, last, ratio = drift(times)
        rows += [
            (f"{name} median, first 10%", f"{first:.2f} ms"),
            (f"{name} median, last 10%", f"{last:.2f} ms"),
            (f"{name} drift (last / first)", f"{ratio:.3f}"),
            (f"{name} median / p99, all", f"{np.median(times):.2f} / {np.percentile(times, 99):.2f} ms"),
        ]
    rows += [
        ("re-detections / track ids started", f"{report.detections} / {report.track_ids} (ids count the warm-up)"),
        ("smoothing filters at end", str(report.filters)),
        ("rss read from", report.rss_source),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [header, f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 40}"]
    lines += [f"{k:<{width}}  {v}" for k, v in rows]
    return "\n".join(lines)


def run_soak(args: argparse.Namespace) -> int:
    """``--soak``: see the module docstring."""
    if not args.model:
        logger.error("--soak needs --model (a model file or registry name)")
        return 2
    patch_path = Path(args.image) if args.image else SOAK_PATCH
    patch = cv2.imread(str(patch_path), cv2.IMREAD_COLOR)
    if patch is None:
        logger.error("cannot read %s (the scene's pasted image; give one with --image)", patch_path)
        return 2
    backends = args.backends.split(",") if args.backends else [None]
    if len(backends) > 1:
        logger.warning("--soak runs one backend: %s", backends[0])
    try:
        est = Estimator(args.model, backend=backends[0], running_mode="video", threads=args.threads, mode="track",
                        tracker=soak_tracker())
    except EdgeposeError as exc:
        logger.error("%s", exc)
        return 2
    with est:
        logger.info("soak: %d frames (+%d warm-up) on %s", args.soak, args.soak_warmup, est.backend)
        report = soak(est, MovingScene(patch), args.soak, args.soak_warmup)
        info = est.info
        header = (f"soak: {Path(str(args.model)).name}  {est.backend.name}  {info.precision}  "
                  f"threads={args.threads or 'default'}  mode=track  smoothing=One Euro  scene=640x480 moving")
    print(format_soak(report, header, args.soak_max_growth_mb))
    if report.rss_growth >= args.soak_max_growth_mb:
        logger.error("RSS grew by %.2f MB (limit %g MB)", report.rss_growth, args.soak_max_growth_mb)
        return 1
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models-dir", help="directory searched (recursively) for .onnx/.tflite files")
    p.add_argument("--files", nargs="*", default=[], help="model files")
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
                                    "(default: a synth_small fixture)")
    p.add_argument("--no-mediapipe", action="store_true")
    p.add_argument("--no-mediapipe-tracking", action="store_true",
                   help="MediaPipe in static-image mode only (default: static and tracking)")
    p.add_argument("--movenet-dir", default=str(ROOT / ".peers" / "models"),
                   help="folder of the converted MoveNet files (bash apps/peers_setup.sh); absent: no MoveNet rows")
    p.add_argument("--no-movenet", action="store_true")
    p.add_argument("--mediapipe-python", help="python of a venv with mediapipe==0.10.21 (numpy<2): the peer runs "
                                               "there through apps/mediapipe_peer.py")
    p.add_argument("--csv", help="also write the table as CSV")
    p.add_argument("--out", default="bench.png", help="PNG plot path (needs matplotlib: edgepose[apps])")
    p.add_argument("--no-plot", action="store_true", help="print the table only")
    soak = p.add_argument_group("soak (memory and latency stability of the tracking pipeline)")
    soak.add_argument("--soak", type=int, nargs="?", const=10_000, metavar="N",
                      help="run N frames (default 10000) through --model instead of the latency table")
    soak.add_argument("--model", help="model file or registry name for --soak")
    soak.add_argument("--soak-warmup", type=int, default=200, help="frames run before the start RSS is read")
    soak.add_argument("--soak-max-growth-mb", type=float, default=5.0,
                      help="RSS growth (MB) at which the soak fails (exit status 1)")
    args = p.parse_args(argv)
    args.macs = named_numbers(p, args.macs, "--macs")
    args.accuracy = named_numbers(p, args.accuracy, "--accuracy")
    return args


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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.soak is not None:
        return run_soak(args)
    files = find_files(args.models_dir, args.files)
    if not files:
        logger.error("no model files: give --models-dir and/or --files")
        return 2
    if not args.no_plot:
        require_matplotlib()
    patch_path = Path(args.image) if args.image else SOAK_PATCH
    patch = cv2.imread(str(patch_path), cv2.IMREAD_COLOR)
    if patch is None:
        logger.error("cannot read %s", patch_path)
        return 2
    scene = MovingScene(patch)
    frame = scene(0)
    wanted = args.backends.split(",") if args.backends else available_backends()
    rows: list[Row] = []
    for path in files:
        for backend in backends_for_suffix(path.suffix):
            if backend in wanted and backend in available_backends():
                logger.info("benchmarking %s on %s", path.name, backend)
                row = bench_file(path, backend, args, frame, scene)
                if row is not None:
                    rows.append(row)
    share_macs(rows)
    rows += movenet_rows(args, scene)
    if not args.no_mediapipe:
        for tracking in (False, True)[:1 if args.no_mediapipe_tracking else 2]:
            peer = bench_mediapipe(frame, args, tracking=tracking)
            if peer is not None:
                rows.append(peer)
    compare_with_peers(rows)
    if not rows:
        logger.error("nothing could be measured")
        return 2
    print(format_table(rows))
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(list(Row.__dataclass_fields__) + ["gmacs_per_s"])
            for r in rows:
                writer.writerow([getattr(r, k) for k in Row.__dataclass_fields__] + [r.gmacs_per_s])
    if not args.no_plot:
        plot(rows, Path(args.out), args.accuracy_label)
        logger.info("plot written to %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, exit_code=2))
