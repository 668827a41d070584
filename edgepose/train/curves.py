"""Learning curves of a run: ``log.csv`` (written by the engine) drawn to a PNG with matplotlib.

Three panels against training samples seen: the training loss (per logged step), box-normalised
PCK@0.05/0.1/0.2 and OKS AP (per validation), and the median keypoint error as a fraction of the
box side (per validation).
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

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
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(out)
    return out
