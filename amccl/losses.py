"""The AMCCL loss (docs/model.md §3): L1 + gamma · fine-grained supervised contrastive loss.

P is built once per batch, the feature sets are normalised once, and every pair term comes
from one stacked (n_pairs, B, B) tensor of similarity blocks; ``tests/literal_loss.py`` writes
the terms out one by one, and the tests check both give the same values and gradients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from amccl.config import AMCCLConfig
from amccl.data.types import FEATURE_KEYS

# The parts amccl_loss returns, in the order the trainer logs them (``train_<part>``).
LOSS_PARTS = ("loss", "l1", "contrastive", "inter", "intra", "refine", "margin")

# Modality order in the stacked features, and the pair terms as (A, B) indices.
T_, A_, V_ = 0, 1, 2
INTER_PAIRS = ((V_, A_), (V_, T_), (T_, A_))
INTRA_PAIRS = ((V_, V_), (A_, A_), (T_, T_))
MODALITY_INDEX = {"text": T_, "audio": A_, "vision": V_}


def normalise_labels(labels: Tensor, dataset: str) -> Tensor:
    """u (B,) float32: ``(y + 3) / 3 - 1`` for MOSI/MOSEI (the reference's rounding), y for SIMS."""
    y = labels.reshape(-1).float()
    if dataset.startswith("sims"):
        return y
    return (y + 3) / 3 - 1


def positive_weights(labels: Tensor, cfg: AMCCLConfig) -> Tensor:
    """P (B, B) of docs/model.md §3.1; ``cfg.positives == "polarity"``: 1 for every same-sign pair."""
    u = normalise_labels(labels, cfg.dataset)
    sign = torch.sign(u)
    same_sign = sign.unsqueeze(1) == sign.unsqueeze(0)
    if cfg.positives == "polarity":
        return same_sign.float()
    dist = (u.unsqueeze(1) - u.unsqueeze(0)).abs()
    weight = cfg.gain * torch.exp(-dist / cfg.k)
    return torch.where(same_sign & (dist <= cfg.k), weight, 0.0)


def modality_pairs(modalities: tuple[str, ...]) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    """(inter, intra) pairs among ``modalities`` (canonical order), as indices into their stack.

    ``("text", "vision")`` (stacked t, v) gives ``(((1, 0),), ((1, 1), (0, 0)))``; one modality
    gives no inter pair.
    """
    position = {MODALITY_INDEX[m]: i for i, m in enumerate(modalities)}
    inter = tuple((position[a], position[b]) for a, b in INTER_PAIRS if a in position and b in position)
    return inter, tuple((position[a], position[a]) for a, _ in INTRA_PAIRS if a in position)


def _pair_blocks(features: Tensor, pairs: tuple[tuple[int, int], ...]) -> Tensor:
    """Similarity blocks (n_pairs, B, B) of stacked, normalised features (n_modalities, B, d)."""
    a = torch.stack([features[i] for i, _ in pairs])  # (n, B, d)
    b = torch.stack([features[j] for _, j in pairs])
    return a @ b.transpose(1, 2)


def contrastive_terms(sim: Tensor, weights: Tensor, cfg: AMCCLConfig) -> Tensor:
    """C(A,B) for each block: sim (n, B, B), P (B, B) -> (n,); ``contrastive_mean="positives"``: mean over P > 0."""
    logits = sim / cfg.temperature
    nll = torch.logsumexp(logits, dim=2, keepdim=True) - weights * logits  # (n, B, B)
    if cfg.contrastive_mean == "positives":
        positive = (weights > 0).to(nll.dtype)
        return (nll * positive).sum((1, 2)) / positive.sum().clamp_min(1.0)
    return nll.mean((1, 2))


def amccl_loss(outputs: dict[str, Tensor], labels: Tensor, cfg: AMCCLConfig) -> dict[str, Tensor]:
    """Total loss and its parts for one batch, in float32 (also inside an autocast region).

    Args:
        outputs: the model's dict; uses ``M`` (B, 1) and ``Feature_t/a/v`` (B, d).
        labels: (B,) or (B, 1) sentiment labels.
        cfg: supplies dataset, gamma, weights, k, gain, T, lambda_refine, alpha and switches.

    Returns:
        The :data:`LOSS_PARTS`, 0-dim float32 tensors (``loss`` is the one to backpropagate;
        docs/model.md §3.3); nothing is read back to the host.
    """
    pred = outputs["M"]
    with torch.autocast(pred.device.type, enabled=False):
        pred = pred.reshape(-1).float()
        target = labels.reshape(-1).to(pred.device, pred.dtype)
        l1 = (pred - target).abs().mean()
        if cfg.gamma == 0:
            zero = l1.new_zeros(())
            return dict(loss=l1, l1=l1, contrastive=zero, inter=zero, intra=zero, refine=zero, margin=zero)
        cl = contrastive_parts(outputs, target, cfg)
    return dict(loss=l1 + cfg.gamma * cl["contrastive"], l1=l1, **cl)


def contrastive_parts(outputs: dict[str, Tensor], labels: Tensor, cfg: AMCCLConfig) -> dict[str, Tensor]:
    """L_cl and its parts (``contrastive``, ``inter``, ``intra``, ``refine``, ``margin``), float32.

    ``outputs``: ``Feature_t/a/v`` (B, d) of the kept modalities; ``labels`` (B,) on their device.
    """
    feats = torch.stack([outputs[FEATURE_KEYS[m]] for m in cfg.modalities]).float()
    feats = F.normalize(feats, dim=2)  # (n_modalities, B, d), 3 by default
    weights = positive_weights(labels, cfg)  # (B, B), built once, shared by all terms
    inter_pairs, intra_pairs = modality_pairs(cfg.modalities)  # 3 + 3 with every modality
    n = len(inter_pairs)
    sim = _pair_blocks(feats, inter_pairs + intra_pairs)  # (n + n_intra, B, B)
    contrast = contrastive_terms(sim, weights, cfg)  # (n + n_intra,)
    weighted_mean = (weights * sim).mean((1, 2))  # (n + n_intra,) mean(P ⊙ S)
    refine = -weighted_mean
    pair = contrast + cfg.lambda_refine * refine
    # s_intra of an inter pair (A, B) averages mean(P ⊙ AAᵀ) and mean(P ⊙ BBᵀ): intra blocks.
    self_mean = {a: weighted_mean[n + i] for i, (a, _) in enumerate(intra_pairs)}
    s_intra = torch.stack([(self_mean[a] + self_mean[b]) / 2 for a, b in inter_pairs]) if n else pair[:0]
    margin = torch.relu(cfg.alpha - (s_intra - weighted_mean[:n])) if cfg.use_margin else torch.zeros_like(s_intra)
    inter = (pair[:n] + margin).sum()
    intra = pair[n:].sum()
    total = cfg.inter_weight * inter + cfg.intra_weight * intra
    return dict(contrastive=total, inter=inter, intra=intra, refine=refine.sum(), margin=margin.sum())
