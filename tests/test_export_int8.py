"""Int8 export with NNCF: ONNX (QDQ) and TFLite (PT2E), calibrated on COCO-format crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _export_helpers import activation_zero_point_types, dequantized_adds, random_batch, seeded_model
from _stick_dataset import write_stick_dataset

from edgepose.export import QuantOptions, quantize_onnx, quantize_tflite
from edgepose.export.calibration import calibration_batch, calibration_crops, coco_person_crops
from edgepose.export.common import torch_outputs
from edgepose.export.pipeline import export_int8
from edgepose.export.runtime import FileRunner
from edgepose.export.model_files import read_metadata
from edgepose.preprocess import preprocess_crops
from edgepose.export.tflite_ops import check_builtin_only

SUBSET = 12


@pytest.fixture(scope="module")
def stick(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_stick_dataset(tmp_path_factory.mktemp("stick"), SUBSET, size=96)


@pytest.fixture(scope="module")
def int8_run(tmp_path_factory: pytest.TempPathFactory, stick: Path):
    """(loaded model, output records, calibration crops) of one export_int8 run, as quantization/int8.py does it."""
    loaded = seeded_model("simdr_r18_64")
    crops = calibration_crops(stick, stick.parent / "images", loaded.spec, SUBSET)
    out = tmp_path_factory.mktemp("int8")
    records = export_int8(loaded, out, crops.batch, ("onnx", "tflite"), QuantOptions(subset_size=SUBSET),
                          threshold_crops=crops)
    return loaded, records, crops


@pytest.fixture(scope="module")
def int8_files(int8_run):
    loaded, records, crops = int8_run
    return loaded, {r.format: r.path for r in records}, crops.batch


def test_calibration_uses_the_runtime_preprocessing(stick: Path) -> None:
    import cv2
    import json

    spec = seeded_model("simdr_r18_64").spec
    crops = coco_person_crops(stick, stick.parent / "images", spec)
    assert crops.batch.shape == (SUBSET, 3, 64, 64) and crops.batch.dtype == np.float32
    data = json.loads(stick.read_text())
    ann = data["annotations"][0]
    frame = cv2.imread(str(stick.parent / "images" / data["images"][0]["file_name"]))
    expected, _ = preprocess_crops(frame, [ann["bbox"]], spec.input_spec)
    np.testing.assert_array_equal(crops.batch[0], expected[0])
    shuffled = calibration_batch(stick, stick.parent / "images", spec, 5, seed=3)
    assert shuffled.shape == (5, 3, 64, 64)


def test_int8_files_written_with_metadata(int8_files) -> None:
    _, files, _ = int8_files
    assert sorted(files) == ["onnx", "tflite"]
    for fmt, path in files.items():
        assert path.name == f"simdr_r18_64_int8.{fmt}"
        meta = read_metadata(path)
        assert meta["precision"] == "int8" and meta["quantization"]["head"] == "float"
        assert meta["quantization"]["calibration_size"] == SUBSET
        assert meta["quantization"]["float_nodes"]  # the head was kept in float
    assert read_metadata(files["tflite"])["input_dtype"] == "int8"
    assert read_metadata(files["tflite"])["output_dtype"] == "float32"  # float head
    # nothing but the two files: the temporary fp32 ONNX and staging files are gone
    assert sorted(p.name for p in files["onnx"].parent.iterdir()) == sorted(p.name for p in files.values())


def test_int8_files_carry_the_score_threshold_verify_measures(int8_run) -> None:
    """Each int8 file stores the score threshold that quantization/verify.py measures for it on the same crops."""
    from edgepose.export.verify import verify_files

    loaded, records, crops = int8_run
    rows = verify_files(loaded, [r.path for r in records], crops, repeats=1, compute_ap=False)
    for record, row in zip(records, rows[1:]):
        stored = read_metadata(record.path)
        assert row.score_threshold is not None and 0.0 < row.score_threshold <= 1.0
        assert stored["score_threshold"] == row.score_threshold == record.score_threshold, record.format
        assert stored["spec"]["score_threshold"] == row.score_threshold  # the spec copy describes these weights
    assert records[0].score_threshold != records[1].score_threshold  # measured per file


def test_int8_files_load_and_run(int8_files) -> None:
    loaded, files, cal = int8_files
    x = cal[:4]
    ref = torch_outputs(loaded.model, x)
    scale = max(float(np.abs(r).max()) for r in ref)
    for path in files.values():
        with FileRunner(path) as runner:
            got = runner.run(x)
        assert [g.shape for g in got] == [r.shape for r in ref]
        assert all(np.isfinite(g).all() for g in got)
        err = max(float(np.abs(g - r).max()) for g, r in zip(got, ref))
        assert err <= 0.1 * scale, (path.name, err, scale)


def test_int8_onnx_is_qdq_and_tflite_builtin_only(int8_files) -> None:
    import onnx

    _, files, _ = int8_files
    model = onnx.load(str(files["onnx"]))
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    # every activation is stored as uint8 (NNCF's int8 residual-branch outputs included), so
    # that onnxruntime on aarch64 fuses every conv into QLinearConv (see edgepose.export.qdq_portable)
    assert activation_zero_point_types(model) == {onnx.TensorProto.UINT8}
    quant = read_metadata(files["onnx"])["quantization"]
    assert quant["int8_activations_stored_as_uint8"] > 0
    # residual adds of two dequantized tensors are Sum nodes (no QLinearAdd: the same results on
    # every CPU); ResNet-18 has 8, the first of which adds the max-pool output (not a DQ) and stays
    assert dequantized_adds(model) == ["Sum"] * 7 and quant["residual_adds_as_sum"] == 7
    tfl = check_builtin_only(files["tflite"])
    assert {"CONV_2D", "FULLY_CONNECTED", "ADD"} <= set(tfl.builtin)
    # integer trunk (residual ADDs included), one DEQUANTIZE into the float head
    assert tfl.builtin["DEQUANTIZE"] == 1 and "QUANTIZE" not in tfl.builtin


@pytest.mark.slow
def test_int8_head_quantized_and_options(tmp_path: Path, stick: Path) -> None:
    loaded = seeded_model("simdr_r18_64")
    cal = calibration_batch(stick, stick.parent / "images", loaded.spec, SUBSET)
    opts = QuantOptions(subset_size=8, head="int8", preset="mixed", bias_correction=False)
    tfl = quantize_tflite(loaded.model, loaded.spec, tmp_path / "h.tflite", cal, opts)
    meta = read_metadata(tfl)
    assert meta["output_dtype"] == "int8" and meta["quantization"]["float_nodes"] == []
    assert not {"QUANTIZE", "DEQUANTIZE"} & set(check_builtin_only(tfl).builtin)  # all integer
    from edgepose.export import export_onnx

    fp32 = export_onnx(loaded.model, loaded.spec, tmp_path / "f.onnx")
    q = quantize_onnx(fp32, loaded.spec, tmp_path / "h.onnx", cal, opts)
    assert read_metadata(q)["quantization"]["preset"] == "mixed"
    x = random_batch(loaded.spec, 2)
    for path in (tfl, q):
        with FileRunner(path) as runner:
            assert all(np.isfinite(o).all() for o in runner.run(x))
