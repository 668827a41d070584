"""A registered model file on disk, verified: shipped in the package or fetched into the cache.

:func:`fetch_file` turns a :class:`~edgepose.zoo.ModelFile` of the registry into a local path.
A file shipped inside the package (``package://`` URLs, under ``edgepose/weights/``) is used
where it lies; an xz-packed one (``package://<name>.xz``) is unpacked once into the cache; an
``https://`` file is downloaded into the cache. The sha256 (and size) pinned in the registry is
checked every time a file is fetched or loaded from the cache; unpacked and downloaded bytes go
to a temporary file that is renamed only after the hash matched (:mod:`edgepose.atomic`), so a
partial file never stays in the cache. The cache is ``$EDGEPOSE_CACHE`` or ``~/.cache/edgepose``,
user-only.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import lzma
import os
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from edgepose.atomic import write_atomic
from edgepose.errors import ChecksumError, ModelFileError
from edgepose import zoo
from edgepose.zoo import PACKAGE_SCHEME, PACKED_SUFFIX, ModelFile

__all__ = ["CACHE_FILE_MODE", "cache_dir", "fetch_file", "sha256_of", "verify_file"]

logger = logging.getLogger(__name__)

#: Permission bits of files in the model cache: private to the user, as the cache folder (0700) is.
CACHE_FILE_MODE = 0o600


def cache_dir() -> Path:
    """The model cache: ``$EDGEPOSE_CACHE`` or ``~/.cache/edgepose``; created user-only (0700)."""
    root = Path(os.environ.get("EDGEPOSE_CACHE", Path.home() / ".cache" / "edgepose"))
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root


def sha256_of(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, expected_sha256: str, expected_size: int | None = None) -> None:
    """Raise ChecksumError/ModelFileError unless ``path`` has the pinned size and sha256."""
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist")
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise ChecksumError(
            f"{path} has {size} bytes, expected {expected_size}: the file is truncated or "
            "replaced; delete it and fetch it again"
        )
    actual = sha256_of(path)
    if actual != expected_sha256.lower():
        raise ChecksumError(
            f"sha256 of {path} is {actual}, expected {expected_sha256}: the file is corrupted "
            "or not the registered one; delete it and fetch it again"
        )


def fetch_file(model_file: ModelFile, *, progress: bool = False) -> Path:
    """Local, verified path of ``model_file``: shipped in the package or downloaded to the cache.

    Raises:
        ModelFileError / ChecksumError: missing, truncated or altered file, bad URL.
    """
    url = model_file.url
    if not (isinstance(model_file.sha256, str) and len(model_file.sha256) == 64
            and all(ch in "0123456789abcdefABCDEF" for ch in model_file.sha256)):
        raise ModelFileError(
            f"refusing to fetch {url!r}: it has no pinned sha256 (64 hex digits; got {model_file.sha256!r})"
        )
    packed = None
    if url.startswith(PACKAGE_SCHEME):
        path = zoo.WEIGHTS_DIR / url[len(PACKAGE_SCHEME):]  # read when fetching: the registry says where
        if path.suffix != PACKED_SUFFIX:
            verify_file(path, model_file.sha256, model_file.size)
            return path
        packed, name = path, path.stem
    elif url.startswith("https://"):
        name = Path(url).name
    else:
        raise ModelFileError(f"refusing to fetch {url!r}: only https:// URLs are allowed")
    target = cache_dir() / f"{model_file.sha256[:16]}-{name}"
    if target.exists():
        try:
            verify_file(target, model_file.sha256, model_file.size)
            return target
        except ModelFileError:
            logger.warning("cached %s failed verification; %s it again", target,
                           "unpacking" if packed else "downloading")
            target.unlink()
    if packed is not None:
        _unpack_verified(packed, target, model_file.sha256, model_file.size)
    else:
        _download_verified(url, target, model_file.sha256, model_file.size, progress=progress)
    return target


def _read_blocks(stream: Any, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The bytes of a binary ``stream`` (file, xz stream, HTTP response) in ``chunk``-sized blocks."""
    while block := stream.read(chunk):
        yield block


def _write_verified(target: Path, blocks: Iterable[bytes], sha256: str, size: int | None, *,
                    source: str, advice: str) -> None:
    """Write ``blocks`` to a temporary file beside ``target`` and rename it onto ``target`` only
    if it has exactly ``size`` bytes and ``sha256``; otherwise ChecksumError (naming ``source``,
    ending in ``advice``) and no file is left, not even the temporary one."""
    def write(tmp: Path) -> None:
        digest, got = hashlib.sha256(), 0
        with tmp.open("wb") as out:
            for block in blocks:
                got += len(block)
                if size is not None and got > size:
                    raise ChecksumError(f"{source} has more than the pinned {size} bytes; {advice}")
                digest.update(block)
                out.write(block)
        actual = digest.hexdigest()
        if (size is not None and got != size) or actual != sha256.lower():
            raise ChecksumError(
                f"{source} has {got} bytes and sha256 {actual}; the registry pins {size} bytes and "
                f"sha256 {sha256}: {advice}"
            )

    write_atomic(target, write, mode=CACHE_FILE_MODE, fsync=False)


def _unpack_verified(packed: Path, target: Path, sha256: str, size: int) -> None:
    """Unpack the shipped ``packed`` (xz) into ``target`` through :func:`_write_verified`."""
    if not packed.is_file():
        raise ModelFileError(f"shipped model file {packed} is missing; reinstall edgepose")
    try:
        with lzma.open(packed, "rb") as src:
            _write_verified(target, _read_blocks(src), sha256, size, source=f"{packed} (unpacked)",
                            advice="the shipped file is corrupted or replaced; reinstall edgepose")
    except (OSError, lzma.LZMAError, EOFError) as exc:  # truncated / bit-flipped xz stream, disk full
        raise ModelFileError(f"shipped model file {packed} cannot be unpacked ({exc}); reinstall edgepose") from exc
    logger.info("unpacked %s into %s", packed.name, target)


def _download_verified(url: str, target: Path, sha256: str, size: int, *, progress: bool) -> None:
    """Download ``url`` into ``target`` through :func:`_write_verified`."""

    def logged(blocks: Iterable[bytes]) -> Iterator[bytes]:
        got = 0
        for block in blocks:
            got += len(block)
            if progress:
                logger.info("%s: %.1f / %.1f MB", target.name, got / 1e6, size / 1e6)
            yield block

    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310
            _write_verified(target, logged(_read_blocks(response)), sha256, size, source=f"download of {url}",
                            advice=f"the server sent another file, nothing was cached as {target.name}")
    except (OSError, http.client.HTTPException) as exc:  # connection reset / timeout, HTTP error, short read
        raise ModelFileError(f"download of {url} failed: {exc!r}") from exc
