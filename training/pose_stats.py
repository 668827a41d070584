"""Print what the pose sampler produces: wrist height relative to hip and shoulder height,
per side and per pose family, for each pose sampler (v1, v2, pedestrian: family weights
and kinematics, issue 16 item 2).

    python training/pose_stats.py --n 200

Heights are in torso lengths of the average anny body (mid-hip to mid-shoulder, standing),
measured on posed bodies; the table is Markdown.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from edgepose.cli import run_main
from edgepose.data.synth import pose as synth_pose
from edgepose.data.synth.body import get_body_model
from edgepose.data.synth.pose_stats import format_table, wrist_height_table
from edgepose.errors import InputError

USER_ERROR = 2


def _main(argv: Sequence[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=200, help="poses per family and per mixture (default 200)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--samplers", nargs="+", default=sorted(synth_pose.POSE_SAMPLERS),
                   choices=sorted(synth_pose.POSE_SAMPLERS), help="family weightings to compare (default: all)")
    args = p.parse_args(argv)
    if args.n < 1:
        raise InputError(f"--n must be >= 1; got {args.n}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    body = get_body_model()
    for name in args.samplers:
        kinematics = synth_pose.SAMPLER_KINEMATICS[name]
        rows = wrist_height_table(body, synth_pose.POSE_SAMPLERS[name], args.n,
                                  synth_pose.POSE_KINEMATICS[kinematics], name, args.seed)
        sys.stdout.write(f"\nsampler {name} ({kinematics} kinematics)\n\n{format_table(rows)}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the program; returns its exit status (2 after an ``error:`` line)."""
    return run_main(_main, argv, exit_code=USER_ERROR)


if __name__ == "__main__":
    sys.exit(main())
