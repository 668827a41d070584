"""Frame sources, sinks and the display loop behind ``apps/webcam.py``.

Sources (:func:`open_source`): an OpenCV camera index (``"0"``), a video file, an image
file, or ``"picamera"`` (Raspberry Pi camera through ``picamera2``, imported only then).
Video frames carry timestamps in seconds (capture clock for cameras, the file's
position for videos) so that the estimator smooths them; images carry none.
Cameras can :meth:`FrameSource.reopen` themselves after a disconnect.

Sinks (:func:`open_sink`): ``.mp4``/``.avi`` video (OpenCV ``VideoWriter``, opened at the
first frame) or an image (``.png``/``.jpg``, the last frame, written atomically).

:func:`run_stream` reads, estimates, draws (skeletons + FPS), shows and saves until the
source ends, the camera is gone for good, too many frames in a row are corrupt, the
user presses q/Esc, or SIGINT/SIGTERM arrives; in every case the source and the sink
are released so the saved video is playable. Faults it survives:

* a camera that stops delivering frames is reopened with exponential back-off
  (:class:`ReconnectPolicy`: bounded attempts and delay, each attempt logged); a video
  file that stops simply ends;
* a corrupt frame (None, empty, wrong shape or dtype, non-finite timestamp) is skipped
  and counted; ``max_bad_frames`` corrupt frames in a row end the run (reason "corrupt").

A window is shown only when :func:`gui_available` says OpenCV can open one.
"""

from __future__ import annotations

import importlib.metadata
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from edgepose.atomic import write_bytes_atomic
from edgepose.runtime.draw import draw_result, draw_text
from edgepose.errors import BackendNotInstalledError, InputError
from edgepose.runtime.estimator import check_frame

if TYPE_CHECKING:
    from edgepose.runtime.estimator import Estimator

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "mp4v"}
WINDOW = "edgepose"
#: Per-frame times kept by :class:`StreamStats` (bounded: a camera may run for days).
TIMES_KEPT = 10_000


# ---- GUI detection -------------------------------------------------------------------------
def _distribution_installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _window_opens(timeout_s: float = 20.0) -> tuple[bool, str]:
    """Open and close an OpenCV window in a child process: OpenCV's GUI backends abort the whole
    process when no display answers (Qt: "could not connect to display"), so it is tried apart."""
    code = "import cv2; cv2.namedWindow('edgepose-probe'); cv2.waitKey(1); cv2.destroyAllWindows()"
    try:
        probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return False, f"opening a test window took more than {timeout_s:g} s"
    if probe.returncode == 0:
        return True, ""
    shown = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    first = probe.stderr.strip().splitlines()[:1] or [f"exit status {probe.returncode}"]
    return False, f"no display answers at {shown!r} ({first[0].strip()})"


def gui_available(probe: bool = True) -> tuple[bool, str]:
    """Whether ``cv2.imshow`` can work here, and why not (one clause, for a one-line message).

    False when OpenCV was built without a GUI backend (``opencv-python-headless``; the reason says
    how to get the GUI build), on Linux when neither ``DISPLAY`` nor ``WAYLAND_DISPLAY`` is set,
    and, with ``probe``, when a test window cannot be opened in a child process (a ``DISPLAY``
    that no X server answers), which takes about a second.
    """
    info = cv2.getBuildInformation()
    for line in info.splitlines():
        if line.strip().startswith("GUI:"):
            if line.split(":", 1)[1].strip().upper() == "NONE":
                if _distribution_installed("opencv-python"):
                    return False, ("OpenCV has no GUI support: opencv-python-headless's cv2 files hide those of "
                                   "opencv-python (pip uninstall -y opencv-python-headless opencv-python && "
                                   "pip install opencv-python)")
                return False, ("OpenCV has no GUI support (opencv-python-headless; for a window install the gui "
                               "extra, README 'A live window')")
            break
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False, "no DISPLAY or WAYLAND_DISPLAY is set"
    if probe:
        return _window_opens()
    return True, ""


# ---- sources ---------------------------------------------------------------------------------
class FrameSource(ABC):
    """A stream of BGR uint8 frames.

    Attributes:
        kind: "camera", "video", "image" or "picamera".
        fps: nominal frames per second (None when unknown).
        live: True for cameras: a failed read means the device went away.
        reconnectable: :meth:`reopen` can bring the source back after a failed read.
    """

    kind: str = ""
    fps: float | None = None
    live: bool = False
    reconnectable: bool = False
    #: frames in a video file, as its container states (None: unknown, or a live source)
    length: int | None = None

    @abstractmethod
    def read(self) -> tuple[np.ndarray, float | None] | None:
        """The next ``(frame, timestamp_s)``, or None at the end / on disconnect.

        The frame is what the device gave and may be corrupt; :func:`run_stream` checks it.
        """

    def reopen(self) -> bool:
        """Release and reopen the device; True when it is open again (reconnectable sources)."""
        return False

    def close(self) -> None:  # noqa: B027 - optional
        """Release the device or file (safe to call twice)."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OpenCVSource(FrameSource):
    """``cv2.VideoCapture`` on a camera index or a video file.

    Args:
        target: camera index (a live, reconnectable source) or video file path.
        capture_factory: makes the capture from ``target`` (``cv2.VideoCapture``; tests
            pass a scripted fake with the same ``isOpened/read/get/release`` methods).
    """

    def __init__(self, target: int | str, capture_factory: Callable[[int | str], Any] = cv2.VideoCapture) -> None:
        self.kind = "camera" if isinstance(target, int) else "video"
        self.live = self.reconnectable = self.kind == "camera"
        self.target = target
        self._factory = capture_factory
        self._cap = capture_factory(target)
        if not self._cap.isOpened():
            self._cap.release()
            what = f"camera {target}" if self.live else f"video {target}"
            raise InputError(f"cannot open {what} with OpenCV")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and fps > 0 else None
        count = self._cap.get(cv2.CAP_PROP_FRAME_COUNT) if not self.live else 0
        self.length = int(count) if count and count > 0 else None
        self._index = 0
        self._last_t = -math.inf  # the last timestamp returned, seconds

    def read(self) -> tuple[np.ndarray, float | None] | None:
        ok, frame = self._cap.read()
        if not ok:
            if self.live:
                logger.warning("camera %s stopped delivering frames (disconnected?)", self.target)
            else:
                logger.info("end of video %s after %d frames", self.target, self._index)
            return None
        if self.live:
            t = time.monotonic()
        else:
            msec = self._cap.get(cv2.CAP_PROP_POS_MSEC)
            t = msec / 1000.0 if msec and msec > 0 else self._index / (self.fps or 30.0)
        if t <= self._last_t:  # repeated or reordered timestamps (some files): keep time moving at the frame rate
            t = self._last_t + 1.0 / (self.fps or 30.0)
        self._last_t = t
        self._index += 1
        return frame, t

    def reopen(self) -> bool:
        self._cap.release()
        self._cap = self._factory(self.target)
        return bool(self._cap.isOpened())

    def close(self) -> None:
        self._cap.release()


class ImageSource(FrameSource):
    """One image file, read once (no timestamp: not smoothed)."""

    kind = "image"
    length = 1

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        image = cv2.imread(str(self.path), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(f"cannot read image {self.path} (missing, unreadable or not an image)")
        self._image: np.ndarray | None = image

    def read(self) -> tuple[np.ndarray, float | None] | None:
        image, self._image = self._image, None
        return None if image is None else (image, None)


class PiCameraSource(FrameSource):
    """Raspberry Pi camera through ``picamera2`` (imported here only).

    Frames are requested as ``RGB888``, which picamera2 lays out as B, G, R bytes: the
    BGR order OpenCV and the estimator expect by default.
    """

    kind = "picamera"
    live = True
    reconnectable = True

    def __init__(self, size: tuple[int, int] = (640, 480)) -> None:
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
        except ImportError as exc:
            raise BackendNotInstalledError(
                "--source picamera needs picamera2: on Raspberry Pi OS `sudo apt install python3-picamera2`"
            ) from exc
        self._make, self.size = Picamera2, size
        self._cam: Any = None
        self._start()

    def _start(self) -> None:
        cam = self._make()
        try:
            cam.configure(cam.create_video_configuration(main={"format": "RGB888", "size": self.size}))
            cam.start()
        except BaseException:
            cam.close()
            raise
        self._cam = cam

    def read(self) -> tuple[np.ndarray, float | None] | None:
        if self._cam is None:
            return None
        try:
            frame = self._cam.capture_array()
        except RuntimeError as exc:
            logger.warning("Pi camera stopped delivering frames: %s", exc)
            return None
        if isinstance(frame, np.ndarray) and frame.ndim == 3:
            frame = np.ascontiguousarray(frame[..., :3])
        return frame, time.monotonic()

    def reopen(self) -> bool:
        self.close()
        try:
            self._start()
        except (RuntimeError, OSError) as exc:
            logger.warning("cannot reopen the Pi camera: %s", exc)
            return False
        return True

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is None:
            return
        try:
            cam.stop()
        except RuntimeError as exc:  # a lost camera may fail to stop; it is closed all the same
            logger.debug("Pi camera did not stop cleanly: %s", exc)
        finally:
            cam.close()


#: The bundled sample (``--source sample``): one synthetic person, see edgepose/samples/README.md.
SAMPLE_IMAGE = Path(__file__).resolve().parent / "samples" / "person.jpg"


def open_source(spec: str) -> FrameSource:
    """Camera index (``"0"``), ``"picamera"``, ``"sample"`` (the bundled image), an image file or a video file."""
    if spec == "sample":
        return ImageSource(SAMPLE_IMAGE)
    if spec.isdigit():
        return OpenCVSource(int(spec))
    if spec == "picamera":
        return PiCameraSource()
    path = Path(spec)
    if not path.is_file():
        raise InputError(f"source {spec!r} is not a camera index, 'picamera', 'sample' or an existing file")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(path)
    return OpenCVSource(str(path))


# ---- sinks -------------------------------------------------------------------------------------
class FrameSink(ABC):
    """Where annotated frames go."""

    path: Path

    @abstractmethod
    def write(self, frame: np.ndarray) -> None:
        """Add one BGR frame."""

    @abstractmethod
    def close(self) -> None:
        """Finish the file (always call; safe to call twice)."""


def _output_folder(path: Path) -> None:
    """Create the folder ``path`` is saved into (at open, not after a whole run), or InputError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot save to {path}: its folder cannot be created ({exc})") from None


class VideoSink(FrameSink):
    """A video file written with ``cv2.VideoWriter``; opened at the first frame (its size).

    Later frames of another size (a camera that came back at another resolution) are
    resized to it: a writer silently drops frames of the wrong size.
    """

    def __init__(self, path: str | os.PathLike[str], fps: float = 30.0) -> None:
        self.path = Path(path)
        fourcc = VIDEO_FOURCC.get(self.path.suffix.lower())
        if fourcc is None:
            raise InputError(f"cannot save video as {self.path.suffix!r}; use one of {sorted(VIDEO_FOURCC)}")
        _output_folder(self.path)
        self.fourcc, self.fps = fourcc, float(fps)
        self._writer: cv2.VideoWriter | None = None
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:
            h, w = frame.shape[:2]
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, (w, h))
            if not self._writer.isOpened():
                self._writer = None
                raise InputError(f"OpenCV cannot write {self.path} with codec {self.fourcc}")
            self._size = (w, h)
        if frame.shape[1::-1] != self._size:
            logger.debug("frame %s resized to the video's %dx%d", frame.shape, *self._size)
            frame = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            logger.info("saved %d frames to %s", self.frames, self.path)


class ImageSink(FrameSink):
    """An image file holding the last frame, written atomically at :meth:`close`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in IMAGE_SUFFIXES:
            raise InputError(f"cannot save an image as {self.path.suffix!r}; use one of {IMAGE_SUFFIXES}")
        _output_folder(self.path)
        self._last: np.ndarray | None = None

    def write(self, frame: np.ndarray) -> None:
        self._last = frame.copy()

    def close(self) -> None:
        if self._last is None:
            return
        ok, data = cv2.imencode(self.path.suffix, self._last)
        if not ok:
            raise InputError(f"OpenCV cannot encode {self.path.suffix} images")
        write_bytes_atomic(self.path, data.tobytes(), fsync=False)
        self._last = None
        logger.info("saved %s", self.path)


def open_sink(path: str | os.PathLike[str], fps: float | None = None) -> FrameSink:
    """An image sink for image suffixes, a video sink otherwise."""
    p = Path(path)
    if p.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSink(p)
    return VideoSink(p, fps or 30.0)


# ---- the loop -----------------------------------------------------------------------------------
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
        view: show a window (call only after :func:`gui_available` said yes).
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
    policy = reconnect or ReconnectPolicy()
    draw_threshold = estimator.score_threshold if threshold is None else float(threshold)
    stats = StreamStats()
    fps_ema: float | None = None
    attempt = bad_run = 0  # reconnect attempts since the last good frame; corrupt frames in a row
    start = last = time.perf_counter()
    period = 1.0 / source.fps if realtime and source.fps and not source.live else 0.0
    total = source.length if max_frames is None or source.length is None else min(source.length, max_frames)
    bar = tqdm(total=total, unit="frame", file=sys.stderr, dynamic_ncols=True, disable=not progress, leave=False)
    try:
        with stop_on_signals() as stop, logging_redirect_tqdm() if progress else nullcontext():
            while True:
                if stop.is_set():
                    stats.reason = "signal"
                    break
                if max_frames is not None and stats.frames >= max_frames:
                    stats.reason = "max_frames"
                    break
                item = source.read()
                if item is None:
                    if not source.reconnectable or attempt >= policy.max_attempts:
                        if source.reconnectable and attempt:
                            logger.error("%s source did not come back after %d reconnect attempts", source.kind,
                                         attempt)
                        stats.reason = "disconnected" if source.live else "end"
                        break
                    attempt += 1
                    delay = policy.delay(attempt)
                    logger.warning("%s source delivers no frames; reconnect attempt %d/%d in %.2f s", source.kind,
                                   attempt, policy.max_attempts, delay)
                    if not stop.wait(delay):
                        if source.reopen():
                            stats.reconnects += 1
                            estimator.reset()  # tracks and filters from before the outage are stale
                            logger.info("%s source reopened (attempt %d)", source.kind, attempt)
                        else:
                            logger.warning("reconnect attempt %d/%d failed", attempt, policy.max_attempts)
                    continue
                frame, timestamp = item
                problem = frame_problem(frame, timestamp)
                if problem is not None:
                    stats.corrupt += 1
                    bad_run += 1
                    if bad_run == 1:
                        logger.warning("skipping corrupt frame (%d skipped so far): %s", stats.corrupt, problem)
                    if bad_run >= max_bad_frames:
                        logger.error("%d corrupt frames in a row (last: %s); stopping", bad_run, problem)
                        stats.reason = "corrupt"
                        break
                    continue
                if bad_run > 1:
                    logger.warning("%d corrupt frames in a row were skipped", bad_run)
                attempt = bad_run = 0
                result = estimator(frame, timestamp=timestamp)
                stats.totals.append(result.timings["total"])
                if on_result is not None:
                    on_result(result, timestamp)
                canvas = draw_result(frame, result, threshold=draw_threshold)
                now = time.perf_counter()
                inst = 1.0 / max(now - last, 1e-6)
                fps_ema = inst if fps_ema is None else 0.9 * fps_ema + 0.1 * inst
                last = now
                label = f"{fps_ema:5.1f} FPS  model {result.timings['total']:.1f} ms  people {len(result)}"
                draw_text(canvas, label if source.kind != "image" else f"{result.timings['total']:.1f} ms")
                if sink is not None:
                    sink.write(canvas)
                stats.count(len(result))
                bar.update()
                if view:
                    cv2.imshow(WINDOW, canvas)
                    key = cv2.waitKey(0 if source.kind == "image" else 1) & 0xFF
                    if key in (ord("q"), 27):
                        stats.reason = "key"
                        break
                if period:
                    time.sleep(max(0.0, period - (time.perf_counter() - now)))
    finally:
        bar.close()
        try:
            if sink is not None:
                sink.close()
        finally:
            source.close()
            if view:
                cv2.destroyAllWindows()
    elapsed = time.perf_counter() - start
    stats.fps = stats.frames / elapsed if elapsed > 0 else 0.0
    stats.model_ms = float(np.median(stats.totals)) if stats.totals else 0.0
    return stats
