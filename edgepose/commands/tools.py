"""``edgepose export|verify|train``: the torch-side commands.

``export`` (:mod:`edgepose.export.export_command`; ``--int8``: also :mod:`edgepose.export.int8_command`),
``verify`` (:mod:`edgepose.export.verify_command`) and ``train`` (:mod:`edgepose.train.train_command`) are
in the package, so they run from an installed wheel; ``python quantization/export.py``,
``quantization/int8.py``, ``quantization/verify.py`` and ``training/train.py`` are thin
wrappers of the same programs. Their modules import torch, so they are imported only here,
when the command runs, after a check that the modules they need are installed (a missing one
is one ``error:`` line and exit status 2); ``edgepose run`` and ``edgepose models`` never
import them.

``edgepose export --int8 ...`` writes the fp32 files and the int8 ones in one command: the
options of both are checked first (and the calibration data is looked for), then the fp32
export runs with the options it knows, then the int8 export with its own.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence

from edgepose.cli import run_main
from edgepose.errors import InputError, install_hint

__all__ = ["TOOLS", "run_tool", "split_export_args"]

#: command -> (its module in the package, the modules it needs, the extra that installs them)
TOOLS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "export": ("edgepose.export.export_command", ("torch", "nncf", "onnx"), "export"),
    "verify": ("edgepose.export.verify_command", ("torch", "nncf", "onnx"), "export"),
    "train": ("edgepose.train.train_command", ("torch", "yaml"), "train"),
}
#: the int8 half of ``edgepose export --int8`` (the torch side: imported by name, only when it runs)
INT8_MODULE = "edgepose.export.int8_command"
USER_ERROR = 2

#: options only the fp32 export takes (True: takes a value)
EXPORT_ONLY = {"--targets": True, "--static-batch": False, "--no-check": False}
#: options only the int8 export takes
INT8_ONLY = {"--ann": True, "--images": True, "--subset-size": True, "--seed": True, "--formats": True,
             "--preset": True, "--head": True, "--attention": True, "--bias-correction": True,
             "--fuse-residual-adds": False}


def _require(command: str, modules: Sequence[str], extra: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError(f"edgepose {command} needs {', '.join(missing)}, which is not installed: "
                         f"{install_hint(extra)}")


def _exit_status(code: object) -> int:
    """The exit status a ``SystemExit(code)`` gives (a message is printed, as Python does)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def split_export_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(arguments of the fp32 export, arguments of the int8 export) of ``export --int8``.

    Options only one program takes go to that program; the others (the model, ``--out-dir``,
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
    """``edgepose export --int8 ARGV``: every option checked, then the fp32 files, then the int8 files."""
    export = importlib.import_module(TOOLS["export"][0])  # torch: only when the command runs
    int8 = importlib.import_module(INT8_MODULE)

    export_argv, int8_argv = split_export_args(argv)
    prog = "edgepose export --int8"
    int8_args = int8.parse_args(int8_argv, prog)  # its usage errors (a missing --ann) before the fp32 export runs
    export_args = export.parse_args(export_argv, prog)
    int8.check_data(int8_args)  # and calibration data that is not there
    status = export.export(export_args)
    if status != 0:
        return status
    return int8.quantize(int8_args)


def run_tool(command: str, argv: Sequence[str]) -> int:
    """Run the program behind ``edgepose <command>`` with ``argv``; its exit status."""
    prog = f"edgepose {command}"

    def start(args: Sequence[str] | None) -> int:
        rest = list(args or [])
        name, modules, extra = TOOLS[command]
        _require(command, modules, extra)
        if command == "export" and "--int8" in rest:
            rest.remove("--int8")
            return _export_int8(rest)
        main: Callable[[Sequence[str], str], int] = importlib.import_module(name).main
        return main(rest, prog)

    try:
        return run_main(start, list(argv), exit_code=USER_ERROR)
    except SystemExit as exc:  # argparse's usage errors and --help
        return _exit_status(exc.code)
