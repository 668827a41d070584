"""Write ``training/configs/<model>.yaml`` for every registry model (run after changing a recipe).

Recipes (see ../shared/REFERENCE.md and training/RECIPES.md):
* SimpleBaseline / SimDR on COCO: Adam 1e-3, x0.1 at epochs 90 and 120, 140 epochs,
  rotation 40 deg (p 0.6), scale 0.3, flip, half-body 0.3, 32 images x 4 GPUs.
* Multi-resolution nets (Tran et al.): the same but drops at 120 / 150, 170 epochs.
* MPII: rotation 30, scale 0.25, drops at 90 / 120, 140 epochs, PCKh.
* HRNet-W32 / W48 (official SimDR HRNet configs): Adam 1e-3, x0.1 at epochs 170 and 200,
  210 epochs, rotation 45, scale 0.35. The official runs start from ImageNet HRNet weights
  (``hrnet_w32-36af842e.pth`` / ``hrnet_w48-8ef0771d.pth``, no public URL with a hash to
  pin); ``--pretrained`` loads ResNet trunks only, so these configs start from scratch
  unless ``--init_checkpoint`` names a pose checkpoint with the official keys.
* TokenPose-S (official ``tokenpose_s_v1`` config): from scratch, Adam 1e-3, x0.1 at epochs
  200 and 260, 300 epochs, rotation 45, scale 0.35.
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


#: non-ResNet backbones -> (epochs, lr drop epochs) of their official COCO configs
OTHER_TRUNK_SCHEDULES = {"hrnet_w32": (210, [170, 200]), "hrnet_w48": (210, [170, 200]),
                         "tokenpose_s": (300, [200, 260])}


def recipe(name: str) -> dict[str, object]:
    spec = get_spec(name)
    config: dict[str, object] = {"model": name, **DATA[spec.keypoint_set]}
    if spec.arch["backbone"] in OTHER_TRUNK_SCHEDULES:
        epochs, drops = OTHER_TRUNK_SCHEDULES[spec.arch["backbone"]]
        config.update({"epochs": epochs, "lr": 1e-3, "lr_steps": drops, "rotation_factor": 45.0,
                       "scale_factor": 0.35, "batch_size": 32, "workers": 8, "val_every": 10})
        return config
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


# CPU recipes on synthetic humans (training/synth.py): the shipped default weights and the
# SimDR-vs-heatmap comparison. Equal budget per input size: same data, steps, batch, schedule.
REPO = Path(__file__).resolve().parent.parent
SYNTH_DATA = {
    "dataset": "synthetic",
    "train_ann": "data/synth/train/annotations/person_keypoints.json",
    "train_images": "data/synth/train/images",
    "val_ann": "data/synth/val/annotations/person_keypoints.json",
    "val_images": "data/synth/val/images",
}
SYNTH_BUDGET = {  # model -> (epochs, steps per epoch, lr drop epochs, validate every); batch 32
    "simdr_r18_64": (8, 250, [6], 4),  # the CPU learning proof
    "simdr_r50_64": (6, 200, [5], 3),
    "hm_r50_64": (6, 200, [5], 3),
    "simdr_r50_128": (6, 100, [5], 3),
    "hm_r50_128": (6, 100, [5], 3),
}
# Mild geometric augmentation: at these short budgets rotation and half-body crops slowed
# learning (simdr_r18_64, 500 steps: PCK@0.1 0.378 with the COCO recipe vs 0.477 without);
# the renderer already varies pose, camera roll/elevation, clutter, occluders and lighting.
SYNTH_AUGMENTATION = {"scale_factor": 0.25, "rotation_prob": 0.0, "half_body_prob": 0.0, "flip_prob": 0.5}


# Phases 1-3 ran before bf16 training existed: fp32, NCHW (kept so that they reproduce).
SYNTH_V1_PRECISION = {"precision": "fp32", "channels_last": False}


def synthetic_recipe(name: str) -> dict[str, object]:
    """A from-scratch CPU recipe on synthetic humans (no ImageNet trunk: nothing is downloaded)."""
    epochs, steps, drops, every = SYNTH_BUDGET[name]
    return {"model": name, **SYNTH_DATA, "epochs": epochs, "max_steps_per_epoch": steps, "lr": 1e-3,
            "lr_steps": drops, **SYNTH_AUGMENTATION, "batch_size": 32, "workers": 2, "val_every": every, "device": "cpu",
            "output_dir": "runs/synth", "resume": "auto", **SYNTH_V1_PRECISION}


# Phase 2: the four ResNet-50 runs continue from their phase-1 weights with equal extra steps
# per input size (fresh Adam, lr 1e-3, one drop near the end), across sessions with --resume auto.
# Heavier geometry than phase 1: wider scale and off-centre crops, so that the whole-frame crop of
# the "full" mode and a box carried over from the previous frame (mode "track") are in the training
# distribution. Before it, simdr_r50_128 scored PCK@0.2 0.48 from the whole frame vs 0.83 from the
# person's box on tests/fixtures/synth_single_384.
SYNTH_PHASE2 = {  # model -> (epochs, steps per epoch, lr drop epochs, validate every)
    "simdr_r50_64": (15, 200, [12], 5),
    "hm_r50_64": (15, 200, [12], 5),
    "simdr_r50_128": (15, 100, [12], 5),
    "hm_r50_128": (15, 100, [12], 5),
}
SYNTH_PHASE2_AUGMENTATION = {"scale_factor": 0.35, "shift_factor": 0.12, "shift_prob": 0.5}


def synthetic_phase2_recipe(name: str) -> dict[str, object]:
    """Phase 2 of :func:`synthetic_recipe`: starts from ``runs/synth/<name>/last.pt``."""
    epochs, steps, drops, every = SYNTH_PHASE2[name]
    return {**synthetic_recipe(name), **SYNTH_PHASE2_AUGMENTATION, "init_checkpoint": f"runs/synth/{name}/last.pt",
            "epochs": epochs, "max_steps_per_epoch": steps, "lr_steps": drops, "val_every": every,
            "output_dir": "runs/synth2"}


# Phase 3: the shipped SimDR models once more, from their phase-2 weights, with their phase-2
# steps. simdr_r50_64 (session 4): after phase 2 it placed 76.5 % of the keypoints of
# tests/fixtures/synth_single_384 within PCK@0.2, under the 80 % the shipped files must reach.
# simdr_r50_128 (session 5): to close part of its gap to simdr_r50_64 (PCK@0.1 52.7 vs 54.5 on the
# held-out renders). Their heatmap twins do not get it, so the equal-budget SimDR vs heatmap table
# of RECIPES.md stays at phase 2.
SYNTH_PHASE3 = {"simdr_r50_64": (15, 200, [12], 5), "simdr_r50_128": (15, 100, [12], 5)}


def synthetic_phase3_recipe(name: str) -> dict[str, object]:
    """Phase 3: :func:`synthetic_phase2_recipe` again, from ``runs/synth2/<name>/last.pt``."""
    epochs, steps, drops, every = SYNTH_PHASE3[name]
    return {**synthetic_phase2_recipe(name), "init_checkpoint": f"runs/synth2/{name}/last.pt", "epochs": epochs,
            "max_steps_per_epoch": steps, "lr_steps": drops, "val_every": every, "output_dir": "runs/synth3"}


# v2 (the weights-v2 campaign, training/RECIPES.md "Weights v2"): from scratch, bf16 autocast +
# channels_last, one loader worker, warm-up then cosine decay to zero over the whole budget,
# AdamW, best.pt by PCK@0.1, an epoch of 500 steps (16 k samples) validated and checkpointed each
# time; the compact checkpoint kept in git lets the campaign continue on another machine.
# model -> (epochs of 500 steps x 32 = samples budget); 128: 1.5 M samples, 64: 2.0 M.
SYNTH_V2 = {"simdr_r50_128": 94, "simdr_r50_64": 125}
# epochs between compact kept checkpoints: about every 30 minutes on the 2-core CPU
SYNTH_V2_KEPT_EVERY = {"simdr_r50_128": 5, "simdr_r50_64": 15}
SYNTH_V2_RECIPE = {"device": "auto", "precision": "bf16", "channels_last": True, "workers": 0, "lr": 1e-3, "optimizer": "adamw",
                   "weight_decay": 1e-4, "lr_schedule": "linear", "warmup_steps": 500, "max_steps_per_epoch": 500,
                   "val_every": 1, "best_metric": "PCK@0.1"}


def synthetic_v2_recipe(name: str) -> dict[str, object]:
    """The v2 campaign recipe of ``name`` (see SYNTH_V2_RECIPE)."""
    config = {**synthetic_recipe(name), **SYNTH_PHASE2_AUGMENTATION, **SYNTH_V2_RECIPE, "epochs": SYNTH_V2[name],
              "output_dir": "runs/v2", "kept_checkpoint": f"training/checkpoints/{name}.ckpt.xz",
              "kept_every": SYNTH_V2_KEPT_EVERY[name]}
    config.pop("lr_steps")
    return config


def write(path: Path, header: str, config: dict[str, object]) -> None:
    lines = [f"# {header}; python training/train.py --config {path.relative_to(REPO).as_posix()}"]
    lines += [f"{key}: {value}" for key, value in config.items()]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    out = REPO / "training" / "configs"
    (out / "synthetic").mkdir(parents=True, exist_ok=True)
    for name in list_models():
        write(out / f"{name}.yaml", get_spec(name).description, recipe(name))
    for name in SYNTH_BUDGET:
        write(out / "synthetic" / f"{name}.yaml", f"{name} from scratch on synthetic humans, CPU",
              synthetic_recipe(name))
    for name in SYNTH_PHASE2:
        write(out / "synthetic" / f"{name}_phase2.yaml", f"{name} on synthetic humans, CPU, phase 2",
              synthetic_phase2_recipe(name))
    for name in SYNTH_PHASE3:
        write(out / "synthetic" / f"{name}_phase3.yaml", f"{name} on synthetic humans, CPU, phase 3",
              synthetic_phase3_recipe(name))
    for name in SYNTH_V2:
        write(out / "synthetic" / f"{name}_v2.yaml", f"{name} on synthetic humans, weights-v2 campaign",
              synthetic_v2_recipe(name))
    n_synthetic = len(SYNTH_BUDGET) + len(SYNTH_PHASE2) + len(SYNTH_PHASE3) + len(SYNTH_V2)
    print(f"wrote {len(list_models())} configs to {out} and {n_synthetic} to "
          f"{out / 'synthetic'}")


if __name__ == "__main__":
    main()
