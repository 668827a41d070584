"""The bench's rows as a text table and as CSV, and how our int8 files compare with the peers."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from edgepose.bench.row import Row

__all__ = ["compare_with_peers", "format_table", "write_csv"]

HEADER = ["file", "model", "input", "backend", "prec", "thr", "model med", "model p90", "e2e med", "e2e p90",
          "e2e/model", "batch", "1call", "loop", "batch/loop", "1call/loop", "GMAC", "GMAC/s", "MACs from",
          "model vs peer", "e2e vs peer"]


def compare_with_peers(rows: Sequence[Row]) -> None:
    """Fill ``model_vs_peer`` / ``e2e_vs_peer`` of our int8 rows: their median over the best
    (fastest) peer's; a peer row that found no person is left out of the comparison."""
    peer_rows = [r for r in rows if r.peer and r.found]
    best_model = min((r.model_med for r in peer_rows if r.model_med == r.model_med), default=float("nan"))
    best_e2e = min((r.e2e_med for r in peer_rows if r.e2e_med == r.e2e_med), default=float("nan"))
    for r in rows:
        if not r.peer and r.precision == "int8":
            r.model_vs_peer = r.model_med / best_model
            r.e2e_vs_peer = r.e2e_med / best_e2e


def _number(v: float, nd: int = 2) -> str:
    return "-" if v != v else f"{v:.{nd}f}"


def format_table(rows: Sequence[Row]) -> str:
    """The rows as aligned text columns (``-`` for what was not measured), with a header line."""
    f = _number
    lines = [[r.file, r.model, r.input_hw, r.backend, r.precision, r.threads, f(r.model_med), f(r.model_p90),
              f(r.e2e_med), f(r.e2e_p90), f(r.e2e_med / r.model_med), f(r.batch_med), f(r.onecall_med),
              f(r.loop_med), f(r.batch_med / r.loop_med), f(r.onecall_med / r.loop_med), f(r.gmac, 3),
              f(r.gmacs_per_s, 1), r.macs_from or "-", f(r.model_vs_peer), f(r.e2e_vs_peer)] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(HEADER, *lines, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*HEADER), fmt.format(*["-" * w for w in widths])]
    out += [fmt.format(*line) for line in lines]
    return "\n".join(out)


def write_csv(rows: Sequence[Row], path: str | Path) -> None:
    """Every field of every row, and ``gmacs_per_s``, as CSV at ``path`` (a header line first)."""
    fields = list(Row.__dataclass_fields__)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(fields + ["gmacs_per_s"])
        for r in rows:
            writer.writerow([getattr(r, k) for k in fields] + [r.gmacs_per_s])
