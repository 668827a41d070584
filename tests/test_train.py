"""Training loop: config parsing, a real CPU run that saves/resumes, and torchrun DDP on gloo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edgepose.errors import InputError
from edgepose.train.rebuild import load_checkpoint
from edgepose.train.checkpoint import read_checkpoint
from edgepose.train.config import load_config
from edgepose.train.engine import run_training

sys.path.insert(0, str(Path(__file__).parent))
from _stick_dataset import write_stick_dataset  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def stick_data(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("stick")
    train = write_stick_dataset(root / "train", 48, size=96, seed=0)
    val = write_stick_dataset(root / "val", 8, size=96, seed=1)
    return {
        "--dataset": "synthetic", "--train_ann": str(train), "--train_images": str(train.parent / "images"),
        "--val_ann": str(val), "--val_images": str(val.parent / "images"),
    }


def _args(data: dict[str, str], **extra: object) -> list[str]:
    tokens = [t for kv in data.items() for t in kv]
    for key, value in extra.items():
        tokens += [f"--{key}", str(value)]
    return tokens


def test_config_overrides_are_type_checked(tmp_path):
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("model: hm_r18_64\nlr: 0.002\nlr_steps: [3, 5]\n")
    c = load_config(yaml_file, ["--lr", "5e-4", "--flip_prob=0", "--epochs", "3"])
    assert (c.model, c.lr, c.lr_steps, c.flip_prob, c.epochs) == ("hm_r18_64", 5e-4, [3, 5], 0.0, 3)
    with pytest.raises(InputError, match="'lr'"):
        load_config(None, ["--lr", "fast"])
    with pytest.raises(InputError, match="unknown option --lrate"):
        load_config(None, ["--lrate", "1"])
    with pytest.raises(InputError, match="epochs"):
        load_config(None, ["--epochs", "2.5"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: x\nnested: {a: 1}\n")
    with pytest.raises(InputError, match="unknown key 'nested'"):
        load_config(bad)


def test_every_shipped_config_loads():
    configs = sorted((REPO / "training" / "configs").glob("*.yaml"))
    assert configs, "training/configs/ has no config"
    from edgepose.zoo import get_spec

    for path in configs:
        config = load_config(path)
        assert config.model == path.stem
        get_spec(config.model)


def test_cpu_training_saves_resumes_and_rebuilds(stick_data, tmp_path):
    out = tmp_path / "runs"
    base = _args(stick_data, model="simdr_r18_64", batch_size=8, workers=0, output_dir=out,
                 max_steps_per_epoch=2, log_every=1, flip_test="true")
    summary = run_training(load_config(None, base + ["--epochs", "1"]))
    assert summary["steps"] == 2 and summary["epochs"] == 1
    run_dir = out / "simdr_r18_64"
    for name in ("last.pt", "best.pt", "log.csv", "config.json", "summary.json"):
        assert (run_dir / name).exists(), name
    assert 0.0 <= summary["metrics"]["AP"] <= 1.0
    # resume continues from epoch 1 to 2 with the same optimiser state
    resumed = run_training(load_config(None, base + ["--epochs", "2", "--resume", "auto"]))
    assert resumed["epochs"] == 2 and resumed["steps"] == 4
    ckpt = read_checkpoint(run_dir / "last.pt")
    assert ckpt["epoch"] == 2 and ckpt["config"]["epochs"] == 2 and ckpt["spec"]["name"] == "simdr_r18_64"
    model = load_checkpoint(run_dir / "last.pt").model
    x = torch.zeros(1, 3, 64, 64)
    sx, sy = model(x)
    assert sx.shape == (1, 17, 192) and sy.shape == (1, 17, 192)


def test_resume_of_another_model_is_refused(stick_data, tmp_path):
    out = tmp_path / "runs"
    common = _args(stick_data, batch_size=8, workers=0, output_dir=out, max_steps_per_epoch=1, epochs=1, val_ann="")
    run_training(load_config(None, common + ["--model", "simdr_r18_64"]))
    with pytest.raises(InputError, match="holds model 'simdr_r18_64'"):
        run_training(load_config(None, common + ["--model", "hm_r18_64", "--resume",
                                                 str(out / "simdr_r18_64" / "last.pt")]))


def test_missing_training_files_name_the_file(tmp_path):
    config = load_config(None, ["--dataset", "synthetic", "--train_ann", str(tmp_path / "nope.json"),
                                "--train_images", str(tmp_path), "--model", "simdr_r18_64"])
    with pytest.raises(Exception, match="nope.json"):
        run_training(config)


def test_torchrun_ddp_matches_single_process(stick_data, tmp_path):
    """2 gloo processes: replicas stay identical and step 1's loss equals one process on the global batch."""
    common = _args(stick_data, model="simdr_r18_64", workers=0, max_steps_per_epoch=3, epochs=1,
                   val_ann="", log_every=1, device="cpu", seed=3, precision="fp32")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp_out = tmp_path / "ddp"
    subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
         str(REPO / "training" / "train.py"), *common, "--batch_size", "4", "--output_dir", str(ddp_out)],
        check=True, env=env, cwd=tmp_path, capture_output=True, timeout=300,
    )
    ddp = json.loads((ddp_out / "simdr_r18_64" / "summary.json").read_text())
    single = run_training(load_config(None, common + ["--batch_size", "8", "--output_dir", str(tmp_path / "one")]))
    assert ddp["world_size"] == 2 and ddp["steps"] == 3
    a, b = ddp["replica_param_checksums"]
    assert a == b, "DDP replicas diverged"
    assert ddp["first_step_loss"] == pytest.approx(single["first_step_loss"], rel=1e-4)
