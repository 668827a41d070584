"""The ONNX ``ModelProto`` at the protobuf wire level, without the ``onnx`` package.

Only the top-level fields of a ``ModelProto`` are read (:func:`top_fields`) and written
(:func:`len_field`): an edgepose metadata entry is found, replaced or added while the graph
and every other field are copied byte for byte. Malformed bytes raise
:class:`ModelFileError` naming the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from edgepose.errors import ModelFileError

__all__ = ["GRAPH", "IR_VERSION", "METADATA_PROPS", "Field", "encode_varint", "fields", "len_field", "string_entry",
           "top_fields"]

# ModelProto field numbers (onnx.proto3).
IR_VERSION = 1
GRAPH = 7
METADATA_PROPS = 14

#: a field as (number, wire type, field start, value start, value end), offsets into the bytes
Field = tuple[int, int, int, int, int]


def _varint(data: bytes, pos: int, end: int, source: Path) -> tuple[int, int]:
    """(value, position after it) of the base-128 varint at ``data[pos]``."""
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


def fields(data: bytes, start: int, end: int, source: Path) -> Iterator[Field]:
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


def top_fields(data: bytes, source: Path) -> list[Field]:
    """Top-level fields of a ModelProto; ModelFileError unless it looks like an ONNX model."""
    top = list(fields(data, 0, len(data), source))
    numbers = {f[0] for f in top}
    if IR_VERSION not in numbers or GRAPH not in numbers:
        raise ModelFileError(f"{source} is not an ONNX model (no ir_version or graph)")
    return top


def string_entry(data: bytes, start: int, end: int, source: Path) -> tuple[str, bytes]:
    """(key, value) of a ``StringStringEntryProto`` in ``data[start:end]`` (a ``metadata_props`` entry)."""
    key, value = b"", b""
    for number, wire, _, vs, ve in fields(data, start, end, source):
        if wire == 2 and number == 1:
            key = bytes(data[vs:ve])
        elif wire == 2 and number == 2:
            value = bytes(data[vs:ve])
    try:
        return key.decode("utf-8"), value
    except UnicodeDecodeError:
        raise ModelFileError(f"{source}: metadata key is not UTF-8") from None


def encode_varint(value: int) -> bytes:
    """``value`` (>= 0) as a base-128 varint."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def len_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field ``number`` holding ``payload``, as bytes."""
    return encode_varint((number << 3) | 2) + encode_varint(len(payload)) + payload
