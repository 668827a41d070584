"""The display loop behind ``edgepose run`` (``apps/webcam.py``): read, estimate, draw, show, save.

:func:`run_stream` reads, estimates, draws (skeletons + FPS), shows and saves until the
source ends, the camera is gone for good, too many frames in a row are corrupt, the
user presses q/Esc, or SIGINT/SIGTERM arrives; in every case the source and the sink
are released so the saved video is playable. Faults it survives:

* a camera that stops delivering frames is reopened with exponential back-off
  (:class:`ReconnectPolicy`: bounded attempts and delay, each attempt logged); a video
  file that stops simply ends;
* a corrupt frame (None, empty, wrong shape or dtype, non-finite timestamp) is skipped
  and counted; ``max_bad_frames`` corrupt frames in a row end the run (reason "corrupt").

Each step of the loop is one method of :class:`_Stream`.
"""

from __future__ import annotations

import logging
import math
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from edgepose.errors import InputError
from edgepose.runtime.draw import draw_result, draw_text
from edgepose.runtime.estimator import check_frame
from edgepose.video.gui import WINDOW
from edgepose.video.sinks import FrameSink
from edgepose.video.sources import FrameSource

if TYPE_CHECKING:
    from edgepose.runtime.estimator import Estimator
    from edgepose.runtime.result import PoseResult

__all__ = ["TIMES_KEPT", "ReconnectPolicy", "StreamStats", "frame_problem", "run_stream", "stop_on_signals"]

logger = logging.getLogger("edgepose.video")

#: Per-frame times kept by :class:`StreamStats` (bounded: a camera may run for days).
TIMES_KEPT = 10_000


@dataclass(frozen=True)
class ReconnectPolicy:
    """How :func:`run_stream` brings back a camera that stopped delivering frames.

    Attempt ``n`` (1-based, counted since the last good frame) waits
    ``min(initial_delay_s * factor ** (n - 1), max_delay_s)`` seconds, then reopens the
    source; after ``max_attempts`` failed attempts the run ends ("disconnected").

    Attributes:
        max_attempts: reconnect attempts per outage (0: never reconnect).
        initial_delay_s: wait before the first attempt, seconds (> 0).
        max_delay_s: longest wait between attempts, seconds (>= initial_delay_s).
        factor: growth of the wait per attempt (>= 1).
    """

    max_attempts: int = 5
    initial_delay_s: float = 0.5
    max_delay_s: float = 10.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not (self.max_attempts >= 0 and 0 < self.initial_delay_s <= self.max_delay_s and self.factor >= 1):
            raise InputError(
                "reconnect policy needs max_attempts >= 0, 0 < initial_delay_s <= max_delay_s and factor >= 1; "
                f"got {self}"
            )

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt`` (1-based)."""
        return min(self.initial_delay_s * self.factor ** (attempt - 1), self.max_delay_s)


def frame_problem(frame: Any, timestamp: Any) -> str | None:
    """Why ``(frame, timestamp)`` from a source is unusable, or None when it is fine."""
    try:
        check_frame(frame)
    except InputError as exc:
        return str(exc)
    if timestamp is None:
        return None
    try:
        if math.isfinite(float(timestamp)):
            return None
    except (TypeError, ValueError):
        pass
    return f"timestamp {timestamp!r} is not finite seconds"


@dataclass
class StreamStats:
    """What :func:`run_stream` did.

    Attributes:
        frames: frames processed.
        reason: why it stopped: "end", "disconnected", "corrupt", "key", "signal" or "max_frames".
        fps: mean processed frames per second (wall clock).
        model_ms: median end-to-end estimator time per frame (last :data:`TIMES_KEPT` frames), ms.
        corrupt: corrupt frames skipped.
        reconnects: successful reopenings of the source.
        people: people found, summed over the frames.
        most_people: the most people found in one frame.
        empty_frames: frames in which nobody was found.
    """

    frames: int = 0
    reason: str = "end"
    fps: float = 0.0
    model_ms: float = 0.0
    corrupt: int = 0
    reconnects: int = 0
    people: int = 0
    most_people: int = 0
    empty_frames: int = 0
    totals: deque[float] = field(default_factory=lambda: deque(maxlen=TIMES_KEPT), repr=False)

    def count(self, people: int) -> None:
        """Add one processed frame in which ``people`` people were found."""
        self.frames += 1
        self.people += people
        self.most_people = max(self.most_people, people)
        self.empty_frames += people == 0

    def summary(self) -> str:
        """One line: why and after how many frames it stopped, people per frame and in total, speed.

        E.g. ``stopped (end) after 60 frames: 58 people found in total (0.97 per frame, at most
        2 in one frame, nobody in 2); 12.3 FPS, median 45.1 ms per frame``.
        """
        per_frame = self.people / self.frames if self.frames else 0.0
        line = (f"stopped ({self.reason}) after {self.frames} frame{'s' * (self.frames != 1)}: {self.people} "
                f"{'person' if self.people == 1 else 'people'} found in total ({per_frame:.2f} per frame, at most "
                f"{self.most_people} in one frame, nobody in {self.empty_frames}); {self.fps:.1f} FPS, median "
                f"{self.model_ms:.1f} ms per frame")
        extra = [f"{self.corrupt} corrupt frames skipped"] * bool(self.corrupt)
        extra += [f"{self.reconnects} reconnects"] * bool(self.reconnects)
        return line + (f"; {', '.join(extra)}" if extra else "")


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An Event set by SIGINT/SIGTERM while inside the block (main thread only)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _frame: object) -> None:
        logger.info("%s received; finishing", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class _Stream:
    """One run of :func:`run_stream`: its settings, its counters, and one method per step.

    ``attempt`` counts reconnect attempts since the last good frame, ``bad_run`` corrupt
    frames in a row; ``fps`` is the displayed frame rate (an exponential moving average).
    """

    def __init__(self, estimator: Estimator, source: FrameSource, sink: FrameSink | None, *, view: bool,
                 draw_threshold: float, realtime: bool, max_frames: int | None, policy: ReconnectPolicy,
                 max_bad_frames: int, on_result: Callable[[Any, float | None], None] | None, bar: tqdm) -> None:
        self.estimator, self.source, self.sink = estimator, source, sink
        self.view, self.draw_threshold, self.max_frames = view, draw_threshold, max_frames
        self.policy, self.max_bad_frames, self.on_result, self.bar = policy, max_bad_frames, on_result, bar
        self.period = 1.0 / source.fps if realtime and source.fps and not source.live else 0.0
        self.stats = StreamStats()
        self.attempt = self.bad_run = 0
        self.fps: float | None = None
        self.last = time.perf_counter()

    def run(self, stop: threading.Event) -> str:
        """Loop until a reason to stop; that reason (a :attr:`StreamStats.reason`)."""
        while True:
            reason = self._limit_reached(stop)
            if reason:
                return reason
            item = self.source.read()
            if item is None:
                reason = self._outage(stop)
            elif self._corrupt(*item):
                reason = "corrupt" if self.bad_run >= self.max_bad_frames else ""
            else:
                reason = self._process(*item)
            if reason:
                return reason

    def _limit_reached(self, stop: threading.Event) -> str:
        """"signal" after SIGINT/SIGTERM, "max_frames" when enough frames were processed, else ""."""
        if stop.is_set():
            return "signal"
        if self.max_frames is not None and self.stats.frames >= self.max_frames:
            return "max_frames"
        return ""

    def _outage(self, stop: threading.Event) -> str:
        """The source gave no frame: "end" / "disconnected" when it is not coming back, else ""
        after one reconnect attempt (waited for with back-off, cut short by a signal)."""
        source, policy = self.source, self.policy
        if not source.reconnectable or self.attempt >= policy.max_attempts:
            if source.reconnectable and self.attempt:
                logger.error("%s source did not come back after %d reconnect attempts", source.kind, self.attempt)
            return "disconnected" if source.live else "end"
        self.attempt += 1
        delay = policy.delay(self.attempt)
        logger.warning("%s source delivers no frames; reconnect attempt %d/%d in %.2f s", source.kind,
                       self.attempt, policy.max_attempts, delay)
        if stop.wait(delay):
            return ""
        if source.reopen():
            self.stats.reconnects += 1
            self.estimator.reset()  # tracks and filters from before the outage are stale
            logger.info("%s source reopened (attempt %d)", source.kind, self.attempt)
        else:
            logger.warning("reconnect attempt %d/%d failed", self.attempt, policy.max_attempts)
        return ""

    def _corrupt(self, frame: Any, timestamp: Any) -> bool:
        """Whether ``(frame, timestamp)`` is unusable; counts and logs it (the first of a run, and
        the run that ends the loop)."""
        problem = frame_problem(frame, timestamp)
        if problem is None:
            return False
        self.stats.corrupt += 1
        self.bad_run += 1
        if self.bad_run == 1:
            logger.warning("skipping corrupt frame (%d skipped so far): %s", self.stats.corrupt, problem)
        if self.bad_run >= self.max_bad_frames:
            logger.error("%d corrupt frames in a row (last: %s); stopping", self.bad_run, problem)
        return True

    def _process(self, frame: np.ndarray, timestamp: float | None) -> str:
        """Estimate, annotate, save and show one good frame; "key" when q/Esc was pressed, else ""."""
        if self.bad_run > 1:
            logger.warning("%d corrupt frames in a row were skipped", self.bad_run)
        self.attempt = self.bad_run = 0
        result = self.estimator(frame, timestamp=timestamp)
        self.stats.totals.append(result.timings["total"])
        if self.on_result is not None:
            self.on_result(result, timestamp)
        canvas = self._annotate(frame, result)
        if self.sink is not None:
            self.sink.write(canvas)
        self.stats.count(len(result))
        self.bar.update()
        if self.view and self._quit_pressed(canvas):
            return "key"
        if self.period:
            time.sleep(max(0.0, self.period - (time.perf_counter() - self.last)))
        return ""

    def _annotate(self, frame: np.ndarray, result: PoseResult) -> np.ndarray:
        """The frame with the skeletons and a status line (FPS, model ms, people; an image: ms only)."""
        canvas = draw_result(frame, result, threshold=self.draw_threshold)
        now = time.perf_counter()
        inst = 1.0 / max(now - self.last, 1e-6)
        self.fps = inst if self.fps is None else 0.9 * self.fps + 0.1 * inst
        self.last = now
        ms = result.timings["total"]
        draw_text(canvas, f"{self.fps:5.1f} FPS  model {ms:.1f} ms  people {len(result)}"
                  if self.source.kind != "image" else f"{ms:.1f} ms")
        return canvas

    def _quit_pressed(self, canvas: np.ndarray) -> bool:
        """Show ``canvas``; whether q or Esc was pressed (an image waits for a key)."""
        cv2.imshow(WINDOW, canvas)
        key = cv2.waitKey(0 if self.source.kind == "image" else 1) & 0xFF
        return key in (ord("q"), 27)


def _release(bar: tqdm, sink: FrameSink | None, source: FrameSource, view: bool) -> None:
    """Close the progress bar, the sink, the source and the window, each whatever the one before did."""
    bar.close()
    try:
        if sink is not None:
            sink.close()
    finally:
        source.close()
        if view:
            cv2.destroyAllWindows()


def run_stream(
    estimator: Estimator,
    source: FrameSource,
    *,
    sink: FrameSink | None = None,
    view: bool = False,
    threshold: float | None = None,
    realtime: bool = False,
    max_frames: int | None = None,
    reconnect: ReconnectPolicy | None = None,
    max_bad_frames: int = 30,
    on_result: Callable[[Any, float | None], None] | None = None,
    progress: bool = False,
) -> StreamStats:
    """Estimate, draw, show and save every frame of ``source`` (see the module docstring).

    Returns what happened; ``stats.summary()`` says it in one line (``edgepose run`` logs it last).

    Args:
        estimator: the pose estimator (its ``frame_color`` must be "bgr").
        source: frames; closed at the end.
        sink: where annotated frames go; closed at the end, whatever happens.
        view: show a window (call only after :func:`~edgepose.video.gui.gui_available` said yes).
        threshold: keypoint score below which nothing is drawn (None: ``estimator.score_threshold``).
        realtime: pace a video file to its frame rate (like a camera).
        max_frames: stop after this many frames.
        reconnect: back-off for reconnectable sources (default :class:`ReconnectPolicy()`).
        max_bad_frames: corrupt frames in a row that end the run (>= 1).
        on_result: called with each frame's PoseResult and timestamp (e.g.
            :meth:`edgepose.runtime.pose_json.PoseJsonWriter.write`).
        progress: show a tqdm progress bar on stderr (frames done of ``source.length``); the
            caller decides when (``edgepose run``: video files, stderr a terminal, no ``--quiet``).
    """
    if max_bad_frames < 1:
        raise InputError(f"max_bad_frames must be >= 1; got {max_bad_frames}")
    start = time.perf_counter()
    total = source.length if max_frames is None or source.length is None else min(source.length, max_frames)
    bar = tqdm(total=total, unit="frame", file=sys.stderr, dynamic_ncols=True, disable=not progress, leave=False)
    try:
        stream = _Stream(estimator, source, sink, view=view,
                         draw_threshold=estimator.score_threshold if threshold is None else float(threshold),
                         realtime=realtime, max_frames=max_frames, policy=reconnect or ReconnectPolicy(),
                         max_bad_frames=max_bad_frames, on_result=on_result, bar=bar)
        with stop_on_signals() as stop, logging_redirect_tqdm() if progress else nullcontext():
            stream.stats.reason = stream.run(stop)
    finally:
        _release(bar, sink, source, view)
    stats = stream.stats
    elapsed = time.perf_counter() - start
    stats.fps = stats.frames / elapsed if elapsed > 0 else 0.0
    stats.model_ms = float(np.median(stats.totals)) if stats.totals else 0.0
    return stats
