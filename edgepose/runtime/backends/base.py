"""The runtime-neutral part of every backend: tensor descriptions, int8 I/O, batching, checks.

A backend wraps one inference runtime around one model file. Whatever the runtime, a
backend

* takes a float32 batch in **NCHW** order, ``(N, 3, H, W)``, and transposes it itself
  when the model expects NHWC (the layout comes from the file's metadata, else from the
  input tensor's shape);
* quantizes float input for models with integer (int8/uint8) input and dequantizes
  integer outputs to float32, with the scale and zero point of each tensor (TFLite:
  the tensor details; ONNX/OpenVINO: the ``io_quantization`` entry of the edgepose
  metadata, ``{"<tensor name>": [scale, zero_point], ...}``, since those runtimes do not
  expose them). An array that already has the input's integer dtype is passed unchanged;
* runs N crops in one call when the model's batch dimension is dynamic, else one call
  per crop (``Backend.dynamic_batch`` says which);
* can instead spread N crops over its threads (:meth:`Backend.run_parallel`): the batch is
  cut into one contiguous chunk per thread and each chunk runs on its own single-threaded
  runtime instance (a second ONNX Runtime session, OpenVINO throughput streams, extra
  LiteRT interpreters), created on first use;
* returns the outputs as a list of float32 arrays in the file's output order;
* exposes the file's key/value metadata as ``Backend.metadata`` (``dict[str, str]``;
  edgepose models keep a JSON document under the key ``"edgepose"``).

Why spread crops instead of one multi-threaded call: a single crop at 64x64-128x128 has
too little work per layer to keep several threads busy (the last ResNet stage is 4x4 or
2x2 pixels), so a runtime's intra-op threads scale poorly on one crop, while whole crops
per thread scale almost linearly. Measured on 2 cores, ``simdr_r50_128`` int8, 4 crops,
ONNX Runtime, end to end: one 2-thread batched call 0.79-0.81x the time of four 2-thread
single calls, crops spread over two 1-thread workers 0.68-0.73x (five runs of
``apps/bench.py --threads 2 --people 4``, which prints both ratios). With one thread
there is nothing to spread, and batching alone saves little at 128x128 (0.92x): in an
ONNX Runtime profile most int8 convolutions took 0.9-1.08x as long on 4 crops as 4 times
on one crop, only those of the last stage (4x4 pixels) 0.7-0.8x.

Thread safety: ``Backend.run`` and ``Backend.run_parallel`` may be called from several
threads. Runtimes whose sessions are documented as safe for concurrent ``run`` calls
(ONNX Runtime) run in parallel; the others (LiteRT/TFLite interpreters, OpenVINO infer
requests) are serialised with a lock, so sharing one backend between threads is correct
but not faster. Each parallel worker is used by one chunk at a time.
"""

from __future__ import annotations

import logging
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgepose.errors import InputError, ModelFileError
from edgepose.preprocess import LAYOUTS
from edgepose.runtime.metadata_json import METADATA_KEY, loads_metadata

logger = logging.getLogger(__name__)

_LFS_POINTER = b"version https://git-lfs"

#: One single-threaded runtime instance used by :meth:`Backend.run_parallel`: prepared
#: batch (model layout and dtype) -> raw outputs.
Worker = Callable[[np.ndarray], list[np.ndarray]]


def available_cpus() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@dataclass(frozen=True)
class QuantParams:
    """Affine quantization of one tensor: ``real = (q - zero_point) * scale``.

    Attributes:
        scale: step size, > 0.
        zero_point: integer that stands for 0.0.
        dtype: the integer dtype (int8 or uint8).
    """

    scale: float
    zero_point: int
    dtype: np.dtype

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """float array -> integer array, rounded and clipped to the dtype's range."""
        info = np.iinfo(self.dtype)
        q = np.round(np.asarray(x, dtype=np.float32) / self.scale) + self.zero_point
        return np.clip(q, info.min, info.max).astype(self.dtype)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        """integer array -> float32 array."""
        return ((np.asarray(q).astype(np.float32) - self.zero_point) * self.scale).astype(np.float32)


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output.

    Attributes:
        name: tensor name in the file.
        shape: dimensions; ``None`` for a dynamic one.
        dtype: numpy dtype of the tensor in the file.
        quant: scale/zero point for integer tensors, None for float ones.
    """

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype
    quant: QuantParams | None = None


class Backend(ABC):
    """One model file loaded into one runtime. Subclasses fill in the runtime calls.

    Args:
        path: model file.
        threads: intra-op CPU threads for the runtime (None: the runtime's default).

    Attributes (set by subclasses before :meth:`_finish_init`):
        input: the single image input.
        outputs: outputs in file order.
        metadata: the file's key/value metadata (``dict[str, str]``).
    """

    #: short name used by ``load_backend(..., backend=name)``
    name: ClassVar[str] = ""
    #: file suffixes this runtime reads, lower case with the dot
    suffixes: ClassVar[tuple[str, ...]] = ()
    #: ``pip install -e ".[<extra>]"`` (in the clone) installs the runtime
    extra: ClassVar[str] = ""
    #: whether the runtime allows concurrent ``run`` calls on one session
    concurrent_runs: ClassVar[bool] = False

    input: TensorInfo
    outputs: list[TensorInfo]
    metadata: dict[str, str]
    #: exception types the runtime raises for a failed call (wrapped in ModelFileError)
    runtime_errors: tuple[type[BaseException], ...] = (RuntimeError, ValueError)

    def __init__(self, path: str | os.PathLike[str], threads: int | None = None) -> None:
        self.path = Path(path)
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise InputError(f"threads must be a positive int or None; got {threads!r}")
        self.threads = threads
        self._lock = threading.Lock()
        self._closed = False
        # run_parallel: idle workers, a slot per worker that may exist, and the threads
        self._worker_lock = threading.Lock()
        self._idle_workers: list[Worker] = []
        self._worker_slots = threading.BoundedSemaphore(self.parallel_workers)
        self._executor: ThreadPoolExecutor | None = None

    # ---- set-up helpers for subclasses --------------------------------------------
    def _finish_init(self) -> None:
        """Derive layout, batch mode and input size; call at the end of a subclass __init__."""
        shape = self.input.shape
        if len(shape) != 4:
            raise ModelFileError(
                f"{self.path.name}: the input {self.input.name!r} has shape {shape}; "
                "an image model needs a 4-D input (N, C, H, W) or (N, H, W, C)"
            )
        self.layout = self._detect_layout()
        c_axis, h_axis, w_axis = (1, 2, 3) if self.layout == "NCHW" else (3, 1, 2)
        if shape[c_axis] not in (None, 3):
            raise ModelFileError(
                f"{self.path.name}: the input has {shape[c_axis]} channels in {self.layout} "
                "layout; edgepose models take 3-channel images"
            )
        self.input_hw: tuple[int | None, int | None] = (shape[h_axis], shape[w_axis])
        self.dynamic_batch = shape[0] is None
        if not self.dynamic_batch and shape[0] != 1:
            raise ModelFileError(
                f"{self.path.name}: fixed batch size {shape[0]} is not supported; export "
                "with batch 1 or a dynamic batch dimension"
            )
        self._check_integer_io()
        logger.info(
            "%s: %s backend, input %s %s %s (%s batch), outputs %s, threads=%s",
            self.path.name, self.name, self.input.name, shape, np.dtype(self.input.dtype).name,
            "dynamic" if self.dynamic_batch else "fixed", [o.name for o in self.outputs], self.threads,
        )

    def _detect_layout(self) -> str:
        """Layout from the metadata's "layout" field, else from where the 3 channels are."""
        declared = self.edgepose_metadata_field("layout")
        shape = self.input.shape
        if declared is not None:
            if declared not in LAYOUTS:
                raise ModelFileError(f"{self.path.name}: metadata layout {declared!r} not in {LAYOUTS}")
            return declared
        if shape[1] == 3 and shape[3] != 3:
            return "NCHW"
        if shape[3] == 3 and shape[1] != 3:
            return "NHWC"
        if shape[1] == 3:  # 3x?x3: ambiguous; NCHW is what torch exports
            logger.warning("%s: layout ambiguous for input shape %s; assuming NCHW", self.path.name, shape)
            return "NCHW"
        raise ModelFileError(
            f"{self.path.name}: cannot tell the layout of input shape {shape} (no 3-channel axis "
            "and no 'layout' in the metadata)"
        )

    def _check_integer_io(self) -> None:
        """8-bit outputs need a scale/zero point; wider integer outputs (class ids, counts)
        are returned cast to float32; an unquantized integer input takes that dtype as is."""
        for t in self.outputs:
            if np.dtype(t.dtype).itemsize == 1 and np.issubdtype(t.dtype, np.integer) and t.quant is None:
                raise ModelFileError(
                    f"{self.path.name}: output {t.name!r} is {np.dtype(t.dtype).name} but the file "
                    "gives no scale/zero point for it (TFLite tensor details or the metadata's "
                    "'io_quantization' entry)"
                )

    def edgepose_metadata_field(self, key: str) -> Any:
        """One field of the edgepose JSON metadata, or None (no metadata or no such field)."""
        doc = self._edgepose_json()
        return doc.get(key) if doc is not None else None

    def _edgepose_json(self) -> dict[str, Any] | None:
        text = self.metadata.get(METADATA_KEY)
        if text is None:
            return None
        doc = loads_metadata(text, self.path.name)
        if not isinstance(doc, dict):
            raise ModelFileError(f"{self.path.name}: the edgepose metadata is not a JSON object")
        return doc

    def quant_from_metadata(self, name: str, dtype: np.dtype) -> QuantParams | None:
        """Scale/zero point of tensor ``name`` from the metadata's ``io_quantization`` entry."""
        if not np.issubdtype(dtype, np.integer):
            return None
        table = self.edgepose_metadata_field("io_quantization") or {}
        entry = table.get(name) if isinstance(table, dict) else None
        if entry is None:
            return None
        try:
            if isinstance(entry, (str, bytes, dict)) or len(entry) != 2:
                raise TypeError("not a pair")
            scale, zero_point = float(entry[0]), int(entry[1])
        except (TypeError, ValueError, LookupError, OverflowError):
            raise ModelFileError(
                f"{self.path.name}: io_quantization[{name!r}] must be [scale, zero_point]; got {entry!r}"
            ) from None
        info = np.iinfo(dtype)
        if not 0 < scale < float("inf") or not info.min <= zero_point <= info.max:
            raise ModelFileError(
                f"{self.path.name}: io_quantization[{name!r}] needs a finite scale > 0 and a zero point in "
                f"{info.min}..{info.max}; got {entry!r}"
            )
        return QuantParams(scale, zero_point, np.dtype(dtype))

    # ---- running ------------------------------------------------------------------
    @property
    def output_names(self) -> list[str]:
        """Output tensor names in file order."""
        return [o.name for o in self.outputs]

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run the model on ``batch (N, 3, H, W)`` (NCHW whatever the model's layout).

        Args:
            batch: float32 (or the model's integer input dtype, passed unchanged), N >= 1.

        Returns:
            One float32 array per output, each with leading dimension N.

        Raises:
            InputError: batch of the wrong rank, channel count or size.
            ModelFileError: the runtime failed on this model (message names the file).
        """
        if self._closed:
            raise InputError(f"{self.path.name}: the {self.name} backend is closed")
        return self._run_prepared(self._prepare(batch))

    def _run_prepared(self, x: np.ndarray) -> list[np.ndarray]:
        return self._dequantize_all(self._raw_outputs(self._guarded_infer, x))

    def _raw_outputs(self, infer: Worker, x: np.ndarray) -> list[np.ndarray]:
        """``infer`` on a prepared batch: in one call when the batch axis is dynamic, else
        one call per crop."""
        if self.dynamic_batch or x.shape[0] == 1:
            return infer(x)
        return self._concatenate([infer(x[i:i + 1]) for i in range(x.shape[0])])

    def _concatenate(self, parts: list[list[np.ndarray]]) -> list[np.ndarray]:
        """Per output, the parts' arrays joined along the batch axis."""
        return [np.concatenate([p[j] for p in parts], axis=0) for j in range(len(self.outputs))]

    def _dequantize_all(self, raw: list[np.ndarray]) -> list[np.ndarray]:
        return [self._dequantize(out, info) for out, info in zip(raw, self.outputs, strict=True)]

    @property
    def parallel_workers(self) -> int:
        """How many chunks :meth:`run_parallel` cuts a batch into at most: ``threads``, or
        the usable CPU cores when ``threads`` is None."""
        return self.threads if self.threads is not None else available_cpus()

    def run_parallel(self, batch: np.ndarray) -> list[np.ndarray]:
        """Like :meth:`run`, but the N crops are spread over ``parallel_workers`` threads.

        The batch is cut into ``min(N, parallel_workers)`` contiguous chunks; each chunk
        runs (batched if the model's batch axis is dynamic, else crop by crop) on its own
        single-threaded runtime instance, concurrently. Results equal :meth:`run`'s up to
        the runtime's float summation order. With one chunk this is :meth:`run`.

        Workers are created on first use and kept until :meth:`close`; each holds its own
        copy of the packed weights (an ONNX Runtime session shared by all workers, one
        OpenVINO stream each, one LiteRT interpreter each).

        Args:
            batch: as for :meth:`run`.

        Returns:
            One float32 array per output, each with leading dimension N, in batch order.
        """
        if self._closed:
            raise InputError(f"{self.path.name}: the {self.name} backend is closed")
        x = self._prepare(batch)
        chunks = min(x.shape[0], self.parallel_workers)
        if chunks <= 1:
            return self._run_prepared(x)
        with self._worker_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.parallel_workers,
                                                    thread_name_prefix=f"edgepose-{self.name}")
            executor = self._executor
        parts = list(executor.map(self._run_chunk, np.array_split(x, chunks)))
        return self._dequantize_all(self._concatenate(parts))

    def _run_chunk(self, x: np.ndarray) -> list[np.ndarray]:
        """Run one chunk on an idle worker (made if fewer than ``parallel_workers`` exist)."""
        self._worker_slots.acquire()
        try:
            with self._worker_lock:
                worker = self._idle_workers.pop() if self._idle_workers else None
            if worker is None:
                try:
                    worker = self._make_worker()
                except self.runtime_errors as exc:
                    raise self._runtime_failure("make a worker", exc) from exc
            try:
                return self._raw_outputs(worker, x)
            except self.runtime_errors as exc:
                raise self._runtime_failure("run the model", exc) from exc
            finally:
                with self._worker_lock:
                    self._idle_workers.append(worker)
        finally:
            self._worker_slots.release()

    @abstractmethod
    def _make_worker(self) -> Worker:
        """A single-threaded runtime instance for :meth:`run_parallel` (called from a worker
        thread, at most ``parallel_workers`` times)."""

    def _prepare(self, batch: np.ndarray) -> np.ndarray:
        if not isinstance(batch, np.ndarray):
            raise InputError(f"batch must be a numpy array; got {type(batch).__name__}")
        if batch.ndim != 4 or batch.shape[1] != 3 or batch.shape[0] < 1:
            raise InputError(f"batch must have shape (N>=1, 3, H, W) (NCHW); got {batch.shape}")
        want = self.input_hw
        got = batch.shape[2:]
        if any(w is not None and w != g for w, g in zip(want, got, strict=True)):
            raise InputError(f"{self.path.name} takes {want[0]}x{want[1]} (HxW) crops; got {got[0]}x{got[1]}")
        x = batch.transpose(0, 2, 3, 1) if self.layout == "NHWC" else batch
        dtype = np.dtype(self.input.dtype)
        if x.dtype == dtype:
            return np.ascontiguousarray(x)
        if np.issubdtype(dtype, np.integer):
            if self.input.quant is None:
                raise ModelFileError(
                    f"{self.path.name}: the input is {dtype.name} without scale/zero point; pass "
                    f"{dtype.name} data or add io_quantization to the metadata"
                )
            return np.ascontiguousarray(self.input.quant.quantize(x))
        if not np.issubdtype(x.dtype, np.floating):
            raise InputError(f"batch dtype {x.dtype} does not match the model input ({dtype.name})")
        return np.ascontiguousarray(x, dtype=dtype)

    def _dequantize(self, out: np.ndarray, info: TensorInfo) -> np.ndarray:
        if info.quant is not None and np.issubdtype(out.dtype, np.integer):
            return info.quant.dequantize(out)
        return np.asarray(out, dtype=np.float32)

    def _guarded_infer(self, x: np.ndarray) -> list[np.ndarray]:
        try:
            if self.concurrent_runs:
                return self._infer(x)
            with self._lock:
                return self._infer(x)
        except self.runtime_errors as exc:
            raise self._runtime_failure("run the model", exc) from exc

    def _runtime_failure(self, what: str, exc: BaseException) -> ModelFileError:
        return ModelFileError(f"{self.path.name}: {self.name} failed to {what}: {exc}")

    @abstractmethod
    def _infer(self, x: np.ndarray) -> list[np.ndarray]:
        """One runtime call on a prepared batch (layout and dtype of the model input)."""

    # ---- life cycle -----------------------------------------------------------------
    def close(self) -> None:
        """Release the runtime session and the parallel workers. Further ``run`` calls raise
        InputError."""
        self._closed = True
        with self._worker_lock:
            executor, self._executor = self._executor, None
            self._idle_workers.clear()
        if executor is not None:
            executor.shutdown(wait=True)
        self._release()

    def _release(self) -> None:  # noqa: B027 - optional hook
        """Drop runtime objects (subclasses)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({str(self.path)!r}, threads={self.threads}, layout={self.layout}, "
                f"dynamic_batch={self.dynamic_batch})")


def check_model_file(path: str | os.PathLike[str], fmt: str) -> Path:
    """Cheap checks before a runtime sees ``path``: exists, not empty, right container.

    Args:
        path: model file.
        fmt: "onnx", "tflite" or "openvino" (IR ``.xml``).

    Raises:
        ModelFileError: missing, empty, a Git LFS pointer, or (TFLite) without the
            ``TFL3`` flatbuffer identifier.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"model file {p} does not exist")
    size = p.stat().st_size
    if size == 0:
        raise ModelFileError(f"model file {p} is empty")
    with open(p, "rb") as fh:
        head = fh.read(64)
    if head.startswith(_LFS_POINTER):
        raise ModelFileError(f"{p} is a Git LFS pointer, not the model; fetch it with `git lfs pull`")
    if fmt == "tflite" and (size < 8 or head[4:8] != b"TFL3"):
        raise ModelFileError(
            f"{p} is not a TFLite model (flatbuffer identifier {head[4:8]!r}, expected b'TFL3'): "
            "the file is corrupted, truncated or of another format"
        )
    if fmt == "onnx" and size >= 8 and head[4:8] == b"TFL3":
        raise ModelFileError(f"{p} is a TFLite model, not ONNX: rename it to .tflite")
    return p
