"""What the pose sampler produces: wrist height relative to hip and shoulder height, per
side and per pose family, measured on posed anny bodies (:func:`wrist_height_table`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from edgepose.data.synth import pose as synth_pose
from edgepose.data.synth.body import BodyModel

_BATCH = 100  # poses per call of the body model


@dataclass(frozen=True)
class WristHeights:
    """Wrist heights of one group of sampled poses, per side (``"L"``, ``"R"``).

    Heights are in torso lengths (the standing distance from mid-hip to mid-shoulder
    height of the same body), along the vertical of the body frame.

    Attributes:
        label: family name, or ``"all (<sampler>)"`` for a sampler's weighted mixture.
        count: number of poses.
        above_hip: side -> mean of (wrist - same-side hip) height.
        above_shoulder: side -> mean of (wrist - same-side shoulder) height.
        share_over_hip: side -> fraction of poses with the wrist above the hip.
        share_over_shoulder: side -> fraction of poses with the wrist above the shoulder.
    """

    label: str
    count: int
    above_hip: dict[str, float]
    above_shoulder: dict[str, float]
    share_over_hip: dict[str, float]
    share_over_shoulder: dict[str, float]


_WRIST = {"L": 9, "R": 10}
_SHOULDER = {"L": 5, "R": 6}
_HIP = {"L": 11, "R": 12}


def posed_keypoints(body: BodyModel, poses: Sequence[Mapping[str, float]], straight_limbs: bool) -> np.ndarray:
    """(N, 17, 3) COCO keypoints (metres, body frame, z up) of the average body in ``poses``
    (``straight_limbs``: the v2 kinematics)."""
    out = []
    for start in range(0, len(poses), _BATCH):
        chunk = poses[start:start + _BATCH]
        _, keypoints, _ = body.pose_people([{}] * len(chunk), chunk, straight_limbs)
        out.append(keypoints)
    return np.concatenate(out)


def wrist_heights(label: str, keypoints: np.ndarray, torso: float) -> WristHeights:
    """Summarise (N, 17, 3) posed keypoints; ``torso`` in metres (see :class:`WristHeights`)."""
    z = keypoints[:, :, 2]
    hip, shoulder, over_hip, over_shoulder = {}, {}, {}, {}
    for side in synth_pose.SIDES:
        rel_hip = (z[:, _WRIST[side]] - z[:, _HIP[side]]) / torso
        rel_shoulder = (z[:, _WRIST[side]] - z[:, _SHOULDER[side]]) / torso
        hip[side], shoulder[side] = float(rel_hip.mean()), float(rel_shoulder.mean())
        over_hip[side], over_shoulder[side] = float((rel_hip > 0).mean()), float((rel_shoulder > 0).mean())
    return WristHeights(label, int(z.shape[0]), hip, shoulder, over_hip, over_shoulder)


def standing_torso(body: BodyModel) -> float:
    """Mid-hip to mid-shoulder height (metres) of the average body in the neutral pose."""
    k = posed_keypoints(body, [synth_pose.neutral_pose()], straight_limbs=True)[0]
    return float((k[5, 2] + k[6, 2]) / 2 - (k[11, 2] + k[12, 2]) / 2)


def wrist_height_table(body: BodyModel, weights: Mapping[str, float], per_family: int, straight_limbs: bool,
                       label: str, seed: int = 0) -> list[WristHeights]:
    """Wrist heights per pose family of one sampler, and for its weighted mixture.

    Args:
        body: the loaded body model.
        weights: family -> sampling weight (e.g. :data:`~edgepose.data.synth.pose.POSE_FAMILIES`);
            every family with a positive weight gets a row.
        per_family: poses drawn per family (and for the mixture).
        straight_limbs: the sampler's kinematics (v2: True).
        label: the sampler's name, for the mixture's row ``"all (<label>)"``.
        seed: random seed.

    Returns:
        one :class:`WristHeights` per family (sorted by name), then the mixture's.
    """
    torso = standing_torso(body)
    rng = np.random.default_rng(seed)
    rows = []
    for family in sorted(f for f, w in weights.items() if w > 0):
        poses = [synth_pose.sample_pose(rng, family)[1] for _ in range(per_family)]
        rows.append(wrist_heights(family, posed_keypoints(body, poses, straight_limbs), torso))
    poses = [synth_pose.sample_pose(rng, None, weights)[1] for _ in range(per_family)]
    rows.append(wrist_heights(f"all ({label})", posed_keypoints(body, poses, straight_limbs), torso))
    return rows


def format_table(rows: Sequence[WristHeights]) -> str:
    """A Markdown table of :func:`wrist_height_table` rows."""
    lines = ["| family | n | wrist-hip L | wrist-hip R | wrist-shoulder L | wrist-shoulder R "
             "| over hip L | over hip R | over shoulder L | over shoulder R |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r.label} | {r.count} | {r.above_hip['L']:+.2f} | {r.above_hip['R']:+.2f} "
            f"| {r.above_shoulder['L']:+.2f} | {r.above_shoulder['R']:+.2f} "
            f"| {r.share_over_hip['L']:.0%} | {r.share_over_hip['R']:.0%} "
            f"| {r.share_over_shoulder['L']:.0%} | {r.share_over_shoulder['R']:.0%} |")
    return "\n".join(lines)
