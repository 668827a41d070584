"""ONNX and TFLite model files on the export side: their format, and the edgepose metadata inside them.

The metadata object (its fields: :mod:`edgepose.runtime.metadata`) is stored under the key
``"edgepose"``: in ONNX a ``metadata_props`` entry of the ``ModelProto``, in TFLite a flatbuffer
``metadata`` entry whose buffer holds the UTF-8 JSON. This module reads and writes it without
torch, TensorFlow or the ``onnx`` package: ONNX files at the protobuf wire level
(:mod:`edgepose.export.onnx_wire`: the graph is copied byte for byte), TFLite files through
``ai_edge_litert.schema_py_generated`` and ``flatbuffers``. Files are written atomically
(:mod:`edgepose.atomic`). Every failure raises :class:`ModelFileError` naming the file.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path
from typing import Any

from edgepose.atomic import write_bytes_atomic
from edgepose.errors import ModelFileError
from edgepose.export.onnx_wire import METADATA_PROPS, len_field, string_entry, top_fields
from edgepose.runtime.metadata import encode_metadata, parse_metadata
from edgepose.runtime.metadata_json import METADATA_KEY

__all__ = ["FLATBUFFER_ERRORS", "TFLITE_IDENTIFIER", "detect_format", "is_tflite_bytes", "load_tflite_model",
           "read_metadata", "read_model_bytes", "write_metadata", "write_onnx_metadata", "write_tflite_metadata"]

logger = logging.getLogger(__name__)

TFLITE_IDENTIFIER = b"TFL3"


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
    top_fields(data, p)  # raises unless it parses as a ModelProto
    return "onnx"


def _check_suffix(path: Path, fmt: str) -> None:
    """ModelFileError when ``path``'s .onnx/.tflite suffix names the other format than ``fmt``."""
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
            "(edgepose export, with or without --int8)"
        )
    return parse_metadata(payload, p)


# ---- ONNX ------------------------------------------------------------------------------------
def _onnx_metadata_payload(data: bytes, source: Path) -> bytes | None:
    """The ``"edgepose"`` metadata_props value of an ONNX file's bytes, or None."""
    payload = None
    for number, wire, _, vs, ve in top_fields(data, source):
        if number == METADATA_PROPS and wire == 2:
            key, value = string_entry(data, vs, ve, source)
            if key == METADATA_KEY:
                payload = value  # the last entry wins, as in protobuf map semantics
    return payload


def write_onnx_metadata(path: str | os.PathLike[str], meta: dict[str, Any]) -> None:
    """Store ``meta`` as the ``"edgepose"`` metadata_props entry of an ONNX file (atomically).

    An existing ``"edgepose"`` entry is replaced; every other field is copied unchanged.
    """
    p = Path(path)
    payload = encode_metadata(meta)
    data = read_model_bytes(p)
    if is_tflite_bytes(data):
        raise ModelFileError(f"{p} is a TFLite file, not ONNX")
    chunks: list[bytes] = []
    for number, wire, fs, vs, ve in top_fields(data, p):
        if number == METADATA_PROPS and wire == 2 and string_entry(data, vs, ve, p)[0] == METADATA_KEY:
            continue
        chunks.append(data[fs:ve])
    entry = len_field(1, METADATA_KEY.encode("utf-8")) + len_field(2, payload)
    chunks.append(len_field(METADATA_PROPS, entry))
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
    """The ``"edgepose"`` metadata buffer of a TFLite file's bytes, or None."""
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
    payload = encode_metadata(meta)
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
