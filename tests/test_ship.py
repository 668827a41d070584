"""quantization/ship.py and the shipped-weights manifest the registry reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _export_helpers import load_cli
from _tiny_models import make_onnx, make_tflite, metadata_for

from edgepose import Estimator, zoo
from edgepose.errors import ChecksumError, InputError, ModelFileError, UnknownModelError
from edgepose.evaluate import pck


@pytest.fixture()
def weights_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, object]:
    """A private edgepose/weights folder for ship.py and the registry."""
    folder = tmp_path / "weights"
    folder.mkdir()
    ship = load_cli("ship")
    for module in (ship, zoo):
        monkeypatch.setattr(module, "WEIGHTS_DIR", folder)
        monkeypatch.setattr(module, "MANIFEST", folder / "manifest.json")
    return folder, ship


def tiny_files(folder: Path, model: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [make_onnx(folder / f"{model}_int8.onnx", metadata=metadata_for((64, 64), name=model, precision="int8")),
            make_tflite(folder / f"{model}_int8.tflite", metadata=metadata_for((64, 64), name=model, precision="int8"))]


def test_ship_pins_files_and_the_registry_serves_them(weights_dir, tmp_path: Path) -> None:
    folder, ship = weights_dir
    files = tiny_files(tmp_path / "exports", "simdr_r18_64")
    assert ship.main([*map(str, files), "--trained-on", "synthetic humans (test)"]) == 0
    manifest = zoo.read_manifest(folder / "manifest.json")
    entry = manifest["simdr_r18_64"]
    assert entry["trained_on"] == "synthetic humans (test)"
    assert {(f["format"], f["precision"], f["url"]) for f in entry["files"]} == {
        ("onnx", "int8", "package://simdr_r18_64_int8.onnx"), ("tflite", "int8", "package://simdr_r18_64_int8.tflite")}
    for f in entry["files"]:
        assert zoo.sha256_of(folder / f["url"][len("package://"):]) == f["sha256"]
    spec = zoo._with_shipped_files(zoo._paper_models(), manifest)
    shipped = next(s for s in spec if s.name == "simdr_r18_64")
    assert shipped.trained_on == "synthetic humans (test)"
    path = zoo.fetch_file(shipped.find_file("tflite", "int8"))
    assert path == folder / "simdr_r18_64_int8.tflite"
    # a shipped file altered after install is refused by its pinned sha256
    with open(folder / "simdr_r18_64_int8.onnx", "r+b") as fh:
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ChecksumError, match="simdr_r18_64_int8.onnx"):
        zoo.fetch_file(shipped.find_file("onnx", "int8"))


def test_xz_packed_files_unpack_once_into_the_cache_and_are_verified(
        weights_dir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, ship = weights_dir
    monkeypatch.setenv("EDGEPOSE_CACHE", str(tmp_path / "cache"))
    files = tiny_files(tmp_path / "exports", "simdr_r18_64")
    assert ship.main([*map(str, files), "--trained-on", "t", "--xz"]) == 0
    entry = zoo.read_manifest(folder / "manifest.json")["simdr_r18_64"]
    assert {f["url"] for f in entry["files"]} == {"package://simdr_r18_64_int8.onnx.xz",
                                                  "package://simdr_r18_64_int8.tflite.xz"}
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "simdr_r18_64_int8.onnx.xz",
                                                        "simdr_r18_64_int8.tflite.xz"]
    spec = next(s for s in zoo._with_shipped_files(zoo._paper_models(), zoo.read_manifest(folder / "manifest.json"))
                if s.name == "simdr_r18_64")
    onnx = spec.find_file("onnx", "int8")
    path = zoo.fetch_file(onnx)
    assert path.parent == tmp_path / "cache" and path.read_bytes() == files[0].read_bytes()
    assert zoo.sha256_of(path) == onnx.sha256 == zoo.sha256_of(files[0])
    mtime = path.stat().st_mtime_ns
    assert zoo.fetch_file(onnx) == path and path.stat().st_mtime_ns == mtime  # unpacked once
    monkeypatch.setitem(zoo.REGISTRY, "simdr_r18_64", spec)
    with Estimator("simdr_r18_64", backend="onnxruntime", smoothing=None) as est:
        assert est.backend.path == path
    # a corrupted cache copy is unpacked again; a damaged package file is a clear error, nothing cached
    path.write_bytes(b"junk")
    assert zoo.fetch_file(onnx).read_bytes() == files[0].read_bytes()
    packed = folder / "simdr_r18_64_int8.onnx.xz"
    data = packed.read_bytes()
    for damaged in (data[: len(data) // 2], data[:200] + bytes([data[200] ^ 0xFF]) + data[201:], b""):
        path.unlink(missing_ok=True)
        packed.write_bytes(damaged)
        with pytest.raises(ModelFileError, match=r"simdr_r18_64_int8\.onnx\.xz.*reinstall edgepose"):
            zoo.fetch_file(onnx)
        assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == []
    packed.unlink()
    with pytest.raises(ModelFileError, match="is missing; reinstall"):
        zoo.fetch_file(onnx)


def test_ship_interleaved_models_and_repacking(weights_dir, tmp_path: Path) -> None:
    folder, ship = weights_dir
    a, b = tiny_files(tmp_path / "a", "simdr_r18_64"), tiny_files(tmp_path / "b", "simdr_r18_128")
    assert ship.main([str(a[0]), str(b[0]), str(a[1]), str(b[1]), "--trained-on", "t"]) == 0
    for src in (*a, *b):  # every package file holds its own source, whatever the argument order
        assert (folder / src.name).read_bytes() == src.read_bytes()
    # shipping a model again packed replaces its files: the unpacked ones are deleted
    assert ship.main([*map(str, a), "--trained-on", "t", "--xz"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json", "simdr_r18_128_int8.onnx", "simdr_r18_128_int8.tflite",
        "simdr_r18_64_int8.onnx.xz", "simdr_r18_64_int8.tflite.xz"]


def test_ship_budget_counts_stored_bytes(weights_dir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, ship = weights_dir
    files = tiny_files(tmp_path / "exports", "simdr_r18_64")
    plain = sum(f.stat().st_size for f in files)
    assert ship.main([*map(str, files), "--trained-on", "t", "--xz"]) == 0
    packed = sum(p.stat().st_size for p in folder.glob("*.xz"))
    assert packed < plain
    monkeypatch.setattr(ship, "BUDGET_BYTES", packed)  # fits packed, not plain
    assert ship.main([*map(str, files), "--trained-on", "t", "--xz"]) == 0
    with pytest.raises(InputError, match="over the"):
        ship.main([*map(str, files), "--trained-on", "t"])
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "simdr_r18_64_int8.onnx.xz",
                                                        "simdr_r18_64_int8.tflite.xz"]


def test_ship_replace_remove_and_budget(weights_dir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, ship = weights_dir
    assert ship.main([*map(str, tiny_files(tmp_path / "a", "simdr_r18_64")), "--trained-on", "a"]) == 0
    assert ship.main([*map(str, tiny_files(tmp_path / "b", "simdr_r18_128")), "--trained-on", "b"]) == 0
    assert set(zoo.read_manifest(folder / "manifest.json")) == {"simdr_r18_64", "simdr_r18_128"}
    assert ship.main(["--remove", "simdr_r18_64"]) == 0
    assert set(zoo.read_manifest(folder / "manifest.json")) == {"simdr_r18_128"}
    assert not (folder / "simdr_r18_64_int8.onnx").exists() and (folder / "simdr_r18_128_int8.onnx").exists()
    before = (folder / "manifest.json").read_text()
    monkeypatch.setattr(ship, "BUDGET_BYTES", 10)
    with pytest.raises(InputError, match="over the 0 MB budget"):
        ship.main([*map(str, tiny_files(tmp_path / "c", "simdr_r18_64")), "--trained-on", "c"])
    assert (folder / "manifest.json").read_text() == before and not (folder / "simdr_r18_64_int8.onnx").exists()


def test_ship_refuses_unknown_models_and_files_without_metadata(weights_dir, tmp_path: Path) -> None:
    folder, ship = weights_dir
    odd = make_onnx(tmp_path / "odd.onnx", metadata=metadata_for((64, 64), name="not_a_registry_model"))
    with pytest.raises(UnknownModelError, match="not_a_registry_model"):
        ship.main([str(odd), "--trained-on", "x"])
    bare = make_onnx(tmp_path / "bare.onnx", metadata=None)
    with pytest.raises(ModelFileError, match="bare.onnx"):
        ship.main([str(bare), "--trained-on", "x"])
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("text", ["{", "[]", '{"format_version": 2, "models": {}}',
                                  '{"format_version": 1, "models": {"m": {"files": []}}}'])
def test_invalid_manifest_is_a_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(text)
    with pytest.raises(ModelFileError, match="manifest"):
        zoo.read_manifest(path)


def test_manifest_naming_an_unknown_model_is_refused() -> None:
    with pytest.raises(ModelFileError, match="unknown model"):
        zoo._with_shipped_files(zoo._paper_models(), {"nope": {"trained_on": "", "files": []}})


# ---- the weights that ship in this checkout --------------------------------------------------------
SHIPPED = [(name, f) for name, entry in zoo.read_manifest().items() for f in entry["files"]]
GROUP = Path(__file__).parent / "fixtures" / "synth_group_320"
SINGLE = Path(__file__).parent / "fixtures" / "synth_single_384"


def _labels(folder: Path) -> dict[str, list[dict]]:
    data = json.loads((folder / "annotations" / "person_keypoints.json").read_text())
    names = {im["id"]: im["file_name"] for im in data["images"]}
    out: dict[str, list[dict]] = {}
    for ann in data["annotations"]:
        out.setdefault(names[ann["image_id"]], []).append(ann)
    return out


@pytest.mark.parametrize(("model", "file"), SHIPPED, ids=[f"{m}-{f['format']}" for m, f in SHIPPED])
def test_shipped_weights_find_the_rendered_people(model: str, file: dict) -> None:
    """Each shipped file, by registry name: sha256 checked, and PCK@0.2 >= 0.8 against the renderer's labels
    on held-out renders: one person per image found from the whole frame, and groups from their boxes."""
    spec = zoo.get_spec(model)
    assert spec.trained_on and spec.find_file(file["format"], file["precision"]).sha256 == file["sha256"]
    predicted, people_labels = [], []
    backend = "tflite" if file["format"] == "tflite" else "onnxruntime"
    with Estimator(model, backend=backend, precision=file["precision"], smoothing=None) as est:
        assert zoo.sha256_of(est.backend.path) == file["sha256"]
        for name, anns in _labels(SINGLE).items():
            result = est(cv2_imread(SINGLE / "images" / name))  # full frame: the estimator finds the person
            predicted.append(result.keypoints[0])
            people_labels.append(anns[0])
        for name, anns in _labels(GROUP).items():
            people = [a for a in anns if a["num_keypoints"] >= 8]
            if len(people) < 2:
                continue
            result = est.estimate(cv2_imread(GROUP / "images" / name), [a["bbox"] for a in people])
            predicted.extend(result.keypoints)
            people_labels.extend(people)
    gt = np.array([a["keypoints"] for a in people_labels], np.float32).reshape(len(people_labels), -1, 3)
    boxes = np.array([a["bbox"] for a in people_labels], np.float32)
    # a keypoint is correct within 0.2 x the longer side of the person's box
    rate = pck(np.stack(predicted), gt[..., :2], gt[..., 2] > 0, boxes, alpha=0.2)["mean"]
    assert rate >= 0.8, f"PCK@0.2 {rate:.3f} over {int((gt[..., 2] > 0).sum())} keypoints"


def cv2_imread(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path))
    assert image is not None, path
    return image
