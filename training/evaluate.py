"""Evaluate a checkpoint (or an untrained model) on a validation set.

    python training/evaluate.py --checkpoint runs/simdr_r50_128/best.pt --val_ann ... --val_images ...
    python training/evaluate.py --model simdr_r18_64 --untrained --val_ann ... --val_images ...

Prints the metrics (COCO OKS AP/AR, or PCKh for MPII) as JSON. Any training config key
(``--flip_test false``, ``--val_detections ...``, ``--dataset mpii --mpii_gt_mat ...``)
may be given. ``--checkpoint`` takes a full ``.pt`` or a compact fp16 ``.xz`` checkpoint.

A user error (a missing file, an unknown key, a bad value) prints one line
``error: <what is wrong>`` on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from edgepose.cli import config_paths, require_paths, run_main
from edgepose.errors import InputError
from edgepose.train.config import load_config

USER_ERROR = 2  # exit status of a user error (argparse's usage errors exit 2 as well)


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="edgepose checkpoint (.pt, or compact .xz)")
    source.add_argument("--untrained", action="store_true", help="a randomly initialised --model (baseline)")
    parser.add_argument("--seed", type=int, default=0, help="initialisation seed with --untrained")
    args, overrides = parser.parse_known_args(argv)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the program; returns its exit status (:data:`USER_ERROR` after an ``error:`` line)."""
    return run_main(_main, argv, exit_code=USER_ERROR)


if __name__ == "__main__":
    sys.exit(main())
