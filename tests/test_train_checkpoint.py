"""Training checkpoints: atomic writes under a kill, the compact fp16 xz file (round trip,
layout, damage, size), and loading a compact file for export / evaluation."""

from __future__ import annotations

import io
import lzma
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from _export_helpers import TinySimDR, random_batch
from torch import nn

from edgepose.errors import ModelFileError
from edgepose.train import rebuild
from edgepose.train.checkpoint import (
    COMPACT_FORMAT,
    read_checkpoint,
    save_checkpoint,
    save_compact_checkpoint,
)
from edgepose.zoo import get_spec

REPO = Path(__file__).resolve().parents[1]

# saves ``n_mb`` MB of tensors to argv[1] once, after printing "ready" (the tensors exist by then)
_SAVER = r"""
import sys, torch
from edgepose.train.checkpoint import save_checkpoint
n_mb = int(sys.argv[2])
state = {"spec": {"name": "new"}, "model": {f"w{i}": torch.randn(1 << 18) for i in range(n_mb)}, "epoch": 2}
print("ready", flush=True)
save_checkpoint(sys.argv[1], state)
"""


def _small_net() -> nn.Module:
    """Conv + BatchNorm (an int64 num_batches_tracked buffer) + Linear, ~40k parameters, trained a step."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
    net(torch.randn(4, 3, 16, 16))  # materialises the Linear, updates the BatchNorm statistics
    return net


def _full_checkpoint(net: nn.Module) -> dict:
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.randn(4, 3, 16, 16)).square().mean().backward()
    optimizer.step()
    return {"spec": {"name": "small"}, "config": {"lr": 1e-3, "lr_steps": [90, 120]}, "model": net.state_dict(),
            "optimizer": optimizer.state_dict(), "scheduler": {"last_epoch": 7}, "scaler": {},
            "epoch": 7, "global_step": 700, "best_metric": "AP", "best_value": 0.61, "metrics": {"AP": 0.6}}


def test_kill_during_save_keeps_the_previous_file(tmp_path: Path) -> None:
    last = tmp_path / "last.pt"
    save_checkpoint(last, {"spec": {"name": "previous"}, "model": {"w": torch.arange(5.0)}, "epoch": 1})
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    killed_with_tmp = None
    for n_mb in (48, 96, 192):  # retry with more data if the save finished before the kill
        proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(last), str(n_mb)], env=env,
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "ready"
            deadline = time.monotonic() + 30
            while proc.poll() is None and time.monotonic() < deadline:
                temps = list(tmp_path.glob(".last.pt.*.tmp"))
                if temps:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    killed_with_tmp = temps[0]
                    break
                time.sleep(0.0005)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
        if killed_with_tmp is not None and read_checkpoint(last)["spec"]["name"] == "previous":
            break
        save_checkpoint(last, {"spec": {"name": "previous"}, "model": {"w": torch.arange(5.0)}, "epoch": 1})
        killed_with_tmp = None
    assert killed_with_tmp is not None, "every save finished before it could be killed"
    state = read_checkpoint(last)
    assert state["spec"] == {"name": "previous"} and state["epoch"] == 1 and not state["compact"]
    assert torch.equal(state["model"]["w"], torch.arange(5.0))
    others = {p.name for p in tmp_path.iterdir()} - {"last.pt"}
    assert all(name.startswith(".last.pt.") and name.endswith(".tmp") for name in others), others


def test_compact_round_trip(tmp_path: Path) -> None:
    net = _small_net()
    full = _full_checkpoint(net)
    path = save_compact_checkpoint(tmp_path / "small.xz", full)
    assert path == tmp_path / "small.xz" and path.read_bytes().startswith(b"\xfd7zXZ\x00")
    state = read_checkpoint(path)
    assert state["compact"] is True and state["format"] == COMPACT_FORMAT
    assert not {"optimizer", "scheduler", "scaler"} & set(state)
    for key in ("spec", "config", "epoch", "global_step", "best_metric", "best_value", "metrics"):
        assert state[key] == full[key], key
    assert list(state["model"]) == list(full["model"])
    for name, original in full["model"].items():
        restored = state["model"][name]
        assert restored.dtype == original.dtype and restored.shape == original.shape, name
        if original.is_floating_point():
            assert torch.equal(restored, original.half().float()), name  # exactly the fp16 rounding
        else:
            assert torch.equal(restored, original), name  # num_batches_tracked
    assert int(state["model"]["1.num_batches_tracked"]) == 2
    ids = {p.name for p in tmp_path.iterdir()}
    assert ids == {"small.xz"}  # no temporary file left


def test_atomic_writes_get_the_mode_open_would_give(tmp_path: Path) -> None:
    """Not the 0600 of the private temporary file: the umask decides, as for any file the user writes."""
    old = os.umask(0o027)
    try:
        full = save_checkpoint(tmp_path / "last.pt", _full_checkpoint(_small_net()))
        compact = save_compact_checkpoint(tmp_path / "kept.ckpt.xz", read_checkpoint(full))
    finally:
        os.umask(old)
    assert (full.stat().st_mode & 0o777, compact.stat().st_mode & 0o777) == (0o640, 0o640)


def test_compact_layout_is_byte_shuffled_fp16(tmp_path: Path) -> None:
    weights = torch.tensor([1.0, -2.0, 0.5])  # fp16 0x3C00, 0xC000, 0x3800
    path = save_compact_checkpoint(tmp_path / "w.xz", {"spec": {"name": "w"}, "model": {"w": weights}}, preset=0)
    raw = torch.load(io.BytesIO(lzma.decompress(path.read_bytes())), weights_only=True)
    assert raw["format"] == COMPACT_FORMAT and raw["layout"] == "fp16-byteshuffle"
    assert raw["model"]["w"].tolist() == [[0x3C, 0xC0, 0x38], [0, 0, 0]]  # high bytes, then low bytes
    assert raw["float16"] == {"w": [[3], "float32"]}


def test_format_is_detected_by_content_not_suffix(tmp_path: Path) -> None:
    net = _small_net()
    compact = save_compact_checkpoint(tmp_path / "looks_full.pt", _full_checkpoint(net), preset=0)
    assert read_checkpoint(compact)["compact"] is True
    full = save_checkpoint(tmp_path / "looks_compact.xz", _full_checkpoint(net))
    state = read_checkpoint(full)
    assert state["compact"] is False and "optimizer" in state


def test_damaged_compact_file_is_a_model_file_error(tmp_path: Path) -> None:
    path = save_compact_checkpoint(tmp_path / "small.xz", _full_checkpoint(_small_net()))
    data = path.read_bytes()
    truncated = tmp_path / "truncated.xz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated.xz") as info:
        read_checkpoint(truncated)
    assert "\n" not in str(info.value) and "truncated or damaged" in str(info.value)
    flipped = tmp_path / "flipped.xz"
    flipped.write_bytes(data[:200] + bytes([data[200] ^ 0xFF]) + data[201:])
    with pytest.raises(ModelFileError, match="flipped.xz"):
        read_checkpoint(flipped)
    not_ours = tmp_path / "other.xz"
    not_ours.write_bytes(lzma.compress(b"hello"))
    with pytest.raises(ModelFileError, match="other.xz") as info:
        read_checkpoint(not_ours)
    assert "\n" not in str(info.value)
    with pytest.raises(ModelFileError, match="does not exist"):
        read_checkpoint(tmp_path / "missing.xz")


def test_compact_file_is_smaller_than_the_full_checkpoint(tmp_path: Path) -> None:
    full = _full_checkpoint(_small_net())
    full_path = save_checkpoint(tmp_path / "last.pt", full)
    compact_path = save_compact_checkpoint(tmp_path / "small.xz", full)
    # no Adam moments (2x the weights), half the bytes per weight, then xz
    assert compact_path.stat().st_size < full_path.stat().st_size / 4


def test_load_checkpoint_reads_a_compact_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = get_spec("simdr_r18_64")
    monkeypatch.setattr(rebuild, "_build", TinySimDR)  # a tiny stand-in of the spec's model
    torch.manual_seed(0)
    net = TinySimDR(spec)
    full = {"spec": spec.to_dict(), "config": {"epochs": 3}, "model": net.state_dict(),
            "optimizer": {}, "epoch": 3, "global_step": 30}
    full_path = save_checkpoint(tmp_path / "best.pt", full)
    compact_path = save_compact_checkpoint(tmp_path / "simdr_r18_64.xz", full)
    from_full = rebuild.load_checkpoint(full_path)
    from_compact = rebuild.load_checkpoint(compact_path)
    assert from_compact.spec == from_full.spec == spec and from_compact.config == {"epochs": 3}
    assert all(p.dtype == torch.float32 for p in from_compact.model.parameters())
    x = torch.from_numpy(random_batch(spec, 2))
    with torch.no_grad():
        for a, b in zip(from_compact.model(x), from_full.model(x)):
            torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-2)  # fp16 weights
