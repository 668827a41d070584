"""The library's documented exceptions.

Every error that edgepose raises on purpose derives from :class:`EdgeposeError`, so a
caller can catch all of them with one ``except`` clause. Input errors also derive from
``ValueError`` and a missing optional dependency from ``ImportError``, so code written
against the standard exceptions keeps working. :func:`did_you_mean` and :func:`install_hint`
word the parts that messages share (a close spelling, how to install an extra).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path


class EdgeposeError(Exception):
    """Base class of every exception raised on purpose by edgepose."""


class InputError(EdgeposeError, ValueError):
    """A frame, box, array or argument given by the caller is not usable."""


class ModelFileError(EdgeposeError):
    """A model file is missing, truncated, corrupted or of the wrong format."""


class ChecksumError(ModelFileError):
    """A file's sha256 differs from the one pinned in the registry."""


class UnknownModelError(EdgeposeError, LookupError):
    """A model name is not in the registry."""


class BackendNotInstalledError(EdgeposeError, ImportError):
    """The package of an optional runtime backend is not installed."""


# ---- wording shared by the messages of these errors ----------------------------------------
def did_you_mean(word: str, choices: Iterable[str], aliases: Mapping[str, str] | None = None,
                 prefix: str = "") -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices`` (the standard library's difflib), or ``""``.

    Args:
        word: what the user typed (an option, key or name).
        choices: the valid spellings.
        aliases: other names for a choice that difflib cannot see (``{"learning_rate": "lr"}``),
            looked up first.
        prefix: put before the suggestion (``"--"`` for option names).
    """
    options = list(choices)
    target = (aliases or {}).get(word)
    if target is None or target not in options:
        close = difflib.get_close_matches(word, options, n=1)
        target = close[0] if close else None
    if target is None:
        return ""
    return f"; did you mean {prefix}{target}?" if prefix else f"; did you mean {target!r}?"


def repository_root() -> Path | None:
    """The clone this package was installed from with ``pip install -e``, or None (installed from a wheel)."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else None


def install_hint(extra: str) -> str:
    """How to install the optional dependencies of ``extra`` (``"ort"``, ``"tflite"``, ...).

    edgepose is not published on a package index, so ``pip install edgepose[extra]`` cannot work:
    the hint is an editable install of the clone (the one this package came from when known).
    """
    root = repository_root()
    where = f"in {root}" if root is not None else "in a clone of the edgepose repository"
    return f'pip install -e ".[{extra}]" ({where})'
