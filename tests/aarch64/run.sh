#!/usr/bin/env bash
# Prove that the torch-free runtime (edgepose + numpy + OpenCV headless + onnxruntime +
# ai-edge-litert) works on aarch64: run int8 models on fixed inputs inside an emulated
# arm64 Debian bookworm (qemu-user + binfmt_misc + chroot) and compare the keypoints with
# the native run on this host.
#
#   sudo tests/aarch64/run.sh [MODEL.onnx|MODEL.tflite ...]
#
# Without arguments the int8 files the project ships are used (every int8 file in
# edgepose/weights/manifest.json, fetched and verified through the registry as Estimator does). Must run as root on an x86-64 Debian/
# Ubuntu host (it installs qemu-user-static, binfmt-support and debootstrap with apt-get
# when they are missing). See tests/aarch64/README.md for the environment variables.
#
# Pass: for every model, >= MIN_FRACTION of the keypoints of the emulated run lie within
# TOL_PX (Euclidean, frame pixels) of the native run. Exit status 0 on pass, 1 on a
# failed comparison or a failed run, 2 on a usage error.
set -Eeuo pipefail
trap 'echo "error: \"$BASH_COMMAND\" failed (line $LINENO)" >&2' ERR

T_START=$EPOCHREALTIME
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHECKOUT=$(cd "$HERE/../.." && pwd)

# ---- settings (environment) --------------------------------------------------------------
CACHE=${EDGEPOSE_AARCH64_CACHE:-/var/tmp/edgepose-aarch64}   # rootfs + chroot venv, kept between runs
PYTHON=${PYTHON:-python3}          # native interpreter with the runtime installed (ort + tflite)
FRAMES=${FRAMES:-2}                # fixture frames to run (the 2 first have 3 persons each)
TOL_PX=${TOL_PX:-0.5}
MIN_FRACTION=${MIN_FRACTION:-0.99}
# the CPU qemu emulates: a Cortex-A72 (Raspberry Pi 4) to match cpuinfo-cortex-a72.txt. qemu's
# default ("max": every feature it knows, SVE2, i8mm, SME, ...) is no real chip, and with its
# SME LiteRT's XNNPACK int8 outputs are wrong under qemu 7.2 (see README.md)
EMULATED_CPU=${EMULATED_CPU:-cortex-a72}
SUITE=bookworm
ROOT=$CACHE/rootfs
VENV=/opt/venv                     # inside the chroot
RUN_DIR=/opt/edgepose-run          # inside the chroot: fresh copy of the checkout, models, outputs
RESULTS=${RESULTS:-$CACHE/results} # on the host: native + emulated keypoints, summaries (replaced each run)

since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }   # seconds since $1
log() { printf '[aarch64 %6ss] %s\n' "$(since "$T_START")" "$*"; }
die() { echo "error: $1" >&2; exit "${2:-1}"; }   # die MESSAGE [STATUS]

# ---- phase timing --------------------------------------------------------------------------
PHASE_NAMES=()
PHASE_SECONDS=()
# timed NAME COMMAND...: run COMMAND, remember its wall time under NAME. Called as a plain
# statement, so set -e stays in force inside the setup functions: any failing step ends the run.
timed() {
    local name=$1 t0
    shift
    t0=$EPOCHREALTIME
    "$@"
    PHASE_NAMES+=("$name")
    PHASE_SECONDS+=("$(since "$t0")")
}
# timed_rc NAME COMMAND...: the same for a single command whose failure is reported, not fatal
# (use it in a condition: there set -e is off, so never with a multi-step function)
timed_rc() {
    local name=$1 t0 rc=0
    shift
    t0=$EPOCHREALTIME
    "$@" || rc=$?
    PHASE_NAMES+=("$name")
    PHASE_SECONDS+=("$(since "$t0")")
    return "$rc"
}

# ---- arguments: model files -------------------------------------------------------------------
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"   # the header above
    exit 0
fi
MODELS=()
if (($#)); then
    MODELS=("$@")
else
    command -v "$PYTHON" >/dev/null || die "native Python '$PYTHON' not found; set PYTHON=/path/to/venv/bin/python" 2
    # the shipped int8 files, as the registry resolves them (xz-packed ones are unpacked into the cache)
    mapfile -t MODELS < <(cd "$CHECKOUT" && "$PYTHON" -c '
from edgepose import download, zoo
for name, entry in sorted(zoo.read_manifest().items()):
    for f in entry["files"]:
        if f["precision"] == "int8":
            print(download.fetch_file(zoo.get_spec(name).find_file(f["format"], "int8")))')
    ((${#MODELS[@]})) || die "no model files given and edgepose/weights ships no int8 files;
usage: $0 MODEL.onnx MODEL.tflite (int8 files, e.g. made by quantization/int8.py)" 2
fi
declare -A SEEN=()
for m in "${MODELS[@]}"; do
    [[ -f $m ]] || die "model file not found: $m" 2
    case $m in *.onnx | *.tflite) ;; *) die "model must be .onnx or .tflite: $m" 2 ;; esac
    # results are named after the file name
    [[ -z ${SEEN[$(basename "$m")]:-} ]] || die "two models named $(basename "$m"): rename one" 2
    SEEN[$(basename "$m")]=1
done

[[ $(id -u) == 0 ]] || die "needs root (apt-get, binfmt_misc, mount, chroot)" 2
[[ $(uname -m) == x86_64 ]] || die "meant for an x86-64 host (this is $(uname -m))" 2
command -v "$PYTHON" >/dev/null || die "native Python '$PYTHON' not found; set PYTHON=/path/to/venv/bin/python" 2
"$PYTHON" -c 'import numpy, cv2, onnxruntime, ai_edge_litert' 2>/dev/null \
    || die "native Python '$PYTHON' lacks numpy/cv2/onnxruntime/ai_edge_litert; set PYTHON to a venv with edgepose[ort,tflite]" 2

mkdir -p "$CACHE"
# one run at a time per cache: the mounts and the chroot's work folder are shared
exec 9>"$CACHE/.lock"
flock -n 9 || die "another run holds $CACHE/.lock"

# ---- mounts: tracked, and always undone on exit ----------------------------------------------
MOUNTED=()
# mounts_under DIR: mount points at or below DIR, deepest last (as listed in /proc/mounts)
mounts_under() { awk -v r="$1" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts; }
umount_all_under() {
    local points p
    mapfile -t points < <(mounts_under "$1")
    for ((i = ${#points[@]} - 1; i >= 0; i--)); do
        p=${points[i]}
        umount "$p" 2>/dev/null || umount -l "$p" || echo "warning: could not unmount $p" >&2
    done
}
cleanup() {
    local rc=$?
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" || echo "warning: could not unmount ${MOUNTED[i]}" >&2
    done
    # anything left below the rootfs (e.g. a mount made just before a signal) goes too
    [[ -d $ROOT ]] && umount_all_under "$ROOT"
    [[ -d $ROOT.partial ]] && umount_all_under "$ROOT.partial"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
track_mount() { mount "$@"; MOUNTED+=("${!#}"); }   # last argument is the mount point
# a previous run killed with SIGKILL may have left mounts behind: remove them before anything else
[[ -d $ROOT ]] && umount_all_under "$ROOT"
# never delete a tree that still has something mounted in it (a bind of /dev would be fatal)
safe_rm() { [[ -z $(mounts_under "$1") ]] || die "refusing to delete $1: it has mounts"; rm -rf "$1"; }

# ---- phase 1: host tools and binfmt_misc -------------------------------------------------------
host_setup() {
    local missing=()
    command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
    command -v update-binfmts >/dev/null || missing+=(binfmt-support)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-user-static binfmt-support debootstrap
    fi
    [[ -e /proc/sys/fs/binfmt_misc/status ]] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    update-binfmts --enable qemu-aarch64 2>/dev/null || true
    grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null \
        || die "binfmt_misc handler qemu-aarch64 is not enabled (update-binfmts --enable qemu-aarch64 failed)"
    log "qemu: $(qemu-aarch64-static --version | head -1); binfmt flags: $(awk '/^flags/ {print $2}' /proc/sys/fs/binfmt_misc/qemu-aarch64)"
}

# ---- phase 2: arm64 bookworm root filesystem (cached) ---------------------------------------------
# The Debian mirror this host's apt uses (DEBIAN_MIRROR overrides): the first URI that serves
# the plain "bookworm" suite, from one-line .list or deb822 .sources files.
debian_mirror() {
    if [[ -n ${DEBIAN_MIRROR:-} ]]; then echo "$DEBIAN_MIRROR"; return; fi
    local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources) uri
    uri=$(awk -v suite="$SUITE" '
        /^[[:space:]]*#/ { next }
        /^deb[[:space:]]/ { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) break
                            if ($(i + 1) == suite) { print $i; exit } next }
        /^URIs:/   { uris = $2 }
        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite && uris != "") { print uris; exit } }
        /^[[:space:]]*$/ { uris = "" }
    ' "${files[@]}" 2>/dev/null || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

build_rootfs() {
    if [[ -f $ROOT/.edgepose-rootfs-complete ]]; then
        log "rootfs: cached ($ROOT)"
        return
    fi
    local mirror partial=$ROOT.partial
    mirror=$(debian_mirror)
    log "rootfs: debootstrap --foreign arm64 $SUITE from $mirror"
    [[ -d $ROOT ]] && safe_rm "$ROOT"
    [[ -d $partial ]] && { umount_all_under "$partial"; safe_rm "$partial"; }
    # first stage only: downloads the debs and unpacks the essential set on the host
    debootstrap --arch=arm64 --variant=minbase --foreign \
        --include=python3,python3-venv,ca-certificates "$SUITE" "$partial" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
        || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
    # the emulated second stage (dpkg --configure of everything) takes minutes; unpacking the
    # downloaded debs on the host gives the same files in seconds (maintainer scripts are not
    # needed for python3 + a venv)
    local n=0 deb
    for deb in "$partial"/var/cache/apt/archives/*.deb; do
        dpkg-deb -x "$deb" "$partial"
        n=$((n + 1))
    done
    ((n > 0)) || die "debootstrap left no .deb files in $partial/var/cache/apt/archives"
    rm -f "$partial"/var/cache/apt/archives/*.deb
    # what the skipped maintainer scripts would have set up
    cp "$partial/usr/share/base-passwd/passwd.master" "$partial/etc/passwd"
    cp "$partial/usr/share/base-passwd/group.master" "$partial/etc/group"
    mkdir -p "$partial/tmp" "$partial/root" "$partial/dev" "$partial/proc" && chmod 1777 "$partial/tmp"
    # fallback for a binfmt handler registered without the F (fix binary) flag
    cp /usr/bin/qemu-aarch64-static "$partial/usr/bin/"
    # the ld.so cache that the skipped libc-bin trigger would have built (first emulated command)
    chroot "$partial" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ldconfig
    mv "$partial" "$ROOT"
    log "rootfs: unpacked $n packages"
    touch "$ROOT/.edgepose-rootfs-complete"
}

# ---- chroot plumbing ------------------------------------------------------------------------------
mount_chroot() {
    # /proc, with a Cortex-A72 cpuinfo over /proc/cpuinfo: qemu 7.2 passes the host's x86
    # /proc/cpuinfo through, and the cpuinfo library in onnxruntime segfaults parsing it
    track_mount -t proc proc "$ROOT/proc"
    track_mount --bind -o ro "$HERE/cpuinfo-cortex-a72.txt" "$ROOT/proc/cpuinfo"
    # ... and the matching CPU part of sysfs (4 cores, as on a Raspberry Pi 4): the cpuinfo
    # library (onnxruntime, XNNPACK) reads the possible/present lists and per-core topology and
    # gives up on CPU detection without them; the host's /sys would describe its x86 cores
    mkdir -p "$ROOT/sys"
    track_mount -t tmpfs -o mode=0755,nosuid,nodev,noexec systmp "$ROOT/sys"
    local cpu=$ROOT/sys/devices/system/cpu c
    mkdir -p "$cpu"
    for f in possible present online; do echo 0-3 >"$cpu/$f"; done
    echo 3 >"$cpu/kernel_max"
    for c in 0 1 2 3; do
        mkdir -p "$cpu/cpu$c/topology" "$cpu/cpu$c/cpufreq"
        echo 1 >"$cpu/cpu$c/online"
        echo 0 >"$cpu/cpu$c/topology/physical_package_id"
        echo 0 >"$cpu/cpu$c/topology/cluster_id"
        echo "$c" >"$cpu/cpu$c/topology/core_id"
        echo 0-3 >"$cpu/cpu$c/topology/core_siblings_list"
        echo 0-3 >"$cpu/cpu$c/topology/package_cpus_list"
        echo 0-3 >"$cpu/cpu$c/topology/cluster_cpus_list"
        echo "$c" >"$cpu/cpu$c/topology/thread_siblings_list"
        echo "$c" >"$cpu/cpu$c/topology/core_cpus_list"
        echo 1500000 >"$cpu/cpu$c/cpufreq/cpuinfo_max_freq"
        echo 600000 >"$cpu/cpu$c/cpufreq/cpuinfo_min_freq"
    done
    # a private /dev with just the nodes Python and pip use (never a bind of the host's /dev)
    track_mount -t tmpfs -o mode=0755,nosuid devtmp "$ROOT/dev"
    local node name major minor
    for node in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
        read -r name major minor <<<"$node"
        mknod -m 666 "$ROOT/dev/$name" c "$major" "$minor"
    done
    mkdir -m 1777 "$ROOT/dev/shm"
    ln -s /proc/self/fd "$ROOT/dev/fd"
    ln -s /proc/self/fd/0 "$ROOT/dev/stdin"
    ln -s /proc/self/fd/1 "$ROOT/dev/stdout"
    ln -s /proc/self/fd/2 "$ROOT/dev/stderr"
    # networking for pip: name resolution and the host's CA bundle (the chroot's
    # ca-certificates postinst, which would build one, never ran)
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
    cp -L /etc/hosts "$ROOT/etc/hosts"
    local ca=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
    [[ -f $ca ]] || ca=/etc/ssl/certs/ca-certificates.crt
    mkdir -p "$ROOT/etc/ssl/certs"
    cp -L "$ca" "$ROOT/etc/ssl/certs/ca-certificates.crt"
    # the host's pip index / proxy settings, without host-only paths (file:// indexes, find-links)
    "$PYTHON" "$HERE/parity.py" pip-conf --cert /etc/ssl/certs/ca-certificates.crt >"$ROOT/etc/pip.conf"
}

# in_chroot CMD...: run CMD in the arm64 chroot with a clean environment (no host PIP_* leaks);
# QEMU_CPU is read by qemu-aarch64, which binfmt_misc starts for every arm64 program
in_chroot() {
    local pass=() v
    for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
        if [[ -n ${!v:-} ]]; then pass+=("$v=${!v}"); fi
    done
    chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TMPDIR=/tmp \
        PATH=$VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
        PIP_CONFIG_FILE=/etc/pip.conf OMP_NUM_THREADS=1 QEMU_CPU="$EMULATED_CPU" "${pass[@]}" "$@"
}

# ---- phase 3: the chroot's venv with the runtime dependencies (cached) -------------------------------
build_venv() {
    # numpy + OpenCV headless (the project's dependencies) + the ort and tflite extras, read
    # from pyproject.toml so this stays in step with the project; setuptools/wheel build the checkout
    local reqs want listed
    listed=$("$PYTHON" "$HERE/parity.py" requirements "$CHECKOUT/pyproject.toml" --extras ort,tflite)
    mapfile -t reqs <<<"$listed"
    reqs+=("setuptools>=68" "wheel")
    want=$(printf '%s\n' "${reqs[@]}")
    if [[ -f $ROOT$VENV/.edgepose-requirements && $(cat "$ROOT$VENV/.edgepose-requirements") == "$want" ]]; then
        log "venv: cached ($VENV in the chroot)"
        return
    fi
    log "venv: creating $VENV in the chroot and installing: ${reqs[*]}"
    safe_rm "$ROOT$VENV"
    in_chroot /usr/bin/python3 -m venv "$VENV"
    in_chroot "$VENV/bin/python" -m pip install --only-binary=:all: "${reqs[@]}"
    echo "$want" >"$ROOT$VENV/.edgepose-requirements"
}

# ---- phase 4: the checkout, fresh every run ---------------------------------------------------------
install_checkout() {
    safe_rm "$ROOT$RUN_DIR"
    mkdir -p "$ROOT$RUN_DIR/src" "$ROOT$RUN_DIR/models" "$ROOT$RUN_DIR/out"
    # what pip needs to build the package, plus this helper; build leftovers stay behind
    local items=() f
    for f in pyproject.toml setup.py setup.cfg MANIFEST.in README.md LICENSE edgepose tests/aarch64; do
        if [[ -e $CHECKOUT/$f ]]; then items+=("$f"); fi
    done
    tar -C "$CHECKOUT" --exclude=__pycache__ --exclude='*.egg-info' --exclude=build -cf - "${items[@]}" \
        | tar -C "$ROOT$RUN_DIR/src" -xf -
    in_chroot "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation --force-reinstall "$RUN_DIR/src"
    local i=0
    for m in "${MODELS[@]}"; do
        mkdir -p "$ROOT$RUN_DIR/models/$i"
        cp "$m" "$ROOT$RUN_DIR/models/$i/"
        i=$((i + 1))
    done
    cp "$RESULTS/inputs.npz" "$ROOT$RUN_DIR/inputs.npz"
    # what the emulated side runs on: python, numpy, OpenCV, onnxruntime, ai-edge-litert
    in_chroot "$VENV/bin/python" "$RUN_DIR/src/tests/aarch64/parity.py" versions
}

# ---- main -------------------------------------------------------------------------------------
log "checkout $CHECKOUT; cache $CACHE; native python $PYTHON; emulated CPU $EMULATED_CPU; models: ${MODELS[*]}"
timed "host tools + binfmt" host_setup
timed "rootfs" build_rootfs
# the previous run's results (only what this script writes: RESULTS may be any folder)
rm -rf "$RESULTS/native" "$RESULTS/emulated" "$RESULTS/inputs.npz" "$RESULTS"/*.summary.json
mkdir -p "$RESULTS/native" "$RESULTS/emulated"
timed "mount chroot" mount_chroot
timed "chroot venv" build_venv
# the fixed inputs: decoded on the host once, so both sides see identical pixels
timed "make inputs" "$PYTHON" "$HERE/parity.py" make-inputs --frames "$FRAMES" --out "$RESULTS/inputs.npz"
timed "install checkout" install_checkout

FAILED=0
SUMMARIES=()
i=0
for m in "${MODELS[@]}"; do
    name=$(basename "$m")
    # native reference, with the checkout's edgepose first on the path
    if ! timed_rc "native $name" env PYTHONPATH="$CHECKOUT${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=1 \
        "$PYTHON" "$HERE/parity.py" run --model "$m" --inputs "$RESULTS/inputs.npz" --out "$RESULTS/native/$name"; then
        echo "FAIL $name: the native run failed" >&2
        FAILED=1; i=$((i + 1)); continue
    fi
    # the same helper in the arm64 chroot, on the installed (non-editable) package
    if ! timed_rc "emulated $name" in_chroot "$VENV/bin/python" "$RUN_DIR/src/tests/aarch64/parity.py" run \
        --model "$RUN_DIR/models/$i/$name" --inputs "$RUN_DIR/inputs.npz" --out "$RUN_DIR/out/$name"; then
        echo "FAIL $name: the emulated run failed" >&2
        FAILED=1; i=$((i + 1)); continue
    fi
    cp "$ROOT$RUN_DIR/out/$name".* "$RESULTS/emulated/"
    if ! timed_rc "compare $name" "$PYTHON" "$HERE/parity.py" compare "$RESULTS/native/$name" "$RESULTS/emulated/$name" \
        --tol "$TOL_PX" --min-fraction "$MIN_FRACTION" --summary "$RESULTS/$name.summary.json"; then
        FAILED=1
    fi
    SUMMARIES+=("$RESULTS/$name.summary.json")
    i=$((i + 1))
done

# ---- report ---------------------------------------------------------------------------------------
echo
echo "== phases (wall seconds)"
for j in "${!PHASE_NAMES[@]}"; do printf '  %-45s %8s\n' "${PHASE_NAMES[j]}" "${PHASE_SECONDS[j]}"; done
printf '  %-45s %8s\n' "total" "$(since "$T_START")"
echo "== results ($RESULTS)"
if ((${#SUMMARIES[@]})); then "$PYTHON" "$HERE/parity.py" report "${SUMMARIES[@]}"; fi
if ((FAILED)); then
    echo "aarch64 parity: FAILED"
    exit 1
fi
echo "aarch64 parity: OK"
