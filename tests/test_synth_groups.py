"""Groups of people at several depths (issue 16 "Groups"): the option is validated, off by
default (renders unchanged, see the golden test of test_synthetic.py), and a seeded group
render holds at least three annotated people, some of whose keypoints are hidden (v=1)
behind another person."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgepose.data.synth import SynthConfig
from edgepose.errors import InputError


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"group_prob": 1.5}, "group_prob must be in [0, 1], got 1.5"),
    ({"group_size": (1, 4)}, "group_size must be (low, high) whole numbers with 2 <= low <= high <= 12; got (1, 4)"),
    ({"group_size": (6, 4)}, "got (6, 4)"),
    ({"group_size": (3, 13)}, "got (3, 13)"),
    ({"group_size": (3, 4.5)}, "got (3, 4.5)"),
])
def test_group_options_are_validated(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError) as err:
        SynthConfig(**kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_groups_are_off_by_default_and_people_max_still_applies() -> None:
    config = SynthConfig()
    assert config.group_prob == 0.0 and config.group_size == (3, 8)
    with pytest.raises(InputError, match="people_max must be 1, 2 or 3"):
        SynthConfig(people_max=8, group_prob=1.0)


def test_place_group_spreads_people_in_depth() -> None:
    from edgepose.data.synth.people import Person
    from edgepose.data.synth.scene import GROUP_SPACING, place_group

    rng = np.random.default_rng(0)
    box = np.array([[x, y, z] for x in (-0.2, 0.2) for y in (-0.1, 0.1) for z in (0.0, 1.7)])
    people = [Person(box.copy(), np.zeros((17, 3)), np.zeros((8, 3)), 1.7, "standing") for _ in range(8)]
    placed = place_group(rng, people)
    assert len(placed) == 8
    centres = np.array([p.vertices[:, :2].mean(axis=0) for p in placed])
    np.testing.assert_allclose(centres[0], 0.0, atol=1e-12)
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1) + np.eye(8) * 9
    assert gaps.min() >= GROUP_SPACING
    assert np.ptp(centres[:, 1]) > 1.5  # several depths along the viewing direction
    assert all(np.all(p.vertices[:, 2] >= 0.0) for p in placed)  # still on the ground


@pytest.fixture(scope="module")
def body():
    pytest.importorskip("torch")
    pytest.importorskip("anny")
    from edgepose.data.synth.body import get_body_model

    return get_body_model()


def test_group_render_occludes_people(body) -> None:
    from edgepose.data.synth.scene import render_scene

    config = SynthConfig(size=128, group_prob=1.0, group_size=(5, 6), occluder_prob=0.0)
    sample = render_scene(body, np.random.default_rng(1), config)
    again = render_scene(body, np.random.default_rng(1), config)
    np.testing.assert_array_equal(sample.image, again.image)
    np.testing.assert_array_equal(sample.keypoints, again.keypoints)
    assert 3 <= len(sample.keypoints) <= 6 and len(sample.families) == len(sample.keypoints)
    hidden_by_other = 0
    for i, kps in enumerate(sample.keypoints):
        others = np.any(np.delete(sample.masks, i, axis=0), axis=0)
        for x, y, v in kps:
            if v == 1 and others[int(round(y)), int(round(x))]:
                hidden_by_other += 1
    assert hidden_by_other >= 1


def test_synth_cli_group_flags(body, tmp_path: Path, capsys) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "synth_cli", Path(__file__).resolve().parents[1] / "training" / "synth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    out = tmp_path / "g"
    assert module.main(["--out", str(out), "--n", "2", "--size", "64", "--people-max", "1", "--group-prob", "1",
                        "--group-size", "4", "5", "--occluder-prob", "0"]) == 0
    data = json.loads((out / "annotations" / "person_keypoints.json").read_text())
    assert data["info"]["settings"]["group_prob"] == 1.0 and data["info"]["settings"]["group_size"] == [4, 5]
    per_image = [sum(a["image_id"] == img["id"] for a in data["annotations"]) for img in data["images"]]
    assert max(per_image) >= 2  # more than --people-max 1: the groups are drawn
    for ann in data["annotations"]:
        v = np.asarray(ann["keypoints"]).reshape(17, 3)[:, 2]
        assert ann["num_keypoints"] == int(np.count_nonzero(v)) and ann["area"] <= ann["bbox"][2] * ann["bbox"][3]
    capsys.readouterr()
    for args, message in ((["--group-size", "5", "3"], "--group-size needs 2 <= LOW <= HIGH <= 12; got 5 3"),
                          (["--group-prob", "1.5"], "--group-prob must be in [0.0, 1.0]; got 1.5")):
        assert module.main(["--out", str(tmp_path / "x"), "--n", "1", *args]) == module.USER_ERROR
        err = capsys.readouterr().err.strip()
        assert err == f"error: {message}", err
