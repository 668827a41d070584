"""Random inputs for the reliability fuzzer and the oracle that judges the library's answers.

Shared by ``tests/test_fuzz.py`` (hypothesis, a few hundred derandomized cases in the
default suite) and ``tests/fuzz/run_fuzz.py`` (10,000+ cases, each under a timeout in a
worker process). Every random decision goes through a :class:`Chooser`, so the same case
builders serve both drivers: :class:`HypothesisChooser` draws from ``st.data()`` (and
shrinks), :class:`RandomChooser` from a seeded ``random.Random``. Bulk data (pixels,
logits) comes from a numpy generator seeded by one chosen integer.

The oracle: each case ends with a valid result (shapes, dtypes, finite keypoints where
scores are finite, ...) or one of the documented exceptions of :mod:`edgepose.errors`
with a non-empty message. Anything else -- another exception type, an invalid result,
an evaluated metadata payload -- raises :class:`FuzzFailure`.

Families (``FAMILIES``):

* ``call``      ``Estimator(frame)`` on shared tiny models, frames of any type, dtype, shape;
* ``estimate``  ``Estimator.estimate(frame, boxes, track_ids, timestamp)``, boxes of any kind;
* ``detect``    "detect"/"track" modes with a detector that returns fuzzed boxes;
* ``args``      Estimator constructor arguments (threads, max_batch, padding, codec, mean, ...);
* ``metadata``  model files whose edgepose metadata is mutated (types, missing keys,
  negative sizes, unknown codecs, non-JSON / pickle / Python-expression payloads);
* ``model_file`` truncated, bit-flipped, overwritten or wrong-format model files;
* ``codec``     SimDRCodec / SimDRStarCodec / HeatmapCodec: construction (directly and
  with ``codec_from_dict``), ``encode``, ``decode``, ``decode_flip``, ``to_dict`` round trip.
"""

from __future__ import annotations

import json
import math
import pickle
import random
import re
import shutil
import signal
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from _tiny_models import make_heatmap_onnx, make_onnx, make_tflite, metadata_for

from edgepose import Estimator, ModelDescription, OneEuroParams, PoseResult
from edgepose.runtime.backends import load_backend
from edgepose.codecs import Codec, HeatmapCodec, SimDRCodec, SimDRStarCodec, codec_from_dict
from edgepose.errors import (
    BackendNotInstalledError, ChecksumError, EdgeposeError, InputError, ModelFileError, UnknownModelError,
)
from edgepose.runtime.estimator import TIMING_KEYS

HW = (64, 64)
#: the library's documented exceptions (edgepose.errors); anything else is a fuzz failure
DOCUMENTED = (InputError, ModelFileError, ChecksumError, UnknownModelError, BackendNotInstalledError)
FAMILIES = ("call", "estimate", "detect", "args", "metadata", "model_file", "codec")
#: relative frequency of each family in run_fuzz.py
WEIGHTS = {"call": 18, "estimate": 26, "detect": 8, "args": 8, "metadata": 16, "model_file": 6, "codec": 18}

NAN, INF = float("nan"), float("inf")
#: awkward numbers for boxes, codec parameters and array contents
SPECIAL_FLOATS = [NAN, INF, -INF, 0.0, -0.0, 5e-324, 1e-300, 1e-6, 0.5, 1.0, -1.0, 3.0, 64.0, 1e4, 1e6, 1e9,
                  1e30, 3.5e38, 1e300, 1.7e308, -1e300]
#: values a corrupted or hand-written metadata field may hold (json.dumps writes NaN/Infinity)
JSON_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 3, 64, -64, 2**31, 10**30, 10**400, 0.0, 1.5, -0.5, 1e-300, 1e300, NAN, INF, -INF,
    "", "x", "NCHW", "NHWC", "bgr", "rgb", "fp32", "int8", "float32", "coco17", "mpii16", "simdr",
    [], [64], [64, 64], [64, 48], [0, 64], [-64, 64], [64, 64, 64], ["64", "64"], [64.0, 64.0], [1.5, 2.5],
    [True, 1], [None, None, None], [0.5, 0.5, 0.5], [0.0, 1.0, 1.0], [1e-300] * 3, [1e300] * 3, [-1, 1, 1],
    [255, 255, 255], [10**400, 0, 0], ["a"], {}, {"type": "simdr"}, {"a": 1}, [[64, 64]],
    ["simcc_y", "simcc_x"], ["heatmaps"], ["simcc_x"], {"input": [0.02, 128]}, {"input": [INF, 10**30]},
    {"input": {"a": 1}}, {"input": [0, 0]}, {"input": "ab"},
]
CODEC_KEYS = ["type", "input_hw", "split_ratio", "label_smoothing", "flip_shift_bins", "sigma", "heatmap_hw",
              "refine", "flip_shift", "bogus"]
CODEC_VALUES = JSON_VALUES + ["simdr_star", "heatmap", "simdr_v2", "quarter", "dark", "none", [16, 16], [2**40, 1]]
META_KEYS = ["format_version", "edgepose_version", "model", "spec", "codec", "input_hw", "mean", "std",
             "color_order", "keypoint_set", "layout", "input_dtype", "precision", "outputs", "batch_size",
             "io_quantization", "macs", "output_dtype", "input_name", "quantization"]


class FuzzFailure(AssertionError):
    """The library crashed with an undocumented exception or returned an invalid result."""


class CaseTimeout(BaseException):
    """Raised by the per-case CPU-time alarm (a BaseException so that library code cannot swallow it)."""


# ---- choosers ---------------------------------------------------------------------------------
class Chooser:
    """Source of every random decision of a case."""

    def int(self, lo: int, hi: int) -> int:  # inclusive
        raise NotImplementedError

    def pick(self, options: Sequence[Any]) -> Any:
        raise NotImplementedError

    def flag(self) -> bool:
        return self.int(0, 1) == 1

    def seed(self) -> int:
        return self.int(0, 2**32 - 1)

    def rng(self) -> np.random.Generator:
        """A numpy generator for bulk data (pixels, logits)."""
        return np.random.default_rng(self.seed())

    def number(self) -> float:
        """An awkward or an ordinary float."""
        if self.flag():
            return self.pick(SPECIAL_FLOATS)
        return self.int(-2000, 2000) / 8.0


class RandomChooser(Chooser):
    def __init__(self, seed: Any) -> None:
        self._r = random.Random(seed)

    def int(self, lo: int, hi: int) -> int:
        return self._r.randint(lo, hi)

    def pick(self, options: Sequence[Any]) -> Any:
        return options[self._r.randrange(len(options))]


class HypothesisChooser(Chooser):
    def __init__(self, data: Any) -> None:
        from hypothesis import strategies as st

        self._data, self._st = data, st

    def int(self, lo: int, hi: int) -> int:
        return self._data.draw(self._st.integers(lo, hi))

    def pick(self, options: Sequence[Any]) -> Any:
        return options[self._data.draw(self._st.integers(0, len(options) - 1))]


def case_chooser(seed: int, index: int) -> RandomChooser:
    """The chooser of case ``index`` of a run with ``seed`` (independent of other cases)."""
    return RandomChooser(f"edgepose-fuzz:{seed}:{index}")


def family_of(seed: int, index: int) -> str:
    r = random.Random(f"edgepose-fuzz-family:{seed}:{index}")
    return r.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]


# ---- the shared context: tiny models and loaded backends ----------------------------------------
class FuzzContext:
    """Tiny model files, one loaded backend per file (shared by the cases' Estimators), a scratch
    directory, and a canary file that an evaluated metadata payload would create."""

    def __init__(self, root: Path | None = None) -> None:
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="edgepose-fuzz-")) if root is None else Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        d = self.root
        q_meta = metadata_for(HW, extra={"io_quantization": {"input": [0.02, 128]}})
        self.paths = {
            "onnx": make_onnx(d / "tiny.onnx"),
            "onnx_fixed": make_onnx(d / "tiny_fixed.onnx", dynamic_batch=False),
            "onnx_rect": make_onnx(d / "tiny_rect.onnx", input_hw=(64, 48)),
            "onnx_uint8": make_onnx(d / "tiny_uint8.onnx", metadata=q_meta, uint8_input=True),
            "tflite": make_tflite(d / "tiny.tflite"),
            "tflite_int8": make_tflite(d / "tiny_int8.tflite", int8_io=True),
            "heatmap": make_heatmap_onnx(d / "tiny_hm.onnx"),
            "external": make_onnx(d / "external.onnx", input_hw=(64, 48), metadata=None),
        }
        # two threads: batching="auto" then spreads several crops over parallel workers
        self.backends = {k: load_backend(p, threads=2) for k, p in self.paths.items()}
        # metadata-free bytes to which the metadata family appends its payloads
        self.onnx_bases = {
            "onnx": make_onnx(d / "base.onnx", metadata=None).read_bytes(),
            "onnx_uint8": make_onnx(d / "base_uint8.onnx", metadata=None, uint8_input=True).read_bytes(),
            "heatmap": _strip_onnx_metadata(self.paths["heatmap"]),
        }
        self.canary = d / "CANARY_metadata_was_evaluated"
        self._counter = 0

    def scratch(self, suffix: str) -> Path:
        self._counter += 1
        return self.root / f"case{self._counter}{suffix}"

    def close(self) -> None:
        for be in self.backends.values():
            be.close()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)


def _strip_onnx_metadata(path: Path) -> bytes:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    return model.SerializeToString()


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


def onnx_with_metadata(base: bytes, payload: bytes) -> bytes:
    """``base`` ONNX bytes plus a ``metadata_props`` entry (field 14) ``"edgepose" -> payload``."""
    return base + _len_field(14, _len_field(1, b"edgepose") + _len_field(2, payload))


# ---- the oracle ---------------------------------------------------------------------------------
def fail(msg: str) -> FuzzFailure:
    return FuzzFailure(msg)


@contextmanager
def expect_documented(what: str) -> Iterator[list[str]]:
    """Run the body; a documented exception (non-empty message) is recorded in the yielded
    list, any other exception becomes a FuzzFailure naming ``what``."""
    outcome: list[str] = []
    try:
        yield outcome
    except DOCUMENTED as exc:
        if not str(exc).strip():
            raise fail(f"{what}: {type(exc).__name__} with an empty message") from exc
        outcome.append(type(exc).__name__)
    except EdgeposeError as exc:  # an EdgeposeError outside the documented five (ExportError...)
        raise fail(f"{what}: undocumented EdgeposeError subclass {type(exc).__name__}: {exc}") from exc
    except FuzzFailure as exc:
        raise fail(f"{what}: {exc}") from exc
    except (CaseTimeout, KeyboardInterrupt):
        raise
    except BaseException as exc:  # noqa: BLE001 - that is the point
        raise fail(f"{what}: undocumented {type(exc).__name__}: {exc}") from exc


def check_pose_result(res: Any, est: Estimator, n: int | None, boxes: np.ndarray | None = None,
                      strict: bool = False) -> None:
    """A valid PoseResult for ``est``; ``n`` people if given; ``strict``: all scores finite."""
    if not isinstance(res, PoseResult):
        raise fail(f"result is {type(res).__name__}, not PoseResult")
    k = est.keypoint_set.num_keypoints
    arrays = {"keypoints": (res.keypoints, np.float32), "scores": (res.scores, np.float32),
              "boxes": (res.boxes, np.float32), "track_ids": (res.track_ids, np.int64)}
    for name, (a, dtype) in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype != dtype:
            raise fail(f"PoseResult.{name} is {type(a).__name__} {getattr(a, 'dtype', '')}, expected {dtype}")
    m = res.keypoints.shape[0] if res.keypoints.ndim == 3 else -1
    shapes = {"keypoints": (m, k, 2), "scores": (m, k), "boxes": (m, 4), "track_ids": (m,)}
    for name, shape in shapes.items():
        if getattr(res, name).shape != shape:
            raise fail(f"PoseResult.{name} has shape {getattr(res, name).shape}, expected {shape}")
    if n is not None and m != n:
        raise fail(f"PoseResult has {m} people, expected {n}")
    if len(res) != m:
        raise fail("len(PoseResult) differs from the number of people")
    finite = np.isfinite(res.scores)
    if not np.all(np.isfinite(res.keypoints[finite])):
        raise fail("non-finite keypoints where the scores are finite")
    if not np.all(np.isfinite(res.boxes)):
        raise fail(f"non-finite boxes in the result: {res.boxes.tolist()}")
    given = None if boxes is None else np.asarray(boxes, np.float64).reshape(-1, 4).astype(np.float32)
    if given is not None and not np.array_equal(res.boxes, given):
        raise fail("result boxes differ from the boxes given")
    if strict and not np.all(finite):
        raise fail("non-finite scores from a good model on a finite frame")
    if isinstance(est.info.codec, SimDRCodec) and np.any((res.scores[finite] < 0) | (res.scores[finite] > 1 + 1e-5)):
        raise fail(f"SimDR scores outside [0, 1]: {res.scores[finite].min()} .. {res.scores[finite].max()}")
    if set(res.timings) != set(TIMING_KEYS) or not all(
            isinstance(v, float) and math.isfinite(v) and v >= 0 for v in res.timings.values()):
        raise fail(f"bad timings {res.timings}")
    if res.keypoint_set != est.keypoint_set.name:
        raise fail(f"keypoint_set {res.keypoint_set!r} != {est.keypoint_set.name!r}")


def check_decoded(out: Any, n: int, k: int, simdr: bool) -> None:
    if not (isinstance(out, tuple) and len(out) == 2):
        raise fail(f"decode returned {type(out).__name__}, expected (keypoints, scores)")
    kp, sc = out
    if not (isinstance(kp, np.ndarray) and kp.dtype == np.float32 and kp.shape == (n, k, 2)):
        raise fail(f"decoded keypoints {getattr(kp, 'dtype', type(kp))} {getattr(kp, 'shape', '')}, "
                   f"expected float32 {(n, k, 2)}")
    if not (isinstance(sc, np.ndarray) and sc.dtype == np.float32 and sc.shape == (n, k)):
        raise fail(f"decoded scores {getattr(sc, 'dtype', type(sc))} {getattr(sc, 'shape', '')}, expected {(n, k)}")
    finite = np.isfinite(sc)
    if not np.all(np.isfinite(kp[finite])):
        raise fail("decoded keypoints are not finite where the scores are")
    if simdr and np.any((sc[finite] < 0) | (sc[finite] > 1 + 1e-5)):
        raise fail("SimDR scores outside [0, 1]")


# ---- inputs -----------------------------------------------------------------------------------
def gen_frame(c: Chooser, usable: bool = False) -> Any:
    """A frame: a uint8 image (possibly a strided/readonly view), or, unless ``usable``, anything."""
    rng = c.rng()
    if usable:
        kind = c.pick(["ok", "ok", "ok", "view"])
    else:
        kind = c.pick(["ok", "ok", "ok", "view", "view", "dtype", "channels", "ndim", "empty", "not_array",
                       "huge_side", "too_many", "masked"])
    h, w = c.pick([1, 2, 7, 48, 64, 120, 240]), c.pick([1, 3, 9, 64, 96, 160, 320])
    if kind in ("ok", "view", "masked"):
        fill = c.pick(["random", "zeros", "max", "random"])
        img = (rng.integers(0, 256, (h, w, 3), dtype=np.uint8) if fill == "random"
               else np.full((h, w, 3), 0 if fill == "zeros" else 255, np.uint8))
        if kind == "ok":
            return img
        if kind == "masked":
            return np.ma.masked_array(img, mask=rng.random(img.shape) < 0.1)
        view = c.pick(["flip", "step", "fortran", "broadcast", "readonly", "transpose", "channel_view"])
        if view == "flip":
            return img[::-1, ::-1]
        if view == "step":
            return img[:: c.int(1, 3), :: c.int(1, 3)]
        if view == "fortran":
            return np.asfortranarray(img)
        if view == "broadcast":
            return np.broadcast_to(img[:1, :1], (h, w, 3))
        if view == "transpose":
            return img.transpose(1, 0, 2)
        if view == "channel_view":
            big = rng.integers(0, 256, (h, w, 5), dtype=np.uint8)
            return big[..., 1:4]
        img.setflags(write=False)
        return img
    if kind == "dtype":
        dtype = c.pick([np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint16,
                        np.uint32, np.bool_, np.complex64, object])
        scale = c.pick([1.0, 255.0, 1e30])
        vals = rng.normal(size=(h, w, 3)) * scale
        if c.flag():
            vals.flat[:: max(1, vals.size // 5)] = c.pick([NAN, INF, -INF])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return vals.astype(dtype)
    if kind == "channels":
        return rng.integers(0, 256, (h, w, c.pick([0, 1, 2, 4, 5, 6])), dtype=np.uint8)
    if kind == "ndim":
        shape = c.pick([(), (w,), (h, w), (1, h, w, 3), (h, w, 3, 1), (2, h, w, 3)])
        return rng.integers(0, 256, shape, dtype=np.uint8)
    if kind == "empty":
        return np.zeros(c.pick([(0, w, 3), (h, 0, 3), (0, 0, 3), (0,)]), np.uint8)
    if kind == "not_array":
        return c.pick([None, [[1, 2, 3]], "frame.jpg", 3, b"\x89PNG", {"a": 1},
                       rng.integers(0, 256, (h, w, 3)).tolist(), memoryview(b"abc"), np.uint8(3)])
    if kind == "huge_side":  # sides at OpenCV's limits (SHRT_MAX = 32767), cheap in memory
        side = c.pick([32766, 32767, 32768, 40000])
        return np.zeros((1, side, 3) if c.flag() else (side, 1, 3), np.uint8)
    # more pixels than MAX_FRAME_PIXELS, through a zero-stride view (no memory)
    return np.broadcast_to(np.zeros((1, 1, 3), np.uint8), c.pick([(8000, 7000, 3), (50_000_001, 1, 3)]))


def _box_value(c: Chooser, lo: float, hi: float) -> float:
    if c.int(0, 4) == 0:
        return c.pick(SPECIAL_FLOATS)
    return lo + (hi - lo) * c.int(0, 1000) / 1000.0


def gen_boxes(c: Chooser, frame_hw: tuple[int, int]) -> Any:
    """Person boxes (x, y, w, h): usable, degenerate, special-valued, misshapen or of the wrong type."""
    h, w = max(int(frame_hw[0]), 1), max(int(frame_hw[1]), 1)
    kind = c.pick(["ok", "ok", "ok", "ok", "special", "edge", "shape", "type", "many", "empty"])
    if kind in ("ok", "many"):
        n = c.int(1, 4) if kind == "ok" else c.int(20, 70)
        out = []
        for _ in range(n):
            x, y = c.int(-w // 2, w - 1) + c.int(0, 9) / 10, c.int(-h // 2, h - 1) + c.int(0, 9) / 10
            out.append([x, y, c.int(1, 2 * w) - x / 4 if x < 0 else c.int(1, 2 * w), c.int(1, 2 * h)])
        out = [[b[0], b[1], max(b[2], -b[0] + 1), max(b[3], -b[1] + 1)] for b in out]
        return np.asarray(out, dtype=c.pick([np.float64, np.float32, np.int64])) if c.flag() else out
    if kind == "special":
        return [[_box_value(c, -w, w), _box_value(c, -h, h), _box_value(c, 0, 2 * w), _box_value(c, 0, 2 * h)]
                for _ in range(c.int(1, 3))]
    if kind == "edge":
        return [c.pick([
            [w - 1e-9, 0, 10, 10], [-10, -10, 10 + 1e-9, 10 + 1e-9], [0, 0, 5e-324, 5e-324], [0, 0, 1e-300, 1e-300],
            [0, 0, 1e-12, 1e-12], [0, 0, 1e30, 1e30], [-1e300, -1e300, 2e300, 2e300], [0, 0, 1.7e308, 1.7e308],
            [-1e9, -1e9, 2e9, 2e9], [0, 0, w, 1e-3], [0, 0, 1e9, 1e-9], [0, 0, 3.5e38, 3.5e38],
            [w / 2, h / 2, 1, 1], [0, 0, w, h], [-0.0, -0.0, 1, 1],
        ]) for _ in range(c.int(1, 2))]
    if kind == "shape":
        return c.pick([[[0, 0, 10]], [[0, 0, 10, 10, 1]], [[[0, 0, 10, 10]]], [0, 0, 10, 10], [[0, 0], [10, 10]],
                       [0, 0, 10], 5.0, [[0, 0, 10, 10], [0, 0, 10]], np.zeros((2, 2, 4)), np.zeros((4, 1))])
    if kind == "type":
        return c.pick([None, "abc", {"a": 1}, [["1", "2", "30", "40"]], [["a", "b", "c", "d"]],
                       np.array([[1, 2, 3, None]], dtype=object), np.array([[1, 2, 30, 4j]]),
                       np.array([[True, True, True, True]]), [[10**400, 2, 3, 4]], [[2**70, 0, 10, 10]],
                       [[0, 0, 10, 10**20]], {"boxes": [[0, 0, 10, 10]]}, object()])
    return c.pick([[], np.zeros((0, 4)), np.zeros((0,)), ()])


def gen_track_ids(c: Chooser, n: int) -> Any:
    kind = c.pick(["none", "none", "none", "ok", "wrong_len", "bad"])
    if kind == "none":
        return None
    if kind == "ok":
        return list(range(100, 100 + n))
    if kind == "wrong_len":
        return list(range(n + c.pick([-1, 1, 3])))
    return c.pick([["a"] * max(n, 1), [NAN] * max(n, 1), [2**70] * max(n, 1), "abc", {"a": 1}, [None] * max(n, 1),
                   [[1, 2]] * max(n, 1), np.array([1.5] * max(n, 1))])


def gen_timestamp(c: Chooser, t: float) -> Any:
    kind = c.pick(["none", "none", "next", "next", "same", "back", "bad"])
    if kind == "none":
        return None
    if kind == "next":
        return t + c.pick([1 / 30, 0.5, 2.0, 1e-9])
    if kind == "same":
        return t
    if kind == "back":
        return t - 1.0
    return c.pick([NAN, INF, -INF, "1.0", "x", [1.0], None, True, 1e300, -1e300, np.float32(1.0), 10**400, object()])


class FuzzDetector:
    """A Detector returning whatever the case put into ``next``."""

    def __init__(self) -> None:
        self.next: tuple[Any, Any] = (np.zeros((0, 4)), np.zeros(0))

    def detect(self, frame: np.ndarray, color_order: str = "bgr") -> tuple[Any, Any]:
        return self.next


# ---- running Estimators -------------------------------------------------------------------------
STOCK = ["onnx", "onnx", "onnx_fixed", "onnx_rect", "onnx_uint8", "tflite", "tflite_int8", "heatmap"]


def _stock_estimator(ctx: FuzzContext, c: Chooser, **extra: Any) -> Estimator:
    key = c.pick(STOCK)
    kwargs: dict[str, Any] = {
        "smoothing": c.pick([None, "auto", "auto", OneEuroParams()]),
        "running_mode": c.pick(["image", "video", "video"]),
        "frame_color": c.pick(["bgr", "rgb"]),
        "batching": c.pick(["auto", "auto", "batch", "loop"]),
        "max_batch": c.pick([1, 3, 32]),
        "padding": c.pick([1.25, 1.25, 1.0, 2.0]),
    }
    kwargs.update(extra)
    return Estimator(ctx.backends[key], **kwargs)


def _calls(c: Chooser) -> int:
    return c.int(1, 3)


def run_call(ctx: FuzzContext, c: Chooser) -> list[str]:
    mode = c.pick(["full", "full", "track"])
    est = _stock_estimator(ctx, c, mode=mode)
    outcomes: list[str] = []
    t = 100.0
    for _ in range(_calls(c)):
        frame = gen_frame(c)
        ts = gen_timestamp(c, t)
        t = ts if isinstance(ts, float) and math.isfinite(ts) else t
        with expect_documented(f"Estimator({mode})(frame, timestamp={ts!r})") as out:
            res = est(frame, timestamp=ts) if ts is not None or c.flag() else est(frame)
            good = isinstance(frame, np.ndarray) and frame.dtype == np.uint8
            check_pose_result(res, est, 1 if mode == "full" else None, strict=good)
        outcomes.append(out[0] if out else "valid")
    est.close()
    return outcomes


def run_estimate(ctx: FuzzContext, c: Chooser) -> list[str]:
    est = _stock_estimator(ctx, c, mode=c.pick(["full", "track"]))
    outcomes: list[str] = []
    t = 100.0
    for _ in range(_calls(c)):
        frame = gen_frame(c) if c.int(0, 3) == 0 else gen_frame(c, usable=True)
        hw = frame.shape[:2] if isinstance(frame, np.ndarray) and frame.ndim >= 2 else (48, 64)
        boxes = gen_boxes(c, (int(hw[0]), int(hw[1])))
        try:
            n = int(np.asarray(boxes, dtype=np.float64).reshape(-1, 4).shape[0])
        except Exception:  # noqa: BLE001 - unusable boxes: the call must raise anyway
            n = None
        ids = gen_track_ids(c, n or 1)
        ts = gen_timestamp(c, t)
        t = ts if isinstance(ts, float) and math.isfinite(ts) else t
        with expect_documented(f"estimate(frame, boxes={_short(boxes)}, track_ids={_short(ids)}, "
                               f"timestamp={ts!r})") as out:
            res = est.estimate(frame, boxes, track_ids=ids, timestamp=ts)
            check_pose_result(res, est, n, boxes=boxes, strict=True)
        outcomes.append(out[0] if out else "valid")
    est.close()
    return outcomes


def run_detect(ctx: FuzzContext, c: Chooser) -> list[str]:
    det = FuzzDetector()
    mode = c.pick(["detect", "track"])
    max_people = c.pick([None, None, 1, 2])
    est = _stock_estimator(ctx, c, mode=mode, detector=det, max_people=max_people,
                           full_frame_if_none=c.flag())
    outcomes: list[str] = []
    for _ in range(_calls(c) + 1):
        frame = gen_frame(c, usable=True) if c.int(0, 4) else gen_frame(c)
        hw = frame.shape[:2] if isinstance(frame, np.ndarray) and frame.ndim >= 2 else (48, 64)
        boxes = gen_boxes(c, (int(hw[0]), int(hw[1])))
        try:
            m = int(np.asarray(boxes, dtype=np.float64).reshape(-1, 4).shape[0])
        except Exception:  # noqa: BLE001
            m = 1
        scores = c.pick([np.linspace(0.9, 0.1, m), np.linspace(0.9, 0.1, m), np.full(m, NAN), np.zeros(m + 1),
                         None, "x"])
        det.next = (boxes, scores)
        what = f"Estimator({mode}) with detector boxes {_short(boxes)}, scores {_short(scores)}"
        with expect_documented(what) as out:
            res = est(frame)
            check_pose_result(res, est, None, strict=isinstance(frame, np.ndarray) and frame.dtype == np.uint8)
        outcomes.append(out[0] if out else "valid")
    est.close()
    return outcomes


def run_args(ctx: FuzzContext, c: Chooser) -> list[str]:
    external = c.flag()
    key = "external" if external else c.pick(STOCK)
    kwargs: dict[str, Any] = {}
    pools: dict[str, list[Any]] = {
        "threads": [1, 1, 0, -1, 1.5, "1", True],
        "max_batch": [1, 2, 32, 0, -1, 1.5, "4", None, 10**20],
        "padding": [1.25, 1.0, 0.1, 0, -1, NAN, INF, 1e-300, 1e300, "x", None],
        "batching": ["auto", "loop", "x", None],
        "frame_color": ["bgr", "rgb", "BGR", None, 3],
        "mode": [None, "full", "track", "detect", "x", 3],
        "smoothing": [None, "auto", OneEuroParams(), "x", True, False, 0],
        "max_people": [None, 1, 0, -1],
        "precision": [None, "int8", "fp32", "x"],
        "backend": [None, "onnxruntime", "tflite", "openvino", "x", 3],
        "running_mode": ["image", "video", "x", None],
        "box_format": ["xywh", "xyxy", "cxcywh", "x", None],
    }
    ext_pools: dict[str, list[Any]] = {
        "codec": [SimDRCodec((64, 48), 3.0), SimDRCodec((64, 48), 3.0).to_dict(), {"type": "x"}, "simdr", 5,
                  HeatmapCodec((64, 48)), SimDRStarCodec((64, 48), 3.0), SimDRCodec((64, 64), 3.0), None],
        "input_hw": [None, (64, 48), (64, 64), (0, 5), ("a", 1), 5, (64.0, 48.0)],
        "mean": [None, (0.485, 0.456, 0.406), (0, 0, 0), (255, 255, 255), (NAN, 0, 0), (1, 2), "abc", [0.5] * 3,
                 (10**400, 0, 0)],
        "std": [None, (0.229, 0.224, 0.225), (0, 1, 1), (1e-300,) * 3, (-1, 1, 1), (1, 1), (INF, 1, 1)],
        "color_order": [None, "bgr", "rgb", "BGR", 1],
        "keypoint_set": [None, "coco17", "mpii16", "x", 17],
        "output_names": [None, ("simcc_x", "simcc_y"), ("simcc_y", "simcc_x"), ("a", "b"), "simcc_x", [], [1, 2]],
    }
    for name, pool in pools.items():
        if c.int(0, 2) == 0:
            kwargs[name] = c.pick(pool)
    if external or c.int(0, 3) == 0:
        for name, pool in ext_pools.items():
            if external and name in ("codec", "mean", "std", "color_order", "keypoint_set") and c.int(0, 5):
                kwargs[name] = pool[0] if c.int(0, 2) else c.pick(pool)
            elif c.int(0, 3) == 0:
                kwargs[name] = c.pick(pool)
    if kwargs.get("mode") == "detect" and c.flag():
        kwargs["detector"] = c.pick([FuzzDetector(), "nope", 3])
    kwargs.setdefault("threads", 1)
    model = c.pick([ctx.paths[key], ctx.backends[key], str(ctx.paths[key])]) if c.int(0, 9) else c.pick(
        [3, None, "", "simdr_r50_128", "no_such_model", b"tiny.onnx", ctx.root, str(ctx.root) + "/", 3.5, ["a"],
         ctx.root / "absent.onnx", ctx.root / "tiny.xml"])
    est = None
    described = {k: kwargs.pop(k) for k in list(kwargs) if k in ext_pools}
    with expect_documented(f"Estimator({key}, {_short(kwargs)}, description={_short(described)})") as out:
        est = Estimator(model, description=ModelDescription(**described) if described else None, **kwargs)
    if out:
        return out
    assert est is not None
    outcomes = ["valid"]  # the constructor's
    for _ in range(_calls(c)):
        frame = gen_frame(c, usable=True) if c.int(0, 3) else gen_frame(c)
        with expect_documented(f"Estimator({key}, {_short(kwargs)}) call") as out:
            if c.flag() and isinstance(frame, np.ndarray) and frame.ndim >= 2:
                boxes = gen_boxes(c, frame.shape[:2])
                res = est.estimate(frame, boxes)
            else:
                res = est(frame)
            check_pose_result(res, est, None)
        outcomes.append(out[0] if out else "valid")
    est.close()
    return outcomes


# ---- metadata -----------------------------------------------------------------------------------
class _Evil:
    """Unpickling this creates the canary file: a pickle payload must never be loaded."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def _raw_payload(c: Chooser, good: dict[str, Any], canary: Path) -> bytes:
    text = json.dumps(good)
    kind = c.pick(["truncated", "deep_array", "deep_object", "python", "pickle0", "pickle5", "bad_utf8", "constants",
                   "scalar", "digits", "bom", "empty", "nul", "huge"])
    if kind == "truncated":
        return text[: c.int(0, len(text) - 1)].encode()
    if kind == "deep_array":
        return b"[" * c.pick([2000, 100_000]) + b"]" * c.pick([0, 2000])
    if kind == "deep_object":
        return b'{"a": ' * 50_000 + b"1" + b"}" * 50_000
    if kind == "python":
        return f"__import__('builtins').open({str(canary)!r}, 'w')".encode()
    if kind == "pickle0":
        return pickle.dumps(_Evil(canary), protocol=0)
    if kind == "pickle5":
        return pickle.dumps(_Evil(canary), protocol=5)
    if kind == "bad_utf8":
        return b"\xff\xfe" + text.encode()
    if kind == "constants":
        return re.sub(r'"format_version": \d', '"format_version": NaN', text).replace("0.485", "Infinity").encode()
    if kind == "scalar":
        return c.pick([b"null", b"[1, 2]", b'"string"', b"1e400", b"true", b"{}"])
    if kind == "digits":
        return b'{"format_version": ' + b"9" * 5000 + b"}"
    if kind == "bom":
        return "\ufeff".encode() + text.encode()
    if kind == "empty":
        return b""
    if kind == "nul":
        return text.encode() + b"\0\0\0"
    return b" " * 2_000_000 + text.encode()


#: how to feed and decode a model: top-level keys in format 1, ``spec`` keys in format 2
DESCRIPTION_KEYS = ("codec", "input_hw", "mean", "std", "color_order", "keypoint_set")


def as_format_2(meta: dict[str, Any]) -> dict[str, Any]:
    """A format-1 document (the tiny models') as edgepose writes it now: the description only in ``spec``."""
    out = {k: v for k, v in meta.items() if k not in DESCRIPTION_KEYS}
    out["spec"] = {**meta["spec"], **{k: meta[k] for k in DESCRIPTION_KEYS}}
    out["format_version"] = 2
    return out


def _mutate_metadata(c: Chooser, meta: dict[str, Any]) -> dict[str, Any]:
    meta = json.loads(json.dumps(meta))
    # the description's home: format 2 keeps it in spec (when spec is still an object)
    home = meta["spec"] if meta.get("format_version") == 2 and isinstance(meta.get("spec"), dict) else meta
    for _ in range(c.int(1, 3)):
        op = c.pick(["delete", "set", "set", "codec", "codec", "hw", "spec"])
        if op == "delete" and meta:
            target = c.pick([meta, home])
            if target:
                target.pop(c.pick(sorted(target)), None)
        elif op == "set":
            key = c.pick(META_KEYS)
            (home if key in DESCRIPTION_KEYS and c.int(0, 1) else meta)[key] = c.pick(JSON_VALUES)
        elif op == "codec":
            codec = home.get("codec")
            if not isinstance(codec, dict):
                home["codec"] = codec = {}
            if c.int(0, 3) == 0 and codec:
                codec.pop(c.pick(sorted(codec)), None)
            else:
                codec[c.pick(CODEC_KEYS)] = c.pick(CODEC_VALUES)
        elif op == "hw":  # consistent description and codec sizes that contradict the file
            hw = [c.pick([0, -64, 1, 32, 48, 64, 96, 128, 32767, 2**31]), c.pick([0, -48, 1, 48, 64, 2**31])]
            home["input_hw"] = hw
            if isinstance(home.get("codec"), dict):
                home["codec"]["input_hw"] = hw
        else:
            spec = meta.get("spec")
            if isinstance(spec, dict):
                spec[c.pick(["macs", "arch", "codec", "name"])] = c.pick(JSON_VALUES)
            meta["macs"] = c.pick([INF, -1, "x", 10**400, 1e300, 5, None])
    return meta


def run_metadata(ctx: FuzzContext, c: Chooser) -> list[str]:
    base = c.pick(["onnx", "onnx", "onnx_uint8", "heatmap", "tflite"])
    good = (json.loads(ctx.backends[base].metadata["edgepose"]) if base != "tflite" else metadata_for(HW))
    if c.int(0, 1):  # files written now (format 2) as well as older ones (format 1)
        good = as_format_2(good)
    if c.int(0, 4) == 0:
        payload = _raw_payload(c, good, ctx.canary)
    else:
        payload = json.dumps(_mutate_metadata(c, good)).encode()
    if base == "tflite":
        path = make_tflite(ctx.scratch(".tflite"), HW, metadata=payload)
    else:
        path = ctx.scratch(".onnx")
        path.write_bytes(onnx_with_metadata(ctx.onnx_bases[base], payload))
    try:
        return _load_and_run(ctx, c, path, f"metadata {payload[:200]!r}")
    finally:
        if ctx.canary.exists():
            ctx.canary.unlink()
            raise fail(f"the metadata payload {payload[:200]!r} was evaluated (canary file created)")
        path.unlink(missing_ok=True)


def _load_and_run(ctx: FuzzContext, c: Chooser, path: Path, what: str) -> list[str]:
    est = None
    with expect_documented(f"Estimator({path.name}) with {what}") as out:
        est = Estimator(path, threads=1)
    if out:
        return out
    assert est is not None
    outcomes = ["valid"]  # the constructor's
    try:
        for _ in range(c.int(1, 2)):
            frame = gen_frame(c, usable=True) if c.int(0, 3) else gen_frame(c)
            with expect_documented(f"Estimator({path.name}) call with {what}") as out:
                if c.flag() and isinstance(frame, np.ndarray) and frame.ndim >= 2:
                    res = est.estimate(frame, gen_boxes(c, frame.shape[:2]))
                else:
                    res = est(frame)
                check_pose_result(res, est, None)
            outcomes.append(out[0] if out else "valid")
    finally:
        est.close()
    return outcomes


# ---- model files --------------------------------------------------------------------------------
def corrupt_bytes(c: Chooser, data: bytes) -> tuple[bytes, str]:
    """``data`` truncated, bit-flipped, overwritten, or replaced by another format."""
    rng = c.rng()
    kind = c.pick(["truncate", "flip", "flip", "overwrite", "zeros", "other"])
    if kind == "truncate":
        n = c.pick([0, 1, 4, 8, 16, 64, len(data) // 2, len(data) - 1, int(rng.integers(0, len(data)))])
        return data[:n], f"truncated to {n} bytes"
    if kind == "flip":
        b = bytearray(data)
        bits = [int(rng.integers(0, len(b) * 8)) for _ in range(c.pick([1, 1, 2, 8, 64]))]
        for bit in bits:
            b[bit // 8] ^= 1 << (bit % 8)
        return bytes(b), f"bits flipped at {bits[:8]}"
    if kind in ("overwrite", "zeros"):
        start = int(rng.integers(0, len(data)))
        n = c.pick([1, 4, 16, 256])
        fill = bytes(n) if kind == "zeros" else rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        return data[:start] + fill[: len(data) - start] + data[start + n:], f"{kind} {n} bytes at {start}"
    other = c.pick([b"\x89PNG\r\n\x1a\n" + bytes(64), b"hello, I am a text file\n" * 4, b"\0" * 100,
                    b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n", b"PK\x03\x04" + bytes(40),
                    b"\x08\x07" + bytes(30), b"xxxxTFL3" + bytes(32)])
    return other, f"replaced by {other[:12]!r}"


def run_model_file(ctx: FuzzContext, c: Chooser) -> list[str]:
    key = c.pick(["onnx", "onnx_fixed", "tflite", "tflite_int8", "heatmap"])
    src = ctx.paths[key]
    data, how = corrupt_bytes(c, src.read_bytes())
    suffix = src.suffix if c.int(0, 4) else c.pick([".onnx", ".tflite"])
    path = ctx.scratch(suffix)
    path.write_bytes(data)
    try:
        return _load_and_run(ctx, c, path, f"{key} {how}")
    finally:
        path.unlink(missing_ok=True)


# ---- codecs -------------------------------------------------------------------------------------
HW_POOL: list[Any] = [(64, 64), (64, 48), [16, 12], (1, 1), (2, 3), (0, 64), (-1, 5), ("a", 1), ("64", "48"),
                      (64.5, 64), {"h": 1, "w": 2}, None, 64, (2**40, 1), (32767, 2), (INF, 4), (NAN, 4),
                      (True, True), (64, 64, 64), np.array([32, 32]), (np.int64(8), np.int64(8))]
PARAM_POOL: list[Any] = [2.0, 3, 1.0, 0.5, 0.01, 1e-9, 0, -1, NAN, INF, 1e9, 1e300, "2", None, True, [2], 0.1, 0.99,
                         1, 6.0]
SHIFT_POOL: list[Any] = [0, 1, 2, -1, 1000, 1.5, "1", None, INF, 2**70]
REFINE_POOL: list[Any] = ["none", "quarter", "dark", "x", None, [], ["dark"]]


def gen_codec_params(c: Chooser) -> tuple[str, dict[str, Any]]:
    kind = c.pick(["simdr", "simdr_star", "heatmap"])
    sane = c.int(0, 2) > 0
    params: dict[str, Any] = {"input_hw": c.pick(HW_POOL[:5] if sane else HW_POOL)}
    if kind in ("simdr", "simdr_star") and c.flag():
        params["split_ratio"] = c.pick([1.0, 2.0, 3.0] if sane else PARAM_POOL)
    if kind == "simdr" and c.flag():
        params["label_smoothing"] = c.pick([0.0, 0.1] if sane else PARAM_POOL)
    if kind in ("simdr_star", "heatmap") and c.flag():
        params["sigma"] = c.pick([1.0, 2.0, 6.0] if sane else PARAM_POOL)
    if kind == "heatmap":
        if c.flag():
            params["heatmap_hw"] = c.pick([None, (16, 16), (4, 3)] if sane else HW_POOL)
        if c.flag():
            params["refine"] = c.pick(REFINE_POOL[:3] if sane else REFINE_POOL)
        if c.flag():
            params["flip_shift"] = c.pick([0, 1] if sane else SHIFT_POOL)
    elif c.flag():
        params["flip_shift_bins"] = c.pick([0, 1, 2] if sane else SHIFT_POOL)
    return kind, params


def _small_enough(codec: Codec) -> bool:
    """Sizes for which encode/decode allocate little (encode builds dense targets)."""
    if isinstance(codec, SimDRCodec):
        return codec.num_bins_x * codec.num_bins_y <= 2_000_000 and max(codec.num_bins_x, codec.num_bins_y) <= 20_000
    return isinstance(codec, HeatmapCodec) and codec.heatmap_hw[0] * codec.heatmap_hw[1] <= 65_536


def _logits(c: Chooser, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    scale = c.pick([1.0, 10.0, 1e4, 1e30, 1e300])
    a = rng.normal(size=shape) * scale
    if a.size and c.int(0, 2) == 0:
        a.flat[rng.integers(0, a.size, max(1, a.size // 7))] = c.pick([NAN, INF, -INF, 1e39])
    with np.errstate(all="ignore"):
        return a.astype(c.pick([np.float32, np.float32, np.float64, np.float16]))


def _bad_output(c: Chooser, rng: np.random.Generator) -> Any:
    return c.pick([None, "logits", {"a": 1}, [], [None, None], [np.zeros((1, 2, 3))] * 3,
                   np.zeros((1, 2)), np.zeros((1, 17, 0)), np.zeros((2, 17, 4, 4, 1)),
                   [np.array([["a", "b"]]), np.array([["c"]])], np.array([[[object()]]], dtype=object),
                   rng.integers(0, 255, (1, 17, 8)), [[[1, 2], [3]]]])


def gen_outputs(c: Chooser, codec: Codec, rng: np.random.Generator, n: int, k: int) -> Any:
    if c.int(0, 4) == 0:
        return _bad_output(c, rng)
    if isinstance(codec, SimDRCodec):
        bx, by = codec.num_bins_x, codec.num_bins_y
        if c.int(0, 5) == 0:
            bx += c.pick([-1, 1])
        x, y = _logits(c, rng, (n, k, bx)), _logits(c, rng, (n, k, by))
        form = c.pick(["tuple", "list", "dict", "dict_bad"])
        if form == "tuple":
            return (x, y)
        if form == "list":
            return [x, y]
        if form == "dict":
            return {"simcc_x": x, "simcc_y": y}
        return {"x": x, "y": y}
    h, w = codec.heatmap_hw  # type: ignore[attr-defined]
    if c.int(0, 5) == 0:
        h += 1
    hm = _logits(c, rng, (n, k, h, w))
    return c.pick([hm, [hm], (hm,), [hm, hm]])


def run_codec(ctx: FuzzContext | None, c: Chooser) -> list[str]:
    kind, params = gen_codec_params(c)
    cls = {"simdr": SimDRCodec, "simdr_star": SimDRStarCodec, "heatmap": HeatmapCodec}[kind]
    via_dict = c.flag()
    if via_dict and c.int(0, 5) == 0:  # unknown or misplaced keys (only codec_from_dict takes a dict)
        params[c.pick(["bogus", "type", "sigma", "refine", "split_ratio"])] = c.pick(CODEC_VALUES)
    codec = None
    with expect_documented(f"{'codec_from_dict' if via_dict else cls.__name__}({kind}, {_short(params)})") as out:
        codec = codec_from_dict({"type": kind, **params}) if via_dict else cls(**params)
    if out:
        return out
    assert codec is not None
    outcomes = ["valid"]  # the constructor's
    with expect_documented(f"codec_from_dict({codec!r}.to_dict())") as out:
        again = codec_from_dict(json.loads(json.dumps(codec.to_dict())))
        if again != codec:
            raise fail(f"to_dict round trip changed {codec!r} into {again!r}")
    if out:
        raise fail(f"{codec!r}.to_dict() does not rebuild: {out[0]}")
    if not _small_enough(codec):
        return outcomes
    rng = c.rng()
    k = c.pick([0, 1, 5, 17])
    n = c.pick([0, 1, 2, 3])
    simdr = isinstance(codec, SimDRCodec)
    for _ in range(c.int(1, 3)):
        op = c.pick(["encode", "decode", "decode", "decode_flip"])
        with expect_documented(f"{codec!r}.{op}") as out:
            if op == "encode":
                kp, vis = _keypoints(c, rng, k, codec.input_hw)
                t = codec.encode(kp, vis)
                _check_targets(codec, t, np.asarray(kp, dtype=np.float64).shape[0])
            elif op == "decode":
                outputs = gen_outputs(c, codec, rng, n, k)
                check_decoded(codec.decode(outputs), n, k, simdr)
            else:
                flip = c.pick(["perm", "perm", "identity", "short", "dup", "text", "nan", "none"])
                perm = {"perm": rng.permutation(k), "identity": np.arange(k), "short": np.arange(max(k - 1, 0)),
                        "dup": np.zeros(k + 1, int), "text": ["a"] * k, "nan": [NAN] * max(k, 1), "none": None}[flip]
                res = codec.decode_flip(gen_outputs(c, codec, rng, n, k), gen_outputs(c, codec, rng, n, k), perm)
                check_decoded(res, n, k, simdr)
        outcomes.append(out[0] if out else "valid")
    return outcomes


def _keypoints(c: Chooser, rng: np.random.Generator, k: int, hw: tuple[int, int]) -> tuple[Any, Any]:
    kind = c.pick(["ok", "ok", "special", "shape", "type"])
    if kind == "ok":
        kp = rng.uniform(-0.2, 1.2, (k, 2)) * [hw[1], hw[0]]
        return kp, c.pick([np.ones(k), rng.integers(0, 3, k), rng.random(k) > 0.5, np.full(k, 2.0)])
    if kind == "special":
        kp = np.array([[c.pick(SPECIAL_FLOATS), c.pick(SPECIAL_FLOATS)] for _ in range(k)]).reshape(k, 2)
        return kp, c.pick([np.ones(k), np.full(k, NAN), np.full(k, INF), np.full(k, -1.0)])
    if kind == "shape":
        return c.pick([(np.zeros((k, 3)), np.ones(k)), (np.zeros((k, 2)), np.ones(k + 1)),
                       (np.zeros(2 * k), np.ones(k)),
                       (np.zeros((1, k, 2)), np.ones(k)), (np.zeros((k, 2)), np.ones((k, 1)))])
    return c.pick([(None, None), ("kp", "vis"), ([["a", "b"]] * k, np.ones(k)), (np.zeros((k, 2)), ["x"] * k),
                   ([[10**400, 0]] * k, np.ones(k)), (np.zeros((k, 2)), [None] * k), ({"a": 1}, np.ones(k)),
                   (np.zeros((k, 2), dtype=object), np.ones(k, dtype=object)), (np.zeros((k, 2)), [[1, 2]] * k)])


def _check_targets(codec: Codec, t: Any, k: int) -> None:
    if not isinstance(t, dict) or "target_weight" not in t:
        raise fail(f"encode returned {type(t).__name__} without target_weight")
    weight = t["target_weight"]
    if weight.shape != (k,) or weight.dtype != np.float32 or not np.all(np.isin(weight, [0.0, 1.0])):
        raise fail(f"bad target_weight {weight!r}")
    if isinstance(codec, SimDRCodec):
        shapes = {"target_x": (k, codec.num_bins_x), "target_y": (k, codec.num_bins_y)}
    else:
        shapes = {"heatmap": (k, *codec.heatmap_hw)}  # type: ignore[attr-defined]
    for name, shape in shapes.items():
        a = t.get(name)
        if not isinstance(a, np.ndarray) or a.shape != shape or a.dtype != np.float32 or not np.all(np.isfinite(a)):
            raise fail(f"bad {name}: {getattr(a, 'shape', a)} {getattr(a, 'dtype', '')}, "
                       f"expected finite float32 {shape}")
        if np.any(a[weight == 0] != 0):
            raise fail(f"{name} rows of weight-0 keypoints are not zero")


# ---- dispatch -----------------------------------------------------------------------------------
RUNNERS: dict[str, Callable[[Any, Chooser], list[str]]] = {
    "call": run_call, "estimate": run_estimate, "detect": run_detect, "args": run_args,
    "metadata": run_metadata, "model_file": run_model_file, "codec": run_codec,
}


def _alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout("case timed out")


def run_case(ctx: FuzzContext, family: str, c: Chooser, cpu_limit_s: float | None = None) -> list[str]:
    """Run one case: the outcome of each library call it made ("valid", or the documented
    exception's class name). Raises FuzzFailure, or CaseTimeout once the process spent
    ``cpu_limit_s`` CPU seconds on it (CPU time, not wall time: the machine may be busy with
    other work; main thread only)."""
    if cpu_limit_s:
        old = signal.signal(signal.SIGPROF, _alarm)
        signal.setitimer(signal.ITIMER_PROF, cpu_limit_s)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # numpy overflow warnings on purpose-made huge values
            return RUNNERS[family](ctx, c)
    finally:
        if cpu_limit_s:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, old)


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
