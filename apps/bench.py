"""Latency table (and plot) of exported pose models per backend and precision, with the peers.

A thin wrapper: ``python apps/bench.py ARGS`` is ``edgepose bench ARGS``
(:mod:`edgepose.commands.bench`; its docstring and ``--help`` give the options and what is
measured) plus the peers' rows, MoveNet and MediaPipe, which live in the clone
(``apps/bench_peers.py``; ``bash apps/peers_setup.sh`` makes their files). Examples::

    python apps/bench.py --models-dir exported/ --threads 4 --repeats 100 --people 4 --out bench.png
    python apps/bench.py --soak 10000 --model exported/simdr_r18_64_int8.onnx --threads 1
    python apps/bench.py --models-dir exported/ --mediapipe-python .peers/mediapipe-venv/bin/python
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # apps/bench_peers.py and apps/peers.py

from bench_peers import add_peer_args, peer_rows  # noqa: E402

from edgepose.cli import run_main  # noqa: E402
from edgepose.commands import bench as bench_command  # noqa: E402

__all__ = ["main", "parse_args"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The options of ``edgepose bench`` and the peers'."""
    return bench_command.parse_args(argv, extend=add_peer_args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench with the peers' rows; a user error raises (``run_main`` prints it as one line)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return bench_command.run(args, peers=lambda scene, frame: peer_rows(args, scene, frame), title="apps/bench.py")


if __name__ == "__main__":
    sys.exit(run_main(main, exit_code=2))
