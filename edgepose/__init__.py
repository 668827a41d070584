"""edgepose: SimDR human-pose models for low-resolution edge inference.

Folders say which half a module belongs to (tests/test_import_guard.py checks it):

* the numpy core, shared by both halves: ``errors``, ``skeleton``, ``geometry``, ``preprocess``,
  ``codecs/``, ``zoo`` (the registry), ``download`` (its files on disk, verified), ``checks``,
  ``atomic``, ``version``;
* ``runtime/``: the torch-free runtime (Estimator, backends, model files and their metadata,
  detect, track, smooth, draw), needing only numpy, OpenCV and one inference runtime; ``video``,
  ``bench/`` and ``commands/`` are programs over it;
* the torch side: ``nn/``, ``data/``, ``train/``, ``export/`` and ``evaluate`` (the ``train`` /
  ``export`` extras).

This module is the public API: ``from edgepose import Estimator, EstimatorOptions, list_models``.
"""

from __future__ import annotations

from edgepose.codecs import Codec, HeatmapCodec, SimDRCodec, SimDRStarCodec, codec_from_dict
from edgepose.errors import (
    BackendNotInstalledError,
    ChecksumError,
    EdgeposeError,
    InputError,
    ModelFileError,
    UnknownModelError,
)
from edgepose.runtime.estimator import MAX_FRAME_PIXELS, Estimator
from edgepose.runtime.model_info import load_model
from edgepose.runtime.options import EstimatorOptions, ModelDescription
from edgepose.runtime.result import Person, PoseResult
from edgepose.skeleton import get_keypoint_set
from edgepose.runtime.smooth import OneEuroParams
from edgepose.version import __version__
from edgepose.zoo import ModelFile, ModelSpec, get_spec, list_models


__all__ = [
    "__version__",
    "BackendNotInstalledError", "ChecksumError", "EdgeposeError", "InputError",
    "ModelFileError", "UnknownModelError",
    "Codec", "HeatmapCodec", "SimDRCodec", "SimDRStarCodec", "codec_from_dict",
    "ModelFile", "ModelSpec", "get_keypoint_set", "get_spec", "list_models",
    "Estimator", "EstimatorOptions", "ModelDescription", "Person", "PoseResult", "OneEuroParams", "load_model", "MAX_FRAME_PIXELS",
]
