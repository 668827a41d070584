"""Which file a model name means, and how to feed and decode it (metadata or arguments).

:func:`resolve_model_file` turns a registry name into a verified local file (or passes a
path through); :func:`build_model_info` merges the file's edgepose metadata with the
caller's arguments into a :class:`ModelInfo`, failing early and by name when something
is missing or contradicts the file (input size, number of bins, keypoint count).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgepose import download, zoo
from edgepose.runtime.backends import BACKENDS, SUFFIXES, Backend, canonical_name, is_available, load_backend, require_installed
from edgepose.codecs import Codec, SimDRCodec, codec_from_dict
from edgepose.checks import check_hw
from edgepose.errors import InputError, ModelFileError, UnknownModelError, install_hint
from edgepose.preprocess import InputSpec, InputSpecShortcuts
from edgepose.runtime.metadata import codec_of, input_spec_of, keypoint_set_of, validate_metadata
from edgepose.runtime.metadata_json import METADATA_KEY, loads_metadata
from edgepose.skeleton import KeypointSet, get_keypoint_set

logger = logging.getLogger(__name__)

#: registry file preference: (format, precision), first available wins
FILE_PREFERENCE = (("onnx", "int8"), ("tflite", "int8"), ("onnx", "fp32"), ("tflite", "fp32"),
                   ("onnx", "fp16"), ("tflite", "fp16"))
_FORMAT_BACKENDS = {"onnx": ("onnxruntime", "openvino"), "tflite": ("tflite",)}


@dataclass(frozen=True)
class ModelInfo(InputSpecShortcuts):
    """How to feed and decode one model, from its metadata and/or the caller's arguments.

    Attributes:
        name: model name ("" for external models without metadata).
        codec: decoder of the outputs (it names the output tensors it takes).
        input_spec: how to feed it (input_hw, mean, std, colour order; batches are NCHW:
            backends of NHWC files transpose); ``input_hw``, ``mean``, ``std`` and
            ``color_order`` are shortcuts to its fields.
        keypoint_set: the keypoints' definition.
        output_order: indices into the backend outputs, in the order the codec takes them.
        precision: "fp32" | "fp16" | "int8" | "unknown".
        macs: multiply-adds per crop from the metadata, None when absent.
        metadata: the parsed edgepose metadata ({} when the file has none).
    """

    name: str
    codec: Codec
    input_spec: InputSpec
    keypoint_set: KeypointSet
    output_order: tuple[int, ...]
    precision: str = "unknown"
    macs: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


# ---- model resolution ---------------------------------------------------------------------
def _looks_like_path(model: str | os.PathLike[str]) -> bool:
    p = Path(model)
    return (isinstance(model, os.PathLike) or p.suffix.lower() in SUFFIXES or os.sep in str(model)
            or str(model).startswith("~") or (str(model) not in zoo.REGISTRY and p.is_dir()))


def _model_path(model: str | os.PathLike[str]) -> Path:
    """``model`` as a path (``~`` expanded); ModelFileError for a folder or a missing file, in the caller's terms."""
    path = Path(model).expanduser()
    if path.is_dir():
        inside = sorted(p.name for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        what = (f"pass one of its model files: {', '.join(inside[:8])}{', ...' if len(inside) > 8 else ''}" if inside
                else f"it holds no {'/'.join(sorted(SUFFIXES))} file")
        raise ModelFileError(f"model {model} is a folder, not a model file; {what}")
    if not path.exists():
        name = path.name[: -len(path.suffix)] if path.suffix else path.name
        hint = (f"; did you mean the registry name {name!r} (no suffix)?" if name in zoo.REGISTRY
                and path.parent == Path(".") else "")
        shown = f"{model} ({path})" if str(model).startswith("~") else str(model)
        raise ModelFileError(f"model file {shown} does not exist{hint}")
    return path


def resolve_model_file(model: str | os.PathLike[str], backend: str | None = None,
                       precision: str | None = None) -> Path:
    """A local model file for a path or a registry name.

    Registry names go through ``zoo.get_spec`` -> ``ModelSpec.find_file`` ->
    ``download.fetch_file`` (sha256-verified, cached). Files are preferred in the order of
    :data:`FILE_PREFERENCE` (int8 ONNX first), skipping formats whose runtime is not
    installed or that ``backend`` cannot read.

    Raises:
        UnknownModelError: unknown name, or no file the installed runtimes can read.
        ModelFileError / ChecksumError: missing, truncated or altered file.
    """
    if not isinstance(model, (str, os.PathLike)):
        raise InputError(
            f"model must be a registry name, a model file path or a loaded Backend; got {type(model).__name__}"
        )
    if _looks_like_path(model):
        return _model_path(model)
    spec = zoo.get_spec(str(model))
    if backend is not None:
        require_installed(backend)
    wanted = [(f, p) for f, p in FILE_PREFERENCE if precision is None or p == precision]
    tried = []
    for fmt, prec in wanted:
        readers = _FORMAT_BACKENDS[fmt]
        if backend is not None:
            readers = tuple(r for r in readers if r == canonical_name(backend))
        readers = tuple(r for r in readers if is_available(r))
        if not readers:
            continue
        try:
            model_file = spec.find_file(fmt, prec)
        except UnknownModelError:
            tried.append(f"{fmt}/{prec}")
            continue
        logger.info("%s: using the %s %s file", spec.name, prec, fmt)
        return download.fetch_file(model_file)
    if not spec.files:
        raise UnknownModelError(
            f"model {spec.name!r} has no weight files (names with files: {', '.join(zoo.names_with_files())}); "
            "train and export your own (training/train.py, quantization/export.py) and pass the file"
        )
    have = [f"{f.format}/{f.precision}" for f in spec.files]
    installed = [n for n in BACKENDS if is_available(n)] or ["none"]
    extras = " or ".join(install_hint(BACKENDS[n][3]) for n in BACKENDS if not is_available(n))
    raise UnknownModelError(
        f"model {spec.name!r}: no file that the installed backends ({', '.join(installed)}) can read"
        f"{f' with precision {precision}' if precision else ''}; it ships: {', '.join(have)}. Export one with "
        f"quantization/export.py or quantization/int8.py{f', or install another backend: {extras}' if extras else ''}"
    )


def load_model(model: str | os.PathLike[str], backend: str | None = None, threads: int | None = None,
               precision: str | None = None, **options: Any) -> Backend:
    """A loaded :class:`~edgepose.runtime.backends.Backend` for a registry name or a model file path."""
    return load_backend(resolve_model_file(model, backend, precision), backend, threads, **options)


def shipped_spec(path: Path, meta: dict[str, Any]) -> zoo.ModelSpec | None:
    """The registry entry of which ``path`` is a shipped file (the file its metadata names,
    same size and sha256), else None: a shipped file copied elsewhere and loaded by path
    gets the registry's runtime defaults even when its metadata predates them."""
    spec = zoo.REGISTRY.get(str(meta.get("model", "")))
    if spec is None or not spec.files:
        return None
    try:
        size = Path(path).stat().st_size
    except OSError:
        return None
    candidates = [f for f in spec.files if f.size == size]
    if not candidates:
        return None
    digest = download.sha256_of(Path(path))
    return spec if any(f.sha256 == digest for f in candidates) else None


# ---- metadata -> ModelInfo ----------------------------------------------------------------
def _parse_metadata(backend: Backend) -> dict[str, Any]:
    text = backend.metadata.get(METADATA_KEY)
    if text is None:
        return {}
    return validate_metadata(loads_metadata(text, backend.path), backend.path)


def _described(meta: dict[str, Any]) -> dict[str, Any]:
    """The file's own answer to how to feed and decode it ({} without metadata): codec (dict),
    input_hw, mean, std, color_order and keypoint_set, read through the metadata schema."""
    if not meta:
        return {}
    spec = input_spec_of(meta)
    return {"codec": codec_of(meta), "input_hw": spec.input_hw, "mean": spec.mean, "std": spec.std,
            "color_order": spec.color_order, "keypoint_set": keypoint_set_of(meta)}


def build_model_info(backend: Backend, overrides: dict[str, Any]) -> ModelInfo:
    """Combine the file's metadata with caller ``overrides`` (the fields of a
    :class:`~edgepose.runtime.options.ModelDescription`: codec, input_hw, mean, std, color_order,
    keypoint_set, output_names); overrides win over metadata, with a warning.

    Raises:
        ModelFileError: no metadata and required arguments missing (all named), or the
            arguments contradict the file (input size, output sizes, keypoint count).
    """
    meta = _parse_metadata(backend)
    described = _described(meta)
    given = {k: v for k, v in overrides.items() if v is not None}
    for key in given:
        if key in described:
            logger.warning("%s: argument %s=%r overrides the file's metadata", backend.path.name, key, given[key])
    codec_arg = given.get("codec", described.get("codec"))
    if isinstance(codec_arg, dict):
        codec_arg = codec_from_dict(codec_arg)
    if codec_arg is not None and not isinstance(codec_arg, Codec):
        raise InputError(f"codec must be a Codec or a codec dict; got {type(codec_arg).__name__}")
    input_hw = given.get("input_hw")
    if input_hw is None and codec_arg is not None and "codec" in given:
        input_hw = codec_arg.input_hw
    if input_hw is None:
        input_hw = described.get("input_hw")
    values = {
        "codec": codec_arg, "input_hw": input_hw, "mean": given.get("mean", described.get("mean")),
        "std": given.get("std", described.get("std")),
        "color_order": given.get("color_order", described.get("color_order")),
        "keypoint_set": given.get("keypoint_set", described.get("keypoint_set")),
    }
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise ModelFileError(
            f"{backend.path.name} carries no edgepose metadata{' with these fields' if meta else ''}; pass "
            f"description=ModelDescription({', '.join(f'{m}=...' for m in missing)}) to Estimator "
            f"(missing: {', '.join(missing)})"
        )
    codec: Codec = values["codec"]
    hw = check_hw(values["input_hw"], "input_hw")
    if codec.input_hw != hw:
        raise InputError(f"codec input_hw {codec.input_hw} differs from input_hw {hw}")
    file_hw = backend.input_hw
    if any(f is not None and f != h for f, h in zip(file_hw, hw, strict=True)):
        raise ModelFileError(f"{backend.path.name} takes {file_hw} (HxW) inputs, but input_hw is {hw}")
    input_spec = InputSpec(hw, values["mean"], values["std"], values["color_order"])
    kps = values["keypoint_set"]
    kps = kps if isinstance(kps, KeypointSet) else get_keypoint_set(str(kps))
    order = _output_order(backend, codec, meta, given.get("output_names"))
    _check_output_shapes(backend, codec, kps, order)
    macs = meta.get("macs", meta.get("spec", {}).get("macs") if isinstance(meta.get("spec"), dict) else None)
    return ModelInfo(
        name=str(meta.get("model", "")), codec=codec, input_spec=input_spec, keypoint_set=kps, output_order=order, precision=str(meta.get("precision", "unknown")),
        macs=int(macs) if isinstance(macs, (int, float)) and 0 < macs < float("inf") else None, metadata=meta,
    )


def _output_order(backend: Backend, codec: Codec, meta: dict[str, Any],
                  output_names: Sequence[str] | None) -> tuple[int, ...]:
    names = backend.output_names
    wanted = list(output_names) if output_names else list(codec.output_names)
    if output_names is None and meta.get("outputs") and len(meta["outputs"]) == len(names):
        roles = list(meta["outputs"])  # role of each output, in file order
        if all(w in roles for w in wanted):
            return tuple(roles.index(w) for w in wanted)
    if all(w in names for w in wanted):
        return tuple(names.index(w) for w in wanted)
    if len(wanted) == 1 and len(names) == 1:
        return (0,)
    raise ModelFileError(
        f"{backend.path.name} has outputs {names}; the {type(codec).__name__} needs {wanted}: pass "
        f"description=ModelDescription(output_names=(...)) naming them in that order"
    )


def _check_output_shapes(backend: Backend, codec: Codec, kps: KeypointSet, order: tuple[int, ...]) -> None:
    """Fail early when static output sizes contradict the codec or the keypoint count."""
    outs = [backend.outputs[i] for i in order]
    for o in outs:
        if len(o.shape) >= 2 and o.shape[1] is not None and o.shape[1] != kps.num_keypoints:
            raise ModelFileError(
                f"{backend.path.name}: output {o.name!r} has {o.shape[1]} keypoints, keypoint set "
                f"{kps.name!r} has {kps.num_keypoints}"
            )
    if isinstance(codec, SimDRCodec) and len(outs) == 2:
        for o, bins, axis in ((outs[0], codec.num_bins_x, "x"), (outs[1], codec.num_bins_y, "y")):
            if len(o.shape) != 3:
                raise ModelFileError(f"{backend.path.name}: SimDR output {o.name!r} has shape {o.shape}, expected 3-D")
            if o.shape[2] is not None and o.shape[2] != bins:
                raise ModelFileError(
                    f"{backend.path.name}: output {o.name!r} has {o.shape[2]} {axis}-bins, the codec expects "
                    f"{bins} (input {codec.input_hw}, split ratio {codec.split_ratio:g}): wrong codec or input_hw?"
                )
