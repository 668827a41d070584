"""Bad input to the export tools: clear errors and no partial outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from _export_helpers import load_cli, random_batch, save_checkpoint, seeded_model, tiny_model
from _stick_dataset import write_stick_dataset

from edgepose.errors import InputError, ModelFileError, UnknownModelError
from edgepose.export import (
    CalibrationError, ExportError, QuantOptions, export_tflite, load_checkpoint, load_torch_model, quantize_tflite,
)
from edgepose.export.calibration import calibration_batch
from edgepose.export.pipeline import export_float, export_int8, parse_list
from edgepose.zoo import get_spec


def _listing(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    loaded = seeded_model("simdr_r18_64")
    ckpt = save_checkpoint(tmp_path / "ok.pt", loaded.model.state_dict(), loaded.spec)
    again = load_checkpoint(ckpt)
    assert again.spec == loaded.spec and again.config == {"epochs": 0}
    x = torch.from_numpy(random_batch(loaded.spec, 1))
    with torch.no_grad():
        assert torch.equal(again.model(x)[0], loaded.model(x)[0])


def test_missing_and_invalid_checkpoints(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(ModelFileError, match="cannot read checkpoint"):
        load_checkpoint(junk)
    bare = tmp_path / "bare.pt"
    torch.save({"conv1.weight": torch.zeros(1)}, bare)
    with pytest.raises(ModelFileError, match="not an edgepose checkpoint"):
        load_checkpoint(bare)
    bad_spec = tmp_path / "bad_spec.pt"
    torch.save({"model": {}, "spec": {"name": "x"}}, bad_spec)
    with pytest.raises(ModelFileError, match="invalid 'spec'"):
        load_checkpoint(bad_spec)


def test_checkpoint_arch_mismatch(tmp_path: Path) -> None:
    other = seeded_model("simdr_r18_128")  # same trunk, different head sizes
    ckpt = save_checkpoint(tmp_path / "mismatch.pt", other.model.state_dict(), get_spec("simdr_r18_64"))
    with pytest.raises(ModelFileError, match="mlp_head_x"):
        load_checkpoint(ckpt)
    weights = tmp_path / "sd.pt"
    torch.save(other.model.state_dict(), weights)
    with pytest.raises(ModelFileError, match="mlp_head_x"):
        load_torch_model(name="simdr_r18_64", weights=weights)


def test_model_source_arguments() -> None:
    with pytest.raises(InputError):
        load_torch_model()
    with pytest.raises(InputError, match="random_init"):
        load_torch_model(name="simdr_r18_64")
    with pytest.raises(UnknownModelError):
        load_torch_model(name="simdr_nope_64", random_init=True)
    with pytest.raises(InputError):
        parse_list("onnx,pdf", ("onnx", "tflite"), "formats")


def test_empty_calibration_set(tmp_path: Path) -> None:
    spec = get_spec("simdr_r18_64")
    ann = write_stick_dataset(tmp_path / "d", 2, size=64)
    data = json.loads(ann.read_text())
    for a in data["annotations"]:
        a["num_keypoints"] = 0
    ann.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match="no non-crowd person"):
        calibration_batch(ann, ann.parent / "images", spec, 10)
    with pytest.raises(CalibrationError, match=">= 1"):
        calibration_batch(ann, ann.parent / "images", spec, 0)
    with pytest.raises(CalibrationError, match="does not exist"):
        calibration_batch(tmp_path / "none.json", tmp_path, spec, 10)
    out = tmp_path / "out"
    with pytest.raises(CalibrationError, match="empty"):
        export_int8(tiny_model(), out, np.zeros((0, 3, 64, 64), np.float32), ("onnx", "tflite"))
    with pytest.raises(InputError, match="subset_size"):
        QuantOptions(subset_size=0)
    assert _listing(out) == []


def test_missing_calibration_image(tmp_path: Path) -> None:
    ann = write_stick_dataset(tmp_path / "d", 2, size=64)
    (ann.parent / "images" / "00000.png").unlink()
    with pytest.raises(CalibrationError, match="cannot read image"):
        calibration_batch(ann, ann.parent / "images", get_spec("simdr_r18_64"), 10)


def test_model_tflite_cannot_take_leaves_nothing(tmp_path: Path) -> None:
    """ONNX succeeds, TFLite conversion fails: the run writes neither file."""
    out = tmp_path / "out"
    with pytest.raises(ExportError, match="litert-torch cannot convert"):
        export_float(tiny_model(det=True), out, ("onnx", "tflite"))
    assert _listing(out) == []
    with pytest.raises(ExportError, match="litert-torch cannot convert|torch.export"):
        quantize_tflite(tiny_model(det=True).model, get_spec("simdr_r18_64"), out / "q.tflite",
                        random_batch(get_spec("simdr_r18_64"), 4), QuantOptions(subset_size=4))
    assert _listing(out) == []


def test_model_that_does_not_fit_its_spec(tmp_path: Path) -> None:
    wrong = tiny_model()
    wrong.spec = get_spec("simdr_r18_128")  # stand-in has 64x64 bins
    with pytest.raises(ExportError, match="do not fit the spec"):
        export_tflite(wrong.model, wrong.spec, tmp_path / "w.tflite")
    assert _listing(tmp_path) == []


def test_cli_reports_errors_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = load_cli("export")
    code = export.run_main(export.main, ["--checkpoint", str(tmp_path / "missing.pt"), "--out-dir", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and "does not exist" in err and "Traceback" not in err
    int8 = load_cli("int8")
    code = int8.run_main(int8.main, ["--model", "simdr_r18_64", "--random-init", "--ann", str(tmp_path / "x.json"),
                                     "--images", str(tmp_path), "--out-dir", str(tmp_path / "o")])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err
    assert _listing(tmp_path / "o") == []
