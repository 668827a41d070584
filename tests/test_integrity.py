"""Model-file integrity: empty, wrong-format, bit-flipped, truncated and wrong-sha256 files at
user paths and in the registry cache, and interrupted or oversized downloads.

Already covered elsewhere (not repeated here): truncated ONNX/TFLite at a user path
(test_estimator.py::test_bad_model_files), broken files through load_backend
(test_backends.py::test_broken_files_raise_model_file_error), wrong sha256 of a package://
file (test_estimator.py::test_registry_errors), zoo-level verification of package files and
an interrupted download raising ConnectionResetError (test_skeleton_zoo.py).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import cv2
import numpy as np
import pytest
from _tiny_models import make_onnx, make_tflite, weights

from edgepose import Estimator, download, zoo
from edgepose.errors import ChecksumError, ModelFileError

HW = (64, 64)
TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("integrity_models")
    return {"onnx": make_onnx(d / "tiny.onnx"), "tflite": make_tflite(d / "tiny.tflite")}


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, (120, 160, 3), dtype=np.uint8)


def _png() -> bytes:
    ok, buf = cv2.imencode(".png", np.full((8, 8, 3), 200, np.uint8))
    assert ok
    return buf.tobytes()


WRONG_CONTENT = {
    "empty": b"",
    "png": _png(),
    "text": b"this is a text file that someone renamed\n" * 3,
}


# ---- user paths --------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".onnx", ".tflite"])
@pytest.mark.parametrize("kind", sorted(WRONG_CONTENT))
def test_wrong_content_at_user_path_names_the_file(tmp_path: Path, suffix: str, kind: str) -> None:
    path = tmp_path / f"model_{kind}{suffix}"
    path.write_bytes(WRONG_CONTENT[kind])
    with pytest.raises(ModelFileError) as info:
        Estimator(path)
    assert path.name in str(info.value)


@pytest.mark.parametrize(("src", "suffix"), [("tflite", ".onnx"), ("onnx", ".tflite")])
def test_other_format_at_user_path_names_the_file(models: dict[str, Path], tmp_path: Path, src: str,
                                                  suffix: str) -> None:
    path = tmp_path / f"renamed{suffix}"
    path.write_bytes(models[src].read_bytes())
    with pytest.raises(ModelFileError) as info:
        Estimator(path)
    assert path.name in str(info.value)


def _weight_offset(data: bytes) -> int:
    """Where the tiny model's weight matrix starts in its file bytes (TFLite stores it transposed)."""
    w = weights(HW)
    offset = max(data.find(w.tobytes()[:64]), data.find(np.ascontiguousarray(w.T).tobytes()[:64]))
    assert offset > 0
    return offset


def _flip(data: bytes, bit: int) -> bytes:
    b = bytearray(data)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


def test_bit_flip_that_still_parses_runs_at_a_user_path(models: dict[str, Path], tmp_path: Path,
                                                        frame: np.ndarray) -> None:
    """A flipped mantissa bit in the weights: the runtimes cannot notice, so the file runs
    (with other numbers). Only the registry's sha256 catches this (next tests)."""
    for key in ("onnx", "tflite"):
        data = models[key].read_bytes()
        path = tmp_path / f"flipped_{models[key].name}"
        path.write_bytes(_flip(data, _weight_offset(data) * 8 + 8 * 100 + 3))
        with Estimator(path, threads=1) as est:
            assert est(frame).keypoints.shape == (1, 17, 2)


# A subprocess, so that a runtime crashing on a corrupted file fails this test instead of
# killing the test session.
_FLIP_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from _fuzz_cases import FuzzFailure, check_pose_result, expect_documented
from edgepose import Estimator
paths, n_flips = json.loads(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
frame = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
counts, failures = {}, []
for src in paths:
    data = open(src, "rb").read()
    for i in range(n_flips):
        flipped = bytearray(data)
        for bit in rng.integers(0, len(data) * 8, 1 + i % 3):
            flipped[bit // 8] ^= 1 << (bit % 8)
        path = src + f".flip{i}" + src[src.rfind("."):]
        open(path, "wb").write(bytes(flipped))
        try:
            with expect_documented(f"{path}") as out:
                with Estimator(path, threads=1) as est:
                    check_pose_result(est(frame), est, 1)
        except FuzzFailure as exc:
            failures.append(str(exc))
        outcome = out[0] if out else "valid"
        counts[outcome] = counts.get(outcome, 0) + 1
print(json.dumps({"counts": counts, "failures": failures}))
"""


def test_random_bit_flips_at_a_user_path_run_or_raise_documented_errors(models: dict[str, Path],
                                                                        tmp_path: Path) -> None:
    paths = []
    for key, path in models.items():
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes())
        paths.append(str(copy))
    proc = subprocess.run([sys.executable, "-c", _FLIP_SCRIPT, str(TESTS), json.dumps(paths), "40"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"crashed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["failures"] == []
    assert sum(report["counts"].values()) == 80
    assert set(report["counts"]) <= {"valid", "ModelFileError", "InputError"}


# ---- the registry cache ----------------------------------------------------------------------------
class _Server:
    """Stands in for urllib.request.urlopen: serves ``data``, optionally failing after
    ``fail_after`` bytes with ``error``, or streaming forever (``endless``)."""

    def __init__(self, data: bytes, fail_after: int | None = None, error: BaseException | None = None,
                 endless: bool = False) -> None:
        self.data, self.fail_after, self.error, self.endless = data, fail_after, error, endless
        self.calls = 0

    def __call__(self, url: str, timeout: float) -> _Server._Response:
        self.calls += 1
        if self.error is not None and self.fail_after is None:
            raise self.error
        return self._Response(self)

    class _Response:
        def __init__(self, server: _Server) -> None:
            self.server, self.pos = server, 0

        def read(self, n: int) -> bytes:
            s = self.server
            if s.fail_after is not None and self.pos >= s.fail_after:
                raise s.error  # type: ignore[misc]
            if s.endless:
                self.pos += 4096
                return b"\0" * 4096
            chunk = s.data[self.pos:self.pos + min(n, 97)]
            self.pos += len(chunk)
            return chunk

        def __enter__(self) -> _Server._Response:
            return self

        def __exit__(self, *exc: object) -> bool:
            return False


def _register(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model: Path, *, sha256: str | None = None,
              name: str = "tiny_integrity") -> zoo.ModelFile:
    """A registry entry ``name`` whose one file is ``model``, downloaded over https into a fresh cache."""
    monkeypatch.setenv("EDGEPOSE_CACHE", str(tmp_path / "cache"))
    data = model.read_bytes()
    fmt = model.suffix.lstrip(".")
    mf = zoo.ModelFile(fmt, "int8", f"https://example.invalid/models/{model.name}",
                       sha256 or hashlib.sha256(data).hexdigest(), len(data))
    spec = zoo.with_files(zoo.make_spec("simdr", "r50", "64"), (mf,), "test")
    spec = zoo.ModelSpec.from_dict({**spec.to_dict(), "name": name})
    monkeypatch.setitem(zoo.REGISTRY, name, spec)
    return mf


def _cache_path(mf: zoo.ModelFile) -> Path:
    return download.cache_dir() / f"{mf.sha256[:16]}-{Path(mf.url).name}"


def _corrupt(kind: str, data: bytes) -> bytes:
    if kind == "truncated":
        return data[: len(data) // 2]
    if kind == "bitflip":  # same size, still a loadable model
        return _flip(data, _weight_offset(data) * 8 + 8 * 100 + 3)
    return WRONG_CONTENT[kind]


CORRUPTIONS = ["truncated", "bitflip", "empty", "png", "text"]


@pytest.mark.parametrize("key", ["onnx", "tflite"])
@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_corrupt_cache_entry_is_replaced_by_a_verified_download(models: dict[str, Path], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch, frame: np.ndarray,
                                                                key: str, kind: str) -> None:
    good = models[key].read_bytes()
    mf = _register(monkeypatch, tmp_path, models[key])
    cached = _cache_path(mf)
    cached.write_bytes(_corrupt(kind, good))
    server = _Server(good)
    monkeypatch.setattr(download.urllib.request, "urlopen", server)
    with Estimator("tiny_integrity", threads=1) as est:
        assert est(frame).keypoints.shape == (1, 17, 2)
    assert server.calls == 1 and cached.read_bytes() == good
    assert sorted(p.name for p in download.cache_dir().iterdir()) == [cached.name]


@pytest.mark.parametrize("key", ["onnx", "tflite"])
@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_corrupt_cache_entry_offline_fails_naming_the_file(models: dict[str, Path], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch, key: str,
                                                           kind: str) -> None:
    mf = _register(monkeypatch, tmp_path, models[key])
    cached = _cache_path(mf)
    cached.write_bytes(_corrupt(kind, models[key].read_bytes()))
    monkeypatch.setattr(download.urllib.request, "urlopen", _Server(b"", error=urllib.error.URLError("offline")))
    with pytest.raises(ModelFileError) as info:
        Estimator("tiny_integrity")
    assert models[key].name in str(info.value) and "offline" in str(info.value)
    assert list(download.cache_dir().iterdir()) == []  # the corrupt copy is gone, nothing partial stays


@pytest.mark.parametrize("key", ["onnx", "tflite"])
def test_wrong_sha256_is_caught_in_cache_and_download(models: dict[str, Path], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    """The pinned sha256 is not that of the file (a bit flip upstream, or a swapped file):
    neither the cached copy nor the download is trusted, though both parse as models."""
    good = models[key].read_bytes()
    flipped = _corrupt("bitflip", good)
    mf = _register(monkeypatch, tmp_path, models[key], sha256=hashlib.sha256(flipped).hexdigest())
    cached = _cache_path(mf)
    cached.write_bytes(good)
    server = _Server(good)
    monkeypatch.setattr(download.urllib.request, "urlopen", server)
    with pytest.raises(ChecksumError, match="sha256") as info:
        Estimator("tiny_integrity")
    assert models[key].name in str(info.value) and server.calls == 1
    assert list(download.cache_dir().iterdir()) == []


@pytest.mark.parametrize("error", [
    ConnectionResetError("connection reset by peer"),
    TimeoutError("read timed out"),
    http.client.IncompleteRead(b"partial"),
    urllib.error.URLError("network is unreachable"),
], ids=["reset", "timeout", "incomplete_read", "urlerror"])
def test_interrupted_download_leaves_nothing_a_later_run_trusts(models: dict[str, Path], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                frame: np.ndarray, error: BaseException) -> None:
    good = models["onnx"].read_bytes()
    mf = _register(monkeypatch, tmp_path, models["onnx"])
    monkeypatch.setattr(download.urllib.request, "urlopen", _Server(good, fail_after=len(good) // 2, error=error))
    with pytest.raises(ModelFileError, match="download of .*tiny.onnx failed"):
        Estimator("tiny_integrity")
    assert list(download.cache_dir().iterdir()) == []  # no partial file at the final path, no temp file
    server = _Server(good)
    monkeypatch.setattr(download.urllib.request, "urlopen", server)
    with Estimator("tiny_integrity", threads=1) as est:  # the next run downloads again and verifies
        assert est(frame).keypoints.shape == (1, 17, 2)
    assert server.calls == 1 and _cache_path(mf).read_bytes() == good


def test_stale_partial_download_is_ignored(models: dict[str, Path], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A process killed mid-download leaves a ``.part-*`` temp file: never used as the model."""
    good = models["onnx"].read_bytes()
    mf = _register(monkeypatch, tmp_path, models["onnx"])
    (download.cache_dir() / ".part-killed.onnx").write_bytes(good[: len(good) // 3])
    server = _Server(good)
    monkeypatch.setattr(download.urllib.request, "urlopen", server)
    assert download.fetch_file(mf).read_bytes() == good
    assert server.calls == 1


def test_oversized_download_is_cut_off(models: dict[str, Path], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    mf = _register(monkeypatch, tmp_path, models["onnx"])
    monkeypatch.setattr(download.urllib.request, "urlopen", _Server(b"", endless=True))
    with pytest.raises(ChecksumError, match="more than the pinned"):
        download.fetch_file(mf)
    assert list(download.cache_dir().iterdir()) == []


def test_downloaded_files_are_user_only(models: dict[str, Path], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    mf = _register(monkeypatch, tmp_path, models["onnx"])
    monkeypatch.setattr(download.urllib.request, "urlopen", _Server(models["onnx"].read_bytes()))
    path = download.fetch_file(mf)
    assert os.stat(path).st_mode & 0o077 == 0
