"""Helper of tests/aarch64/run.sh: fixed inputs, keypoints through edgepose.Estimator, comparison.

Runs on the native host and, unchanged, inside the emulated arm64 chroot. Only the
standard library is imported at module level, so the host-side subcommands
(``requirements``, ``pip-conf``) work with any Python >= 3.10.

Subcommands::

    parity.py make-inputs --out inputs.npz [--frames 2]     # native: decode fixture frames + GT boxes
    parity.py run --model M.onnx --inputs inputs.npz --out PREFIX [--threads 1]
                                                            # both sides: PREFIX.npy (keypoints), PREFIX.json
                                                            # (versions, timings), .scores.npy, .outputs.npz
    parity.py compare NATIVE_PREFIX EMULATED_PREFIX [--tol 0.5] [--min-fraction 0.99]
                                                            # exit 1 when the fraction within tol is too low
    parity.py report SUMMARY.json...                        # one line per comparison
    parity.py versions                                      # python + runtime package versions
    parity.py requirements PYPROJECT --extras ort,tflite    # runtime requirement lines, one a line
    parity.py pip-conf --cert /etc/ssl/certs/ca-certificates.crt
                                                            # pip.conf for the chroot from the host's pip settings

The fixed inputs are decoded once on the host and shipped as arrays, so both sides feed
bit-identical frames (JPEG decoding is not part of what is compared). Keypoints are in
frame pixels, concatenated over frames: (persons, K, 2).
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_FIXTURES = HERE.parent / "fixtures" / "synth_small"


# ---- make-inputs (native) ------------------------------------------------------------------------
def cmd_make_inputs(args: argparse.Namespace) -> int:
    """Pick the fixture frames with the most people (ties: lowest image id), decode them, store
    frames and GT boxes in one .npz."""
    import cv2
    import numpy as np

    fixtures = Path(args.fixtures)
    coco = json.loads((fixtures / "annotations" / "person_keypoints.json").read_text())
    boxes_by_image: dict[int, list[list[float]]] = {}
    for ann in coco["annotations"]:
        if ann.get("iscrowd", 0) or ann.get("num_keypoints", 1) == 0:
            continue
        boxes_by_image.setdefault(ann["image_id"], []).append([float(v) for v in ann["bbox"]])
    images = sorted((img for img in coco["images"] if img["id"] in boxes_by_image),
                    key=lambda img: (-len(boxes_by_image[img["id"]]), img["id"]))[: args.frames]
    if len(images) < args.frames:
        print(f"only {len(images)} annotated frames in {fixtures}", file=sys.stderr)
        return 2
    frames, boxes, names = [], [], []
    for img in images:
        frame = cv2.imread(str(fixtures / "images" / img["file_name"]), cv2.IMREAD_COLOR)
        if frame is None:
            print(f"cannot read {img['file_name']}", file=sys.stderr)
            return 2
        frames.append(frame)
        boxes.append(np.asarray(boxes_by_image[img["id"]], dtype=np.float64))
        names.append(img["file_name"])
    out = {"names": np.asarray(names)}
    for i, (f, b) in enumerate(zip(frames, boxes)):
        out[f"frame{i}"], out[f"boxes{i}"] = f, b
    np.savez(args.out, **out)
    print(f"inputs: {len(frames)} frames ({', '.join(names)}), "
          f"{sum(len(b) for b in boxes)} persons -> {args.out}")
    return 0


def load_inputs(path: str) -> tuple[list, list, list[str]]:
    import numpy as np

    data = np.load(path)
    n = sum(1 for k in data.files if k.startswith("frame"))
    return ([data[f"frame{i}"] for i in range(n)], [data[f"boxes{i}"] for i in range(n)],
            [str(s) for s in data["names"]])


# ---- run (both sides) ----------------------------------------------------------------------------
def dist_versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {}
    for dist in ("edgepose", "numpy", "opencv-python-headless", "opencv-python", "onnxruntime",
                 "ai-edge-litert", "flatbuffers"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


# Linux arm64 HWCAP / HWCAP2 bits that decide which int8 kernels the runtimes pick
HWCAP_BITS = {0: "fp", 1: "asimd", 7: "crc32", 9: "fphp", 10: "asimdhp", 20: "asimddp(dotprod)", 22: "sve"}
HWCAP2_BITS = {1: "sve2", 13: "i8mm", 14: "bf16", 23: "sme"}


def cpu_features() -> str:
    """The CPU features the kernel (here: qemu) reports to programs, on aarch64; else ''."""
    if platform.machine() != "aarch64":
        return ""
    import ctypes

    getauxval = ctypes.CDLL(None).getauxval
    getauxval.restype = ctypes.c_ulong
    hwcap, hwcap2 = getauxval(16), getauxval(26)             # AT_HWCAP, AT_HWCAP2
    return " ".join([n for b, n in HWCAP_BITS.items() if hwcap >> b & 1]
                    + [n for b, n in HWCAP2_BITS.items() if hwcap2 >> b & 1])


def cmd_run(args: argparse.Namespace) -> int:
    """Keypoints of every person of the fixed inputs through edgepose.Estimator.estimate."""
    t0 = time.perf_counter()
    import numpy as np

    import edgepose

    t_import = time.perf_counter() - t0
    frames, boxes, names = load_inputs(args.inputs)

    t1 = time.perf_counter()
    est = edgepose.Estimator(args.model, threads=args.threads, smoothing=None)
    t_load = time.perf_counter() - t1
    runtime = type(est.backend).__name__
    # keep the raw model outputs (codec order) that estimate() decodes, for the diagnosis of
    # mismatches in compare; wrapping the instance's infer() adds no second inference
    raw: list[list] = []
    infer = est.infer

    def capture(batch):  # noqa: ANN001, ANN202
        outs = infer(batch)
        raw.append([np.array(o, dtype=np.float32) for o in outs])
        return outs

    est.infer = capture
    keypoints, scores, frame_seconds = [], [], []
    with est:
        for frame, b in zip(frames, boxes):
            t = time.perf_counter()
            result = est.estimate(frame, b, track_ids=np.arange(len(b)))
            frame_seconds.append(time.perf_counter() - t)
            keypoints.append(np.asarray(result.keypoints, dtype=np.float64))
            scores.append(np.asarray(result.scores, dtype=np.float64))
    outputs = {f"output{j}": np.concatenate([r[j] for r in raw], axis=0) for j in range(len(raw[0]))}
    np.savez(args.out + ".outputs.npz", **outputs)
    kp = np.concatenate(keypoints, axis=0)
    sc = np.concatenate(scores, axis=0)
    np.save(args.out + ".npy", kp)
    np.save(args.out + ".scores.npy", sc)
    record = {
        "model": os.path.basename(args.model),
        "backend": runtime,
        "machine": platform.machine(),
        "cpu_features": cpu_features(),
        "python": platform.python_version(),
        "versions": dist_versions(),
        "edgepose_file": edgepose.__file__,
        "threads": args.threads,
        "frames": names,
        "persons": int(kp.shape[0]),
        "keypoints_shape": list(kp.shape),
        "seconds": {"import": t_import, "load": t_load, "frames": frame_seconds,
                    "total": time.perf_counter() - t0},
    }
    Path(args.out + ".json").write_text(json.dumps(record, indent=2) + "\n")
    v = record["versions"]
    print(f"[{record['machine']}] {record['model']}: {runtime}, {kp.shape[0]} persons x {kp.shape[1]} keypoints; "
          f"import {t_import:.2f} s, load {t_load:.2f} s, "
          f"frames {' '.join(f'{s:.3f}' for s in frame_seconds)} s | python {record['python']}, "
          f"numpy {v['numpy']}, onnxruntime {v['onnxruntime']}, ai-edge-litert {v['ai-edge-litert']}, "
          f"opencv {v['opencv-python-headless'] or v['opencv-python']}")
    return 0


# ---- compare (native) ----------------------------------------------------------------------------
def cmd_compare(args: argparse.Namespace) -> int:
    """Euclidean distance per keypoint between the native and the emulated run."""
    import numpy as np

    native, emulated = np.load(args.native + ".npy"), np.load(args.emulated + ".npy")
    meta_n = json.loads(Path(args.native + ".json").read_text())
    meta_e = json.loads(Path(args.emulated + ".json").read_text())
    name = meta_n["model"]
    if native.shape != emulated.shape or native.size == 0:
        print(f"FAIL {name}: keypoint shapes differ: native {native.shape}, emulated {emulated.shape}")
        return 1
    dist = np.linalg.norm(emulated - native, axis=-1)            # (persons, K); NaN if either is NaN
    dist = np.where(np.isfinite(dist), dist, np.inf)
    within = int(np.count_nonzero(dist <= args.tol))
    total = dist.size
    fraction = within / total
    max_diff = float(dist.max())
    score_diff = float(np.nanmax(np.abs(np.load(args.emulated + ".scores.npy") - np.load(args.native + ".scores.npy"))))
    out_n, out_e = np.load(args.native + ".outputs.npz"), np.load(args.emulated + ".outputs.npz")
    output_diff = max(float(np.max(np.abs(out_e[k] - out_n[k]))) for k in out_n.files)
    output_range = max(float(np.ptp(out_n[k])) for k in out_n.files)
    ok = fraction >= args.min_fraction
    ratio = np.divide(meta_e["seconds"]["frames"], meta_n["seconds"]["frames"])
    print(f"{'PASS' if ok else 'FAIL'} {name} [{meta_n['backend']}]: {within}/{total} keypoints within "
          f"{args.tol} px = {fraction:.4f} (need >= {args.min_fraction}); max diff {max_diff:.4f} px; "
          f"max score diff {score_diff:.4g}; max raw output diff {output_diff:.4g} (output range {output_range:.4g}); "
          f"emulated/native inference time per frame {' '.join(f'{r:.0f}x' for r in ratio)}")
    # each keypoint off by more than tol: where it went, and how close the native run's best two
    # output bins were (a near tie in the model output flips the argmax on tiny numeric changes)
    mismatches = []
    for p, k in zip(*np.nonzero(dist > args.tol)):
        margins = []
        for key in out_n.files:
            v = np.sort(out_n[key][p, k].reshape(-1))
            margins.append(float(v[-1] - v[-2]) if v.size > 1 else float("nan"))
        mismatches.append({"person": int(p), "keypoint": int(k), "native": native[p, k].tolist(),
                           "emulated": emulated[p, k].tolist(), "native_top2_margins": margins})
        print(f"    person {p} keypoint {k}: native ({native[p, k, 0]:.2f}, {native[p, k, 1]:.2f}) -> emulated "
              f"({emulated[p, k, 0]:.2f}, {emulated[p, k, 1]:.2f}); native top-2 output margins "
              f"{', '.join(f'{m:.3g}' for m in margins)}")
    summary = {"model": name, "backend": meta_n["backend"], "within": within, "total": total,
               "fraction": fraction, "max_diff_px": max_diff, "max_score_diff": score_diff,
               "max_output_diff": output_diff, "output_range": output_range, "mismatches": mismatches,
               "tol_px": args.tol, "min_fraction": args.min_fraction, "pass": ok,
               "native": meta_n, "emulated": meta_e}
    if args.summary:
        Path(args.summary).write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if ok else 1


def cmd_report(args: argparse.Namespace) -> int:
    """One line per comparison summary written by ``compare --summary``."""
    for path in args.summaries:
        s = json.loads(Path(path).read_text())
        e = s["emulated"]
        print(f"  {s['model']} [{s['backend']}]: {'PASS' if s['pass'] else 'FAIL'}  within {s['tol_px']} px: "
              f"{s['within']}/{s['total']} = {s['fraction']:.4f}  max diff {s['max_diff_px']:.4f} px  "
              f"| emulated: load {e['seconds']['load']:.1f} s, frames "
              f"{' '.join(f'{t:.1f}' for t in e['seconds']['frames'])} s")
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    """The interpreter and the runtime packages (run inside the chroot: imports them all)."""
    import cv2
    import numpy
    import onnxruntime

    import ai_edge_litert.interpreter  # noqa: F401 - proves the LiteRT extension loads
    import edgepose

    v = dist_versions()
    print(f"{platform.machine()}: python {platform.python_version()}, numpy {numpy.__version__}, "
          f"opencv {cv2.__version__}, onnxruntime {onnxruntime.__version__}, ai-edge-litert {v['ai-edge-litert']}, "
          f"flatbuffers {v['flatbuffers']}, edgepose {v['edgepose']} ({edgepose.__file__})")
    if cpu_features():
        print(f"CPU features (HWCAP): {cpu_features()}")
    return 0


# ---- host-side configuration -----------------------------------------------------------------------
def cmd_requirements(args: argparse.Namespace) -> int:
    """The project's dependencies plus the requested extras (names as written in pyproject)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    project = tomllib.loads(Path(args.pyproject).read_text())["project"]
    reqs = list(project.get("dependencies", []))
    extras = project.get("optional-dependencies", {})
    for extra in filter(None, args.extras.split(",")):
        if extra not in extras:
            print(f"no extra {extra!r} in {args.pyproject}", file=sys.stderr)
            return 2
        reqs += extras[extra]
    print("\n".join(dict.fromkeys(r.split(";")[0].strip() for r in reqs)))
    return 0


PIP_KEYS = ("index-url", "extra-index-url", "trusted-host", "proxy", "timeout", "default-timeout", "retries")


def _is_remote(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def cmd_pip_conf(args: argparse.Namespace) -> int:
    """A pip.conf for the chroot that keeps the host's network settings (index, extra index,
    trusted hosts, proxy, timeouts) and drops what only exists on the host (file:// indexes,
    find-links folders, cert paths: the chroot gets its own copy of the CA bundle)."""
    settings: dict[str, str] = {}
    files = ["/etc/xdg/pip/pip.conf", "/etc/pip.conf", os.path.expanduser("~/.pip/pip.conf"),
             os.path.expanduser("~/.config/pip/pip.conf")]
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(os.environ["PIP_CONFIG_FILE"])
    for path in files:                              # later files override earlier ones, as in pip
        parser = configparser.ConfigParser()
        try:
            parser.read(path)
        except configparser.Error as exc:
            print(f"ignoring unreadable {path}: {exc}", file=sys.stderr)
            continue
        for section in ("global", "install"):
            if parser.has_section(section):
                for key in PIP_KEYS:
                    if parser.has_option(section, key):
                        settings[key] = parser.get(section, key)
    for key in PIP_KEYS:                            # then PIP_* variables, as in pip
        env = os.environ.get("PIP_" + key.upper().replace("-", "_"))
        if env is not None:
            settings[key] = env
    lines = ["[global]", f"cert = {args.cert}", "disable-pip-version-check = true"]
    for key, value in settings.items():
        if key in ("index-url", "extra-index-url", "proxy"):
            kept = [v for v in value.split() if _is_remote(v)]
            dropped = [v for v in value.split() if not _is_remote(v)]
            if dropped:
                print(f"pip-conf: dropping host-only {key} {' '.join(dropped)}", file=sys.stderr)
            value = " ".join(kept)
        if value:
            lines.append(f"{key} = {value}")
    print("\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("make-inputs", help="decode fixture frames + GT boxes into an .npz")
    p.add_argument("--out", required=True)
    p.add_argument("--frames", type=int, default=2)
    p.add_argument("--fixtures", default=str(DEFAULT_FIXTURES))
    p.set_defaults(func=cmd_make_inputs)
    p = sub.add_parser("run", help="keypoints of the fixed inputs through edgepose.Estimator")
    p.add_argument("--model", required=True)
    p.add_argument("--inputs", required=True)
    p.add_argument("--out", required=True,
                   help="output prefix: PREFIX.npy, PREFIX.scores.npy, PREFIX.outputs.npz, PREFIX.json")
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("compare", help="native vs emulated keypoints")
    p.add_argument("native")
    p.add_argument("emulated")
    p.add_argument("--tol", type=float, default=0.5)
    p.add_argument("--min-fraction", type=float, default=0.99)
    p.add_argument("--summary", help="write the comparison as JSON here")
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser("report", help="print comparison summaries")
    p.add_argument("summaries", nargs="+")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("versions", help="print the runtime's versions")
    p.set_defaults(func=cmd_versions)
    p = sub.add_parser("requirements", help="runtime requirements from pyproject.toml")
    p.add_argument("pyproject")
    p.add_argument("--extras", default="")
    p.set_defaults(func=cmd_requirements)
    p = sub.add_parser("pip-conf", help="pip.conf for the chroot")
    p.add_argument("--cert", required=True)
    p.set_defaults(func=cmd_pip_conf)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
