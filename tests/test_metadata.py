"""Model-file metadata (the schema in the runtime, the file I/O on the export side), the TFLite op lister and
the shared preprocessing (all torch-free, the export side's file modules included)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _tiny_models import make_onnx, make_tflite, metadata_for

from edgepose.errors import InputError, ModelFileError
from edgepose.geometry import box_to_center_scale, get_affine_matrix, warp_crop
from edgepose.export.model_files import (
    detect_format, read_metadata, write_metadata, write_onnx_metadata, write_tflite_metadata,
)
from edgepose.export.tflite_ops import check_builtin_only, tflite_ops
from edgepose.preprocess import InputSpec, crops_to_frame, preprocess_crops
from edgepose.runtime.metadata import (
    FORMAT_VERSION, codec_of, input_spec_of, keypoint_set_of, make_metadata, validate_metadata,
)
from edgepose.zoo import ModelSpec, get_spec

HW = (64, 64)


@pytest.fixture()
def onnx_file(tmp_path: Path) -> Path:
    return make_onnx(tmp_path / "m.onnx", HW, metadata=None)


@pytest.fixture()
def tflite_file(tmp_path: Path) -> Path:
    return make_tflite(tmp_path / "m.tflite", HW, metadata=None)


def test_module_is_torch_free() -> None:
    code = ("import sys, edgepose.runtime.metadata, edgepose.export.model_files, edgepose.export.tflite_ops, "
            "edgepose.preprocess; "
            "bad = [m for m in ('torch', 'tensorflow', 'nncf', 'onnx') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_make_metadata_from_spec() -> None:
    spec = get_spec("simdr_r50_128")
    meta = make_metadata(spec, "NHWC", "int8", input_dtype="int8", batch_size=1, quantization={"subset_size": 8})
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["model"] == "simdr_r50_128" and meta["spec"]["input_hw"] == [128, 128]
    assert meta["outputs"] == ["simcc_x", "simcc_y"] and meta["layout"] == "NHWC"
    assert meta["spec"]["color_order"] == spec.color_order and meta["spec"]["mean"] == list(spec.mean)
    assert "files" not in meta["spec"] and meta["spec"]["codec"] == spec.codec
    # how to feed and decode the model is written once, in spec (format 2)
    assert not {"codec", "input_hw", "mean", "std", "color_order", "keypoint_set"} & set(meta)
    assert codec_of(meta) == spec.codec and keypoint_set_of(meta) == spec.keypoint_set
    assert input_spec_of(meta) == dataclasses.replace(spec.input_spec, layout="NHWC")
    assert json.loads(json.dumps(meta)) == meta
    assert make_metadata(get_spec("hm_r50_64"), "NCHW", "fp32")["outputs"] == ["heatmaps"]
    assert make_metadata(spec, "NCHW", "fp32", outputs=["simcc_y", "simcc_x"])["outputs"] == ["simcc_y", "simcc_x"]
    with pytest.raises(ModelFileError, match="outputs"):
        make_metadata(spec, "NCHW", "fp32", outputs=["heatmaps"])
    with pytest.raises(ModelFileError, match="layout"):
        make_metadata(spec, "CHW", "fp32")
    with pytest.raises(ModelFileError, match="precision"):
        make_metadata(spec, "NCHW", "int4")


def test_runtime_defaults_are_optional_validated_and_mirrored_in_spec(onnx_file: Path) -> None:
    from edgepose.runtime.metadata import with_runtime_defaults
    from edgepose.zoo import with_files

    # the registry's values describe its shipped weights, not an export's: the spec copy drops them
    shipped = with_files(get_spec("simdr_r18_64"), (), "shipped set", 0.02)
    plain = make_metadata(shipped, "NCHW", "fp32")
    assert "score_threshold" not in plain and "trained_on" not in plain
    assert plain["spec"]["score_threshold"] is None and plain["spec"]["trained_on"] == ""
    meta = make_metadata(shipped, "NCHW", "fp32", score_threshold=0.125, trained_on="stick figures")
    assert meta["score_threshold"] == 0.125 and meta["trained_on"] == "stick figures"
    assert meta["spec"]["score_threshold"] == 0.125 and meta["spec"]["trained_on"] == "stick figures"
    write_metadata(onnx_file, meta)
    assert read_metadata(onnx_file) == meta
    again = with_runtime_defaults(meta, score_threshold=0.5)  # trained_on kept
    assert again["score_threshold"] == 0.5 == again["spec"]["score_threshold"]
    assert again["trained_on"] == "stick figures"
    cleared = with_runtime_defaults(meta, score_threshold=None)
    assert "score_threshold" not in cleared and cleared["spec"]["score_threshold"] is None
    assert validate_metadata(dict(plain, score_threshold=None), "x")["score_threshold"] is None  # null: not set
    for value in (0, 1, 0.0, 1.0):
        validate_metadata(dict(plain, score_threshold=value), "x")
    for bad in (-0.01, 1.01, "0.5", True, [0.5], 10**400):
        with pytest.raises(ModelFileError, match=r"f\.onnx: invalid edgepose metadata: score_threshold"):
            validate_metadata(dict(plain, score_threshold=bad), "f.onnx")
        with pytest.raises(ModelFileError, match="score_threshold"):
            with_runtime_defaults(plain, score_threshold=bad)
    for bad in (3, None, ["x"]):
        with pytest.raises(ModelFileError, match="trained_on"):
            validate_metadata(dict(plain, trained_on=bad), "f.onnx")
    # a bad value cannot be written, and a file holding one is refused by name
    with pytest.raises(ModelFileError, match="score_threshold"):
        write_metadata(onnx_file, dict(plain, score_threshold=2.0))
    assert read_metadata(onnx_file) == meta


def test_onnx_round_trip(onnx_file: Path) -> None:
    import onnx
    import onnxruntime as ort

    meta = make_metadata(get_spec("simdr_r18_64"), "NCHW", "fp32")
    write_onnx_metadata(onnx_file, meta)
    assert read_metadata(onnx_file) == meta
    assert detect_format(onnx_file) == "onnx"
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    assert json.loads(session.get_modelmeta().custom_metadata_map["edgepose"]) == meta
    onnx.checker.check_model(onnx.load(str(onnx_file)))
    # rewriting replaces the entry instead of adding a second one
    meta2 = dict(meta, precision="int8")
    write_metadata(onnx_file, meta2)
    assert read_metadata(onnx_file)["precision"] == "int8"
    keys = [p.key for p in onnx.load(str(onnx_file)).metadata_props]
    assert keys.count("edgepose") == 1


def test_tflite_round_trip(tflite_file: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    x = np.random.default_rng(0).normal(size=(1, 3, *HW)).astype(np.float32)

    def run(path: Path) -> list[np.ndarray]:
        it = Interpreter(model_path=str(path))
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        return [it.get_tensor(d["index"]) for d in it.get_output_details()]

    before = run(tflite_file)
    meta = make_metadata(get_spec("simdr_r18_64"), "NCHW", "fp32", batch_size=1)
    write_tflite_metadata(tflite_file, meta)
    assert read_metadata(tflite_file) == meta
    assert detect_format(tflite_file) == "tflite"
    write_metadata(tflite_file, dict(meta, precision="fp16"))
    assert read_metadata(tflite_file)["precision"] == "fp16"
    for a, b in zip(before, run(tflite_file)):
        np.testing.assert_array_equal(a, b)


def test_metadata_of_other_writers_validates(tmp_path: Path) -> None:
    """Files written by the test helpers (no export-only fields) still read."""
    path = make_onnx(tmp_path / "t.onnx", HW)
    assert read_metadata(path)["model"] == "tiny_simdr"
    path = make_tflite(tmp_path / "t.tflite", HW)
    assert read_metadata(path)["layout"] == "NCHW"


@pytest.mark.parametrize("content, match", [
    (None, "does not exist"),
    (b"", "is empty"),
    (b"\x00\x01garbage that is not a model" * 10, "not a valid ONNX|not an ONNX"),
    (b'{"edgepose": 1}', "not a valid ONNX|not an ONNX"),
])
def test_bad_files(tmp_path: Path, content: bytes | None, match: str) -> None:
    path = tmp_path / "bad.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelFileError, match=match) as info:
        read_metadata(path)
    assert "bad.onnx" in str(info.value)


def test_truncated_and_misnamed_files(onnx_file: Path, tflite_file: Path, tmp_path: Path) -> None:
    meta = make_metadata(get_spec("simdr_r18_64"), "NCHW", "fp32")
    write_onnx_metadata(onnx_file, meta)
    write_tflite_metadata(tflite_file, meta)
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(onnx_file.read_bytes()[:-7])
    with pytest.raises(ModelFileError, match="cut.onnx"):
        read_metadata(cut)
    cut_t = tmp_path / "cut.tflite"
    cut_t.write_bytes(tflite_file.read_bytes()[:200])
    with pytest.raises(ModelFileError, match="cut.tflite"):
        read_metadata(cut_t)
    wrong = tmp_path / "wrong.onnx"
    wrong.write_bytes(tflite_file.read_bytes())
    with pytest.raises(ModelFileError, match="holds a tflite model"):
        read_metadata(wrong)
    wrong_t = tmp_path / "wrong.tflite"
    wrong_t.write_bytes(onnx_file.read_bytes())
    with pytest.raises(ModelFileError, match="not a TFLite file"):
        read_metadata(wrong_t)
    with pytest.raises(ModelFileError, match="TFLite file, not ONNX"):
        write_onnx_metadata(tflite_file, meta)
    with pytest.raises(ModelFileError, match="not a TFLite file"):
        write_tflite_metadata(onnx_file, meta)


def test_absent_metadata(onnx_file: Path, tflite_file: Path) -> None:
    for path in (onnx_file, tflite_file):
        with pytest.raises(ModelFileError, match="no 'edgepose' metadata"):
            read_metadata(path)


def _write_raw_onnx_payload(path: Path, payload: bytes) -> None:
    import onnx

    model = onnx.load(str(path))
    entry = model.metadata_props.add()
    entry.key = "edgepose"
    entry.value = payload.decode("utf-8", "surrogateescape") if isinstance(payload, bytes) else payload
    onnx.save(model, str(path))


@pytest.mark.parametrize("payload, match", [
    ("not json at all", "not valid UTF-8 JSON"),
    ("[1, 2, 3]", "expected a JSON object"),
    ('{"format_version": NaN}', "not valid UTF-8 JSON"),
    ("{}", "missing field 'format_version'"),
])
def test_corrupt_metadata(onnx_file: Path, payload: str, match: str) -> None:
    _write_raw_onnx_payload(onnx_file, payload)
    with pytest.raises(ModelFileError, match=match):
        read_metadata(onnx_file)


_BAD_DESCRIPTIONS = [
    ({"input_hw": [64]}, "input_hw"),
    ({"std": [0.0, 1.0, 1.0]}, "std must be > 0"),
    ({"mean": [123.7, 116.3, 103.5]}, "0..255 units"),
    ({"color_order": "gbr"}, "color_order must be 'bgr' or 'rgb'"),
    ({"codec": {"type": "nope"}}, "codec"),
    ({"input_hw": [128, 128]}, "differs"),
    ({"keypoint_set": 17}, "keypoint_set"),
]


def test_invalid_metadata_fields() -> None:
    good = make_metadata(get_spec("simdr_r18_64"), "NCHW", "fp32")
    for change, match in [
        ({"format_version": 99}, "newer"),
        ({"format_version": 0}, "not valid"),
        ({"layout": "HWC"}, "layout"),
        ({"batch_size": 0}, "batch_size"),
        ({"outputs": []}, "outputs"),
    ]:
        with pytest.raises(ModelFileError, match=match):
            validate_metadata(dict(good, **change), "x.onnx")
    # format 2: how to feed and decode lives in spec, and errors say so
    for change, match in _BAD_DESCRIPTIONS:
        with pytest.raises(ModelFileError, match=f"x.onnx: invalid edgepose metadata: .*{match}") as err:
            validate_metadata(dict(good, spec={**good["spec"], **change}), "x.onnx")
        assert "\n" not in str(err.value) and "spec" in str(err.value)
    spec_lacking = {k: v for k, v in good["spec"].items() if k != "mean"}
    with pytest.raises(ModelFileError, match="missing field 'spec.mean'"):
        validate_metadata(dict(good, spec=spec_lacking), "x.onnx")
    with pytest.raises(ModelFileError):
        write_onnx_metadata("x.onnx", dict(good, layout="HWC"))


def test_format_1_metadata_is_still_read_and_checked(tmp_path: Path) -> None:
    """Files written before format 2 carry the model's description at the top level (and a copy in
    spec): they validate, read through the same accessors, and load in the Estimator as before."""
    from edgepose import Estimator

    old = metadata_for(HW)  # a format-1 document, as edgepose wrote them
    assert old["format_version"] == 1 and old["input_hw"] == list(HW)
    validate_metadata(old, "old.onnx")
    assert input_spec_of(old) == InputSpec(HW, old["mean"], old["std"], "bgr", "NCHW")
    assert codec_of(old) == old["codec"] and keypoint_set_of(old) == "coco17"
    # format 1 is read from its top level, as then (the spec copy is not consulted)
    assert input_spec_of(dict(old, spec={**old["spec"], "color_order": "rgb"})).color_order == "bgr"
    for change, match in _BAD_DESCRIPTIONS:
        with pytest.raises(ModelFileError, match=match):
            validate_metadata(dict(old, **change), "old.onnx")
    with pytest.raises(ModelFileError, match="missing field 'codec'"):
        validate_metadata({k: v for k, v in old.items() if k != "codec"}, "old.onnx")
    frame = np.random.default_rng(1).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    results = []
    for name, meta in (("old.onnx", old), ("new.onnx", None)):
        path = make_onnx(tmp_path / name, HW, metadata=None)
        if meta is None:  # the same model, its metadata in format 2
            new = make_metadata(_tiny_spec(old), "NCHW", "fp32")
            write_onnx_metadata(path, new)
            assert read_metadata(path)["format_version"] == FORMAT_VERSION == 2
        else:
            write_onnx_metadata(path, meta)
            assert read_metadata(path) == old
        with Estimator(path) as est:
            results.append((est.info.input_spec, est.estimate(frame, [[10, 10, 60, 70]]).keypoints))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


def _tiny_spec(meta: dict) -> ModelSpec:
    return ModelSpec.from_dict(meta["spec"])


def test_input_spec_round_trips_through_model_files(onnx_file: Path, tflite_file: Path) -> None:
    """make_metadata -> write -> read -> input_spec_of gives back the ModelSpec's InputSpec (with the
    file's layout), for ONNX and TFLite files, for BGR and RGB models."""
    for name in ("simdr_r18_64", "simdr_hrw32_64"):
        spec = get_spec(name)
        for path, layout in ((onnx_file, "NCHW"), (tflite_file, "NHWC")):
            write_metadata(path, make_metadata(spec, layout, "fp32"))
            back = read_metadata(path)
            assert input_spec_of(back) == dataclasses.replace(spec.input_spec, layout=layout)
            assert codec_of(back) == spec.codec and keypoint_set_of(back) == spec.keypoint_set


def test_input_spec_is_frozen_validated_and_round_trips() -> None:
    spec = InputSpec([64, 48], [0.5, 0.4, 0.3], np.array([0.2, 0.25, 0.3]), "rgb", "NHWC")
    assert spec.input_hw == (64, 48) and spec.mean == (0.5, 0.4, 0.3) and spec.std == (0.2, 0.25, 0.3)
    assert all(type(v) is float for v in spec.mean + spec.std)  # noqa: E721 - plain floats, hashable
    assert InputSpec.from_dict(spec.to_dict()) == spec
    assert json.loads(json.dumps(spec.to_dict())) == spec.to_dict()
    assert InputSpec.from_dict({k: v for k, v in spec.to_dict().items() if k != "layout"}).layout == "NCHW"
    assert InputSpec.from_dict(spec.to_dict(), layout="NCHW").layout == "NCHW"
    assert hash(spec) == hash(InputSpec.from_dict(spec.to_dict()))
    for field in ("input_hw", "mean", "std", "color_order", "layout"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(spec, field, getattr(spec, field))
    with pytest.raises(InputError, match="input spec lacks 'mean', 'color_order'"):
        InputSpec.from_dict({"input_hw": [1, 1], "std": [1, 1, 1]})
    with pytest.raises(InputError, match="must be a mapping"):
        InputSpec.from_dict([64, 64])  # type: ignore[arg-type]
    for bad, match in (({"mean": (0.5, 0.4)}, "mean must be 3 finite numbers"),
                       ({"mean": (0.5, float("nan"), 0.3)}, "mean must be 3 finite numbers"),
                       ({"std": "abc"}, "std must be 3 finite numbers"),
                       ({"color_order": None}, "color_order must be 'bgr' or 'rgb'; got None"),
                       ({"layout": "nchw"}, "layout must be 'NCHW' or 'NHWC'; got 'nchw'"),
                       ({"input_hw": (64.5, 48)}, "input_hw must be")):
        with pytest.raises(InputError, match=match) as err:
            dataclasses.replace(spec, **bad)
        assert "\n" not in str(err.value)


def test_model_spec_carries_its_input_spec() -> None:
    spec = get_spec("simdr_hrw32_64")
    assert spec.input_spec.color_order == "rgb" == spec.color_order and spec.input_hw == spec.input_spec.input_hw
    assert (spec.mean, spec.std) == (spec.input_spec.mean, spec.input_spec.std)
    with pytest.raises(AttributeError):  # the shortcuts are read-only views of the frozen spec
        spec.input_hw = (128, 128)  # type: ignore[misc]
    assert ModelSpec.from_dict(spec.to_dict()) == spec  # the dict form (checkpoints) is unchanged: flat fields
    assert spec.to_dict()["input_hw"] == [64, 64] and spec.to_dict()["color_order"] == "rgb"
    with pytest.raises(InputError, match="color_order must be 'bgr' or 'rgb'"):
        ModelSpec.from_dict({**spec.to_dict(), "color_order": "RGB"})
    with pytest.raises(InputError, match="codec input_hw"):
        ModelSpec.from_dict({**spec.to_dict(), "input_hw": [128, 128]})
    with pytest.raises(InputError, match="input_spec must be an InputSpec"):
        ModelSpec(name="x", arch={}, input_spec=(64, 64), codec=spec.codec)  # type: ignore[arg-type]


def test_tflite_ops_lists_builtin_ops(tflite_file: Path) -> None:
    ops = tflite_ops(tflite_file)
    assert ops.builtin_only and ops.custom == {}
    assert ops.builtin and all(name.isupper() for name in ops.builtin)
    assert check_builtin_only(tflite_file) == ops


def test_tflite_ops_flags_custom_ops(tflite_file: Path, tmp_path: Path) -> None:
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite_file.read_bytes()))
    code = model.operatorCodes[0]
    code.builtinCode = schema.BuiltinOperator.CUSTOM
    code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode = "FlexErf"
    flex = tmp_path / "flex.tflite"
    flex.write_bytes(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))
    ops = tflite_ops(flex)
    assert not ops.builtin_only and "FlexErf" in ops.custom
    assert "custom:FlexErf" in ops.names()
    with pytest.raises(ModelFileError, match="FlexErf"):
        check_builtin_only(flex)
    with pytest.raises(ModelFileError):
        tflite_ops(tmp_path / "missing.tflite")


# ---- preprocessing ------------------------------------------------------------------------
def test_preprocess_crops_matches_manual_pipeline() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    boxes = np.array([[20.0, 10.0, 40.0, 90.0], [70.0, 30.0, 60.0, 50.0]])
    spec = get_spec("simdr_r18_64")  # BGR model
    batch, mats = preprocess_crops(frame, boxes, spec.input_spec)
    assert batch.shape == (2, 3, 64, 64) and batch.dtype == np.float32 and mats.shape == (2, 2, 3)
    center, scale = box_to_center_scale(boxes[1], (64, 64))
    m = get_affine_matrix(center, scale, (64, 64))
    crop = warp_crop(frame, m, (64, 64)).astype(np.float32)
    manual = ((crop / 255.0 - np.array(spec.mean, np.float32)) / np.array(spec.std, np.float32)).transpose(2, 0, 1)
    np.testing.assert_allclose(batch[1], manual, atol=1e-6)
    np.testing.assert_allclose(mats[1], m)
    # colour: an RGB frame given to a BGR model is swapped; NHWC layout is a transpose
    rgb, _ = preprocess_crops(frame[..., ::-1], boxes, spec.input_spec, frame_color="rgb")
    np.testing.assert_allclose(rgb, batch, atol=1e-6)
    nhwc, _ = preprocess_crops(frame, boxes, spec.input_spec, layout="NHWC")
    np.testing.assert_array_equal(nhwc, batch.transpose(0, 2, 3, 1))
    meta_batch, _ = preprocess_crops(frame, boxes, input_spec_of(make_metadata(spec, "NCHW", "fp32")))
    np.testing.assert_array_equal(meta_batch, batch)
    # an RGB model from a BGR frame, and a float frame: the same formula
    rgb_spec = InputSpec((64, 64), (0.5, 0.4, 0.3), (0.2, 0.25, 0.3), "rgb")
    rgb_model, _ = preprocess_crops(frame.astype(np.float32), boxes, rgb_spec)
    float_crop = warp_crop(frame.astype(np.float32), m, (64, 64))  # bilinear values are not rounded to integers
    manual_rgb = (float_crop[..., ::-1] / 255.0 - np.array(rgb_spec.mean)) / np.array(rgb_spec.std)
    np.testing.assert_allclose(rgb_model[1], manual_rgb.transpose(2, 0, 1), atol=1e-6)
    # crop -> frame inverts the warp
    pts = np.array([[[32.0, 32.0], [0.0, 0.0]]] * 2)
    back = crops_to_frame(pts, mats)
    np.testing.assert_allclose(back[1, 0], center, atol=1e-9)


def test_preprocess_crops_rejects_bad_input() -> None:
    model_spec = get_spec("simdr_r18_64")
    spec = model_spec.input_spec
    frame = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(InputError):
        preprocess_crops(np.zeros((10, 10)), [[0, 0, 5, 5]], spec)
    with pytest.raises(InputError):
        preprocess_crops(frame, [[0, 0, 5]], spec)
    with pytest.raises(InputError):
        preprocess_crops(frame, [[0, 0, 0, 5]], spec)
    with pytest.raises(InputError):
        preprocess_crops(frame, [[0, 0, 5, 5]], spec, layout="CHW")
    # one shape: an InputSpec, nothing duck-typed (a ModelSpec or a metadata dict is named, with the fix)
    for not_a_spec in ({"input_hw": [64, 64]}, model_spec, make_metadata(model_spec, "NCHW", "fp32")):
        with pytest.raises(InputError, match=r"expected an InputSpec \(ModelSpec.input_spec"):
            preprocess_crops(frame, [[0, 0, 5, 5]], not_a_spec)


def test_one_input_spec_for_registry_files_and_preprocessing(tmp_path: Path) -> None:
    """The registry, a model file's ModelInfo and a metadata dict give the same frozen InputSpec,
    which preprocess_crops takes; bad values fail where the spec is made."""
    from edgepose.runtime.backends import load_backend
    from edgepose.runtime.model_info import build_model_info

    spec = get_spec("simdr_r18_64")
    from_registry = spec.input_spec
    assert from_registry == InputSpec((64, 64), spec.mean, spec.std, spec.color_order, "NCHW")
    assert input_spec_of(make_metadata(spec, "NCHW", "fp32")) == from_registry
    path = make_onnx(tmp_path / "m.onnx", HW)  # format-1 metadata: the fields at the top level
    with load_backend(path) as backend:
        info = build_model_info(backend, {})
    assert info.input_spec == input_spec_of(metadata_for(HW)) and info.input_hw == info.input_spec.input_hw
    with pytest.raises(dataclasses.FrozenInstanceError):
        from_registry.color_order = "rgb"  # type: ignore[misc]
    frame = np.random.default_rng(0).integers(0, 256, (80, 90, 3), dtype=np.uint8)
    a, _ = preprocess_crops(frame, [[10, 10, 40, 60]], from_registry)
    b, _ = preprocess_crops(frame, [[10, 10, 40, 60]], info.input_spec)
    nhwc, _ = preprocess_crops(frame, [[10, 10, 40, 60]], dataclasses.replace(from_registry, layout="NHWC"))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(nhwc, a.transpose(0, 2, 3, 1))
    for bad, match in (({"color_order": "BGR"}, "color_order must be 'bgr' or 'rgb'"),
                       ({"mean": (123.7, 116.3, 103.5)}, "0..255 units"), ({"std": (0, 1, 1)}, "std must be > 0"),
                       ({"layout": "CHW"}, "layout"), ({"input_hw": (0, 64)}, "input_hw")):
        with pytest.raises(InputError, match=match):
            dataclasses.replace(from_registry, **bad)


def test_shipped_files_read_and_match_the_registry() -> None:
    """The weights in the package (format-1 metadata for files shipped before format 2, format 2
    after): each reads, and describes the model as its registry entry does (the file's own layout
    apart)."""
    from edgepose import download
    from edgepose.zoo import names_with_files

    names = names_with_files()
    if not names:
        pytest.skip("no shipped weights in this checkout")
    for name in names:
        spec = get_spec(name)
        for model_file in spec.files:
            meta = read_metadata(download.fetch_file(model_file))
            assert meta["model"] == name
            assert input_spec_of(meta) == dataclasses.replace(spec.input_spec, layout=meta["layout"])
            assert codec_of(meta) == spec.codec and keypoint_set_of(meta) == spec.keypoint_set
