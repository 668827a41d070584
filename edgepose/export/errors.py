"""Errors raised by the export / quantization pipeline."""

from __future__ import annotations

from edgepose.errors import EdgeposeError, InputError


class ExportError(EdgeposeError):
    """A model could not be written to the requested format (converter failure, a target
    that cannot take the model, non-builtin TFLite ops, failed parity self-check)."""


class CalibrationError(InputError):
    """The calibration set is empty, unreadable or does not match the model."""
