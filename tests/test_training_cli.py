"""training/train.py, evaluate.py and synth.py: a user error is one ``error: ...`` line on
stderr and exit status 2, never a traceback. Every case fails before training, evaluating
or rendering starts, so the file runs in a few seconds."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from edgepose.cli import error_message
from edgepose.data.topdown import AnnotationError, DataFileNotFoundError, ImageReadError
from edgepose.errors import EdgeposeError, InputError

REPO = Path(__file__).resolve().parents[1]
_LOADED: dict[str, ModuleType] = {}


def _program(name: str) -> ModuleType:
    """Import ``training/<name>.py`` as a module (its ``main(argv)`` returns the exit status)."""
    if name not in _LOADED:
        spec = importlib.util.spec_from_file_location(f"_training_{name}", REPO / "training" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _LOADED[name] = module
    return _LOADED[name]


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_data_errors_are_user_errors() -> None:
    for cls in (AnnotationError, DataFileNotFoundError, ImageReadError, InputError):
        assert issubclass(cls, EdgeposeError)


@pytest.mark.parametrize("case", ["unknown_key", "unknown_yaml_key", "bad_value", "missing_config",
                                  "missing_train_ann", "missing_train_images", "missing_resume",
                                  "missing_init_checkpoint", "invalid"])
def test_train_user_errors(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ann = tmp_path / "ann.json"
    ann.write_text("{}")
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("lr: 0.001\nnot_a_key: 1\n")
    argv, expected = {
        "unknown_key": (["--not_a_key", "1"], "unknown option --not_a_key"),
        "unknown_yaml_key": (["--config", str(yaml_file)], "unknown key 'not_a_key'"),
        "bad_value": (["--lr", "abc"], "'lr': cannot read 'abc' as float"),
        "missing_config": (["--config", str(tmp_path / "nope.yaml")],
                           f"--config {tmp_path / 'nope.yaml'} does not exist"),
        "missing_train_ann": (["--train_ann", "missing.json", "--train_images", str(tmp_path)],
                              "--train_ann missing.json does not exist"),
        "missing_train_images": (["--train_ann", str(ann), "--train_images", str(tmp_path / "images")],
                                 f"--train_images {tmp_path / 'images'} does not exist"),
        "missing_resume": (["--resume", str(tmp_path / "last.pt")],
                           f"--resume {tmp_path / 'last.pt'} does not exist"),
        "missing_init_checkpoint": (["--init_checkpoint", "runs/x/last.pt"],
                                    "--init_checkpoint runs/x/last.pt does not exist"),
        "invalid": (["--epochs", "0"], "epochs must be > 0"),
    }[case]
    assert _program("train").main(argv) == 2
    assert expected in _one_error_line(capsys)


def test_train_usage_error_is_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        _program("train").main(["--config"])
    assert info.value.code == 2


@pytest.mark.parametrize("case", ["missing_checkpoint", "damaged_checkpoint", "missing_val_ann", "no_val_ann",
                                  "bad_value"])
def test_evaluate_user_errors(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ann = tmp_path / "ann.json"
    ann.write_text("{}")
    damaged = tmp_path / "best.xz"
    damaged.write_bytes(b"\xfd7zXZ\x00" + b"\x00" * 40)
    argv, expected = {
        "missing_checkpoint": (["--checkpoint", str(tmp_path / "best.pt"), "--val_ann", str(ann)],
                               f"--checkpoint {tmp_path / 'best.pt'} does not exist"),
        "damaged_checkpoint": (["--checkpoint", str(damaged), "--val_ann", str(ann)], f"{damaged} is truncated"),
        "missing_val_ann": (["--untrained", "--val_ann", str(tmp_path / "val.json")],
                            f"--val_ann {tmp_path / 'val.json'} does not exist"),
        "no_val_ann": (["--untrained"], "--val_ann is required"),
        "bad_value": (["--untrained", "--val_ann", str(ann), "--flip_test", "maybe"], "'flip_test'"),
    }[case]
    assert _program("evaluate").main(argv) == 2
    assert expected in _one_error_line(capsys)


@pytest.mark.parametrize("case", ["n", "size", "jpeg_quality", "prob", "out_is_file", "out_under_file",
                                  "images_is_file"])
def test_synth_user_errors(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "images").write_text("x")  # generate_dataset cannot make its images/ folder
    out = str(tmp_path / "out")
    argv, expected = {
        "n": (["--out", out, "--n", "0"], "--n must be >= 1; got 0"),
        "size": (["--out", out, "--n", "1", "--size", "8"], "--size must be >= 16; got 8"),
        "jpeg_quality": (["--out", out, "--n", "1", "--jpeg-quality", "101"], "--jpeg-quality must be in [1, 100]"),
        "prob": (["--out", out, "--n", "1", "--child-prob", "-0.1"], "--child-prob must be in [0.0, 1.0]"),
        "out_is_file": (["--out", str(a_file), "--n", "1"], f"--out {a_file} exists and is not a folder"),
        "out_under_file": (["--out", str(a_file / "sub"), "--n", "1"], f"--out {a_file / 'sub'}: cannot create"),
        "images_is_file": (["--out", str(taken), "--n", "1", "--preset", "v1"], f"cannot write {taken / 'images'}"),
    }[case]
    assert _program("synth").main(argv) == 2
    assert expected in _one_error_line(capsys)
    assert not (tmp_path / "out").exists()  # bad values are refused before anything is written


@pytest.mark.parametrize("program, args, expected", [
    ("train", ["--train_ann", "missing.json", "--train_images", "."], "error: --train_ann missing.json does not exist"),
    ("evaluate", ["--checkpoint", "missing.pt", "--val_ann", "val.json"],
     "error: --checkpoint missing.pt does not exist"),
    ("synth", ["--out", "out", "--n", "0"], "error: --n must be >= 1; got 0"),
])
def test_real_process_prints_one_line_and_exits_2(program: str, args: list[str], expected: str,
                                                  tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(REPO / "training" / f"{program}.py"), *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert lines == [expected], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_multi_line_message_keeps_its_detail_below_the_summary() -> None:
    exc = InputError("checkpoint does not match PoseResNet:\nmissing in source (1): a\n\nshape mismatches (1): b")
    assert error_message(exc) == ("checkpoint does not match PoseResNet:\n  missing in source (1): a\n"
                                  "  shape mismatches (1): b")


def test_dataloader_worker_error_keeps_the_original_message() -> None:
    import torch.utils.data

    class Broken(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 1

        def __getitem__(self, index: int) -> None:
            raise ImageReadError("image /data/x.jpg exists but cannot be decoded by OpenCV")

    with pytest.raises(ImageReadError) as info:
        next(iter(torch.utils.data.DataLoader(Broken(), num_workers=1)))
    assert "Traceback" in str(info.value)  # torch carries the worker's traceback in the message
    assert error_message(info.value) == ("image /data/x.jpg exists but cannot be decoded by OpenCV "
                                         "(in DataLoader worker process 0)")
