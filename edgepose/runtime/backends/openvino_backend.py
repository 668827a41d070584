"""OpenVINO backend (``pip install -e ".[openvino]"``): ``.onnx`` files or OpenVINO IR ``.xml``.

ONNX files are read through OpenVINO's ONNX frontend only (not by probing every
frontend), so a corrupted file fails with one clear error. ONNX ``metadata_props`` appear
in the model's ``rt_info["framework"]``; IR files may carry them there or as top-level
``rt_info`` entries. Compiled models run one infer request at a time, behind a lock;
:meth:`~edgepose.runtime.backends.Backend.run_parallel` compiles the model a second time for
throughput (one single-threaded stream per worker, one infer request each).
"""

from __future__ import annotations

import logging
import os

import numpy as np

from edgepose.runtime.backends.base import Backend, TensorInfo, Worker, check_model_file
from edgepose.runtime.metadata_json import METADATA_KEY
from edgepose.errors import BackendNotInstalledError, ModelFileError, install_hint

logger = logging.getLogger(__name__)


def _import_ov():  # noqa: ANN202 - returns the module
    try:
        import openvino
    except ImportError as exc:
        raise BackendNotInstalledError(
            "the openvino backend needs the openvino package: " + install_hint("openvino")
        ) from exc
    return openvino


class OpenVINOBackend(Backend):
    """A model compiled by OpenVINO for a device (default ``"CPU"``).

    Args:
        path: ``.onnx`` or ``.xml`` (IR; the ``.bin`` beside it).
        threads: ``INFERENCE_NUM_THREADS`` (None: OpenVINO's default).
        device: OpenVINO device name.
        inference_precision: ``INFERENCE_PRECISION_HINT``. Default "f32": on CPUs with
            bf16/AMX units OpenVINO would otherwise compute float models in bf16
            (about 0.5 % relative error on logits). Pass "" to keep OpenVINO's choice.
    """

    name = "openvino"
    suffixes = (".onnx", ".xml")
    extra = "openvino"
    concurrent_runs = False

    def __init__(self, path: str | os.PathLike[str], threads: int | None = None, device: str = "CPU",
                 inference_precision: str = "f32") -> None:
        super().__init__(path, threads)
        ov = _import_ov()
        self.runtime_errors = (RuntimeError, ValueError, *_frontend_errors())
        suffix = self.path.suffix.lower()
        check_model_file(self.path, "onnx" if suffix == ".onnx" else "openvino")
        self._core, self._device, self._precision = ov.Core(), device, inference_precision
        self._throughput_compiled = None
        try:
            model = self._read_model()
            config: dict[str, object] = {}
            if threads is not None:
                config["INFERENCE_NUM_THREADS"] = threads
            if inference_precision:
                config["INFERENCE_PRECISION_HINT"] = inference_precision
            self._compiled = self._core.compile_model(model, device, config)
        except self.runtime_errors as exc:
            raise ModelFileError(f"{self.path}: OpenVINO cannot load it ({str(exc).strip()})") from exc
        self.metadata = self._read_metadata(model)
        if len(self._compiled.inputs) != 1:
            raise ModelFileError(f"{self.path.name}: expected one image input, found {len(self._compiled.inputs)}")
        self.input = self._info(self._compiled.inputs[0], _port_name(model.inputs[0]))
        self.outputs = [self._info(o, _port_name(m))
                        for o, m in zip(self._compiled.outputs, model.outputs, strict=True)]
        self._request = self._compiled.create_infer_request()
        self._finish_init()

    def _read_model(self):  # noqa: ANN202 - an openvino.Model
        if self.path.suffix.lower() == ".onnx":
            from openvino.frontend import FrontEndManager

            frontend = FrontEndManager().load_by_framework("onnx")
            return frontend.convert(frontend.load(str(self.path)))
        return self._core.read_model(str(self.path))

    @staticmethod
    def _read_metadata(model: object) -> dict[str, str]:
        rt = model.get_rt_info()  # type: ignore[attr-defined]
        out: dict[str, str] = {}
        if "framework" in rt:
            for key in list(rt["framework"].keys()):
                out[str(key)] = model.get_rt_info(["framework", key]).astype(str)  # type: ignore[attr-defined]
        if METADATA_KEY in rt:
            out[METADATA_KEY] = model.get_rt_info([METADATA_KEY]).astype(str)  # type: ignore[attr-defined]
        return out

    def _info(self, port: object, name: str) -> TensorInfo:
        pshape = port.get_partial_shape()  # type: ignore[attr-defined]
        shape = tuple(None if d.is_dynamic else d.get_length() for d in pshape)
        dtype = np.dtype(port.get_element_type().to_dtype())  # type: ignore[attr-defined]
        return TensorInfo(name, shape, dtype, self.quant_from_metadata(name, dtype))

    def _infer(self, x: np.ndarray) -> list[np.ndarray]:
        result = self._request.infer({0: x}, share_inputs=False)
        return [np.array(result[port]) for port in self._compiled.outputs]

    def _make_worker(self) -> Worker:
        with self._worker_lock:
            if self._throughput_compiled is None:
                streams = self.parallel_workers
                config: dict[str, object] = {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": streams,
                                             "INFERENCE_NUM_THREADS": streams}
                if self._precision:
                    config["INFERENCE_PRECISION_HINT"] = self._precision
                self._throughput_compiled = self._core.compile_model(self._read_model(), self._device, config)
            compiled = self._throughput_compiled
        request = compiled.create_infer_request()

        def infer(x: np.ndarray) -> list[np.ndarray]:
            result = request.infer({0: x}, share_inputs=False)
            return [np.array(result[port]) for port in compiled.outputs]

        return infer

    def _release(self) -> None:
        self._request = None
        self._compiled = None
        self._throughput_compiled = None


def _port_name(port: object) -> str:
    """The file's tensor name of a model (not compiled-model) port.

    Compiled models may merge tensors and give a port several names, so names are taken
    before compilation; a Result named ``<name>/sink_port_0`` settles any remaining tie.
    """
    names = sorted(port.get_names())  # type: ignore[attr-defined]
    if not names:
        return f"tensor{port.get_index()}"  # type: ignore[attr-defined]
    if len(names) > 1:
        node_name = port.get_node().get_friendly_name()  # type: ignore[attr-defined]
        for n in names:
            if node_name in (n, f"{n}/sink_port_0"):
                return n
    return names[0]


def _frontend_errors() -> tuple[type[BaseException], ...]:
    """OpenVINO's frontend error types (pybind11 exceptions not derived from RuntimeError)."""
    from openvino import frontend

    return tuple(
        getattr(frontend, n) for n in ("GeneralFailure", "InitializationFailure", "NotImplementedFailure",
                                       "OpConversionFailure", "OpValidationFailure")
        if hasattr(frontend, n)
    )
