"""Atomic file writing, once for the whole package (standard library only).

:func:`write_atomic` writes into a temporary file beside the target and renames it onto
the target only when the writing succeeded, so a crash, a kill or an exception leaves
either the old file or the new one, never a partial file under the real name (at worst a
stray ``.<name>.*.tmp``).

Permissions: the new file gets the mode ``open(path, "w")`` would give: an existing
file's own mode, else ``0o666`` less the umask (not ``tempfile.mkstemp``'s private
``0o600``). Callers that want a private file (the model cache) say so with ``mode=``.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["default_file_mode", "write_atomic", "write_bytes_atomic"]


def _umask() -> int:
    """This process's file-creation mask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_file_mode(path: str | os.PathLike[str] | None = None) -> int:
    """The permission bits ``open(path, "w")`` would leave: those of an existing ``path``,
    else ``0o666`` less the umask."""
    if path is not None:
        try:
            return stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            pass
    return 0o666 & ~_umask()


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], None], *, mode: int | None = None,
                 fsync: bool = True) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it onto ``path``.

    Args:
        path: the target; its folder is created if missing.
        write: fills the temporary file (it may raise: then nothing is renamed and the
            temporary file is removed).
        mode: permission bits of the result; None: what ``open()`` would give (module docstring).
        fsync: flush the data to disk before the rename (survives a power cut).

    Returns:
        ``path`` as a Path.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    final_mode = default_file_mode(target) if mode is None else mode
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        tmp.chmod(final_mode)
        if fsync:
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def write_bytes_atomic(path: str | os.PathLike[str], chunks: bytes | Iterable[bytes], *,
                       mode: int | None = None, fsync: bool = True) -> Path:
    """:func:`write_atomic` of ``chunks`` (bytes, or an iterable of byte blocks)."""
    blocks = [chunks] if isinstance(chunks, (bytes, bytearray, memoryview)) else chunks

    def write(tmp: Path) -> None:
        with tmp.open("wb") as out:
            for block in blocks:
                out.write(block)

    return write_atomic(path, write, mode=mode, fsync=fsync)
