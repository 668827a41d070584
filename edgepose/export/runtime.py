"""Run an exported file through the runtime backends (torch-free): self-checks, tests, verify.

The file is opened with :func:`edgepose.runtime.backends.load_backend` - the same code path as the
``Estimator`` - and its outputs are put in codec order (``simcc_x, simcc_y`` or
``heatmaps``) using the roles listed in the file's metadata.
"""

from __future__ import annotations

import logging
import os
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgepose.errors import ModelFileError
from edgepose.export.model_files import read_metadata
from edgepose.codecs import Codec, codec_from_dict
from edgepose.runtime.metadata import codec_of
from edgepose.runtime.timing import time_calls_ms

logger = logging.getLogger(__name__)

__all__ = ["FileRunner", "median_latency_ms"]


class FileRunner:
    """An exported file opened in its runtime backend.

    Args:
        path: ``.onnx`` or ``.tflite`` file with edgepose metadata.
        threads: runtime CPU threads (1 for latency comparisons).

    ``run(batch)``: ``batch (N, 3, H, W)`` float32 normalised crops -> float32 outputs in
    codec order. ``meta`` is the file's metadata, ``codec`` the codec it names (which names the
    outputs it takes, ``codec.output_names``).
    """

    def __init__(self, path: str | os.PathLike[str], threads: int = 1) -> None:
        from edgepose.runtime.backends import load_backend

        self.path = Path(path)
        self.meta: dict[str, Any] = read_metadata(self.path)
        self.backend = load_backend(self.path, threads=threads)
        roles = list(self.meta["outputs"])
        if len(roles) != len(self.backend.outputs):
            raise ModelFileError(
                f"{self.path}: metadata lists {len(roles)} outputs, the file has {len(self.backend.outputs)}"
            )
        self.codec: Codec = codec_from_dict(codec_of(self.meta))
        missing = [name for name in self.codec.output_names if name not in roles]
        if missing:
            raise ModelFileError(f"{self.path}: metadata outputs {roles} lack the codec's {missing}")
        self._order = [roles.index(name) for name in self.codec.output_names]

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """NCHW float32 batch -> float32 outputs in codec order."""
        outs = self.backend.run(np.ascontiguousarray(batch, dtype=np.float32))
        return [outs[i] for i in self._order]

    def close(self) -> None:
        """Release the runtime session."""
        self.backend.close()

    def __enter__(self) -> "FileRunner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def median_latency_ms(fn: Callable[[], Any], *, repeats: int = 30, warmup: int = 5) -> float:
    """Median wall time in ms of ``fn()`` after ``warmup`` untimed calls."""
    return statistics.median(time_calls_ms(fn, repeats=repeats, warmup=warmup))
