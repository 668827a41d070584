"""User errors in the user's own terms (issue 19 item 4), through the real entry points.

Each mistake a user makes with ``edgepose run``, ``apps/webcam.py``, ``apps/bench.py``,
``training/train.py``, ``quantization/export.py`` or the library (``Estimator``, ``draw``) gives
one line that says what was wrong and what to do: exit status 2 and no traceback for the
commands, a documented exception for the library. A missing runtime is simulated by a
``sitecustomize`` that hides its module (``sys.modules[name] = None``, as an uninstalled package
looks to ``importlib``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _tiny_models import make_onnx
from test_commands import CONSOLE, ROOT, edgepose, one_error_line, webcam

from edgepose import PoseResult
from edgepose.errors import InputError

TRAIN = ROOT / "training" / "train.py"
BENCH = ROOT / "apps" / "bench.py"
EXPORT = ROOT / "quantization" / "export.py"
SYNTH_CONFIG = ROOT / "training" / "configs" / "synthetic" / "simdr_r18_64.yaml"

pytestmark = pytest.mark.skipif(not CONSOLE.is_file(), reason="no edgepose console script: pip install -e .")


def script(path: Path, *args: str, cwd: Path, env: dict[str, str] | None = None,
           timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``python <script> ARGS`` as a user runs it."""
    run_env = dict(os.environ if env is None else env)
    run_env["PYTHONPATH"] = str(ROOT) + os.pathsep + run_env.get("PYTHONPATH", "")
    run_env.pop("DISPLAY", None)
    return subprocess.run([sys.executable, str(path), *args], cwd=cwd, env=run_env, capture_output=True, text=True,
                          timeout=timeout)


def without_modules(tmp_path: Path, *modules: str) -> dict[str, str]:
    """An environment whose Python sees ``modules`` as not installed."""
    site = tmp_path / "hide_modules"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text("import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules))
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_onnx(tmp_path_factory.mktemp("user_errors") / "tiny.onnx")


def run_args(model: str, *extra: str) -> list[str]:
    return ["run", "--model", model, "--source", "sample", "--view", "none", "--save-json", "p.json", *extra]


# ---- training/train.py --------------------------------------------------------------------------
def test_train_typo_in_config_key_suggests_the_key(tmp_path: Path) -> None:
    config = tmp_path / "typo.yaml"
    config.write_text(SYNTH_CONFIG.read_text().replace("\nlr: ", "\nlrr: "))
    proc = script(TRAIN, "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 2
    assert one_error_line(proc) == (f"error: config {config}: unknown key 'lrr'; did you mean 'lr'? "
                                    "(python training/train.py --help lists the keys)")


@pytest.mark.parametrize(("option", "suggestion"), [("--learning_rate", "--lr"), ("--batchsize", "--batch_size")])
def test_train_unknown_option_suggests_the_key(option: str, suggestion: str, tmp_path: Path) -> None:
    proc = script(TRAIN, "--config", str(SYNTH_CONFIG), option, "0.1", cwd=ROOT)
    assert proc.returncode == 2
    assert one_error_line(proc) == (f"error: unknown option {option}; did you mean {suggestion}? "
                                    "(python training/train.py --help lists the keys)")


def test_train_missing_config(tmp_path: Path) -> None:
    proc = script(TRAIN, "--config", "nope.yaml", cwd=tmp_path)
    assert proc.returncode == 2 and one_error_line(proc) == "error: --config nope.yaml does not exist"


def test_train_before_the_synthetic_data_is_rendered(tmp_path: Path) -> None:
    proc = script(TRAIN, "--config", str(SYNTH_CONFIG), cwd=tmp_path)  # data/synth/... is relative: not here
    assert proc.returncode == 2
    assert one_error_line(proc) == (
        "error: --train_ann data/synth/train/annotations/person_keypoints.json does not exist: the synthetic data "
        "is not rendered yet; render it with python training/synth.py --out data/synth/train (sizes and seeds: "
        f"training/RECIPES.md), or run from the folder the config's paths are relative to (not {tmp_path})")


# ---- apps/bench.py ------------------------------------------------------------------------------
def test_bench_files_takes_a_registry_name_with_files(tmp_path: Path) -> None:
    """``--files simdr_r50_128`` (a traceback before) measures the shipped files of that name."""
    proc = script(BENCH, "--files", "simdr_r50_128", "--backends", "onnxruntime", "--repeats", "1", "--warmup", "0",
                  "--no-plot", "--no-mediapipe", "--no-movenet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if "simdr_r50_128_int8.onnx" in line]
    assert len(rows) == 1 and "onnxruntime" in rows[0], proc.stdout


def test_bench_files_errors(tmp_path: Path) -> None:
    proc = script(BENCH, "--files", "simdr_r50_12", "--no-plot", cwd=tmp_path)
    assert proc.returncode == 2
    assert one_error_line(proc) == ("error: --files simdr_r50_12: no such model file, nor a registry name with files "
                                    "(simdr_r50_128, simdr_r50_64); did you mean 'simdr_r50_128'?")
    proc = script(BENCH, "--files", str(tmp_path), "--no-plot", cwd=tmp_path)
    assert proc.returncode == 2
    assert one_error_line(proc) == f"error: --files {tmp_path} is a folder; pass its model files, or --models-dir " \
                                   f"{tmp_path}"


# ---- edgepose run / apps/webcam.py --------------------------------------------------------------
@pytest.mark.parametrize(("value", "message"), [
    ("verbose", "'verbose' is not a log level (choose from debug, info, warning, error)"),
    ("debg", "'debg' is not a log level; did you mean 'debug'? (choose from debug, info, warning, error)"),
])
def test_log_level_is_one_line(value: str, message: str, model: Path, tmp_path: Path) -> None:
    proc = edgepose(*run_args(str(model), "--log-level", value), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"edgepose run: error: argument --log-level: {message}; see edgepose run --help"
    proc = webcam(*run_args(str(model), "--log-level", "WARNING")[1:], cwd=tmp_path)  # any case is accepted
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_detector_did_you_mean(model: Path, tmp_path: Path) -> None:
    proc = edgepose(*run_args(str(model), "--detector", "hogg"), cwd=tmp_path)
    assert proc.returncode == 2
    assert one_error_line(proc) == ("error: --detector hogg is neither 'hog', 'motion' nor a detection model file "
                                    "(.onnx/.tflite/.xml); did you mean 'hog'?")
    proc = edgepose(*run_args(str(model), "--detector", "people.onnx"), cwd=tmp_path)
    assert proc.returncode == 2 and one_error_line(proc) == "error: --detector people.onnx: no such detection model file"


def test_model_name_errors(tmp_path: Path) -> None:
    proc = edgepose(*run_args("simdr_r50_12"), cwd=tmp_path)
    assert proc.returncode == 2
    assert one_error_line(proc) == ("error: unknown model 'simdr_r50_12'; did you mean 'simdr_r50_128'? (names with "
                                    "files: simdr_r50_128, simdr_r50_64; all names: edgepose models, or "
                                    "edgepose.list_models())")
    proc = edgepose(*run_args("simdr_r18_64"), cwd=tmp_path)  # in the registry, but no weights
    assert proc.returncode == 2
    assert one_error_line(proc) == ("error: model 'simdr_r18_64' has no weight files (names with files: "
                                    "simdr_r50_128, simdr_r50_64); train and export your own (training/train.py, "
                                    "quantization/export.py) and pass the file")
    proc = edgepose(*run_args("simdr_r50_128.onnx"), cwd=tmp_path)
    assert proc.returncode == 2
    assert one_error_line(proc) == ("error: model file simdr_r50_128.onnx does not exist; did you mean the registry "
                                    "name 'simdr_r50_128' (no suffix)?")


def test_estimator_with_a_registry_name_as_file() -> None:
    code = "from edgepose import Estimator\nEstimator('simdr_r50_128.onnx')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "edgepose.errors.ModelFileError: model file simdr_r50_128.onnx does not exist; did you mean the registry "
        "name 'simdr_r50_128' (no suffix)?")


def test_folder_and_home_paths_as_model(model: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / "tiny.onnx").write_bytes(model.read_bytes())
    env_home = {"HOME": str(home)}
    proc = subprocess.run([str(CONSOLE), *run_args("~/models")], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, **env_home}, timeout=120)
    assert proc.returncode == 2
    assert one_error_line(proc) == "error: model ~/models is a folder, not a model file; pass one of its model " \
                                   "files: tiny.onnx"
    proc = subprocess.run([str(CONSOLE), *run_args("~/models/tiny.onnx")], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, **env_home}, timeout=120)
    assert proc.returncode == 0, proc.stderr  # ~ is understood (a quoted ~ reaches the program unexpanded)
    proc = subprocess.run([str(CONSOLE), *run_args("~/nope.onnx")], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, **env_home}, timeout=120)
    assert proc.returncode == 2
    assert one_error_line(proc) == f"error: model file ~/nope.onnx ({home / 'nope.onnx'}) does not exist"


def test_backend_openvino_missing_says_openvino(tmp_path: Path) -> None:
    env = without_modules(tmp_path, "openvino")
    proc = subprocess.run([str(CONSOLE), *run_args("simdr_r50_128", "--backend", "openvino")], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert one_error_line(proc) == ("error: the openvino backend needs openvino, which is not installed: "
                                    f'pip install -e ".[openvino]" (in {ROOT})')


def test_install_hint_fits_a_clone(model: Path, tmp_path: Path) -> None:
    tflite = tmp_path / "m.tflite"
    tflite.write_bytes(b"TFL3" * 64)
    env = without_modules(tmp_path, "ai_edge_litert", "tflite_runtime")
    proc = subprocess.run([str(CONSOLE), *run_args(str(tflite))], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert line.endswith(f'pip install -e ".[tflite]" (in {ROOT})') and "pip install edgepose" not in line


# ---- quantization/export.py ---------------------------------------------------------------------
@pytest.mark.parametrize(("args", "message"), [
    (["--checkpoint", "model.onnx"],
     "error: --checkpoint model.onnx is an ONNX model file, not a training checkpoint: --checkpoint takes a .pt (or "
     "compact .xz) file written by training/train.py; run the exported file with edgepose run --model model.onnx, "
     "or turn it back into a checkpoint with training/recover.py"),
    (["--model", "simdr_r18_64"],
     "error: --model simdr_r18_64 needs --weights FILE (a state_dict .pth/.pt) or --random-init (random weights: "
     "tests and latency only)"),
    (["--checkpoint", "missing.pt"], "error: --checkpoint missing.pt does not exist"),
])
def test_export_errors_in_flag_terms(args: list[str], message: str, model: Path, tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(model.read_bytes())
    proc = script(EXPORT, *args, "--out-dir", "ex", cwd=tmp_path)
    assert proc.returncode == 2  # the quantization tools exit 2 on a user error, like every other command
    assert one_error_line(proc) == message
    assert not (tmp_path / "ex").exists()


def test_export_usage_error_is_one_line(tmp_path: Path) -> None:
    proc = script(EXPORT, "--out-dir", "ex", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("export.py: error: one of the arguments --checkpoint --model is required; "
                                   "see export.py --help")


# ---- the library: draw --------------------------------------------------------------------------
def test_draw_on_a_read_only_frame() -> None:
    result = PoseResult(keypoints=np.full((1, 17, 2), 5, np.float32), scores=np.ones((1, 17), np.float32),
                        boxes=np.array([[0, 0, 10, 10]], np.float32), track_ids=np.array([1]))
    frame = np.zeros((20, 20, 3), np.uint8)
    frame.flags.writeable = False
    with pytest.raises(InputError, match=r"read-only .* draw on a copy, image = image.copy\(\)"):
        result.draw(frame)
    with pytest.raises(InputError, match=r"contiguous .* np.ascontiguousarray\(image\)"):
        result.draw(np.zeros((20, 40, 3), np.uint8)[:, ::2])
    assert result.draw(frame.copy()).any()
