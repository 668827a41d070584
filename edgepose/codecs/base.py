"""Shared codec interface and input checks (numpy only)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from edgepose.checks import check_hw, is_integral
from edgepose.errors import InputError
from edgepose.geometry import MAX_WARP_SIDE

#: Largest input or heatmap side a codec accepts: crops are warped with OpenCV (see
#: :data:`edgepose.geometry.MAX_WARP_SIDE`).
MAX_SIDE = MAX_WARP_SIDE
#: Most bins one SimDR axis may have (W * k); the official settings need at most 512.
MAX_BINS = 1 << 20
#: Largest Gaussian sigma (bins or heatmap cells) a codec accepts: far wider than any axis, and
#: small enough that 2 sigma^2 stays a finite float (sigma 1e300 overflowed in encode).
MAX_SIGMA = 1e100


class Codec(ABC):
    """Encodes keypoints into training targets and decodes network outputs.

    Coordinates are pixels of the model input crop, (x, y), with the continuous
    convention of :mod:`edgepose.geometry`.
    """

    #: name stored in ``to_dict()["type"]``
    type_name: str = ""
    #: names of the model outputs :meth:`decode` takes, in its order (model files name theirs so)
    output_names: tuple[str, ...] = ()

    def __init__(self, input_hw: tuple[int, int]) -> None:
        self.input_hw = check_hw(input_hw, "input_hw")

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

    #: the score of a keypoint predicted exactly like its training target
    perfect_score: float = 1.0

    def default_score_threshold(self) -> float:
        """Score above which a keypoint counts as found when nothing better is known:
        0.3 x :attr:`perfect_score` (0.3 is the heatmap convention, whose peak is 1)."""
        return 0.3 * float(self.perfect_score)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Codec) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self))


def check_shift(value: Any, name: str) -> int:
    """A flip-test shift: an integer >= 0 (bins or cells), or InputError."""
    if not is_integral(value) or int(value) < 0 or int(value) > MAX_BINS:
        raise InputError(f"{name} must be an integer in 0..{MAX_BINS}; got {value!r}")
    return int(value)


def check_keypoints(keypoints: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``keypoints (K, 2)`` and ``visible (K,)``; returns float64 and bool arrays."""
    try:
        kp = np.asarray(keypoints, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"keypoints must be numbers of shape (K, 2): {exc}") from None
    if kp.ndim != 2 or kp.shape[1] != 2:
        raise InputError(f"keypoints must have shape (K, 2); got {kp.shape}")
    try:
        vis = np.asarray(visible, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"visible must be numbers of shape (K,): {exc}") from None
    if vis.shape != (kp.shape[0],):
        raise InputError(f"visible must have shape ({kp.shape[0]},); got {vis.shape}")
    valid = (vis > 0) & np.all(np.isfinite(kp), axis=1)
    return kp, valid


def as_batch(array: Any, name: str, ndim: int) -> np.ndarray:
    """Return ``array`` as a float32 array with exactly ``ndim`` dims, or raise InputError."""
    try:
        a = np.asarray(array, dtype=np.float32)
    except (TypeError, ValueError, OverflowError) as exc:
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
    try:
        idx = np.asarray(flip_index)
        ok = idx.shape == (num_keypoints,) and (idx.size == 0 or idx.dtype.kind in "iu")
    except (TypeError, ValueError):
        ok = False
    if not ok or sorted(idx.tolist()) != list(range(num_keypoints)):
        raise InputError(f"flip_index must be a permutation of {num_keypoints} keypoints; got {flip_index!r}")
    return idx.astype(np.int64)
