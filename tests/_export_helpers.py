"""Shared pieces of the export tests: a seeded model, a tiny stand-in, checkpoints, CLI loading."""

from __future__ import annotations

import importlib.util
import math
import json
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import torch
from torch import nn

from edgepose.export import LoadedModel
from edgepose.zoo import ModelSpec, get_spec

REPO = Path(__file__).resolve().parents[1]


def seeded_model(name: str, seed: int = 0) -> LoadedModel:
    """Registry model ``name`` with random weights drawn from ``seed`` (eval mode)."""
    from edgepose.nn import build

    torch.manual_seed(seed)
    return LoadedModel(build(name).eval(), get_spec(name), {}, "random-init")


class TinySimDR(nn.Module):
    """Stand-in SimDR model (fast to convert): pool -> 1x1 conv -> reshape -> Linear x / y.

    ``det=True`` adds ``0 * det(...)``: ONNX exports it, litert-torch has no lowering for it.
    """

    def __init__(self, spec: ModelSpec, det: bool = False) -> None:
        super().__init__()
        h, w = spec.input_hw
        k = spec.codec["split_ratio"]
        self.num_keypoints = spec.keypoints().num_keypoints
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.conv = nn.Conv2d(3, self.num_keypoints * 2, 1)
        self.mlp_head_x = nn.Linear(8, int(w * k))
        self.mlp_head_y = nn.Linear(8, int(h * k))
        self.det = det

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.det:
            x = x + 0.0 * torch.linalg.det(x[:, 0, :3, :3]).reshape(-1, 1, 1, 1)
        f = self.conv(self.pool(x)).reshape(x.shape[0], self.num_keypoints, 8)
        return self.mlp_head_x(f), self.mlp_head_y(f)


def tiny_model(det: bool = False) -> LoadedModel:
    spec = get_spec("simdr_r18_64")
    torch.manual_seed(0)
    return LoadedModel(TinySimDR(spec, det=det).eval(), spec, {}, "stand-in")


def save_checkpoint(path: Path, state_dict: dict, spec: ModelSpec) -> Path:
    torch.save({"model": state_dict, "spec": spec.to_dict(), "config": {"epochs": 0}}, path)
    return path


def load_cli(name: str) -> ModuleType:
    """Import ``quantization/<name>.py`` as a module (its ``main(argv)`` is then callable)."""
    spec = importlib.util.spec_from_file_location(f"_cli_{name}", REPO / "quantization" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_batch(spec: ModelSpec, n: int, seed: int = 0) -> np.ndarray:
    h, w = spec.input_hw
    return np.random.default_rng(seed).normal(size=(n, 3, h, w)).astype(np.float32)


def activation_zero_point_types(model) -> set[int]:
    """ONNX element types of the zero points of a QDQ model's activation quantizers (Q nodes
    whose input is not an initializer)."""
    inits = {i.name: i for i in model.graph.initializer}
    return {inits[n.input[2]].data_type for n in model.graph.node
            if n.op_type == "QuantizeLinear" and n.input[0] not in inits}


def dequantized_adds(model) -> list[str]:
    """Op types (Add / Sum), in graph order, of the adds whose inputs all come from DequantizeLinear."""
    producers = {o: n.op_type for n in model.graph.node for o in n.output}
    return [n.op_type for n in model.graph.node if n.op_type in ("Add", "Sum")
            and all(producers.get(i) == "DequantizeLinear" for i in n.input)]


def busiest_scene(ann: Path, images: Path) -> tuple[np.ndarray, np.ndarray]:
    """The image of a COCO-format set with the most people (>= 5 labelled keypoints), BGR uint8,
    and their ground-truth boxes (N, 4) xywh in px."""
    data = json.loads(ann.read_text())
    per_image: dict[int, list[list[float]]] = {}
    for a in data["annotations"]:
        if a["num_keypoints"] >= 5:
            per_image.setdefault(a["image_id"], []).append(a["bbox"])
    image_id = max(per_image, key=lambda i: len(per_image[i]))
    name = next(im["file_name"] for im in data["images"] if im["id"] == image_id)
    return cv2.imread(str(images / name)), np.array(per_image[image_id], np.float32)


def scale_weights_(model: nn.Module, gain: float = 1.0) -> nn.Module:
    """Draw every convolution and Linear weight of ``model`` from N(0, gain**2 / fan_in), in place
    (random weights whose activations keep their scale through the network); returns ``model``."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.normal_(0.0, gain / math.sqrt(m.weight[0].numel()))
    return model
