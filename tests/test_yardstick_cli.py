"""training/evaluate.py --val (the yardstick) end to end on the rendered fixtures with tiny models."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest

from _tiny_models import make_onnx
from edgepose import Estimator
from edgepose.skeleton import COCO17
from edgepose.yardstick import load_people, yardstick

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SMALL, SINGLE = FIXTURES / "synth_small", FIXTURES / "synth_single_384"
METRIC_KEYS = {"ap_segm_area", "ap50_segm_area", "ap75_segm_area", "ap_box_area", "ap50_box_area",
               "ap75_box_area", "pck@0.05", "pck@0.1", "pck@0.2", "median_error", "swap_rate",
               "swap_eligible", "swap_rate_per_pair", "pck@0.1_per_keypoint", "offset_per_keypoint"}
MOVENET_LIGHTNING = REPO / ".peers" / "models" / "movenet-lightning_fp32.tflite"


def _program() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_training_evaluate_yardstick", REPO / "training" / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EVALUATE = _program()


def _run(argv: list[str], tmp_path: Path) -> dict:
    out = tmp_path / "out.json"
    assert EVALUATE.main([*argv, "--json", str(out)]) == 0
    return json.loads(out.read_text())


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("INFO", "WARNING"))]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_exported_file_on_two_val_sets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = make_onnx(tmp_path / "tiny.onnx", (64, 64))
    result = _run(["--exported", str(model), "--val", f"small={SMALL}", "--val", str(SINGLE)], tmp_path)
    rows = result["results"]
    assert [r["val"] for r in rows] == ["small", "synth_single_384"]
    assert result["settings"]["keypoints_counted"] == "labelled (v>=1)"
    for row, folder in zip(rows, (SMALL, SINGLE), strict=True):
        assert METRIC_KEYS <= set(row)
        assert row["people"] == len(load_people(folder / "annotations" / "person_keypoints.json"))
        assert row["model"] == "tiny.onnx (onnxruntime)"
        assert list(row["pck@0.1_per_keypoint"]) == list(COCO17.names)
    printed = capsys.readouterr().out
    assert "| val | model | people | AP segm | AP box |" in printed
    assert "| small | tiny.onnx (onnxruntime) |" in printed and "small: per keypoint PCK@0.1" in printed
    # the program's numbers are the yardstick's on the Estimator's own predictions for the same boxes
    people = load_people(SMALL / "annotations" / "person_keypoints.json")
    kp, sc = np.zeros((len(people), 17, 2)), np.zeros((len(people), 17))
    with Estimator(model, threads=1, smoothing=None) as est:
        for i in range(len(people)):
            frame = cv2.imread(str(SMALL / "images" / people.file_names[i]))
            r = est.estimate(frame, people.boxes[i:i + 1], track_ids=[0])
            kp[i], sc[i] = r.keypoints[0], r.scores[0]
    expected = yardstick(people, kp, sc, COCO17, input_hw=(64, 64))
    for key in ("ap_segm_area", "ap_box_area", "pck@0.05", "pck@0.1", "pck@0.2", "median_error", "swap_rate"):
        assert rows[0][key] == pytest.approx(expected[key], abs=1e-5), key


def test_visible_only_counts_fewer_keypoints(tmp_path: Path) -> None:
    model = make_onnx(tmp_path / "tiny.onnx", (64, 64))
    labelled = _run(["--exported", str(model), "--val", str(SINGLE)], tmp_path)["results"][0]
    visible = _run(["--exported", str(model), "--val", str(SINGLE), "--visibility", "visible"], tmp_path)["results"][0]
    assert visible["keypoints_counted"] == "visible (v=2)"
    assert visible["counted"] < labelled["counted"]
    assert visible["ap_segm_area"] == labelled["ap_segm_area"]


def test_checkpoint_scores_as_the_untrained_model_it_holds(tmp_path: Path) -> None:
    import torch

    from edgepose.nn import build
    from edgepose.zoo import get_spec

    spec = get_spec("simdr_r18_64")
    torch.manual_seed(3)
    checkpoint = tmp_path / "r18.pt"
    torch.save({"model": build(spec).state_dict(), "spec": spec.to_dict(), "config": {}}, checkpoint)
    from_checkpoint = _run(["--checkpoint", str(checkpoint), "--val", str(SINGLE)], tmp_path)["results"][0]
    untrained = _run(["--untrained", "--model", "simdr_r18_64", "--seed", "3", "--val", str(SINGLE)],
                     tmp_path)["results"][0]
    assert from_checkpoint["model"] == "r18.pt (simdr_r18_64, torch)"
    for key in ("ap_box_area", "pck@0.1", "median_error", "swap_rate"):
        assert from_checkpoint[key] == pytest.approx(untrained[key]), key
    flipped = _run(["--checkpoint", str(checkpoint), "--val", str(SINGLE), "--flip"], tmp_path)["results"][0]
    assert flipped["model"].endswith("flip") and flipped["median_error"] != from_checkpoint["median_error"]


@pytest.mark.skipif(not MOVENET_LIGHTNING.is_file(), reason="no converted MoveNet (bash apps/peers_setup.sh)")
def test_movenet_reference_localises_the_renders(tmp_path: Path) -> None:
    pytest.importorskip("ai_edge_litert")
    rows = _run(["--reference", "movenet_lightning", "--val", str(SINGLE)], tmp_path)["results"]
    assert [r["model"] for r in rows] == ["movenet_lightning (reference)"]
    assert rows[0]["pck@0.1"] > 0.8 and rows[0]["median_error"] < 0.05, rows[0]


@pytest.mark.parametrize("case", ["missing_peer", "unknown_peer", "missing_val", "val_without_images",
                                  "duplicate_name", "unknown_option", "visibility", "flip_exported",
                                  "exported_without_val", "nothing"])
def test_user_errors_are_one_line(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "noimages" / "annotations").mkdir(parents=True)
    (tmp_path / "noimages" / "annotations" / "person_keypoints.json").write_text("{}")
    model = make_onnx(tmp_path / "tiny.onnx", (64, 64))
    val = ["--val", str(SINGLE)]
    argv, expected = {
        "missing_peer": (["--reference", "movenet_thunder", "--peers-dir", str(tmp_path), *val],
                         "is missing; make it with: bash apps/peers_setup.sh"),
        "unknown_peer": (["--reference", "posenet", *val], "--reference posenet: unknown peer"),
        "missing_val": (["--exported", str(model), "--val", f"x={tmp_path / 'nope'}"],
                        "no annotations/person_keypoints.json in"),
        "val_without_images": (["--exported", str(model), "--val", str(tmp_path / "noimages")], "no images/ folder"),
        "duplicate_name": (["--exported", str(model), "--val", f"a={SINGLE}", "--val", f"a={SMALL}"],
                           "'a' is given twice"),
        "unknown_option": (["--exported", str(model), *val, "--flip_test", "false"], "unknown option '--flip_test'"),
        "visibility": (["--exported", str(model), *val, "--visibility", "occluded"], "--visibility must be"),
        "flip_exported": (["--exported", str(model), *val, "--flip"], "--flip applies to --checkpoint"),
        "exported_without_val": (["--exported", str(model)], "--exported needs --val"),
        "nothing": (val, "nothing to evaluate"),
    }[case]
    assert EVALUATE.main(argv) == 2
    assert expected in _one_error_line(capsys)


def test_same_crops_give_the_training_logs_numbers() -> None:
    """With the boxes the training set cuts (the official clipping to the image) and the flip test,
    the yardstick's AP, PCK and median error are those of the engine's validation (the training log)."""
    import dataclasses

    import torch

    from edgepose.data.coco import _clean_box
    from edgepose.nn import build
    from edgepose.train.config import load_config
    from edgepose.train.engine import build_val_dataset, validate
    from edgepose.zoo import get_spec

    spec = get_spec("simdr_r18_64")
    torch.manual_seed(5)
    model = build(spec).eval()
    torch.set_num_threads(1)
    ann = SINGLE / "annotations" / "person_keypoints.json"
    config = load_config(None, ["--model", spec.name, "--dataset", "synthetic", "--val_ann", str(ann),
                                "--val_images", str(SINGLE / "images"), "--workers", "0", "--device", "cpu"])
    logged = validate(model, build_val_dataset(config, spec), spec, config, torch.device("cpu"))

    people = load_people(ann)
    sizes = {im["id"]: (float(im["width"]), float(im["height"])) for im in people.dataset["images"]}
    clipped = np.array([_clean_box(b, *sizes[i]) for b, i in zip(people.boxes, people.image_ids.tolist(), strict=True)])
    people = dataclasses.replace(people, boxes=clipped)
    subject = EVALUATE.Subject("r18", spec.input_hw, spec.keypoints(), EVALUATE.torch_runner(model, spec, flip=True))
    kp, scores = EVALUATE.predict_val_set(subject, SINGLE, people)
    report = yardstick(people, kp, scores, spec.keypoints(), input_hw=spec.input_hw)
    assert report["ap_segm_area"] == pytest.approx(logged["AP"], abs=1e-9)
    for alpha in ("0.05", "0.1", "0.2"):
        assert report[f"pck@{alpha}"] == pytest.approx(logged[f"PCK@{alpha}"], abs=1e-9), alpha
    assert report["median_error"] == pytest.approx(logged["median_error"], rel=1e-6)
