"""Int8 TFLite of TokenPose (PT2E + litert-torch): the stem convolutions, the patch embedding and
the transformer's Linear layers are int8, while LayerNorm, softmax, the SimDR head and (by
default) the attention matmuls stay float (``edgepose.export.quantize.fx_transformer_float_nodes``).

The residual stream (the token stream's adds and concatenations) stays float too.

The model is ``simdr_tps_64`` narrowed to a tiny transformer (D 32, 2 layers, 2 heads: the same
graph, so the rule and the converter see every pattern of TokenPose-S) with random, well-scaled
weights, calibrated on the synthetic fixture's person crops. The FX rule tests are fast; the
conversions (minutes of litert-torch lowering on a shared CPU) run with ``-m slow``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("nncf")
pytest.importorskip("litert_torch")
pytest.importorskip("ai_edge_litert")
from _export_helpers import busiest_scene, scale_weights_  # noqa: E402
from _one_thread import one_thread  # noqa: E402, F401 (autouse: torch on one thread)
from torch import nn  # noqa: E402

import edgepose.nn.tokenpose as tokenpose  # noqa: E402
from edgepose import Estimator  # noqa: E402
from edgepose.export import QuantOptions, quantize_tflite  # noqa: E402
from edgepose.export.calibration import coco_person_crops  # noqa: E402
from edgepose.export.common import INPUT_NAME, ExportWrapper, output_names, sample_input  # noqa: E402
from edgepose.export.errors import ExportError  # noqa: E402
from edgepose.export.model_files import read_metadata  # noqa: E402
from edgepose.export.quantize import fx_float_nodes, fx_head_nodes, fx_transformer_float_nodes  # noqa: E402
from edgepose.export.tflite_ops import check_builtin_only  # noqa: E402
from edgepose.nn import build  # noqa: E402
from edgepose.preprocess import crops_to_frame, preprocess_crops  # noqa: E402
from edgepose.zoo import get_spec  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "synth_small"
ANN = FIXTURE / "annotations" / "person_keypoints.json"
IMAGES = FIXTURE / "images"
NAME = "simdr_tps_64"
TINY = tokenpose.TokenPoseConfig(dim=32, depth=2, heads=2, mlp_ratio=2)


@pytest.fixture(scope="module")
def model() -> nn.Module:
    """``simdr_tps_64`` with the tiny transformer and N(0, 1 / fan_in) conv / Linear weights."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(tokenpose.TOKENPOSE_CONFIGS, "tokenpose_s", TINY)
        torch.manual_seed(0)
        built = build(NAME)
    return scale_weights_(built).eval()


@pytest.fixture(scope="module")
def graph(model) -> torch.fx.GraphModule:
    """The exported (NHWC-wrapped) graph that ``quantize_tflite`` annotates."""
    spec = get_spec(NAME)
    wrapper = ExportWrapper(model, output_names(spec), channels_last=True, as_dict=True).eval()
    return torch.export.export(wrapper, (), {INPUT_NAME: sample_input(spec, batch=1, channels_last=True)}).module()


def calls(graph: torch.fx.GraphModule, op: str) -> set[str]:
    """Names of the nodes calling ``aten.<op>``."""
    return {n.name for n in graph.graph.nodes if n.op == "call_function" and str(n.target).startswith(f"aten.{op}.")}


def module_of(graph: torch.fx.GraphModule, name: str) -> str:
    """The torch module path a node comes from."""
    node = next(n for n in graph.graph.nodes if n.name == name)
    return list(node.meta["nn_module_stack"].values())[-1][0]


def test_float_nodes_are_layernorm_softmax_head_and_attention(graph):
    layer_norms, softmaxes, linears, matmuls = (calls(graph, op)
                                                for op in ("layer_norm", "softmax", "linear", "matmul"))
    assert len(softmaxes) == TINY.depth and len(matmuls) == 2 * TINY.depth
    assert softmaxes <= fx_head_nodes(graph)  # the convolution rule would keep the transformer float

    keep, int8_matmuls = fx_float_nodes(graph, QuantOptions())
    assert layer_norms | softmaxes | matmuls <= keep and not int8_matmuls
    float_linears = {module_of(graph, n) for n in linears & keep}
    assert float_linears == {"model.mlp_head_x.1", "model.mlp_head_y.1"}  # only the 1-D head
    assert len(linears - keep) == 1 + 4 * TINY.depth  # patch embedding; qkv, out, two feed-forward
    assert not calls(graph, "conv2d") & keep
    # the token stream: two residual adds per layer, the position embedding added (and the
    # keypoint tokens concatenated) before every layer but the first; not the stem's adds
    stream = (calls(graph, "add") | calls(graph, "cat")) & keep
    assert all(module_of(graph, n).startswith("model.features.transformer") for n in stream)
    assert len(stream & calls(graph, "add")) == 2 * TINY.depth + TINY.depth - 1
    assert len(stream & calls(graph, "cat")) == TINY.depth - 1
    scales = keep - layer_norms - softmaxes - matmuls - linears - stream
    assert scales == calls(graph, "mul") and len(scales) == TINY.depth  # each Q K^T scale

    keep_int8, int8_matmuls = fx_float_nodes(graph, QuantOptions(attention="int8"))
    assert int8_matmuls == matmuls and not matmuls & keep_int8
    assert keep_int8 == keep - matmuls - scales

    no_head = fx_transformer_float_nodes(graph, head=False, attention="int8")
    assert no_head == layer_norms | softmaxes | stream
    assert fx_float_nodes(graph, QuantOptions(head="int8", attention="int8")) == (no_head, matmuls)


def test_attention_mode_is_checked(graph):
    from edgepose.errors import InputError

    with pytest.raises(InputError, match="attention"):
        fx_transformer_float_nodes(graph, attention="fp16")


def test_convolutional_graph_is_not_a_transformer():
    class Conv(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(torch.nn.functional.conv2d(x, torch.ones(2, 3, 1, 1)))

    conv_graph = torch.export.export(Conv(), (torch.zeros(1, 3, 4, 4),)).module()
    with pytest.raises(ExportError, match="no softmax"):
        fx_transformer_float_nodes(conv_graph)
    assert fx_float_nodes(conv_graph, QuantOptions(head="int8")) == (set(), set())


# ---- conversions (slow) ------------------------------------------------------------------------
def op_dtypes(path: Path) -> Counter[tuple[str, tuple[str, ...]]]:
    """(op name, input dtypes) -> count, read from the interpreter without its default delegate."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_path=str(path),
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    dtypes = {t["index"]: np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
    return Counter((op["op_name"], tuple(dtypes[i] for i in op["inputs"] if i >= 0))
                   for op in interpreter._get_ops_details())


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    """(N, 3, 64, 64) person crops of the synthetic fixture."""
    return coco_person_crops(ANN, IMAGES, get_spec(NAME), limit=16).batch


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray]:
    """The fixture image with the most people, and their ground-truth boxes (N, 4) xywh."""
    return busiest_scene(ANN, IMAGES)


@pytest.mark.slow
@pytest.mark.parametrize("attention", ["float", "int8"])
def test_int8_tflite_quantizes_the_transformer_and_runs_in_the_estimator(model, crops, scene, attention, tmp_path):
    spec = get_spec(NAME)
    path = quantize_tflite(model, spec, tmp_path / f"{NAME}_int8.tflite", crops,
                           QuantOptions(subset_size=len(crops), attention=attention))
    ops = check_builtin_only(path)
    assert not [op for op in ops.builtin if op.startswith("STABLEHLO_")]
    dtypes = op_dtypes(path)
    count = Counter()
    for (op, inputs), n in dtypes.items():
        count[op, inputs[0], inputs[1] if len(inputs) > 1 else None] += n
    assert count["FULLY_CONNECTED", "int8", "int8"] == 1 + 4 * TINY.depth  # patch embedding, transformer
    assert count["FULLY_CONNECTED", "float32", "float32"] == 2  # the x / y head
    assert count["CONV_2D", "int8", "int8"] == ops.builtin["CONV_2D"]  # the whole stem
    attention_dtype = "int8" if attention == "int8" else "float32"  # int8: the SOFTMAX kernel's 1/256 scale
    assert count["BATCH_MATMUL", attention_dtype, attention_dtype] == 2 * TINY.depth  # Q K^T, A V
    assert count["SOFTMAX", attention_dtype, None] == TINY.depth
    meta = read_metadata(path)
    assert meta["input_dtype"] == "int8" and meta["output_dtype"] == "float32"
    assert meta["quantization"]["attention"] == attention

    frame, boxes = scene
    batch, matrices = preprocess_crops(frame, boxes, spec.input_spec)
    with torch.no_grad():
        logits = tuple(o.numpy() for o in model(torch.from_numpy(batch)))
    expected = crops_to_frame(spec.build_codec().decode(logits)[0], matrices)
    with Estimator(path, backend="tflite", threads=1, smoothing=None) as est:
        result = est.estimate(frame, boxes)
    assert result.keypoints.shape == expected.shape == (len(boxes), 17, 2)
    assert np.isfinite(result.keypoints).all() and np.isfinite(result.scores).all()
    side = boxes[:, 2:].max(axis=1)[:, None]
    near = np.linalg.norm(result.keypoints - expected, axis=-1) <= 0.05 * side  # int8: near torch, not equal
    # random weights give flat logits, so argmaxes move; int8 attention (1/256 softmax steps) moves more
    least = 0.8 if attention == "float" else 0.6
    assert near.mean() >= least, f"{near.mean():.2f} of keypoints within 0.05 box sides of torch"
