"""Exact labels of synthetic humans (issue 16 item 3): COCO's left/right convention on
front- and back-facing renders, through the whole path (posed anny body -> 3D keypoint ->
projected keypoint -> COCO index), and z-buffer visibility on constructed scenes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgepose.data.synth import pose as synth_pose
from edgepose.skeleton import get_keypoint_set

COCO = list(get_keypoint_set("coco17").names)
NOSE, L_SHOULDER, R_SHOULDER = COCO.index("nose"), COCO.index("left_shoulder"), COCO.index("right_shoulder")
L_WRIST, R_WRIST = COCO.index("left_wrist"), COCO.index("right_wrist")
SIZE = 128


def test_coco_indices() -> None:
    assert (L_WRIST, R_WRIST, L_SHOULDER, R_SHOULDER, NOSE) == (9, 10, 5, 6, 0)


@pytest.fixture(scope="module")
def body():
    pytest.importorskip("torch")
    pytest.importorskip("anny")
    from edgepose.data.synth.body import get_body_model

    return get_body_model()


def _left_arm_up() -> dict[str, float]:
    pose = synth_pose.neutral_pose()
    pose["shoulder_abd.L"] = 160.0  # the person's LEFT arm raised sideways above the head
    pose["shoulder_abd.R"] = 15.0
    return pose


def _person(body, pose: dict[str, float], yaw_deg: float, shift=(0.0, 0.0), straight_limbs: bool = True):
    """The average body in ``pose`` (by default the v2 kinematics: straight limbs at angle
    0), turned by ``yaw_deg`` about z, feet on the ground."""
    from edgepose.data.synth.people import Person

    vertices, keypoints, heights = body.pose_people([{}], [pose], straight_limbs=straight_limbs)
    a = math.radians(yaw_deg)
    rot = np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
    v, k = vertices[0] @ rot.T, keypoints[0] @ rot.T
    offset = np.array([shift[0], shift[1], -v[:, 2].min()])
    albedo = np.full(v.shape, 0.5, np.float32)
    return Person(v + offset, k + offset, albedo, float(heights[0]), "fixed")


def _camera():
    """Eye-level camera at y = -4 m looking along +y (world x = image right)."""
    from edgepose.data.synth.camera import Camera, look_at_rotation

    return Camera(look_at_rotation(0.0, 0.0), np.array([0.0, -4.0, 0.9]), 70.0, np.full(2, (SIZE - 1) / 2))


def _label(body, people, occluded=None):
    """Rasterise ``people`` and label them as :func:`render_scene` does -> (P, 17, 3)."""
    from edgepose.data.synth.config import SynthConfig
    from edgepose.data.synth.labels import annotate
    from edgepose.data.synth.raster import rasterize

    config = SynthConfig(size=SIZE, supersample=2)
    camera = _camera()
    vertices = np.concatenate([p.vertices for p in people])
    faces = np.concatenate([body.faces + i * people[0].vertices.shape[0] for i in range(len(people))])
    face_owner = np.repeat(np.arange(len(people)), body.faces.shape[0])
    uv, z = camera.scaled(2).project(vertices)
    buffers = rasterize(uv, z, faces, (SIZE * 2, SIZE * 2))
    owner = np.where(buffers.mask, face_owner[np.maximum(buffers.face, 0)], -1)
    if occluded is None:
        occluded = np.zeros(owner.shape, bool)
    kept, keypoints, _, _, _ = annotate(body, people, camera, owner, buffers.depth, occluded, config)
    out = np.zeros((len(people), 17, 3), np.float32)
    out[kept] = keypoints
    return out


def test_body_frame_left_is_the_persons_left(body) -> None:
    """In anny's body frame the face looks along -y, z is up, so the person's left is
    up x forward = +x: the COCO "left_*" keypoints and the ".L" bones must lie there."""
    _, k, _ = body.pose_people([{}], [synth_pose.neutral_pose()])
    k = k[0]
    forward = k[NOSE] - 0.5 * (k[COCO.index("left_ear")] + k[COCO.index("right_ear")])
    left = np.cross([0.0, 0.0, 1.0], forward)
    for name in ("eye", "ear", "shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
        assert (k[COCO.index(f"left_{name}")] - k[COCO.index(f"right_{name}")]) @ left > 0, name
    assert body.bone_heads["upperarm01.L"] @ left > 0 and body.bone_heads["upperarm01.R"] @ left < 0


def test_left_arm_up_3d(body) -> None:
    """Raising the ".L" arm raises COCO keypoint 9 (left_wrist), on the +x side."""
    for straight in (False, True):
        _, k, _ = body.pose_people([{}], [_left_arm_up()], straight)
        k = k[0]
        assert k[L_WRIST, 2] > k[NOSE, 2] > k[R_WRIST, 2]
        assert k[L_WRIST, 0] > 0 > k[R_WRIST, 0]


@pytest.mark.parametrize("straight_limbs", [False, True], ids=["v1-kinematics", "v2-kinematics"])
@pytest.mark.parametrize("facing, yaw", [("front", 0.0), ("back", 180.0)])
def test_left_right_on_front_and_back_views(body, facing: str, yaw: float, straight_limbs: bool) -> None:
    """COCO: left is the person's left. Facing the camera, the left wrist is on the
    image's right; seen from the back, on the image's left. The raised wrist is index 9."""
    (kp,) = _label(body, [_person(body, _left_arm_up(), yaw, straight_limbs=straight_limbs)])
    assert kp[L_WRIST, 2] == 2 and kp[R_WRIST, 2] == 2
    # The raised wrist is the left one, above the shoulders and the head ...
    assert kp[L_WRIST, 1] < kp[L_SHOULDER, 1] and kp[L_WRIST, 1] < kp[NOSE, 1]
    assert kp[R_WRIST, 1] > kp[R_SHOULDER, 1]
    # ... and on the side that the view demands.
    if facing == "front":
        assert kp[L_WRIST, 0] > kp[R_WRIST, 0] and kp[L_SHOULDER, 0] > kp[R_SHOULDER, 0]
        assert kp[NOSE, 2] == 2  # the face is seen
    else:
        assert kp[L_WRIST, 0] < kp[R_WRIST, 0] and kp[L_SHOULDER, 0] < kp[R_SHOULDER, 0]
        assert kp[NOSE, 2] == 1  # the face is behind the head: labelled, hidden


def test_far_wrist_hidden_by_the_body_in_profile(body) -> None:
    """Profile view, arms hanging at the sides: the wrist on the far side is behind the
    hips (v=1), the near one is seen (v=2)."""
    pose = synth_pose.neutral_pose()
    # yaw -90: the face turns from -y to -x and the person's left side (+x) to -y, towards the camera.
    (kp,) = _label(body, [_person(body, pose, -90.0)])
    assert kp[L_WRIST, 2] == 2
    assert kp[R_WRIST, 2] == 1
    (mirrored,) = _label(body, [_person(body, pose, 90.0)])
    assert mirrored[R_WRIST, 2] == 2 and mirrored[L_WRIST, 2] == 1


def test_wrist_hidden_by_an_occluder_and_by_another_person(body) -> None:
    pose = synth_pose.neutral_pose()
    person = _person(body, pose, 0.0)
    (free,) = _label(body, [person])
    assert free[L_WRIST, 2] == 2
    # An occluder over the left wrist's pixel.
    occluded = np.zeros((SIZE * 2, SIZE * 2), bool)
    x, y = free[L_WRIST, :2]
    occluded[int(y * 2) - 3:int(y * 2) + 4, int(x * 2) - 3:int(x * 2) + 4] = True
    (covered,) = _label(body, [person], occluded)
    assert covered[L_WRIST, 2] == 1 and covered[R_WRIST, 2] == 2
    # A second person 1 m nearer the camera, in front of the first one's left side.
    front = _person(body, pose, 0.0, shift=(0.13, -1.0))
    behind, _ = _label(body, [person, front])
    assert behind[L_WRIST, 2] == 1
    np.testing.assert_allclose(behind[L_WRIST, :2], free[L_WRIST, :2], atol=1e-4)
