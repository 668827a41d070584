"""Security basics: metadata is parsed as JSON only (never evaluated or unpickled), the cache is
user-only, downloads need https and a pinned sha256.

Already covered elsewhere: cache dir 0700 under the default umask and http:// refused
(test_skeleton_zoo.py), non-JSON text and NaN constants in metadata (test_metadata.py).
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
from _fuzz_cases import onnx_with_metadata
from _tiny_models import make_onnx, make_tflite, metadata_for

from edgepose import Estimator, download, zoo
from edgepose.errors import ModelFileError
from edgepose.export.model_files import read_metadata

HW = (64, 64)


class _Evil:
    """Unpickling (or evaluating the repr of) this creates ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple:
        return (open, (self.path, "w"))


def _payloads(canary: Path) -> dict[str, bytes]:
    good = json.dumps(metadata_for(HW))
    return {
        "python_expression": f"__import__('builtins').open({str(canary)!r}, 'w')".encode(),
        "python_dict_literal": good.replace('"', "'").encode(),  # a Python literal, not JSON
        "pickle_protocol0": pickle.dumps(_Evil(canary), protocol=0),  # ASCII
        "pickle_protocol5": pickle.dumps(_Evil(canary), protocol=5),  # binary, not UTF-8
        "json_then_pickle": good.encode() + pickle.dumps(_Evil(canary), protocol=0),
        "deeply_nested": b"[" * 100_000,  # regression: raised RecursionError
    }


@pytest.fixture(scope="module")
def onnx_base(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_onnx(tmp_path_factory.mktemp("security") / "base.onnx", HW, metadata=None).read_bytes()


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
@pytest.mark.parametrize("kind", sorted(_payloads(Path("x"))))
def test_metadata_is_parsed_as_json_only(tmp_path: Path, onnx_base: bytes, fmt: str, kind: str) -> None:
    canary = tmp_path / "CANARY"
    payload = _payloads(canary)[kind]
    if fmt == "tflite":
        path = make_tflite(tmp_path / f"{kind}.tflite", HW, metadata=payload)
    else:
        path = tmp_path / f"{kind}.onnx"
        path.write_bytes(onnx_with_metadata(onnx_base, payload))
    with pytest.raises(ModelFileError) as info:
        read_metadata(path)
    assert path.name in str(info.value) and "JSON" in str(info.value)
    with pytest.raises(ModelFileError) as info:
        Estimator(path)  # the runtime path parses the metadata on its own
    assert path.name in str(info.value)
    assert not canary.exists(), "a metadata payload was evaluated"


def test_pickle_in_metadata_is_never_loaded_even_when_valid_json_follows(tmp_path: Path) -> None:
    canary = tmp_path / "CANARY"
    meta = metadata_for(HW, extra={"extra": pickle.dumps(_Evil(canary), protocol=0).decode("ascii")})
    path = make_onnx(tmp_path / "with_pickle_string.onnx", HW, metadata=meta)
    assert read_metadata(path)["extra"].startswith("c")  # just a string
    Estimator(path).close()
    assert not canary.exists()


def test_cache_dir_is_user_only_whatever_the_umask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEPOSE_CACHE", str(tmp_path / "a" / "b" / "cache"))
    old = os.umask(0)
    try:
        root = download.cache_dir()
    finally:
        os.umask(old)
    assert root.is_dir() and root.stat().st_mode & 0o777 == 0o700


class _NoNetwork:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: object, **kwargs: object) -> None:
        self.calls += 1
        raise AssertionError("the network must not be touched")


@pytest.mark.parametrize("url", [
    "http://example.invalid/m.onnx", "file:///etc/passwd", "ftp://example.invalid/m.onnx",
    "//example.invalid/m.onnx", "example.invalid/m.onnx", "data:,model", "",
])
def test_downloads_refuse_non_https_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("EDGEPOSE_CACHE", str(tmp_path / "cache"))
    net = _NoNetwork()
    monkeypatch.setattr(download.urllib.request, "urlopen", net)
    with pytest.raises(ModelFileError, match="only https"):
        download.fetch_file(zoo.ModelFile("onnx", "int8", url, "a" * 64, 10))
    assert net.calls == 0


@pytest.mark.parametrize("sha256", ["", None, "abc", "z" * 64, "0" * 63, "0" * 65, 123])
@pytest.mark.parametrize("url", ["https://example.invalid/m.onnx", "package://m.onnx"])
def test_downloads_refuse_files_without_a_pinned_sha256(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        url: str, sha256: object) -> None:
    monkeypatch.setenv("EDGEPOSE_CACHE", str(tmp_path / "cache"))
    net = _NoNetwork()
    monkeypatch.setattr(download.urllib.request, "urlopen", net)
    with pytest.raises(ModelFileError, match="no pinned sha256"):
        download.fetch_file(zoo.ModelFile("onnx", "int8", url, sha256, 10))  # type: ignore[arg-type]
    assert net.calls == 0
