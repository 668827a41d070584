"""Inference backends, one module per runtime; runtimes are imported only when used.

=============  ===============  ================================  ===================================
name           reads            package                           install (in the clone)
=============  ===============  ================================  ===================================
onnxruntime    .onnx            onnxruntime                       ``pip install -e ".[ort]"``
tflite         .tflite          ai-edge-litert (or tflite-runtime) ``pip install -e ".[tflite]"``
openvino       .onnx, .xml      openvino                          ``pip install -e ".[openvino]"``
=============  ===============  ================================  ===================================

:func:`load_backend` picks the backend from the file suffix unless one is named:
``.onnx`` -> onnxruntime (OpenVINO when only OpenVINO is installed, with a warning),
``.tflite`` -> tflite, ``.xml`` -> openvino.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

from edgepose.runtime.backends.base import Backend, QuantParams, TensorInfo, check_model_file
from edgepose.errors import BackendNotInstalledError, InputError, install_hint

logger = logging.getLogger(__name__)

#: backend name -> (module, class, packages that provide the runtime, pip extra)
BACKENDS: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "onnxruntime": ("edgepose.runtime.backends.onnxruntime_backend", "OnnxRuntimeBackend", ("onnxruntime",), "ort"),
    "tflite": ("edgepose.runtime.backends.tflite_backend", "TFLiteBackend", ("ai_edge_litert", "tflite_runtime"), "tflite"),
    "openvino": ("edgepose.runtime.backends.openvino_backend", "OpenVINOBackend", ("openvino",), "openvino"),
}
ALIASES = {"ort": "onnxruntime", "onnx": "onnxruntime", "litert": "tflite", "ov": "openvino"}
SUFFIXES = {".onnx": ("onnxruntime", "openvino"), ".tflite": ("tflite",), ".xml": ("openvino",)}


def canonical_name(backend: str) -> str:
    """``"ort"`` -> ``"onnxruntime"`` etc.; InputError for unknown names."""
    name = ALIASES.get(backend.lower(), backend.lower()) if isinstance(backend, str) else None
    if name not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; choose from {sorted(BACKENDS)} (or {sorted(ALIASES)})")
    return name


def is_available(backend: str) -> bool:
    """Whether the runtime package of ``backend`` is installed (without importing it)."""
    packages = BACKENDS[canonical_name(backend)][2]
    return any(importlib.util.find_spec(p) is not None for p in packages)


def require_installed(backend: str) -> str:
    """The canonical name of ``backend``; BackendNotInstalledError naming its package and extra if missing."""
    name = canonical_name(backend)
    if not is_available(name):
        raise BackendNotInstalledError(
            f"the {name} backend needs {' or '.join(BACKENDS[name][2])}, which is not installed: "
            f"{install_hint(BACKENDS[name][3])}"
        )
    return name


def available_backends() -> list[str]:
    """Names of the backends whose runtime is installed."""
    return [name for name in BACKENDS if is_available(name)]


def backends_for_suffix(suffix: str) -> tuple[str, ...]:
    """Backends able to read files with ``suffix`` (preferred first)."""
    try:
        return SUFFIXES[suffix.lower()]
    except KeyError:
        raise InputError(
            f"unsupported model file type {suffix!r}; edgepose reads {sorted(SUFFIXES)}"
        ) from None


def choose_backend(path: str | os.PathLike[str], backend: str | None = None) -> str:
    """The backend name that will read ``path``.

    Raises:
        InputError: unknown suffix, or a named backend that cannot read that suffix.
        BackendNotInstalledError: no installed runtime reads the file (names the extra).
    """
    suffix = Path(path).suffix.lower()
    candidates = backends_for_suffix(suffix)
    if backend is not None:
        name = canonical_name(backend)
        if name not in candidates:
            raise InputError(f"the {name} backend cannot read {suffix} files (use one of {list(candidates)})")
        return require_installed(name)
    for i, name in enumerate(candidates):
        if is_available(name):
            if i > 0:
                logger.warning("%s is not installed; %s runs %s", candidates[0], name, Path(path).name)
            return name
    extras = " or ".join(install_hint(BACKENDS[n][3]) for n in candidates)
    raise BackendNotInstalledError(f"no runtime for {suffix} files is installed: {extras}")


def load_backend(
    path: str | os.PathLike[str], backend: str | None = None, threads: int | None = None, **options: Any
) -> Backend:
    """Load ``path`` into a backend chosen by suffix or by name.

    Args:
        path: ``.onnx``, ``.tflite`` or ``.xml`` model file.
        backend: "onnxruntime" | "tflite" | "openvino" (aliases "ort", "litert", "ov") or None.
        threads: CPU threads for the runtime (None: its default).
        **options: runtime-specific keyword arguments (``providers`` for onnxruntime,
            ``device`` for openvino).

    Raises:
        ModelFileError: missing, truncated or corrupted file.
        BackendNotInstalledError: the runtime is not installed (message names the pip extra).
    """
    name = choose_backend(path, backend)
    module_name, class_name, _, _ = BACKENDS[name]
    module = importlib.import_module(module_name)
    cls: type[Backend] = getattr(module, class_name)
    return cls(path, threads=threads, **options)


__all__ = [
    "BACKENDS", "Backend", "QuantParams", "TensorInfo", "available_backends", "backends_for_suffix",
    "canonical_name", "check_model_file", "choose_backend", "is_available", "load_backend",
]
