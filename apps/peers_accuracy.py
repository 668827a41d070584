"""Accuracy side by side on rendered val images with ground-truth boxes: our shipped int8 files vs peers.

Scores, on the same people and the same crops (box from the labels, grown to a square, padded by
1.25, :func:`edgepose.preprocess.preprocess_crops`), with no flip test for anyone:

* ours: ``edgepose.Estimator(NAME, backend, precision="int8", threads=1)`` for each NAME (default the
  shipped ``simdr_r50_128`` and ``simdr_r50_64``) and each backend that reads a shipped file
  (onnxruntime for the .onnx file, LiteRT for the .tflite file);
* MoveNet Lightning / Thunder (``apps/peers.py``, the float32 TFLite files that
  ``bash apps/peers_setup.sh`` converts into ``.peers/models``), threads=1;
* MediaPipe BlazePose full (static-image mode on the crop, its own venv ``.peers/mediapipe-venv``).

Metrics (``edgepose.evaluate``): COCO OKS AP and AP50 (pycocotools; results rescored as the official
code, person score 1), PCK@0.1 and PCK@0.2 and the median error, all normalised by the box side
max(w, h); per-keypoint PCK@0.2; the mean signed offset per keypoint ``(pred - gt) / box side`` in x
and y (a definition offset, e.g. where a model puts the hips, shows as a consistent sign, not as
noise); ms per crop: the runtime call alone (median over the pass; ours: the Estimator's "infer"
timing) and crop + run + map back ("e2e", ours: the Estimator's "total"). Also a model-only median
measured in interleaved rounds over all in-process models on one crop (``edgepose.runtime.timing``), so that
a busy machine's noise hits every model alike. MediaPipe's ms is ``pose.process`` per crop in its
process (its own detector runs inside, on the crop).

Writes ``accuracy.md`` (tables), ``accuracy.json`` and ``accuracy.png`` (latency vs PCK@0.2 and vs
AP; matplotlib) to ``--out-dir``, and prints the tables.

Example::

    bash apps/peers_setup.sh                     # once: the peers' files and venvs into .peers/
    python apps/peers_accuracy.py --out-dir out/peers_accuracy
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402  (apps/peers.py, next to this script)

from edgepose import Estimator, zoo  # noqa: E402
from edgepose.errors import EdgeposeError, InputError  # noqa: E402
from edgepose.evaluate import coco_keypoint_ap, coco_results, median_error, pck, strict_json_value  # noqa: E402
from edgepose.geometry import DEFAULT_PADDING, box_to_center_scale  # noqa: E402
from edgepose.preprocess import crops_to_frame  # noqa: E402
from edgepose.skeleton import get_keypoint_set  # noqa: E402
from edgepose.runtime.timing import time_interleaved_ms  # noqa: E402
from edgepose.yardstick import mean_signed_offsets  # noqa: E402

logger = logging.getLogger("edgepose.apps.peers_accuracy")
ROOT = Path(__file__).resolve().parents[1]
VAL = ROOT / "data" / "synth" / "val"
COCO17 = get_keypoint_set("coco17")


@dataclass
class ValSet:
    """People of a COCO-format val set: ``boxes (N, 4)`` xywh px, ``gt (N, 17, 3)`` (x, y, v),
    ``image_ids (N,)``, ``files (N,)`` image paths; only people with a labelled keypoint."""

    ann_file: Path
    boxes: np.ndarray
    gt: np.ndarray
    image_ids: np.ndarray
    files: list[Path]

    @property
    def visible(self) -> np.ndarray:
        """(N, 17) bool: labelled keypoints (v > 0)."""
        return self.gt[..., 2] > 0


def load_val(ann_file: Path, images: Path, limit: int | None = None) -> ValSet:
    """Read the val annotations (the first ``limit`` images when given).

    Raises:
        InputError: missing or empty annotation file.
    """
    if not ann_file.is_file():
        raise InputError(f"{ann_file}: no such annotation file (render the val set: training/synth.py)")
    data = json.loads(ann_file.read_text())
    image_list = sorted(data["images"], key=lambda im: im["id"])[:limit] if limit else data["images"]
    names = {im["id"]: im["file_name"] for im in image_list}
    people = [a for a in data["annotations"] if a["image_id"] in names and not a.get("iscrowd", 0)
              and a.get("num_keypoints", 1) > 0 and a["bbox"][2] > 0 and a["bbox"][3] > 0]
    if not people:
        raise InputError(f"{ann_file}: no labelled person")
    return ValSet(ann_file, np.array([a["bbox"] for a in people], dtype=np.float64),
                  np.array([a["keypoints"] for a in people], dtype=np.float64).reshape(-1, 17, 3),
                  np.array([a["image_id"] for a in people], dtype=np.int64),
                  [images / names[a["image_id"]] for a in people])


@dataclass
class Subject:
    """One model under test. ``predict(frame, box) -> (kp (17, 2) frame px, scores (17,), model ms, e2e ms)``;
    ``model_only`` (optional) runs the model once on a fixed crop, for the interleaved timing; ``batch``
    (instead of ``predict``) runs every person of a val set at once -> ``(kp (N, 17, 2) frame px,
    scores (N, 17), model ms (N,), found (N,) bool)``."""

    name: str
    input_hw: tuple[int, int]
    precision: str
    runtime: str
    predict: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, float, float]] | None
    model_only: Callable[[], object] | None = None
    close: Callable[[], None] = lambda: None
    batch: Callable[[ValSet], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] | None = None


@dataclass
class Scores:
    """What :func:`score` measured for one subject (fractions; offsets in box-side units; ms)."""

    name: str
    input_hw: tuple[int, int]
    precision: str
    runtime: str
    ap: float
    ap50: float
    pck10: float
    pck20: float
    median_error: float
    pck20_per_kp: dict[str, float]
    offset_per_kp: dict[str, tuple[float, float]]
    model_ms: float
    e2e_ms: float
    interleaved_ms: float = float("nan")
    notes: list[str] = field(default_factory=list)


def score(subject: Subject, val: ValSet) -> Scores:
    """Run ``subject`` over every person of ``val`` and compute the metrics."""
    n = len(val.files)
    found = np.ones(n, dtype=bool)
    if subject.batch is not None:
        kp, ks, model_ms, found = subject.batch(val)
        e2e_ms = np.full(n, np.nan)
    else:
        assert subject.predict is not None
        kp, ks = np.zeros((n, 17, 2)), np.zeros((n, 17))
        model_ms, e2e_ms = np.zeros(n), np.zeros(n)
        frames: dict[Path, np.ndarray] = {}
        for i, path in enumerate(val.files):
            if path not in frames:
                frames = {path: cv2.imread(str(path), cv2.IMREAD_COLOR)}  # people of one image are adjacent
                if frames[path] is None:
                    raise InputError(f"cannot read {path}")
            kp[i], ks[i], model_ms[i], e2e_ms[i] = subject.predict(frames[path], val.boxes[i])
    sigmas = COCO17.sigma_array()
    areas = np.array([np.prod(box_to_center_scale(b, subject.input_hw, DEFAULT_PADDING)[1]) for b in val.boxes])
    results = coco_results(kp, ks, val.image_ids, np.ones(n), areas=areas, sigmas=sigmas)
    stats = coco_keypoint_ap(val.ann_file, results, sigmas, image_ids=sorted(set(val.image_ids.tolist())))
    gt, vis = val.gt[..., :2], val.visible
    per_kp = pck(kp, gt, vis, val.boxes, 0.2, names=COCO17.names)
    offsets = mean_signed_offsets(kp, gt, vis & found[:, None], val.boxes)
    notes = [] if found.all() else [f"pose found in {int(found.sum())} of {n} crops; the others count as misses "
                                    "(crop centre, score 0) except in the signed offsets"]
    result = Scores(subject.name, subject.input_hw, subject.precision, subject.runtime, stats["AP"], stats["AP50"],
                  pck(kp, gt, vis, val.boxes, 0.1)["mean"], per_kp["mean"], median_error(kp, gt, vis, val.boxes),
                  {k: per_kp[k] for k in COCO17.names},
                  {k: (float(offsets[j, 0]), float(offsets[j, 1])) for j, k in enumerate(COCO17.names)},
                  float(np.median(model_ms)), float(np.nanmedian(e2e_ms)) if np.isfinite(e2e_ms).any() else float("nan"),
                  notes=notes)
    return result


# ---- subjects --------------------------------------------------------------------------------
def our_subjects(names: list[str], backends: list[str]) -> list[Subject]:
    """Our shipped int8 files: one subject per (registry name, backend that reads a shipped file)."""
    out = []
    for name in names:
        spec = zoo.get_spec(name)
        for f in spec.files:
            backend = "tflite" if f.format == "tflite" else "onnxruntime"
            if f.precision != "int8" or backend not in backends:
                continue
            est = Estimator(name, backend=backend, precision="int8", threads=1, smoothing=None)
            crop = np.random.default_rng(0).standard_normal((1, 3, *est.input_hw)).astype(np.float32)

            def predict(frame: np.ndarray, box: np.ndarray, est: Estimator = est
                        ) -> tuple[np.ndarray, np.ndarray, float, float]:
                r = est.estimate(frame, box[None], track_ids=[0])
                return r.keypoints[0], r.scores[0], r.timings["infer"], r.timings["total"]

            runtime = f"{est.backend.name} (threads=1)"
            out.append(Subject(f"{name} int8 ({f.format})", tuple(est.input_hw), "int8", runtime, predict,
                               lambda est=est, crop=crop: est.backend.run(crop), est.close))
    return out


def movenet_subjects(models_dir: Path) -> list[Subject]:
    """MoveNet Lightning / Thunder from ``models_dir`` (those converted)."""
    out = []
    for peer in peers.movenet_peers(models_dir, threads=1):
        def predict(frame: np.ndarray, box: np.ndarray, peer: peers.MoveNetPeer = peer
                    ) -> tuple[np.ndarray, np.ndarray, float, float]:
            t = time.perf_counter()
            crops, matrices = peers.make_crops(frame, box[None], peer.info.input_hw)
            kp, scores, ms = peer.run_crops(crops)
            frame_kp = crops_to_frame(kp, matrices)
            return frame_kp[0], scores[0], float(ms[0]), (time.perf_counter() - t) * 1e3

        crop = np.random.default_rng(0).integers(0, 256, (*peer.info.input_hw, 3), dtype=np.uint8)
        out.append(Subject(peer.info.name, peer.info.input_hw, peer.info.precision, peer.info.runtime, predict,
                           lambda peer=peer, crop=crop: peer.run_one(crop), peer.close))
    return out


def mediapipe_subject(python: Path) -> Subject:
    """MediaPipe BlazePose full on every crop of the val set, in one process of its venv."""
    peer = peers.MediaPipePeer(python)

    def batch(val: ValSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        crops, matrices = [], []
        frames: dict[Path, np.ndarray] = {}
        for path, box in zip(val.files, val.boxes, strict=True):
            if path not in frames:
                frames = {path: cv2.imread(str(path), cv2.IMREAD_COLOR)}
            c, m = peers.make_crops(frames[path], box[None], peer.info.input_hw)
            crops.append(c[0])
            matrices.append(m[0])
        kp, scores, ms = peer.run_crops(np.stack(crops))
        logger.info("MediaPipe found a pose in %d of %d crops", int(peer.found.sum()), len(peer.found))
        return crops_to_frame(kp, np.stack(matrices)), scores, ms, peer.found

    return Subject(peer.info.name, peer.info.input_hw, peer.info.precision, peer.info.runtime, None, batch=batch)


# ---- report ------------------------------------------------------------------------------------
def _f(v: float, nd: int = 3) -> str:
    return "-" if v != v else f"{v:.{nd}f}"


def markdown(scores: list[Scores], val: ValSet, header: str) -> str:
    """The three tables: summary, per-keypoint PCK@0.2, per-keypoint mean signed offset."""
    lines = [header, "",
             "| model | input | precision | runtime | AP | AP50 | PCK@0.1 | PCK@0.2 | median err / box | "
             "model ms/crop | e2e ms/crop | model ms (interleaved) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in scores:
        lines.append(f"| {s.name} | {s.input_hw[0]}x{s.input_hw[1]} | {s.precision} | {s.runtime} | {_f(s.ap)} | "
                     f"{_f(s.ap50)} | {_f(s.pck10)} | {_f(s.pck20)} | {_f(s.median_error)} | {_f(s.model_ms, 2)} | "
                     f"{_f(s.e2e_ms, 2)} | {_f(s.interleaved_ms, 2)} |")
    lines += ["", f"Per-keypoint PCK@0.2 ({len(val.files)} people):", "",
              "| keypoint | " + " | ".join(s.name for s in scores) + " |",
              "|---|" + "---|" * len(scores)]
    for k in COCO17.names:
        lines.append(f"| {k} | " + " | ".join(_f(s.pck20_per_kp[k]) for s in scores) + " |")
    lines += ["", "Mean signed offset per keypoint, (pred - gt) / box side, as dx, dy (+x right, +y down):", "",
              "| keypoint | " + " | ".join(s.name for s in scores) + " |",
              "|---|" + "---|" * len(scores)]
    for k in COCO17.names:
        lines.append(f"| {k} | " + " | ".join(f"{s.offset_per_kp[k][0]:+.3f}, {s.offset_per_kp[k][1]:+.3f}"
                                               for s in scores) + " |")
    notes = [f"- {s.name}: {note}" for s in scores for note in s.notes]
    if notes:
        lines += ["", "Notes:", "", *notes]
    return "\n".join(lines) + "\n"


def plot(scores: list[Scores], path: Path, title: str) -> None:
    """PNG: latency (model-only ms per crop; interleaved when measured) vs PCK@0.2 and vs AP."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    for ax, metric, label in ((axes[0], "pck20", "PCK@0.2 (box-normalised)"), (axes[1], "ap", "COCO OKS AP")):
        for i, s in enumerate(scores):
            ms = s.interleaved_ms if s.interleaved_ms == s.interleaved_ms else s.model_ms
            marker = "o" if "int8" in s.name else "s"
            ax.scatter(ms, getattr(s, metric), color=f"C{i % 10}", marker=marker, s=50)
            ax.annotate(s.name, (ms, getattr(s, metric)), fontsize=7, xytext=(6, 4 - 10 * (i % 3)),
                        textcoords="offset points", color=f"C{i % 10}")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("model-only ms per crop, median, 1 thread (log)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ann", type=Path, default=VAL / "annotations" / "person_keypoints.json")
    p.add_argument("--images", type=Path, default=VAL / "images")
    p.add_argument("--limit", type=int, help="only the first N images")
    p.add_argument("--ours", nargs="*", default=["simdr_r50_128", "simdr_r50_64"], help="registry names")
    p.add_argument("--backends", default="onnxruntime,tflite", help="our backends (comma-separated)")
    p.add_argument("--peers-dir", type=Path, default=peers.MODELS_DIR, help="converted MoveNet files")
    p.add_argument("--mediapipe-python", type=Path, default=peers.MEDIAPIPE_PYTHON)
    p.add_argument("--no-mediapipe", action="store_true")
    p.add_argument("--repeats", type=int, default=50, help="interleaved model-only rounds (0: skip)")
    p.add_argument("--out-dir", type=Path, default=ROOT / "out" / "peers_accuracy")
    p.add_argument("--no-plot", action="store_true")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    """Score everything, write the outputs; 0 on success."""
    val = load_val(args.ann, args.images, args.limit)
    subjects = our_subjects(args.ours, args.backends.split(","))
    subjects += movenet_subjects(args.peers_dir)
    if not any(s.name.startswith("movenet") for s in subjects):
        logger.warning("no MoveNet files in %s (bash apps/peers_setup.sh makes them)", args.peers_dir)
    if not args.no_mediapipe:
        if args.mediapipe_python.exists():
            subjects.append(mediapipe_subject(args.mediapipe_python))
        else:
            logger.warning("no MediaPipe venv at %s: no MediaPipe row", args.mediapipe_python)
    try:
        results = []
        for s in subjects:
            logger.info("scoring %s on %d people", s.name, len(val.files))
            results.append(score(s, val))
        timed = {s.name: s.model_only for s in subjects if s.model_only is not None}
        if args.repeats > 0 and timed:
            times = time_interleaved_ms(timed, repeats=args.repeats, warmup=5)
            for r in results:
                if r.name in times:
                    r.interleaved_ms = float(np.median(times[r.name]))
    finally:
        for s in subjects:
            s.close()
    header = (f"Accuracy on {args.ann.relative_to(ROOT) if args.ann.is_relative_to(ROOT) else args.ann}: "
              f"{len(set(val.image_ids.tolist()))} images, {len(val.files)} people, ground-truth boxes "
              f"(square crop, padding {DEFAULT_PADDING}), no flip test; ms on this machine, 1 thread.")
    text = markdown(results, val, header)
    print(text)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "accuracy.md").write_text(text)
    (args.out_dir / "accuracy.json").write_text(json.dumps([strict_json_value(r.__dict__) for r in results], indent=1))
    if not args.no_plot:
        plot(results, args.out_dir / "accuracy.png", header)
    logger.info("wrote %s", args.out_dir)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except (EdgeposeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
