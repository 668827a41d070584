"""Keypoint sets as data: names, left/right flip pairs, limbs and OKS sigmas.

Three sets are defined: COCO-17 (``"coco17"``), MPII-16 (``"mpii16"``) and
CrowdPose-14 (``"crowdpose14"``). OKS sigmas are the per-keypoint falloff constants of
the object keypoint similarity (COCO's values; MPII's are those commonly used by
mmpose, since MPII itself is evaluated with PCKh).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgepose.errors import UnknownModelError


@dataclass(frozen=True)
class KeypointSet:
    """One keypoint definition.

    Attributes:
        name: registry name, e.g. ``"coco17"``.
        names: keypoint names, length K.
        flip_pairs: (left, right) index pairs swapped by a horizontal flip.
        limbs: (i, j) index pairs drawn as skeleton lines.
        sigmas: OKS sigma per keypoint, shape (K,).
    """

    name: str
    names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    limbs: tuple[tuple[int, int], ...]
    sigmas: tuple[float, ...]

    def __post_init__(self) -> None:
        k = len(self.names)
        if len(self.sigmas) != k:
            raise ValueError(f"{self.name}: {len(self.sigmas)} sigmas for {k} keypoints")
        for pair in (*self.flip_pairs, *self.limbs):
            if not all(0 <= i < k for i in pair):
                raise ValueError(f"{self.name}: index pair {pair} out of range for {k} keypoints")

    @property
    def num_keypoints(self) -> int:
        """Number of keypoints K."""
        return len(self.names)

    def flip_index(self) -> np.ndarray:
        """Permutation (K,) int: ``flipped[:, i] = original[:, flip_index[i]]``."""
        index = np.arange(self.num_keypoints)
        for left, right in self.flip_pairs:
            index[left], index[right] = right, left
        return index

    def sigma_array(self) -> np.ndarray:
        """OKS sigmas as a float64 array (K,)."""
        return np.asarray(self.sigmas, dtype=np.float64)


COCO17 = KeypointSet(
    name="coco17",
    names=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    limbs=(
        (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6),
        (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4),
        (3, 5), (4, 6),
    ),
    sigmas=(
        0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
        0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
    ),
)

MPII16 = KeypointSet(
    name="mpii16",
    names=(
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
        "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
        "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    ),
    flip_pairs=((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)),
    limbs=(
        (0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9),
        (7, 12), (12, 11), (11, 10), (7, 13), (13, 14), (14, 15),
    ),
    sigmas=(
        0.089, 0.083, 0.107, 0.107, 0.083, 0.089, 0.026, 0.026,
        0.026, 0.026, 0.062, 0.072, 0.179, 0.179, 0.072, 0.062,
    ),
)

CROWDPOSE14 = KeypointSet(
    name="crowdpose14",
    names=(
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle", "head", "neck",
    ),
    flip_pairs=((0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11)),
    limbs=(
        (12, 13), (13, 0), (13, 1), (0, 2), (2, 4), (1, 3), (3, 5), (0, 6), (1, 7),
        (6, 7), (6, 8), (8, 10), (7, 9), (9, 11),
    ),
    sigmas=(
        0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107,
        0.087, 0.087, 0.089, 0.089, 0.079, 0.079,
    ),
)

KEYPOINT_SETS: dict[str, KeypointSet] = {s.name: s for s in (COCO17, MPII16, CROWDPOSE14)}


def get_keypoint_set(name: str) -> KeypointSet:
    """Return the keypoint set called ``name`` ("coco17", "mpii16" or "crowdpose14")."""
    try:
        return KEYPOINT_SETS[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown keypoint set {name!r}; known sets: {sorted(KEYPOINT_SETS)}"
        ) from None
