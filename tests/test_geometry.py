"""Geometry: box -> center/scale, affine crops and their inverse (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgepose.errors import InputError
from edgepose.geometry import (
    box_to_center_scale,
    get_affine_matrix,
    keypoints_to_box,
    transform_points,
    warp_crop,
)

HW = st.sampled_from([(64, 64), (128, 128), (256, 192)])
BOX = st.tuples(
    st.floats(-100, 1000), st.floats(-100, 1000), st.floats(1, 800), st.floats(1, 800)
)


@settings(max_examples=200, deadline=None)
@given(box=BOX, hw=HW, padding=st.floats(1.0, 2.0))
def test_box_to_center_scale_matches_aspect_and_contains_box(box, hw, padding):
    center, scale = box_to_center_scale(box, hw, padding)
    x, y, w, h = box
    np.testing.assert_allclose(center, [x + w / 2, y + h / 2])
    assert scale[0] / scale[1] == pytest.approx(hw[1] / hw[0], rel=1e-9)
    assert scale[0] >= w * padding - 1e-6 and scale[1] >= h * padding - 1e-6
    # never larger than needed: one side is exactly the padded box side
    assert min(scale[0] - w * padding, scale[1] - h * padding) == pytest.approx(0, abs=1e-6 * max(w, h))


@settings(max_examples=200, deadline=None)
@given(box=BOX, hw=HW, rot=st.floats(-180, 180),
       pts=st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=1, max_size=8))
def test_affine_inverse_round_trip(box, hw, rot, pts):
    center, scale = box_to_center_scale(box, hw)
    m = get_affine_matrix(center, scale, hw, rot)
    mi = get_affine_matrix(center, scale, hw, rot, inverse=True)
    p = np.array(pts)
    np.testing.assert_allclose(transform_points(transform_points(p, m), mi), p, atol=1e-6 * (1 + np.abs(p).max()))


@settings(max_examples=100, deadline=None)
@given(box=BOX, hw=HW)
def test_box_maps_into_crop_center(box, hw):
    center, scale = box_to_center_scale(box, hw)
    m = get_affine_matrix(center, scale, hw)
    np.testing.assert_allclose(transform_points(center, m), [hw[1] / 2, hw[0] / 2], atol=1e-6)
    x, y, w, h = box
    corners = transform_points(np.array([[x, y], [x + w, y + h]]), m)
    assert np.all(corners >= -1e-6) and np.all(corners[:, 0] <= hw[1] + 1e-6) and np.all(corners[:, 1] <= hw[0] + 1e-6)


@settings(max_examples=40, deadline=None)
@given(px=st.integers(40, 200), py=st.integers(40, 150), rot=st.sampled_from([0.0, 30.0, -45.0, 90.0]))
def test_warp_puts_a_dot_where_transform_points_says(px, py, rot):
    """The image warp and the point transform agree (to a pixel)."""
    image = np.zeros((200, 250), dtype=np.float32)
    image[py - 1:py + 2, px - 1:px + 2] = 1.0
    center, scale = box_to_center_scale([60, 40, 140, 130], (128, 128), 1.0)
    m = get_affine_matrix(center, scale, (128, 128), rot)
    expected = transform_points(np.array([px, py], dtype=np.float64), m)
    if not (3 <= expected[0] <= 124 and 3 <= expected[1] <= 124):
        return
    crop = warp_crop(image, m, (128, 128))
    ys, xs = np.nonzero(crop > 0.05)
    weights = crop[ys, xs]
    found = np.array([np.average(xs, weights=weights), np.average(ys, weights=weights)])
    assert np.abs(found - expected).max() < 1.0


@pytest.mark.parametrize("box", [
    [0, 0, 0, 10], [0, 0, 10, -1], [np.nan, 0, 10, 10], [0, 0, np.inf, 10], [1, 2, 3],
])
def test_degenerate_boxes_are_rejected(box):
    with pytest.raises(InputError):
        box_to_center_scale(box, (128, 128))


def test_bad_matrix_and_points_are_rejected():
    with pytest.raises(InputError, match=r"\(\.\.\., 2\)"):
        transform_points(np.zeros((3, 3)), np.eye(2, 3))
    with pytest.raises(InputError, match=r"\(2, 3\)"):
        transform_points(np.zeros((3, 2)), np.eye(3))
    with pytest.raises(InputError):
        get_affine_matrix([0, 0], [0, 10], (64, 64))


def test_keypoints_to_box():
    kp = np.array([[10, 20], [30, 60], [np.nan, 5], [100, 100]], dtype=float)
    np.testing.assert_allclose(keypoints_to_box(kp, np.array([1, 1, 1, 0])), [10, 20, 20, 40])
    assert keypoints_to_box(kp, np.array([1, 0, 0, 0])) is None


@given(
    box=st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(1e-2, 1e5), st.floats(1e-2, 1e5)),
    hw=st.tuples(st.integers(1, 512), st.integers(1, 512)),
    padding=st.floats(0.1, 4.0),
)
def test_preprocess_crop_matrix_is_the_geometry_matrix(box, hw, padding):
    """The runtime's float-only crop_matrix gives bit for bit the matrix of box_to_center_scale +
    get_affine_matrix (what training and calibration use)."""
    from edgepose.preprocess import crop_matrix

    expected = get_affine_matrix(*box_to_center_scale(box, hw, padding), hw)
    np.testing.assert_array_equal(crop_matrix(box, hw, padding), expected)
