"""training/speed.py and edgepose.train.speed: each part runs on a tiny set and reports rates."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from edgepose.train.config import load_config
from edgepose.train.engine import build_datasets, collate
from edgepose.train.speed import RecipeTiming, loader_rate, model_rate, recipe_rate
from edgepose.zoo import get_spec

sys.path.insert(0, str(Path(__file__).parent))
from _stick_dataset import write_stick_dataset  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("stick")
    train = write_stick_dataset(root / "train", 16, size=96, seed=0)
    val = write_stick_dataset(root / "val", 4, size=96, seed=1)
    return ["--train_ann", str(train), "--train_images", str(train.parent / "images"),
            "--val_ann", str(val), "--val_images", str(val.parent / "images")]


def test_loader_model_and_recipe_rates_are_measured(data):
    config = load_config(None, ["--model", "simdr_r18_64", "--dataset", "synthetic", *data, "--batch_size", "4",
                                "--workers", "0", "--max_steps_per_epoch", "2", "--val_every", "3",
                                "--flip_test", "false", "--precision", "fp32"])
    spec = get_spec("simdr_r18_64")
    train_set, _ = build_datasets(config, spec)
    assert loader_rate(train_set, 4, 0, batches=2, warmup=1) > 0
    batch = collate([train_set[i] for i in range(4)])
    assert model_rate(spec, batch, "fp32", True, steps=2, warmup=1) > 0
    timing = recipe_rate(config, steps=2, warmup=1)
    assert timing.train_samples == 8 and timing.val_s > 0
    assert timing.val_interval_samples == 3 * 2 * 4  # val_every epochs x steps x batch


def test_end_to_end_rate_spreads_one_validation_over_its_interval():
    timing = RecipeTiming(train_s=10.0, train_samples=100, val_s=5.0, val_interval_samples=1000)
    assert timing.train_rate == pytest.approx(10.0)
    assert timing.end_to_end_rate == pytest.approx(1 / (0.1 + 0.005))


def _speed_main():
    spec = importlib.util.spec_from_file_location("speed_cli", REPO / "training" / "speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_speed_cli_prints_the_tables(data, capsys):
    rc = _speed_main()(["--parts", "loader,model", "--models", "simdr_r18_64", "--batch", "4", "--steps", "1",
                        "--loader-batches", "1", "--workers", "0", *data])
    out = capsys.readouterr().out
    assert rc == 0
    assert "[1] loader alone, simdr_r18_64" in out and "[2] model alone, simdr_r18_64" in out
    assert out.count("| fp32 |") == 2 and out.count("| bf16 |") == 2


def test_speed_cli_user_errors_are_one_line(data, capsys, tmp_path):
    rc = _speed_main()(["--parts", "loader", "--models", "simdr_r18_64", "--train_ann", str(tmp_path / "no.json"),
                        "--train_images", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("error:") and "no.json" in err[0]
