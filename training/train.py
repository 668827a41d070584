"""Train a pose model: ``python training/train.py --config training/configs/<model>.yaml [--key value ...]``.

Single process: ``python training/train.py --config ...``.
Several GPUs / nodes, same script: ``torchrun --nproc_per_node 4 training/train.py --config ...``.
Every config key can be overridden on the command line (``--lr 5e-4 --epochs 10``);
``--help`` lists them. See training/RECIPES.md for the exact command per model.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from edgepose.train.config import TrainConfig, load_config
from edgepose.train.engine import run_training


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="config keys: " + ", ".join(TrainConfig.__dataclass_fields__),
    )
    parser.add_argument("--config", help="flat YAML config (training/configs/<model>.yaml)")
    args, overrides = parser.parse_known_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_config(args.config, overrides)
    summary = run_training(config)
    if rank == 0:
        print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
