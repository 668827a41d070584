"""Plain-text tables for the export / quantization / verification command-line tools."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["OutputRecord", "format_table", "summary_table"]


@dataclass(frozen=True)
class OutputRecord:
    """One written file: ``path``, ``format`` ("onnx"/"tflite"), ``precision``, ``seconds`` taken,
    and the ``score_threshold`` stored in its metadata (None: none, the runtime uses the codec's)."""

    path: Path
    format: str
    precision: str
    seconds: float
    score_threshold: float | None = None

    @property
    def size_mb(self) -> float:
        """File size in MB (10^6 bytes)."""
        return self.path.stat().st_size / 1e6


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.2e}"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned text table with a header rule; floats get 3 decimals (or scientific)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join([line, rule, *body])


def summary_table(records: Sequence[OutputRecord]) -> str:
    """The closing table of export.py / int8.py: file, format, precision, size MB, seconds, score thr."""
    rows = [(str(r.path), r.format, r.precision, round(r.size_mb, 2), round(r.seconds, 1), r.score_threshold)
            for r in records]
    return format_table(("file", "format", "precision", "size MB", "seconds", "score thr"), rows)
