"""Top-down transforms: crop matrix vs warped image, flip conventions, augmentation draws."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from edgepose.data.transforms import (
    AugmentConfig,
    CropParams,
    compose_affine,
    crop_matrix,
    crop_person,
    half_body_center_scale,
    hflip_image,
    hflip_keypoints,
    hflip_matrix,
    normalize,
    sample_crop,
    upper_body_index,
)
from edgepose.errors import InputError
from edgepose.geometry import get_affine_matrix, transform_points, warp_crop
from edgepose.preprocess import InputSpec
from edgepose.skeleton import COCO17, CROWDPOSE14, MPII16, get_keypoint_set
from edgepose.zoo import get_spec

HW = st.sampled_from([(64, 64), (128, 96), (96, 128)])


def _blob(shape_hw: tuple[int, int], point: np.ndarray, sigma: float) -> np.ndarray:
    """(H, W, 3) float32 image with a Gaussian blob (peak 1) centred at ``point`` (x, y)."""
    h, w = shape_hw
    ys, xs = np.mgrid[0:h, 0:w]
    g = np.exp(-((xs - point[0]) ** 2 + (ys - point[1]) ** 2) / (2 * sigma**2)).astype(np.float32)
    return np.repeat(g[..., None], 3, axis=2)


def _centroid(image: np.ndarray) -> np.ndarray:
    """Intensity centroid (x, y) of channel 0 in a window around its maximum."""
    ch = image[..., 0].astype(np.float64)
    y0, x0 = np.unravel_index(np.argmax(ch), ch.shape)
    r = 10
    ys, xs = np.mgrid[max(0, y0 - r):y0 + r + 1, max(0, x0 - r):x0 + r + 1]
    win = ch[ys, xs]
    return np.array([(xs * win).sum() / win.sum(), (ys * win).sum() / win.sum()])


@settings(max_examples=60, deadline=None)
@given(
    input_hw=HW,
    img_w=st.integers(160, 320),
    img_h=st.integers(160, 320),
    crop_pt=st.tuples(st.floats(0.25, 0.75), st.floats(0.25, 0.75)),
    zoom=st.floats(0.6, 1.6),
    rotation=st.floats(-80, 80),
    flip=st.booleans(),
    center_frac=st.tuples(st.floats(0.3, 0.7), st.floats(0.3, 0.7)),
)
def test_keypoint_lands_where_the_warped_image_puts_it(
    input_hw, img_w, img_h, crop_pt, zoom, rotation, flip, center_frac
):
    """A keypoint moved with the crop matrix sits on the blob the warp moved (flip included)."""
    h, w = input_hw
    center = np.array([center_frac[0] * img_w, center_frac[1] * img_h])
    scale = np.array([w / zoom, h / zoom])
    params = CropParams(center=center, scale=scale, rotation=rotation, flip=flip)
    matrix = crop_matrix(params, input_hw, img_w)
    target_crop = np.array([crop_pt[0] * w, crop_pt[1] * h])
    inverse = np.vstack([matrix, [0, 0, 1]])
    point = (np.linalg.inv(inverse) @ np.append(target_crop, 1.0))[:2]
    sigma = 4.0
    assume(4 * sigma < point[0] < img_w - 1 - 4 * sigma and 4 * sigma < point[1] < img_h - 1 - 4 * sigma)
    image = _blob((img_h, img_w), point, sigma)
    kp = np.array([point, [0.0, 0.0]])
    crop, kp_crop, vis, m = crop_person(image, kp, np.array([1, 0]), params, input_hw, np.array([1, 0]))
    np.testing.assert_allclose(m, matrix)
    moved = kp_crop[1] if flip else kp_crop[0]  # the flip swaps the two joints
    np.testing.assert_allclose(moved, target_crop, atol=1e-6)
    assert vis.tolist() == ([0, 1] if flip else [1, 0])
    np.testing.assert_allclose(_centroid(crop), moved, atol=0.35)


@settings(max_examples=50, deadline=None)
@given(
    name=st.sampled_from(["coco17", "mpii16", "crowdpose14"]),
    width=st.integers(2, 500),
    seed=st.integers(0, 2**31),
)
def test_flip_twice_is_identity(name, width, seed):
    kset = get_keypoint_set(name)
    rng = np.random.default_rng(seed)
    kp = rng.uniform(-50, 550, size=(kset.num_keypoints, 2))
    vis = rng.integers(0, 3, size=kset.num_keypoints)
    kp1, vis1 = hflip_keypoints(kp, vis, width, kset.flip_index())
    kp2, vis2 = hflip_keypoints(kp1, vis1, width, kset.flip_index())
    np.testing.assert_allclose(kp2, kp)
    np.testing.assert_array_equal(vis2, vis)
    image = rng.integers(0, 255, size=(7, width, 3), dtype=np.uint8)
    np.testing.assert_array_equal(hflip_image(hflip_image(image)), image)
    twice = compose_affine(hflip_matrix(width), hflip_matrix(width))
    np.testing.assert_allclose(twice, [[1, 0, 0], [0, 1, 0]])


@settings(max_examples=50, deadline=None)
@given(width=st.integers(2, 60), height=st.integers(1, 40), data=st.data())
def test_image_flip_and_keypoint_flip_agree(width, height, data):
    """x -> W - 1 - x: a lit pixel and its keypoint move to the same place."""
    x = data.draw(st.integers(0, width - 1))
    y = data.draw(st.integers(0, height - 1))
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[y, x] = 255
    flipped = hflip_image(image)
    ys, xs = np.nonzero(flipped[..., 0])
    kp, _ = hflip_keypoints(np.array([[x, y]], dtype=float), np.ones(1), width, np.array([0]))
    assert (xs[0], ys[0]) == tuple(kp[0].astype(int))
    np.testing.assert_allclose(transform_points(np.array([x, y]), hflip_matrix(width)), kp[0])


def test_flip_folded_into_matrix_equals_flipping_the_image_first():
    """The official code mirrors the whole image, then crops around the mirrored centre."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, size=(120, 150, 3), dtype=np.uint8)
    image = np.ascontiguousarray(np.repeat(np.repeat(image[::6, ::6], 6, 0), 6, 1))
    # smooth: OpenCV 4.x quantises sample positions to 1/32 px, so sharp edges would make
    # the comparison measure interpolation precision instead of the geometry
    image = cv2.GaussianBlur(image, (0, 0), 3)
    params = CropParams(center=np.array([150 - 1 - 70.0, 55.0]), scale=np.array([90.0, 90.0]), rotation=17.0, flip=True)
    folded = warp_crop(image, crop_matrix(params, (64, 64), 150), (64, 64))
    explicit = warp_crop(hflip_image(image), get_affine_matrix(params.center, params.scale, (64, 64), 17.0), (64, 64))
    assert np.abs(folded.astype(int) - explicit.astype(int)).max() <= 2


def test_upper_body_index_matches_official_lists():
    assert upper_body_index(COCO17).tolist() == list(range(11))
    assert upper_body_index(MPII16).tolist() == [7, 8, 9, 10, 11, 12, 13, 14, 15]
    assert upper_body_index(CROWDPOSE14).tolist() == [0, 1, 2, 3, 4, 5, 12, 13]


def test_half_body_crop_covers_selected_joints():
    kp = np.zeros((17, 2))
    kp[:11] = np.column_stack([np.linspace(100, 140, 11), np.linspace(50, 130, 11)])  # upper
    kp[11:] = np.column_stack([np.linspace(100, 120, 6), np.linspace(200, 300, 6)])  # lower
    vis = np.ones(17)
    upper = upper_body_index(COCO17)
    seen = set()
    for seed in range(40):
        center, scale = half_body_center_scale(kp, vis, upper, (256, 192), np.random.default_rng(seed))
        assert scale[0] / scale[1] == pytest.approx(192 / 256)
        part = kp[:11] if center[1] < 150 else kp[11:]
        np.testing.assert_allclose(center, part.mean(axis=0))
        extent = part.max(0) - part.min(0)
        assert scale[1] == pytest.approx(max(extent[1], extent[0] * 256 / 192) * 1.5)
        seen.add(center[1] < 150)
    assert seen == {True, False}
    # fewer than two labelled joints: no half-body crop
    one = np.zeros(17)
    one[0] = 1
    assert half_body_center_scale(kp, one, upper, (256, 192), np.random.default_rng(0)) is None


def test_sample_crop_ranges_and_determinism():
    cfg = AugmentConfig()
    kp = np.random.default_rng(0).uniform(50, 150, size=(17, 2))
    vis = np.ones(17)
    upper = upper_body_index(COCO17)
    draws = [
        sample_crop(np.random.default_rng(s), cfg, np.array([100.0, 100.0]), np.array([120.0, 160.0]),
                    kp, vis, upper, (256, 192), 300)
        for s in range(400)
    ]
    full = [d for d in draws if not d.half_body]
    ratios = np.array([d.scale[0] / 120.0 for d in full])
    assert ratios.min() >= 0.7 - 1e-9 and ratios.max() <= 1.3 + 1e-9
    rotations = np.array([d.rotation for d in draws])
    assert np.abs(rotations).max() <= 80 + 1e-9
    assert 0.3 < np.mean(rotations == 0) < 0.5  # rotation applied with probability 0.6
    flips = np.array([d.flip for d in draws])
    assert 0.4 < flips.mean() < 0.6
    assert 0.2 < np.mean([d.half_body for d in draws]) < 0.4
    for d in draws:
        if d.flip and not d.half_body:
            assert d.center[0] == pytest.approx(300 - 1 - 100.0)
    a = sample_crop(np.random.default_rng(7), cfg, np.array([1.0, 2.0]), np.array([3.0, 4.0]), kp, vis, upper, (64, 64), 50)
    b = sample_crop(np.random.default_rng(7), cfg, np.array([1.0, 2.0]), np.array([3.0, 4.0]), kp, vis, upper, (64, 64), 50)
    assert (a.rotation, a.flip, a.half_body) == (b.rotation, b.flip, b.half_body)
    np.testing.assert_array_equal(a.center, b.center)


def test_sample_crop_shift_moves_the_centre_within_its_clip_and_off_keeps_the_official_stream():
    kp = np.random.default_rng(0).uniform(50, 150, size=(17, 2))
    upper = upper_body_index(COCO17)
    base = dict(rotation_prob=0.0, flip_prob=0.0, half_body_prob=0.0, scale_factor=0.0)
    shifted = [
        sample_crop(np.random.default_rng(s), AugmentConfig(**base, shift_factor=0.1, shift_prob=0.5),
                    np.array([100.0, 100.0]), np.array([120.0, 160.0]), kp, np.ones(17), upper, (256, 192), 300)
        for s in range(400)
    ]
    offsets = np.array([(d.center - 100.0) / d.scale for d in shifted])  # in crop sizes
    moved = np.any(offsets != 0, axis=1)
    assert 0.4 < moved.mean() < 0.6  # shift applied with probability 0.5
    assert np.abs(offsets).max() <= 0.2 + 1e-9  # clipped at twice the std
    assert 0.08 < offsets[moved].std() < 0.115  # a normal of std 0.1 clipped at 2 std: 0.096
    # shift off: the draws (and so every later random number) match a config without the fields
    for s in range(20):
        args = (np.array([100.0, 100.0]), np.array([120.0, 160.0]), kp, np.ones(17), upper, (256, 192), 300)
        a = sample_crop(np.random.default_rng(s), AugmentConfig(shift_factor=0.3), *args)
        b = sample_crop(np.random.default_rng(s), AugmentConfig(), *args)
        assert (a.rotation, a.flip, a.half_body) == (b.rotation, b.flip, b.half_body)
        np.testing.assert_array_equal(a.center, b.center)


def test_augment_config_rejects_bad_values():
    with pytest.raises(InputError):
        AugmentConfig(flip_prob=1.5)
    with pytest.raises(InputError):
        AugmentConfig(scale_factor=-0.1)
    with pytest.raises(InputError, match="shift_prob"):
        AugmentConfig(shift_prob=2.0)
    with pytest.raises(InputError, match="shift_factor"):
        AugmentConfig(shift_factor=0.8)


def test_normalize_follows_colour_order_and_mean_std():
    image = np.zeros((2, 3, 3), dtype=np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 10, 100, 200  # B, G, R
    spec = get_spec("simdr_r50_64")
    bgr = normalize(image, spec.input_spec)
    assert bgr.shape == (3, 2, 3) and bgr.dtype == np.float32 and bgr.flags.c_contiguous
    mean, std = np.array(spec.mean), np.array(spec.std)
    expect_bgr = (np.array([10, 100, 200]) / 255 - mean) / std
    np.testing.assert_allclose(bgr[:, 0, 0], expect_bgr, rtol=1e-5)

    rgb = InputSpec((2, 3), (0.5,) * 3, (0.25,) * 3, "rgb")
    np.testing.assert_allclose(normalize(image, rgb)[:, 1, 2], (np.array([200, 100, 10]) / 255 - 0.5) / 0.25, rtol=1e-5)
    with pytest.raises(InputError):
        normalize(image[..., :2], spec.input_spec)
    with pytest.raises(InputError, match="input_spec must be an InputSpec"):
        normalize(image, {**rgb.to_dict(), "color_order": "hsv"})  # type: ignore[arg-type]
