"""Shared codec interface and input checks (numpy only)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from edgepose.errors import InputError


class Codec(ABC):
    """Encodes keypoints into training targets and decodes network outputs.

    Coordinates are pixels of the model input crop, (x, y), with the continuous
    convention of :mod:`edgepose.geometry`.
    """

    #: name stored in ``to_dict()["type"]``
    type_name: str = ""

    def __init__(self, input_hw: tuple[int, int]) -> None:
        if len(input_hw) != 2 or int(input_hw[0]) <= 0 or int(input_hw[1]) <= 0:
            raise InputError(f"input_hw must be (height, width) > 0; got {input_hw}")
        self.input_hw = (int(input_hw[0]), int(input_hw[1]))

    @abstractmethod
    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        """Targets for one person: ``keypoints (K, 2)`` px, ``visible (K,)`` (>0 = labelled)."""

    @abstractmethod
    def decode(self, outputs: Any) -> tuple[np.ndarray, np.ndarray]:
        """Network outputs for N people -> ``keypoints (N, K, 2)`` px, ``scores (N, K)``."""

    @abstractmethod
    def decode_flip(
        self, outputs: Any, flipped_outputs: Any, flip_index: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Flip test: fuse the outputs of the crop and of its mirror image, then decode.

        ``flipped_outputs`` come from the horizontally mirrored crop; ``flip_index (K,)``
        is the keypoint permutation of the mirror (``KeypointSet.flip_index()``).
        """

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description; ``codec_from_dict(c.to_dict())`` rebuilds it."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Codec) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self))


def check_keypoints(keypoints: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``keypoints (K, 2)`` and ``visible (K,)``; returns float64 and bool arrays."""
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 2 or kp.shape[1] != 2:
        raise InputError(f"keypoints must have shape (K, 2); got {kp.shape}")
    vis = np.asarray(visible)
    if vis.shape != (kp.shape[0],):
        raise InputError(f"visible must have shape ({kp.shape[0]},); got {vis.shape}")
    valid = (vis > 0) & np.all(np.isfinite(kp), axis=1)
    return kp, valid


def as_batch(array: Any, name: str, ndim: int) -> np.ndarray:
    """Return ``array`` as a float32 array with exactly ``ndim`` dims, or raise InputError."""
    try:
        a = np.asarray(array, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} is not a numeric array: {exc}") from None
    if a.ndim != ndim:
        raise InputError(f"{name} must have {ndim} dims; got shape {a.shape}")
    if a.size == 0 and a.shape[0] != 0:
        raise InputError(f"{name} has an empty axis: shape {a.shape}")
    return a


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis`` (float32)."""
    shifted = logits - np.max(logits, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def check_flip_index(flip_index: np.ndarray, num_keypoints: int) -> np.ndarray:
    """Validate a keypoint permutation (K,) used by the flip test."""
    idx = np.asarray(flip_index, dtype=np.int64)
    if idx.shape != (num_keypoints,) or sorted(idx.tolist()) != list(range(num_keypoints)):
        raise InputError(f"flip_index must be a permutation of {num_keypoints} keypoints; got {idx}")
    return idx
