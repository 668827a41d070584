"""The whole product on a tiny budget: train a few steps -> export -> int8 -> runtime backends -> decode.

A real ResNet-18 SimDR model is trained for a few steps on the committed synthetic-human
fixture, exported to fp32 ONNX / TFLite with the CLI, quantized to int8 ONNX / TFLite with the
int8 CLI, and every file is loaded by ``edgepose.Estimator`` in each runtime that can take it.
The keypoints each runtime decodes must match what the torch checkpoint decodes through the
same preprocessing (float files tightly; int8 files loosely, the model is barely trained).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from _export_helpers import load_cli, busiest_scene

from edgepose import Estimator
from edgepose.train.rebuild import load_torch_model
from edgepose.export.model_files import read_metadata
from edgepose.preprocess import crops_to_frame, preprocess_crops
from edgepose.train.config import load_config
from edgepose.train.engine import run_training

FIXTURE = Path(__file__).parent / "fixtures" / "synth_small"
ANN = FIXTURE / "annotations" / "person_keypoints.json"
IMAGES = FIXTURE / "images"
MODEL = "simdr_r18_64"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("e2e")
    config = load_config(None, [
        "--model", MODEL, "--dataset", "synthetic", "--train_ann", str(ANN), "--train_images", str(IMAGES),
        "--val_ann", str(ANN), "--val_images", str(IMAGES), "--val_max_images", "8", "--epochs", "1",
        "--max_steps_per_epoch", "4", "--batch_size", "8", "--workers", "0", "--lr_steps", "",
        "--device", "cpu", "--output_dir", str(root / "runs"),
    ])
    summary = run_training(config)
    assert summary["steps"] == 4
    checkpoint = root / "runs" / MODEL / "last.pt"
    out = root / "exports"
    assert load_cli("export").main(["--checkpoint", str(checkpoint), "--out-dir", str(out),
                                    "--targets", "onnx,tflite"]) == 0
    assert load_cli("int8").main(["--checkpoint", str(checkpoint), "--ann", str(ANN), "--images", str(IMAGES),
                                  "--out-dir", str(out), "--subset-size", "32"]) == 0
    files = {p.name: p for p in out.iterdir()}
    assert set(files) == {f"{MODEL}_fp32.onnx", f"{MODEL}_fp32.tflite", f"{MODEL}_int8.onnx", f"{MODEL}_int8.tflite"}
    return {"checkpoint": checkpoint, **files}


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray]:
    """The fixture image with the most people, and their ground-truth boxes (N, 4) xywh."""
    return busiest_scene(ANN, IMAGES)


def torch_keypoints(checkpoint: Path, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(N, K, 2) frame px decoded from the torch checkpoint, with the runtime's preprocessing."""
    loaded = load_torch_model(checkpoint=checkpoint)
    batch, matrices = preprocess_crops(frame, boxes, loaded.spec.input_spec)
    with torch.no_grad():
        outputs = tuple(o.numpy() for o in loaded.model(torch.from_numpy(batch)))
    keypoints, _ = loaded.spec.build_codec().decode(outputs)
    return crops_to_frame(keypoints, matrices)


@pytest.mark.parametrize(("file", "backend", "tolerance_px", "agree"), [
    (f"{MODEL}_fp32.onnx", "onnxruntime", 0.01, 0.97),
    (f"{MODEL}_fp32.onnx", "openvino", 0.01, 0.97),
    (f"{MODEL}_fp32.tflite", "tflite", 0.01, 0.97),
    (f"{MODEL}_int8.onnx", "onnxruntime", 2.0, 0.6),
    (f"{MODEL}_int8.onnx", "openvino", 2.0, 0.6),
    (f"{MODEL}_int8.tflite", "tflite", 2.0, 0.6),
])
def test_trained_exported_quantized_model_runs_in_every_backend(
        pipeline: dict[str, Path], scene: tuple[np.ndarray, np.ndarray],
        file: str, backend: str, tolerance_px: float, agree: float) -> None:
    frame, boxes = scene
    meta = read_metadata(pipeline[file])
    assert meta["model"] == MODEL and meta["precision"] == file.split("_")[-1].split(".")[0]
    expected = torch_keypoints(pipeline["checkpoint"], frame, boxes)
    with Estimator(pipeline[file], backend=backend, threads=1, smoothing=None) as est:
        result = est.estimate(frame, boxes)
    assert result.keypoints.shape == expected.shape == (len(boxes), 17, 2)
    assert np.isfinite(result.keypoints).all() and np.isfinite(result.scores).all()
    close = np.linalg.norm(result.keypoints - expected, axis=-1) <= tolerance_px
    assert close.mean() >= agree, f"{close.mean():.2f} of keypoints within {tolerance_px} px of torch"
