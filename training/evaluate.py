"""Evaluate a checkpoint (or an untrained model) on a validation set.

    python training/evaluate.py --checkpoint runs/simdr_r50_128/best.pt --val_ann ... --val_images ...
    python training/evaluate.py --model simdr_r18_64 --untrained --val_ann ... --val_images ...

Prints the metrics (COCO OKS AP/AR, or PCKh for MPII) as JSON. Any training config key
(``--flip_test false``, ``--val_detections ...``, ``--dataset mpii --mpii_gt_mat ...``)
may be given.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

import torch

from edgepose.nn import build
from edgepose.export.checkpoint import load_checkpoint
from edgepose.train.config import load_config
from edgepose.train.engine import build_val_dataset, validate
from edgepose.zoo import get_spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="edgepose checkpoint (.pt)")
    source.add_argument("--untrained", action="store_true", help="a randomly initialised --model (baseline)")
    parser.add_argument("--seed", type=int, default=0, help="initialisation seed with --untrained")
    args, overrides = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.checkpoint:
        loaded = load_checkpoint(args.checkpoint)
        model, spec = loaded.model, loaded.spec
        overrides = ["--model", spec.name, *overrides]
    else:
        torch.manual_seed(args.seed)
    config = load_config(None, overrides)
    if args.untrained:
        spec = get_spec(config.model)
        model = build(spec).eval()
    device = torch.device("cuda" if torch.cuda.is_available() and config.device != "cpu" else "cpu")
    metrics = validate(model.to(device), build_val_dataset(config, spec), spec, config, device)
    print(json.dumps({"model": spec.name, "checkpoint": args.checkpoint or "untrained", **metrics}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
