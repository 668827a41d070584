"""``quantization/int8.py`` and ``quantization/verify.py`` on HRNet and TokenPose: the int8
ONNX file is written from a weights file and verified against the torch model (logits,
decoded keypoints within 1 px, latency, size) on the synthetic fixture's crops.

The models are the registry's 64x64 ones with random, well-scaled weights (as in
tests/test_e2e_hrnet_tokenpose.py). The fp32 file must match torch; the int8 file must
put most keypoints where torch puts them.
HRNet (its export and calibration take minutes here) runs with ``-m slow``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("nncf")
pytest.importorskip("onnxruntime")
from _one_thread import one_thread  # noqa: E402, F401 (autouse: torch on one thread)
from _export_helpers import load_cli, scale_weights_  # noqa: E402

from edgepose.export.model_files import read_metadata  # noqa: E402
from edgepose.nn import build  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "synth_small"
ANN = FIXTURE / "annotations" / "person_keypoints.json"
IMAGES = FIXTURE / "images"
COLUMNS = ("file", "format", "precision", "max_dlogit", "within_1px")



def scaled_random_weights(name: str, path: Path) -> Path:
    """Save registry model ``name`` with N(0, gain**2 / fan_in) conv / Linear weights to ``path``."""
    gain = 0.7 if "hrw" in name else 1.0
    torch.manual_seed(0)
    model = scale_weights_(build(name), gain)
    torch.save(model.state_dict(), path)
    return path


def table_rows(out: str) -> list[dict[str, str]]:
    """The rows of verify.py's closing table, first columns by name."""
    lines = out.strip().splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("file "))
    return [dict(zip(COLUMNS, re.split(r"\s{2,}", line.strip()))) for line in lines[start + 2:]]


@pytest.mark.parametrize("name,extra", [pytest.param("simdr_hrw32_64", [], marks=pytest.mark.slow),
                                        ("simdr_tps_64", [])])
def test_int8_then_verify_parity(name, extra, tmp_path, capsys):
    weights = scaled_random_weights(name, tmp_path / "weights.pt")
    model_args = ["--model", name, "--weights", str(weights)]
    out = tmp_path / "files"
    assert load_cli("int8").main([*model_args, "--ann", str(ANN), "--images", str(IMAGES), "--out-dir", str(out),
                                  "--formats", "onnx", "--subset-size", "16", *extra]) == 0
    int8 = out / f"{name}_int8.onnx"
    quant = read_metadata(int8)["quantization"]
    convs = sum(n.op_type == "Conv" for n in onnx.load(str(int8)).graph.node)
    if "hrw" in name:  # the convolution rule: only final_layer and the x / y Linear layers stay float
        assert sum("conv" in n.lower() for n in quant["float_nodes"]) == 1 < convs
        assert len(quant["float_nodes"]) <= 8
    else:  # the transformer rule
        assert quant["attention"] == "float"  # the default
        assert sum("layer_norm" in n for n in quant["float_nodes"]) == 12 * 2 + 1
    assert load_cli("export").main([*model_args, "--out-dir", str(out), "--targets", "onnx"]) == 0
    fp32 = out / f"{name}_fp32.onnx"
    capsys.readouterr()

    assert load_cli("verify").main([*model_args, str(fp32), str(int8), "--ann", str(ANN), "--images", str(IMAGES),
                                    "--max-images", "10", "--repeats", "3", "--no-ap"]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert [r["precision"] for r in rows] == ["fp32", "fp32", "int8"]
    assert float(rows[1]["max_dlogit"]) < 1e-3 and float(rows[1]["within_1px"]) == 100.0
    assert math.isfinite(float(rows[2]["max_dlogit"]))
    assert float(rows[2]["within_1px"]) >= 40.0, rows[2]  # random weights: flat logits, a harsh test
