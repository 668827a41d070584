"""``edgepose bench|export|verify|train``: the repository's tools, run as ``python <script>`` runs them.

The tools (``apps/bench.py``, ``quantization/export.py``, ``quantization/int8.py``,
``quantization/verify.py``, ``training/train.py``) stay scripts in the repository — users and
docs call them by path, and they read the clone's configs, peers and data — so these
commands need a clone installed with ``pip install -e``: the script is looked up beside the
``edgepose`` package and run as ``__main__`` (same options, output and exit
status as the script; usage lines say ``edgepose <command>``). A missing clone or a missing
torch is one ``error:`` line and exit status 2, before anything is imported.

``edgepose export --int8 ...`` writes the fp32 files and the int8 ones in one command: the
options of ``quantization/int8.py`` are checked first, then ``quantization/export.py`` runs
with the options it knows, then ``quantization/int8.py`` with its own.
"""

from __future__ import annotations

import importlib.util
import runpy
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edgepose.cli import require_paths, run_main
from edgepose.errors import InputError, install_hint

__all__ = ["TOOLS", "repository_root", "run_tool", "split_export_args"]

#: command -> (script in the clone, modules it needs, the extra that installs them)
TOOLS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "bench": ("apps/bench.py", ("cv2", "numpy"), "ort"),
    "export": ("quantization/export.py", ("torch", "nncf", "onnx"), "export"),
    "verify": ("quantization/verify.py", ("torch", "nncf", "onnx"), "export"),
    "train": ("training/train.py", ("torch",), "train"),
}
INT8_SCRIPT = "quantization/int8.py"
USER_ERROR = 2

#: options only quantization/export.py takes (True: takes a value)
EXPORT_ONLY = {"--targets": True, "--static-batch": False, "--no-check": False}
#: options only quantization/int8.py takes
INT8_ONLY = {"--ann": True, "--images": True, "--subset-size": True, "--seed": True, "--formats": True,
             "--preset": True, "--head": True, "--bias-correction": True, "--fuse-residual-adds": False}


def repository_root() -> Path | None:
    """The clone the ``edgepose`` package was installed from (``pip install -e``), or None (a wheel)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "quantization").is_dir() else None


def _script(command: str, relative: str) -> Path:
    root = repository_root()
    if root is None or not (root / relative).is_file():
        raise InputError(f"edgepose {command} runs {relative} from a clone of the edgepose repository, and this "
                         f"install has none: clone it and install it with pip install -e \".[all]\", or run "
                         f"python {relative} there")
    return root / relative


def _require(command: str, modules: Sequence[str], extra: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError(f"edgepose {command} needs {', '.join(missing)}, which is not installed: "
                         f"{install_hint(extra)}")


@contextmanager
def _as_script(path: Path, prog: str) -> Iterator[None]:
    """``sys.argv[0]`` (argparse's program name) and ``sys.path[0]`` as when ``python path`` runs."""
    saved_argv0, saved_path = sys.argv[0] if sys.argv else "", list(sys.path)
    if sys.argv:
        sys.argv[0] = prog
    else:
        sys.argv.append(prog)
    sys.path.insert(0, str(path.parent))
    try:
        yield
    finally:
        sys.argv[0] = saved_argv0
        sys.path[:] = saved_path


def _exit_status(code: object) -> int:
    """The exit status a ``SystemExit(code)`` gives (a message is printed, as Python does)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _run_script(path: Path, prog: str, argv: Sequence[str]) -> int:
    """Run ``path`` as ``__main__`` with ``argv`` (as :func:`runpy.run_path` does, but keeping
    ``sys.argv[0] = prog`` so that usage lines name the command); its exit status."""
    code = compile(path.read_bytes(), str(path), "exec")
    module = types.ModuleType("__main__")
    module.__file__ = str(path)
    saved_argv, saved_main = list(sys.argv), sys.modules["__main__"]
    sys.argv[:] = [prog, *argv]
    sys.modules["__main__"] = module
    try:
        with _as_script(path, prog):
            exec(code, module.__dict__)  # noqa: S102 - the repository's own script, as python <script> runs it
    except SystemExit as exc:
        return _exit_status(exc.code)
    finally:
        sys.argv[:] = saved_argv
        sys.modules["__main__"] = saved_main
    return 0


def _load(path: Path, prog: str) -> dict[str, Any]:
    """The globals of the script at ``path``, imported (not run) under another name."""
    with _as_script(path, prog):
        return runpy.run_path(str(path), run_name=f"edgepose_tool_{path.stem}")


def split_export_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(arguments for quantization/export.py, arguments for quantization/int8.py) of ``export --int8``.

    Options only one script takes go to that script; the others (the model, ``--out-dir``,
    ``--opset``, ``--tflite-layout``, ``--score-threshold``, ``-v``) go to both.
    """
    export: list[str] = []
    int8: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        name, has_value = item.split("=", 1)[0], "=" in item
        takes = EXPORT_ONLY.get(name, INT8_ONLY.get(name))
        group = [item] + ([items[i + 1]] if takes and not has_value and i + 1 < len(items) else [])
        if name in EXPORT_ONLY:
            export += group
        elif name in INT8_ONLY:
            int8 += group
        else:
            group = [item]
            if item.startswith("--") and not has_value and i + 1 < len(items) and not items[i + 1].startswith("-"):
                group.append(items[i + 1])  # a shared option's value
            export += group
            int8 += group
        i += len(group)
    return export, int8


def _export_int8(argv: Sequence[str]) -> int:
    export_path, int8_path = _script("export", TOOLS["export"][0]), _script("export", INT8_SCRIPT)
    export_argv, int8_argv = split_export_args(argv)
    prog = "edgepose export --int8"
    int8 = _load(int8_path, prog)
    saved = sys.argv[0]
    sys.argv[0] = prog
    try:
        int8_args = int8["parse_args"](int8_argv)  # its usage errors (a missing --ann) before the fp32 export runs
    except SystemExit as exc:
        return _exit_status(exc.code)
    finally:
        sys.argv[0] = saved
    require_paths([("--ann", int8_args.ann, "file"), ("--images", int8_args.images, "dir")])
    status = _run_script(export_path, "edgepose export", export_argv)
    if status != 0:
        return status
    return _run_script(int8_path, prog, int8_argv)


def run_tool(command: str, argv: Sequence[str]) -> int:
    """Run the tool behind ``edgepose <command>`` with ``argv``; its exit status."""
    relative, modules, extra = TOOLS[command]

    def start(args: Sequence[str] | None) -> int:
        _require(command, modules, extra)
        rest = list(args or [])
        if command == "export" and "--int8" in rest:
            rest.remove("--int8")
            return _export_int8(rest)
        return _run_script(_script(command, relative), f"edgepose {command}", rest)

    runner: Callable[[Sequence[str] | None], int] = start
    return run_main(runner, list(argv), exit_code=USER_ERROR)
