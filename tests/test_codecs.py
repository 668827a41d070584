"""Codec property tests: encode -> decode round trips, weights, flip test, serialisation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgepose.codecs import HeatmapCodec, SimDRCodec, SimDRStarCodec, codec_from_dict
from edgepose.errors import InputError
from edgepose.skeleton import COCO17

SIZES = st.sampled_from([(64, 64), (128, 128), (256, 192), (96, 160)])
RATIOS = st.sampled_from([1.0, 2.0, 3.0])


def _logits_from_target(target: np.ndarray) -> np.ndarray:
    """Logits whose softmax argmax is the target's argmax (log of the distribution)."""
    return np.log(target + 1e-12)[None]


@settings(max_examples=200, deadline=None)
@given(hw=SIZES, k=RATIOS, data=st.data())
def test_simdr_round_trip_within_half_bin(hw, k, data):
    codec = SimDRCodec(hw, split_ratio=k)
    h, w = hw
    # inside the grid: round(x * k) in [0, W*k - 1]
    x = data.draw(st.floats(0.0, (w * k - 1) / k))
    y = data.draw(st.floats(0.0, (h * k - 1) / k))
    t = codec.encode(np.array([[x, y]]), np.array([1]))
    assert t["target_weight"][0] == 1.0
    kp, scores = codec.decode((_logits_from_target(t["target_x"]), _logits_from_target(t["target_y"])))
    assert kp.shape == (1, 1, 2) and scores.shape == (1, 1)
    assert abs(kp[0, 0, 0] - x) <= 1 / (2 * k) + 1e-5
    assert abs(kp[0, 0, 1] - y) <= 1 / (2 * k) + 1e-5


@settings(max_examples=100, deadline=None)
@given(hw=SIZES, k=RATIOS, sigma=st.floats(1.0, 6.0), data=st.data())
def test_simdr_star_round_trip_within_half_bin(hw, k, sigma, data):
    codec = SimDRStarCodec(hw, split_ratio=k, sigma=sigma)
    h, w = hw
    x = data.draw(st.floats(0.0, (w * k - 1) / k))
    y = data.draw(st.floats(0.0, (h * k - 1) / k))
    t = codec.encode(np.array([[x, y]]), np.array([2]))
    kp, _ = codec.decode((_logits_from_target(t["target_x"]), _logits_from_target(t["target_y"])))
    assert np.all(np.abs(kp[0, 0] - [x, y]) <= 1 / (2 * k) + 1e-5)


def test_simdr_label_smoothing_values():
    codec = SimDRCodec((64, 64), split_ratio=3, label_smoothing=0.1)
    t = codec.encode(np.array([[10.0, 20.0]]), np.array([1]))
    row = t["target_x"][0]
    assert row.argmax() == 30
    assert row[30] == pytest.approx(0.9)
    assert row[0] == pytest.approx(0.1 / (192 - 1))
    assert row.sum() == pytest.approx(1.0, abs=1e-5)


@settings(max_examples=100, deadline=None)
@given(
    codec=st.sampled_from([
        SimDRCodec((64, 64), 3), SimDRStarCodec((128, 128), 2, 4), HeatmapCodec((64, 48)),
    ]),
    x=st.floats(-500, 500), y=st.floats(-500, 500), visible=st.integers(0, 2),
)
def test_out_of_grid_and_invisible_get_zero_weight(codec, x, y, visible):
    t = codec.encode(np.array([[x, y]]), np.array([visible]))
    if isinstance(codec, HeatmapCodec):
        # grid cells: cell i covers [(i - 0.5) * stride, (i + 0.5) * stride)
        cells = np.floor(np.array([x, y]) / codec.stride + 0.5)
        inside = bool(np.all(cells >= 0) and cells[0] < codec.heatmap_hw[1] and cells[1] < codec.heatmap_hw[0])
    else:
        bins = np.round(np.array([x, y]) * codec.split_ratio)
        inside = bool(np.all(bins >= 0) and bins[0] < codec.num_bins_x and bins[1] < codec.num_bins_y)
    weight = t["target_weight"][0]
    assert weight == float(visible > 0 and inside)
    if weight == 0:
        for key, value in t.items():
            if key != "target_weight":
                assert not value.any(), f"{key} of a weight-0 keypoint must be zero"


@settings(max_examples=200, deadline=None)
@given(hw=SIZES, data=st.data())
def test_heatmap_round_trip_within_half_stride_without_post(hw, data):
    codec = HeatmapCodec(hw, refine="none")
    h, w = hw
    stride = w / codec.heatmap_hw[1]
    x = data.draw(st.floats(0.0, (codec.heatmap_hw[1] - 0.51) * stride))
    y = data.draw(st.floats(0.0, (codec.heatmap_hw[0] - 0.51) * stride))
    t = codec.encode(np.array([[x, y]]), np.array([1]))
    assert t["target_weight"][0] == 1.0
    kp, scores = codec.decode(t["heatmap"][None])
    assert scores[0, 0] == pytest.approx(1.0)
    assert np.all(np.abs(kp[0, 0] - [x, y]) <= stride / 2 + 1e-4)


def test_heatmap_quarter_offset_moves_toward_higher_neighbour():
    codec = HeatmapCodec((64, 64), refine="quarter")
    hm = np.zeros((1, 1, 16, 16), dtype=np.float32)
    hm[0, 0, 5, 7] = 1.0
    hm[0, 0, 5, 8] = 0.5  # right neighbour higher than the left one
    hm[0, 0, 4, 7] = 0.3  # upper neighbour higher than the lower one
    kp, _ = codec.decode(hm)
    np.testing.assert_allclose(kp[0, 0], [(7 + 0.25) * 4, (5 - 0.25) * 4])


def test_heatmap_dark_is_subpixel_accurate():
    codec = HeatmapCodec((128, 128), sigma=2.0, refine="dark")
    for x, y in [(60.3, 33.1), (40.9, 80.6)]:
        t = codec.encode(np.array([[x, y]]), np.array([1]))
        kp, _ = codec.decode(t["heatmap"][None])
        assert np.all(np.abs(kp[0, 0] - [x, y]) < 0.1)


def test_simdr_confidence_rules():
    x = np.array([[[0.0, 4.0, 0.0]]], dtype=np.float32)
    y = np.array([[[0.0, 1.0, 0.0]]], dtype=np.float32)
    ce = SimDRCodec((1, 1), split_ratio=3)
    star = SimDRStarCodec((1, 1), split_ratio=3, sigma=2)
    px, py = np.exp(4) / (np.exp(4) + 2), np.e / (np.e + 2)
    assert ce.decode((x, y))[1][0, 0] == pytest.approx(max(px, py), rel=1e-5)
    assert star.decode((x, y))[1][0, 0] == pytest.approx(min(px, py), rel=1e-5)


@pytest.mark.parametrize("codec", [SimDRCodec((64, 64), 3), SimDRStarCodec((64, 64), 3, 4)])
def test_simdr_flip_test_recovers_mirrored_keypoints(codec):
    """A 'model' that encodes exact labels of the crop and of its mirror image."""
    rng = np.random.default_rng(0)
    k = COCO17.num_keypoints
    kp = rng.uniform(5, 58, size=(k, 2))
    vis = np.ones(k)
    mirrored = kp[COCO17.flip_index()].copy()
    mirrored[:, 0] = 64 - 1 - mirrored[:, 0]  # image flip: x -> W - 1 - x
    t, tf = codec.encode(kp, vis), codec.encode(mirrored, vis)
    out = (_logits_from_target(t["target_x"]), _logits_from_target(t["target_y"]))
    out_f = (_logits_from_target(tf["target_x"]), _logits_from_target(tf["target_y"]))
    fused, _ = codec.decode_flip(out, out_f, COCO17.flip_index())
    plain, _ = codec.decode(out)
    # the official one-bin shift aligns the mirror within (k - 1) - 1 bins of the truth
    assert np.abs(fused[0] - kp).max() <= 1 / (2 * codec.split_ratio) + 1 / codec.split_ratio + 1e-5
    assert np.abs(plain[0] - kp).max() <= 1 / (2 * codec.split_ratio) + 1e-5


def test_heatmap_flip_test_recovers_mirrored_keypoints():
    codec = HeatmapCodec((64, 64), sigma=1.5, refine="none")
    rng = np.random.default_rng(1)
    kp = rng.uniform(8, 56, size=(17, 2))
    mirrored = kp[COCO17.flip_index()].copy()
    mirrored[:, 0] = 64 - 1 - mirrored[:, 0]
    hm = codec.encode(kp, np.ones(17))["heatmap"][None]
    hm_f = codec.encode(mirrored, np.ones(17))["heatmap"][None]
    fused, scores = codec.decode_flip(hm, hm_f, COCO17.flip_index())
    assert np.abs(fused[0] - kp).max() <= 4.0 + 1e-4  # within one heatmap cell
    assert scores.min() > 0.4


@pytest.mark.parametrize("codec", [
    SimDRCodec((128, 128), 3, 0.05), SimDRStarCodec((256, 192), 2, 6), HeatmapCodec((64, 64), (16, 16), 1.0, "dark"),
])
def test_to_dict_round_trip(codec):
    d = codec.to_dict()
    assert codec_from_dict(d) == codec
    import json

    assert codec_from_dict(json.loads(json.dumps(d))) == codec


@pytest.mark.parametrize("bad", [
    (np.zeros((1, 17, 192)),),
    (np.zeros((1, 17, 192)), np.zeros((1, 17, 100))),
    (np.zeros((17, 192)), np.zeros((17, 192))),
    (np.zeros((1, 17, 192)), np.zeros((1, 16, 192))),
    "not an array",
])
def test_simdr_decode_rejects_wrong_shapes(bad):
    with pytest.raises(ValueError, match="simcc|SimDR|bins|dims|pair"):
        SimDRCodec((64, 64), 3).decode(bad)


def test_heatmap_decode_rejects_wrong_shapes():
    codec = HeatmapCodec((64, 64))
    with pytest.raises(ValueError, match="16x16"):
        codec.decode(np.zeros((1, 17, 32, 32)))
    with pytest.raises(ValueError, match="4 dims"):
        codec.decode(np.zeros((17, 16, 16)))


def test_encode_rejects_wrong_shapes():
    with pytest.raises(InputError, match=r"\(K, 2\)"):
        SimDRCodec((64, 64)).encode(np.zeros((17, 3)), np.ones(17))
    with pytest.raises(InputError, match="visible"):
        HeatmapCodec((64, 64)).encode(np.zeros((17, 2)), np.ones(16))


def test_codec_from_dict_rejects_unknown():
    with pytest.raises(InputError, match="unknown codec type"):
        codec_from_dict({"type": "nope"})
    with pytest.raises(InputError, match="bad parameters"):
        codec_from_dict({"type": "simdr", "input_hw": [64, 64], "bogus": 1})


@pytest.mark.parametrize("refine", ["none", "quarter", "dark"])
@given(data=st.data())
@settings(max_examples=30, deadline=None)
def test_heatmap_finite_peak_decodes_finite_among_infinities(refine: str, data: st.DataObject) -> None:
    """Regression (fuzz seed 7 case 2760): HeatmapCodec(8x8, heatmap 8x8, sigma 0.5, refine "quarter")
    decoded NaN keypoints with a finite score when both neighbours of the peak were -inf (their
    difference is NaN). A finite peak must decode to a finite position whatever surrounds it."""
    h = data.draw(st.integers(3, 12), label="h")
    w = data.draw(st.integers(3, 12), label="w")
    codec = HeatmapCodec((h, w), heatmap_hw=(h, w), sigma=0.5, refine=refine)
    cells = st.sampled_from([-np.inf, -np.inf, -1e30, 0.0, -5.0])
    hm = np.array(data.draw(st.lists(cells, min_size=h * w, max_size=h * w)), dtype=np.float32).reshape(1, 1, h, w)
    y, x = data.draw(st.integers(0, h - 1)), data.draw(st.integers(0, w - 1))
    hm[0, 0, y, x] = 1.0
    keypoints, scores = codec.decode(hm)
    assert scores[0, 0] == 1.0 and np.all(np.isfinite(keypoints))
    assert np.all(np.abs(keypoints[0, 0] - (x, y)) <= 1.0)


def test_heatmap_fuzz_case_2760() -> None:
    codec = HeatmapCodec((8, 8), heatmap_hw=(8, 8), sigma=0.5, refine="quarter")
    hm = np.full((2, 3, 8, 8), -np.inf, np.float32)
    hm[:, :, 4, 4] = 0.7
    keypoints, scores = codec.decode(hm)
    np.testing.assert_array_equal(keypoints, np.full((2, 3, 2), 4.0))
    np.testing.assert_array_equal(scores, np.full((2, 3), 0.7, np.float32))


@given(data=st.data())
@settings(max_examples=40, deadline=None)
def test_simdr_decode_on_logits_equals_the_softmax_path(data: st.DataObject) -> None:
    """decode works on the logits (argmax, then 1 / sum(exp(logits - peak))) without building the
    softmax: bit for bit what decoding the probabilities gives, for SimDR and SimDR*."""
    from edgepose.codecs.base import softmax

    cls = data.draw(st.sampled_from([SimDRCodec, SimDRStarCodec]))
    codec = cls(data.draw(st.sampled_from([(64, 48), (64, 64)])), 2.0)  # square: x and y in one array
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    spread = data.draw(st.floats(0.01, 50.0))
    x = (rng.standard_normal((2, 5, codec.num_bins_x)) * spread).astype(np.float32)
    y = (rng.standard_normal((2, 5, codec.num_bins_y)) * spread).astype(np.float32)
    keypoints, scores = codec.decode((x, y))
    expected_kp, expected_scores = codec._decode_probabilities(softmax(x), softmax(y))
    np.testing.assert_array_equal(keypoints, expected_kp)
    np.testing.assert_array_equal(scores, expected_scores)


@pytest.mark.parametrize("cls", [SimDRStarCodec, HeatmapCodec])
def test_huge_sigma_is_refused_not_overflowing(cls) -> None:
    """Regression (fuzz seed 23 case 9387): SimDRStarCodec(input 1x1, sigma 1e300).encode raised an
    undocumented OverflowError (sigma**2); sigmas above MAX_SIGMA are refused when the codec is made."""
    from edgepose.codecs.base import MAX_SIGMA

    with pytest.raises(InputError, match="sigma"):
        cls((4, 4), (1, 1), sigma=1e300) if cls is HeatmapCodec else cls((1, 1), 2.0, sigma=1e300)
    codec = cls((8, 8), sigma=MAX_SIGMA) if cls is HeatmapCodec else cls((8, 8), 2.0, sigma=MAX_SIGMA)
    targets = codec.encode(np.array([[3.0, 4.0]]), np.array([1.0]))
    assert all(np.all(np.isfinite(t)) for t in targets.values())
