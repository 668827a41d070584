"""Size table of the pose models: parameters and multiply-adds.

Counting is done by :func:`edgepose.nn.complexity.measure`: multiply-adds of Conv2d /
ConvTranspose2d / Linear per image and, for comparison with the papers' tables, their
"GFLOPs" (the official ``get_model_summary`` arithmetic; see that module for how the two
differ).

Command line: ``python -m edgepose.nn.summary`` prints a table for every registry model
(``edgepose.zoo.list_models()``); ``--reference`` prints the papers' reference
architectures instead; ``--models a b`` restricts to named registry models.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from edgepose.nn.build import build
from edgepose.nn.complexity import measure

__all__ = [
    "ReferenceConfig",
    "REFERENCE_CONFIGS",
    "SummaryRow",
    "summarize",
    "format_table",
    "main",
]


@dataclass(frozen=True)
class ReferenceConfig:
    """A ModelSpec-like architecture (no weights): what ``build`` needs and a name."""

    name: str
    arch: Mapping[str, Any]
    input_hw: tuple[int, int]
    keypoint_set: str = "coco17"
    description: str = field(default="")


def _ref(name: str, head: str, hw: tuple[int, int], **extra: Any) -> ReferenceConfig:
    return ReferenceConfig(name, {"head": head, "backbone": "resnet50", **extra}, hw)


#: The papers' ResNet-50 COCO architectures (SimDR Tables 2/4; Tran et al. Table I). HRNet-W32 /
#: W48 and TokenPose-S (SimDR Table 2) are registry models (``hm_hrw32_64``, ``simdr_tps_128``...).
REFERENCE_CONFIGS: tuple[ReferenceConfig, ...] = (
    _ref("simdr_r50_64", "simdr", (64, 64), cpj=32, split_ratio=3.0),
    _ref("simdr_r50_128", "simdr", (128, 128), cpj=32, split_ratio=3.0),
    _ref("simdr_r50_256x192", "simdr", (256, 192), cpj=28, split_ratio=2.0),
    _ref("simdrdeconv_r50_64", "simdr_deconv", (64, 64), split_ratio=3.0),
    _ref("simdrdeconv_r50_128", "simdr_deconv", (128, 128), split_ratio=3.0),
    _ref("simdrdeconv_r50_256x192", "simdr_deconv", (256, 192), split_ratio=2.0),
    _ref("hm_r50_64", "heatmap", (64, 64)),
    _ref("hm_r50_128", "heatmap", (128, 128)),
    _ref("hm_r50_256x192", "heatmap", (256, 192)),
    _ref("mrheat1_r50_256x192", "mrheat1", (256, 192)),
    _ref("mrheat2_r50_256x192", "mrheat2", (256, 192)),
    _ref("mrfea1_r50_256x192", "mrfea1", (256, 192)),
    _ref("mrfea2_r50_256x192", "mrfea2", (256, 192)),
)


@dataclass(frozen=True)
class SummaryRow:
    """One model's size: ``params`` and ``macs`` are exact integers (MACs per image);
    ``paper_gflops`` is the papers' counter (:func:`edgepose.nn.complexity.paper_gflops`)."""

    name: str
    head: str
    backbone: str
    input_hw: tuple[int, int]
    num_keypoints: int
    params: int
    macs: int
    paper_gflops: float


def summarize(specs: Iterable[Any], *, device: str | torch.device = "meta") -> list[SummaryRow]:
    """Build each spec (a ``ModelSpec`` or :class:`ReferenceConfig`) and count it.

    Models are built on ``device``; the default ``"meta"`` allocates no memory and computes
    nothing (shapes only), which gives the same counts in a fraction of the time.
    """
    rows = []
    for spec in specs:
        with torch.device(device):
            model = build(spec)
        sizes = measure(model, spec.input_hw)
        rows.append(SummaryRow(spec.name, model.arch["head"], model.arch["backbone"],
                               tuple(spec.input_hw), model.num_keypoints, sizes.params, sizes.macs,
                               sizes.paper_gflops))
        del model
    return rows


def format_table(rows: Iterable[SummaryRow]) -> str:
    """A fixed-width text table: params in millions, multiply-adds in G (1e9), and the
    papers' GFLOPs (their counter, 1024**3)."""
    header = ("model", "head", "backbone", "input", "K", "params (M)", "GMACs", "paper GFLOPs")
    lines = [[r.name, r.head, r.backbone, f"{r.input_hw[0]}x{r.input_hw[1]}",
              str(r.num_keypoints), f"{r.params / 1e6:.2f}", f"{r.macs / 1e9:.2f}",
              f"{r.paper_gflops:.2f}"]
             for r in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines)]
    numeric = {4, 5, 6, 7}

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines)])


def _registry_specs(names: Sequence[str] | None) -> list[Any]:
    from edgepose.zoo import get_spec, list_models

    return [get_spec(n) for n in (names or list_models())]


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m edgepose.nn.summary",
                                     description="Parameters and multiply-adds of pose models.")
    parser.add_argument("--models", nargs="+", metavar="NAME",
                        help="registry model names (default: all)")
    parser.add_argument("--reference", action="store_true",
                        help="the papers' ResNet-50 architectures instead of the registry")
    args = parser.parse_args(argv)
    if args.reference:
        specs: list[Any] = list(REFERENCE_CONFIGS)
    else:
        try:
            specs = _registry_specs(args.models)
        except ImportError as exc:
            if args.models:
                print(f"edgepose.zoo is not available ({exc}); cannot look up --models",
                      file=sys.stderr)
                return 2
            print(f"edgepose.zoo is not available ({exc}); showing --reference architectures",
                  file=sys.stderr)
            specs = list(REFERENCE_CONFIGS)
    print(format_table(summarize(specs)))
    print("GMACs: multiply-adds of Conv2d/ConvTranspose2d/Linear per image / 1e9; transposed "
          "convolutions counted over their input. paper GFLOPs: the official get_model_summary "
          "counter of the SimDR/HRNet/TokenPose code (/ 1024**3; see edgepose.nn.complexity).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
