"""The OOD asset split (issue 16, "an OOD val rendered only with assets held back from
training"): for each asset family, many draws of the "train" split and of the "ood" split
fall in disjoint sets; the default is "train" (renders unchanged: the golden test of
test_synthetic.py); training/synth.py --asset-split records it and rejects bad values in
one line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from edgepose.data.synth import SynthConfig, holdout
from edgepose.data.synth.camera import Camera, frame_points, look_at_rotation
from edgepose.data.synth.config import preset_config
from edgepose.data.synth.light import random_light
from edgepose.errors import InputError
from test_synth_presets import _synth_program

DRAWS = 400


# ------------------------------------------------------------------------- options


def test_default_is_train_and_photos_follow_the_asset_split() -> None:
    assert SynthConfig().asset_split == "train" and SynthConfig().photo_split == "train"
    assert preset_config("v2").asset_split == "train"
    assert SynthConfig(asset_split="ood").photo_split == "ood"
    assert SynthConfig(asset_split="ood", background_split="train").photo_split == "train"
    assert SynthConfig(background_split="ood").photo_split == "ood"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"asset_split": "val"}, "asset_split must be one of train, ood; got 'val'"),
    ({"background_split": "val"}, "background_split must be one of train, ood (or None: follow asset_split)"),
    ({"asset_split": "ood", "fov": (5.0, 120.0)},
     "asset_split 'ood' draws fov outside the trained (5.0, 120.0) within (8.0, 100.0), and none is left"),
    ({"asset_split": "ood", "elevation": (-30.0, 80.0)}, "draws elevation outside the trained (-30.0, 80.0)"),
])
def test_config_rejects_bad_split_options(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError) as err:
        SynthConfig(**kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


# ------------------------------------------------------------------------- camera


def _camera_angles(camera: Camera, size: int) -> tuple[float, float]:
    """(vertical field of view, elevation) in degrees of a framed camera."""
    fov = math.degrees(2 * math.atan(0.5 * size / camera.focal))
    return fov, math.degrees(math.asin(-camera.rotation[2, 2]))


@pytest.mark.parametrize("preset", ["v1", "v2"])
def test_camera_fov_and_elevation_are_disjoint(preset: str) -> None:
    points = np.array([[x, y, z] for x in (-0.25, 0.25) for y in (-0.15, 0.15) for z in (0.0, 1.75)])
    angles = {}
    for split in holdout.ASSET_SPLITS:
        config = preset_config(preset, asset_split=split)
        rng = np.random.default_rng(0)
        angles[split] = np.array([_camera_angles(frame_points(rng, points, config), config.size)
                                  for _ in range(DRAWS)])
    config = preset_config(preset)
    trained = holdout.trained_elevations(config.elevation, config.cctv_elevation, config.cctv_prob)
    fov, elevation = angles["train"].T
    assert np.all((fov >= config.fov[0] - 1e-6) & (fov <= config.fov[1] + 1e-6))
    assert np.all((elevation >= trained[0] - 1e-6) & (elevation <= trained[1] + 1e-6))
    fov, elevation = angles["ood"].T
    assert np.all((fov < config.fov[0]) | (fov > config.fov[1]))
    assert np.all((fov >= holdout.OOD_FOV_LIMITS[0]) & (fov <= holdout.OOD_FOV_LIMITS[1]))
    assert np.all((elevation < trained[0]) | (elevation > trained[1]))
    assert np.all((elevation >= holdout.OOD_ELEVATION_LIMITS[0]) & (elevation <= holdout.OOD_ELEVATION_LIMITS[1]))
    # both sides of each held-out range are drawn: tele and wide lenses, low and high cameras
    assert (fov < config.fov[0]).any() and (fov > config.fov[1]).any()
    assert (elevation < trained[0]).any() and (elevation > trained[1]).any()
    assert np.all(elevation[fov < config.fov[0]] > trained[1])  # tele lenses look down, from afar


def test_held_out_intervals() -> None:
    assert holdout.held_out_intervals((15.0, 80.0), (8.0, 100.0)) == [(8.0, 15.0), (80.0, 100.0)]
    assert holdout.held_out_intervals((5.0, 99.5), (8.0, 100.0)) == []  # a sliver under a degree is not drawn
    assert holdout.held_out_intervals((-40.0, 20.0), (-25.0, 70.0)) == [(20.0, 70.0)]
    with pytest.raises(ValueError, match="no held-out range"):
        holdout.draw_outside(np.random.default_rng(0), (0.0, 180.0), (8.0, 100.0))


# -------------------------------------------------------------------------- light


def _light_params(split: str) -> np.ndarray:
    """(DRAWS, 3): azimuth from the camera's side, elevation (degrees), largest |tint - 1|."""
    camera = Camera(look_at_rotation(0.0, 0.0), np.zeros(3), 100.0, np.zeros(2))  # forward is horizontal
    right, _, forward = camera.rotation
    rng = np.random.default_rng(1)
    rows = []
    for _ in range(DRAWS):
        direction, ambient, diffuse, tint = random_light(rng, camera, split)
        assert abs(np.linalg.norm(direction) - 1.0) < 1e-9 and 0 < ambient < 1 and 0 < diffuse < 1
        azimuth = math.degrees(math.atan2(direction @ right, direction @ -forward))
        rows.append((azimuth, math.degrees(math.asin(direction[2])), float(np.abs(tint - 1.0).max())))
    return np.array(rows)


def test_light_rig_is_disjoint() -> None:
    train, ood = _light_params("train"), _light_params("ood")
    azimuth, elevation, tint = train.T
    assert np.all((np.abs(azimuth) <= holdout.LIGHT_AZIMUTH + 1e-6) & (elevation >= -1e-6)
                  & (elevation <= holdout.LIGHT_ELEVATION[1] + 1e-6))
    assert np.all(tint <= holdout.LIGHT_TINT_SPREAD + 1e-9)
    azimuth, elevation, tint = ood.T
    assert np.all((np.abs(azimuth) > holdout.LIGHT_AZIMUTH) | (elevation > holdout.LIGHT_ELEVATION[1]))
    assert np.all(tint > holdout.LIGHT_TINT_SPREAD)
    rim = np.abs(azimuth) > holdout.LIGHT_AZIMUTH
    assert 0.5 < rim.mean() < 0.9 and (elevation > holdout.LIGHT_ELEVATION[1]).any()  # rim and overhead lights


# --------------------------------------------------------------------------- body


def test_body_shapes_are_disjoint() -> None:
    from edgepose.data.synth.people import sample_phenotype

    rng = np.random.default_rng(2)
    train = [sample_phenotype(rng, 0.3) for _ in range(DRAWS)]
    ood = [sample_phenotype(rng, 0.3, "ood") for _ in range(DRAWS)]
    for values in train:
        assert all(0.0 <= v <= 1.0 for v in values.values()) and values["age"] >= 0.36
    for values in ood:
        assert all(values[name] < 0.0 or values[name] > 1.0 for name in holdout.OOD_SHAPE_PARAMETERS)
        assert all(holdout.OOD_SHAPE_BANDS[0][0] <= values[name] <= holdout.OOD_SHAPE_BANDS[1][1]
                   for name in holdout.OOD_SHAPE_PARAMETERS)
    children = [v["age"] for v in ood if v["age"] < 0.6]
    assert children and max(children) < 0.36  # younger than any training child
    heavy = [v["weight"] for v in ood if v["weight"] > 1.0]
    assert 0.3 < len(heavy) / DRAWS < 0.7  # both bands


def test_body_model_extrapolates_beyond_the_trained_range() -> None:
    """anny would clamp phenotype values to [0, 1]; the body model extrapolates them, so an
    OOD weight of 1.5 is a heavier body than any training one."""
    pytest.importorskip("torch")
    pytest.importorskip("anny")
    from edgepose.data.synth.body import get_body_model

    body = get_body_model()
    shapes = [{"weight": w, "proportions": 0.5, "age": 0.8} for w in (0.0, 1.0, 1.5)]
    vertices, _, _ = body.pose_people(shapes, [{}, {}, {}])
    depth = np.ptp(vertices[..., 1], axis=1)  # front to back, metres
    assert depth[0] < depth[1] < depth[2]


# ------------------------------------------------------------------------ textures


def test_texture_kinds_are_disjoint_and_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    from edgepose.data.synth import clothing, texture

    assert not set(holdout.FIELD_KINDS["train"]) & set(holdout.FIELD_KINDS["ood"])
    assert not set(holdout.GARMENT_KINDS["train"]) & set(holdout.GARMENT_KINDS["ood"])
    rng = np.random.default_rng(3)
    fields = [texture._pattern_field(rng, (24, 32), "ood") for _ in range(60)]
    assert all(f.shape == (24, 32) and f.dtype == np.float32 and 0 <= f.min() <= f.max() <= 1 for f in fields)
    coords = np.random.default_rng(4).uniform(-0.3, 0.3, size=(500, 3)) + np.array([0.0, 0.0, 1.0])
    patterns = [texture.held_out_garment_field(rng, coords) for _ in range(60)]
    assert all(p.shape == (500,) and 0 <= p.min() <= p.max() <= 1 for p in patterns)
    assert sum(np.ptp(p) > 0 for p in patterns) > 50  # patterns, not flat colours

    held_out_fields, held_out_garments = [], []
    original_field, original_garment = texture._held_out_field, clothing.held_out_garment_field
    monkeypatch.setattr(texture, "_held_out_field", lambda rng, kind, *a: held_out_fields.append(str(kind))
                        or original_field(rng, kind, *a))
    monkeypatch.setattr(clothing, "held_out_garment_field", lambda rng, c: held_out_garments.append(1)
                        or original_garment(rng, c))
    n = 400
    regions = np.random.default_rng(5).integers(0, len(clothing.REGIONS), size=n)
    args = (regions, np.random.default_rng(6).uniform(0, 1, n), coords[:n], np.zeros(n) - 9, np.zeros(n, bool))
    for _ in range(20):
        texture.procedural_background(rng, (32, 32))
        clothing.clothing_colours(rng, *args)
    assert not held_out_fields and not held_out_garments  # training never draws them
    for _ in range(20):
        texture.procedural_background(rng, (32, 32), "ood")
        clothing.clothing_colours(rng, *args, split="ood")
    assert set(held_out_fields) == set(holdout.OOD_FIELD_KINDS) and len(held_out_garments) >= 20


# ------------------------------------------------------------ end to end and CLI


def test_cli_renders_an_ood_set_and_records_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("torch", "anny", "pycocotools"):
        pytest.importorskip(name)
    from test_synth_backgrounds import make_cache

    cache = make_cache(tmp_path / "bg")
    module = _synth_program()
    common = ["--n", "2", "--size", "48", "--people-max", "1", "--format", "png", "--backgrounds", "photos",
              "--background-dir", str(cache)]
    datasets = {}
    for name, extra in (("train", []), ("ood", ["--asset-split", "ood"]), ("ood_again", ["--asset-split", "ood"]),
                        ("mixed", ["--asset-split", "ood", "--background-split", "train"])):
        out = tmp_path / name
        assert module.main(["--out", str(out), *common, *extra]) == 0
        data = json.loads((out / "annotations" / "person_keypoints.json").read_text())
        images = [p.read_bytes() for p in sorted((out / "images").iterdir())]
        datasets[name] = (data, images)
    settings = {name: d[0]["info"]["settings"] for name, d in datasets.items()}
    photos = {name: d[0]["info"]["background_photos"]["split"] for name, d in datasets.items()}
    assert settings["train"]["asset_split"] == "train" and photos["train"] == "train"
    assert settings["ood"]["asset_split"] == "ood" and photos["ood"] == "ood"
    assert settings["mixed"]["background_split"] == "train" and photos["mixed"] == "train"
    assert datasets["ood"][1] == datasets["ood_again"][1]  # deterministic for a seed
    assert datasets["ood"][1] != datasets["train"][1]


def test_cli_rejects_bad_split_options_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = _synth_program()
    with pytest.raises(SystemExit) as exited:
        module.main(["--out", str(tmp_path / "x"), "--n", "1", "--asset-split", "val"])
    err = capsys.readouterr().err.strip()
    assert exited.value.code == 2 and "\n" not in err and "argument --asset-split: invalid choice: 'val'" in err
    for args, message in (
            (["--fov", "5", "120"],
             "--asset-split ood draws fov outside the trained 5 to 120 within 8 to 100, and none is left: narrow --fov"),
            (["--elevation", "-40", "75"],
             "--asset-split ood draws elevation outside the trained -40 to 75 (with the surveillance range, "
             "--cctv-prob) within -25 to 70, and none is left: narrow --elevation")):
        assert module.main(["--out", str(tmp_path / "x"), "--n", "1", "--asset-split", "ood", *args]) == 2
        assert capsys.readouterr().err.strip() == f"error: {message}"
