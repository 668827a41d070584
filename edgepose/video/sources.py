"""Frame sources: an OpenCV camera index, a video file, an image file, or a Raspberry Pi camera.

:func:`open_source` picks one from ``edgepose run --source``: a camera index (``"0"``), a video
file, an image file, ``"sample"`` (the bundled image) or ``"picamera"`` (through ``picamera2``,
imported only then). Video frames carry timestamps in seconds (capture clock for cameras, the
file's position for videos) so that the estimator smooths them; images carry none. Cameras can
:meth:`FrameSource.reopen` themselves after a disconnect.
"""

from __future__ import annotations

import logging
import math
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgepose.errors import BackendNotInstalledError, InputError

__all__ = ["IMAGE_SUFFIXES", "SAMPLE_IMAGE", "FrameSource", "ImageSource", "OpenCVSource", "PiCameraSource",
           "open_source"]

logger = logging.getLogger("edgepose.video")

#: suffixes read (and saved) as single images
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


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
SAMPLE_IMAGE = Path(__file__).resolve().parents[1] / "samples" / "person.jpg"


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
