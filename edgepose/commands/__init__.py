"""The ``edgepose`` console command (installed by pip): ``edgepose <command> [options]``.

Commands:

* ``run`` — pose estimation on a camera, video, image or ``sample`` (:mod:`edgepose.commands.run`,
  also ``python apps/webcam.py``);
* ``models`` — the registry and which names have files runnable here (:mod:`edgepose.commands.models`);
* ``bench`` — latency of model files per backend and precision, or a soak test
  (:mod:`edgepose.commands.bench` over :mod:`edgepose.bench`; also ``python apps/bench.py``, which
  adds the clone's peers);
* ``export`` (``--int8``: with int8 files, calibrated), ``verify``, ``train`` — the torch-side
  programs (:mod:`edgepose.export.export_command`, :mod:`~edgepose.export.int8_command`,
  :mod:`~edgepose.export.verify_command`, :mod:`~edgepose.train.train_command`; also ``python
  quantization/export.py``, ``quantization/int8.py``, ``quantization/verify.py``,
  ``training/train.py`` in a clone). They run from an installed wheel and need the ``export`` /
  ``train`` extra (torch); :mod:`edgepose.commands.tools` imports them only when they run.

``run``, ``models`` and ``bench`` never import torch. A user error is one
``error:`` line on stderr and exit status 2, as in every script of the repository.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "main"]

#: command -> one-line description (the order of ``edgepose --help``)
COMMANDS: dict[str, str] = {
    "run": "pose estimation on a camera, video, image or 'sample' (python apps/webcam.py)",
    "models": "the registry: which models have files runnable here, their size, precision and training data",
    "bench": "latency of model files per backend and precision, or a soak test (python apps/bench.py)",
    "export": "export a checkpoint to ONNX/TFLite fp32+fp16 (python quantization/export.py); "
              "--int8: int8 with calibration data (python quantization/int8.py)",
    "verify": "check exported files against the torch model (python quantization/verify.py)",
    "train": "train a model: --model NAME and keys, or --config FILE (python training/train.py)",
}
USER_ERROR = 2


def usage() -> str:
    """The text of ``edgepose --help``."""
    width = max(map(len, COMMANDS))
    lines = ["usage: edgepose <command> [options]   (edgepose <command> --help for its options)", "", "commands:"]
    lines += [f"  {name:{width}}  {text}" for name, text in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch ``edgepose <command> ...``; returns the command's exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else USER_ERROR
    if args[0] == "--version":
        from edgepose import __version__

        print(f"edgepose {__version__}")
        return 0
    command, rest = args[0], args[1:]
    prog = f"edgepose {command}"
    if command == "run":
        from edgepose.commands.run import main as run_main

        return run_main(rest, prog)
    if command == "models":
        from edgepose.commands.models import main as models_main

        return models_main(rest, prog)
    if command == "bench":
        from edgepose.commands.bench import main as bench_main

        return bench_main(rest, prog)
    if command in COMMANDS:
        from edgepose.commands.tools import run_tool

        return run_tool(command, rest)
    close = difflib.get_close_matches(command, list(COMMANDS), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    print(f"error: unknown command {command!r}{hint} (commands: {', '.join(COMMANDS)})", file=sys.stderr)
    return USER_ERROR
