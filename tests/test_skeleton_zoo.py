"""Keypoint sets and the model registry (specs, cache, sha256 checks, atomic downloads)."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import numpy as np
import pytest

import edgepose.download as download
import edgepose.zoo as zoo
from edgepose.errors import ChecksumError, ModelFileError, UnknownModelError
from edgepose.skeleton import KEYPOINT_SETS, get_keypoint_set


@pytest.mark.parametrize("name,k", [("coco17", 17), ("mpii16", 16), ("crowdpose14", 14)])
def test_keypoint_sets(name, k):
    ks = get_keypoint_set(name)
    assert ks.num_keypoints == k == len(ks.sigmas)
    idx = ks.flip_index()
    assert sorted(idx) == list(range(k))
    np.testing.assert_array_equal(idx[idx], np.arange(k))  # an involution
    for a, b in ks.flip_pairs:  # pairs are left/right twins
        na, nb = ks.names[a], ks.names[b]
        assert na.replace("left", "X").replace("right", "X") == nb.replace("left", "X").replace("right", "X")


def test_unknown_keypoint_set():
    with pytest.raises(UnknownModelError, match="coco17"):
        get_keypoint_set("coco18")
    assert set(KEYPOINT_SETS) == {"coco17", "mpii16", "crowdpose14"}


def test_registry_covers_the_papers():
    names = zoo.list_models()
    for required in [
        "simdr_r50_64", "simdr_r50_128", "simdr_r50_256x192", "simdrstar_r50_128",
        "simdrdc_r50_256x192", "hm_r50_64", "hm_r50_128", "hm_r50_256x192",
        "mrheat1_r50_256x192", "mrheat2_r50_256x192", "mrfea1_r50_256x192", "mrfea2_r50_256x192",
        "hm_r50_256_mpii", "simdr_r50_256x192_crowdpose",
    ]:
        assert required in names
    spec = zoo.get_spec("simdr_r50_128")
    assert spec.input_hw == (128, 128)
    assert spec.arch == {"head": "simdr", "backbone": "resnet50", "split_ratio": 3.0, "cpj": 32}
    assert spec.build_codec().num_bins_x == 384
    s256 = zoo.get_spec("simdr_r50_256x192")
    assert (s256.arch["split_ratio"], s256.arch["cpj"]) == (2.0, 28)
    assert zoo.get_spec("hm_r50_256_mpii").keypoints().num_keypoints == 16


def test_spec_dict_round_trip_and_unknown_name():
    for name in zoo.list_models():
        spec = zoo.get_spec(name)
        assert zoo.ModelSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(UnknownModelError, match="list_models"):
        zoo.get_spec("simdr_r51_128")


def _model_file(path: Path, url: str) -> zoo.ModelFile:
    data = path.read_bytes()
    return zoo.ModelFile("onnx", "int8", url, hashlib.sha256(data).hexdigest(), len(data))


def test_cache_dir_is_user_only(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEPOSE_CACHE", str(tmp_path / "cache"))
    root = download.cache_dir()
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


def test_package_file_is_verified(tmp_path, monkeypatch):
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)
    f = tmp_path / "m.onnx"
    f.write_bytes(b"model bytes")
    mf = _model_file(f, "package://m.onnx")
    assert download.fetch_file(mf) == f
    f.write_bytes(b"model bytez")  # same size, one byte flipped
    with pytest.raises(ChecksumError, match="sha256"):
        download.fetch_file(mf)
    f.write_bytes(b"model")  # truncated
    with pytest.raises(ChecksumError, match="truncated"):
        download.fetch_file(mf)
    f.unlink()
    with pytest.raises(ModelFileError, match="does not exist"):
        download.fetch_file(mf)


def test_only_https_is_fetched(tmp_path):
    mf = zoo.ModelFile("onnx", "int8", "http://example.invalid/m.onnx", "0" * 64, 1)
    with pytest.raises(ModelFileError, match="https"):
        download.fetch_file(mf)


class _FakeResponse:
    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self.data, self.pos, self.fail_after = data, 0, fail_after

    def read(self, n: int) -> bytes:
        if self.fail_after is not None and self.pos >= self.fail_after:
            raise ConnectionResetError("connection dropped")
        chunk = self.data[self.pos:self.pos + min(n, 4)]
        self.pos += len(chunk)
        return chunk

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_download_is_atomic_and_verified(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEPOSE_CACHE", str(tmp_path / "cache"))
    payload = b"0123456789abcdef" * 4
    src = tmp_path / "src.onnx"
    src.write_bytes(payload)
    mf = _model_file(src, "https://example.invalid/m.onnx")

    # interrupted half-way: no file stays in the cache
    monkeypatch.setattr(download.urllib.request, "urlopen", lambda url, timeout: _FakeResponse(payload, 20))
    with pytest.raises(ModelFileError, match="failed"):
        download.fetch_file(mf)
    assert os.listdir(download.cache_dir()) == []

    # wrong content: rejected, nothing cached
    monkeypatch.setattr(download.urllib.request, "urlopen", lambda url, timeout: _FakeResponse(payload[::-1]))
    with pytest.raises(ChecksumError):
        download.fetch_file(mf)
    assert os.listdir(download.cache_dir()) == []

    # good download, then a corrupted cache entry is detected and replaced
    monkeypatch.setattr(download.urllib.request, "urlopen", lambda url, timeout: _FakeResponse(payload))
    path = download.fetch_file(mf)
    assert path.read_bytes() == payload
    path.write_bytes(b"x" * len(payload))
    assert download.fetch_file(mf).read_bytes() == payload
    assert [p.name for p in download.cache_dir().iterdir()] == [path.name]
