"""HRNet and TokenPose through the deployment path: fp32 ONNX export (builtin ops only, the
exporter's own torch-vs-ONNX Runtime parity check) and the torch-free ``Estimator``
(``-m slow`` adds the HRNet and TokenPose-heatmap cases, and fp32 TFLite files).

The models are the registry's 64x64 ones with random, well-scaled weights (the official
initialisation gives near-constant outputs, whose argmax would be decided by rounding). The
keypoints the Estimator decodes from the ONNX file must match what the torch model decodes
through the same preprocessing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from _export_helpers import busiest_scene, scale_weights_  # noqa: E402
from _one_thread import one_thread  # noqa: E402, F401 (autouse: torch on one thread)
from torch import nn  # noqa: E402

from edgepose import Estimator  # noqa: E402
from edgepose.export import export_onnx  # noqa: E402
from edgepose.export.tflite_export import export_tflite  # noqa: E402
from edgepose.export.model_files import read_metadata  # noqa: E402
from edgepose.nn import build  # noqa: E402
from edgepose.preprocess import crops_to_frame, preprocess_crops  # noqa: E402
from edgepose.runtime.metadata import input_spec_of  # noqa: E402
from edgepose.zoo import get_spec  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "synth_small"
ANN = FIXTURE / "annotations" / "person_keypoints.json"
IMAGES = FIXTURE / "images"
# The exporter traces HRNet's ~1000 operations slowly (about 30 s here): HRNet and the second
# TokenPose head run with -m slow; the default suite keeps one TokenPose export.
MODELS = [pytest.param("simdr_hrw32_64", marks=pytest.mark.slow), "simdr_tps_64",
          pytest.param("hm_tps_64", marks=pytest.mark.slow)]



def scaled_random(name: str, seed: int = 0) -> nn.Module:
    """Registry model ``name`` with N(0, gain**2 / fan_in) convolution and Linear weights (eval
    mode). HRNet's sums over branches and blocks grow activations by orders of magnitude at
    gain 1; gain 0.7 keeps its logits of order 1 (the export check's tolerance is absolute)."""
    gain = 0.7 if "hrw" in name else 1.0
    torch.manual_seed(seed)
    return scale_weights_(build(name), gain).eval()


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray]:
    """The fixture image with the most people, and their ground-truth boxes (N, 4) xywh."""
    return busiest_scene(ANN, IMAGES)


def torch_keypoints(model: nn.Module, name: str, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(N, K, 2) frame px decoded from the torch model, with the runtime's preprocessing."""
    spec = get_spec(name)
    batch, matrices = preprocess_crops(frame, boxes, spec.input_spec)
    with torch.no_grad():
        out = model(torch.from_numpy(batch))
    outputs = tuple(o.numpy() for o in out) if isinstance(out, tuple) else out.numpy()
    return crops_to_frame(spec.build_codec().decode(outputs)[0], matrices)


def assert_estimator_matches(path: Path, backend: str, expected: np.ndarray, frame: np.ndarray,
                             boxes: np.ndarray) -> None:
    with Estimator(path, backend=backend, threads=1, smoothing=None) as est:
        result = est.estimate(frame, boxes)
    assert result.keypoints.shape == expected.shape == (len(boxes), 17, 2)
    assert np.isfinite(result.keypoints).all() and np.isfinite(result.scores).all()
    close = np.linalg.norm(result.keypoints - expected, axis=-1) <= 0.01
    assert close.mean() >= 0.97, f"{close.mean():.2f} of keypoints within 0.01 px of torch"


@pytest.mark.parametrize("name", MODELS)
def test_export_to_builtin_onnx_and_run_in_the_estimator(name, scene, tmp_path):
    spec = get_spec(name)
    model = scaled_random(name)
    path = export_onnx(model, spec, tmp_path / f"{name}_fp32.onnx")  # checks ONNX Runtime vs torch
    graph = onnx.load(str(path), load_external_data=False).graph
    domains = {node.domain for node in graph.node}
    assert domains <= {"", "ai.onnx"}, f"non-builtin ops: {domains}"
    if "tps" in name:  # attention as plain MatMul + Softmax
        ops = {node.op_type for node in graph.node}
        assert {"MatMul", "Softmax"} <= ops
    meta = read_metadata(path)
    assert meta["model"] == name and input_spec_of(meta).color_order == "rgb"

    frame, boxes = scene
    assert_estimator_matches(path, "onnxruntime", torch_keypoints(model, name, frame, boxes), frame, boxes)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["simdr_hrw32_64", "simdr_tps_64"])
def test_export_to_tflite_and_run_in_the_estimator(name, scene, tmp_path):
    pytest.importorskip("ai_edge_litert")
    model = scaled_random(name)
    path = export_tflite(model, get_spec(name), tmp_path / f"{name}_fp32.tflite")  # checks LiteRT vs torch
    frame, boxes = scene
    assert_estimator_matches(path, "tflite", torch_keypoints(model, name, frame, boxes), frame, boxes)
