"""Model-file metadata: one JSON object that makes an ONNX or TFLite file self-describing.

The object is stored under the key ``"edgepose"``:

* ONNX: a ``metadata_props`` entry of the ``ModelProto`` (ONNX Runtime shows it in
  ``InferenceSession.get_modelmeta().custom_metadata_map["edgepose"]``);
* TFLite: a flatbuffer ``metadata`` entry named ``"edgepose"`` whose buffer holds the
  UTF-8 JSON.

Fields (``format_version`` 1)::

    format_version   1
    edgepose_version version of the package that wrote the file
    model            registry name
    spec             ModelSpec.to_dict() without "files"
    codec            codec dict (codec_from_dict rebuilds it)
    input_hw         [H, W]
    mean, std        3 floats each, per input channel in the model's channel order, pixel/255
    color_order      "bgr" | "rgb"
    keypoint_set     "coco17" | "mpii16" | "crowdpose14"
    layout           "NCHW" | "NHWC"  (layout of the input tensor)
    input_dtype      "float32" | "int8" (int8: quantise with the input tensor's scale/zero point)
    output_dtype     "float32" | "int8" (int8: dequantise with each output's scale/zero point)
    precision        "fp32" | "fp16" | "int8"
    outputs          ["simcc_x", "simcc_y"] or ["heatmaps"]: the role of each output tensor, in
                     the file's output order (ONNX graph outputs / TFLite subgraph outputs);
                     the tensors also carry these names (ONNX output names, TFLite
                     signature output names)
    batch_size       null (dynamic batch axis) or the fixed batch size
    input_name       name of the input tensor ("input")
    quantization     only for int8 files: how they were calibrated (free-form dict)

Optional per-weights runtime defaults, so that a file loaded by path (e.g. a shipped file
copied elsewhere) behaves as it does by registry name::

    score_threshold  null or a number in [0, 1]: keypoint score above which these weights'
                     keypoints count as found (``Estimator.score_threshold`` when neither the
                     caller nor the registry gives one). Measured per file by
                     quantization/int8.py (on its calibration crops, as quantization/verify.py
                     does), given to quantization/export.py with --score-threshold, and
                     written by quantization/ship.py to agree with the manifest. Absent/null:
                     the codec's default.
    trained_on       what the weights were trained on (written by quantization/ship.py,
                     as in the manifest)

``spec`` carries the same two values (``spec["score_threshold"]``, ``spec["trained_on"]``),
so it describes the weights in the file rather than whatever the registry ships.

This module is the schema: it builds (:func:`make_metadata`, :func:`with_runtime_defaults`),
checks (:func:`validate_metadata`), serialises (:func:`encode_metadata`) and parses
(:func:`parse_metadata`: strict JSON, never evaluated) the object. The runtime's backends read
it through their own runtimes (:mod:`edgepose.runtime.model_info`); reading and writing it
inside ONNX and TFLite files without those runtimes is the export side's job
(:mod:`edgepose.export.model_files`). Every failure raises :class:`ModelFileError` naming the file.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from edgepose.codecs import CODEC_TYPES, codec_from_dict
from edgepose.errors import EdgeposeError, ModelFileError
from edgepose.preprocess import COLOR_ORDERS, LAYOUTS
from edgepose.runtime.metadata_json import loads_metadata
from edgepose.version import __version__

__all__ = ["DTYPES", "FORMAT_VERSION", "PRECISIONS", "encode_metadata", "make_metadata", "output_names_for_codec",
           "parse_metadata", "validate_metadata", "with_runtime_defaults"]

FORMAT_VERSION = 1
PRECISIONS = ("fp32", "fp16", "int8")
DTYPES = ("float32", "int8")
_KEEP: Any = object()  # with_runtime_defaults: leave the key as it is

_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "format_version": int, "edgepose_version": str, "model": str, "spec": dict, "codec": dict,
    "input_hw": list, "mean": list, "std": list, "color_order": str, "keypoint_set": str,
    "layout": str, "input_dtype": str, "precision": str, "outputs": list,
}


# ---- building and checking the JSON object ------------------------------------------------
def output_names_for_codec(codec: dict[str, Any]) -> list[str]:
    """Output tensor names of a codec dict's type, as the codec class names them
    (:attr:`Codec.output_names`): SimDR -> simcc_x/simcc_y, heatmap -> heatmaps."""
    kind = codec.get("type")
    cls = CODEC_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None or not cls.output_names:
        raise ModelFileError(f"cannot name the outputs of codec type {kind!r}")
    return list(cls.output_names)


def make_metadata(
    spec: Any,
    layout: str,
    precision: str,
    *,
    input_dtype: str = "float32",
    output_dtype: str = "float32",
    batch_size: int | None = None,
    input_name: str = "input",
    quantization: dict[str, Any] | None = None,
    outputs: list[str] | None = None,
    score_threshold: float | None = None,
    trained_on: str | None = None,
) -> dict[str, Any]:
    """The metadata object of one exported file of ``spec`` (a ``ModelSpec``).

    Args:
        spec: the model's ``ModelSpec``.
        layout: "NCHW" or "NHWC", layout of the input tensor of the file.
        precision: "fp32", "fp16" or "int8".
        input_dtype / output_dtype: "float32", or "int8" when the file's input/outputs are
            quantised tensors (their scale and zero point are in the file).
        batch_size: None for a dynamic batch axis, else the fixed batch size.
        input_name: name of the input tensor.
        quantization: calibration details of an int8 file.
        outputs: output names in the file's output order (default: the codec's order,
            ``simcc_x, simcc_y`` or ``heatmaps``); must be a permutation of those.
        score_threshold / trained_on: the weights' runtime defaults (module docstring);
            None leaves them out. The ``spec`` copy gets the same values, not the
            registry's (which describe the shipped weights, not necessarily these).

    Returns:
        A JSON-serialisable dict that passes :func:`validate_metadata`.
    """

    names = output_names_for_codec(dict(spec.codec))
    if outputs is not None and sorted(outputs) != sorted(names):
        raise ModelFileError(f"outputs {outputs} are not the outputs {names} of codec {spec.codec.get('type')!r}")
    spec_dict = spec.to_dict()
    spec_dict.pop("files", None)
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "edgepose_version": __version__,
        "model": spec.name,
        "spec": spec_dict,
        "codec": dict(spec.codec),
        "input_hw": [int(v) for v in spec.input_hw],
        "mean": [float(v) for v in spec.mean],
        "std": [float(v) for v in spec.std],
        "color_order": spec.color_order,
        "keypoint_set": spec.keypoint_set,
        "layout": layout,
        "input_dtype": input_dtype,
        "output_dtype": output_dtype,
        "precision": precision,
        "outputs": list(outputs) if outputs is not None else names,
        "batch_size": batch_size,
        "input_name": input_name,
    }
    if quantization is not None:
        meta["quantization"] = dict(quantization)
    return with_runtime_defaults(meta, score_threshold=score_threshold, trained_on=trained_on)


def with_runtime_defaults(meta: dict[str, Any], *, score_threshold: Any = _KEEP,
                          trained_on: Any = _KEEP) -> dict[str, Any]:
    """A validated copy of ``meta`` with the weights' runtime defaults set (module docstring).

    Each given value (None removes the key) goes to the top level and to the ``spec`` copy;
    an omitted one is left as it is.
    """
    out = dict(meta)
    spec = dict(out["spec"]) if isinstance(out.get("spec"), dict) else None
    for key, value in (("score_threshold", score_threshold), ("trained_on", trained_on)):
        if value is _KEEP:
            continue
        if value is None:
            out.pop(key, None)
        else:
            out[key] = float(value) if key == "score_threshold" and _finite_number(value) else value
        if spec is not None:
            spec[key] = out.get(key, "" if key == "trained_on" else None)
    if spec is not None:
        out["spec"] = spec
    return validate_metadata(out, "<new metadata>")


def validate_metadata(meta: Any, source: str | os.PathLike[str]) -> dict[str, Any]:
    """Check the fields of a metadata object; returns it, or raises ModelFileError naming ``source``."""

    def bad(why: str) -> ModelFileError:
        return ModelFileError(f"{source}: invalid edgepose metadata: {why}")

    if not isinstance(meta, dict):
        raise bad(f"expected a JSON object, got {type(meta).__name__}")
    for key, kind in _REQUIRED.items():
        if key not in meta:
            raise bad(f"missing field {key!r}")
        if not isinstance(meta[key], kind) or isinstance(meta[key], bool):
            raise bad(f"field {key!r} should be {getattr(kind, '__name__', kind)}, got {meta[key]!r}")
    if meta["format_version"] > FORMAT_VERSION:
        raise bad(
            f"format_version {meta['format_version']} is newer than this edgepose understands "
            f"({FORMAT_VERSION}); upgrade edgepose"
        )
    if meta["format_version"] < 1:
        raise bad(f"format_version {meta['format_version']} is not valid")
    hw = meta["input_hw"]
    if len(hw) != 2 or not all(isinstance(v, int) and v > 0 for v in hw):
        raise bad(f"input_hw must be [H, W] positive integers, got {hw!r}")
    for key in ("mean", "std"):
        vals = meta[key]
        if len(vals) != 3 or not all(_finite_number(v) for v in vals):
            raise bad(f"{key} must be 3 finite numbers, got {vals!r}")
    if any(v <= 0 for v in meta["std"]):
        raise bad(f"std must be positive, got {meta['std']!r}")
    choices = {
        "color_order": COLOR_ORDERS, "layout": LAYOUTS, "precision": PRECISIONS,
        "input_dtype": DTYPES, "output_dtype": DTYPES,
    }
    for key, allowed in choices.items():
        if key in meta and meta[key] not in allowed:
            raise bad(f"{key} must be one of {list(allowed)}, got {meta[key]!r}")
    if not meta["outputs"] or not all(isinstance(o, str) for o in meta["outputs"]):
        raise bad(f"outputs must be a non-empty list of names, got {meta['outputs']!r}")
    threshold = meta.get("score_threshold")
    if threshold is not None and not (_finite_number(threshold) and 0.0 <= threshold <= 1.0):
        raise bad(f"score_threshold must be null or a number in [0, 1], got {threshold!r}")
    if "trained_on" in meta and not isinstance(meta["trained_on"], str):
        raise bad(f"trained_on must be a string, got {meta['trained_on']!r}")
    batch = meta.get("batch_size")
    if batch is not None and (not isinstance(batch, int) or isinstance(batch, bool) or batch <= 0):
        raise bad(f"batch_size must be null or a positive integer, got {batch!r}")
    try:
        codec = codec_from_dict(meta["codec"])
    except EdgeposeError as exc:
        raise bad(f"codec: {exc}") from None
    if list(codec.input_hw) != hw:
        raise bad(f"codec input_hw {list(codec.input_hw)} differs from input_hw {hw}")
    return meta


def _finite_number(v: Any) -> bool:
    """A JSON number (not a bool) that is finite as a float (huge integers are not)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def encode_metadata(meta: dict[str, Any]) -> bytes:
    """``meta`` checked (:func:`validate_metadata`) and serialised as the UTF-8 JSON payload a file stores."""
    validate_metadata(meta, "<metadata to write>")
    return json.dumps(meta, sort_keys=True, allow_nan=False).encode("utf-8")


def parse_metadata(payload: bytes, source: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata object of a file's payload: strict JSON, then :func:`validate_metadata`."""
    return validate_metadata(loads_metadata(payload, source), source)
