"""Train a pose model: ``python training/train.py --config training/configs/<model>.yaml [--key value ...]``.

A thin wrapper kept for the docs, RECIPES.md and torchrun: ``python training/train.py ARGS`` is
``edgepose train ARGS`` (the program lives in ``edgepose.train.train_command``; see its docstring or
``--help`` for the keys). Several GPUs / nodes, same script:
``torchrun --nproc_per_node 4 training/train.py --config ...``. A user error prints one line
``error: <what is wrong>`` on stderr and exits with status 2.
"""

from __future__ import annotations

import sys

from edgepose.train.train_command import USER_ERROR, check_rendered, main

__all__ = ["USER_ERROR", "check_rendered", "main"]

if __name__ == "__main__":
    sys.exit(main())
