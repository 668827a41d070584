"""Labels of a rendered image: keypoint visibility from the z-buffer, boxes, areas and
masks of the people (COCO conventions, see :mod:`edgepose.data.synth`)."""

from __future__ import annotations

import numpy as np

from edgepose.data.synth.body import BodyModel
from edgepose.data.synth.camera import Camera
from edgepose.data.synth.config import SynthConfig
from edgepose.data.synth.garments import LOOSE_COVER_M
from edgepose.data.synth.people import Person
from edgepose.data.synth.raster import NEAR_PLANE

#: Depth tolerance (metres, for a body of standing height 1.7 m) within which the
#: surface seen at a keypoint's pixel still counts as that keypoint's own surface.
#: Joint centres lie inside limbs, so the tolerance is about the limb's thickness.
_VISIBILITY_TOLERANCE_M = {
    "nose": 0.04, "left_eye": 0.04, "right_eye": 0.04, "left_ear": 0.045, "right_ear": 0.045,
    "left_shoulder": 0.12, "right_shoulder": 0.12, "left_elbow": 0.08, "right_elbow": 0.08,
    "left_wrist": 0.07, "right_wrist": 0.07, "left_hip": 0.17, "right_hip": 0.17,
    "left_knee": 0.10, "right_knee": 0.10, "left_ankle": 0.08, "right_ankle": 0.08,
}



def keypoint_visibility(
    keypoints_px: np.ndarray,
    keypoints_depth: np.ndarray,
    tolerance: np.ndarray,
    person_index: int,
    owner: np.ndarray,
    depth: np.ndarray,
    occluded: np.ndarray,
    supersample: int,
    size: int,
    cover: np.ndarray | None = None,
) -> np.ndarray:
    """COCO visibility (K,) int of one person's keypoints.

    Args:
        keypoints_px: (K, 2) output-image pixel coordinates.
        keypoints_depth: (K,) camera depth in metres.
        tolerance: (K,) metres; the surface seen within this depth in front of the
            keypoint counts as its own.
        person_index: index of the person in ``owner``.
        owner: (Hs, Ws) int, person owning each supersampled pixel, -1 for none, -2
            for a prop (seat).
        depth: (Hs, Ws) float32 depth buffer (metres).
        occluded: (Hs, Ws) bool, pixels under an occluder.
        supersample: factor between the buffers and the output image.
        size: output image side in pixels.
        cover: (Hs, Ws) float32 metres that the surface seen stands off its wearer's body
            (0: the body itself; inf: hair, hats, bags), None: bodies only. A garment
            looser than :data:`edgepose.data.synth.garments.LOOSE_COVER_M` hides the
            keypoint; a close-fitting one counts as the person's own surface, its
            ``cover`` added to the tolerance.

    Returns:
        (K,) int: 0 outside the image or behind the camera, 1 hidden, 2 visible. A
        keypoint is visible when one of the 3x3 supersampled pixels around it shows this
        person's own surface, uncovered, within ``tolerance``.
    """
    k = keypoints_px.shape[0]
    vis = np.zeros(k, dtype=np.int64)
    hs, ws = owner.shape
    for j in range(k):
        x, y = keypoints_px[j]
        if keypoints_depth[j] <= NEAR_PLANE or not (0.0 <= x <= size - 1 and 0.0 <= y <= size - 1):
            continue
        col = int(round((x + 0.5) * supersample - 0.5))
        row = int(round((y + 0.5) * supersample - 0.5))
        r0, r1 = max(0, row - 1), min(hs, row + 2)
        c0, c1 = max(0, col - 1), min(ws, col + 2)
        own = (owner[r0:r1, c0:c1] == person_index) & ~occluded[r0:r1, c0:c1]
        slack = tolerance[j]
        if cover is not None:
            seen = cover[r0:r1, c0:c1]
            own &= seen <= LOOSE_COVER_M
            slack = slack + np.where(own, seen, 0.0)
        near = keypoints_depth[j] - depth[r0:r1, c0:c1] <= slack
        vis[j] = 2 if np.any(own & near) else 1
    return vis


def _visibility_tolerance(body: BodyModel, person: Person) -> np.ndarray:
    """(17,) depth tolerance in metres for one person: the nominal limb thickness scaled
    by body height, at least 1.5 times the keypoint's distance to its nearest vertex."""
    nominal = np.array([_VISIBILITY_TOLERANCE_M[n] for n in body.keypoint_names]) * person.height / 1.7
    diff = person.keypoints[:, None, :] - person.vertices[None, :, :]
    nearest = np.sqrt(np.min(np.einsum("kvd,kvd->kv", diff, diff), axis=1))
    return np.maximum(nominal, 1.5 * nearest + 0.02)


def annotate(body: BodyModel, people: list[Person], camera: Camera, owner: np.ndarray, depth: np.ndarray,
              occluded: np.ndarray, config: SynthConfig, cover: np.ndarray | None = None,
              ) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keypoints, boxes, areas and masks of the people with at least one visible keypoint.

    ``cover`` (Hs, Ws): how far the surface seen stands off its wearer's body
    (:func:`keypoint_visibility`; None: bodies only).

    Returns:
        indices of the kept people, keypoints (P, K, 3), boxes (P, 4), areas (P,),
        masks (P, H, W).
    """
    size, ss = config.size, config.supersample
    kept, kps, boxes, areas, masks = [], [], [], [], []
    for p, person in enumerate(people):
        visible_ss = (owner == p) & ~occluded
        coverage = visible_ss.reshape(size, ss, size, ss).mean(axis=(1, 3))
        touched = coverage > 0
        if not touched.any():
            continue
        uv, z = camera.project(person.keypoints)
        vis = keypoint_visibility(uv, z, _visibility_tolerance(body, person), p, owner, depth, occluded, ss, size,
                                  cover)
        if not np.any(vis == 2):  # a sliver of a hidden or cut-off person: not annotated
            continue
        rows = np.nonzero(touched.any(axis=1))[0]
        cols = np.nonzero(touched.any(axis=0))[0]
        x0, x1, y0, y1 = cols[0], cols[-1], rows[0], rows[-1]
        for j in np.nonzero(vis == 2)[0]:
            cx, cy = int(round(uv[j, 0])), int(round(uv[j, 1]))
            x0, x1, y0, y1 = min(x0, cx), max(x1, cx), min(y0, cy), max(y1, cy)
        kp = np.zeros((len(vis), 3), dtype=np.float32)
        labelled = vis > 0
        kp[labelled, :2] = uv[labelled]
        kp[:, 2] = vis
        mask = coverage >= 0.5
        kept.append(p)
        kps.append(kp)
        boxes.append([x0, y0, x1 - x0 + 1, y1 - y0 + 1])
        areas.append(float(mask.sum()))
        masks.append(mask)
    k = len(body.keypoint_names)
    return (kept, np.asarray(kps, np.float32).reshape(-1, k, 3), np.asarray(boxes, np.float32).reshape(-1, 4),
            np.asarray(areas, np.float32), np.asarray(masks, bool).reshape(-1, size, size))

