"""All-or-nothing output files: stage to temporary files, rename into place at the end."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from types import TracebackType

from edgepose.atomic import default_file_mode

logger = logging.getLogger(__name__)


class StagedOutputs:
    """Temporary files beside their targets, renamed with ``os.replace`` only on success.

    Use as a context manager: every path handed out by :meth:`stage` is committed when the
    block ends without an exception and deleted otherwise, so a failed run leaves no
    partial output (and does not touch files that already existed at the targets).

        with StagedOutputs() as out:
            tmp = out.stage("model.onnx")   # write to tmp
            ...
    """

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []
        self._scratch: list[Path] = []

    def stage(self, target: str | os.PathLike[str]) -> Path:
        """A fresh temporary path in ``target``'s folder (same suffix) that becomes ``target``."""
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".part{path.suffix}")
        os.close(fd)
        self._staged.append((Path(tmp), path))
        return Path(tmp)

    def scratch(self, like: str | os.PathLike[str]) -> Path:
        """A temporary path beside ``like`` (same suffix) for intermediate files; always deleted at exit."""
        path = Path(like)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".scratch{path.suffix}")
        os.close(fd)
        self._scratch.append(Path(tmp))
        return Path(tmp)

    def _drop_scratch(self) -> None:
        for tmp in self._scratch:
            tmp.unlink(missing_ok=True)
        self._scratch.clear()

    def commit(self) -> list[Path]:
        """Rename every staged file onto its target; returns the targets."""
        done = []
        for tmp, target in self._staged:
            os.chmod(tmp, default_file_mode(target))
            os.replace(tmp, target)
            done.append(target)
            logger.debug("wrote %s", target)
        self._staged.clear()
        return done

    def discard(self) -> None:
        """Delete every staged file."""
        for tmp, _ in self._staged:
            tmp.unlink(missing_ok=True)
        self._staged.clear()

    def __enter__(self) -> "StagedOutputs":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self.commit()
            else:
                self.discard()
        finally:
            self._drop_scratch()
