"""Fuzzing (derandomized hypothesis, a few hundred cases): Estimator calls and estimate(),
detector boxes, constructor arguments, mutated model metadata and the codecs must give a
valid result or a documented edgepose exception with a message -- never another exception.

The case builders and the oracle live in ``tests/_fuzz_cases.py``; ``tests/fuzz/run_fuzz.py``
runs the same cases by the ten thousand, each under a timeout in a worker process (crashes
and hangs included). Corrupt model files are fuzzed there and in ``test_integrity.py``
(in a subprocess, since a runtime could crash on them).
"""

from __future__ import annotations

import json
from dataclasses import fields
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _fuzz_cases import FuzzContext, FuzzDetector, HypothesisChooser, onnx_with_metadata, run_case
from _tiny_models import metadata_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgepose import Estimator, ModelDescription
from edgepose.codecs import HeatmapCodec, SimDRCodec, codec_from_dict
from edgepose.errors import InputError, ModelFileError

CPU_LIMIT_S = 20.0  # CPU seconds per example: a hang fails the test instead of stalling the suite


def _settings(examples: int) -> settings:
    return settings(derandomize=True, database=None, max_examples=examples, deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much, HealthCheck.large_base_example])


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzContext]:
    context = FuzzContext(tmp_path_factory.mktemp("fuzz"))
    yield context
    context.close()


@_settings(120)
@given(data=st.data())
def test_fuzz_estimator_call(ctx: FuzzContext, data: st.DataObject) -> None:
    run_case(ctx, "call", HypothesisChooser(data), CPU_LIMIT_S)


@_settings(120)
@given(data=st.data())
def test_fuzz_estimator_estimate(ctx: FuzzContext, data: st.DataObject) -> None:
    run_case(ctx, "estimate", HypothesisChooser(data), CPU_LIMIT_S)


@_settings(40)
@given(data=st.data())
def test_fuzz_detector_boxes(ctx: FuzzContext, data: st.DataObject) -> None:
    run_case(ctx, "detect", HypothesisChooser(data), CPU_LIMIT_S)


@_settings(40)
@given(data=st.data())
def test_fuzz_estimator_arguments(ctx: FuzzContext, data: st.DataObject) -> None:
    run_case(ctx, "args", HypothesisChooser(data), CPU_LIMIT_S)


@_settings(60)
@given(data=st.data())
def test_fuzz_model_metadata(ctx: FuzzContext, data: st.DataObject) -> None:
    run_case(ctx, "metadata", HypothesisChooser(data), CPU_LIMIT_S)


@_settings(200)
@given(data=st.data())
def test_fuzz_codecs(data: st.DataObject) -> None:
    run_case(None, "codec", HypothesisChooser(data), CPU_LIMIT_S)  # type: ignore[arg-type]


# ---- regression tests: each input once crashed the library with an undocumented exception,
# ---- or gave a non-finite result (found by the fuzzer; fixed to raise the error named here)
@pytest.fixture(scope="module")
def est(ctx: FuzzContext) -> Estimator:
    return Estimator(ctx.backends["onnx"], mode="full")


FRAME = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)


@pytest.mark.parametrize(("frame", "match"), [
    (np.zeros((1, 40_000, 3), np.uint8), "MAX_FRAME_SIDE"),  # was cv2.error (SHRT_MAX) in warpAffine
    (np.zeros((32_767, 2, 3), np.uint8), "MAX_FRAME_SIDE"),
])
def test_regression_frames(est: Estimator, frame: np.ndarray, match: str) -> None:
    with pytest.raises(InputError, match=match):
        est(frame)


@pytest.mark.parametrize(("boxes", "match"), [
    ([[10**400, 2, 3, 4]], "numbers"),  # was OverflowError
    ([[0, 0, 3.5e38, 3.5e38]], "MAX_BOX_COORD"),  # was inf in result.boxes
    ([[-1e300, -1e300, 2e300, 2e300]], "MAX_BOX_COORD"),
    ([[10, 10, 5e-324, 5e-324]], "MIN_BOX_SIZE"),  # was NaN keypoints with finite scores
    ([[10, 10, 1e-300, 1e-300]], "MIN_BOX_SIZE"),
])
def test_regression_boxes(est: Estimator, boxes: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        est.estimate(FRAME, boxes)


@pytest.mark.parametrize("track_ids", [["a"], [float("nan")], [2**70], [None], {"a": 1}, [1.5]])
def test_regression_track_ids(est: Estimator, track_ids: object) -> None:
    with pytest.raises(InputError, match="track_ids"):  # were ValueError / TypeError / OverflowError
        est.estimate(FRAME, [[10, 10, 50, 80]], track_ids=track_ids)


@pytest.mark.parametrize("timestamp", ["x", "1.0", object(), 10**400, [1.0], True, float("nan")])
def test_regression_timestamps(ctx: FuzzContext, timestamp: object) -> None:
    with Estimator(ctx.backends["onnx"], mode="full", running_mode="video") as video:
        with pytest.raises(InputError, match="timestamp"):  # were ValueError / TypeError / OverflowError
            video(FRAME, timestamp=timestamp)
        with pytest.raises(InputError, match="timestamp"):
            video.estimate(FRAME, [[10, 10, 50, 80]], timestamp=timestamp)


@pytest.mark.parametrize(("boxes", "scores"), [
    ([[0, 0, 10]], [0.9]), ([["a", "b", "c", "d"]], [0.9]), ({"a": 1}, [0.9]), (None, [0.9]),
    ([[0, 0, 10, 10], [5, 5, 10, 10]], "x"), ([[0, 0, 10, 10], [5, 5, 10, 10]], [0.9]),
])
def test_regression_detector_output(ctx: FuzzContext, boxes: object, scores: object) -> None:
    det = FuzzDetector()
    det.next = (boxes, scores)
    with Estimator(ctx.backends["onnx"], detector=det, max_people=1) as e:
        with pytest.raises(InputError, match="detector"):  # were ValueError / TypeError / IndexError
            e(FRAME)


@pytest.mark.parametrize("kwargs", [
    {"max_batch": "4"}, {"max_batch": 1.5}, {"padding": "x"}, {"padding": float("nan")}, {"padding": 1e30},
    {"max_people": "2"}, {"backend": 3}, {"codec": 5, "keypoint_set": "coco17"}, {"input_hw": 5},
    {"mean": "abc"},
])
def test_regression_estimator_arguments(ctx: FuzzContext, kwargs: dict) -> None:
    names = {f.name for f in fields(ModelDescription)}
    described = {k: v for k, v in kwargs.items() if k in names}
    kwargs = {k: v for k, v in kwargs.items() if k not in names}
    with pytest.raises(InputError):  # were TypeError / ValueError / AttributeError, or accepted
        Estimator(ctx.paths["onnx"], threads=1, description=ModelDescription(**described), **kwargs)


@pytest.mark.parametrize("model", [3, None, b"tiny.onnx", 3.5, ["a"]])
def test_regression_model_argument(model: object) -> None:
    with pytest.raises(InputError, match="model must be"):  # was TypeError from pathlib
        Estimator(model)  # type: ignore[arg-type]


@pytest.mark.parametrize("codec", [
    {"type": "simdr", "input_hw": ["a", 64]}, {"type": "simdr", "input_hw": {"h": 1, "w": 2}},
    {"type": "simdr", "input_hw": None}, {"type": "simdr", "input_hw": [float("nan"), 4]},
    {"type": "simdr", "input_hw": [64, 64], "split_ratio": float("inf")},
    {"type": "simdr", "input_hw": [64, 64], "split_ratio": 1e-9},  # 0 bins
    {"type": "simdr", "input_hw": [64, 64], "split_ratio": 1e9},  # 6.4e10 bins
    {"type": "simdr", "input_hw": [64, 64], "flip_shift_bins": "x"},
    {"type": "simdr_star", "input_hw": [64, 64], "sigma": 10**400},
    {"type": "heatmap", "input_hw": [64, 64], "heatmap_hw": ["a", 1]},
    {"type": "heatmap", "input_hw": [2**40, 1]}, {"type": ["simdr"]},
])
def test_regression_codec_parameters(codec: dict) -> None:
    with pytest.raises(InputError):  # were ValueError / KeyError / TypeError / OverflowError
        codec_from_dict(codec)


def test_regression_codec_inputs() -> None:
    codec = SimDRCodec((64, 64), 3.0)
    for kp, vis in [("kp", "vis"), ([[10**400, 0]], [1]), ({"a": 1}, [1]), (np.zeros((1, 2)), ["x"])]:
        with pytest.raises(InputError):  # were ValueError / TypeError / OverflowError
            codec.encode(kp, vis)
    assert codec.encode(np.zeros((1, 2)), [None])["target_weight"].tolist() == [0.0]  # was TypeError
    out = [np.zeros((1, 17, 192), np.float32)] * 2
    for flip in (["a"] * 17, [float("nan")] * 17, None):
        with pytest.raises(InputError, match="flip_index"):
            codec.decode_flip(out, out, flip)
    hm = HeatmapCodec((64, 64), sigma=1e9, refine="dark")  # was cv2.error (kernel size overflow)
    kp, _ = hm.decode(np.random.default_rng(0).random((1, 17, 16, 16), dtype=np.float32))
    assert np.all(np.isfinite(kp))


@pytest.mark.parametrize(("change", "match"), [
    ({"mean": [10**400, 0, 0]}, "mean"),  # was OverflowError
    ({"macs": "1e400"}, None),  # JSON 1e400 parses to inf: was OverflowError (int(inf)); ignored now
    ({"io_quantization": {"input": {"a": 1}}}, "io_quantization"),  # was KeyError
    ({"io_quantization": {"input": [0.02, 10**30]}}, "io_quantization"),  # was accepted: wrong results
    ({"io_quantization": {"input": [0.02, "1e400"]}}, "io_quantization"),  # was OverflowError (int(inf))
])
def test_regression_metadata_fields(ctx: FuzzContext, tmp_path: Path, change: dict, match: str | None) -> None:
    meta = metadata_for((64, 64), extra={"io_quantization": {"input": [0.02, 128]}})
    meta.update(change)
    payload = json.dumps(meta).replace('"1e400"', "1e400").encode()  # a number JSON can hold, too big for float
    path = tmp_path / "m.onnx"
    path.write_bytes(onnx_with_metadata(ctx.onnx_bases["onnx_uint8"], payload))
    if match is None:
        with Estimator(path, threads=1) as e:
            assert e.info.macs is None
    else:
        with pytest.raises(ModelFileError, match=match):
            Estimator(path, threads=1)


def test_regression_metadata_payloads(ctx: FuzzContext, tmp_path: Path) -> None:
    for name, payload in [("deep", b"[" * 100_000), ("not_utf8", b"\xff\xfe{}")]:
        path = tmp_path / f"{name}.onnx"  # were RecursionError / UnicodeDecodeError inside ONNX Runtime's API
        path.write_bytes(onnx_with_metadata(ctx.onnx_bases["onnx"], payload))
        with pytest.raises(ModelFileError, match=path.name):
            Estimator(path, threads=1)
