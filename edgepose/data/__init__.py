"""Top-down pose datasets: COCO-format keypoints (COCO, CrowdPose, synthetic), MPII.

Every dataset yields dicts (see :mod:`edgepose.data.topdown`)::

    {"image": (3, H, W) float32, <codec targets>, "meta": {...}}

built from a :class:`~edgepose.zoo.ModelSpec`, e.g.::

    spec = edgepose.get_spec("simdr_r50_128")
    train = CocoPoseDataset("person_keypoints_train2017.json", "train2017", spec, train=True, seed=0)
    val = CocoPoseDataset("person_keypoints_val2017.json", "val2017", spec, train=False,
                          detections="COCO_val2017_detections_AP_H_56_person.json")
    loader = torch.utils.data.DataLoader(train, batch_size=64, shuffle=True, num_workers=8)
    for epoch in range(epochs):
        train.set_epoch(epoch)   # augmentation stream of this epoch
        for batch in loader: ...

The package itself is numpy + OpenCV only; the default torch collate turns the numpy
arrays into tensors.
"""

from edgepose.data.coco import (
    CocoAnnotations,
    CocoPoseDataset,
    load_coco_detections,
    load_coco_gt_persons,
    read_coco_annotations,
)
from edgepose.data.crowdpose import CrowdPoseDataset, crowd_index_split
from edgepose.data.mpii import MPII_AUGMENT, MpiiDataset, load_mpii_persons
from edgepose.data.topdown import (
    AnnotationError,
    DataFileNotFoundError,
    ImageReadError,
    PersonTable,
    PersonTableBuilder,
    TopDownDataset,
    load_image,
    worker_init_fn,
)
from edgepose.data.transforms import (
    AugmentConfig,
    CropParams,
    crop_person,
    hflip_image,
    hflip_keypoints,
    normalize,
    sample_crop,
)

__all__ = [
    "AnnotationError", "AugmentConfig", "CocoAnnotations", "CocoPoseDataset", "CropParams",
    "CrowdPoseDataset", "DataFileNotFoundError", "ImageReadError", "MPII_AUGMENT", "MpiiDataset",
    "PersonTable", "PersonTableBuilder", "TopDownDataset", "crop_person", "crowd_index_split",
    "hflip_image", "hflip_keypoints", "load_coco_detections", "load_coco_gt_persons", "load_image",
    "load_mpii_persons", "normalize", "read_coco_annotations", "sample_crop", "worker_init_fn",
]
