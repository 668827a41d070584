"""Layering: the runtime (import edgepose, Estimator on every backend, detectors, drawing, the
webcam app's modules) never imports torch, torchvision, nncf or tensorflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _tiny_models import make_onnx, make_tflite

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("torch", "torchvision", "nncf", "tensorflow")

SCRIPT = r"""
import json, sys
import numpy as np
import edgepose
from edgepose import Estimator
from edgepose.detect import MotionDetector
from edgepose.draw import draw_result
import edgepose.video
frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
for path, backend in ((sys.argv[1], None), (sys.argv[1], "openvino"), (sys.argv[2], None)):
    with Estimator(path, backend=backend, running_mode="video", detector=MotionDetector()) as est:
        for i in range(3):
            draw_result(frame.copy(), est(frame, timestamp=i / 30))
sys.path.insert(0, sys.argv[3])
import webcam, bench  # the apps import only the runtime
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in %r)))
"""


def test_runtime_never_imports_training_stacks(tmp_path: Path) -> None:
    onnx_path = make_onnx(tmp_path / "tiny.onnx")
    tflite_path = make_tflite(tmp_path / "tiny.tflite")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT % (FORBIDDEN,), str(onnx_path), str(tflite_path), str(ROOT / "apps")],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded == [], f"runtime imported {loaded}"


@pytest.mark.parametrize("module", ["edgepose.estimator", "edgepose.backends.onnxruntime_backend",
                                    "edgepose.backends.tflite_backend", "edgepose.backends.openvino_backend"])
def test_modules_do_not_import_runtimes_at_import_time(module: str) -> None:
    code = (f"import sys, {module}; print(sorted(m for m in ('onnxruntime', 'openvino', 'ai_edge_litert') "
            f"if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
