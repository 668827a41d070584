"""Random, anatomically plausible body poses for the anny body model (numpy only).

A pose is a dict of named joint angles in degrees (:data:`JOINT_LIMITS` lists the names
and the range each is clamped to). :func:`sample_pose` draws one from a pose family
(v1: standing, walking, running, sitting, arms raised, bending, squatting, kneeling,
or free within the limits; v2 adds everyday pedestrian families and sports, kicking,
jumping, throwing and sprinting, :data:`POSE_FAMILIES_V2`; "pedestrian" keeps only
what people do in the street, :data:`POSE_FAMILIES_PEDESTRIAN`);
:func:`pose_to_bone_rotations` turns the angles into per-bone rotation matrices for
anny's ``"local-ref"`` pose parameterisation.

Body frame (anny's, rest pose): x towards the person's left, y towards their back,
z up, in metres. In ``"local-ref"`` the delta of a bone is a rotation about its head in
these world-aligned axes, applied on top of its parent's: the world rotation of a bone
is the product of the deltas along its chain. Limb angles are therefore relative to the
parent segment (an elbow angle is the flexion of the forearm relative to the upper arm).

Angle conventions (degrees, ``L``/``R`` sided names mirror each other):

* ``spine_flex`` forward bend, ``spine_lat`` lean to the person's left, ``spine_twist``
  turn of the chest to the left; the same for ``neck_*`` (head and neck together).
* ``shoulder_flex`` / ``hip_flex``: swing of the upper arm / thigh forward (negative:
  backward) from hanging straight down; ``shoulder_abd`` / ``hip_abd``: swing sideways
  away from the body. The segment direction is
  ``(s sin(abd), -sin(flex) cos(abd), -cos(flex) cos(abd))`` with ``s = +1`` left,
  ``-1`` right. ``*_twist``: rotation about the segment axis.
* ``elbow`` / ``knee``: flexion (0 = straight with the v2 kinematics; the v1 kinematics
  count from anny's rest pose, elbows bent about 43 degrees, knees about 10, see
  :func:`pose_to_bone_rotations`). ``wrist``: flexion, ``ankle``: plantar flexion (toes down).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

SIDES = ("L", "R")

#: Joint angle limits in degrees, (low, high). Sided joints apply to both ".L" and ".R".
JOINT_LIMITS: dict[str, tuple[float, float]] = {
    "spine_flex": (-25.0, 90.0),
    "spine_lat": (-30.0, 30.0),
    "spine_twist": (-40.0, 40.0),
    "neck_flex": (-45.0, 55.0),
    "neck_lat": (-35.0, 35.0),
    "neck_twist": (-75.0, 75.0),
    "shoulder_flex": (-50.0, 180.0),
    "shoulder_abd": (-10.0, 180.0),
    "shoulder_twist": (-60.0, 60.0),
    "elbow": (0.0, 150.0),
    "wrist": (-60.0, 60.0),
    "hip_flex": (-30.0, 130.0),
    "hip_abd": (-15.0, 60.0),
    "hip_twist": (-35.0, 35.0),
    "knee": (0.0, 150.0),
    "ankle": (-25.0, 45.0),
}

#: Pose families and their default sampling probabilities.
POSE_FAMILIES: dict[str, float] = {
    "standing": 0.20,
    "walking": 0.14,
    "running": 0.06,
    "sitting": 0.12,
    "arms_raised": 0.12,
    "bending": 0.08,
    "squatting": 0.08,
    "kneeling": 0.06,
    "free": 0.14,
}

#: Families weighted like real pedestrians (issue 16): mostly walking with a natural arm
#: swing and arms hanging, everyday gestures (pockets, crossed arms, hands on hips, phone,
#: carrying, pointing), a few of the v1 families and sports (kicking, jumping, throwing,
#: sprinting: about a tenth together); one-sided gestures pick their side at random and
#: every v2 family is mirrored with probability 1/2. Weights are relative.
POSE_FAMILIES_V2: dict[str, float] = {
    "walking_natural": 0.22, "arms_hanging": 0.12, "hands_in_pockets": 0.07, "arms_crossed": 0.05,
    "hands_on_hips": 0.04, "phone_call": 0.05, "phone_looking": 0.05, "carrying": 0.06, "pointing": 0.03,
    "standing": 0.06, "running": 0.05, "sitting": 0.05, "arms_raised": 0.04, "bending": 0.03,
    "squatting": 0.03, "kneeling": 0.02, "free": 0.03,
    "kicking": 0.03, "jumping": 0.03, "throwing": 0.03, "sprinting": 0.02,
}

#: Only what pedestrians do in street photographs, for a real-like val split (issue 16):
#: walking with a natural arm swing, arms hanging, hands in pockets, on the phone, carrying.
POSE_FAMILIES_PEDESTRIAN: dict[str, float] = {
    "walking_natural": 0.42, "arms_hanging": 0.20, "hands_in_pockets": 0.10, "phone_call": 0.06,
    "phone_looking": 0.08, "carrying": 0.14,
}

#: Named family weightings (``training/synth.py --pose-sampler``): "v1" is the default.
#: The v2 and pedestrian families are meant for the v2 kinematics (:data:`SAMPLER_KINEMATICS`).
POSE_SAMPLERS: dict[str, dict[str, float]] = {"v1": POSE_FAMILIES, "v2": POSE_FAMILIES_V2,
                                              "pedestrian": POSE_FAMILIES_PEDESTRIAN}

#: Kinematics (``SynthConfig.pose_kinematics``): whether elbow and knee angles count from
#: a straight limb (see :func:`pose_to_bone_rotations`).
POSE_KINEMATICS: dict[str, bool] = {"v1": False, "v2": True}

#: The kinematics each sampler of :data:`POSE_SAMPLERS` is meant for.
SAMPLER_KINEMATICS: dict[str, str] = {"v1": "v1", "v2": "v2", "pedestrian": "v2"}

#: Angles that change sign under a left/right mirror (the sided ones swap instead).
_MIRROR_NEGATED = ("spine_lat", "spine_twist", "neck_lat", "neck_twist")

# Share of the spine / neck angles taken by each bone, root to tip.
_SPINE_BONES = (("spine05", 0.3), ("spine04", 0.2), ("spine03", 0.2), ("spine02", 0.15), ("spine01", 0.15))
_NECK_BONES = (("neck01", 0.3), ("neck02", 0.25), ("neck03", 0.2), ("head", 0.25))

_FORWARD = np.array([0.0, -1.0, 0.0])
_BACKWARD = np.array([0.0, 1.0, 0.0])

Pose = dict[str, float]


def _limit_key(name: str) -> str:
    """Joint name without its ``.L``/``.R`` side."""
    return name.split(".")[0]


def clamp_pose(pose: Mapping[str, float]) -> Pose:
    """Clamp every angle of ``pose`` to :data:`JOINT_LIMITS`.

    Raises:
        KeyError: for a joint name that has no limit.
    """
    out: Pose = {}
    for name, value in pose.items():
        low, high = JOINT_LIMITS[_limit_key(name)]
        out[name] = float(min(max(value, low), high))
    return out


def mirror_pose(pose: Mapping[str, float]) -> Pose:
    """The left/right mirror image of ``pose``: sided angles swap sides, sideways leans
    and twists of the spine and neck change sign (:func:`pose_to_bone_rotations` maps
    the mirrored angles to the mirrored body)."""
    out: Pose = {}
    for name, value in pose.items():
        if name.endswith((".L", ".R")):
            out[name[:-1] + ("R" if name.endswith("L") else "L")] = float(value)
        else:
            out[name] = -float(value) if name in _MIRROR_NEGATED else float(value)
    return out


def neutral_pose() -> Pose:
    """All angles 0: upright, arms and legs straight down (arms inside the body sides)."""
    pose: Pose = {}
    for name in JOINT_LIMITS:
        if name.startswith(("spine", "neck")):
            pose[name] = 0.0
        else:
            for side in SIDES:
                pose[f"{name}.{side}"] = 0.0
    return pose


# --------------------------------------------------------------------------- families


def _relaxed_torso(pose: Pose, rng: np.random.Generator, scale: float = 1.0) -> None:
    """Small random spine and head angles."""
    pose["spine_flex"] = rng.uniform(-8, 15) * scale
    pose["spine_lat"] = rng.uniform(-8, 8) * scale
    pose["spine_twist"] = rng.uniform(-15, 15) * scale
    pose["neck_flex"] = rng.uniform(-20, 30)
    pose["neck_lat"] = rng.uniform(-15, 15)
    pose["neck_twist"] = rng.uniform(-55, 55)


def _standing_legs(pose: Pose, rng: np.random.Generator) -> None:
    """Weight on both legs, slightly apart, knees nearly straight."""
    for side in SIDES:
        pose[f"hip_flex.{side}"] = rng.uniform(-8, 15)
        pose[f"hip_abd.{side}"] = rng.uniform(0, 12)
        pose[f"hip_twist.{side}"] = rng.uniform(-15, 15)
        pose[f"knee.{side}"] = rng.uniform(0, 20)
        pose[f"ankle.{side}"] = rng.uniform(-10, 10)


def _casual_arm(pose: Pose, side: str, rng: np.random.Generator) -> None:
    """One arm in an everyday gesture: hanging, hand on hip, reaching, at the face, folded."""
    gesture = rng.choice(["hanging", "hanging", "hip", "reach", "face", "folded"])
    if gesture == "hanging":
        flex, abd, twist, elbow = rng.uniform(-15, 25), rng.uniform(8, 30), rng.uniform(-30, 30), rng.uniform(0, 40)
    elif gesture == "hip":
        flex, abd, twist, elbow = rng.uniform(-30, -5), rng.uniform(30, 50), rng.uniform(-40, -10), rng.uniform(90, 120)
    elif gesture == "reach":
        flex, abd, twist, elbow = rng.uniform(40, 100), rng.uniform(0, 40), rng.uniform(-30, 30), rng.uniform(0, 40)
    elif gesture == "face":
        flex, abd, twist, elbow = rng.uniform(20, 60), rng.uniform(5, 30), rng.uniform(-10, 30), rng.uniform(110, 145)
    else:  # folded across the chest
        flex, abd, twist, elbow = rng.uniform(20, 50), rng.uniform(-10, 5), rng.uniform(20, 50), rng.uniform(90, 130)
    pose[f"shoulder_flex.{side}"] = flex
    pose[f"shoulder_abd.{side}"] = abd
    pose[f"shoulder_twist.{side}"] = twist
    pose[f"elbow.{side}"] = elbow
    pose[f"wrist.{side}"] = rng.uniform(-30, 30)


def _family_standing(rng: np.random.Generator) -> Pose:
    pose = neutral_pose()
    _relaxed_torso(pose, rng)
    _standing_legs(pose, rng)
    for side in SIDES:
        _casual_arm(pose, side, rng)
    return pose


def _family_gait(rng: np.random.Generator, running: bool) -> Pose:
    """A phase of a walking or running cycle; arms swing against the legs."""
    pose = neutral_pose()
    _relaxed_torso(pose, rng, scale=0.6)
    phase = rng.uniform(0, 2 * math.pi)
    amplitude = rng.uniform(35, 55) if running else rng.uniform(15, 32)
    if running:
        pose["spine_flex"] = rng.uniform(5, 20)
    for side, shift in (("L", 0.0), ("R", math.pi)):
        swing = math.sin(phase + shift)
        # The knee bends most while the leg swings forward (cosine leads the sine).
        forward_motion = max(0.0, math.cos(phase + shift))
        pose[f"hip_flex.{side}"] = amplitude * swing + (10 if running else 3)
        pose[f"hip_abd.{side}"] = rng.uniform(0, 8)
        pose[f"hip_twist.{side}"] = rng.uniform(-10, 10)
        knee_gain = 2.2 if running else 1.6
        pose[f"knee.{side}"] = rng.uniform(0, 10) + knee_gain * amplitude * forward_motion + (15 if running else 0)
        pose[f"ankle.{side}"] = rng.uniform(-10, 20)
        pose[f"shoulder_flex.{side}"] = -0.9 * amplitude * swing + rng.uniform(-5, 5)
        pose[f"shoulder_abd.{side}"] = rng.uniform(8, 22)
        pose[f"shoulder_twist.{side}"] = rng.uniform(-20, 20)
        pose[f"elbow.{side}"] = rng.uniform(70, 100) if running else rng.uniform(5, 40)
        pose[f"wrist.{side}"] = rng.uniform(-20, 20)
    return pose


def _family_walking(rng: np.random.Generator) -> Pose:
    return _family_gait(rng, running=False)


def _family_running(rng: np.random.Generator) -> Pose:
    return _family_gait(rng, running=True)


def _family_sitting(rng: np.random.Generator) -> Pose:
    pose = neutral_pose()
    _relaxed_torso(pose, rng)
    pose["spine_flex"] = rng.uniform(-15, 25)
    for side in SIDES:
        pose[f"hip_flex.{side}"] = rng.uniform(70, 105)
        pose[f"hip_abd.{side}"] = rng.uniform(0, 25)
        pose[f"hip_twist.{side}"] = rng.uniform(-15, 15)
        pose[f"knee.{side}"] = rng.uniform(60, 115)
        pose[f"ankle.{side}"] = rng.uniform(-10, 20)
        if rng.random() < 0.7:  # hands resting on the thighs
            pose[f"shoulder_flex.{side}"] = rng.uniform(10, 60)
            pose[f"shoulder_abd.{side}"] = rng.uniform(5, 25)
            pose[f"shoulder_twist.{side}"] = rng.uniform(-20, 20)
            pose[f"elbow.{side}"] = rng.uniform(30, 100)
            pose[f"wrist.{side}"] = rng.uniform(-20, 20)
        else:
            _casual_arm(pose, side, rng)
    return pose


def _raised_arm(pose: Pose, side: str, rng: np.random.Generator) -> None:
    """Arm lifted above the shoulder, forwards or sideways."""
    if rng.random() < 0.5:
        pose[f"shoulder_flex.{side}"] = rng.uniform(80, 180)
        pose[f"shoulder_abd.{side}"] = rng.uniform(0, 45)
    else:
        pose[f"shoulder_flex.{side}"] = rng.uniform(-10, 30)
        pose[f"shoulder_abd.{side}"] = rng.uniform(75, 175)
    pose[f"shoulder_twist.{side}"] = rng.uniform(-40, 40)
    pose[f"elbow.{side}"] = rng.uniform(0, 80)
    pose[f"wrist.{side}"] = rng.uniform(-30, 30)


def _family_arms_raised(rng: np.random.Generator) -> Pose:
    pose = neutral_pose()
    _relaxed_torso(pose, rng)
    _standing_legs(pose, rng)
    which = rng.choice(["both", "L", "R"])
    for side in SIDES:
        if which in ("both", side):
            _raised_arm(pose, side, rng)
        else:
            _casual_arm(pose, side, rng)
    return pose


def _family_bending(rng: np.random.Generator) -> Pose:
    pose = neutral_pose()
    _relaxed_torso(pose, rng, scale=0.5)
    bend = rng.uniform(35, 85)
    pose["spine_flex"] = bend
    pose["neck_flex"] = rng.uniform(-45, 10)
    _standing_legs(pose, rng)
    knee = rng.uniform(0, 45)
    for side in SIDES:
        pose[f"knee.{side}"] = knee + rng.uniform(-5, 5)
        pose[f"hip_flex.{side}"] = 0.5 * knee + rng.uniform(-5, 5)
        # Arms hang towards the ground: flexion relative to the bent torso.
        pose[f"shoulder_flex.{side}"] = bend * rng.uniform(0.6, 1.2)
        pose[f"shoulder_abd.{side}"] = rng.uniform(5, 25)
        pose[f"shoulder_twist.{side}"] = rng.uniform(-20, 20)
        pose[f"elbow.{side}"] = rng.uniform(0, 60)
    return pose


def _family_squatting(rng: np.random.Generator) -> Pose:
    pose = neutral_pose()
    _relaxed_torso(pose, rng, scale=0.5)
    pose["spine_flex"] = rng.uniform(10, 45)
    for side in SIDES:
        pose[f"hip_flex.{side}"] = rng.uniform(80, 125)
        pose[f"hip_abd.{side}"] = rng.uniform(10, 35)
        pose[f"hip_twist.{side}"] = rng.uniform(-20, 5)
        pose[f"knee.{side}"] = rng.uniform(100, 145)
        pose[f"ankle.{side}"] = rng.uniform(-25, 0)
        pose[f"shoulder_flex.{side}"] = rng.uniform(20, 90)
        pose[f"shoulder_abd.{side}"] = rng.uniform(5, 30)
        pose[f"shoulder_twist.{side}"] = rng.uniform(-20, 20)
        pose[f"elbow.{side}"] = rng.uniform(0, 90)
    return pose


def _family_kneeling(rng: np.random.Generator) -> Pose:
    pose = neutral_pose()
    _relaxed_torso(pose, rng)
    both = rng.random() < 0.5
    front = rng.choice(SIDES)
    for side in SIDES:
        if both or side != front:  # knee on the ground, thigh near vertical
            pose[f"hip_flex.{side}"] = rng.uniform(-10, 20)
            pose[f"knee.{side}"] = rng.uniform(80, 110)
            pose[f"ankle.{side}"] = rng.uniform(10, 45)
        else:  # foot on the ground in front
            pose[f"hip_flex.{side}"] = rng.uniform(75, 100)
            pose[f"knee.{side}"] = rng.uniform(75, 100)
            pose[f"ankle.{side}"] = rng.uniform(-15, 10)
        pose[f"hip_abd.{side}"] = rng.uniform(0, 15)
        pose[f"hip_twist.{side}"] = rng.uniform(-10, 10)
        _casual_arm(pose, side, rng)
    return pose


def _family_free(rng: np.random.Generator) -> Pose:
    """Every angle drawn independently within 80 % of its range around the neutral pose."""
    pose = neutral_pose()
    for name in pose:
        low, high = JOINT_LIMITS[_limit_key(name)]
        pose[name] = rng.uniform(0.8 * low, 0.8 * high)
    # Keep arms from the inside of the body and the person on their feet more often.
    for side in SIDES:
        pose[f"shoulder_abd.{side}"] = abs(pose[f"shoulder_abd.{side}"]) + 5
        pose[f"hip_flex.{side}"] *= 0.7
    return pose


# ---------------------------------------------------------- v2: everyday pedestrians


def _set_arm(pose: Pose, side: str, flex: float, abd: float, twist: float, elbow: float, wrist: float) -> None:
    pose[f"shoulder_flex.{side}"] = flex
    pose[f"shoulder_abd.{side}"] = abd
    pose[f"shoulder_twist.{side}"] = twist
    pose[f"elbow.{side}"] = elbow
    pose[f"wrist.{side}"] = wrist


Range = tuple[float, float]


def _draw_arm(pose: Pose, side: str, rng: np.random.Generator, flex: Range, abd: Range, twist: Range, elbow: Range,
              wrist: Range) -> None:
    """Arm angles drawn uniformly from the given (low, high) ranges, in this order."""
    _set_arm(pose, side, rng.uniform(*flex), rng.uniform(*abd), rng.uniform(*twist), rng.uniform(*elbow),
             rng.uniform(*wrist))


def _hanging_arm(pose: Pose, side: str, rng: np.random.Generator) -> None:
    """Arm hanging relaxed at the side, elbow nearly straight."""
    _draw_arm(pose, side, rng, (-10, 12), (3, 15), (-25, 25), (0, 25), (-15, 15))


def _pocket_arm(pose: Pose, side: str, rng: np.random.Generator) -> None:
    """Hand in a front trouser or coat pocket: upper arm down, forearm forwards to the hip."""
    _draw_arm(pose, side, rng, (-15, 0), (4, 12), (10, 35), (20, 45), (-10, 20))


def _everyday_base(rng: np.random.Generator) -> Pose:
    """Standing legs, a relaxed torso, both arms hanging."""
    pose = neutral_pose()
    _relaxed_torso(pose, rng, scale=0.6)
    _standing_legs(pose, rng)
    for side in SIDES:
        _hanging_arm(pose, side, rng)
    return pose


def _mirrored_at_random(pose: Pose, rng: np.random.Generator) -> Pose:
    return mirror_pose(pose) if rng.random() < 0.5 else pose


def _family_walking_natural(rng: np.random.Generator) -> Pose:
    """A walking phase with a natural arm swing: arms below the shoulders, each arm in
    phase with the opposite leg, elbows bending a little more as the arm swings forward."""
    pose = neutral_pose()
    _relaxed_torso(pose, rng, scale=0.5)
    phase = rng.uniform(0, 2 * math.pi)
    stride = rng.uniform(12, 30)
    swing_gain = rng.uniform(0.4, 1.0)
    for side, shift in (("L", 0.0), ("R", math.pi)):
        swing = math.sin(phase + shift)
        forward_motion = max(0.0, math.cos(phase + shift))
        pose[f"hip_flex.{side}"] = stride * swing + 3
        pose[f"hip_abd.{side}"] = rng.uniform(0, 6)
        pose[f"hip_twist.{side}"] = rng.uniform(-8, 8)
        pose[f"knee.{side}"] = rng.uniform(0, 8) + 1.6 * stride * forward_motion
        pose[f"ankle.{side}"] = rng.uniform(-10, 15)
        arm_flex = -swing_gain * stride * swing + rng.uniform(-4, 4)
        _set_arm(pose, side, arm_flex, rng.uniform(3, 12), rng.uniform(-20, 20),
                 rng.uniform(3, 25) + 0.6 * max(0.0, arm_flex), rng.uniform(-15, 15))
    return _mirrored_at_random(pose, rng)


def _family_arms_hanging(rng: np.random.Generator) -> Pose:
    return _mirrored_at_random(_everyday_base(rng), rng)


def _family_hands_in_pockets(rng: np.random.Generator) -> Pose:
    pose = _everyday_base(rng)
    _pocket_arm(pose, "L", rng)
    if rng.random() < 0.7:
        _pocket_arm(pose, "R", rng)
    return _mirrored_at_random(pose, rng)


def _family_arms_crossed(rng: np.random.Generator) -> Pose:
    pose = _everyday_base(rng)
    for side in SIDES:
        _draw_arm(pose, side, rng, (5, 25), (0, 10), (50, 60), (85, 105), (-10, 20))
    return _mirrored_at_random(pose, rng)


def _family_hands_on_hips(rng: np.random.Generator) -> Pose:
    pose = _everyday_base(rng)
    for side in SIDES if rng.random() < 0.7 else ("L",):
        _draw_arm(pose, side, rng, (-25, -10), (30, 45), (45, 60), (80, 110), (-20, 20))
    return _mirrored_at_random(pose, rng)


def _family_phone_call(rng: np.random.Generator) -> Pose:
    """Phone held to the left ear (mirrored half of the time), the other arm hanging or in a pocket."""
    pose = _everyday_base(rng)
    _draw_arm(pose, "L", rng, (25, 50), (10, 35), (-10, 20), (130, 150), (-20, 20))
    pose["neck_lat"] = rng.uniform(0, 15)
    if rng.random() < 0.4:
        _pocket_arm(pose, "R", rng)
    return _mirrored_at_random(pose, rng)


def _family_phone_looking(rng: np.random.Generator) -> Pose:
    """Looking down at a phone held in front of the chest with one or both hands."""
    pose = _everyday_base(rng)
    pose["neck_flex"] = rng.uniform(20, 45)
    pose["neck_twist"] = rng.uniform(-10, 10)
    _draw_arm(pose, "L", rng, (5, 30), (0, 15), (0, 30), (80, 115), (-20, 20))
    if rng.random() < 0.5:
        _draw_arm(pose, "R", rng, (5, 30), (0, 15), (0, 30), (80, 115), (-20, 20))
    return _mirrored_at_random(pose, rng)


def _family_carrying(rng: np.random.Generator) -> Pose:
    """Carrying: a bag at the side (straight arm, slightly away from the body) or a box or
    bag held in front with both forearms."""
    pose = _everyday_base(rng)
    if rng.random() < 0.6:
        _draw_arm(pose, "L", rng, (-5, 10), (8, 20), (-15, 15), (0, 12), (-10, 10))
    else:
        for side in SIDES:
            _draw_arm(pose, side, rng, (10, 35), (5, 20), (0, 25), (70, 100), (-15, 15))
    return _mirrored_at_random(pose, rng)


def _family_pointing(rng: np.random.Generator) -> Pose:
    pose = _everyday_base(rng)
    _draw_arm(pose, "L", rng, (55, 100), (0, 45), (-20, 20), (0, 15), (-15, 15))
    return _mirrored_at_random(pose, rng)


# ------------------------------------------------------------------ v2: sports


def _family_kicking(rng: np.random.Generator) -> Pose:
    """Kicking with the left leg (mirrored half of the time): the thigh swung forward
    60-110 degrees with the shin at least 35 degrees above hanging (the foot well off the
    ground), the standing knee a little bent, the torso leaning back, both arms out for
    balance, the arm opposite the kicking leg swung forward."""
    pose = neutral_pose()
    _relaxed_torso(pose, rng, scale=0.5)
    pose["spine_flex"] = rng.uniform(-20, 5)
    thigh = rng.uniform(60, 110)
    shin_raise = rng.uniform(35, min(thigh, 95))  # shin angle from hanging straight down
    pose["hip_flex.L"], pose["hip_abd.L"], pose["hip_twist.L"] = thigh, rng.uniform(0, 20), rng.uniform(-15, 10)
    pose["knee.L"], pose["ankle.L"] = thigh - shin_raise, rng.uniform(0, 40)
    pose["hip_flex.R"], pose["hip_abd.R"], pose["hip_twist.R"] = rng.uniform(-10, 10), rng.uniform(0, 10), \
        rng.uniform(-15, 15)
    pose["knee.R"], pose["ankle.R"] = rng.uniform(5, 30), rng.uniform(-10, 10)
    _draw_arm(pose, "L", rng, (-45, 10), (35, 85), (-20, 20), (10, 60), (-20, 20))
    _draw_arm(pose, "R", rng, (20, 75), (25, 80), (-20, 20), (10, 60), (-20, 20))
    return _mirrored_at_random(pose, rng)


def _family_jumping(rng: np.random.Generator) -> Pose:
    """In the air (:data:`AIRBORNE` lifts the body off the ground): knees tucked towards
    the chest or bent back, or legs straddled; arms up or forward, both or one.
    Mirrored half of the time."""
    pose = neutral_pose()
    _relaxed_torso(pose, rng, scale=0.5)
    legs = rng.choice(["tuck", "bent_back", "straddle"])
    for side in SIDES:
        if legs == "tuck":
            hip, knee, abd = rng.uniform(60, 110), rng.uniform(70, 130), rng.uniform(0, 20)
        elif legs == "bent_back":
            hip, knee, abd = rng.uniform(-10, 30), rng.uniform(40, 110), rng.uniform(0, 15)
        else:
            hip, knee, abd = rng.uniform(-5, 25), rng.uniform(20, 70), rng.uniform(25, 50)
        pose[f"hip_flex.{side}"], pose[f"hip_abd.{side}"], pose[f"knee.{side}"] = hip, abd, knee
        pose[f"hip_twist.{side}"], pose[f"ankle.{side}"] = rng.uniform(-10, 10), rng.uniform(15, 45)
    if legs == "tuck":
        pose["spine_flex"] = rng.uniform(5, 35)
    arms = rng.choice(["up", "forward", "one_up"])
    for side in SIDES:
        if arms == "up" or (arms == "one_up" and side == "L"):
            _draw_arm(pose, side, rng, (130, 180), (0, 45), (-30, 30), (0, 40), (-20, 20))
        elif arms == "forward":
            _draw_arm(pose, side, rng, (60, 120), (0, 35), (-30, 30), (0, 60), (-20, 20))
        else:
            _draw_arm(pose, side, rng, (-20, 40), (20, 60), (-20, 20), (20, 90), (-20, 20))
    return _mirrored_at_random(pose, rng)


def _family_throwing(rng: np.random.Generator) -> Pose:
    """Overhand throw with the right arm (mirrored half of the time), left leg in front.
    Cocked (two thirds): the throwing arm raised above the shoulder with the forearm bent
    back behind the head, the chest turned towards the throwing side, the other arm
    reaching towards the target. Follow-through: the throwing arm swung forward and down
    across the body, the chest turned the other way and bent forward."""
    pose = neutral_pose()
    _relaxed_torso(pose, rng, scale=0.5)
    pose["hip_flex.L"], pose["knee.L"] = rng.uniform(20, 45), rng.uniform(5, 35)
    pose["hip_flex.R"], pose["knee.R"] = rng.uniform(-25, -5), rng.uniform(10, 35)
    for side in SIDES:
        pose[f"hip_abd.{side}"], pose[f"hip_twist.{side}"] = rng.uniform(0, 15), rng.uniform(-20, 10)
        pose[f"ankle.{side}"] = rng.uniform(-10, 20)
    if rng.random() < 2 / 3:  # cocked
        pose["spine_twist"], pose["spine_lat"] = rng.uniform(-40, -15), rng.uniform(0, 15)
        pose["spine_flex"] = rng.uniform(-15, 5)
        # Twisted outwards so that the bent forearm points up, the hand above the head.
        _draw_arm(pose, "R", rng, (120, 150), (0, 35), (-60, -35), (30, 90), (-30, 30))
        _draw_arm(pose, "L", rng, (40, 90), (10, 50), (-20, 20), (5, 50), (-20, 20))
    else:  # follow-through
        pose["spine_twist"], pose["spine_lat"] = rng.uniform(15, 40), rng.uniform(-10, 5)
        pose["spine_flex"] = rng.uniform(10, 35)
        _draw_arm(pose, "R", rng, (40, 90), (-10, 20), (-30, 10), (0, 45), (-20, 20))
        _draw_arm(pose, "L", rng, (-30, 15), (10, 40), (-20, 20), (60, 110), (-20, 20))
    return _mirrored_at_random(pose, rng)


def _family_sprinting(rng: np.random.Generator) -> Pose:
    """A sprint stride: long leg swing with a high knee, a strong arm pump (each arm
    against the opposite leg, swinging up to about 110 degrees forward and 50 back),
    elbows bent about 90 degrees, the torso leaning forward. Mirrored half of the time."""
    pose = neutral_pose()
    _relaxed_torso(pose, rng, scale=0.4)
    pose["spine_flex"] = rng.uniform(10, 30)
    phase = rng.uniform(0, 2 * math.pi)
    stride = rng.uniform(45, 70)
    pump = rng.uniform(1.2, 1.6)
    for side, shift in (("L", 0.0), ("R", math.pi)):
        swing = math.sin(phase + shift)
        forward_motion = max(0.0, math.cos(phase + shift))
        pose[f"hip_flex.{side}"] = stride * swing * (1.0 if swing > 0 else 0.6) + 15  # extension ends near -30
        pose[f"hip_abd.{side}"], pose[f"hip_twist.{side}"] = rng.uniform(0, 8), rng.uniform(-10, 10)
        pose[f"knee.{side}"] = rng.uniform(10, 25) + 1.8 * stride * forward_motion
        pose[f"ankle.{side}"] = rng.uniform(0, 35)
        arm = -pump * stride * swing
        _set_arm(pose, side, (arm if arm > 0 else 0.4 * arm) + rng.uniform(-4, 4), rng.uniform(5, 20),
                 rng.uniform(-15, 15), rng.uniform(75, 110), rng.uniform(-15, 15))
    return _mirrored_at_random(pose, rng)


#: Families in the air: the body is lifted this far (metres, (low, high)) off the ground.
AIRBORNE: dict[str, tuple[float, float]] = {"jumping": (0.1, 0.45)}


_FAMILIES: dict[str, Callable[[np.random.Generator], Pose]] = {
    "walking_natural": _family_walking_natural,
    "arms_hanging": _family_arms_hanging,
    "hands_in_pockets": _family_hands_in_pockets,
    "arms_crossed": _family_arms_crossed,
    "hands_on_hips": _family_hands_on_hips,
    "phone_call": _family_phone_call,
    "phone_looking": _family_phone_looking,
    "carrying": _family_carrying,
    "pointing": _family_pointing,
    "standing": _family_standing,
    "walking": _family_walking,
    "running": _family_running,
    "sitting": _family_sitting,
    "arms_raised": _family_arms_raised,
    "bending": _family_bending,
    "squatting": _family_squatting,
    "kneeling": _family_kneeling,
    "free": _family_free,
    "kicking": _family_kicking,
    "jumping": _family_jumping,
    "throwing": _family_throwing,
    "sprinting": _family_sprinting,
}


def sample_pose(rng: np.random.Generator, family: str | None = None,
                family_weights: Mapping[str, float] | None = None) -> tuple[str, Pose]:
    """Draw a random plausible pose.

    Args:
        rng: random generator (the only source of randomness).
        family: one of :data:`POSE_FAMILIES` or :data:`POSE_FAMILIES_V2`; None draws one by
            ``family_weights``.
        family_weights: sampling weights per family (default :data:`POSE_FAMILIES`).

    Returns:
        ``(family, pose)``, pose clamped to :data:`JOINT_LIMITS` (degrees).

    Raises:
        ValueError: for an unknown family name.
    """
    if family is None:
        weights = dict(family_weights or POSE_FAMILIES)
        unknown = set(weights) - set(_FAMILIES)
        if unknown:
            raise ValueError(f"unknown pose families {sorted(unknown)}; known: {sorted(_FAMILIES)}")
        names = sorted(weights)
        p = np.array([weights[n] for n in names], dtype=np.float64)
        if p.sum() <= 0:
            raise ValueError("pose family weights must have a positive sum")
        family = names[int(rng.choice(len(names), p=p / p.sum()))]
    if family not in _FAMILIES:
        raise ValueError(f"unknown pose family {family!r}; known: {sorted(_FAMILIES)}")
    pose = _FAMILIES[family](rng)
    return family, clamp_pose(pose)


# ---------------------------------------------------------------- angles -> rotations


def axis_angle(axis: np.ndarray, degrees: float) -> np.ndarray:
    """(3, 3) rotation of ``degrees`` about ``axis`` (normalised here), right-handed."""
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    t = math.radians(degrees)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * (k @ k)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(3, 3) rotation of smallest angle taking direction ``a`` to direction ``b``."""
    a = np.asarray(a, dtype=np.float64) / np.linalg.norm(a)
    b = np.asarray(b, dtype=np.float64) / np.linalg.norm(b)
    cross = np.cross(a, b)
    sin = np.linalg.norm(cross)
    cos = float(np.dot(a, b))
    if sin < 1e-9:
        if cos > 0:
            return np.eye(3)
        # Opposite directions: half turn about any axis perpendicular to a.
        helper = np.array([1.0, 0.0, 0.0]) if abs(a[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        return axis_angle(np.cross(a, helper), 180.0)
    return axis_angle(cross, math.degrees(math.atan2(sin, cos)))


def limb_direction(flex: float, abd: float, side: str) -> np.ndarray:
    """Unit direction (3,) of an upper arm or thigh in the body frame (see module doc)."""
    s = 1.0 if side == "L" else -1.0
    f, a = math.radians(flex), math.radians(abd)
    return np.array([s * math.sin(a), -math.sin(f) * math.cos(a), -math.cos(f) * math.cos(a)])


class ReferenceSkeleton:
    """Rest-pose bone geometry that the angle-to-rotation mapping needs.

    Args:
        bone_heads: mapping bone name -> (3,) rest-pose head position in metres (body
            frame). Needs the arm, leg, spine and neck bones of anny's ``"anny"`` rig.
    """

    def __init__(self, bone_heads: Mapping[str, np.ndarray]) -> None:
        def direction(a: str, b: str) -> np.ndarray:
            d = np.asarray(bone_heads[b], np.float64) - np.asarray(bone_heads[a], np.float64)
            return d / np.linalg.norm(d)

        self.upper_arm = {s: direction(f"upperarm01.{s}", f"lowerarm01.{s}") for s in SIDES}
        self.forearm = {s: direction(f"lowerarm01.{s}", f"wrist.{s}") for s in SIDES}
        self.thigh = {s: direction(f"upperleg01.{s}", f"lowerleg01.{s}") for s in SIDES}
        self.shin = {s: direction(f"lowerleg01.{s}", f"foot.{s}") for s in SIDES}
        # Hinge axes (v1 kinematics): a positive rotation swings the forearm forwards, the
        # shin backwards, from anny's rest pose, which bends the elbows by about 43 degrees
        # and the knees by about 10: there an angle of 0 is that bent limb.
        self.elbow_axis = {s: _unit(np.cross(self.forearm[s], _FORWARD)) for s in SIDES}
        self.knee_axis = {s: _unit(np.cross(self.shin[s], _BACKWARD)) for s in SIDES}
        # v2 kinematics: first straighten the rest pose's bend, then flex about the hinge of
        # the straight limb, so that an elbow or knee angle of 0 is a straight limb.
        self.straighten_forearm = {s: rotation_between(self.forearm[s], self.upper_arm[s]) for s in SIDES}
        self.straighten_shin = {s: rotation_between(self.shin[s], self.thigh[s]) for s in SIDES}
        self.straight_elbow_axis = {s: _unit(np.cross(self.upper_arm[s], _FORWARD)) for s in SIDES}
        self.straight_knee_axis = {s: _unit(np.cross(self.thigh[s], _BACKWARD)) for s in SIDES}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _euler_xyz(flex: float, lat: float, twist: float) -> np.ndarray:
    """Rotation for a forward bend (about +x), a left lean (about +y) and a left turn (+z)."""
    return axis_angle(np.array([0.0, 0.0, 1.0]), twist) @ axis_angle(
        np.array([0.0, 1.0, 0.0]), lat) @ axis_angle(np.array([1.0, 0.0, 0.0]), flex)


def pose_to_bone_rotations(pose: Mapping[str, float], ref: ReferenceSkeleton,
                           straight_limbs: bool = False) -> dict[str, np.ndarray]:
    """Per-bone (3, 3) delta rotations for anny's ``"local-ref"`` parameterisation.

    Args:
        pose: joint angles in degrees (missing joints count as 0).
        ref: rest-pose bone directions.
        straight_limbs: v2 kinematics: elbow and knee angles count from a straight limb,
            as the module documents. False (v1, the renders of ``SYNTH_VERSION`` 1.0.0):
            they count from anny's rest pose, whose elbows are bent by about 43 degrees and
            knees by about 10, so every forearm carries that extra flexion.

    Returns:
        mapping bone name -> (3, 3) rotation matrix; bones not listed stay at rest.
    """
    p = {**neutral_pose(), **pose}
    rot: dict[str, np.ndarray] = {}
    for bone, share in _SPINE_BONES:
        rot[bone] = _euler_xyz(p["spine_flex"] * share, p["spine_lat"] * share, p["spine_twist"] * share)
    for bone, share in _NECK_BONES:
        rot[bone] = _euler_xyz(p["neck_flex"] * share, p["neck_lat"] * share, p["neck_twist"] * share)
    for side in SIDES:
        s = 1.0 if side == "L" else -1.0
        # Upper arm: aim, then twist about the new axis (mirrored between the sides).
        arm_dir = limb_direction(p[f"shoulder_flex.{side}"], p[f"shoulder_abd.{side}"], side)
        rot[f"upperarm01.{side}"] = axis_angle(arm_dir, s * p[f"shoulder_twist.{side}"]) @ rotation_between(
            ref.upper_arm[side], arm_dir)
        # Above the horizontal the clavicle takes part of the elevation.
        elevation = math.degrees(math.acos(max(-1.0, min(1.0, -arm_dir[2]))))
        rot[f"clavicle.{side}"] = axis_angle(np.array([0.0, 1.0, 0.0]), -s * 0.25 * max(0.0, elevation - 90.0))
        if straight_limbs:
            rot[f"lowerarm01.{side}"] = axis_angle(ref.straight_elbow_axis[side], p[f"elbow.{side}"]) @ \
                ref.straighten_forearm[side]
            rot[f"wrist.{side}"] = axis_angle(ref.straight_elbow_axis[side], p[f"wrist.{side}"])
        else:
            rot[f"lowerarm01.{side}"] = axis_angle(ref.elbow_axis[side], p[f"elbow.{side}"])
            rot[f"wrist.{side}"] = axis_angle(ref.elbow_axis[side], p[f"wrist.{side}"])
        leg_dir = limb_direction(p[f"hip_flex.{side}"], p[f"hip_abd.{side}"], side)
        rot[f"upperleg01.{side}"] = axis_angle(leg_dir, s * p[f"hip_twist.{side}"]) @ rotation_between(
            ref.thigh[side], leg_dir)
        if straight_limbs:
            rot[f"lowerleg01.{side}"] = axis_angle(ref.straight_knee_axis[side], p[f"knee.{side}"]) @ \
                ref.straighten_shin[side]
        else:
            rot[f"lowerleg01.{side}"] = axis_angle(ref.knee_axis[side], p[f"knee.{side}"])
        rot[f"foot.{side}"] = axis_angle(np.array([1.0, 0.0, 0.0]), p[f"ankle.{side}"])
    return rot
