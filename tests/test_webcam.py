"""apps/webcam.py and edgepose.video on fake sources: video file, image, headless, signals, disconnects."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from _tiny_models import make_onnx

from edgepose import Estimator, PoseResult
from edgepose.errors import InputError
from edgepose.video import FrameSource, VideoSink, gui_available, open_sink, open_source, run_stream

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "apps" / "webcam.py"


def write_video(path: Path, frames: int, size: tuple[int, int] = (160, 120), fps: float = 30.0) -> Path:
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened()
    for i in range(frames):
        f = np.full((h, w, 3), 40, np.uint8)
        cv2.rectangle(f, (20 + i % 100, 20), (60 + i % 100, 100), (200, 180, 160), -1)
        writer.write(f)
    writer.release()
    return path


def count_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_onnx(tmp_path_factory.mktemp("webcam") / "tiny.onnx")


def _env(headless: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_app(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(APP), *args], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)


def test_video_file_to_video(model: Path, tmp_path: Path) -> None:
    src = write_video(tmp_path / "in.mp4", 12)
    out = tmp_path / "out.mp4"
    proc = run_app("--model", str(model), "--source", str(src), "--view", "none", "--save", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert count_frames(out) == 12
    assert "stopped (end) after 12 frames" in proc.stderr


def test_image_to_png(model: Path, tmp_path: Path) -> None:
    img = np.full((90, 70, 3), 128, np.uint8)
    cv2.imwrite(str(tmp_path / "photo.png"), img)
    proc = run_app("--model", str(model), "--source", str(tmp_path / "photo.png"), "--view", "none",
                   "--save", str(tmp_path / "result.png"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = cv2.imread(str(tmp_path / "result.png"))
    assert result.shape == (90, 70, 3) and not np.array_equal(result, img)
    assert not list(tmp_path.glob(".result.png.*"))  # no temporary file left


def test_headless_window_request_saves_instead(model: Path, tmp_path: Path) -> None:
    src = write_video(tmp_path / "in.mp4", 5)
    proc = run_app("--model", str(model), "--source", str(src), cwd=tmp_path)  # --view window by default
    assert proc.returncode == 0, proc.stderr
    assert "cannot open a window" in proc.stderr
    assert count_frames(tmp_path / "edgepose_out.mp4") == 5


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_finalises_the_video(model: Path, tmp_path: Path, sig: signal.Signals) -> None:
    src = write_video(tmp_path / "long.mp4", 300)
    out = tmp_path / "partial.mp4"
    proc = subprocess.Popen([sys.executable, str(APP), "--model", str(model), "--source", str(src), "--view", "none",
                             "--save", str(out), "--realtime"], cwd=tmp_path, env=_env(), stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 30
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"{sig.name} received" in err and "stopped (signal)" in err
    assert 0 < count_frames(out) < 300


def test_bad_source_exits_with_message(model: Path, tmp_path: Path) -> None:
    proc = run_app("--model", str(model), "--source", "missing.mp4", "--view", "none", "--save", "o.mp4", cwd=tmp_path)
    assert proc.returncode == 2 and "not a camera index" in proc.stderr
    proc = run_app("--model", str(tmp_path / "nope.onnx"), "--source", "0", "--view", "none", "--save", "o.mp4",
                   cwd=tmp_path)
    assert proc.returncode == 2


class FakeCamera(FrameSource):
    """A live source that delivers ``n`` frames, then disconnects."""

    kind, live, fps = "camera", True, 30.0

    def __init__(self, n: int) -> None:
        self.n, self.closed = n, False

    def read(self) -> tuple[np.ndarray, float | None] | None:
        if self.n == 0:
            return None
        self.n -= 1
        return np.full((120, 160, 3), 90, np.uint8), time.monotonic()

    def close(self) -> None:
        self.closed = True


def test_camera_disconnect_closes_everything(model: Path, tmp_path: Path) -> None:
    cam = FakeCamera(6)
    sink = VideoSink(tmp_path / "cam.mp4", fps=30)
    with Estimator(model, running_mode="video") as est:
        stats = run_stream(est, cam, sink=sink)
    assert stats.reason == "disconnected" and stats.frames == 6 and cam.closed
    assert count_frames(tmp_path / "cam.mp4") == 6


def test_error_mid_stream_still_releases_the_writer(model: Path, tmp_path: Path) -> None:
    class FailingEstimator(Estimator):
        def __call__(self, frame: np.ndarray, timestamp: float | None = None) -> PoseResult:
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls == 3:
                raise InputError("model blew up")
            return super().__call__(frame, timestamp)

    sink, cam = VideoSink(tmp_path / "err.mp4"), FakeCamera(5)
    with FailingEstimator(model, running_mode="video") as est, pytest.raises(InputError, match="blew up"):
        run_stream(est, cam, sink=sink)
    assert count_frames(tmp_path / "err.mp4") == 2 and cam.closed


def test_sources_and_sinks(tmp_path: Path) -> None:
    ok, why = gui_available()
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        assert not ok and why
    with pytest.raises(InputError, match="not a camera index"):
        open_source(str(tmp_path / "absent.mp4"))
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match="cannot read image"):
        open_source(str(tmp_path / "broken.png"))
    with pytest.raises(InputError, match="cannot save video"):
        open_sink(tmp_path / "out.gif")
    # a --save path in a folder that does not exist yet: created at open, not failing after the run
    for name in ("new/a/out.png", "new/b/out.mp4"):
        sink = open_sink(tmp_path / name, 30.0)
        sink.write(np.zeros((8, 8, 3), np.uint8))
        sink.close()
        assert (tmp_path / name).stat().st_size > 0
    (tmp_path / "plain_file").write_text("x")
    with pytest.raises(InputError, match="folder cannot be created"):
        open_sink(tmp_path / "plain_file" / "out.png")
    sample = open_source("sample")  # the bundled image of the README command
    frame, _ = sample.read()
    assert sample.kind == "image" and frame.shape == (384, 384, 3) and sample.read() is None
    sample.close()
    src = open_source(str(write_video(tmp_path / "v.mp4", 3)))
    assert src.kind == "video" and not src.live and src.fps == pytest.approx(30.0)
    stamps = []
    while (item := src.read()) is not None:
        stamps.append(item[1])
    src.close()
    assert len(stamps) == 3 and stamps == sorted(stamps)
