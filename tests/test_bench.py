"""The bench (edgepose bench, python apps/bench.py) on tiny models: table, CSV, plot, batch vs loop, soak."""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path

import cv2
import pytest
from _tiny_models import make_onnx, make_tflite

from edgepose.bench.plot import model_family
from edgepose.errors import BackendNotInstalledError, InputError

ROOT = Path(__file__).resolve().parents[1]


def test_bench_table_and_plot(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    make_onnx(models / "tiny.onnx")
    make_tflite(models / "tiny_int8.tflite", int8_io=True)
    extra = make_onnx(tmp_path / "fixed.onnx", dynamic_batch=False)
    # stands in for a mediapipe venv's python: checks it is handed the peer script and a frame
    fake_python = tmp_path / "mp-python"
    fake_python.write_text('#!/bin/sh\ncase "$1" in *apps/mediapipe_peer.py) ;; *) exit 9;; esac\n'
                           'test -s "$2" || exit 8\n'
                           'case "$*" in *--tracking*) ms=7.5 ;; *) ms=12.5 ;; esac\n'
                           'echo "{\\"e2e_med\\": $ms, \\"e2e_p90\\": 13.0, \\"people\\": 1, '
                           '\\"mediapipe\\": \\"0.10.21\\"}"\n')
    fake_python.chmod(0o755)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "apps" / "bench.py"), "--models-dir", str(models), "--files", str(extra),
         "--mediapipe-python", str(fake_python), "--no-movenet",
         "--repeats", "3", "--warmup", "1", "--people", "3", "--macs", "tiny_int8.tflite=0.25",
         "--accuracy", "tiny.onnx=51.5", "--accuracy-label", "PCK@0.1 (made up)",
         "--out", str(tmp_path / "bench.png"), "--csv", str(tmp_path / "bench.csv")],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["file", "model", "input", "backend"]
    assert "e2e/model" in lines[0] and "batch/loop" in lines[0] and "1call/loop" in lines[0]
    rows = list(csv.DictReader(open(tmp_path / "bench.csv")))
    tracking, static = rows.pop(), rows.pop()  # MediaPipe in static-image mode, then tracking (video) mode
    assert (static["backend"], static["file"], float(static["e2e_med"])) == ("mediapipe", "(mediapipe 0.10.21)", 12.5)
    assert (tracking["model"], float(tracking["e2e_med"])) == ("mediapipe_blazepose_full_tracking", 7.5)
    assert static["peer"] == tracking["peer"] == "True"
    assert "model vs peer" in lines[0] and "e2e vs peer" in lines[0]
    # the int8 file's end to end over the best (fastest) peer's: MediaPipe tracking here
    tfl_row = next(r for r in rows if r["backend"] == "tflite")
    assert float(tfl_row["e2e_vs_peer"]) == pytest.approx(float(tfl_row["e2e_med"]) / 7.5)
    assert all(r["e2e_vs_peer"] == "nan" for r in rows if r["precision"] != "int8")
    got = {(r["file"], r["backend"]) for r in rows}
    assert got == {("fixed.onnx", "onnxruntime"), ("fixed.onnx", "openvino"), ("tiny.onnx", "onnxruntime"),
                   ("tiny.onnx", "openvino"), ("tiny_int8.tflite", "tflite")}
    for r in rows:
        assert float(r["model_med"]) > 0 and float(r["e2e_med"]) > 0  # no ordering: timings are noisy
        assert float(r["batch_med"]) > 0 and float(r["onecall_med"]) > 0 and float(r["loop_med"]) > 0
    tfl = next(r for r in rows if r["backend"] == "tflite")
    assert tfl["precision"] == "int8" and tfl["macs_from"] == "--macs" and float(tfl["gmacs_per_s"]) > 0
    assert next(r for r in rows if r["file"] == "tiny.onnx")["macs_from"] == "onnx graph"
    assert {float(r["accuracy"]) for r in rows if r["file"] == "tiny.onnx"} == {51.5}
    assert all(r["accuracy"] == "nan" for r in rows if r["file"] != "tiny.onnx")
    png = cv2.imread(str(tmp_path / "bench.png"))
    assert png is not None and png.shape[1] > 1500  # three panels side by side


def test_bench_without_files_fails_cleanly(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(ROOT / "apps" / "bench.py")], capture_output=True, text=True,
                          env=env, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2 and "no model files" in proc.stderr


def _load_bench() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("bench_app", ROOT / "apps" / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_soak_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    """--soak on a tiny model: N frames through tracking + smoothing, and the table."""
    bench = _load_bench()
    args = ["--soak", "30", "--soak-warmup", "3", "--model", str(make_onnx(tmp_path / "tiny.onnx")),
            "--threads", "1", "--backends", "onnxruntime"]
    assert bench.main([*args, "--soak-max-growth-mb", "1000"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("soak: tiny.onnx  onnxruntime") and "mode=track" in out
    table = {k.strip(): v.strip() for k, v in (line.split("  ", 1) for line in out.splitlines()[3:])}
    assert table["frames (after warm-up)"].startswith("30 (+3 warm-up)")
    assert float(table["rss start (after warm-up)"].split()[0]) > 0
    assert "ok: target < 1000 MB" in table["rss growth"]
    assert len(table["rss every 10% of frames"].split()) == 10 + 1  # ten samples and the unit
    assert float(table["latency drift (last / first)"]) > 0 and float(table["cpu time drift (last / first)"]) > 0
    # detected in the warm-up, tracked from keypoints, re-detected once at frame 30; smoothing ran
    assert table["re-detections / track ids started"].startswith("1 / ")
    assert int(table["smoothing filters at end"]) >= 1
    # a growth limit that cannot be met fails the run; --soak without --model is a usage error
    assert bench.main([*args, "--soak-max-growth-mb", "-1"]) == 1 and "RSS grew" in caplog.text
    with pytest.raises(InputError, match="--soak needs --model"):
        bench.main(["--soak", "5"])


def test_model_family_drops_the_size() -> None:
    assert model_family("simdr_r50_128") == "simdr_r50"
    assert model_family("hm_r50_256x192") == "hm_r50"
    assert model_family("simdr_r50_256_mpii") == "simdr_r50_mpii"
    assert model_family("tiny_simdr") == "tiny_simdr"


@pytest.mark.parametrize("item", ["tiny.onnx", "=3", "tiny.onnx=", "tiny.onnx=abc", "tiny.onnx=nan"])
def test_named_numbers_are_checked(item: str, capsys: pytest.CaptureFixture[str]) -> None:
    bench = _load_bench()
    with pytest.raises(SystemExit) as exc:
        bench.parse_args(["--files", "x.onnx", "--accuracy", item])
    assert exc.value.code == 2 and "--accuracy takes NAME=NUMBER" in capsys.readouterr().err


def test_plot_needs_matplotlib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bench = _load_bench()
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(BackendNotInstalledError, match=r'pip install -e "\.\[apps\]".*--no-plot'):
        bench.main(["--files", str(make_onnx(tmp_path / "tiny.onnx")), "--no-mediapipe", "--no-movenet"])
    # --no-plot needs no matplotlib and writes no PNG
    assert bench.main(["--files", str(tmp_path / "tiny.onnx"), "--no-mediapipe", "--no-movenet", "--no-plot",
                       "--repeats", "2",
                       "--warmup", "0", "--out", str(tmp_path / "none.png")]) == 0
    assert not (tmp_path / "none.png").exists()


def test_edgepose_bench_runs_from_the_package_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """``edgepose bench`` through the console command's entry point, with the smallest settings on a tiny
    model: the table, the CSV and the soak need nothing of the clone (the scene's picture is package
    data; no package module names the tests' fixtures), and user errors are one line with status 2."""
    import edgepose
    from edgepose.bench.scene import DEFAULT_PATCH
    from edgepose.commands import main

    package = Path(edgepose.__file__).parent
    assert DEFAULT_PATCH.is_file() and DEFAULT_PATCH.is_relative_to(package)
    assert not [p for p in package.rglob("*.py") if "fixtures" in p.read_text(encoding="utf-8")]
    model = make_onnx(tmp_path / "tiny.onnx")
    monkeypatch.chdir(tmp_path)
    small = ["--threads", "1", "--backends", "onnxruntime"]
    assert main(["bench", "--files", str(model), "--repeats", "1", "--warmup", "0", "--no-plot",
                 "--csv", "b.csv", *small]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["file", "model", "input", "backend"]
    assert [line.split()[:4] for line in lines[2:]] == [["tiny.onnx", "tiny_simdr", "64x64", "onnxruntime"]]
    (row,) = csv.DictReader(open(tmp_path / "b.csv"))
    assert float(row["model_med"]) > 0 and float(row["e2e_med"]) > 0 and row["macs_from"] in ("onnx graph", "")
    assert not (tmp_path / "bench.png").exists()
    assert main(["bench", "--soak", "3", "--soak-warmup", "1", "--model", str(model), "--soak-max-growth-mb",
                 "1000", *small]) == 0
    assert capsys.readouterr().out.startswith("soak: tiny.onnx  onnxruntime")
    for argv, message in ((["--files", str(model), "--image", "nope.png", "--no-plot"],
                           "error: --image nope.png: cannot be read as an image"),
                          ([], "error: no model files: give --models-dir and/or --files"),
                          (["--soak", "2"], "error: --soak needs --model")):
        assert main(["bench", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith(message), err
