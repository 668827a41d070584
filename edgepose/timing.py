"""Wall-clock timing of repeated calls (torch-free; shared by apps/bench.py and the export verifier)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def time_calls_ms(fn: Callable[[], Any], *, repeats: int, warmup: int) -> list[float]:
    """Wall time in ms of each of ``repeats`` calls of ``fn()``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return times
