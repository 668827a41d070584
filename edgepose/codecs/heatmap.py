"""Heatmap codec of SimpleBaseline: Gaussian targets on a stride-4 grid.

Heatmap cell ``(i, j)`` stands for input pixel ``(j * stride_x, i * stride_y)``.
Decoding is argmax, optionally refined by

* ``"quarter"`` (default): a quarter-cell shift toward the higher neighbour, the
  "extra post-processing" of the official code;
* ``"dark"``: DARK's second-order Taylor refinement on the log of the blurred heatmap
  (Zhang et al., CVPR 2020); encoding then puts the Gaussian at the sub-cell location;
* ``"none"``: plain argmax.

Keypoints that are unlabelled or whose rounded cell lies outside the heatmap get weight
0 (stricter than the official code, which keeps cells whose 3-sigma window overlaps).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from edgepose.checks import check_hw, check_number
from edgepose.codecs.base import MAX_SIGMA, Codec, as_batch, check_flip_index, check_keypoints, check_shift
from edgepose.errors import InputError

REFINEMENTS = ("none", "quarter", "dark")


class HeatmapCodec(Codec):
    """Gaussian heatmap targets and argmax decoding.

    Args:
        input_hw: model input (height, width) px.
        heatmap_hw: heatmap (height, width); default input / 4.
        sigma: Gaussian sigma in heatmap cells.
        refine: "none", "quarter" or "dark" (see module docstring).
        flip_shift: cells the mirrored heatmap is shifted right in the flip test (official: 1).
    """

    type_name = "heatmap"
    output_names = ("heatmaps",)

    def __init__(
        self,
        input_hw: tuple[int, int],
        heatmap_hw: tuple[int, int] | None = None,
        sigma: float = 2.0,
        refine: str = "quarter",
        flip_shift: int = 1,
    ) -> None:
        super().__init__(input_hw)
        if heatmap_hw is None:
            heatmap_hw = (self.input_hw[0] // 4, self.input_hw[1] // 4)
        self.heatmap_hw = check_hw(heatmap_hw, "heatmap_hw")
        self.sigma = check_number(sigma, "sigma", high=MAX_SIGMA, high_inclusive=True)
        if not isinstance(refine, str) or refine not in REFINEMENTS:
            raise InputError(f"refine must be one of {REFINEMENTS}; got {refine!r}")
        self.refine = refine
        self.flip_shift = check_shift(flip_shift, "flip_shift")
        self.stride = np.array(
            [self.input_hw[1] / self.heatmap_hw[1], self.input_hw[0] / self.heatmap_hw[0]]
        )

    # ---- targets -----------------------------------------------------------------
    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        """Targets for one person: ``heatmap (K, h, w)`` float32 (peak 1) and ``target_weight (K,)``."""
        kp, valid = check_keypoints(keypoints, visible)
        h, w = self.heatmap_hw
        cells = np.where(np.isfinite(kp), kp, -1e9) / self.stride
        centers = cells if self.refine == "dark" else np.floor(cells + 0.5)
        rounded = np.floor(cells + 0.5)
        inside = (rounded[:, 0] >= 0) & (rounded[:, 0] < w) & (rounded[:, 1] >= 0) & (rounded[:, 1] < h)
        weight = (valid & inside).astype(np.float32)
        heatmap = np.zeros((kp.shape[0], h, w), dtype=np.float32)
        ys, xs = np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64)
        radius = 3 * self.sigma
        for j in np.nonzero(weight)[0]:
            dx, dy = xs - centers[j, 0], ys - centers[j, 1]
            gx = np.where(np.abs(dx) <= radius, np.exp(-(dx**2) / (2 * self.sigma**2)), 0.0)
            gy = np.where(np.abs(dy) <= radius, np.exp(-(dy**2) / (2 * self.sigma**2)), 0.0)
            heatmap[j] = np.outer(gy, gx)
        return {"heatmap": heatmap, "target_weight": weight}

    # ---- decoding -----------------------------------------------------------------
    def _check(self, outputs: Any) -> np.ndarray:
        if isinstance(outputs, (list, tuple)):
            if len(outputs) != 1:
                raise InputError("heatmap outputs must be one array (N, K, h, w)")
            outputs = outputs[0]
        hm = as_batch(outputs, "heatmaps", 4)
        if hm.shape[2:] != self.heatmap_hw:
            raise InputError(
                f"expected heatmaps of {self.heatmap_hw[0]}x{self.heatmap_hw[1]}; got "
                f"{hm.shape[2]}x{hm.shape[3]}: is the codec that of this model?"
            )
        return hm

    def decode(self, outputs: Any) -> tuple[np.ndarray, np.ndarray]:
        """``heatmaps (N, K, h, w)`` -> keypoints (N, K, 2) input px, scores (N, K) (peak values)."""
        return self._decode_heatmaps(self._check(outputs))

    def _decode_heatmaps(self, hm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, k, h, w = hm.shape
        flat = hm.reshape(n, k, h * w)
        idx = np.argmax(flat, axis=2) if h * w else np.zeros((n, k), dtype=np.int64)
        scores = np.take_along_axis(flat, idx[..., None], axis=2)[..., 0]
        px, py = idx % w, idx // w
        coords = np.stack([px, py], axis=-1).astype(np.float64)
        if self.refine == "quarter":
            coords += self._quarter_offsets(hm, px, py)
        elif self.refine == "dark":
            coords += self._dark_offsets(hm, px, py)
        return (coords * self.stride).astype(np.float32), scores.astype(np.float32)

    @staticmethod
    def _quarter_offsets(hm: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        """Quarter-cell shift toward the higher neighbour, where both neighbours exist.

        Neighbours that cannot be compared (both -inf or both +inf, whose difference is
        NaN) give no shift, so a finite peak always decodes to a finite position.
        """
        n, k, h, w = hm.shape
        offsets = np.zeros((n, k, 2))
        ok = (px > 0) & (px < w - 1) & (py > 0) & (py < h - 1)
        ni, ki = np.nonzero(ok)
        x, y = px[ok], py[ok]
        with np.errstate(invalid="ignore"):
            dx = hm[ni, ki, y, x + 1].astype(np.float64) - hm[ni, ki, y, x - 1]
            dy = hm[ni, ki, y + 1, x].astype(np.float64) - hm[ni, ki, y - 1, x]
        offsets[ni, ki, 0] = 0.25 * np.sign(np.nan_to_num(dx, nan=0.0))
        offsets[ni, ki, 1] = 0.25 * np.sign(np.nan_to_num(dy, nan=0.0))
        return offsets

    def _dark_offsets(self, hm: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        """DARK: Newton step ``-H^-1 g`` on the log of the blurred heatmap at the argmax."""
        n, k, h, w = hm.shape
        # odd kernel of +-3 sigma; no wider than needed to cover the whole heatmap (OpenCV
        # rejects kernel sizes beyond int range, and a wider one changes nothing)
        size = int(2 * min(round(3 * self.sigma), max(h, w)) + 1)
        offsets = np.zeros((n, k, 2))
        for i in range(n):
            for j in range(k):
                x, y = px[i, j], py[i, j]
                if not (1 < x < w - 2 and 1 < y < h - 2):
                    continue
                peak = hm[i, j].max()
                blurred = cv2.GaussianBlur(
                    hm[i, j].astype(np.float64), (size, size), 0, borderType=cv2.BORDER_CONSTANT
                )
                if blurred.max() > 0 and peak > 0:
                    blurred *= peak / blurred.max()
                lg = np.log(np.maximum(blurred, 1e-10))
                gx = 0.5 * (lg[y, x + 1] - lg[y, x - 1])
                gy = 0.5 * (lg[y + 1, x] - lg[y - 1, x])
                dxx = 0.25 * (lg[y, x + 2] - 2 * lg[y, x] + lg[y, x - 2])
                dyy = 0.25 * (lg[y + 2, x] - 2 * lg[y, x] + lg[y - 2, x])
                dxy = 0.25 * (lg[y + 1, x + 1] - lg[y - 1, x + 1] - lg[y + 1, x - 1] + lg[y - 1, x - 1])
                det = dxx * dyy - dxy**2
                if abs(det) < 1e-12:
                    continue
                step = -np.array([dyy * gx - dxy * gy, -dxy * gx + dxx * gy]) / det
                offsets[i, j] = np.clip(step, -1.0, 1.0)
        return offsets

    def decode_flip(
        self, outputs: Any, flipped_outputs: Any, flip_index: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Flip test of the official code: mirror back, swap joints, shift right, average."""
        hm = self._check(outputs)
        back = self._check(flipped_outputs)[:, check_flip_index(flip_index, hm.shape[1]), :, ::-1]
        s = self.flip_shift
        if s > 0:
            shifted = back.copy()
            shifted[..., s:] = back[..., :-s]
            back = shifted
        return self._decode_heatmaps(0.5 * (hm + back))

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type_name,
            "input_hw": list(self.input_hw),
            "heatmap_hw": list(self.heatmap_hw),
            "sigma": self.sigma,
            "refine": self.refine,
            "flip_shift": self.flip_shift,
        }
