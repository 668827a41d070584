"""Tiny pose models for tests, built without torch (onnx.helper / the TFLite flatbuffer schema).

Every model maps an image batch to SimDR logits: ``input (N,3,H,W)`` (or NHWC) ->
per-channel mean (N,3) -> matmul with a fixed (3, K*bins) matrix -> ``simcc_x (N,K,W*k)``;
``simcc_y`` is ``-simcc_x`` cut/padded to H*k bins. Results therefore depend on the
input, differ per crop, and are identical across runtimes up to float rounding.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

K = 17
SPLIT = 3.0


def metadata_for(input_hw: tuple[int, int], *, layout: str = "NCHW", precision: str = "fp32",
                 name: str = "tiny_simdr", extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Edgepose metadata (CONTRACTS.md fields) of a tiny SimDR model."""
    codec = {"type": "simdr", "input_hw": list(input_hw), "split_ratio": SPLIT,
             "label_smoothing": 0.1, "flip_shift_bins": 1}
    spec = {"name": name, "arch": {"head": "simdr", "backbone": "tiny", "cpj": 1, "split_ratio": SPLIT},
            "input_hw": list(input_hw), "codec": codec, "keypoint_set": "coco17",
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "color_order": "bgr",
            "trained_on": "", "description": "test model"}
    meta = {"format_version": 1, "edgepose_version": "0.1.0", "model": name, "spec": spec,
            "codec": codec, "input_hw": list(input_hw), "mean": spec["mean"], "std": spec["std"],
            "color_order": "bgr", "keypoint_set": "coco17", "layout": layout,
            "input_dtype": "float32", "precision": precision, "outputs": ["simcc_x", "simcc_y"]}
    meta.update(extra or {})
    return meta


def weights(input_hw: tuple[int, int]) -> np.ndarray:
    """The (3, K*W*k) matrix of the tiny model (deterministic)."""
    bins = int(input_hw[1] * SPLIT)
    return np.random.RandomState(0).randn(3, K * bins).astype(np.float32) * 5.0


def reference_outputs(batch_nchw: np.ndarray, input_hw: tuple[int, int]) -> list[np.ndarray]:
    """What the tiny model computes, in numpy: [simcc_x (N,K,W*k), simcc_y (N,K,H*k)]."""
    bx, by = int(input_hw[1] * SPLIT), int(input_hw[0] * SPLIT)
    x = (batch_nchw.mean(axis=(2, 3)) @ weights(input_hw)).reshape(-1, K, bx)
    y = -x[..., :by] if by <= bx else np.concatenate([-x, np.zeros(x.shape[:2] + (by - bx,), np.float32)], -1)
    return [x.astype(np.float32), y.astype(np.float32)]


def make_onnx(path: Path, input_hw: tuple[int, int] = (64, 64), *, dynamic_batch: bool = True,
              metadata: dict[str, Any] | None | str = "default", layout: str = "NCHW",
              output_names: tuple[str, str] = ("simcc_x", "simcc_y"), uint8_input: bool = False,
              reshape_batch: int = -1, float16_io: bool = False) -> Path:
    """Write a tiny SimDR ONNX model; ``metadata=None`` writes none (an 'external' model).

    ``uint8_input``: the input is uint8 and dequantized in the graph as ``(q - 128) * 0.02``
    (the io_quantization metadata entry then describes it).
    ``reshape_batch=1`` hard-codes batch 1 in the Reshape: runs with N > 1 fail inside the runtime.
    ``float16_io``: float16 input and outputs (Casts around the float32 graph), like an fp16
    export that keeps no float32 I/O.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    h, w = input_hw
    bx, by = int(w * SPLIT), int(h * SPLIT)
    batch = "N" if dynamic_batch else 1
    in_shape = [batch, 3, h, w] if layout == "NCHW" else [batch, h, w, 3]
    axes = [2, 3] if layout == "NCHW" else [1, 2]
    inits = [
        numpy_helper.from_array(weights(input_hw), "w"),
        numpy_helper.from_array(np.array([reshape_batch, K, bx], dtype=np.int64), "shape"),
    ]
    if by <= bx:
        inits += [numpy_helper.from_array(np.array([0], dtype=np.int64), "start"),
                  numpy_helper.from_array(np.array([by], dtype=np.int64), "end"),
                  numpy_helper.from_array(np.array([2], dtype=np.int64), "axis")]
    else:
        inits.append(numpy_helper.from_array(np.array([0, 0, 0, 0, 0, by - bx], dtype=np.int64), "pads"))
    nodes = []
    src = "input"
    if uint8_input:
        inits += [numpy_helper.from_array(np.array(0.02, np.float32), "qs"),
                  numpy_helper.from_array(np.array(128, np.uint8), "qz")]
        nodes.append(helper.make_node("DequantizeLinear", ["input", "qs", "qz"], ["deq"]))
        src = "deq"
    if float16_io:
        nodes.append(helper.make_node("Cast", ["input"], ["input_f32"], to=TensorProto.FLOAT))
        src = "input_f32"
    x_name, y_name = output_names
    final = (x_name, y_name)
    if float16_io:
        x_name, y_name = f"{x_name}_f32", f"{y_name}_f32"
    nodes += [
        helper.make_node("ReduceMean", [src], ["m"], axes=axes, keepdims=0),
        helper.make_node("MatMul", ["m", "w"], ["mm"]),
        helper.make_node("Reshape", ["mm", "shape"], [x_name]),
        helper.make_node("Neg", [x_name], ["negx"]),
    ]
    if by <= bx:
        nodes.append(helper.make_node("Slice", ["negx", "start", "end", "axis"], [y_name]))
    else:
        nodes.append(helper.make_node("Pad", ["negx", "pads"], [y_name]))
    out_elem = TensorProto.FLOAT
    if float16_io:
        out_elem = TensorProto.FLOAT16
        nodes += [helper.make_node("Cast", [x_name], [final[0]], to=out_elem),
                  helper.make_node("Cast", [y_name], [final[1]], to=out_elem)]
        x_name, y_name = final
    elem = TensorProto.UINT8 if uint8_input else (TensorProto.FLOAT16 if float16_io else TensorProto.FLOAT)
    graph = helper.make_graph(
        nodes, "tiny_simdr", [helper.make_tensor_value_info("input", elem, in_shape)],
        [helper.make_tensor_value_info(x_name, out_elem, [batch, K, bx]),
         helper.make_tensor_value_info(y_name, out_elem, [batch, K, by])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if metadata == "default":
        metadata = metadata_for(input_hw, layout=layout)
    if metadata is not None:
        helper.set_model_props(model, {"edgepose": json.dumps(metadata)})
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path


def make_tflite(path: Path, input_hw: tuple[int, int] = (64, 64), *, dynamic_batch: bool = False,
                int8_io: bool = False, layout: str = "NCHW",
                metadata: dict[str, Any] | None | str | bytes = "default") -> Path:
    """Write a tiny SimDR TFLite model through the flatbuffer schema (no converter).

    ``metadata``: a dict (written as JSON), raw ``bytes`` (written as they are, for
    corrupt-metadata tests), None (no entry) or "default".

    ``int8_io``: input and outputs are int8 with scale/zero point (QUANTIZE/DEQUANTIZE
    inside), like a fully integer-quantized export. Only by <= bx (square or wide inputs).
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    h, w = input_hw
    bx, by = int(w * SPLIT), int(h * SPLIT)
    if by > bx:
        raise ValueError("make_tflite supports H <= W only")
    b0 = -1 if dynamic_batch else 1
    in_shape = [1, 3, h, w] if layout == "NCHW" else [1, h, w, 3]
    axes = [2, 3] if layout == "NCHW" else [1, 2]

    buffers = [s.BufferT()]  # buffer 0: empty sentinel

    def buffer(data: np.ndarray | bytes | None) -> int:
        b = s.BufferT()
        if data is not None:
            raw = data if isinstance(data, bytes) else np.ascontiguousarray(data).tobytes()
            b.data = np.frombuffer(raw, dtype=np.uint8).copy()
        buffers.append(b)
        return len(buffers) - 1

    tensors: list[Any] = []

    def tensor(name: str, shape: list[int], ttype: int, data: Any = None, signature: list[int] | None = None,
               quant: tuple[float, int] | None = None) -> int:
        t = s.TensorT()
        t.name, t.shape, t.type, t.buffer = name, shape, ttype, buffer(data)
        if signature is not None:
            t.shapeSignature = signature
        if quant is not None:
            q = s.QuantizationParametersT()
            q.scale, q.zeroPoint = [quant[0]], [quant[1]]
            t.quantization = q
        tensors.append(t)
        return len(tensors) - 1

    f32, i32, i8 = s.TensorType.FLOAT32, s.TensorType.INT32, s.TensorType.INT8
    sig = [b0] + in_shape[1:]
    in_q, out_q = (0.02, 0), (0.25, 0)
    if int8_io:
        t_in = tensor("input", in_shape, i8, signature=sig, quant=in_q)
        t_inf = tensor("input_f", in_shape, f32, signature=sig)
    else:
        t_in = t_inf = tensor("input", in_shape, f32, signature=sig)
    t_axes = tensor("axes", [2], i32, np.array(axes, np.int32))
    t_mean = tensor("mean", [1, 3], f32, signature=[b0, 3])
    t_w = tensor("w", [K * bx, 3], f32, np.ascontiguousarray(weights(input_hw).T))
    t_fc = tensor("fc", [1, K * bx], f32, signature=[b0, K * bx])
    t_shape = tensor("shape", [3], i32, np.array([-1, K, bx], np.int32))
    t_x = tensor("simcc_x_f" if int8_io else "simcc_x", [1, K, bx], f32, signature=[b0, K, bx])
    t_negx = tensor("negx", [1, K, bx], f32, signature=[b0, K, bx])
    t_begin = tensor("begin", [3], i32, np.array([0, 0, 0], np.int32))
    t_size = tensor("size", [3], i32, np.array([-1, -1, by], np.int32))
    t_y = tensor("simcc_y_f" if int8_io else "simcc_y", [1, K, by], f32, signature=[b0, K, by])

    op_names = ["MEAN", "FULLY_CONNECTED", "RESHAPE", "NEG", "SLICE", "DEQUANTIZE", "QUANTIZE"]
    codes = []
    for name in op_names:
        c = s.OperatorCodeT()
        c.builtinCode = getattr(s.BuiltinOperator, name)
        c.deprecatedBuiltinCode = min(c.builtinCode, 127)
        c.version = 1
        codes.append(c)

    def op(name: str, inputs: list[int], outputs: list[int], opt_type: int = 0, opt: Any = None) -> Any:
        o = s.OperatorT()
        o.opcodeIndex = op_names.index(name)
        o.inputs, o.outputs = inputs, outputs
        if opt is not None:
            o.builtinOptionsType, o.builtinOptions = opt_type, opt
        return o

    reducer = s.ReducerOptionsT()
    reducer.keepDims = False
    fc = s.FullyConnectedOptionsT()
    fc.keepNumDims = False
    ops = []
    if int8_io:
        ops.append(op("DEQUANTIZE", [t_in], [t_inf]))
    ops += [
        op("MEAN", [t_inf, t_axes], [t_mean], s.BuiltinOptions.ReducerOptions, reducer),
        op("FULLY_CONNECTED", [t_mean, t_w, -1], [t_fc], s.BuiltinOptions.FullyConnectedOptions, fc),
        op("RESHAPE", [t_fc, t_shape], [t_x]),
        op("NEG", [t_x], [t_negx]),
        op("SLICE", [t_negx, t_begin, t_size], [t_y]),
    ]
    outputs = [t_x, t_y]
    if int8_io:
        t_xq = tensor("simcc_x", [1, K, bx], i8, signature=[b0, K, bx], quant=out_q)
        t_yq = tensor("simcc_y", [1, K, by], i8, signature=[b0, K, by], quant=out_q)
        ops += [op("QUANTIZE", [t_x], [t_xq]), op("QUANTIZE", [t_y], [t_yq])]
        outputs = [t_xq, t_yq]

    sub = s.SubGraphT()
    sub.tensors, sub.inputs, sub.outputs, sub.operators, sub.name = tensors, [t_in], outputs, ops, "main"
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.description = 3, codes, [sub], "tiny"
    if metadata == "default":
        metadata = metadata_for(input_hw, layout=layout, precision="int8" if int8_io else "fp32")
    model.metadata = []
    version = s.MetadataT()
    version.name, version.buffer = "min_runtime_version", buffer(b"1.14.0\0\0\0\0\0\0\0\0\0\0")
    model.metadata.append(version)
    if metadata is not None:
        m = s.MetadataT()
        raw = metadata if isinstance(metadata, bytes) else json.dumps(metadata).encode()
        m.name, m.buffer = "edgepose", buffer(raw)
        model.metadata.append(m)
    model.buffers = buffers
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path = Path(path)
    path.write_bytes(bytes(builder.Output()))
    return path


def make_heatmap_onnx(path: Path, input_hw: tuple[int, int] = (64, 64)) -> Path:
    """A tiny heatmap model: ``input (N,3,H,W)`` -> ``heatmaps (N,K,H/4,W/4)``, with metadata."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    h, w = input_hw
    hh, hw = h // 4, w // 4
    weights_hm = np.random.RandomState(1).randn(3, K * hh * hw).astype(np.float32)
    inits = [numpy_helper.from_array(weights_hm, "w"),
             numpy_helper.from_array(np.array([-1, K, hh, hw], dtype=np.int64), "shape")]
    nodes = [helper.make_node("ReduceMean", ["input"], ["m"], axes=[2, 3], keepdims=0),
             helper.make_node("MatMul", ["m", "w"], ["mm"]),
             helper.make_node("Reshape", ["mm", "shape"], ["heatmaps"])]
    graph = helper.make_graph(
        nodes, "tiny_hm", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, h, w])],
        [helper.make_tensor_value_info("heatmaps", TensorProto.FLOAT, ["N", K, hh, hw])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    codec = {"type": "heatmap", "input_hw": [h, w], "heatmap_hw": [hh, hw], "sigma": 2.0, "refine": "quarter",
             "flip_shift": 1}
    meta = metadata_for(input_hw, name="tiny_hm")
    meta.update({"codec": codec, "outputs": ["heatmaps"]})
    meta["spec"]["codec"] = codec
    helper.set_model_props(model, {"edgepose": json.dumps(meta)})
    onnx.save(model, str(path))
    return Path(path)


def make_constant_onnx(path: Path, outputs: dict[str, np.ndarray], input_shape: list[int | str],
                       uint8_input: bool = False) -> Path:
    """An ONNX model whose outputs are fixed arrays (plus 0 x mean(input), so the input is used).

    For detector tests: ``outputs`` maps output names to float32 arrays.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    src = "input"
    if uint8_input:
        nodes.append(helper.make_node("Cast", ["input"], ["input_f"], to=TensorProto.FLOAT))
        src = "input_f"
    nodes += [helper.make_node("ReduceMean", [src], ["m"], keepdims=0),
              helper.make_node("Mul", ["m", "zero"], ["z"])]
    inits.append(numpy_helper.from_array(np.array(0.0, np.float32), "zero"))
    outs = []
    for name, value in outputs.items():
        inits.append(numpy_helper.from_array(np.asarray(value, np.float32), f"{name}_c"))
        nodes.append(helper.make_node("Add", [f"{name}_c", "z"], [name]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(np.shape(value))))
    elem = TensorProto.UINT8 if uint8_input else TensorProto.FLOAT
    graph = helper.make_graph(nodes, "const", [helper.make_tensor_value_info("input", elem, input_shape)], outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return Path(path)
