"""Garment, hair and accessory geometry of synthetic humans (issue 16: clothing and hair;
visibility from the z-buffer including clothes): shells lie outside the body and follow
the pose, a wrist inside a loose sleeve is labelled hidden, the options are validated,
renders with garments are deterministic and the defaults draw nothing new."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_training_cli import _program

from edgepose.data.synth import pose as synth_pose
from edgepose.data.synth.config import SynthConfig
from edgepose.errors import InputError
from edgepose.skeleton import get_keypoint_set

COCO = list(get_keypoint_set("coco17").names)
L_WRIST, L_ELBOW, L_SHOULDER = COCO.index("left_wrist"), COCO.index("left_elbow"), COCO.index("left_shoulder")
SIZE = 128


@pytest.fixture(scope="module")
def body():
    pytest.importorskip("torch")
    pytest.importorskip("anny")
    from edgepose.data.synth.body import get_body_model

    return get_body_model()


def _posed(body, pose: dict[str, float], yaw_deg: float = 0.0):
    """The average body in ``pose`` (straight-limb kinematics), turned by ``yaw_deg``,
    feet on the ground -> (vertices (V, 3), keypoints (17, 3), height)."""
    vertices, keypoints, heights = body.pose_people([{}], [pose], straight_limbs=True)
    a = math.radians(yaw_deg)
    rot = np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
    v, k = vertices[0] @ rot.T, keypoints[0] @ rot.T
    lift = np.array([0.0, 0.0, -v[:, 2].min()])
    return v + lift, k + lift, float(heights[0])


def _arm_out() -> dict[str, float]:
    pose = synth_pose.neutral_pose()
    pose["shoulder_abd.L"] = 80.0  # the left arm held out sideways, level with the shoulder
    return pose


def _sleeve(body, vertices: np.ndarray, end: float, base: float, cuff: float):
    """A sleeve over both arms down to arm coordinate ``end`` (1 = the wrist), ``base``
    metres off the arm, widening by ``cuff`` towards its end -> (garment, hidden faces)."""
    from edgepose.data.synth import garments

    atlas = garments.garment_atlas(body)
    normals = garments.vertex_normals(vertices, body.faces)
    coord = np.nan_to_num(atlas.arm_coord, nan=np.inf)
    offset = base + cuff * np.clip((np.nan_to_num(atlas.arm_coord, nan=0.0) - 0.4) / 0.6, 0.0, 1.0) ** 2
    return garments.offset_shell("sleeve", vertices, normals, body.faces, coord <= end, offset)


def _camera():
    """Eye-level camera at y = -4 m looking along +y (the person faces it at yaw 0)."""
    from edgepose.data.synth.camera import Camera, look_at_rotation

    return Camera(look_at_rotation(0.0, 0.0), np.array([0.0, -4.0, 0.9]), 70.0, np.full(2, (SIZE - 1) / 2))


def _rasterise(body, people):
    """The scene mesh of ``people`` (bodies, garments) through the rasteriser, as
    :func:`render_scene` does -> (buffers, owner, cover)."""
    from edgepose.data.synth.raster import rasterize
    from edgepose.data.synth.scene import _scene_mesh

    light = (np.array([0.0, -1.0, 0.0]), 0.4, 0.6, np.ones(3))
    vertices, faces, face_owner, _, face_cover = _scene_mesh(people, body.faces, light)
    uv, z = _camera().scaled(2).project(vertices)
    buffers = rasterize(uv, z, faces, (SIZE * 2, SIZE * 2))
    owner = np.where(buffers.mask, face_owner[np.maximum(buffers.face, 0)], -1)
    cover = np.where(buffers.mask, face_cover[np.maximum(buffers.face, 0)], np.float32(0.0))
    return buffers, owner, cover


def _labels(body, person) -> np.ndarray:
    """(17, 3) labels of one person rendered with what they wear."""
    from edgepose.data.synth.labels import annotate

    buffers, owner, cover = _rasterise(body, [person])
    occluded = np.zeros(owner.shape, bool)
    kept, keypoints, _, _, _ = annotate(body, [person], _camera(), owner, buffers.depth, occluded,
                                        SynthConfig(size=SIZE, supersample=2), cover)
    assert kept == [0]
    return keypoints[0]


def test_shell_lies_outside_the_body_and_follows_the_pose(body) -> None:
    from edgepose.data.synth.people import Person

    for pose in (synth_pose.neutral_pose(), _arm_out()):
        vertices, keypoints, height = _posed(body, pose)
        sleeve, hidden = _sleeve(body, vertices, 1.1, 0.02, 0.03)
        # The sleeve lies outside the arm: where the arm is held away from the body, every
        # vertex of the left sleeve is in front of the nearest body vertex along its
        # outward normal and at least 1.2 cm from the body. (Along a hanging arm the
        # sleeve may dip into the torso or the thigh, as cloth pressed between them would.)
        from edgepose.data.synth.garments import vertex_normals

        normals = vertex_normals(vertices, body.faces)
        d2 = ((sleeve.vertices[:, None, :] - vertices[None, :, :]) ** 2).sum(axis=2)
        assert float(np.median(np.sqrt(d2.min(axis=1)))) > 0.018
        if pose["shoulder_abd.L"] > 45:
            free = sleeve.vertices[:, 0] > 0.3
            nearest = d2[free].argmin(axis=1)
            signed = np.einsum("ij,ij->i", sleeve.vertices[free] - vertices[nearest], normals[nearest])
            assert free.sum() > 100 and signed.min() > 0.012
            assert np.sqrt(d2[free].min(axis=1)).min() > 0.012
        # The left sleeve lies along the left arm of this pose: shoulder to wrist.
        left = sleeve.vertices[sleeve.vertices[:, 0] > 0]
        shoulder, wrist = keypoints[L_SHOULDER], keypoints[L_WRIST]
        axis = (wrist - shoulder) / np.linalg.norm(wrist - shoulder)
        along = (left - shoulder) @ axis
        across = np.linalg.norm((left - shoulder) - along[:, None] * axis, axis=1)
        assert along.min() > -0.12 and along.max() > np.linalg.norm(wrist - shoulder)
        assert np.percentile(across, 90) < 0.12
        assert hidden.any() and not hidden.all()
        # Rendered: wherever the sleeve is seen, it is in front of the bare body's surface.
        bare = Person(vertices, keypoints, np.full(vertices.shape, 0.5, np.float32), height, "fixed")
        dressed = Person(vertices, keypoints, bare.albedo, height, "fixed", garments=[sleeve], hidden_faces=hidden)
        bare_buffers, _, _ = _rasterise(body, [bare])
        buffers, _, cover = _rasterise(body, [dressed])
        on_sleeve = (cover > 0) & np.isfinite(bare_buffers.depth)
        assert on_sleeve.sum() > 50
        assert np.all(buffers.depth[on_sleeve] < bare_buffers.depth[on_sleeve] + 1e-4)


def test_wrist_inside_a_long_sleeve_is_labelled_hidden(body) -> None:
    """Facing the camera, arm held out: the bare wrist is seen (v=2); inside a sleeve that
    goes past the wrist and widens to 6 cm it is labelled and hidden (v=1), while the
    elbow and shoulder under the close-fitting part of the sleeve stay visible."""
    from edgepose.data.synth.people import Person

    vertices, keypoints, height = _posed(body, _arm_out())
    albedo = np.full(vertices.shape, 0.5, np.float32)
    bare = _labels(body, Person(vertices, keypoints, albedo, height, "fixed"))
    assert bare[L_WRIST, 2] == 2 and bare[L_ELBOW, 2] == 2 and bare[L_SHOULDER, 2] == 2
    sleeve, hidden = _sleeve(body, vertices, 1.12, 0.015, 0.045)
    dressed = _labels(body, Person(vertices, keypoints, albedo, height, "fixed", garments=[sleeve],
                                   hidden_faces=hidden))
    assert dressed[L_WRIST, 2] == 1
    np.testing.assert_allclose(dressed[L_WRIST, :2], bare[L_WRIST, :2], atol=1e-4)
    assert dressed[L_ELBOW, 2] == 2 and dressed[L_SHOULDER, 2] == 2
    # A sleeve that stops short of the wrist leaves it visible.
    short, hidden = _sleeve(body, vertices, 0.8, 0.015, 0.0)
    assert _labels(body, Person(vertices, keypoints, albedo, height, "fixed", garments=[short],
                                hidden_faces=hidden))[L_WRIST, 2] == 2


def test_opaque_items_hide_and_loose_cover_rule() -> None:
    """Close-fitting garment: own surface; loose garment or opaque item: hides."""
    from edgepose.data.synth.garments import LOOSE_COVER_M
    from edgepose.data.synth.labels import keypoint_visibility

    owner = np.zeros((4, 4), int)
    depth = np.full((4, 4), 2.0, np.float32)
    occluded = np.zeros((4, 4), bool)
    kps, kz, tol = np.array([[0.5, 0.5]]), np.array([2.08]), np.array([0.05])
    for cover, expected in ((0.0, 1), (0.035, 2), (LOOSE_COVER_M + 0.01, 1), (math.inf, 1)):
        grid = np.full((4, 4), cover, np.float32)
        assert keypoint_visibility(kps, kz, tol, 0, owner, depth, occluded, 2, 2, grid).tolist() == [expected]
    assert keypoint_visibility(kps, kz, np.array([0.1]), 0, owner, depth, occluded, 2, 2).tolist() == [2]


def test_every_kind_is_built_and_nothing_drawn_at_zero(body) -> None:
    from edgepose.data.synth import garments

    vertices, keypoints, _ = _posed(body, synth_pose.neutral_pose())
    albedo = np.full(vertices.shape, 0.6, np.float32)
    rng = np.random.default_rng(3)
    state = rng.bit_generator.state
    assert garments.dress_person(rng, body, vertices, keypoints, albedo, 0.0, 0.0, 0.0) == ([], None)
    assert rng.bit_generator.state == state
    kinds = set()
    for seed in range(40):
        worn, hidden = garments.dress_person(np.random.default_rng(seed), body, vertices, keypoints, albedo,
                                             1.0, 1.0, 1.0)
        assert hidden.shape == (body.faces.shape[0],)
        for g in worn:
            kinds.add(g.kind)
            assert g.faces.min() >= 0 and g.faces.max() < g.vertices.shape[0]
            assert g.albedo.shape == g.vertices.shape and g.cover.shape == (g.faces.shape[0],)
            assert np.all(np.isfinite(g.vertices)) and np.all((g.albedo >= 0) & (g.albedo <= 1))
    assert {"sweater", "jacket", "coat", "dress", "trousers", "skirt", "shoes", "hair",
            "backpack", "shoulder_bag"} <= kinds
    assert kinds & {"beanie", "cap", "hat"}


def test_skirt_hangs_around_both_legs(body) -> None:
    """A knee-length skirt: its hem ring encloses both knees, and it hides the knees."""
    from edgepose.data.synth import garments

    vertices, keypoints, _ = _posed(body, synth_pose.neutral_pose())
    atlas = garments.garment_atlas(body)
    skirt = garments.skirt_tube(np.random.default_rng(0), atlas, vertices, keypoints, "skirt", 0.08, 0.6,
                                0.015, 0.08)
    hem = skirt.vertices[-28:]
    knees = keypoints[[COCO.index("left_knee"), COCO.index("right_knee")]]
    assert hem[:, 2].max() < knees[:, 2].min() + 0.05  # below the knees
    centre = hem[:, :2].mean(axis=0)
    radius = np.linalg.norm(hem[:, :2] - centre, axis=1).min()
    assert np.all(np.linalg.norm(knees[:, :2] - centre, axis=1) < radius)
    assert skirt.cover[-1] > garments.LOOSE_COVER_M  # the flared hem hides what it covers


def test_probabilities_validated(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("garment_prob", "hair_prob", "accessory_prob"):
        with pytest.raises(InputError, match=f"{name} must be in"):
            SynthConfig(**{name: 1.5})
    module = _program("synth")
    for flag in ("--garment-prob", "--hair-prob", "--accessory-prob"):
        assert module.main(["--out", str(tmp_path / "o"), "--n", "1", flag, "-0.1"]) == 2
        assert capsys.readouterr().err.strip() == f"error: {flag} must be in [0.0, 1.0]; got -0.1"


def test_renders_with_garments_are_deterministic(body) -> None:
    from edgepose.data.synth import render_scene

    config = SynthConfig(size=64, garment_prob=1.0, hair_prob=1.0, accessory_prob=1.0, image_format="png")
    first = render_scene(body, np.random.default_rng([11, 2]), config)
    again = render_scene(body, np.random.default_rng([11, 2]), config)
    assert first.image.tobytes() == again.image.tobytes()
    np.testing.assert_array_equal(first.keypoints, again.keypoints)
    np.testing.assert_array_equal(first.masks, again.masks)
    bare = render_scene(body, np.random.default_rng([11, 2]), SynthConfig(size=64, image_format="png"))
    assert bare.image.tobytes() != first.image.tobytes()
