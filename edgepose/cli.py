"""What the command-line programs (``training/``, ``quantization/``) share: user errors as one line.

A user error is any :class:`~edgepose.errors.EdgeposeError` (a missing file, a bad option
value, a checkpoint that does not fit, ...). :func:`run_main` prints it as
``error: <message>`` on stderr, without a traceback, and returns an exit code; any other
exception is a bug and keeps its traceback. A message of several lines (a checkpoint
mismatch report) keeps its detail below its first, summary, line, indented by two spaces.

This module imports no third-party package, so the runtime side may use it too.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Literal

from edgepose.errors import EdgeposeError, InputError

__all__ = ["CONFIG_INPUTS", "ArgumentParser", "config_paths", "error_message", "require_paths", "run_main"]

PathKind = Literal["file", "dir"]

#: the training-config keys (``edgepose.train.config.TrainConfig``) that name local inputs
CONFIG_INPUTS: dict[str, PathKind] = {
    "train_ann": "file", "train_images": "dir", "val_ann": "file", "val_images": "dir",
    "val_detections": "file", "mpii_gt_mat": "file", "pretrained": "file", "init_checkpoint": "file",
    "resume": "file",
}


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser with one-line usage errors: ``prog: error: <message>; see prog --help``, exit status 2.

    argparse prints its whole usage block before the error line; the block of a command with many
    options hides the one line that says what was wrong, so it is left to ``--help``.
    """

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print the one line and exit with status 2 (argparse's usage-error status)."""
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def error_message(exc: BaseException) -> str:
    """The text printed after ``error:`` for ``exc``: its summary first, detail lines indented.

    An exception re-raised by a torch ``DataLoader`` worker carries the worker's formatted
    traceback in its message ("Caught X in DataLoader worker process 0.\\nOriginal Traceback
    ..."); only the original message is kept, followed by where it happened.
    """
    text = str(exc).strip() or type(exc).__name__
    head, sep, rest = text.partition("\nOriginal Traceback (most recent call last):")
    if sep and head.startswith("Caught "):
        names = (f"{type(exc).__module__}.{type(exc).__qualname__}: ", f"{type(exc).__name__}: ")
        lines = rest.splitlines()
        start = max((i for i, line in enumerate(lines) if line.startswith(names)), default=None)
        if start is not None:
            first = lines[start].split(": ", 1)[1]
            where = head.removeprefix(f"Caught {type(exc).__name__} ").rstrip(".")
            text = "\n".join([f"{first} ({where})", *lines[start + 1:]]).strip()
    first, *detail = [line for line in text.splitlines() if line.strip()]
    return "\n".join([first, *(f"  {line.strip()}" for line in detail)])


def run_main(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None, *,
             exit_code: int = 2) -> int:
    """Run ``main(argv)``; an EdgeposeError becomes ``error: <message>`` on stderr and ``exit_code``.

    Args:
        main: the program, returning its exit status.
        argv: its arguments (None: ``sys.argv[1:]``, as argparse reads them).
        exit_code: the status returned for a user error (2, as argparse's usage errors, in every
            program of the repository).

    Returns:
        ``main``'s status, or ``exit_code``. argparse's own usage errors still raise
        ``SystemExit(2)``.
    """
    try:
        return main(argv)
    except EdgeposeError as exc:
        sys.stderr.flush()
        print(f"error: {error_message(exc)}", file=sys.stderr)
        return exit_code


def require_paths(paths: Iterable[tuple[str, str | os.PathLike[str] | None, PathKind]]) -> None:
    """Check that input files and folders exist before a long run starts.

    Args:
        paths: ``(option, path, kind)`` triples, e.g. ``("--train_ann", "data/x.json", "file")``;
            an empty or None path is skipped (the option was not given).

    Raises:
        InputError: ``"--train_ann data/x.json does not exist"``, or ``... is not a file`` /
            ``... is not a folder``, naming the first offending option.
    """
    for option, value, kind in paths:
        if value is None or not os.fspath(value):
            continue
        path = Path(value)
        if not path.exists():
            raise InputError(f"{option} {path} does not exist")
        if kind == "file" and not path.is_file():
            raise InputError(f"{option} {path} is not a file")
        if kind == "dir" and not path.is_dir():
            raise InputError(f"{option} {path} is not a folder")


def config_paths(config: object, keys: Iterable[str] = tuple(CONFIG_INPUTS)
                 ) -> list[tuple[str, str, PathKind]]:
    """The :func:`require_paths` triples of a training config's input files and folders.

    Args:
        config: a ``TrainConfig`` (any object with those attributes; absent ones are skipped).
        keys: which of :data:`CONFIG_INPUTS` to check (default: all).

    URLs (``--pretrained https://...``) and ``--resume auto`` are left to the run itself.
    """
    paths: list[tuple[str, str, PathKind]] = []
    for key in keys:
        value = str(getattr(config, key, "") or "")
        if value.startswith(("http://", "https://")) or (key == "resume" and value == "auto"):
            continue
        paths.append((f"--{key}", value, CONFIG_INPUTS[key]))
    return paths
