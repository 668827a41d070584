"""A small vectorised z-buffer triangle rasteriser on the CPU (numpy only).

It exists for the synthetic-human generator (:mod:`edgepose.data.synth`): meshes of a
few tens of thousands of triangles rendered at low resolution (128 to 512 pixels), where
most triangles cover zero to a few pixel centres. Triangles are grouped by the size of
their pixel bounding box, every candidate pixel of a group is tested at once, and the
nearest candidate of each pixel wins through one sort. The result is deterministic:
ties in depth are broken by triangle index.

Pixel convention (OpenCV's): pixel ``(col, row)`` has its centre at the continuous
coordinate ``(x, y) = (col, row)``; a triangle covers a pixel when the pixel centre lies
inside it (edges included).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

#: Depth (metres) below which a vertex is considered behind the camera; triangles with a
#: vertex closer than this are dropped rather than clipped.
NEAR_PLANE = 0.05


@dataclass(frozen=True)
class RasterBuffers:
    """Output of :func:`rasterize`.

    Attributes:
        depth: (H, W) float32, camera-space depth z in metres of the nearest surface,
            ``inf`` where no triangle covers the pixel.
        face: (H, W) int32, index of the nearest triangle, -1 where empty.
    """

    depth: np.ndarray
    face: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool, True where a triangle covers the pixel."""
        return self.face >= 0


def _edge(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray,
          px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Edge function (twice the signed area of triangle a, b, p), broadcasting."""
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax)


def _resolve_nearest(pixel: np.ndarray, depth: np.ndarray, face: np.ndarray,
                     hw: tuple[int, int]) -> RasterBuffers:
    """Keep the nearest candidate per pixel (ties: lowest triangle index).

    Args:
        pixel: (N,) int64 flat pixel index ``row * W + col``.
        depth: (N,) float32 positive depth.
        face: (N,) int64 triangle index.
        hw: (H, W) of the buffers.
    """
    height, width = hw
    depth_buf = np.full(height * width, np.inf, dtype=np.float32)
    face_buf = np.full(height * width, -1, dtype=np.int32)
    if pixel.size:
        # A positive float32 orders like its bit pattern as uint32, so one int64 key
        # sorts by pixel, then depth; the stable sort breaks exact ties by face order.
        key = (pixel << 32) | depth.view(np.uint32).astype(np.int64)
        order = np.lexsort((face, key))
        pixel_sorted = pixel[order]
        first = np.ones(order.size, dtype=bool)
        first[1:] = pixel_sorted[1:] != pixel_sorted[:-1]
        winners = order[first]
        depth_buf[pixel[winners]] = depth[winners]
        face_buf[pixel[winners]] = face[winners]
    return RasterBuffers(depth_buf.reshape(height, width), face_buf.reshape(height, width))


def rasterize(
    vertices_px: np.ndarray,
    vertex_depth: np.ndarray,
    faces: np.ndarray,
    hw: tuple[int, int],
    cull_backfaces: bool = True,
) -> RasterBuffers:
    """Rasterise triangles into a depth buffer and a triangle-index buffer.

    Depth is interpolated perspective-correctly (1/z is linear in screen space).

    Args:
        vertices_px: (V, 2) float, projected vertex positions (x, y) in pixels.
        vertex_depth: (V,) float, camera-space depth z of each vertex in metres (> 0 in
            front of the camera).
        faces: (F, 3) int, vertex indices of each triangle.
        hw: (H, W) of the output buffers in pixels.
        cull_backfaces: drop triangles that face away from the camera, for a mesh whose
            triangles are counter-clockwise seen from outside (right-handed world and
            camera frames, camera y pointing down as in OpenCV).

    Returns:
        :class:`RasterBuffers` of shape (H, W).
    """
    height, width = hw
    faces = np.asarray(faces, dtype=np.int64)
    xy = np.asarray(vertices_px, dtype=np.float64)
    z = np.asarray(vertex_depth, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2 or z.shape != (xy.shape[0],):
        raise ValueError(f"vertices_px must be (V, 2) and vertex_depth (V,); got {xy.shape}, {z.shape}")

    ax, ay = xy[faces[:, 0], 0], xy[faces[:, 0], 1]
    bx, by = xy[faces[:, 1], 0], xy[faces[:, 1], 1]
    cx, cy = xy[faces[:, 2], 0], xy[faces[:, 2], 1]
    area = _edge(ax, ay, bx, by, cx, cy)
    zf = z[faces]
    keep = np.all(zf > NEAR_PLANE, axis=1) & (np.abs(area) > 1e-12)
    if cull_backfaces:
        # Counter-clockwise as seen on screen: with y pointing down, the edge function of
        # such a triangle is negative.
        keep &= area < 0

    x_min = np.ceil(np.minimum(np.minimum(ax, bx), cx))
    x_max = np.floor(np.maximum(np.maximum(ax, bx), cx))
    y_min = np.ceil(np.minimum(np.minimum(ay, by), cy))
    y_max = np.floor(np.maximum(np.maximum(ay, by), cy))
    x_min = np.clip(x_min, 0, width - 1)
    y_min = np.clip(y_min, 0, height - 1)
    x_max = np.clip(x_max, -1, width - 1)
    y_max = np.clip(y_max, -1, height - 1)
    keep &= (x_max >= x_min) & (y_max >= y_min)
    # Entirely outside the image: the clipped box is empty or inverted.
    keep &= (np.maximum(np.maximum(ax, bx), cx) >= -0.5) & (np.minimum(np.minimum(ax, bx), cx) <= width - 0.5)
    keep &= (np.maximum(np.maximum(ay, by), cy) >= -0.5) & (np.minimum(np.minimum(ay, by), cy) <= height - 0.5)

    idx = np.nonzero(keep)[0]
    extent = np.maximum(x_max[idx] - x_min[idx], y_max[idx] - y_min[idx]) + 1
    bucket = np.ceil(np.log2(np.maximum(extent, 1))).astype(np.int64)

    pixels, depths, face_ids = [], [], []
    for level in np.unique(bucket):
        sel = idx[bucket == level]
        side = 1 << int(level)
        oy, ox = np.divmod(np.arange(side * side), side)
        px = x_min[sel, None] + ox[None, :]
        py = y_min[sel, None] + oy[None, :]
        inside = (px <= x_max[sel, None]) & (py <= y_max[sel, None])
        inv_area = 1.0 / area[sel, None]
        w0 = _edge(bx[sel, None], by[sel, None], cx[sel, None], cy[sel, None], px, py) * inv_area
        w1 = _edge(cx[sel, None], cy[sel, None], ax[sel, None], ay[sel, None], px, py) * inv_area
        w2 = 1.0 - w0 - w1
        inside &= (w0 >= 0) & (w1 >= 0) & (w2 >= -1e-9)
        rows, cols = np.nonzero(inside)
        if rows.size == 0:
            continue
        f = sel[rows]
        inv_z = (w0[rows, cols] / zf[f, 0] + w1[rows, cols] / zf[f, 1] + w2[rows, cols] / zf[f, 2])
        pixels.append(py[rows, cols].astype(np.int64) * width + px[rows, cols].astype(np.int64))
        depths.append((1.0 / inv_z).astype(np.float32))
        face_ids.append(f)
    if pixels:
        return _resolve_nearest(np.concatenate(pixels), np.concatenate(depths),
                                np.concatenate(face_ids), hw)
    return _resolve_nearest(np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.int64), hw)
