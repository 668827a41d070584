"""Learning curves of a run: ``log.csv`` (written by the engine) drawn to a PNG with matplotlib.

Three panels against training samples seen: the training loss (per logged step), box-normalised
PCK@0.05/0.1/0.2 and OKS AP (per validation), and the median keypoint error as a fraction of the
box side (per validation). :func:`extrapolate` fits power laws of the samples to the validation
points to say what more samples would give.
"""

from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgepose.atomic import write_atomic

logger = logging.getLogger(__name__)

_ACCURACY = ("PCK@0.2", "PCK@0.1", "PCK@0.05", "AP")


def read_training_log(path: str | Path) -> list[dict[str, float]]:
    """The rows of a ``log.csv`` as floats (empty cells dropped); ``samples`` filled in from
    ``step`` x the batch of the first row that has both, for logs written before that column."""
    rows: list[dict[str, float]] = []
    with Path(path).open(newline="") as fh:
        for raw in csv.DictReader(fh):
            row = {}
            for key, text in raw.items():
                if key is None or text in (None, ""):
                    continue
                try:
                    row[key] = float(text)
                except ValueError:
                    continue
            rows.append(row)
    per_step = next((r["samples"] / r["step"] for r in rows if r.get("step") and "samples" in r), None)
    for row in rows:
        if "samples" not in row and per_step is not None and "step" in row:
            row["samples"] = row["step"] * per_step
    return rows


def plot_training_log(log_csv: str | Path, out_png: str | Path) -> Path | None:
    """Draw ``log_csv`` to ``out_png``; returns the path, or None (logged) without matplotlib."""
    try:
        import matplotlib
        import matplotlib.ticker

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning("matplotlib is not installed, so %s is not drawn (pip install matplotlib)", out_png)
        return None
    rows = [r for r in read_training_log(log_csv) if "samples" in r]
    fig, (ax_loss, ax_acc, ax_err) = plt.subplots(1, 3, figsize=(15, 4.2))

    def series(key: str) -> tuple[list[float], list[float]]:
        pairs = [(r["samples"], r[key]) for r in rows if key in r and math.isfinite(r[key])]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    ax_loss.plot(*series("loss"), lw=0.8, label="step loss")
    ax_loss.plot(*series("train_loss"), "o-", label="epoch mean")
    ax_loss.set(title="training loss", xlabel="samples seen", yscale="log")
    plain = matplotlib.ticker.FuncFormatter(lambda value, _pos: f"{value:g}")  # 120, not 1.2 x 10^2
    ax_loss.yaxis.set_major_formatter(plain)
    ax_loss.yaxis.set_minor_formatter(plain)
    for key in _ACCURACY:
        x, y = series(key)
        if x:
            ax_acc.plot(x, [100 * v for v in y], "o-", label=key)
    ax_acc.set(title="validation, % (PCK box-normalised, OKS AP)", xlabel="samples seen")
    ax_err.plot(*series("median_error"), "o-", color="tab:red")
    ax_err.set(title="median error / box side", xlabel="samples seen")
    for ax in (ax_loss, ax_acc, ax_err):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(out_png)
    try:
        write_atomic(out, lambda tmp: fig.savefig(tmp, dpi=90, format="png"), fsync=False)
    finally:
        plt.close(fig)
    return out


# errors, fitted as power laws of the samples; every other metric is an accuracy in 0..1 whose
# miss rate (1 - value) is fitted as a power law, so that no extrapolation passes 1
_ERRORS = ("median_error",)


@dataclass(frozen=True)
class CurveFit:
    """A power law of the samples seen through one validation metric: a least-squares line
    ``ln(y) = intercept + slope * ln(samples)`` with ``y`` the metric itself for errors (the
    median error / box side) and ``y = 1 - metric`` (the miss rate) for accuracies in 0..1
    (PCK, AP). ``points`` is how many validations were fitted, from ``first_samples`` on.
    """

    metric: str
    slope: float
    intercept: float
    points: int
    first_samples: float
    last_samples: float
    last_value: float

    def value_at(self, samples: float) -> float:
        """The fitted metric after ``samples`` training samples."""
        y = math.exp(self.intercept + self.slope * math.log(samples))
        return y if self.metric in _ERRORS else 1.0 - y


def extrapolate(rows: list[dict[str, float]], metric: str, last: int = 0) -> CurveFit:
    """Fit ``metric`` of the validation rows of a training log (:func:`read_training_log`).

    Args:
        rows: log rows; those with both ``samples`` and a finite ``metric`` are the points.
        metric: a log.csv column, e.g. ``"PCK@0.1"`` (an accuracy, 0..1) or ``"median_error"``.
        last: fit only the last ``last`` points (0: all); early points of a warm start or of
            the warm-up phase bend the line.

    Raises:
        ValueError: fewer than two points, an error that is not positive, or an accuracy
            outside [0, 1).
    """
    points = [(r["samples"], r[metric]) for r in rows
              if "samples" in r and r["samples"] > 0 and metric in r and math.isfinite(r[metric])]
    if last > 0:
        points = points[-last:]
    if len(points) < 2:
        raise ValueError(f"{metric}: {len(points)} validation point(s) in the log; a fit needs at least 2")
    x = np.log([p[0] for p in points])
    y = np.array([p[1] for p in points], dtype=np.float64)
    if metric not in _ERRORS:
        if np.any((y < 0) | (y >= 1)):
            raise ValueError(f"{metric}: an accuracy fit needs values in [0, 1)")
        y = 1.0 - y
    elif np.any(y <= 0):
        raise ValueError(f"{metric}: a power-law fit needs positive values")
    slope, intercept = np.polyfit(x, np.log(y), 1)
    return CurveFit(metric=metric, slope=float(slope), intercept=float(intercept), points=len(points),
                    first_samples=points[0][0], last_samples=points[-1][0], last_value=points[-1][1])
