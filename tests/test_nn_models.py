"""edgepose.nn models: sizes against the papers, output shapes, names, build() and counting."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from edgepose.nn import (  # noqa: E402
    HEADS,
    MRFeaNet2,
    ResNet,
    SimDRResNet,
    build,
    build_model,
    count_params_and_macs,
)
from edgepose.nn.complexity import count_params  # noqa: E402

# torchvision's published ResNet parameter counts (with the 1000-class fc layer)
TORCHVISION_PARAMS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032,
                      101: 44_549_160, 152: 60_192_808}
TORCHVISION_FC_IN = {18: 512, 34: 512, 50: 2048, 101: 2048, 152: 2048}


def trunk_params(depth: int) -> int:
    """torchvision count minus fc (in*1000 + 1000)."""
    return TORCHVISION_PARAMS[depth] - (TORCHVISION_FC_IN[depth] * 1000 + 1000)


def on_meta(head: str, depth: int, hw: tuple[int, int], k: int = 17, **kw) -> nn.Module:
    """Build on the meta device: exact shapes and counts, no memory, no compute."""
    with torch.device("meta"):
        return build_model(head, depth, k, hw, **kw)


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_trunk_param_count_equals_torchvision_without_fc(depth):
    with torch.device("meta"):
        model = ResNet(depth)
    assert count_params(model) == trunk_params(depth)


# ---- acceptance: SimDR-R50 without deconvolution (SimDR Table 4 / REFERENCE.md) -------------
SIMDR_UPFREE = [
    # (input_hw, k, cpj, params M, GMACs)
    ((64, 64), 3.0, 32, 24.67, 0.34),
    ((128, 128), 3.0, 32, 25.02, 1.36),
    ((256, 192), 2.0, 28, 25.69, 4.07),
]


@pytest.mark.parametrize("hw,k,cpj,params_m,gmacs", SIMDR_UPFREE)
def test_simdr_upfree_r50_params_and_macs(hw, k, cpj, params_m, gmacs):
    model = on_meta("simdr", 50, hw, split_ratio=k, cpj=cpj)
    params, macs = count_params_and_macs(model, hw)
    h, w = hw
    head_input = cpj * (h // 32) * (w // 32)
    expected = (trunk_params(50) + 2048 * 17 * cpj + 17 * cpj
                + (head_input + 1) * int(w * k) + (head_input + 1) * int(h * k))
    assert params == expected
    assert abs(params / 1e6 - params_m) <= 0.02
    assert abs(macs / 1e9 - gmacs) <= 0.05 * gmacs


@pytest.mark.parametrize("hw,k,params_m", [((64, 64), 3.0, 34.1), ((128, 128), 3.0, 34.8),
                                           ((256, 192), 2.0, 36.8)])
def test_simdr_deconv_r50_params(hw, k, params_m):
    model = on_meta("simdr_deconv", 50, hw, split_ratio=k)
    h, w = hw
    deconv = 2048 * 256 * 16 + 2 * 256 * 256 * 16 + 3 * 2 * 256
    expected = (trunk_params(50) + deconv + 256 * 17 + 17
                + (h * w // 16 + 1) * int(w * k) + (h * w // 16 + 1) * int(h * k))
    assert count_params(model) == expected
    assert abs(count_params(model) / 1e6 - params_m) <= 0.05


@pytest.mark.parametrize("hw", [(64, 64), (128, 128), (256, 192)])
def test_simplebaseline_r50_params(hw):
    params = count_params(on_meta("heatmap", 50, hw))
    assert abs(params / 1e6 - 34.0) <= 0.05
    assert params == trunk_params(50) + 2048 * 256 * 16 + 2 * 256 * 256 * 16 + 3 * 512 + 256 * 17 + 17


def test_multires_param_counts():
    base = count_params(on_meta("heatmap", 50, (256, 192)))
    k = 17
    side = (256 * k + k + 2 * k) * 2 + (k * k * 16 + 2 * k) + k * k * 16  # s_conv1/2, s_deconv1, s_deconv2
    assert count_params(on_meta("mrheat1", 50, (256, 192))) == base + side
    assert count_params(on_meta("mrheat2", 50, (256, 192))) == base + side + k * k * 16
    bn = 2  # BN params per channel
    fea1 = sum(i * o * 16 + bn * o for i, o in
               [(2048, 256), (256, 256), (256, 256), (1024, 256), (256, 256), (512, 256)])
    fea2 = sum(i * o * 16 + bn * o for i, o in
               [(2048, 1024), (1024, 512), (512, 256), (1024, 512), (512, 256), (512, 256)])
    assert count_params(on_meta("mrfea1", 50, (256, 192))) == trunk_params(50) + fea1 + 256 * k + k
    assert count_params(on_meta("mrfea2", 50, (256, 192))) == trunk_params(50) + fea2 + 256 * k + k


# ---- outputs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("head", sorted(HEADS))
@pytest.mark.parametrize("hw", [(64, 64), (256, 192)])
def test_output_shapes_every_head(head, hw):
    extra = {"simdr": {"cpj": 4, "split_ratio": 2.0}, "simdr_deconv": {"split_ratio": 2.0}}
    model = on_meta(head, 50, hw, k=16, **extra.get(head, {}))
    out = model(torch.zeros(2, 3, *hw, device="meta"))
    h, w = hw
    if head in ("simdr", "simdr_deconv"):
        assert model.output_names == ("simcc_x", "simcc_y")
        assert [tuple(t.shape) for t in out] == [(2, 16, w * 2), (2, 16, h * 2)]
    else:
        assert model.output_names == ("heatmaps",)
        assert tuple(out.shape) == (2, 16, h // 4, w // 4)
    assert model.head_name == head and model.num_keypoints == 16 and model.input_hw == hw


@pytest.mark.parametrize("head", sorted(HEADS))
def test_real_forward_backward_small(head):
    """A real CPU forward/backward on ResNet-18 at 64x64 gives finite outputs and gradients."""
    extra = {"simdr": {"cpj": 8, "split_ratio": 3.0}, "simdr_deconv": {"split_ratio": 3.0}}
    torch.manual_seed(0)
    model = build_model(head, 18, 5, (64, 64), **extra.get(head, {}))
    out = model(torch.randn(2, 3, 64, 64))
    outs = out if isinstance(out, tuple) else (out,)
    sum(o.float().pow(2).mean() for o in outs).backward()
    assert all(torch.isfinite(o).all() for o in outs)
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_upfree_embedding_layout():
    """final_layer channel k*cpj + t feeds keypoint k (official 'b (k t) h w -> b k (t h w)')."""
    torch.manual_seed(0)
    model = SimDRResNet(18, 3, (64, 64), cpj=2, split_ratio=1.0).eval()
    feats = {}
    model.final_layer.register_forward_hook(lambda m, i, o: feats.setdefault("f", o))
    x_logits, _ = model(torch.randn(1, 3, 64, 64))
    f = feats["f"]  # (1, 6, 2, 2)
    emb_k1 = f[0, 2:4].reshape(-1)  # channels 2, 3 -> keypoint 1, ordered (t, h, w)
    expected = model.mlp_head_x(emb_k1)
    torch.testing.assert_close(x_logits[0, 1], expected)


# ---- module names: the official top-level keys ------------------------------------------------
TRUNK = {"conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"}
OFFICIAL_TOP_LEVEL = {
    "simdr": TRUNK | {"final_layer", "mlp_head_x", "mlp_head_y"},
    "simdr_deconv": TRUNK | {"deconv_layers", "final_layer", "mlp_head_x", "mlp_head_y"},
    "heatmap": TRUNK | {"deconv_layers", "final_layer"},
    "mrheat1": TRUNK | {"deconv1", "deconv2", "deconv3", "s_conv1", "s_deconv1", "s_conv2",
                        "s_deconv2", "final_layer"},
    "mrheat2": TRUNK | {"deconv1", "deconv2", "deconv3", "s_conv1", "s_deconv1", "s_deconv12",
                        "s_conv2", "s_deconv2", "final_layer"},
    "mrfea1": TRUNK | {"deconv11", "deconv12", "deconv13", "deconv21", "deconv22", "deconv3",
                       "final_layer"},
}
OFFICIAL_TOP_LEVEL["mrfea2"] = OFFICIAL_TOP_LEVEL["mrfea1"]


@pytest.mark.parametrize("head", sorted(HEADS))
def test_top_level_module_names(head):
    extra = {"simdr": {"cpj": 4, "split_ratio": 2.0}, "simdr_deconv": {"split_ratio": 2.0}}
    model = on_meta(head, 50, (64, 64), **extra.get(head, {}))
    assert {name for name, _ in model.named_children()} == OFFICIAL_TOP_LEVEL[head]


def test_head_init_follows_official_code():
    torch.manual_seed(0)
    model = build_model("heatmap", 18, 17, (64, 64))
    w = model.final_layer.weight
    assert w.std().item() == pytest.approx(0.001, rel=0.2)
    assert torch.all(model.final_layer.bias == 0)
    assert model.deconv_layers[0].weight.std().item() == pytest.approx(0.001, rel=0.1)
    # trunk: torchvision's Kaiming fan_out init
    fan_out = 64 * 7 * 7
    assert model.conv1.weight.std().item() == pytest.approx((2 / fan_out) ** 0.5, rel=0.1)


# ---- build() -----------------------------------------------------------------------------
def test_build_from_registry_names_and_specs():
    zoo = pytest.importorskip("edgepose.zoo")
    with torch.device("meta"):
        model = build("simdr_r50_256x192")
        assert isinstance(model, SimDRResNet) and model.cpj == 28 and model.split_ratio == 2.0
        assert model.num_keypoints == 17 and model.input_hw == (256, 192)
        spec = zoo.get_spec("mrfea2_r50_256_mpii")
        model = build(spec)
        assert isinstance(model, MRFeaNet2) and model.num_keypoints == 16
        assert build(spec, num_keypoints=14).num_keypoints == 14
        for name in zoo.list_models():
            assert build(name).arch["head"] == zoo.get_spec(name).arch["head"]


def test_build_with_explicit_args_and_duck_typed_spec():
    class Spec:
        arch = {"head": "simdr", "backbone": "r50", "cpj": 32, "split_ratio": 3}
        input_hw = (128, 128)
        keypoint_set = "coco17"

    with torch.device("meta"):
        model = build(Spec())
        assert model.arch == {"head": "simdr", "backbone": "resnet50", "cpj": 32, "split_ratio": 3.0}
        assert model.num_keypoints == 17
        model = build(arch={"head": "heatmap", "backbone": "resnet18"}, input_hw=(64, 64),
                      num_keypoints=3)
        assert model.num_keypoints == 3 and model.depth == 18


@pytest.mark.parametrize("kwargs,match", [
    (dict(head="hrnet", backbone="resnet50"), "head"),
    (dict(head="heatmap", backbone="resnet26"), "backbone"),
    (dict(head="simdr", backbone="resnet50", split_ratio=2.0), "cpj"),
    (dict(head="simdr", backbone="resnet50", cpj=28), "split_ratio"),
    (dict(head="heatmap", backbone="resnet50", cpj=28), "cpj"),
    (dict(head="mrfea2", backbone="resnet50", split_ratio=2.0), "split_ratio"),
])
def test_build_arch_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_model(num_keypoints=17, input_hw=(64, 64), **kwargs)


def test_build_other_errors():
    with pytest.raises(ValueError, match="multiples of 32"):
        build_model("heatmap", 50, 17, (250, 192))
    with pytest.raises(ValueError, match="whole"):
        build_model("simdr", 50, 17, (64, 64), cpj=8, split_ratio=2.01)
    with pytest.raises(ValueError, match="unknown keys"):
        build(arch={"head": "heatmap", "backbone": "resnet50", "sigma": 2}, input_hw=(64, 64),
              num_keypoints=17)
    with pytest.raises(ValueError, match="needs"):
        build(arch={"head": "heatmap", "backbone": "resnet50"})
    with pytest.raises(ValueError, match="num_keypoints"):
        build_model("heatmap", 50, 0, (64, 64))


# ---- counting ------------------------------------------------------------------------------
def test_mac_counting_by_hand():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                        nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, bias=False),
                        nn.Flatten(), nn.Linear(4 * 64 * 64, 10))
    params, macs = count_params_and_macs(net, (32, 32))
    conv = 32 * 32 * 8 * 3 * 9
    deconv = (8 * 32 * 32) * 4 * 16  # every input element times Cout * kh * kw
    linear = 4 * 64 * 64 * 10
    assert macs == conv + deconv + linear
    assert params == sum(p.numel() for p in net.parameters())


def test_counting_real_equals_meta_and_restores_mode():
    torch.manual_seed(0)
    real = build_model("mrheat2", 18, 17, (64, 64)).train()
    assert count_params_and_macs(real, (64, 64)) == count_params_and_macs(
        on_meta("mrheat2", 18, (64, 64)), (64, 64))
    assert real.training
