"""Synthetic humans: anny body meshes rendered on the CPU with exact COCO-17 keypoints.

Each image holds one to ``people_max`` people from the anny parametric body model
(Apache-2.0 code, CC0 assets), with random body shapes (sex, age, muscle, weight,
height, proportions), random plausible poses (:mod:`.pose`), procedural clothing, skin
and hair colours (:mod:`.clothing`), Lambertian lighting (:mod:`.light`), a procedural
background (:mod:`.texture`) or a background photograph (:mod:`.backgrounds`), and
random occluders. Meshes go through a numpy z-buffer rasteriser (:mod:`.raster`) at
``supersample`` times the output size, then are area-averaged down (anti-aliasing).

Modules, one job each: :mod:`.config` (settings), :mod:`.body` (the anny model),
:mod:`.pose` (joint angles), :mod:`.clothing` and :mod:`.texture` (appearance),
:mod:`.garments` (garment, hair, hat and bag meshes worn over the body),
:mod:`.people` (people of a scene), :mod:`.camera` (projection, framing, sensor
effects), :mod:`.light`, :mod:`.raster`, :mod:`.scene` (one image), :mod:`.labels`
(visibility, boxes, masks), :mod:`.writer` (COCO dataset files), :mod:`.backgrounds`
(photo backgrounds from a local cache), :mod:`.debian_assets` (filling that cache) and
:mod:`.holdout` (the assets that the OOD split, ``SynthConfig.asset_split``, holds back
from training renders).

Labels come from anny's own COCO keypoint regressor (a fixed linear blend of mesh
vertices), so they are exact for the rendered mesh:

* ``v = 2``: the keypoint projects inside the image and the surface seen there belongs
  to the same person, lies within a per-keypoint depth tolerance of the keypoint
  (limb thickness: the keypoint is not hidden by another body part) and is not covered
  by an occluder (a close-fitting garment counts as the person's own surface, its
  distance off the body added to the tolerance);
* ``v = 1``: inside the image but hidden (self-occlusion, another person, an occluder,
  a loose garment such as a wide sleeve past the wrist or a skirt over the knees, hair,
  a hat or a bag; :mod:`.garments`);
* ``v = 0`` with ``x = y = 0``: outside the image (or behind the camera).

Coordinates follow OpenCV's convention: pixel ``(col, row)`` has its centre at
``(x, y) = (col, row)``. ``bbox`` is ``[x0, y0, w, h]`` in pixel indices of the person's
visible silhouette (every pixel the person covers at least partly, after occlusion),
grown if needed so that it contains the pixel of every visible keypoint; ``area`` and
the RLE ``segmentation`` come from the pixels the person covers at least half.

A dataset is deterministic by seed: image ``i`` draws everything from
``numpy.random.default_rng([seed, i])`` and torch runs single-threaded while
generating, so the same seed gives byte-identical images and json whatever the number
of worker processes (and, with photo backgrounds, given the same background cache).
"""

from edgepose.data.synth.config import SYNTH_VERSION, SynthConfig
from edgepose.data.synth.scene import SynthSample, render_person, render_scene
from edgepose.data.synth.writer import generate_dataset

__all__ = ["SYNTH_VERSION", "SynthConfig", "SynthSample", "generate_dataset", "render_person", "render_scene"]
