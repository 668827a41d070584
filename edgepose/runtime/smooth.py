"""Temporal smoothing of keypoints with the One Euro filter (Casiez, Roussel & Vogel, CHI 2012).

The One Euro filter is an exponential smoother whose cutoff frequency rises with speed:
``cutoff = min_cutoff + beta * |dx/dt|``. Slow motion (jitter) is smoothed strongly, fast
motion is followed with little lag. Units here: positions in frame pixels, time in
seconds, frequencies in Hz, so ``beta`` is in 1/px (the cutoff grows by ``beta`` Hz per
px/s of speed).

Tuning: lower ``min_cutoff`` to remove more jitter at rest (at the cost of lag on slow
moves); raise ``beta`` to cut lag on fast moves (at the cost of jitter while moving).
The defaults suit a 30 fps, VGA-sized person; scale ``beta`` inversely with the person's
size in pixels.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from edgepose.errors import InputError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OneEuroParams:
    """Parameters of the One Euro filter.

    Attributes:
        min_cutoff: cutoff frequency at rest, Hz (> 0).
        beta: speed coefficient, Hz per (px/s) (>= 0).
        d_cutoff: cutoff frequency of the speed estimate, Hz (> 0).
    """

    min_cutoff: float = 1.0
    beta: float = 0.05
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        if not (self.min_cutoff > 0 and self.d_cutoff > 0 and self.beta >= 0):
            raise InputError(
                f"One Euro parameters need min_cutoff > 0, d_cutoff > 0, beta >= 0; got {self}"
            )


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Smoothing factor of a first-order low-pass with ``cutoff`` Hz over ``dt`` s."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One Euro filter over an array of values of fixed shape (e.g. keypoints (K, 2)).

    Each element is filtered independently; the speed used for the adaptive cutoff is
    per element.
    """

    def __init__(self, params: OneEuroParams | None = None) -> None:
        self.params = params or OneEuroParams()
        self.reset()

    def reset(self) -> None:
        """Forget the history; the next value passes through unchanged."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    @property
    def last_time(self) -> float | None:
        """Timestamp (s) of the last filtered value, None before the first."""
        return self._t

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filter the value ``x`` observed at time ``t`` (seconds); returns float64, same shape.

        Non-finite elements pass through and reset nothing. Timestamps must strictly
        increase: an equal or earlier one raises InputError (call :meth:`reset` at a seek
        or a new video).
        """
        x = np.asarray(x, dtype=np.float64)
        if not math.isfinite(t):
            raise InputError(f"timestamp must be finite seconds; got {t}")
        if self._t is not None and t <= self._t:
            raise InputError(
                f"timestamp {t:.6g} s is not after the previous {self._t:.6g} s: timestamps must strictly "
                "increase (call reset() at a seek or a new video)"
            )
        if self._x is None or self._x.shape != x.shape or self._t is None:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        p = self.params
        finite = np.isfinite(x) & np.isfinite(self._x)
        prev = np.where(finite, self._x, x)
        dx = np.where(finite, (x - prev) / dt, 0.0)
        a_d = _alpha(p.d_cutoff, dt)
        dx_hat = a_d * dx + (1 - a_d) * self._dx
        cutoff = p.min_cutoff + p.beta * np.abs(dx_hat)
        a = _alpha(cutoff, dt)
        x_hat = np.where(finite, a * x + (1 - a) * prev, x)
        self._x, self._dx, self._t = x_hat, dx_hat, t
        return x_hat.copy()


class PoseSmoother:
    """One One Euro filter per track, over that track's keypoints (K, 2).

    Args:
        params: filter parameters shared by all tracks.
        max_gap_s: a track unseen for longer than this (seconds) starts afresh.
    """

    def __init__(self, params: OneEuroParams | None = None, max_gap_s: float = 1.0) -> None:
        self.params = params or OneEuroParams()
        self.max_gap_s = float(max_gap_s)
        self._filters: dict[Hashable, OneEuroFilter] = {}

    def reset(self) -> None:
        """Drop all tracks' history."""
        self._filters.clear()

    def __call__(self, track_ids: np.ndarray, keypoints: np.ndarray, t: float) -> np.ndarray:
        """Smooth ``keypoints (N, K, 2)`` of tracks ``track_ids (N,)`` observed at ``t`` seconds.

        Returns:
            smoothed keypoints (N, K, 2) float32. Filters of tracks absent from this call
            for more than ``max_gap_s`` are dropped.
        """
        kp = np.asarray(keypoints)
        ids = np.asarray(track_ids).reshape(-1)
        if kp.ndim != 3 or kp.shape[0] != ids.shape[0] or kp.shape[2] != 2:
            raise InputError(f"keypoints must be (N, K, 2) with N = len(track_ids); got {kp.shape}, {ids.shape}")
        out = np.empty(kp.shape, dtype=np.float32)
        for i, track in enumerate(ids.tolist()):
            f = self._filters.get(track)
            if f is None or (f.last_time is not None and t - f.last_time > self.max_gap_s):
                f = self._filters[track] = OneEuroFilter(self.params)
            out[i] = f(kp[i], t)
        stale = [k for k, f in self._filters.items() if f.last_time is not None and t - f.last_time > self.max_gap_s]
        for k in stale:
            del self._filters[k]
        return out

    def __len__(self) -> int:
        return len(self._filters)
