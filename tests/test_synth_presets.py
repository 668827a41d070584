"""Presets of the synthetic renderer (``SynthConfig`` via ``preset_config``) and how
``training/synth.py`` lays its options over them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from edgepose.data.synth import SynthConfig
from edgepose.data.synth.config import PRESETS, preset_config
from edgepose.data.synth.pose import POSE_FAMILIES_V2
from edgepose.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def _synth_program():
    spec = importlib.util.spec_from_file_location("synth_cli_presets", ROOT / "training" / "synth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_v1_preset_is_the_config_defaults() -> None:
    assert preset_config("v1") == SynthConfig()
    assert PRESETS["v1"] == {}


def test_v2_preset_turns_on_cameras_effects_poses_and_clothes_but_no_photos_or_groups() -> None:
    """Photos lost the ablation (RECIPES.md): the v2 preset needs no photo cache."""
    config = preset_config("v2")
    assert config.backgrounds == "procedural" and not config.uses_photos
    assert config.group_prob == 0.0  # the 1.4.0 preset with groups lost its ablation (RECIPES.md)
    assert config.pose_kinematics == "v2" and dict(config.pose_family_weights) == POSE_FAMILIES_V2
    for name in ("cctv_prob", "exposure_prob", "motion_blur_prob", "defocus_prob", "lowres_prob", "jpeg_prob",
                 "garment_prob", "hair_prob", "accessory_prob"):
        assert 0.0 < getattr(config, name) < 1.0, name


def test_overrides_win_over_the_preset() -> None:
    config = preset_config("v2", cctv_prob=1.0, size=64, backgrounds="photos")
    assert config.cctv_prob == 1.0 and config.size == 64 and config.backgrounds == "photos"
    assert config.pose_kinematics == "v2"


def test_unknown_preset_and_setting_are_one_line_errors() -> None:
    with pytest.raises(InputError, match="unknown synthetic preset 'v9'; choose one of v1, v2"):
        preset_config("v9")
    with pytest.raises(InputError, match="unknown SynthConfig setting.s. colour"):
        preset_config("v2", colour=1)


def test_cli_defaults_to_v2_and_options_override_it(tmp_path: Path) -> None:
    module = _synth_program()

    def config(*argv: str) -> SynthConfig:
        args = module.parse_args(["--out", str(tmp_path), "--n", "1", *argv])
        return preset_config(args.preset, **module.config_overrides(args))

    assert config() == preset_config("v2", size=128, people_max=3, image_format="jpg", jpeg_quality=92)
    assert config("--preset", "v1") == SynthConfig()
    v1_poses = config("--pose-sampler", "v1")
    assert v1_poses.pose_family_weights is None and v1_poses.pose_kinematics == "v1"
    assert v1_poses.cctv_prob == preset_config("v2").cctv_prob  # the rest of the preset stays
    assert config("--backgrounds", "procedural", "--fov", "20", "30").fov == (20.0, 30.0)
    assert config("--preset", "v1", "--pose-sampler", "v2", "--pose-kinematics", "v1").pose_kinematics == "v1"


def test_cli_photos_without_photo_cache_names_the_fetch_command(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = _synth_program()
    missing = tmp_path / "no_cache"
    assert module.main(["--out", str(tmp_path / "o"), "--n", "1", "--backgrounds", "photos",
                        "--background-dir", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no background photos in") and "training/fetch_backgrounds.py" in err
