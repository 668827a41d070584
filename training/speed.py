"""Training throughput on this machine, in one run: loader alone, model alone, whole recipes.

    python training/speed.py                       # all three tables, simdr_r50_128 and simdr_r50_64
    python training/speed.py --parts model --models simdr_r50_64 --steps 20

Tables (samples/s; rates are described in edgepose/train/speed.py):

1. loader alone, per model input size and worker count;
2. model alone (forward + backward + Adam), batch ``--batch``, fp32 / bf16, with and without
   channels_last, and the ratio to fp32;
3. whole recipes: ``--baseline`` (today's synthetic recipe, run as it was: fp32, NCHW) and
   ``--recipe`` (the new one), each with its real loader and its validation interval, and
   their ratio.

Needs the synthetic data of training/RECIPES.md (``data/synth/train``, ``data/synth/val``) or
any COCO-format set passed with ``--train_ann/--train_images/--val_ann/--val_images``.
Pause other work on the machine while it runs (the numbers are shares of the same cores).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars between the table rows (read when tqdm loads)

import torch  # noqa: E402

from edgepose.cli import run_main  # noqa: E402
from edgepose.train.config import load_config  # noqa: E402
from edgepose.train.engine import build_datasets, collate  # noqa: E402
from edgepose.train.speed import loader_rate, model_rate, recipe_rate  # noqa: E402
from edgepose.zoo import get_spec  # noqa: E402

BASELINE = "training/configs/synthetic/simdr_r50_128_phase3.yaml"
BASELINE_OVERRIDES = ["--precision", "fp32", "--channels_last", "false", "--init_checkpoint", ""]
RECIPE = "training/configs/synthetic/simdr_r50_128_v2.yaml"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default="loader,model,recipe", help="which tables (default: all three)")
    p.add_argument("--models", default="simdr_r50_128,simdr_r50_64", help="models of tables 1 and 2")
    p.add_argument("--batch", type=int, default=32, help="batch size of tables 1 and 2 (default 32)")
    p.add_argument("--steps", type=int, default=12, help="timed steps per model row (default 12)")
    p.add_argument("--loader-batches", type=int, default=20, help="timed batches per loader row (default 20)")
    p.add_argument("--workers", default="0,1,2", help="loader worker counts of table 1 (default 0,1,2)")
    p.add_argument("--recipe-steps", type=int, default=40, help="timed training steps per recipe (default 40)")
    p.add_argument("--recipe-workers", default="", help="also run the new recipe with these loader worker "
                   "counts (e.g. 0,2; default: only the config's own)")
    p.add_argument("--baseline", default=BASELINE, help=f"today's recipe config (default {BASELINE}, run in "
                   "fp32 without channels_last as it was)")
    p.add_argument("--recipe", default=RECIPE, help=f"the new recipe config (default {RECIPE})")
    p.add_argument("--train_ann", default="data/synth/train/annotations/person_keypoints.json")
    p.add_argument("--train_images", default="data/synth/train/images")
    p.add_argument("--val_ann", default="data/synth/val/annotations/person_keypoints.json")
    p.add_argument("--val_images", default="data/synth/val/images")
    args = p.parse_args(argv)
    args.parts = [s for s in args.parts.split(",") if s]
    unknown = set(args.parts) - {"loader", "model", "recipe"}
    if unknown:
        p.error(f"--parts takes loader, model and recipe; got {', '.join(sorted(unknown))}")
    for name in ("workers", "recipe_workers"):
        text = getattr(args, name)
        try:
            setattr(args, name, [int(w) for w in text.split(",") if w])
        except ValueError:
            p.error(f"--{name.replace('_', '-')} takes comma-separated integers; got {text!r}")
    return args


def data_overrides(args: argparse.Namespace) -> list[str]:
    return ["--train_ann", args.train_ann, "--train_images", args.train_images,
            "--val_ann", args.val_ann, "--val_images", args.val_images]


def _main(argv: Sequence[str] | None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name in args.models.split(","):
        config = load_config(None, ["--model", name, "--dataset", "synthetic", *data_overrides(args),
                                    "--batch_size", str(args.batch), "--scale_factor", "0.35",
                                    "--rotation_prob", "0", "--half_body_prob", "0",
                                    "--shift_factor", "0.12", "--shift_prob", "0.5"])
        spec = get_spec(name)
        train_set, _ = build_datasets(config, spec)
        if "loader" in args.parts:
            print(f"\n[1] loader alone, {name} ({spec.input_hw[1]}x{spec.input_hw[0]} crops), batch {args.batch}")
            print("| workers | samples/s |\n|---|---|")
            for workers in args.workers:
                rate = loader_rate(train_set, args.batch, workers, args.loader_batches)
                print(f"| {workers} | {rate:.0f} |", flush=True)
        if "model" in args.parts:
            batch = collate([train_set[i] for i in range(args.batch)])
            print(f"\n[2] model alone, {name}, batch {args.batch}, forward + backward + Adam")
            print("| precision | channels_last | samples/s | x fp32 |\n|---|---|---|---|")
            base = None
            for precision in ("fp32", "bf16"):
                for channels_last in (False, True):
                    rate = model_rate(spec, batch, precision, channels_last, args.steps)
                    base = base or rate
                    print(f"| {precision} | {channels_last} | {rate:.1f} | {rate / base:.2f} |", flush=True)
    if "recipe" in args.parts:
        print(f"\n[3] whole recipes: real loader, model, validation at the recipe's interval "
              f"({args.recipe_steps} timed steps + one validation each)")
        print("| recipe | config | precision | channels_last | workers | train samples/s | val s "
              "| val every (samples) | end-to-end samples/s |\n|---|---|---|---|---|---|---|---|---|")
        rates = {}
        runs = [("today", args.baseline, BASELINE_OVERRIDES), ("new", args.recipe, [])]
        runs += [(f"new, {w} workers", args.recipe, ["--workers", str(w)]) for w in args.recipe_workers]
        for label, path, extra in runs:
            config = load_config(path, [*data_overrides(args), *extra])
            timing = recipe_rate(config, args.recipe_steps)
            rates[label] = timing.end_to_end_rate
            print(f"| {label} | {path} | {config.precision} | {config.channels_last} | {config.workers} "
                  f"| {timing.train_rate:.1f} | {timing.val_s:.1f} | {timing.val_interval_samples} "
                  f"| {timing.end_to_end_rate:.1f} |", flush=True)
        print(f"\nend-to-end new / today: {rates['new'] / rates['today']:.2f}x")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the program; a user error (missing data, a bad config) is one ``error:`` line, status 2."""
    return run_main(_main, argv, exit_code=2)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
