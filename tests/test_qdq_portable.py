"""The int8 -> uint8 re-encoding of QDQ activations (edgepose.export.qdq_portable)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from _export_helpers import activation_zero_point_types, dequantized_adds

from edgepose.export.qdq_portable import activations_to_uint8, unfuse_residual_adds


def _qdq_residual_model(zero_point: int, scale: float, *, output_is_quantized: bool = False) -> onnx.ModelProto:
    """x -> Q(int8, zp) -> DQ -> Conv(1x1, int8 weights) -> Q(int8) -> DQ -> Add(DQ'd x) -> Relu -> y."""
    rng = np.random.default_rng(0)
    weight = rng.integers(-127, 128, (4, 4, 1, 1)).astype(np.int8)
    inits = [
        numpy_helper.from_array(np.array(scale, np.float32), "s"),
        numpy_helper.from_array(np.array(zero_point, np.int8), "z"),
        numpy_helper.from_array(np.array(0.05, np.float32), "s2"),
        numpy_helper.from_array(np.array(-3, np.int8), "z2"),
        numpy_helper.from_array(weight, "w"),
        numpy_helper.from_array(np.full(4, 0.01, np.float32), "ws"),
        numpy_helper.from_array(np.zeros(4, np.int8), "wz"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
        helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd2"]),
        helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wd"], axis=0),
        helper.make_node("Conv", ["xd", "wd"], ["c"]),
        helper.make_node("QuantizeLinear", ["c", "s2", "z2"], ["cq"]),
        helper.make_node("DequantizeLinear", ["cq", "s2", "z2"], ["cd"]),
        helper.make_node("Add", ["cd", "xd2"], ["a"]),
        helper.make_node("Relu", ["a"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 3, 3])]
    if output_is_quantized:
        outputs.append(helper.make_tensor_value_info("cq", TensorProto.INT8, [1, 4, 3, 3]))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 3, 3])],
                              outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return model


def _run(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the QDQ semantics as written
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})


@settings(max_examples=30, deadline=None)
@given(zero_point=st.integers(-128, 127), scale=st.floats(1e-3, 0.2),
       seed=st.integers(0, 2**31 - 1))
def test_rewrite_changes_no_value(zero_point: int, scale: float, seed: int) -> None:
    model = _qdq_residual_model(zero_point, scale)
    x = np.random.default_rng(seed).normal(0, 4, (1, 4, 3, 3)).astype(np.float32)  # saturates both ends too
    before = _run(model, x)
    assert activations_to_uint8(model) == 2
    onnx.checker.check_model(model)
    assert activation_zero_point_types(model) == {TensorProto.UINT8}
    np.testing.assert_array_equal(_run(model, x)[0], before[0])


def test_weights_stay_int8_and_old_zero_points_are_dropped() -> None:
    model = _qdq_residual_model(5, 0.1)
    activations_to_uint8(model)
    inits = {i.name: i for i in model.graph.initializer}
    assert inits["w"].data_type == TensorProto.INT8 and inits["wz"].data_type == TensorProto.INT8
    assert "z" not in inits and "z2" not in inits  # nothing refers to them any more
    assert numpy_helper.to_array(inits["edgepose_u8_zero_point_133"]) == 133


def test_quantized_graph_output_is_left_alone() -> None:
    model = _qdq_residual_model(0, 0.1, output_is_quantized=True)
    x = np.random.default_rng(1).normal(0, 1, (1, 4, 3, 3)).astype(np.float32)
    before = _run(model, x)
    assert activations_to_uint8(model) == 1  # the input quantizer only: "cq" is a graph output (its type is API)
    after = _run(model, x)
    np.testing.assert_array_equal(after[0], before[0])
    assert after[1].dtype == np.int8
    np.testing.assert_array_equal(after[1], before[1])


def test_uint8_model_is_unchanged() -> None:
    model = _qdq_residual_model(0, 0.1)
    activations_to_uint8(model)
    again = onnx.ModelProto()
    again.CopyFrom(model)
    assert activations_to_uint8(again) == 0
    assert again == model


def test_quantizer_with_a_non_dq_consumer_is_left_alone() -> None:
    model = _qdq_residual_model(0, 0.1)
    model.graph.node.append(helper.make_node("Identity", ["cq"], ["cq_copy"]))
    assert activations_to_uint8(model) == 1
    inits = {i.name: i for i in model.graph.initializer}
    assert inits["z2"].data_type == TensorProto.INT8


def test_unfuse_residual_adds_changes_no_value_and_keeps_other_adds() -> None:
    model = _qdq_residual_model(-7, 0.05)
    activations_to_uint8(model)
    bias = numpy_helper.from_array(np.full((1, 4, 1, 1), 0.5, np.float32), "bias")
    model.graph.initializer.append(bias)
    model.graph.node[-1].output[0] = "y0"  # Relu -> y0, then a constant add -> y
    model.graph.node.append(helper.make_node("Add", ["y0", "bias"], ["y"]))
    x = np.random.default_rng(2).normal(0, 2, (1, 4, 3, 3)).astype(np.float32)
    before = _run(model, x)
    assert unfuse_residual_adds(model) == 1
    onnx.checker.check_model(model)
    assert [n.op_type for n in model.graph.node if n.op_type in ("Add", "Sum")] == ["Sum", "Add"]
    assert dequantized_adds(model) == ["Sum"]
    np.testing.assert_array_equal(_run(model, x)[0], before[0])


def test_onnxruntime_fuses_add_but_not_sum() -> None:
    """The rewrite's premise: with every activation uint8, ORT fuses the QDQ Add into QLinearAdd
    and leaves Sum alone (a new ORT that fuses Sum too would change which kernel runs)."""
    import tempfile
    from pathlib import Path

    def fused_ops(model: onnx.ModelProto) -> set[str]:
        with tempfile.TemporaryDirectory() as tmp:
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
            options.optimized_model_filepath = str(Path(tmp) / "opt.onnx")
            ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
            return {n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node}

    model = _qdq_residual_model(0, 0.1)
    model.graph.node[-1].output[0] = "r"  # ... Add -> Relu -> Q -> DQ -> y, the pattern NNCF writes
    model.graph.initializer.append(numpy_helper.from_array(np.array(0, np.uint8), "z3"))  # uint8 zp 0 after ReLU
    model.graph.node.extend([helper.make_node("QuantizeLinear", ["r", "s2", "z3"], ["rq"]),
                             helper.make_node("DequantizeLinear", ["rq", "s2", "z3"], ["y"])])
    activations_to_uint8(model)
    assert "QLinearAdd" in fused_ops(model)
    unfuse_residual_adds(model)
    ops = fused_ops(model)
    assert "QLinearAdd" not in ops and "Sum" in ops
