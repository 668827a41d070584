"""Losses of edgepose.nn: SimDR / SimDR* KL and the visibility-weighted joints MSE."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from edgepose.nn.losses import (  # noqa: E402
    JointsMSELoss,
    SimDRLoss,
    SimDRStarLoss,
    joints_mse_loss,
    kl_to_logits,
    simdr_kl_loss,
    simdr_star_kl_loss,
)

B, K, NX, NY = 3, 5, 48, 64


def smoothed(index: torch.Tensor, bins: int, eps: float = 0.1) -> torch.Tensor:
    """Label-smoothed one-hot (B, K, bins): 1-eps on the true bin, eps/(bins-1) elsewhere."""
    t = torch.full((*index.shape, bins), eps / (bins - 1))
    t.scatter_(-1, index[..., None], 1.0 - eps)
    return t


def gaussian(center: torch.Tensor, bins: int, sigma: float) -> torch.Tensor:
    """Normalised Gaussian distributions (B, K, bins) centred at ``center`` (bins)."""
    i = torch.arange(bins, dtype=center.dtype)
    g = torch.exp(-((i - center[..., None]) ** 2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
    return g / g.sum(-1, keepdim=True)


@pytest.fixture()
def batch():
    gen = torch.Generator().manual_seed(0)
    ix = torch.randint(0, NX, (B, K), generator=gen)
    iy = torch.randint(0, NY, (B, K), generator=gen)
    return {
        "pred_x": torch.randn(B, K, NX, generator=gen),
        "pred_y": torch.randn(B, K, NY, generator=gen),
        "target_x": smoothed(ix, NX),
        "target_y": smoothed(iy, NY),
        "target_weight": (torch.rand(B, K, generator=gen) > 0.3).float(),
    }


def reference_kl(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """KL(t || softmax) = soft cross-entropy - entropy(t), via F.cross_entropy."""
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1, target.shape[-1]),
                         reduction="none").reshape(logits.shape[:-1])
    entropy = -(torch.where(target > 0, target * target.log(), torch.zeros_like(target))).sum(-1)
    return ce - entropy


def test_kl_to_logits_matches_cross_entropy_minus_entropy(batch):
    got = kl_to_logits(batch["pred_x"], batch["target_x"])
    assert got.shape == (B, K)
    torch.testing.assert_close(got, reference_kl(batch["pred_x"], batch["target_x"]))
    assert (got >= -1e-6).all()


def test_simdr_loss_formula(batch):
    w = batch["target_weight"]
    expected = ((reference_kl(batch["pred_x"], batch["target_x"])
                 + reference_kl(batch["pred_y"], batch["target_y"])) * w).sum() / B
    got = simdr_kl_loss(**batch)
    torch.testing.assert_close(got, expected)
    module = SimDRLoss()((batch["pred_x"], batch["pred_y"]), batch["target_x"], batch["target_y"],
                         batch["target_weight"])
    torch.testing.assert_close(module, expected)


def test_simdr_star_loss_official_and_sum_forms(batch):
    w = batch["target_weight"]
    kx = reference_kl(batch["pred_x"], batch["target_x"])
    ky = reference_kl(batch["pred_y"], batch["target_y"])
    official = ((kx / NX + ky / NY) * w).mean()
    torch.testing.assert_close(simdr_star_kl_loss(**batch), official)
    torch.testing.assert_close(simdr_star_kl_loss(**batch, reduction="sum"), simdr_kl_loss(**batch))
    module = SimDRStarLoss()((batch["pred_x"], batch["pred_y"]), batch["target_x"],
                             batch["target_y"], batch["target_weight"])
    torch.testing.assert_close(module, official)


def test_kl_zero_at_perfect_distributions():
    gen = torch.Generator().manual_seed(1)
    ix = torch.randint(0, NX, (B, K), generator=gen)
    iy = torch.randint(0, NY, (B, K), generator=gen)
    tx, ty = smoothed(ix, NX), smoothed(iy, NY)
    w = torch.ones(B, K)
    # logits = log(target) (+ any per-row constant) make softmax == target exactly
    loss = simdr_kl_loss(tx.log() + 3.0, ty.log() - 1.0, tx, ty, w)
    assert abs(loss.item()) < 1e-5
    # float64 so that no Gaussian bin underflows to 0 (log 0 = -inf is no network's output)
    gx = gaussian(ix.double() + 0.3, NX, 3.0)
    gy = gaussian(iy.double() - 0.4, NY, 6.0)
    assert abs(simdr_star_kl_loss(gx.log(), gy.log(), gx, gy, w).item()) < 1e-6
    assert abs(simdr_star_kl_loss(gx.log(), gy.log(), gx, gy, w, reduction="sum").item()) < 1e-5


def test_kl_positive_when_wrong(batch):
    assert simdr_kl_loss(**batch).item() > 0
    assert simdr_star_kl_loss(**batch).item() > 0


def test_zero_weight_keypoints_contribute_nothing(batch):
    w = batch["target_weight"].clone()
    w[:, 1] = 0.0
    w[0, 3] = 0.0
    batch["target_weight"] = w
    base = simdr_kl_loss(**batch).item()
    base_star = simdr_star_kl_loss(**batch).item()
    px = batch["pred_x"].clone().requires_grad_(True)
    py = batch["pred_y"].clone().requires_grad_(True)
    with torch.no_grad():
        px[:, 1] += 100 * torch.randn(B, NX)
        py[0, 3] -= 50.0 * torch.arange(NY)
    changed = dict(batch, pred_x=px, pred_y=py)
    assert simdr_kl_loss(**changed).item() == pytest.approx(base, rel=1e-5)
    assert simdr_star_kl_loss(**changed).item() == pytest.approx(base_star, rel=1e-5)
    simdr_kl_loss(**changed).backward()
    assert torch.all(px.grad[:, 1] == 0) and torch.all(py.grad[0, 3] == 0)
    assert px.grad[w > 0].abs().sum() > 0


def test_all_weights_zero_gives_zero(batch):
    batch["target_weight"] = torch.zeros(B, K)
    assert simdr_kl_loss(**batch).item() == 0.0
    assert simdr_star_kl_loss(**batch).item() == 0.0


def test_weight_shape_b_k_1_and_errors(batch):
    expected = simdr_kl_loss(**batch)
    got = simdr_kl_loss(**dict(batch, target_weight=batch["target_weight"][..., None]))
    torch.testing.assert_close(got, expected)
    with pytest.raises(ValueError, match="target_weight"):
        simdr_kl_loss(**dict(batch, target_weight=torch.ones(B, K + 1)))
    with pytest.raises(ValueError, match=r"\(B, K, bins\)"):
        simdr_kl_loss(**dict(batch, target_x=batch["target_x"][..., :-1]))
    with pytest.raises(ValueError, match="reduction"):
        simdr_star_kl_loss(**batch, reduction="max")
    with pytest.raises(ValueError, match="reduction"):
        SimDRStarLoss("none")


def test_joints_mse_formula_and_weights():
    gen = torch.Generator().manual_seed(2)
    pred = torch.randn(B, K, 16, 12, generator=gen)
    target = torch.rand(B, K, 16, 12, generator=gen)
    w = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.5]] * B)
    expected = 0.0
    for b in range(B):
        for k in range(K):
            expected += (0.5 * ((w[b, k] * (pred[b, k] - target[b, k])) ** 2).mean()).item()
    expected /= B * K
    assert joints_mse_loss(pred, target, w).item() == pytest.approx(expected, rel=1e-5)
    assert JointsMSELoss()(pred, target, w[..., None]).item() == pytest.approx(expected, rel=1e-5)
    unweighted = 0.5 * ((pred - target) ** 2).mean().item()
    assert JointsMSELoss(use_target_weight=False)(pred, target, w).item() == pytest.approx(unweighted)
    assert joints_mse_loss(target, target, w).item() == 0.0
    # a keypoint with weight 0 contributes nothing
    moved = pred.clone()
    moved[:, 1] += 10.0
    assert joints_mse_loss(moved, target, w).item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match=r"\(B, K, h, w\)"):
        joints_mse_loss(pred, target[..., :-1], w)
