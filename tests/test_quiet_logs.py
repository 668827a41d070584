"""Quiet logs of the quantization tools (issue 19 item 6): one line per step plus the table; ``-v`` shows everything."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgepose.export.cli import StepFilter

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "quantization" / "export.py"


def _record(name: str, level: int) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, "message", None, None)


@pytest.mark.parametrize(("name", "level", "shown"), [
    ("edgepose.export.pipeline", logging.INFO, True),  # a step
    ("edgepose.train.rebuild", logging.WARNING, True),
    ("edgepose.export.onnx_export", logging.INFO, False),  # detail: -v
    ("edgepose.runtime.backends.base", logging.INFO, False),
    ("edgepose.runtime.backends.base", logging.WARNING, True),
    ("onnx_ir.passes.common.unused_removal", logging.INFO, False),  # third party
    ("root", logging.INFO, False),  # litert-torch's "Use JAX lowering" lines
    ("torchao", logging.WARNING, False),
    ("torchao", logging.ERROR, True),
])
def test_step_filter(name: str, level: int, shown: bool) -> None:
    assert StepFilter().filter(_record(name, level)) is shown


@pytest.mark.slow  # two ONNX exports, about 10 s each here
def test_export_prints_one_line_per_step_and_everything_with_v(tmp_path: Path) -> None:
    def export(*extra: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.run([sys.executable, str(EXPORT), "--model", "simdr_r18_64", "--random-init", "--targets",
                               "onnx", "--out-dir", "ex", *extra], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=600)

    proc = export()
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert [line.split(" ", 1)[1] for line in lines][:1] == [
        "WARNING edgepose.train.rebuild: simdr_r18_64: exporting RANDOM weights (random_init=True)"]
    assert len(lines) == 2 and " INFO edgepose.export.pipeline: simdr_r18_64: onnx fp32 exported (1/1, " in lines[1]
    table = proc.stdout.strip().splitlines()
    assert table[0].split() == ["file", "format", "precision", "size", "MB", "seconds", "score", "thr"]
    assert len(table) == 3 and table[2].startswith("ex/simdr_r18_64_fp32.onnx")
    proc = export("-v")
    assert proc.returncode == 0, proc.stderr
    verbose = proc.stderr.strip().splitlines()
    assert len(verbose) > 10 and any(" onnx_ir." in line or "torch" in line for line in verbose)
    assert any("edgepose.export.onnx_export: wrote " in line for line in verbose)


@pytest.mark.slow  # one fp32 export and its NNCF int8 quantization, about 30 s here
def test_int8_keeps_nncf_quiet_and_stdout_for_the_table(tmp_path: Path) -> None:
    """nncf sets its own logger to INFO when first imported and draws progress bars on stdout:
    neither may reach the default output, whose stdout is the result table alone."""
    fixtures = ROOT / "tests" / "fixtures" / "synth_small"
    proc = subprocess.run([sys.executable, str(ROOT / "quantization" / "int8.py"), "--model", "simdr_r18_64",
                           "--random-init", "--ann", str(fixtures / "annotations" / "person_keypoints.json"),
                           "--images", str(fixtures / "images"), "--out-dir", "ex", "--formats", "onnx",
                           "--subset-size", "8"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "INFO:nncf" not in proc.stderr and "INFO:nncf" not in proc.stdout
    table = proc.stdout.strip().splitlines()
    assert len(table) == 3 and table[2].startswith("ex/simdr_r18_64_int8.onnx"), proc.stdout
