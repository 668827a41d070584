"""Estimator: model resolution, metadata vs arguments, modes, batching, smoothing, bad input."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from _tiny_models import make_heatmap_onnx, make_onnx, make_tflite, metadata_for, reference_outputs

import edgepose
from edgepose import Estimator, EstimatorOptions, ModelDescription, OneEuroParams, PoseResult, download, zoo
from edgepose.runtime.backends import load_backend
from edgepose.codecs import SimDRCodec
from edgepose.errors import ChecksumError, EdgeposeError, InputError, ModelFileError, UnknownModelError
from edgepose.runtime.estimator import TIMING_KEYS
from edgepose.preprocess import crops_to_frame, preprocess_crops
from edgepose.runtime.metadata import input_spec_of
from edgepose.runtime.track import PoseTracker

HW = (64, 64)
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("estimator_models")
    return {
        "onnx": make_onnx(d / "tiny.onnx"),
        "onnx_fixed": make_onnx(d / "tiny_fixed.onnx", dynamic_batch=False),
        "tflite": make_tflite(d / "tiny.tflite"),
        "tflite_int8": make_tflite(d / "tiny_int8.tflite", int8_io=True),
        "external": make_onnx(d / "rtmpose_like.onnx", input_hw=(64, 48), metadata=None),
        "external_names": make_onnx(d / "odd_names.onnx", metadata=None, output_names=("out_a", "out_b")),
        "heatmap": make_heatmap_onnx(d / "tiny_hm.onnx"),
    }


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    img[60:200, 100:180] = (30, 160, 220)  # a "person"
    return img


class FixedDetector:
    """Returns the given boxes and counts calls."""

    def __init__(self, boxes: list[list[float]]) -> None:
        self.boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        self.calls = 0

    def detect(self, frame: np.ndarray, color_order: str = "bgr") -> tuple[np.ndarray, np.ndarray]:
        self.calls += 1
        return self.boxes.copy(), np.linspace(0.9, 0.5, len(self.boxes)).astype(np.float32)


def manual_pipeline(frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """What the estimator must compute for the tiny model, assembled by hand."""
    meta = metadata_for(HW)
    batch, matrices = preprocess_crops(frame, boxes, input_spec_of(meta))
    kp, _ = SimDRCodec(HW, 3.0).decode(reference_outputs(batch, HW))
    return crops_to_frame(kp, matrices)


# ---- basic results -----------------------------------------------------------------------------
@pytest.mark.parametrize(("key", "backend"), [("onnx", None), ("onnx", "openvino"), ("onnx_fixed", None),
                                              ("tflite", None)])
def test_full_frame_result_matches_manual_pipeline(models: dict[str, Path], frame: np.ndarray, key: str,
                                                   backend: str | None) -> None:
    with Estimator(models[key], backend=backend) as est:
        r = est(frame)
    assert isinstance(r, PoseResult) and len(r) == 1
    assert r.keypoints.shape == (1, 17, 2) and r.keypoints.dtype == np.float32
    assert r.scores.shape == (1, 17) and np.all((r.scores > 0) & (r.scores <= 1))
    assert r.boxes.tolist() == [[0, 0, 320, 240]] and r.track_ids.tolist() == [0]
    assert set(r.timings) == set(TIMING_KEYS) and all(v >= 0 for v in r.timings.values())
    assert r.timings["total"] >= r.timings["infer"]
    assert r.keypoint_set == "coco17"
    np.testing.assert_allclose(r.keypoints, manual_pipeline(frame, r.boxes), atol=1e-3)


def test_int8_tflite_close_to_float(models: dict[str, Path], frame: np.ndarray) -> None:
    boxes = [[100, 60, 80, 140], [10, 10, 60, 120]]
    with Estimator(models["tflite"]) as f32, Estimator(models["tflite_int8"]) as i8:
        a, b = f32.estimate(frame, boxes), i8.estimate(frame, boxes)
    assert i8.info.precision == "int8"
    # identical argmax bins on most keypoints (quantized logits may tie differently)
    assert np.mean(np.all(np.abs(a.keypoints - b.keypoints) < 1.0, axis=-1)) > 0.8


def test_heatmap_model(models: dict[str, Path], frame: np.ndarray) -> None:
    with Estimator(models["heatmap"]) as est:
        r = est(frame)
    assert r.keypoints.shape == (1, 17, 2) and type(est.info.codec).__name__ == "HeatmapCodec"


def test_frame_color_rgb(models: dict[str, Path], frame: np.ndarray) -> None:
    with Estimator(models["onnx"]) as bgr, Estimator(models["onnx"], frame_color="rgb") as rgb:
        a = bgr(frame)
        b = rgb(np.ascontiguousarray(frame[..., ::-1]))
    np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-4)
    with pytest.raises(InputError, match="frame_color"):
        Estimator(models["onnx"], frame_color="hsv")


# ---- batching ------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["onnx", "onnx_fixed", "tflite"])
def test_batched_equals_loop(models: dict[str, Path], frame: np.ndarray, key: str) -> None:
    boxes = [[100, 60, 80, 140], [10, 10, 60, 120], [200, 100, 100, 100], [0, 0, 320, 240]]
    with Estimator(models[key], threads=2) as spread, Estimator(models[key], batching="batch") as batched, \
            Estimator(models[key], batching="loop") as looped, Estimator(models[key], max_batch=3) as chunked:
        a = batched.estimate(frame, boxes, track_ids=range(4))
        b = looped.estimate(frame, boxes, track_ids=range(4))
        c = chunked.estimate(frame, boxes, track_ids=range(4))
        d = spread.estimate(frame, boxes, track_ids=range(4))
        assert spread.backend._idle_workers, "threads=2 and 4 crops should use the parallel workers"
    np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-4)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
    np.testing.assert_allclose(a.keypoints, c.keypoints, atol=1e-4)
    np.testing.assert_allclose(a.keypoints, d.keypoints, atol=1e-4)
    np.testing.assert_allclose(a.scores, d.scores, atol=1e-5)
    np.testing.assert_allclose(a.keypoints, manual_pipeline(frame, np.asarray(boxes, float)), atol=1e-3)


def test_batching_argument_is_checked(models: dict[str, Path]) -> None:
    with pytest.raises(InputError, match="batching"):
        Estimator(models["onnx"], batching="sometimes")


# ---- modes ---------------------------------------------------------------------------------------
def test_detect_mode_runs_detector_every_frame(models: dict[str, Path], frame: np.ndarray) -> None:
    det = FixedDetector([[100, 60, 80, 140], [10, 10, 60, 120]])
    with Estimator(models["onnx"], detector=det) as est:
        assert est.mode == "detect"
        ids = [est(frame).track_ids.tolist() for _ in range(3)]
    assert det.calls == 3
    assert ids == [[0, 1]] * 3  # stable ids through IoU matching


def test_detect_mode_max_people_and_empty(models: dict[str, Path], frame: np.ndarray) -> None:
    det = FixedDetector([[100, 60, 80, 140], [10, 10, 60, 120], [200, 100, 100, 100]])
    with Estimator(models["onnx"], detector=det, max_people=2) as est:
        assert len(est(frame)) == 2
    none = FixedDetector([])
    with Estimator(models["onnx"], detector=none) as est:
        r = est(frame)
        assert len(r) == 0 and r.keypoints.shape == (0, 17, 2) and r.timings["infer"] == 0.0
    with Estimator(models["onnx"], detector=none, full_frame_if_none=True) as est:
        assert est(frame).boxes.tolist() == [[0, 0, 320, 240]]


def test_track_mode_redetects_only_when_needed(models: dict[str, Path], frame: np.ndarray) -> None:
    det = FixedDetector([[100, 60, 80, 140]])
    never_lost = PoseTracker(lost_score=0.0, keypoint_threshold=0.0, redetect_interval=4)
    with Estimator(models["onnx"], mode="track", detector=det, tracker=never_lost) as est:
        results = [est(frame) for _ in range(9)]
    assert det.calls == 3  # frames 0, 4, 8
    # the id holds between detections (the tiny model's random "poses" may move the box
    # too far for the re-detection to match it, so ids may change at frames 4 and 8)
    assert all(r.track_ids.tolist() == [0] for r in results[:4])
    # between detections the box comes from the previous keypoints, not from the detector
    assert results[1].boxes.tolist() != results[0].boxes.tolist()


def test_track_mode_redetects_when_lost(models: dict[str, Path], frame: np.ndarray) -> None:
    det = FixedDetector([[100, 60, 80, 140]])
    always_lost = PoseTracker(lost_score=1.1, redetect_interval=100)
    with Estimator(models["onnx"], mode="track", detector=det, tracker=always_lost) as est:
        for _ in range(4):
            est(frame)
    assert det.calls == 4


def test_track_mode_without_detector_uses_full_frame(models: dict[str, Path], frame: np.ndarray) -> None:
    tracker = PoseTracker(lost_score=0.0, keypoint_threshold=0.0)
    with Estimator(models["onnx"], mode="track", tracker=tracker) as est:
        first = est(frame)
        assert not tracker.needs_detection()
        predicted, ids = tracker.predicted()
        second = est(frame)
    assert first.boxes.tolist() == [[0, 0, 320, 240]]
    np.testing.assert_allclose(second.boxes, predicted, atol=1e-3)
    assert second.track_ids.tolist() == ids.tolist() == [0]


def test_mode_arguments(models: dict[str, Path]) -> None:
    with pytest.raises(InputError, match="needs a detector"):
        Estimator(models["onnx"], mode="detect")
    with pytest.raises(InputError, match="mode must be"):
        Estimator(models["onnx"], mode="everything")
    with pytest.raises(InputError, match="unknown detector"):
        Estimator(models["onnx"], detector="yolo")
    with Estimator(models["onnx"], detector="motion") as est:
        assert type(est.detector).__name__ == "MotionDetector" and est.mode == "detect"


def test_estimate_matches_ids_by_iou(models: dict[str, Path], frame: np.ndarray) -> None:
    with Estimator(models["onnx"]) as est:
        a = est.estimate(frame, [[100, 60, 80, 140], [10, 10, 60, 120]])
        b = est.estimate(frame, [[12, 12, 60, 120], [102, 62, 80, 140]])
        c = est.estimate(frame, [[100, 60, 80, 140]], track_ids=[7])
    assert a.track_ids.tolist() == [0, 1]
    assert b.track_ids.tolist() == [1, 0]
    assert c.track_ids.tolist() == [7]
    with pytest.raises(InputError, match="track_ids"):
        Estimator(models["onnx"]).estimate(frame, [[0, 0, 10, 10]], track_ids=[1, 2])


# ---- smoothing -----------------------------------------------------------------------------------
def _shifted_frames(frame: np.ndarray) -> list[np.ndarray]:
    return [np.roll(frame, 7 * i, axis=1) for i in range(4)]


def test_image_mode_never_smooths_and_refuses_timestamps(models: dict[str, Path], frame: np.ndarray) -> None:
    frames = _shifted_frames(frame)
    with Estimator(models["onnx"], smoothing=None) as raw_est:
        raw = [raw_est(f).keypoints for f in frames]
    with Estimator(models["onnx"]) as est:  # running_mode="image", the default
        assert est.running_mode == "image" and est.smoother is None
        images = [est(f).keypoints for f in frames]
        with pytest.raises(InputError, match="running_mode='video'"):
            est(frames[0], timestamp=0.0)  # a timestamp no longer switches smoothing on silently
    assert all(np.array_equal(a, b) for a, b in zip(images, raw, strict=True))


def test_video_mode_smooths(models: dict[str, Path], frame: np.ndarray) -> None:
    frames = _shifted_frames(frame)
    with Estimator(models["onnx"], smoothing=None) as raw_est:
        raw = [raw_est(f).keypoints for f in frames]
    with Estimator(models["onnx"], running_mode="video", smoothing=OneEuroParams(min_cutoff=0.1, beta=0.0)) as est:
        out = [est(f, timestamp=i / 30).keypoints for i, f in enumerate(frames)]
        assert np.array_equal(out[0], raw[0])  # a filter passes its first value through
        est.reset()
        assert np.array_equal(est(frames[2], timestamp=0.0).keypoints, raw[2])  # reset: time may start again
        with pytest.raises(InputError, match="needs timestamp="):
            est(frames[0])
    assert any(not np.allclose(o, r) for o, r in zip(out[1:], raw[1:], strict=True))
    with Estimator(models["onnx"], running_mode="video", smoothing=None) as est:  # video without smoothing
        assert np.array_equal(est(frames[1], timestamp=1.0).keypoints, raw[1])
        assert np.array_equal(est(frames[2], timestamp=2.0).keypoints, raw[2])
    with pytest.raises(InputError, match="smoothing"):
        Estimator(models["onnx"], smoothing="strong")
    with pytest.raises(InputError, match="running_mode"):
        Estimator(models["onnx"], running_mode="stream")


@pytest.mark.parametrize("second", [0.5, 0.4], ids=["equal", "decreasing"])
def test_video_mode_refuses_equal_and_decreasing_timestamps(models: dict[str, Path], frame: np.ndarray,
                                                           second: float) -> None:
    """Equal timestamps used to freeze the pose at the first frame (One Euro with dt = 0); earlier
    ones silently reset the filter. Both are refused, naming the fix, and the estimator goes on."""
    frames = _shifted_frames(frame)
    with Estimator(models["onnx"], running_mode="video") as est, \
            Estimator(models["onnx"], smoothing=None) as raw_est:
        est(frames[0], timestamp=0.5)
        with pytest.raises(InputError, match="strictly increase.*reset\\(\\)"):
            est(frames[3], timestamp=second)
        moved = est(frames[3], timestamp=0.6).keypoints  # a later timestamp is fine again
        assert not np.allclose(moved, raw_est(frames[0]).keypoints)  # not frozen at the first frame
        with pytest.raises(InputError, match="strictly increase"):
            est.estimate(frame, [[100, 60, 80, 140]], timestamp=0.6)
        est.reset()
        est(frames[0], timestamp=0.0)  # a new video starts over


def test_millisecond_timestamps_warn_once(models: dict[str, Path], frame: np.ndarray,
                                          caplog: pytest.LogCaptureFixture) -> None:
    with Estimator(models["onnx"], running_mode="video") as est:
        for i in range(4):
            est(frame, timestamp=i * 33.0)  # milliseconds passed as seconds
    warnings = [r for r in caplog.records if "divide them by 1000" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    caplog.clear()
    with Estimator(models["onnx"], running_mode="video") as est:
        for i in range(4):
            est(frame, timestamp=i * 0.033)
    assert "divide them by 1000" not in caplog.text


# ---- options -------------------------------------------------------------------------------------------
def test_options_object_and_shorthand(models: dict[str, Path], frame: np.ndarray) -> None:
    opts = EstimatorOptions(threads=1, mode="full", padding=1.5)
    with Estimator(models["onnx"], opts) as a, Estimator(models["onnx"], threads=1, mode="full", padding=1.5) as b, \
            Estimator(models["onnx"], opts, padding=1.25) as c:
        assert a.options == b.options and a.padding == 1.5 and c.padding == 1.25 and c.options.threads == 1
        np.testing.assert_array_equal(a(frame).keypoints, b(frame).keypoints)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.threads = 2  # type: ignore[misc]
    with pytest.raises(InputError, match="did you mean 'threads'"):
        Estimator(models["onnx"], thread=1)
    with pytest.raises(InputError, match="backend='openvino'"):
        Estimator(models["onnx"], "openvino")  # the old positional backend names the fix
    with pytest.raises(InputError, match="description=ModelDescription"):
        Estimator(models["onnx"], color_order="rgb")  # model description fields have their own object
    with pytest.raises(InputError, match="padding"):
        EstimatorOptions(padding=0)


# ---- external models and metadata arguments ----------------------------------------------------------
def test_external_model_needs_arguments(models: dict[str, Path]) -> None:
    with pytest.raises(ModelFileError) as info:
        Estimator(models["external"])
    msg = str(info.value)
    for name in ("codec", "mean", "std", "color_order", "keypoint_set"):
        assert name in msg
    with pytest.raises(ModelFileError, match="missing: mean, std"):
        Estimator(models["external"], description=ModelDescription(
            codec={"type": "simdr", "input_hw": [64, 48], "split_ratio": 3.0}, color_order="rgb",
            keypoint_set="coco17"))


def test_external_model_with_arguments(models: dict[str, Path], frame: np.ndarray) -> None:
    codec = SimDRCodec((64, 48), split_ratio=3.0)
    with Estimator(models["external"], description=ModelDescription(codec=codec, mean=MEAN, std=STD,
                                                                    color_order="rgb", keypoint_set="coco17")) as est:
        r = est(frame)
    assert r.keypoints.shape == (1, 17, 2) and est.input_hw == (64, 48) and est.info.name == ""


def test_external_model_argument_errors(models: dict[str, Path]) -> None:
    args = {"mean": MEAN, "std": STD, "color_order": "rgb", "keypoint_set": "coco17"}

    def describe(**kw: object) -> ModelDescription:
        return ModelDescription(**{**args, **kw})

    with pytest.raises(InputError, match="0..255 units"):
        Estimator(models["external"], description=describe(codec=SimDRCodec((64, 48), 3.0),
                                                           mean=(123.675, 116.28, 103.53)))
    with pytest.raises(ModelFileError, match="x-bins"):
        Estimator(models["external"], description=describe(codec=SimDRCodec((64, 48), 2.0)))
    with pytest.raises(ModelFileError, match="takes"):
        Estimator(models["external"], description=describe(codec=SimDRCodec((64, 64), 3.0)))
    with pytest.raises(ModelFileError, match="17 keypoints"):
        Estimator(models["external"], description=describe(codec=SimDRCodec((64, 48), 3.0), keypoint_set="mpii16"))
    with pytest.raises(ModelFileError, match="output_names"):
        Estimator(models["external_names"], description=describe(codec=SimDRCodec(HW, 3.0)))
    with Estimator(models["external_names"], description=describe(codec=SimDRCodec(HW, 3.0),
                                                                  output_names=("out_a", "out_b"))) as est:
        assert est.info.output_order == (0, 1)


def test_arguments_override_metadata(models: dict[str, Path], frame: np.ndarray,
                                     caplog: pytest.LogCaptureFixture) -> None:
    with Estimator(models["onnx"], description=ModelDescription(color_order="rgb")) as est:
        assert est.info.color_order == "rgb"
    assert "overrides the file's metadata" in caplog.text


def test_litert_torch_tflite(tmp_path: Path, frame: np.ndarray) -> None:
    """A TFLite file from the real converter: output names are the converter's, roles come from metadata."""
    torch = pytest.importorskip("torch")
    litert_torch = pytest.importorskip("litert_torch")
    from edgepose.export.model_files import write_tflite_metadata

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(3, 17 * 192)

        def forward(self, x):  # noqa: ANN001, ANN202
            y = self.fc(x.mean(dim=(2, 3))).reshape(-1, 17, 192)
            return y, -y

    path = tmp_path / "converted.tflite"
    litert_torch.convert(Tiny().eval(), (torch.zeros(1, 3, *HW),)).export(str(path))
    write_tflite_metadata(path, metadata_for(HW))
    with Estimator(path) as est:
        assert est.backend.output_names != ["simcc_x", "simcc_y"]
        assert est.info.output_order == (0, 1)
        assert est(frame).keypoints.shape == (1, 17, 2)


# ---- registry names ------------------------------------------------------------------------------
def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_registry_name_resolves_to_verified_cached_file(models: dict[str, Path], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch, frame: np.ndarray) -> None:
    monkeypatch.setenv("EDGEPOSE_CACHE", str(tmp_path / "cache"))
    files = []
    for key, fmt, prec in (("onnx", "onnx", "int8"), ("tflite", "tflite", "int8"), ("onnx_fixed", "onnx", "fp32")):
        p = models[key]
        mf = zoo.ModelFile(fmt, prec, f"https://example.invalid/{p.name}", _sha(p), p.stat().st_size)
        cached = download.cache_dir() / f"{mf.sha256[:16]}-{p.name}"
        cached.write_bytes(p.read_bytes())
        files.append(mf)
    spec = zoo.with_files(zoo.make_spec("simdr", "r50", "64"), tuple(files), "test")
    spec = zoo.ModelSpec.from_dict({**spec.to_dict(), "name": "tiny_registry_model"})
    monkeypatch.setitem(zoo.REGISTRY, spec.name, spec)
    with Estimator("tiny_registry_model") as est:  # int8 ONNX preferred
        assert est.backend.path.name.endswith("tiny.onnx") and est.backend.name == "onnxruntime"
        assert est(frame).keypoints.shape == (1, 17, 2)
    with Estimator("tiny_registry_model", backend="tflite") as est:
        assert est.backend.path.name.endswith("tiny.tflite")
    with Estimator("tiny_registry_model", precision="fp32") as est:
        assert est.backend.path.name.endswith("tiny_fixed.onnx")
    with pytest.raises(UnknownModelError, match="fp16"):
        Estimator("tiny_registry_model", precision="fp16")
    monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)
    monkeypatch.setitem(__import__("sys").modules, "openvino", None)
    with Estimator("tiny_registry_model") as est:  # no ONNX runtime: int8 TFLite next
        assert est.backend.name == "tflite"


def test_registry_errors(models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UnknownModelError, match="unknown model"):
        Estimator("simdr_r9000_128")
    with pytest.raises(UnknownModelError, match="has no weight files .names with files: simdr_r50_128"):
        Estimator("hm_r50_128")  # registered, but no files ship
    # wrong sha256 of a shipped (package://) file
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "tiny.onnx").write_bytes(models["onnx"].read_bytes())
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", weights)
    bad = zoo.ModelFile("onnx", "int8", "package://tiny.onnx", "0" * 64, models["onnx"].stat().st_size)
    spec = zoo.ModelSpec.from_dict({**zoo.with_files(zoo.make_spec("simdr", "r50", "64"), (bad,), "t").to_dict(),
                                    "name": "tiny_bad_sha"})
    monkeypatch.setitem(zoo.REGISTRY, spec.name, spec)
    with pytest.raises(ChecksumError, match="sha256"):
        Estimator("tiny_bad_sha")


# ---- bad input -------------------------------------------------------------------------------------
BAD_FRAMES = [
    (None, "frame is None"),
    ([[1, 2, 3]], "numpy array"),
    (np.zeros((0, 0, 3), np.uint8), "empty"),
    (np.zeros((48, 64), np.uint8), "cv2.COLOR_GRAY2BGR"),
    (np.zeros((48, 64, 1), np.uint8), "grayscale"),
    (np.zeros((48, 64, 4), np.uint8), "COLOR_BGRA2BGR"),
    (np.zeros((48, 64, 2), np.uint8), "3 channels"),
    (np.zeros((2, 48, 64, 3), np.uint8), "shape"),
    (np.zeros((48, 64, 3), np.float32), "uint8"),
    (np.zeros((48, 64, 3), np.uint16), "uint8"),
]


@pytest.mark.parametrize(("bad", "match"), BAD_FRAMES)
def test_bad_frames(models: dict[str, Path], bad: object, match: str) -> None:
    with Estimator(models["onnx"]) as est:
        with pytest.raises(InputError, match=match):
            est(bad)  # type: ignore[arg-type]
        with pytest.raises(InputError, match=match):
            est.estimate(bad, [[0, 0, 10, 10]])  # type: ignore[arg-type]


def test_huge_frame(models: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    assert edgepose.MAX_FRAME_PIXELS == 50_000_000
    monkeypatch.setattr("edgepose.runtime.estimator.MAX_FRAME_PIXELS", 100 * 100)
    with Estimator(models["onnx"]) as est:
        est(np.zeros((100, 100, 3), np.uint8))
        with pytest.raises(InputError, match="exceeds the limit"):
            est(np.zeros((100, 101, 3), np.uint8))


@pytest.mark.parametrize(("boxes", "match"), [
    ([[np.nan, 0, 10, 10]], "NaN"),
    ([[0, 0, np.inf, 10]], "NaN or inf"),
    ([[0, 0, 0, 10]], "<= 0"),
    ([[0, 0, 10, -5]], "<= 0"),
    ([[400, 10, 20, 20]], "outside the 320x240 frame"),
    ([[-50, -50, 40, 40]], "outside"),
    ([[0, 0, 10]], "shape"),
    ("abc", "numbers"),
])
def test_bad_boxes(models: dict[str, Path], frame: np.ndarray, boxes: object, match: str) -> None:
    with Estimator(models["onnx"]) as est:
        with pytest.raises(InputError, match=match):
            est.estimate(frame, boxes)


# the same person box in each format, and a frame-sized box
BOX_XYWH = [100.0, 60.0, 80.0, 140.0]
BOX_FORMS = {"xywh": BOX_XYWH, "xyxy": [100.0, 60.0, 180.0, 200.0], "cxcywh": [140.0, 130.0, 80.0, 140.0]}


@pytest.mark.parametrize("box_format", sorted(BOX_FORMS))
def test_box_formats(models: dict[str, Path], frame: np.ndarray, box_format: str) -> None:
    with Estimator(models["onnx"]) as ref, Estimator(models["onnx"], box_format=box_format) as est:
        expected = ref.estimate(frame, [BOX_XYWH])
        got = est.estimate(frame, [BOX_FORMS[box_format]])
    np.testing.assert_allclose(got.boxes, [BOX_XYWH])  # results are always xywh
    np.testing.assert_allclose(got.keypoints, expected.keypoints, atol=1e-4)
    np.testing.assert_allclose(got.keypoints, manual_pipeline(frame, np.array([BOX_XYWH])), atol=1e-3)


def test_box_format_errors(models: dict[str, Path], frame: np.ndarray) -> None:
    with pytest.raises(InputError, match="box_format must be one of"):
        Estimator(models["onnx"], box_format="ltrb")
    with Estimator(models["onnx"], box_format="xyxy") as est:
        with pytest.raises(InputError, match=r"x2 <= x1 or y2 <= y1.*\(x1, y1, x2, y2\)"):
            est.estimate(frame, [[180, 60, 100, 200]])  # corners swapped


@pytest.mark.parametrize("box_format", sorted(BOX_FORMS))
def test_normalised_boxes_are_refused(models: dict[str, Path], frame: np.ndarray, box_format: str) -> None:
    normalised = [[0.3, 0.25, 0.25, 0.58]] if box_format != "xyxy" else [[0.3, 0.25, 0.55, 0.83]]
    with Estimator(models["onnx"], box_format=box_format) as est:
        with pytest.raises(InputError, match="look normalised.*multiply x and w by 320 and y and h by 240"):
            est.estimate(frame, normalised)
        small = np.zeros((16, 16, 3), np.uint8)  # on a tiny frame a box of about one pixel is plausible
        assert len(est.estimate(small, [[0.0, 0.0, 1.0, 1.0]])) == 1


def test_partly_outside_and_no_boxes_are_fine(models: dict[str, Path], frame: np.ndarray) -> None:
    with Estimator(models["onnx"]) as est:
        assert len(est.estimate(frame, [[-20, -20, 100, 100]])) == 1
        assert len(est.estimate(frame, np.zeros((0, 4)))) == 0


def test_bad_model_files(tmp_path: Path, models: dict[str, Path]) -> None:
    truncated = tmp_path / "truncated.onnx"
    data = models["onnx"].read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelFileError, match="truncated.onnx"):
        Estimator(truncated)
    tfl = tmp_path / "cut.tflite"
    tfl.write_bytes(models["tflite"].read_bytes()[:300])
    with pytest.raises(ModelFileError, match="cut.tflite"):
        Estimator(tfl)
    with pytest.raises(ModelFileError, match="does not exist"):
        Estimator(tmp_path / "absent.onnx")
    assert issubclass(ModelFileError, EdgeposeError)


# ---- life cycle and sharing ---------------------------------------------------------------------------
def test_close_and_context_manager(models: dict[str, Path], frame: np.ndarray) -> None:
    est = Estimator(models["onnx"])
    est(frame)
    est.close()
    with pytest.raises(InputError, match="closed"):
        est(frame)


def test_shared_backend_across_threads(models: dict[str, Path], frame: np.ndarray) -> None:
    backend = load_backend(models["onnx"])
    frames = _shifted_frames(frame)
    with Estimator(backend, smoothing=None) as ref_est:
        expected = [ref_est(f).keypoints for f in frames]
    assert not backend._closed  # an Estimator does not close a backend it was given
    errors: list[str] = []

    def work() -> None:
        with Estimator(backend, smoothing=None) as est:  # one Estimator per thread
            for _ in range(3):
                for f, e in zip(frames, expected, strict=True):
                    if not np.array_equal(est(f).keypoints, e):
                        errors.append("mismatch")

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    backend.close()
    assert errors == []


def test_result_draw(models: dict[str, Path], frame: np.ndarray) -> None:
    with Estimator(models["onnx"]) as est:
        r = est(frame)
    canvas = frame.copy()
    assert r.draw(canvas, threshold=0.0) is canvas and not np.array_equal(canvas, frame)
    assert r.score_threshold == est.score_threshold


def test_result_per_person_and_json(models: dict[str, Path], frame: np.ndarray) -> None:
    boxes = [[100, 60, 80, 140], [10, 10, 60, 120]]
    with Estimator(models["onnx"]) as est:
        r = est.estimate(frame, boxes, track_ids=[4, 9])
    assert len(r) == 2 and [p.track_id for p in r] == [4, 9]
    person = r[1]
    np.testing.assert_array_equal(person.keypoints, r.keypoints[1])
    np.testing.assert_array_equal(person.scores, r.scores[1])
    np.testing.assert_array_equal(person.box, r.boxes[1])
    assert r[-1].track_id == 9
    with pytest.raises(IndexError):
        r[2]
    assert r.frame_hw == (240, 320)
    np.testing.assert_allclose(r.keypoints_normalized, r.keypoints / np.array([320, 240]), rtol=1e-6)
    d = json.loads(r.to_json())
    assert d == r.to_dict()
    assert d["track_ids"] == [4, 9] and d["frame_hw"] == [240, 320] and d["keypoint_set"] == "coco17"
    np.testing.assert_allclose(d["keypoints"], r.keypoints, atol=1e-3)
    np.testing.assert_allclose(d["keypoints_normalized"], r.keypoints_normalized, atol=1e-3)
    np.testing.assert_allclose(d["boxes"], boxes)
    assert set(d["timings"]) == set(TIMING_KEYS) and d["score_threshold"] == pytest.approx(est.score_threshold)


def test_timings_keep_tracking_apart(models: dict[str, Path], frame: np.ndarray) -> None:
    with Estimator(models["onnx"], mode="track", running_mode="video") as est:
        r = est(frame, timestamp=0.0)
    assert list(r.timings) == list(TIMING_KEYS)
    stages = sum(v for k, v in r.timings.items() if k != "total")
    assert r.timings["track"] > 0 and stages <= r.timings["total"] + 1e-6


# ---- the shipped files ---------------------------------------------------------------------------------------
SHIPPED = [(name, f) for name in zoo.list_models() for f in zoo.get_spec(name).files]
SAMPLE = Path(edgepose.__file__).parent / "samples" / "person.jpg"


@pytest.mark.parametrize(("name", "model_file"), SHIPPED, ids=[f"{n}-{f.format}-{f.precision}" for n, f in SHIPPED])
def test_shipped_file_by_path_behaves_like_its_name_and_draws(name: str, model_file: zoo.ModelFile,
                                                              tmp_path: Path) -> None:
    """A shipped file copied elsewhere and loaded by path: the registry's score threshold and the
    same poses as by name (also for files whose metadata predates the threshold key), and
    ``result.draw()`` draws keypoints (with the old fixed 0.3 it drew none for these models)."""
    import cv2

    backend = "tflite" if model_file.format == "tflite" else "onnxruntime"
    copy = tmp_path / "elsewhere" / f"{name}_{model_file.precision}.{model_file.format}"
    copy.parent.mkdir()
    shutil.copyfile(download.fetch_file(model_file), copy)
    image = cv2.imread(str(SAMPLE))
    with Estimator(name, backend=backend, precision=model_file.precision, threads=1) as by_name, \
            Estimator(copy, backend=backend, threads=1) as by_path:
        assert by_path.score_threshold == by_name.score_threshold == zoo.get_spec(name).score_threshold
        assert by_path.tracker.lost_score == by_name.tracker.lost_score
        a, b = by_name(image), by_path(image)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    np.testing.assert_array_equal(a.scores, b.scores)
    skeleton_only = a.draw(image.copy(), boxes=False)
    changed = np.any(skeleton_only != image, axis=2)
    assert changed.sum() > 200, "draw() drew no keypoints with the model's threshold"
    assert int((a.scores[0] >= a.score_threshold).sum()) >= 10
