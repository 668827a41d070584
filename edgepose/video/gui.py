"""Whether OpenCV can show a window here (``edgepose run --view window``), and why not."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys

import cv2

__all__ = ["WINDOW", "gui_available"]

#: the title of the live window
WINDOW = "edgepose"


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
