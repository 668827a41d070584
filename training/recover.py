"""Recover a trainable checkpoint from a model's int8 (or fp32) ONNX file, then evaluate it.

    python training/recover.py --model simdr_r50_128 --calibration data/synth/train \\
        --out runs/recovered/simdr_r50_128.pt
    python training/train.py --config ... --init_checkpoint runs/recovered/simdr_r50_128.pt

``--onnx`` defaults to the file that ships with ``--model`` (``edgepose/weights``); an
``.onnx.xz`` path is read as well. The weights are dequantised and mapped onto the torch
model; each folded BatchNorm is un-folded with running statistics measured on ``--batches`` x
``--batch_size`` person crops of ``--calibration`` (a COCO-format folder with
``annotations/person_keypoints.json`` and ``images/``, plain box crops as in validation,
chosen at random with ``--seed``); see ``edgepose.train.recover``.

The output is an edgepose checkpoint (``{"spec", "model", ...}``, no optimiser state) for
``train.py --init_checkpoint`` and ``evaluate.py --checkpoint``. The recovery report is
logged; then, unless ``--no_eval``, the recovered torch model (fp32) and the ONNX file
(onnxruntime) are evaluated on ``--val`` the way training validates (ground-truth boxes,
flip test unless ``--flip_test false``), and the metrics are printed as JSON. Any training
config key (``--batch_size``, ``--flip_test``, ``--val_max_images``, ...) may be given.

A user error (a missing file, an ONNX file of another model) prints one line
``error: <what is wrong>`` on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import lzma
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from edgepose.cli import require_paths, run_main
from edgepose.errors import InputError
from edgepose.train.config import load_config

USER_ERROR = 2  # exit status of a user error (argparse's usage errors exit 2 as well)
REPO = Path(__file__).resolve().parents[1]
ANN = Path("annotations") / "person_keypoints.json"


def _coco_folder(option: str, folder: str) -> tuple[Path, Path]:
    """(annotation file, image folder) of a COCO-format data folder, checked to exist."""
    root = Path(folder)
    require_paths([(option, root, "dir"), (f"{option} annotations", root / ANN, "file"),
                   (f"{option} images", root / "images", "dir")])
    return root / ANN, root / "images"


def _calibration_batches(dataset: Any, batches: int, batch_size: int, seed: int) -> list[Any]:
    """``batches`` batches ``(batch_size, 3, H, W)`` of random crops of ``dataset`` (fewer if it is small)."""
    import numpy as np
    import torch

    order = np.random.default_rng(seed).permutation(len(dataset))[: batches * batch_size]
    return [torch.from_numpy(np.stack([dataset[int(i)]["image"] for i in order[s:s + batch_size]]))
            for s in range(0, len(order), batch_size)]


def _evaluate(model: Any, onnx_file: Path, spec: Any, config: Any) -> dict[str, dict[str, float]]:
    """Validation metrics (``engine.validate``) of the torch model and of the ONNX file."""
    import torch
    from torch import nn

    from edgepose.export.runtime import FileRunner
    from edgepose.train.engine import build_val_dataset, validate

    class OnnxModule(nn.Module):
        """The ONNX file behind a torch-like call: (B, 3, H, W) -> outputs in codec order."""

        def __init__(self, runner: FileRunner) -> None:
            super().__init__()
            self.runner = runner

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return tuple(torch.from_numpy(o) for o in self.runner.run(x.cpu().numpy()))

    device = torch.device("cpu")
    dataset = build_val_dataset(config, spec)
    metrics = {"torch_fp32_recovered": validate(model, dataset, spec, config, device)}
    with tempfile.TemporaryDirectory() as tmp:
        path = onnx_file
        if onnx_file.suffix == ".xz":  # the runtime backends read plain .onnx files
            path = Path(tmp) / onnx_file.stem
            with lzma.open(onnx_file, "rb") as src, path.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        with FileRunner(path, threads=torch.get_num_threads()) as runner:
            metrics["onnx_file"] = validate(OnnxModule(runner), dataset, spec, config, device)
    return metrics


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="registry name, e.g. simdr_r50_128")
    parser.add_argument("--onnx", help="ONNX file (.onnx or .onnx.xz); default: the shipped int8 file of --model")
    parser.add_argument("--calibration", required=True, help="COCO-format folder (annotations/, images/)")
    parser.add_argument("--batches", type=int, default=8, help="calibration batches (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="which calibration crops (default 0)")
    parser.add_argument("--out", required=True, help="checkpoint to write (.pt)")
    parser.add_argument("--val", default=str(REPO / "data" / "synth" / "val"), help="COCO-format validation folder")
    parser.add_argument("--no_eval", action="store_true", help="skip the evaluation")
    parser.add_argument("--folded_scale", action="store_true",
                        help="keep the folded conv weights W' as they are instead of giving each channel the norm "
                             "of a fresh init (the scale then stays out of the BatchNorm weights)")
    args, overrides = parser.parse_known_args(argv)
    if args.batches < 1:
        raise InputError(f"--batches must be >= 1, got {args.batches}")
    require_paths([("--onnx", args.onnx, "file")])
    cal_ann, cal_images = _coco_folder("--calibration", args.calibration)
    val = ["--val_ann", str(Path(args.val) / ANN), "--val_images", str(Path(args.val) / "images")]
    if not args.no_eval:
        _coco_folder("--val", args.val)
    config = load_config(None, ["--model", args.model, "--dataset", "synthetic", "--workers", "0", *val, *overrides])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    import torch

    from edgepose.data import CocoPoseDataset
    from edgepose.nn import build
    from edgepose.train.checkpoint import save_checkpoint
    from edgepose.train.recover import recover_state_dict
    from edgepose.download import fetch_file
    from edgepose.zoo import get_spec

    spec = get_spec(config.model)
    onnx_file = Path(args.onnx) if args.onnx else fetch_file(spec.find_file("onnx", "int8"))
    calibration = CocoPoseDataset(cal_ann, cal_images, spec, train=False)
    batches = _calibration_batches(calibration, args.batches, config.batch_size, args.seed)
    model = build(spec)
    state_dict, report = recover_state_dict(onnx_file, model, batches, rescale=not args.folded_scale)
    save_checkpoint(args.out, {"spec": spec.to_dict(), "config": {}, "model": state_dict,
                               "recovered_from": str(onnx_file), "recovery": asdict(report)})
    result: dict[str, Any] = {"model": spec.name, "onnx": str(onnx_file), "out": args.out, "recovery": asdict(report)}
    if not args.no_eval:
        result["val"] = _evaluate(model, onnx_file, spec, config)
    print(json.dumps(result, indent=1))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the program; returns its exit status (:data:`USER_ERROR` after an ``error:`` line)."""
    return run_main(_main, argv, exit_code=USER_ERROR)


if __name__ == "__main__":
    sys.exit(main())
