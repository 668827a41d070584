"""edgepose.atomic: one atomic writer with one permission policy (the mode open() would give),
used by every file the package writes (images, pose JSON, model metadata, checkpoints, cache)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _tiny_models import make_onnx

from edgepose.atomic import default_file_mode, write_atomic, write_bytes_atomic
from edgepose.export.model_files import read_metadata, write_onnx_metadata
from edgepose.runtime.pose_json import PoseJsonWriter
from edgepose.runtime.result import PoseResult
from edgepose.video import ImageSink


@pytest.fixture()
def umask_027() -> Iterator[None]:
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_new_files_get_the_umask_mode(tmp_path: Path, umask_027: None) -> None:
    path = write_bytes_atomic(tmp_path / "sub" / "a.bin", [b"ab", b"c"])
    assert path.read_bytes() == b"abc" and _mode(path) == 0o640 == default_file_mode()
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.bin"]  # no temporary file left


def test_rewrites_keep_the_files_mode(tmp_path: Path, umask_027: None) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")
    path.chmod(0o604)
    write_bytes_atomic(path, b"new")
    assert path.read_bytes() == b"new" and _mode(path) == 0o604
    assert _mode(write_bytes_atomic(tmp_path / "private", b"x", mode=0o600)) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")

    def fail(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(path, fail)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_saved_images_and_json_are_not_owner_only(tmp_path: Path, umask_027: None) -> None:
    """`edgepose run --save out.png` used to leave a 0600 file (mkstemp's mode)."""
    sink = ImageSink(tmp_path / "out.png")
    sink.write(np.zeros((8, 8, 3), np.uint8))
    sink.close()
    assert _mode(tmp_path / "out.png") == 0o640
    writer = PoseJsonWriter(tmp_path / "poses.json", single_image=True)
    writer.write(PoseResult(np.zeros((1, 17, 2), np.float32), np.ones((1, 17), np.float32),
                            np.zeros((1, 4), np.float32), np.zeros(1, np.int64)))
    writer.close()
    assert _mode(tmp_path / "poses.json") == 0o640


def test_metadata_rewrite_keeps_the_model_files_mode(tmp_path: Path) -> None:
    path = make_onnx(tmp_path / "m.onnx")
    path.chmod(0o644)
    meta = read_metadata(path)
    write_onnx_metadata(path, {**meta, "model": "renamed"})
    assert read_metadata(path)["model"] == "renamed" and _mode(path) == 0o644
