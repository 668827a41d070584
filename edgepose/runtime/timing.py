"""Wall-clock timing of repeated calls (torch-free; shared by edgepose.bench and the export verifier)."""

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


def time_interleaved_ms(fns: dict[str, Callable[[], Any]], *, repeats: int, warmup: int) -> dict[str, list[float]]:
    """Wall time in ms of ``repeats`` calls of each of ``fns``, taken in rounds.

    Each round calls every function once, starting one function later than the round
    before, so a slow spell of a shared machine (another process, a frequency change)
    lands on all of them alike and their ratios stay meaningful. ``warmup`` untimed rounds
    come first.

    Returns:
        ``{name: [ms per call]}`` with ``repeats`` entries each, keys in ``fns`` order.
    """
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(warmup + repeats):
        shift = i % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            fns[name]()
            if i >= warmup:
                times[name].append((time.perf_counter() - start) * 1e3)
    return times
