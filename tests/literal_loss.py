"""The test oracle: a literal, term-by-term transcription of the AMCCL loss (docs/model.md §3), as the
reference runs it.

Every pair term rebuilds the positive-weight matrix from the labels and re-normalises its
features, and the contrastive term is written as ``-log(exp(·) / Σ exp(·))``. It is slow on
purpose: it is the yardstick that :func:`amccl.losses.amccl_loss` is tested
(tests/test_losses.py, tests/test_fast_paths.py) and benchmarked (benchmarks/bench_loss.py)
against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from amccl.config import AMCCLConfig


def literal_positive_weights(labels: Tensor, cfg: AMCCLConfig) -> Tensor:
    """P (B, B) as docs/model.md §3 writes it: polarity mask, intensity distance, weights, diagonal."""
    y = labels.reshape(-1).float()
    u = y if cfg.dataset.startswith("sims") else (y + 3) / 3 - 1
    u_i, u_j = u.view(-1, 1), u.view(1, -1)
    same_polarity = (torch.sign(u_i) == torch.sign(u_j)).float()
    distance = torch.abs(u_i - u_j)
    if cfg.positives == "polarity":
        return same_polarity
    within = (distance <= cfg.k).float()
    positive = cfg.gain * torch.exp(-distance / cfg.k) * same_polarity * within
    negative = cfg.gain * torch.exp((distance - cfg.k) / cfg.k) * (1 - same_polarity * within)
    del negative  # the reference computes it, but no term uses it
    return positive


def literal_pair_loss(a: Tensor, b: Tensor, labels: Tensor, cfg: AMCCLConfig) -> tuple[Tensor, Tensor]:
    """(C(A,B) + lambda_refine · R(A,B), R(A,B)), P rebuilt for this term."""
    weights = literal_positive_weights(labels, cfg)
    a, b = F.normalize(a.float(), dim=1), F.normalize(b.float(), dim=1)
    sim = a @ b.t()
    numerator = torch.exp(weights * sim / cfg.temperature)
    denominator = torch.exp(sim / cfg.temperature).sum(dim=1, keepdim=True)
    nll = -torch.log(numerator / denominator)
    if cfg.contrastive_mean == "positives":
        contrast = nll[weights > 0].mean()
    else:
        contrast = nll.mean()
    refine = -(weights * sim).mean()
    return contrast + cfg.lambda_refine * refine, refine


def literal_margin(a: Tensor, b: Tensor, labels: Tensor, cfg: AMCCLConfig) -> Tensor:
    """Mg(A,B) = ReLU(alpha - (s_intra - s_inter)), P rebuilt for this term."""
    weights = literal_positive_weights(labels, cfg)
    a, b = F.normalize(a.float(), dim=1), F.normalize(b.float(), dim=1)
    s_inter = (weights * (a @ b.t())).mean()
    s_intra = ((weights * (a @ a.t())).mean() + (weights * (b @ b.t())).mean()) / 2
    return torch.relu(cfg.alpha - (s_intra - s_inter))


def literal_amccl_loss(outputs: dict[str, Tensor], labels: Tensor, cfg: AMCCLConfig,
                       modalities: tuple[str, ...] | None = None) -> dict[str, Tensor]:
    """Same contract as :func:`amccl.losses.amccl_loss`, computed term by term.

    ``modalities`` (default ``cfg.modalities``): the kept ones; a pair term is written out only
    when both its modalities are kept (inter (v,a), (v,t), (t,a); intra (v,v), (a,a), (t,t)).
    """
    kept = {m[0] for m in (cfg.modalities if modalities is None else modalities)}  # "t", "a", "v"
    l1 = torch.mean(torch.abs(outputs["M"].reshape(-1).float() - labels.reshape(-1).float()))
    feature = {m: outputs[f"Feature_{m}"] for m in "tav"}
    inter, intra = torch.zeros(()), torch.zeros(())
    refine, margin = torch.zeros(()), torch.zeros(())
    for m, n in (("v", "a"), ("v", "t"), ("t", "a")):
        if m not in kept or n not in kept:
            continue
        x, y = feature[m], feature[n]
        pair, r = literal_pair_loss(x, y, labels, cfg)
        mg = literal_margin(x, y, labels, cfg) if cfg.use_margin else torch.zeros(())
        inter, refine, margin = inter + pair + mg, refine + r, margin + mg
    for m in ("v", "a", "t"):
        if m not in kept:
            continue
        pair, r = literal_pair_loss(feature[m], feature[m], labels, cfg)
        intra, refine = intra + pair, refine + r
    contrastive = cfg.inter_weight * inter + cfg.intra_weight * intra
    return dict(loss=l1 + cfg.gamma * contrastive, l1=l1, contrastive=contrastive, inter=inter,
                intra=intra, refine=refine, margin=margin)
