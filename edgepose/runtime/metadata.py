"""Model-file metadata: one JSON object that makes an ONNX or TFLite file self-describing.

The object is stored under the key ``"edgepose"``:

* ONNX: a ``metadata_props`` entry of the ``ModelProto`` (ONNX Runtime shows it in
  ``InferenceSession.get_modelmeta().custom_metadata_map["edgepose"]``);
* TFLite: a flatbuffer ``metadata`` entry named ``"edgepose"`` whose buffer holds the
  UTF-8 JSON.

Fields (``format_version`` 1)::

    format_version   1
    edgepose_version version of the package that wrote the file
    model            registry name
    spec             ModelSpec.to_dict() without "files"
    codec            codec dict (codec_from_dict rebuilds it)
    input_hw         [H, W]
    mean, std        3 floats each, per input channel in the model's channel order, pixel/255
    color_order      "bgr" | "rgb"
    keypoint_set     "coco17" | "mpii16" | "crowdpose14"
    layout           "NCHW" | "NHWC"  (layout of the input tensor)
    input_dtype      "float32" | "int8" (int8: quantise with the input tensor's scale/zero point)
    output_dtype     "float32" | "int8" (int8: dequantise with each output's scale/zero point)
    precision        "fp32" | "fp16" | "int8"
    outputs          ["simcc_x", "simcc_y"] or ["heatmaps"]: the role of each output tensor, in
                     the file's output order (ONNX graph outputs / TFLite subgraph outputs);
                     the tensors also carry these names (ONNX output names, TFLite
                     signature output names)
    batch_size       null (dynamic batch axis) or the fixed batch size
    input_name       name of the input tensor ("input")
    quantization     only for int8 files: how they were calibrated (free-form dict)

Optional per-weights runtime defaults, so that a file loaded by path (e.g. a shipped file
copied elsewhere) behaves as it does by registry name::

    score_threshold  null or a number in [0, 1]: keypoint score above which these weights'
                     keypoints count as found (``Estimator.score_threshold`` when neither the
                     caller nor the registry gives one). Measured per file by
                     quantization/int8.py (on its calibration crops, as quantization/verify.py
                     does), given to quantization/export.py with --score-threshold, and
                     written by quantization/ship.py to agree with the manifest. Absent/null:
                     the codec's default.
    trained_on       what the weights were trained on (written by quantization/ship.py,
                     as in the manifest)

``spec`` carries the same two values (``spec["score_threshold"]``, ``spec["trained_on"]``),
so it describes the weights in the file rather than whatever the registry ships.

This module reads and writes without torch, TensorFlow or the ``onnx`` package: ONNX
files are handled at the protobuf wire level (only the top-level fields of ``ModelProto``
are touched, the graph is copied byte for byte); TFLite files through
``ai_edge_litert.schema_py_generated`` and ``flatbuffers``. The payload is parsed as
JSON only (never evaluated). Every failure raises :class:`ModelFileError` naming the file.
"""

from __future__ import annotations

import json
import logging
import math
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edgepose.atomic import write_bytes_atomic
from edgepose.errors import EdgeposeError, ModelFileError
from edgepose.preprocess import COLOR_ORDERS
from edgepose.runtime.metadata_json import METADATA_KEY, LAYOUTS, loads_metadata
from edgepose.version import __version__

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
PRECISIONS = ("fp32", "fp16", "int8")
DTYPES = ("float32", "int8")
TFLITE_IDENTIFIER = b"TFL3"
_KEEP: Any = object()  # with_runtime_defaults: leave the key as it is

_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "format_version": int, "edgepose_version": str, "model": str, "spec": dict, "codec": dict,
    "input_hw": list, "mean": list, "std": list, "color_order": str, "keypoint_set": str,
    "layout": str, "input_dtype": str, "precision": str, "outputs": list,
}

# ONNX ModelProto field numbers (onnx.proto3).
_ONNX_IR_VERSION = 1
_ONNX_GRAPH = 7
_ONNX_METADATA_PROPS = 14


# ---- building and checking the JSON object ------------------------------------------------
def output_names_for_codec(codec: dict[str, Any]) -> list[str]:
    """Output tensor names implied by a codec dict: SimDR -> simcc_x/simcc_y, heatmap -> heatmaps."""
    kind = codec.get("type")
    if kind in ("simdr", "simdr_star"):
        return ["simcc_x", "simcc_y"]
    if kind == "heatmap":
        return ["heatmaps"]
    raise ModelFileError(f"cannot name the outputs of codec type {kind!r}")


def make_metadata(
    spec: Any,
    layout: str,
    precision: str,
    *,
    input_dtype: str = "float32",
    output_dtype: str = "float32",
    batch_size: int | None = None,
    input_name: str = "input",
    quantization: dict[str, Any] | None = None,
    outputs: list[str] | None = None,
    score_threshold: float | None = None,
    trained_on: str | None = None,
) -> dict[str, Any]:
    """The metadata object of one exported file of ``spec`` (a ``ModelSpec``).

    Args:
        spec: the model's ``ModelSpec``.
        layout: "NCHW" or "NHWC", layout of the input tensor of the file.
        precision: "fp32", "fp16" or "int8".
        input_dtype / output_dtype: "float32", or "int8" when the file's input/outputs are
            quantised tensors (their scale and zero point are in the file).
        batch_size: None for a dynamic batch axis, else the fixed batch size.
        input_name: name of the input tensor.
        quantization: calibration details of an int8 file.
        outputs: output names in the file's output order (default: the codec's order,
            ``simcc_x, simcc_y`` or ``heatmaps``); must be a permutation of those.
        score_threshold / trained_on: the weights' runtime defaults (module docstring);
            None leaves them out. The ``spec`` copy gets the same values, not the
            registry's (which describe the shipped weights, not necessarily these).

    Returns:
        A JSON-serialisable dict that passes :func:`validate_metadata`.
    """

    names = output_names_for_codec(dict(spec.codec))
    if outputs is not None and sorted(outputs) != sorted(names):
        raise ModelFileError(f"outputs {outputs} are not the outputs {names} of codec {spec.codec.get('type')!r}")
    spec_dict = spec.to_dict()
    spec_dict.pop("files", None)
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "edgepose_version": __version__,
        "model": spec.name,
        "spec": spec_dict,
        "codec": dict(spec.codec),
        "input_hw": [int(v) for v in spec.input_hw],
        "mean": [float(v) for v in spec.mean],
        "std": [float(v) for v in spec.std],
        "color_order": spec.color_order,
        "keypoint_set": spec.keypoint_set,
        "layout": layout,
        "input_dtype": input_dtype,
        "output_dtype": output_dtype,
        "precision": precision,
        "outputs": list(outputs) if outputs is not None else names,
        "batch_size": batch_size,
        "input_name": input_name,
    }
    if quantization is not None:
        meta["quantization"] = dict(quantization)
    return with_runtime_defaults(meta, score_threshold=score_threshold, trained_on=trained_on)


def with_runtime_defaults(meta: dict[str, Any], *, score_threshold: Any = _KEEP,
                          trained_on: Any = _KEEP) -> dict[str, Any]:
    """A validated copy of ``meta`` with the weights' runtime defaults set (module docstring).

    Each given value (None removes the key) goes to the top level and to the ``spec`` copy;
    an omitted one is left as it is.
    """
    out = dict(meta)
    spec = dict(out["spec"]) if isinstance(out.get("spec"), dict) else None
    for key, value in (("score_threshold", score_threshold), ("trained_on", trained_on)):
        if value is _KEEP:
            continue
        if value is None:
            out.pop(key, None)
        else:
            out[key] = float(value) if key == "score_threshold" and _finite_number(value) else value
        if spec is not None:
            spec[key] = out.get(key, "" if key == "trained_on" else None)
    if spec is not None:
        out["spec"] = spec
    return validate_metadata(out, "<new metadata>")


def validate_metadata(meta: Any, source: str | os.PathLike[str]) -> dict[str, Any]:
    """Check the fields of a metadata object; returns it, or raises ModelFileError naming ``source``."""

    def bad(why: str) -> ModelFileError:
        return ModelFileError(f"{source}: invalid edgepose metadata: {why}")

    if not isinstance(meta, dict):
        raise bad(f"expected a JSON object, got {type(meta).__name__}")
    for key, kind in _REQUIRED.items():
        if key not in meta:
            raise bad(f"missing field {key!r}")
        if not isinstance(meta[key], kind) or isinstance(meta[key], bool):
            raise bad(f"field {key!r} should be {getattr(kind, '__name__', kind)}, got {meta[key]!r}")
    if meta["format_version"] > FORMAT_VERSION:
        raise bad(
            f"format_version {meta['format_version']} is newer than this edgepose understands "
            f"({FORMAT_VERSION}); upgrade edgepose"
        )
    if meta["format_version"] < 1:
        raise bad(f"format_version {meta['format_version']} is not valid")
    hw = meta["input_hw"]
    if len(hw) != 2 or not all(isinstance(v, int) and v > 0 for v in hw):
        raise bad(f"input_hw must be [H, W] positive integers, got {hw!r}")
    for key in ("mean", "std"):
        vals = meta[key]
        if len(vals) != 3 or not all(_finite_number(v) for v in vals):
            raise bad(f"{key} must be 3 finite numbers, got {vals!r}")
    if any(v <= 0 for v in meta["std"]):
        raise bad(f"std must be positive, got {meta['std']!r}")
    choices = {
        "color_order": COLOR_ORDERS, "layout": LAYOUTS, "precision": PRECISIONS,
        "input_dtype": DTYPES, "output_dtype": DTYPES,
    }
    for key, allowed in choices.items():
        if key in meta and meta[key] not in allowed:
            raise bad(f"{key} must be one of {list(allowed)}, got {meta[key]!r}")
    if not meta["outputs"] or not all(isinstance(o, str) for o in meta["outputs"]):
        raise bad(f"outputs must be a non-empty list of names, got {meta['outputs']!r}")
    threshold = meta.get("score_threshold")
    if threshold is not None and not (_finite_number(threshold) and 0.0 <= threshold <= 1.0):
        raise bad(f"score_threshold must be null or a number in [0, 1], got {threshold!r}")
    if "trained_on" in meta and not isinstance(meta["trained_on"], str):
        raise bad(f"trained_on must be a string, got {meta['trained_on']!r}")
    batch = meta.get("batch_size")
    if batch is not None and (not isinstance(batch, int) or isinstance(batch, bool) or batch <= 0):
        raise bad(f"batch_size must be null or a positive integer, got {batch!r}")
    from edgepose.codecs import codec_from_dict

    try:
        codec = codec_from_dict(meta["codec"])
    except EdgeposeError as exc:
        raise bad(f"codec: {exc}") from None
    if list(codec.input_hw) != hw:
        raise bad(f"codec input_hw {list(codec.input_hw)} differs from input_hw {hw}")
    return meta


def _finite_number(v: Any) -> bool:
    """A JSON number (not a bool) that is finite as a float (huge integers are not)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def _encode(meta: dict[str, Any]) -> bytes:
    validate_metadata(meta, "<metadata to write>")
    return json.dumps(meta, sort_keys=True, allow_nan=False).encode("utf-8")


def _decode(payload: bytes, source: Path) -> dict[str, Any]:
    return validate_metadata(loads_metadata(payload, source), source)


# ---- file access ----------------------------------------------------------------------------
def read_model_bytes(path: Path) -> bytes:
    """Whole file contents; ModelFileError if missing, unreadable or empty."""
    if not path.exists():
        raise ModelFileError(f"model file {path} does not exist")
    if not path.is_file():
        raise ModelFileError(f"{path} is not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc}") from None
    if not data:
        raise ModelFileError(f"model file {path} is empty")
    return data


def is_tflite_bytes(data: bytes) -> bool:
    """True if ``data`` carries the TFLite flatbuffer identifier ("TFL3" at byte 4)."""
    return len(data) >= 8 and data[4:8] == TFLITE_IDENTIFIER


def detect_format(path: str | os.PathLike[str]) -> str:
    """"onnx" or "tflite", from the file's contents (not its name); ModelFileError otherwise."""
    p = Path(path)
    data = read_model_bytes(p)
    if is_tflite_bytes(data):
        return "tflite"
    _onnx_top_fields(data, p)  # raises unless it parses as a ModelProto
    return "onnx"


def _check_suffix(path: Path, fmt: str) -> None:
    expected = {"onnx": ".onnx", "tflite": ".tflite"}
    other = {v: k for k, v in expected.items()}
    suffix = path.suffix.lower()
    if suffix in other and other[suffix] != fmt:
        raise ModelFileError(f"{path} has a {suffix} name but holds a {fmt} model")


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The edgepose metadata of an ONNX or TFLite file.

    Raises:
        ModelFileError: missing, empty, corrupt or wrong-format file, no ``"edgepose"``
            entry, or an entry that is not valid metadata JSON.
    """
    p = Path(path)
    data = read_model_bytes(p)
    if is_tflite_bytes(data):
        _check_suffix(p, "tflite")
        payload = _tflite_metadata_payload(data, p)
    else:
        if p.suffix.lower() == ".tflite":
            raise ModelFileError(f"{p} is not a TFLite file (no TFL3 identifier)")
        payload = _onnx_metadata_payload(data, p)
    if payload is None:
        raise ModelFileError(
            f"{p} has no {METADATA_KEY!r} metadata: it was not written by edgepose's exporter "
            "(quantization/export.py or quantization/int8.py)"
        )
    return _decode(payload, p)


# ---- ONNX: protobuf wire format ---------------------------------------------------------------
def _varint(data: bytes, pos: int, end: int, source: Path) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise ModelFileError(f"{source} is not a valid ONNX file (truncated or corrupt protobuf)")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes, start: int, end: int, source: Path) -> Iterator[tuple[int, int, int, int, int]]:
    """Protobuf fields in ``data[start:end]`` as (number, wire type, field start, value start, value end)."""
    pos = start
    while pos < end:
        field_start = pos
        key, pos = _varint(data, pos, end, source)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ModelFileError(f"{source} is not a valid ONNX file (field number 0)")
        if wire == 0:
            _, value_end = _varint(data, pos, end, source)
            value_start = pos
        elif wire == 1:
            value_start, value_end = pos, pos + 8
        elif wire == 2:
            length, value_start = _varint(data, pos, end, source)
            value_end = value_start + length
        elif wire == 5:
            value_start, value_end = pos, pos + 4
        else:
            raise ModelFileError(f"{source} is not a valid ONNX file (wire type {wire})")
        if value_end > end:
            raise ModelFileError(f"{source} is not a valid ONNX file (truncated)")
        yield number, wire, field_start, value_start, value_end
        pos = value_end


def _onnx_top_fields(data: bytes, source: Path) -> list[tuple[int, int, int, int, int]]:
    """Top-level fields of a ModelProto; ModelFileError unless it looks like an ONNX model."""
    fields = list(_fields(data, 0, len(data), source))
    numbers = {f[0] for f in fields}
    if _ONNX_IR_VERSION not in numbers or _ONNX_GRAPH not in numbers:
        raise ModelFileError(f"{source} is not an ONNX model (no ir_version or graph)")
    return fields


def _string_entry(data: bytes, start: int, end: int, source: Path) -> tuple[str, bytes]:
    key, value = b"", b""
    for number, wire, _, vs, ve in _fields(data, start, end, source):
        if wire == 2 and number == 1:
            key = bytes(data[vs:ve])
        elif wire == 2 and number == 2:
            value = bytes(data[vs:ve])
    try:
        return key.decode("utf-8"), value
    except UnicodeDecodeError:
        raise ModelFileError(f"{source}: metadata key is not UTF-8") from None


def _onnx_metadata_payload(data: bytes, source: Path) -> bytes | None:
    payload = None
    for number, wire, _, vs, ve in _onnx_top_fields(data, source):
        if number == _ONNX_METADATA_PROPS and wire == 2:
            key, value = _string_entry(data, vs, ve, source)
            if key == METADATA_KEY:
                payload = value  # the last entry wins, as in protobuf map semantics
    return payload


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _encode_varint((number << 3) | 2) + _encode_varint(len(payload)) + payload


def write_onnx_metadata(path: str | os.PathLike[str], meta: dict[str, Any]) -> None:
    """Store ``meta`` as the ``"edgepose"`` metadata_props entry of an ONNX file (atomically).

    An existing ``"edgepose"`` entry is replaced; every other field is copied unchanged.
    """
    p = Path(path)
    payload = _encode(meta)
    data = read_model_bytes(p)
    if is_tflite_bytes(data):
        raise ModelFileError(f"{p} is a TFLite file, not ONNX")
    chunks: list[bytes] = []
    for number, wire, fs, vs, ve in _onnx_top_fields(data, p):
        if number == _ONNX_METADATA_PROPS and wire == 2 and _string_entry(data, vs, ve, p)[0] == METADATA_KEY:
            continue
        chunks.append(data[fs:ve])
    entry = _len_field(1, METADATA_KEY.encode("utf-8")) + _len_field(2, payload)
    chunks.append(_len_field(_ONNX_METADATA_PROPS, entry))
    write_bytes_atomic(p, chunks)
    logger.debug("wrote %d bytes of edgepose metadata into %s", len(payload), p)


# ---- TFLite: flatbuffer ----------------------------------------------------------------------
FLATBUFFER_ERRORS = (IndexError, ValueError, TypeError, AttributeError, OverflowError, struct.error)


def load_tflite_model(data: bytes, source: Path) -> Any:
    """The root ``schema_py_generated.Model`` of a TFLite file's bytes (sanity-checked)."""
    from ai_edge_litert import schema_py_generated as schema

    if not is_tflite_bytes(data):
        raise ModelFileError(f"{source} is not a TFLite file (no TFL3 identifier)")
    try:
        model = schema.Model.GetRootAs(data, 0)
        version = model.Version()
        subgraphs = model.SubgraphsLength()
    except FLATBUFFER_ERRORS as exc:
        raise ModelFileError(f"{source} is a corrupt TFLite file ({exc!r})") from None
    if version != 3 or subgraphs < 1:
        raise ModelFileError(f"{source} is a corrupt TFLite file (schema version {version}, {subgraphs} subgraphs)")
    return model


def _tflite_metadata_payload(data: bytes, source: Path) -> bytes | None:
    model = load_tflite_model(data, source)
    try:
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if entry.Name() != METADATA_KEY.encode():
                continue
            index = entry.Buffer()
            if not 0 <= index < model.BuffersLength():
                raise ModelFileError(f"{source}: metadata buffer index {index} out of range")
            buffer = model.Buffers(index)
            if buffer.Offset() > 1:
                start, size = buffer.Offset(), buffer.Size()
                if start + size > len(data):
                    raise ModelFileError(f"{source}: metadata buffer lies past the end of the file")
                return bytes(data[start:start + size])
            return buffer.DataAsNumpy().tobytes() if buffer.DataLength() else b""
    except FLATBUFFER_ERRORS as exc:
        raise ModelFileError(f"{source} is a corrupt TFLite file ({exc!r})") from None
    return None


def write_tflite_metadata(path: str | os.PathLike[str], meta: dict[str, Any]) -> None:
    """Store ``meta`` as the ``"edgepose"`` metadata entry of a TFLite file (atomically).

    An existing ``"edgepose"`` entry is replaced. The model is rewritten through the
    flatbuffer object API (``ai_edge_litert.tools.flatbuffer_utils``).
    """
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    p = Path(path)
    payload = _encode(meta)
    data = read_model_bytes(p)
    load_tflite_model(data, p)
    try:
        model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    except FLATBUFFER_ERRORS as exc:
        raise ModelFileError(f"{p} is a corrupt TFLite file ({exc!r})") from None
    model.buffers = model.buffers or []
    model.metadata = [m for m in (model.metadata or []) if m.name not in (METADATA_KEY, METADATA_KEY.encode())]
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(payload, dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_KEY
    entry.buffer = len(model.buffers) - 1
    model.metadata.append(entry)
    out = flatbuffer_utils.convert_object_to_bytearray(model)
    write_bytes_atomic(p, bytes(out))
    logger.debug("wrote %d bytes of edgepose metadata into %s", len(payload), p)


def write_metadata(path: str | os.PathLike[str], meta: dict[str, Any]) -> None:
    """Write ``meta`` into an ONNX or TFLite file, chosen by the file's contents."""
    fmt = detect_format(path)
    if fmt == "tflite":
        write_tflite_metadata(path, meta)
    else:
        write_onnx_metadata(path, meta)
