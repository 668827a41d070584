"""TFLite backend: LiteRT (``ai_edge_litert``), else ``tflite_runtime`` (``pip install -e ".[tflite]"``).

Which package serves the interpreter is logged at INFO level when the first model loads
(and at WARNING level when it is the older ``tflite_runtime``): never chosen silently.

Before the interpreter sees a file, :func:`read_tflite_metadata` walks the flatbuffer
with bounds checks: the ``TFL3`` identifier, the root table, every buffer's extent and
the ``metadata`` entries. A truncated or garbled file therefore fails with a
ModelFileError rather than inside the runtime. Interpreters are not thread-safe; calls
are serialised with a lock, and :meth:`~edgepose.runtime.backends.Backend.run_parallel` gives
each worker its own single-threaded interpreter. Models with a dynamic batch dimension
(shape signature -1) are resized to each batch size; a fixed batch of 1 is looped.
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from edgepose.runtime.backends.base import Backend, QuantParams, TensorInfo, Worker, check_model_file
from edgepose.errors import BackendNotInstalledError, ModelFileError, install_hint

logger = logging.getLogger(__name__)

# Field indices of the TFLite schema (tensorflow/lite/schema/schema.fbs).
_MODEL_BUFFERS, _MODEL_METADATA = 4, 6
_BUFFER_DATA, _BUFFER_OFFSET, _BUFFER_SIZE = 0, 1, 2
_METADATA_NAME, _METADATA_BUFFER = 0, 1

_logged_runtime: str | None = None


def _import_interpreter() -> tuple[type, str]:
    """The Interpreter class and the name of the package that provides it."""
    global _logged_runtime
    try:
        from ai_edge_litert.interpreter import Interpreter

        package = "ai_edge_litert"
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter  # type: ignore[no-redef]
        except ImportError as exc:
            raise BackendNotInstalledError(
                "the tflite backend needs ai-edge-litert (or tflite-runtime): " + install_hint("tflite")
            ) from exc
        package = "tflite_runtime"
    if _logged_runtime != package:
        if package == "tflite_runtime":
            logger.warning("ai_edge_litert is not installed; TFLite models run on tflite_runtime")
        else:
            logger.info("TFLite models run on ai_edge_litert")
        _logged_runtime = package
    return Interpreter, package


class _FlatReader:
    """Bounds-checked reads of a flatbuffer (little endian)."""

    def __init__(self, buf: Any, name: str) -> None:
        self.buf, self.size, self.name = buf, len(buf), name

    def _need(self, pos: int, n: int) -> None:
        if pos < 0 or pos + n > self.size:
            raise ModelFileError(
                f"{self.name}: the TFLite flatbuffer points outside the file (offset {pos}, size "
                f"{self.size}): the file is truncated or corrupted"
            )

    def u16(self, pos: int) -> int:
        self._need(pos, 2)
        return struct.unpack_from("<H", self.buf, pos)[0]

    def u32(self, pos: int) -> int:
        self._need(pos, 4)
        return struct.unpack_from("<I", self.buf, pos)[0]

    def u64(self, pos: int) -> int:
        self._need(pos, 8)
        return struct.unpack_from("<Q", self.buf, pos)[0]

    def field(self, table: int, index: int) -> int | None:
        """Absolute position of field ``index`` of ``table``, or None when absent."""
        self._need(table, 4)
        vtable = table - struct.unpack_from("<i", self.buf, table)[0]
        vsize = self.u16(vtable)
        slot = 4 + 2 * index
        if slot + 2 > vsize:
            return None
        off = self.u16(vtable + slot)
        return table + off if off else None

    def deref(self, pos: int) -> int:
        return pos + self.u32(pos)

    def vector(self, pos: int) -> tuple[int, int]:
        """(start of elements, length) of the vector at ``pos``."""
        length = self.u32(pos)
        return pos + 4, length

    def table_vector(self, table: int, index: int) -> list[int]:
        pos = self.field(table, index)
        if pos is None:
            return []
        start, length = self.vector(self.deref(pos))
        self._need(start, 4 * length)
        return [self.deref(start + 4 * i) for i in range(length)]

    def bytes_field(self, table: int, index: int) -> bytes | None:
        pos = self.field(table, index)
        if pos is None:
            return None
        start, length = self.vector(self.deref(pos))
        self._need(start, length)
        return bytes(self.buf[start:start + length])


def read_tflite_metadata(path: str | os.PathLike[str]) -> dict[str, bytes]:
    """Validate a TFLite file's flatbuffer structure and return its metadata entries.

    Args:
        path: ``.tflite`` file.

    Returns:
        ``{name: raw bytes}`` of the model's ``metadata`` entries.

    Raises:
        ModelFileError: missing/empty file, no ``TFL3`` identifier, or any offset or
            buffer that reaches outside the file (truncation, corruption).
    """
    p = check_model_file(path, "tflite")
    with open(p, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        r = _FlatReader(buf, p.name)
        root = r.deref(0)
        buffers = r.table_vector(root, _MODEL_BUFFERS)
        for b in buffers:
            data = r.field(b, _BUFFER_DATA)
            if data is not None:
                start, length = r.vector(r.deref(data))
                r._need(start, length)
            off_pos, size_pos = r.field(b, _BUFFER_OFFSET), r.field(b, _BUFFER_SIZE)
            if off_pos is not None and size_pos is not None:
                offset, size = r.u64(off_pos), r.u64(size_pos)
                if offset > 1:
                    r._need(offset, size)
        result: dict[str, bytes] = {}
        for m in r.table_vector(root, _MODEL_METADATA):
            name_bytes = r.bytes_field(m, _METADATA_NAME)
            index_pos = r.field(m, _METADATA_BUFFER)
            if name_bytes is None or index_pos is None:
                continue
            index = r.u32(index_pos)
            if index >= len(buffers):
                raise ModelFileError(f"{p.name}: metadata {name_bytes!r} refers to missing buffer {index}")
            result[name_bytes.decode("utf-8", "replace")] = _buffer_bytes(r, buffers[index])
        return result


def _buffer_bytes(r: _FlatReader, table: int) -> bytes:
    data = r.bytes_field(table, _BUFFER_DATA)
    if data is not None:
        return data
    off_pos, size_pos = r.field(table, _BUFFER_OFFSET), r.field(table, _BUFFER_SIZE)
    if off_pos is not None and size_pos is not None:
        offset, size = r.u64(off_pos), r.u64(size_pos)
        r._need(offset, size)
        return bytes(r.buf[offset:offset + size])
    return b""


def _as_text(raw: dict[str, bytes], name: str) -> dict[str, str]:
    """Metadata entries that are UTF-8 text (trailing NULs dropped); binary ones are skipped."""
    out = {}
    for key, value in raw.items():
        try:
            out[key] = value.rstrip(b"\0").decode("utf-8")
        except UnicodeDecodeError:
            logger.debug("%s: metadata entry %r is binary; not exposed", name, key)
    return out


class TFLiteBackend(Backend):
    """A ``.tflite`` file in a LiteRT / TFLite interpreter (XNNPACK on CPU).

    Args:
        path: ``.tflite`` file.
        threads: interpreter ``num_threads`` (None: the runtime's default).
    """

    name = "tflite"
    suffixes = (".tflite",)
    extra = "tflite"
    concurrent_runs = False

    def __init__(self, path: str | os.PathLike[str], threads: int | None = None) -> None:
        super().__init__(path, threads)
        self._interpreter_cls, self.package = _import_interpreter()
        self.metadata = _as_text(read_tflite_metadata(self.path), self.path.name)
        try:
            self._runner = _InterpreterRunner(self._interpreter_cls(model_path=str(self.path), num_threads=threads))
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{self.path}: the TFLite interpreter cannot load it ({exc})") from exc
        if len(self._runner.inputs) != 1:
            raise ModelFileError(f"{self.path.name}: expected one image input, found {len(self._runner.inputs)}")
        self.input = self._info(self._runner.inputs[0])
        self.outputs = [self._info(d) for d in self._runner.outputs]
        self._finish_init()

    def _info(self, d: dict[str, Any]) -> TensorInfo:
        signature = d.get("shape_signature", d["shape"])
        shape = tuple(None if int(s) < 0 else int(s) for s in signature)
        dtype = np.dtype(d["dtype"])
        quant = None
        if np.issubdtype(dtype, np.integer):
            scale, zero_point = d["quantization"]
            if scale > 0:
                quant = QuantParams(float(scale), int(zero_point), dtype)
            else:
                quant = self.quant_from_metadata(d["name"], dtype)
        return TensorInfo(d["name"], shape, dtype, quant)

    def _infer(self, x: np.ndarray) -> list[np.ndarray]:
        return self._runner(x)

    def _make_worker(self) -> Worker:
        return _InterpreterRunner(self._interpreter_cls(model_path=str(self.path), num_threads=1))

    def _release(self) -> None:
        self._runner = None  # type: ignore[assignment]


class _InterpreterRunner:
    """One interpreter: set the input, invoke, read the outputs; resizes the batch axis
    when the model's is dynamic (shape signature -1) and the batch size changes."""

    def __init__(self, interpreter: Any) -> None:
        self.interp = interpreter
        self.interp.allocate_tensors()
        self.inputs = self.interp.get_input_details()
        self.outputs = self.interp.get_output_details()
        detail = self.inputs[0]
        self.dynamic = int(detail.get("shape_signature", detail["shape"])[0]) < 0
        self.batch = int(detail["shape"][0])

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        index = self.inputs[0]["index"]
        if self.dynamic and x.shape[0] != self.batch:
            self.interp.resize_tensor_input(index, list(x.shape))
            self.interp.allocate_tensors()
            self.batch = x.shape[0]
        self.interp.set_tensor(index, x)
        self.interp.invoke()
        return [self.interp.get_tensor(d["index"]) for d in self.outputs]


def tflite_metadata_text(path: str | os.PathLike[str]) -> dict[str, str]:
    """Text metadata entries of a ``.tflite`` file, without loading an interpreter."""
    return _as_text(read_tflite_metadata(path), Path(path).name)
