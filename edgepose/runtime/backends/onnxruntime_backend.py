"""ONNX Runtime backend (``pip install -e ".[ort]"``).

Sessions run on the CPU execution provider unless ``providers`` says otherwise.
``InferenceSession.run`` is documented as thread-safe, so one backend may serve several
threads concurrently; :meth:`~edgepose.runtime.backends.Backend.run_parallel` therefore shares
one extra single-threaded session between all its workers. Metadata comes from
``get_modelmeta().custom_metadata_map``, where ONNX ``metadata_props`` land.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np

from edgepose.runtime.backends.base import Backend, QuantParams, TensorInfo, Worker, check_model_file
from edgepose.errors import BackendNotInstalledError, ModelFileError, install_hint

logger = logging.getLogger(__name__)

_ORT_TYPES = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8, "tensor(int8)": np.int8, "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
}


def _import_ort():  # noqa: ANN202 - returns the module
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendNotInstalledError(
            "the onnxruntime backend needs the onnxruntime package: " + install_hint("ort")
        ) from exc
    return onnxruntime


def _short_spin_entry(version: str) -> tuple[str, str]:
    """Session config entry that keeps an idle intra-op pool from spinning for long.

    By default the pool's threads spin after a ``run`` returns, long enough to take the
    cores that :meth:`~edgepose.runtime.backends.Backend.run_parallel`'s workers start on right
    after a single-crop call. Measured on 2 cores, ``simdr_r50_128`` int8, 4 crops spread
    over two workers just after a 2-thread single call: 35.1 ms with the default spin,
    17.3 ms with a 100 us spin, while the single call kept its latency (6.20 vs 6.13 ms).
    ONNX Runtime 1.26+ takes ``spin_duration_us``; older ones only
    ``force_spinning_stop`` (spinning ends when a run returns).
    """
    try:
        major, minor = (int(part) for part in version.split(".")[:2])
    except ValueError:
        major, minor = 0, 0
    if (major, minor) >= (1, 26):
        return "session.intra_op.spin_duration_us", "100"
    return "session.force_spinning_stop", "1"


class OnnxRuntimeBackend(Backend):
    """An ``.onnx`` file in an ONNX Runtime ``InferenceSession``.

    Args:
        path: ``.onnx`` file.
        threads: ``intra_op_num_threads`` (None: ONNX Runtime's default, all cores).
        providers: execution providers, default ``["CPUExecutionProvider"]``.
    """

    name = "onnxruntime"
    suffixes = (".onnx",)
    extra = "ort"
    concurrent_runs = True

    def __init__(self, path: str | os.PathLike[str], threads: int | None = None,
                 providers: Sequence[str] | None = None) -> None:
        super().__init__(path, threads)
        ort = _import_ort()
        from onnxruntime.capi import onnxruntime_pybind11_state as state

        self.runtime_errors = tuple(
            v for v in vars(state).values() if isinstance(v, type) and issubclass(v, Exception)
        ) + (RuntimeError, ValueError)
        check_model_file(self.path, "onnx")
        self._providers = list(providers or ["CPUExecutionProvider"])
        self._worker_session = None
        try:
            self._session = self._new_session(threads)
        except self.runtime_errors as exc:
            raise ModelFileError(f"{self.path}: ONNX Runtime cannot load it ({exc})") from exc
        try:
            self.metadata = dict(self._session.get_modelmeta().custom_metadata_map)
        except UnicodeDecodeError as exc:
            raise ModelFileError(f"{self.path}: the model's metadata_props are not UTF-8 text ({exc})") from None
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise ModelFileError(
                f"{self.path.name}: expected one image input, found {[i.name for i in inputs]}"
            )
        self.input = self._info(inputs[0])
        self.outputs = [self._info(o) for o in self._session.get_outputs()]
        self._finish_init()

    def _new_session(self, threads: int | None):  # noqa: ANN202 - an onnxruntime.InferenceSession
        ort = _import_ort()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.inter_op_num_threads = 1
        if threads is not None:
            options.intra_op_num_threads = threads
        if threads != 1:
            key, value = _short_spin_entry(ort.__version__)
            options.add_session_config_entry(key, value)
        return ort.InferenceSession(str(self.path), sess_options=options, providers=self._providers)

    def _info(self, arg: object) -> TensorInfo:
        name, type_str = arg.name, arg.type  # type: ignore[attr-defined]
        if type_str not in _ORT_TYPES:
            raise ModelFileError(f"{self.path.name}: tensor {name!r} has unsupported type {type_str}")
        dtype = np.dtype(_ORT_TYPES[type_str])
        shape = tuple(d if isinstance(d, int) and d > 0 else None for d in arg.shape)  # type: ignore[attr-defined]
        quant: QuantParams | None = self.quant_from_metadata(name, dtype)
        return TensorInfo(name, shape, dtype, quant)

    def _infer(self, x: np.ndarray) -> list[np.ndarray]:
        return list(self._session.run(None, {self.input.name: x}))

    def _make_worker(self) -> Worker:
        with self._worker_lock:
            if self._worker_session is None:
                self._worker_session = self._new_session(1)
            session = self._worker_session
        name = self.input.name
        return lambda x: list(session.run(None, {name: x}))

    def _release(self) -> None:
        self._session = None  # type: ignore[assignment]
        self._worker_session = None
