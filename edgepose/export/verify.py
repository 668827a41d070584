"""Compare exported files with the torch model they came from, on COCO-format validation crops.

For every file (run through the runtime backends, like the ``Estimator``):

* ``max |dlogit|``: largest absolute difference of the raw outputs (logits / heatmaps);
* ``<=1px %`` / ``mean px``: decoded keypoints (codec ``decode``, input-crop pixels) that
  lie within 1 px of torch's, and the mean distance;
* ``AP`` / ``dAP``: COCO OKS AP with ground-truth boxes (``edgepose.evaluate``, no flip
  test, no NMS) and its difference to torch fp32;
* ``PCK@0.1`` / ``dPCK``: labelled keypoints within 0.1 x the longer side of the person's box
  (``edgepose.evaluate.pck``, %), and its difference to torch fp32 — the figure that still
  moves when a weakly trained model's OKS AP is near zero;
* ``score thr``: a score threshold for these weights (``Estimator(score_threshold=...)``,
  ``quantization/ship.py --score-threshold``): the 10th percentile of the scores of the
  keypoints placed within 0.2 x the box of their label, so 90 % of them count as found
  (:func:`measure_score_threshold`; ``quantization/int8.py`` stores it in each file it writes);
* ``ms``: median latency of one crop (batch 1) at ``threads`` threads;
* ``MB``: file size.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from edgepose.codecs import Codec
from edgepose.errors import InputError
from edgepose.export.calibration import CocoCrops
from edgepose.train.rebuild import LoadedModel
from edgepose.export.common import max_abs_diff, torch_outputs
from edgepose.export.report import format_table
from edgepose.export.runtime import FileRunner, median_latency_ms
from edgepose.preprocess import crops_to_frame

logger = logging.getLogger(__name__)

__all__ = ["VerifyRow", "verify_files", "verify_table", "keypoint_agreement", "crops_ap", "crops_pck",
           "suggest_score_threshold", "measure_score_threshold"]

VERIFY_HEADERS = ("file", "format", "precision", "max |dlogit|", "<=1px %", "mean px", "AP", "dAP", "PCK@0.1",
                  "dPCK", "score thr", "ms", "MB")
PCK_ALPHA = 0.1


@dataclass(frozen=True)
class VerifyRow:
    """One line of the verification table (None where a value does not apply)."""

    file: str
    format: str
    precision: str
    max_logit_diff: float | None
    within_1px: float | None
    mean_px_error: float | None
    ap: float | None
    delta_ap: float | None
    pck: float | None
    delta_pck: float | None
    score_threshold: float | None
    latency_ms: float
    size_mb: float | None

    def cells(self) -> tuple[object, ...]:
        return (self.file, self.format, self.precision, self.max_logit_diff, self.within_1px,
                self.mean_px_error, self.ap, self.delta_ap, self.pck, self.delta_pck, self.score_threshold,
                self.latency_ms, self.size_mb)


def keypoint_agreement(kp: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """``(% of keypoints within 1 px, mean px distance)`` between ``kp`` and ``ref`` (N, K, 2)."""
    d = np.linalg.norm(np.asarray(kp, np.float64) - np.asarray(ref, np.float64), axis=-1)
    return float(100.0 * np.mean(d <= 1.0)), float(np.mean(d))


def crops_ap(crops: CocoCrops, keypoints: np.ndarray, scores: np.ndarray, sigmas: np.ndarray) -> float:
    """COCO OKS AP of crop-pixel ``keypoints (N, K, 2)`` / ``scores (N, K)`` on the crops' images."""
    from edgepose.evaluate import coco_keypoint_ap, coco_results

    frame_kp = crops_to_frame(keypoints, crops.matrices)
    results = coco_results(frame_kp, scores, crops.image_ids, np.ones(len(crops)), nms_thresh=None)
    stats = coco_keypoint_ap(crops.ann_file, results, sigmas, image_ids=np.unique(crops.image_ids).tolist())
    return stats["AP"]


def crops_pck(crops: CocoCrops, keypoints: np.ndarray, alpha: float = PCK_ALPHA) -> float:
    """PCK@``alpha`` in % of crop-pixel ``keypoints (N, K, 2)`` against the crops' annotations."""
    from edgepose.evaluate import pck

    frame_kp = crops_to_frame(keypoints, crops.matrices)
    gt = crops.keypoints
    return 100.0 * pck(frame_kp, gt[..., :2], gt[..., 2] > 0, crops.boxes, alpha=alpha)["mean"]


def suggest_score_threshold(crops: CocoCrops, keypoints: np.ndarray, scores: np.ndarray,
                            alpha: float = 0.2, keep: float = 0.9) -> float | None:
    """Score that ``keep`` of the keypoints placed within ``alpha`` x their box reach (None: none placed).

    Clipped to [0, 1], the range ``Estimator(score_threshold=...)`` and the metadata accept
    (heatmap peaks may lie outside it).

    Args:
        keypoints: (N, K, 2) crop px; scores: (N, K) codec scores.
    """
    from edgepose.evaluate import pck_hits

    frame_kp = crops_to_frame(keypoints, crops.matrices)
    gt = crops.keypoints
    placed, _ = pck_hits(frame_kp, gt[..., :2], gt[..., 2] > 0, crops.boxes, alpha=alpha)
    if not placed.any():
        return None
    value = float(np.quantile(np.asarray(scores, np.float64)[placed], 1.0 - keep))
    return min(max(value, 0.0), 1.0)


def measure_score_threshold(path: str | os.PathLike[str], crops: CocoCrops, *, threads: int = 1,
                            chunk: int = 32) -> float | None:
    """The ``score thr`` of :func:`verify_files` for one file: run it through its runtime backend
    on ``crops``, decode with the codec in its metadata, :func:`suggest_score_threshold` (None: no
    keypoint placed). The same number ``quantization/verify.py`` prints for the file on these crops.
    """
    if len(crops) == 0:
        raise InputError("no crops to measure a score threshold on")
    with FileRunner(Path(path), threads=threads) as runner:
        kp, scores = _decode(runner.codec, _batched(runner.run, crops.batch, chunk))
    return suggest_score_threshold(crops, kp, scores)


def _batched(fn: Callable[[np.ndarray], list[np.ndarray]], batch: np.ndarray, step: int) -> list[np.ndarray]:
    parts = [fn(batch[i:i + step]) for i in range(0, len(batch), step)]
    return [np.concatenate([p[j] for p in parts]) for j in range(len(parts[0]))]


def _decode(codec: Codec, outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return codec.decode(tuple(outputs) if len(outputs) > 1 else outputs[0])


def verify_files(
    loaded: LoadedModel,
    files: Sequence[str | os.PathLike[str]],
    crops: CocoCrops,
    *,
    threads: int = 1,
    repeats: int = 30,
    compute_ap: bool = True,
    chunk: int = 32,
) -> list[VerifyRow]:
    """Verification rows: torch fp32 first, then one per file (see module docstring).

    Raises:
        InputError: a file exported from another model, or no crops.
        ModelFileError: unreadable file / missing metadata.
    """
    if len(crops) == 0:
        raise InputError("no validation crops")
    spec, model = loaded.spec, loaded.model.eval()
    codec = spec.build_codec()
    sigmas = spec.keypoints().sigmas
    x = crops.batch
    ref = _batched(lambda b: torch_outputs(model, b), x, chunk)
    ref_kp, ref_scores = _decode(codec, ref)
    ref_ap = crops_ap(crops, ref_kp, ref_scores, sigmas) if compute_ap else None
    ref_pck = crops_pck(crops, ref_kp)
    ref_thr = suggest_score_threshold(crops, ref_kp, ref_scores)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch_ms = median_latency_ms(lambda: torch_outputs(model, x[:1]), repeats=repeats)
    finally:
        torch.set_num_threads(previous)
    rows = [VerifyRow(f"torch ({loaded.source})", "torch", "fp32", 0.0, 100.0, 0.0, ref_ap, 0.0 if compute_ap else None,
                      ref_pck, 0.0, ref_thr, torch_ms, None)]
    for f in files:
        path = Path(f)
        with FileRunner(path, threads=threads) as runner:
            meta = runner.meta
            if meta["model"] != spec.name:
                raise InputError(f"{path} was exported from {meta['model']!r}, not {spec.name!r}")
            outs = _batched(runner.run, x, chunk)
            kp, scores = _decode(codec, outs)
            within, mean_px = keypoint_agreement(kp, ref_kp)
            ap = crops_ap(crops, kp, scores, sigmas) if compute_ap else None
            file_pck = crops_pck(crops, kp)
            ms = median_latency_ms(lambda: runner.run(x[:1]), repeats=repeats)
        fmt = "tflite" if path.suffix.lower() == ".tflite" else "onnx"
        rows.append(VerifyRow(
            str(path), fmt, meta["precision"], max_abs_diff(outs, ref), within, mean_px, ap,
            None if ap is None or ref_ap is None else ap - ref_ap, file_pck, file_pck - ref_pck,
            suggest_score_threshold(crops, kp, scores), ms, path.stat().st_size / 1e6,
        ))
        logger.info("verified %s", path)
    return rows


def verify_table(rows: Sequence[VerifyRow]) -> str:
    """The table printed by ``quantization/verify.py``."""
    return format_table(VERIFY_HEADERS, [r.cells() for r in rows])
