"""Evaluate a pose model: the yardstick on val sets with ground-truth boxes, or the training loop's validation.

Yardstick (``--val``): every metric of :mod:`edgepose.yardstick` (AP with COCO's segment area
and with the box area, PCK@0.05/0.1/0.2, median error, per-keypoint PCK@0.1 and mean signed
offset, left/right swap rate) for a checkpoint, an exported file or a reference peer, on one
or several val sets, printed as tables (and written with ``--json``)::

    python training/evaluate.py --exported simdr_r50_128 --val in_domain=data/synth/val \\
        --val ood=data/synth/ood_val --reference movenet_thunder --json out/eval.json
    python training/evaluate.py --checkpoint runs/simdr_r50_64/best.pt --val data/synth/val --flip
    python training/evaluate.py --exported model_int8.tflite --val data/synth/val --visibility visible

* ``--val NAME=FOLDER`` (repeatable; ``FOLDER`` alone is named after the folder): a folder with
  ``annotations/person_keypoints.json`` and ``images/`` (what ``training/synth.py`` writes).
* the model: ``--checkpoint`` (a ``.pt`` or compact ``.xz``) or ``--untrained --model NAME``,
  both run in torch; or ``--exported`` (an ``.onnx``/``.tflite``/``.xml`` file, or a registry
  name for its shipped file, ``--precision int8`` by default), run by the torch-free
  ``edgepose.Estimator``.
* ``--reference movenet_thunder`` / ``movenet_lightning`` (repeatable): the MoveNet peer of
  ``apps/peers.py`` on the same crops. Its converted files live in ``.peers/models`` (made by
  ``bash apps/peers_setup.sh``).

Every model sees the crops the Estimator cuts from the ground-truth boxes (grown to its input's
aspect ratio, padded by 1.25) at its own input size; there is no flip test unless ``--flip``
(checkpoints only). Distances are in box sides ``max(w, h)`` of the ground-truth box.

Boxes are taken as the annotation file gives them, as a user passes boxes to the Estimator. The
training log cuts its crops from boxes clipped the official way (to the image, ``w - 1`` and
``h - 1``), so its numbers differ slightly; on the same boxes, with ``--flip``, AP, PCK and the
median error are the log's exactly (``tests/test_yardstick_cli.py``).

Training-loop validation (no ``--val``; as ``training/train.py`` validates)::

    python training/evaluate.py --checkpoint runs/simdr_r50_128/best.pt --val_ann ... --val_images ...
    python training/evaluate.py --model simdr_r18_64 --untrained --val_ann ... --val_images ...

prints the engine's metrics (COCO OKS AP/AR with ``--val_detections`` boxes, or PCKh for MPII)
as JSON; any training config key (``--flip_test false``, ``--dataset mpii --mpii_gt_mat ...``)
may be given.

A user error (a missing file, an unknown option, a bad value) prints one line
``error: <what is wrong>`` on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from edgepose.cli import config_paths, require_paths, run_main
from edgepose.errors import InputError
from edgepose.evaluate import strict_json_value
from edgepose.skeleton import COCO17, KeypointSet
from edgepose.zoo import ModelSpec
from edgepose.yardstick import (
    PCK_ALPHAS,
    PER_KEYPOINT_ALPHA,
    VISIBILITY_MIN_V,
    VISIBILITY_TEXT,
    GroundTruthPeople,
    load_people,
    yardstick,
)

USER_ERROR = 2  # exit status of a user error (argparse's usage errors exit 2 as well)
ROOT = Path(__file__).resolve().parents[1]
ANNOTATIONS = Path("annotations") / "person_keypoints.json"
PADDING = 1.25
logger = logging.getLogger("edgepose.training.evaluate")

#: frame (H, W, 3) uint8 BGR, boxes (N, 4) xywh px -> keypoints (N, K, 2) frame px, scores (N, K)
RunFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class Subject(NamedTuple):
    """A model under test: its label, input (H, W), keypoint set, how it runs and how it closes."""

    label: str
    input_hw: tuple[int, int]
    keypoint_set: KeypointSet
    run: RunFn
    close: Callable[[], None] = lambda: None


# ---- arguments -------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--checkpoint", help="edgepose checkpoint (.pt, or compact .xz)")
    source.add_argument("--untrained", action="store_true", help="a randomly initialised --model (baseline)")
    source.add_argument("--exported", help="with --val: an .onnx/.tflite/.xml file or a registry name (shipped file)")
    parser.add_argument("--model", help="registry name of the --untrained model")
    parser.add_argument("--seed", type=int, default=0, help="initialisation seed with --untrained")
    parser.add_argument("--val", action="append", default=[], metavar="NAME=FOLDER",
                        help="a val set (repeatable): FOLDER holds annotations/person_keypoints.json and images/")
    parser.add_argument("--reference", action="append", default=[], metavar="PEER",
                        help="with --val: score a peer too (repeatable): movenet_thunder, movenet_lightning")
    parser.add_argument("--peers-dir", type=Path, default=None,
                        help="folder of the converted MoveNet files (default .peers/models)")
    parser.add_argument("--visibility", default="labelled",
                        help="with --val: keypoints counted by PCK, errors, offsets, swaps: labelled (v>=1) or "
                             "visible (v=2)")
    parser.add_argument("--flip", action="store_true", help="with --val and --checkpoint/--untrained: flip test")
    parser.add_argument("--backend", default=None, help="with --exported: onnxruntime, tflite or openvino")
    parser.add_argument("--precision", default="int8", help="with --exported NAME: the shipped file's precision")
    parser.add_argument("--threads", type=int, default=1,
                        help="with --val: runtime (and torch CPU) threads (default 1)")
    parser.add_argument("--json", type=Path, default=None, help="with --val: also write the results here")
    return parser


def parse_val_sets(values: list[str]) -> list[tuple[str, Path]]:
    """``["NAME=FOLDER" or "FOLDER", ...]`` -> ``[(name, folder)]``, folders checked, names unique."""
    out: list[tuple[str, Path]] = []
    for value in values:
        name, sep, folder = value.partition("=")
        if not sep:
            name, folder = Path(value).name, value
        if not name or not folder:
            raise InputError(f"--val {value!r}: expected NAME=FOLDER")
        path = Path(folder)
        if not (path / ANNOTATIONS).is_file():
            raise InputError(f"--val {value}: no {ANNOTATIONS} in {path} (render a val set with training/synth.py)")
        if not (path / "images").is_dir():
            raise InputError(f"--val {value}: no images/ folder in {path}")
        if name in [n for n, _ in out]:
            raise InputError(f"--val names must be unique; {name!r} is given twice")
        out.append((name, path))
    return out


# ---- subjects ------------------------------------------------------------------------------------
def estimator_subject(model: str, backend: str | None, precision: str, threads: int) -> Subject:
    """An exported file (or a registry name's shipped file) through the torch-free Estimator."""
    from edgepose import Estimator

    est = Estimator(model, backend=backend, precision=precision if not Path(model).suffix else None,
                    threads=threads, smoothing=None, batching="batch")

    def run(frame: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        result = est.estimate(frame, boxes, track_ids=np.arange(len(boxes)))
        return result.keypoints.astype(np.float64), result.scores.astype(np.float64)

    fmt = est.backend.path.suffix.lstrip(".")
    label = f"{model} {precision} ({fmt})" if not Path(model).suffix else f"{Path(model).name} ({est.backend.name})"
    return Subject(label, tuple(est.input_hw), est.keypoint_set, run, est.close)


def torch_runner(model: Any, spec: ModelSpec, flip: bool, device: Any = "cpu") -> RunFn:
    """How a torch pose ``model`` of ``spec`` runs on the Estimator's crops (with the flip test when ``flip``)."""
    import torch

    from edgepose.evaluate import predict_with_flip
    from edgepose.preprocess import crops_to_frame, preprocess_crops

    codec, flip_index = spec.build_codec(), spec.keypoints().flip_index()

    def forward(batch: Any) -> Any:
        with torch.no_grad():
            out = model(torch.as_tensor(np.ascontiguousarray(batch)).to(device))
        return tuple(o.float().cpu().numpy() for o in out) if isinstance(out, tuple) else out.float().cpu().numpy()

    def run(frame: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        batch, matrices = preprocess_crops(frame, boxes, spec.input_spec, padding=PADDING)
        kp, scores = predict_with_flip(forward, batch, codec, flip_index) if flip else codec.decode(forward(batch))
        return crops_to_frame(kp, matrices), np.asarray(scores, dtype=np.float64)

    return run


def torch_subject(checkpoint: str | None, model_name: str | None, seed: int, flip: bool, threads: int) -> Subject:
    """A checkpoint (or an untrained registry model) in torch, on the Estimator's crops (``threads`` CPU threads)."""
    import torch

    torch.set_num_threads(threads)
    if checkpoint:
        from edgepose.train.rebuild import load_checkpoint

        loaded = load_checkpoint(checkpoint)
        model, spec, label = loaded.model, loaded.spec, f"{Path(checkpoint).name} ({loaded.spec.name}, torch)"
    else:
        from edgepose.nn import build
        from edgepose.zoo import get_spec

        if not model_name:
            raise InputError("--untrained needs --model NAME (a registry name)")
        spec = get_spec(model_name)
        torch.manual_seed(seed)
        model, label = build(spec), f"{model_name} untrained (seed {seed}, torch)"
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    run = torch_runner(model.eval().to(device), spec, flip, device)
    return Subject(label + (" flip" if flip else ""), tuple(spec.input_hw), spec.keypoints(), run)


def reference_subject(name: str, peers_dir: Path | None, threads: int) -> Subject:
    """A MoveNet peer of apps/peers.py (its converted TFLite file must exist)."""
    sys.path.insert(0, str(ROOT / "apps"))
    import peers  # apps/peers.py: not part of the edgepose package

    if name not in peers.MOVENET_FILES:
        raise InputError(f"--reference {name}: unknown peer; choose from {', '.join(peers.MOVENET_FILES)}")
    path = (peers_dir or peers.MODELS_DIR) / peers.MOVENET_FILES[name]
    if not path.is_file():
        raise InputError(f"--reference {name}: {path} is missing; make it with: bash apps/peers_setup.sh")
    peer = peers.MoveNetPeer(path, threads=threads, name=name)

    def run(frame: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return peers.estimate(peer, frame, boxes, padding=PADDING)

    return Subject(f"{name} (reference)", peer.info.input_hw, COCO17, run, peer.close)


# ---- scoring ---------------------------------------------------------------------------------------
def predict_val_set(subject: Subject, folder: Path, people: GroundTruthPeople) -> tuple[np.ndarray, np.ndarray]:
    """Run ``subject`` on every person of a val set (one call per image): (N, K, 2) image px, (N, K)."""
    import cv2

    n, k = len(people), subject.keypoint_set.num_keypoints
    keypoints, scores = np.zeros((n, k, 2)), np.zeros((n, k))
    start = 0
    while start < n:
        stop = start
        while stop < n and people.image_ids[stop] == people.image_ids[start]:
            stop += 1
        path = folder / "images" / people.file_names[start]
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            raise InputError(f"cannot read image {path}")
        keypoints[start:stop], scores[start:stop] = subject.run(frame, people.boxes[start:stop])
        start = stop
    return keypoints, scores


def evaluate_all(subjects: list[Subject], val_sets: list[tuple[str, Path]], visibility: str) -> list[dict[str, Any]]:
    """Every subject on every val set: ``[{"val", "folder", "model", "seconds", **yardstick report}]``."""
    loaded = [(name, folder, load_people(folder / ANNOTATIONS)) for name, folder in val_sets]
    for name, _, people in loaded:  # every pairing is checked before the first model runs
        for subject in subjects:
            if people.keypoints.shape[1] != subject.keypoint_set.num_keypoints:
                raise InputError(f"--val {name}: {people.keypoints.shape[1]} keypoints per person; {subject.label} "
                                 f"predicts {subject.keypoint_set.num_keypoints} ({subject.keypoint_set.name})")
    rows = []
    for name, folder, people in loaded:
        for subject in subjects:
            logger.info("%s on %s: %d people in %d images", subject.label, name, len(people),
                        len(set(people.image_ids.tolist())))
            t0 = time.perf_counter()
            kp, scores = predict_val_set(subject, folder, people)
            seconds = time.perf_counter() - t0
            report = yardstick(people, kp, scores, subject.keypoint_set, input_hw=subject.input_hw,
                               visibility=visibility, padding=PADDING)
            rows.append({"val": name, "folder": str(folder), "model": subject.label, "seconds": round(seconds, 1),
                         **report})
    return rows


# ---- report --------------------------------------------------------------------------------------
def _f(value: float, digits: int = 3) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _signed(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:+.3f}"


def tables(rows: list[dict[str, Any]], visibility: str, flip: bool) -> str:
    """Markdown: the summary table, then per val set the per-keypoint PCK@0.1 and mean signed offsets."""
    alphas = [f"pck@{a:g}" for a in PCK_ALPHAS]
    lines = [
        f"Ground-truth boxes (crop padding {PADDING}), flip test {'on (torch models)' if flip else 'off'}; "
        f"PCK, median error, offsets and swaps count {VISIBILITY_TEXT[visibility]} keypoints, in box sides "
        f"max(w, h); AP counts v>=1 (COCO). AP segm: the file's area (COCO's segment area); AP box: box w*h.",
        "",
        "| val | model | people | AP segm | AP box | AP50 box | " + " | ".join(a.upper() for a in alphas)
        + " | median err | swap rate |",
        "|---|---|---|---|---|---|" + "---|" * len(alphas) + "---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['val']} | {r['model']} | {r['people']} | {_f(r['ap_segm_area'])} | "
                     f"{_f(r['ap_box_area'])} | {_f(r['ap50_box_area'])} | " + " | ".join(_f(r[a]) for a in alphas)
                     + f" | {_f(r['median_error'], 4)} | {_f(r['swap_rate'])} |")
    per_kp = f"pck@{PER_KEYPOINT_ALPHA:g}_per_keypoint"
    for val in dict.fromkeys(r["val"] for r in rows):
        group = [r for r in rows if r["val"] == val]
        names = list(group[0][per_kp])
        lines += ["", f"{val}: per keypoint PCK@{PER_KEYPOINT_ALPHA:g} and mean signed offset (pred - gt) / box side "
                      "as dx, dy (+x right, +y down); swap rate per pair below.", "",
                  "| keypoint | " + " | ".join(f"{r['model']} PCK | dx, dy" for r in group) + " |",
                  "|---|" + "---|---|" * len(group)]
        for k in names:
            cells = []
            for r in group:
                dx, dy = r["offset_per_keypoint"][k]
                cells.append(f"{_f(r[per_kp][k])} | {_signed(dx)}, {_signed(dy)}")
            lines.append(f"| {k} | " + " | ".join(cells) + " |")
        pairs = list(group[0]["swap_rate_per_pair"])
        lines += ["", "| swap rate | " + " | ".join(pairs) + " | all (eligible pairs) |",
                  "|---|" + "---|" * (len(pairs) + 1)]
        for r in group:
            lines.append(f"| {r['model']} | " + " | ".join(_f(r["swap_rate_per_pair"][p]) for p in pairs)
                         + f" | {_f(r['swap_rate'])} ({r['swap_eligible']}) |")
    return "\n".join(lines) + "\n"


def _yardstick_main(args: argparse.Namespace, overrides: list[str]) -> int:
    if overrides:
        raise InputError(f"unknown option {overrides[0]!r} with --val (training config keys go with --val_ann); "
                         "see --help")
    if args.visibility not in VISIBILITY_MIN_V:
        raise InputError(f"--visibility must be labelled or visible; got {args.visibility!r}")
    if args.threads < 1:
        raise InputError(f"--threads must be >= 1; got {args.threads}")
    if args.flip and not (args.checkpoint or args.untrained):
        raise InputError("--flip applies to --checkpoint / --untrained (exported files and peers run without it)")
    if not (args.checkpoint or args.untrained or args.exported or args.reference):
        raise InputError("nothing to evaluate: give --checkpoint, --untrained, --exported or --reference")
    val_sets = parse_val_sets(args.val)
    require_paths([("--checkpoint", args.checkpoint, "file"), ("--json", args.json and args.json.parent, "dir")])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("edgepose.evaluate").setLevel(logging.WARNING)  # the tables say it all
    subjects: list[Subject] = []
    try:
        for name in args.reference:  # the cheap checks (a missing peer file) before loading a model
            subjects.append(reference_subject(name, args.peers_dir, args.threads))
        if args.exported:
            subjects.insert(0, estimator_subject(args.exported, args.backend, args.precision, args.threads))
        elif args.checkpoint or args.untrained:
            subjects.insert(0, torch_subject(args.checkpoint, args.model, args.seed, args.flip, args.threads))
        rows = evaluate_all(subjects, val_sets, args.visibility)
    finally:
        for subject in subjects:
            subject.close()
    print(tables(rows, args.visibility, args.flip))
    if args.json:
        settings = {"padding": PADDING, "flip_test": args.flip, "keypoints_counted": VISIBILITY_TEXT[args.visibility],
                    "normaliser": "box side max(w, h) of the ground-truth box",
                    "val": {n: str(f) for n, f in val_sets}, "threads": args.threads}
        args.json.write_text(json.dumps(strict_json_value({"settings": settings, "results": rows}), indent=1))
        logger.info("wrote %s", args.json)
    return 0


def _training_validation_main(args: argparse.Namespace, overrides: list[str]) -> int:
    from edgepose.train.config import load_config

    for flag, given in (("--exported", args.exported), ("--reference", args.reference), ("--json", args.json),
                        ("--flip", args.flip)):
        if given:
            raise InputError(f"{flag} needs --val NAME=FOLDER (the yardstick)")
    if not (args.checkpoint or args.untrained):
        raise InputError("give --checkpoint or --untrained (or --val NAME=FOLDER for the yardstick)")
    if args.model:
        overrides = ["--model", args.model, *overrides]
    config = load_config(None, overrides)  # unknown keys and bad values fail before anything is loaded
    if not config.val_ann:
        raise InputError("--val_ann is required (the annotation file of the validation set)")
    require_paths([("--checkpoint", args.checkpoint, "file"),
                   *config_paths(config, ("val_ann", "val_images", "val_detections", "mpii_gt_mat"))])
    if not config.val_images:
        require_paths(config_paths(config, ("train_images",)))  # the images when --val_images is not given
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    import torch

    from edgepose.train.rebuild import load_checkpoint
    from edgepose.nn import build
    from edgepose.zoo import get_spec

    if args.checkpoint:
        loaded = load_checkpoint(args.checkpoint)
        model, spec = loaded.model, loaded.spec
        config = load_config(None, ["--model", spec.name, *overrides])
    else:
        torch.manual_seed(args.seed)
        spec = get_spec(config.model)
        model = build(spec).eval()
    from edgepose.train.engine import build_val_dataset, validate  # the datasets and metrics stack

    device = torch.device("cuda" if torch.cuda.is_available() and config.device != "cpu" else "cpu")
    metrics = validate(model.to(device), build_val_dataset(config, spec), spec, config, device)
    print(json.dumps({"model": spec.name, "checkpoint": args.checkpoint or "untrained", **metrics}, indent=1))
    return 0


def _main(argv: Sequence[str] | None) -> int:
    args, overrides = build_parser().parse_known_args(argv)
    if args.val:
        return _yardstick_main(args, overrides)
    return _training_validation_main(args, overrides)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the program; returns its exit status (:data:`USER_ERROR` after an ``error:`` line)."""
    return run_main(_main, argv, exit_code=USER_ERROR)


if __name__ == "__main__":
    sys.exit(main())
