"""The ``edgepose`` console command and ``python apps/webcam.py``, through their real entry points.

Every behaviour of issue 19 built here is checked in a subprocess: exit status and the one
``error:`` line (no traceback, nothing processed) for each rejected invocation; the outputs
of ``edgepose run --save-json``; ``edgepose models``; ``edgepose export|verify|train|bench`` (in the
package, so without a clone: tests/test_wheel.py runs them from the built wheel).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from _tiny_models import make_onnx
from test_webcam import write_video

from edgepose.commands import tools

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "apps" / "webcam.py"
CONSOLE = Path(sys.executable).parent / "edgepose"
FORBIDDEN = ("torch", "torchvision", "nncf", "tensorflow")

pytestmark = pytest.mark.skipif(not CONSOLE.is_file(), reason="no edgepose console script: pip install -e .")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def edgepose(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``edgepose ARGS`` through the installed console script."""
    return subprocess.run([str(CONSOLE), *args], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)


def webcam(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python apps/webcam.py ARGS``."""
    return subprocess.run([sys.executable, str(APP), *args], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)


ENTRY_POINTS = {"edgepose run": lambda *a, cwd: edgepose("run", *a, cwd=cwd), "apps/webcam.py": webcam}


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single ``error:`` line that is all of ``proc``'s stderr (asserted)."""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_onnx(tmp_path_factory.mktemp("commands") / "tiny.onnx")


# ---- the commands ------------------------------------------------------------------------------
def test_help_and_did_you_mean(tmp_path: Path) -> None:
    proc = edgepose("--help", cwd=tmp_path)
    assert proc.returncode == 0
    for name in ("run", "models", "bench", "export", "verify", "train"):
        assert f"\n  {name} " in proc.stdout
    proc = edgepose("rnu", cwd=tmp_path)
    assert proc.returncode == 2
    assert one_error_line(proc).startswith("error: unknown command 'rnu'; did you mean 'run'?")


def test_models_lists_runnable_shipped_weights(tmp_path: Path) -> None:
    proc = edgepose("models", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    # the shipped int8 ONNX runs here (onnxruntime is installed; the file is in the package or cached)
    assert any(line.startswith("* simdr_r50_128 ") and " onnx " in line and " int8 " in line
               and "MB" in line and "yes (onnxruntime)" in line for line in out.splitlines()), out
    assert "trained on: synthetic humans only" in out
    assert "no weights (" in out and "hm_r50_128" in out
    assert "* runnable here: simdr_r50_128, simdr_r50_64" in out
    proc = edgepose("models", "r50_64", cwd=tmp_path)
    assert "simdr_r50_128" not in proc.stdout and "simdr_r50_64" in proc.stdout


def test_readme_command_transcript(tmp_path: Path) -> None:
    """``edgepose run --model simdr_r50_128 --source sample --view none --save out.png --save-json out.json``."""
    proc = edgepose("run", "--model", "simdr_r50_128", "--source", "sample", "--view", "none",
                    "--save", str(tmp_path / "out.png"), "--save-json", str(tmp_path / "out.json"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    image = cv2.imread(str(tmp_path / "out.png"))
    assert image is not None and image.shape == (384, 384, 3)
    results = json.loads((tmp_path / "out.json").read_text())  # COCO keypoint results of the one image
    assert isinstance(results, list) and len(results) == 1
    person = results[0]
    assert set(person) == {"image_id", "category_id", "keypoints", "score", "bbox"}
    assert person["category_id"] == 1 and len(person["keypoints"]) == 17 * 3 and len(person["bbox"]) == 4
    xs, ys = person["keypoints"][0::3], person["keypoints"][1::3]
    assert all(0 <= v <= 384 for v in xs + ys)
    # the wrapper writes the same poses
    proc = webcam("--model", "simdr_r50_128", "--source", "sample", "--view", "none",
                  "--save-json", str(tmp_path / "again.json"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "again.json").read_text()) == results


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_save_json_one_line_per_frame(entry: str, model: Path, tmp_path: Path) -> None:
    src = write_video(tmp_path / "in.mp4", 6)
    out = tmp_path / "poses.jsonl"
    proc = ENTRY_POINTS[entry]("--model", str(model), "--source", str(src), "--view", "none",
                               "--save-json", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 6
    records = [json.loads(line) for line in lines]
    assert [r["frame"] for r in records] == list(range(6))
    times = [r["time"] for r in records]
    assert times == sorted(times) and times[1] == pytest.approx(1 / 30, abs=1e-3)
    for r in records:
        n = len(r["boxes"])
        assert set(r) == {"frame", "time", "keypoint_set", "track_ids", "boxes", "keypoints", "scores"}
        assert len(r["track_ids"]) == len(r["keypoints"]) == len(r["scores"]) == n
        assert all(len(p) == 17 and len(p[0]) == 2 for p in r["keypoints"])
    assert all(len(r["boxes"]) == 1 for r in records)  # mode full: the whole frame is one person
    assert not (tmp_path / "edgepose_out.mp4").exists()


# ---- rejections before any processing: one line, exit 2 ----------------------------------------
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_view_none_without_outputs_is_refused(entry: str, model: Path, tmp_path: Path) -> None:
    src = write_video(tmp_path / "in.mp4", 3)
    proc = ENTRY_POINTS[entry]("--model", str(model), "--source", str(src), "--view", "none", cwd=tmp_path)
    assert proc.returncode == 2
    assert one_error_line(proc) == ("error: --view none writes nothing: add --save out.mp4 (or out.png for an "
                                    "image) and/or --save-json poses.json")


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_video_saved_as_image_is_refused(entry: str, model: Path, tmp_path: Path) -> None:
    src = write_video(tmp_path / "in.mp4", 3)
    proc = ENTRY_POINTS[entry]("--model", str(model), "--source", str(src), "--view", "none",
                               "--save", "out.png", cwd=tmp_path)
    assert proc.returncode == 2
    assert one_error_line(proc) == (f"error: --source {src} is a video: --save out.png would keep only its last "
                                    "frame; save it as .mp4 or .avi")
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("option", ["--save", "--save-json"])
def test_folder_as_output_is_refused(entry: str, option: str, model: Path, tmp_path: Path) -> None:
    proc = ENTRY_POINTS[entry]("--model", str(model), "--source", "sample", "--view", "none",
                               option, "outdir/", cwd=tmp_path)
    assert proc.returncode == 2
    example = "outdir/poses.json" if option == "--save-json" else "outdir/out.mp4 (video) or outdir/out.png (image)"
    assert one_error_line(proc) == f"error: {option} outdir/ is a folder; give a file name in it, e.g. " \
                                   f"{option} {example}"
    (tmp_path / "existing").mkdir()
    proc = ENTRY_POINTS[entry]("--model", str(model), "--source", "sample", "--view", "none",
                               option, "existing", cwd=tmp_path)
    assert proc.returncode == 2 and "error: " + option + " existing is a folder" in one_error_line(proc)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_unwritable_output_is_refused_before_the_run(entry: str, model: Path, tmp_path: Path) -> None:
    src = write_video(tmp_path / "in.mp4", 3)
    (tmp_path / "plain_file").write_text("x")
    proc = ENTRY_POINTS[entry]("--model", str(model), "--source", str(src), "--view", "none",
                               "--save", "plain_file/out.mp4", cwd=tmp_path)
    assert proc.returncode == 2
    assert one_error_line(proc).startswith("error: cannot write --save plain_file/out.mp4: ")
    proc = ENTRY_POINTS[entry]("--model", str(model), "--source", str(src), "--view", "none",
                               "--save-json", "/proc/edgepose_poses.json", cwd=tmp_path)  # not writable, even by root
    assert proc.returncode == 2
    assert one_error_line(proc).startswith("error: cannot write --save-json /proc/edgepose_poses.json: ")
    if os.geteuid() != 0:  # root may write into a read-only folder
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        proc = ENTRY_POINTS[entry]("--model", str(model), "--source", str(src), "--view", "none",
                                   "--save", str(ro / "out.mp4"), cwd=tmp_path)
        assert proc.returncode == 2
        assert one_error_line(proc).startswith(f"error: cannot write --save {ro / 'out.mp4'}: Permission denied")


def test_bad_log_level_is_a_usage_error(model: Path, tmp_path: Path) -> None:
    proc = edgepose("run", "--model", str(model), "--source", "sample", "--log-level", "verbose", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("edgepose run: error: argument --log-level: 'verbose' is not a log level (choose "
                                   "from debug, info, warning, error); see edgepose run --help")


def test_model_errors_are_one_line(tmp_path: Path) -> None:
    proc = edgepose("run", "--model", str(tmp_path / "nope.onnx"), "--source", "sample", "--view", "none",
                    "--save", "out.png", cwd=tmp_path)
    assert proc.returncode == 2 and one_error_line(proc)


# ---- runtime commands never import the training stacks -------------------------------------------
def test_run_and_models_import_no_torch(model: Path, tmp_path: Path) -> None:
    code = ("import sys, json\nfrom edgepose.commands import main\n"
            f"assert main(['models']) == 0\n"
            f"assert main(['run', '--model', {str(model)!r}, '--source', 'sample', '--view', 'none', "
            f"'--save-json', 'p.json']) == 0\n"
            f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


# ---- the torch-side commands and bench --------------------------------------------------------------
def test_tools_run_the_programs(tmp_path: Path) -> None:
    proc = edgepose("train", "--config", "nope.yaml", cwd=tmp_path)
    assert proc.returncode == 2 and one_error_line(proc) == "error: --config nope.yaml does not exist"
    proc = edgepose("bench", "--help", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: edgepose bench ")
    proc = edgepose("verify", cwd=tmp_path)
    assert proc.returncode == 2 and "edgepose verify: error: the following arguments are required" in proc.stderr
    # --int8: int8.py's options are checked before the fp32 export starts
    proc = edgepose("export", "--int8", "--model", "simdr_r18_64", "--random-init", "--out-dir", "ex", cwd=tmp_path)
    assert proc.returncode == 2
    assert "edgepose export --int8: error: the following arguments are required: --ann, --images" in proc.stderr
    assert not (tmp_path / "ex").exists()
    # and a calibration file that is not there, before the fp32 export spends a minute
    proc = edgepose("export", "--int8", "--model", "simdr_r18_64", "--random-init", "--ann", "nope.json", "--images",
                    ".", "--out-dir", "ex", cwd=tmp_path)
    assert proc.returncode == 2 and one_error_line(proc) == "error: --ann nope.json does not exist"
    assert not (tmp_path / "ex").exists()


def test_split_export_args() -> None:
    export, int8 = tools.split_export_args(
        ["--checkpoint", "a.pt", "--ann", "x.json", "--images", "im", "--targets", "onnx", "--out-dir", "e", "-v",
         "--subset-size=10", "--static-batch", "--score-threshold", "0.1", "--attention", "int8"])
    assert export == ["--checkpoint", "a.pt", "--targets", "onnx", "--out-dir", "e", "-v", "--static-batch",
                      "--score-threshold", "0.1"]
    assert int8 == ["--checkpoint", "a.pt", "--ann", "x.json", "--images", "im", "--out-dir", "e", "-v",
                    "--subset-size=10", "--score-threshold", "0.1", "--attention", "int8"]


def test_tools_without_torch(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # export, verify and train are in the package: no clone needed
    for command in ("export", "verify", "train"):
        assert tools.run_tool(command, ["--help"]) == 0
        assert capsys.readouterr().out.startswith(f"usage: edgepose {command} ")
    assert tools.run_tool("export", ["--int8", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: edgepose export --int8 ")
    real_find_spec = tools.importlib.util.find_spec
    monkeypatch.setattr(tools.importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    assert tools.run_tool("train", ["--config", "x.yaml"]) == 2
    assert capsys.readouterr().err.strip() == ('error: edgepose train needs torch, which is not installed: '
                                               f'pip install -e ".[train]" (in {ROOT})')


def test_pose_json_records() -> None:
    import numpy as np

    from edgepose import PoseResult
    from edgepose.runtime.pose_json import coco_image_id, coco_results, frame_record

    result = PoseResult(keypoints=np.array([[[1.23456, 2.0], [np.nan, 4.0]]], np.float32),
                        scores=np.array([[0.5, 0.25]], np.float32), boxes=np.array([[0, 0, 10, 20]], np.float32),
                        track_ids=np.array([7]))
    record = frame_record(result, 3, 0.1)
    assert record["track_ids"] == [7] and record["keypoints"][0] == [[1.235, 2.0], [None, 4.0]]  # strict JSON
    json.dumps(record, allow_nan=False)
    (person,) = coco_results(result, image_id=coco_image_id("val/000000000785.jpg"))
    assert person["image_id"] == 785 and person["keypoints"] == [1.235, 2.0, 0.5, None, 4.0, 0.25]
    assert person["score"] == 0.375 and coco_image_id("person.jpg") == 0


# ---- progress bar and summary ---------------------------------------------------------------------
def _run_on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """``edgepose ARGS`` with stderr on a pseudo-terminal (as in an interactive shell): (status, stderr text)."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 40 rows, 120 columns
    proc = subprocess.Popen([str(CONSOLE), *args], cwd=cwd, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO: the program closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(timeout=120), b"".join(chunks).decode(errors="replace")


def test_progress_bar_on_a_terminal_and_summary(model: Path, tmp_path: Path) -> None:
    src = write_video(tmp_path / "in.mp4", 8)
    args = ["run", "--model", str(model), "--source", str(src), "--view", "none", "--save-json", "p.jsonl"]
    status, err = _run_on_a_terminal(args, tmp_path)
    assert status == 0, err
    assert "8/8 [" in err and "frame/s]" in err  # tqdm's bar: frames done of the file's 8
    assert ("stopped (end) after 8 frames: 8 people found in total (1.00 per frame, at most 1 in one frame, "
            "nobody in 0); ") in err
    # --quiet: no bar and no info lines, even on a terminal
    status, err = _run_on_a_terminal([*args, "--quiet"], tmp_path)
    assert status == 0 and err.strip() == "", err
    # not a terminal (a pipe, a log file): the summary, no bar
    proc = edgepose(*args, cwd=tmp_path)
    assert proc.returncode == 0 and "frame/s]" not in proc.stderr and "\r" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "INFO edgepose.apps.webcam: stopped (end) after 8 frames: 8 people found in total")


def test_runtime_extras_pull_no_training_stack() -> None:
    """``pip install -e ".[ort]"`` (and the other runtime extras) never pulls torch, nncf or tensorflow."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    for extra in ("ort", "tflite", "openvino", "gui", "apps"):
        names = {re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower() for req in extras[extra] + project["dependencies"]}
        assert not names & {"torch", "torchvision", "nncf", "tensorflow", "edgepose"}, (extra, names)
    assert extras["gui"] == ["opencv-python>=4.10,<5"]  # the GUI build, same version range as the headless one
    assert any(req.startswith("opencv-python-headless>=4.10,<5") for req in project["dependencies"])
