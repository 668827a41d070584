"""Int8 ONNX of TokenPose: the transformer is quantized (patch embedding, Linear layers and,
with ``attention="int8"``, the attention matmuls), while LayerNorm, softmax and the SimDR
head stay float (``edgepose.export.quantize.onnx_transformer_float_nodes``). Convolutional
models keep the convolution rule (the head back to the last convolution).

The model is the registry's ``simdr_tps_64`` with random, well-scaled weights, calibrated on
the synthetic fixture's person crops.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("nncf")
pytest.importorskip("onnxruntime")
from _export_helpers import scale_weights_  # noqa: E402
from _one_thread import one_thread  # noqa: E402, F401 (autouse: torch on one thread)
from torch import nn  # noqa: E402

from edgepose.errors import InputError  # noqa: E402
from edgepose.export import QuantOptions, export_onnx, quantize_onnx  # noqa: E402
from edgepose.export.calibration import coco_person_crops  # noqa: E402
from edgepose.export.common import torch_outputs  # noqa: E402
from edgepose.export.errors import ExportError  # noqa: E402
from edgepose.export.quantize import (  # noqa: E402
    onnx_float_nodes, onnx_head_nodes, onnx_transformer_float_nodes,
)
from edgepose.export.runtime import FileRunner  # noqa: E402
from edgepose.export.model_files import read_metadata  # noqa: E402
from edgepose.nn import build  # noqa: E402
from edgepose.zoo import get_spec  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "synth_small"
NAME = "simdr_tps_64"
DEPTH = 12  # transformer layers of TokenPose-S



@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    """(N, 3, 64, 64) person crops of the synthetic fixture."""
    return coco_person_crops(FIXTURE / "annotations" / "person_keypoints.json", FIXTURE / "images",
                             get_spec(NAME), limit=24).batch


@pytest.fixture(scope="module")
def fp32(tmp_path_factory: pytest.TempPathFactory) -> tuple[nn.Module, Path]:
    """The scaled-random TokenPose and its fp32 ONNX file."""
    torch.manual_seed(0)
    model = scale_weights_(build(NAME)).eval()
    return model, export_onnx(model, get_spec(NAME), tmp_path_factory.mktemp("tps") / f"{NAME}_fp32.onnx")


def weight_matmuls(graph) -> list:
    """MatMul nodes with an initializer operand (the Linear layers)."""
    inits = {i.name for i in graph.initializer}
    return [n for n in graph.node if n.op_type == "MatMul" and any(i in inits for i in n.input)]


def dequantized(name: str, producer: dict) -> bool:
    """Whether tensor ``name`` comes from a DequantizeLinear, through data movement only."""
    node = producer.get(name)
    while node is not None and node.op_type in ("Reshape", "Transpose", "Gather", "Slice"):
        node = producer.get(node.input[0])
    return node is not None and node.op_type == "DequantizeLinear"


def test_float_nodes_are_layernorm_softmax_and_the_head(fp32):
    graph = onnx.load(str(fp32[1])).graph
    outputs = ["simcc_x", "simcc_y"]
    by_op = {}
    for node in graph.node:
        by_op.setdefault(node.op_type, set()).add(node.name)
    conv_rule = set(onnx_head_nodes(onnx.load(str(fp32[1])), outputs))
    assert by_op["Softmax"] <= conv_rule  # the old rule would keep the whole transformer float

    keep = set(onnx_float_nodes(onnx.load(str(fp32[1])), outputs, QuantOptions(attention="int8")))
    assert by_op["LayerNormalization"] | by_op["Softmax"] <= keep
    linears = weight_matmuls(graph)
    producer = {o: n for n in graph.node for o in n.output}
    head = {producer[o].input[0] for o in outputs}  # the x / y Linear's MatMul outputs
    float_linears = {n.name for n in linears if n.name in keep}
    assert float_linears == {producer[h].name for h in head}  # only the two 1-D head Linear layers
    assert len(linears) == 2 + 1 + DEPTH * 4  # head, patch embedding, qkv / out / two feed-forward
    assert not by_op["Conv"] & keep and not by_op["MatMul"] - {n.name for n in linears} & keep

    assert QuantOptions().attention == "float"
    attention_float = set(onnx_float_nodes(onnx.load(str(fp32[1])), outputs, QuantOptions()))
    extra_matmuls = (attention_float - keep) & by_op["MatMul"]
    assert len(extra_matmuls) == 2 * DEPTH and not extra_matmuls & {n.name for n in linears}  # Q K^T and A V
    no_head = set(onnx_transformer_float_nodes(onnx.load(str(fp32[1])), outputs, head=False, attention="int8"))
    assert no_head == by_op["LayerNormalization"] | by_op["Softmax"]


def test_int8_file_quantizes_the_transformer(fp32, crops, tmp_path):
    model, path = fp32
    spec = get_spec(NAME)
    q = quantize_onnx(path, spec, tmp_path / f"{NAME}_int8.onnx", crops, QuantOptions(subset_size=len(crops), attention="int8"))
    quantized = onnx.load(str(q))
    producer = {o: n for n in quantized.graph.node for o in n.output}
    float_nodes = set(read_metadata(q)["quantization"]["float_nodes"])
    weights_int8 = [n for n in weight_matmuls(onnx.load(str(path)).graph) if n.name not in float_nodes]
    matmuls = {n.name: n for n in quantized.graph.node if n.op_type == "MatMul"}
    for node in weights_int8:  # patch embedding and transformer Linear layers: int8 weights and inputs
        assert all(dequantized(i, producer) for i in matmuls[node.name].input), node.name
    assert q.stat().st_size < 0.4 * path.stat().st_size  # int8 weights, not the 20 MB of fp32

    with FileRunner(q, threads=1) as runner:
        got = runner.run(crops)
    ref = torch_outputs(model, crops)
    for a, b in zip(got, ref):
        assert a.shape == b.shape and np.isfinite(a).all()
        assert np.abs(a - b).max() < 1.0  # logits of order 1; int8 error a fraction of that


def conv_linear_onnx():
    """A stem conv, the last conv and a Linear head: input (1, 3, 8, 8) -> out (1, 4, 16)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name)
             for name, shape in (("w0", (4, 3, 3, 3)), ("w1", (4, 4, 1, 1)), ("w2", (64, 16)))]
    inits.append(numpy_helper.from_array(np.array([1, 4, 64], np.int64), "shape"))
    nodes = [helper.make_node("Conv", ["input", "w0"], ["c0"], name="stem", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c0"], ["r0"], name="relu"),
             helper.make_node("Conv", ["r0", "w1"], ["c1"], name="final_layer"),
             helper.make_node("Reshape", ["c1", "shape"], ["flat"], name="flatten"),
             helper.make_node("MatMul", ["flat", "w2"], ["out"], name="mlp_head")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4, 16])], inits)
    return helper.make_model(graph)


def test_convolutional_models_keep_the_convolution_rule():
    model = conv_linear_onnx()
    outputs = ["out"]
    assert onnx_float_nodes(model, outputs, QuantOptions()) == ["final_layer", "flatten", "mlp_head"]
    assert onnx_float_nodes(model, outputs, QuantOptions(head="int8")) == []
    with pytest.raises(ExportError, match="no Softmax"):
        onnx_transformer_float_nodes(model, outputs)


def test_attention_option_is_checked():
    with pytest.raises(InputError, match="attention"):
        QuantOptions(attention="fp16")
