"""The quantization/ command-line tools end to end: export.py, int8.py, verify.py."""

from __future__ import annotations


import pytest
from _export_helpers import dequantized_adds, load_cli, save_checkpoint, seeded_model
from _stick_dataset import write_stick_dataset

from edgepose.export.model_files import read_metadata


def table_lines(out: str) -> list[str]:
    """The closing table of a CLI run (third-party progress bars may precede it on stdout)."""
    lines = out.strip().splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("file "))
    return lines[start:]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("cli")
    loaded = seeded_model("simdr_r18_64")
    ckpt = save_checkpoint(d / "ckpt.pt", loaded.model.state_dict(), loaded.spec)
    ann = write_stick_dataset(d / "data", 6, size=96)
    return d, ckpt, ann


def test_export_int8_verify_cli(setup, capsys: pytest.CaptureFixture[str]) -> None:
    d, ckpt, ann = setup
    out = d / "exports"
    assert load_cli("export").main(["--checkpoint", str(ckpt), "--out-dir", str(out), "--targets", "onnx",
                                    "--score-threshold", "0.125"]) == 0
    table = capsys.readouterr().out
    assert "simdr_r18_64_fp32.onnx" in table and "size MB" in table and "seconds" in table and "0.125" in table
    assert read_metadata(out / "simdr_r18_64_fp32.onnx")["score_threshold"] == 0.125  # given: export.py reads no labels
    assert load_cli("int8").main([
        "--checkpoint", str(ckpt), "--ann", str(ann), "--images", str(ann.parent / "images"),
        "--out-dir", str(out), "--formats", "onnx", "--subset-size", "6",
    ]) == 0
    table = capsys.readouterr().out
    assert "simdr_r18_64_int8.onnx" in table and "int8" in table and "score thr" in table
    int8_meta = read_metadata(out / "simdr_r18_64_int8.onnx")
    assert int8_meta["quantization"]["subset_size"] == 6
    # measured on the calibration crops, exactly as verify.py measures the file on those crops
    from edgepose.export import load_checkpoint
    from edgepose.export.calibration import calibration_crops
    from edgepose.export.verify import verify_files

    loaded = load_checkpoint(ckpt)
    crops = calibration_crops(ann, ann.parent / "images", loaded.spec, 6)
    row = verify_files(loaded, [out / "simdr_r18_64_int8.onnx"], crops, repeats=1, compute_ap=False)[1]
    assert row.score_threshold is not None and int8_meta["score_threshold"] == row.score_threshold
    assert load_cli("verify").main([
        "--checkpoint", str(ckpt), str(out / "simdr_r18_64_fp32.onnx"), str(out / "simdr_r18_64_int8.onnx"),
        "--ann", str(ann), "--images", str(ann.parent / "images"), "--repeats", "3",
    ]) == 0
    lines = table_lines(capsys.readouterr().out)
    assert lines[0].split()[:3] == ["file", "format", "precision"] and len(lines) == 2 + 3
    fp32_row = next(line for line in lines if "fp32.onnx" in line).split()
    assert float(fp32_row[4]) == 100.0 and float(fp32_row[7]) == 0.0  # all keypoints agree, dAP 0
    assert float(fp32_row[9]) == 0.0  # dPCK 0


def test_score_threshold_options(setup, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    d, ckpt, ann = setup
    data = ["--ann", str(ann), "--images", str(ann.parent / "images"), "--subset-size", "4"]
    for cli, extra in (("export", []), ("int8", data)):
        for bad in ("1.5", "-0.1", "nan"):
            with pytest.raises(SystemExit):
                load_cli(cli).main(["--checkpoint", str(ckpt), "--out-dir", str(tmp_path), *extra,
                                    "--score-threshold", bad])
        assert "--score-threshold" in capsys.readouterr().err
    # int8.py --score-threshold: stored as given, nothing measured
    assert load_cli("int8").main(["--checkpoint", str(ckpt), "--out-dir", str(tmp_path), *data, "--formats", "onnx",
                                  "--score-threshold", "0.25"]) == 0
    assert read_metadata(tmp_path / "simdr_r18_64_int8.onnx")["score_threshold"] == 0.25


def test_export_float_measures_the_score_threshold_on_given_crops(setup, tmp_path) -> None:
    """export_float with threshold_crops: fp32 ONNX and TFLite carry verify.py's measurement (stand-in model)."""
    from _export_helpers import tiny_model

    from edgepose.export.calibration import coco_person_crops
    from edgepose.export.pipeline import export_float
    from edgepose.export.verify import verify_files

    _, _, ann = setup
    loaded = tiny_model()
    crops = coco_person_crops(ann, ann.parent / "images", loaded.spec)
    records = export_float(loaded, tmp_path, ("onnx", "tflite"), threshold_crops=crops)
    rows = verify_files(loaded, [r.path for r in records], crops, repeats=1, compute_ap=False)
    for record, row in zip(records, rows[1:]):
        assert read_metadata(record.path).get("score_threshold") == row.score_threshold == record.score_threshold
    assert all(r.score_threshold is not None for r in records)


def test_crops_pck_scores_keypoints_in_frame_pixels_against_the_annotations(setup) -> None:
    import json

    import numpy as np

    from edgepose.export.calibration import coco_person_crops
    from edgepose.export.verify import crops_pck, suggest_score_threshold
    from edgepose.geometry import transform_points
    from edgepose.zoo import get_spec

    _, _, ann = setup
    crops = coco_person_crops(ann, ann.parent / "images", get_spec("simdr_r18_64"))
    by_id = {a["id"]: a for a in json.loads(ann.read_text())["annotations"]}
    gt = np.array([by_id[int(i)]["keypoints"] for i in crops.ann_ids], np.float64).reshape(len(crops), -1, 3)
    in_crop = np.stack([transform_points(g[:, :2], m) for g, m in zip(gt, crops.matrices)])
    assert crops_pck(crops, in_crop) == pytest.approx(100.0)
    size = np.maximum(crops.boxes[:, 2], crops.boxes[:, 3])  # boxes as annotated: the PCK normaliser
    off = gt[:, :, :2].copy()
    off[..., 0] += 0.15 * size[:, None]
    moved = np.stack([transform_points(g, m) for g, m in zip(off, crops.matrices)])
    assert crops_pck(crops, moved) == pytest.approx(0.0)
    assert crops_pck(crops, moved, alpha=0.2) == pytest.approx(100.0)
    np.testing.assert_array_equal(crops.keypoints, gt)  # the crops carry their labels
    # the suggested score threshold: the 10th percentile of the scores of the correctly placed keypoints
    scores = np.random.default_rng(0).uniform(size=gt.shape[:2])
    labelled = gt[..., 2] > 0
    assert suggest_score_threshold(crops, in_crop, scores) == pytest.approx(np.quantile(scores[labelled], 0.1))
    far = np.stack([transform_points(g[:, :2] + 1000.0, m) for g, m in zip(gt, crops.matrices)])
    assert suggest_score_threshold(crops, far, scores) is None


@pytest.mark.slow
def test_export_cli_all_targets_from_weights(setup, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    d, _, ann = setup
    weights = d / "sd.pt"
    torch.save(seeded_model("simdr_r18_64").model.state_dict(), weights)
    out = d / "all"
    assert load_cli("export").main(["--model", "simdr_r18_64", "--weights", str(weights), "--out-dir", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "simdr_r18_64_fp16.tflite", "simdr_r18_64_fp32.onnx", "simdr_r18_64_fp32.tflite"]
    assert len(table_lines(capsys.readouterr().out)) == 2 + 3
    assert load_cli("int8").main([
        "--model", "simdr_r18_64", "--weights", str(weights), "--ann", str(ann), "--images", str(ann.parent / "images"),
        "--out-dir", str(out), "--formats", "tflite", "--subset-size", "4",
    ]) == 0
    assert len(table_lines(capsys.readouterr().out)) == 2 + 1
    files = sorted(str(p) for p in out.iterdir())
    assert load_cli("verify").main(["--model", "simdr_r18_64", "--weights", str(weights), *files,
                                    "--ann", str(ann), "--images", str(ann.parent / "images"), "--repeats", "3"]) == 0
    assert len(table_lines(capsys.readouterr().out)) == 2 + 1 + 4


def test_int8_cli_fuse_residual_adds_keeps_add(setup, capsys: pytest.CaptureFixture[str]) -> None:
    """--fuse-residual-adds: the residual adds stay ONNX Add (onnxruntime fuses them into QLinearAdd)."""
    import onnx

    d, ckpt, ann = setup
    out = d / "fused"
    assert load_cli("int8").main([
        "--checkpoint", str(ckpt), "--ann", str(ann), "--images", str(ann.parent / "images"),
        "--out-dir", str(out), "--formats", "onnx", "--subset-size", "6", "--fuse-residual-adds",
    ]) == 0
    capsys.readouterr()
    path = out / "simdr_r18_64_int8.onnx"
    quant = read_metadata(path)["quantization"]
    assert quant["fuse_residual_adds"] is True and quant["residual_adds_as_sum"] == 0
    assert quant["int8_activations_stored_as_uint8"] > 0  # the uint8 re-encoding applies either way
    assert dequantized_adds(onnx.load(str(path))) == ["Add"] * 7


def test_quiet_logging_leaves_shared_handlers_alone() -> None:
    """The CLIs quiet nncf by its logger's level only: a handler that the nncf logger shares
    with others (pytest attaches its capture handlers to every non-propagating logger) keeps
    its level, so the host's own logging still works after an export."""
    import logging

    from edgepose.export.cli import setup_logging

    nncf_logger = logging.getLogger("nncf")
    shared = logging.NullHandler()
    shared.setLevel(logging.INFO)
    before = nncf_logger.level
    nncf_logger.addHandler(shared)
    try:
        setup_logging(verbose=False)
        assert shared.level == logging.INFO
        assert not nncf_logger.isEnabledFor(logging.WARNING) and nncf_logger.isEnabledFor(logging.ERROR)
    finally:
        nncf_logger.removeHandler(shared)
        nncf_logger.setLevel(before)
