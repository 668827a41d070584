#!/usr/bin/env python
"""A run's learning curve as a table, with what more samples would give.

    python training/curves.py runs/v2/simdr_r50_128
    python training/curves.py runs/v2/simdr_r50_128 --last 4 --at 3e6 --plot curves.png

Prints each validation (samples seen, PCK@0.05/0.1/0.2, median error / box side, OKS AP), then,
for each metric, a power law of the samples fitted to the validations (of the median error, and
of the miss rate 1 - value for PCK and AP) and its value at 2x the samples seen so far and at each
``--at``. The fit describes the trend of the run so far, not a promise: the decay of the learning
rate to zero adds a late gain the early points do not show, while a model that nears what it can
learn from its data gains less than the trend.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from edgepose.train.curves import extrapolate, plot_training_log, read_training_log

METRICS = ("PCK@0.05", "PCK@0.1", "PCK@0.2", "median_error", "AP")


def _fmt(metric: str, value: float) -> str:
    return f"{value:.4f}" if metric == "median_error" else f"{100 * value:.1f}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="a run folder (holds log.csv) or a log.csv file")
    p.add_argument("--last", type=int, default=0, help="fit only the last N validations (default: all)")
    p.add_argument("--at", type=float, action="append", default=[],
                   help="also extrapolate to this many samples (repeatable)")
    p.add_argument("--plot", type=Path, help="also draw the log to this PNG")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log_csv = args.run / "log.csv" if args.run.is_dir() else args.run
    if not log_csv.is_file():
        print(f"error: no log.csv at {log_csv} (give a run folder written by training/train.py)", file=sys.stderr)
        return 2
    if args.last < 0 or any(a <= 0 for a in args.at):
        print("error: --last must be >= 0 and --at a positive number of samples", file=sys.stderr)
        return 2
    rows = read_training_log(log_csv)
    vals = [r for r in rows if "samples" in r and "PCK@0.1" in r]
    print("| samples | " + " | ".join(METRICS) + " |")
    print("|---" * (len(METRICS) + 1) + "|")
    for r in vals:
        print(f"| {r['samples']:.0f} | " + " | ".join(_fmt(m, r[m]) if m in r else "-" for m in METRICS) + " |")
    if len(vals) < 2:
        print(f"error: {len(vals)} validation(s) in {log_csv}; the extrapolation needs at least 2", file=sys.stderr)
        return 2
    targets = [2 * vals[-1]["samples"], *args.at]
    print()
    print("| metric | fitted points | power (d ln y / d ln samples) | " + " | ".join(f"at {t:.3g}" for t in targets) + " |")
    print("|---" * (3 + len(targets)) + "|")
    for metric in METRICS:
        try:
            fit = extrapolate(rows, metric, last=args.last)
        except ValueError as exc:
            logging.getLogger(__name__).info("%s", exc)
            continue
        print(f"| {metric} | {fit.points} ({fit.first_samples:.3g}..{fit.last_samples:.3g}) | {fit.slope:+.4f} | "
              + " | ".join(_fmt(metric, fit.value_at(t)) for t in targets) + " |")
    if args.plot:
        plot_training_log(log_csv, args.plot)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main())
