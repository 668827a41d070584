"""Frame sinks: a video file (OpenCV ``VideoWriter``, opened at the first frame) or an image.

:func:`open_sink` picks one from the path's suffix: ``.mp4``/``.avi``/``.mkv`` video, or an image
(``.png``/``.jpg``/...: the last frame, written atomically at close).
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from pathlib import Path

import cv2
import numpy as np

from edgepose.atomic import write_bytes_atomic
from edgepose.errors import InputError
from edgepose.video.sources import IMAGE_SUFFIXES

__all__ = ["VIDEO_FOURCC", "FrameSink", "ImageSink", "VideoSink", "open_sink"]

logger = logging.getLogger("edgepose.video")

#: video suffix -> the FourCC it is written with
VIDEO_FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "mp4v"}


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
