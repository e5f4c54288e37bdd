"""The loss of docs/model.md §3: every term of ``amccl.losses`` checked against a hand-computed value,
and the batched loss equal to the term-by-term oracle ``tests/literal_loss.py``."""

import math

import pytest
import torch

from amccl import AMCCLConfig
from amccl.losses import amccl_loss, contrastive_terms, normalise_labels, positive_weights
from tests.literal_loss import literal_amccl_loss


def cfg_for(dataset="mosi", **kw):
    return AMCCLConfig.for_dataset(dataset, **kw)


def outputs(t, a, v, m):
    return {"Feature_t": t, "Feature_a": a, "Feature_v": v, "M": m}


# --- positive weights -----------------------------------------------------------------------
def test_positive_weights_polarity_intensity_and_neutral():
    cfg = cfg_for("mosi")  # k = 0.5, gain = 1.5
    # u = (y+3)/3 - 1: -0.3 -> -0.1, 0.3 -> 0.1, 0 -> 0, 0 -> 0, 0.6 -> 0.2, 2.4 -> 0.8
    y = torch.tensor([-0.3, 0.3, 0.0, 0.0, 0.6, 2.4])
    p = positive_weights(y, cfg)
    # diagonal: D = 0, same sign -> gain
    assert torch.allclose(p.diagonal(), torch.full((6,), 1.5))
    # mixed polarity: -0.1 vs 0.1, D = 0.2 <= k but signs differ -> 0
    assert p[0, 1] == 0 and p[1, 0] == 0
    # neutral is its own polarity: 0 vs 0 -> gain·exp(0); 0 vs 0.1 -> 0 (sign 0 != 1)
    assert p[2, 3] == pytest.approx(1.5)
    assert p[2, 1] == 0 and p[1, 2] == 0
    # same sign within k: 0.1 vs 0.2, D = 0.1 -> 1.5·exp(-0.2)
    assert p[1, 4] == pytest.approx(1.5 * math.exp(-0.2), rel=1e-5)
    # same sign beyond k: 0.1 vs 0.8, D = 0.7 > 0.5 -> 0
    assert p[1, 5] == 0
    assert torch.equal(p, p.t())


def test_pairs_at_exactly_d_equals_k():
    cfg = cfg_for("mosi")
    # 1.5 -> u = 0.5, 3.0 -> u = 1.0: D = 0.5 exactly in float32 -> positive, 1.5·e^-1
    p = positive_weights(torch.tensor([1.5, 3.0]), cfg)
    assert p[0, 1] == pytest.approx(1.5 * math.exp(-1.0), rel=1e-6)
    # -1.8 -> (1.2/3 - 1), -0.3 -> (2.7/3 - 1): in float32 D = 0.50000006 > k -> NOT positive,
    # whereas y/3 would give D = 0.49999997 and count it: the reference's rounding is kept.
    y = torch.tensor([-1.8, -0.3])
    u = normalise_labels(y, "mosi")
    assert (u[0] - u[1]).abs().item() > 0.5
    assert (y[0] / 3 - y[1] / 3).abs().item() <= 0.5
    assert positive_weights(y, cfg)[0, 1] == 0


def test_sims_labels_are_not_rescaled():
    y = torch.tensor([0.2, 0.6])
    # SIMS: u = y, D = 0.4 -> 1.5·exp(-0.8)
    assert positive_weights(y, cfg_for("sims"))[0, 1] == pytest.approx(1.5 * math.exp(-0.8), rel=1e-5)
    # MOSI: u = y/3 (via the reference rounding), D = 0.4/3 -> 1.5·exp(-0.8/3)
    assert positive_weights(y, cfg_for("mosi"))[0, 1] == pytest.approx(1.5 * math.exp(-0.8 / 3), rel=1e-5)


def test_polarity_only_positives_are_binary():
    cfg = cfg_for("mosi", positives="polarity")
    p = positive_weights(torch.tensor([-3.0, -0.3, 0.0, 3.0, 0.3]), cfg)
    expected = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 1, 0, 0],
                             [0, 0, 0, 1, 1], [0, 0, 0, 1, 1]], dtype=torch.float32)
    assert torch.equal(p, expected)


# --- pair terms -----------------------------------------------------------------------------
def test_contrastive_and_refine_by_hand():
    # A = B = I (2x2) -> S = I. Labels of opposite sign -> P = diag(1.5, 1.5). T = 1.
    cfg = cfg_for("mosi", temperature=1.0, lambda_refine=4.0)
    eye = torch.eye(2)
    p = positive_weights(torch.tensor([-1.5, 1.5]), cfg)
    assert torch.allclose(p, torch.diag(torch.tensor([1.5, 1.5])))
    # each row: log(e + 1) - P_ij·S_ij; entries (0,0),(1,1): log(e+1) - 1.5; off-diag: log(e+1)
    expected_c = math.log(math.e + 1) - 0.75
    c = contrastive_terms(eye.unsqueeze(0), p, cfg)
    assert c.item() == pytest.approx(expected_c, rel=1e-6)
    # text alone: the one pair term is (t, t). refine = -mean(P ⊙ S) = -(1.5 + 1.5) / 4
    parts = amccl_loss(outputs(eye, None, None, torch.zeros(2, 1)), torch.tensor([-1.5, 1.5]),
                       cfg.replace(modalities=("text",)))
    assert parts["refine"].item() == pytest.approx(-0.75)
    assert parts["intra"].item() == pytest.approx(expected_c + 4.0 * -0.75, rel=1e-6)  # C + lambda_refine · R


def test_contrastive_mean_over_positives_only():
    # Same case; "positives" averages the two diagonal entries only: log(e+1) - 1.5
    cfg = cfg_for("mosi", temperature=1.0, contrastive_mean="positives")
    p = positive_weights(torch.tensor([-1.5, 1.5]), cfg)
    c = contrastive_terms(torch.eye(2).unsqueeze(0), p, cfg)
    assert c.item() == pytest.approx(math.log(math.e + 1) - 1.5, rel=1e-6)


def margin_of(a, b, y, alpha):
    """The package's margin Mg(A, B) of the one inter pair (t, a), text and audio kept."""
    cfg = cfg_for("mosi", alpha=alpha, modalities=("text", "audio"))
    return amccl_loss(outputs(a, b, None, torch.zeros(len(y), 1)), y, cfg)["margin"]


def test_margin_by_hand():
    y = torch.tensor([1.5, 1.5])  # P = 1.5 everywhere
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    b = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    # s_inter = mean(P ⊙ A Bᵀ) = 0; s_intra = (mean(1.5·1) + mean(1.5·1)) / 2 = 1.5
    assert margin_of(a, b, y, alpha=0.8).item() == 0.0  # relu(0.8 - 1.5)
    assert margin_of(a, b, y, alpha=2.0).item() == pytest.approx(0.5)
    # A = B: s_intra = s_inter -> margin = alpha
    assert margin_of(a, a, y, alpha=0.8).item() == pytest.approx(0.8)


def test_inter_intra_and_total_by_hand():
    """t = a = v = I (2x2), opposite labels, T = 1: every pair term is the same number."""
    cfg = cfg_for("mosi", temperature=1.0, lambda_refine=4.0, alpha=0.8, gamma=0.01,
                  inter_weight=0.2, intra_weight=1.0)
    eye = torch.eye(2)
    y = torch.tensor([-1.5, 1.5])
    m = torch.tensor([[-1.0], [2.0]])  # L1 = (0.5 + 0.5) / 2
    parts = amccl_loss(outputs(eye, eye, eye, m), y, cfg)
    pair = math.log(math.e + 1) - 0.75 + 4.0 * (-0.75)
    margin = 0.8  # A = B for every inter pair
    assert parts["l1"].item() == pytest.approx(0.5)
    assert parts["inter"].item() == pytest.approx(3 * (pair + margin), rel=1e-6)
    assert parts["intra"].item() == pytest.approx(3 * pair, rel=1e-6)
    assert parts["refine"].item() == pytest.approx(6 * -0.75)
    assert parts["margin"].item() == pytest.approx(3 * 0.8)
    l_cl = 0.2 * 3 * (pair + margin) + 1.0 * 3 * pair
    assert parts["contrastive"].item() == pytest.approx(l_cl, rel=1e-6)
    assert parts["loss"].item() == pytest.approx(0.5 + 0.01 * l_cl, rel=1e-6)


def test_switches_remove_only_their_term():
    torch.manual_seed(0)
    t, a, v = torch.randn(3, 6, 8).unbind(0)
    y = torch.tensor([-3.0, -1.2, 0.0, 0.0, 0.6, 2.4])
    out = outputs(t, a, v, torch.randn(6, 1))
    full = amccl_loss(out, y, cfg_for("mosi"))
    no_margin = amccl_loss(out, y, cfg_for("mosi", use_margin=False))
    assert no_margin["margin"].item() == 0
    assert no_margin["inter"].item() == pytest.approx(full["inter"].item() - full["margin"].item(), rel=1e-5)
    assert no_margin["intra"].item() == pytest.approx(full["intra"].item(), rel=1e-6)
    no_cl = amccl_loss(out, y, cfg_for("mosi", gamma=0.0))
    assert no_cl["loss"].item() == pytest.approx(full["l1"].item())


@pytest.mark.parametrize("dataset,batch,dim", [("mosi", 64, 64), ("mosei", 32, 128), ("sims", 17, 128)])
@pytest.mark.parametrize("variant", [{}, {"positives": "polarity"}, {"contrastive_mean": "positives"},
                                     {"use_margin": False}])
def test_fast_path_equals_literal(dataset, batch, dim, variant):
    torch.manual_seed(batch)
    cfg = cfg_for(dataset, **variant)
    scale = cfg.label_range
    y = torch.round(torch.empty(batch).uniform_(-scale, scale) * 5) / 5  # a grid with exact ties
    y[:3] = 0.0
    t, a, v = (torch.randn(batch, dim, requires_grad=True) for _ in range(3))
    m = torch.randn(batch, 1)
    fast = amccl_loss(outputs(t, a, v, m), y, cfg)
    slow = literal_amccl_loss(outputs(t, a, v, m), y, cfg)
    for key in fast:
        assert fast[key].item() == pytest.approx(slow[key].item(), rel=1e-5, abs=1e-6), key
    g_fast = torch.autograd.grad(fast["loss"], (t, a, v))
    g_slow = torch.autograd.grad(slow["loss"], (t, a, v))
    for gf, gs in zip(g_fast, g_slow):
        assert torch.allclose(gf, gs, rtol=1e-4, atol=1e-7)


def test_batch_of_one():
    cfg = cfg_for("mosi")
    x = torch.randn(1, 8)
    parts = amccl_loss(outputs(x, x, x, torch.zeros(1, 1)), torch.tensor([0.4]), cfg)
    assert all(torch.isfinite(v) for v in parts.values())
