"""The anny body model: loading (and its first-use cache build), per-vertex garment
regions, and posing a batch of bodies into vertices and COCO-17 keypoints."""

from __future__ import annotations

import functools
import importlib.util
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from edgepose.data.synth import clothing
from edgepose.data.synth import pose as synth_pose
from edgepose.data.synth.config import KEYPOINT_SET
from edgepose.errors import InputError
from edgepose.skeleton import get_keypoint_set

logger = logging.getLogger(__name__)


_REGION_OF_BONE_PREFIX = (
    ("eye.", "eyes"), ("head", "head"), ("neck03", "head"), ("neck", "neck"),
    ("spine", "torso"), ("clavicle", "torso"), ("shoulder01", "torso"),
    ("upperarm", "arm"), ("lowerarm", "arm"), ("wrist", "hand"), ("finger", "hand"),
    ("metacarpal", "hand"), ("root", "pelvis"), ("pelvis", "pelvis"),
    ("upperleg", "leg"), ("lowerleg", "leg"), ("foot", "foot"), ("toe", "foot"),
)



def _quiet_warp() -> None:
    """Silence the banner that NVIDIA Warp (an anny dependency) prints when imported."""
    if importlib.util.find_spec("warp") is not None:
        import warp  # noqa: PLC0415

        warp.config.quiet = True


def _anny_cache_dir() -> Path:
    """The folder of anny's built model data for its current data version."""
    from anny.models.model_data import CURRENT_DATA_VERSION  # noqa: PLC0415
    from anny.paths import get_anny_cache_path  # noqa: PLC0415

    return Path(get_anny_cache_path()) / f"v{CURRENT_DATA_VERSION}"


def body_cache_ready() -> bool:
    """Whether anny's model-data cache is built (loading the body model then takes about a
    second instead of about a minute). Needs the 'train' extra (anny)."""
    _quiet_warp()
    folder = _anny_cache_dir()
    return folder.is_dir() and any(folder.glob("*.safetensors"))


class BodyModel:
    """anny body model + its COCO keypoint regressor + per-vertex appearance data.

    Loading builds anny's blend-shape cache on first use (about a minute, stored under
    ``~/.cache/anny`` or ``$ANNY_CACHE_DIR``); later loads take well under a second.

    Attributes:
        faces: (F, 3) int64 triangle vertex indices (counter-clockwise from outside).
        keypoint_names: the COCO-17 names, in order.
        regions: (V,) int, garment region index (:data:`clothing.REGIONS`) per vertex.
        limb_coord: (V,) float, 0 at shoulder/hip to 1 at wrist/ankle on arms and legs.
        scalp: (V,) float, head vertices' height above a nominal hairline (5 cm units).
        iris: (V,) bool, the front of the eyeballs.
        parts: vertex indices (int64 arrays) of each body part: the vertices that one
            bone moves most.
        rest_coords: (V, 3) float64 rest-pose vertex positions (metres) of the average body.
    """

    def __init__(self) -> None:
        try:
            _quiet_warp()
            import anny  # noqa: PLC0415
            import torch  # noqa: PLC0415
        except ImportError as exc:
            raise ImportError(
                "synthetic humans need the 'train' extra (torch and anny): pip install 'edgepose[train]'"
            ) from exc
        self._torch = torch
        start = time.perf_counter()
        if not body_cache_ready():
            logger.info("building the anny body-model cache in %s (first use on this machine: about a "
                        "minute, nothing is rendered meanwhile; later loads take about a second)",
                        _anny_cache_dir())
        # Phenotype values beyond [0, 1] (the OOD body shapes) extrapolate the blend shapes
        # linearly instead of being clamped; values inside [0, 1] are unaffected.
        self.model = anny.Anny(skinning_method="lbs", extrapolate_phenotypes=True).to(dtype=torch.float32)
        self.model.eval()
        self.keypoint_names = get_keypoint_set(KEYPOINT_SET).names
        self.regressor = anny.KeypointsRegressor.coco(self.model, labels=list(self.keypoint_names))
        self.faces = self.model.faces.detach().cpu().numpy().astype(np.int64)
        self.bone_labels = list(self.model.bone_labels)
        with torch.no_grad():
            rest = self.model()
        heads = rest["rest_bone_heads"][0].double().numpy()
        self.bone_heads = {label: heads[i] for i, label in enumerate(self.bone_labels)}
        self.reference = synth_pose.ReferenceSkeleton(self.bone_heads)
        self.rest_coords = rest["rest_vertices"][0].double().numpy()
        self._init_regions()
        logger.info("anny body model loaded in %.1f s (%d vertices, %d triangles)",
                    time.perf_counter() - start, self.rest_coords.shape[0], self.faces.shape[0])

    def _init_regions(self) -> None:
        """Per-vertex garment regions, limb coordinates and scalp score on the rest mesh."""
        dominant = self.model.vertex_bone_indices[:, 0].cpu().numpy()
        region_names = []
        for label in self.bone_labels:
            region = next((r for prefix, r in _REGION_OF_BONE_PREFIX if label.startswith(prefix)), "torso")
            region_names.append(clothing.REGIONS.index(region))
        self.regions = np.asarray(region_names, dtype=np.int64)[dominant]
        order = np.argsort(dominant, kind="stable")
        bounds = np.nonzero(np.diff(dominant[order]))[0] + 1
        self.parts = [np.sort(group) for group in np.split(order, bounds)]

        v = self.rest_coords
        self.limb_coord = np.zeros(v.shape[0], dtype=np.float64)
        side_of_vertex = np.where(v[:, 0] >= 0, "L", "R")
        for region, start_bone, end_bone in (("arm", "upperarm01", "wrist"), ("leg", "upperleg01", "foot")):
            for side in synth_pose.SIDES:
                sel = (self.regions == clothing.REGIONS.index(region)) & (side_of_vertex == side)
                a, b = self.bone_heads[f"{start_bone}.{side}"], self.bone_heads[f"{end_bone}.{side}"]
                axis = b - a
                self.limb_coord[sel] = (v[sel] - a) @ axis / float(axis @ axis)

        eye = 0.5 * (self.bone_heads["eye.L"] + self.bone_heads["eye.R"])
        depth_back = np.clip((v[:, 1] - eye[1]) / 0.16, 0.0, 1.0)  # 0 at the eyes, 1 at the back
        hairline = eye[2] + 0.045 - 0.125 * depth_back
        self.scalp = np.where(self.regions == clothing.REGIONS.index("head"),
                              (v[:, 2] - hairline) / 0.05, -1e3)
        # The front cap of each eyeball (anny's eyeballs are spheres of radius ~1.6 cm).
        self.iris = (self.regions == clothing.REGIONS.index("eyes")) & (v[:, 1] - eye[1] < -0.011)

    @property
    def num_vertices(self) -> int:
        return int(self.rest_coords.shape[0])

    def pose_people(self, phenotypes: Sequence[Mapping[str, float]],
                    poses: Sequence[Mapping[str, float]], straight_limbs: bool = False,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pose a batch of bodies.

        Args:
            phenotypes: per person, anny phenotype values (gender, age, muscle, weight,
                height, proportions), 0 to 1 within anny's range; values beyond it
                extrapolate the shape (:data:`edgepose.data.synth.holdout.OOD_SHAPE_BANDS`).
            poses: per person, joint angles in degrees (:mod:`edgepose.data.synth.pose`).
            straight_limbs: v2 kinematics, elbow and knee angle 0 = a straight limb
                (:func:`edgepose.data.synth.pose.pose_to_bone_rotations`).

        Returns:
            ``vertices (B, V, 3)``, ``keypoints (B, 17, 3)`` in metres in the body frame
            (x left, y back, z up), and ``rest_height (B,)`` in metres (standing height).
        """
        torch = self._torch
        if len(phenotypes) != len(poses) or not poses:
            raise InputError("pose_people needs as many phenotypes as poses, at least one")
        rotations = [synth_pose.pose_to_bone_rotations(p, self.reference, straight_limbs) for p in poses]
        bones = sorted({b for r in rotations for b in r})
        deltas = {}
        for bone in bones:
            mats = np.tile(np.eye(4), (len(poses), 1, 1))
            for i, r in enumerate(rotations):
                if bone in r:
                    mats[i, :3, :3] = r[bone]
            deltas[bone] = torch.from_numpy(mats).to(torch.float32)
        labels = list(self.model.phenotype_labels)
        phen = {k: torch.tensor([float(p.get(k, 0.5)) for p in phenotypes], dtype=torch.float32) for k in labels}
        with torch.no_grad():
            out = self.model(pose_parameters=deltas, phenotype_kwargs=phen)
            keypoints = self.regressor(out)
        rest = out["rest_vertices"]
        rest_height = (rest[..., 2].amax(dim=1) - rest[..., 2].amin(dim=1)).double().numpy()
        return out["vertices"].double().numpy(), keypoints.double().numpy(), rest_height


@functools.lru_cache(maxsize=1)
def get_body_model() -> BodyModel:
    """The process-wide :class:`BodyModel` (loaded once)."""
    return BodyModel()

