"""The library's documented exceptions.

Every error that edgepose raises on purpose derives from :class:`EdgeposeError`, so a
caller can catch all of them with one ``except`` clause. Input errors also derive from
``ValueError`` and a missing optional dependency from ``ImportError``, so code written
against the standard exceptions keeps working.
"""

from __future__ import annotations


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
