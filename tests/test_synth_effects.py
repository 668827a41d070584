"""Synthetic humans: camera effects, ground shadows, surveillance views, and that each
switch leaves the v1 renders alone when off."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_synth_backgrounds import import_synth, make_cache
from test_training_cli import _program

from edgepose.data.synth import effects
from edgepose.data.synth.camera import Camera, look_at_rotation
from edgepose.data.synth.config import SynthConfig
from edgepose.data.synth.ground import ground_points, paint_ground
from edgepose.data.synth.light import ground_shadow
from edgepose.data.synth.boxes import box_corners
from edgepose.data.synth.people import Person
from edgepose.errors import InputError

ALL_EFFECTS = {"ground_prob": 1.0, "shadow_prob": 1.0, "cctv_prob": 1.0, "exposure_prob": 1.0, "motion_blur_prob": 1.0,
               "defocus_prob": 1.0, "lowres_prob": 1.0, "jpeg_prob": 1.0}


@settings(max_examples=40, deadline=None)
@given(length=st.floats(1.0, 25.0), angle=st.floats(0.0, 360.0))
def test_motion_blur_kernel_is_centred_and_normalised(length: float, angle: float) -> None:
    kernel = effects.motion_blur_kernel(length, angle)
    assert kernel.shape[0] == kernel.shape[1] and kernel.shape[0] % 2 == 1
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5)
    c = (kernel.shape[0] - 1) / 2
    rows, cols = np.mgrid[: kernel.shape[0], : kernel.shape[1]]
    assert abs(float((kernel * rows).sum()) - c) < 0.5 and abs(float((kernel * cols).sum()) - c) < 0.5


@settings(max_examples=30, deadline=None)
@given(radius=st.floats(0.5, 8.0))
def test_defocus_kernel_is_a_normalised_disk(radius: float) -> None:
    kernel = effects.defocus_kernel(radius)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(kernel, kernel.T, atol=1e-7)
    np.testing.assert_allclose(kernel, kernel[::-1, ::-1], atol=1e-7)


def test_effects_off_draw_nothing() -> None:
    image = np.random.default_rng(0).uniform(0, 1, size=(32, 32, 3)).astype(np.float32)
    rng = np.random.default_rng(1)
    out = effects.optical_effects(rng, image, SynthConfig())
    image8 = (image * 255).astype(np.uint8)
    out8 = effects.output_effects(rng, image8, SynthConfig())
    assert out is image and out8 is image8
    assert rng.random() == np.random.default_rng(1).random()  # no number was drawn


def test_effects_on_change_the_image() -> None:
    image = np.random.default_rng(0).uniform(0, 1, size=(48, 48, 3)).astype(np.float32)
    config = SynthConfig(**ALL_EFFECTS)
    out = effects.optical_effects(np.random.default_rng(2), image, config)
    assert out.shape == image.shape and out.dtype == np.float32
    assert np.std(out) < np.std(image)  # blurred
    image8 = (image * 255).astype(np.uint8)
    out8 = effects.output_effects(np.random.default_rng(2), image8, config)
    assert out8.shape == image8.shape and out8.dtype == np.uint8
    assert np.abs(out8.astype(int) - image8).mean() > 5


def _column() -> Person:
    """A 0.4 x 0.4 x 2 m box standing at the origin, as a person."""
    corners = box_corners(np.array([-0.2, -0.2, 0.0]), np.array([0.2, 0.2, 2.0]))
    return Person(corners, np.zeros((17, 3)), np.ones((8, 3), np.float32), 2.0, "standing")


@pytest.mark.parametrize("elevation_deg, shadow_x", [(45.0, -2.2), (10.0, -0.2 - 2.0 / np.tan(np.radians(25.0)))])
def test_ground_shadow_falls_away_from_the_light(elevation_deg: float, shadow_x: float) -> None:
    # A camera 10 m above the origin, looking straight down: u = 50 + 5 x (x in metres).
    camera = Camera(look_at_rotation(90.0, 0.0), np.array([0.0, 0.0, 10.0]), 50.0, np.array([50.0, 50.0]))
    e = np.radians(elevation_deg)
    light = np.array([np.cos(e), 0.0, np.sin(e)])  # from +x; below 25 degrees it is raised to 25
    mask = ground_shadow([_column()], [np.arange(8)], camera, light, (101, 101))
    cols = np.nonzero(mask.any(axis=0))[0]
    assert abs(cols[0] - (50 + 5 * shadow_x)) <= 1.0
    assert abs(cols[-1] - (50 + 5 * 0.2)) <= 1.0


def _camera(elevation_deg: float, height_m: float) -> Camera:
    """A 64 x 48 px camera at (0, -4 m, height) looking along +y, tilted down."""
    return Camera(look_at_rotation(elevation_deg, 3.0), np.array([0.0, -4.0, height_m]), 40.0, np.array([31.5, 23.5]))


@pytest.mark.parametrize("elevation_deg", [-5.0, 10.0, 35.0, 60.0])
def test_ground_points_project_back_to_their_pixels(elevation_deg: float) -> None:
    camera = _camera(elevation_deg, 1.6)
    x, y, distance = ground_points(camera, (48, 64))
    hits = np.isfinite(distance)
    assert hits.any()
    points = np.stack([x[hits], y[hits], np.zeros(hits.sum())], axis=1)
    uv, depth = camera.project(points)
    rows, cols = np.nonzero(hits)
    np.testing.assert_allclose(uv, np.stack([cols, rows], axis=1), atol=2e-3)
    assert np.all(depth > 0)
    np.testing.assert_allclose(distance[hits], np.linalg.norm(points - camera.position, axis=1), rtol=1e-4)
    # Rays at or above the horizon never reach the ground: a whole row is hit or missed,
    # up to the roll; the top rows miss when the camera looks up or level.
    if elevation_deg <= 0:
        assert not hits[0].any()
    below = _camera(elevation_deg, -0.5)
    assert not np.isfinite(ground_points(below, (48, 64))[2]).any()


def test_paint_ground_covers_only_the_ground(tmp_path: Path) -> None:
    from edgepose.data.synth.backgrounds import BackgroundLibrary

    library = BackgroundLibrary(make_cache(tmp_path / "bg"), "train")
    camera = _camera(-2.0, 1.6)  # horizon inside the image
    colour = np.full((48, 64, 3), 0.5, np.float32)
    paint_ground(np.random.default_rng(0), library, camera, colour)
    hits = np.isfinite(ground_points(camera, (48, 64))[2])
    assert np.all(colour[~hits] == 0.5) and np.any(colour[hits] != 0.5)
    library.tileable = []
    with pytest.raises(InputError, match="no ground textures: run python training/fetch_backgrounds.py"):
        paint_ground(np.random.default_rng(0), library, camera, colour)


@pytest.mark.parametrize("kwargs, message", [
    ({"fov": (60.0, 20.0)}, "fov must be"),
    ({"elevation": (0.0, 95.0)}, "elevation must be"),
    ({"shadow_prob": 2.0}, r"shadow_prob must be in \[0, 1\]"),
    ({"jpeg_prob": -1.0}, r"jpeg_prob must be in \[0, 1\]"),
])
def test_config_rejects_bad_camera_options(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        SynthConfig(**kwargs)


def test_synth_cli_camera_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = _program("synth")
    assert module.main(["--out", str(tmp_path / "o"), "--n", "1", "--fov", "60", "20"]) == 2
    assert capsys.readouterr().err.strip() == "error: --fov needs LOW <= HIGH within [1.0, 170.0]; got 60 20"
    assert module.main(["--out", str(tmp_path / "o"), "--n", "1", "--jpeg-prob", "1.5"]) == 2
    assert capsys.readouterr().err.strip() == "error: --jpeg-prob must be in [0.0, 1.0]; got 1.5"


# ------------------------------------------------------------------------------- renders


@pytest.fixture(scope="module")
def synth():
    return import_synth()


def _render(synth, out: Path, workers: int = 1, **kwargs) -> tuple[dict, list[bytes]]:
    config = SynthConfig(image_format="png", **kwargs)
    path = synth.generate_dataset(out, n=3, size=64, seed=21, people_max=2, config=config, workers=workers)
    return json.loads(path.read_text()), [p.read_bytes() for p in sorted((out / "images").iterdir())]


def test_all_features_render_deterministically(synth, tmp_path: Path) -> None:
    """Photos and every effect on: the same seed and cache give the same bytes."""
    cache = make_cache(tmp_path / "bg")
    kwargs = dict(ALL_EFFECTS, backgrounds="photos", photo_texture_prob=0.5, background_dir=str(cache))
    a = _render(synth, tmp_path / "a", **kwargs)
    b = _render(synth, tmp_path / "b", **kwargs)
    assert a[1] == b[1] and a[0]["annotations"] == b[0]["annotations"]
    plain = _render(synth, tmp_path / "c")
    assert all(x != y for x, y in zip(a[1], plain[1], strict=True))


@pytest.mark.slow
def test_all_features_identical_with_workers(synth, tmp_path: Path) -> None:
    """... whatever the number of worker processes (spawning them takes a while)."""
    cache = make_cache(tmp_path / "bg")
    kwargs = dict(ALL_EFFECTS, backgrounds="photos", photo_texture_prob=0.5, background_dir=str(cache))
    one = _render(synth, tmp_path / "a", **kwargs)
    two = _render(synth, tmp_path / "b", workers=2, **kwargs)
    assert one[1] == two[1] and one[0]["annotations"] == two[0]["annotations"]


def test_surveillance_view_looks_down(synth) -> None:
    """With cctv_prob 1 the camera always looks down 20-50 degrees."""
    from edgepose.data.synth.body import get_body_model
    from edgepose.data.synth.camera import frame_main_person
    from edgepose.data.synth.people import make_people

    body = get_body_model()
    config = SynthConfig(cctv_prob=1.0)
    for seed in range(5):
        rng = np.random.default_rng(seed)
        person = make_people(body, rng, 1, config, "standing")[0]
        camera = frame_main_person(rng, person, config, several=False)
        forward = camera.rotation[2]
        down_angle = np.degrees(np.arcsin(-forward[2]))
        assert 20.0 <= down_angle <= 50.0
