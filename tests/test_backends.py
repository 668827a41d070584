"""Backends: ONNX Runtime, TFLite (LiteRT), OpenVINO on tiny models built without torch."""

from __future__ import annotations

import importlib.machinery
import json
import logging
import sys
import threading
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from _tiny_models import make_onnx, make_tflite, metadata_for, reference_outputs

from edgepose.runtime.backends import available_backends, choose_backend, load_backend
from edgepose.runtime.backends import tflite_backend
from edgepose.runtime.backends.base import QuantParams
from edgepose.runtime.backends.tflite_backend import read_tflite_metadata
from edgepose.errors import BackendNotInstalledError, InputError, ModelFileError

HW = (64, 64)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("backend_models")
    q_meta = metadata_for(HW, extra={"io_quantization": {"input": [0.02, 128]}})
    return {
        "onnx": make_onnx(d / "dyn.onnx"),
        "onnx_fixed": make_onnx(d / "fixed.onnx", dynamic_batch=False),
        "onnx_nhwc": make_onnx(d / "nhwc.onnx", layout="NHWC", metadata=None),
        "onnx_uint8": make_onnx(d / "uint8.onnx", metadata=q_meta, uint8_input=True),
        "onnx_uint8_noq": make_onnx(d / "uint8_noq.onnx", uint8_input=True),
        "onnx_bad_reshape": make_onnx(d / "bad_reshape.onnx", reshape_batch=1),
        "onnx_fp16": make_onnx(d / "fp16.onnx", float16_io=True),
        "tflite": make_tflite(d / "fixed.tflite"),
        "tflite_dyn": make_tflite(d / "dyn.tflite", dynamic_batch=True),
        "tflite_int8": make_tflite(d / "int8.tflite", int8_io=True),
        "tflite_nhwc": make_tflite(d / "nhwc.tflite", layout="NHWC"),
    }


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    return np.random.default_rng(0).random((3, 3, *HW), dtype=np.float32)


def _max_err(outs: list[np.ndarray], batch: np.ndarray) -> float:
    return max(float(np.abs(o - r).max()) for o, r in zip(outs, reference_outputs(batch, HW), strict=True))


CASES = [
    ("onnx", "onnxruntime", True, "NCHW"),
    ("onnx_fixed", "onnxruntime", False, "NCHW"),
    ("onnx_nhwc", "onnxruntime", True, "NHWC"),
    ("onnx", "openvino", True, "NCHW"),
    ("onnx_fixed", "openvino", False, "NCHW"),
    ("onnx_nhwc", "openvino", True, "NHWC"),
    ("tflite", "tflite", False, "NCHW"),
    ("tflite_dyn", "tflite", True, "NCHW"),
    ("tflite_nhwc", "tflite", False, "NHWC"),
]


@pytest.mark.parametrize(("key", "backend", "dynamic", "layout"), CASES)
def test_backend_matches_reference(models: dict[str, Path], batch: np.ndarray, key: str, backend: str,
                                   dynamic: bool, layout: str) -> None:
    with load_backend(models[key], backend, threads=1) as be:
        assert be.name == backend
        assert be.dynamic_batch is dynamic
        assert be.layout == layout
        assert be.input_hw == HW
        assert be.output_names == ["simcc_x", "simcc_y"]
        outs = be.run(batch)  # NCHW in, whatever the model's layout
        assert [o.shape for o in outs] == [(3, 17, 192), (3, 17, 192)]
        assert all(o.dtype == np.float32 for o in outs)
        assert _max_err(outs, batch) < 1e-4
        if key != "onnx_nhwc":
            assert json.loads(be.metadata["edgepose"])["model"] == "tiny_simdr"


def test_metadata_absent_gives_empty_map(models: dict[str, Path]) -> None:
    with load_backend(models["onnx_nhwc"]) as be:
        assert "edgepose" not in be.metadata


def test_tflite_int8_io_quantized_inside(models: dict[str, Path], batch: np.ndarray) -> None:
    with load_backend(models["tflite_int8"]) as be:
        assert be.input.dtype == np.int8 and be.input.quant == QuantParams(pytest.approx(0.02), 0, np.dtype(np.int8))
        assert all(o.quant is not None for o in be.outputs)
        outs = be.run(batch)
        assert all(o.dtype == np.float32 for o in outs)
        # input step 0.02 and output step 0.25: a few output steps at most
        assert _max_err(outs, batch) < 0.5
        # already-int8 data passes unchanged
        q = be.input.quant.quantize(batch)
        assert np.array_equal(be.run(q)[0], outs[0])


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_onnx_integer_input_uses_metadata_quantization(models: dict[str, Path], batch: np.ndarray,
                                                       backend: str) -> None:
    with load_backend(models["onnx_uint8"], backend) as be:
        assert be.input.quant == QuantParams(0.02, 128, np.dtype(np.uint8))
        assert _max_err(be.run(batch - 0.5), batch - 0.5) < 0.05


def test_integer_input_without_scale_needs_integer_data(models: dict[str, Path], batch: np.ndarray) -> None:
    with load_backend(models["onnx_uint8_noq"]) as be:
        with pytest.raises(ModelFileError, match="without scale/zero point"):
            be.run(batch)
        raw = np.full((1, 3, *HW), 128, np.uint8)
        assert be.run(raw)[0].shape == (1, 17, 192)


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_float16_io(models: dict[str, Path], batch: np.ndarray, backend: str) -> None:
    with load_backend(models["onnx_fp16"], backend) as be:
        assert be.input.dtype == np.float16
        outs = be.run(batch)
        assert all(o.dtype == np.float32 for o in outs)
        assert _max_err(outs, batch) < 0.05  # float16 rounding of ~16-sized logits


def test_quant_params_round_trip() -> None:
    q = QuantParams(0.1, -3, np.dtype(np.int8))
    x = np.array([-20.0, -1.0, 0.0, 0.26, 20.0], np.float32)
    assert q.quantize(x).tolist() == [-128, -13, -3, 0, 127]
    assert np.allclose(q.dequantize(q.quantize(x))[1:4], [-1.0, 0.0, 0.3], atol=1e-6)


def test_batch_validation(models: dict[str, Path]) -> None:
    with load_backend(models["onnx"]) as be:
        with pytest.raises(InputError, match="NCHW"):
            be.run(np.zeros((3, 64, 64), np.float32))
        with pytest.raises(InputError, match="NCHW"):
            be.run(np.zeros((1, 64, 64, 3), np.float32))
        with pytest.raises(InputError, match="64x64"):
            be.run(np.zeros((1, 3, 32, 64), np.float32))
        with pytest.raises(InputError, match="numpy array"):
            be.run([[0.0]])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="closed"):
        be.run(np.zeros((1, 3, *HW), np.float32))


def test_runtime_failure_is_wrapped(models: dict[str, Path], batch: np.ndarray) -> None:
    with load_backend(models["onnx_bad_reshape"]) as be:
        assert be.run(batch[:1])[0].shape == (1, 17, 192)
        with pytest.raises(ModelFileError, match="bad_reshape.onnx: onnxruntime failed"):
            be.run(batch)


def test_threads_option(models: dict[str, Path]) -> None:
    for key in ("onnx", "tflite"):
        with load_backend(models[key], threads=2) as be:
            assert be.threads == 2
    with pytest.raises(InputError, match="threads"):
        load_backend(models["onnx"], threads=0)


def _call_from_threads(fn: Callable[[], np.ndarray], threads: int, calls: int) -> list[np.ndarray]:
    """Results of ``fn()`` called ``calls`` times from each of ``threads`` threads at once."""
    results: list[np.ndarray] = []

    def work() -> None:
        for _ in range(calls):
            results.append(fn())

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results


def test_concurrent_runs_are_correct(models: dict[str, Path], batch: np.ndarray) -> None:
    for key in ("tflite", "onnx"):
        with load_backend(models[key]) as be:
            expected = be.run(batch)[0]
            results = _call_from_threads(lambda be=be: be.run(batch)[0], threads=4, calls=5)
            assert len(results) == 20 and all(np.array_equal(r, expected) for r in results)


@pytest.mark.parametrize(("key", "backend", "dynamic", "layout"), CASES)
def test_run_parallel_matches_run(monkeypatch: pytest.MonkeyPatch, models: dict[str, Path], key: str,
                                  backend: str, dynamic: bool, layout: str) -> None:
    crops = np.random.default_rng(1).random((5, 3, *HW), dtype=np.float32)
    with load_backend(models[key], backend, threads=3) as be:
        made: list[int] = []
        seen: list[int] = []
        make = be._make_worker

        def counting_make():  # noqa: ANN202
            made.append(1)
            worker = make()

            def run(x: np.ndarray) -> list[np.ndarray]:
                seen.append(x.shape[0])
                return worker(x)

            return run

        monkeypatch.setattr(be, "_make_worker", counting_make)
        assert be.parallel_workers == 3
        expected = be.run(crops)
        for _ in range(2):  # workers are made once and reused
            got = be.run_parallel(crops)
            assert [o.shape for o in got] == [o.shape for o in expected]
            for g, e in zip(got, expected, strict=True):
                np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-4)
        assert 1 <= len(made) <= 3  # made on demand, at most one per thread, then reused
        # 5 crops in 3 chunks (2, 2, 1); fixed-batch models get them one at a time
        assert sorted(seen) == (sorted([2, 2, 1] * 2) if dynamic else [1] * 10)
        one = be.run_parallel(crops[:1])  # a single crop is a plain run
        np.testing.assert_allclose(one[0], expected[0][:1], rtol=1e-5, atol=1e-4)
        assert len(made) <= 3


def test_run_parallel_single_thread_is_one_call(monkeypatch: pytest.MonkeyPatch, models: dict[str, Path],
                                                batch: np.ndarray) -> None:
    with load_backend(models["onnx"], threads=1) as be:
        monkeypatch.setattr(be, "_make_worker", lambda: pytest.fail("no worker with one thread"))
        assert _max_err(be.run_parallel(batch), batch) < 1e-4


def test_run_parallel_default_threads_use_the_cores(models: dict[str, Path]) -> None:
    from edgepose.runtime.backends.base import available_cpus

    with load_backend(models["onnx"]) as be:
        assert be.parallel_workers == available_cpus() >= 1


def test_run_parallel_concurrent_callers(models: dict[str, Path]) -> None:
    crops = np.random.default_rng(2).random((4, 3, *HW), dtype=np.float32)
    for key in ("tflite", "onnx"):
        with load_backend(models[key], threads=2) as be:
            expected = be.run(crops)[0]
            results = _call_from_threads(lambda be=be: be.run_parallel(crops)[0], threads=3, calls=5)
            assert len(results) == 15
            assert all(np.allclose(r, expected, rtol=1e-5, atol=1e-4) for r in results)


def test_run_parallel_errors(models: dict[str, Path], batch: np.ndarray) -> None:
    with load_backend(models["onnx_bad_reshape"], threads=2) as be:
        with pytest.raises(ModelFileError, match="bad_reshape.onnx: onnxruntime failed"):
            be.run_parallel(np.concatenate([batch, batch]))  # chunks of 3 crops: the reshape fails
    with pytest.raises(InputError, match="closed"):
        be.run_parallel(batch)
    with load_backend(models["onnx"], threads=2) as be, pytest.raises(InputError, match="64x64"):
        be.run_parallel(np.zeros((2, 3, 32, 64), np.float32))


# ---- choosing a backend ------------------------------------------------------------------------
def test_choose_backend_by_suffix_and_name(models: dict[str, Path], tmp_path: Path) -> None:
    assert choose_backend(models["onnx"]) == "onnxruntime"
    assert choose_backend(models["tflite"]) == "tflite"
    assert choose_backend(models["onnx"], "ov") == "openvino"
    assert set(available_backends()) == {"onnxruntime", "tflite", "openvino"}
    with pytest.raises(InputError, match="cannot read .tflite"):
        choose_backend(models["tflite"], "onnxruntime")
    with pytest.raises(InputError, match="unsupported model file type"):
        choose_backend(tmp_path / "model.pt")
    with pytest.raises(InputError, match="unknown backend"):
        choose_backend(models["onnx"], "tensorrt")


@pytest.mark.parametrize(("backend", "modules", "extra", "key"), [
    ("onnxruntime", ["onnxruntime"], '-e ".[ort]"', "onnx"),
    ("openvino", ["openvino"], '-e ".[openvino]"', "onnx"),
    ("tflite", ["ai_edge_litert", "ai_edge_litert.interpreter", "tflite_runtime"], '-e ".[tflite]"', "tflite"),
])
def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch, models: dict[str, Path], backend: str,
                                         modules: list[str], extra: str, key: str) -> None:
    for m in modules:
        monkeypatch.setitem(sys.modules, m, None)
    with pytest.raises(BackendNotInstalledError, match=extra.replace("[", r"\[").replace("]", r"\]")):
        load_backend(models[key], backend)
    # also when the class is constructed directly (the import happens there)
    module = {"onnxruntime": "onnxruntime_backend", "openvino": "openvino_backend", "tflite": "tflite_backend"}[backend]
    mod = __import__(f"edgepose.runtime.backends.{module}", fromlist=["x"])
    cls = [v for k, v in vars(mod).items() if k.endswith("Backend") and k != "Backend"][0]
    with pytest.raises(BackendNotInstalledError, match="pip install"):
        cls(models[key])


def test_onnx_falls_back_to_openvino_with_a_warning(monkeypatch: pytest.MonkeyPatch, models: dict[str, Path],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with caplog.at_level(logging.WARNING):
        assert choose_backend(models["onnx"]) == "openvino"
    assert "onnxruntime is not installed" in caplog.text


def test_tflite_runtime_fallback_is_logged(monkeypatch: pytest.MonkeyPatch, models: dict[str, Path],
                                           caplog: pytest.LogCaptureFixture, batch: np.ndarray) -> None:
    from ai_edge_litert.interpreter import Interpreter

    fake = types.ModuleType("tflite_runtime")
    fake.__spec__ = importlib.machinery.ModuleSpec("tflite_runtime", None)
    fake_interp = types.ModuleType("tflite_runtime.interpreter")
    fake_interp.Interpreter = Interpreter  # type: ignore[attr-defined]
    fake.interpreter = fake_interp  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime", fake)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", fake_interp)
    monkeypatch.setattr(tflite_backend, "_logged_runtime", None)
    with caplog.at_level(logging.INFO):
        be = load_backend(models["tflite"])
    assert be.package == "tflite_runtime"
    assert "falling back" in caplog.text or "run on tflite_runtime" in caplog.text
    assert _max_err(be.run(batch), batch) < 1e-4
    monkeypatch.setattr(tflite_backend, "_logged_runtime", None)


# ---- broken files ----------------------------------------------------------------------------------
@pytest.fixture()
def broken(models: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    onnx_bytes = models["onnx"].read_bytes()
    tfl_bytes = models["tflite"].read_bytes()
    garbled = bytearray(tfl_bytes)
    garbled[4:8] = b"XXXX"
    files = {
        "onnx_truncated": onnx_bytes[: len(onnx_bytes) // 2],
        "onnx_junk": b"this is not a model" * 20,
        "onnx_empty": b"",
        "onnx_lfs": b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n",
        "onnx_is_tflite": tfl_bytes,
        "tflite_truncated": tfl_bytes[: len(tfl_bytes) // 2],
        "tflite_head_only": tfl_bytes[:16],
        "tflite_no_identifier": bytes(garbled),
        "tflite_is_onnx": onnx_bytes,
    }
    out = {}
    for name, data in files.items():
        p = tmp_path / f"{name}.{name.split('_')[0]}"
        p.write_bytes(data)
        out[name] = p
    return out


@pytest.mark.parametrize(("name", "backend", "match"), [
    ("onnx_truncated", "onnxruntime", "ONNX Runtime cannot load"),
    ("onnx_truncated", "openvino", "OpenVINO cannot load"),
    ("onnx_junk", "onnxruntime", "ONNX Runtime cannot load"),
    ("onnx_junk", "openvino", "OpenVINO cannot load"),
    ("onnx_empty", "onnxruntime", "is empty"),
    ("onnx_lfs", "onnxruntime", "Git LFS pointer"),
    ("onnx_is_tflite", "onnxruntime", "is a TFLite model"),
    ("tflite_truncated", "tflite", "truncated or corrupted"),
    ("tflite_head_only", "tflite", "truncated or corrupted"),
    ("tflite_no_identifier", "tflite", "TFL3"),
    ("tflite_is_onnx", "tflite", "TFL3"),
])
def test_broken_files_raise_model_file_error(broken: dict[str, Path], name: str, backend: str, match: str) -> None:
    with pytest.raises(ModelFileError, match=match):
        load_backend(broken[name], backend)


def test_missing_file(tmp_path: Path) -> None:
    for suffix in (".onnx", ".tflite"):
        with pytest.raises(ModelFileError, match="does not exist"):
            load_backend(tmp_path / f"nope{suffix}")


def test_tflite_metadata_reader(models: dict[str, Path]) -> None:
    meta = read_tflite_metadata(models["tflite_int8"])
    assert set(meta) == {"min_runtime_version", "edgepose"}
    assert json.loads(meta["edgepose"])["precision"] == "int8"


def test_onnxruntime_idle_pool_spins_briefly() -> None:
    from edgepose.runtime.backends.onnxruntime_backend import _short_spin_entry

    assert _short_spin_entry("1.31.0") == ("session.intra_op.spin_duration_us", "100")
    assert _short_spin_entry("1.26.0.dev20250101") == ("session.intra_op.spin_duration_us", "100")
    assert _short_spin_entry("1.17.3") == ("session.force_spinning_stop", "1")
    assert _short_spin_entry("nightly") == ("session.force_spinning_stop", "1")
