"""Camera faults in edgepose.video / apps/webcam.py, on scripted fakes of cv2.VideoCapture and picamera2.

The fakes fail to open, stop delivering frames, come back (at another resolution too),
and hand out corrupt frames; every test checks that the run ends for the right reason,
that everything opened was released, and that the saved video is readable by
cv2.VideoCapture with the right frame count.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from _tiny_models import make_onnx
from test_webcam import count_frames, write_video

import edgepose.commands.run as run_command
from edgepose import Estimator
from edgepose.errors import InputError
from edgepose.video import (
    OpenCVSource,
    PiCameraSource,
    ReconnectPolicy,
    VideoSink,
    frame_problem,
    open_source,
    run_stream,
)


@pytest.fixture(autouse=True)
def video_warnings_captured(caplog: pytest.LogCaptureFixture) -> None:
    """These tests read edgepose.video's warnings: earlier tests in the session (apps run with
    ``--log-level``, third-party logging config) may have raised the root level or disabled loggers."""
    caplog.set_level(logging.WARNING)
    caplog.set_level(logging.INFO, logger="edgepose.video")
    for name in ("edgepose", "edgepose.video"):
        logging.getLogger(name).disabled = False


ROOT = Path(__file__).resolve().parents[1]
H, W = 120, 160


def _frame(h: int = H, w: int = W) -> np.ndarray:
    return np.full((h, w, 3), 90, np.uint8)


def _sigterm_soon() -> tuple[bool, None]:
    """A read failure that also sends this process SIGTERM 0.2 s later (during the back-off)."""
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
    return False, None


#: what FakeCapture.read returns for each script entry
EVENTS: dict[str, Callable[[], tuple[bool, Any]]] = {
    "ok": lambda: (True, _frame()),
    "big": lambda: (True, _frame(2 * H, 2 * W)),  # the camera came back at another resolution
    "drop": lambda: (False, None),  # a failed read: the device went away
    "none": lambda: (True, None),
    "gray": lambda: (True, np.zeros((H, W), np.uint8)),
    "float": lambda: (True, np.zeros((H, W, 3), np.float32)),
    "empty": lambda: (True, np.zeros((0, 0, 3), np.uint8)),
    "bgra": lambda: (True, np.zeros((H, W, 4), np.uint8)),
    "sigterm": _sigterm_soon,
}


class FakeCapture:
    """Stands in for ``cv2.VideoCapture``: ``isOpened/read/get/release``, driven by a script.

    ``script=None``: the device is absent (the capture does not open). After the script
    every read fails, as on an unplugged camera.
    """

    def __init__(self, script: list[str] | None) -> None:
        self.opened, self.script, self.released = script is not None, list(script or []), False

    def isOpened(self) -> bool:  # noqa: N802 - cv2's name
        return self.opened and not self.released

    def read(self) -> tuple[bool, Any]:
        if not self.isOpened() or not self.script:
            return False, None
        return EVENTS[self.script.pop(0)]()

    def get(self, prop: int) -> float:
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self) -> None:
        self.released = True


class CameraFactory:
    """``capture_factory`` whose i-th opening gets ``scripts[i]`` (None, or none left: no device)."""

    def __init__(self, *scripts: list[str] | None) -> None:
        self.scripts, self.made = list(scripts), []

    def __call__(self, target: int | str) -> FakeCapture:
        cap = FakeCapture(self.scripts.pop(0) if self.scripts else None)
        self.made.append(cap)
        return cap

    def all_released(self) -> bool:
        return all(c.released or not c.opened for c in self.made)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_onnx(tmp_path_factory.mktemp("faults") / "tiny.onnx")


def _run(model: Path, source: Any, out: Path, **kwargs: Any) -> Any:
    with Estimator(model, mode="track", running_mode="video") as est:
        return run_stream(est, source, sink=VideoSink(out, fps=30), **kwargs)


def test_reconnect_policy_backoff() -> None:
    p = ReconnectPolicy(max_attempts=6, initial_delay_s=0.5, max_delay_s=4.0)
    assert [p.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    for bad in ({"max_attempts": -1}, {"initial_delay_s": 0.0}, {"initial_delay_s": 5.0, "max_delay_s": 1.0},
                {"factor": 0.5}):
        with pytest.raises(InputError, match="reconnect policy"):
            ReconnectPolicy(**bad)


def test_camera_reconnects_with_backoff_then_gives_up(model: Path, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    # 5 frames, unplugged; absent twice; back with 4 frames; unplugged for good
    cams = CameraFactory(["ok"] * 5, None, None, ["ok"] * 4)
    policy = ReconnectPolicy(max_attempts=3, initial_delay_s=0.01, max_delay_s=0.03)
    t0 = time.monotonic()
    stats = _run(model, OpenCVSource(0, capture_factory=cams), tmp_path / "cam.mp4", reconnect=policy)
    assert time.monotonic() - t0 >= 2 * (0.01 + 0.02 + 0.03)  # both outages waited out their back-off
    assert (stats.reason, stats.frames, stats.reconnects, stats.corrupt) == ("disconnected", 9, 1, 0)
    assert len(cams.made) == 1 + 3 + 3 and cams.all_released()
    log = caplog.text
    for n, delay in ((1, "0.01"), (2, "0.02"), (3, "0.03")):
        assert f"reconnect attempt {n}/3 in {delay} s" in log
    assert "source reopened (attempt 3)" in log and "did not come back after 3 reconnect attempts" in log
    assert count_frames(tmp_path / "cam.mp4") == 9


def test_camera_back_at_another_resolution(model: Path, tmp_path: Path) -> None:
    cams = CameraFactory(["ok"] * 3, ["big"] * 3)
    stats = _run(model, OpenCVSource(0, capture_factory=cams), tmp_path / "cam.mp4",
                 reconnect=ReconnectPolicy(1, 0.01, 0.01))
    assert (stats.frames, stats.reconnects) == (6, 1)
    cap = cv2.VideoCapture(str(tmp_path / "cam.mp4"))
    size = (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    assert size == (W, H) and count_frames(tmp_path / "cam.mp4") == 6  # resized, not dropped by the writer


def test_corrupt_frames_are_skipped_and_counted(model: Path, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    cams = CameraFactory(["ok", "none", "ok", "gray", "float", "ok", "empty", "bgra", "ok"])
    stats = _run(model, OpenCVSource(0, capture_factory=cams), tmp_path / "cam.mp4",
                 reconnect=ReconnectPolicy(max_attempts=0), max_bad_frames=3)
    assert (stats.reason, stats.frames, stats.corrupt) == ("disconnected", 4, 5)
    assert "skipping corrupt frame" in caplog.text and cams.all_released()
    assert count_frames(tmp_path / "cam.mp4") == 4


def test_too_many_corrupt_frames_in_a_row_end_the_run(model: Path, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    cams = CameraFactory(["ok"] * 3 + ["gray"] * 10)
    stats = _run(model, OpenCVSource(0, capture_factory=cams), tmp_path / "cam.mp4", max_bad_frames=4)
    assert (stats.reason, stats.frames, stats.corrupt) == ("corrupt", 3, 4)
    assert "4 corrupt frames in a row" in caplog.text and "grayscale" in caplog.text and cams.all_released()
    assert count_frames(tmp_path / "cam.mp4") == 3


def test_frame_problem_checks_timestamps_too() -> None:
    good = _frame()
    assert frame_problem(good, None) is None and frame_problem(good, np.float32(1.5)) is None
    assert "not finite" in (frame_problem(good, float("nan")) or "")
    assert "not finite" in (frame_problem(good, "soon") or "")
    assert "None" in (frame_problem(None, 0.0) or "")


def test_video_file_ends_cleanly_without_reconnecting(model: Path, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    src = open_source(str(write_video(tmp_path / "in.mp4", 7)))
    t0 = time.monotonic()
    stats = _run(model, src, tmp_path / "out.mp4", reconnect=ReconnectPolicy(5, 10.0, 10.0))
    assert time.monotonic() - t0 < 10 and "reconnect attempt" not in caplog.text
    assert (stats.reason, stats.frames, stats.reconnects) == ("end", 7, 0)
    assert count_frames(tmp_path / "out.mp4") == 7


def test_sigterm_during_backoff_stops_promptly(model: Path, tmp_path: Path) -> None:
    cams = CameraFactory(["ok"] * 3 + ["sigterm"])
    policy = ReconnectPolicy(max_attempts=5, initial_delay_s=30.0, max_delay_s=30.0)
    before, t0 = signal.getsignal(signal.SIGTERM), time.monotonic()
    stats = _run(model, OpenCVSource(0, capture_factory=cams), tmp_path / "cam.mp4", reconnect=policy)
    assert time.monotonic() - t0 < 10  # the 30 s wait was cut short
    assert (stats.reason, stats.frames) == ("signal", 3) and cams.all_released()
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is restored
    assert count_frames(tmp_path / "cam.mp4") == 3


class FakePicamera2:
    """Stands in for ``picamera2.Picamera2``; each instance takes the next entry of ``scripts``:
    a list of frames/None/"fail" (capture_array raises RuntimeError at "fail" or the end, and
    stop() raises after that), or
    "absent" (start() raises). No entries left: the constructor raises (no camera)."""

    scripts: list[Any] = []
    made: list[FakePicamera2] = []

    def __init__(self) -> None:
        if not FakePicamera2.scripts:
            raise RuntimeError("no cameras available")
        self.script, self.started, self.closed, self.broken = FakePicamera2.scripts.pop(0), False, False, False
        FakePicamera2.made.append(self)

    def create_video_configuration(self, main: dict[str, Any]) -> dict[str, Any]:
        assert main["format"] == "RGB888"
        return {"main": main}

    def configure(self, config: dict[str, Any]) -> None:
        self.size = config["main"]["size"]

    def start(self) -> None:
        if self.script == "absent":
            raise RuntimeError("camera not detected")
        self.started = True

    def capture_array(self) -> Any:
        if not self.script or self.script[0] == "fail":
            self.broken = True
            raise RuntimeError("camera frontend timed out")
        item = self.script.pop(0)
        return None if item is None else np.full((self.size[1], self.size[0], 4), item, np.uint8)

    def stop(self) -> None:
        if self.broken:
            raise RuntimeError("camera is not responding")
        self.started = False

    def close(self) -> None:
        self.closed = True


def test_picamera_reconnects(model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=FakePicamera2))
    monkeypatch.setattr(FakePicamera2, "scripts", [[50, None, 60, 70, "fail"], "absent", [80, 90]])
    monkeypatch.setattr(FakePicamera2, "made", [])
    src = PiCameraSource(size=(W, H))
    stats = _run(model, src, tmp_path / "pi.mp4", reconnect=ReconnectPolicy(2, 0.01, 0.01))
    assert (stats.reason, stats.frames, stats.corrupt, stats.reconnects) == ("disconnected", 5, 1, 1)
    assert len(FakePicamera2.made) == 3 and all(c.closed for c in FakePicamera2.made)
    assert count_frames(tmp_path / "pi.mp4") == 5


def _load_app() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("webcam_app", ROOT / "apps" / "webcam.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_app_reconnect_options_and_exit_status(model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    app = _load_app()
    cams = CameraFactory(["ok"] * 4, None)
    # apps/webcam.py is a wrapper of edgepose.commands.run, which opens the source
    monkeypatch.setattr(run_command, "open_source", lambda spec: OpenCVSource(int(spec), capture_factory=cams))
    out = tmp_path / "app.mp4"
    base = ["--model", str(model), "--source", "0", "--view", "none", "--save", str(out)]
    rc = app.main([*base, "--reconnect-attempts", "2", "--reconnect-delay", "0.01",
                   "--reconnect-max-delay", "0.02"])
    assert rc == 3  # the camera is gone for good: a supervisor may restart the app
    assert "reconnect attempt 1/2 in 0.01 s" in caplog.text and "reconnect attempt 2/2 in 0.02 s" in caplog.text
    assert cams.all_released()
    assert count_frames(out) == 4
    assert app.main([*base, "--reconnect-delay", "0"]) == 2  # invalid policy: a clear error, not a crash


class RepeatingClockCapture(FakeCapture):
    """A video file whose position clock repeats and steps back: 40, 40, 80, 20 ms, then 0."""

    def __init__(self, script: list[str]) -> None:
        super().__init__(script)
        self.clock = [40.0, 40.0, 80.0, 20.0, 0.0]

    def read(self) -> tuple[bool, Any]:
        ok, frame = super().read()
        self.msec = self.clock.pop(0) if ok and self.clock else 0.0
        return ok, frame

    def get(self, prop: int) -> float:
        if prop == cv2.CAP_PROP_POS_MSEC:
            return self.msec
        return super().get(prop)


def test_video_file_timestamps_always_increase() -> None:
    """Video mode refuses equal or decreasing timestamps, so a file whose clock repeats or steps
    back still yields strictly increasing seconds (one frame period past the last)."""
    source = OpenCVSource("clip.mp4", capture_factory=lambda target: RepeatingClockCapture(["ok"] * 5))
    times = [source.read()[1] for _ in range(5)]
    assert times[0] == pytest.approx(0.04) and times[2] == pytest.approx(0.08)
    assert all(b > a for a, b in zip(times, times[1:])), times
    assert times[1] == pytest.approx(0.04 + 1 / 30) and times[3] == pytest.approx(0.08 + 1 / 30)
