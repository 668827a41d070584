"""Frames in and out of ``edgepose run`` (``apps/webcam.py``): sources, sinks, and the loop between them.

* ``sources``: camera index, video file, image, the bundled sample, Raspberry Pi camera
  (:func:`open_source`); frames with timestamps in seconds, cameras that reopen themselves;
* ``sinks``: a video file or an image (:func:`open_sink`);
* ``stream``: :func:`run_stream`, the read / estimate / draw / show / save loop, with
  reconnects (:class:`ReconnectPolicy`), corrupt-frame skipping, signals and :class:`StreamStats`;
* ``gui``: whether a window can be shown here (:func:`gui_available`).

The names below are re-exported so that ``from edgepose.video import run_stream`` keeps working.
"""

from __future__ import annotations

from edgepose.video.gui import WINDOW, gui_available
from edgepose.video.sinks import VIDEO_FOURCC, FrameSink, ImageSink, VideoSink, open_sink
from edgepose.video.sources import (
    IMAGE_SUFFIXES,
    SAMPLE_IMAGE,
    FrameSource,
    ImageSource,
    OpenCVSource,
    PiCameraSource,
    open_source,
)
from edgepose.video.stream import TIMES_KEPT, ReconnectPolicy, StreamStats, frame_problem, run_stream, stop_on_signals

__all__ = [
    "IMAGE_SUFFIXES", "SAMPLE_IMAGE", "TIMES_KEPT", "VIDEO_FOURCC", "WINDOW",
    "FrameSink", "FrameSource", "ImageSink", "ImageSource", "OpenCVSource", "PiCameraSource", "ReconnectPolicy",
    "StreamStats", "VideoSink", "frame_problem", "gui_available", "open_sink", "open_source", "run_stream",
    "stop_on_signals",
]
