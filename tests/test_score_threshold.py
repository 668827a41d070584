"""The keypoint score threshold: codec defaults, the registry / metadata / argument chain, and
the tracker and drawing that use it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from _tiny_models import make_heatmap_onnx, make_onnx, metadata_for

from edgepose import Estimator, download, zoo
from edgepose.codecs import codec_from_dict
from edgepose.errors import InputError, ModelFileError


def test_codec_defaults_scale_with_the_score_of_a_perfect_prediction() -> None:
    simdr = codec_from_dict({"type": "simdr", "input_hw": [64, 64], "split_ratio": 3, "label_smoothing": 0.1})
    star = codec_from_dict({"type": "simdr_star", "input_hw": [64, 64], "split_ratio": 3, "sigma": 6.0})
    heat = codec_from_dict({"type": "heatmap", "input_hw": [64, 64]})
    assert simdr.default_score_threshold() == pytest.approx(0.3 * 0.9)
    assert star.default_score_threshold() == pytest.approx(0.3 / (6.0 * math.sqrt(2 * math.pi)))
    assert heat.default_score_threshold() == pytest.approx(0.3)
    # a perfect SimDR* prediction (its own target as logits) scores exactly perfect_score
    target = star.encode(np.array([[20.0, 30.0]]), np.ones(1))
    logits = [np.log(np.maximum(target[k], 1e-30))[None] for k in ("target_x", "target_y")]
    _, scores = star.decode(tuple(logits))
    assert scores[0, 0] == pytest.approx(star.perfect_score, rel=1e-3)


def test_estimator_threshold_argument_then_registry_then_metadata_then_codec(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = make_onnx(tmp_path / "plain.onnx", metadata=metadata_for((64, 64)))
    with Estimator(plain, smoothing=None) as est:
        assert est.score_threshold == pytest.approx(0.27)  # SimDR, label smoothing 0.1
        assert est.tracker.lost_score == est.tracker.keypoint_threshold == est.score_threshold
    tagged = make_onnx(tmp_path / "tagged.onnx", metadata=metadata_for((64, 64), extra={"score_threshold": 0.05}))
    with Estimator(tagged, smoothing=None) as est:
        assert est.score_threshold == pytest.approx(0.05)
    with Estimator(tagged, smoothing=None, score_threshold=0.5) as est:
        assert est.score_threshold == 0.5
    with Estimator(make_heatmap_onnx(tmp_path / "hm.onnx"), smoothing=None) as est:
        assert est.score_threshold == pytest.approx(0.3)
    # a registry model's shipped weights carry their own measured threshold
    spec = zoo.get_spec("simdr_r18_64")
    mf = zoo.ModelFile("onnx", "int8", "package://x.onnx", download.sha256_of(tagged), tagged.stat().st_size)
    monkeypatch.setitem(zoo.REGISTRY, "simdr_r18_64", zoo.with_files(spec, (mf,), "test", 0.02))
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)
    (tmp_path / "x.onnx").write_bytes(tagged.read_bytes())
    with Estimator("simdr_r18_64", smoothing=None) as est:
        assert est.score_threshold == pytest.approx(0.02) and est.tracker.keypoint_threshold == pytest.approx(0.02)
    for bad in (-0.1, 1.5, "high", True, float("nan")):
        with pytest.raises(InputError, match="score_threshold"):
            Estimator(plain, smoothing=None, score_threshold=bad)
    # the metadata schema checks the key: a bad value names the file
    for bad in ("x", 1.5, -0.1, True):
        odd = make_onnx(tmp_path / "odd.onnx", metadata=metadata_for((64, 64), extra={"score_threshold": bad}))
        with pytest.raises(ModelFileError, match=r"odd\.onnx.*score_threshold"):
            Estimator(odd, smoothing=None)


@pytest.mark.parametrize("value", ["0.5", "-1", "2", "true", "null"])
def test_manifest_score_threshold_is_checked(tmp_path: Path, value: str) -> None:
    path = tmp_path / "manifest.json"
    entry_text = f'{{"trained_on": "t", "files": [], "score_threshold": {value}}}'
    path.write_text(f'{{"format_version": 1, "models": {{"simdr_r18_64": {entry_text}}}}}')
    if value in ("0.5", "null"):
        entry = zoo.read_manifest(path)["simdr_r18_64"]
        spec = next(s for s in zoo._with_shipped_files(zoo._paper_models(), {"simdr_r18_64": entry})
                    if s.name == "simdr_r18_64")
        assert spec.score_threshold == (0.5 if value == "0.5" else None)
        assert zoo.ModelSpec.from_dict(spec.to_dict()).score_threshold == spec.score_threshold
    else:
        with pytest.raises(ModelFileError, match="score_threshold"):
            zoo.read_manifest(path)
