"""The training recipe's knobs: precision, schedule, best metric, finished runs, strict JSON,
the 64->128 initialisation and the learning-curve plot."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

from edgepose.errors import InputError
from edgepose.nn import build
from edgepose.nn.losses import criterion_for_codec
from edgepose.nn.weights import CheckpointMismatchError
from edgepose.train import engine
from edgepose.train.checkpoint import read_checkpoint, save_compact_checkpoint
from edgepose.train.config import TrainConfig, load_config
from edgepose.train.engine import (
    RunState,
    _save,
    autocast_dtype,
    cpu_supports_bf16,
    lr_multiplier,
    make_model,
    run_training,
    strict_json_value,
    train_one_epoch,
)
from edgepose.train import distributed
from edgepose.zoo import get_spec

sys.path.insert(0, str(Path(__file__).parent))
from _stick_dataset import write_stick_dataset  # noqa: E402


@pytest.fixture(scope="module")
def stick_args(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("stick")
    train = write_stick_dataset(root / "train", 24, size=96, seed=0)
    val = write_stick_dataset(root / "val", 6, size=96, seed=1)
    return ["--dataset", "synthetic", "--train_ann", str(train), "--train_images", str(train.parent / "images"),
            "--val_ann", str(val), "--val_images", str(val.parent / "images"), "--model", "simdr_r18_64",
            "--batch_size", "4", "--workers", "0", "--max_steps_per_epoch", "1", "--flip_test", "false"]


# ---- schedule ------------------------------------------------------------------------------
def _config(**values: object) -> TrainConfig:
    return TrainConfig(**values)  # type: ignore[arg-type]


def test_warmup_rises_linearly_then_the_schedule_takes_over():
    config = _config(lr_schedule="cosine", warmup_steps=10, epochs=10)
    assert [lr_multiplier(s, config, 10) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert lr_multiplier(10, config, 10) == pytest.approx(1.0)


@pytest.mark.parametrize("schedule, middle", [("cosine", 0.5), ("linear", 0.5)])
def test_cosine_and_linear_decay_to_zero_at_the_last_step(schedule, middle):
    config = _config(lr_schedule=schedule, warmup_steps=0, epochs=4)
    total = 4 * 25
    assert lr_multiplier(0, config, 25) == pytest.approx(1.0)
    assert lr_multiplier(total // 2, config, 25) == pytest.approx(middle)
    assert lr_multiplier(total, config, 25) == pytest.approx(0.0, abs=1e-12)
    values = [lr_multiplier(s, config, 25) for s in range(total + 1)]
    assert all(a >= b for a, b in zip(values, values[1:])), "the decay is monotone"


def test_step_schedule_drops_at_the_epoch_milestones():
    config = _config(lr_schedule="step", lr_steps=[2, 3], lr_factor=0.1, epochs=4)
    assert [lr_multiplier(s, config, 5) for s in (0, 9, 10, 14, 15)] == pytest.approx([1, 1, 0.1, 0.1, 0.01])


def test_bad_recipe_values_are_refused_by_name():
    for key, value in (("lr_schedule", "exp"), ("optimizer", "sgd"), ("precision", "int8"),
                       ("best_metric", "loss"), ("warmup_steps", "-1")):
        with pytest.raises(InputError, match=key):
            load_config(None, [f"--{key}", value])


# ---- precision -----------------------------------------------------------------------------
def test_fp16_on_cpu_is_an_error_and_fp32_means_no_autocast():
    with pytest.raises(InputError, match="fp16 needs a CUDA device"):
        autocast_dtype("fp16", torch.device("cpu"))
    assert autocast_dtype("fp32", torch.device("cpu")) is None


@pytest.mark.skipif(not cpu_supports_bf16(), reason="this CPU has no native bf16")
def test_bf16_step_keeps_loss_and_batchnorm_statistics_in_fp32():
    spec = get_spec("simdr_r18_64")
    model = build(spec).to(memory_format=torch.channels_last)
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    before = bn.running_mean.clone()
    codec = spec.build_codec()
    rng = torch.Generator().manual_seed(0)
    kp = torch.rand(2, 17, 2, generator=rng).numpy() * 60 + 2
    targets = [codec.encode(k, torch.ones(17).numpy()) for k in kp]
    batch = {"image": torch.randn(2, 3, 64, 64, generator=rng),
             **{k: torch.from_numpy(__import__("numpy").stack([t[k] for t in targets])) for k in targets[0]}}
    losses = []
    criterion = criterion_for_codec(codec)

    def spy(outputs, batch_targets):
        loss = criterion(outputs, batch_targets)
        losses.append((tuple(o.dtype for o in outputs), loss.dtype))
        return loss

    config = TrainConfig(model=spec.name, batch_size=2, log_every=10**6, max_steps_per_epoch=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    info = distributed.DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    train_one_epoch(model, [batch], spy, optimizer, torch.amp.GradScaler("cpu", enabled=False), info, config,
                    RunState(), lambda row: None, torch.bfloat16)
    assert losses == [((torch.float32, torch.float32), torch.float32)]
    assert bn.running_mean.dtype == torch.float32 and bn.running_var.dtype == torch.float32
    assert not torch.equal(bn.running_mean, before), "statistics were updated"
    assert all(p.dtype == torch.float32 for p in model.parameters()), "master weights stay fp32"


# ---- best metric, finished runs, strict JSON, curves ---------------------------------------
def _save_with(tmp_path: Path, config: TrainConfig, values: list[float]) -> list[int]:
    """Save one epoch per value; returns the epoch stored in best.pt after each."""
    spec = get_spec("simdr_r18_64")
    model = build(spec)
    optimizer = torch.optim.Adam(model.parameters())
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    state = RunState()
    best_epochs = []
    for epoch, value in enumerate(values, start=1):
        state.epoch = epoch
        metrics = {"AP": 0.0, "PCK@0.1": value, "median_error": value}
        _save(tmp_path, model, optimizer, scaler, spec, config, state, metrics)
        best_epochs.append(read_checkpoint(tmp_path / "best.pt")["epoch"])
    return best_epochs


def test_best_checkpoint_follows_the_configured_metric(tmp_path):
    values = [0.3, 0.5, 0.4, 0.6]
    assert _save_with(tmp_path / "pck", _config(best_metric="PCK@0.1"), values) == [1, 2, 2, 4]
    # lower is better for the median error
    assert _save_with(tmp_path / "err", _config(best_metric="median_error"), values) == [1, 1, 1, 1]
    # AP stays 0.0 here, so by AP best.pt would never move past epoch 1
    assert _save_with(tmp_path / "ap", _config(best_metric="AP"), values) == [1, 1, 1, 1]


def test_best_metric_missing_from_the_validation_metrics_names_the_choices(tmp_path):
    with pytest.raises(InputError, match="--best_metric AR is not among .*PCK@0.1"):
        _save_with(tmp_path, _config(best_metric="AR"), [0.5])


def test_finished_run_is_refused_until_extended(stick_args, tmp_path):
    args = stick_args + ["--output_dir", str(tmp_path), "--epochs", "1", "--resume", "auto",
                         "--best_metric", "PCK@0.1"]
    first = run_training(load_config(None, args))
    assert first["epochs"] == 1 and first["best_metric"] == "PCK@0.1"
    with pytest.raises(InputError, match="already finished 1 of --epochs 1; pass a larger --epochs"):
        run_training(load_config(None, args))
    extended = run_training(load_config(None, args[:-6] + ["--epochs", "2", "--resume", "auto",
                                                           "--best_metric", "PCK@0.1"]))
    assert extended["epochs"] == 2 and extended["steps"] == 2
    # a fresh run into the same folder would overwrite it: refused
    with pytest.raises(InputError, match="already holds a run .*--resume auto"):
        run_training(load_config(None, stick_args + ["--output_dir", str(tmp_path), "--epochs", "3"]))


def test_summary_is_strict_json_and_curves_are_drawn(stick_args, tmp_path):
    run_training(load_config(None, stick_args + ["--output_dir", str(tmp_path), "--epochs", "2"]))
    run_dir = tmp_path / "simdr_r18_64"

    def refuse(token: str) -> None:
        raise AssertionError(f"{token} in strict JSON")

    summary = json.loads((run_dir / "summary.json").read_text(), parse_constant=refuse)
    assert summary["samples"] == 2 * 4 and "median_error" in summary["metrics"]
    png = (run_dir / "curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    header = (run_dir / "log.csv").read_text().splitlines()[0].split(",")
    assert {"samples", "PCK@0.1", "median_error", "samples_per_s"} <= set(header)


def test_strict_json_value_replaces_every_non_finite_number():
    value = {"a": float("nan"), "b": [1.0, float("inf"), {"c": -float("inf")}], "d": "NaN", "e": 2}
    assert strict_json_value(value) == {"a": None, "b": [1.0, None, {"c": None}], "d": "NaN", "e": 2}
    json.dumps(strict_json_value(value), allow_nan=False)


# ---- 64 -> 128 -----------------------------------------------------------------------------
def test_init_from_64_loads_trunk_and_final_layer_and_leaves_heads_fresh(tmp_path, caplog):
    torch.manual_seed(1)
    small = build("simdr_r50_64")
    source = tmp_path / "r50_64.pth"
    torch.save(small.state_dict(), source)
    torch.manual_seed(2)
    fresh = build("simdr_r50_128").state_dict()
    torch.manual_seed(2)  # the same initial heads as `fresh`
    with caplog.at_level("INFO"):
        model = make_model(_config(model="simdr_r50_128", init_checkpoint=str(source)), get_spec("simdr_r50_128"))
    loaded = model.state_dict()
    small_sd = small.state_dict()
    heads = [k for k in loaded if k.startswith(("mlp_head_x.", "mlp_head_y."))]
    assert len(heads) == 4
    for key, value in loaded.items():
        if key in heads:
            assert value.shape != small_sd[key].shape and torch.equal(value, fresh[key]), key
        else:
            assert torch.equal(value, small_sd[key]), key
    assert any(k.startswith("final_layer.") for k in loaded)
    assert "4 fresh (mlp_head_x.weight" in caplog.text and "tensors loaded" in caplog.text


def test_init_from_another_head_type_still_fails(tmp_path):
    source = tmp_path / "hm.pth"
    torch.save(build("hm_r50_64").state_dict(), source)
    with pytest.raises(CheckpointMismatchError):
        make_model(_config(model="simdr_r50_128", init_checkpoint=str(source)), get_spec("simdr_r50_128"))


def test_validation_reports_median_error_of_the_box_side():
    from edgepose.evaluate import median_error

    gt = torch.zeros(2, 3, 2).numpy()
    pred = gt.copy()
    pred[0, :, 0] = [1.0, 2.0, 3.0]  # box side 10 -> 0.1, 0.2, 0.3
    pred[1, :, 1] = [4.0, 8.0, 100.0]  # box side 20 -> 0.2, 0.4, (not labelled)
    visible = [[1, 1, 1], [1, 1, 0]]
    boxes = [[0, 0, 10, 5], [0, 0, 20, 20]]
    assert median_error(pred, gt, visible, boxes) == pytest.approx(0.2)
    assert math.isnan(median_error(pred, gt, [[0, 0, 0], [0, 0, 0]], boxes))


# ---- continuing on another machine ---------------------------------------------------------
def fast_compact(path, checkpoint):
    """save_compact_checkpoint at xz preset 0 (the tests check content, not size)."""
    return save_compact_checkpoint(path, checkpoint, preset=0)


def test_resume_auto_continues_from_the_kept_compact_checkpoint(stick_args, tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(engine, "save_compact_checkpoint", fast_compact)
    kept = tmp_path / "kept" / "simdr_r18_64.ckpt.xz"
    args = stick_args + ["--resume", "auto", "--kept_checkpoint", str(kept), "--lr_schedule", "cosine"]
    first = run_training(load_config(None, args + ["--output_dir", str(tmp_path / "a"), "--epochs", "1"]))
    assert kept.exists() and first["steps"] == 1
    compact = read_checkpoint(kept)
    assert compact["compact"] and compact["epoch"] == 1 and compact["global_step"] == 1
    # a fresh machine: no run folder, only the kept file (from git)
    with caplog.at_level("WARNING"):
        second = run_training(load_config(None, args + ["--output_dir", str(tmp_path / "b"), "--epochs", "3"]))
    assert second["epochs"] == 3 and second["steps"] == 3, "continued at step 1, not from scratch"
    assert "optimiser moments start afresh" in caplog.text
    assert read_checkpoint(kept)["epoch"] == 3, "the kept file is replaced at the end"


def test_kept_checkpoint_is_written_every_kept_every_epochs(stick_args, tmp_path, monkeypatch):
    written = []

    def spy(path, checkpoint, **kwargs):
        written.append(checkpoint["epoch"])
        return fast_compact(path, checkpoint)

    monkeypatch.setattr(engine, "save_compact_checkpoint", spy)
    kept = tmp_path / "k.ckpt.xz"
    run_training(load_config(None, stick_args + ["--output_dir", str(tmp_path), "--epochs", "5", "--val_ann", "",
                                                 "--kept_checkpoint", str(kept), "--kept_every", "2"]))
    assert written == [2, 4, 5] and read_checkpoint(kept)["epoch"] == 5
