"""The bench's PNG (matplotlib, the ``apps`` extra): latency vs input size, latency vs accuracy, per-file bars."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgepose.bench.row import Row
from edgepose.errors import BackendNotInstalledError, install_hint

__all__ = ["model_family", "plot", "require_matplotlib"]

_SIZE_TOKEN = re.compile(r"^\d+(x\d+)?$")


def require_matplotlib() -> None:
    """Stop before measuring when the plot cannot be drawn (matplotlib is missing).

    Raises:
        BackendNotInstalledError: naming the extra to install and ``--no-plot``.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise BackendNotInstalledError(f"the bench draws its plot with matplotlib: {install_hint('apps')} "
                                       "(or pass --no-plot)") from None


def model_family(model: str) -> str:
    """A model name without its input-size token: ``simdr_r50_128`` -> ``simdr_r50``,
    ``hm_r50_256x192`` -> ``hm_r50``; other names are kept whole."""
    parts = [p for p in model.split("_") if not _SIZE_TOKEN.match(p)]
    return "_".join(parts) or model


def _pixels(input_hw: str) -> int | None:
    h, _, w = input_hw.partition("x")
    return int(h) * int(w) if h.isdigit() and w.isdigit() else None


def _size_panel(ax: Any, measured: Sequence[Row], peers: Sequence[Row]) -> None:
    """Model-only latency vs input size: one line per model family, precision and backend;
    peers measured end to end only as dashed lines."""
    series: dict[tuple[str, str, str], list[tuple[int, float]]] = {}
    ticks: dict[int, str] = {}
    for r in measured:
        pixels = _pixels(r.input_hw)
        if pixels is not None:
            series.setdefault((model_family(r.model), r.precision, r.backend), []).append((pixels, r.model_med))
            ticks[pixels] = r.input_hw
    for (family, precision, backend), points in sorted(series.items()):
        points.sort()
        ax.plot([p for p, _ in points], [ms for _, ms in points], marker="o", label=f"{family} {precision} {backend}")
    for r in peers:
        ax.axhline(r.e2e_med, linestyle="--", color="gray")
        ax.annotate(f"{r.model} (end to end)", (0.01, r.e2e_med), xycoords=("axes fraction", "data"),
                    fontsize=8, color="gray", va="bottom")
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    ax.set_xticks(sorted(ticks), [ticks[p] for p in sorted(ticks)])
    ax.minorticks_off()
    ax.set_xlabel("input size (H x W)")
    ax.set_ylabel("model-only latency, median ms")
    ax.set_title("latency vs input size")
    ax.legend(fontsize=7)


def _accuracy_panel(ax: Any, measured: Sequence[Row], accuracy_label: str) -> None:
    """Model-only latency vs the accuracy given for a file: colour per model and precision,
    marker per backend, one label per file."""
    known = [r for r in measured if r.accuracy == r.accuracy]
    markers = {"onnxruntime": "o", "openvino": "s", "tflite": "^"}
    colours: dict[tuple[str, str], str] = {}
    labelled: set[str] = set()
    for r in known:
        colour = colours.setdefault((r.model, r.precision), f"C{len(colours) % 10}")
        ax.scatter(r.model_med, r.accuracy, color=colour, marker=markers.get(r.backend, "D"))
        if r.file not in labelled:  # one label per file; the marker tells the backend
            labelled.add(r.file)
            ax.annotate(f"{r.model} {r.precision} ({Path(r.file).suffix[1:]})", (r.model_med, r.accuracy),
                        fontsize=7, xytext=(5, 3), textcoords="offset points", color=colour)
    for backend, marker in markers.items():
        if any(r.backend == backend for r in known):
            ax.scatter([], [], marker=marker, color="gray", label=backend)
    if known:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no accuracy given\n(--accuracy NAME=VALUE)", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlabel("model-only latency, median ms")
    ax.set_ylabel(accuracy_label)
    ax.set_title("latency vs accuracy")


def _bars_panel(ax: Any, rows: Sequence[Row]) -> None:
    """Model-only and end-to-end medians per row."""
    labels = [f"{r.model if r.peer else r.file} {r.backend} {r.precision}" for r in rows]
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [np.nan_to_num(r.model_med) for r in rows], 0.4, label="model only")
    ax.barh(y + 0.2, [np.nan_to_num(r.e2e_med) for r in rows], 0.4, label="end to end (1 tracked person)")
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("median ms")
    ax.set_title("per file")
    ax.legend(fontsize=7)


def plot(rows: Sequence[Row], path: Path, accuracy_label: str, title: str = "edgepose bench") -> None:
    """PNG at ``path`` with three panels: model-only latency vs input size (one line per model
    family, precision and backend; peers measured end to end only as dashed lines), latency vs
    accuracy for the files whose accuracy was given, and model-only / end-to-end bars.
    ``title`` is followed by the rows' thread count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in rows if r.model_med == r.model_med]
    peers = [r for r in rows if r.model_med != r.model_med and r.e2e_med == r.e2e_med]
    fig = plt.figure(figsize=(16, 6.5 + 0.3 * len(rows)))
    grid = fig.add_gridspec(2, 2, height_ratios=[6.0, 1.0 + 0.3 * len(rows)])
    _size_panel(fig.add_subplot(grid[0, 0]), measured, peers)
    _accuracy_panel(fig.add_subplot(grid[0, 1]), measured, accuracy_label)
    _bars_panel(fig.add_subplot(grid[1, :]), rows)
    fig.suptitle(f"{title}, threads={rows[0].threads}")
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
