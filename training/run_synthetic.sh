#!/usr/bin/env bash
# Reproduce the synthetic-human CPU runs of training/RECIPES.md: the data, the learning proof
# (simdr_r18_64 untrained vs trained), and the equal-budget SimDR vs heatmap models at 64 and 128
# whose int8 files ship in edgepose/weights. About 2 h on 2 CPU cores; --resume auto continues
# an interrupted run. `training/run_synthetic.sh phase2` continues the ResNet-50 runs (several
# sessions of CPU time); `phase3` continues simdr_r50_64 and simdr_r50_128 (MODELS=... picks).
# Run from the repository root with the [train] extra installed.
set -euo pipefail
PY=${PYTHON:-python}
[ -f data/synth/train/annotations/person_keypoints.json ] ||
    $PY training/synth.py --out data/synth/train --n 12000 --size 192 --seed 1 --workers 2 --preset v1
[ -f data/synth/val/annotations/person_keypoints.json ] ||
    $PY training/synth.py --out data/synth/val --n 400 --size 192 --seed 1000 --workers 2 --preset v1
if [ "${1:-}" = phase2 ]; then  # continue the four ResNet-50 runs (equal extra steps), resumable
    for model in ${MODELS:-simdr_r50_128 simdr_r50_64 hm_r50_64 hm_r50_128}; do
        $PY training/train.py --config "training/configs/synthetic/${model}_phase2.yaml"
    done
    exit 0
fi
if [ "${1:-}" = phase3 ]; then  # the shipped SimDR models once more from their phase-2 weights
    for model in ${MODELS:-simdr_r50_64 simdr_r50_128}; do
        $PY training/train.py --config "training/configs/synthetic/${model}_phase3.yaml"
    done
    exit 0
fi
for model in ${MODELS:-simdr_r18_64 simdr_r50_128 simdr_r50_64 hm_r50_64 hm_r50_128}; do
    $PY training/train.py --config "training/configs/synthetic/$model.yaml"
done
