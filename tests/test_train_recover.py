"""edgepose.train.recover and training/recover.py: a trainable torch state_dict from an exported
ONNX file (fp32, and int8 QDQ as NNCF writes it), with the folded BatchNorms un-folded."""

from __future__ import annotations

import copy
import importlib.util
import lzma
from pathlib import Path

import numpy as np
import pytest
import torch
from _export_helpers import random_batch
from torch import nn

from edgepose.nn.weights import CheckpointMismatchError
from edgepose.train.recover import RecoveryReport, recover_state_dict
from edgepose.zoo import ModelSpec, get_spec

REPO = Path(__file__).resolve().parents[1]
SPEC = get_spec("simdr_r18_64")


class TinyBNSimDR(nn.Module):
    """A ResNet-like SimDR stand-in: conv-BN-ReLU stem, a block whose downsample (conv-BN) runs
    first, a residual add, the 1x1 ``final_layer`` with bias, and the Linear x / y heads.

    ``forward``: (B, 3, H, W) -> (simcc_x (B, K, W*k), simcc_y (B, K, H*k)).
    """

    def __init__(self, spec: ModelSpec, width: int = 8, cpj: int = 2) -> None:
        super().__init__()
        h, w = spec.input_hw
        k = spec.codec["split_ratio"]
        self.num_keypoints, self.cpj = spec.keypoints().num_keypoints, cpj
        self.conv1 = nn.Conv2d(3, width, 3, stride=4, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.downsample = nn.Sequential(nn.Conv2d(width, 2 * width, 1, stride=2, bias=False), nn.BatchNorm2d(2 * width))
        self.conv2 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * width)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.AvgPool2d(2)
        self.final_layer = nn.Conv2d(2 * width, self.num_keypoints * cpj, 1)
        self.head_input = cpj * (h // 16) * (w // 16)
        self.mlp_head_x = nn.Linear(self.head_input, int(w * k))
        self.mlp_head_y = nn.Linear(self.head_input, int(h * k))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.relu(self.bn1(self.conv1(x)))
        identity = self.downsample(x)
        x = self.relu(self.bn2(self.conv2(x)) + identity)
        x = self.final_layer(self.pool(x)).reshape(x.shape[0], self.num_keypoints, self.head_input)
        return self.mlp_head_x(x), self.mlp_head_y(x)


def _trained_model(seed: int = 0) -> TinyBNSimDR:
    """The stand-in with random weights and non-trivial BN statistics and affine parameters (eval mode)."""
    torch.manual_seed(seed)
    model = TinyBNSimDR(SPEC)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for bn in model.modules():
            if isinstance(bn, nn.BatchNorm2d):
                c = bn.num_features
                bn.running_mean.copy_(torch.randn(c, generator=g))
                bn.running_var.copy_(torch.rand(c, generator=g) * 2 + 0.2)
                bn.weight.copy_(torch.randn(c, generator=g))
                bn.bias.copy_(torch.randn(c, generator=g))
    return model.eval()


def _calibration() -> list[torch.Tensor]:
    return [torch.from_numpy(random_batch(SPEC, 8, seed=s)) for s in (10, 11, 12)]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """fp32 ONNX (edgepose.export, BN folded by the exporter), its NNCF int8 QDQ twin, and the int8 file xz-packed."""
    from edgepose.export import QuantOptions, export_onnx, quantize_onnx

    out = tmp_path_factory.mktemp("recover")
    fp32 = export_onnx(_trained_model(), SPEC, out / "tiny_fp32.onnx")
    int8 = quantize_onnx(fp32, SPEC, out / "tiny_int8.onnx", random_batch(SPEC, 8, seed=3),
                         QuantOptions(subset_size=8, head="int8"))
    packed = out / "tiny_int8.onnx.xz"
    packed.write_bytes(lzma.compress(int8.read_bytes()))
    return {"fp32": fp32, "int8": int8, "int8.xz": packed}


def _outputs(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    with torch.no_grad():
        return list(model(x))


_CONV_OF = {"bn1": "conv1", "bn2": "conv2", "downsample.1": "downsample.0"}  # BatchNorm -> the conv it reads


def _conv_output_stats(model: nn.Module, batches: list[torch.Tensor]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per-channel mean and biased variance of each BN's input over ``batches`` (eval mode, float64)."""
    seen: dict[str, list[torch.Tensor]] = {}
    handles = [m.register_forward_pre_hook(lambda _m, inp, n=name: seen.setdefault(n, []).append(inp[0].double()))
               for name, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]
    for b in batches:
        _outputs(model.eval(), b)
    for h in handles:
        h.remove()
    stats = {}
    for name, parts in seen.items():
        x = torch.cat(parts).transpose(0, 1).reshape(parts[0].shape[1], -1)
        stats[name] = (x.mean(dim=1), x.var(dim=1, unbiased=False))
    return stats


def test_fp32_recovery_reproduces_the_original_model(files: dict[str, Path]) -> None:
    original = _trained_model()
    model = TinyBNSimDR(SPEC)  # other random weights: everything must come from the file
    state, report = recover_state_dict(files["fp32"], model, _calibration())
    assert isinstance(report, RecoveryReport)
    assert (report.layers, report.batchnorms, report.calibration_images, report.compared_images) == (6, 3, 24, 8)
    assert report.tensors == 6 + 3 + 3 * 4  # 6 weights, 3 biases (final_layer, heads), 4 per BN
    assert report.max_abs_diff_float < 1e-4 and report.max_abs_diff_file < 1e-4
    x = torch.from_numpy(random_batch(SPEC, 5, seed=7))
    for got, want in zip(_outputs(model.eval(), x), _outputs(original, x)):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    fresh = TinyBNSimDR(SPEC)
    fresh.load_state_dict(state)  # a complete state_dict
    torch.testing.assert_close(_outputs(fresh.eval(), x)[0], _outputs(original, x)[0], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("which", ["int8", "int8.xz"])
def test_int8_recovery_matches_onnxruntime(files: dict[str, Path], which: str) -> None:
    import onnxruntime as ort

    from edgepose.train.recover import dequantized_float_model, load_onnx

    model = TinyBNSimDR(SPEC)
    _, report = recover_state_dict(files[which], model, _calibration())
    assert report.max_abs_diff_float < 1e-4
    assert 1e-4 < report.max_abs_diff_file < 0.1 * report.max_abs_output  # int8 activations: close, not equal
    x = random_batch(SPEC, 4, seed=9)
    float_graph = dequantized_float_model(load_onnx(files[which]))
    assert not {n.op_type for n in float_graph.graph.node} & {"QuantizeLinear", "DequantizeLinear"}
    session = ort.InferenceSession(float_graph.SerializeToString(), providers=["CPUExecutionProvider"])
    for got, want in zip(_outputs(model.eval(), torch.from_numpy(x)), session.run(None, {"input": x})):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("rescale", [True, False])
def test_batchnorm_statistics_are_those_of_the_calibration_images(files: dict[str, Path], rescale: bool) -> None:
    batches = _calibration()
    model = TinyBNSimDR(SPEC)
    recover_state_dict(files["int8"], model, batches, rescale=rescale)
    stats = _conv_output_stats(model, batches)
    assert sorted(stats) == ["bn1", "bn2", "downsample.1"]
    for name, (mean, var) in stats.items():
        bn = model.get_submodule(name)
        torch.testing.assert_close(bn.running_mean.double(), mean, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(bn.running_var.double(), var, atol=1e-5, rtol=1e-4)
        conv = model.get_submodule(_CONV_OF[name])
        norms = conv.weight.detach().flatten(1).norm(dim=1)
        fan_out = conv.weight.shape[0] * conv.weight.shape[2] * conv.weight.shape[3]
        init_norm = torch.full_like(norms, (2.0 / fan_out * conv.weight[0].numel()) ** 0.5)
        if rescale:  # each channel has a fresh init's norm; the BN weight carries the scale
            torch.testing.assert_close(norms, init_norm)
            assert not torch.allclose(bn.weight.detach(), torch.sqrt(bn.running_var + bn.eps))
        else:  # the folded W' as stored in the file
            assert not torch.allclose(norms, init_norm)
            torch.testing.assert_close(bn.weight.detach(), torch.sqrt(bn.running_var + bn.eps))
    # train mode on all calibration images as one batch normalises with the running statistics
    x = torch.cat(batches)
    train_copy = copy.deepcopy(model).train()
    for got, want in zip(_outputs(train_copy, x), _outputs(model.eval(), x)):
        torch.testing.assert_close(got, want, atol=1e-3, rtol=1e-3)


def test_a_file_of_another_model_names_the_first_mismatch(files: dict[str, Path]) -> None:
    wrong = TinyBNSimDR(SPEC, width=4)
    with pytest.raises(CheckpointMismatchError, match=r"layer #0: ONNX Conv .*\(weight \(8, 3, 3, 3\)\) does not fit "
                                                       r"torch module 'conv1' .*weight \(4, 3, 3, 3\)"):
        recover_state_dict(files["fp32"], wrong, _calibration())
    other_heads = TinyBNSimDR(SPEC, cpj=3)
    with pytest.raises(CheckpointMismatchError, match=r"layer #3: .* 'final_layer'"):
        recover_state_dict(files["fp32"], other_heads, _calibration())


def test_no_calibration_images_is_an_input_error(files: dict[str, Path]) -> None:
    from edgepose.errors import InputError

    with pytest.raises(InputError, match="no calibration images"):
        recover_state_dict(files["fp32"], TinyBNSimDR(SPEC), [])


def test_cli_missing_onnx_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("_training_recover", REPO / "training" / "recover.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    missing = tmp_path / "nope.onnx"
    code = module.main(["--model", "simdr_r50_128", "--onnx", str(missing), "--calibration", str(tmp_path),
                        "--out", str(tmp_path / "out.pt")])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2
    assert lines == [f"error: --onnx {missing} does not exist"], err
    assert not (tmp_path / "out.pt").exists()
