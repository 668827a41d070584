"""fp32 ONNX export: parity with torch, names, dynamic batch, metadata, single file."""

from __future__ import annotations

from pathlib import Path

import pytest
from _export_helpers import random_batch, seeded_model

from edgepose.errors import InputError
from edgepose.export import export_onnx
from edgepose.export.common import max_abs_diff, torch_outputs
from edgepose.export.runtime import FileRunner
from edgepose.export.model_files import read_metadata
from edgepose.runtime.metadata import codec_of


@pytest.fixture(scope="module")
def simdr(tmp_path_factory: pytest.TempPathFactory):
    loaded = seeded_model("simdr_r18_64")
    path = export_onnx(loaded.model, loaded.spec, tmp_path_factory.mktemp("onnx") / "simdr_r18_64_fp32.onnx")
    return loaded, path


def test_onnx_matches_torch_within_1e4(simdr) -> None:
    loaded, path = simdr
    for n in (1, 3):  # dynamic batch axis
        x = random_batch(loaded.spec, n, seed=n)
        with FileRunner(path) as runner:
            got = runner.run(x)
        assert got[0].shape == (n, 17, 192) and got[1].shape == (n, 17, 192)
        assert max_abs_diff(got, torch_outputs(loaded.model, x)) <= 1e-4


def test_onnx_graph_interface(simdr) -> None:
    import onnx

    _, path = simdr
    model = onnx.load(str(path))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert [i.name for i in model.graph.input] == ["input"]
    assert [o.name for o in model.graph.output] == ["simcc_x", "simcc_y"]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, 64, 64]
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert list(path.parent.glob("*.data")) == []  # single file, no external data
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_onnx_metadata(simdr) -> None:
    loaded, path = simdr
    meta = read_metadata(path)
    assert meta["model"] == "simdr_r18_64" and meta["precision"] == "fp32" and meta["layout"] == "NCHW"
    assert meta["batch_size"] is None and meta["input_dtype"] == "float32"
    assert meta["outputs"] == ["simcc_x", "simcc_y"] and codec_of(meta) == loaded.spec.codec


def test_onnx_static_batch_and_heatmap_model(tmp_path: Path) -> None:
    loaded = seeded_model("hm_r18_64")
    path = export_onnx(loaded.model, loaded.spec, tmp_path / "hm.onnx", dynamic_batch=False)
    meta = read_metadata(path)
    assert meta["outputs"] == ["heatmaps"] and meta["batch_size"] == 1
    x = random_batch(loaded.spec, 2)
    with FileRunner(path) as runner:
        got = runner.run(x)  # the backend loops over the fixed batch of 1
    assert got[0].shape == (2, 17, 16, 16)
    assert max_abs_diff(got, torch_outputs(loaded.model, x)) <= 1e-4


def test_onnx_rejects_old_opset(tmp_path: Path) -> None:
    loaded = seeded_model("simdr_r18_64")
    with pytest.raises(InputError, match="opset"):
        export_onnx(loaded.model, loaded.spec, tmp_path / "old.onnx", opset=13)
    assert not any(tmp_path.iterdir())
