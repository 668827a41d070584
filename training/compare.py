#!/usr/bin/env python
"""Compare trained checkpoints on one validation set: a markdown table for training/RECIPES.md.

    python training/compare.py runs/synth/simdr_r50_64/last.pt runs/synth/hm_r50_64/last.pt \
        --val_ann data/synth/val/annotations/person_keypoints.json --val_images data/synth/val/images
    python training/compare.py --untrained simdr_r18_64 runs/synth/simdr_r18_64/last.pt --val_ann ... --val_images ...

For each checkpoint (or ``--untrained NAME``: a randomly initialised registry model, the
baseline) it runs the training loop's validation (``edgepose.train.engine.validate``: COCO
OKS AP with ground-truth boxes and the flip test, plus box-normalised PCK@0.2 / @0.1) and
prints AP, AP50, AR, PCK, parameters, GMACs per crop, training steps x batch and the
training wall time (from the run's ``summary.json`` when it lies beside the checkpoint).
Any training config key may be added (``--flip_test false``, ``--val_max_images 100``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch

from edgepose.train.rebuild import load_checkpoint
from edgepose.nn import build
from edgepose.nn.complexity import count_params_and_macs
from edgepose.train.config import load_config
from edgepose.train.checkpoint import read_checkpoint
from edgepose.train.engine import build_val_dataset, validate
from edgepose.zoo import get_spec

HEADERS = ("model", "weights", "steps x batch", "train wall", "AP", "AP50", "AR", "PCK@0.2", "PCK@0.1",
           "params", "GMACs")


def row(model: torch.nn.Module, spec_name: str, label: str, overrides: list[str], train: dict) -> list[str]:
    spec = get_spec(spec_name)
    config = load_config(None, ["--model", spec.name, *overrides])
    metrics = validate(model.eval(), build_val_dataset(config, spec), spec, config, torch.device("cpu"))
    params, macs = count_params_and_macs(model, spec.input_hw)
    return [spec.name, label, train.get("steps", "-"), train.get("wall", "-"),
            f"{100 * metrics['AP']:.2f}", f"{100 * metrics['AP50']:.2f}", f"{100 * metrics['AR']:.2f}",
            f"{100 * metrics['PCK@0.2']:.1f}", f"{100 * metrics['PCK@0.1']:.1f}",
            f"{params / 1e6:.2f} M", f"{macs / 1e9:.2f}"]


def training_facts(checkpoint: Path, raw: dict) -> dict[str, str]:
    facts = {"steps": f"{raw.get('global_step', '?')} x {raw.get('config', {}).get('batch_size', '?')}"}
    summary = checkpoint.parent / "summary.json"
    if summary.is_file():
        facts["wall"] = f"{json.loads(summary.read_text())['wall_time_s'] / 60:.1f} min"
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="*", help="edgepose checkpoints (.pt)")
    parser.add_argument("--untrained", action="append", default=[], metavar="NAME",
                        help="also a randomly initialised registry model (seed 0)")
    args, overrides = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING)
    rows = []
    for name in args.untrained:
        torch.manual_seed(0)
        rows.append(row(build(get_spec(name)), name, "untrained", overrides, {"steps": "0"}))
    for path in map(Path, args.checkpoints):
        loaded = load_checkpoint(path)
        raw = read_checkpoint(path)
        rows.append(row(loaded.model, loaded.spec.name, str(path), overrides, training_facts(path, raw)))
    print("| " + " | ".join(HEADERS) + " |")
    print("|" + "---|" * len(HEADERS))
    for r in rows:
        print("| " + " | ".join(map(str, r)) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
