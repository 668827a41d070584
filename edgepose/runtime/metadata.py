"""Model-file metadata: one JSON object that makes an ONNX or TFLite file self-describing.

The object is stored under the key ``"edgepose"``:

* ONNX: a ``metadata_props`` entry of the ``ModelProto`` (ONNX Runtime shows it in
  ``InferenceSession.get_modelmeta().custom_metadata_map["edgepose"]``);
* TFLite: a flatbuffer ``metadata`` entry named ``"edgepose"`` whose buffer holds the
  UTF-8 JSON.

Fields (``format_version`` 2)::

    format_version   2
    edgepose_version version of the package that wrote the file
    model            registry name
    spec             ModelSpec.to_dict() without "files": the one place that says how to feed
                     and decode the model -- codec (codec_from_dict rebuilds it), input_hw [H, W],
                     mean and std (3 floats each, per input channel in the model's channel order,
                     pixel/255), color_order "bgr" | "rgb", keypoint_set "coco17" | "mpii16" |
                     "crowdpose14" -- plus arch, name, description
    layout           "NCHW" | "NHWC"  (layout of the input tensor)
    input_dtype      "float32" | "int8" (int8: quantise with the input tensor's scale/zero point)
    output_dtype     "float32" | "int8" (int8: dequantise with each output's scale/zero point)
    precision        "fp32" | "fp16" | "int8"
    outputs          the codec's output names (``Codec.output_names``: ["simcc_x", "simcc_y"] or
                     ["heatmaps"]) in the file's output order (ONNX graph outputs / TFLite
                     subgraph outputs): the role of each output tensor; the tensors also carry
                     these names (ONNX output names, TFLite signature output names)
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

Files of ``format_version`` 1 (edgepose before 2026-12-07) also carry codec, input_hw, mean,
std, color_order and keypoint_set at the top level, a copy of those in ``spec``; they are still
read, from their top level as then. Readers never pick those fields themselves: they ask
:func:`input_spec_of`, :func:`codec_of` and :func:`keypoint_set_of`, which know both versions.

This module is the schema: it builds (:func:`make_metadata`, :func:`with_runtime_defaults`),
checks (:func:`validate_metadata`), reads (:func:`input_spec_of`, :func:`codec_of`,
:func:`keypoint_set_of`), serialises (:func:`encode_metadata`) and parses
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

from edgepose.codecs import codec_from_dict
from edgepose.errors import EdgeposeError, ModelFileError
from edgepose.preprocess import LAYOUTS, InputSpec
from edgepose.runtime.metadata_json import loads_metadata
from edgepose.version import __version__
from edgepose.zoo import ModelSpec

__all__ = ["DTYPES", "FORMAT_VERSION", "PRECISIONS", "codec_of", "encode_metadata", "input_spec_of", "keypoint_set_of",
           "make_metadata", "parse_metadata", "validate_metadata", "with_runtime_defaults"]

#: the version this package writes; it reads 1 and 2 (module docstring)
FORMAT_VERSION = 2
PRECISIONS = ("fp32", "fp16", "int8")
DTYPES = ("float32", "int8")
_KEEP: Any = object()  # with_runtime_defaults: leave the key as it is

_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "format_version": int, "edgepose_version": str, "model": str, "spec": dict,
    "layout": str, "input_dtype": str, "precision": str, "outputs": list,
}
#: how to feed and decode the model: in ``spec`` (format 2), at the top level (format 1)
_DESCRIPTION: dict[str, type] = {
    "codec": dict, "input_hw": list, "mean": list, "std": list, "color_order": str, "keypoint_set": str,
}


# ---- building and checking the JSON object ------------------------------------------------
def make_metadata(
    spec: ModelSpec,
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
        spec: the model's ``ModelSpec`` (its ``to_dict()`` without files becomes ``spec``).
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
        A JSON-serialisable dict of ``format_version`` :data:`FORMAT_VERSION` that passes
        :func:`validate_metadata`; ``input_spec_of`` of it is ``spec.input_spec`` with ``layout``.
    """

    names = list(spec.build_codec().output_names)
    if outputs is not None and sorted(outputs) != sorted(names):
        raise ModelFileError(f"outputs {outputs} are not the outputs {names} of codec {spec.codec.get('type')!r}")
    spec_dict = spec.to_dict()
    spec_dict.pop("files", None)
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "edgepose_version": __version__,
        "model": spec.name,
        "spec": spec_dict,
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
    where = "" if meta["format_version"] == 1 else "spec."
    description = _description(meta)
    for key, kind in _DESCRIPTION.items():
        if key not in description:
            raise bad(f"missing field {where + key!r}")
        if not isinstance(description[key], kind):
            raise bad(f"field {where + key!r} should be {kind.__name__}, got {description[key]!r}")
    hw = description["input_hw"]
    if len(hw) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in hw):
        raise bad(f"{where}input_hw must be [H, W] positive integers, got {hw!r}")
    for key in ("mean", "std"):
        vals = description[key]
        if len(vals) != 3 or not all(_finite_number(v) for v in vals):
            raise bad(f"{where}{key} must be 3 finite numbers, got {vals!r}")
    if meta["layout"] not in LAYOUTS:
        raise bad(f"layout must be one of {list(LAYOUTS)}, got {meta['layout']!r}")
    try:  # the values, as every InputSpec is checked (colour order, 0..255-looking mean/std, std > 0)
        InputSpec.from_dict(description, meta["layout"])
    except EdgeposeError as exc:
        raise bad(f"{where[:-1]}: {exc}" if where else str(exc)) from None
    choices = {"precision": PRECISIONS, "input_dtype": DTYPES, "output_dtype": DTYPES}
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
        codec = codec_from_dict(description["codec"])
    except EdgeposeError as exc:
        raise bad(f"{where}codec: {exc}") from None
    if list(codec.input_hw) != hw:
        raise bad(f"{where}codec input_hw {list(codec.input_hw)} differs from input_hw {hw}")
    return meta


# ---- reading the model's description ------------------------------------------------------
def _description(meta: dict[str, Any]) -> dict[str, Any]:
    """Where a validated-shape object keeps codec, input_hw, mean, std, color_order and keypoint_set."""
    return meta if meta["format_version"] == 1 else meta["spec"]


def input_spec_of(meta: dict[str, Any]) -> InputSpec:
    """How to feed the file of the (validated) metadata ``meta``: its input_hw, mean, std and colour
    order, with the layout of the file's input tensor (``meta["layout"]``); formats 1 and 2."""
    return InputSpec.from_dict(_description(meta), meta["layout"])


def codec_of(meta: dict[str, Any]) -> dict[str, Any]:
    """The codec dict (``codec_from_dict`` rebuilds it) of the (validated) metadata ``meta``; formats 1 and 2."""
    return dict(_description(meta)["codec"])


def keypoint_set_of(meta: dict[str, Any]) -> str:
    """The keypoint set name of the (validated) metadata ``meta``; formats 1 and 2."""
    return str(_description(meta)["keypoint_set"])


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
