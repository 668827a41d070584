"""edgepose: SimDR human-pose models for low-resolution edge inference.

The runtime part of the package (this module, codecs, geometry, registry, backends,
Estimator) needs only numpy, OpenCV and one inference runtime; it never imports torch,
nncf or tensorflow. Training (`edgepose.nn`, `edgepose.data`) and export
(`edgepose.export`) need the ``train`` / ``export`` extras.
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
