"""The pose sampler: limb angles mean what they say (0 = straight), left/right mirror
symmetry of the v2 sampler, and the wrist-height statistics (issue 16 item 2)."""

from __future__ import annotations

import numpy as np
import pytest

from edgepose.data.synth import pose as synth_pose

SIDED = sorted({name.split(".")[0] for name in synth_pose.neutral_pose() if "." in name})


def test_mirror_pose_swaps_sides_and_negates_leans() -> None:
    pose = synth_pose.neutral_pose()
    pose.update({"elbow.L": 90.0, "shoulder_twist.R": -20.0, "spine_twist": 15.0, "neck_lat": -5.0,
                 "spine_flex": 10.0})
    m = synth_pose.mirror_pose(pose)
    assert m["elbow.R"] == 90.0 and m["elbow.L"] == 0.0 and m["shoulder_twist.L"] == -20.0
    assert m["spine_twist"] == -15.0 and m["neck_lat"] == 5.0 and m["spine_flex"] == 10.0
    assert synth_pose.mirror_pose(m) == pose


def test_v2_sampler_is_left_right_symmetric() -> None:
    """Over many v2 poses, every sided angle has the same distribution on both sides
    (means and quartiles within 3 degrees), and leans / twists are centred."""
    rng = np.random.default_rng(0)
    poses = [synth_pose.sample_pose(rng, None, synth_pose.POSE_FAMILIES_V2)[1] for _ in range(6000)]
    for joint in SIDED:
        left = np.array([p[f"{joint}.L"] for p in poses])
        right = np.array([p[f"{joint}.R"] for p in poses])
        np.testing.assert_allclose(np.percentile(left, [25, 50, 75]), np.percentile(right, [25, 50, 75]), atol=3.0,
                                   err_msg=joint)
        assert abs(left.mean() - right.mean()) < 3.0, joint
    for name in ("spine_lat", "spine_twist", "neck_lat", "neck_twist"):
        assert abs(np.mean([p[name] for p in poses])) < 2.0, name


SPORTS = ("kicking", "jumping", "throwing", "sprinting")


def test_v2_families_are_known_and_sports_are_a_tenth() -> None:
    weights = synth_pose.POSE_FAMILIES_V2
    assert all(w > 0 for w in weights.values())
    assert sum(weights[f] for f in SPORTS) / sum(weights.values()) == pytest.approx(0.10, abs=0.015)
    rng = np.random.default_rng(1)
    drawn = {synth_pose.sample_pose(rng, None, synth_pose.POSE_FAMILIES_V2)[0] for _ in range(2000)}
    assert drawn == set(synth_pose.POSE_FAMILIES_V2)


def test_pedestrian_sampler_draws_only_pedestrian_families() -> None:
    weights = synth_pose.POSE_SAMPLERS["pedestrian"]
    assert set(weights) == {"walking_natural", "arms_hanging", "hands_in_pockets", "phone_call", "phone_looking",
                            "carrying"}
    rng = np.random.default_rng(2)
    drawn = [synth_pose.sample_pose(rng, None, weights)[0] for _ in range(1500)]
    assert set(drawn) == set(weights)
    assert drawn.count("walking_natural") / len(drawn) == pytest.approx(weights["walking_natural"] / sum(
        weights.values()), abs=0.04)
    assert set(synth_pose.SAMPLER_KINEMATICS) == set(synth_pose.POSE_SAMPLERS)
    assert synth_pose.SAMPLER_KINEMATICS["pedestrian"] == "v2"


@pytest.mark.parametrize("family", ["kicking", "jumping", "throwing", "sprinting"])
def test_sports_families_stay_within_the_joint_limits_unclamped(family: str) -> None:
    """The sports families are drawn inside :data:`JOINT_LIMITS` (clamping changes nothing)
    and mirrored about half of the time."""
    rng = np.random.default_rng(11)
    for _ in range(300):
        pose = synth_pose._FAMILIES[family](rng)
        assert synth_pose.clamp_pose(pose) == pose
        assert set(pose) == set(synth_pose.neutral_pose())


def test_sprinting_pumps_the_arms_harder_than_running() -> None:
    rng = np.random.default_rng(12)

    def arm_spread(family: str) -> float:
        poses = [synth_pose.sample_pose(rng, family)[1] for _ in range(400)]
        return float(np.median([abs(p["shoulder_flex.L"] - p["shoulder_flex.R"]) for p in poses]))

    assert arm_spread("sprinting") > arm_spread("running") + 15
    poses = [synth_pose.sample_pose(rng, "sprinting")[1] for _ in range(100)]
    assert min(min(p["elbow.L"], p["elbow.R"]) for p in poses) >= 75


# -------------------------------------------------------------------- with the body model


@pytest.fixture(scope="module")
def body():
    pytest.importorskip("torch")
    pytest.importorskip("anny")
    from edgepose.data.synth.body import get_body_model

    return get_body_model()


def test_v1_kinematics_keep_the_rest_bend(body) -> None:
    """The v1 kinematics (SYNTH_VERSION 1.0.0 renders) count elbow angles from anny's rest
    pose, whose elbow is bent by about 43 degrees: "elbow 0" is a bent arm there."""
    _, k, _ = body.pose_people([{}], [synth_pose.neutral_pose()])
    upper, lower = k[0, 7] - k[0, 5], k[0, 9] - k[0, 7]
    bend = np.degrees(np.arccos(upper @ lower / np.linalg.norm(upper) / np.linalg.norm(lower)))
    assert 30 < bend < 55


def test_zero_elbow_and_knee_are_straight(body) -> None:
    """v2 kinematics: angle 0 is a straight limb although anny's rest pose bends the elbows."""
    _, k, _ = body.pose_people([{}], [synth_pose.neutral_pose()], straight_limbs=True)
    k = k[0]
    for shoulder, elbow, wrist in ((5, 7, 9), (6, 8, 10), (11, 13, 15), (12, 14, 16)):
        upper, lower = k[elbow] - k[shoulder], k[wrist] - k[elbow]
        cos = upper @ lower / np.linalg.norm(upper) / np.linalg.norm(lower)
        assert cos > np.cos(np.radians(12)), (shoulder, elbow, wrist, np.degrees(np.arccos(cos)))
    # Arms hanging straight down: the wrists at about hip height, not above it.
    torso = (k[5, 2] + k[6, 2]) / 2 - (k[11, 2] + k[12, 2]) / 2
    assert abs(k[9, 2] - k[11, 2]) < 0.15 * torso and abs(k[10, 2] - k[12, 2]) < 0.15 * torso
    pose = synth_pose.neutral_pose()
    pose["elbow.L"] = 90.0  # forearm forwards, horizontal
    _, bent, _ = body.pose_people([{}], [pose], straight_limbs=True)
    forearm = bent[0, 9] - bent[0, 7]
    assert forearm[1] < -0.8 * np.linalg.norm(forearm)  # pointing forwards (-y)


def test_mirrored_pose_gives_the_mirrored_body(body) -> None:
    rng = np.random.default_rng(3)
    poses = [synth_pose.sample_pose(rng, family)[1] for family in ("walking_natural", "phone_call", "free")]
    swap = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    for straight in (False, True):
        _, k, _ = body.pose_people([{}] * 3, poses, straight)
        _, km, _ = body.pose_people([{}] * 3, [synth_pose.mirror_pose(p) for p in poses], straight)
        np.testing.assert_allclose(km, k[:, swap] * np.array([-1.0, 1.0, 1.0]), atol=0.01)


def test_wrist_height_table(body) -> None:
    from edgepose.data.synth.pose_stats import format_table, wrist_height_table

    rows = [*wrist_height_table(body, {"arms_raised": 1.0}, 8, False, "v1"),
            *wrist_height_table(body, {"arms_hanging": 1.0}, 8, True, "v2")]
    by = {r.label: r for r in rows}
    assert set(by) == {"arms_raised", "arms_hanging", "all (v1)", "all (v2)"}
    assert by["arms_raised"].share_over_shoulder["L"] > 0.2 and by["arms_hanging"].share_over_shoulder["L"] == 0
    assert by["arms_hanging"].above_hip["L"] < 0.2 < by["arms_raised"].above_hip["L"]
    assert "| arms_hanging | 8 |" in format_table(rows)


def test_v2_poses_render_through_the_config(body, tmp_path) -> None:
    """The v2 sampler and kinematics reach the renders: families from the v2 weights,
    recorded in the dataset's settings, and a different image than v1 for the same seed."""
    import json

    from edgepose.data.synth import SynthConfig, generate_dataset, render_person

    v2 = SynthConfig(pose_family_weights=synth_pose.POSE_FAMILIES_V2, pose_kinematics="v2")
    a = render_person(body, seed=4, size=64, pose_family="walking_natural", config=v2)
    b = render_person(body, seed=4, size=64, pose_family="walking_natural",
                      config=SynthConfig(pose_kinematics="v1"))
    assert a.families == ["walking_natural"] and not np.array_equal(a.image, b.image)
    path = generate_dataset(tmp_path / "d", n=4, size=48, seed=5, people_max=1, config=v2)
    data = json.loads(path.read_text())
    assert data["info"]["settings"]["pose_kinematics"] == "v2"
    assert {a["pose_family"] for a in data["annotations"]} <= set(synth_pose.POSE_FAMILIES_V2)


def test_synth_cli_pose_flags(body, tmp_path, capsys) -> None:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "synth_cli", Path(__file__).resolve().parents[1] / "training" / "synth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import json

    assert module.main(["--out", str(tmp_path / "a"), "--n", "1", "--size", "32", "--preset", "v1", "--pose-sampler", "v2"]) == 0
    settings = json.loads((tmp_path / "a" / "annotations" / "person_keypoints.json").read_text())["info"]["settings"]
    assert settings["pose_kinematics"] == "v2" and settings["pose_family_weights"] == synth_pose.POSE_FAMILIES_V2
    assert module.main(["--out", str(tmp_path / "b"), "--n", "1", "--size", "32", "--preset", "v1", "--pose-sampler", "v2",
                        "--pose-kinematics", "v1"]) == 0
    settings = json.loads((tmp_path / "b" / "annotations" / "person_keypoints.json").read_text())["info"]["settings"]
    assert settings["pose_kinematics"] == "v1"
    assert module.main(["--out", str(tmp_path / "c"), "--n", "3", "--size", "32", "--people-max", "1",
                        "--pose-sampler", "pedestrian"]) == 0
    data = json.loads((tmp_path / "c" / "annotations" / "person_keypoints.json").read_text())
    assert data["info"]["settings"]["pose_kinematics"] == "v2"
    assert data["info"]["settings"]["pose_family_weights"] == synth_pose.POSE_FAMILIES_PEDESTRIAN
    assert {a["pose_family"] for a in data["annotations"]} <= set(synth_pose.POSE_FAMILIES_PEDESTRIAN)
    with pytest.raises(SystemExit):
        module.parse_args(["--out", str(tmp_path), "--n", "1", "--pose-sampler", "v3"])
    assert "invalid choice: 'v3'" in capsys.readouterr().err


def test_config_rejects_unknown_kinematics() -> None:
    from edgepose.data.synth import SynthConfig
    from edgepose.errors import InputError

    with pytest.raises(InputError, match="pose_kinematics must be one of v1, v2; got 'v3'"):
        SynthConfig(pose_kinematics="v3")


def _sports_keypoints(body, family: str, n: int = 40) -> np.ndarray:
    rng = np.random.default_rng(13)
    poses = [synth_pose.sample_pose(rng, family)[1] for _ in range(n)]
    return body.pose_people([{}] * n, poses, straight_limbs=True)[1]


def test_kicking_lifts_one_foot_well_above_the_other(body) -> None:
    z = _sports_keypoints(body, "kicking")[:, :, 2]
    lift = z[:, 15] - z[:, 16]
    assert np.all(np.abs(lift) > 0.2)  # metres; the standing ankle is near the ground
    assert 0.25 < np.mean(lift > 0) < 0.75  # either leg kicks


def test_throwing_raises_one_wrist_above_the_head(body) -> None:
    k = _sports_keypoints(body, "throwing", 60)
    above = np.maximum(k[:, 9, 2], k[:, 10, 2]) > k[:, 0, 2] + 0.05  # above the nose by 5 cm
    assert 0.5 < above.mean() < 0.9  # the cocked phase, about two thirds of the throws
    throwing_left = k[:, 9, 2] > k[:, 10, 2]
    assert 0.25 < np.mean(throwing_left[above]) < 0.75


def test_jumping_people_are_in_the_air_with_bent_knees(body) -> None:
    from edgepose.data.synth import SynthConfig
    from edgepose.data.synth.people import make_people

    rng = np.random.default_rng(14)
    config = SynthConfig(pose_kinematics="v2")
    people = make_people(body, rng, 6, config, family="jumping")
    low, high = synth_pose.AIRBORNE["jumping"]
    for person in people:
        assert low - 1e-6 <= person.vertices[:, 2].min() <= high + 1e-6
    poses = [synth_pose.sample_pose(rng, "jumping")[1] for _ in range(100)]
    assert all(min(p["knee.L"], p["knee.R"]) >= 20 for p in poses)
