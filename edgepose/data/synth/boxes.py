"""Axis-aligned box meshes (seats, bags): corner order and triangles."""

from __future__ import annotations

import numpy as np

#: Triangles of a box whose 8 corners are ordered ``(x, y, z)`` bits as ``x + 2y + 4z``
#: (0 = low side), counter-clockwise seen from outside.
BOX_FACES = np.array([
    [0, 2, 1], [1, 2, 3],  # z low
    [4, 5, 6], [5, 7, 6],  # z high
    [0, 1, 4], [1, 5, 4],  # y low
    [2, 6, 3], [3, 6, 7],  # y high
    [0, 4, 2], [2, 4, 6],  # x low
    [1, 3, 5], [3, 7, 5],  # x high
], dtype=np.int64)


def box_corners(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(8, 3) corners of the axis-aligned box [low, high] in :data:`BOX_FACES` order."""
    bits = np.array([[i & 1, (i >> 1) & 1, (i >> 2) & 1] for i in range(8)], dtype=np.float64)
    return low + bits * (high - low)
