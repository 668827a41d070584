"""Write ``training/configs/<model>.yaml`` for every registry model (run after changing a recipe).

Recipes (see ../shared/REFERENCE.md and training/RECIPES.md):
* SimpleBaseline / SimDR on COCO: Adam 1e-3, x0.1 at epochs 90 and 120, 140 epochs,
  rotation 40 deg (p 0.6), scale 0.3, flip, half-body 0.3, 32 images x 4 GPUs.
* Multi-resolution nets (Tran et al.): the same but drops at 120 / 150, 170 epochs.
* MPII: rotation 30, scale 0.25, drops at 90 / 120, 140 epochs, PCKh.
"""

from __future__ import annotations

from pathlib import Path

from edgepose.nn.resnet import parse_backbone
from edgepose.nn.weights import TORCHVISION_RESNET_URLS
from edgepose.zoo import get_spec, list_models

DATA = {
    "coco17": {
        "dataset": "coco",
        "train_ann": "data/coco/annotations/person_keypoints_train2017.json",
        "train_images": "data/coco/images/train2017",
        "val_ann": "data/coco/annotations/person_keypoints_val2017.json",
        "val_images": "data/coco/images/val2017",
        "val_detections": "data/coco/person_detection_results/COCO_val2017_detections_AP_H_56_person.json",
    },
    "mpii16": {
        "dataset": "mpii",
        "train_ann": "data/mpii/annot/train.json",
        "train_images": "data/mpii/images",
        "val_ann": "data/mpii/annot/valid.json",
        "val_images": "data/mpii/images",
        "mpii_gt_mat": "data/mpii/annot/gt_valid.mat",
        "rotation_factor": 30.0,
        "scale_factor": 0.25,
    },
    "crowdpose14": {
        "dataset": "crowdpose",
        "train_ann": "data/crowdpose/json/crowdpose_trainval.json",
        "train_images": "data/crowdpose/images",
        "val_ann": "data/crowdpose/json/crowdpose_test.json",
        "val_images": "data/crowdpose/images",
    },
}


def recipe(name: str) -> dict[str, object]:
    spec = get_spec(name)
    config: dict[str, object] = {"model": name, **DATA[spec.keypoint_set]}
    multires = spec.arch["head"].startswith("mr")
    url = TORCHVISION_RESNET_URLS[parse_backbone(spec.arch["backbone"])]
    config.update({
        "epochs": 170 if multires else 140,
        "lr": 1e-3,
        "lr_steps": [120, 150] if multires else [90, 120],
        "batch_size": 32,
        "workers": 8,
        "pretrained": url,
        # torch.hub checks the file's sha256 against the hex prefix in its name
        "pretrained_sha256": url.rsplit("-", 1)[1].split(".")[0],
        "val_every": 10,
    })
    return config


def main() -> None:
    out = Path(__file__).parent / "configs"
    out.mkdir(exist_ok=True)
    for name in list_models():
        lines = [f"# {get_spec(name).description}; python training/train.py --config training/configs/{name}.yaml"]
        for key, value in recipe(name).items():
            lines.append(f"{key}: {value}")
        (out / f"{name}.yaml").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(list_models())} configs to {out}")


if __name__ == "__main__":
    main()
