"""Numpy codecs shared by training (targets), evaluation and the runtime (decoding)."""

from __future__ import annotations

from typing import Any

from edgepose.codecs.base import Codec
from edgepose.codecs.heatmap import HeatmapCodec
from edgepose.codecs.simdr import SimDRCodec, SimDRStarCodec
from edgepose.errors import InputError

CODEC_TYPES: dict[str, type[Codec]] = {
    c.type_name: c for c in (SimDRCodec, SimDRStarCodec, HeatmapCodec)
}


def codec_from_dict(d: dict[str, Any]) -> Codec:
    """Rebuild a codec from ``Codec.to_dict()`` output (e.g. read from model metadata)."""
    if not isinstance(d, dict) or "type" not in d:
        raise InputError(f"a codec description must be a dict with a 'type'; got {d!r}")
    params = dict(d)
    kind = params.pop("type")
    if not isinstance(kind, str) or kind not in CODEC_TYPES:
        raise InputError(f"unknown codec type {kind!r}; known: {sorted(CODEC_TYPES)}")
    try:
        return CODEC_TYPES[kind](**params)
    except TypeError as exc:
        raise InputError(f"bad parameters for codec {kind!r}: {exc}") from None


__all__ = ["Codec", "HeatmapCodec", "SimDRCodec", "SimDRStarCodec", "codec_from_dict", "CODEC_TYPES"]
