"""Background photos for synthetic humans: the cache filled from Debian packages, the
train / OOD split, crops, and renders with photo backgrounds and textures.

No real photograph is used: the caches and packages here are built from generated images.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_training_cli import _program

from edgepose.data.synth import backgrounds, debian_assets
from edgepose.data.synth.config import SynthConfig
from edgepose.errors import InputError


def _generated_image(seed: int, hw: tuple[int, int] = (96, 128)) -> np.ndarray:
    """A smooth random colour field (H, W, 3) uint8 BGR: gradients plus blurred noise."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.uniform(0, 255, size=(*hw, 3)).astype(np.float32), (0, 0), 6)
    ramp = np.linspace(0, 1, hw[1], dtype=np.float32)[None, :, None] * rng.uniform(0, 255, size=3).astype(np.float32)
    return np.clip(0.5 * noise + 0.5 * ramp, 0, 255).astype(np.uint8)


def make_cache(folder: Path, per_split: int = 3) -> Path:
    """A photo cache of generated images, ``per_split`` in each split, every other one
    marked as a repeating texture (the first of each split is)."""
    counts = {s: 0 for s in backgrounds.SPLITS}
    records = []
    seed = 0
    (folder / "images" / "test").mkdir(parents=True)
    while min(counts.values()) < per_split:
        ok, data = cv2.imencode(".jpg", _generated_image(seed))
        assert ok
        sha = hashlib.sha256(data.tobytes()).hexdigest()
        split = backgrounds.split_of(sha)
        seed += 1
        if counts[split] >= per_split:
            continue
        counts[split] += 1
        name = f"images/test/{seed:03d}.jpg"
        (folder / name).write_bytes(data.tobytes())
        records.append({"file": name, "package": "test", "version": "0", "source_path": name, "licence": "CC0",
                        "source_sha256": sha, "sha256": sha, "width": 128, "height": 96,
                        "tileable": counts[split] % 2 == 1})
    (folder / debian_assets.MANIFEST).write_text(json.dumps({"max_side": 1024, "images": records}))
    return folder


@pytest.fixture()
def cache(tmp_path: Path) -> Path:
    return make_cache(tmp_path / "bg")


# ----------------------------------------------------------------------- split and crops


def test_split_is_fixed_by_sha256() -> None:
    shas = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(500)]
    splits = [backgrounds.split_of(s) for s in shas]
    assert splits == [backgrounds.split_of(s) for s in shas]
    share = splits.count("ood") / len(splits)
    assert 0.12 < share < 0.28  # about 1 in OOD_MODULUS = 5


def test_library_holds_one_split(cache: Path) -> None:
    train = backgrounds.BackgroundLibrary(cache, "train")
    ood = backgrounds.BackgroundLibrary(cache, "ood")
    assert len(train) == len(ood) == 3
    assert not {r["file"] for r in train.records} & {r["file"] for r in ood.records}
    assert all(backgrounds.split_of(r["source_sha256"]) == "ood" for r in ood.records)


def test_crop_is_deterministic_and_in_range(cache: Path) -> None:
    library = backgrounds.BackgroundLibrary(cache, "train")
    a = library.crop(np.random.default_rng(4), (40, 30))
    b = library.crop(np.random.default_rng(4), (40, 30))
    c = library.crop(np.random.default_rng(5), (40, 30))
    assert a.shape == (40, 30, 3) and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    big = library.crop(np.random.default_rng(6), (300, 300))  # upscaling a small photo
    assert big.shape == (300, 300, 3)


def test_tileable_textures_repeat_instead_of_enlarging(tmp_path: Path) -> None:
    """A 16 px noise texture over 64 px: enlarged, it turns smooth; tiled, it stays sharp."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    sharpness = {}
    for tileable in (False, True):
        folder = tmp_path / str(tileable)
        (folder / "images").mkdir(parents=True)
        cv2.imwrite(str(folder / "images/t.png"), noise)
        sha = next(hashlib.sha256(str(i).encode()).hexdigest() for i in range(100)
                   if backgrounds.split_of(hashlib.sha256(str(i).encode()).hexdigest()) == "train")
        record = {"file": "images/t.png", "package": "test", "version": "0", "source_path": "t.png", "licence": "CC0",
                  "source_sha256": sha, "sha256": sha, "width": 16, "height": 16, "tileable": tileable}
        (folder / debian_assets.MANIFEST).write_text(json.dumps({"max_side": 1024, "images": [record]}))
        crop = backgrounds.BackgroundLibrary(folder, "train").crop(np.random.default_rng(1), (64, 64))
        assert crop.shape == (64, 64, 3)
        sharpness[tileable] = float(np.abs(np.diff(crop, axis=1)).mean())
    assert sharpness[True] > 2 * sharpness[False]


def test_missing_cache_names_the_fetch_command(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"run python training/fetch_backgrounds.py --out .*nowhere"):
        backgrounds.BackgroundLibrary(tmp_path / "nowhere", "train")


def test_missing_image_and_bad_split(cache: Path) -> None:
    with pytest.raises(InputError, match="split must be one of train, ood"):
        backgrounds.BackgroundLibrary(cache, "test")
    first = json.loads((cache / debian_assets.MANIFEST).read_text())["images"][0]
    (cache / first["file"]).unlink()
    with pytest.raises(InputError, match="missing .*fetch_backgrounds.py"):
        backgrounds.BackgroundLibrary(cache, backgrounds.split_of(first["source_sha256"]))


@pytest.mark.parametrize("kwargs, message", [
    ({"backgrounds": "video"}, "backgrounds must be one of procedural, photos"),
    ({"background_split": "val"}, "background_split must be one of train, ood"),
    ({"photo_texture_prob": 1.5}, r"photo_texture_prob must be in \[0, 1\]"),
    ({"photo_background_prob": -0.1}, r"photo_background_prob must be in \[0, 1\]"),
])
def test_config_rejects_bad_options(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        SynthConfig(**kwargs)


def test_config_rejects_unknown_options() -> None:
    with pytest.raises(TypeError):
        SynthConfig(background="photos")  # type: ignore[call-arg]


def test_uses_photos() -> None:
    assert not SynthConfig().uses_photos
    assert SynthConfig(backgrounds="photos").uses_photos
    assert not SynthConfig(backgrounds="photos", photo_background_prob=0.0).uses_photos
    assert SynthConfig(photo_texture_prob=0.2).uses_photos


# ---------------------------------------------------------------------- Debian packages


COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: test

Files: *
Copyright: 2020 Someone
License: GPL-2+

Files: backgrounds/nature/*
 backgrounds/extra.png
Copyright: 2021 Else
License: CC-BY-SA-4.0
 The licence text.

License: GPL-2+
 The GPL text.
"""


def test_copyright_licences() -> None:
    stanzas = debian_assets.parse_copyright(COPYRIGHT)
    assert stanzas == [(["*"], "GPL-2+"), (["backgrounds/nature/*", "backgrounds/extra.png"], "CC-BY-SA-4.0")]
    assert debian_assets.licence_of("usr/share/backgrounds/nature/a.jpg", stanzas) == "CC-BY-SA-4.0"
    assert debian_assets.licence_of("usr/share/backgrounds/other/a.jpg", stanzas) == "GPL-2+"
    free_form = debian_assets.parse_copyright("Some words.\nLicensed under CC-BY-3.0.\n")
    assert free_form == [(["*"], "Licensed under CC-BY-3.0.")]
    assert debian_assets.licence_of("x.jpg", []) == "unknown"


def test_denylist_by_sha_and_glob(tmp_path: Path) -> None:
    path = tmp_path / "deny.json"
    path.write_text(json.dumps({"images": [
        {"source_sha256": "a" * 64, "reason": "a face"},
        {"source_sha256": "b" * 64, "reason": "a figure", "source_glob": "usr/share/wallpapers/Fig/*"}]}))
    deny = debian_assets.load_denylist(path)
    assert deny.reason("any/path.jpg", "a" * 64) == "a face"
    assert deny.reason("usr/share/wallpapers/Fig/contents/images/800x600.jpg", "c" * 64) == "a figure"
    assert deny.reason("usr/share/wallpapers/Other/x.jpg", "c" * 64) is None


def test_committed_denylist_is_well_formed() -> None:
    data = json.loads(debian_assets.DENYLIST.read_text())
    assert data["images"], "the reviewed denylist is committed"
    assert set(data["reviewed_versions"]) == set(debian_assets.ALLOWED_PACKAGES)
    for entry in data["images"]:
        assert len(entry["source_sha256"]) == 64 and entry["reason"]
        assert entry["package"] in debian_assets.ALLOWED_PACKAGES


def _build_deb(folder: Path, package: str) -> Path:
    """A tiny .deb of generated images: one picture at two resolutions, a small icon, a
    transparent PNG, a grey one, two files of the same name and a denylisted image."""
    root = folder / "pkg"
    art = root / "usr" / "share" / "backgrounds"
    art.mkdir(parents=True)
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: 1.2-3\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: test\n")
    doc = root / "usr" / "share" / "doc" / package
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT)
    big = _generated_image(1, (600, 800))
    cv2.imwrite(str(art / "scene_large.jpg"), big)
    cv2.imwrite(str(art / "scene_small.png"), cv2.resize(big, (400, 300), interpolation=cv2.INTER_AREA))
    cv2.imwrite(str(art / "icon.png"), _generated_image(2, (64, 64)))
    rgba = np.dstack([_generated_image(3, (300, 300)), np.zeros((300, 300), np.uint8)])
    cv2.imwrite(str(art / "transparent.png"), rgba)
    (art / "nature").mkdir()
    cv2.imwrite(str(art / "nature" / "meadow.webp"), _generated_image(4, (500, 2000)))
    cv2.imwrite(str(art / "nature" / "meadow.png"), _generated_image(6, (300, 900)))  # same name, other picture
    cv2.imwrite(str(art / "grey.png"), cv2.cvtColor(_generated_image(7, (300, 300)), cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(art / "denied.jpg"), _generated_image(5, (400, 400)))
    deb = folder / f"{package}_1.2-3_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(root), str(deb)], check=True, capture_output=True)
    return deb


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_fetch_backgrounds_from_a_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = "lomiri-wallpapers"
    deb = _build_deb(tmp_path / "build", package)
    monkeypatch.setattr(debian_assets, "download_package", lambda name, workdir: (deb, "1.2-3"))
    denied = hashlib.sha256((tmp_path / "build/pkg/usr/share/backgrounds/denied.jpg").read_bytes()).hexdigest()
    deny = tmp_path / "deny.json"
    deny.write_text(json.dumps({"images": [{"source_sha256": denied, "reason": "test"}],
                                "reviewed_versions": {package: "1.2-2"}}))
    cache = tmp_path / "cache"
    with pytest.raises(InputError, match="lomiri-wallpapers 1.2-3 has not been checked for images of people"):
        debian_assets.fetch_backgrounds(cache, [package], max_side=512, denylist_path=deny)
    deny.write_text(json.dumps({"images": [{"source_sha256": denied, "reason": "test"}],
                                "reviewed_versions": {package: "1.2-3"}}))
    manifest = debian_assets.fetch_backgrounds(cache, [package], max_side=512, denylist_path=deny)
    records = json.loads(manifest.read_text())["images"]
    by_source = {r["source_path"]: r for r in records}
    # The two resolutions of one picture are kept once (the larger); the icon, the
    # transparent image and the denylisted one are dropped.
    assert sorted(by_source) == ["usr/share/backgrounds/grey.png", "usr/share/backgrounds/nature/meadow.png",
                                 "usr/share/backgrounds/nature/meadow.webp", "usr/share/backgrounds/scene_large.jpg"]
    assert len({r["file"] for r in records}) == 4
    meadow = by_source["usr/share/backgrounds/nature/meadow.webp"]
    assert (meadow["width"], meadow["height"]) == (512, 128)
    assert meadow["licence"] == "CC-BY-SA-4.0"
    assert by_source["usr/share/backgrounds/scene_large.jpg"]["licence"] == "GPL-2+"
    for r in records:
        data = (cache / r["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r["sha256"]
        assert r["package"] == package and r["version"] == "1.2-3"
        assert max(r["width"], r["height"]) <= 512


def test_game_textures_are_narrowed_to_scenery(tmp_path: Path) -> None:
    textures = tmp_path / "usr/share/games/supertuxkart/data/textures"
    textures.mkdir(parents=True)
    for name in ("city_asphalt_1.jpg", "beige_bricks.jpg", "Sara_Head_Diff.png", "grass2_nm.jpg", "konqi.jpg",
                 "notes.txt"):
        (textures / name).write_bytes(b"")
    (tmp_path / "usr/share/games/supertuxkart/data/karts").mkdir(parents=True)
    (tmp_path / "usr/share/games/supertuxkart/data/karts/rock_wall.png").write_bytes(b"")
    kept = [p.name for p in debian_assets._package_images(tmp_path, "supertuxkart-data")]
    assert kept == ["beige_bricks.jpg", "city_asphalt_1.jpg"]
    everything = [p.name for p in debian_assets._package_images(tmp_path, "mate-backgrounds")]
    assert len(everything) == 6


def test_fetch_rejects_other_packages(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not an allowed background source: python3-skimage"):
        debian_assets.fetch_backgrounds(tmp_path, ["python3-skimage"])


def test_fetch_cli_user_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = _program("fetch_backgrounds")
    assert module.main(["--out", str(tmp_path), "--max-side", "10"]) == 2
    assert capsys.readouterr().err.strip() == "error: max_side must be >= 256, got 10"
    with pytest.raises(SystemExit) as exc:
        module.main(["--out", str(tmp_path), "--packages", "some-photos"])
    assert exc.value.code == 2


# ------------------------------------------------------------------------------- renders


def import_synth():
    """The renderer package, or a skip where torch, anny or pycocotools is missing."""
    for name in ("torch", "anny", "pycocotools"):
        pytest.importorskip(name)
    from edgepose.data import synth as module

    return module


@pytest.fixture(scope="module")
def synth():
    return import_synth()


def _render(synth, out: Path, cache: Path, **kwargs) -> tuple[bytes, list[bytes]]:
    config = SynthConfig(image_format="png", background_dir=str(cache), **kwargs)
    path = synth.generate_dataset(out, n=3, size=64, seed=11, people_max=2, config=config)
    return path.read_bytes(), [p.read_bytes() for p in sorted((out / "images").iterdir())]


def test_photo_renders_are_deterministic(synth, cache: Path, tmp_path: Path) -> None:
    a = _render(synth, tmp_path / "a", cache, backgrounds="photos", photo_texture_prob=0.5)
    b = _render(synth, tmp_path / "b", cache, backgrounds="photos", photo_texture_prob=0.5)
    assert a == b
    info = json.loads(a[0])["info"]
    assert info["background_photos"]["split"] == "train" and info["background_photos"]["count"] == 3
    procedural = _render(synth, tmp_path / "c", cache)
    ood = _render(synth, tmp_path / "d", cache, backgrounds="photos", photo_texture_prob=0.5, background_split="ood")
    assert procedural[1] != a[1] and ood[1] != a[1]


def test_photo_background_is_a_crop_of_a_cached_photo(synth, cache: Path) -> None:
    """Outside the people, the image is one of the cache's photos (colour-shifted)."""
    config = SynthConfig(backgrounds="photos", background_dir=str(cache), occluder_prob=0.0, noise_prob=0.0,
                         blur_prob=0.0)
    sample = synth.render_person(seed=3, size=64, config=config)
    empty = ~sample.masks.any(axis=0)
    assert empty.mean() > 0.3
    image = sample.image.astype(np.float32)
    # Generated photos are smooth: neighbouring background pixels differ little, unlike
    # the procedural backgrounds' stripes and checkers (sanity check on the source).
    diff = np.abs(np.diff(image, axis=1))[empty[:, 1:] & empty[:, :-1]]
    assert np.median(diff) < 6


def test_photos_missing_cache_fails_before_rendering(synth, tmp_path: Path) -> None:
    config = SynthConfig(backgrounds="photos", background_dir=str(tmp_path / "none"))
    with pytest.raises(InputError, match="fetch_backgrounds.py"):
        synth.generate_dataset(tmp_path / "out", n=1, config=config)
    assert not (tmp_path / "out").exists()


def test_synth_cli_photo_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = _program("synth")
    with pytest.raises(SystemExit) as exc:
        module.main(["--out", str(tmp_path / "o"), "--n", "1", "--backgrounds", "noise"])
    assert exc.value.code == 2
    capsys.readouterr()
    assert module.main(["--out", str(tmp_path / "o"), "--n", "1", "--backgrounds", "photos",
                        "--background-dir", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: no background photos in {tmp_path / 'missing'} (no manifest.json): "
                   f"run python training/fetch_backgrounds.py --out {tmp_path / 'missing'}")
    assert module.main(["--out", str(tmp_path / "o"), "--n", "1", "--photo-texture-prob", "2"]) == 2
    assert capsys.readouterr().err.strip() == "error: --photo-texture-prob must be in [0.0, 1.0]; got 2.0"
