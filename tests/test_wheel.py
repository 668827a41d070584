"""The built wheel (issue 19 item 1): it holds the runtime and every command, and the torch-side
commands run from it without the clone.

The wheel is built from a copy of this checkout's files (tracked and untracked, less what git
ignores: what a fresh clone plus the work in progress holds; a copy, so that no stale ``build/``
folder leaks in and nothing is written into the checkout) with ``pip wheel --no-deps
--no-build-isolation`` (the running environment's setuptools, so no network), unpacked into a
temporary folder, and its
``edgepose`` package is put first on ``PYTHONPATH`` of a Python started outside the clone: the
same interpreter (its torch, onnxruntime) but none of the clone's files.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from _tiny_models import make_onnx

ROOT = Path(__file__).resolve().parents[1]
#: files the wheel must hold: the runtime, the shipped weights' manifest, the sample, every command
REQUIRED = ("edgepose/__init__.py", "edgepose/runtime/estimator.py", "edgepose/runtime/backends/__init__.py",
            "edgepose/weights/manifest.json", "edgepose/commands/__init__.py", "edgepose/commands/run.py",
            "edgepose/commands/models.py", "edgepose/commands/tools.py", "edgepose/export/export_command.py",
            "edgepose/export/int8_command.py", "edgepose/export/verify_command.py",
            "edgepose/train/train_command.py", "edgepose/export/pipeline.py", "edgepose/train/engine.py",
            "edgepose/data/synth/background_denylist.json", "edgepose/commands/bench.py",
            "edgepose/bench/latency.py", "edgepose/bench/soak.py", "edgepose/samples/small_person.jpg")
#: top-level folders of the clone that stay out of the wheel
CLONE_ONLY = ("tests", "apps", "training", "quantization", "data", "runs", "exports")

pytestmark = pytest.mark.slow  # builds a 90 MB wheel and imports torch: about a minute


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("setuptools") is None:  # its bdist_wheel builds the wheel (setuptools >= 70.1)
        pytest.skip("building the wheel without network needs setuptools in this environment")
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("listing the checkout's files needs git and a git checkout")
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                            check=True, timeout=60).stdout.decode().split("\0")
    source = tmp_path_factory.mktemp("source")
    for name in filter(None, listed):
        if (ROOT / name).is_file():  # not a file deleted in the work tree
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(source)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (built,) = out.glob("edgepose-*.whl")
    return built


@pytest.fixture(scope="module")
def unpacked(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def test_wheel_holds_the_runtime_and_the_commands_only(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    for name in REQUIRED:
        assert name in names, name
    assert any(name.startswith("edgepose/samples/") for name in names)
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"edgepose", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}, tops
    assert not [n for n in names if n.split("/", 1)[0] in CLONE_ONLY or "__pycache__" in n]
    with zipfile.ZipFile(wheel) as archive:
        entry_points = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "edgepose = edgepose.commands:main" in entry_points


def _edgepose(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``edgepose ARGS`` (the console script's entry point) with the unpacked wheel's package."""
    code = ("import sys, edgepose\nfrom edgepose.commands import main\n"
            f"assert edgepose.__file__.startswith({str(site)!r}), edgepose.__file__\n"
            "sys.exit(main(sys.argv[1:]))")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(site)
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None or importlib.util.find_spec("yaml") is None,
                    reason="export/train need the export and train extras (torch, pyyaml)")
def test_torch_commands_run_from_the_wheel(unpacked: Path, tmp_path: Path) -> None:
    proc = _edgepose(unpacked, "export", "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: edgepose export ") and "--random-init" in proc.stdout
    proc = _edgepose(unpacked, "export", "--int8", "--help", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: edgepose export --int8 "), proc.stderr
    proc = _edgepose(unpacked, "train", "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: edgepose train ") and "config keys: model, " in proc.stdout
    proc = _edgepose(unpacked, "verify", "--help", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: edgepose verify "), proc.stderr
    # no config file: the keys on the command line are checked (a missing input is one line)
    proc = _edgepose(unpacked, "train", "--model", "simdr_r18_64", "--train_ann", "missing.json", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip() == "error: --train_ann missing.json does not exist"


def test_bench_runs_from_the_wheel(unpacked: Path, tmp_path: Path) -> None:
    """``edgepose bench`` (table and soak) on a tiny model with the wheel alone: its moving scene's
    picture is package data, not the clone's test fixtures."""
    model = make_onnx(tmp_path / "tiny.onnx")
    small = ("--threads", "1", "--backends", "onnxruntime")
    proc = _edgepose(unpacked, "bench", "--files", str(model), "--repeats", "1", "--warmup", "0", "--no-plot",
                     *small, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["file", "model", "input", "backend"]
    assert [line.split()[:4] for line in lines[2:]] == [["tiny.onnx", "tiny_simdr", "64x64", "onnxruntime"]]
    proc = _edgepose(unpacked, "bench", "--soak", "3", "--soak-warmup", "1", "--model", str(model),
                     "--soak-max-growth-mb", "1000", *small, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("soak: tiny.onnx  onnxruntime")
