"""Weight loading: official checkpoints by key, ImageNet trunks, wrappers, prefixes, errors.

The "official" state_dicts here are synthesised from the structure of the official code
(leeyegy/SimDR ``pose_resnet_upfree`` / ``pose_resnet``, tqtrunghnvn/SimMRPose
``mr{heat,fea}{1,2}_pose_resnet``, torchvision ``resnet``) as written down below, without
using edgepose's modules. A small functional re-implementation of the official forward passes
(torch.nn.functional only) checks that our models compute the same thing from them.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from edgepose.errors import ChecksumError, ModelFileError  # noqa: E402
from edgepose.nn import (  # noqa: E402
    CheckpointMismatchError,
    build_model,
    load_imagenet_backbone,
    load_pose_checkpoint,
    read_state_dict,
)

LAYERS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)),
          50: ("bottleneck", (3, 4, 6, 3)), 101: ("bottleneck", (3, 4, 23, 3))}


# ---- official key/shape lists ------------------------------------------------------------------
def bn(prefix: str, c: int) -> list[tuple[str, tuple[int, ...]]]:
    return [(f"{prefix}.weight", (c,)), (f"{prefix}.bias", (c,)), (f"{prefix}.running_mean", (c,)),
            (f"{prefix}.running_var", (c,)), (f"{prefix}.num_batches_tracked", ())]


def official_trunk(depth: int) -> list[tuple[str, tuple[int, ...]]]:
    kind, counts = LAYERS[depth]
    exp = 1 if kind == "basic" else 4
    keys = [("conv1.weight", (64, 3, 7, 7)), *bn("bn1", 64)]
    inplanes = 64
    for stage, (planes, n) in enumerate(zip((64, 128, 256, 512), counts), start=1):
        for j in range(n):
            p = f"layer{stage}.{j}"
            if kind == "basic":
                keys += [(f"{p}.conv1.weight", (planes, inplanes, 3, 3)), *bn(f"{p}.bn1", planes),
                         (f"{p}.conv2.weight", (planes, planes, 3, 3)), *bn(f"{p}.bn2", planes)]
            else:
                keys += [(f"{p}.conv1.weight", (planes, inplanes, 1, 1)), *bn(f"{p}.bn1", planes),
                         (f"{p}.conv2.weight", (planes, planes, 3, 3)), *bn(f"{p}.bn2", planes),
                         (f"{p}.conv3.weight", (planes * 4, planes, 1, 1)),
                         *bn(f"{p}.bn3", planes * 4)]
            if j == 0 and (stage > 1 or inplanes != planes * exp):
                keys += [(f"{p}.downsample.0.weight", (planes * exp, inplanes, 1, 1)),
                         *bn(f"{p}.downsample.1", planes * exp)]
            inplanes = planes * exp
    return keys


def deconv(prefix: str, cin: int, cout: int, with_bn: bool = True):
    """ConvTranspose2d weight is (in, out, kh, kw); BN follows at index 1 of a Sequential."""
    if not with_bn:
        return [(f"{prefix}.weight", (cin, cout, 4, 4))]
    return [(f"{prefix}.0.weight", (cin, cout, 4, 4)), *bn(f"{prefix}.1", cout)]


def official_keys(head: str, depth: int, k: int, hw: tuple[int, int], cpj: int = 0,
                  ratio: float = 0.0) -> list[tuple[str, tuple[int, ...]]]:
    h, w = hw
    c4 = 512 * (1 if LAYERS[depth][0] == "basic" else 4)
    keys = official_trunk(depth)
    if head == "simdr":  # pose_resnet_upfree
        hi = cpj * (h // 32) * (w // 32)
        keys += [("final_layer.weight", (k * cpj, c4, 1, 1)), ("final_layer.bias", (k * cpj,)),
                 ("mlp_head_x.weight", (int(w * ratio), hi)), ("mlp_head_x.bias", (int(w * ratio),)),
                 ("mlp_head_y.weight", (int(h * ratio), hi)), ("mlp_head_y.bias", (int(h * ratio),))]
    elif head in ("heatmap", "simdr_deconv"):  # pose_resnet
        for i, cin in enumerate((c4, 256, 256)):
            keys += [(f"deconv_layers.{3 * i}.weight", (cin, 256, 4, 4)),
                     *bn(f"deconv_layers.{3 * i + 1}", 256)]
        keys += [("final_layer.weight", (k, 256, 1, 1)), ("final_layer.bias", (k,))]
        if head == "simdr_deconv":
            hi = (h // 4) * (w // 4)
            keys += [("mlp_head_x.weight", (int(w * ratio), hi)),
                     ("mlp_head_x.bias", (int(w * ratio),)),
                     ("mlp_head_y.weight", (int(h * ratio), hi)),
                     ("mlp_head_y.bias", (int(h * ratio),))]
    elif head in ("mrheat1", "mrheat2"):
        keys += deconv("deconv1", c4, 256) + deconv("deconv2", 256, 256) + deconv("deconv3", 256, 256)
        for i in (1, 2):
            keys += [(f"s_conv{i}.0.weight", (k, 256, 1, 1)), (f"s_conv{i}.0.bias", (k,)),
                     *bn(f"s_conv{i}.1", k)]
        keys += deconv("s_deconv1", k, k) + deconv("s_deconv2", k, k, with_bn=False)
        if head == "mrheat2":
            keys += deconv("s_deconv12", k, k, with_bn=False)
        keys += [("final_layer.weight", (k, 256, 1, 1)), ("final_layer.bias", (k,))]
    elif head in ("mrfea1", "mrfea2"):
        c1, c2, c3 = c4 // 8, c4 // 4, c4 // 2
        if head == "mrfea1":
            widths = {"deconv11": (c4, c1), "deconv12": (c1, c1), "deconv13": (c1, c1),
                      "deconv21": (c3, c1), "deconv22": (c1, c1), "deconv3": (c2, c1)}
        else:
            widths = {"deconv11": (c4, c3), "deconv12": (c3, c2), "deconv13": (c2, c1),
                      "deconv21": (c3, c2), "deconv22": (c2, c1), "deconv3": (c2, c1)}
        for name, (cin, cout) in widths.items():
            keys += deconv(name, cin, cout)
        keys += [("final_layer.weight", (k, c1, 1, 1)), ("final_layer.bias", (k,))]
    return keys


def synthesize(keys, seed: int = 0) -> OrderedDict:
    """Random but well-scaled tensors for an official key list."""
    gen = torch.Generator().manual_seed(seed)
    sd = OrderedDict()
    for name, shape in keys:
        if name.endswith("num_batches_tracked"):
            sd[name] = torch.tensor(1234)
        elif name.endswith("running_var"):
            sd[name] = torch.rand(shape, generator=gen) + 0.5
        elif name.endswith(("running_mean", "bias")):
            sd[name] = 0.1 * torch.randn(shape, generator=gen)
        elif len(shape) == 1:  # BN gamma
            sd[name] = torch.rand(shape, generator=gen) + 0.5
        else:
            fan_in = shape[1] * math.prod(shape[2:]) if len(shape) == 4 else shape[1]
            if len(shape) == 4 and "deconv" in name:
                fan_in = shape[0] * 4  # transposed conv: each output sees ~in*kh*kw/stride^2
            sd[name] = torch.randn(shape, generator=gen) / math.sqrt(fan_in)
    return sd


# ---- functional re-implementation of the official forwards -------------------------------------
def f_bn(x, sd, p):
    return F.batch_norm(x, sd[f"{p}.running_mean"], sd[f"{p}.running_var"], sd[f"{p}.weight"],
                        sd[f"{p}.bias"], training=False, eps=1e-5)


def f_deconv(x, sd, p, with_bn=True):
    if not with_bn:
        return F.conv_transpose2d(x, sd[f"{p}.weight"], stride=2, padding=1)
    return F.relu(f_bn(F.conv_transpose2d(x, sd[f"{p}.0.weight"], stride=2, padding=1), sd, f"{p}.1"))


def f_trunk(x, sd, depth):
    kind, counts = LAYERS[depth]
    x = F.max_pool2d(F.relu(f_bn(F.conv2d(x, sd["conv1.weight"], stride=2, padding=3), sd, "bn1")),
                     3, stride=2, padding=1)
    stages = []
    for stage, n in enumerate(counts, start=1):
        for j in range(n):
            p = f"layer{stage}.{j}"
            s = 2 if (j == 0 and stage > 1) else 1
            idn = x
            if f"{p}.downsample.0.weight" in sd:
                idn = f_bn(F.conv2d(x, sd[f"{p}.downsample.0.weight"], stride=s), sd,
                           f"{p}.downsample.1")
            if kind == "basic":
                y = F.relu(f_bn(F.conv2d(x, sd[f"{p}.conv1.weight"], stride=s, padding=1), sd, f"{p}.bn1"))
                y = f_bn(F.conv2d(y, sd[f"{p}.conv2.weight"], padding=1), sd, f"{p}.bn2")
            else:
                y = F.relu(f_bn(F.conv2d(x, sd[f"{p}.conv1.weight"]), sd, f"{p}.bn1"))
                y = F.relu(f_bn(F.conv2d(y, sd[f"{p}.conv2.weight"], stride=s, padding=1), sd, f"{p}.bn2"))
                y = f_bn(F.conv2d(y, sd[f"{p}.conv3.weight"]), sd, f"{p}.bn3")
            x = F.relu(y + idn)
        stages.append(x)
    return stages


def f_conv1x1(x, sd, p):
    return F.conv2d(x, sd[f"{p}.weight"], sd[f"{p}.bias"])


def official_forward(head, x, sd, depth, k, cpj=0):
    c1, c2, c3, c4 = f_trunk(x, sd, depth)
    lin = lambda e, p: F.linear(e, sd[f"{p}.weight"], sd[f"{p}.bias"])  # noqa: E731
    if head == "simdr":
        f = f_conv1x1(c4, sd, "final_layer")
        b, _, h, w = f.shape
        emb = f.reshape(b, k, cpj, h, w).reshape(b, k, cpj * h * w)  # 'b (k t) h w -> b k (t h w)'
        return lin(emb, "mlp_head_x"), lin(emb, "mlp_head_y")
    if head in ("heatmap", "simdr_deconv"):
        y = c4
        for i in range(3):
            y = F.relu(f_bn(F.conv_transpose2d(y, sd[f"deconv_layers.{3 * i}.weight"], stride=2,
                                               padding=1), sd, f"deconv_layers.{3 * i + 1}"))
        hm = f_conv1x1(y, sd, "final_layer")
        if head == "heatmap":
            return hm
        emb = hm.flatten(2)
        return lin(emb, "mlp_head_x"), lin(emb, "mlp_head_y")
    if head in ("mrheat1", "mrheat2"):
        d1 = f_deconv(c4, sd, "deconv1")
        d2 = f_deconv(d1, sd, "deconv2")
        main = f_conv1x1(f_deconv(d2, sd, "deconv3"), sd, "final_layer")
        s1 = F.relu(f_bn(f_conv1x1(d1, sd, "s_conv1.0"), sd, "s_conv1.1"))
        s1 = f_deconv(s1, sd, "s_deconv1")
        s2 = F.relu(f_bn(f_conv1x1(d2, sd, "s_conv2.0"), sd, "s_conv2.1"))
        if head == "mrheat1":
            return main + f_deconv(s2 + s1, sd, "s_deconv2", with_bn=False)
        return (main + f_deconv(s1, sd, "s_deconv12", with_bn=False)
                + f_deconv(s2, sd, "s_deconv2", with_bn=False))
    # mrfea1/2: x5 = (x1 + x2 + x3 + x4) / 4
    x2 = f_deconv(c2, sd, "deconv3")
    x3 = f_deconv(f_deconv(c3, sd, "deconv21"), sd, "deconv22")
    x4 = f_deconv(f_deconv(f_deconv(c4, sd, "deconv11"), sd, "deconv12"), sd, "deconv13")
    return f_conv1x1((c1 + x2 + x3 + x4) / 4, sd, "final_layer")


CASES = [
    # head, depth, K, input_hw, cpj, k
    ("simdr", 50, 17, (64, 64), 32, 3.0),
    ("simdr", 50, 17, (256, 192), 28, 2.0),
    ("simdr_deconv", 50, 17, (64, 64), 0, 3.0),
    ("simdr_deconv", 50, 17, (256, 192), 0, 2.0),
    ("heatmap", 50, 17, (256, 192), 0, 0.0),
    ("mrheat1", 50, 17, (256, 192), 0, 0.0),
    ("mrheat2", 50, 16, (256, 256), 0, 0.0),
    ("mrfea1", 50, 17, (256, 192), 0, 0.0),
    ("mrfea2", 50, 16, (256, 256), 0, 0.0),
]


def make(head, depth, k, hw, cpj, ratio, device=None):
    kwargs = {}
    if head == "simdr":
        kwargs["cpj"] = cpj
    if head in ("simdr", "simdr_deconv"):
        kwargs["split_ratio"] = ratio
    if device is None:
        return build_model(head, depth, k, hw, **kwargs)
    with torch.device(device):
        return build_model(head, depth, k, hw, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-r{c[1]}-{c[3][0]}x{c[3][1]}")
def test_official_key_names_and_shapes(case):
    head, depth, k, hw, cpj, ratio = case
    model = make(*case, device="meta")
    ours = {n: tuple(t.shape) for n, t in model.state_dict().items()}
    official = dict(official_keys(head, depth, k, hw, cpj, ratio))
    assert set(ours) - set(official) == set(), "keys the official code does not have"
    assert set(official) - set(ours) == set(), "official keys we lack"
    assert ours == official


FORWARD_CASES = [
    ("simdr", 50, 17, (64, 64), 32, 3.0),
    ("simdr_deconv", 50, 17, (64, 64), 0, 3.0),
    ("simdr", 18, 5, (96, 64), 4, 2.0),
    ("simdr_deconv", 18, 5, (96, 64), 0, 2.0),
    ("heatmap", 18, 5, (96, 64), 0, 0.0),
    ("mrheat1", 18, 5, (96, 64), 0, 0.0),
    ("mrheat2", 18, 5, (96, 64), 0, 0.0),
    ("mrfea1", 18, 5, (96, 64), 0, 0.0),
    ("mrfea2", 18, 5, (96, 64), 0, 0.0),
]


@pytest.mark.parametrize("case", FORWARD_CASES, ids=lambda c: f"{c[0]}-r{c[1]}")
def test_official_checkpoint_loads_and_reproduces_official_forward(case):
    head, depth, k, hw, cpj, ratio = case
    sd = synthesize(official_keys(head, depth, k, hw, cpj, ratio))
    # as saved by the official training code: DataParallel prefix inside a checkpoint dict
    wrapped = {"epoch": 140, "state_dict": OrderedDict(("module." + n, t) for n, t in sd.items())}
    model = make(*case)
    report = load_pose_checkpoint(model, wrapped)
    assert report.ok and not report.missing and not report.unexpected and not report.mismatched
    assert set(report.loaded) == set(sd)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, sd[name]), name
    x = torch.randn(2, 3, *hw, generator=torch.Generator().manual_seed(1))
    model.eval()
    with torch.no_grad():
        ours = model(x)
        ref = official_forward(head, x, sd, depth, k, cpj)
    ours = ours if isinstance(ours, tuple) else (ours,)
    ref = ref if isinstance(ref, tuple) else (ref,)
    for a, b in zip(ours, ref):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_official_checkpoint_file_roundtrip(tmp_path):
    case = ("simdr", 18, 17, (64, 64), 32, 3.0)
    sd = synthesize(official_keys(*case[:4], cpj=32, ratio=3.0))
    path = tmp_path / "final_state.pth"
    torch.save(OrderedDict(("module." + n, t) for n, t in sd.items()), path)
    model = make(*case)
    assert load_pose_checkpoint(model, str(path)).ok
    assert torch.equal(model.mlp_head_y.weight, sd["mlp_head_y.weight"])
    # another wrapper key
    torch.save({"best_state_dict": sd, "perf": 0.7}, tmp_path / "ckpt.pth")
    assert load_pose_checkpoint(make(*case), tmp_path / "ckpt.pth", key="best_state_dict").ok
    with pytest.raises(ModelFileError, match="key="):
        load_pose_checkpoint(make(*case), tmp_path / "ckpt.pth")
    # an edgepose training checkpoint (what --init_checkpoint continues from)
    torch.save({"format": "edgepose-checkpoint", "spec": {"name": "simdr_r18_64"}, "model": sd,
                "optimizer": {"state": {}}, "epoch": 3}, tmp_path / "last.pt")
    model = make(*case)
    report = load_pose_checkpoint(model, tmp_path / "last.pt")
    assert report.ok and report.summary() == f"{len(sd)} tensors loaded"
    assert torch.equal(model.mlp_head_x.weight, sd["mlp_head_x.weight"])


def test_mismatch_errors_list_keys_and_shapes():
    sd = synthesize(official_keys("simdr", 18, 17, (64, 64), 32, 3.0))
    model = make("simdr", 18, 17, (128, 128), 32, 3.0)  # other input size -> other head shapes
    with pytest.raises(CheckpointMismatchError) as err:
        load_pose_checkpoint(model, sd)
    text = str(err.value)
    assert "mlp_head_x.weight: source (192, 128) vs model (384, 512)" in text
    assert isinstance(err.value, ValueError)

    extra = dict(sd, **{"deconv_layers.0.weight": torch.zeros(512, 256, 4, 4)})
    del extra["final_layer.bias"]
    model = make("simdr", 18, 17, (64, 64), 32, 3.0)
    with pytest.raises(CheckpointMismatchError) as err:
        load_pose_checkpoint(model, extra)
    assert "missing in source (1): final_layer.bias" in str(err.value)
    assert "unexpected in source (1): deconv_layers.0.weight" in str(err.value)

    before = model.final_layer.bias.clone()
    report = load_pose_checkpoint(model, extra, strict=False)
    assert not report.ok and report.missing == ("final_layer.bias",)
    assert torch.equal(model.final_layer.bias, before)
    assert torch.equal(model.final_layer.weight, sd["final_layer.weight"])


def test_imagenet_backbone_load_drops_fc_and_tolerates_legacy_files(tmp_path):
    trunk = [(n, s) for n, s in official_trunk(18) if not n.endswith("num_batches_tracked")]
    sd = synthesize(trunk + [("fc.weight", (1000, 512)), ("fc.bias", (1000,))], seed=3)
    path = tmp_path / "resnet18-legacy.pth"
    torch.save(sd, path)
    model = make("heatmap", 18, 17, (64, 64), 0, 0.0)
    head_before = {n: t.clone() for n, t in model.state_dict().items() if not n.startswith(
        ("conv1.", "bn1.", "layer"))}
    report = load_imagenet_backbone(model, str(path))
    assert report.ok
    assert set(report.ignored) == {"fc.weight", "fc.bias"}
    assert report.kept and all(n.endswith("num_batches_tracked") for n in report.kept)
    assert len(report.loaded) == len(trunk)
    for name, tensor in model.state_dict().items():
        if name in sd:
            assert torch.equal(tensor, sd[name])
        elif name in head_before:
            assert torch.equal(tensor, head_before[name])
    x = torch.randn(1, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.forward_features(x), f_trunk(x, sd, 18)[-1],
                                   rtol=1e-4, atol=1e-5)


def test_imagenet_backbone_wrong_depth_is_reported():
    sd = synthesize(official_trunk(34), seed=4)
    with pytest.raises(CheckpointMismatchError, match="unexpected in source"):
        load_imagenet_backbone(make("heatmap", 18, 17, (64, 64), 0, 0.0), sd)


def test_url_sources_check_hash(monkeypatch):
    calls = {}

    def fake_download(url, **kwargs):
        calls.update(kwargs, url=url)
        raise RuntimeError('invalid hash value (expected "0676ba61", got "deadbeef")')

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake_download)
    model = make("heatmap", 18, 17, (64, 64), 0, 0.0)
    with pytest.raises(ChecksumError):
        load_imagenet_backbone(model)  # default: torchvision's resnet18 URL
    assert calls["url"].endswith("resnet18-f37072fd.pth")
    assert calls["check_hash"] is True and calls["weights_only"] is True


def test_read_state_dict_errors(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        read_state_dict(tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelFileError, match="cannot read"):
        read_state_dict(bad)
    with pytest.raises(ModelFileError, match="not tensors"):
        read_state_dict({"conv1.weight": torch.zeros(1), "epoch": 3})


def test_load_report_summary_names_the_first_problem_keys():
    from edgepose.nn.weights import LoadReport

    report = LoadReport(loaded=("a", "b"), missing=("m1", "m2", "m3", "m4"), mismatched=(("w", (1,), (2,)),))
    assert report.summary() == "2 tensors loaded; 4 missing (m1, m2, m3, ...); 1 mismatched (w)"
