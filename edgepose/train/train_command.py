r"""Train a pose model: ``edgepose train [--config FILE] [--key value ...]``.

Every config key can be given on the command line (``--model simdr_r18_64 --lr 5e-4
--epochs 10``); ``--help`` lists them. ``--config FILE`` reads a flat YAML of the same keys
first (a clone's training/configs/<model>.yaml); without it the keys start from their
defaults, so an installed package trains with no config file::

    edgepose train --model simdr_r18_64 --dataset coco \
        --train_ann data/coco/annotations/person_keypoints_train2017.json --train_images data/coco/train2017 \
        --val_ann data/coco/annotations/person_keypoints_val2017.json --val_images data/coco/val2017

In a clone, ``python training/train.py ...`` is the same program; several GPUs / nodes:
``torchrun --nproc_per_node 4 training/train.py --config ...``. See training/RECIPES.md for
the exact command per model.

A user error (an unknown key, a bad value, a missing file) prints one line
``error: <what is wrong>`` on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from edgepose.cli import CONFIG_INPUTS, ArgumentParser, config_paths, require_paths, run_main
from edgepose.errors import InputError
from edgepose.train.config import TrainConfig, load_config

__all__ = ["USER_ERROR", "check_rendered", "main"]

USER_ERROR = 2  # exit status of a user error (argparse's usage errors exit 2 as well)


def check_rendered(config: TrainConfig) -> None:
    """A synthetic data set is rendered by training/synth.py before training: say so when it is missing.

    Raises:
        InputError: ``--train_ann``/``--val_ann`` of a ``dataset: synthetic`` config does not exist.
    """
    if config.dataset != "synthetic":
        return
    for key in ("train_ann", "val_ann"):
        value = getattr(config, key)
        if value and not Path(value).exists():
            out = Path(value).parent.parent  # OUT/annotations/person_keypoints.json
            raise InputError(f"--{key} {value} does not exist: the synthetic data is not rendered yet; render it with "
                             f"python training/synth.py --out {out} (sizes and seeds: training/RECIPES.md), or run "
                             f"from the folder the config's paths are relative to (not {Path.cwd()})")


def _main(argv: Sequence[str] | None, prog: str | None = None) -> int:
    parser = ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="config keys: " + ", ".join(TrainConfig.__dataclass_fields__),
    )
    parser.add_argument("--config", help="flat YAML config of the keys below (a clone's "
                                         "training/configs/<model>.yaml); default: none, every key at its default")
    args, overrides = parser.parse_known_args(argv)
    require_paths([("--config", args.config, "file")])
    config = load_config(args.config, overrides)
    inputs = list(CONFIG_INPUTS)
    if config.resume:  # whether the run starts afresh (and loads these) is the engine's call
        inputs = [key for key in inputs if key not in ("pretrained", "init_checkpoint")]
    check_rendered(config)
    require_paths(config_paths(config, inputs))
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from edgepose.train.engine import run_training  # torch, the datasets: after the cheap checks

    summary = run_training(config)
    if rank == 0:
        print(json.dumps(summary, indent=1))
    return 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the program (``argv`` None: ``sys.argv[1:]``; ``prog``: the name in usage lines, None: ``sys.argv[0]``);
    returns its exit status (:data:`USER_ERROR` after an ``error:`` line)."""
    return run_main(lambda a: _main(a, prog), argv, exit_code=USER_ERROR)
