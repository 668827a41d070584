"""Soak test: memory and latency stability of the tracking pipeline over many frames.

:func:`soak` runs N frames of the moving scene through an Estimator in ``mode="track"`` with
One Euro smoothing on (every frame carries a timestamp) and reads the resident set size after
warm-up, every 10 % of the frames and at the end; :func:`format_soak` prints RSS, its growth,
and the drift of wall latency and of CPU time per frame (median of the first 10 % of frames
vs the last 10 %).
"""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass

import numpy as np

from edgepose.bench.scene import MovingScene
from edgepose.runtime.estimator import Estimator

__all__ = ["SoakReport", "drift", "format_soak", "rss_mb", "soak"]


def rss_mb() -> tuple[float, str]:
    """Resident set size of this process in MB (10^6 bytes), and where it was read.

    ``/proc/self/status`` (Linux), else ``psutil`` when installed, else the *peak* RSS
    from ``resource.getrusage`` (a leak still shows; a shrink does not).
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024 / 1e6, "/proc/self/status VmRSS"
    except OSError:
        pass
    try:
        import psutil

        return psutil.Process().memory_info().rss / 1e6, "psutil"
    except ImportError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
        return peak * (1 if sys.platform == "darwin" else 1024) / 1e6, "getrusage peak"


@dataclass
class SoakReport:
    """What :func:`soak` measured: RSS in MB; per-frame wall latency and process CPU time in ms
    (arrays of ``frames`` values); ``wall_s`` the timed frames' seconds; ``detections`` the
    frames that re-ran the detector, ``track_ids`` the ids started (warm-up included),
    ``filters`` the smoothing filters alive at the end."""

    frames: int
    warmup: int
    rss_start: float
    rss_end: float
    rss_trace: list[float]
    rss_source: str
    latency: np.ndarray
    cpu: np.ndarray
    wall_s: float
    detections: int
    track_ids: int
    filters: int

    @property
    def rss_growth(self) -> float:
        """RSS at the end less RSS after warm-up, MB."""
        return self.rss_end - self.rss_start


def drift(times: np.ndarray) -> tuple[float, float, float]:
    """(median of the first 10% of ``times``, median of the last 10%, last / first)."""
    k = max(1, len(times) // 10)
    first, last = float(np.median(times[:k])), float(np.median(times[-k:]))
    return first, last, last / first if first > 0 else float("nan")


def soak(est: Estimator, scene: MovingScene, frames: int, warmup: int, fps: float = 30.0) -> SoakReport:
    """Run ``warmup`` then ``frames`` frames of ``scene`` through ``est`` with timestamps
    ``i / fps`` s; RSS is read after warm-up (and a GC), every 10% of frames, and at the end.

    Wall latency includes time the process waits for a CPU; the CPU time per frame
    (``time.process_time``, all threads) does not, which keeps drift readable on a busy machine.
    """
    for i in range(warmup):
        est(scene(i), timestamp=i / fps)
    gc.collect()
    rss_start, source = rss_mb()
    trace, latency, cpu = [], np.empty(frames), np.empty(frames)
    every, detections, max_id = max(1, frames // 10), 0, -1
    t_start = time.perf_counter()
    for n in range(frames):
        i = warmup + n
        frame = scene(i)
        detections += est.tracker.needs_detection()
        t, c = time.perf_counter(), time.process_time()
        result = est(frame, timestamp=i / fps)
        latency[n], cpu[n] = (time.perf_counter() - t) * 1e3, (time.process_time() - c) * 1e3
        max_id = max(max_id, int(result.track_ids.max(initial=-1)))
        if (n + 1) % every == 0:
            trace.append(rss_mb()[0])
    wall = time.perf_counter() - t_start
    gc.collect()
    rss_end = rss_mb()[0]
    return SoakReport(frames, warmup, rss_start, rss_end, trace, source, latency, cpu, wall, detections,
                      max_id + 1, len(est.smoother) if est.smoother is not None else 0)


def format_soak(report: SoakReport, header: str, max_growth: float) -> str:
    """The soak table: ``header``, then one metric a line; the growth verdict against
    ``max_growth`` MB."""
    verdict = "ok" if report.rss_growth < max_growth else "FAIL"
    rows = [
        ("frames (after warm-up)", f"{report.frames} (+{report.warmup} warm-up), {report.wall_s:.1f} s"),
        ("rss start (after warm-up)", f"{report.rss_start:.2f} MB"),
        ("rss end", f"{report.rss_end:.2f} MB"),
        ("rss growth", f"{report.rss_growth:+.2f} MB ({verdict}: target < {max_growth:g} MB)"),
        ("rss every 10% of frames", " ".join(f"{v:.1f}" for v in report.rss_trace) + " MB"),
    ]
    for name, times in (("latency", report.latency), ("cpu time", report.cpu)):
        first, last, ratio = drift(times)
        rows += [
            (f"{name} median, first 10%", f"{first:.2f} ms"),
            (f"{name} median, last 10%", f"{last:.2f} ms"),
            (f"{name} drift (last / first)", f"{ratio:.3f}"),
            (f"{name} median / p99, all", f"{np.median(times):.2f} / {np.percentile(times, 99):.2f} ms"),
        ]
    rows += [
        ("re-detections / track ids started", f"{report.detections} / {report.track_ids} (ids count the warm-up)"),
        ("smoothing filters at end", str(report.filters)),
        ("rss read from", report.rss_source),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [header, f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 40}"]
    lines += [f"{k:<{width}}  {v}" for k, v in rows]
    return "\n".join(lines)
