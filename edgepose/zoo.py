"""Model registry: name -> ModelSpec (architecture, input size, codec, keypoints, files).

Names follow ``{method}_{backbone}_{size}[_{dataset}]``: ``simdr_r50_128``,
``simdrstar_r50_256x192``, ``hm_r50_64`` (SimpleBaseline heatmap),
``mrfea2_r50_256x192``, ``hm_r50_256_mpii``; HRNet-W32 / W48 and TokenPose-S are ``hrw32``,
``hrw48`` and ``tps`` (``simdr_hrw32_64``, ``hm_tps_128``, ``simdrstar_hrw48_256x192``).
Size is ``64``/``128``/``256`` for square inputs and ``HxW`` otherwise.

Files (ONNX / TFLite) are either shipped inside the package (``package://`` URLs, under
``edgepose/weights/``, listed in its ``manifest.json``) or pinned at an https URL, each with its
sha256 and size. A shipped file may be xz-packed (``package://<name>.xz``: int8 weights pack by
about 10 %, which keeps four ResNet-50 files within the package's weight budget); its pinned
sha256 and size are those of the unpacked file. Getting a file onto disk, verified, is
:func:`edgepose.download.fetch_file`'s job.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from edgepose.codecs import Codec, codec_from_dict
from edgepose.checks import check_number
from edgepose.errors import InputError, ModelFileError, UnknownModelError, did_you_mean
from edgepose.preprocess import InputSpec, InputSpecShortcuts
from edgepose.skeleton import KeypointSet, get_keypoint_set

logger = logging.getLogger(__name__)

#: ImageNet statistics in RGB order, units of pixel / 255.
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
PACKAGE_SCHEME = "package://"
PACKED_SUFFIX = ".xz"
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class ModelFile:
    """One deployable file of a model.

    Attributes:
        format: "onnx" or "tflite".
        precision: "fp32", "fp16" or "int8".
        url: ``https://...`` or ``package://<file name under edgepose/weights>`` (a name
            ending in ``.xz`` is unpacked into the cache on first use).
        sha256: lowercase hex digest of the model file (unpacked), always checked.
        size: size of the model file (unpacked) in bytes.
    """

    format: str
    precision: str
    url: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ModelSpec(InputSpecShortcuts):
    """Everything needed to build, train, export and run one model.

    Attributes:
        name: registry name.
        arch: ``{"head": ..., "backbone": "resnet50", "cpj": int, "split_ratio": k}``
            (split_ratio for SimDR heads only, cpj for SimDR on a ResNet only; backbones
            also "hrnet_w32", "hrnet_w48", "tokenpose_s", see ``edgepose.nn.build``).
        input_spec: how to feed the model (:class:`~edgepose.preprocess.InputSpec`: input
            (height, width) px, mean and std per input channel in the model's channel order in
            pixel/255 units, colour order, NCHW layout); ``input_hw``, ``mean``, ``std`` and
            ``color_order`` are shortcuts to its fields.
        codec: ``Codec.to_dict()``; its ``input_hw`` is the input spec's.
        keypoint_set: "coco17", "mpii16" or "crowdpose14".
        files: deployable files.
        trained_on: what the shipped weights were trained on ("" if none ship).
        score_threshold: keypoint score above which the shipped weights' keypoints count as
            found (drawing, tracking); None: the codec's default. Measured per weight set:
            SimDR's softmax scores depend on how sharply a model localises.
        description: one line for ``list_models``.
    """

    name: str
    arch: dict[str, Any]
    input_spec: InputSpec
    codec: dict[str, Any]
    keypoint_set: str = "coco17"
    files: tuple[ModelFile, ...] = field(default_factory=tuple)
    trained_on: str = ""
    score_threshold: float | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.input_spec, InputSpec):
            raise InputError(f"ModelSpec {self.name!r}: input_spec must be an InputSpec; got "
                             f"{type(self.input_spec).__name__}")
        codec_hw = self.codec.get("input_hw") if isinstance(self.codec, dict) else None
        if codec_hw is not None and tuple(codec_hw) != self.input_spec.input_hw:
            raise InputError(f"ModelSpec {self.name!r}: codec input_hw {list(codec_hw)} differs from input_hw "
                             f"{list(self.input_spec.input_hw)}")

    def build_codec(self) -> Codec:
        """The numpy codec of this model."""
        return codec_from_dict(self.codec)

    def keypoints(self) -> KeypointSet:
        """The keypoint set of this model."""
        return get_keypoint_set(self.keypoint_set)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (used in checkpoints)."""
        return {
            "name": self.name, "arch": dict(self.arch), "input_hw": list(self.input_hw),
            "codec": dict(self.codec), "keypoint_set": self.keypoint_set,
            "mean": list(self.mean), "std": list(self.std), "color_order": self.color_order,
            "files": [vars(f).copy() for f in self.files], "trained_on": self.trained_on,
            "score_threshold": self.score_threshold, "description": self.description,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelSpec":
        """Inverse of :meth:`to_dict` (``mean``, ``std`` and ``color_order`` default to ImageNet's, BGR)."""
        try:
            input_spec = InputSpec(d["input_hw"], d.get("mean", IMAGENET_MEAN_RGB), d.get("std", IMAGENET_STD_RGB),
                                   d.get("color_order", "bgr"))
            return cls(
                name=d["name"], arch=dict(d["arch"]), input_spec=input_spec,
                codec=dict(d["codec"]), keypoint_set=d.get("keypoint_set", "coco17"),
                files=tuple(ModelFile(**f) for f in d.get("files", ())),
                trained_on=d.get("trained_on", ""), score_threshold=d.get("score_threshold"),
                description=d.get("description", ""),
            )
        except (KeyError, TypeError) as exc:
            raise InputError(f"not a valid ModelSpec dict ({exc!r})") from None

    def find_file(self, fmt: str, precision: str = "int8") -> ModelFile:
        """The file of format ``fmt`` and ``precision``; UnknownModelError if none ships."""
        for f in self.files:
            if f.format == fmt and f.precision == precision:
                return f
        have = [f"{f.format}/{f.precision}" for f in self.files] or ["none"]
        raise UnknownModelError(
            f"model {self.name!r} has no {fmt}/{precision} file (available: {', '.join(have)}); "
            "export one with quantization/export.py or quantization/int8.py"
        )


# ---- the registry ---------------------------------------------------------------------
_SIZES = {"64": (64, 64), "128": (128, 128), "256x192": (256, 192), "256": (256, 256)}
_BACKBONES = {"r18": "resnet18", "r34": "resnet34", "r50": "resnet50", "r101": "resnet101", "r152": "resnet152",
              "hrw32": "hrnet_w32", "hrw48": "hrnet_w48", "tps": "tokenpose_s"}
#: non-ResNet backbones: name part -> (head descriptions by method, colour order of the official models)
_OTHER_TRUNKS: dict[str, tuple[dict[str, str], str]] = {
    **{short: ({"hm": f"HRNet-W{short[3:]} heatmap (official pose_hrnet)",
                "simdr": f"SimDR on HRNet-W{short[3:]}: linear x/y heads on the flattened heatmaps",
                "simdrstar": f"SimDR* (Gaussian targets, KL) on HRNet-W{short[3:]}"}, "rgb")
       for short in ("hrw32", "hrw48")},
    "tps": ({"hm": "TokenPose-S-v1 heatmap (MLP head on the keypoint tokens)",
             "simdr": "SimDR on TokenPose-S-v1: linear x/y heads on the keypoint tokens",
             "simdrstar": "SimDR* (Gaussian targets, KL) on TokenPose-S-v1"}, "rgb"),
}
_HEADS = {
    "simdr": ("simdr", "SimDR without deconvolution (official pose_resnet_upfree)"),
    "simdrstar": ("simdr", "SimDR* (Gaussian targets, KL) without deconvolution"),
    "simdrdc": ("simdr_deconv", "SimDR on the SimpleBaseline deconvolution head"),
    "hm": ("heatmap", "SimpleBaseline heatmap (3 deconvolutions)"),
    "mrheat1": ("mrheat1", "MRHeatNet1 (multi-resolution heatmaps, progressive)"),
    "mrheat2": ("mrheat2", "MRHeatNet2 (multi-resolution heatmaps, independent)"),
    "mrfea1": ("mrfea1", "MRFeaNet1 (multi-resolution features, C=256)"),
    "mrfea2": ("mrfea2", "MRFeaNet2 (multi-resolution features, halving channels)"),
}
_DATASETS = {"coco": "coco17", "mpii": "mpii16", "crowdpose": "crowdpose14"}


def _simdr_settings(input_hw: tuple[int, int]) -> tuple[float, int, float]:
    """(split ratio k, channels per joint, SimDR* sigma) of the official configs."""
    if max(input_hw) <= 128:
        return 3.0, 32, 4.0
    return 2.0, 28, 6.0


def _hrnet_simdr_settings(input_hw: tuple[int, int], backbone: str) -> tuple[float, float, float]:
    """(split ratio k, label smoothing, SimDR* sigma) of HRNet and TokenPose models.

    k: the official HRNet SimDR configs (3 at 64x64, 2 at 128x128 and 256x192), used for
    TokenPose-S too (the paper's TokenPose-S SimDR parameter counts agree with these k).
    Label smoothing 0.1, except the official HRNet-W32 128x128 config's 0.2. sigma: the official
    HRNet SA-SimDR (SimDR*) config's 4 bins.
    """
    k = 3.0 if max(input_hw) <= 64 else 2.0
    smoothing = 0.2 if (backbone == "hrw32" and input_hw == (128, 128)) else 0.1
    return k, smoothing, 4.0


def make_spec(method: str, backbone: str, size: str, dataset: str = "coco") -> ModelSpec:
    """Build the spec of one paper model from its name parts (see module docstring)."""
    head, description = _HEADS[method]
    input_hw = _SIZES[size]
    arch: dict[str, Any] = {"head": head, "backbone": _BACKBONES[backbone]}
    color_order = "bgr"
    if backbone in _OTHER_TRUNKS:
        descriptions, color_order = _OTHER_TRUNKS[backbone]
        if method not in descriptions:
            raise InputError(f"method {method!r} does not go with backbone {backbone!r}; "
                             f"it takes {sorted(descriptions)}")
        description = descriptions[method]
    if backbone in _OTHER_TRUNKS and head == "simdr":
        k, smoothing, sigma = _hrnet_simdr_settings(input_hw, backbone)
        arch["split_ratio"] = k
        if method == "simdrstar":
            codec: dict[str, Any] = {"type": "simdr_star", "input_hw": list(input_hw), "split_ratio": k, "sigma": sigma}
        else:
            codec = {"type": "simdr", "input_hw": list(input_hw), "split_ratio": k, "label_smoothing": smoothing}
    elif backbone in _OTHER_TRUNKS:  # heatmap: the official HRNet configs' sigma (1 up to 128x128, 2 at 256x192)
        codec = {"type": "heatmap", "input_hw": list(input_hw), "sigma": 2.0 if max(input_hw) >= 256 else 1.0,
                 "refine": "quarter"}
    elif head in ("simdr", "simdr_deconv"):
        k, cpj, sigma = _simdr_settings(input_hw)
        arch["split_ratio"] = k
        if head == "simdr":
            arch["cpj"] = cpj
        if method == "simdrstar":
            codec = {"type": "simdr_star", "input_hw": list(input_hw), "split_ratio": k, "sigma": sigma}
        else:
            codec = {"type": "simdr", "input_hw": list(input_hw), "split_ratio": k, "label_smoothing": 0.1}
    else:
        sigma = 2.0 if max(input_hw) >= 256 else (1.0 if max(input_hw) <= 64 else 1.5)
        codec = {"type": "heatmap", "input_hw": list(input_hw), "sigma": sigma, "refine": "quarter"}
    suffix = "" if dataset == "coco" else f"_{dataset}"
    return ModelSpec(
        name=f"{method}_{backbone}_{size}{suffix}", arch=arch,
        input_spec=InputSpec(input_hw, IMAGENET_MEAN_RGB, IMAGENET_STD_RGB, color_order),
        codec=codec_from_dict(codec).to_dict(), keypoint_set=_DATASETS[dataset],
        description=f"{description}, {_BACKBONES[backbone]}, {input_hw[0]}x{input_hw[1]}, {dataset}",
    )


def _paper_models() -> list[ModelSpec]:
    specs = []
    # SimDR paper: SimpleBaseline-R50 with/without deconv, SimDR and SimDR*, three sizes.
    for method in ("simdr", "simdrstar", "simdrdc", "hm"):
        for size in ("64", "128", "256x192"):
            specs.append(make_spec(method, "r50", size))
    # Deeper backbones of SimpleBaseline at 256x192, and small trunks for edge devices.
    for method in ("simdr", "hm"):
        for backbone in ("r101", "r152"):
            specs.append(make_spec(method, backbone, "256x192"))
        for backbone in ("r18", "r34"):
            for size in ("64", "128"):
                specs.append(make_spec(method, backbone, size))
    # Multi-resolution paper (Tran et al.): COCO 256x192 and MPII 256x256.
    for method in ("mrheat1", "mrheat2", "mrfea1", "mrfea2"):
        specs.append(make_spec(method, "r50", "256x192"))
        specs.append(make_spec(method, "r50", "256", "mpii"))
    for method in ("hm", "simdr"):
        specs.append(make_spec(method, "r50", "256", "mpii"))
        specs.append(make_spec(method, "r50", "256x192", "crowdpose"))
    # SimDR paper, Tables 2 and 3: HRNet-W32 / W48 and TokenPose-S, heatmap, SimDR and SimDR*.
    for backbone in _OTHER_TRUNKS:
        for method in ("hm", "simdr", "simdrstar"):
            for size in ("64", "128", "256x192"):
                specs.append(make_spec(method, backbone, size))
    return specs


def with_files(spec: ModelSpec, files: tuple[ModelFile, ...], trained_on: str,
               score_threshold: float | None = None) -> ModelSpec:
    """A copy of ``spec`` that ships ``files``."""
    return replace(spec, files=files, trained_on=trained_on, score_threshold=score_threshold)


MANIFEST = WEIGHTS_DIR / "manifest.json"


def read_manifest(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """The shipped-weights manifest: ``{model: {"trained_on": str, "files": [ModelFile fields],
    "score_threshold": float (optional)}}``.

    ``edgepose/weights/manifest.json`` is written by ``quantization/ship.py``; a missing file
    means no weights ship. Parsed as JSON only.
    """
    path = MANIFEST if path is None else path
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        models = data["models"]
        if data.get("format_version") != 1 or not isinstance(models, dict):
            raise ValueError("format_version must be 1 and models a mapping")
        for name, entry in models.items():
            if not isinstance(entry.get("trained_on"), str) or not isinstance(entry.get("files"), list):
                raise ValueError(f"entry {name!r} needs trained_on (str) and files (list)")
            if entry.get("score_threshold") is not None:  # InputError is a ValueError
                check_number(entry["score_threshold"], f"entry {name!r}: score_threshold", low=0.0, high=1.0,
                             low_inclusive=True, high_inclusive=True)
        return models
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelFileError(f"shipped-weights manifest {path} is invalid ({exc}); reinstall edgepose") from None


def _with_shipped_files(specs: list[ModelSpec], manifest: dict[str, dict[str, Any]]) -> list[ModelSpec]:
    by_name = {s.name: s for s in specs}
    for name, entry in manifest.items():
        if name not in by_name:
            raise ModelFileError(f"shipped-weights manifest {MANIFEST} names unknown model {name!r}")
        try:
            files = tuple(ModelFile(**f) for f in entry["files"])
        except TypeError as exc:
            raise ModelFileError(f"shipped-weights manifest {MANIFEST}: bad file entry of {name!r} ({exc})") from None
        by_name[name] = with_files(by_name[name], files, entry["trained_on"], entry.get("score_threshold"))
    return list(by_name.values())


REGISTRY: dict[str, ModelSpec] = {s.name: s for s in _with_shipped_files(_paper_models(), read_manifest())}


def register(spec: ModelSpec, *, overwrite: bool = False) -> None:
    """Add ``spec`` to the registry (e.g. a user's own model)."""
    if spec.name in REGISTRY and not overwrite:
        raise InputError(f"model {spec.name!r} is already registered; pass overwrite=True")
    REGISTRY[spec.name] = spec


def list_models(pattern: str = "") -> list[str]:
    """Sorted registry names that contain ``pattern``."""
    return sorted(n for n in REGISTRY if pattern in n)


def get_spec(name: str) -> ModelSpec:
    """The spec called ``name``; UnknownModelError naming close matches otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}{did_you_mean(name, REGISTRY)} (names with files: "
            f"{', '.join(names_with_files())}; all names: edgepose models, or edgepose.list_models())"
        ) from None


def names_with_files() -> list[str]:
    """Sorted registry names that have weight files (shipped in the package or pinned at a URL)."""
    return sorted(n for n, spec in REGISTRY.items() if spec.files)
