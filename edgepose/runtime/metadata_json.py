"""The edgepose metadata document at its smallest: its key in model files, and strict JSON parsing.

Backends find the document through this module (its input layouts are ``edgepose.preprocess.LAYOUTS``);
:mod:`edgepose.runtime.metadata` holds the schema on top of it, :mod:`edgepose.export.model_files` the
ONNX/TFLite file I/O.
"""

from __future__ import annotations

import json
import os
from typing import Any

from edgepose.errors import ModelFileError

__all__ = ["METADATA_KEY", "loads_metadata"]

#: Key of the edgepose JSON document inside a model file's metadata.
METADATA_KEY = "edgepose"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-JSON constant {name}")


def loads_metadata(payload: str | bytes, source: str | os.PathLike[str]) -> Any:
    """Parse a metadata payload as strict JSON (no NaN/Infinity; never evaluated or unpickled).

    Raises:
        ModelFileError: naming ``source``, for anything that is not UTF-8 JSON, including
            nesting too deep for the parser.
    """
    try:
        text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
        return json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ModelFileError(f"{source}: edgepose metadata is not valid UTF-8 JSON ({why})") from None
