"""QDQ rewrites that make ONNX Runtime's int8 results the same on x86-64 and aarch64.

The int8 ONNX files are QDQ graphs: ONNX Runtime picks fused int8 kernels for the
``DequantizeLinear -> op -> QuantizeLinear`` patterns it recognises, and those kernels differ
between CPUs. Both rewrites below change no value of the graph as written (its QDQ semantics);
they only steer which kernels run. Found with tests/aarch64/run.sh (emulated Cortex-A72,
onnxruntime 1.31, the shipped ``simdr_r50_128``) by exposing every quantized tensor.

1. :func:`activations_to_uint8`. NNCF's ONNX backend quantizes activations that can be
   negative (a convolution without a ReLU before a residual add, the network input) to int8
   and the others (after ReLU) to uint8. ONNX Runtime fuses ``DQ -> Conv -> Q`` into one int8
   ``QLinearConv`` only when the input and output activation types agree. On x86-64 its
   ``QDQS8ToU8Transformer`` first rewrites int8 activations to uint8, so all 54 convolutions
   of a ResNet-50 become ``QLinearConv``. On aarch64 that transformer does not run, so the 20
   convolutions between a ReLU output (uint8) and a residual add (int8), and the adds, stayed
   float chains: slower, and their float bias rounding differs from the int32 bias of
   ``QLinearConv``. Keypoints moved up to 4 px from the x86-64 ones. The int8 grid
   ``(q - z) * s`` with ``q`` in [-128, 127] is the uint8 grid with zero point ``z + 128``,
   so each activation quantizer and its dequantizers are re-encoded exactly. Weights stay int8.
2. :func:`unfuse_residual_adds`. With every activation uint8, ONNX Runtime fuses
   ``DQ, DQ -> Add -> Q`` into ``QLinearAdd``, whose x86-64 and aarch64 kernels round
   differently (MLAS has a fixed-point and a float rescaling path): about one output in 10^4
   differed by one step per residual add. Through 16 blocks that moved 2 of 102 keypoints
   by more than 0.5 px. An ONNX ``Sum`` of two inputs is the same operation, but ONNX Runtime
   has no QDQ fusion for it, so the add runs in float on both CPUs, exactly as the QDQ graph
   defines it. The outputs were bit-identical on x86-64 and aarch64. It costs about 10 % of
   ONNX Runtime's x86-64 int8 latency (simdr_r50_128, 1 thread, A/B in one run: 8.1 -> 8.9 ms) and 2 % on
   OpenVINO.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["activations_to_uint8", "unfuse_residual_adds"]


def activations_to_uint8(model: Any) -> int:
    """Rewrite, in place, every int8 activation Q/DQ pair of ``model`` as uint8 (exact).

    An activation quantizer is a ``QuantizeLinear`` whose input is not an initializer, with
    a scalar int8 zero-point initializer and only ``DequantizeLinear`` consumers that use the
    same scale and zero point. Quantizers that do not fit (a quantized graph output, another
    consumer) are left as they are and logged.

    Args:
        model: an ``onnx.ModelProto`` in QDQ form (e.g. from ``nncf.quantize``).

    Returns:
        The number of quantizers rewritten.
    """
    from onnx import TensorProto, numpy_helper

    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    graph_outputs = {out.name for out in graph.output}
    value_infos = {info.name: info for info in graph.value_info}

    def int8_scalar(name: str) -> int | None:
        init = inits.get(name)
        if init is None or init.data_type != TensorProto.INT8:
            return None
        value = numpy_helper.to_array(init)
        return int(value.reshape(())) if value.size == 1 else None

    def same_value(a: str, b: str) -> bool:
        return a == b or (a in inits and b in inits and np.array_equal(numpy_helper.to_array(inits[a]),
                                                                       numpy_helper.to_array(inits[b])))

    uint8_names: dict[int, str] = {}

    def uint8_zero_point(value: int) -> str:
        if value not in uint8_names:
            name = f"edgepose_u8_zero_point_{value + 128}"
            graph.initializer.append(numpy_helper.from_array(np.array(value + 128, dtype=np.uint8), name))
            uint8_names[value] = name
        return uint8_names[value]

    rewritten, skipped, replaced = 0, [], set()
    for node in graph.node:
        if node.op_type != "QuantizeLinear" or len(node.input) < 3 or node.input[0] in inits:
            continue
        zero_point = int8_scalar(node.input[2])
        if zero_point is None:
            continue
        out = node.output[0]
        users = consumers.get(out, [])
        if out in graph_outputs or not users or any(
                user.op_type != "DequantizeLinear" or len(user.input) < 3 or user.input[0] != out
                or not same_value(user.input[1], node.input[1]) or not same_value(user.input[2], node.input[2])
                for user in users):
            skipped.append(out)
            continue
        new_zero_point = uint8_zero_point(zero_point)
        for user in [node, *users]:
            replaced.add(user.input[2])
            user.input[2] = new_zero_point
        if out in value_infos:
            value_infos[out].type.tensor_type.elem_type = TensorProto.UINT8
        rewritten += 1
    used = {name for node in graph.node for name in node.input} | graph_outputs
    unused = replaced - used  # the int8 zero points nothing refers to any more
    kept = [init for init in graph.initializer if init.name not in unused]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    if skipped:
        logger.info("left %d int8 activation quantizers as they are (graph outputs or non-DQ consumers): %s",
                    len(skipped), ", ".join(skipped[:5]))
    logger.info("rewrote %d int8 activation quantizers as uint8", rewritten)
    return rewritten


def unfuse_residual_adds(model: Any) -> int:
    """Turn, in place, every ``Add`` whose two inputs are both dequantized into an ONNX ``Sum``.

    The two nodes compute the same thing; ONNX Runtime simply has no ``QLinearAdd``
    fusion for ``Sum`` (see the module docstring). Adds with a constant or float input
    (e.g. a bias after ``MatMul``) are left as they are.

    Args:
        model: an ``onnx.ModelProto`` in QDQ form.

    Returns:
        The number of adds rewritten.
    """
    graph = model.graph
    producers = {out: node for node in graph.node for out in node.output}
    count = 0
    for node in graph.node:
        if node.op_type != "Add" or node.domain not in ("", "ai.onnx") or len(node.input) != 2:
            continue
        if all(name in producers and producers[name].op_type == "DequantizeLinear" for name in node.input):
            node.op_type = "Sum"
            count += 1
    logger.info("rewrote %d dequantized residual adds as Sum", count)
    return count
