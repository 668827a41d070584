"""``edgepose models``: the registry, which names have files runnable here, and what each file is.

For each registry model with weights (shipped in the package or pinned at an https URL) it
prints one row per file: format, precision, size, where the file is (``cached``: unpacked
or downloaded into the cache; ``in package``: unpacked on first use; ``download``: fetched
from its URL on first use), and whether this install can run it (the file's backend is
installed); then what the weights were trained on. Names without files follow on one line.
Nothing is downloaded, unpacked or hashed.
"""

from __future__ import annotations

import argparse
import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

from edgepose.runtime.backends import backends_for_suffix, is_available
from edgepose.cli import ArgumentParser, run_main
from edgepose.zoo import PACKAGE_SCHEME, PACKED_SUFFIX, WEIGHTS_DIR, ModelFile, get_spec, list_models

__all__ = ["file_location", "main", "runnable_backend"]

#: the extra that installs each backend (a clone's editable install)
BACKEND_EXTRAS = {"onnxruntime": "ort", "tflite": "tflite", "openvino": "openvino"}
SUFFIX = {"onnx": ".onnx", "tflite": ".tflite"}


def _cache_root() -> Path:
    """``edgepose.download.cache_dir()`` without creating it."""
    return Path(os.environ.get("EDGEPOSE_CACHE", Path.home() / ".cache" / "edgepose"))


def file_location(model_file: ModelFile) -> str | None:
    """``"cached"``, ``"in package"``, ``"download"``, or None when the file cannot be had here."""
    url = model_file.url
    if url.startswith(PACKAGE_SCHEME):
        path = WEIGHTS_DIR / url[len(PACKAGE_SCHEME):]
        if path.suffix != PACKED_SUFFIX:
            return "in package" if path.is_file() else None
        if (_cache_root() / f"{model_file.sha256[:16]}-{path.stem}").is_file():
            return "cached"
        return "in package" if path.is_file() else None
    if url.startswith("https://"):
        return "cached" if (_cache_root() / f"{model_file.sha256[:16]}-{Path(url).name}").is_file() else "download"
    return None


def runnable_backend(model_file: ModelFile) -> tuple[str | None, str]:
    """(installed backend that reads the file, or None; the install hint when None)."""
    candidates = backends_for_suffix(SUFFIX.get(model_file.format, "." + model_file.format))
    for backend in candidates:
        if is_available(backend):
            return backend, ""
    return None, f'needs {candidates[0]}: pip install -e ".[{BACKEND_EXTRAS.get(candidates[0], candidates[0])}]"'


def _main(argv: Sequence[str] | None, prog: str | None = None) -> int:
    parser = ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("pattern", nargs="?", default="", help="only names containing this text")
    args = parser.parse_args(argv)
    names = list_models(args.pattern)
    with_files = [n for n in names if get_spec(n).files]
    print(f"{'':2}{'model':20} {'input':8} {'format':7}{'precision':10}{'size':>9}  {'file':11} runs here")
    runnable_names = []
    for name in with_files:
        spec = get_spec(name)
        hw = f"{spec.input_hw[0]}x{spec.input_hw[1]}"
        for model_file in spec.files:
            where = file_location(model_file)
            backend, hint = runnable_backend(model_file)
            ok = where is not None and backend is not None
            if ok:
                runnable_names.append(name)
            here = f"yes ({backend})" if ok else ("no: file missing" if where is None else f"no: {hint}")
            print(f"{'*' if ok else ' ':2}{name:20} {hw:8} {model_file.format:7}{model_file.precision:10}"
                  f"{model_file.size / 1e6:6.1f} MB  {where or 'missing':11} {here}")
        trained = spec.trained_on or "not stated"
        print(textwrap.fill(f"trained on: {trained}", width=100, initial_indent=" " * 4, subsequent_indent=" " * 6))
    without = [n for n in names if n not in with_files]
    if without:
        print(f"\nno weights ({len(without)} names; train or export your own, then pass the file to --model):")
        print(textwrap.fill(", ".join(without), width=100, initial_indent="  ", subsequent_indent="  "))
    runnable = sorted(set(runnable_names))
    print(f"\n* runnable here: {', '.join(runnable) if runnable else 'none'} "
          f"(edgepose run --model NAME --source sample --save out.png)")
    return 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Print the table; a user error prints one ``error:`` line and returns 2."""
    return run_main(lambda a: _main(a, prog), argv, exit_code=2)
