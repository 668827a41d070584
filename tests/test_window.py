"""The live window (issue 19 item 2): ``edgepose run`` with the GUI build of OpenCV, under Xvfb.

The window test needs a Python whose OpenCV has a GUI (the ``gui`` extra, README "A live window":
``EDGEPOSE_GUI_PYTHON=/path/to/gui-venv/bin/python``, or this interpreter when its OpenCV has one),
the ``Xvfb`` virtual X server, and Pillow with XCB support for the screenshot; without them it is
skipped with the reason. ``EDGEPOSE_SCREENSHOT=FILE`` keeps the screenshot.

Without any display the command says why in one line and saves instead; that is tested with
this interpreter's OpenCV whatever its build (headless: no GUI support; GUI: no DISPLAY, or a
DISPLAY that no X server answers, where OpenCV's Qt backend would abort the process).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _tiny_models import make_onnx
from test_webcam import count_frames, write_video

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "apps" / "webcam.py"
#: absolute (not resolved: a venv's python is a symlink), since the tests run it from their tmp_path
GUI_PYTHON = str(Path(os.environ.get("EDGEPOSE_GUI_PYTHON", sys.executable)).expanduser().absolute())


@functools.cache
def _opencv_gui(python: str) -> str:
    """The GUI backend of ``python``'s OpenCV ("NONE" for the headless build, "" if it cannot say)."""
    code = ("import cv2\nfor line in cv2.getBuildInformation().splitlines():\n"
            "    if line.strip().startswith('GUI:'):\n        print(line.split(':', 1)[1].strip())")
    try:
        proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


@functools.cache
def _why_no_window_test() -> str:
    if shutil.which("Xvfb") is None:
        return "Xvfb is not installed (apt-get install xvfb)"
    gui = _opencv_gui(GUI_PYTHON)
    if gui in ("", "NONE"):
        return (f"{GUI_PYTHON} has no GUI build of OpenCV (README 'A live window'; point EDGEPOSE_GUI_PYTHON at a "
                "venv with the gui extra)")
    try:
        from PIL import features
    except ImportError:
        return "Pillow is not installed (the screenshot)"
    if not features.check("xcb"):
        return "Pillow has no XCB support (the screenshot)"
    return ""


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_onnx(tmp_path_factory.mktemp("window") / "tiny.onnx")


@pytest.fixture
def xvfb() -> Iterator[str]:
    """A fresh Xvfb server; its DISPLAY."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
                              pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as ready:
            number = ready.readline().strip()  # written once the server accepts connections
        assert number, "Xvfb did not start"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _env(display: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if display is not None:
        env["DISPLAY"] = display
    return env


@pytest.mark.skipif(bool(_why_no_window_test()), reason=_why_no_window_test() or "runs")
def test_window_opens_under_xvfb(model: Path, xvfb: str, tmp_path: Path) -> None:
    from PIL import ImageGrab

    src = write_video(tmp_path / "in.mp4", 150, size=(320, 240))  # 5 s at --realtime
    proc = subprocess.Popen([GUI_PYTHON, str(APP), "--model", str(model), "--source", str(src), "--realtime",
                             "--save", str(tmp_path / "out.mp4")], cwd=tmp_path, env=_env(xvfb),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shot = None
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        screen = np.asarray(ImageGrab.grab(xdisplay=xvfb).convert("RGB"))
        window = screen[:240, :320]  # no window manager: the window sits at the top left corner
        if window.std() > 10:  # the video frame with its drawing, not the empty black screen
            shot = screen
            time.sleep(1.0)  # a later frame, with the FPS counter settled
            shot = np.asarray(ImageGrab.grab(xdisplay=xvfb).convert("RGB"))
            break
        time.sleep(0.2)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "cannot open a window" not in err
    assert shot is not None, "the window never showed the video"
    window = shot[:240, :320]
    # the frame's bright rectangle (200, 180, 160 BGR) is in the window, and the rest of the screen is empty
    assert (np.abs(window.astype(int) - (160, 180, 200)).sum(axis=2) < 40).sum() > 500
    assert shot[300:, 400:].max() == 0
    assert count_frames(tmp_path / "out.mp4") == 150  # --save works alongside the window
    keep = os.environ.get("EDGEPOSE_SCREENSHOT")
    if keep:
        from PIL import Image

        Image.fromarray(shot).save(keep)


def test_no_display_is_one_line_and_saves(model: Path, tmp_path: Path) -> None:
    src = write_video(tmp_path / "in.mp4", 4)
    proc = subprocess.run([sys.executable, str(APP), "--model", str(model), "--source", str(src)], cwd=tmp_path,
                          env=_env(None), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "cannot open a window" in line]
    assert len(warnings) == 1 and warnings[0].endswith("; saving to edgepose_out.mp4 instead")
    assert ("OpenCV has no GUI support" in warnings[0] if _opencv_gui(sys.executable) == "NONE"
            else "no DISPLAY or WAYLAND_DISPLAY is set" in warnings[0])
    assert count_frames(tmp_path / "edgepose_out.mp4") == 4


@pytest.mark.skipif(_opencv_gui(GUI_PYTHON) in ("", "NONE"),
                    reason=f"{GUI_PYTHON} has no GUI build of OpenCV (EDGEPOSE_GUI_PYTHON)")
def test_display_that_nobody_answers_does_not_crash(model: Path, tmp_path: Path) -> None:
    """Qt aborts a process whose DISPLAY no X server answers; the command probes first and saves instead."""
    src = write_video(tmp_path / "in.mp4", 4)
    proc = subprocess.run([GUI_PYTHON, str(APP), "--model", str(model), "--source", str(src)], cwd=tmp_path,
                          env=_env(":1999"), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "cannot open a window" in line]
    assert len(warnings) == 1 and "no display answers at ':1999'" in warnings[0]
    assert count_frames(tmp_path / "edgepose_out.mp4") == 4
