"""fp32 / fp16 TFLite export through litert-torch: parity, NHWC input, builtin-only ops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _export_helpers import random_batch, seeded_model

from edgepose.export import export_tflite
from edgepose.export.common import max_abs_diff, torch_outputs
from edgepose.export.runtime import FileRunner
from edgepose.export.model_files import read_metadata
from edgepose.export.tflite_ops import check_builtin_only

# ops litert-torch 0.10 produces for a ResNet SimDR model (NHWC input; recorded by the test)
SIMDR_FP32_OPS = {"ADD", "CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "PAD", "PADV2", "RESHAPE", "TRANSPOSE"}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory):
    loaded = seeded_model("simdr_r18_64")
    d = tmp_path_factory.mktemp("tflite")
    fp32 = export_tflite(loaded.model, loaded.spec, d / "simdr_r18_64_fp32.tflite")
    fp16 = export_tflite(loaded.model, loaded.spec, d / "simdr_r18_64_fp16.tflite", precision="fp16")
    return loaded, fp32, fp16


def test_tflite_fp32_matches_torch_within_1e4(files) -> None:
    loaded, fp32, _ = files
    x = random_batch(loaded.spec, 3, seed=5)
    with FileRunner(fp32) as runner:
        got = runner.run(x)
    assert max_abs_diff(got, torch_outputs(loaded.model, x)) <= 1e-4


def test_tflite_fp16_runs_close_to_torch(files) -> None:
    loaded, fp32, fp16 = files
    x = random_batch(loaded.spec, 2, seed=6)
    with FileRunner(fp16) as runner:
        got = runner.run(x)
    ref = torch_outputs(loaded.model, x)
    scale = max(float(np.abs(r).max()) for r in ref)
    assert max_abs_diff(got, ref) <= 1e-2 * scale
    assert fp16.stat().st_size < 0.6 * fp32.stat().st_size


def test_tflite_interface_and_metadata(files) -> None:
    from ai_edge_litert.interpreter import Interpreter

    _, fp32, fp16 = files
    for path, precision in ((fp32, "fp32"), (fp16, "fp16")):
        meta = read_metadata(path)
        assert meta["layout"] == "NHWC" and meta["precision"] == precision and meta["batch_size"] == 1
        assert meta["input_dtype"] == "float32" and meta["output_dtype"] == "float32"
        runner = Interpreter(model_path=str(path)).get_signature_runner()
        inputs = runner.get_input_details()
        assert list(inputs) == ["input"] and list(inputs["input"]["shape"]) == [1, 64, 64, 3]
        assert sorted(runner.get_output_details()) == ["simcc_x", "simcc_y"]


def test_tflite_builtin_ops_only(files) -> None:
    _, fp32, fp16 = files
    ops32 = check_builtin_only(fp32)
    assert set(ops32.builtin) == SIMDR_FP32_OPS
    assert ops32.builtin["TRANSPOSE"] == 1  # only the SimDR reshape, no input transpose (NHWC)
    ops16 = check_builtin_only(fp16)
    assert set(ops16.builtin) == SIMDR_FP32_OPS | {"DEQUANTIZE"}


@pytest.mark.slow
def test_tflite_nchw_and_heatmap(tmp_path: Path) -> None:
    loaded = seeded_model("hm_r18_64")
    path = export_tflite(loaded.model, loaded.spec, tmp_path / "hm.tflite", layout="NCHW")
    assert read_metadata(path)["layout"] == "NCHW"
    x = random_batch(loaded.spec, 1)
    with FileRunner(path) as runner:
        assert max_abs_diff(runner.run(x), torch_outputs(loaded.model, x)) <= 1e-4
    assert "TRANSPOSE_CONV" in check_builtin_only(path).builtin
