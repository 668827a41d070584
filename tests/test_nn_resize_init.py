"""Starting a model from a checkpoint of another input size (``load_pose_checkpoint`` with
``fresh=RESIZABLE_HEADS``, as ``--init_checkpoint`` does): everything whose shape does not
depend on the input size loads; the rest keeps the new model's initial values and the
``LoadReport`` names it.

TokenPose: the patch embedding Linear(256*ph*pw, D) grows with the patch (1x1 at 64x64, 2x2 at
128x128), the heatmap MLP head with the heatmap area (and gains a second Linear at 256x192),
the SimDR x/y Linear layers with the bins. The stem, the keypoint tokens, the whole transformer
and the heads' LayerNorms load.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from _one_thread import one_thread  # noqa: E402, F401 (autouse: torch on one thread)
from edgepose.nn import CheckpointMismatchError, build, load_pose_checkpoint  # noqa: E402
from edgepose.nn.weights import RESIZABLE_HEADS  # noqa: E402

HM_FRESH = {"features.patch_to_embedding.weight", "features.mlp_head.1.weight", "features.mlp_head.1.bias"}
#: the second Linear of the official MLP head at 256x192 (D=192 <= heatmap area / 16)
SECOND_LINEAR = {"features.mlp_head.2.weight", "features.mlp_head.2.bias", "features.mlp_head.3.weight",
                 "features.mlp_head.3.bias"}
CASES = [
    # source, target, tensors started fresh, keys only the target has (kept), only the source has (ignored)
    ("simdr_tps_64", "simdr_tps_128",
     {"features.patch_to_embedding.weight", "mlp_head_x.1.weight", "mlp_head_x.1.bias",
      "mlp_head_y.1.weight", "mlp_head_y.1.bias"}, set(), set()),
    ("hm_tps_64", "hm_tps_128", HM_FRESH, set(), set()),
    ("hm_tps_128", "hm_tps_256x192", HM_FRESH, SECOND_LINEAR, set()),
    ("hm_tps_256x192", "hm_tps_128", HM_FRESH, set(), SECOND_LINEAR),
]



@pytest.mark.parametrize("source_name,target_name,fresh,only_target,only_source", CASES,
                         ids=[f"{c[0]}-to-{c[1]}" for c in CASES])
def test_tokenpose_starts_from_another_input_size(source_name, target_name, fresh, only_target, only_source):
    torch.manual_seed(1)
    source = build(source_name).state_dict()
    torch.manual_seed(2)
    model = build(target_name)
    initial = {k: v.clone() for k, v in model.state_dict().items()}

    with pytest.raises(CheckpointMismatchError, match="patch_to_embedding"):  # without fresh=: refused
        load_pose_checkpoint(build(target_name), source)
    report = load_pose_checkpoint(model, source, fresh=RESIZABLE_HEADS)

    assert report.ok
    assert {k for k, _, _ in report.fresh} == fresh
    assert set(report.kept) == only_target
    assert set(report.ignored) == only_source
    for key, value in model.state_dict().items():
        if key in fresh or key in only_target:
            assert torch.equal(value, initial[key]), key
        else:
            assert torch.equal(value, source[key]), key
    loaded = set(report.loaded)
    assert {"features.patch_to_embedding.bias", "features.keypoint_token", "features.pos_embedding",
            "features.conv1.weight", "features.transformer.layers.11.1.fn.fn.net.3.weight"} <= loaded
    assert "fresh (features.patch_to_embedding.weight" in report.summary()
    assert "started fresh, other shape" in report.describe()

    x = torch.randn(1, 3, *model.input_hw)
    with torch.no_grad():
        out = model.eval()(x)
    outputs = out if isinstance(out, tuple) else (out,)
    assert all(torch.isfinite(o).all() for o in outputs)


def test_simdr_hrnet_and_resnet_heads_start_fresh_too():
    torch.manual_seed(1)
    source = build("simdr_r18_64").state_dict()
    report = load_pose_checkpoint(build("simdr_r18_128"), source, fresh=RESIZABLE_HEADS)
    assert report.ok and {k for k, _, _ in report.fresh} == {
        "mlp_head_x.weight", "mlp_head_x.bias", "mlp_head_y.weight", "mlp_head_y.bias"}


def test_fresh_prefixes_do_not_hide_other_mismatches():
    source = build("simdr_tps_64").state_dict()
    source["features.transformer.layers.0.0.fn.norm.weight"] = torch.ones(7)
    with pytest.raises(CheckpointMismatchError, match="layers.0.0.fn.norm.weight"):
        load_pose_checkpoint(build("simdr_tps_128"), source, fresh=RESIZABLE_HEADS)
    del source["features.transformer.layers.0.0.fn.norm.weight"]
    with pytest.raises(CheckpointMismatchError, match="missing"):
        load_pose_checkpoint(build("simdr_tps_128"), source, fresh=RESIZABLE_HEADS)
