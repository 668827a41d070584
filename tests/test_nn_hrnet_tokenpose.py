"""HRNet-W32 / W48 and TokenPose-S: sizes against the SimDR paper's Table 2, official key names,
an independent functional forward, registry entries and their output shapes.

The "official" key lists are written down here from the structure of the official code
(leeyegy/SimCC ``lib/models/pose_hrnet.py``; leeyegy/TokenPose ``pose_tokenpose_s.py`` and
``tokenpose_base.py``; the authors' TokenPose SimDR heads ``mlp_head_x`` / ``mlp_head_y`` =
[LayerNorm, Linear]) without using edgepose's modules, and the functional forwards use
torch.nn.functional only.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from edgepose.nn import build, build_model, count_params_and_macs, load_pose_checkpoint  # noqa: E402
from edgepose.nn.complexity import count_params, paper_gflops  # noqa: E402
from edgepose.nn.summary import main as summary_main  # noqa: E402
from edgepose.nn.tokenpose import sine_position_embedding  # noqa: E402

zoo = pytest.importorskip("edgepose.zoo")

K = 17
SIZES = {"64": (64, 64), "128": (128, 128), "256x192": (256, 192)}
#: k of the official HRNet SimDR configs (and of our TokenPose-S SimDR models)
SPLIT = {"64": 3.0, "128": 2.0, "256x192": 2.0}

# SimDR paper, Table 2: (backbone, head) -> {size: (params M, GFLOPs)}
TABLE2 = {
    ("hrnet_w32", "heatmap"): {"64": (28.5, 0.6), "128": (28.5, 2.4), "256x192": (28.5, 7.1)},
    ("hrnet_w32", "simdr"): {"64": (28.6, 0.6), "128": (29.1, 2.4), "256x192": (31.3, 7.1)},
    ("hrnet_w48", "heatmap"): {"64": (63.6, 1.2), "128": (63.6, 4.9), "256x192": (63.6, 14.6)},
    ("hrnet_w48", "simdr"): {"64": (63.7, 1.2), "128": (64.1, 4.9), "256x192": (66.3, 14.6)},
    ("tokenpose_s", "heatmap"): {"64": (4.9, 1.4), "128": (5.2, 1.6), "256x192": (6.6, 2.2)},
    ("tokenpose_s", "simdr"): {"64": (4.9, 1.4), "128": (5.1, 1.6), "256x192": (5.5, 2.2)},
}
ROWS = [(bb, head, size, *figures) for (bb, head), sizes in TABLE2.items() for size, figures in sizes.items()]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny CPU passes run faster on one thread (no waits at parallel-region barriers when the
    cores are busy with other work)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def on_meta(head: str, backbone: str, hw: tuple[int, int], k: float | None = None, keypoints: int = K):
    with torch.device("meta"):
        return build_model(head, backbone, keypoints, hw, split_ratio=k)


# ---- acceptance: Table 2 ---------------------------------------------------------------------------
@pytest.mark.parametrize("backbone,head,size,params_m,gflops", ROWS,
                         ids=[f"{r[0]}-{r[1]}-{r[2]}" for r in ROWS])
def test_params_and_gflops_match_table2(backbone, head, size, params_m, gflops):
    """Params within 0.05 M; GFLOPs within 5 % under the papers' own counter.

    The papers' counter (official get_model_summary) divides by 1024**3 and counts a Linear
    on (B, N, D) tokens as N * out instead of D * out; edgepose.nn.complexity.paper_gflops
    reproduces it. The real multiply-adds are checked against it below.
    """
    hw = SIZES[size]
    model = on_meta(head, backbone, hw, SPLIT[size] if head == "simdr" else None)
    params, macs = count_params_and_macs(model, hw)
    assert abs(params / 1e6 - params_m) <= 0.05
    assert abs(paper_gflops(model, hw) - gflops) <= 0.05 * gflops
    if backbone.startswith("hrnet"):  # convolutions only: the two counts differ by the unit alone
        assert abs(macs / 1024 ** 3 - gflops) <= 0.05 * gflops


@pytest.mark.parametrize("backbone", ["hrnet_w32", "hrnet_w48"])
def test_hrnet_simdr_adds_exactly_the_two_linear_heads(backbone):
    for size, (h, w) in SIZES.items():
        k = SPLIT[size]
        extra = (count_params(on_meta("simdr", backbone, (h, w), k))
                 - count_params(on_meta("heatmap", backbone, (h, w))))
        n = (h // 4) * (w // 4)
        assert extra == (n + 1) * int(w * k) + (n + 1) * int(h * k)


def test_tokenpose_simdr_replaces_the_mlp_head():
    d = 192
    for size, (h, w) in SIZES.items():
        k, area = SPLIT[size], (h // 4) * (w // 4)
        hidden = area // 8
        mlp = (2 * d + d * hidden + hidden + 2 * hidden + hidden * area + area if d <= hidden // 2
               else 2 * d + d * area + area)
        simdr = 2 * (2 * d) + (d + 1) * int(w * k) + (d + 1) * int(h * k)
        diff = (count_params(on_meta("simdr", "tokenpose_s", (h, w), k))
                - count_params(on_meta("heatmap", "tokenpose_s", (h, w))))
        assert diff == simdr - mlp


def test_summary_cli_lists_the_new_models(capsys):
    names = ["hm_hrw32_64", "simdr_hrw48_128", "simdrstar_tps_256x192"]
    assert summary_main(["--models", *names]) == 0
    out = capsys.readouterr().out
    assert all(n in out for n in names) and "paper GFLOPs" in out
    assert "28.54" in out and "64.12" in out and "5.54" in out


# ---- official key names -------------------------------------------------------------------------------
def bn(prefix: str, c: int) -> list[tuple[str, tuple[int, ...]]]:
    return [(f"{prefix}.weight", (c,)), (f"{prefix}.bias", (c,)), (f"{prefix}.running_mean", (c,)),
            (f"{prefix}.running_var", (c,)), (f"{prefix}.num_batches_tracked", ())]


def ln(prefix: str, c: int) -> list[tuple[str, tuple[int, ...]]]:
    return [(f"{prefix}.weight", (c,)), (f"{prefix}.bias", (c,))]


def linear(prefix: str, cin: int, cout: int, bias: bool = True) -> list[tuple[str, tuple[int, ...]]]:
    return [(f"{prefix}.weight", (cout, cin))] + ([(f"{prefix}.bias", (cout,))] if bias else [])


def stem_keys(prefix: str = "") -> list[tuple[str, tuple[int, ...]]]:
    """conv1/bn1/conv2/bn2 and layer1 (4 Bottlenecks 64 -> 256) of pose_hrnet and TokenPose_S_base."""
    keys = [(f"{prefix}conv1.weight", (64, 3, 3, 3)), *bn(f"{prefix}bn1", 64),
            (f"{prefix}conv2.weight", (64, 64, 3, 3)), *bn(f"{prefix}bn2", 64)]
    for j in range(4):
        p, cin = f"{prefix}layer1.{j}", 64 if j == 0 else 256
        keys += [(f"{p}.conv1.weight", (64, cin, 1, 1)), *bn(f"{p}.bn1", 64),
                 (f"{p}.conv2.weight", (64, 64, 3, 3)), *bn(f"{p}.bn2", 64),
                 (f"{p}.conv3.weight", (256, 64, 1, 1)), *bn(f"{p}.bn3", 256)]
        if j == 0:
            keys += [(f"{p}.downsample.0.weight", (256, 64, 1, 1)), *bn(f"{p}.downsample.1", 256)]
    return keys


def official_hrnet_keys(c: int, k: int, hw: tuple[int, int], split: float | None = None):
    """pose_hrnet with NUM_CHANNELS c, 2c, 4c, 8c (W32: c=32), FINAL_CONV_KERNEL 1."""
    keys = stem_keys()
    widths = [c, 2 * c, 4 * c, 8 * c]
    # transition1: [256] -> [c, 2c]; transition2/3 add one branch from the lowest one
    keys += [("transition1.0.0.weight", (c, 256, 3, 3)), *bn("transition1.0.1", c),
             ("transition1.1.0.0.weight", (2 * c, 256, 3, 3)), *bn("transition1.1.0.1", 2 * c)]
    for t, nb in ((2, 3), (3, 4)):
        keys += [(f"transition{t}.{nb - 1}.0.0.weight", (widths[nb - 1], widths[nb - 2], 3, 3)),
                 *bn(f"transition{t}.{nb - 1}.0.1", widths[nb - 1])]
    for stage, modules, nb in ((2, 1, 2), (3, 4, 3), (4, 3, 4)):
        for m in range(modules):
            p = f"stage{stage}.{m}"
            for b in range(nb):
                for blk in range(4):
                    q = f"{p}.branches.{b}.{blk}"
                    keys += [(f"{q}.conv1.weight", (widths[b], widths[b], 3, 3)), *bn(f"{q}.bn1", widths[b]),
                             (f"{q}.conv2.weight", (widths[b], widths[b], 3, 3)), *bn(f"{q}.bn2", widths[b])]
            rows = 1 if (stage == 4 and m == modules - 1) else nb
            for i in range(rows):
                for j in range(nb):
                    q = f"{p}.fuse_layers.{i}.{j}"
                    if j > i:
                        keys += [(f"{q}.0.weight", (widths[i], widths[j], 1, 1)), *bn(f"{q}.1", widths[i])]
                    elif j < i:
                        for s in range(i - j):
                            cout = widths[i] if s == i - j - 1 else widths[j]
                            keys += [(f"{q}.{s}.0.weight", (cout, widths[j], 3, 3)), *bn(f"{q}.{s}.1", cout)]
    keys += [("final_layer.weight", (k, c, 1, 1)), ("final_layer.bias", (k,))]
    if split is not None:
        h, w = hw
        n = (h // 4) * (w // 4)
        keys += linear("mlp_head_x", n, int(w * split)) + linear("mlp_head_y", n, int(h * split))
    return keys


def official_tokenpose_s_keys(k: int, hw: tuple[int, int], split: float | None = None):
    """TokenPose_S (features = TokenPose_S_base: DIM 192, depth 12, MLP ratio 3, sine-full)."""
    d, h, w = 192, *hw
    ph, pw = h // 64, w // 64  # 16 x 16 patch grid on the stride-4 map (TokenPose-S-v1 256x192: 4x3)
    f = "features."
    keys = [(f"{f}keypoint_token", (1, k, d)), (f"{f}pos_embedding", (1, 256, d)),
            *linear(f"{f}patch_to_embedding", 256 * ph * pw, d), *stem_keys(f)]
    for i in range(12):
        p = f"{f}transformer.layers.{i}"
        keys += [*ln(f"{p}.0.fn.norm", d), *linear(f"{p}.0.fn.fn.to_qkv", d, 3 * d, bias=False),
                 *linear(f"{p}.0.fn.fn.to_out.0", d, d),
                 *ln(f"{p}.1.fn.norm", d), *linear(f"{p}.1.fn.fn.net.0", d, 3 * d),
                 *linear(f"{p}.1.fn.fn.net.3", 3 * d, d)]
    area = (h // 4) * (w // 4)
    if split is None:
        hidden = area // 8
        if d <= hidden * 0.5:
            keys += [*ln(f"{f}mlp_head.0", d), *linear(f"{f}mlp_head.1", d, hidden),
                     *ln(f"{f}mlp_head.2", hidden), *linear(f"{f}mlp_head.3", hidden, area)]
        else:
            keys += [*ln(f"{f}mlp_head.0", d), *linear(f"{f}mlp_head.1", d, area)]
    else:
        keys += [*ln("mlp_head_x.0", d), *linear("mlp_head_x.1", d, int(w * split)),
                 *ln("mlp_head_y.0", d), *linear("mlp_head_y.1", d, int(h * split))]
    return keys


def official_keys(backbone: str, hw: tuple[int, int], split: float | None, k: int = K):
    if backbone == "tokenpose_s":
        return official_tokenpose_s_keys(k, hw, split)
    return official_hrnet_keys({"hrnet_w32": 32, "hrnet_w48": 48}[backbone], k, hw, split)


KEY_CASES = [(bb, head, size) for bb in ("hrnet_w32", "hrnet_w48", "tokenpose_s")
             for head in ("heatmap", "simdr") for size in ("64", "256x192")]


@pytest.mark.parametrize("backbone,head,size", KEY_CASES, ids=["-".join(c) for c in KEY_CASES])
def test_official_key_names_and_shapes(backbone, head, size):
    hw = SIZES[size]
    split = SPLIT[size] if head == "simdr" else None
    ours = {n: tuple(t.shape) for n, t in on_meta(head, backbone, hw, split).state_dict().items()}
    official = dict(official_keys(backbone, hw, split))
    assert set(ours) - set(official) == set(), "keys the official code does not have"
    assert set(official) - set(ours) == set(), "official keys we lack"
    assert ours == official


# ---- independent functional forwards ---------------------------------------------------------------------
def synthesize(keys, seed: int = 0) -> OrderedDict:
    """Random but well-scaled tensors for an official key list."""
    gen = torch.Generator().manual_seed(seed)
    sd = OrderedDict()
    for name, shape in keys:
        if name.endswith("num_batches_tracked"):
            sd[name] = torch.tensor(321)
        elif name.endswith("running_var"):
            sd[name] = torch.rand(shape, generator=gen) + 0.5
        elif name.endswith(("running_mean", "bias")):
            sd[name] = 0.1 * torch.randn(shape, generator=gen)
        elif name.endswith("pos_embedding"):
            sd[name] = official_sine_embedding(16, 16, shape[-1])
        elif len(shape) == 1:  # BN / LayerNorm gamma
            sd[name] = torch.rand(shape, generator=gen) + 0.5
        elif len(shape) == 3:  # keypoint tokens
            sd[name] = 0.02 * torch.randn(shape, generator=gen)
        else:
            fan_in = shape[1] * math.prod(shape[2:])
            sd[name] = torch.randn(shape, generator=gen) / math.sqrt(fan_in)
    return sd


def official_sine_embedding(h: int, w: int, d: int) -> torch.Tensor:
    """The official _make_sine_position_embedding (cumsum form) -> (1, h*w, d)."""
    area = torch.ones(1, h, w)
    y = area.cumsum(1)
    x = area.cumsum(2)
    y = y / (y[:, -1:, :] + 1e-6) * 2 * math.pi
    x = x / (x[:, :, -1:] + 1e-6) * 2 * math.pi
    half = d // 2
    t = torch.arange(half, dtype=torch.float32)
    t = 10000 ** (2 * (t // 2) / half)
    px, py = x[:, :, :, None] / t, y[:, :, :, None] / t
    px = torch.stack((px[:, :, :, 0::2].sin(), px[:, :, :, 1::2].cos()), dim=4).flatten(3)
    py = torch.stack((py[:, :, :, 0::2].sin(), py[:, :, :, 1::2].cos()), dim=4).flatten(3)
    return torch.cat((py, px), dim=3).permute(0, 3, 1, 2).flatten(2).permute(0, 2, 1)


def f_bn(x, sd, p):
    return F.batch_norm(x, sd[f"{p}.running_mean"], sd[f"{p}.running_var"], sd[f"{p}.weight"],
                        sd[f"{p}.bias"], training=False, eps=1e-5)


def f_conv_bn(x, sd, p, stride=1, relu=True):
    """Sequential [Conv2d (index 0), BN (index 1)] (+ ReLU)."""
    wgt = sd[f"{p}.0.weight"]
    y = f_bn(F.conv2d(x, wgt, stride=stride, padding=wgt.shape[-1] // 2), sd, f"{p}.1")
    return F.relu(y) if relu else y


def f_stem(x, sd, f=""):
    x = F.relu(f_bn(F.conv2d(x, sd[f"{f}conv1.weight"], stride=2, padding=1), sd, f"{f}bn1"))
    x = F.relu(f_bn(F.conv2d(x, sd[f"{f}conv2.weight"], stride=2, padding=1), sd, f"{f}bn2"))
    for j in range(4):
        p = f"{f}layer1.{j}"
        y = F.relu(f_bn(F.conv2d(x, sd[f"{p}.conv1.weight"]), sd, f"{p}.bn1"))
        y = F.relu(f_bn(F.conv2d(y, sd[f"{p}.conv2.weight"], padding=1), sd, f"{p}.bn2"))
        y = f_bn(F.conv2d(y, sd[f"{p}.conv3.weight"]), sd, f"{p}.bn3")
        idn = f_bn(F.conv2d(x, sd[f"{p}.downsample.0.weight"]), sd, f"{p}.downsample.1") if j == 0 else x
        x = F.relu(y + idn)
    return x


def f_hrnet(x, sd, split: bool):
    x = f_stem(x, sd)
    xs = [f_conv_bn(x, sd, "transition1.0"), f_conv_bn(x, sd, "transition1.1.0", stride=2)]
    for stage, modules, nb in ((2, 1, 2), (3, 4, 3), (4, 3, 4)):
        if stage > 2:
            xs = xs + [f_conv_bn(xs[-1], sd, f"transition{stage - 1}.{nb - 1}.0", stride=2)]
        for m in range(modules):
            p = f"stage{stage}.{m}"
            ys = []
            for b in range(nb):
                y = xs[b]
                for blk in range(4):
                    q = f"{p}.branches.{b}.{blk}"
                    z = F.relu(f_bn(F.conv2d(y, sd[f"{q}.conv1.weight"], padding=1), sd, f"{q}.bn1"))
                    y = F.relu(f_bn(F.conv2d(z, sd[f"{q}.conv2.weight"], padding=1), sd, f"{q}.bn2") + y)
                ys.append(y)
            rows = 1 if (stage == 4 and m == modules - 1) else nb
            fused = []
            for i in range(rows):
                acc = ys[i]
                for j in range(nb):
                    q = f"{p}.fuse_layers.{i}.{j}"
                    if j > i:
                        up = f_bn(F.conv2d(ys[j], sd[f"{q}.0.weight"]), sd, f"{q}.1")
                        acc = acc + F.interpolate(up, scale_factor=2 ** (j - i), mode="nearest")
                    elif j < i:
                        z = ys[j]
                        for s in range(i - j):
                            z = f_conv_bn(z, sd, f"{q}.{s}", stride=2, relu=s < i - j - 1)
                        acc = acc + z
                fused.append(F.relu(acc))
            xs = fused
    hm = F.conv2d(xs[0], sd["final_layer.weight"], sd["final_layer.bias"])
    if not split:
        return hm
    e = hm.flatten(2)
    return (F.linear(e, sd["mlp_head_x.weight"], sd["mlp_head_x.bias"]),
            F.linear(e, sd["mlp_head_y.weight"], sd["mlp_head_y.bias"]))


def f_ln(x, sd, p):
    return F.layer_norm(x, x.shape[-1:], sd[f"{p}.weight"], sd[f"{p}.bias"], eps=1e-5)


def f_tokenpose_s(img, sd, hw, split: bool, k: int = K):
    f, d, heads = "features.", 192, 8
    h, w = hw
    ph, pw = h // 64, w // 64
    x = f_stem(img, sd, f)
    b, c = x.shape[:2]
    # rearrange 'b c (h p1) (w p2) -> b (h w) (p1 p2 c)' written with unfold-style indexing
    patches = torch.stack([x[:, :, i * ph:(i + 1) * ph, j * pw:(j + 1) * pw].permute(0, 2, 3, 1).reshape(b, -1)
                           for i in range(16) for j in range(16)], dim=1)
    pos = sd[f"{f}pos_embedding"]
    x = F.linear(patches, sd[f"{f}patch_to_embedding.weight"], sd[f"{f}patch_to_embedding.bias"]) + pos
    x = torch.cat((sd[f"{f}keypoint_token"].expand(b, -1, -1), x), dim=1)
    for i in range(12):
        p = f"{f}transformer.layers.{i}"
        if i > 0:
            x = torch.cat((x[:, :k], x[:, k:] + pos), dim=1)
        y = f_ln(x, sd, f"{p}.0.fn.norm")
        q, kk, v = F.linear(y, sd[f"{p}.0.fn.fn.to_qkv.weight"]).chunk(3, dim=-1)
        split_heads = lambda t: t.reshape(b, t.shape[1], heads, d // heads).transpose(1, 2)  # noqa: E731
        q, kk, v = map(split_heads, (q, kk, v))
        attn = (torch.einsum("bhid,bhjd->bhij", q, kk) * d ** -0.5).softmax(dim=-1)
        o = torch.einsum("bhij,bhjd->bhid", attn, v).transpose(1, 2).reshape(b, -1, d)
        x = x + F.linear(o, sd[f"{p}.0.fn.fn.to_out.0.weight"], sd[f"{p}.0.fn.fn.to_out.0.bias"])
        y = f_ln(x, sd, f"{p}.1.fn.norm")
        y = F.gelu(F.linear(y, sd[f"{p}.1.fn.fn.net.0.weight"], sd[f"{p}.1.fn.fn.net.0.bias"]))
        x = x + F.linear(y, sd[f"{p}.1.fn.fn.net.3.weight"], sd[f"{p}.1.fn.fn.net.3.bias"])
    t = x[:, :k]
    if split:
        out = []
        for axis in ("x", "y"):
            z = f_ln(t, sd, f"mlp_head_{axis}.0")
            out.append(F.linear(z, sd[f"mlp_head_{axis}.1.weight"], sd[f"mlp_head_{axis}.1.bias"]))
        return tuple(out)
    z = f_ln(t, sd, f"{f}mlp_head.0")
    z = F.linear(z, sd[f"{f}mlp_head.1.weight"], sd[f"{f}mlp_head.1.bias"])
    if f"{f}mlp_head.3.weight" in sd:
        z = F.linear(f_ln(z, sd, f"{f}mlp_head.2"), sd[f"{f}mlp_head.3.weight"], sd[f"{f}mlp_head.3.bias"])
    return z.reshape(b, k, h // 4, w // 4)


FORWARD_CASES = [("hrnet_w32", "heatmap", (64, 64)), ("hrnet_w32", "simdr", (64, 64)),
                 ("tokenpose_s", "heatmap", (64, 64)), ("tokenpose_s", "simdr", (128, 64))]


@pytest.mark.parametrize("backbone,head,hw", FORWARD_CASES, ids=[f"{c[0]}-{c[1]}" for c in FORWARD_CASES])
def test_official_checkpoint_loads_and_reproduces_official_forward(backbone, head, hw):
    split = 2.0 if head == "simdr" else None
    sd = synthesize(official_keys(backbone, hw, split))
    wrapped = {"epoch": 210, "state_dict": OrderedDict(("module." + n, t) for n, t in sd.items())}
    torch.manual_seed(0)
    model = build_model(head, backbone, K, hw, split_ratio=split)
    report = load_pose_checkpoint(model, wrapped)
    assert report.ok and not report.missing and not report.unexpected and not report.mismatched
    assert set(report.loaded) == set(sd)
    x = torch.randn(2, 3, *hw, generator=torch.Generator().manual_seed(1))
    model.eval()
    with torch.no_grad():
        ours = model(x)
        ref = (f_hrnet(x, sd, split is not None) if backbone.startswith("hrnet")
               else f_tokenpose_s(x, sd, hw, split is not None))
    ours = ours if isinstance(ours, tuple) else (ours,)
    ref = ref if isinstance(ref, tuple) else (ref,)
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert a.shape == b.shape and torch.isfinite(a).all()
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4 * float(b.abs().max()))


def test_sine_embedding_equals_the_official_cumsum_form():
    torch.testing.assert_close(sine_position_embedding((16, 16), 192), official_sine_embedding(16, 16, 192))
    with torch.device("meta"):
        model = build_model("heatmap", "tokenpose_s", K, (64, 64))
    assert "features.pos_embedding" in model.state_dict()
    assert all("pos_embedding" not in n for n, _ in model.named_parameters())  # fixed, not trained


def test_train_step_gives_finite_gradients_everywhere():
    torch.manual_seed(0)
    for backbone in ("hrnet_w32", "tokenpose_s"):
        model = build_model("simdr", backbone, 5, (64, 64), split_ratio=2.0).train()
        outs = model(torch.randn(2, 3, 64, 64))
        sum(o.pow(2).mean() for o in outs).backward()
        grads = [(n, p.grad) for n, p in model.named_parameters()]
        assert all(g is not None and torch.isfinite(g).all() for _, g in grads), backbone


# ---- registry ------------------------------------------------------------------------------------------------
NEW_NAMES = [f"{m}_{bb}_{size}" for bb in ("hrw32", "hrw48", "tps") for m in ("hm", "simdr", "simdrstar")
             for size in ("64", "128", "256x192")]


def test_registry_has_every_new_model():
    names = set(zoo.list_models())
    assert set(NEW_NAMES) <= names
    spec = zoo.get_spec("simdr_hrw32_128")
    assert spec.arch == {"head": "simdr", "backbone": "hrnet_w32", "split_ratio": 2.0}
    assert spec.codec["label_smoothing"] == 0.2  # the official nmt_w32_128x128 config
    assert zoo.get_spec("simdr_hrw48_64").arch["split_ratio"] == 3.0
    star = zoo.get_spec("simdrstar_hrw48_256x192")
    assert star.codec["type"] == "simdr_star" and star.codec["sigma"] == 4.0 and star.arch["split_ratio"] == 2.0
    assert zoo.get_spec("hm_tps_64").arch == {"head": "heatmap", "backbone": "tokenpose_s"}
    assert {zoo.get_spec(n).color_order for n in NEW_NAMES} == {"rgb"}  # official HRNet / TokenPose: COLOR_RGB
    with pytest.raises(ValueError, match="method"):
        zoo.make_spec("simdrdc", "hrw32", "64")


@pytest.mark.parametrize("name", NEW_NAMES)
def test_registry_models_output_what_their_codec_decodes(name):
    spec = zoo.get_spec(name)
    with torch.device("meta"):
        model = build(spec)
        outs = model(torch.zeros(2, 3, *spec.input_hw))
    h, w = spec.input_hw
    codec = spec.codec
    if codec["type"] == "heatmap":
        assert model.output_names == ("heatmaps",) and tuple(outs.shape) == (2, K, h // 4, w // 4)
    else:
        k = codec["split_ratio"]
        assert model.output_names == ("simcc_x", "simcc_y")
        assert [tuple(o.shape) for o in outs] == [(2, K, int(w * k)), (2, K, int(h * k))]
    assert model.input_hw == (h, w) and model.num_keypoints == K


def test_build_errors_for_the_new_trunks():
    with pytest.raises(ValueError, match="does not go with"):
        build_model("mrfea1", "hrnet_w32", K, (64, 64))
    with pytest.raises(ValueError, match="cpj"):
        build_model("simdr", "tokenpose_s", K, (64, 64), cpj=8, split_ratio=2.0)
    with pytest.raises(ValueError, match="split_ratio"):
        build_model("simdr", "hrnet_w48", K, (64, 64))
    with pytest.raises(ValueError, match="multiples of 64"):
        build_model("heatmap", "tokenpose_s", K, (96, 64))
    with pytest.raises(ValueError, match="multiples of 32"):
        build_model("heatmap", "hrnet_w32", K, (80, 64))
    with pytest.raises(ValueError, match="backbone"):
        build_model("heatmap", "hrnet_w40", K, (64, 64))
    with torch.device("meta"):  # short names, as in the registry names
        assert build_model("simdr", "hrw48", K, (64, 64), split_ratio=3.0).arch["backbone"] == "hrnet_w48"
        assert build_model("heatmap", "TPS", K, (64, 64)).arch["backbone"] == "tokenpose_s"
