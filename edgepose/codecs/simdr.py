"""SimDR and SimDR* codecs: keypoint location as two 1-D classifications.

Each axis of the input is split into ``split_ratio`` (k) bins per pixel: a width W gives
``W * k`` x-bins. Bin ``i`` stands for coordinate ``i / k`` px.

* :class:`SimDRCodec` (SimDR, cross-entropy): one-hot target at ``round(x * k)`` with
  label smoothing eps (``1 - eps`` on the true bin, ``eps / (N - 1)`` elsewhere).
  Confidence is the larger of max softmax(x) and max softmax(y).
* :class:`SimDRStarCodec` (SimDR*, Gaussian): target
  ``exp(-(i - x k)^2 / 2 sigma^2) / (sigma sqrt(2 pi))``, sigma in bins. Confidence is the
  smaller of the two maxima.

Decoding is ``argmax / k`` with no sub-bin refinement, as in the official code.
Keypoints whose bin falls outside the grid, or that are not labelled, get weight 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edgepose.checks import check_number
from edgepose.codecs.base import MAX_BINS, MAX_SIGMA, Codec, as_batch, check_flip_index, check_keypoints, check_shift, softmax
from edgepose.errors import InputError


def _peak_probability(logits: np.ndarray, peak: np.ndarray) -> np.ndarray:
    """``softmax(logits)`` at the bins ``peak (N, K)`` of ``logits (N, K, B)``: ``1 / sum(exp(logits - peak))``."""
    top = np.take_along_axis(logits, peak[..., None], axis=2)
    with np.errstate(invalid="ignore"):  # inf - inf: NaN scores, as the softmax gives
        return np.float32(1.0) / np.sum(np.exp(logits - top), axis=2)


class SimDRCodec(Codec):
    """SimDR with label-smoothed one-hot targets.

    Args:
        input_hw: model input (height, width) in px.
        split_ratio: bins per pixel k (> 0); the official settings are 3 at 64x64 and
            128x128, 2 at 256x192.
        label_smoothing: eps in [0, 1).
        flip_shift_bins: bins the mirrored x vector is shifted left in the flip test
            (the official code shifts by one).
    """

    type_name = "simdr"
    output_names = ("simcc_x", "simcc_y")

    def __init__(
        self,
        input_hw: tuple[int, int],
        split_ratio: float = 2.0,
        label_smoothing: float = 0.1,
        flip_shift_bins: int = 1,
    ) -> None:
        super().__init__(input_hw)
        self.split_ratio = check_number(split_ratio, "split_ratio")
        self.label_smoothing = check_number(label_smoothing, "label_smoothing", high=1.0, low_inclusive=True)
        self.flip_shift_bins = check_shift(flip_shift_bins, "flip_shift_bins")
        self.perfect_score = 1.0 - self.label_smoothing  # softmax of the one-hot target's bin
        self.num_bins_x = int(self.input_hw[1] * self.split_ratio)
        self.num_bins_y = int(self.input_hw[0] * self.split_ratio)
        if not 1 <= min(self.num_bins_x, self.num_bins_y) <= max(self.num_bins_x, self.num_bins_y) <= MAX_BINS:
            raise InputError(
                f"split_ratio {self.split_ratio:g} gives {self.num_bins_x}x{self.num_bins_y} bins for input "
                f"{self.input_hw[1]}x{self.input_hw[0]}; each axis needs 1..{MAX_BINS} bins"
            )

    # ---- targets -----------------------------------------------------------------
    def _bin_weights(self, kp: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Integer target bins (K, 2) and weights (K,) (0 outside the grid / unlabelled)."""
        bins = np.zeros(kp.shape, dtype=np.int64)
        finite = np.all(np.isfinite(kp), axis=1)
        bins[finite] = np.round(kp[finite] * self.split_ratio).astype(np.int64)
        inside = (
            (bins[:, 0] >= 0) & (bins[:, 0] < self.num_bins_x)
            & (bins[:, 1] >= 0) & (bins[:, 1] < self.num_bins_y)
        )
        weight = (valid & inside).astype(np.float32)
        return bins, weight

    def _axis_target(self, centers: np.ndarray, num_bins: int, weight: np.ndarray) -> np.ndarray:
        k = centers.shape[0]
        off = self.label_smoothing / (num_bins - 1) if num_bins > 1 else 0.0
        target = np.full((k, num_bins), off, dtype=np.float32)
        rows = np.nonzero(weight > 0)[0]
        target[rows, centers[rows]] = 1.0 - self.label_smoothing
        target[weight == 0] = 0.0
        return target

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        """Targets for one person.

        Returns:
            ``target_x (K, W*k)``, ``target_y (K, H*k)`` float32 distributions (rows of
            weight-0 keypoints are all zero) and ``target_weight (K,)`` float32.
        """
        kp, valid = check_keypoints(keypoints, visible)
        bins, weight = self._bin_weights(kp, valid)
        return {
            "target_x": self._axis_target(bins[:, 0], self.num_bins_x, weight),
            "target_y": self._axis_target(bins[:, 1], self.num_bins_y, weight),
            "target_weight": weight,
        }

    # ---- decoding -----------------------------------------------------------------
    def _split_outputs(self, outputs: Any) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(outputs, dict):
            try:
                outputs = tuple(outputs[name] for name in self.output_names)
            except KeyError:
                raise InputError(
                    f"SimDR outputs dict needs keys {list(self.output_names)}; got {sorted(outputs)}"
                ) from None
        if not isinstance(outputs, (list, tuple)) or len(outputs) != 2:
            raise InputError("SimDR outputs must be a pair (simcc_x (N,K,W*k), simcc_y (N,K,H*k))")
        x = as_batch(outputs[0], "simcc_x", 3)
        y = as_batch(outputs[1], "simcc_y", 3)
        if x.shape[:2] != y.shape[:2]:
            raise InputError(f"simcc_x {x.shape} and simcc_y {y.shape} disagree on (N, K)")
        if x.shape[2] != self.num_bins_x or y.shape[2] != self.num_bins_y:
            raise InputError(
                f"expected {self.num_bins_x} x-bins and {self.num_bins_y} y-bins "
                f"(input {self.input_hw[1]}x{self.input_hw[0]}, k={self.split_ratio:g}); "
                f"got {x.shape[2]} and {y.shape[2]}: is the codec that of this model?"
            )
        return x, y

    @staticmethod
    def _combine(max_x: np.ndarray, max_y: np.ndarray) -> np.ndarray:
        return np.maximum(max_x, max_y)

    def _decode_probabilities(self, px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ix, iy = np.argmax(px, axis=2), np.argmax(py, axis=2)
        keypoints = np.stack([ix, iy], axis=-1).astype(np.float32) / self.split_ratio
        scores = self._combine(np.max(px, axis=2), np.max(py, axis=2)).astype(np.float32)
        return keypoints, scores

    def decode(self, outputs: Any) -> tuple[np.ndarray, np.ndarray]:
        """Logits ``(simcc_x (N,K,W*k), simcc_y (N,K,H*k))`` -> keypoints (N,K,2) px, scores (N,K).

        The same result as taking the softmax first (the peak bin of the logits is the peak of
        their softmax, whose value is ``1 / sum(exp(logits - peak))``), without building the
        probabilities.
        """
        x, y = self._split_outputs(outputs)
        n, k = x.shape[:2]
        if x.shape == y.shape:  # square input: both axes in one array, half the numpy calls
            both = np.concatenate((x, y), axis=1)  # (N, 2K, B)
            peak = np.argmax(both, axis=2)
            prob = _peak_probability(both, peak).reshape(n, 2, k)
            bins = peak.reshape(n, 2, k).transpose(0, 2, 1)  # (N, K, 2): x bin, y bin
            scores = self._combine(prob[:, 0], prob[:, 1])
        else:
            ix, iy = np.argmax(x, axis=2), np.argmax(y, axis=2)
            bins = np.stack([ix, iy], axis=-1)
            scores = self._combine(_peak_probability(x, ix), _peak_probability(y, iy))
        keypoints = bins.astype(np.float32)
        keypoints /= np.float32(self.split_ratio)
        return keypoints, scores.astype(np.float32, copy=False)

    def _flip_back_x(self, flipped_x: np.ndarray, flip_index: np.ndarray) -> np.ndarray:
        """Mirror x vectors back: reverse bins, swap joints, shift ``flip_shift_bins`` left."""
        back = flipped_x[:, flip_index, ::-1]
        s = self.flip_shift_bins
        if s > 0:
            shifted = np.empty_like(back)
            shifted[..., :-s] = back[..., s:]
            shifted[..., -s:] = back[..., -1:]
            back = shifted
        return back

    def decode_flip(
        self, outputs: Any, flipped_outputs: Any, flip_index: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Flip test of the official code: average the two crops' probabilities."""
        x, y = self._split_outputs(outputs)
        fx, fy = self._split_outputs(flipped_outputs)
        idx = check_flip_index(flip_index, x.shape[1])
        px = 0.5 * (softmax(x) + self._flip_back_x(softmax(fx), idx))
        py = 0.5 * (softmax(y) + softmax(fy)[:, idx])
        return self._decode_probabilities(px, py)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type_name,
            "input_hw": list(self.input_hw),
            "split_ratio": self.split_ratio,
            "label_smoothing": self.label_smoothing,
            "flip_shift_bins": self.flip_shift_bins,
        }


class SimDRStarCodec(SimDRCodec):
    """SimDR* with Gaussian targets (sigma in bins) trained with KL divergence.

    The flip test averages logits, and confidence is the smaller of the two axis maxima.
    """

    type_name = "simdr_star"

    def __init__(
        self,
        input_hw: tuple[int, int],
        split_ratio: float = 2.0,
        sigma: float = 6.0,
        flip_shift_bins: int = 1,
    ) -> None:
        super().__init__(input_hw, split_ratio, 0.0, flip_shift_bins)
        self.sigma = check_number(sigma, "sigma (in bins)", high=MAX_SIGMA, high_inclusive=True)
        self.perfect_score = 1.0 / (self.sigma * math.sqrt(2 * math.pi))  # peak of the Gaussian target

    def _gaussian(self, centers: np.ndarray, num_bins: int, weight: np.ndarray) -> np.ndarray:
        grid = np.arange(num_bins, dtype=np.float64)
        d = grid[None, :] - centers[:, None]
        g = np.exp(-(d**2) / (2 * self.sigma**2)) / (self.sigma * math.sqrt(2 * math.pi))
        g[weight == 0] = 0.0
        return g.astype(np.float32)

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        """Gaussian targets centred at ``x * k`` (sub-bin), same keys as :class:`SimDRCodec`."""
        kp, valid = check_keypoints(keypoints, visible)
        _, weight = self._bin_weights(kp, valid)
        centers = np.where(np.isfinite(kp), kp, 0.0) * self.split_ratio
        return {
            "target_x": self._gaussian(centers[:, 0], self.num_bins_x, weight),
            "target_y": self._gaussian(centers[:, 1], self.num_bins_y, weight),
            "target_weight": weight,
        }

    @staticmethod
    def _combine(max_x: np.ndarray, max_y: np.ndarray) -> np.ndarray:
        return np.minimum(max_x, max_y)

    def decode_flip(
        self, outputs: Any, flipped_outputs: Any, flip_index: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Flip test of the official code for SimDR*: average the logits."""
        x, y = self._split_outputs(outputs)
        fx, fy = self._split_outputs(flipped_outputs)
        idx = check_flip_index(flip_index, x.shape[1])
        lx = 0.5 * (x + self._flip_back_x(fx, idx))
        ly = 0.5 * (y + fy[:, idx])
        return self.decode((lx, ly))

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        del d["label_smoothing"]
        d["sigma"] = self.sigma
        return d

